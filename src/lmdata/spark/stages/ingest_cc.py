"""Stage `ingest-cc`: one deterministic slice of a Common Crawl listing -> bronze/web_documents.

Driver: read the crawl's path listing (S3 / HTTPS / local dir laid out like the bucket), pick the
slice, and hand the file URIs to the executors. Executors stream each file (never via the
driver) through lmdata.ingest.records.ingest_uri, which turns bytes into document rows and
quarantine rows; nothing raises for bad input. One Spark job reads the files and writes the
slice's partition of bronze (one Delta transaction, idempotent by run); each file's rejects and
counters travel beside it in a small side file under <lake>/_staging, from which the driver then
replaces the slice's partition of quarantine/rejected_inputs (a second transaction).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import uuid
from collections import Counter

import pyarrow as pa

from lmdata.document import QUARANTINE_SCHEMA, WEB_DOCUMENT_SCHEMA
from lmdata.errors import ConfigError, FatalError
from lmdata.lake import delta
from lmdata.spark.job import Stage, StageContext

STAGE = "ingest-cc"
# Executor output: document columns + a row kind + a JSON payload for rejects / per-file counters.
_OUT_SCHEMA = pa.schema(
    [f.with_nullable(True) for f in WEB_DOCUMENT_SCHEMA]
    + [pa.field("_kind", pa.string()), pa.field("_payload", pa.string())]
)


_DOC_SCHEMA = pa.schema([f.with_nullable(True) for f in WEB_DOCUMENT_SCHEMA])
# Rows per output Arrow batch, and a bound on a batch's text (chars): big batches amortise the
# per-batch cost of the Python -> JVM transfer; the text bound keeps a batch of huge documents
# from growing without end. A Python worker holds about two batches (the column lists being filled
# and the Arrow batch being sent): at 4,096 rows / 32M chars a worker peaked at ~340 MiB on web
# text; at 1,024 rows (~4.5 MB of WET text) the 200 MiB ingest took the same time (22.4 vs
# 22.2 s; BENCHMARKS.md "Memory").
BATCH_ROWS = 1024
BATCH_TEXT_CHARS = 8 << 20
STAGING = "_staging"  # under the lake: per-run side outputs of the executors (deleted after use)


def slice_label(index: int, count: int) -> str:
    return f"{index}-of-{count}"


class _Columns:
    """Rows -> one list per column -> ``pa.RecordBatch`` (one ``pa.array`` per column instead of
    a dict per row through ``RecordBatch.from_pylist``)."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.cols: dict[str, list] = {n: [] for n in schema.names}
        self.rows = 0
        self.chars = 0

    def add(self, row: dict) -> None:
        for n, col in self.cols.items():
            col.append(row.get(n))
        self.rows += 1
        self.chars += len(row.get("text") or "")

    def full(self) -> bool:
        return self.rows >= BATCH_ROWS or self.chars >= BATCH_TEXT_CHARS

    def take(self):
        """The buffered rows as one batch (None when empty); the buffer starts over."""
        if not self.rows:
            return None
        arrays = [pa.array(self.cols[f.name], type=f.type) for f in self.schema]
        batch = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        self.__init__(self.schema)
        return batch


# The driver's settings of the lake's object store, which the executors' side-output writes need
# (a cluster's executors do not inherit the driver's environment; the JVM gets them as s3a conf).
LAKE_ENV = (
    "LMDATA_S3_ENDPOINT",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)


def lake_env() -> dict[str, str]:
    """The LAKE_ENV variables set on the driver, for ``_ingest_partition``."""
    import os

    return {k: os.environ[k] for k in LAKE_ENV if os.environ.get(k)}


def _ingest_partition(batches, ingest_opts, source_opts, side_dir: str, env=None):
    """mapInArrow body of ingest-cc: input batches hold file URIs; yields document batches of
    _DOC_SCHEMA; each file's rejects and counters go to its side file under ``side_dir``
    (reached with the driver's lake settings ``env`` where the executor has none of its own)."""
    import os

    from lmdata.ingest.records import ingest_uri

    for k, v in (env or {}).items():
        os.environ.setdefault(k, v)

    def ingest(file: dict, counters: Counter):
        return ingest_uri(file["uri"], ingest_opts, source_opts, counters=counters)

    yield from ingest_docs_partition(batches, ingest, side_dir)


