"""Benchmark (not a test): `lmdata ingest-code` on the standard library plus site-packages.

    python -m bench.bench_code          # run with the project's venv Python (.venv/bin/python)

Inputs (read on this machine, nothing downloaded):

- the running interpreter's standard library, ``sysconfig.get_paths()["stdlib"]``, given to the
  stage as ``--source <dir>=Python-2.0``. With pyenv (and most Unix builds) that directory also
  holds the *base interpreter's* own ``site-packages`` (here ~685 MiB of third-party packages),
  which is not the standard library and would be mislabelled Python-2.0. The stage has no way to
  exclude a subdirectory and does not follow symlinks, so the benchmark ingests a hard-link
  mirror of the stdlib minus its top-level ``site-packages``: ``bench/out/code-src/<basename>``
  (same basename, so the same repo id; same files, same inodes; rebuilt every run, a copy where
  hard links are impossible). ``__pycache__`` directories are mirrored too (both sides prune them).
- a fixed list of top-level package directories of the project venv's site-packages
  (``SITE_PACKAGES``): the packages with the most text that lmdata would read (not binary by
  extension, 1 MB cap), largest first, taken until the files under them total >= 300 MB
  (computed once with ``lmdata.ingest.languages.is_binary_path`` on 2026-11-22; the list is
  fixed so that runs compare). One ``--source`` per package, license detected by the stage.

Same inputs, same invocation, ``--repeat`` (default 3) rounds interleaved with the order
alternated (floor, in-process, lmdata; lmdata, in-process, floor; ...):

- floor: the physical floor, one process, one core, reading exactly the files lmdata reads:
  their list comes from lmdata's own selection (``files_lmdata_reads``: ``plan_units`` +
  ``iter_unit`` run once before the rounds with ``lmdata.ingest.code.sources._read_fs`` wrapped
  to record every path it opens; binaries by extension, empty files, files over
  ``max_file_bytes``, pruned directories and symlinks are never opened by lmdata, so not by the
  floor either). Timed: an ``os.walk`` over every source (names only, lmdata's pruned directory
  names; the discovery any reader pays), then every listed file opened, read whole, decoded as
  UTF-8 (``errors="replace"``) and sha1-hashed. Its files and bytes must equal the list and
  lmdata's ``bytes_in`` (asserted). Fresh subprocess; loop time, CPU time, VmHWM.
- in-process: ``lmdata.ingest.code.ingest_sources`` (``plan_units`` + ``iter_unit`` per unit, the
  per-file logic the Spark stage runs in its executors: binary sniffing, decoding, language,
  line statistics, sha1, doc id) in one process, one core, with the stage's options from
  params.yaml; every row is built and dropped. Fresh subprocess; time, CPU, VmHWM.
- lmdata: ``.venv/bin/lmdata ingest-code --lake <fresh lake> --run-id bench-<n> --set
  spark.master=local[2] --source <stdlib>=Python-2.0 --source <pkg> ...`` as a subprocess,
  writing real Delta tables (bronze/code_files, quarantine, _meta/stage_runs). Times: the whole
  command (wall clock); the stage's ``seconds`` from its ``LMDATA_STATS`` line (argument parsing
  to the end of the stage: planning, the SparkSession/JVM start, ingest, write, commits); and
  ``work`` = from the stage's log line "[ingest-code] ingest N units" (planning done, session up)
  to its final summary line, split at "[ingest-code] write bronze/code_files" into ingest (the
  mapInArrow over the units, persisted and counted) and write (Parquet + Delta commit). Memory
  and CPU: psutil samples every 0.2 s of the process tree (driver Python, JVM, Python workers)
  as in bench/bench_ingest.py: peak summed RSS, largest single RSS, user+sys CPU per process.

Checked: lmdata's ``files_seen`` equals the regular files under the trees, its ``bytes_in`` the
floor's bytes, and the in-process run
wrote the same files, quarantine reasons and languages as the stage. The language / license
tables come from the first run's bronze/code_files (``lmdata.lake.delta.read_arrow`` with
``columns=[...]``). Prints a table and writes BENCHMARKS.md (section "Code ingest").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import stat
import statistics
import subprocess
import sys
import sysconfig
import time
from collections import Counter
from pathlib import Path

from bench import _measure as M
from bench.bench_ingest import _log_time
from lmdata.ingest.code import DEFAULT_PRUNE_DIRS as PRUNE_DIRS

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
OUT = REPO / "bench" / "out"
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
MIB = 1 << 20
SECTION = "## Code ingest"
# Top-level packages of the venv's site-packages with the most text lmdata reads, largest first,
# until >= 300 MB of files (see the module docstring).
SITE_PACKAGES = (
    "babel", "scipy", "sympy", "pandas", "phonenumbers",
    "cfnlint", "sklearn", "airflow", "numpy", "moto",
)  # fmt: skip
MIN_SITE_BYTES = 300_000_000


# --------------------------------------------------------------------------- inputs


def venv_site_packages() -> Path:
    ver = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    return REPO / ".venv" / "lib" / ver / "site-packages"


def build_stdlib_mirror(stdlib: Path, dest: Path) -> dict:
    """Hard-link mirror of ``stdlib`` without its top-level site-packages (symlinks copied as
    symlinks, special files left out). Returns what it did."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    links = copies = symlinks = 0
    for dirpath, dirnames, filenames in os.walk(stdlib):
        rel = os.path.relpath(dirpath, stdlib)
        if rel == ".":
            dirnames[:] = [d for d in dirnames if d != "site-packages"]
        out_dir = dest / rel if rel != "." else dest
        for d in list(dirnames):
            src = os.path.join(dirpath, d)
            if os.path.islink(src):  # os.walk lists symlinked dirs among dirnames
                os.symlink(os.readlink(src), out_dir / d)
                symlinks += 1
                dirnames.remove(d)
            else:
                (out_dir / d).mkdir()
        for f in filenames:
            src = os.path.join(dirpath, f)
            st = os.lstat(src)
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(src), out_dir / f)
                symlinks += 1
            elif stat.S_ISREG(st.st_mode):
                try:
                    os.link(src, out_dir / f)
                    links += 1
                except OSError:
                    shutil.copy2(src, out_dir / f)
                    copies += 1
    return {"hard_links": links, "copies": copies, "symlinks": symlinks}


