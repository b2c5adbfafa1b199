"""Shared measuring for the benchmarks: one process-tree sampler, one way to run a timed command,
medians/ratios, the machine description and the BENCHMARKS.md section writer.

- ``TreeSampler``: psutil samples (every 0.2 s) of every descendant of a pid: peak of the summed
  RSS (shared pages count twice), peak RSS of the largest single process, the most processes
  seen, and user+sys CPU seconds per process as last seen (a process living < 0.2 s can be
  missed).
- ``run_tree(cmd, run_dir, cwd, env)``: runs ``cmd`` under a tiny wrapper process (which also
  records ``getrusage(RUSAGE_CHILDREN)``: only waited-for descendants, so PySpark's JVM is not in
  it; kept for reference), samples the tree, and returns wall seconds, CPU seconds, peak RSS,
  stdout/stderr and the 1-minute load average before and after.
- ``start_server(workdir, params)``: a warm Spark Connect server (lmdata.spark.connect) for
  benchmarks that run the stages as thin clients; ``ServerCPU(pid)``: the CPU seconds its
  process tree spends while a block runs (per kind of process in ``by_kind``).
- ``best_median`` / ``median_of`` / ``ratio``: what the tables print.
- ``machine()``: CPU model, cores, memory, load, Python and package versions.
- ``save_raw(path, data, latest)``: writes a raw results file and keeps a dated copy of it under
  ``bench/out/history`` (the file at ``path`` is the latest, which the sections are built from;
  the copies keep what a later run of the same size would otherwise overwrite).
- ``replace_section(md, title, body)``: rewrites one ``## title`` section of BENCHMARKS.md (re-read
  right before writing: other sections belong to other scripts), or inserts it before
  ``before`` / appends it.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
OUT = REPO / "bench" / "out"
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
MIB = 1 << 20
INVOCATION = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())  # names history files

_WRAPPER = r"""
import json, resource, subprocess, sys
r = subprocess.run(sys.argv[2:])
u = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as f:
    json.dump({"rc": r.returncode, "maxrss_kib": u.ru_maxrss, "utime": u.ru_utime,
               "stime": u.ru_stime}, f)
