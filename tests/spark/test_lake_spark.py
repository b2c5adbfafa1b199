"""delta-spark writes: atomic under SIGKILL, idempotent, snapshot-exact reads (read back with
delta-rs too)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lmdata.lake import delta
from lmdata.spark.io import read_delta, write_delta

HERE = Path(__file__).parent
pytestmark = pytest.mark.spark


def _job(table, app_id, n, marker, slow=0.0):
    return subprocess.Popen(
        [
            sys.executable,
            str(HERE / "killable_write.py"),
            table,
            app_id,
            str(n),
            str(marker),
            str(slow),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_sigkill_mid_write_leaves_previous_version_then_rerun_is_exact(tmp_path):
    table = str(tmp_path / "lake" / "t")
    marker = tmp_path / "markers"
    marker.mkdir()
    # version 0: 100 committed rows
    p = _job(table, "seed", 100, marker)
    out, _ = p.communicate(timeout=300)
    assert p.returncode == 0, out
    assert DeltaTable(table).version() == 0
    # a slow job, killed with SIGKILL while its executors write Parquet into the table location
    p = _job(table, "run-2", 4000, marker, slow=0.5)
    deadline = time.time() + 240
    while time.time() < deadline and not list(marker.glob("task-*")):
        time.sleep(0.2)
    assert list(marker.glob("task-*")), "the job never started writing"
    # kill it once its tasks have put Parquet files into the table location (delta-spark writes
    # data files in place; only the commit in _delta_log makes them part of a version)
    snap = {Path(f.uri).name for f in delta.snapshot_files(table)[1]}

    def new_files():
        return [f for f in Path(table).rglob("*.parquet") if f.name not in snap]

    while time.time() < deadline and not new_files():
        time.sleep(0.2)
    assert new_files(), "the job never put a data file into the table"
    os.killpg(p.pid, signal.SIGKILL)
    p.wait(30)
    assert DeltaTable(table).version() == 0, "a killed job must not commit"
    assert delta.read_arrow(table).num_rows == 100
    # re-run the killed job (same app id, as an Airflow retry would): exactly the intended rows
    p = _job(table, "run-2", 4000, marker)
    out, _ = p.communicate(timeout=300)
    assert p.returncode == 0, out
    t = delta.read_arrow(table)
    assert t.num_rows == 4100
    ids = t["id"].to_pylist()
    assert sorted(ids) == sorted(list(range(100)) + list(range(4000)))
    # and a retry after success adds nothing
    p = _job(table, "run-2", 4000, marker)
    out, _ = p.communicate(timeout=300)
    assert p.returncode == 0 and "COMMITTED 1 0 False" in out, out
    assert delta.read_arrow(table).num_rows == 4100


def test_spark_reads_exactly_the_snapshot(spark, tmp_path):
    table = str(tmp_path / "t")
    df = spark.createDataFrame(
        [(i, f"t{i}", "a" if i % 2 else "b") for i in range(50)], "id long, text string, p string"
    )
    write_delta(df, table, partition_by=["p"], app_id="one")
    df2 = spark.createDataFrame(
        [(1000 + i, "new", "a") for i in range(3)], "id long, text string, p string"
    )
    write_delta(
        df2,
        table,
        mode="overwrite",
        partition_by=["p"],
        overwrite_partitions={"p": "a"},
        app_id="two",
    )
    latest, v = read_delta(spark, table)
    assert v == 1
    got = sorted((r.id, r.text, r.p) for r in latest.collect())
    want = sorted(
        zip(*[delta.read_arrow(table)[c].to_pylist() for c in ("id", "text", "p")], strict=True)
    )
    assert got == want and len(got) == 25 + 3
    old, v0 = read_delta(spark, table, version=0)
    assert v0 == 0 and old.count() == 50
    # the overwritten partition's files are still on disk, but no reader sees them
    assert len(list(Path(table).rglob("*.parquet"))) > len(delta.snapshot_files(table)[1])


def test_empty_dataframe_creates_readable_table(spark, tmp_path):
    table = str(tmp_path / "t")
    df = spark.createDataFrame([], "id long, text string, p string")
    res = write_delta(df, table, partition_by=["p"], app_id="empty")
    assert res.version == 0
    got, _ = read_delta(spark, table)
    assert got.count() == 0 and got.columns == ["id", "text", "p"]