def manifest(roots: list[Path], max_file_bytes: int) -> dict:
    """Stat-only walk (like the peer's): per root, regular files and bytes, and the part lmdata
    opens (not binary by extension, 0 < size <= max_file_bytes)."""
    from lmdata.ingest.languages import is_binary_path

    per = {}
    for root in roots:
        m = Counter()
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in PRUNE_DIRS]
            for f in filenames:
                st = os.lstat(os.path.join(dirpath, f))
                if not stat.S_ISREG(st.st_mode):
                    m["not_regular"] += 1
                    continue
                m["files"] += 1
                m["bytes"] += st.st_size
                if is_binary_path(f):
                    m["binary_ext_files"] += 1
                    m["binary_ext_bytes"] += st.st_size
                elif st.st_size > max_file_bytes:
                    m["oversized_files"] += 1
                    m["oversized_bytes"] += st.st_size
                elif st.st_size == 0:
                    m["empty_files"] += 1
                else:
                    m["read_files"] += 1
                    m["read_bytes"] += st.st_size
        per[str(root)] = dict(m)
    tot = Counter()
    for m in per.values():
        tot.update(m)
    return {"per_root": per, "total": dict(tot)}


# --------------------------------------------------------------------------- the peer


def files_lmdata_reads(specs: list[dict]) -> list[list]:
    """``[path, bytes]`` of every file ``lmdata ingest-code`` reads, in its order: lmdata's own
    planning and unit loop (``plan_units`` + ``iter_unit``, the code the stage runs in its
    executors) with ``sources._read_fs`` - the one function every directory read goes through -
    wrapped to record each call. The floor's file list is therefore lmdata's selection itself
    (binary by extension, empty, over ``max_file_bytes``, pruned directories, symlinks, bad
    names), not a copy of it. License files read during planning are not recorded: lmdata reads
    them once more for the row, and that read is recorded."""
    from lmdata.config import load_params
    from lmdata.ingest.code import CodeIngestOptions, SourceSpec, iter_unit, plan_units
    from lmdata.ingest.code import sources as code_sources

    cfg = load_params(None).ingest_code
    opts = CodeIngestOptions(
        run_id="bench-floor-list", max_file_bytes=cfg.max_file_bytes,
        max_archive_bytes=cfg.max_archive_bytes, max_compression_ratio=cfg.max_compression_ratio,
        git_mode=cfg.git_mode,
    )  # fmt: skip
    units = plan_units([SourceSpec(**s) for s in specs], cfg.max_files_per_unit, opts, Counter())
    read_fs, seen = code_sources._read_fs, []

    def recording_read_fs(path: str, limit: int) -> bytes:
        data = read_fs(path, limit)
        seen.append([path, len(data)])
        return data

    code_sources._read_fs = recording_read_fs
    try:
        for unit in units:
            for _ in iter_unit(unit, opts, Counter()):
                pass
    finally:
        code_sources._read_fs = read_fs
    return seen


def peer_worker(roots: list[str], list_file: str) -> dict:
    """The plain single-process floor (runs inside its own subprocess): an ``os.walk`` of the
    roots (names only, lmdata's pruned directories; the discovery any reader needs), then every
    file of ``list_file`` (:func:`files_lmdata_reads`) opened, read whole, decoded as UTF-8
    (``errors="replace"``) and sha1-hashed."""
    prune = frozenset(PRUNE_DIRS)
    paths = [p for p, _n in json.loads(Path(list_file).read_text())]
    names = files = nbytes = chars = 0
    pc = time.perf_counter
    t0, c0 = pc(), time.process_time()
    for root in roots:
        for _dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in prune]
            names += len(filenames)
    t1 = pc()
    for path in paths:
        with open(path, "rb") as fh:
            data = fh.read()
        text = data.decode("utf-8", "replace")
        hashlib.sha1(data).hexdigest()
        files += 1
        nbytes += len(data)
        chars += len(text)
    t2 = pc()
    return {
        "names": names,
        "files": files,
        "bytes": nbytes,
        "chars": chars,
        "seconds": t2 - t0,
        "walk_s": t1 - t0,
        "read_s": t2 - t1,
        "cpu_s": time.process_time() - c0,
        "vmhwm_kib": M.vmhwm_kib(),
    }


