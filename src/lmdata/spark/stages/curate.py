"""Stage `curate`: bronze -> silver/<source>_attributes (every score + first drop reason of every
document) and silver/<source>_documents (kept documents, text after the filters' transforms).

Score first, decide later (dolma taggers/mixer, NeMo Curator score/keep split): scoring runs once
per document; `--redecide` re-applies the thresholds of params.yaml to the stored scores without
rescoring, and rebuilds the kept table (only text transforms run for newly kept documents).

Incremental: a run scores only bronze documents whose doc_id is not yet in the attributes table,
so scheduled runs after each ingest do only new work; `--rescore` starts over.
Filters run Arrow-batched in Python workers (mapInArrow); the pipeline (and any model it loads)
is built once per worker process from the config, never pickled from the driver.

Before scoring, three text steps (each configurable in params.yaml curate.<source>, null = off):
1. normalize (lmdata.filters.normalize): attributes ``text_sha256_orig`` (bronze text, for
   lineage), ``norm_changes`` (JSON {kind: edits}) and ``norm_edits``;
2. repeated_lines (web only, lmdata.dedup.lines): lines in >= min_docs documents of the batch's
   crawl are removed (hash counts in Spark); attributes ``repeated_lines_removed`` / ``_bytes`` /
   ``_idx`` (the removed line positions, so --redecide rebuilds the same text); a document
   emptied by it is dropped as ``repeated_lines``; stats counters ``repeated_lines:lines_removed``
   (``:bytes_removed``, ``:docs_dropped``, ``:docs_with_removals``) and ``repeated_lines_top``
   (``[[line, documents], ...]`` of the most frequent removed lines, for the HTML report);
3. decontam (lmdata.filters.decontam): benchmark n-gram hashes broadcast to the workers;
   attributes ``decontam_benchmark`` / ``decontam_ngram`` / ``decontam_matches``; action drop
   gives the reason ``decontam:<benchmark>`` (re-decided from the stored match).

After the decision (web only, lmdata.dedup.paragraphs): paragraph dedup across batches on the
kept documents' text; the first occurrence (earlier published batches via the state table
``silver/paragraph_hashes``, else the smallest (doc_id, paragraph index) of the batch) is kept,
later copies removed; attributes ``paragraph_dedup_removed`` / ``_bytes`` / ``_idx`` /
``_first`` (doc_id of the first occurrence of the first removed paragraph); a document left
shorter than ``min_doc_chars`` is dropped as ``paragraph_dedup:too_short``; stats counters
``paragraph_dedup:*`` and ``paragraph_dedup_top``. ``--redecide`` applies the stored indexes
(or, with ``paragraph_dedup: null``, restores the removed paragraphs) without hashing again.
Then exact-substring dedup within shards (lmdata.dedup.substrings, lmdata.spark.subdoc): spans
of >= min_bytes repeated inside a shard, later copies removed; attributes
``substring_dedup_spans`` / ``_bytes``; reason ``substring_dedup:too_short``; the same --redecide
rules.
"""

from __future__ import annotations

import argparse
import functools
import json
from typing import Any

import pyarrow as pa

from lmdata.errors import ConfigError
from lmdata.lake import delta
from lmdata.spark.connect import is_connect
from lmdata.spark.job import Stage, StageContext
from lmdata.spark.subdoc import (
    PARAGRAPH_HASHES,
    PD_FIELDS,
    SD_FIELDS,
    paragraph_dedup,
    paragraph_stats,
    record_top,
    substring_dedup,
    substring_stats,
)

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


NORM_FIELDS = [
    pa.field("text_sha256_orig", pa.string()),
    pa.field("norm_changes", pa.string()),
    pa.field("norm_edits", pa.int64()),
]
RL_FIELDS = [
    pa.field("repeated_lines_removed", pa.int64()),
    pa.field("repeated_lines_bytes", pa.int64()),
    pa.field("repeated_lines_idx", pa.list_(pa.int32())),
]
DECONTAM_FIELDS = [
    pa.field("decontam_benchmark", pa.string()),
    pa.field("decontam_ngram", pa.string()),
    pa.field("decontam_matches", pa.int64()),
]
LINE_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string()),
        pa.field("crawl", pa.string()),
        pa.field("idx", pa.int32()),
        pa.field("h", pa.int64()),
        pa.field("nbytes", pa.int64()),
        pa.field("first", pa.bool_()),
        pa.field("line", pa.string()),
    ]
)


