"""The lake-maintenance stage (the lake_maintenance DAG's task): OPTIMIZE + Z-ORDER, VACUUM,
recorded in _meta/stage_runs; the data and the readers do not notice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmdata.lake import delta
from lmdata.spark.io import write_delta
from lmdata.spark.job import execute
from lmdata.spark.maintenance import LakeMaintenanceStage

pytestmark = pytest.mark.spark


def _parquet(uri: str) -> int:
    return sum(1 for p in Path(uri).rglob("*.parquet"))


def test_optimize_zorder_vacuum_keep_the_rows_and_record_the_run(spark, tmp_path):
    lake = str(tmp_path / "lake")
    gold = delta.table_uri(lake, "gold/web_documents")
    schema = "doc_id string, host string, text string, crawl string"
    for i in range(4):  # four small appends: four files per partition to compact
        rows = [(f"d{i}-{k}", f"h{k % 3}", f"text {i} {k}", "C1") for k in range(5)]
        write_delta(
            spark.createDataFrame(rows, schema), gold, partition_by=["crawl"], app_id=f"a{i}"
        )
    write_delta(  # a re-run of crawl C2 twice: the first version's files become garbage
        spark.createDataFrame([("x", "h0", "old", "C2")], schema),
        gold, mode="overwrite", partition_by=["crawl"], overwrite_partitions={"crawl": "C2"},
        app_id="b1",
    )  # fmt: skip
    write_delta(
        spark.createDataFrame([("y", "h1", "new", "C2")], schema),
        gold, mode="overwrite", partition_by=["crawl"], overwrite_partitions={"crawl": "C2"},
        app_id="b2",
    )  # fmt: skip
    before_rows = sorted(r["doc_id"] for r in delta.read_arrow(gold).to_pylist())
    v_before, files_before = delta.current_version(gold), _parquet(gold)

    code, stats = execute(
        LakeMaintenanceStage(),
        ["--lake", lake, "--run-id", "maint-1", "--retention-hours", "0"],
    )
    assert code == 0, stats and stats.error
    c = stats.counters
    assert c["optimize:gold/web_documents:files_removed"] >= 4
    assert c["optimize:gold/web_documents:files_added"] >= 1
    assert c["vacuum:gold/web_documents:files_deleted"] >= 4
    assert stats.tables["gold/web_documents"] > v_before  # OPTIMIZE is a commit of its own
    assert _parquet(gold) < files_before
    # same rows for every reader, at the latest version
    assert sorted(r["doc_id"] for r in delta.read_arrow(gold).to_pylist()) == before_rows
    from lmdata.spark.io import read_delta

    df, _ = read_delta(spark, gold)
    assert sorted(r.doc_id for r in df.select("doc_id").collect()) == before_rows
    ops = [h.get("operation") for h in delta.history(gold, 3)]
    assert "OPTIMIZE" in ops and any(o and o.startswith("VACUUM") for o in ops), ops
    # the run is recorded with what it did
    runs = delta.read_arrow(delta.table_uri(lake, delta.STAGE_RUNS)).to_pylist()
    (mine,) = [r for r in runs if r["stage"] == "lake-maintenance"]
    assert json.loads(mine["stats_json"])["counters"]["retention_hours"] == 0