sys.exit(r.returncode)
"""


def process_kinds(procs: dict[int, tuple[str, int]], driver: int | None = None) -> dict[int, str]:
    """pid -> what the process of a Spark tree is, from {pid: (name, ppid)}: "jvm", "worker
    daemon" (PySpark's, a child of the JVM), "python workers" (forked by the daemon), "driver"
    (``driver``; without one, every other process: the lmdata or datatrove command's Python and
    its wrapper; with one, the rest count as python workers, as ServerCPU always did)."""
    java = {pid for pid, (name, _) in procs.items() if name.startswith("java")}
    daemons = {pid for pid, (_, ppid) in procs.items() if ppid in java and pid not in java}

    def kind(pid: int, ppid: int) -> str:
        if pid == driver:
            return "driver"
        if pid in java:
            return "jvm"
        if pid in daemons:
            return "worker daemon"
        return "python workers" if ppid in daemons or driver is not None else "driver"

    return {pid: kind(pid, ppid) for pid, (_, ppid) in procs.items()}


def _spawning_child(pid: int, rss: int, names: dict, rsses: dict) -> bool:
    """Whether ``pid`` is a JVM's child caught between posix_spawn and exec: a vfork-style child
    that shares its parent's memory, so its RSS is the parent's, not more memory (counted, it
    doubled the JVM in a 0.2 s sample now and then). Its name is still "java"; or, when it
    exec'd between the sampler's reads of its memory and of its name, the new program's
    ("python3" for PySpark's worker daemon) with an RSS within 2% of the JVM's, which no program
    has a moment after exec (the daemon starts at ~58 MiB)."""
    name, ppid = names[pid]
    parent_name = names.get(ppid, ("",))[0]
    if not parent_name.startswith("java"):
        return False
    if name.startswith("java"):
        return True
    parent_rss = rsses.get(ppid, (None, 0))[1]
    return parent_rss >= 256 * 2**20 and abs(rss - parent_rss) <= 0.02 * parent_rss


def _parts(seen: list, kinds: dict[int, str]) -> list[dict]:
    """The sampled processes at a new peak of the tree: kind, RSS and PSS (proportional set size:
    pages shared between processes, e.g. forked workers, divided among them; read from smaps
    only at a new peak, so the 0.2 s loop stays cheap). The sum of PSS is the tree's memory with
    shared pages counted once."""
    out = []
    for q, rss in seen:
        try:
            pss = q.memory_full_info().pss
        except Exception:  # gone, or no smaps access
            pss = None
        out.append({"pid": q.pid, "kind": kinds[q.pid], "rss": rss, "pss": pss})
    return sorted(out, key=lambda d: -d["rss"])


def parts_text(parts: list[dict]) -> str:
    """'jvm 1,480 + 2 python workers 740 + driver 208 ... MiB RSS (PSS sum N)' for a report."""
    by: dict[str, list[int]] = {}
    for d in parts:
        by.setdefault(d["kind"], []).append(d["rss"])
    items = sorted(by.items(), key=lambda kv: -sum(kv[1]))
    body = " + ".join(f"{len(v)} {k} {sum(v) / MIB:,.0f}" if len(v) > 1 else f"{k} {v[0] / MIB:,.0f}"
                      for k, v in items)  # fmt: skip
    pss = [d["pss"] for d in parts if d["pss"] is not None]
    tail = f" (PSS sum {sum(pss) / MIB:,.0f})" if pss and len(pss) == len(parts) else ""
    return f"{body} MiB RSS{tail}"


class TreeSampler(threading.Thread):
    """Peak RSS and CPU seconds of all descendants of ``pid`` (psutil), every ``interval`` s."""

    def __init__(self, pid: int, interval: float = 0.2, include_root: bool = False) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.include_root = pid, interval, include_root
        self.stop = threading.Event()
        self.peak_tree = self.peak_single = self.max_procs = 0
        self.peak_parts: list[dict] = []  # the processes of the sample with the tree's peak
        self.vfork_skipped = 0  # samples of a JVM's not-yet-exec'd child, not counted
        self.samples = 0
        self.cpu: dict[tuple[int, float], float] = {}  # (pid, create_time) -> user+sys seen last

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self.stop.is_set():
            try:
                procs = root.children(recursive=True)
            except psutil.NoSuchProcess:
                return
            if self.include_root:
                procs = [root, *procs]
            total, seen, names, rsses = 0, [], {}, {}
            for q in procs:
                try:
                    with q.oneshot():
                        rss = q.memory_info().rss
                        ct = q.cpu_times()
                        self.cpu[(q.pid, q.create_time())] = ct.user + ct.system
                        names[q.pid] = (q.name(), q.ppid())
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                rsses[q.pid] = (q, rss)
            for pid, (q, rss) in rsses.items():
                if _spawning_child(pid, rss, names, rsses):
                    self.vfork_skipped += 1
                    continue
                total += rss
                seen.append((q, rss))
                self.peak_single = max(self.peak_single, rss)
            if total > self.peak_tree:
                self.peak_parts = _parts(seen, process_kinds(names))
            self.peak_tree = max(self.peak_tree, total)
            self.max_procs = max(self.max_procs, len(procs))
            self.samples += 1
            self.stop.wait(self.interval)

    @property
    def cpu_s(self) -> float:
        return sum(self.cpu.values())


def lmdata_env(**extra: str) -> dict:
    """The environment for an ``lmdata`` command: the project venv first, no LMDATA_* overrides."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    for k in ("LMDATA_SPARK_CONF", "LMDATA_SPARK_MASTER", "LMDATA_PARAMS", "LMDATA_LAKE"):
        env.pop(k, None)
    env.update(extra)
    return env


def run_tree(cmd: list[str], run_dir: Path, cwd: Path = REPO, env: dict | None = None) -> dict:
    """Run ``cmd`` (stdout/stderr to run_dir), sampling its process tree; never raises on rc."""
    run_dir.mkdir(parents=True, exist_ok=True)
    rus = run_dir / "rusage.json"
    rus.unlink(missing_ok=True)
    load0 = os.getloadavg()[0]
    with open(run_dir / "stdout.txt", "w") as out, open(run_dir / "stderr.txt", "w") as err:
        t_start = time.time()
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRAPPER, str(rus), *cmd], cwd=cwd,
            env=env if env is not None else lmdata_env(),
            stdout=out, stderr=err, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        sampler = TreeSampler(proc.pid)
        sampler.start()
        rc = proc.wait()
        wall = time.perf_counter() - t0
        sampler.stop.set()
        sampler.join()
    ru = json.loads(rus.read_text()) if rus.exists() else {}
    return {
        "cmd": [str(c) for c in cmd],
        "rc": rc,
        "t_start": t_start,
        "wall_s": wall,
        "stdout": (run_dir / "stdout.txt").read_text(errors="replace"),
        "stderr": (run_dir / "stderr.txt").read_text(errors="replace"),
        "tree_peak_rss": sampler.peak_tree,
        "single_peak_rss": sampler.peak_single,
        "max_procs": sampler.max_procs,
        "peak_parts": sampler.peak_parts,
        "vfork_skipped": sampler.vfork_skipped,
        "samples": sampler.samples,
        "cpu_s": sampler.cpu_s,
        "rusage_children_maxrss_kib": ru.get("maxrss_kib"),
        "rusage_children_cpu_s": (ru["utime"] + ru["stime"]) if ru else None,
        "loadavg_1min": [round(load0, 2), round(os.getloadavg()[0], 2)],  # before, after
    }