def ingest_docs_partition(batches, ingest, side_dir: str, schema: pa.Schema = _DOC_SCHEMA):
    """One-pass mapInArrow body: each input row names a file; ``ingest(row, counters)`` yields
    its ("doc", row) / ("reject", row) items. Yields only document batches of ``schema``; once a
    file is read, its rejects and counters are written to ``side_dir`` (``write_side_output``),
    so the side output needs no second pass over the documents."""
    fs, root = _side_fs(side_dir)
    buf = _Columns(schema)
    for batch in batches:
        for uri in batch.column("uri").to_pylist():
            counters: Counter = Counter()
            rejects = []
            for kind, row in ingest({"uri": uri}, counters):
                if kind == "doc":
                    buf.add(row)
                    if buf.full():
                        yield buf.take()
                else:
                    rejects.append(row)
            write_side_output(fs, root, uri, counters, rejects)
    last = buf.take()
    if last is not None:
        yield last


def _side_fs(side_dir: str):
    from lmdata.lake.delta import _filesystem

    return _filesystem(side_dir)


def _side_name(uri: str) -> str:
    return hashlib.sha1(uri.encode("utf-8", "surrogatepass")).hexdigest() + ".json"


def write_side_output(fs, root: str, uri: str, counters: Counter, rejects: list[dict]) -> None:
    """One file's side output, written whole then renamed: a task attempt killed mid-way leaves
    no partial file, and a retried attempt (same file, same deterministic rows) replaces it."""
    data = json.dumps(
        {"uri": uri, "counters": dict(counters), "rejects": rejects}, default=str
    ).encode()
    name = _side_name(uri)
    tmp = f"{root}/.{name}.{uuid.uuid4().hex}.tmp"
    with fs.open_output_stream(tmp) as f:
        f.write(data)
    fs.move(tmp, f"{root}/{name}")


def read_side_outputs(ctx: StageContext, side_dir: str, uris: list[str]):
    """The rejects and summed counters the executors wrote for ``uris`` (one file each; a missing
    one means a task did not finish: an error, never a silent gap); counters go to the stats."""
    fs, root = _side_fs(side_dir)
    rejects, counters = [], Counter()
    for uri in uris:
        path = f"{root}/{_side_name(uri)}"
        try:
            with fs.open_input_stream(path) as f:
                side = json.loads(f.read())
        except FileNotFoundError:
            raise FatalError(
                f"no side output for {uri} at {path}: its task did not finish"
            ) from None
        rejects.extend(side["rejects"])
        counters.update(side["counters"])
    _add_counters(ctx, counters)
    return rejects, counters


def ingest_partition(batches, ingest, out_schema: pa.Schema = _OUT_SCHEMA):
    """mapInArrow body of the ingest stages that collect their side output from the stream
    (ingest-docs): each input row names a file; ``ingest(row, counters)`` yields its ("doc",
    row) / ("reject", row) items. Yields Arrow batches of ``out_schema``: documents, rejects
    (JSON payload) and one per-file counters row."""
    buf = _Columns(out_schema)
    for batch in batches:
        for file in batch.to_pylist():
            counters: Counter = Counter()
            for kind, row in ingest(file, counters):
                if kind == "doc":
                    buf.add(row)  # _kind/_payload: set below
                    buf.cols["_kind"][-1], buf.cols["_payload"][-1] = "doc", None
                else:
                    buf.add({"_kind": "reject", "_payload": json.dumps(row, default=str)})
                if buf.full():
                    yield buf.take()
            stats = json.dumps({"uri": file["uri"], "counters": dict(counters)})
            buf.add({"_kind": "stats", "_payload": stats})
    last = buf.take()
    if last is not None:
        yield last


def _add_counters(ctx: StageContext, counters: Counter) -> None:
    for k, v in counters.items():
        if k.startswith("rejected:"):
            ctx.stats.quarantined[k.split(":", 1)[1]] += v
        elif k == "bytes_read":
            ctx.stats.bytes_in += v
        else:
            ctx.stats.counters[k] += v


