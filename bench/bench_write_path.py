"""Benchmark (not a test): the Spark stages' Delta write path, delta-spark vs the previous layer.

    python -m bench.bench_write_path --mb 200 --repeat 2

Same corpora as bench_ingest (WET files) and bench_dedup (silver/web_documents), same commands,
runs interleaved in one process (previous, delta-spark, delta-spark, previous, ...):

- delta-spark: `lmdata ingest-cc ...` / `lmdata dedup --rebuild ...` (lmdata.spark.io now);
- previous: the same commands through `python -m bench.legacy_delta_io` (Parquet from the
  executors, one delta-rs commit by the driver; snapshot files read as plain Parquet).

Reported per stage and layer: wall time of the command, the stage's own `seconds` (LMDATA_STATS),
CPU seconds of the process tree (psutil samples) and peak RSS; the ratio delta-spark / previous
of the medians. Both layers' outputs are checked equal (bronze rows; gold doc ids).
Writes the section "Write path (delta-spark vs the previous layer)" of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import shutil
import statistics
import sys
from pathlib import Path

from bench import _measure as M
from bench import bench_dedup
from bench import corpus as corpus_mod

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
TITLE = "Write path (delta-spark vs the previous layer)"
LAYERS = {
    "previous": [sys.executable, "-m", "bench.legacy_delta_io"],
    "delta-spark": [str(REPO / ".venv" / "bin" / "lmdata")],
}


def _gold_ids(lake: Path) -> list[str]:
    from lmdata.lake import delta

    uri = delta.table_uri(str(lake), delta.GOLD_WEB)
    return sorted(delta.read_arrow(uri, columns=["doc_id"])["doc_id"].to_pylist())


def run(stage: str, layer: str, n: int, src: Path, work: Path, master: str) -> dict:
    run_dir = work / f"{stage}-{layer}-{n}"
    shutil.rmtree(run_dir, ignore_errors=True)
    if stage == "ingest":
        lake = run_dir / "lake"
        args = ["ingest-cc", "--lake", str(lake), "--source", str(src), "--crawl",
                corpus_mod.CRAWL, "--format", "wet"]  # fmt: skip
    else:
        lake = src / "lake"
        bench_dedup._clean_lake(lake)
        args = ["dedup", "--lake", str(lake), "--rebuild"]
    cmd = [*LAYERS[layer], *args, "--run-id", f"bench-{layer}-{n}", "--set",
           f"spark.master={master}"]  # fmt: skip
    r = M.run_tree(cmd, run_dir, REPO, M.lmdata_env())
    stats = M.lmdata_stats(r, f"{layer} {stage}")
    if stage == "ingest":
        from lmdata.lake import delta

        out = delta.read_arrow(delta.table_uri(str(lake), delta.BRONZE_WEB), columns=["doc_id"])
        check = sorted(out["doc_id"].to_pylist())
        shutil.rmtree(lake, ignore_errors=True)
    else:
        check = _gold_ids(lake)
    return {
        "stage": stage,
        "layer": layer,
        "wall_s": r["wall_s"],
        "stage_s": float(stats["seconds"]),
        "cpu_s": r["cpu_s"],
        "tree_peak_rss": r["tree_peak_rss"],
        "rows_out": int(stats.get("rows_out", 0)),
        "check": hash(tuple(check)),
        "n_check": len(check),
    }


def report(runs: list[dict], mb: int, repeat: int, master: str) -> str:
    med = statistics.median
    lines = [
        f"{mb} MiB of WET (ingest) and {mb} MiB of text in silver/web_documents (dedup "
        f"--rebuild), `spark.master={master}`, {repeat} runs per layer interleaved; medians. "
        "Ratio = delta-spark / previous (below 1: delta-spark is faster or uses less).",
        "",
        "| stage | layer | wall s | stage s | CPU s | peak RSS (tree) | rows out |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for stage in ("ingest", "dedup"):
        by = {lay: [r for r in runs if r["stage"] == stage and r["layer"] == lay] for lay in LAYERS}
        for lay, rs in by.items():
            lines.append(
                f"| {stage} | {lay} | {med(r['wall_s'] for r in rs):.1f} | "
                f"{med(r['stage_s'] for r in rs):.1f} | {med(r['cpu_s'] for r in rs):.1f} | "
                f"{M.mib(max(r['tree_peak_rss'] for r in rs))} | {rs[0]['rows_out']} |"
            )
        a, b = by["delta-spark"], by["previous"]
        lines.append(
            f"| {stage} | **ratio** | **{M.fmt_x(M.ratio(med(r['wall_s'] for r in a), med(r['wall_s'] for r in b)))}** | "  # noqa: E501
            f"**{M.fmt_x(M.ratio(med(r['stage_s'] for r in a), med(r['stage_s'] for r in b)))}** | "  # noqa: E501
            f"**{M.fmt_x(M.ratio(med(r['cpu_s'] for r in a), med(r['cpu_s'] for r in b)))}** | | |"  # noqa: E501
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mb", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--master", default="local[2]")
    p.add_argument("--no-write", action="store_true", help="print, do not touch BENCHMARKS.md")
    a = p.parse_args(argv)
    log = lambda s: print(s, flush=True)  # noqa: E731
    wet = corpus_mod.build(a.mb, a.seed, OUT, log=log)
    silver = bench_dedup.build_corpus(a.mb, a.seed, log=log)
    work = OUT / f"write-path-mb{a.mb}"
    runs = []
    for n in range(a.repeat):
        order = list(LAYERS) if n % 2 == 0 else list(reversed(LAYERS))
        for stage, src in (("ingest", wet), ("dedup", silver)):
            for layer in order:
                r = run(stage, layer, n, src, work, a.master)
                log(f"{stage} {layer} #{n}: wall {r['wall_s']:.1f}s stage {r['stage_s']:.1f}s "
                    f"cpu {r['cpu_s']:.1f}s rows {r['rows_out']}")  # fmt: skip
                runs.append(r)
    for stage in ("ingest", "dedup"):
        checks = {(r["check"], r["n_check"]) for r in runs if r["stage"] == stage}
        assert len(checks) == 1, f"{stage}: the layers' outputs differ: {checks}"
    body = report(runs, a.mb, a.repeat, a.master)
    print(body)
    if not a.no_write:
        stamp = dt.date.today().isoformat()
        M.replace_section(
            TITLE,
            f"`python -m bench.bench_write_path --mb {a.mb} --repeat {a.repeat}` ({stamp}; "
            f"{platform.python_implementation()} {platform.python_version()})\n\n{body}",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
