"""Benchmark (not a test): `lmdata ingest-cc` (WET) side by side with a plain FastWARC loop.

    python -m bench.bench_ingest --mb 200          # builds/reuses bench/out/cc-wet-mb200-seed0

Same corpus, same invocation, ``--repeat`` (default 3) pairs interleaved with the order
alternated (peer, lmdata; lmdata, peer; ...):

- peer: the physical floor, one process, one core: every WET file of the listing through
  ``ArchiveIterator(GzipReader(path), record_types=WarcRecordType.conversion)``, each payload read
  and decoded as UTF-8 (FastWARC 2.0 replaced ``GZipStream(FileStream(path, "rb"))`` with
  ``GzipReader(path)``). Runs in a fresh subprocess; its loop time, CPU time and peak RSS are
  reported. Peak RSS is VmHWM from /proc/self/status: ``getrusage(RUSAGE_SELF).ru_maxrss`` was
  tried first and is wrong here, because Linux keeps the pre-exec high-water mark, so the peer
  reported the benchmark parent's RSS (123-219 MiB instead of 23 MiB); it stays in the raw JSON.
- lmdata: ``.venv/bin/lmdata ingest-cc --lake <fresh lake> --source <corpus> --crawl
  CC-MAIN-2099-01 --format wet --run-id bench-<n> --set spark.master=local[2]`` as a subprocess,
  writing real Delta tables. Times: the whole command (wall clock), the stage's own ``seconds``
  from its ``LMDATA_STATS`` line (from argument parsing to the end of the stage: it includes the
  SparkSession/JVM start, which happens lazily inside the stage, and excludes Python start-up and
  shutdown), and ``work`` = from the stage's first log line after the session is up ("[ingest-cc]
  ingest N wet files") to its final summary line. Memory and CPU: psutil samples (every 0.2 s)
  of the process tree under the command (driver Python, JVM, Python workers): peak of the summed
  RSS (shared pages count twice), peak RSS of the largest single process, and user+sys CPU
  seconds per process as last seen (a process that lives < 0.2 s can be missed). For comparison
  ``getrusage(RUSAGE_CHILDREN)`` is taken by a tiny wrapper process around the command; it only
  covers descendants that were waited for, and PySpark does not reap its JVM that way, so it
  reports the driver Python alone (kept in the raw JSON, not used in the table).

Asserts that both saw the same number of conversion records (and that this is the corpus's count),
prints a table, and writes it into BENCHMARKS.md (section "Ingest (WET)").
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import _measure as M
from bench import corpus as corpus_mod

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
OUT = REPO / "bench" / "out"
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
MIB = 1 << 20
SECTION = "## Ingest (WET)"

_LOG_TS = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO lmdata: "


# --------------------------------------------------------------------------- the peer


def listing(root: Path) -> list[Path]:
    lst = root / "crawl-data" / corpus_mod.CRAWL / "wet.paths.gz"
    rels = gzip.decompress(lst.read_bytes()).decode().split()
    return [root / r for r in rels]


def peer_worker(root: Path) -> dict:
    """The plain single-process FastWARC loop (runs inside its own subprocess)."""
    from fastwarc.stream_io import GzipReader
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    files = listing(root)
    records = payload = chars = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for path in files:
        for rec in ArchiveIterator(GzipReader(str(path)), record_types=WarcRecordType.conversion):
            data = rec.reader.read()
            text = data.decode("utf-8", "replace")
            records += 1
            payload += len(data)
            chars += len(text)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return {
        "records": records,
        "payload_bytes": payload,
        "chars": chars,
        "seconds": seconds,
        "cpu_s": cpu,
        "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "vmhwm_kib": M.vmhwm_kib(),
    }


def run_peer(root: Path) -> dict:
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "bench.bench_ingest", "--peer-worker", str(root)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    res = json.loads(p.stdout.strip().splitlines()[-1])
    res["wall_s"] = time.perf_counter() - t0
    return res


# --------------------------------------------------------------------------- lmdata


def _log_time(text: str, pattern: str) -> float | None:
    m = re.search(_LOG_TS + pattern, text, re.M)
    if not m:
        return None
    return dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def run_lmdata(root: Path, n: int, master: str, workdir: Path) -> dict:
    lake = workdir / f"lake-{n}"
    shutil.rmtree(lake, ignore_errors=True)
    run_dir = workdir / f"lmdata-run-{n}"
    run_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(VENV_BIN / "lmdata"), "ingest-cc", "--lake", str(lake), "--source", str(root),
        "--crawl", corpus_mod.CRAWL, "--format", "wet", "--run-id", f"bench-{n}",
        "--set", f"spark.master={master}",
    ]  # fmt: skip
    r = M.run_tree(cmd, run_dir, REPO, M.lmdata_env())
    stats = M.lmdata_stats(r, "lmdata ingest-cc")
    wall, t_start, stdout, stderr = r["wall_s"], r["t_start"], r["stdout"], r["stderr"]
    logs = stdout + "\n" + stderr
    t_ready = _log_time(logs, r"\[ingest-cc\] ingest ")
    t_done = _log_time(logs, r"ingest-cc \[")
    from lmdata.lake import delta

    bronze_rows = sum(f.num_records or 0 for f in delta.snapshot_files(
        delta.table_uri(str(lake), delta.BRONZE_WEB))[1])  # fmt: skip
    res = {
        "wall_s": wall,
        "stage_s": float(stats["seconds"]),
        "ready_s": (t_ready - t_start) if t_ready else None,
        "work_s": (t_done - t_ready) if (t_ready and t_done) else None,
        "docs": int(stats["counters"].get("docs", 0)),
        "quarantined": int(sum(stats.get("quarantined", {}).values())),
        "records_seen": int(stats.get("rows_in", 0)),
        "rows_out": int(stats.get("rows_out", 0)),
        "bytes_in": int(stats.get("bytes_in", 0)),
        "bronze_rows": bronze_rows,
        **{k: r[k] for k in ("tree_peak_rss", "single_peak_rss", "max_procs", "samples", "cpu_s",
                             "rusage_children_maxrss_kib", "rusage_children_cpu_s",
                             "loadavg_1min")},
        "stats": stats,
    }
    shutil.rmtree(lake, ignore_errors=True)
    return res


# --------------------------------------------------------------------------- report


def _fmt(x: float, nd: int = 1) -> str:
    return f"{x:,.{nd}f}"


def report(meta: dict, peers: list[dict], runs: list[dict], master: str, cores: int) -> str:
    n = meta["conversion_records"]
    comp, pay = meta["compressed_bytes"] / MIB, meta["payload_bytes"] / MIB

    def row(name: str, times: list[float], ncores: int, mem: str, cpu: list[float]) -> str:
        b, m = M.best_median(times)
        cells = [name, f"{_fmt(b, 2)} / {_fmt(m, 2)}"]
        cells.append(f"{_fmt(n / b, 0)} / {_fmt(n / m, 0)}")
        cells.append(f"{_fmt(comp / b)} / {_fmt(comp / m)}")
        cells.append(f"{_fmt(pay / b)} / {_fmt(pay / m)}")
        cells.append(str(ncores))
        cells.append(f"{_fmt(n / b / ncores, 0)} / {_fmt(n / m / ncores, 0)}")
        cells.append(f"{_fmt(pay / b / ncores)} / {_fmt(pay / m / ncores)}")
        cells.append(f"{_fmt(statistics.median(cpu))}")
        cells.append(mem)
        return "| " + " | ".join(cells) + " |"

    peer_t = [p["seconds"] for p in peers]
    wall_t = [r["wall_s"] for r in runs]
    stage_t = [r["stage_s"] for r in runs]
    work_t = [r["work_s"] for r in runs if r["work_s"] is not None]
    hwm = [p["vmhwm_kib"] or p["maxrss_kib"] for p in peers]
    peer_mem = f"{max(hwm) / 1024:,.0f} MiB (VmHWM)"
    tree = max(r["tree_peak_rss"] for r in runs) / MIB
    single = max(r["single_peak_rss"] for r in runs) / MIB
    lm_mem = f"{tree:,.0f} MiB tree sum · {single:,.0f} MiB largest process (psutil)"
    head = (
        "| run | time s (best / median) | records/s | MiB/s compressed | MiB/s payload | cores "
        "| records/s/core | MiB/s payload/core | CPU s (user+sys, median) | peak memory |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [
        head,
        row("peer: FastWARC loop (loop time)", peer_t, 1, peer_mem, [p["cpu_s"] for p in peers]),
        row(
            "lmdata ingest-cc, whole command (wall)",
            wall_t,
            cores,
            lm_mem,
            [r["cpu_s"] for r in runs],
        ),  # fmt: skip
        row(
            "lmdata ingest-cc, stage `seconds`",
            stage_t,
            cores,
            "(same runs)",
            [r["cpu_s"] for r in runs],
        ),
    ]
    if work_t:
        lines.append(
            row(
                "lmdata ingest-cc, work after Spark is up",
                work_t,
                cores,
                "(same runs)",
                [r["cpu_s"] for r in runs],
            )  # fmt: skip
        )
    pb, pm = M.best_median(peer_t)
    ratios = [
        "",
        f"| lmdata / peer | best | median | per core ({cores} x lmdata / 1 x peer), best | median |",
        "|---|---|---|---|---|",
    ]
    for name, ts in (("whole command", wall_t), ("stage `seconds`", stage_t), ("work", work_t)):
        if not ts:
            continue
        b, m = M.best_median(ts)
        ratios.append(
            f"| {name} | {b / pb:,.1f}x | {m / pm:,.1f}x | {b * cores / pb:,.1f}x "
            f"| {m * cores / pm:,.1f}x |"
        )
    cb, cm = M.best_median([p["cpu_s"] for p in peers])
    lb, lm = M.best_median([r["cpu_s"] for r in runs])
    ratios.append(f"| CPU seconds (user+sys) | {lb / cb:,.1f}x | {lm / cm:,.1f}x | - | - |")
    ready = ", ".join(f"{r['ready_s']:.1f}" for r in runs if r["ready_s"] is not None)
    peer_wall = ", ".join(f"{p['wall_s']:.2f}" for p in peers)
    extra = [
        "",
        f"Corpus: `bench/out/{Path(meta['root']).name}` (mb={meta['mb']}, seed={meta['seed']}): "
        f"{meta['n_files']} WET files, {comp:,.1f} MiB compressed, {pay:,.1f} MiB payload "
        f"(uncompressed conversion-record text), {n:,} conversion records "
        f"(kinds: {', '.join(f'{k} {v:,}' for k, v in sorted(meta['kinds'].items()))}).",
        f"Both saw {n:,} conversion records (asserted); lmdata wrote "
        f"{runs[0]['bronze_rows']:,} rows to bronze/web_documents and quarantined "
        f"{runs[0]['quarantined']} (read {runs[0]['bytes_in'] / MIB:,.1f} MiB compressed).",
        f"Runs: {len(peers)} x peer, {len(runs)} x lmdata (`--set spark.master={master}`), "
        f"interleaved, order alternated (peer, lmdata; lmdata, peer; ...); 1-minute load "
        f"average over the runs {M.load_range(peers + runs)}; page cache warmed before the first "
        f"run. lmdata Spark start-up (process "
        f"start to the session being up): {ready} s; peer process wall incl. Python start: "
        f"{peer_wall} s.",
        f"lmdata processes in the tree: up to {max(r['max_procs'] for r in runs)} "
        f"(driver Python, JVM, Python workers); RSS sampled every 0.2 s and summed.",
        "What lmdata does beyond the peer: its own gzip-member framing (exact record offsets, "
        "damage recovery), a FastWARC parse per record, doc_id hashing and row building in Python "
        "workers, Arrow transfer to the JVM, the Parquet write of bronze/web_documents and the "
        "Delta commits (bronze, quarantine, _meta/stage_runs).",
    ]
    return "\n".join(lines + ratios + extra)


def write_benchmarks_md(section_body: str, stamp: str, command: str) -> None:
    M.write_run_section(SECTION[3:], section_body, stamp, command)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.bench_ingest", description=__doc__.split("\n")[0]
    )
    p.add_argument("--mb", type=int, default=200, help="corpus size, MiB of compressed WET")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=3, help="peer/lmdata pairs, order alternated")
    p.add_argument("--master", default="local[2]")
    p.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md")
    p.add_argument("--peer-worker", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.peer_worker:
        print(json.dumps(peer_worker(a.peer_worker)))
        return 0
    cores = M.local_cores(a.master)
    print(f"corpus mb={a.mb} seed={a.seed} ...", flush=True)
    root = corpus_mod.build(a.mb, a.seed, OUT, log=lambda s: print(s, flush=True))
    meta = json.loads((root / "corpus.json").read_text())
    meta["root"] = str(root)
    for f in listing(root):  # warm the page cache for both sides
        with open(f, "rb") as fh:
            while fh.read(1 << 24):
                pass
    workdir = OUT / "ingest-work"
    peers, runs = [], []

    def one_peer(i: int) -> None:
        load0 = os.getloadavg()[0]
        pr = run_peer(root)
        pr["loadavg_1min"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
        print(f"peer   #{i}: {pr['records']:,} records in {pr['seconds']:.2f}s "
              f"(cpu {pr['cpu_s']:.2f}s, VmHWM {(pr['vmhwm_kib'] or 0) / 1024:.0f} MiB)", flush=True)  # fmt: skip
        peers.append(pr)

    def one_lmdata(i: int) -> None:
        lr = run_lmdata(root, i, a.master, workdir)
        print(f"lmdata #{i}: wall {lr['wall_s']:.1f}s, stage {lr['stage_s']:.1f}s, work "
              f"{lr['work_s'] if lr['work_s'] is None else round(lr['work_s'], 1)}s, docs "
              f"{lr['docs']:,}, quarantined {lr['quarantined']}, tree peak "
              f"{lr['tree_peak_rss'] / MIB:.0f} MiB, cpu {lr['cpu_s']:.1f}s", flush=True)  # fmt: skip
        runs.append(lr)

    for i in range(1, a.repeat + 1):
        for step in M.pair_order(i, one_peer, one_lmdata):
            step(i)
        pr, lr = peers[-1], runs[-1]
        n = meta["conversion_records"]
        assert pr["records"] == n, f"peer saw {pr['records']} conversion records, corpus has {n}"
        assert lr["docs"] + lr["quarantined"] == pr["records"], (
            f"lmdata saw {lr['docs']} docs + {lr['quarantined']} quarantined, peer {pr['records']}"
        )
        assert lr["bronze_rows"] == lr["docs"], (lr["bronze_rows"], lr["docs"])
    body = report(meta, peers, runs, a.master, cores)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    raw = OUT / f"ingest-results-mb{a.mb}-seed{a.seed}.json"
    cmd = f"python -m bench.bench_ingest --mb {a.mb}" + (f" --seed {a.seed}" if a.seed else "")
    if a.repeat != 3:
        cmd += f" --repeat {a.repeat}"
    M.save_raw(raw, {"meta": meta, "peer": peers, "lmdata": runs, "stamp": stamp,
                     "command": cmd, "order": M.ALTERNATING})  # fmt: skip
    print()
    print(body)
    print(f"\nraw results: {raw}")
    if not a.no_write:
        write_benchmarks_md(body, stamp, cmd)
        print(f"wrote {BENCHMARKS_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
