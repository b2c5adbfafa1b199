"""### docs_ingest: existing JSONL / Parquet corpora -> `bronze/web_documents`

`lmdata ingest-docs` for corpora that already exist as JSONL (plain, .gz, .zst) or Parquet:
dolma documents, RedPajama-V2, FineWeb, Hugging Face `datasets` exports (params.yaml
`ingest_docs`: inputs, dataset, preset, column map). Scheduled `@daily` from
`ingest_docs.slice_start_date` when `ingest_docs.inputs` is set (else triggered only): each
logical date processes its deterministic slice (`(date - slice_start_date).days %
ingest_docs.slices`) of the file list, and re-running a date replaces exactly its partition
(`crawl` = dataset, `slice`) of bronze — nothing is appended twice.

Trigger with conf `{"inputs": [{"input": "s3://bucket/fineweb/", "dataset": "fineweb",
"preset": "fineweb", "slice": "i/n", "limit": N}]}` to ingest other corpora (one Spark stage task
per input; the Spark pool runs one at a time).

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
    dag_id="docs_ingest",
    description="Existing JSONL/Parquet corpora, a deterministic slice of the files per run "
    "-> bronze/web_documents.",
    schedule="@daily" if settings.params_value("ingest_docs.inputs") else None,
    start_date=pendulum.parse(
        str(settings.params_value("ingest_docs.slice_start_date", "2026-01-01"))
    ),
    catchup=False,
    max_active_runs=2,
    default_args=settings.default_args(),
    tags=["lmdata", "web", "ingest"],
    params={
        "inputs": Param(
            [],
            type="array",
            description="[] = the configured corpus (params.yaml ingest_docs), slice of the "
            "logical date; else one ingest per {input, dataset, preset, format, table, slice, "
            "limit}",
        ),
    },
    doc_md=__doc__,
) as dag:

    @task(
        doc_md="Turn the `inputs` param (or the configured corpus) + the logical date into "
        "one `ingest-docs` argument list per ingest task."
    )
    def plan_docs(params=None, dag_run=None, **context) -> list[list[str]]:
        from lmdata.workflow.plan import docs_plan, run_date

        return docs_plan(params["inputs"], run_date({**context, "dag_run": dag_run}))

    ingest = stage_partial("ingest_docs", "ingest-docs").expand(stage_args=plan_docs())

    @task(
        outlets=[BRONZE_WEB],
        doc_md="Attach bronze's Delta version + row counts to the "
        "`bronze/web_documents` asset event (schedules `curate_web`).",
    )
    def publish_bronze(stats, **context) -> dict:
        from lmdata.workflow.assets import publish_ingest

        return publish_ingest(context, BRONZE_WEB, stats)

    publish_bronze(ingest.output)
