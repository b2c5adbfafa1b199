"""### cc_ingest: Common Crawl -> `bronze/web_documents`

Scheduled `@daily` from `params.yaml` `ingest_cc.slice_start_date`. Each logical date processes
its deterministic slice of the configured crawl: slice `(date - slice_start_date).days %
ingest_cc.slices` (sha1 of the listing path mod `slices`), so a **backfill** over a date range
processes exactly those slices, and re-running a date replaces exactly its partition
(`crawl`, `slice`) of bronze — nothing is appended twice.

Trigger with conf `{"inputs": [{"crawl": ..., "format": "wet|warc", "slice": "i/n", "limit": N}]}`
to ingest other crawls/slices (one Spark stage task per input; the Spark pool runs one at a time).

Publishes the `bronze/web_documents` asset with the Delta version and row count it committed:
that event schedules `curate_web`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, task

from lmdata.workflow import settings
from lmdata.workflow.assets import BRONZE_WEB
from lmdata.workflow.operators import stage_partial

with DAG(
    dag_id="cc_ingest",
    description="Each logical date: its deterministic slice of the crawl -> bronze/web_documents.",
    schedule="@daily",
    start_date=pendulum.parse(
        str(settings.params_value("ingest_cc.slice_start_date", "2026-01-01"))
    ),
    end_date=pendulum.parse(settings.CC_INGEST_END_DATE) if settings.CC_INGEST_END_DATE else None,
    catchup=False,
    max_active_runs=2,
    default_args=settings.default_args(),
    tags=["lmdata", "web", "ingest"],
    params={
        "inputs": Param(
            [],
            type="array",
            description="[] = the configured crawl (params.yaml ingest_cc), slice of the logical "
            "date; else one ingest per {crawl, format, source, slice, limit}",
        ),
    },
    doc_md=__doc__,
) as dag:

    @task(
        doc_md="Turn the `inputs` param (or the configured crawl) + the logical date into "
        "one `ingest-cc` argument list per ingest task."
    )
    def plan_slices(params=None, dag_run=None, **context) -> list[list[str]]:
        from lmdata.workflow.plan import cc_plan, run_date

        return cc_plan(params["inputs"], run_date({**context, "dag_run": dag_run}))

    ingest = stage_partial("ingest_cc", "ingest-cc").expand(stage_args=plan_slices())

    @task(
        outlets=[BRONZE_WEB],
        doc_md="Attach bronze's Delta version + row counts to the "
        "`bronze/web_documents` asset event (schedules `curate_web`).",
    )
    def publish_bronze(stats, **context) -> dict:
        from lmdata.workflow.assets import publish_ingest

        return publish_ingest(context, BRONZE_WEB, stats)

    publish_bronze(ingest.output)
