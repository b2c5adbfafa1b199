"""DAG factories for the DAGs that differ only by source (`curate_web`, `curate_code`)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Asset, task

from lmdata.workflow import settings
from lmdata.workflow.operators import LmdataStageOperator, lmdata_task, version_flag

CURATE_DOC = """### curate_{source}: `{bronze}` -> filters -> gate -> dedup -> gate -> `{gold}`

Scheduled on the `{bronze}` asset. Reads the bronze Delta version from the **triggering asset
events** (under `airflow dags test`: the run conf's `asset_events`; a manual run with neither
uses bronze's published version), then:

1. `curate` (Spark): every filter of `params.yaml curate.{source}` scores every new bronze
   document into `{attrs}`; kept, transformed documents go to `{kept}`.
2. `validate_attributes`: the quality gate on exactly the `{attrs}` version curate wrote;
   passing, it publishes it with `{kept}` (`_meta/published`); failing (exit 2: no retry, the
   downstream tasks do not run), it records the rejection and restores both tables to their
   published versions.
3. `dedup` (Spark): exact, URL and MinHash-LSH near duplicates, incremental, into `{gold}`,
   reading exactly the `{kept}` version curate wrote.
4. `validate_gold`: the quality gate on exactly the `{gold}` version dedup wrote; passing, it
   publishes it with the dedup state (`silver/*_dedup`, the MinHash index); failing, it
   rejects and undoes all three, so the batch is not remembered as seen.
5. `publish_gold`: the `{gold}` asset event with its published Delta version and row counts
   (schedules `build_mixture`); no event without a passing gate.
"""


def curate_dag(source: str, bronze: Asset, gold: Asset, attrs: str, kept: str) -> DAG:
    doc = CURATE_DOC.format(
        source=source, bronze=bronze.name, gold=gold.name, attrs=attrs, kept=kept
    )
    with DAG(
        dag_id=f"curate_{source}",
        description=f"{bronze.name} -> filters -> quality gate -> dedup -> gate -> {gold.name}",
        schedule=[bronze],
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        default_args=settings.default_args(),
        tags=["lmdata", source, "curate"],
        user_defined_macros={"version_flag": version_flag},
        doc_md=doc,
    ) as dag:

        @task(doc_md=f"The `{bronze.name}` facts of the triggering asset events.")
        def bronze_event(**context) -> dict:
            from lmdata.workflow.assets import newest, published_facts, triggering_extras

            extras = triggering_extras(context, bronze)
            chosen = newest(extras)
            if chosen is None:
                print(f"no triggering {bronze.name} event: using its published version")
                chosen = published_facts(bronze.name)
            print(f"{len(extras)} triggering event(s); curating {bronze.name}@v{chosen['version']}")
            return chosen

        facts = bronze_event()
        curate = LmdataStageOperator(
            task_id="curate",
            stage="curate",
            stage_args=[
                "--source",
                source,
                "--bronze-version",
                "{{ ti.xcom_pull(task_ids='bronze_event')['version'] }}",
            ],
        )
        validate_attrs = lmdata_task(
            "validate",
            "validate_attributes",
            [
                "--table",
                attrs,
                f"{{{{ version_flag('--version', ti.xcom_pull(task_ids='curate'), '{attrs}') }}}}",
            ],
        )
        dedup = LmdataStageOperator(
            task_id="dedup",
            stage="dedup",
            stage_args=[
                "--source",
                source,
                f"{{{{ version_flag('--input-version', ti.xcom_pull(task_ids='curate'), '{kept}') }}}}",
            ],
        )
        validate_gold = lmdata_task(
            "validate",
            "validate_gold",
            [
                "--table",
                gold.name,
                f"{{{{ version_flag('--version', ti.xcom_pull(task_ids='dedup'), '{gold.name}') }}}}",
            ],
        )

        @task(outlets=[gold], doc_md=f"Attach `{gold.name}`'s Delta version + row counts.")
        def publish_gold(bronze_facts: dict, dedup_stats: dict | None, **context) -> dict:
            from lmdata.lake import published
            from lmdata.workflow import settings
            from lmdata.workflow.assets import attach, table_facts

            version = ((dedup_stats or {}).get("tables") or {}).get(gold.name)
            pointer = published.published_version(settings.lake(), gold.name)
            if version is None:  # dedup wrote nothing new (a skipped re-run): the pointer
                version = pointer
            if version is None or version != pointer:
                raise ValueError(
                    f"{gold.name}@v{version} is not the published version (v{pointer}): no event"
                )
            out = table_facts(
                gold.name,
                version=version,
                run_id=context["run_id"],
                bronze_version=bronze_facts.get("version"),
                published=True,
            )
            return attach(context, gold, out)

        facts >> curate >> validate_attrs >> dedup >> validate_gold
        validate_gold >> publish_gold(facts, dedup.output)
    return dag
