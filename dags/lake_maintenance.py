"""### lake_maintenance: OPTIMIZE (+ Z-ORDER) and VACUUM the lake's Delta tables

Weekly (`@weekly`, backfillable: every run maintains the tables as they are then). One
`lake-maintenance` Spark stage (`spark_jobs/lake_maintenance.py`, delta-spark) over every table
the Spark stages write: OPTIMIZE compacts small files (Z-ORDER by `params.yaml lake.zorder`, e.g.
gold web by host), then VACUUM removes files no version within `lake.vacuum_retention_hours`
references (files of killed writers, files replaced by overwrites and compaction). The stage
records what it did (per table: version before/after, files compacted, files deleted) in
`_meta/stage_runs` and in this task's XCom.

The retention must stay longer than the longest write and than the age of any Delta version a
mixture still pins: VACUUM keeps the log, so older versions stay listed, but their files are gone.
Runs in the `spark` pool, so it never overlaps a stage that writes the same tables.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from lmdata.workflow import settings
from lmdata.workflow.operators import LmdataStageOperator

with DAG(
    dag_id="lake_maintenance",
    description="Weekly OPTIMIZE (+ Z-ORDER) and VACUUM of the lake's Delta tables.",
    schedule="@weekly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=settings.default_args(),
    tags=["lmdata", "lake", "maintenance"],
    params={
        "tables": Param(
            [],
            type="array",
            description="tables to maintain ([] = params.yaml lake.tables, else every one)",
        ),
    },
    doc_md=__doc__,
) as dag:
    LmdataStageOperator(
        task_id="maintain",
        stage="lake-maintenance",
        stage_args=[
            "{{ '--table=' ~ (params.tables | join(',')) if params.tables else '' }}",
        ],
        doc_md="`spark_jobs/lake_maintenance.py`: OPTIMIZE + VACUUM, stats in `_meta/stage_runs`.",
    )
