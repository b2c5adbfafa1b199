"""curate's sub-document dedup steps in Spark, after the decision, on the kept documents' text:
paragraph dedup across batches (lmdata.dedup.paragraphs), then exact-substring dedup within
shards (lmdata.dedup.substrings). The pure modules hold the per-document logic.

Paragraphs: after the decision, on the kept documents' text: paragraphs hashed per document (mapInArrow),
the first occurrence of each hash found with a groupBy (the smallest (doc_id, paragraph index) of
the batch) unless the published state table ``silver/paragraph_hashes`` (kept documents of
earlier batches) already has it; later copies removed (mapInArrow); a document left shorter than
``min_doc_chars`` dropped as ``paragraph_dedup:too_short``. The state's new rows (this batch's
first occurrences in documents still kept) are written by curate before its kept table, with the
run's app id, so a retry neither doubles nor skips them; this run's own state rows never count as
"earlier" (a retry after a crash). --rescore starts the state over.

Substrings: the kept documents are hash-partitioned by doc_id into ``ceil(bytes / shard_mb)``
shards (one Spark task each, documents sorted by doc_id inside), each shard's suffix array finds
spans of >= ``min_bytes`` repeated inside the shard; later copies are removed (the byte ranges
are kept in ``substring_dedup_spans``); nothing crosses shards (lmdata.dedup.substrings).
"""

from __future__ import annotations

import pyarrow as pa

from lmdata.lake import delta

PD_FIELDS = [
    pa.field("paragraph_dedup_removed", pa.int64()),
    pa.field("paragraph_dedup_bytes", pa.int64()),
    pa.field("paragraph_dedup_idx", pa.list_(pa.int32())),
    pa.field("paragraph_dedup_first", pa.string()),
]
PARAGRAPH_HASHES = "silver/paragraph_hashes"  # hash -> first kept doc_id (+ its curate run)
PARA_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string()),
        pa.field("idx", pa.int32()),
        pa.field("h", pa.int64()),
        pa.field("nbytes", pa.int64()),
        pa.field("para", pa.string()),
    ]
)


def _paragraph_batches(batches, min_chars: int):
    """mapInArrow body: (doc_id, text) -> one row per dedupable paragraph with its hash."""
    from lmdata.dedup.paragraphs import SAMPLE_CHARS, iter_paragraphs

    for batch in batches:
        out: dict[str, list] = {f.name: [] for f in PARA_SCHEMA}
        ids, texts = batch.column("doc_id").to_pylist(), batch.column("text").to_pylist()
        for doc_id, text in zip(ids, texts, strict=True):
            for i, h, nbytes, para in iter_paragraphs(text or "", min_chars):
                out["doc_id"].append(doc_id)
                out["idx"].append(i)
                out["h"].append(h)
                out["nbytes"].append(nbytes)
                out["para"].append(para.strip()[:SAMPLE_CHARS])
        yield pa.RecordBatch.from_pydict(out, schema=PARA_SCHEMA)


SD_FIELDS = [
    pa.field("substring_dedup_spans", pa.list_(pa.int64())),  # [start, end, ...] UTF-8 bytes
    pa.field("substring_dedup_bytes", pa.int64()),
]
SPAN_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string()),
        pa.field("substring_dedup_spans", pa.list_(pa.int64())),
        pa.field("_sb", pa.int64()),
    ]
)


def _shard_batches(batches, min_bytes: int):
    """mapInArrow body over ONE shard (a partition, sorted by doc_id): the suffix array of all
    its documents; rows for the documents that lose spans."""
    from lmdata.dedup.substrings import dedup_shard

    ids, texts = [], []
    for batch in batches:
        ids += batch.column("doc_id").to_pylist()
        texts += [t or "" for t in batch.column("text").to_pylist()]
    if not ids:
        return
    res = dedup_shard(texts, min_bytes)
    out: dict[str, list] = {f.name: [] for f in SPAN_SCHEMA}
    for doc_id, spans, nb in zip(ids, res.spans, res.bytes_removed, strict=True):
        if spans:
            out["doc_id"].append(doc_id)
            out["substring_dedup_spans"].append([x for sp in spans for x in sp])
            out["_sb"].append(nb)
    yield pa.RecordBatch.from_pydict(out, schema=SPAN_SCHEMA)


