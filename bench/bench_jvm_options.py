"""The fixed CPU cost of a cold Spark command under JVM options (issue 21): one driver JVM per
command (local mode), the options given as ``spark.driver.extraJavaOptions`` through
``LMDATA_SPARK_CONF`` (so the code under test is unchanged), variants interleaved (the order
rotates each round), CPU seconds of the whole process tree (``run_tree``), medians.

    python -m bench.bench_jvm_options session [--repeat 3]     # bare Spark+Delta start/stop
    python -m bench.bench_jvm_options curate [--repeat 3]      # ingest-cc + curate, 20 MiB English

``session``: get_spark, a 1-row Delta write and read back (Delta's first snapshot), stop.
``curate``: bench_english_budget's corpus and params (cold, current code).
Prints a markdown table; BENCHMARKS.md is written by hand from it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time

from bench import _measure as M

BASE = "-Dlog4j2.level=WARN -XX:+ExitOnOutOfMemoryError"
VARIANTS = {
    "default": "",
    "c1": "-XX:TieredStopAtLevel=1",
    "serialgc": "-XX:+UseSerialGC",
    "c1+serialgc": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    "cicount2+gc1": "-XX:CICompilerCount=2 -XX:ParallelGCThreads=1 -XX:ConcGCThreads=1",
}

_SESSION = r"""
import sys, tempfile
from lmdata.spark.session import get_spark
spark = get_spark()
d = tempfile.mkdtemp()
spark.range(1).write.format("delta").save(d + "/t")
assert spark.read.format("delta").load(d + "/t").count() == 1
spark.stop()
"""


def _env(opts: str) -> dict:
    conf = f"spark.driver.extraJavaOptions={BASE} {opts}".strip()
    return M.lmdata_env(LMDATA_SPARK_CONF=conf)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=("session", "curate"))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma list of " + ",".join(VARIANTS)
    )
    p.add_argument("--extra", action="append", default=[], metavar="NAME=OPTS",
                   help="another variant, e.g. cds='-XX:SharedArchiveFile=/path.jsa'")  # fmt: skip
    p.add_argument("--nice", type=int, default=19)
    a = p.parse_args(argv)
    variants = {k: VARIANTS[k] for k in a.variants.split(",") if k}
    variants.update(dict(e.split("=", 1) for e in a.extra))
    names = list(variants)
    res: dict[str, list] = {n: [] for n in names}
    workdir = M.OUT / f"jvm-options-{a.what}"
    if a.what == "curate":
        from bench import bench_multilingual_curate as mlc
        from bench import corpus as corpus_mod

        root = corpus_mod.build(20, 0, M.OUT, log=lambda s: print(s, flush=True), file_mb=10)
        params, _ = mlc.bench_params(workdir / "params.yaml", "local[2]")
    loads = []
    for i in range(a.repeat):
        order = names[i % len(names) :] + names[: i % len(names)]
        for n in order:
            loads.append(os.getloadavg()[0])
            if a.what == "session":
                cmd = ["nice", "-n", str(a.nice), sys.executable, "-c", _SESSION]
                r = M.run_tree(cmd, workdir / f"{n}-{i}", M.REPO, _env(variants[n]))
                if r["rc"]:
                    print(r["stderr"][-2000:])
                    raise SystemExit(f"{n}: rc {r['rc']}")
                row = {"cpu_s": r["cpu_s"], "wall_s": r["wall_s"], "rss": r["tree_peak_rss"]}
            else:
                env_extra = {"LMDATA_SPARK_CONF": _env(variants[n])["LMDATA_SPARK_CONF"]}
                r = mlc.run_lmdata(root, corpus_mod.CRAWL, i, workdir, params, a.nice,
                                   tag=f"jvm-{n.replace('+', '_')}", gold=False,
                                   env_extra=env_extra)  # fmt: skip
                shutil.rmtree(workdir / f"lmdata-lake-jvm-{n.replace('+', '_')}-{i}",
                              ignore_errors=True)  # fmt: skip
                st = r["steps"]
                row = {"cpu_s": st["curate"]["cpu_s"], "wall_s": st["curate"]["wall_s"],
                       "ingest_cpu_s": st["ingest-cc"]["cpu_s"],
                       "rss": st["curate"]["tree_peak_rss"]}  # fmt: skip
            res[n].append(row)
            print(f"{n} #{i}: {json.dumps({k: round(v, 2) for k, v in row.items()})}", flush=True)
    (workdir / "results.json").write_text(json.dumps({"variants": variants, "res": res,
                                                      "loads": loads}, indent=1))  # fmt: skip
    ref = statistics.median(x["cpu_s"] for x in res[names[0]])
    print(f"\n{a.what}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load "
          f"{min(loads):.1f}-{max(loads):.1f}\n")  # fmt: skip
    print("| variant | options | CPU s (median) | per run | vs default | wall s (median) |")
    print("|---|---|---:|---|---:|---:|")
    for n in names:
        cpu = statistics.median(x["cpu_s"] for x in res[n])
        wall = statistics.median(x["wall_s"] for x in res[n])
        per = ", ".join(f"{x['cpu_s']:.1f}" for x in res[n])
        print(
            f"| {n} | `{variants[n] or '-'}` | {cpu:.1f} | {per} | {cpu / ref:.2f} | {wall:.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