def collect_side_outputs(ctx: StageContext, out) -> tuple[list[dict], Counter]:
    """Bring the small side outputs (rejects, per-file counters) of ``ingest_partition`` to the
    driver (documents never come) and add the counters to the stage stats."""
    from pyspark.sql import functions as F

    side = out.where(F.col("_kind") != "doc").select("_kind", "_payload").collect()
    rejects, counters = [], Counter()
    for r in side:
        payload = json.loads(r["_payload"])
        if r["_kind"] == "reject":
            rejects.append(payload)
        else:
            counters.update(payload["counters"])
    _add_counters(ctx, counters)
    return rejects, counters


def write_quarantine(
    ctx: StageContext, rejects: list[dict], stage: str, crawl: str, label: str, app_id: str
) -> None:
    """Replace the (stage, crawl, slice) partition of quarantine/rejected_inputs."""
    quarantine = ctx.table(delta.QUARANTINE)
    qrows = [{n: r.get(n) for n in QUARANTINE_SCHEMA.names} for r in rejects]
    for q in qrows:
        q["stage"], q["crawl"], q["slice"], q["run_id"] = stage, crawl, label, ctx.run_id
    qres = delta.write_table(
        quarantine,
        pa.Table.from_pylist(qrows, schema=QUARANTINE_SCHEMA),
        mode="overwrite" if delta.exists(quarantine) else "append",
        partition_by=["stage", "crawl", "slice"],
        overwrite_partitions={"stage": stage, "crawl": crawl, "slice": label},
        app_id=app_id,
    )
    ctx.stats.tables[delta.QUARANTINE] = qres.version


def source_options(cfg):
    """SourceOptions from an ingest section's `s3` and `http` settings (ingest_cc, ingest_docs)."""
    from lmdata.ingest.sources import SourceOptions

    return SourceOptions(
        s3_endpoint_url=cfg.s3.endpoint_url,
        s3_unsigned=cfg.s3.unsigned,
        region=cfg.s3.region,
        http_timeout_s=cfg.http.timeout_s,
        retries=cfg.http.retries,
        backoff_s=cfg.http.backoff_s,
    )


def resolve_slice(args: argparse.Namespace, slices: int, start_date: str) -> tuple[int, int]:
    """(index, count) from --slice i/n, else --logical-date's slice, else 0 of ``slices``."""
    from lmdata.ingest.manifest import parse_slice, slice_for_date

    if args.slice_:
        try:
            return parse_slice(args.slice_)
        except ValueError as e:
            raise ConfigError(f"--slice: {e}") from None
    if args.logical_date:
        start = dt.date.fromisoformat(start_date)
        return slice_for_date(dt.date.fromisoformat(args.logical_date[:10]), start, slices), slices
    return 0, slices


