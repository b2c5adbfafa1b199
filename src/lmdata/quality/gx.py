"""Great Expectations 1.x (GX Core) glue: the file context in `expectations/`, checkpoint runs,
Data Docs under the reports dir.

    python -m lmdata.quality.gx init    # (re)make datasources, validation definitions and
                                        # checkpoints for every suite JSON (commit the result)

Layout of the context (committed): `great_expectations.yml` (two fluent datasources:
`lmdata_spark` with one dataframe asset per gated table, `lmdata_pandas` with the metrics and
shards assets; every asset has one whole-dataframe batch definition `whole`), `expectations/`
(suites), `validation_definitions/`, `checkpoints/` (each with an UpdateDataDocsAction).
Running a checkpoint writes only under the reports dir (validation results store and the Data
Docs site both read their directory from the environment).

great_expectations is imported inside functions (slow, and noisy): this module is cheap to import.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lmdata.quality.suites import METRICS_SUITE, SHARDS_SUITE, TABLES, expectations_dir

SPARK_DS = "lmdata_spark"
PANDAS_DS = "lmdata_pandas"
BATCH_DEF = "whole"
RESULTS_ENV, DOCS_ENV = "LMDATA_GX_RESULTS_DIR", "LMDATA_GX_DOCS_DIR"
_NOISY = ("great_expectations", "tzlocal", "posthog", "altair", "matplotlib")


def quiet() -> None:
    """GX logs a lot (and draws progress bars): keep warnings and errors only."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("great_expectations.expectations.registry").setLevel(logging.ERROR)


def prefetch() -> None:
    """Import great_expectations in a background thread (~4 s of CPU, once per process) while
    the caller waits on Spark for the table's metrics; `open_context` then finds it imported
    (Python's import lock makes it wait for the thread if it is not done). An import error is
    left for `open_context` to raise."""
    import threading

    def _import() -> None:
        quiet()
        try:
            import great_expectations  # noqa: F401
        except Exception:  # re-raised by the import in open_context
            pass

    threading.Thread(target=_import, name="gx-import", daemon=True).start()


def metrics_checkpoint(suite: str) -> str:
    return f"{suite}__metrics"


