"""### code_ingest: code sources -> `bronze/code_files`

Manual (trigger it from the UI or `airflow dags trigger code_ingest`; a cluster would set
`@weekly`). The `sources` param lists `PATH` or `PATH=SPDX` (a directory, git checkout or
archive); the default is the bundled code sample (the interpreter's `json` and `email`
packages, PSF-2.0). One `ingest-code` Spark stage spreads the files over Spark tasks.

Publishes the `bronze/code_files` asset with the Delta version and row count (schedules
`curate_code`).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, task

from lmdata.workflow import settings
from lmdata.workflow.assets import BRONZE_CODE
from lmdata.workflow.operators import stage_partial
from lmdata.workflow.plan import sample_code_sources

with DAG(
    dag_id="code_ingest",
    description="Ingest code sources (dirs, git checkouts, archives) into bronze/code_files.",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=settings.default_args(),
    tags=["lmdata", "code", "ingest"],
    params={
        "sources": Param(
            sample_code_sources(),
            type="array",
            description="PATH or PATH=SPDX (a directory, git checkout or archive) per source",
        ),
    },
    doc_md=__doc__,
) as dag:

    @task(doc_md="The `sources` param as `ingest-code` arguments (one stage task).")
    def plan_sources(params=None) -> list[list[str]]:
        from lmdata.workflow.plan import code_args

        return [code_args(params["sources"])]

    ingest = stage_partial("ingest_code", "ingest-code").expand(stage_args=plan_sources())

    @task(
        outlets=[BRONZE_CODE],
        doc_md="Attach bronze's Delta version + row counts to the "
        "`bronze/code_files` asset event (schedules `curate_code`).",
    )
    def publish_bronze(stats, **context) -> dict:
        from lmdata.workflow.assets import publish_ingest

        return publish_ingest(context, BRONZE_CODE, stats)

    publish_bronze(ingest.output)
