"""The `lake-maintenance` stage: OPTIMIZE (+ Z-ORDER) and VACUUM of the Spark-written tables.

    spark-submit spark_jobs/lake_maintenance.py [--table T ...] [--retention-hours H] [--dry-run]

Settings from params.yaml `lake:` (vacuum_retention_hours, optimize, zorder per table). The
retention must stay longer than the longest write (a running writer's uncommitted files are
only protected by it) and than the age of any Delta version a mixture still pins; VACUUM never
touches the log, so older versions stay listed but unreadable past it. The stage records one
`_meta/stage_runs` row per run, its stats naming each table's version before/after, files
compacted and files removed. Only tables written by delta-spark are maintained here: the small
delta-rs tables (`quarantine/`, `_meta/`) are left alone.
"""

from __future__ import annotations

import argparse
import time

from lmdata.lake import delta
from lmdata.spark.job import Stage, StageContext

# The tables the Spark stages write (delta-spark); the delta-rs ones (_meta/, quarantine/) stay out.
SPARK_TABLES = [
    "bronze/web_documents",
    "bronze/code_files",
    "silver/web_attributes",
    "silver/code_attributes",
    "silver/web_documents",
    "silver/code_files",
    "silver/paragraph_hashes",
    "silver/web_dedup",
    "silver/code_dedup",
    "dedup/minhash_index",
    "dedup/minhash_index_code",
    "gold/web_documents",
    "gold/code_files",
]


class LakeMaintenanceStage(Stage):
    name = "lake-maintenance"
    description = "OPTIMIZE (+ Z-ORDER) and VACUUM the lake's Delta tables"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--table",
            action="append",
            default=None,
            help="a table, or a comma list (repeatable; default: params lake.tables, else all)",
        )
        parser.add_argument(
            "--retention-hours",
            type=float,
            default=None,
            help="VACUUM retention (default: params lake.vacuum_retention_hours)",
        )
        parser.add_argument("--no-optimize", action="store_true", help="VACUUM only")
        parser.add_argument("--no-vacuum", action="store_true", help="OPTIMIZE only")

    def app_id(self, ctx: StageContext) -> str:
        return f"lmdata:{self.name}:{ctx.run_id}"

    def run(self, ctx: StageContext) -> None:
        from lmdata.spark.io import optimize, vacuum

        cfg = ctx.params.lake
        retention = (
            ctx.args.retention_hours
            if ctx.args.retention_hours is not None
            else cfg.vacuum_retention_hours
        )
        named = [t for arg in ctx.args.table or [] for t in arg.split(",") if t]
        tables = named or cfg.tables or SPARK_TABLES
        ctx.stats.counters["retention_hours"] = retention
        for name in tables:
            uri = ctx.table(name)
            if not delta.exists(uri):
                continue
            t0 = time.monotonic()
            before = delta.current_version(uri)
            ctx.stats.inputs[name] = before
            if cfg.optimize and not ctx.args.no_optimize:
                zorder = cfg.zorder.get(name, [])
                ctx.job_group(f"OPTIMIZE {name}" + (f" ZORDER BY {zorder}" if zorder else ""))
                m = optimize(ctx.spark, uri, zorder)
                ctx.stats.counters[f"optimize:{name}:files_removed"] = m.get("numFilesRemoved") or 0
                ctx.stats.counters[f"optimize:{name}:files_added"] = m.get("numFilesAdded") or 0
            if not ctx.args.no_vacuum:
                ctx.job_group(f"VACUUM {name} RETAIN {retention} HOURS")
                ctx.stats.counters[f"vacuum:{name}:files_deleted"] = vacuum(
                    ctx.spark, uri, retention
                )
            ctx.stats.tables[name] = delta.current_version(uri)
            ctx.stats.counters[f"seconds:{name}"] = round(time.monotonic() - t0, 2)
            ctx.stats.rows_in += 1
        ctx.stats.rows_out = ctx.stats.rows_in
