"""The previous Spark <-> Delta layer, kept only to benchmark the write path side by side.

Until issue 18 the Spark stages wrote Parquet from the executors into a fresh directory of the
table and the driver committed the files with delta-rs (`lmdata.lake.delta.commit_files`, app
transaction ids); readers read one snapshot's files as plain Parquet. `lmdata.spark.io` now uses
delta-spark. This module is that previous `write_delta` / `read_delta` (as of commit 03d4b2a),
and a launcher that runs an lmdata command with them patched in:

    python -m bench.legacy_delta_io dedup --lake ... --rebuild      # = `lmdata dedup ...`

Not used by lmdata itself (bench/bench_write_path.py only).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from functools import reduce
from typing import Any

import pyarrow as pa

from lmdata.lake import delta


def write_delta(
    df,
    uri: str,
    *,
    mode: str = "append",
    partition_by: Sequence[str] = (),
    overwrite_partitions: Mapping[str, str] | None = None,
    app_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    merge_on: Sequence[str] | None = None,  # the previous layer appended (no MERGE)
) -> delta.CommitResult:
    from lmdata.spark.io import hadoop_uri, to_arrow_schema

    if app_id is not None and delta.committed(uri, app_id) is not None:
        return delta.CommitResult(uri, delta.current_version(uri) or 0, False, 0, 0, app_id)
    arrow_schema = to_arrow_schema(df.schema)
    write_dir = delta.new_write_dir(uri)
    writer = df.write.mode("errorifexists")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.parquet(hadoop_uri(write_dir))
    files = delta.collect_data_files(uri, write_dir, partition_by)
    return delta.commit_files(
        uri,
        files,
        arrow_schema,
        mode=mode,
        partition_by=partition_by,
        overwrite_partitions=overwrite_partitions,
        app_id=app_id,
        metadata=metadata,
    )


def read_delta(spark, uri: str, version: int | None = None):
    from pyspark.sql import functions as F

    from lmdata.spark.io import hadoop_uri, spark_schema

    ver, files = delta.snapshot_files(uri, version)
    table_schema = delta.schema_of(uri, ver)
    pcols = delta.partition_columns(uri)
    data_schema = pa.schema([f for f in table_schema if f.name not in pcols])
    sschema = spark_schema(data_schema)
    if not files:
        return spark.createDataFrame([], spark_schema(table_schema)), ver
    groups: dict[tuple, list[str]] = {}
    for f in files:
        key = tuple(f.partition_values.get(c) for c in pcols)
        groups.setdefault(key, []).append(hadoop_uri(f.uri))
    frames = []
    for key in sorted(groups, key=lambda k: tuple("" if v is None else v for v in k)):
        part = spark.read.schema(sschema).parquet(*groups[key])
        for c, v in zip(pcols, key, strict=True):
            ftype = table_schema.field(c).type
            part = part.withColumn(
                c, F.lit(v).cast(spark_schema(pa.schema([(c, ftype)]))[c].dataType)
            )
        frames.append(part.select(*table_schema.names))
    return reduce(lambda a, b: a.unionByName(b), frames), ver


def main(argv: list[str]) -> int:
    import lmdata.spark.io as io
    from lmdata.cli import main as lmdata_main

    io.write_delta, io.read_delta = write_delta, read_delta
    return lmdata_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
