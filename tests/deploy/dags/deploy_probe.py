"""deploy_probe: a light daily DAG for the PostgreSQL metadata-DB test (backfill through a real
scheduler). Task graph only: two tasks passing an XCom, no Spark, no lake."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

with DAG(
    dag_id="deploy_probe",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    tags=["lmdata", "deploy-test"],
) as dag:

    @task
    def stamp(ds=None) -> str:
        return f"probe:{ds}"

    @task
    def check(value: str, ds=None) -> int:
        if value != f"probe:{ds}":
            raise ValueError(f"XCom {value!r} does not match the logical date {ds}")
        return len(value)

    check(stamp())