class IngestCCStage(Stage):
    name = STAGE
    description = "Ingest a slice of a Common Crawl WET/WARC listing into bronze/web_documents."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--crawl", default=None, help="e.g. CC-MAIN-2024-22 (default: params)")
        parser.add_argument(
            "--source",
            default=None,
            help="s3://commoncrawl | https://data.commoncrawl.org | local dir",
        )
        parser.add_argument("--format", dest="fmt", choices=["wet", "warc", "auto"], default=None)
        parser.add_argument("--slice", dest="slice_", default=None, help="i/n (0-based)")
        parser.add_argument(
            "--logical-date",
            default=None,
            help="YYYY-MM-DD: pick the slice for this date (scheduled runs/backfills)",
        )
        parser.add_argument("--limit", type=int, default=None, help="first N files of the slice")

    def _resolve(self, ctx: StageContext):
        cfg = ctx.params.ingest_cc
        a = ctx.args
        crawl = a.crawl or cfg.crawl
        source = a.source or cfg.source
        fmt = a.fmt or cfg.format
        limit = a.limit if a.limit is not None else cfg.limit
        index, count = resolve_slice(a, cfg.slices, cfg.slice_start_date)
        if "://" not in source:
            from pathlib import Path

            source = str(Path(source).resolve())
        return crawl, source, fmt, index, count, limit

    def app_id(self, ctx: StageContext) -> str:
        crawl, _, _, index, count, _ = self._resolve(ctx)
        return f"lmdata:{self.name}:{crawl}:{slice_label(index, count)}:{ctx.run_id}"

    def run(self, ctx: StageContext) -> None:
        from pyspark.sql import functions as F

        from lmdata.ingest.manifest import read_listing, select_slice
        from lmdata.ingest.records import IngestOptions
        from lmdata.ingest.sources import join_uri
        from lmdata.spark.io import spark_schema, write_delta

        cfg = ctx.params.ingest_cc
        crawl, source, fmt, index, count, limit = self._resolve(ctx)
        label = slice_label(index, count)
        bronze = ctx.table(delta.BRONZE_WEB)
        quarantine = ctx.table(delta.QUARANTINE)
        app_id = self.app_id(ctx)
        ctx.stats.counters["slice_index"], ctx.stats.counters["slice_count"] = index, count
        # Done = both commits hold the app id (bronze first, quarantine second: see below).
        bronze_done = delta.committed(bronze, app_id) is not None
        if bronze_done and delta.committed(quarantine, app_id) is not None:
            ctx.already_committed(bronze, app_id, delta.BRONZE_WEB)
            return
        src_opts = source_options(cfg)
        listing_fmt = "wet" if fmt == "auto" else fmt
        paths = read_listing(source, crawl, listing_fmt, src_opts)
        if not paths:
            raise FatalError(f"the {listing_fmt} listing of {crawl} under {source} is empty")
        chosen = select_slice(paths, index, count, limit)
        uris = [join_uri(source, p) for p in chosen]
        ctx.stats.counters["files_listed"] = len(paths)
        ctx.stats.counters["files_selected"] = len(uris)
        ingest_opts = IngestOptions(
            crawl=crawl,
            fmt=fmt,
            run_id=ctx.run_id,
            slice=label,
            max_record_bytes=cfg.max_record_bytes,
        )
        # The executors' per-file side outputs (rejects, counters): a fresh directory per app id.
        side_dir = (
            f"{ctx.lake.rstrip('/')}/{STAGING}/{STAGE}/{hashlib.sha1(app_id.encode()).hexdigest()}"
        )
        fs, root = _side_fs(side_dir)
        fs.delete_dir_contents(root, missing_dir_ok=True)
        fs.create_dir(root)
        spark = ctx.spark
        what = f"ingest {len(uris)} {fmt} files of {crawl} slice {label}"
        if not bronze_done:
            ctx.job_group(f"{what} into {delta.BRONZE_WEB} partition crawl={crawl} slice={label}")
        else:  # see below: bronze holds this run, the quarantine does not
            ctx.job_group(f"{what} again for its quarantine rows (bronze holds this run)")
        ntasks = max(1, (len(uris) + cfg.files_per_task - 1) // cfg.files_per_task)
        files_df = spark.createDataFrame([(u,) for u in uris], "uri string").repartition(ntasks)
        env = lake_env()
        docs = files_df.mapInArrow(
            lambda it: _ingest_partition(it, ingest_opts, src_opts, side_dir, env),
            spark_schema(_DOC_SCHEMA),
        )

        docs = docs.withColumn("crawl", F.lit(crawl)).withColumn("slice", F.lit(label))
        # ONE pass: the job that ingests the files writes bronze; the side outputs come back
        # through the side files. Bronze commits first, quarantine second, and a run is done
        # only when both hold the app id: a job killed before the bronze commit leaves every
        # table at its previous version and the retry redoes the slice; one killed between the
        # commits is retried with bronze skipped (Delta app id) and the slice re-read for its
        # side outputs only (a `noop` write), so the quarantine rows still arrive.
        if not bronze_done:
            res = write_delta(
                docs,
                bronze,
                mode="overwrite",
                partition_by=["crawl", "slice"],
                overwrite_partitions={"crawl": crawl, "slice": label},
                app_id=app_id,
                metadata={
                    "lmdata.stage": STAGE,
                    "lmdata.crawl": crawl,
                    "lmdata.slice": label,
                    "lmdata.source": source,
                    "lmdata.files": len(uris),
                },
            )
        else:
            docs.write.format("noop").mode("overwrite").save()
            res = None
        rejects, counters = read_side_outputs(ctx, side_dir, uris)
        write_quarantine(ctx, rejects, STAGE, crawl, label, app_id)
        fs.delete_dir(root)
        ctx.stats.rows_in = int(counters.get("records_seen", 0))
        if res is not None:
            ctx.stats.rows_out = res.rows
            ctx.stats.tables[delta.BRONZE_WEB] = res.version
        else:
            ctx.stats.rows_out = int(counters.get("docs", 0))
            ctx.stats.tables[delta.BRONZE_WEB] = delta.current_version(bronze)