def _pipeline(cfg_json: str):
    p = _PIPELINES.get(cfg_json)
    if p is None:
        from lmdata.filters.base import FilterPipeline

        cfg = json.loads(cfg_json)
        p = FilterPipeline.from_config(
            cfg["pipeline"],
            chain_transforms=cfg["chain_transforms"],
            languages=cfg.get("languages"),
        )
        _PIPELINES[cfg_json] = p
    return p


def _normalize_batches(batches, cfg_json: str, out_schema: pa.Schema):
    """mapInArrow body: bronze rows -> normalized text + original text hash + change counts."""
    from lmdata.filters.normalize import NormalizeOptions, normalize_counted, sha256_text

    ncfg = json.loads(cfg_json)["normalize"]
    opts = NormalizeOptions.from_mapping(ncfg) if ncfg is not None else None
    for batch in batches:
        cols = {n: batch.column(n) for n in batch.schema.names}
        texts, shas, changes, edits = [], [], [], []
        for t in cols["text"].to_pylist():
            t = t or ""
            shas.append(sha256_text(t))
            ch: dict[str, int] = {}
            if opts is not None:
                t, ch = normalize_counted(t, opts)
            texts.append(t)
            changes.append(json.dumps(ch, sort_keys=True) if ch else None)
            edits.append(sum(ch.values()))
        extra = {
            "text": pa.array(texts, pa.string()),
            "text_sha256_orig": pa.array(shas, pa.string()),
            "norm_changes": pa.array(changes, pa.string()),
            "norm_edits": pa.array(edits, pa.int64()),
        }
        arrays = [extra[f.name] if f.name in extra else cols[f.name] for f in out_schema]
        yield pa.RecordBatch.from_arrays(arrays, schema=out_schema)


def _line_batches(batches):
    """mapInArrow body: (doc_id, crawl, text) -> one row per non-blank line with its hash."""
    from lmdata.dedup.lines import SAMPLE_CHARS, iter_lines

    for batch in batches:
        out: dict[str, list] = {f.name: [] for f in LINE_SCHEMA}
        ids, crawls = batch.column("doc_id").to_pylist(), batch.column("crawl").to_pylist()
        for doc_id, crawl, text in zip(ids, crawls, batch.column("text").to_pylist(), strict=True):
            for i, h, nbytes, first, line in iter_lines(text or ""):
                out["doc_id"].append(doc_id)
                out["crawl"].append(crawl or "")
                out["idx"].append(i)
                out["h"].append(h)
                out["nbytes"].append(nbytes)
                out["first"].append(first)
                out["line"].append(line.strip()[:SAMPLE_CHARS])
        yield pa.RecordBatch.from_pydict(out, schema=LINE_SCHEMA)


class _IndexOnWorker:
    """The decontamination index where a broadcast variable cannot carry it (Spark Connect):
    each Python worker builds it from its config once and keeps it (`_worker_index`); the
    benchmark files must then be readable where the workers run, like every other input."""

    def __init__(self, cfg_json: str) -> None:
        self.cfg_json = cfg_json

    @property
    def value(self):
        return _worker_index(self.cfg_json)

    def unpersist(self) -> None:
        pass


@functools.lru_cache(maxsize=2)
def _worker_index(cfg_json: str):
    from lmdata.filters.decontam import build_index

    return build_index(json.loads(cfg_json))


