"""DAG files: no import errors, parse-light (no pyspark/presidio/datasketch/torch), parse time."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
HEAVY = [
    "pyspark",
    "presidio_analyzer",
    "datasketch",
    "torch",
    "great_expectations",
    "spacy",
    "deltalake",
]

pytestmark = pytest.mark.airflow


def _airflow_env(tmp_path):
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(tmp_path / "airflow"),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path / 'airflow.db'}",
        LMDATA_HOME=str(ROOT),
        LMDATA_LAKE=str(tmp_path / "lake"),
    )
    return env


def test_dagbag_has_no_import_errors(tmp_path):
    code = f"""
import json, time
from airflow.dag_processing.dagbag import DagBag
t = time.perf_counter()
bag = DagBag(dag_folder={str(DAGS)!r})
print(json.dumps({{"errors": {{k: str(v) for k, v in bag.import_errors.items()}},
                  "dags": sorted(bag.dag_ids), "seconds": time.perf_counter() - t}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=_airflow_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["errors"] == {}
    assert "web_pipeline" in res["dags"]
    print(f"DagBag parse time: {res['seconds']:.2f}s for {len(res['dags'])} DAGs")


@pytest.mark.parametrize("dag_file", sorted(p.name for p in DAGS.glob("*.py")))
def test_dag_file_imports_no_heavy_modules(dag_file, tmp_path):
    code = f"""
import json, sys, time, runpy
t = time.perf_counter()
runpy.run_path({str(DAGS / dag_file)!r})
heavy = [m for m in {HEAVY!r} if m in sys.modules]
print(json.dumps({{"heavy": heavy, "seconds": time.perf_counter() - t}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=_airflow_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["heavy"] == [], f"{dag_file} imports {res['heavy']} at parse time"
    print(f"{dag_file}: parsed in {res['seconds']:.2f}s")


def test_web_pipeline_shape(tmp_path):
    code = f"""
import json
from airflow.dag_processing.dagbag import DagBag
dag = DagBag(dag_folder={str(DAGS)!r}).dags["web_pipeline"]
t = dag.get_task("dedup_web")
print(json.dumps({{"tasks": sorted(dag.task_ids), "up": sorted(t.upstream_task_ids),
                  "app": t.application, "retries": t.retries, "conn": t._conn_id}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=_airflow_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["tasks"] == ["curate_web", "dedup_web", "ingest_cc", "plan_inputs", "summary"]
    assert res["up"] == ["curate_web"]
    assert res["app"].endswith("spark_jobs/dedup.py") and Path(res["app"]).exists()
    assert res["retries"] == 2 and res["conn"] == "lmdata_spark"
