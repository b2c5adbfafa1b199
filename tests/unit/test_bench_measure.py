"""bench/_measure.py: the process-tree sampler and the BENCHMARKS.md section writer."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_measure", REPO / "bench" / "_measure.py")
M = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = M
_spec.loader.exec_module(M)

# a child that holds ~150 MiB for a while and burns CPU, under a grandchild-spawning parent
_CHILD = (
    "import subprocess, sys; "
    "code = \"b = bytearray(150 << 20); b[::4096] = b'x' * len(b[::4096]); "
    "import time; t = time.process_time()\\n"
    'while time.process_time() - t < 0.8: pass"; '
    "sys.exit(subprocess.run([sys.executable, '-c', code]).returncode)"
)


def test_run_tree_sees_grandchild_memory_and_cpu(tmp_path):
    r = M.run_tree([sys.executable, "-c", _CHILD], tmp_path / "run", cwd=tmp_path, env=None)
    assert r["rc"] == 0
    assert r["tree_peak_rss"] >= 150 * M.MIB  # the grandchild's buffer was seen
    assert r["single_peak_rss"] >= 150 * M.MIB
    assert r["max_procs"] >= 2  # python parent + grandchild
    assert r["cpu_s"] >= 0.5
    assert r["wall_s"] >= 0.8
    assert len(r["loadavg_1min"]) == 2


def test_run_tree_records_who_held_the_peak(tmp_path):
    r = M.run_tree([sys.executable, "-c", _CHILD], tmp_path / "run", cwd=tmp_path, env=None)
    big = max(r["peak_parts"], key=lambda d: d["rss"])
    assert big["rss"] >= 150 * M.MIB and big["kind"] == "driver"  # no JVM in this tree
    assert sum(d["rss"] for d in r["peak_parts"]) == r["tree_peak_rss"]
    assert r["vfork_skipped"] == 0
    assert M.parts_text(r["peak_parts"]).startswith(f"{len(r['peak_parts'])} driver ")


def test_process_kinds_of_a_spark_tree():
    """JVM, its PySpark worker daemon, the daemon's forked workers; what else is the driver,
    or with a given driver pid (ServerCPU's server tree) python workers."""
    tree = {1: ("python3.11", 0), 2: ("python3.11", 1), 3: ("java", 2), 4: ("python3.11", 3),
            5: ("python3.11", 4), 6: ("python3.11", 4), 7: ("java", 3)}  # fmt: skip
    assert M.process_kinds(tree) == {
        1: "driver", 2: "driver", 3: "jvm", 4: "worker daemon", 5: "python workers",
        6: "python workers", 7: "jvm",
    }  # fmt: skip
    server = M.process_kinds(tree, driver=2)
    assert server[1] == "python workers" and server[2] == "driver" and server[4] == "worker daemon"


def test_spawning_child_of_a_jvm_is_not_counted_twice():
    """A JVM's child between posix_spawn and exec shares the JVM's memory: skipped while its
    name is still java, and after an exec the sampler caught half-way (the new name, the JVM's
    RSS); a worker daemon of its own size, or a child of a non-JVM, is counted."""
    mib = M.MIB
    names = {10: ("java", 1), 11: ("java", 10), 12: ("python3", 10), 13: ("python3", 10),
             14: ("python3", 1), 1: ("python3", 0)}  # fmt: skip
    rsses = {10: (None, 1400 * mib), 11: (None, 1400 * mib), 12: (None, 1390 * mib),
             13: (None, 58 * mib), 14: (None, 1400 * mib), 1: (None, 200 * mib)}  # fmt: skip
    got = {pid: M._spawning_child(pid, rsses[pid][1], names, rsses) for pid in names}
    assert got == {10: False, 11: True, 12: True, 13: False, 14: False, 1: False}


def test_run_tree_reports_failure_and_stats_error(tmp_path):
    r = M.run_tree([sys.executable, "-c", "print('hello'); raise SystemExit(3)"],
                   tmp_path / "run", cwd=tmp_path, env=None)  # fmt: skip
    assert r["rc"] == 3 and r["stdout"].strip() == "hello"
    try:
        M.lmdata_stats(r, "demo")
    except RuntimeError as e:
        assert "demo failed (exit 3)" in str(e)
    else:
        raise AssertionError("lmdata_stats accepted a failed run")


def test_replace_section_keeps_other_sections(tmp_path):
    md = tmp_path / "B.md"
    md.write_text("# B\n\nintro\n\n## One\n\nold one\n\n## Two\n\nkeep me\n")
    M.replace_section("One", "new one", md=md)
    M.replace_section("Zero", "inserted", before=("Missing", "Two"), md=md)
    M.replace_section("Last", "appended", md=md)
    text = md.read_text()
    assert "old one" not in text and "new one" in text and "keep me" in text
    order = [ln for ln in text.splitlines() if ln.startswith("## ")]
    assert order == ["## One", "## Zero", "## Two", "## Last"]


def test_best_median_and_ratio():
    assert M.best_median([3.0, 1.0, 2.0]) == (1.0, 2.0)
    assert M.median_of([{"x": 1}, {"x": 5}, {"x": 2}], "x") == 2
    assert M.fmt_x(0.5) == "0.50x" and M.fmt_x(12.34) == "12.3x"


def test_server_cpu_counts_only_the_block_per_kind_of_process():
    """A long-lived 'server' (root + a forked-off child, both idle until told to burn CPU):
    ServerCPU counts what the tree spends inside the block, not before it, per kind."""
    import os
    import signal
    import subprocess
    import time

    code = (
        "import os, sys, time\n"
        "def burn(s):\n"
        "    t = time.process_time()\n"
        "    while time.process_time() - t < s: pass\n"
        "burn(0.4)\n"  # before the block: must not count
        "done_r, done_w = os.pipe()\n"
        "go_r, go_w = os.pipe()\n"
        "if os.fork() == 0:\n"  # the forked-off 'worker'
        "    os.read(go_r, 1); burn(0.4); os.write(done_w, b'x'); time.sleep(30)\n"
        "sys.stdout.write('ready\\n'); sys.stdout.flush()\n"
        "sys.stdin.readline(); os.write(go_w, b'g')\n"
        "burn(0.4)\n"  # both processes, inside the block
        "os.read(done_r, 1); sys.stdout.write('done\\n'); sys.stdout.flush(); time.sleep(30)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    try:
        assert p.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        with M.ServerCPU(p.pid) as srv:
            p.stdin.write("go\n")
            p.stdin.flush()
            assert p.stdout.readline().strip() == "done"  # both burnt their 0.4 s
        assert 0.6 <= srv.cpu_s < 1.2  # 2 x 0.4 s, without the 0.4 s burnt before the block
        assert srv.by_kind["driver"] >= 0.3 and srv.by_kind["python workers"] >= 0.3
        assert M.ServerCPU(None).cpu_s == 0.0  # no server: nothing to add
    finally:
        os.killpg(p.pid, signal.SIGKILL)  # its own group: the root and the forked child
        p.wait()
