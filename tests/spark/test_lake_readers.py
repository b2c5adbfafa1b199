"""Every reader reads the same tables: delta-spark (writer), delta-rs, DuckDB's delta extension,
Polars; and a table written by the previous layer (Spark Parquet + delta-rs commit) is read and
appended to by delta-spark (migration)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from lmdata.lake import delta
from lmdata.spark.io import hadoop_uri, optimize, read_delta, write_delta

pytestmark = pytest.mark.spark


def _duckdb_rows(uri: str) -> list[tuple]:
    import duckdb
    import duckdb_extension_delta

    # the extension comes in its PyPI wheel: load it from there (no download at run time)
    (ext,) = Path(duckdb_extension_delta.__file__).parent.rglob("delta.duckdb_extension")
    con = duckdb.connect()
    con.execute(f"LOAD '{ext}'")
    return sorted(con.execute(f"SELECT id, text, p FROM delta_scan('{uri}')").fetchall())


def _polars_rows(uri: str) -> list[tuple]:
    import polars as pl

    return sorted(pl.read_delta(uri).select("id", "text", "p").iter_rows())


def _rs_rows(uri: str) -> list[tuple]:
    t = delta.read_arrow(uri, columns=["id", "text", "p"]).to_pylist()
    return sorted((r["id"], r["text"], r["p"]) for r in t)


def _spark_rows(spark, uri: str) -> list[tuple]:
    df, _ = read_delta(spark, uri)
    return sorted((r.id, r.text, r.p) for r in df.select("id", "text", "p").collect())


def test_duckdb_polars_delta_rs_and_spark_read_a_delta_spark_table(spark, tmp_path):
    uri = str(tmp_path / "gold")
    schema = "id long, text string, p string"
    write_delta(
        spark.createDataFrame([(i, f"doc {i}", "ab"[i % 2]) for i in range(40)], schema),
        uri,
        partition_by=["p"],
        app_id="r1",
    )
    write_delta(  # a slice re-run, an upsert, a compaction: the operations the stages use
        spark.createDataFrame([(100, "new", "a")], schema),
        uri,
        mode="overwrite",
        partition_by=["p"],
        overwrite_partitions={"p": "a"},
        app_id="r2",
    )
    write_delta(
        spark.createDataFrame([(0, "updated", "a"), (101, "x", "b")], schema),
        uri,
        partition_by=["p"],
        app_id="r3",
        merge_on=["id"],
    )
    optimize(spark, uri, ["id"])
    # p=a was replaced by id 100; id 0 (gone with it) and 101 were inserted by the MERGE
    odd = [(i, f"doc {i}", "b") for i in range(1, 40, 2)]
    want = sorted([*odd, (100, "new", "a"), (0, "updated", "a"), (101, "x", "b")])
    assert _rs_rows(uri) == want
    assert _spark_rows(spark, uri) == want
    assert _duckdb_rows(uri) == want
    assert _polars_rows(uri) == want
    # the protocol every reader above supports: reader 1 / writer 2, no table features
    proto = delta.open_table(uri).protocol()
    assert (proto.min_reader_version, proto.min_writer_version) == (1, 2), proto
    assert not proto.reader_features and not proto.writer_features


def test_table_of_the_previous_layer_is_read_and_appended_by_delta_spark(spark, tmp_path):
    """The previous layer: Spark wrote Parquet into the table's directory, the driver committed
    the files with delta-rs (app transaction ids). delta-spark reads it, appends to it (its own
    txn ids next to the old ones), and delta-rs, DuckDB and Polars read the result."""
    uri = str(tmp_path / "bronze")
    schema = "id long, text string, p string"
    old = spark.createDataFrame([(i, f"old {i}", "ab"[i % 2]) for i in range(10)], schema)
    write_dir = delta.new_write_dir(uri)
    old.write.partitionBy("p").parquet(hadoop_uri(write_dir))
    files = delta.collect_data_files(uri, write_dir, ["p"])
    arrow_schema = pa.schema([("id", pa.int64()), ("text", pa.string()), ("p", pa.string())])
    delta.commit_files(uri, files, arrow_schema, partition_by=["p"], app_id="old-run")
    assert delta.current_version(uri) == 0

    got, ver = read_delta(spark, uri)
    assert ver == 0 and got.count() == 10
    res = write_delta(
        spark.createDataFrame([(50, "new", "a")], schema), uri, partition_by=["p"], app_id="new-run"
    )
    assert res.committed and res.version == 1
    # the old transaction id is still honoured: a retry of the old run writes nothing
    again = write_delta(old, uri, partition_by=["p"], app_id="old-run")
    assert not again.committed and delta.current_version(uri) == 1
    want = sorted([(i, f"old {i}", "ab"[i % 2]) for i in range(10)] + [(50, "new", "a")])
    assert _rs_rows(uri) == want == _spark_rows(spark, uri)
    assert _duckdb_rows(uri) == want == _polars_rows(uri)