def _remove_batches(batches, kind: str, min_doc_chars: int, out_schema: pa.Schema):
    """mapInArrow body: scored rows + what ``kind`` (paragraph | substring) found -> text
    without it; a kept document left too short gets the reason ``<kind>_dedup:too_short``."""
    from lmdata.dedup import paragraphs, substrings
    from lmdata.dedup.lines import remove_lines
    from lmdata.dedup.paragraphs import too_short

    col, remove, REASON = {  # noqa: N806
        "paragraph": ("paragraph_dedup_idx", remove_lines, paragraphs.REASON),
        "substring": ("substring_dedup_spans", substrings.remove_spans, substrings.REASON),
    }[kind]
    for batch in batches:
        texts = batch.column("text").to_pylist()
        reasons = batch.column("drop_reason").to_pylist()
        idxs = batch.column(col).to_pylist()
        for i, idx in enumerate(idxs):
            if reasons[i] is None and idx:
                texts[i] = remove(texts[i] or "", idx)
                if too_short(texts[i], min_doc_chars):
                    reasons[i] = REASON
        new = {"text": pa.array(texts, pa.string()), "drop_reason": pa.array(reasons, pa.string())}
        yield pa.RecordBatch.from_arrays(
            [new[f.name] if f.name in new else batch.column(f.name) for f in out_schema],
            schema=out_schema,
        )


def _apply(joined, kind: str, cfg, persisted):
    """Rows with what ``kind`` found removed from the text (mapInArrow), persisted on disk."""
    from pyspark import StorageLevel

    from lmdata.spark.io import to_arrow_schema

    out_schema = to_arrow_schema(joined.schema)
    min_doc = int(cfg["min_doc_chars"])
    out = joined.mapInArrow(
        lambda it: _remove_batches(it, kind, min_doc, out_schema), joined.schema
    ).persist(StorageLevel.DISK_ONLY)
    persisted.append(out)
    return out


def _null_columns(df, fields):
    """``df`` with the step's attribute columns, all null (the step is off)."""
    from pyspark.sql import functions as F

    from lmdata.spark.io import spark_schema

    for f in spark_schema(pa.schema(fields)):
        df = df.withColumn(f.name, F.lit(None).cast(f.dataType))
    return df


def record_top(ctx, key: str, counts, cfg) -> None:
    """The ``cfg["top"]`` most frequent rows of ``counts`` (columns n, sample) as the stats
    counter ``key``: ``((sample, n), ...)`` for the HTML report (a tuple: counters stay hashable,
    StageStats.to_dict runs dataclasses.asdict)."""
    from pyspark.sql import functions as F

    top = counts.orderBy(F.desc("n"), "sample").limit(int(cfg.get("top", 20))).collect()
    ctx.stats.counters[key] = tuple((r["sample"], int(r["n"])) for r in top)


