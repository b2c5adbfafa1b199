"""`lmdata` command: every stage as a subcommand, plus lake inspection.

    lmdata ingest-cc --crawl CC-MAIN-2024-22 --source s3://commoncrawl --slice 0/100 --limit 2
    lmdata curate --source web            # filters: scores + decisions (--redecide: new thresholds)
    lmdata dedup --source web             # exact + URL + MinHash-LSH, incremental
    lmdata tables            # what the lake holds: tables, versions, row counts
    lmdata stages            # the stage names

Every subcommand takes --lake DIR (default $LMDATA_LAKE, else ./var/lake). Stage subcommands
run in-process on the Spark master from params.yaml (local[*] by default); the same stage
runs under spark-submit (spark_jobs/) and Airflow.
"""

from __future__ import annotations

import argparse
import os
import sys

from lmdata.config import resolve_lake


def _tables(argv: list[str]) -> int:
    from lmdata.lake import delta

    p = argparse.ArgumentParser(prog="lmdata tables", description="List the lake's Delta tables.")
    p.add_argument("--lake", default=None)
    a = p.parse_args(argv)
    print(describe_lake(resolve_lake(a.lake)))
    return 0 if delta else 1


def describe_lake(lake: str) -> str:
    """A human summary of every Delta table under the lake root (local lakes)."""
    from pathlib import Path

    from lmdata.lake import delta

    lines = [f"lake: {lake}"]
    root = Path(lake)
    found = sorted({p.parent for p in root.glob("**/_delta_log")}) if root.exists() else []
    if not found:
        lines.append("  (no tables)")
    for t in found:
        name = str(t.relative_to(root))
        ver, files = delta.snapshot_files(str(t))
        rows = sum(f.num_records or 0 for f in files)
        pcols = delta.partition_columns(str(t))
        lines.append(
            f"  {name:32s} v{ver:<4d} rows={rows:<8d} files={len(files):<4d} "
            f"partitioned_by={','.join(pcols) or '-'}  {t}"
        )
    return "\n".join(lines)


# Commands that are not Spark stages: name -> ("module", "function", "help"); each function
# takes the remaining argv and returns an exit code. Imported lazily (the CLI stays light).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "report": ("lmdata.quality.report", "cli", "build the HTML data-quality report"),
    "mix": ("lmdata.mixture.cli", "mix_cli", "build a versioned, DVC-tracked token mixture"),
    "mixture": ("lmdata.mixture.cli", "mixture_cli", "list / checkout mixture versions"),
    "train": ("lmdata.train.cli", "cli", "train a small GPT on a mixture's shards"),
}


def main(argv: list[str] | None = None) -> int:
    import importlib

    from lmdata.spark.stages import STAGES

    argv = list(sys.argv[1:] if argv is None else argv)
    usage = (
        "usage: lmdata <command> [--lake DIR] [options]\n\ncommands:\n"
        + "".join(f"  {n:14s} run the {n} stage (lmdata {n} --help)\n" for n in STAGES)
        + "".join(f"  {n:14s} {h}\n" for n, (_, _, h) in COMMANDS.items())
        + "  tables         list the lake's tables, versions and row counts\n"
        + "  stages         list stage names\n"
    )
    if not argv or argv[0] in ("-h", "--help"):
        print(usage)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd == "tables":
        return _tables(rest)
    if cmd == "stages":
        print("\n".join(STAGES))
        return 0
    if cmd in COMMANDS:
        mod, fn, _ = COMMANDS[cmd]
        return int(getattr(importlib.import_module(mod), fn)(rest) or 0)
    if cmd in STAGES:
        from lmdata.spark.job import main as stage_main
        from lmdata.spark.stages import get_stage

        if sys.stderr.isatty():  # a live progress bar for interactive runs
            os.environ.setdefault("LMDATA_SPARK_CONF", "spark.ui.showConsoleProgress=true")
        return stage_main(get_stage(cmd), rest)
    print(f"lmdata: unknown command {cmd!r}\n\n{usage}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