class ServerCPU:
    """user+sys CPU seconds a warm Spark server's process tree (its Python parent, the JVM, the
    worker daemon and its workers) spends while a block runs: per process, the last sample
    (every 0.2 s, so workers that exit meanwhile count too: the daemon ignores SIGCHLD, so their
    time never reaches a parent's children_user) minus what it had used before the block.
    ``by_kind``: the same seconds per kind of process (the server's Python driver, the JVM, the
    Python worker daemon, its forked workers; "exited" for one seen only while sampling)."""

    def __init__(self, pid: int | None) -> None:
        self.pid, self.cpu_s = pid, 0.0
        self.by_kind: dict[str, float] = {}
        self.kinds: dict[tuple[int, float], str] = {}

    def _snapshot(self) -> dict[tuple[int, float], float]:
        import psutil

        out = {}
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return out
        names, keys = {}, {}
        for q in procs:
            try:
                with q.oneshot():
                    ct = q.cpu_times()
                    keys[q.pid] = (q.pid, q.create_time())
                    names[q.pid] = (q.name(), q.ppid())
                out[keys[q.pid]] = ct.user + ct.system
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        for pid, kind in process_kinds(names, driver=self.pid).items():
            self.kinds[keys[pid]] = kind
        return out

    def __enter__(self):
        if self.pid is not None:
            self.base = self._snapshot()
            self.sampler = TreeSampler(self.pid, include_root=True)
            self.sampler.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.pid is not None:
            self.sampler.stop.set()
            self.sampler.join()
            seen = {**self.sampler.cpu, **self._snapshot()}  # + the block's last 0.2 s
            used = {k: max(0.0, v - self.base.get(k, 0.0)) for k, v in seen.items()}
            self.cpu_s = sum(used.values())
            for k, v in used.items():
                kind = self.kinds.get(k, "exited")
                self.by_kind[kind] = round(self.by_kind.get(kind, 0.0) + v, 2)


def with_server(step: dict, server_cpu_s: float, server_peak_rss: int) -> dict:
    """A step run as a thin client of the warm server: its CPU seconds become client + server
    (the server tree's CPU during the step, ServerCPU), its peak RSS client + server peaks (an
    upper bound: the two peaks need not coincide); the parts are kept. bench_pipeline,
    bench_multilingual_curate and their warm rows share it."""
    return {**step, "cpu_s": step["cpu_s"] + server_cpu_s, "client_cpu_s": step["cpu_s"],
            "server_cpu_s": round(server_cpu_s, 2),
            "tree_peak_rss": step["tree_peak_rss"] + server_peak_rss,
            "client_peak_rss": step["tree_peak_rss"], "server_peak_rss": server_peak_rss}  # fmt: skip


def start_server(workdir: Path, params: Path) -> tuple[str, int, float]:
    """A warm Spark Connect server (lmdata.spark.connect) with the bench's params: (url, pid,
    start seconds). Its start is reported on its own, as `make run` / Airflow pay it once."""
    from lmdata.spark import connect

    env = lmdata_env(LMDATA_PARAMS=str(params))
    env.pop(connect.ENV_REMOTE, None)
    t0 = time.perf_counter()
    url = connect.start(workdir / "spark-connect", env=env)
    return url, int((workdir / "spark-connect" / "pid").read_text()), time.perf_counter() - t0


def lmdata_stats(res: dict, what: str) -> dict:
    """The ``LMDATA_STATS`` JSON of a run_tree result; a clear error when the stage failed."""
    line = next((x for x in res["stdout"].splitlines() if x.startswith("LMDATA_STATS ")), None)
    if res["rc"] != 0 or line is None:
        raise RuntimeError(
            f"{what} failed (exit {res['rc']}); command: {' '.join(res['cmd'])}\n"
            f"--- stdout (tail)\n{res['stdout'][-4000:]}\n--- stderr (tail)\n{res['stderr'][-8000:]}"
        )
    stats = json.loads(line.split(" ", 1)[1])
    if stats.get("status") != "ok":
        raise RuntimeError(f"{what} status {stats.get('status')}: {stats.get('error')}")
    return stats


