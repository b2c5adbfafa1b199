"""`make run`'s path: the web_pipeline DAG through real Airflow (`airflow dags test`, SQLite),
SparkSubmitOperator -> spark-submit -> stages -> Delta tables."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lmdata.lake import delta

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.airflow, pytest.mark.spark, pytest.mark.slow]


def _run_dag(tmp_path, dag_id):
    """`python -m lmdata.workflow.local run DAG` with its own Airflow home, lake and run dir."""
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(tmp_path / "airflow"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path / 'airflow' / 'airflow.db'}",
        LMDATA_LAKE=str(tmp_path / "lake"),
        LMDATA_RUNS_DIR=str(tmp_path / "runs"),
        PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
    )
    return subprocess.run(
        [sys.executable, "-m", "lmdata.workflow.local", "run", dag_id],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_web_pipeline_through_airflow(tmp_path):
    proc = _run_dag(tmp_path, "web_pipeline")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert "spark-submit" in out and "LMDATA_STATS" in out
    lake = str(tmp_path / "lake")
    bronze = delta.read_arrow(delta.table_uri(lake, delta.BRONZE_WEB))
    gold = delta.read_arrow(delta.table_uri(lake, delta.GOLD_WEB))
    # the sample: 1 WET conversion record (CC-MAIN-2024-22) + 16 HTML responses (CC-MAIN-2020-34)
    assert sorted(set(bronze["crawl"].to_pylist())) == ["CC-MAIN-2020-34", "CC-MAIN-2024-22"]
    assert bronze.num_rows == 17
    assert 0 < gold.num_rows <= bronze.num_rows
    assert set(gold["doc_id"].to_pylist()) <= set(bronze["doc_id"].to_pylist())
    attrs = delta.read_arrow(delta.table_uri(lake, "silver/web_attributes"))
    assert attrs.num_rows == 17  # every bronze document scored, kept or not
    assert delta.read_arrow(
        delta.table_uri(lake, "silver/web_dedup")
    ).num_rows == gold.num_rows + sum(
        1
        for r in delta.read_arrow(delta.table_uri(lake, "silver/web_dedup")).to_pylist()
        if r["duplicate_of"]
    )
    # stats files of every stage task were written
    assert len(list((tmp_path / "runs").rglob("*.json"))) == 4
    # the run printed what it produced
    assert "gold/web_documents" in proc.stdout and "bronze/web_documents" in proc.stdout


def test_code_pipeline_through_airflow(tmp_path):
    proc = _run_dag(tmp_path, "code_pipeline")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    lake = str(tmp_path / "lake")
    bronze = delta.read_arrow(delta.table_uri(lake, "bronze/code_files")).to_pylist()
    # the sample: the interpreter's json + email packages, PSF-licensed Python
    assert len(bronze) > 20
    langs = [r["language"] for r in bronze]
    assert langs.count("Python") > 20 and set(langs) <= {"Python", "reStructuredText"}
    assert {(r["repo_license"], r["license_class"]) for r in bronze} == {("PSF-2.0", "permissive")}
    gold = delta.read_arrow(delta.table_uri(lake, "gold/code_files"))
    attrs = delta.read_arrow(delta.table_uri(lake, "silver/code_attributes"))
    assert attrs.num_rows == len(bronze) and 0 < gold.num_rows <= len(bronze)
