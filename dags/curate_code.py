"""Airflow DAG curate_code: scheduled on `bronze/code_files` (see the DAG's docs in the UI)."""

from lmdata.workflow.assets import BRONZE_CODE, GOLD_CODE
from lmdata.workflow.factories import curate_dag

dag = curate_dag("code", BRONZE_CODE, GOLD_CODE, "silver/code_attributes", "silver/code_files")
