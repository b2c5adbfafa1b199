"""code_pipeline: code sources -> bronze/code_files -> curate (license, vendored, StarCoder file
filters, secrets redaction) -> dedup (exact + MinHash-LSH, incremental) -> gold/code_files.

Task graph only: the work is in lmdata stages run by spark-submit (lmdata.workflow.operators).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, task

from lmdata.workflow.operators import LmdataStageOperator
from lmdata.workflow.plan import sample_code_sources

with DAG(
    dag_id="code_pipeline",
    description="Ingest code sources into bronze, curate into silver, dedup into gold.",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["lmdata", "code"],
    params={
        "sources": Param(
            sample_code_sources(),
            type="array",
            description="PATH or PATH=SPDX (a directory, git checkout or archive) per source",
        ),
    },
    doc_md=__doc__,
) as dag:

    @task
    def plan_sources(params=None) -> list[list[str]]:
        """The sources as stage arguments: one ingest task (its units are spread over Spark)."""
        from lmdata.workflow.plan import code_args

        return [code_args(params["sources"])]

    ingest = LmdataStageOperator.partial(task_id="ingest_code", stage="ingest-code").expand(
        stage_args=plan_sources()
    )
    curate = LmdataStageOperator(
        task_id="curate_code", stage="curate", stage_args=["--source", "code"]
    )
    dedup = LmdataStageOperator(
        task_id="dedup_code", stage="dedup", stage_args=["--source", "code"]
    )

    @task
    def summary() -> str:
        """Print what the lake holds now (tables, versions, row counts)."""
        from lmdata.workflow.plan import lake_summary

        return lake_summary()

    ingest >> curate >> dedup >> summary()
