"""Airflow's SQLite metadata database (the local and e2e setups): a busy timeout in its URL.

Airflow opens SQLite through pysqlite, whose busy timeout is 5 s, and runs it in WAL mode.
Three processes write to it (the API server, the scheduler, the DAG processor); on a 2-core
machine that also runs the Spark stages a writer can hold the lock longer than 5 s, and the
API server then answers 500 "Database error" (`database is locked`) to a plain PATCH of a
DAG's `is_paused` - which is how CI stop 30 failed (tests/e2e/test_backfill_api.py).

The timeout goes in the URL (`sqlite:////path/airflow.db?timeout=60`, a query parameter
SQLAlchemy's pysqlite and aiosqlite dialects pass to `connect`), not in `[database]
sql_alchemy_connect_args`: those apply to whatever database the URL names, and a caller that
points the environment at PostgreSQL afterwards (tests/deploy/test_postgres_metadata.py)
would hand psycopg2 an option it rejects.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

# Seconds a connection waits for another's write lock before "database is locked".
SQLITE_BUSY_TIMEOUT_S = 60


def sqlite_url(path) -> str:
    """The SQLAlchemy URL of the SQLite database at absolute `path`, with the busy timeout."""
    return f"sqlite:///{path}?timeout={SQLITE_BUSY_TIMEOUT_S}"


def with_busy_timeout(conn: str) -> str:
    """`conn` with the busy timeout added when it is a SQLite URL without one; else `conn`."""
    if not conn.startswith("sqlite") or "timeout" in parse_qs(urlsplit(conn).query):
        return conn
    return f"{conn}{'&' if '?' in conn else '?'}timeout={SQLITE_BUSY_TIMEOUT_S}"


def sqlite_path(conn: str) -> str:
    """The file path of a `sqlite:///...` URL (its query, e.g. the timeout, dropped)."""
    if not conn.startswith("sqlite:///"):
        raise ValueError(f"not a SQLite file URL: {conn}")
    return conn.removeprefix("sqlite:///").split("?", 1)[0]
