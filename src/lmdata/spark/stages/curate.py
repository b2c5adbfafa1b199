"""Stage `curate`: bronze -> silver/<source>_attributes (every score + first drop reason of every
document) and silver/<source>_documents (kept documents, text after the filters' transforms).

Score first, decide later (dolma taggers/mixer, NeMo Curator score/keep split): scoring runs once
per document; `--redecide` re-applies the thresholds of params.yaml to the stored scores without
rescoring, and rebuilds the kept table (only text transforms run for newly kept documents).

Incremental: a run scores only bronze documents whose doc_id is not yet in the attributes table,
so scheduled runs after each ingest do only new work; `--rescore` starts over.
Filters run Arrow-batched in Python workers (mapInArrow); the pipeline (and any model it loads)
is built once per worker process from the config, never pickled from the driver.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import pyarrow as pa

from lmdata.errors import ConfigError
from lmdata.lake import delta
from lmdata.spark.job import Stage, StageContext

TABLES = {
    "web": (delta.BRONZE_WEB, "silver/web_attributes", "silver/web_documents"),
    "code": ("bronze/code_files", "silver/code_attributes", "silver/code_files"),
}
# per source: the identifying columns carried into the attributes table, and the partitioning
CARRY = {
    "web": (["doc_id", "crawl", "source", "url"], ["crawl"]),
    "code": (
        ["doc_id", "repo_key", "repo_id", "path", "language", "repo_license", "license_class"],
        ["repo_key"],
    ),
}
_PIPELINES: dict[str, Any] = {}  # per Python worker: config json -> FilterPipeline


def score_column(key: str) -> str:
    return key.replace(".", "__")


def _pipeline(cfg_json: str):
    p = _PIPELINES.get(cfg_json)
    if p is None:
        from lmdata.filters.base import FilterPipeline

        cfg = json.loads(cfg_json)
        p = FilterPipeline.from_config(cfg["pipeline"], chain_transforms=cfg["chain_transforms"])
        _PIPELINES[cfg_json] = p
    return p


def _score_batches(batches, cfg_json: str, out_schema: pa.Schema):
    """mapInArrow body: bronze rows -> same rows with transformed text + scores + drop reason."""
    pipeline = _pipeline(cfg_json)
    keys = pipeline.score_keys()
    label_keys = pipeline.label_keys()
    for batch in batches:
        cols = {n: batch.column(n) for n in batch.schema.names}
        texts = cols["text"].to_pylist()
        meta_cols = [n for n in ("path", "language", "license_class", "repo_license") if n in cols]
        metas = (
            pa.Table.from_arrays([cols[n] for n in meta_cols], names=meta_cols).to_pylist()
            if meta_cols
            else [None] * batch.num_rows
        )
        scores = {score_column(k): [] for k in keys}
        reasons, out_text, labels = [], [], {}
        for res in pipeline.apply_batch([t or "" for t in texts], metas):
            for k in keys:
                scores[score_column(k)].append(float(res.scores.get(k, float("nan"))))
            reasons.append(res.reason)
            out_text.append(res.text)
            for lk in label_keys:
                labels.setdefault(score_column(lk), []).append(res.labels.get(lk))
        arrays = []
        for f in out_schema:
            if f.name == "text":
                arrays.append(pa.array(out_text, pa.string()))
            elif f.name == "drop_reason":
                arrays.append(pa.array(reasons, pa.string()))
            elif f.name in scores:
                arrays.append(pa.array(scores[f.name], pa.float64()))
            elif f.name in labels:
                arrays.append(pa.array(labels[f.name], f.type))
            else:
                arrays.append(cols[f.name] if f.name in cols else pa.nulls(batch.num_rows, f.type))
        yield pa.RecordBatch.from_arrays(arrays, schema=out_schema)


def _decide_batches(batches, cfg_json: str):
    """mapInArrow body for --redecide: stored scores -> drop reason under the current thresholds."""
    pipeline = _pipeline(cfg_json)
    keys = pipeline.score_keys()
    for batch in batches:
        cols = {k: batch.column(score_column(k)).to_pylist() for k in keys}
        reasons = [pipeline.decide({k: cols[k][i] for k in keys}) for i in range(batch.num_rows)]
        yield pa.RecordBatch.from_arrays(
            [batch.column("doc_id"), pa.array(reasons, pa.string())],
            names=["doc_id", "drop_reason"],
        )


def _transform_batches(batches, cfg_json: str):
    """Text transforms only (C4 line removal, PII redaction): for newly kept documents."""
    pipeline = _pipeline(cfg_json)
    for batch in batches:
        texts = batch.column("text").to_pylist()
        out = []
        for t in texts:
            t = t or ""
            for f in pipeline.filters:
                t = f.transform(t)
            out.append(t)
        i = batch.schema.get_field_index("text")
        yield batch.set_column(i, "text", pa.array(out, pa.string()))


class CurateStage(Stage):
    name = "curate"
    description = (
        "Score bronze documents with the filter pipeline, decide, write attributes + kept."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--source", choices=sorted(TABLES), default="web")
        parser.add_argument(
            "--redecide",
            action="store_true",
            help="re-apply params.yaml thresholds to stored scores (no rescoring)",
        )
        parser.add_argument(
            "--rescore",
            action="store_true",
            help="score every bronze document again (replaces both tables)",
        )
        parser.add_argument("--bronze-version", type=int, default=None)

    def app_id(self, ctx: StageContext) -> str:
        mode = "redecide" if ctx.args.redecide else "score"
        return f"lmdata:{self.name}:{ctx.args.source}:{mode}:{ctx.run_id}"

    def _cfg_json(self, ctx: StageContext) -> str:
        cfg = getattr(ctx.params.curate, ctx.args.source)
        return json.dumps(
            {"pipeline": cfg.pipeline, "chain_transforms": cfg.chain_transforms}, sort_keys=False
        )

    def run(self, ctx: StageContext) -> None:
        if ctx.args.redecide and ctx.args.rescore:
            raise ConfigError("--redecide and --rescore exclude each other")
        bronze, attrs, kept = (ctx.table(t) for t in TABLES[ctx.args.source])
        app_id = self.app_id(ctx)
        if delta.committed(kept, app_id) is not None:
            ctx.stats.status = "skipped"
            return
        if ctx.args.redecide:
            self._redecide(ctx, bronze, attrs, kept, app_id)
        else:
            self._score(ctx, bronze, attrs, kept, app_id)

    # ------------------------------------------------------------------ scoring
    def _score(self, ctx, bronze, attrs, kept, app_id) -> None:
        from pyspark.sql import functions as F

        from lmdata.spark.io import read_delta, spark_schema, to_arrow_schema, write_delta

        cfg_json = self._cfg_json(ctx)
        pipeline = _pipeline(cfg_json)  # validates on the driver too
        carry, pcols = CARRY[ctx.args.source]
        ctx.job_group(f"read {TABLES[ctx.args.source][0]}")
        df, bver = read_delta(ctx.spark, bronze, ctx.args.bronze_version)
        ctx.stats.inputs[TABLES[ctx.args.source][0]] = bver
        incremental = not ctx.args.rescore and delta.exists(attrs)
        if incremental:
            done, _ = read_delta(ctx.spark, attrs)
            done = done.where(F.col("curate_run_id") != F.lit(ctx.run_id))
            df = df.join(done.select("doc_id"), "doc_id", "left_anti")
        in_schema = to_arrow_schema(df.schema)
        score_fields = [pa.field(score_column(k), pa.float64()) for k in pipeline.score_keys()]
        label_fields = [pa.field(score_column(k), pa.string()) for k in pipeline.label_keys()]
        out_schema = pa.schema(
            list(in_schema) + label_fields + score_fields + [pa.field("drop_reason", pa.string())]
        )
        ctx.job_group(f"score {len(pipeline.names)} filters: {', '.join(pipeline.names)}")
        scored = (
            df.mapInArrow(
                lambda it: _score_batches(it, cfg_json, out_schema), spark_schema(out_schema)
            )
            .withColumn("curate_run_id", F.lit(ctx.run_id))
            .persist()
        )
        counts = scored.groupBy("drop_reason").count().collect()
        ctx.stats.rows_in = sum(r["count"] for r in counts)
        for r in counts:
            if r["drop_reason"] is not None:
                ctx.stats.dropped[r["drop_reason"]] += r["count"]
        ctx.stats.rows_out = sum(r["count"] for r in counts if r["drop_reason"] is None)
        for lf in label_fields:  # per-language (per-label) rows in / kept, for the report
            by = (
                scored.groupBy(lf.name)
                .agg(
                    F.count("*").alias("n"),
                    F.count(F.when(F.col("drop_reason").isNull(), 1)).alias("k"),
                )
                .collect()
            )
            for r in by:
                ctx.stats.counters[f"{lf.name}={r[lf.name]}:in"] += r["n"]
                ctx.stats.counters[f"{lf.name}={r[lf.name]}:kept"] += r["k"]
        attr_cols = (
            [*carry, "curate_run_id"]
            + [f.name for f in label_fields + score_fields]
            + ["drop_reason"]
        )
        mode = "append" if incremental else "overwrite"
        meta = {
            "lmdata.stage": self.name,
            "lmdata.input.bronze_version": bver,
            "lmdata.filters": cfg_json,
        }
        ctx.job_group(f"write {TABLES[ctx.args.source][1]}")
        # Attributes first, kept second: the kept table's app id is the run's completion marker
        # (checked at the start). A retry after a crash between the two commits recomputes the
        # same batch (this run's own attribute rows do not count as done), skips the attributes
        # write by its app id and writes the kept table.
        res_a = write_delta(
            scored.select(*attr_cols),
            attrs,
            mode=mode,
            partition_by=pcols,
            app_id=app_id,
            metadata=meta,
        )
        ctx.job_group(f"write {TABLES[ctx.args.source][2]}")
        res_k = write_delta(
            scored.where(F.col("drop_reason").isNull()).select(*in_schema.names),
            kept,
            mode=mode,
            partition_by=pcols,
            app_id=app_id,
            metadata=meta,
        )
        scored.unpersist()
        ctx.stats.tables[TABLES[ctx.args.source][1]] = res_a.version
        ctx.stats.tables[TABLES[ctx.args.source][2]] = res_k.version
        ctx.stats.counters["incremental"] = int(incremental)

    # ------------------------------------------------------------------ re-deciding
    def _redecide(self, ctx, bronze, attrs, kept, app_id) -> None:
        from pyspark.sql import functions as F

        from lmdata.spark.io import read_delta, write_delta

        cfg_json = self._cfg_json(ctx)
        pipeline = _pipeline(cfg_json)
        if not delta.exists(attrs):
            raise ConfigError(f"--redecide needs scores: {attrs} does not exist (run curate first)")
        a, aver = read_delta(ctx.spark, attrs)
        missing = [
            score_column(k) for k in pipeline.score_keys() if score_column(k) not in a.columns
        ]
        if missing:
            raise ConfigError(
                f"--redecide: the stored scores lack {missing}; the pipeline changed "
                "filters, run curate --rescore"
            )
        ctx.stats.inputs[TABLES[ctx.args.source][1]] = aver
        ctx.job_group("re-decide from stored scores")
        decided = a.select("doc_id", *[score_column(k) for k in pipeline.score_keys()]).mapInArrow(
            lambda it: _decide_batches(it, cfg_json), "doc_id string, drop_reason string"
        )
        new_attrs = a.drop("drop_reason").join(decided, "doc_id").select(*a.columns).persist()
        counts = new_attrs.groupBy("drop_reason").count().collect()
        ctx.stats.rows_in = sum(r["count"] for r in counts)
        for r in counts:
            if r["drop_reason"] is not None:
                ctx.stats.dropped[r["drop_reason"]] += r["count"]
        keep_ids = new_attrs.where(F.col("drop_reason").isNull()).select("doc_id")
        old_kept, _ = read_delta(ctx.spark, kept)
        still = old_kept.join(keep_ids, "doc_id", "left_semi")
        newly_ids = keep_ids.join(old_kept.select("doc_id"), "doc_id", "left_anti")
        b, bver = read_delta(ctx.spark, bronze)
        newly = b.join(newly_ids, "doc_id", "left_semi").select(*old_kept.columns)
        newly = newly.mapInArrow(lambda it: _transform_batches(it, cfg_json), newly.schema)
        new_kept = still.unionByName(newly).persist()
        ctx.stats.rows_out = new_kept.count()
        ctx.stats.counters["newly_kept"] = newly.count()
        meta = {
            "lmdata.stage": self.name,
            "lmdata.redecide": True,
            "lmdata.filters": cfg_json,
            "lmdata.input.attributes_version": aver,
            "lmdata.input.bronze_version": bver,
        }
        res_a = write_delta(
            new_attrs,
            attrs,
            mode="overwrite",
            partition_by=CARRY[ctx.args.source][1],
            app_id=app_id,
            metadata=meta,
        )
        res_k = write_delta(
            new_kept,
            kept,
            mode="overwrite",
            partition_by=CARRY[ctx.args.source][1],
            app_id=app_id,
            metadata=meta,
        )
        new_attrs.unpersist()
        new_kept.unpersist()
        ctx.stats.tables[TABLES[ctx.args.source][1]] = res_a.version
        ctx.stats.tables[TABLES[ctx.args.source][2]] = res_k.version
