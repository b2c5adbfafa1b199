"""Benchmark (not a test): the fixed cost of a stage, one Spark driver per stage (what
`spark-submit` does) vs. a warm Spark Connect server (lmdata.spark.connect), side by side.

    python -m bench.bench_warm_spark --repeat 3

The same five stages on the bundled sample (samples/commoncrawl: 17 pages) into a fresh lake:
ingest-cc (WET), ingest-cc (WARC), curate web, dedup web, validate gold/web_documents.

- cold: each stage `python -m lmdata.cli STAGE` with its own driver JVM (`local[*]`), exactly the
  work of a `spark-submit spark_jobs/STAGE.py`.
- warm: the same commands with LMDATA_SPARK_REMOTE pointing at one server started before the
  first run (its start-up is reported on its own line, paid once per `make run` / Airflow).

Runs interleaved (cold, warm, cold, warm, ...); each figure is the median over `--repeat` runs of
the five-stage sum. CPU seconds are user+sys of every process: the client trees (bench._measure)
plus, for warm runs, the server's process tree (the Python server, its JVM, the Python workers,
counting reaped children) read before and after. Writes bench/out/warm-spark-results.json and the
"Warm Spark (fixed cost per stage)" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import time
from pathlib import Path

from bench import _measure as M

SAMPLE = M.REPO / "samples" / "commoncrawl"
STAGES = [
    ("ingest-cc wet", ["ingest-cc", "--source", str(SAMPLE), "--crawl", "CC-MAIN-2024-22",
                       "--format", "wet"]),
    ("ingest-cc warc", ["ingest-cc", "--source", str(SAMPLE), "--crawl", "CC-MAIN-2020-34",
                        "--format", "warc"]),
    ("curate", ["curate", "--source", "web"]),
    ("dedup", ["dedup", "--source", "web"]),
    ("validate", ["validate", "--table", "gold/web_documents"]),
]  # fmt: skip
TITLE = "Warm Spark (fixed cost per stage)"


def _tree_cpu(pid: int) -> float:
    """user+sys seconds of a process tree, reaped children included."""
    import psutil

    total = 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def run_once(mode: str, work: Path, env: dict, server_pid: int | None) -> dict:
    lake = work / f"lake-{mode}"
    shutil.rmtree(lake, ignore_errors=True)
    steps = []
    for name, args in STAGES:
        cmd = [sys.executable, "-m", "lmdata.cli", *args, "--lake", str(lake)]
        cpu0 = _tree_cpu(server_pid) if server_pid else 0.0
        res = M.run_tree(cmd, work / "runs" / mode / name.replace(" ", "-"), env=env)
        M.lmdata_stats(res, f"{mode} {name}")
        server_cpu = (_tree_cpu(server_pid) - cpu0) if server_pid else 0.0
        steps.append(
            {
                "stage": name,
                "wall_s": round(res["wall_s"], 2),
                "client_cpu_s": round(res["cpu_s"], 2),
                "server_cpu_s": round(server_cpu, 2),
                "cpu_s": round(res["cpu_s"] + server_cpu, 2),
                "peak_rss": res["tree_peak_rss"],
                "load": res["loadavg_1min"],
            }
        )
        print(f"  {mode:5s} {name:15s} {res['wall_s']:6.1f} s wall "
              f"{res['cpu_s'] + server_cpu:6.1f} CPU s", flush=True)  # fmt: skip
    from lmdata.lake import delta

    gold = delta.read_arrow(delta.table_uri(str(lake), delta.GOLD_WEB))
    return {
        "mode": mode,
        "wall_s": round(sum(s["wall_s"] for s in steps), 2),
        "cpu_s": round(sum(s["cpu_s"] for s in steps), 2),
        "steps": steps,
        "gold_doc_ids": sorted(gold["doc_id"].to_pylist()),
    }


def section(res: dict) -> str:
    cold = [r for r in res["runs"] if r["mode"] == "cold"]
    warm = [r for r in res["runs"] if r["mode"] == "warm"]
    lines = [
        f"`python -m bench.bench_warm_spark --repeat {res['repeat']}` ({res['date']}; "
        f"{res['machine']}). The five stages of the bundled sample (17 pages) into a fresh lake: "
        "ingest-cc WET, ingest-cc WARC, curate, dedup, validate. **cold** = one driver JVM per "
        "stage (what `spark-submit` per task costs); **warm** = the same commands as Spark "
        "Connect clients of one server (`lmdata.spark.connect`, what `make run`, `make airflow` "
        "and the compose stack use). Interleaved cold/warm; medians of "
        f"{res['repeat']} runs; CPU = user+sys of every process, the server's included. "
        f"1-min load during the runs: {res['load_min']:.1f}-{res['load_max']:.1f} on 2 cores.",
        "",
        "| stage | cold wall s | warm wall s | cold CPU s | warm CPU s |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for i, (name, _) in enumerate(STAGES):
        cw = statistics.median(r["steps"][i]["wall_s"] for r in cold)
        ww = statistics.median(r["steps"][i]["wall_s"] for r in warm)
        cc = statistics.median(r["steps"][i]["cpu_s"] for r in cold)
        wc = statistics.median(r["steps"][i]["cpu_s"] for r in warm)
        lines.append(f"| {name} | {cw:.1f} | {ww:.1f} | {cc:.1f} | {wc:.1f} |")
    cw, ww = M.median_of(cold, "wall_s"), M.median_of(warm, "wall_s")
    cc, wc = M.median_of(cold, "cpu_s"), M.median_of(warm, "cpu_s")
    lines += [
        f"| **all five** | **{cw:.1f}** | **{ww:.1f}** | **{cc:.1f}** | **{wc:.1f}** |",
        "",
        f"Warm / cold: wall **{M.fmt_x(M.ratio(ww, cw))}**, CPU **{M.fmt_x(M.ratio(wc, cc))}**. "
        f"The server's start-up, paid once per `make run` or Airflow deployment: "
        f"{res['server_start_s']:.1f} s wall. Every run wrote the same gold documents: "
        f"{'yes' if res['same_gold'] else 'NO'}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work", default=str(M.OUT / "warm-spark"))
    args = ap.parse_args(argv)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    from lmdata.spark import connect

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `finally` stops the server
    state = work / "spark-connect"
    base_env = M.lmdata_env()
    base_env.pop(connect.ENV_REMOTE, None)
    t0 = time.perf_counter()
    url = connect.start(state, env=base_env)
    server_start = time.perf_counter() - t0
    server_pid = int((state / "pid").read_text())
    runs = []
    try:
        for i in range(args.repeat):
            print(f"run {i + 1}/{args.repeat}", flush=True)
            runs.append(run_once("cold", work, base_env, None))
            runs.append(run_once("warm", work, {**base_env, connect.ENV_REMOTE: url}, server_pid))
    finally:
        connect.stop(state)
    loads = [x for r in runs for s in r["steps"] for x in s["load"]]
    res = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": f"{os.cpu_count()} cores",
        "repeat": args.repeat,
        "server_start_s": round(server_start, 2),
        "load_min": min(loads),
        "load_max": max(loads),
        "same_gold": len({tuple(r["gold_doc_ids"]) for r in runs}) == 1,
        "runs": runs,
    }
    (M.OUT / "warm-spark-results.json").write_text(json.dumps(res, indent=2))
    M.replace_section(TITLE, section(res))
    print(section(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
