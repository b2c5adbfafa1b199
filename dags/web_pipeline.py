"""web_pipeline: Common Crawl inputs -> bronze/web_documents -> curate (filters: silver attributes +
kept documents) -> dedup (exact, URL, MinHash-LSH; incremental) -> gold/web_documents.

Task graph only: the work is in lmdata stages run by spark-submit (lmdata.workflow.operators).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, task

from lmdata.workflow.operators import LmdataStageOperator

SAMPLE_INPUTS = [
    {"crawl": "CC-MAIN-2024-22", "format": "wet"},
    {"crawl": "CC-MAIN-2020-34", "format": "warc"},
]

with DAG(
    dag_id="web_pipeline",
    description="Ingest Common Crawl slices into bronze, curate into silver, dedup into gold.",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["lmdata", "web"],
    params={
        "inputs": Param(
            SAMPLE_INPUTS,
            type="array",
            description="crawl + format (+ source, slice, limit) per ingest task",
        ),
    },
    doc_md=__doc__,
) as dag:

    @task
    def plan_inputs(params=None) -> list[list[str]]:
        """One ingest task per input: turn the `inputs` param into stage arguments."""
        from lmdata.workflow.plan import ingest_args

        return [ingest_args(spec) for spec in params["inputs"]]

    ingest = LmdataStageOperator.partial(task_id="ingest_cc", stage="ingest-cc").expand(
        stage_args=plan_inputs()
    )
    curate = LmdataStageOperator(
        task_id="curate_web", stage="curate", stage_args=["--source", "web"]
    )
    dedup = LmdataStageOperator(task_id="dedup_web", stage="dedup", stage_args=["--source", "web"])

    @task
    def summary() -> str:
        """Print what the lake holds now (tables, versions, row counts)."""
        from lmdata.workflow.plan import lake_summary

        return lake_summary()

    ingest >> curate >> dedup >> summary()