def _score_batches(batches, cfg_json: str, out_schema: pa.Schema, index_bc=None):
    """mapInArrow body: normalized rows -> repeated lines removed, decontamination, transformed
    text + scores + drop reason."""
    from lmdata.dedup import lines as rl

    cfg = json.loads(cfg_json)
    rl_cfg, dc_cfg = cfg["repeated_lines"], cfg["decontam"]
    index = index_bc.value if index_bc is not None else None
    pipeline = _pipeline(cfg_json)
    keys = pipeline.score_keys()
    label_keys = pipeline.label_keys()
    for batch in batches:
        cols = {n: batch.column(n) for n in batch.schema.names}
        texts = [t or "" for t in cols["text"].to_pylist()]
        n = batch.num_rows
        stage_reasons: list[str | None] = [None] * n
        extra: dict[str, list] = {f.name: [None] * n for f in RL_FIELDS + DECONTAM_FIELDS}
        if rl_cfg is not None:
            idxs = cols["repeated_lines_idx"].to_pylist()
            nrem = cols["repeated_lines_removed"].to_pylist()
            nbytes = cols["repeated_lines_bytes"].to_pylist()
            for i in range(n):
                extra["repeated_lines_idx"][i] = sorted(idxs[i]) if idxs[i] else None
                extra["repeated_lines_removed"][i] = nrem[i] or 0
                extra["repeated_lines_bytes"][i] = nbytes[i] or 0
                if idxs[i]:
                    texts[i] = rl.remove_lines(texts[i], idxs[i])
                    if rl.emptied(texts[i], rl_cfg):
                        stage_reasons[i] = rl.REASON
        if index is not None:
            for i, t in enumerate(texts):
                m = index.match(t)
                if m is not None:
                    extra["decontam_benchmark"][i] = m.benchmark
                    extra["decontam_ngram"][i] = m.ngram
                    extra["decontam_matches"][i] = m.count
                    if stage_reasons[i] is None:
                        stage_reasons[i] = _decontam_reason(m.benchmark, m.count, dc_cfg)
                else:
                    extra["decontam_matches"][i] = 0
        meta_cols = [
            n for n in ("path", "language", "license_class", "repo_license", "url") if n in cols
        ]
        metas = (
            pa.Table.from_arrays([cols[n] for n in meta_cols], names=meta_cols).to_pylist()
            if meta_cols
            else [None] * n
        )
        scores = {score_column(k): [] for k in keys}
        reasons, out_text, labels = [], [], {}
        for i, res in enumerate(pipeline.apply_batch(texts, metas)):
            for k in keys:
                scores[score_column(k)].append(float(res.scores.get(k, float("nan"))))
            reasons.append(stage_reasons[i] or res.reason)
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
            elif f.name in extra:
                arrays.append(pa.array(extra[f.name], f.type))
            else:
                arrays.append(cols[f.name] if f.name in cols else pa.nulls(n, f.type))
        yield pa.RecordBatch.from_arrays(arrays, schema=out_schema)


def _decontam_reason(benchmark: str | None, matches: int | None, dc_cfg) -> str | None:
    from lmdata.filters.decontam import reason

    if (
        dc_cfg is None
        or not benchmark
        or dc_cfg.get("action") != "drop"
        or (matches or 0) < int(dc_cfg.get("min_matches", 1))
    ):
        return None
    return reason(benchmark)


def _decide_batches(batches, cfg_json: str, all_columns: bool = False):
    """mapInArrow body for --redecide: stored scores -> drop reason under the current thresholds.
    ``repeated_lines`` stays (the text is gone); decontamination is re-decided from the stored
    match under the current action. ``all_columns``: every column out, drop_reason replaced."""
    from lmdata.dedup.paragraphs import REASON as PD_REASON
    from lmdata.dedup.substrings import REASON as SD_REASON

    cfg = json.loads(cfg_json)
    pipeline = _pipeline(cfg_json)
    keys = pipeline.score_keys()
    for batch in batches:
        names = batch.schema.names
        # stored string attributes too (url_v1.matches names the entry of its drop reason)
        keys_here = keys + [k for k in pipeline.label_keys() if score_column(k) in names]
        cols = {k: batch.column(score_column(k)).to_pylist() for k in keys_here}
        old = batch.column("drop_reason").to_pylist()
        bench = (
            batch.column("decontam_benchmark").to_pylist()
            if "decontam_benchmark" in names
            else [None] * batch.num_rows
        )
        matches = (
            batch.column("decontam_matches").to_pylist()
            if "decontam_matches" in names
            else [None] * batch.num_rows
        )
        reasons = []
        for i in range(batch.num_rows):
            if (
                old[i] == "repeated_lines"
                or (old[i] == PD_REASON and cfg["paragraph_dedup"])
                or (old[i] == SD_REASON and cfg["substring_dedup"])
            ):
                reasons.append(old[i])  # a sub-document step off: re-decided from the scores
                continue
            r = _decontam_reason(bench[i], matches[i], cfg["decontam"])
            reasons.append(r or pipeline.decide({k: cols[k][i] for k in keys_here}))
        if all_columns:
            i = names.index("drop_reason")
            yield batch.set_column(i, "drop_reason", pa.array(reasons, pa.string()))
            continue
        yield pa.RecordBatch.from_arrays(
            [batch.column("doc_id"), pa.array(reasons, pa.string())],
            names=["doc_id", "drop_reason"],
        )


