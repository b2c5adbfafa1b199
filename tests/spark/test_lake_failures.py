"""Failures on the delta-spark write path: concurrent writers, retries, a stage killed mid-run.

(The SIGKILL-mid-write of one job is in test_lake_spark.py; a Spark worker killed mid-stage is in
tests/e2e/test_cluster_s3.py, which has a cluster.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lmdata.lake import delta
from lmdata.spark.io import write_delta

HERE = Path(__file__).parent
pytestmark = pytest.mark.spark


def _job(table: str, app_id: str, n: int, marker: Path, offset: int = 0) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(HERE / "killable_write.py"), table, app_id, str(n), str(marker), "0",
         str(offset)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )  # fmt: skip


def test_two_concurrent_appends_both_land(tmp_path):
    """Two drivers append to one table at the same time: Delta's optimistic concurrency lets
    both blind appends commit (the loser of the version race retries its commit)."""
    table = str(tmp_path / "t")
    marker = tmp_path / "m"
    marker.mkdir()
    seed = _job(table, "seed", 10, marker, offset=100_000)
    out, _ = seed.communicate(timeout=300)
    assert seed.returncode == 0, out
    jobs = [_job(table, f"writer-{i}", 1500, marker, offset=i * 10_000) for i in (1, 2)]
    outs = [p.communicate(timeout=400)[0] for p in jobs]
    for p, out in zip(jobs, outs, strict=True):
        assert p.returncode == 0, out[-3000:]
    ids = delta.read_arrow(table, columns=["id"])["id"].to_pylist()
    want = [100_000 + i for i in range(10)] + [i * 10_000 + k for i in (1, 2) for k in range(1500)]
    assert sorted(ids) == sorted(want)
    assert delta.current_version(table) == 2
    assert {delta.committed(table, f"writer-{i}") for i in (1, 2)} == {1}


def test_retried_write_commits_once_across_modes(spark, tmp_path):
    """A retried task (same app id) adds nothing, whether it appended, replaced a slice or
    merged; another run id commits again."""
    table = str(tmp_path / "t")
    df = spark.createDataFrame([(i, "a" if i % 2 else "b") for i in range(20)], "id long, p string")
    first = write_delta(df, table, partition_by=["p"], app_id="run-1")
    assert first.committed and first.rows == 20 and first.version == 0
    again = write_delta(df, table, partition_by=["p"], app_id="run-1")
    assert not again.committed and delta.current_version(table) == 0
    slice_a = spark.createDataFrame([(100, "a")], "id long, p string")
    for _ in range(2):
        r = write_delta(
            slice_a, table, mode="overwrite", partition_by=["p"],
            overwrite_partitions={"p": "a"}, app_id="run-2",
        )  # fmt: skip
    assert not r.committed and delta.current_version(table) == 1
    ups = spark.createDataFrame([(100, "a"), (200, "b")], "id long, p string")
    for _ in range(2):
        write_delta(ups, table, partition_by=["p"], app_id="run-3", merge_on=["id"])
    assert delta.current_version(table) == 2
    rows = sorted(delta.read_arrow(table).to_pylist(), key=lambda r: r["id"])
    assert [r["id"] for r in rows] == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 100, 200]
    # the history says who wrote: delta-spark, one commit per run id
    hist = delta.history(table)
    assert len(hist) == 3 and all("Apache-Spark" in (h.get("engineInfo") or "") for h in hist)
