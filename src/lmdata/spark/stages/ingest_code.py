"""Stage `ingest-code`: directories, git checkouts and source archives -> bronze/code_files.

The driver plans units (lmdata.ingest.code.plan_units: one per source, huge repositories split
into deterministic file batches); executors read each unit (never through the driver) and turn
files into rows with language, license, line statistics and content hash, or quarantine rows
(unreadable, undecodable, symlink escapes, archive traversal, zip bombs, ...). The driver
replaces the partitions of the repositories it ingested, in one Delta transaction, idempotent
by run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
from collections import Counter

import pyarrow as pa

from lmdata.document import QUARANTINE_SCHEMA
from lmdata.errors import ConfigError
from lmdata.lake import delta
from lmdata.spark.job import Stage, StageContext

STAGE = "ingest-code"
BRONZE_CODE = "bronze/code_files"
log = logging.getLogger("lmdata")


def repo_key(repo_id: str) -> str:
    """A partition-safe key for a repository id (ids like github.com/o/r hold slashes)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", repo_id)[:80]
    return f"{safe}-{hashlib.sha1(repo_id.encode()).hexdigest()[:8]}"


def _out_schema():
    from lmdata.ingest.code import CODE_FILE_SCHEMA

    return pa.schema(
        [f.with_nullable(True) for f in CODE_FILE_SCHEMA]
        + [pa.field("_kind", pa.string()), pa.field("_payload", pa.string())]
    )


def _ingest_units(batches, opts):
    from lmdata.ingest.code import CODE_FILE_SCHEMA, Unit, iter_unit

    schema = _out_schema()
    names = CODE_FILE_SCHEMA.names
    buf: list[dict] = []
    for batch in batches:
        for unit_json in batch.column("unit").to_pylist():
            counters: Counter = Counter()
            for kind, row in iter_unit(Unit.from_dict(json.loads(unit_json)), opts, counters):
                if kind == "file":
                    out = {n: row.get(n) for n in names}
                    out["_kind"], out["_payload"] = "file", None
                else:
                    out = dict.fromkeys(names)
                    out["_kind"], out["_payload"] = "reject", json.dumps(row, default=str)
                buf.append(out)
                if len(buf) >= 256:
                    yield pa.RecordBatch.from_pylist(buf, schema=schema)
                    buf = []
            stat = dict.fromkeys(names)
            stat["_kind"], stat["_payload"] = "stats", json.dumps(dict(counters))
            buf.append(stat)
    if buf:
        yield pa.RecordBatch.from_pylist(buf, schema=schema)


