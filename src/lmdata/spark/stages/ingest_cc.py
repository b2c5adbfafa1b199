"""Stage `ingest-cc`: one deterministic slice of a Common Crawl listing -> bronze/web_documents.

Driver: read the crawl's path listing (S3 / HTTPS / local dir laid out like the bucket), pick the
slice, and hand the file URIs to the executors. Executors stream each file (never via the
driver) through lmdata.ingest.records.ingest_uri, which turns bytes into document rows and
quarantine rows; nothing raises for bad input. The driver then replaces the slice's partition of
bronze and of quarantine/rejected_inputs, each in one Delta transaction, idempotent by run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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


def slice_label(index: int, count: int) -> str:
    return f"{index}-of-{count}"


def _ingest_partition(batches, ingest_opts, source_opts):
    """mapInArrow body: each input batch holds file URIs; yield Arrow batches of _OUT_SCHEMA."""
    from lmdata.ingest.records import ingest_uri

    def ingest(file: dict, counters: Counter):
        return ingest_uri(file["uri"], ingest_opts, source_opts, counters=counters)

    yield from ingest_partition(batches, ingest)


def ingest_partition(batches, ingest, out_schema: pa.Schema = _OUT_SCHEMA):
    """mapInArrow body of the ingest stages: each input row names a file; ``ingest(row,
    counters)`` yields its ("doc", row) / ("reject", row) items. Yields Arrow batches of
    ``out_schema``: documents, rejects (JSON payload) and one per-file counters row."""
    names = [n for n in out_schema.names if not n.startswith("_")]
    buf: list[dict] = []

    def flush():
        nonlocal buf
        if buf:
            yield pa.RecordBatch.from_pylist(buf, schema=out_schema)
            buf = []

    for batch in batches:
        for file in batch.to_pylist():
            counters: Counter = Counter()
            for kind, row in ingest(file, counters):
                if kind == "doc":
                    out = {n: row.get(n) for n in names}
                    out["_kind"], out["_payload"] = "doc", None
                else:
                    out = {n: None for n in names}
                    out["_kind"], out["_payload"] = "reject", json.dumps(row, default=str)
                buf.append(out)
                if len(buf) >= 500:
                    yield from flush()
            stat = {n: None for n in names}
            stat["_kind"] = "stats"
            stat["_payload"] = json.dumps({"uri": file["uri"], "counters": dict(counters)})
            buf.append(stat)
    yield from flush()


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
    for k, v in counters.items():
        if k.startswith("rejected:"):
            ctx.stats.quarantined[k.split(":", 1)[1]] += v
        elif k == "bytes_read":
            ctx.stats.bytes_in += v
        else:
            ctx.stats.counters[k] += v
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
        from lmdata.ingest.manifest import read_listing, select_slice
        from lmdata.ingest.records import IngestOptions
        from lmdata.ingest.sources import join_uri
        from lmdata.spark.io import spark_schema, write_delta

        cfg = ctx.params.ingest_cc
        crawl, source, fmt, index, count, limit = self._resolve(ctx)
        label = slice_label(index, count)
        bronze = ctx.table(delta.BRONZE_WEB)
        app_id = self.app_id(ctx)
        ctx.stats.counters["slice_index"], ctx.stats.counters["slice_count"] = index, count
        if ctx.already_committed(bronze, app_id, delta.BRONZE_WEB):
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
        spark = ctx.spark
        ctx.job_group(f"ingest {len(uris)} {fmt} files of {crawl} slice {label}")
        ntasks = max(1, (len(uris) + cfg.files_per_task - 1) // cfg.files_per_task)
        files_df = spark.createDataFrame([(u,) for u in uris], "uri string").repartition(ntasks)
        out = files_df.mapInArrow(
            lambda it: _ingest_partition(it, ingest_opts, src_opts), spark_schema(_OUT_SCHEMA)
        ).persist()
        from pyspark.sql import functions as F

        rejects, counters = collect_side_outputs(ctx, out)
        # Quarantine first: on a retry after a crash between the two commits, bronze (the
        # completion marker) is still missing and the whole slice is redone.
        write_quarantine(ctx, rejects, STAGE, crawl, label, app_id)
        docs = out.where(F.col("_kind") == "doc").select(*WEB_DOCUMENT_SCHEMA.names)
        docs = docs.withColumn("crawl", F.lit(crawl)).withColumn("slice", F.lit(label))
        ctx.job_group(f"write {delta.BRONZE_WEB} partition crawl={crawl} slice={label}")
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
        out.unpersist()
        ctx.stats.rows_in = int(counters.get("records_seen", 0))
        ctx.stats.rows_out = res.rows
        ctx.stats.tables[delta.BRONZE_WEB] = res.version
