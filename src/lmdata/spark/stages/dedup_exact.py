"""Stage `dedup-exact`: bronze/web_documents -> gold/web_documents (exact text + URL dedup).

Reads one pinned snapshot of bronze, keys every document by a hash of its normalized text
(lmdata.dedup.exact, in Arrow batches) and keeps one document per key by the deterministic
keeper rule (smallest crawl, then doc_id); then the same by normalized URL. Gold is derived
from the whole bronze snapshot and replaced in one transaction, so re-running gives the same
table; the app transaction id carries the bronze version read.
"""

from __future__ import annotations

import argparse

from lmdata.lake import delta
from lmdata.spark.job import Stage, StageContext


class DedupExactStage(Stage):
    name = "dedup-exact"
    description = "Exact dedup (normalized text hash, then URL) of bronze web documents into gold."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--bronze-version",
            type=int,
            default=None,
            help="bronze snapshot to read (default: latest; recorded in stats)",
        )

    def app_id(self, ctx: StageContext) -> str:
        return f"lmdata:{self.name}:{ctx.run_id}"

    def run(self, ctx: StageContext) -> None:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        from lmdata.spark.io import read_delta, write_delta
        from lmdata.spark.udfs import text_key_udf, url_key_udf

        cfg = ctx.params.dedup.exact
        bronze, gold = ctx.table(delta.BRONZE_WEB), ctx.table(delta.GOLD_WEB)
        app_id = self.app_id(ctx)
        if delta.committed(gold, app_id) is not None:
            ctx.stats.status = "skipped"
            ctx.stats.tables[delta.GOLD_WEB] = delta.current_version(gold)
            return
        ctx.job_group(f"read {delta.BRONZE_WEB}")
        df, bver = read_delta(ctx.spark, bronze, ctx.args.bronze_version)
        ctx.stats.inputs[delta.BRONZE_WEB] = bver
        cols = df.columns
        order = [F.col("crawl").asc(), F.col("doc_id").asc()]
        keyed = df.withColumn("_tkey", text_key_udf(cfg)(F.col("text")))
        w = Window.partitionBy("_tkey").orderBy(*order)
        keyed = keyed.withColumn(
            "_trank", F.when(F.col("_tkey").isNull(), 1).otherwise(F.row_number().over(w))
        )
        if cfg.url_dedup:
            keyed = keyed.withColumn("_ukey", url_key_udf()(F.col("url")))
            # URL dedup among the text survivors only: rows already dropped as exact duplicates
            # sit in their own window partition (_trank == 1 is false) and are ranked 1.
            wu = Window.partitionBy("_ukey", F.col("_trank") == 1).orderBy(*order)
            keyed = keyed.withColumn(
                "_urank",
                F.when(F.col("_ukey").isNull() | (F.col("_trank") > 1), 1).otherwise(
                    F.row_number().over(wu)
                ),
            )
        else:
            keyed = keyed.withColumn("_urank", F.lit(1))
        keyed = keyed.withColumn(
            "_reason",
            F.when(F.col("_trank") > 1, F.lit("exact_duplicate")).when(
                F.col("_urank") > 1, F.lit("url_duplicate")
            ),
        ).persist()
        ctx.job_group("count duplicates")
        counts = {
            r["_reason"]: r["n"]
            for r in keyed.groupBy("_reason").agg(F.count("*").alias("n")).collect()
        }
        ctx.stats.rows_in = sum(counts.values())
        for reason, n in counts.items():
            if reason is not None:
                ctx.stats.dropped[reason] += n
        kept = keyed.where(F.col("_reason").isNull()).select(*cols)
        ctx.job_group(f"write {delta.GOLD_WEB}")
        res = write_delta(
            kept.repartition(max(1, ctx.params.spark.shuffle_partitions // 4), "crawl"),
            gold,
            mode="overwrite",
            partition_by=["crawl"],
            app_id=app_id,
            metadata={"lmdata.stage": self.name, "lmdata.input.bronze_version": bver},
        )
        keyed.unpersist()
        ctx.stats.rows_out = counts.get(None, 0)
        ctx.stats.tables[delta.GOLD_WEB] = res.version