def checkpoint_plan() -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(checkpoint = validation definition name, datasource, asset, suite, result_format)."""
    complete = {"result_format": "COMPLETE"}
    plan = []
    for spec in TABLES.values():
        plan.append((spec.suite, SPARK_DS, spec.suite, spec.suite, {"result_format": "SUMMARY"}))
        plan.append(
            (
                metrics_checkpoint(spec.suite),
                PANDAS_DS,
                metrics_checkpoint(spec.suite),
                METRICS_SUITE,
                {**complete, "unexpected_index_column_names": ["subject"]},
            )
        )
    plan.append(
        (
            SHARDS_SUITE,
            PANDAS_DS,
            SHARDS_SUITE,
            SHARDS_SUITE,
            {**complete, "unexpected_index_column_names": ["shard"]},
        )
    )
    return plan


# One file context per (context root, reports dir) and process: get_context parses the YAML,
# builds every datasource and store (about a second), and a process that validates several
# tables (tests, a warm worker) pays it once. The stores read their directories from the
# environment when the context is built, hence the reports dir in the key.
_CONTEXTS: dict[tuple[str, str], Any] = {}


@contextmanager
def open_context(reports: Path, root: Path | None = None) -> Iterator[Any]:
    """The file context, its results store and Data Docs site under `reports`, held under an
    exclusive lock (parallel Airflow tasks share the context and the docs site). Built once per
    process and reused."""
    quiet()
    root = root or expectations_dir()
    if not (root / "great_expectations.yml").exists():
        from lmdata.errors import ConfigError

        raise ConfigError(f"no Great Expectations context at {root} (great_expectations.yml)")
    reports.mkdir(parents=True, exist_ok=True)
    os.environ[RESULTS_ENV] = str(reports / "gx_results")
    os.environ[DOCS_ENV] = str(reports / "data_docs")
    with open(reports / ".gx.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            key = (str(root.resolve()), str(reports.resolve()))
            context = _CONTEXTS.get(key)
            if context is None:
                import great_expectations as gx

                quiet()
                context = _CONTEXTS[key] = gx.get_context(mode="file", context_root_dir=str(root))
            yield context
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def run_checkpoint(
    context,
    name: str,
    dataframe,
    expectation_parameters: Mapping[str, Any],
    run_name: str,
) -> dict[str, Any]:
    """Run one checkpoint on a DataFrame (Spark or pandas); the validation result as a JSON
    dict, with `data_docs_url` (file:// of this validation's Data Docs page) added."""
    return run_checkpoints(context, [(name, dataframe)], expectation_parameters, run_name)[0]


def run_checkpoints(
    context,
    runs: list[tuple[str, Any]],
    expectation_parameters: Mapping[str, Any],
    run_name: str,
) -> list[dict[str, Any]]:
    """Run checkpoints [(name, DataFrame)] and update Data Docs once for all of them.

    What `Checkpoint.run` does (each validation definition's `run` validates and stores the
    result under the checkpoint's result format; the result's meta names the checkpoint), minus
    its UpdateDataDocsAction: that action rebuilds the site index (which re-reads every stored
    validation result) and the suite's page once per checkpoint. Here the docs of exactly these
    results are built in one `build_data_docs` call, and a suite's page only when it is missing
    or older than the suite JSON (lmdata's checkpoints have no other action). A Spark batch
    is checked BOOLEAN_ONLY first (see below)."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    run_id = RunIdentifier(run_name=run_name)
    results = []
    for name, dataframe in runs:
        cp = context.checkpoints.get(name)
        boolean_first = _is_spark(dataframe)
        for vd in cp.validation_definitions:
            # GX's Spark engine bundles the aggregate metrics (row count, unexpected counts) into
            # a few Spark jobs, but any result format above BOOLEAN_ONLY adds one more job per
            # column-map expectation (its unexpected values), even when nothing is unexpected.
            # Success is decided by the aggregates alone, so a Spark batch is checked
            # BOOLEAN_ONLY first and re-run in the checkpoint's format only when it fails (the
            # failure message and the Data Docs page then show the unexpected values; the second
            # result replaces the first under the same key).
            args = (vd, cp.id, dataframe, expectation_parameters, run_id)
            vr = _validate(*args, BOOLEAN_ONLY if boolean_first else cp.result_format)
            if boolean_first and not vr.success:
                vr = _validate(*args, cp.result_format)
            vr.meta["checkpoint_id"] = cp.id
            key = ValidationResultIdentifier(
                expectation_suite_identifier=ExpectationSuiteIdentifier(name=vd.suite.name),
                run_id=run_id,
                batch_identifier=vr.batch_id,
            )
            results.append((key, vr))
    resources: list[Any] = [key for key, _ in results]
    for suite in dict.fromkeys(key.expectation_suite_identifier.name for key, _ in results):
        if _suite_page_stale(context, suite):
            resources.append(ExpectationSuiteIdentifier(name=suite))
    context.build_data_docs(resource_identifiers=resources)
    out = []
    for key, vr in results:
        d = vr.to_json_dict()
        d["data_docs_url"] = _docs_url(context, key)
        out.append(d)
    return out


BOOLEAN_ONLY = {"result_format": "BOOLEAN_ONLY"}


def _validate(vd, checkpoint_id, dataframe, expectation_parameters, run_id, result_format):
    """One validation definition on one DataFrame; the result is stored by GX."""
    return vd.run(
        checkpoint_id=checkpoint_id,
        batch_parameters={"dataframe": dataframe},
        expectation_parameters=dict(expectation_parameters),
        result_format=result_format,
        run_id=run_id,
    )


def _is_spark(dataframe) -> bool:
    return type(dataframe).__module__.startswith("pyspark.")


def _suite_page_stale(context, suite: str) -> bool:
    page = Path(os.environ[DOCS_ENV]) / "expectations" / f"{suite}.html"
    src = Path(context.root_directory) / "expectations" / f"{suite}.json"
    try:
        return page.stat().st_mtime < src.stat().st_mtime
    except OSError:
        return True


def _docs_url(context, key) -> str | None:
    try:
        urls = context.get_docs_sites_urls(resource_identifier=key)
        return urls[0]["site_url"] if urls else None
    except Exception:  # the docs link is a convenience, never a reason to fail a gate
        return None


def docs_index(reports: Path) -> Path:
    return reports / "data_docs" / "index.html"


def init_context(root: Path | None = None) -> list[str]:
    """Create (or update) datasources, assets, batch definitions, validation definitions and
    checkpoints for every suite of the plan. Idempotent; returns the checkpoint names."""
    import tempfile

    import great_expectations as gx

    root = root or expectations_dir()
    with tempfile.TemporaryDirectory() as tmp, open_context(Path(tmp), root) as ctx:
        # persist: false: GX would cache each batch in memory (MEMORY_AND_DISK), which ran a 768m
        # local driver out of heap on a 1 GB table; the stage decides what is cached. A context
        # made before that setting gets it too.
        spark_ds = _get_or_add(ctx, SPARK_DS, ctx.data_sources.add_spark)
        if spark_ds.persist:
            spark_ds.persist = False
            ctx.update_datasource(spark_ds)
        pandas_ds = _get_or_add(ctx, PANDAS_DS, ctx.data_sources.add_pandas)
        names = []
        for cp_name, ds_name, asset_name, suite_name, fmt in checkpoint_plan():
            ds = spark_ds if ds_name == SPARK_DS else pandas_ds
            try:
                asset = ds.get_asset(asset_name)
            except LookupError:
                asset = ds.add_dataframe_asset(asset_name)
            try:
                bd = asset.get_batch_definition(BATCH_DEF)
            except KeyError:
                bd = asset.add_batch_definition_whole_dataframe(BATCH_DEF)
            suite = ctx.suites.get(suite_name)
            vd = ctx.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=cp_name, data=bd, suite=suite)
            )
            ctx.checkpoints.add_or_update(
                gx.Checkpoint(
                    name=cp_name,
                    validation_definitions=[vd],
                    actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")],
                    result_format=fmt,
                )
            )
            names.append(cp_name)
    return names


def _get_or_add(ctx, name: str, add):
    try:
        return ctx.data_sources.get(name)
    except (KeyError, ValueError, LookupError):
        return add(name)


def _main(argv: list[str]) -> int:
    if argv[:1] != ["init"]:
        print("usage: python -m lmdata.quality.gx init", file=sys.stderr)
        return 2
    print(json.dumps(init_context(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
