"""Stage `ingest-docs`: existing JSONL / Parquet corpora -> bronze/web_documents.

Driver: list the inputs (files, local folders, s3:// prefixes, https:// files), pick the
deterministic slice of the file list (sha1 of the URI, as ingest-cc slices a crawl listing) and
hand the files to the executors. Executors stream each file (never via the driver) through
lmdata.ingest.docs.ingest_docs_uri: document rows + quarantine rows; nothing raises for bad
input. The driver replaces the (dataset, slice) partition of quarantine/rejected_inputs and of
the bronze table (`crawl` = the dataset name), each in one Delta transaction, idempotent by run:
a re-run of the same slice replaces it, so nothing is appended twice.
"""

from __future__ import annotations

import argparse

from lmdata.document import WEB_DOCUMENT_SCHEMA
from lmdata.errors import ConfigError, FatalError
from lmdata.spark.job import Stage, StageContext
from lmdata.spark.stages.ingest_cc import (
    _OUT_SCHEMA,
    collect_side_outputs,
    ingest_partition,
    resolve_slice,
    slice_label,
    source_options,
    write_quarantine,
)

STAGE = "ingest-docs"


def _docs_partition(batches, opts, source_opts):
    """mapInArrow body: rows (uri, rel) -> Arrow batches of the ingest output schema."""
    from lmdata.ingest.docs import ingest_docs_uri

    def ingest(file: dict, counters):
        return ingest_docs_uri(file["uri"], file["rel"], opts, source_opts, counters=counters)

    yield from ingest_partition(batches, ingest)


class IngestDocsStage(Stage):
    name = STAGE
    description = (
        "Ingest existing JSONL (plain/.gz/.zst) and Parquet corpora (dolma, RedPajama-V2, "
        "FineWeb, HF exports) into bronze/web_documents."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--input",
            dest="inputs",
            action="append",
            default=None,
            help="file or folder: local, s3://bucket/prefix, https://... (repeatable; "
            "default: params ingest_docs.inputs)",
        )
        parser.add_argument("--dataset", default=None, help="corpus name: the rows' crawl value")
        parser.add_argument(
            "--preset", choices=["dolma", "redpajama_v2", "fineweb", "hf"], default=None
        )
        parser.add_argument("--format", dest="fmt", choices=["auto", "jsonl", "parquet"])
        parser.add_argument("--table", default=None, help="bronze table (default: params)")
        parser.add_argument("--slice", dest="slice_", default=None, help="i/n (0-based)")
        parser.add_argument(
            "--logical-date", default=None, help="YYYY-MM-DD: pick the slice for this date"
        )
        parser.add_argument("--limit", type=int, default=None, help="first N files of the slice")

    def _resolve(self, ctx: StageContext):
        from pydantic import ValidationError

        from lmdata.config import IngestDocsConfig

        a = ctx.args
        overrides = {
            k: v
            for k, v in {
                "inputs": a.inputs,
                "dataset": a.dataset,
                "preset": a.preset,
                "format": a.fmt,
                "table": a.table,
                "limit": a.limit,
            }.items()
            if v is not None
        }
        try:  # the same validation as params.yaml for the command-line values
            cfg = IngestDocsConfig.model_validate(
                {**ctx.params.ingest_docs.model_dump(), **overrides}
            )
        except ValidationError as e:
            raise ConfigError(f"ingest-docs arguments: {e}") from None
        index, count = resolve_slice(a, cfg.slices, cfg.slice_start_date)
        return cfg, index, count

    def app_id(self, ctx: StageContext) -> str:
        cfg, index, count = self._resolve(ctx)
        label = slice_label(index, count)
        return f"lmdata:{self.name}:{cfg.table}:{cfg.dataset}:{label}:{ctx.run_id}"

    def run(self, ctx: StageContext) -> None:
        from pyspark.sql import functions as F

        from lmdata.ingest.docs import DocsOptions, list_inputs, resolve_columns
        from lmdata.ingest.manifest import select_slice
        from lmdata.spark.io import spark_schema, write_delta

        cfg, index, count = self._resolve(ctx)
        label = slice_label(index, count)
        if not cfg.inputs:
            raise ConfigError("ingest-docs: no inputs (--input or params ingest_docs.inputs)")
        bronze = ctx.table(cfg.table)
        app_id = self.app_id(ctx)
        ctx.stats.counters["slice_index"], ctx.stats.counters["slice_count"] = index, count
        if ctx.already_committed(bronze, app_id, cfg.table):
            return
        src_opts = source_options(cfg)
        files = list_inputs(cfg.inputs, src_opts)
        if not files:
            raise FatalError(f"ingest-docs: no JSONL/Parquet files under {cfg.inputs}")
        rel_of = dict(files)
        chosen = select_slice(list(rel_of), index, count, cfg.limit)
        ctx.stats.counters["files_listed"] = len(files)
        ctx.stats.counters["files_selected"] = len(chosen)
        opts = DocsOptions(
            dataset=cfg.dataset,
            columns=resolve_columns(cfg.preset, cfg.columns.model_dump()),
            fmt=cfg.format,
            run_id=ctx.run_id,
            slice=label,
            min_text_chars=cfg.min_text_chars,
            max_record_bytes=cfg.max_record_bytes,
        )
        spark = ctx.spark
        ctx.job_group(f"ingest {len(chosen)} files of {cfg.dataset} slice {label}")
        ntasks = max(1, (len(chosen) + cfg.files_per_task - 1) // cfg.files_per_task)
        files_df = spark.createDataFrame(
            [(u, rel_of[u]) for u in chosen], "uri string, rel string"
        ).repartition(ntasks)
        out = files_df.mapInArrow(
            lambda it: _docs_partition(it, opts, src_opts), spark_schema(_OUT_SCHEMA)
        ).persist()
        rejects, counters = collect_side_outputs(ctx, out)
        # Quarantine first: on a retry after a crash between the two commits, bronze (the
        # completion marker) is still missing and the whole slice is redone.
        write_quarantine(ctx, rejects, STAGE, cfg.dataset, label, app_id)
        docs = out.where(F.col("_kind") == "doc").select(*WEB_DOCUMENT_SCHEMA.names)
        # One row per doc_id in the partition (bronze's unique-id gate): the same source id in
        # two files of a corpus (a copied shard, an overlapping export) is one document.
        docs = docs.dropDuplicates(["doc_id"])
        ctx.job_group(f"write {cfg.table} partition crawl={cfg.dataset} slice={label}")
        res = write_delta(
            docs,
            bronze,
            mode="overwrite",
            partition_by=["crawl", "slice"],
            overwrite_partitions={"crawl": cfg.dataset, "slice": label},
            app_id=app_id,
            metadata={
                "lmdata.stage": STAGE,
                "lmdata.dataset": cfg.dataset,
                "lmdata.slice": label,
                "lmdata.preset": cfg.preset or "",
                "lmdata.inputs": ",".join(cfg.inputs),
                "lmdata.files": len(chosen),
            },
        )
        out.unpersist()
        ctx.stats.counters["duplicate_doc_ids"] = int(counters.get("docs", 0)) - res.rows
        ctx.stats.rows_in = int(counters.get("records_seen", 0))
        ctx.stats.rows_out = res.rows
        ctx.stats.tables[cfg.table] = res.version