def _subprocess_json(args: list[str]) -> dict:
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "bench.bench_code", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if p.returncode != 0:
        raise RuntimeError(f"{args[0]} failed (exit {p.returncode}):\n{p.stderr[-6000:]}")
    res = json.loads(p.stdout.strip().splitlines()[-1])
    res["wall_s"] = time.perf_counter() - t0
    res["loadavg_1min"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
    return res


def run_peer(roots: list[Path], list_file: Path) -> dict:
    return _subprocess_json(
        ["--peer-worker", json.dumps({"roots": [str(r) for r in roots], "list": str(list_file)})]
    )


# --------------------------------------------------------------------------- in-process


def inproc_worker(specs: list[dict]) -> dict:
    """``ingest_sources`` over every source, one process (runs inside its own subprocess)."""
    from lmdata.config import load_params
    from lmdata.ingest.code import CodeIngestOptions, SourceSpec, iter_unit, plan_units

    cfg = load_params(None).ingest_code
    opts = CodeIngestOptions(
        run_id="bench-inproc",
        max_file_bytes=cfg.max_file_bytes,
        max_archive_bytes=cfg.max_archive_bytes,
        max_compression_ratio=cfg.max_compression_ratio,
        git_mode=cfg.git_mode,
    )
    counters: Counter = Counter()
    files = rejects = text_bytes = 0
    reasons: Counter = Counter()
    t0, c0 = time.perf_counter(), time.process_time()
    # = ingest_sources(specs, opts, max_files_per_unit=..., counters=counters), with the
    # planning timed apart
    units = plan_units([SourceSpec(**s) for s in specs], cfg.max_files_per_unit, opts, Counter())
    plan_s = time.perf_counter() - t0
    for unit in units:
        for kind, row in iter_unit(unit, opts, counters):
            if kind == "file":
                files += 1
                text_bytes += row["size_bytes"]
            else:
                rejects += 1
                reasons[row["reason"]] += 1
    seconds = time.perf_counter() - t0
    return {
        "files": files,
        "rejects": rejects,
        "reasons": dict(reasons),
        "units": len(units),
        "size_bytes": text_bytes,
        "seconds": seconds,
        "plan_s": plan_s,
        "cpu_s": time.process_time() - c0,
        "vmhwm_kib": M.vmhwm_kib(),
        "counters": dict(counters),
    }


def run_inproc(specs: list[dict]) -> dict:
    return _subprocess_json(["--inproc-worker", json.dumps(specs)])


# --------------------------------------------------------------------------- lmdata


def run_lmdata(specs: list[dict], n: int, master: str, workdir: Path, tables: bool) -> dict:
    from lmdata.lake import delta

    lake = workdir / f"lake-{n}"
    shutil.rmtree(lake, ignore_errors=True)
    run_dir = workdir / f"lmdata-run-{n}"
    run_dir.mkdir(parents=True, exist_ok=True)
    cmd = [str(VENV_BIN / "lmdata"), "ingest-code", "--lake", str(lake), "--run-id", f"bench-{n}",
           "--set", f"spark.master={master}"]  # fmt: skip
    for s in specs:
        lic = s["license_override"]
        cmd += ["--source", s["uri"] + (f"={lic}" if lic else "")]
    r = M.run_tree(cmd, run_dir, REPO, M.lmdata_env())
    stats = M.lmdata_stats(r, "lmdata ingest-code")
    wall, t_start, stdout, stderr = r["wall_s"], r["t_start"], r["stdout"], r["stderr"]
    logs = stdout + "\n" + stderr
    t_ready = _log_time(logs, r"\[ingest-code\] ingest ")
    t_write = _log_time(logs, r"\[ingest-code\] write ")
    t_done = _log_time(logs, r"ingest-code \[")
    bronze = delta.table_uri(str(lake), "bronze/code_files")
    bronze_rows = sum(f.num_records or 0 for f in delta.snapshot_files(bronze)[1])
    res = {
        "wall_s": wall,
        "stage_s": float(stats["seconds"]),
        "ready_s": (t_ready - t_start) if t_ready else None,
        "work_s": (t_done - t_ready) if (t_ready and t_done) else None,
        "ingest_s": (t_write - t_ready) if (t_ready and t_write) else None,
        "write_s": (t_done - t_write) if (t_write and t_done) else None,
        "files_seen": int(stats.get("rows_in", 0)),
        "rows_out": int(stats.get("rows_out", 0)),
        "bytes_in": int(stats.get("bytes_in", 0)),
        "quarantined": dict(stats.get("quarantined", {})),
        "counters": stats.get("counters", {}),
        "bronze_rows": bronze_rows,
        **{k: r[k] for k in ("tree_peak_rss", "single_peak_rss", "max_procs", "samples", "cpu_s",
                             "rusage_children_maxrss_kib", "rusage_children_cpu_s",
                             "loadavg_1min")},
        "stats": stats,
    }
    if tables:
        res["tables"] = bronze_tables(bronze)
    shutil.rmtree(lake, ignore_errors=True)
    return res


def bronze_tables(uri: str) -> dict:
    from lmdata.lake import delta

    cols = ["repo_id", "repo_license", "license_class", "language", "size_bytes"]
    t = delta.read_arrow(uri, columns=cols).to_pydict()
    by_lang: dict[str, list[int]] = {}
    by_lic: dict[str, list] = {}
    by_repo: dict[str, list] = {}
    for rid, lic, cls, lang, size in zip(*(t[c] for c in cols), strict=True):
        a = by_lang.setdefault(lang, [0, 0])
        a[0] += 1
        a[1] += size
        b = by_lic.setdefault(f"{lic} ({cls})", [0, 0, set()])
        b[0] += 1
        b[1] += size
        b[2].add(rid)
        c = by_repo.setdefault(rid, [0, 0, f"{lic} ({cls})"])
        c[0] += 1
        c[1] += size
    return {
        "language": {k: v for k, v in sorted(by_lang.items(), key=lambda kv: -kv[1][0])},
        "license": {
            k: [v[0], v[1], len(v[2])] for k, v in sorted(by_lic.items(), key=lambda kv: -kv[1][0])
        },
        "repo": by_repo,
        "rows": len(t["repo_id"]),
    }


# --------------------------------------------------------------------------- report


_bm = M.best_median


def _f(x: float, nd: int = 1) -> str:
    return f"{x:,.{nd}f}"


def report(inp: dict, peers: list[dict], inprocs: list[dict], runs: list[dict], master: str,
           cores: int) -> str:  # fmt: skip
    tot = inp["manifest"]["total"]
    nfiles, all_mib = tot["files"], tot["bytes"] / MIB
    read_mib = runs[0]["bytes_in"] / MIB

    def row(name, times, ncores, cpu, mem, files=None, all_files=True):
        b, m = _bm(times)
        nf = nfiles if files is None else files
        return "| " + " | ".join([
            name, f"{_f(b, 2)} / {_f(m, 2)}",
            f"{_f(nf / b, 0)} / {_f(nf / m, 0)}",
            f"{_f(all_mib / b)} / {_f(all_mib / m)}" if all_files else "-",
            f"{_f(read_mib / b)} / {_f(read_mib / m)}",
            str(ncores),
            f"{_f(nf / b / ncores, 0)} / {_f(nf / m / ncores, 0)}",
            f"{_f(read_mib / b / ncores)} / {_f(read_mib / m / ncores)}",
            _f(statistics.median(cpu)) if cpu else "-", mem,
        ]) + " |"  # fmt: skip

    peer_t = [p["seconds"] for p in peers]
    peer_read_t = [p["read_s"] for p in peers]
    nread = peers[0]["files"]
    inp_t = [r["seconds"] for r in inprocs]
    wall_t = [r["wall_s"] for r in runs]
    stage_t = [r["stage_s"] for r in runs]
    work_t = [r["work_s"] for r in runs if r["work_s"] is not None]
    ingest_t = [r["ingest_s"] for r in runs if r["ingest_s"] is not None]
    lm_cpu = [r["cpu_s"] for r in runs]
    tree = max(r["tree_peak_rss"] for r in runs) / MIB
    single = max(r["single_peak_rss"] for r in runs) / MIB
    lines = [
        "| run | time s (best / median) | files/s | MiB/s, all files | MiB/s, bytes lmdata reads "
        "| cores | files/s/core | MiB/s/core, bytes lmdata reads | CPU s (user+sys, median) "
        "| peak memory |",
        "|---|---|---|---|---|---|---|---|---|---|",
        row("floor: walk + read + UTF-8 decode + sha1 of the files lmdata reads (loop time)",
            peer_t, 1, [p["cpu_s"] for p in peers],
            f"{max(p['vmhwm_kib'] for p in peers) / 1024:,.0f} MiB (VmHWM)"),
        row("floor, its read + decode + sha1 phase only (no walk)", peer_read_t, 1, [],
            "(same runs)", files=nread, all_files=False),
        row("in-process `ingest_sources` (plan + every row, 1 process)", inp_t, 1,
            [r["cpu_s"] for r in inprocs],
            f"{max(r['vmhwm_kib'] for r in inprocs) / 1024:,.0f} MiB (VmHWM)"),
        row("lmdata ingest-code, whole command (wall)", wall_t, cores, lm_cpu,
            f"{tree:,.0f} MiB tree sum · {single:,.0f} MiB largest process (psutil)"),
        row("lmdata ingest-code, stage `seconds`", stage_t, cores, lm_cpu, "(same runs)"),
    ]  # fmt: skip
    if work_t:
        lines.append(row("lmdata ingest-code, work after planning + Spark start (ingest + write)",
                         work_t, cores, lm_cpu, "(same runs)"))  # fmt: skip
    if ingest_t:
        lines.append(row("lmdata ingest-code, ingest phase only (no write)", ingest_t, cores,
                         lm_cpu, "(same runs)"))  # fmt: skip
    refs = (("floor (walk + read)", peer_t), ("floor read phase", peer_read_t),
            ("in-process", inp_t))  # fmt: skip
    ratios = [
        "",
        f"| lmdata / reference | best | median | per core ({cores} x lmdata / 1 x reference), "
        "best | median |",
        "|---|---|---|---|---|",
    ]
    for lname, ts in (("whole command", wall_t), ("stage `seconds`", stage_t), ("work", work_t),
                      ("ingest phase", ingest_t)):  # fmt: skip
        if not ts:
            continue
        b, m = _bm(ts)
        for rname, rs in refs:
            rb, rm = _bm(rs)
            ratios.append(f"| {lname} / {rname} | {b / rb:,.1f}x | {m / rm:,.1f}x | "
                          f"{b * cores / rb:,.1f}x | {m * cores / rm:,.1f}x |")  # fmt: skip
    for rname, rs in refs[:2]:
        (b, m), (rb, rm) = _bm(inp_t), _bm(rs)
        ratios.append(f"| in-process / {rname} | {b / rb:,.1f}x | {m / rm:,.1f}x | - | - |")
    (cb, cm), (lb, lm) = _bm([p["cpu_s"] for p in peers]), _bm(lm_cpu)
    (ib, im) = _bm([r["cpu_s"] for r in inprocs])
    ratios.append(f"| CPU s (user+sys): lmdata / floor | {lb / cb:,.1f}x | {lm / cm:,.1f}x "
                  "| - | - |")  # fmt: skip
    ratios.append(f"| CPU s (user+sys): lmdata / in-process | {lb / ib:,.1f}x | {lm / im:,.1f}x "
                  "| - | - |")  # fmt: skip

    r0, tb = runs[0], runs[0]["tables"]
    known_sp = [
        name
        for name in SITE_PACKAGES
        if not tb["repo"].get(name, [0, 0, "(unknown)"])[2].endswith("(unknown)")
    ]
    unknown_sp = len(SITE_PACKAGES) - len(known_sp)
    c0 = r0["counters"]
    per = inp["manifest"]["per_root"]
    src_rows = [
        "",
        "| source (`--source`) | repo id | license (class), by the stage | regular files "
        "| MiB, all files | files lmdata opens (MiB) | rows in bronze | MiB in bronze |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in inp["specs"]:
        m = per[s["uri"]]
        rid = os.path.basename(s["uri"].rstrip("/"))
        files_b, bytes_b, lic = tb["repo"].get(rid, [0, 0, "-"])
        shown = s["label"] + (f"={s['license_override']}" if s["license_override"] else "")
        src_rows.append(
            f"| `{shown}` | {rid} | {lic} | {m.get('files', 0):,} | {m.get('bytes', 0) / MIB:,.1f} "
            f"| {m.get('read_files', 0):,} ({m.get('read_bytes', 0) / MIB:,.1f}) | {files_b:,} "
            f"| {bytes_b / MIB:,.1f} |"
        )
    src_rows.append(
        f"| total | {len(inp['specs'])} repos | | {nfiles:,} | {all_mib:,.1f} | "
        f"{tot.get('read_files', 0):,} ({tot.get('read_bytes', 0) / MIB:,.1f}) | {tb['rows']:,} | "
        f"{sum(v[1] for v in tb['repo'].values()) / MIB:,.1f} |"
    )
    lic_rows = ["", "| repo license (class) | repos | files | MiB |", "|---|---|---|---|"]
    for k, (nf, nb, nr) in tb["license"].items():
        lic_rows.append(f"| {k} | {nr} | {nf:,} | {nb / MIB:,.1f} |")
    cls = Counter()
    for k, (nf, _nb, _nr) in tb["license"].items():
        cls[k.rsplit("(", 1)[1].rstrip(")")] += nf
    top = list(tb["language"].items())
    lang_rows = ["", "| language | files | MiB |", "|---|---|---|"]
    for k, (nf, nb) in top[:15]:
        lang_rows.append(f"| {k} | {nf:,} | {nb / MIB:,.2f} |")
    if len(top) > 15:
        rest = top[15:]
        lang_rows.append(
            f"| {len(rest)} others ({', '.join(k for k, _ in rest[:8])}, ...) | "
            f"{sum(v[0] for _, v in rest):,} | {sum(v[1] for _, v in rest) / MIB:,.2f} |"
        )
    skipped = {k: v for k, v in c0.items() if k.startswith("skipped_")}
    ready = ", ".join(f"{r['ready_s']:.1f}" for r in runs if r["ready_s"] is not None)
    writes = ", ".join(f"{r['write_s']:.1f}" for r in runs if r["write_s"] is not None)
    plans = ", ".join(f"{r['plan_s']:.1f}" for r in inprocs)
    p0 = peers[0]
    walks = ", ".join(f"{p['walk_s']:.2f}" for p in peers)
    mir = inp["mirror"]
    extra = [
        "",
        f"Inputs: the standard library of the running interpreter (`{inp['stdlib']}`, CPython "
        f"{platform.python_version()}) as a hard-link mirror without its top-level "
        f"`site-packages` (the base interpreter's {inp['stdlib_site_mib']:,.0f} MiB of third-party "
        f"packages; {mir['hard_links']:,} hard links, {mir['copies']} copies, {mir['symlinks']} "
        f"symlinks), plus {len(SITE_PACKAGES)} package directories of the project venv's "
        f"site-packages ({inp['site_mib']:,.1f} MiB of files): {', '.join(SITE_PACKAGES)} - the "
        "packages with the most text lmdata reads, largest first, until >= 300 MB of files. "
        f"In all {nfiles:,} regular files, {all_mib:,.1f} MiB; lmdata opens "
        f"{tot.get('read_files', 0):,} of them ({tot.get('read_bytes', 0) / MIB:,.1f} MiB), the "
        f"others are binary by extension ({tot.get('binary_ext_files', 0):,} files, "
        f"{tot.get('binary_ext_bytes', 0) / MIB:,.1f} MiB), over 1 MB "
        f"({tot.get('oversized_files', 0):,}, {tot.get('oversized_bytes', 0) / MIB:,.1f} MiB) or "
        f"empty ({tot.get('empty_files', 0):,}).",
        f"Checks: lmdata `files_seen` = regular files under the trees = {nfiles:,}; the floor "
        f"read the same {p0['files']:,} files and {p0['bytes']:,} bytes as lmdata's `bytes_in` "
        f"(asserted every run); lmdata read {read_mib:,.1f} MiB, wrote {r0['rows_out']:,} rows to bronze/code_files "
        f"({r0['bronze_rows']:,} in the snapshot), quarantined "
        f"{sum(r0['quarantined'].values()):,} ({', '.join(f'{k} {v:,}' for k, v in sorted(r0['quarantined'].items())) or 'none'}); "  # noqa: E501
        f"skipped: {', '.join(f'{k[8:]} {v:,}' for k, v in sorted(skipped.items()))}. "
        f"The in-process run wrote the same {inprocs[0]['files']:,} files, quarantine reasons and "
        "languages (asserted).",
        f"Runs: {len(peers)} x floor, {len(inprocs)} x in-process, {len(runs)} x lmdata "
        f"(`--set spark.master={master}`, {r0['counters'].get('units', '?')} units of "
        f"<= 2,000 files), interleaved with the order alternated (floor, in-process, lmdata; "
        f"then lmdata, in-process, floor; ...); page cache warmed before the first run; 1-minute "
        f"load average over the runs {M.load_range(peers, inprocs, runs)}. lmdata planning + "
        f"Spark start-up (process start to '[ingest-code] ingest'): {ready} s; its write phase "
        f"(Parquet + Delta commit): {writes} s. In-process planning (walk, license files): "
        f"{plans} s. The floor's walk (names only) took "
        f"{walks} s of its loop.",
        "The floor's file list is lmdata's own selection, not a copy of it: `files_lmdata_reads` "
        "runs `plan_units` + `iter_unit` (the code the stage runs on its executors) once before "
        "the runs with `lmdata.ingest.code.sources._read_fs`, the function every file read goes "
        f"through, wrapped to record each path: {p0['files']:,} files, "
        f"{p0['bytes'] / MIB:,.1f} MiB. (Before 2026-12-04 the floor read every file under the "
        "trees, binaries included: 426 MiB where lmdata reads 231 MiB.)",
        f"lmdata processes in the tree: up to {max(r['max_procs'] for r in runs)} (driver Python, "
        "JVM, Python workers); RSS sampled every 0.2 s and summed.",
        "What lmdata does beyond the peer: planning (a walk of every source, license detection), "
        "per file an lstat, O_NOFOLLOW open, binary sniff, strict decode (charset detection when "
        "not UTF-8), language by extension/shebang/content, line statistics (code_text_stats), "
        "doc id, a Python dict per row; Arrow batches to the JVM, the side collect of quarantine "
        "and counters, the Parquet write of bronze/code_files (text included) and the Delta "
        "commits (bronze, quarantine, _meta/stage_runs).",
        "",
        "MiB/s = MiB of input / time, one yardstick for every row: all files = the size of the "
        "input trees; bytes lmdata reads = lmdata's `bytes_in` (the files it opens, the same "
        "bytes the floor reads). files/s = regular files under the trees / time (for the floor's "
        "read phase: the files it read in that time).",
        "",
        f"Machine: {os.cpu_count()} cores, shared with other work (other sessions build and test "
        "on it at the same time), so absolute times are noisy; load average (1 min) at the start "
        f"and end of the invocation: {inp['load'][0]:.1f}, {inp['load'][1]:.1f}.",
        f"Licenses: {unknown_sp} of the {len(SITE_PACKAGES)} site-packages directories get no "
        "license (class unknown): a wheel puts its LICENSE in `<name>-<version>.dist-info/` next "
        "to the package directory, not inside it, so a package directory given as a source "
        f"carries none (detected inside: {', '.join(known_sp) or 'none'}).",
        "",
        f"By source (first lmdata run; license class over all files: "
        f"{', '.join(f'{k} {v:,}' for k, v in cls.most_common())}):",
        *src_rows,
        "",
        "By license (bronze/code_files, first run):",
        *lic_rows,
        "",
        f"By language (bronze/code_files, first run; {len(top)} languages):",
        *lang_rows,
    ]
    rb = min(runs, key=lambda r: r["wall_s"])
    (wb, wm), (pb, pm) = _bm(wall_t), _bm(peer_t)
    (ib, im), (prb, _prm) = _bm(inp_t), _bm(peer_read_t)
    reading = [
        f"Reading: the whole `lmdata ingest-code` command handles {_f(nfiles / wb / cores, 0)} "
        f"files/s and {_f(read_mib / wb / cores)} MiB/s (of the bytes it reads) per core, best "
        f"run ({_f(nfiles / wm / cores, 0)} and {_f(read_mib / wm / cores)} median); its "
        f"core-seconds ({cores} x wall) are {wb * cores / pb:,.0f}x the floor's (walk + read of "
        "the same files) and "
        f"{wb * cores / ib:,.0f}x those of the same per-file logic run in one plain process "
        f"(best; {wm * cores / pm:,.0f}x and "
        f"{wm * cores / im:,.0f}x median). In the best run, of {rb['wall_s']:.1f} s, "
        f"{rb['ready_s'] or 0:.1f} s are planning + JVM/Spark start, {rb['ingest_s'] or 0:.1f} s "
        f"the ingest phase (units through mapInArrow on {cores} cores, persisted) and "
        f"{rb['write_s'] or 0:.1f} s the Parquet write + Delta commits. The per-file logic itself "
        f"is cheap: in-process it runs at {_f(read_mib / ib)} MiB/s on one core, "
        f"{ib / prb:,.1f}x the floor's read phase.",
        "",
    ]
    return "\n".join(reading + lines + ratios + extra)


def write_benchmarks_md(section_body: str, stamp: str, command: str) -> None:
    """Replace (or add, before "## Fuzzy dedup (quality)") this section only."""
    M.write_run_section(
        SECTION[3:], section_body, stamp, command, before="Fuzzy dedup (quality)",
    )


# --------------------------------------------------------------------------- main


def _warm(roots: list[Path]) -> None:
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in PRUNE_DIRS]
            for f in filenames:
                p = os.path.join(dirpath, f)
                if stat.S_ISREG(os.lstat(p).st_mode):
                    with open(p, "rb") as fh:
                        while fh.read(1 << 24):
                            pass


def command(a: argparse.Namespace) -> str:
    cmd = "python -m bench.bench_code"
    if a.repeat != 3:
        cmd += f" --repeat {a.repeat}"
    if a.master != "local[2]":
        cmd += f" --master {a.master}"
    return cmd


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.bench_code", description=__doc__.split("\n")[0]
    )
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--master", default="local[2]")
    p.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md")
    p.add_argument("--peer-worker", help=argparse.SUPPRESS)
    p.add_argument("--inproc-worker", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.peer_worker:
        w = json.loads(a.peer_worker)
        print(json.dumps(peer_worker(w["roots"], w["list"])))
        return 0
    if a.inproc_worker:
        print(json.dumps(inproc_worker(json.loads(a.inproc_worker))))
        return 0
    from lmdata.config import load_params

    cfg = load_params(None).ingest_code
    assert not cfg.sources, "params.yaml ingest_code.sources is not empty: it would be ingested too"
    cores = M.local_cores(a.master)

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    mirror = OUT / "code-src" / stdlib.name
    mir = build_stdlib_mirror(stdlib, mirror)
    sp = venv_site_packages()
    pkgs = [sp / name for name in SITE_PACKAGES]
    missing = [str(x) for x in pkgs if not x.is_dir()]
    if missing:
        raise SystemExit(f"missing package directories: {missing}")
    specs = [{"uri": str(mirror), "license_override": "Python-2.0",
              "label": f"bench/out/code-src/{stdlib.name}"}]  # fmt: skip
    specs += [{"uri": str(x), "license_override": None, "label": f"site-packages/{x.name}"}
              for x in pkgs]  # fmt: skip
    roots = [Path(s["uri"]) for s in specs]
    man = manifest(roots, cfg.max_file_bytes)
    site_bytes = sum(man["per_root"][str(x)].get("bytes", 0) for x in pkgs)
    assert site_bytes >= MIN_SITE_BYTES, f"site-packages set holds {site_bytes:,} bytes < 300 MB"
    stdlib_site = stdlib / "site-packages"
    stdlib_site_mib = (
        sum(f.stat().st_size for f in stdlib_site.rglob("*") if f.is_file() and not f.is_symlink())
        / MIB
        if stdlib_site.is_dir()
        else 0.0
    )
    inp = {
        "stdlib": str(stdlib), "mirror": mir, "specs": specs, "manifest": man,
        "site_mib": site_bytes / MIB, "stdlib_site_mib": stdlib_site_mib,
    }  # fmt: skip
    tot = man["total"]
    print(f"inputs: {len(specs)} sources, {tot['files']:,} regular files, "
          f"{tot['bytes'] / MIB:,.1f} MiB ({tot['read_files']:,} files / "
          f"{tot['read_bytes'] / MIB:,.1f} MiB that lmdata opens); stdlib mirror {mir}",
          flush=True)  # fmt: skip
    inp["load"] = [os.getloadavg()[0], None]
    _warm(roots)
    lm_specs = [{k: s[k] for k in ("uri", "license_override")} for s in specs]
    workdir = OUT / "code-work"
    floor = files_lmdata_reads(lm_specs)
    floor_list = OUT / "code-floor-files.json"
    floor_list.write_text(json.dumps(floor))
    floor_bytes = sum(n for _p, n in floor)
    print(f"floor: lmdata reads {len(floor):,} files, {floor_bytes / MIB:,.1f} MiB (its own "
          f"selection, {floor_list})", flush=True)  # fmt: skip
    peers, inprocs, runs = [], [], []

    def one_peer(i: int) -> None:
        pr = run_peer(roots, floor_list)
        print(f"floor  #{i}: {pr['files']:,} files, {pr['bytes'] / MIB:,.1f} MiB in "
              f"{pr['seconds']:.2f}s (walk {pr['walk_s']:.2f}s, cpu {pr['cpu_s']:.2f}s, VmHWM "
              f"{pr['vmhwm_kib'] / 1024:.0f} MiB)", flush=True)  # fmt: skip
        assert (pr["files"], pr["bytes"]) == (len(floor), floor_bytes), pr
        peers.append(pr)

    def one_inproc(i: int) -> None:
        ir = run_inproc(lm_specs)
        print(f"inproc #{i}: {ir['files']:,} files, {ir['rejects']:,} rejects in "
              f"{ir['seconds']:.2f}s (plan {ir['plan_s']:.2f}s, cpu {ir['cpu_s']:.2f}s, VmHWM "
              f"{ir['vmhwm_kib'] / 1024:.0f} MiB)", flush=True)  # fmt: skip
        inprocs.append(ir)

    def one_lmdata(i: int) -> None:
        lr = run_lmdata(lm_specs, i, a.master, workdir, tables=(i == 1))
        print(f"lmdata #{i}: wall {lr['wall_s']:.1f}s, stage {lr['stage_s']:.1f}s, work "
              f"{lr['work_s'] if lr['work_s'] is None else round(lr['work_s'], 1)}s (ingest "
              f"{lr['ingest_s'] if lr['ingest_s'] is None else round(lr['ingest_s'], 1)}s), "
              f"files_seen {lr['files_seen']:,}, rows {lr['rows_out']:,}, bytes_in "
              f"{lr['bytes_in'] / MIB:,.1f} MiB, quarantined {sum(lr['quarantined'].values())}, "
              f"tree peak {lr['tree_peak_rss'] / MIB:.0f} MiB, cpu {lr['cpu_s']:.1f}s",
              flush=True)  # fmt: skip
        runs.append(lr)

    for i in range(1, a.repeat + 1):
        for step in M.pair_order(i, one_peer, one_inproc, one_lmdata):
            step(i)
        pr, ir, lr = peers[-1], inprocs[-1], runs[-1]
        assert lr["files_seen"] == tot["files"], (
            f"lmdata saw {lr['files_seen']} files, the trees hold {tot['files']}"
        )
        assert lr["bytes_in"] == pr["bytes"], (
            f"lmdata read {lr['bytes_in']:,} bytes, the floor {pr['bytes']:,}"
        )
        assert lr["bronze_rows"] == lr["rows_out"], (lr["bronze_rows"], lr["rows_out"])
        assert ir["files"] == lr["rows_out"], (ir["files"], lr["rows_out"])
        assert ir["reasons"] == lr["quarantined"], (ir["reasons"], lr["quarantined"])
        langs_i = {k: v for k, v in ir["counters"].items() if k.startswith("languages:")}
        langs_l = {k: v for k, v in lr["counters"].items() if k.startswith("languages:")}
        assert langs_i == langs_l, (langs_i, langs_l)
    inp["load"][1] = os.getloadavg()[0]
    body = report(inp, peers, inprocs, runs, a.master, cores)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    raw = OUT / "code-results.json"
    M.save_raw(raw, {"inputs": inp, "peer": peers, "inproc": inprocs, "lmdata": runs,
                     "stamp": stamp, "command": command(a), "order": M.ALTERNATING})  # fmt: skip
    print()
    print(body)
    print(f"\nraw results: {raw}")
    if not a.no_write:
        write_benchmarks_md(body, stamp, command(a))
        print(f"wrote {BENCHMARKS_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
