"""Spark <-> Delta through delta-rs (DESIGN §3): executors write Parquet, the driver commits.

This is the one module a deployment with delta-spark jars would change to `format("delta")`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import reduce
from typing import Any

import pyarrow as pa

from lmdata.lake import delta

log = logging.getLogger(__name__)


def spark_schema(schema: pa.Schema):
    """Arrow schema -> Spark StructType (via Spark's own Arrow type mapping)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def _to_hadoop_uri(path: str) -> str:
    if "://" in path:
        return path.replace("s3://", "s3a://", 1) if path.startswith("s3://") else path
    return "file://" + path


def write_delta(
    df,
    uri: str,
    *,
    mode: str = "append",
    partition_by: Sequence[str] = (),
    overwrite_partitions: Mapping[str, str] | None = None,
    app_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> delta.CommitResult:
    """Write a DataFrame to a Delta table: parallel Parquet from the executors into a fresh
    directory of the table, then ONE delta-rs commit on the driver (idempotent by `app_id`)."""
    if app_id is not None:
        held = delta.committed(uri, app_id)
        if held is not None:
            log.info("%s already holds %s: skipping the write", uri, app_id)
            return delta.CommitResult(uri, delta.current_version(uri) or 0, False, 0, 0, app_id)
    arrow_schema = _arrow_schema(df)
    write_dir = delta.new_write_dir(uri)
    writer = df.write.mode("errorifexists")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.parquet(_to_hadoop_uri(write_dir))
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


def to_arrow_schema(spark_struct) -> pa.Schema:
    """Spark StructType -> Arrow schema (Spark's own mapping)."""
    from pyspark.sql.pandas.types import to_arrow_schema as _to_arrow

    return _to_arrow(spark_struct)


def _arrow_schema(df) -> pa.Schema:
    return to_arrow_schema(df.schema)


def read_delta(spark, uri: str, version: int | None = None):
    """A DataFrame of exactly one snapshot's files (latest or `version`) and the version read.

    Partition columns are not stored in Delta data files: they come from the log, so files are
    read per partition-value group and tagged with literals (never from directory names)."""
    from pyspark.sql import functions as F

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
        groups.setdefault(key, []).append(_to_hadoop_uri(f.uri))
    frames = []
    for key in sorted(groups, key=lambda k: tuple("" if v is None else v for v in k)):
        part = spark.read.schema(sschema).parquet(*groups[key])
        for c, v in zip(pcols, key, strict=True):
            ftype = table_schema.field(c).type
            part = part.withColumn(
                c, F.lit(v).cast(spark_schema(pa.schema([(c, ftype)]))[c].dataType)
            )
        frames.append(part.select(*table_schema.names))
    df = reduce(lambda a, b: a.unionByName(b), frames)
    return df, ver
