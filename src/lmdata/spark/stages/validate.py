"""Stage `validate`: the quality gate of one table version (or one mixture manifest).

    lmdata validate --table gold/web_documents [--version N]
    lmdata validate --manifest var/mixtures/<name>/manifest.json

Reads exactly that Delta version into a Spark DataFrame (lmdata.spark.io.read_delta) and runs
two GX checkpoints from `expectations/`: the table's own suite on the rows, and
`table_metrics` on metrics computed here with Spark (removal rate per filter and kept rate of
the curate batch, duplicate rate of the dedup batch, share of gold documents in which the
PII / secrets recognizers still find something, language-mix drift vs the previous version).
Results: `_meta/validations` + JSON under <reports>/validations/, Data Docs under
<reports>/data_docs/ (the pages of this validation and the index, built once per call: see
lmdata.quality.gx.run_checkpoints). A failed gate exits 2 with every failed expectation in the
message.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from lmdata.errors import ConfigError
from lmdata.lake import delta
from lmdata.spark.job import Stage, StageContext

_FILTERS: dict[str, Any] = {}


def _pii_filter(cfg_json: str):
    f = _FILTERS.get(cfg_json)
    if f is None:
        from lmdata.filters.base import FilterPipeline

        f = FilterPipeline.from_config(json.loads(cfg_json)).filters[0]
        _FILTERS[cfg_json] = f
    return f


def _pii_left_batches(batches, cfg_json: str):
    """mapInArrow: (text) -> (found): number of PII / secret spans the recognizers still find."""
    f = _pii_filter(cfg_json)
    total = f.key("total")
    for batch in batches:
        texts = [t or "" for t in batch.column("text").to_pylist()]
        found = [float(f.score(t).get(total, 0.0)) for t in texts]
        yield pa.RecordBatch.from_arrays([pa.array(found, pa.float64())], names=["found"])


class ValidateStage(Stage):
    name = "validate"
    description = (
        "Quality gate: GX suites + computed checks on one table version (exit 2 on failure)."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        g = parser.add_mutually_exclusive_group(required=True)
        g.add_argument("--table", help="lake table, e.g. gold/web_documents")
        g.add_argument("--manifest", help="a mixture manifest.json (the shards suite)")
        parser.add_argument("--version", type=int, default=None, help="table version (latest)")
        parser.add_argument(
            "--no-publish",
            action="store_true",
            help="audit only: do not publish a passing version nor undo a failing one "
            "(default: write-audit-publish, lmdata.lake.published)",
        )

    def app_id(self, ctx: StageContext) -> str:
        what = ctx.args.table or ctx.args.manifest
        return f"lmdata:{self.name}:{what}:{ctx.args.version}:{ctx.run_id}"

    def run(self, ctx: StageContext) -> None:
        from lmdata.quality import gate as G
        from lmdata.quality import gx
        from lmdata.quality.suites import expectation_parameters, reports_dir

        gx.prefetch()  # overlaps GX's import with the Spark metrics below
        reports = reports_dir(ctx.lake, ctx.params.quality.reports_dir)
        params = expectation_parameters(ctx.params)
        if ctx.args.manifest:
            result = self._manifest(ctx, reports, params)
        else:
            result = self._table(ctx, reports, params)
        rows = G.store(ctx.lake, reports, result)
        ctx.stats.counters["expectations_evaluated"] = sum(r["evaluated"] for r in rows)
        ctx.stats.counters["expectations_failed"] = sum(r["failed"] for r in rows)
        ctx.stats.counters["gate_success"] = int(result.success)
        ctx.stats.tables[G.VALIDATIONS] = delta.current_version(
            delta.table_uri(ctx.lake, G.VALIDATIONS)
        )
        ctx.stats.counters["data_docs"] = 1
        print(f"quality gate {result.table} v{result.version}: {G.summarize(rows)}")
        print(f"Data Docs: {gx.docs_index(reports)}")
        if ctx.args.table and not ctx.args.no_publish:
            self._publish(ctx, result)
        G.enforce(result)

    def _publish(self, ctx, result) -> None:
        """Write-audit-publish: a passing gate publishes exactly the audited version (with the
        tables its writer run wrote alongside); a failing one records the rejection and undoes
        the write (lmdata.lake.published)."""
        from lmdata.lake import published
        from lmdata.quality.gate import writer_tables

        comp = writer_tables(ctx.lake, result.table, result.version)
        comp.pop(result.table, None)
        if result.success:
            published.publish(ctx.lake, result.table, result.version, ctx.run_id, companions=comp)
            ctx.stats.counters["published"] = 1
        else:
            published.reject(
                ctx.lake,
                result.table,
                result.version,
                ctx.run_id,
                companions=comp,
                reason=result.message()[:2000],
            )
            ctx.stats.counters["rejected"] = 1
        ctx.stats.tables[published.PUBLISHED] = delta.current_version(
            delta.table_uri(ctx.lake, published.PUBLISHED)
        )

    # ------------------------------------------------------------------ mixture manifest
    def _manifest(self, ctx, reports: Path, params):
        from lmdata.quality import gx
        from lmdata.quality.gate import GateResult
        from lmdata.quality.suites import SHARDS_SUITE, shard_rows

        p = Path(ctx.args.manifest)
        if not p.exists():
            raise ConfigError(f"manifest not found: {p}")
        try:
            manifest = json.loads(p.read_text())
        except ValueError as e:
            raise ConfigError(f"{p}: not valid JSON: {e}") from None
        df = shard_rows(manifest)
        name = manifest.get("mixture") or manifest.get("name") or p.parent.name
        version = manifest.get("version")
        result = GateResult(
            f"mixture/{name}", int(version) if isinstance(version, int) else None, ctx.run_id
        )
        ctx.stats.rows_in = len(df)
        with gx.open_context(reports) as context:
            result.results.append(
                gx.run_checkpoint(context, SHARDS_SUITE, df, params, self._run_name(ctx, result))
            )
        return result

    def _run_name(self, ctx, result) -> str:
        # GX keys its stores by run name: no path separators
        return f"{result.table}@v{result.version}_{ctx.run_id}".replace("/", ".")

    # ------------------------------------------------------------------ lake tables
    def _table(self, ctx, reports: Path, params):
        from lmdata.quality import gx
        from lmdata.quality.gate import GateResult
        from lmdata.quality.suites import metrics_frame, table_spec
        from lmdata.spark.io import read_delta

        spec = table_spec(ctx.args.table)
        uri = ctx.table(spec.table)
        if not delta.exists(uri):
            raise ConfigError(f"table {spec.table} does not exist in {ctx.lake}")
        ctx.job_group(f"read {spec.table}")
        df, ver = read_delta(ctx.spark, uri, ctx.args.version)
        # No cache: each pass (the count, the metrics, GX's aggregate pass) reads only the columns
        # it needs from one pinned table version. A DISK_ONLY copy of every column cost more than
        # the passes it saved (1 GB of web text: ~20 s to write it), and a memory-backed one ran a
        # 768m local driver out of heap (BENCHMARKS.md "validate", 1 GB).
        ctx.stats.inputs[spec.table] = ver
        ctx.stats.rows_in = df.count()
        ctx.job_group(f"metrics of {spec.table} v{ver}")
        metrics = self._metrics(ctx, spec, df, ver)
        ctx.stats.counters.update(
            {f"metric:{k}": round(v, 6) for k, v in metrics.items() if isinstance(v, float)}
        )
        result = GateResult(spec.table, ver, ctx.run_id)
        run_name = self._run_name(ctx, result)
        ctx.job_group(f"GX suites of {spec.table} v{ver}")
        with gx.open_context(reports) as context:
            result.results.extend(
                gx.run_checkpoints(
                    context,
                    [
                        (spec.suite, df),
                        (gx.metrics_checkpoint(spec.suite), metrics_frame(metrics)),
                    ],
                    params,
                    run_name,
                )
            )
        return result

    def _metrics(self, ctx, spec, df, ver: int) -> dict[str, Any]:
        from lmdata.quality.gate import writer_run_id

        q = ctx.params.quality
        rid = writer_run_id(ctx.lake, spec.table, ver)
        out: dict[str, Any] = {}
        if spec.kind == "attributes":
            out.update(self._removal(ctx, spec, df, rid))
        if spec.kind == "gold":
            out["duplicate_rate"] = self._duplicate_rate(ctx, spec, rid)
            out["pii_left_share"] = self._pii_left(ctx, spec, df)
        cur = self._languages(ctx, spec, df)
        prev = None
        # drift against the published version (not a rejected or unaudited one), else ver - 1
        from lmdata.lake import published

        pub = published.published_version(ctx.lake, spec.table)
        prev_ver = pub if pub is not None and pub < ver else ver - 1
        if cur is not None and prev_ver >= 0:
            from lmdata.spark.io import read_delta

            pdf, _ = read_delta(ctx.spark, ctx.table(spec.table), prev_ver)
            prev = self._languages(ctx, spec, pdf)
        if cur is not None:
            from lmdata.quality.suites import language_drift

            out["language_tvd"] = language_drift(cur, prev, q.min_drift_rows)
            ctx.stats.counters.update({f"lang={k}": v for k, v in cur.items()})
        return out

    def _removal(self, ctx, spec, df, rid):
        from pyspark.sql import functions as F

        from lmdata.quality.suites import filter_of, removal_rates

        def reason_counts(frame) -> dict:
            return {
                r["drop_reason"]: r["count"] for r in frame.groupBy("drop_reason").count().collect()
            }

        # the batch the writing run scored; a re-decide keeps the scoring run's ids: whole table
        counts = reason_counts(df.where(F.col("curate_run_id") == F.lit(rid))) if rid else {}
        counts = counts or reason_counts(df)
        for reason, n in counts.items():
            if reason is not None:
                ctx.stats.dropped[filter_of(reason)] += n
        filters = list(getattr(ctx.params.curate, spec.source).pipeline)
        return removal_rates(counts, filters)

    def _duplicate_rate(self, ctx, spec, rid) -> float | None:
        from pyspark.sql import functions as F

        from lmdata.quality.suites import DEDUP_TABLE
        from lmdata.spark.io import read_delta

        uri = ctx.table(DEDUP_TABLE[spec.source])
        if not delta.exists(uri):
            return None
        d, _ = read_delta(ctx.spark, uri)
        if rid:
            d = d.where(F.col("dedup_run_id") == F.lit(rid))
        r = d.agg(F.count("*").alias("n"), F.count(F.col("duplicate_of")).alias("dup")).collect()[0]
        return r["dup"] / r["n"] if r["n"] else None

    def _pii_left(self, ctx, spec, df) -> float | None:
        from pyspark.sql import functions as F

        from lmdata.quality.suites import PII_FILTER

        name = PII_FILTER[spec.source]
        pipeline = getattr(ctx.params.curate, spec.source).pipeline
        if name not in pipeline:
            return None  # no redaction configured: nothing to check
        cfg_json = json.dumps({name: pipeline[name] or {}})
        texts = df.select("text")
        n = ctx.params.quality.pii_sample_rows
        if n is not None:
            texts = texts.limit(n)
        r = (
            texts.mapInArrow(lambda it: _pii_left_batches(it, cfg_json), "found double")
            .agg(F.count("*").alias("n"), F.count(F.when(F.col("found") > 0, 1)).alias("left"))
            .collect()[0]
        )
        ctx.stats.counters["pii_left_docs"] = r["left"]
        return r["left"] / r["n"] if r["n"] else None

    def _languages(self, ctx, spec, df) -> dict[str, int] | None:
        from lmdata.lang import language_column
        from lmdata.quality.suites import ATTRIBUTES_TABLE, LID_LANG
        from lmdata.spark.io import read_delta

        col = spec.language_column
        if col is None:
            return None
        if col == LID_LANG:  # web: the language attribute of curate (or an older lake's column)
            if language_column(df.columns) is None:  # gold: it lives in the attributes
                auri = ctx.table(ATTRIBUTES_TABLE[spec.source])
                if not delta.exists(auri):
                    return None
                a, _ = read_delta(ctx.spark, auri)
                src_col = language_column(a.columns)
                if src_col is None:
                    return None
                df = df.select("doc_id").join(
                    a.select("doc_id", a[src_col].alias(LID_LANG)), "doc_id", "left"
                )
            col = language_column(df.columns)
        return {str(r[col]): r["count"] for r in df.groupBy(col).count().collect()}
