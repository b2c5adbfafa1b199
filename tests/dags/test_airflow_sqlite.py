"""Airflow's SQLite metadata DB waits for another writer's lock (the busy timeout in its URL,
lmdata.workflow.airflow_db) instead of answering "database is locked" after pysqlite's 5 s."""

import json
import subprocess
import sys

import pytest

from lmdata.workflow import airflow_db, local

pytestmark = pytest.mark.airflow

# A second connection holds the write lock for HOLD_S (> pysqlite's 5 s default) while Airflow's
# own engine writes: with the connect args the write waits and succeeds.
WRITE_UNDER_LOCK = """
import json, sqlite3, threading, time
from airflow import settings
from sqlalchemy import text
path = settings.engine.url.database
with settings.engine.begin() as c:
    c.execute(text("CREATE TABLE IF NOT EXISTS lock_probe (x INTEGER)"))
holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
holder.execute("BEGIN IMMEDIATE")
threading.Timer(HOLD_S, lambda: holder.execute("COMMIT")).start()
t = time.monotonic()
try:
    with settings.engine.begin() as c:
        c.execute(text("INSERT INTO lock_probe VALUES (1)"))
    outcome = "written"
except Exception as e:
    outcome = type(e).__name__ + ": " + str(e).splitlines()[0]
print(json.dumps({"outcome": outcome, "waited": time.monotonic() - t}))
"""

HOLD_S = 7.0


def test_busy_timeout_only_for_sqlite_urls():
    t = airflow_db.SQLITE_BUSY_TIMEOUT_S
    assert t > HOLD_S
    assert airflow_db.sqlite_url("/x/airflow.db") == f"sqlite:////x/airflow.db?timeout={t}"
    assert airflow_db.with_busy_timeout("sqlite:////x/a.db") == f"sqlite:////x/a.db?timeout={t}"
    assert airflow_db.with_busy_timeout("sqlite:////x/a.db?mode=ro").endswith(f"&timeout={t}")
    assert (
        airflow_db.with_busy_timeout("sqlite:////x/a.db?timeout=5") == "sqlite:////x/a.db?timeout=5"
    )
    pg = "postgresql+psycopg2://a@b/airflow"
    assert airflow_db.with_busy_timeout(pg) == pg
    assert airflow_db.sqlite_path(f"sqlite:////x/a.db?timeout={t}") == "/x/a.db"


def _probe(env) -> dict:
    code = f"HOLD_S = {HOLD_S}\n" + WRITE_UNDER_LOCK
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_metadata_db_waits_for_a_held_write_lock(tmp_path, monkeypatch):
    for k in ("AIRFLOW_HOME", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
        monkeypatch.delenv(k, raising=False)
    env = local.airflow_env(tmp_path)
    conn = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert conn == airflow_db.sqlite_url(tmp_path / "var" / "airflow" / "airflow.db")
    got = _probe(env)
    assert got["outcome"] == "written", got
    assert got["waited"] >= HOLD_S - 0.5, got

    # the same probe without the timeout: pysqlite gives up after its 5 s default
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = conn.split("?")[0]
    got = _probe(env)
    assert "database is locked" in got["outcome"], got