def _stored(batch, name: str) -> list:
    """A stored attribute column of ``batch`` (None per row when the table predates it)."""
    if name in batch.schema.names:
        return batch.column(name).to_pylist()
    return [None] * batch.num_rows


def _transform_batches(batches, cfg_json: str, out_schema: pa.Schema):
    """For newly kept documents (--redecide): bronze text -> normalization -> the stored removed
    lines -> the filters' text transforms (C4 line removal, PII redaction) -> the stored removed
    paragraphs (paragraph dedup on)."""
    from lmdata.dedup.lines import remove_lines
    from lmdata.dedup.substrings import remove_spans
    from lmdata.filters.normalize import NormalizeOptions, normalize
    from lmdata.lang import language_column

    cfg = json.loads(cfg_json)
    opts = NormalizeOptions.from_mapping(cfg["normalize"]) if cfg["normalize"] is not None else None
    pipeline = _pipeline(cfg_json)
    for batch in batches:
        texts = batch.column("text").to_pylist()
        names = batch.schema.names
        idxs = (
            batch.column("repeated_lines_idx").to_pylist()
            if "repeated_lines_idx" in names
            else [None] * batch.num_rows
        )
        pidxs = _stored(batch, "paragraph_dedup_idx")
        sspans = _stored(batch, "substring_dedup_spans")
        lang_col = language_column(names)
        langs = batch.column(lang_col).to_pylist() if lang_col else [None] * len(texts)
        out = []
        for t, idx, pidx, sspan, lang in zip(texts, idxs, pidxs, sspans, langs, strict=True):
            t = t or ""
            if opts is not None:
                t = normalize(t, opts)
            t = remove_lines(t, idx)
            t = pipeline.transform(t, lang)
            if cfg["paragraph_dedup"]:
                t = remove_lines(t, pidx)
            # the spans are offsets in the text after paragraph removal: only then valid
            if cfg["substring_dedup"] and (cfg["paragraph_dedup"] or not pidx):
                t = remove_spans(t, sspan)
            out.append(t)
        arrays = [
            pa.array(out, pa.string()) if f.name == "text" else batch.column(f.name)
            for f in out_schema
        ]
        yield pa.RecordBatch.from_arrays(arrays, schema=out_schema)


def _top_fraction_cuts(ctx, df, pipeline, cfg_json: str) -> str:
    """quality_model_v1's ``keep_top_fraction``: per language (the ``language`` column; one cut
    for all without recipes), the score above which that fraction of ``df``'s documents lies,
    applied as the language's ``min_score`` (lmdata.filters.quality_model.with_cuts). Returns
    the config JSON to decide with (unchanged without the rule); the cuts go to the stats."""
    from lmdata.filters.quality_model import QualityModelFilter, top_fraction, with_cuts

    cfg = json.loads(cfg_json)
    fraction = top_fraction(cfg["pipeline"])
    if fraction is None:
        return cfg_json
    from pyspark.sql import functions as F

    col = score_column(QualityModelFilter.key("score"))
    lang = "language" if pipeline.recipes and "language" in df.columns else None
    ctx.job_group(f"quality_model_v1: score cut for the top {fraction:.0%}")
    cut = F.percentile_approx(col, 1.0 - fraction, 10_000).alias("cut")
    rows = (df.groupBy(lang).agg(cut) if lang else df.agg(cut)).collect()
    cuts = {r[lang] if lang else None: float(r["cut"]) for r in rows if r["cut"] is not None}
    if lang:
        cuts.pop(None, None)  # documents without a language keep min_score
    for k, v in cuts.items():
        ctx.stats.counters[f"quality_model_v1:cut:{k or 'all'}"] = v
    return json.dumps(with_cuts(cfg, cuts, recipes=lang is not None))


def reason_family(reason: str) -> str:
    from lmdata.filters.url import reason_family as family

    return family(reason)


