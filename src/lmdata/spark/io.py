"""Spark <-> Delta Lake through delta-spark (DESIGN §3): the one writer protocol of Spark stages.

- `write_delta`: `df.write.format("delta")`, idempotent per stage run (`txnAppId` = the stage's
  app id, `txnVersion` 1: a retried task that already committed writes nothing), `replaceWhere`
  to re-run exactly one slice, `mergeSchema` for new columns; `merge_on=` upserts with MERGE.
- `read_delta`: exactly one version (`versionAsOf`; the latest when none is named), and the
  version read, so a stage records what it consumed and an asset event can pin it.
- `optimize` / `vacuum`: maintenance (the `lake_maintenance` DAG, `lmdata lake-maintenance`).

Table locations are lake URIs (`/abs/path`, `s3://bucket/...`); Spark gets `file:`/`s3a:` ones.
Readers outside Spark (Airflow tasks, report, tests) use `lmdata.lake.delta` (delta-rs) on the
same tables: no deletion vectors, classic checkpoints (see README, The lake).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from lmdata.errors import FatalError
from lmdata.lake import delta

log = logging.getLogger(__name__)

TXN_VERSION = 1  # one commit per (table, stage run): the app id carries the run


def spark_schema(schema: pa.Schema):
    """Arrow schema -> Spark StructType (via Spark's own Arrow type mapping)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def to_arrow_schema(spark_struct) -> pa.Schema:
    """Spark StructType -> Arrow schema (Spark's own mapping)."""
    from pyspark.sql.pandas.types import to_arrow_schema as _to_arrow

    return _to_arrow(spark_struct)


def hadoop_uri(path: str) -> str:
    """A lake URI as Spark's Hadoop file systems name it (s3:// -> s3a://, plain path -> file:)."""
    if "://" in path:
        return "s3a://" + path[len("s3://") :] if path.startswith("s3://") else path
    return "file://" + path


def _sql_literal(v: Any) -> str:
    return "'" + str(v).replace("'", "''") + "'"


def replace_where(partitions: Mapping[str, Any]) -> str:
    """`{"crawl": "C", "slice": "0of1"}` -> `crawl = 'C' AND slice = '0of1'` (lists -> IN)."""
    return " AND ".join(
        f"`{k}` IN ({', '.join(_sql_literal(x) for x in v)})"
        if isinstance(v, (list, tuple, set))
        else f"`{k}` = {_sql_literal(v)}"
        for k, v in partitions.items()
    )


def _user_metadata(app_id: str | None, metadata: Mapping[str, Any] | None) -> str:
    meta = dict(metadata or {})
    if app_id:
        meta.setdefault("lmdata.app_id", app_id)
    return json.dumps(meta, sort_keys=True, default=str)


def _result(uri: str, app_id: str | None, committed: bool) -> delta.CommitResult:
    """The commit this write made (found by its app id in the log's commitInfo), or the latest."""
    hist = delta.history(uri, 20)
    mine = hist[0] if hist else {}
    if app_id:
        tag = json.dumps(app_id)
        for h in hist:
            if tag in str(h.get("userMetadata") or ""):
                mine = h
                break
    metrics = mine.get("operationMetrics") or {}
    rows = int(metrics.get("numOutputRows", metrics.get("numTargetRowsInserted", 0)) or 0)
    files = int(metrics.get("numFiles", metrics.get("numAddedFiles", 0)) or 0)
    version = mine.get("version")
    if version is None:
        version = delta.current_version(uri) or 0
    return delta.CommitResult(uri, int(version), committed, files, rows, app_id)


def _already(uri: str, app_id: str | None) -> delta.CommitResult | None:
    if app_id is None:
        return None
    held = delta.committed(uri, app_id)
    if held is None or held < TXN_VERSION:
        return None
    log.info("%s already holds %s: skipping the write", uri, app_id)
    return delta.CommitResult(uri, delta.current_version(uri) or 0, False, 0, 0, app_id)


def write_delta(
    df,
    uri: str,
    *,
    mode: str = "append",
    partition_by: Sequence[str] = (),
    overwrite_partitions: Mapping[str, Any] | None = None,
    app_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    merge_on: Sequence[str] | None = None,
) -> delta.CommitResult:
    """Write a DataFrame to a Delta table in ONE delta-spark commit.

    mode "append" or "overwrite"; with `overwrite_partitions` the overwrite replaces exactly
    those rows (`replaceWhere`), without it the whole table. `merge_on` (append only): upsert by
    those key columns with MERGE (matched rows updated, others inserted). `app_id`: the stage
    run's idempotency key (`txnAppId`); a table that holds it is not written again.
    """
    if mode not in ("append", "overwrite"):
        raise FatalError(f"write mode must be append or overwrite, not {mode!r}")
    done = _already(uri, app_id)
    if done is not None:
        return done
    if merge_on and mode == "append" and delta.exists(uri):
        return _merge(df, uri, merge_on, app_id, metadata)
    exists = delta.exists(uri)
    if exists and partition_by:
        have = delta.partition_columns(uri)
        if list(partition_by) != have:
            raise FatalError(f"{uri} is partitioned by {have}, the write by {list(partition_by)}")
    w = (
        df.write.format("delta")
        .mode(mode)
        .option("mergeSchema", "true")
        .option("userMetadata", _user_metadata(app_id, metadata))
        # never the session's dynamic partition overwrite: a full overwrite replaces the table
        .option("partitionOverwriteMode", "static")
    )
    if app_id:
        w = w.option("txnAppId", app_id).option("txnVersion", str(TXN_VERSION))
    if partition_by:
        w = w.partitionBy(*partition_by)
    if mode == "overwrite" and overwrite_partitions:
        w = w.option("replaceWhere", replace_where(overwrite_partitions))
    w.save(hadoop_uri(uri))
    return _result(uri, app_id, True)


def _merge(df, uri, on, app_id, metadata) -> delta.CommitResult:
    """MERGE INTO the table by `on`: update matched rows, insert the rest (one commit, idempotent
    by the same app id through Delta's SQL txn confs)."""
    spark = df.sparkSession
    view = f"lmdata_merge_{uuid.uuid4().hex[:12]}"
    df.createOrReplaceTempView(view)
    cond = " AND ".join(f"t.`{c}` <=> s.`{c}`" for c in on)
    confs = {
        "spark.databricks.delta.commitInfo.userMetadata": _user_metadata(app_id, metadata),
        "spark.databricks.delta.schema.autoMerge.enabled": "true",
    }
    if app_id:
        confs["spark.databricks.delta.write.txnAppId"] = app_id
        confs["spark.databricks.delta.write.txnVersion"] = str(TXN_VERSION)
    saved = {k: spark.conf.get(k, None) for k in confs}
    try:
        for k, v in confs.items():
            spark.conf.set(k, v)
        spark.sql(
            f"MERGE INTO delta.`{hadoop_uri(uri)}` AS t USING {view} AS s ON {cond} "
            "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
        )
    finally:
        for k, v in saved.items():
            if v is None:
                spark.conf.unset(k)
            else:
                spark.conf.set(k, v)
        spark.catalog.dropTempView(view)
    return _result(uri, app_id, True)


def read_delta(spark, uri: str, version: int | None = None):
    """A DataFrame of exactly one version of the table (latest, or `version`) and that version."""
    if version is None:
        version = delta.current_version(uri)
        if version is None:
            raise FatalError(f"no Delta table at {uri}")
    df = spark.read.format("delta").option("versionAsOf", int(version)).load(hadoop_uri(uri))
    return df, int(version)


def optimize(spark, uri: str, zorder_by: Sequence[str] = ()) -> dict[str, Any]:
    """OPTIMIZE (bin-packing compaction), with ZORDER BY where given; returns Delta's metrics."""
    sql = f"OPTIMIZE delta.`{hadoop_uri(uri)}`"
    if zorder_by:
        sql += " ZORDER BY (" + ", ".join(f"`{c}`" for c in zorder_by) + ")"
    row = spark.sql(sql).collect()[0]
    metrics = row["metrics"].asDict(recursive=True) if row["metrics"] is not None else {}
    keep = ("numFilesAdded", "numFilesRemoved", "totalConsideredFiles", "numBatches")
    return {k: metrics.get(k) for k in keep}


def vacuum(spark, uri: str, retention_hours: float) -> int:
    """VACUUM: delete files no version within `retention_hours` references; returns how many."""
    before = _data_files(uri)
    check = "spark.databricks.delta.retentionDurationCheck.enabled"
    saved = spark.conf.get(check, None)
    if retention_hours < 168:  # Delta refuses a retention below its 7-day default unless told
        spark.conf.set(check, "false")
    try:
        spark.sql(f"VACUUM delta.`{hadoop_uri(uri)}` RETAIN {float(retention_hours)} HOURS")
    finally:
        if saved is None:
            spark.conf.unset(check)
        else:
            spark.conf.set(check, saved)
    return max(0, before - _data_files(uri))


def _data_files(uri: str) -> int:
    import pyarrow.fs as pafs

    fs, root = delta._filesystem(uri)
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    return sum(
        1
        for i in infos
        if i.type == pafs.FileType.File
        and i.path.endswith(".parquet")
        and "/_delta_log/" not in i.path
    )
