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


@contextmanager
def open_context(reports: Path, root: Path | None = None) -> Iterator[Any]:
    """The file context, its results store and Data Docs site under `reports`, held under an
    exclusive lock (parallel Airflow tasks share the context and the docs site)."""
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
            import great_expectations as gx

            quiet()
            yield gx.get_context(mode="file", context_root_dir=str(root))
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
    from great_expectations.core.run_identifier import RunIdentifier

    cp = context.checkpoints.get(name)
    res = cp.run(
        batch_parameters={"dataframe": dataframe},
        expectation_parameters=dict(expectation_parameters),
        run_id=RunIdentifier(run_name=run_name),
    )
    (key, vr), *_ = res.run_results.items()
    out = vr.to_json_dict()
    out["data_docs_url"] = _docs_url(context, key)
    return out


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
        spark_ds = _get_or_add(ctx, SPARK_DS, ctx.data_sources.add_spark)
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
