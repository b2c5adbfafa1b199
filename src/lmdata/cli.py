"""`lmdata` command: every stage as a subcommand, plus lake inspection.

    lmdata ingest-cc --crawl CC-MAIN-2024-22 --source s3://commoncrawl --slice 0/100 --limit 2
    lmdata curate --source web            # filters: scores + decisions (--redecide: new thresholds)
    lmdata dedup --source web             # exact + URL + MinHash-LSH, incremental
    lmdata tables            # what the lake holds: tables, versions, published pointers, rows
    lmdata publish --table T --version N --reason "..."   # a recorded manual publish
    lmdata rollback --table T --to N                      # back to an older published version
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

    from lmdata.lake import delta, published

    lines = [f"lake: {lake}"]
    root = Path(lake)
    found = sorted({p.parent for p in root.glob("**/_delta_log")}) if root.exists() else []
    if not found:
        lines.append("  (no tables)")
    gates = published.summary(lake) if found else {}
    for t in found:
        name = str(t.relative_to(root))
        ver, files = delta.snapshot_files(str(t))
        rows = sum(f.num_records or 0 for f in files)
        pcols = delta.partition_columns(str(t))
        g = gates.get(name)
        if g is None:
            pub = "published=- (no gate)"
        else:
            p = g["pointer"]
            pub = f"published={'v' + str(p['version']) + ' (' + p['action'] + ')' if p else 'none'}"
            if g["failed"]:
                pub += f" failed={','.join(f'v{v}' for v in g['failed'])}"
        lines.append(
            f"  {name:32s} v{ver:<4d} {pub:34s} rows={rows:<8d} files={len(files):<4d} "
            f"partitioned_by={','.join(pcols) or '-'}  {t}"
        )
    return "\n".join(lines)


def _publish(argv: list[str]) -> int:
    from lmdata.errors import LmdataError
    from lmdata.lake import published

    p = argparse.ArgumentParser(
        prog="lmdata publish",
        description="Publish TABLE@VERSION by hand (a recorded override of the quality gate).",
    )
    p.add_argument("--lake", default=None)
    p.add_argument("--table", required=True)
    p.add_argument("--version", type=int, required=True)
    p.add_argument("--reason", required=True, help="why (recorded in _meta/published)")
    p.add_argument("--run-id", default=None)
    a = p.parse_args(argv)
    try:
        published.manual_publish(
            resolve_lake(a.lake), a.table, a.version, a.reason, a.run_id or _manual_id("publish")
        )
    except LmdataError as e:
        print(f"lmdata publish: {e}", file=sys.stderr)
        return e.exit_code
    return 0


def _rollback(argv: list[str]) -> int:
    from lmdata.errors import LmdataError
    from lmdata.lake import published

    p = argparse.ArgumentParser(
        prog="lmdata rollback",
        description="Publish an older published version of TABLE again and RESTORE the table "
        "(and the tables published with it) to it (recorded in _meta/published).",
    )
    p.add_argument("--lake", default=None)
    p.add_argument("--table", required=True)
    p.add_argument("--to", type=int, required=True, help="the published version to go back to")
    p.add_argument("--reason", default=None)
    p.add_argument("--run-id", default=None)
    a = p.parse_args(argv)
    try:
        published.rollback(
            resolve_lake(a.lake), a.table, a.to, a.run_id or _manual_id("rollback"), a.reason
        )
    except LmdataError as e:
        print(f"lmdata rollback: {e}", file=sys.stderr)
        return e.exit_code
    return 0


def _manual_id(what: str) -> str:
    import getpass
    import time

    try:
        user = getpass.getuser()
    except Exception:  # no user name (containers)
        user = "unknown"
    return f"{what}__{user}__{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}"


# Commands that are not Spark stages: name -> ("module", "function", "help"); each function
# takes the remaining argv and returns an exit code. Imported lazily (the CLI stays light).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "report": ("lmdata.quality.report", "cli", "build the HTML data-quality report"),
    "mix": ("lmdata.mixture.cli", "mix_cli", "build a versioned, DVC-tracked token mixture"),
    "mixture": ("lmdata.mixture.cli", "mixture_cli", "list / checkout mixture versions"),
    "train": ("lmdata.train.cli", "cli", "train a small GPT on a mixture's shards"),
    "quality-model": ("lmdata.quality_model.cli", "cli", "train / check a quality classifier"),
}


def main(argv: list[str] | None = None) -> int:
    import importlib

    from lmdata.spark.stages import STAGES

    argv = list(sys.argv[1:] if argv is None else argv)
    usage = (
        "usage: lmdata <command> [--lake DIR] [options]\n\ncommands:\n"
        + "".join(f"  {n:14s} run the {n} stage (lmdata {n} --help)\n" for n in STAGES)
        + "".join(f"  {n:14s} {h}\n" for n, (_, _, h) in COMMANDS.items())
        + "  tables         list the lake's tables, versions, published pointers and row counts\n"
        + "  publish        publish --table T --version N --reason R (a recorded override)\n"
        + "  rollback       rollback --table T --to N (publish + RESTORE an older version)\n"
        + "  stages         list stage names\n"
    )
    if not argv or argv[0] in ("-h", "--help"):
        print(usage)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd == "tables":
        return _tables(rest)
    if cmd == "publish":
        return _publish(rest)
    if cmd == "rollback":
        return _rollback(rest)
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