def vmhwm_kib() -> int | None:
    """Peak RSS of this process image (/proc/self/status VmHWM; ru_maxrss survives exec())."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


# --------------------------------------------------------------------------- statistics


def save_raw(path: Path, data: dict, latest: bool = True) -> Path:
    """Write ``data`` to ``path`` (when ``latest``: the file the sections and run_all's summary
    read) and always to ``bench/out/history/<stem>-<UTC time>.json``, one file per run, so no
    run's raw results are lost to the next run of the same size (named by the invocation's start:
    a benchmark that saves after every pair keeps one history file). Returns the history copy."""
    text = json.dumps(data, indent=1, default=str) + "\n"
    hist = path.parent / "history" / f"{path.stem}-{INVOCATION}.json"
    hist.parent.mkdir(parents=True, exist_ok=True)
    hist.write_text(text)
    if latest:
        path.write_text(text)
    return hist


def best_median(xs: list[float]) -> tuple[float, float]:
    return min(xs), statistics.median(xs)


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def pair_order(i: int, *sides):
    """The sides of run ``i`` (1-based) of an interleaved comparison: as given on odd runs,
    reversed on even ones (A B, B A, A B, ...), so neither side always runs first (page cache,
    load left behind by the other side)."""
    return sides if i % 2 else sides[::-1]


ALTERNATING = "order alternated"  # what a raw result's "order" says when pair_order ran it


def load_range(*groups: list[dict]) -> str:
    """min-max of the 1-minute load averages recorded around each run (``loadavg_1min``)."""
    xs = [x for g in groups for r in g for x in (r.get("loadavg_1min") or [])]
    return f"{min(xs):g}-{max(xs):g}" if xs else "not recorded"


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def fmt_x(x: float) -> str:
    return f"{x:.2f}x" if x < 10 else f"{x:.1f}x"


def mib(n: float) -> str:
    return f"{n / MIB:,.0f} MiB"


# --------------------------------------------------------------------------- machine


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(packages: tuple[str, ...] = ()) -> dict:
    from importlib import metadata

    try:
        import psutil

        mem = psutil.virtual_memory().total
    except ImportError:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    versions = {}
    for p in packages:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(mem / (1 << 30), 1),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": f"{platform.system()} {platform.release()}",
        "versions": versions,
        "utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


# --------------------------------------------------------------------------- BENCHMARKS.md


def replace_section(title: str, body: str, before: str | tuple[str, ...] | None = None,
                    md: Path = BENCHMARKS_MD) -> None:  # fmt: skip
    """Replace ``## title`` (up to the next ``## ``) with ``## title`` + body; keep the rest.

    A missing section goes before the first existing section named in ``before``, else at the
    end.
    """
    head = f"## {title}"
    section = f"{head}\n\n{body.strip()}\n"
    text = md.read_text() if md.exists() else "# Benchmarks\n"
    start = text.find(head + "\n")
    if start >= 0:
        nxt = text.find("\n## ", start + len(head))
        text = text[:start] + section + ("\n" + text[nxt + 1 :] if nxt >= 0 else "")
    else:
        names = (before,) if isinstance(before, str) else (before or ())
        at = next((i for i in (text.find(f"\n## {b}\n") for b in names) if i >= 0), -1)
        if at >= 0:
            text = text[: at + 1] + section + "\n" + text[at + 1 :]
        else:
            text = text.rstrip("\n") + "\n\n" + section
    md.write_text(text)


def write_run_section(title: str, body: str, stamp: str, command: str,
                      before: str | tuple[str, ...] | None = None, note: str = "") -> None:  # fmt: skip
    """``replace_section`` with the line a benchmark section opens with: the command that made
    it, when, the interpreter and the CPUs visible (``note`` is added inside the parentheses)."""
    replace_section(
        title,
        f"`{command}` ({stamp}; {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs visible{note})\n\n{body}",
        before=before,
    )


def local_cores(master: str) -> int:
    """The cores of a ``local`` / ``local[N]`` / ``local[*]`` Spark master (the only ones the
    benchmarks run); SystemExit for any other master."""
    m = re.fullmatch(r"local\[(\d+|\*)\]", master)
    if master == "local":
        return 1
    if m:
        return (os.cpu_count() or 1) if m.group(1) == "*" else int(m.group(1))
    raise SystemExit(f"--master {master!r}: only local[N] is benchmarked here")