class IngestCodeStage(Stage):
    name = STAGE
    description = "Ingest code (directories, git checkouts, archives) into bronze/code_files."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--source",
            dest="sources",
            action="append",
            default=[],
            help="a directory, git checkout or archive (repeatable); "
            "PATH=SPDX sets the license (e.g. /usr/lib/python3.11=PSF-2.0)",
        )

    def _sources(self, ctx: StageContext) -> list[dict]:
        specs = [s.model_dump() for s in ctx.params.ingest_code.sources]
        for s in ctx.args.sources:
            uri, _, lic = s.partition("=")
            specs.append({"uri": uri, "license_override": lic or None})
        if not specs:
            raise ConfigError("ingest-code: no sources (give --source PATH or ingest_code.sources)")
        return specs

    def app_id(self, ctx: StageContext) -> str:
        digest = hashlib.sha1(json.dumps(self._sources(ctx), sort_keys=True).encode()).hexdigest()[
            :12
        ]
        return f"lmdata:{self.name}:{digest}:{ctx.run_id}"

    def run(self, ctx: StageContext) -> None:
        from pyspark.sql import functions as F

        from lmdata.ingest.code import CODE_FILE_SCHEMA, CodeIngestOptions, SourceSpec, plan_units
        from lmdata.spark.io import spark_schema, write_delta

        cfg = ctx.params.ingest_code
        bronze, quarantine = ctx.table(BRONZE_CODE), ctx.table(delta.QUARANTINE)
        app_id = self.app_id(ctx)
        if ctx.already_committed(bronze, app_id):
            return
        opts = CodeIngestOptions(
            run_id=ctx.run_id,
            max_file_bytes=cfg.max_file_bytes,
            max_archive_bytes=cfg.max_archive_bytes,
            max_compression_ratio=cfg.max_compression_ratio,
            git_mode=cfg.git_mode,
        )
        plan_counters: Counter = Counter()
        units = plan_units(
            [SourceSpec(**s) for s in self._sources(ctx)],
            max_files_per_unit=cfg.max_files_per_unit,
            opts=opts,
            counters=plan_counters,
        )
        repo_ids = sorted({u.repo_id for u in units})
        ctx.stats.counters["sources"] = len(self._sources(ctx))
        ctx.stats.counters["units"] = len(units)
        ctx.stats.counters["repos"] = len(repo_ids)
        ctx.job_group(f"ingest {len(units)} units of {len(repo_ids)} repositories")
        udf = ctx.spark.createDataFrame([(json.dumps(u.to_dict()),) for u in units], "unit string")
        out = (
            udf.repartition(max(1, len(units)))
            .mapInArrow(lambda it: _ingest_units(it, opts), spark_schema(_out_schema()))
            .persist()
        )
        side = out.where(F.col("_kind") != "file").select("_kind", "_payload").collect()
        rejects, counters = [], Counter(plan_counters)
        for r in side:
            payload = json.loads(r["_payload"])
            if r["_kind"] == "reject":
                rejects.append(payload)
            else:
                counters.update(payload)
        for k, v in counters.items():
            if k.startswith("rejected:"):
                ctx.stats.quarantined[k.split(":", 1)[1]] += v
            elif k == "bytes_read":
                ctx.stats.bytes_in += v
            elif k not in ("units", "sources"):
                ctx.stats.counters[k] += v
        keys = sorted({repo_key(r) for r in repo_ids})
        qrows = [{n: r.get(n) for n in QUARANTINE_SCHEMA.names} for r in rejects]
        for q in qrows:
            q["stage"], q["run_id"], q["crawl"], q["slice"] = STAGE, ctx.run_id, "-", "-"
        qres = delta.write_table(
            quarantine,
            pa.Table.from_pylist(qrows, schema=QUARANTINE_SCHEMA),
            mode="overwrite" if delta.exists(quarantine) else "append",
            partition_by=["stage", "crawl", "slice"],
            overwrite_partitions={"stage": STAGE, "crawl": "-", "slice": "-"},
            app_id=app_id,
        )
        # (quarantine rows of code ingest are replaced per run as a whole: the partition is the
        # stage; a run that ingests other repositories replaces the previous run's rows.)
        ctx.stats.tables[delta.QUARANTINE] = qres.version
        key_udf = F.udf(repo_key, "string")  # tiny: one call per row on a short string
        files = (
            out.where(F.col("_kind") == "file")
            .select(*CODE_FILE_SCHEMA.names)
            .withColumn("repo_key", key_udf("repo_id"))
        )
        lics = files.groupBy("repo_license", "license_class").count().collect()
        ctx.job_group(f"write {BRONZE_CODE}")
        res = write_delta(
            files,
            bronze,
            mode="overwrite",
            partition_by=["repo_key"],
            overwrite_partitions={"repo_key": keys},
            app_id=app_id,
            metadata={"lmdata.stage": STAGE, "lmdata.repos": repo_ids},
        )
        out.unpersist()
        ctx.stats.rows_in = int(counters.get("files_seen", 0))
        ctx.stats.rows_out = res.rows
        ctx.stats.tables[BRONZE_CODE] = res.version
        langs = {k.split(":", 1)[1]: v for k, v in counters.items() if k.startswith("languages:")}
        log.info("code files by language: %s", dict(sorted(langs.items(), key=lambda kv: -kv[1])))
        log.info(
            "code files by license: %s",
            {f"{r['repo_license']} ({r['license_class']})": r["count"] for r in lics},
        )
        for r in lics:
            ctx.stats.counters[f"license:{r['repo_license']}:{r['license_class']}"] += r["count"]
