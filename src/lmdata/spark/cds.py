"""Class data sharing (AppCDS) for the cold local-mode Spark driver (issue 21).

A cold `lmdata <stage>` command, and every test that starts Spark, pays a JVM start that loads
and verifies ~20,000 classes (Spark, Delta, Hadoop, the AWS SDK). A dynamic AppCDS archive, the
JDK's own mechanism (JEP 350), keeps those classes parsed and verified in one mapped file:
measured 0.72x the CPU of a bare Spark+Delta start, 0.80x of a cold curate and 0.63x of a cold
ingest-cc (BENCHMARKS.md "Cold Spark command (JVM options)").

    python -m lmdata.spark.cds build [--out PATH]   # `make setup` runs it after the jars
    python -m lmdata.spark.cds status

The archive belongs to one JDK + class path (the pyspark jars and infra/jars.lock's): it is built
per checkout by `make setup`, next to the jars (`<jars dir>/spark-cds.jsa`, git-ignored), and
rebuilt when the jar lock or pyspark changes (a Makefile dependency). A missing, stale or damaged
archive is not an error: the JVM's default `-Xshare:auto` falls back to loading classes itself
(tested), so the worst case is the old start-up cost. Used wherever lmdata launches a local-mode
driver JVM itself (`lmdata.spark.session.cold_local_conf`: cold commands, tests, the warm Spark
Connect server's one start); never under spark-submit or on a cluster master.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ARCHIVE_NAME = "spark-cds.jsa"

# What the archive is trained on: a session start, a Delta write and read (Delta's first snapshot,
# Parquet, the log replay), stop. The classes a stage loads beyond these load as before.
_TRAIN = r"""
import sys, tempfile
from lmdata.config import SparkConfig
from lmdata.spark.session import get_spark
spark = get_spark(SparkConfig(master="local[1]", class_data_sharing=False,
                              cold_java_options="-XX:ArchiveClassesAtExit=" + sys.argv[1]))
d = tempfile.mkdtemp()
spark.range(3).write.format("delta").save(d + "/t")
assert spark.read.format("delta").load(d + "/t").count() == 3
spark.stop()
"""


def archive_path() -> Path:
    """Where the archive lives: next to the jars (`$LMDATA_JARS_DIR` or <repo>/.venv/jars)."""
    from lmdata.lake import jars

    return jars.jars_dir() / ARCHIVE_NAME


def java_options() -> str:
    """The driver JVM option that maps the archive, or "" when there is none."""
    path = archive_path()
    if not path.is_file() or path.stat().st_size == 0:
        return ""
    return f"-XX:SharedArchiveFile={path}"


def build(out: Path | None = None, timeout_s: float = 600) -> Path:
    """Run the training session in a fresh interpreter with -XX:ArchiveClassesAtExit and move
    the archive into place (atomically: a half-written archive is never used)."""
    out = Path(out or archive_path())
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="lmdata-cds-", dir=out.parent)) / ARCHIVE_NAME
    drop = ("LMDATA_SPARK_REMOTE", "LMDATA_SPARK_CONF", "LMDATA_SPARK_MASTER")  # a plain local run
    env = {k: v for k, v in os.environ.items() if k not in drop}
    # its own process group: on a timeout the driver JVM it started goes too, not only Python
    proc = subprocess.Popen(
        [sys.executable, "-c", _TRAIN, str(tmp)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        try:
            stdout, stderr = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise RuntimeError(
                f"building the class data sharing archive took over {timeout_s:.0f} s"
            ) from None
        if proc.returncode != 0 or not tmp.is_file():
            raise RuntimeError(
                f"building the class data sharing archive failed (exit {proc.returncode}): "
                + (stderr or stdout)[-2000:]
            )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.parent.rmdir()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m lmdata.spark.cds", description=__doc__.split("\n\n")[0]
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser(
        "build", help="build the archive (a Spark+Delta session under -XX:ArchiveClassesAtExit)"
    )
    b.add_argument("--out", type=Path, default=None, help=f"default: <jars dir>/{ARCHIVE_NAME}")
    sub.add_parser("status", help="print the archive's path and size, or that there is none")
    a = p.parse_args(argv)
    if a.cmd == "build":
        t0 = time.monotonic()
        try:
            path = build(a.out)
        except RuntimeError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(
            f"class data sharing archive {path}: {path.stat().st_size / 2**20:.0f} MiB in {time.monotonic() - t0:.0f} s"
        )
        return 0
    path = archive_path()
    if path.is_file():
        print(f"{path}: {path.stat().st_size / 2**20:.0f} MiB")
        return 0
    print(
        f"no class data sharing archive at {path}: `python -m lmdata.spark.cds build` (make setup)"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