def paragraph_dedup(ctx, scored, cfg, incremental, persisted):
    """Paragraph dedup of the kept documents (lmdata.dedup.paragraphs): returns the scored
    rows with PD_FIELDS (text and drop reason updated) and the new rows of the state table
    ``silver/paragraph_hashes`` (None when the step is off)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from lmdata.spark.io import read_delta, spark_schema

    if cfg is None:
        return _null_columns(scored, PD_FIELDS), None
    ctx.job_group("paragraph dedup: hash the kept documents' paragraphs")
    min_chars = int(cfg["min_chars"])
    paras = (
        scored.where(F.col("drop_reason").isNull())
        .select("doc_id", "text")
        .mapInArrow(lambda it: _paragraph_batches(it, min_chars), spark_schema(PARA_SCHEMA))
        .persist(StorageLevel.DISK_ONLY)
    )
    persisted.append(paras)
    firsts = paras.groupBy("h").agg(F.min(F.struct("doc_id", "idx")).alias("f"))
    uri = ctx.table(PARAGRAPH_HASHES)
    state = ctx.spark.createDataFrame([], "h long, prior string")
    if incremental and delta.exists(uri):
        from lmdata.lake.published import resolve_logged

        # the published state: hashes of kept documents of earlier, published batches
        # (a rejected batch's hashes are undone with its kept table, its companion);
        # this run's own rows (a retry after a crash) do not count as earlier
        old, sver = read_delta(ctx.spark, uri, resolve_logged(ctx.lake, PARAGRAPH_HASHES))
        ctx.stats.inputs[PARAGRAPH_HASHES] = sver
        state = old.where(F.col("first_run_id") != F.lit(ctx.run_id)).select(
            "h", F.col("first_doc_id").alias("prior")
        )
    removed = (
        paras.join(firsts, "h")
        .join(state, "h", "left")
        .where(
            F.col("prior").isNotNull()
            | (F.col("f.doc_id") != F.col("doc_id"))
            | (F.col("f.idx") != F.col("idx"))
        )
        .withColumn("first", F.coalesce("prior", F.col("f.doc_id")))
        .persist(StorageLevel.DISK_ONLY)
    )
    persisted.append(removed)
    record_top(
        ctx,
        "paragraph_dedup_top",
        removed.groupBy("h").agg(F.count("*").alias("n"), F.min("para").alias("sample")),
        cfg,
    )
    per_doc = removed.groupBy("doc_id").agg(
        F.sort_array(F.collect_list("idx")).alias("paragraph_dedup_idx"),
        F.count("*").alias("_n"),
        F.sum("nbytes").alias("_b"),
        F.min_by("first", "idx").alias("paragraph_dedup_first"),
    )
    kept_now = F.col("drop_reason").isNull()
    joined = (
        scored.join(per_doc, "doc_id", "left")
        .withColumn("paragraph_dedup_removed", F.when(kept_now, F.coalesce("_n", F.lit(0))))
        .withColumn("paragraph_dedup_bytes", F.when(kept_now, F.coalesce("_b", F.lit(0))))
        .select(*scored.columns, *[f.name for f in PD_FIELDS])
    )
    out = _apply(joined, "paragraph", cfg, persisted)
    ctx.stats.counters["paragraph_dedup_min_chars"] = min_chars
    new_state = (
        firsts.join(state, "h", "left_anti")
        .select("h", F.col("f.doc_id").alias("first_doc_id"), F.col("f.idx").alias("first_idx"))
        .join(
            out.where(F.col("drop_reason").isNull()).select(F.col("doc_id").alias("first_doc_id")),
            "first_doc_id",
            "left_semi",
        )
        .withColumn("first_run_id", F.lit(ctx.run_id))
        .select("h", "first_doc_id", "first_idx", "first_run_id")
    )
    persisted.append(scored)
    return out, new_state


def substring_stats(ctx, scored) -> None:
    """Stage stats counters ``substring_dedup:*`` (bytes removed, documents)."""
    from pyspark.sql import functions as F

    from lmdata.dedup.substrings import REASON

    r = scored.agg(
        F.sum("substring_dedup_bytes").alias("bytes"),
        F.count(F.when(F.col("substring_dedup_bytes") > 0, 1)).alias("docs"),
        F.count(F.when(F.col("drop_reason") == REASON, 1)).alias("dropped"),
    ).collect()[0]
    ctx.stats.counters["substring_dedup:bytes_removed"] = int(r["bytes"] or 0)
    ctx.stats.counters["substring_dedup:docs_with_removals"] = int(r["docs"])
    ctx.stats.counters["substring_dedup:docs_dropped"] = int(r["dropped"])


def paragraph_stats(ctx, scored) -> None:
    """Stage stats counters ``paragraph_dedup:*`` (paragraphs / bytes removed, documents)."""
    from pyspark.sql import functions as F

    from lmdata.dedup.paragraphs import REASON

    r = scored.agg(
        F.sum("paragraph_dedup_removed").alias("paras"),
        F.sum("paragraph_dedup_bytes").alias("bytes"),
        F.count(F.when(F.col("paragraph_dedup_removed") > 0, 1)).alias("docs"),
        F.count(F.when(F.col("drop_reason") == REASON, 1)).alias("dropped"),
    ).collect()[0]
    ctx.stats.counters["paragraph_dedup:paragraphs_removed"] = int(r["paras"] or 0)
    ctx.stats.counters["paragraph_dedup:bytes_removed"] = int(r["bytes"] or 0)
    ctx.stats.counters["paragraph_dedup:docs_with_removals"] = int(r["docs"])
    ctx.stats.counters["paragraph_dedup:docs_dropped"] = int(r["dropped"])


def substring_dedup(ctx, scored, cfg, persisted):
    """Exact-substring dedup of the kept documents by shard (lmdata.dedup.substrings): returns
    the rows with SD_FIELDS (text and drop reason updated)."""
    import math

    from pyspark.sql import functions as F

    from lmdata.spark.io import spark_schema

    if cfg is None:
        return _null_columns(scored, SD_FIELDS)
    kept = scored.where(F.col("drop_reason").isNull()).select("doc_id", "text")
    total = kept.agg(F.sum(F.octet_length("text")).alias("b")).collect()[0]["b"] or 0
    shards = max(1, math.ceil(total / (float(cfg["shard_mb"]) * 2**20)))
    ctx.stats.counters["substring_dedup:shards"] = shards
    ctx.job_group(f"exact substrings: suffix arrays over {shards} shard(s)")
    min_bytes = int(cfg["min_bytes"])
    spans = (
        kept.repartition(shards, F.xxhash64("doc_id"))
        .sortWithinPartitions("doc_id")
        .mapInArrow(lambda it: _shard_batches(it, min_bytes), spark_schema(SPAN_SCHEMA))
    )
    kept_now = F.col("drop_reason").isNull()
    joined = (
        scored.join(spans, "doc_id", "left")
        .withColumn("substring_dedup_bytes", F.when(kept_now, F.coalesce("_sb", F.lit(0))))
        .select(*scored.columns, *[f.name for f in SD_FIELDS])
    )
    persisted.append(scored)
    return _apply(joined, "substring", cfg, persisted)
