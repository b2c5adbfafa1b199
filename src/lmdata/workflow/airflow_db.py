"""Connection settings for Airflow's SQLite metadata database (the local and e2e setups).

Airflow opens SQLite through pysqlite, whose busy timeout is 5 s, and runs it in WAL mode.
Three processes write to it (the API server, the scheduler, the DAG processor); on a 2-core
machine that also runs the Spark stages a writer can hold the lock longer than 5 s, and the
API server then answers 500 "Database error" (`database is locked`) to a plain PATCH of a
DAG's `is_paused` - which is how CI stop 30 failed (tests/e2e/test_backfill_api.py). Airflow
reads `[database] sql_alchemy_connect_args` as an import path, so the dict lives here:

    AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS=lmdata.workflow.airflow_db.SQLITE_CONNECT_ARGS

PostgreSQL (the production metadata database, lmdata.workflow.postgres) does not use it.
"""

from __future__ import annotations

# Seconds a connection waits for another's write lock before raising "database is locked"
# (sqlite3.connect's `timeout`). Airflow adds check_same_thread=False to this dict itself.
SQLITE_BUSY_TIMEOUT_S = 60.0
SQLITE_CONNECT_ARGS: dict = {"timeout": SQLITE_BUSY_TIMEOUT_S}
CONNECT_ARGS_PATH = f"{__name__}.SQLITE_CONNECT_ARGS"


def sqlite_env(conn: str) -> dict[str, str]:
    """The environment that gives a SQLite metadata DB its busy timeout ({} for other DBs)."""
    if not conn.startswith("sqlite"):
        return {}
    return {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": CONNECT_ARGS_PATH}