def _domain_stats(ctx, df, top: int = 20) -> None:
    """url_v1's ``domain`` attribute: distinct domains, and the top domains by kept and by
    dropped documents (``url_domains_top_kept`` / ``_dropped``: ``[[domain, documents], ...]``,
    shown by the HTML report). The per-domain counts of every domain are in the attributes."""
    if "domain" not in df.columns:
        return
    from pyspark.sql import functions as F

    ctx.job_group("url_v1: documents per domain")
    per = (
        df.groupBy("domain")
        .agg(
            F.count(F.when(F.col("drop_reason").isNull(), 1)).alias("kept"),
            F.count(F.when(F.col("drop_reason").isNotNull(), 1)).alias("dropped"),
        )
        .where(F.col("domain").isNotNull())
        .persist()
    )
    ctx.stats.counters["url_domains"] = per.count()
    for col in ("kept", "dropped"):
        rows = per.where(F.col(col) > 0).orderBy(F.desc(col), "domain").limit(top).collect()
        ctx.stats.counters[f"url_domains_top_{col}"] = tuple((r["domain"], r[col]) for r in rows)
    per.unpersist()


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

        def step(c):
            return c.model_dump() if c is not None and getattr(c, "enabled", True) else None

        return json.dumps(
            {
                "pipeline": cfg.pipeline,
                "chain_transforms": cfg.chain_transforms,
                "languages": cfg.languages,
                "normalize": step(cfg.normalize),
                "repeated_lines": step(cfg.repeated_lines) if ctx.args.source == "web" else None,
                "decontam": step(cfg.decontam),
                "paragraph_dedup": step(cfg.paragraph_dedup) if ctx.args.source == "web" else None,
                "substring_dedup": step(cfg.substring_dedup) if ctx.args.source == "web" else None,
            },
            sort_keys=False,
        )

    def run(self, ctx: StageContext) -> None:
        if ctx.args.redecide and ctx.args.rescore:
            raise ConfigError("--redecide and --rescore exclude each other")
        bronze, attrs, kept = (ctx.table(t) for t in TABLES[ctx.args.source])
        app_id = self.app_id(ctx)
        if ctx.already_committed(kept, app_id):
            return
        if ctx.args.redecide:
            self._redecide(ctx, bronze, attrs, kept, app_id)
        else:
            self._score(ctx, bronze, attrs, kept, app_id)

    # ------------------------------------------------------------------ scoring
    def _score(self, ctx, bronze, attrs, kept, app_id) -> None:
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        from lmdata.spark.io import read_delta, spark_schema, to_arrow_schema, write_delta

        cfg_json = self._cfg_json(ctx)
        pipeline = _pipeline(cfg_json)  # validates on the driver too
        carry, pcols = CARRY[ctx.args.source]
        ctx.job_group(f"read {TABLES[ctx.args.source][0]}")
        from lmdata.lake.published import resolve_logged

        want = resolve_logged(ctx.lake, TABLES[ctx.args.source][0], ctx.args.bronze_version)
        df, bver = read_delta(ctx.spark, bronze, want)
        ctx.stats.inputs[TABLES[ctx.args.source][0]] = bver
        incremental = not ctx.args.rescore and delta.exists(attrs)
        if incremental:
            done, _ = read_delta(ctx.spark, attrs)
            done = done.where(F.col("curate_run_id") != F.lit(ctx.run_id))
            df = df.join(done.select("doc_id"), "doc_id", "left_anti")
        in_schema = to_arrow_schema(df.schema)
        steps = json.loads(cfg_json)
        norm_schema = pa.schema(list(in_schema) + NORM_FIELDS)
        persisted = []
        src, pre = df, None
        if steps["repeated_lines"] is not None:
            ctx.job_group("normalize" if steps["normalize"] else "hash original text")
            src = df.mapInArrow(
                lambda it: _normalize_batches(it, cfg_json, norm_schema), spark_schema(norm_schema)
            ).persist(StorageLevel.DISK_ONLY)
            persisted.append(src)
            removed = self._repeated_lines(ctx, src, steps["repeated_lines"], persisted)
            src = src.join(removed, "doc_id", "left")
        else:
            # Normalization runs inside the scoring UDF: Spark does not fuse two mapInArrow
            # operators, so chained they hold two Python workers per task (4 on local[2],
            # ~280 MiB each at 200 MiB of WET) and ship every text JVM -> Python twice.
            pre = functools.partial(_normalize_batches, cfg_json=cfg_json, out_schema=norm_schema)
        index_bc = None
        if steps["decontam"] is not None:
            from lmdata.filters.decontam import build_index

            index = build_index(steps["decontam"])
            ctx.stats.counters["decontam_ngrams"] = len(index)
            for name, n_items in index.items.items():
                ctx.stats.counters[f"decontam_items:{name}"] = n_items
            if is_connect(ctx.spark):  # no broadcast variables on Spark Connect
                index_bc = _IndexOnWorker(json.dumps(steps["decontam"], sort_keys=True))
            else:
                index_bc = ctx.spark.sparkContext.broadcast(index)
        score_fields = [pa.field(score_column(k), pa.float64()) for k in pipeline.score_keys()]
        label_fields = [pa.field(score_column(k), pa.string()) for k in pipeline.label_keys()]
        step_fields = NORM_FIELDS + RL_FIELDS + DECONTAM_FIELDS
        out_schema = pa.schema(
            list(in_schema)
            + step_fields
            # a label named like a bronze column (url_v1's canonical ``host``) replaces it
            + [lf for lf in label_fields if lf.name not in in_schema.names]
            + score_fields
            + [pa.field("drop_reason", pa.string())]
        )
        ctx.job_group(f"score {len(pipeline.names)} filters: {', '.join(pipeline.names)}")
        # DISK_ONLY: the scored rows carry every document's text (read again by the kept
        # write); a memory-backed cache of them ended the 2 GiB driver JVM with an OOM in that
        # write at 1 GB of WET (bench_pipeline --mb 1000), as dedup saw at 500 MiB of text.
        scored = (
            src.mapInArrow(
                lambda it: _score_batches(pre(it) if pre else it, cfg_json, out_schema, index_bc),
                spark_schema(out_schema),
            )
            .withColumn("curate_run_id", F.lit(ctx.run_id))
            .persist(StorageLevel.DISK_ONLY)
        )
        cut_json = _top_fraction_cuts(ctx, scored, pipeline, cfg_json)
        if cut_json != cfg_json:  # quality_model_v1 keep_top_fraction: decide again with cuts
            recut = scored.mapInArrow(
                lambda it: _decide_batches(it, cut_json, all_columns=True), scored.schema
            ).persist(StorageLevel.DISK_ONLY)
            scored.unpersist()
            scored = recut
        scored, pd_state = paragraph_dedup(
            ctx, scored, steps["paragraph_dedup"], incremental, persisted
        )
        scored = substring_dedup(ctx, scored, steps["substring_dedup"], persisted)
        # one aggregation for the drop reasons and the per-label (language, recipe) rows in /
        # kept of the report: (drop_reason, labels...) groups are few, the rows are many
        unbounded = {
            score_column(k) for f in pipeline.filters for k in getattr(f, "unbounded_labels", ())
        }
        label_names = [lf.name for lf in label_fields if lf.name not in unbounded]
        counts = scored.groupBy("drop_reason", *label_names).count().collect()
        ctx.stats.rows_in = sum(r["count"] for r in counts)
        ctx.stats.rows_out = sum(r["count"] for r in counts if r["drop_reason"] is None)
        for r in counts:
            if r["drop_reason"] is not None:
                ctx.stats.dropped[reason_family(r["drop_reason"])] += r["count"]
            for name in label_names:
                ctx.stats.counters[f"{name}={r[name]}:in"] += r["count"]
                ctx.stats.counters[f"{name}={r[name]}:kept"] += (
                    r["count"] if r["drop_reason"] is None else 0
                )
        self._step_stats(ctx, scored, steps)
        _domain_stats(ctx, scored)
        attr_cols = (
            [*carry, "curate_run_id"]
            + [f.name for f in step_fields + PD_FIELDS + SD_FIELDS + label_fields + score_fields]
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
        if pd_state is not None:  # before kept (the completion marker); a retry skips it by app id
            ctx.job_group(f"write {PARAGRAPH_HASHES}")
            res_p = write_delta(
                pd_state, ctx.table(PARAGRAPH_HASHES), mode=mode, app_id=app_id, metadata=meta
            )
            ctx.stats.tables[PARAGRAPH_HASHES] = res_p.version
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
        for d in persisted:
            d.unpersist()
        if index_bc is not None:
            index_bc.unpersist()
        ctx.stats.tables[TABLES[ctx.args.source][1]] = res_a.version
        ctx.stats.tables[TABLES[ctx.args.source][2]] = res_k.version
        ctx.stats.counters["incremental"] = int(incremental)

    # ------------------------------------------------------------------ text steps
    def _repeated_lines(self, ctx, docs, cfg, persisted):
        """Per doc: the positions of lines found in >= min_docs documents of its crawl (CCNet).
        Returns (doc_id, repeated_lines_idx, _removed, _bytes); fills the stats' top lines."""
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        from lmdata.dedup.lines import min_docs_for
        from lmdata.spark.io import spark_schema

        ctx.job_group("repeated lines: hash and count lines per crawl")
        lines = (
            docs.select("doc_id", "crawl", "text")
            .mapInArrow(_line_batches, spark_schema(LINE_SCHEMA))
            .persist(StorageLevel.DISK_ONLY)
        )
        persisted.append(lines)
        per_crawl = docs.groupBy(F.coalesce("crawl", F.lit("")).alias("crawl")).count().collect()
        thr = {r["crawl"]: min_docs_for(r["count"], cfg) for r in per_crawl}
        # counters values must stay hashable (StageStats.to_dict runs dataclasses.asdict)
        for crawl, t in thr.items():
            ctx.stats.counters[f"repeated_lines_min_docs:{crawl}"] = t
        thr_df = ctx.spark.createDataFrame(
            sorted(thr.items()) or [("", 2**62)], "crawl string, min_docs long"
        )
        frequent = (
            lines.groupBy("crawl", "h")
            .agg(
                F.sum(F.col("first").cast("long")).alias("n_docs"),
                F.min("line").alias("sample"),
            )
            .join(F.broadcast(thr_df), "crawl")
            .where(F.col("n_docs") >= F.col("min_docs"))
            .select("crawl", "h", "n_docs", "sample")
            .persist(StorageLevel.DISK_ONLY)
        )
        persisted.append(frequent)
        record_top(
            ctx,
            "repeated_lines_top",
            frequent.groupBy("h").agg(F.sum("n_docs").alias("n"), F.min("sample").alias("sample")),
            cfg,
        )
        return (
            lines.join(frequent.select("crawl", "h"), ["crawl", "h"], "left_semi")
            .groupBy("doc_id")
            .agg(
                F.collect_list("idx").alias("repeated_lines_idx"),
                F.count("*").alias("repeated_lines_removed"),
                F.sum("nbytes").alias("repeated_lines_bytes"),
            )
        )

    def _step_stats(self, ctx, scored, steps) -> None:
        """Normalization edits per kind, repeated-line totals, decontamination matches."""
        from pyspark.sql import functions as F

        if steps["normalize"] is not None:
            rows = (
                scored.where(F.col("norm_changes").isNotNull())
                .select(F.explode(F.from_json("norm_changes", "map<string,long>")).alias("k", "v"))
                .groupBy("k")
                .agg(F.count("*").alias("docs"), F.sum("v").alias("edits"))
                .collect()
            )
            for r in rows:
                ctx.stats.counters[f"normalize:{r['k']}:docs"] = int(r["docs"])
                ctx.stats.counters[f"normalize:{r['k']}:edits"] = int(r["edits"])
            ctx.stats.counters["normalize:docs_changed"] = scored.where(
                F.col("norm_edits") > 0
            ).count()
        if steps["repeated_lines"] is not None:
            r = scored.agg(
                F.sum("repeated_lines_removed").alias("lines"),
                F.sum("repeated_lines_bytes").alias("bytes"),
                F.count(F.when(F.col("repeated_lines_removed") > 0, 1)).alias("docs"),
                F.count(F.when(F.col("drop_reason") == "repeated_lines", 1)).alias("dropped"),
            ).collect()[0]
            ctx.stats.counters["repeated_lines:lines_removed"] = int(r["lines"] or 0)
            ctx.stats.counters["repeated_lines:bytes_removed"] = int(r["bytes"] or 0)
            ctx.stats.counters["repeated_lines:docs_with_removals"] = int(r["docs"])
            ctx.stats.counters["repeated_lines:docs_dropped"] = int(r["dropped"])
        if steps["paragraph_dedup"] is not None:
            paragraph_stats(ctx, scored)
        if steps["substring_dedup"] is not None:
            substring_stats(ctx, scored)
        if steps["decontam"] is not None:
            for r in (
                scored.where(F.col("decontam_benchmark").isNotNull())
                .groupBy("decontam_benchmark")
                .count()
                .collect()
            ):
                ctx.stats.counters[f"decontam_matched:{r['decontam_benchmark']}"] = r["count"]

    # ------------------------------------------------------------------ re-deciding
    def _redecide(self, ctx, bronze, attrs, kept, app_id) -> None:
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        from lmdata.lang import language_column
        from lmdata.spark.io import read_delta, to_arrow_schema, write_delta

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
        cfg_json = _top_fraction_cuts(ctx, a, pipeline, cfg_json)
        ctx.job_group("re-decide from stored scores")
        stored = [c for c in ("decontam_benchmark", "decontam_matches") if c in a.columns]
        labels = [score_column(k) for k in pipeline.label_keys() if score_column(k) in a.columns]
        decided = a.select(
            "doc_id",
            "drop_reason",
            *stored,
            *[score_column(k) for k in pipeline.score_keys()],
            *labels,
        ).mapInArrow(lambda it: _decide_batches(it, cfg_json), "doc_id string, drop_reason string")
        new_attrs = a.drop("drop_reason").join(decided, "doc_id").select(*a.columns).persist()
        counts = new_attrs.groupBy("drop_reason").count().collect()
        ctx.stats.rows_in = sum(r["count"] for r in counts)
        for r in counts:
            if r["drop_reason"] is not None:
                ctx.stats.dropped[reason_family(r["drop_reason"])] += r["count"]
        _domain_stats(ctx, new_attrs)
        keep_ids = new_attrs.where(F.col("drop_reason").isNull()).select(
            "doc_id",
            *[
                c
                for c in (
                    "repeated_lines_idx",
                    "paragraph_dedup_idx",
                    "substring_dedup_spans",
                    language_column(new_attrs.columns),
                )
                if c and c in new_attrs.columns
            ],
        )
        old_kept, _ = read_delta(ctx.spark, kept)
        kept_ids = old_kept.select("doc_id")
        steps = json.loads(cfg_json)
        off = [
            F.col(c) > 0
            for step, c in (
                ("paragraph_dedup", "paragraph_dedup_removed"),
                ("substring_dedup", "substring_dedup_bytes"),
            )
            if steps[step] is None and c in new_attrs.columns
        ]
        if off:
            # a sub-document step switched off: kept documents that lost text to it are rebuilt
            # from bronze without that removal (the transforms run again, no hashing)
            cond = off[0]
            for c in off[1:]:
                cond = cond | c
            restore = new_attrs.where(cond).select("doc_id")
            ctx.stats.counters["subdoc_dedup:restored"] = (
                restore.join(kept_ids, "doc_id", "left_semi")
                .join(keep_ids, "doc_id", "left_semi")
                .count()
            )
            kept_ids = kept_ids.join(restore, "doc_id", "left_anti")
        still = old_kept.join(kept_ids, "doc_id", "left_semi").join(
            keep_ids.select("doc_id"), "doc_id", "left_semi"
        )
        newly_ids = keep_ids.join(kept_ids, "doc_id", "left_anti")
        from lmdata.lake.published import resolve_logged

        b, bver = read_delta(
            ctx.spark, bronze, resolve_logged(ctx.lake, TABLES[ctx.args.source][0])
        )
        newly = b.join(newly_ids, "doc_id").select(
            *old_kept.columns, *[c for c in newly_ids.columns if c != "doc_id"]
        )
        kept_schema = old_kept.select(*old_kept.columns).schema
        kept_arrow = to_arrow_schema(kept_schema)
        newly = newly.mapInArrow(
            lambda it: _transform_batches(it, cfg_json, kept_arrow), kept_schema
        )
        new_kept = still.unionByName(newly).persist(StorageLevel.DISK_ONLY)  # texts: see _score
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
