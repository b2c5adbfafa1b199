"""Stage `dedup`: exact + URL + MinHash-LSH near-duplicate removal, distributed and incremental.

    silver/web_documents (curated)  ->  gold/web_documents       (kept documents, appended)
                                    ->  silver/web_dedup         (every document: keys, cluster,
                                                                  duplicate_of, reason)
                                    ->  dedup/minhash_index      (kept documents' keys + bands)

A run takes the batch of input documents not yet in silver/web_dedup and deduplicates it
against itself AND against everything already kept (the index), without re-processing the past:
documents already kept always win, so earlier batches are never touched.

Every document is a node; edges come from shared LSH buckets (band, band hash), from the exact
text key (pseudo-band -1) and from the normalized URL (pseudo-band -2): each member of a bucket
links to the bucket's smallest doc_id (star edges — same components as all pairs, linear size).
Optional verification keeps an LSH edge only if the MinHash-estimated Jaccard reaches the
threshold. Connected components run in Spark (lmdata.spark.dedup, large-star/small-star); the
keeper of a cluster is its smallest (is_new, crawl, doc_id); cluster_id is the smallest doc_id
(lmdata.dedup.reference, the in-process reference the tests compare against).
"""

from __future__ import annotations

import argparse
import json

import pyarrow as pa

from lmdata.lake import delta
from lmdata.spark.job import Stage, StageContext

TABLES = {
    "web": ("silver/web_documents", delta.GOLD_WEB, "silver/web_dedup", "dedup/minhash_index"),
    "code": (
        "silver/code_files",
        "gold/code_files",
        "silver/code_dedup",
        "dedup/minhash_index_code",
    ),
}
# per source: the keeper's sort column (earliest crawl / repository key), the URL-like column
# for URL dedup (none for code), and the partition column of every output table
LAYOUT = {"web": ("crawl", "url", "crawl"), "code": ("repo_key", None, "repo_key")}
EXACT_BAND, URL_BAND = -1, -2
_KEY_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("text_key", pa.string()),
        ("text_hash", pa.int64()),
        ("url_hash", pa.int64()),
        ("bands", pa.list_(pa.int64())),
        ("sig", pa.list_(pa.int64())),
    ]
)


#: where a document's language comes from, for per-language shingles (its `language` column)
LANGUAGE_FROM = {"web": "silver/web_attributes"}


def _hash64(key: str | None) -> int | None:
    import xxhash

    if key is None:
        return None
    return xxhash.xxh3_64_intdigest(key.encode("utf-8")) - (1 << 63)


def _key_batches(batches, exact_json: str, fuzzy_json: str):
    """mapInArrow: (doc_id, url, text) -> exact key, URL hash, MinHash signature and band hashes."""
    import numpy as np

    from lmdata.config import ExactDedupConfig, FuzzyDedupConfig
    from lmdata.dedup.exact import text_key, url_key
    from lmdata.dedup.minhash import band_hashes, is_empty, signatures

    exact = ExactDedupConfig.model_validate_json(exact_json)
    fuzzy = FuzzyDedupConfig.model_validate_json(fuzzy_json)
    params = fuzzy.minhash_params()
    for batch in batches:
        texts = batch.column("text").to_pylist()
        urls = (
            batch.column("url").to_pylist()
            if "url" in batch.schema.names
            else [None] * batch.num_rows
        )
        tkeys = [text_key(t, exact) for t in texts]
        langs = batch.column("language").to_pylist() if "language" in batch.schema.names else None
        if fuzzy.enabled and texts:
            sig = signatures(texts, params, languages=langs)
            bh = band_hashes(sig, params)
            empty = np.atleast_1d(is_empty(sig))
            sigs = [
                None if e else row.astype(np.int64).tolist()
                for e, row in zip(empty, sig, strict=True)
            ]
            bands = [[] if e else row.tolist() for e, row in zip(empty, bh, strict=True)]
        else:
            sigs, bands = [None] * len(texts), [[] for _ in texts]
        yield pa.RecordBatch.from_arrays(
            [
                batch.column("doc_id"),
                pa.array(tkeys, pa.string()),
                pa.array([_hash64(k) for k in tkeys], pa.int64()),
                pa.array(
                    [_hash64(url_key(u)) if exact.url_dedup else None for u in urls], pa.int64()
                ),
                pa.array(bands, pa.list_(pa.int64())),
                pa.array(sigs, pa.list_(pa.int64())),
            ],
            schema=_KEY_SCHEMA,
        )


