"""The production metadata path, for real: Debian's PostgreSQL on 127.0.0.1 as Airflow's metadata
DB, `airflow db migrate`, a DAG run (`airflow dags test`), and a backfill executed by a running
scheduler + DAG processor + execution API server (LocalExecutor); the rows are read back from
PostgreSQL. Needs `initdb`/`pg_ctl` (`make postgres`) and the psycopg2 + asyncpg drivers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lmdata.workflow.postgres import TempPostgres, free_port, missing_requirements

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).parent / "dags" / "deploy_probe.py"
# A light real lmdata DAG for `airflow dags test` (one ingest stage on the bundled sample), the
# first one present; the probe DAG when the repo has none of them.
LIGHT_DAGS = ("cc_ingest", "code_ingest")
BACKFILL = ("2026-01-01", "2026-01-03")  # three daily runs of deploy_probe

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.timeout(600)]

_missing = missing_requirements()
if _missing:
    pytest.skip(
        "PostgreSQL metadata test needs: " + "; ".join(_missing) + " (run `make postgres`)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def pg():
    with TempPostgres() as server:
        server.create_database("airflow")
        yield server


@pytest.fixture(scope="module")
def af(pg, tmp_path_factory):
    """Airflow environment pointing at the PostgreSQL metadata DB; migrated."""
    from lmdata.workflow import local

    tmp = tmp_path_factory.mktemp("airflow-pg")
    dags = tmp / "dags"
    dags.mkdir()
    for f in sorted((ROOT / "dags").glob("*.py")):
        shutil.copy(f, dags / f.name)
    shutil.copy(PROBE, dags / PROBE.name)
    api_port = free_port()
    env = local.airflow_env(ROOT)
    env.update(
        {
            "AIRFLOW_HOME": str(tmp / "home"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg.sqlalchemy_url("airflow"),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",
            # Only deploy_probe is unpaused (below), and the scheduler creates no interval runs
            # of its own: the backfill runs are the only work it gets (no lmdata DAG, e.g. an
            # asset-triggered curate_web after the cc_ingest run, competes for the 2 cores).
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(32).hex(),
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "120",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "LMDATA_LAKE": str(tmp / "lake"),
            "LMDATA_RUNS_DIR": str(tmp / "runs"),
        }
    )
    Path(env["AIRFLOW_HOME"]).mkdir()
    t0 = time.monotonic()
    proc = _airflow(env, "db", "migrate", timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    if hasattr(local, "ensure_pools"):  # the lmdata pools (spark, dvc) the DAGs run in
        local.ensure_pools(env)
    env["_API_PORT"] = str(api_port)
    print(f"airflow db migrate on PostgreSQL: {time.monotonic() - t0:.1f}s")
    return env


def _airflow(env, *args, timeout=300) -> subprocess.CompletedProcess:
    airflow = str(Path(sys.executable).parent / "airflow")
    return subprocess.run(
        [airflow, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


def test_migrate_creates_airflow_schema_in_postgres(pg, af):
    tables = {r[0] for r in pg.query("airflow", "select tablename from pg_tables")}
    assert {"dag_run", "task_instance", "backfill", "connection", "xcom"} <= tables
    (rev,) = pg.query("airflow", "select version_num from alembic_version")[0]
    assert rev
    # Airflow reads the same URL back from its config (not a SQLite fallback).
    proc = _airflow(af, "config", "get-value", "database", "sql_alchemy_conn")
    assert proc.stdout.strip().splitlines()[-1].startswith("postgresql+psycopg2://")


def test_dag_run_recorded_in_postgres(pg, af):
    present = {p.stem for p in Path(af["AIRFLOW__CORE__DAGS_FOLDER"]).glob("*.py")}
    dag_id = next((d for d in LIGHT_DAGS if d in present), "deploy_probe")
    t0 = time.monotonic()
    proc = _airflow(af, "dags", "test", dag_id, "2026-02-01", timeout=420)
    print(f"airflow dags test {dag_id}: {time.monotonic() - t0:.1f}s")
    assert proc.returncode == 0, proc.stdout[-5000:]
    runs = pg.query("airflow", "select run_id, state from dag_run where dag_id = %s", (dag_id,))
    assert len(runs) == 1 and runs[0][1] == "success", runs
    tis = pg.query(
        "airflow",
        "select task_id, state from task_instance where dag_id = %s and run_id = %s",
        (dag_id, runs[0][0]),
    )
    assert tis and all(state in ("success", "skipped") for _, state in tis), tis
    if dag_id != "deploy_probe":  # a real stage wrote the lake
        assert any(Path(af["LMDATA_LAKE"]).glob("*/*/_delta_log"))


def _start(env, *args, log: Path) -> subprocess.Popen:
    airflow = str(Path(sys.executable).parent / "airflow")
    return subprocess.Popen(
        [airflow, *args],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _wait_http(url: str, procs, timeout: float) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert all(p.poll() is None for p in procs), "an Airflow component exited early"
        try:
            with urllib.request.urlopen(url, timeout=30):
                return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"{url} did not answer in {timeout}s")


def test_backfill_runs_through_scheduler_on_postgres(pg, af, tmp_path):
    logs = tmp_path
    procs = [
        _start(
            af,
            "api-server",
            "--apps",
            "execution",
            "-H",
            "127.0.0.1",
            "-p",
            af["_API_PORT"],
            "-w",
            "1",
            log=logs / "api.log",
        ),
        _start(af, "dag-processor", log=logs / "dag-processor.log"),
        _start(af, "scheduler", log=logs / "scheduler.log"),
    ]
    t0 = time.monotonic()
    try:
        # Warm the execution API first: task runners give up on a cold (slow) first request.
        _wait_http(f"http://127.0.0.1:{af['_API_PORT']}/execution/health", procs, 180)
        deadline = time.monotonic() + 180
        while not pg.query("airflow", "select 1 from dag where dag_id = 'deploy_probe'"):
            assert time.monotonic() < deadline, "the DAG processor never serialized deploy_probe"
            time.sleep(2)
        unpause = _airflow(af, "dags", "unpause", "deploy_probe")
        assert unpause.returncode == 0, unpause.stdout[-3000:]
        proc = _airflow(
            af,
            "backfill",
            "create",
            "--dag-id",
            "deploy_probe",
            "--from-date",
            BACKFILL[0],
            "--to-date",
            BACKFILL[1],
        )
        assert proc.returncode == 0, proc.stdout[-3000:]
        deadline = time.monotonic() + 300
        while True:
            runs = pg.query(
                "airflow",
                "select r.run_id, r.state from dag_run r join backfill b on r.backfill_id = b.id "
                "where r.dag_id = 'deploy_probe' and r.run_type = 'backfill'",
            )
            states = sorted(s for _, s in runs)
            done = pg.query("airflow", "select completed_at is not null from backfill")
            if len(runs) == 3 and all(s in ("success", "failed") for s in states) and done[0][0]:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"backfill runs not finished: {runs}\n{_tail(logs)}")
            time.sleep(3)
    finally:
        _stop(procs)
    print(f"backfill of 3 runs through the scheduler: {time.monotonic() - t0:.1f}s")
    assert states == ["success"] * 3, f"{runs}\n{_tail(logs)}"
    assert sorted(r[0][len("backfill__") : len("backfill__") + 10] for r in runs) == [
        "2026-01-01",
        "2026-01-02",
        "2026-01-03",
    ]
    tis = pg.query(
        "airflow",
        "select task_id, state, count(*) from task_instance where dag_id = 'deploy_probe' "
        "and run_id like 'backfill__%%' group by task_id, state",
    )
    assert sorted(tis) == [("check", "success", 3), ("stamp", "success", 3)], tis
    # The XCom the check task returned (len("probe:YYYY-MM-DD") = 16) is in PostgreSQL.
    xcoms = pg.query(
        "airflow",
        "select value from xcom where dag_id = 'deploy_probe' and task_id = 'check' "
        "and run_id like 'backfill__%%'",
    )
    assert len(xcoms) == 3 and all("16" in str(v) for (v,) in xcoms), xcoms


def _tail(logs: Path) -> str:
    return "\n".join(
        f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}" for p in sorted(logs.glob("*.log"))
    )
