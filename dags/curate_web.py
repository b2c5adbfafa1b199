"""Airflow DAG curate_web: scheduled on `bronze/web_documents` (see the DAG's docs in the UI)."""

from lmdata.workflow.assets import BRONZE_WEB, GOLD_WEB
from lmdata.workflow.factories import curate_dag

dag = curate_dag("web", BRONZE_WEB, GOLD_WEB, "silver/web_attributes", "silver/web_documents")
