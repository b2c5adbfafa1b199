"""A throwaway PostgreSQL server for Airflow's metadata DB (tests, local trials of the production
metadata path). Debian's `postgresql` package provides `initdb`/`pg_ctl`; no Airflow import.

    with TempPostgres() as pg:          # initdb + pg_ctl start on 127.0.0.1:<free port>
        pg.create_database("airflow")
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = pg.sqlalchemy_url("airflow")

PostgreSQL refuses to run as root: as root the server runs as the `postgres` system user
(`runuser`), otherwise as the current user.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DRIVERS = ("psycopg2", "asyncpg")  # Airflow 3: sync + async SQLAlchemy drivers


def pg_bin(name: str) -> str | None:
    """Path of a PostgreSQL server binary (initdb, pg_ctl), or None when not installed."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return versions[-1] if versions else None


def missing_requirements() -> list[str]:
    """What is missing to run a metadata DB here (empty when ready)."""
    from importlib.util import find_spec

    out = [f"{b} (apt-get install postgresql)" for b in ("initdb", "pg_ctl") if not pg_bin(b)]
    out += [f"python driver {d}" for d in DRIVERS if find_spec(d) is None]
    if os.geteuid() == 0 and not shutil.which("runuser"):
        out.append("runuser (PostgreSQL cannot run as root)")
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TempPostgres:
    """initdb + pg_ctl on 127.0.0.1 in a fresh directory; password auth (scram-sha-256)."""

    def __init__(self, user: str = "lmdata", port: int | None = None) -> None:
        self.user = user
        self.password = secrets.token_urlsafe(18)
        self.port = port or free_port()
        self.dir: Path | None = None
        self._run_as: list[str] = []

    # -- lifecycle
    def start(self) -> TempPostgres:
        missing = missing_requirements()
        if missing:
            raise RuntimeError("cannot start PostgreSQL: missing " + ", ".join(missing))
        # Not under pytest's tmp (0700 root dirs): the postgres user must reach the data dir.
        self.dir = Path(tempfile.mkdtemp(prefix="lmdata-pg-"))
        pwfile = self.dir / "pw"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            shutil.chown(pwfile, "postgres")
            self._run_as = ["runuser", "-u", "postgres", "--"]
        self._pg(
            pg_bin("initdb"),
            "-D",
            str(self.dir / "data"),
            "-U",
            self.user,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=scram-sha-256",
            "-E",
            "UTF8",
            "--no-instructions",
        )
        pwfile.unlink()
        self._pg(
            pg_bin("pg_ctl"),
            "-D",
            str(self.dir / "data"),
            "-l",
            str(self.dir / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            f"-h 127.0.0.1 -p {self.port} -k {self.dir}",
            "start",
        )
        return self

    def stop(self) -> None:
        if self.dir is None:
            return
        if (self.dir / "data" / "postmaster.pid").exists():
            self._pg(pg_bin("pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _pg(self, *args: str | None) -> None:
        proc = subprocess.run(
            [*self._run_as, *map(str, args)], capture_output=True, text=True, timeout=120
        )
        if proc.returncode != 0:
            log = self.server_log()
            raise RuntimeError(
                f"{Path(str(args[0])).name} failed ({proc.returncode}): {proc.stderr.strip()}\n{log}"
            )

    def server_log(self) -> str:
        p = self.dir / "server.log" if self.dir else None
        return p.read_text(errors="replace")[-4000:] if p and p.exists() else ""

    # -- clients
    def sqlalchemy_url(self, database: str, driver: str = "psycopg2") -> str:
        return f"postgresql+{driver}://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres"):
        import psycopg2

        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg2.connect(
                    host="127.0.0.1",
                    port=self.port,
                    user=self.user,
                    password=self.password,
                    dbname=database,
                )
                conn.autocommit = True
                return conn
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def create_database(self, name: str) -> None:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()

    def query(self, database: str, sql: str, args: tuple = ()) -> list[tuple]:
        conn = self.connect(database)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall()
        finally:
            conn.close()
