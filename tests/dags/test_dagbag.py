"""DAG files: no import errors, parse-light (no pyspark/presidio/datasketch/torch/GX), parse time,
schedules/assets, and the operational defaults (retries + backoff, pools, timeouts, docs)."""

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


def _run_json(code: str, tmp_path) -> dict:
    """Run ``code`` in a fresh interpreter with the test Airflow home; its last stdout line
    (JSON), parsed."""
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=_airflow_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


INSPECT = """
import json, sys, time
t = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=DAGS)
seconds = time.perf_counter() - t
heavy = [m for m in HEAVY if m in sys.modules]


def assets(cond):
    objs = getattr(cond, "objects", None)
    if objs is None:
        return [cond.name]
    return sorted(n for o in objs for n in assets(o))


dags, tasks = {}, {}
for dag_id, dag in bag.dags.items():
    cond = getattr(dag.timetable, "asset_condition", None)
    dags[dag_id] = {
        "schedule": dag.schedule if isinstance(dag.schedule, str) else None,
        "timetable": type(dag.timetable).__name__,
        "assets": assets(cond) if cond is not None else [],
        "outlets": sorted(o.name for t in dag.tasks for o in (t.outlets or [])),
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "doc": bool(dag.doc_md),
        "start": dag.start_date.isoformat(),
    }
    for t in dag.tasks:
        tasks[f"{dag_id}.{t.task_id}"] = {
            "type": t.task_type, "retries": t.retries, "backoff": t.retry_exponential_backoff,
            "max_delay": t.max_retry_delay.total_seconds() if t.max_retry_delay else None,
            "timeout": t.execution_timeout.total_seconds() if t.execution_timeout else None,
            "pool": t.pool, "doc": bool(t.doc_md), "app": getattr(t, "application", None) or (
                "spark_jobs/" + t.partial_kwargs["stage"].replace("-", "_") + ".py"
                if getattr(t, "partial_kwargs", {}).get("stage") else None),
            "conn": getattr(t, "_conn_id", None) or getattr(t, "partial_kwargs", {}).get("conn_id"), "up": sorted(t.upstream_task_ids),
        }
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "seconds": seconds,
                  "heavy": heavy, "dags": dags, "tasks": tasks}))
"""


@pytest.fixture(scope="module")
def bag(tmp_path_factory):
    """One DagBag of the dags folder, filled in a fresh interpreter (what the dag-processor does)."""
    tmp = tmp_path_factory.mktemp("dagbag")
    code = f"DAGS = {str(DAGS)!r}\nHEAVY = {HEAVY!r}\n" + INSPECT
    return _run_json(code, tmp)


def test_dagbag_has_no_import_errors(bag):
    assert bag["errors"] == {}
    assert sorted(bag["dags"]) == [
        "build_mixture",
        "cc_ingest",
        "code_ingest",
        "curate_code",
        "curate_web",
        "docs_ingest",
        "lake_maintenance",
        "train_gpu",
    ]
    print(f"DagBag parse time: {bag['seconds']:.2f}s for {len(bag['dags'])} DAGs")


def test_importing_the_dags_folder_imports_no_heavy_module(bag):
    assert bag["heavy"] == []


@pytest.mark.parametrize("dag_file", sorted(p.name for p in DAGS.glob("*.py")))
def test_dag_file_imports_no_heavy_modules(dag_file, tmp_path):
    code = f"""
import json, sys, time, runpy
t = time.perf_counter()
runpy.run_path({str(DAGS / dag_file)!r})
heavy = [m for m in {HEAVY!r} if m in sys.modules]
print(json.dumps({{"heavy": heavy, "seconds": time.perf_counter() - t}}))
"""
    res = _run_json(code, tmp_path)
    assert res["heavy"] == [], f"{dag_file} imports {res['heavy']} at parse time"
    print(f"{dag_file}: parsed in {res['seconds']:.2f}s")


def test_schedules_and_assets(bag):
    res = bag["dags"]
    assert res["cc_ingest"]["schedule"] == "@daily" and res["cc_ingest"]["catchup"] is False
    assert res["cc_ingest"]["start"].startswith("2026-01-01")  # params ingest_cc.slice_start_date
    assert res["code_ingest"]["timetable"] == "NullTimetable"  # manual
    assert res["docs_ingest"]["timetable"] == "NullTimetable"  # params ingest_docs.inputs: []
    assert res["curate_web"]["assets"] == ["bronze/web_documents"]
    assert res["curate_code"]["assets"] == ["bronze/code_files"]
    assert res["build_mixture"]["assets"] == ["gold/code_files", "gold/web_documents"]
    assert res["train_gpu"]["assets"] == ["mixture/shards"]
    outlets = {d: r["outlets"] for d, r in res.items()}
    assert outlets == {
        "cc_ingest": ["bronze/web_documents"],
        "code_ingest": ["bronze/code_files"],
        "docs_ingest": ["bronze/web_documents"],
        "curate_web": ["gold/web_documents"],
        "curate_code": ["gold/code_files"],
        "build_mixture": ["mixture/shards"],
        "lake_maintenance": [],
        "train_gpu": [],
    }
    assert res["lake_maintenance"]["schedule"] == "@weekly"
    assert all(r["doc"] and r["max_active_runs"] <= 2 for r in res.values())


def test_curate_web_task_graph(bag):
    t = bag["tasks"]
    chain = ["bronze_event", "curate", "validate_attributes", "dedup", "validate_gold"]
    for up, down in zip(chain, chain[1:], strict=False):
        assert up in t[f"curate_web.{down}"]["up"], (up, down)
    assert "validate_gold" in t["curate_web.publish_gold"]["up"]
    assert t["curate_web.dedup"]["app"].endswith("spark_jobs/dedup.py")


def test_operational_defaults(bag):
    res = bag["tasks"]
    spark = {k: v for k, v in res.items() if v["type"] == "LmdataStageOperator"}
    assert {k.split(".")[1] for k in spark} >= {"ingest_cc", "ingest_code", "curate", "dedup"}
    for name, t in res.items():
        assert t["retries"] >= 1 and t["backoff"] >= 2, name  # retryable failures back off
        assert t["max_delay"] and t["timeout"], name
        assert t["doc"], f"{name} has no doc_md"
    for name, t in spark.items():
        assert t["pool"] == "spark" and t["conn"] == "lmdata_spark", name
        assert (ROOT / t["app"]).exists(), name
    assert res["build_mixture.mix"]["pool"] == "dvc"
    assert res["train_gpu.train"]["timeout"] >= 6 * 3600


def test_command_operator_fatal_exit_fails_without_retry(tmp_path):
    """LmdataCommandOperator maps a command's exit code: 2 -> AirflowFailException (no retry),
    75 -> AirflowException (retried); a real subprocess (`lmdata <unknown command>` exits 2)."""
    code = """
import json
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from lmdata.workflow.operators import LmdataCommandOperator
out = {}
op = LmdataCommandOperator(task_id="x", command="no-such-command")
try:
    op.execute({})
except AirflowFailException:
    out["fatal"] = "AirflowFailException"
op = LmdataCommandOperator(task_id="y", command="tables", args=["--lake", "/nonexistent/lake"])
out["ok"] = op.execute({}) is None
print(json.dumps(out))
"""
    res = _run_json(code, tmp_path)
    assert res == {"fatal": "AirflowFailException", "ok": True}
