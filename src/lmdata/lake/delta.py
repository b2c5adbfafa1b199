"""Delta Lake I/O through delta-rs (`deltalake`): every transaction of lmdata goes through here.

Why not delta-spark: its JVM jars come only from Maven Central, which our machines cannot
reach (DESIGN §3). delta-rs is protocol-compatible, so tables written here are read by
delta-spark, delta-rs, DuckDB, pandas, ... alike.

How a distributed write works:
  1. Spark executors write Parquet files in parallel into a fresh, unique sub-directory of the
     table location (`<table>/w-<write_id>/<partition dirs>/part-*.parquet`).
  2. The driver lists exactly that sub-directory, reads each file's Parquet footer for the
     per-file statistics (numRecords, min/max, nullCount) and commits all files in ONE Delta
     transaction. Until then the files are invisible to every reader; a job killed before the
     commit leaves the table at its previous version (the orphans are removed by `vacuum`).
  3. Idempotency: each commit carries an application transaction id (Delta `txn` action);
     committing an id the table already holds is a no-op, so a retried task never appends twice.
  4. Re-runs/backfills replace exactly their own partition (`mode="overwrite"` with partition
     filters, the `replaceWhere` of delta-spark).

Readers (Spark included) read the files of one snapshot (`DeltaTable(uri, version).file_uris()`),
never the raw directory.

Pure module: pyarrow + deltalake, no Spark.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import DeltaTable, Schema, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from deltalake.transaction import (
    AddAction,
    CommitProperties,
    Transaction,
    create_table_with_add_actions,
)

from lmdata.errors import FatalError, RetryableError

log = logging.getLogger(__name__)

# Table names (relative to the lake root). One place, so stages and tests agree.
BRONZE_WEB = "bronze/web_documents"
GOLD_WEB = "gold/web_documents"
QUARANTINE = "quarantine/rejected_inputs"
STAGE_RUNS = "_meta/stage_runs"

_STAT_STRING_MAX = 64  # longer string min/max are left out of the stats (a truncated max is wrong)


def table_uri(lake: str, name: str) -> str:
    return f"{lake.rstrip('/')}/{name}"


def storage_options_from_env() -> dict[str, str] | None:
    """delta-rs storage options for an S3-compatible lake (MinIO, moto, AWS), from the environment.

    Credentials come from the environment / Airflow connection, never from code or params.
    """
    endpoint = os.environ.get("LMDATA_S3_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL")
    opts: dict[str, str] = {}
    if endpoint:
        opts["AWS_ENDPOINT_URL"] = endpoint
        if endpoint.startswith("http://"):
            opts["AWS_ALLOW_HTTP"] = "true"
        # S3-compatible servers with conditional writes (MinIO, moto) make commits safe without a lock.
        opts["conditional_put"] = "etag"
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_SESSION_TOKEN"):
        if os.environ.get(k):
            opts[k] = os.environ[k]
    return opts or None


def _filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    if "://" not in uri:
        return pafs.LocalFileSystem(), os.path.abspath(uri)
    if uri.startswith("file://"):
        return pafs.LocalFileSystem(), uri[len("file://") :]
    if uri.startswith(("s3://", "s3a://")):
        endpoint = os.environ.get("LMDATA_S3_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL")
        kwargs: dict[str, Any] = {"region": os.environ.get("AWS_REGION", "us-east-1")}
        if endpoint:
            scheme, _, rest = endpoint.partition("://")
            kwargs.update(endpoint_override=rest, scheme=scheme)
        fs = pafs.S3FileSystem(**kwargs)
        return fs, uri.split("://", 1)[1]
    fs, path = pafs.FileSystem.from_uri(uri)
    return fs, path


# --------------------------------------------------------------------------- reading


def exists(uri: str) -> bool:
    return DeltaTable.is_deltatable(uri, storage_options=storage_options_from_env())


def open_table(uri: str, version: int | None = None) -> DeltaTable:
    try:
        return DeltaTable(uri, version=version, storage_options=storage_options_from_env())
    except TableNotFoundError as e:
        raise FatalError(f"no Delta table at {uri}: {e}") from None


def current_version(uri: str) -> int | None:
    return open_table(uri).version() if exists(uri) else None


@dataclass(frozen=True)
class SnapshotFile:
    uri: str  # absolute URI of the data file
    partition_values: dict[str, str | None]
    num_records: int | None


def snapshot_files(uri: str, version: int | None = None) -> tuple[int, list[SnapshotFile]]:
    """The exact files of one snapshot (latest or `version`), with their partition values."""
    dt = open_table(uri, version)
    actions = pa.table(dt.get_add_actions(flatten=True))
    root = dt.table_uri.rstrip("/")
    if root.startswith("file://"):
        root = root[len("file://") :]
    pcols = [c for c in actions.column_names if c.startswith("partition.")]
    out = []
    rows = actions.to_pylist()
    for r in rows:
        path = r["path"]
        full = path if "://" in path or path.startswith("/") else f"{root}/{unquote(path)}"
        pv = {c[len("partition.") :]: (None if r[c] is None else str(r[c])) for c in pcols}
        out.append(SnapshotFile(full, pv, r.get("num_records")))
    out.sort(key=lambda f: f.uri)
    return dt.version(), out


def read_arrow(
    uri: str,
    version: int | None = None,
    columns: Sequence[str] | None = None,
    filter: Any = None,
) -> pa.Table:
    """Read a snapshot into Arrow on the driver (small tables, tests, reports).

    Reads exactly the snapshot's files with pyarrow and adds the partition columns from the log.
    Not `DeltaTable.to_pyarrow_table()` / `to_pyarrow_dataset()`: with deltalake 1.6.6 +
    pyarrow 26 those abort the interpreter at exit in about one run of three ("terminate called
    without an active exception", exit 134), which would fail tasks that had succeeded.
    """
    import pyarrow.dataset as pads

    ver, files = snapshot_files(uri, version)
    schema = schema_of(uri, ver)
    pcols = partition_columns(uri)
    data_schema = pa.schema([f for f in schema if f.name not in pcols])
    fs, _ = _filesystem(uri)
    groups: dict[tuple, list[str]] = {}
    for f in files:
        path = f.uri.split("://", 1)[1] if "://" in f.uri else f.uri
        groups.setdefault(tuple(f.partition_values.get(c) for c in pcols), []).append(path)
    tables = []
    for key, paths in sorted(groups.items(), key=lambda kv: tuple(str(v) for v in kv[0])):
        t = pads.dataset(paths, schema=data_schema, format="parquet", filesystem=fs).to_table()
        for c, v in zip(pcols, key, strict=True):
            t = t.append_column(
                schema.field(c), pa.array([v] * t.num_rows, pa.string()).cast(schema.field(c).type)
            )
        tables.append(t.select(schema.names))
    out = pa.concat_tables(tables) if tables else schema.empty_table()
    if filter is not None:
        out = out.filter(filter)
    if columns:
        out = out.select(list(columns))
    return out


def schema_of(uri: str, version: int | None = None) -> pa.Schema:
    return pa.schema(open_table(uri, version).schema())


def partition_columns(uri: str) -> list[str]:
    return list(open_table(uri).metadata().partition_columns)


def history(uri: str, limit: int | None = None) -> list[dict[str, Any]]:
    return open_table(uri).history(limit)


def committed(uri: str, app_id: str) -> int | None:
    """The app transaction version this table holds for `app_id` (None: never committed)."""
    if not exists(uri):
        return None
    return open_table(uri).transaction_version(app_id)


# --------------------------------------------------------------------------- file stats


def _stat_value(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray)):
        try:
            v = v.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(v, str):
        return v if len(v) <= _STAT_STRING_MAX else None
    if isinstance(v, _dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=_dt.UTC)
        return v.isoformat().replace("+00:00", "Z")
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return None
    if isinstance(v, (bool, int, float)):
        return v
    return None


def parquet_stats(meta: pq.FileMetaData) -> dict[str, Any]:
    """Delta `stats` JSON content (numRecords, minValues, maxValues, nullCount) from a Parquet
    footer, for top-level primitive columns. Columns without reliable stats are left out, which
    Delta readers treat as 'unknown' (never wrong)."""
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    skip_minmax: set[str] = set()
    for rg in range(meta.num_row_groups):
        g = meta.row_group(rg)
        for ci in range(g.num_columns):
            col = g.column(ci)
            name = col.path_in_schema
            if "." in name:  # nested
                continue
            st = col.statistics
            if st is None or not st.has_null_count:
                skip_minmax.add(name)
                nulls.pop(name, None)
                continue
            nulls[name] = nulls.get(name, 0) + st.null_count
            if name in skip_minmax:
                continue
            if not st.has_min_max:
                if st.null_count < g.num_rows:
                    skip_minmax.add(name)
                continue
            lo, hi = _stat_value(st.min), _stat_value(st.max)
            if lo is None or hi is None:
                skip_minmax.add(name)
                continue
            mins[name] = lo if name not in mins else min(mins[name], lo)
            maxs[name] = hi if name not in maxs else max(maxs[name], hi)
    for name in skip_minmax:
        mins.pop(name, None)
        maxs.pop(name, None)
    return {"numRecords": meta.num_rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls}


@dataclass(frozen=True)
class DataFile:
    path: str  # relative to the table root, '/'-separated
    size: int
    partition_values: dict[str, str | None]
    num_records: int
    stats: dict[str, Any]
    modification_time: int

    def to_add_action(self) -> AddAction:
        return AddAction(
            self.path,
            self.size,
            dict(self.partition_values),
            self.modification_time,
            True,
            json.dumps(self.stats),
        )


def _partition_values_from_path(rel: str, partition_by: Sequence[str]) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for seg in rel.split("/")[:-1]:
        if "=" in seg:
            k, v = seg.split("=", 1)
            if k in partition_by:
                v = unquote(v)
                values[k] = None if v == "__HIVE_DEFAULT_PARTITION__" else v
    missing = [c for c in partition_by if c not in values]
    if missing:
        raise FatalError(f"data file {rel} lacks partition directories for {missing}")
    return values


def collect_data_files(
    table: str, write_dir: str, partition_by: Sequence[str] = ()
) -> list[DataFile]:
    """List the Parquet files a writer left under `write_dir` (inside `table`) and read their
    footers. Files named like Spark's markers (`_SUCCESS`, `.crc`) are skipped."""
    fs, root = _filesystem(table)
    _, wdir = _filesystem(write_dir)
    infos = fs.get_file_info(pafs.FileSelector(wdir, recursive=True, allow_not_found=True))
    out = []
    for info in infos:
        if info.type != pafs.FileType.File:
            continue
        base = info.base_name
        if not base.endswith(".parquet") or base.startswith(("_", ".")):
            continue
        rel = info.path[len(root) :].lstrip("/")
        with fs.open_input_file(info.path) as fh:
            meta = pq.ParquetFile(fh).metadata
        mtime = int(info.mtime.timestamp() * 1000) if info.mtime else int(time.time() * 1000)
        out.append(
            DataFile(
                path=rel,
                size=info.size,
                partition_values=_partition_values_from_path(rel, partition_by),
                num_records=meta.num_rows,
                stats=parquet_stats(meta),
                modification_time=mtime,
            )
        )
    out.sort(key=lambda f: f.path)
    return out


def new_write_dir(table: str) -> str:
    """A fresh directory inside the table for one writer's files (unique per attempt)."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return f"{table.rstrip('/')}/w-{stamp}-{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------------- committing


@dataclass
class CommitResult:
    table: str
    version: int
    committed: bool  # False: the app transaction was already in the table (a retry); nothing added
    files: int = 0
    rows: int = 0
    app_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _arrow_schema_for_delta(schema: pa.Schema) -> pa.Schema:
    # Delta has no non-nullable guarantee we rely on for appends from Spark; keep nullability as given.
    return schema


def _evolve_schema(dt: DeltaTable, schema: pa.Schema) -> None:
    """Add columns that `schema` has and the table lacks (delta-rs' create_write_transaction
    silently drops unknown columns from the table schema, so we evolve explicitly)."""
    current = pa.schema(dt.schema())
    have = set(current.names)
    new_fields = [f for f in schema if f.name not in have]
    if not new_fields:
        return
    from deltalake.schema import Field as DField

    dt.alter.add_columns([DField.from_arrow(f.with_nullable(True)) for f in new_fields])


def commit_files(
    uri: str,
    files: Sequence[DataFile],
    schema: pa.Schema,
    *,
    mode: str = "append",
    partition_by: Sequence[str] = (),
    overwrite_partitions: Mapping[str, str] | None = None,
    app_id: str | None = None,
    app_version: int = 1,
    metadata: Mapping[str, Any] | None = None,
    retries: int = 5,
) -> CommitResult:
    """Commit `files` (already in the table location) to the table in ONE Delta transaction.

    mode: "append" or "overwrite". With `overwrite_partitions` (e.g. {"crawl": "...", "slice": "..."})
    only that partition is replaced; without it, overwrite replaces the whole table.
    app_id: the idempotency key of this stage run; if the table already holds it, nothing is
    committed and `committed=False` is returned.
    """
    if mode not in ("append", "overwrite"):
        raise FatalError(f"commit mode must be append or overwrite, not {mode!r}")
    schema = _arrow_schema_for_delta(schema)
    txns = [Transaction(app_id, app_version)] if app_id else None
    custom = dict(metadata or {})
    if app_id:
        custom.setdefault("lmdata.app_id", app_id)
    nrows = sum(f.num_records for f in files)
    adds = [f.to_add_action() for f in files]
    opts = storage_options_from_env()
    last_err: Exception | None = None
    for attempt in range(retries + 1):
        try:
            if not exists(uri):
                create_table_with_add_actions(
                    uri,
                    Schema.from_arrow(schema),
                    adds,
                    mode="error",
                    partition_by=list(partition_by) or None,
                    storage_options=opts,
                    commit_properties=CommitProperties(
                        custom_metadata=custom, app_transactions=txns
                    ),
                )
                dt = open_table(uri)
                return CommitResult(uri, dt.version(), True, len(files), nrows, app_id)
            dt = open_table(uri)
            if app_id is not None:
                held = dt.transaction_version(app_id)
                if held is not None and held >= app_version:
                    log.info(
                        "table %s already holds transaction %s; nothing to commit", uri, app_id
                    )
                    return CommitResult(uri, dt.version(), False, 0, 0, app_id)
            table_pcols = list(dt.metadata().partition_columns)
            if list(partition_by) != table_pcols:
                raise FatalError(
                    f"{uri} is partitioned by {table_pcols}, the write by {list(partition_by)}"
                )
            _evolve_schema(dt, schema)
            full_schema = pa.schema(dt.schema())
            pfilters = None
            if mode == "overwrite" and overwrite_partitions:
                unknown = set(overwrite_partitions) - set(table_pcols)
                if unknown:
                    raise FatalError(f"overwrite filter on non-partition columns {sorted(unknown)}")
                pfilters = [
                    (k, "in", [str(x) for x in v])
                    if isinstance(v, (list, tuple, set))
                    else (k, "=", str(v))
                    for k, v in overwrite_partitions.items()
                ]
            dt.create_write_transaction(
                adds,
                mode=mode,
                schema=full_schema,
                partition_by=table_pcols or None,
                partition_filters=pfilters,
                commit_properties=CommitProperties(custom_metadata=custom, app_transactions=txns),
            )
            dt = open_table(uri)
            return CommitResult(uri, dt.version(), True, len(files), nrows, app_id)
        except FatalError:
            raise
        except (CommitFailedError, OSError) as e:  # concurrent commit won the version race
            last_err = e
            log.warning("commit to %s failed (attempt %d): %s", uri, attempt + 1, e)
            time.sleep(min(0.2 * 2**attempt, 5.0))
        except Exception as e:  # delta-rs raises a plain exception on a lost create race
            if "already exists" in str(e).lower() or "conflict" in str(e).lower():
                last_err = e
                time.sleep(min(0.2 * 2**attempt, 5.0))
                continue
            raise
    raise RetryableError(f"could not commit to {uri} after {retries + 1} attempts: {last_err}")


def write_table(
    uri: str,
    data: pa.Table,
    *,
    mode: str = "append",
    partition_by: Sequence[str] = (),
    overwrite_partitions: Mapping[str, str] | None = None,
    app_id: str | None = None,
    app_version: int = 1,
    metadata: Mapping[str, Any] | None = None,
) -> CommitResult:
    """Driver-side write of a small Arrow table (quarantine rows, run records) in one
    transaction, with the same idempotency and partition-overwrite semantics as `commit_files`."""
    if app_id is not None:
        held = committed(uri, app_id)
        if held is not None and held >= app_version:
            return CommitResult(uri, current_version(uri) or 0, False, 0, 0, app_id)
    predicate = None
    if mode == "overwrite" and overwrite_partitions:

        def lit(v: Any) -> str:
            return "'" + str(v).replace("'", "''") + "'"

        predicate = " AND ".join(
            f"{k} IN ({', '.join(lit(x) for x in v)})"
            if isinstance(v, (list, tuple, set))
            else f"{k} = {lit(v)}"
            for k, v in overwrite_partitions.items()
        )
    txns = [Transaction(app_id, app_version)] if app_id else None
    custom = dict(metadata or {})
    write_deltalake(
        uri,
        data,
        mode=mode,
        partition_by=list(partition_by) or None,
        predicate=predicate,
        schema_mode="merge" if mode == "append" else None,
        storage_options=storage_options_from_env(),
        commit_properties=CommitProperties(custom_metadata=custom, app_transactions=txns),
    )
    return CommitResult(uri, current_version(uri) or 0, True, 0, data.num_rows, app_id)


def vacuum_orphans(uri: str, older_than_hours: int = 168, dry_run: bool = True) -> list[str]:
    """Files in the table directory that no snapshot references (e.g. from killed jobs)."""
    dt = open_table(uri)
    # full=True: also files no log entry ever referenced (a killed writer's Parquet files).
    # Keep the retention above the longest write, or a running writer's files go too.
    return dt.vacuum(
        retention_hours=older_than_hours,
        dry_run=dry_run,
        enforce_retention_duration=False,
        full=True,
    )