class DedupStage(Stage):
    name = "dedup"
    description = "Exact, URL and MinHash-LSH near-duplicate removal into gold (incremental)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--source", choices=sorted(TABLES), default="web")
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="forget the index and dedup the whole input again (replaces gold)",
        )
        parser.add_argument("--input-version", type=int, default=None)

    def app_id(self, ctx: StageContext) -> str:
        return f"lmdata:{self.name}:{ctx.args.source}:{ctx.run_id}"

    def run(self, ctx: StageContext) -> None:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        from lmdata.spark.dedup import connected_components
        from lmdata.spark.io import read_delta, spark_schema, write_delta

        inp, gold, attrs, index = (ctx.table(t) for t in TABLES[ctx.args.source])
        app_id = self.app_id(ctx)
        if ctx.already_committed(attrs, app_id):
            return
        cfg = ctx.params.dedup
        rebuild = ctx.args.rebuild or not delta.exists(attrs)
        ctx.job_group(f"read {TABLES[ctx.args.source][0]}")
        from lmdata.lake.published import resolve_logged

        # the curated version the event / curate named, else the published one (never a
        # version whose attributes failed their gate)
        want = resolve_logged(ctx.lake, TABLES[ctx.args.source][0], ctx.args.input_version)
        docs, iver = read_delta(ctx.spark, inp, want)
        ctx.stats.inputs[TABLES[ctx.args.source][0]] = iver
        if not rebuild:
            seen, sver = read_delta(ctx.spark, attrs)
            ctx.stats.inputs[TABLES[ctx.args.source][2]] = sver
            docs = docs.join(seen.select("doc_id"), "doc_id", "left_anti")
        # The texts are not cached: `docs` is one pinned table version (and `seen` another), so
        # the key pass and the gold write each re-read the same rows from the table's Parquet.
        # Caching them, even DISK_ONLY, built each task's columnar batches of texts in the heap
        # first: a 768m heap ran out of it on the 1 GB corpus (issue 21, BENCHMARKS.md "Memory").
        # Only the signatures and results below are cached, on disk.
        from pyspark import StorageLevel

        ctx.job_group("keys, MinHash signatures and LSH band hashes")
        exact_json, fuzzy_json = cfg.exact.model_dump_json(), cfg.fuzzy.model_dump_json()
        sort_col, url_col, part_col = LAYOUT[ctx.args.source]
        url_expr = F.col(url_col) if url_col else F.lit(None).cast("string")
        key_in = docs.select("doc_id", url_expr.alias("url"), "text")
        lang_from = LANGUAGE_FROM.get(ctx.args.source)
        if cfg.fuzzy.shingle == "language" and lang_from and delta.exists(ctx.table(lang_from)):
            # per-language shingles: the language curate found (silver attributes)
            from lmdata.lang import language_column

            la, _ = read_delta(ctx.spark, ctx.table(lang_from))
            lang_col = language_column(la.columns)
            if lang_col:
                key_in = key_in.join(
                    la.select("doc_id", F.col(lang_col).alias("language")), "doc_id", "left"
                )
        keys = key_in.mapInArrow(
            lambda it: _key_batches(it, exact_json, fuzzy_json), spark_schema(_KEY_SCHEMA)
        )
        new = (
            docs.select("doc_id", F.col(sort_col).alias("crawl"), "source", url_expr.alias("url"))
            .join(keys, "doc_id")
            .withColumn("is_new", F.lit(1))
            .persist(StorageLevel.DISK_ONLY)  # signatures of the whole batch: off the heap
        )
        nodes = new
        # the index(es) of what is already kept: this source's, and with dedup.cross_source the
        # other source's too (web pages that copy code files and the reverse)
        others = ([] if rebuild else [ctx.args.source]) + (
            [s for s in TABLES if s != ctx.args.source] if cfg.cross_source else []
        )
        for src in others:
            idx = ctx.table(TABLES[src][3])
            if not delta.exists(idx):
                continue
            old, xver = read_delta(ctx.spark, idx)
            ctx.stats.inputs[TABLES[src][3]] = xver
            # (a retry after a crash may find this batch's own keepers already in the index)
            old = old.withColumnRenamed(LAYOUT[src][0], "crawl").join(
                new.select("doc_id"), "doc_id", "left_anti"
            )
            if "url" not in old.columns:
                old = old.withColumn("url", F.lit(None).cast("string"))
            nodes = nodes.unionByName(old.select(*new.columns[:-1]).withColumn("is_new", F.lit(0)))
        # bucket memberships: LSH bands, exact text key (-1), URL (-2)
        member = nodes.select("doc_id", "is_new", F.posexplode("bands").alias("band", "h"))
        member = (
            member.unionByName(
                nodes.select(
                    "doc_id",
                    "is_new",
                    F.lit(EXACT_BAND).alias("band"),
                    F.col("text_hash").alias("h"),
                )
            )
            .unionByName(
                nodes.select(
                    "doc_id", "is_new", F.lit(URL_BAND).alias("band"), F.col("url_hash").alias("h")
                )
            )
            .where(F.col("h").isNotNull())
        )
        touched = member.where(F.col("is_new") == 1).select("band", "h").distinct()
        member = member.join(touched, ["band", "h"], "left_semi")
        star = member.withColumn("root", F.min("doc_id").over(Window.partitionBy("band", "h")))
        edges = star.where(F.col("doc_id") != F.col("root")).select(
            F.col("doc_id").alias("u"), F.col("root").alias("v"), "band"
        )
        if cfg.fuzzy.enabled and cfg.fuzzy.verify == "estimated":
            sig = nodes.select("doc_id", "sig")
            e = edges.join(sig.withColumnRenamed("doc_id", "u").withColumnRenamed("sig", "su"), "u")
            e = e.join(sig.withColumnRenamed("doc_id", "v").withColumnRenamed("sig", "sv"), "v")
            est = (
                F.size(F.filter(F.arrays_zip("su", "sv"), lambda x: x["su"] == x["sv"]))
                / cfg.fuzzy.num_perm
            )
            edges = e.where((F.col("band") < 0) | (est >= cfg.fuzzy.verify_threshold)).select(
                "u", "v", "band"
            )
        ctx.job_group("connected components (large-star / small-star)")
        comp = connected_components(edges.select("u", "v"))
        # every node of the batch gets its component (a singleton is its own)
        lab = new.join(comp.withColumnRenamed("node", "doc_id"), "doc_id", "left")
        members = nodes.select("doc_id", "is_new", "crawl", "text_key", "url_hash", "sig").join(
            comp.withColumnRenamed("node", "doc_id"), "doc_id"
        )
        clusters = members.groupBy("component").agg(
            F.count("*").alias("cluster_size"),
            F.min(F.struct("is_new", "crawl", "doc_id")).alias("k"),
        )
        keepers = clusters.select(
            "component", "cluster_size", F.col("k.doc_id").alias("keeper")
        ).join(
            members.select(
                F.col("doc_id").alias("keeper"),
                F.col("text_key").alias("k_text"),
                F.col("url_hash").alias("k_url"),
                F.col("sig").alias("k_sig"),
            ),
            "keeper",
        )
        res = lab.join(keepers, "component", "left").select(
            "doc_id",
            "crawl",
            "source",
            "url",
            "text_key",
            "sig",
            F.coalesce("component", "doc_id").alias("cluster_id"),
            F.coalesce("cluster_size", F.lit(1)).cast("long").alias("cluster_size"),
            F.when(
                F.col("keeper").isNotNull() & (F.col("keeper") != F.col("doc_id")), F.col("keeper")
            ).alias("duplicate_of"),
            "k_text",
            "k_url",
            "url_hash",
            "k_sig",
        )
        near = (
            F.size(F.filter(F.arrays_zip("sig", "k_sig"), lambda x: x["sig"] == x["k_sig"]))
            / cfg.fuzzy.num_perm
        )
        res = (
            res.withColumn(
                "dedup_reason",
                F.when(F.col("duplicate_of").isNull(), F.lit(None))
                .when(F.col("text_key") == F.col("k_text"), F.lit("exact_duplicate"))
                .when(
                    F.col("sig").isNotNull()
                    & F.col("k_sig").isNotNull()
                    & (near >= _threshold(cfg)),
                    F.lit("near_duplicate"),
                )
                .when(F.col("url_hash") == F.col("k_url"), F.lit("url_duplicate"))
                .otherwise(F.lit("near_duplicate")),
            )
            .withColumn("dedup_run_id", F.lit(ctx.run_id))
            .persist(StorageLevel.DISK_ONLY)
        )
        counts = res.groupBy("dedup_reason").count().collect()
        ctx.stats.rows_in = sum(r["count"] for r in counts)
        for r in counts:
            if r["dedup_reason"]:
                ctx.stats.dropped[r["dedup_reason"]] += r["count"]
        ctx.stats.rows_out = sum(r["count"] for r in counts if r["dedup_reason"] is None)
        sizes = (
            res.where(F.col("duplicate_of").isNull() & (F.col("cluster_size") > 1))
            .groupBy("cluster_size")
            .count()
            .collect()
        )
        ctx.stats.counters["clusters_with_duplicates"] = sum(r["count"] for r in sizes)
        ctx.stats.counters["largest_cluster"] = max([r["cluster_size"] for r in sizes], default=1)
        mode = "overwrite" if rebuild else "append"
        meta = {
            "lmdata.stage": self.name,
            "lmdata.input_version": iver,
            "lmdata.dedup": json.loads(cfg.model_dump_json()),
        }
        kept_ids = res.where(F.col("duplicate_of").isNull()).select("doc_id")
        ctx.job_group(f"write {TABLES[ctx.args.source][3]}")
        r_index = write_delta(
            new.join(kept_ids, "doc_id", "left_semi")
            .drop("is_new")
            .withColumnRenamed("crawl", sort_col),
            index,
            mode=mode,
            partition_by=[part_col],
            app_id=app_id,
            metadata=meta,
            merge_on=["doc_id"],  # an upsert: a keeper already indexed is updated, not doubled
        )
        ctx.job_group(f"write {TABLES[ctx.args.source][1]}")
        r_gold = write_delta(
            docs.join(kept_ids, "doc_id", "left_semi"),
            gold,
            mode=mode,
            partition_by=[part_col],
            app_id=app_id,
            metadata=meta,
        )
        ctx.job_group(f"write {TABLES[ctx.args.source][2]}")
        r_attrs = write_delta(  # last: the batch's completion marker
            res.select(
                "doc_id",
                "crawl",
                "source",
                "url",
                "text_key",
                "cluster_id",
                "cluster_size",
                "duplicate_of",
                "dedup_reason",
                "dedup_run_id",
            )
            .withColumnRenamed("crawl", sort_col)
            .drop(*([] if url_col else ["url"])),
            attrs,
            mode=mode,
            partition_by=[part_col],
            app_id=app_id,
            metadata=meta,
        )
        for t in (res, new):
            t.unpersist()
        ctx.stats.tables.update(
            {
                TABLES[ctx.args.source][1]: r_gold.version,
                TABLES[ctx.args.source][2]: r_attrs.version,
                TABLES[ctx.args.source][3]: r_index.version,
            }
        )


def _threshold(cfg) -> float:
    """MinHash Jaccard above which a removed document is reported as a near (not URL) duplicate."""
    return cfg.fuzzy.verify_threshold
