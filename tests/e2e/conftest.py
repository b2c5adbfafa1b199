"""A real Airflow for the e2e tests: `airflow api-server` + `scheduler` + `dag-processor` on
127.0.0.1 (SQLite, LocalExecutor) in a temp AIRFLOW_HOME, with a temp lake and params, the
lmdata pools, and a login (simple auth manager, admin/admin). One per test session, shared by
test_airflow_ui.py, test_backfill_api.py and test_scheduler_chain.py: the tests that use it run
first (in their order) and it is stopped right after the last of them, not left idling (three
Airflow processes and a Spark Connect JVM) through the rest of the session.

Also one run of `make run`'s web chain per session (`web_chain`), shared by
test_walking_skeleton.py (what it did) and test_cluster_s3.py (the gold its cluster run must
equal)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from lmdata.workflow import airflow_db
from support import run_local_chain

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "commoncrawl"
# The backfill crawl: the sample's two WARC files + one WARC test fixture, laid out like the
# bucket under one crawl name, so 3 slices hold different documents.
BACKFILL_CRAWL = "CC-MAIN-2020-34"
BACKFILL_WARCS = [
    SAMPLE
    / "crawl-data/CC-MAIN-2020-34/segments/1596439737289.75/warc"
    / "CC-MAIN-20200808165417-20200808195417-00395.warc.gz",
    SAMPLE
    / "crawl-data/CC-MAIN-2024-22/segments/1715971057216.39/warc"
    / "CC-MAIN-20240517233122-20240518023122-00000.warc.gz",
    ROOT / "tests/fixtures/warc-edgecases/cc.warc.gz",
]
SLICES = 3
START_DATE = "2026-01-01"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_backfill_source(root: Path) -> list[str]:
    """A local bucket with one WARC per slice: file names are picked (deterministically) so that
    sha1(path) mod SLICES puts exactly one file in each slice. Returns the paths by slice."""
    from lmdata.ingest.manifest import slice_bucket

    by_slice: dict[int, str] = {}
    k = 0
    files = iter(BACKFILL_WARCS)
    src = next(files)
    while len(by_slice) < SLICES:
        rel = f"crawl-data/{BACKFILL_CRAWL}/segments/1596439737289.{k}/warc/part-{k:05d}.warc.gz"
        b = slice_bucket(rel, SLICES)
        if b not in by_slice:
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            by_slice[b] = rel
            src = next(files, None)
        k += 1
    return [by_slice[i] for i in range(SLICES)]


@dataclass
class AirflowServer:
    url: str
    home: Path
    lake: Path
    env: dict[str, str]
    slice_paths: list[str]
    crawl: str = BACKFILL_CRAWL
    procs: list[subprocess.Popen] = field(default_factory=list)
    bucket: Path | None = None
    _token: str | None = None

    def token(self) -> str:
        if self._token is None:
            body = json.dumps({"username": "admin", "password": "admin"}).encode()
            req = urllib.request.Request(
                f"{self.url}/auth/token",
                data=body,
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(req, timeout=30) as r:
                self._token = json.loads(r.read())["access_token"]
        return self._token

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        """One API call; an idempotent one (GET, PATCH) is retried after a transient SQLite
        error. WAL mode answers a read-then-write transaction that raced another writer's commit
        with SQLITE_BUSY at once, whatever the busy timeout (airflow_db.py), and the API server
        turns that into 500 "Database error"; a client retries it as it would a 503."""
        for attempt in range(3):
            status, out = self._api_once(method, path, body)
            retry = method in ("GET", "PATCH") and status == 500 and "Database error" in str(out)
            if not retry:
                return status, out
            time.sleep(2.0 * (attempt + 1))
        return self._api_once(method, path, body)  # the fourth and last try, as it answers

    def _api_once(self, method: str, path: str, body: dict | None) -> tuple[int, dict]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}/api/v2{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token()}"},
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if raw else {})
        except urllib.error.HTTPError as e:
            return e.code, {"error": e.read().decode(errors="replace")}

    def logs(self, chars: int = 3000) -> str:
        out = []
        for f in sorted((self.home / "logs_proc").glob("*.log")):
            out.append(f"--- {f.name}\n{f.read_text(errors='replace')[-chars:]}")
        return "\n".join(out)


def _wait(pred, timeout: float, what: str, server: AirflowServer) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        for p in server.procs:
            if p.poll() is not None:
                raise RuntimeError(f"{p.args} exited {p.returncode}\n{server.logs()}")
        try:
            if pred():
                return
        except (OSError, urllib.error.URLError, KeyError, ValueError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{what}: not ready after {timeout:.0f}s\n{server.logs()}")


@pytest.fixture(scope="session")
def airflow_server(tmp_path_factory):
    if shutil.which("airflow", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("airflow is not installed in this venv")
    tmp = tmp_path_factory.mktemp("airflow_e2e")
    home, lake, src = tmp / "airflow", tmp / "lake", tmp / "bucket"
    (home / "logs_proc").mkdir(parents=True)
    slice_paths = build_backfill_source(src)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["ingest_cc"].update(
        crawl=BACKFILL_CRAWL,
        source=str(src),
        format="warc",
        slices=SLICES,
        slice_start_date=START_DATE,
    )
    params_path = tmp / "params.yaml"
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    pw_file = home / "passwords.json"
    pw_file.write_text(json.dumps({"admin": "admin"}))
    venv_bin = str(Path(sys.executable).parent)
    env = dict(os.environ)
    env.update(
        PATH=venv_bin + os.pathsep + env.get("PATH", ""),
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
        AIRFLOW__CORE__AUTH_MANAGER=(
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(pw_file),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{url}/execution/",
        # with a busy timeout: pysqlite's 5 s is too short beside the Spark stages on 2 cores
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=airflow_db.sqlite_url(home / "airflow.db"),
        AIRFLOW__API__BASE_URL=url,
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__API__SECRET_KEY="lmdata-e2e-secret",
        AIRFLOW__API_AUTH__JWT_SECRET="lmdata-e2e-jwt-secret-0123456789abcdef",
        # the scheduler creates asset-triggered runs (test_scheduler_chain.py) but no interval
        # runs of cc_ingest (a scheduled run would add a slice the backfill test did not ask
        # for): its schedule ends on the backfill's last date
        LMDATA_CC_INGEST_END_DATE="2026-01-03",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="10",
        # the DAG files do not change during the tests: parsed once, not again every 30 s (8
        # files, ~5 s of CPU a round on a 2-core machine that runs the Spark stages meanwhile)
        AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="3600",
        AIRFLOW_CONN_LMDATA_SPARK=json.dumps({"conn_type": "spark", "host": "local[2]"}),
        LMDATA_HOME=str(ROOT),
        LMDATA_LAKE=str(lake),
        LMDATA_PARAMS=str(params_path),
        LMDATA_RUNS_DIR=str(tmp / "runs"),
        # everything a DAG writes stays in the temp dir (not the checkout's var/)
        LMDATA_MIXTURES_REPO=str(tmp / "mixtures"),
        LMDATA_MIXTURES=str(tmp / "mixtures"),
        LMDATA_DVC_REMOTE=str(tmp / "dvc-remote"),
        LMDATA_REPORTS=str(tmp / "reports"),
        LMDATA_REPORTS_DIR=str(tmp / "reports"),
        LMDATA_TRAIN_DIR=str(tmp / "train"),
        LMDATA_TRAIN_STEPS="4",
        # the fault-injection test hook (lmdata.faults): no file, no faults
        LMDATA_FAULTS=str(tmp / "faults.json"),
        LMDATA_PYTHON=sys.executable,
        PYSPARK_PYTHON=sys.executable,
        NO_PROXY="*",
    )
    airflow = str(Path(venv_bin) / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    from lmdata.workflow import settings

    pools = {
        n: {"slots": s, "description": d, "include_deferred": False}
        for n, (s, d) in settings.POOLS.items()
    }
    (home / "pools.json").write_text(json.dumps(pools))
    subprocess.run(
        [airflow, "pools", "import", str(home / "pools.json")],
        env=env,
        check=True,
        capture_output=True,
    )
    # the stage tasks run on a warm Spark Connect server, as under `make run`/`make airflow`
    # (the spark-submit path is the cluster test's: tests/e2e/test_cluster_s3.py)
    from lmdata.spark import connect

    spark_dir = home / "spark-connect"
    env["LMDATA_SPARK_REMOTE"] = connect.start(spark_dir, env=env)
    server = AirflowServer(
        url=url, home=home, lake=lake, env=env, slice_paths=slice_paths, bucket=src
    )
    _STOP["airflow_server"] = lambda: _stop_airflow(server, spark_dir)
    for name, args in (
        ("api-server", ["api-server", "--port", str(port), "--host", "127.0.0.1"]),
        ("scheduler", ["scheduler"]),
        ("dag-processor", ["dag-processor"]),
    ):
        log = open(home / "logs_proc" / f"{name}.log", "w")
        server.procs.append(
            subprocess.Popen(
                [airflow, *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    try:
        _wait(
            lambda: urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5).status == 200,
            240,
            "api-server",
            server,
        )
        _wait(lambda: server.api("GET", "/dags/cc_ingest")[0] == 200, 300, "DAGs parsed", server)
        yield server
    finally:
        _STOP.pop("airflow_server", lambda: None)()


def _stop_airflow(server: AirflowServer, spark_dir: Path) -> None:
    from lmdata.spark import connect

    for p in server.procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in server.procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
    connect.stop(spark_dir)


_STOP: dict = {}  # fixture name -> how to stop what it started (once)


def _uses_airflow(item) -> bool:
    return "airflow_server" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config, items):
    """The e2e tests that use `airflow_server` first, each group in its own order (the
    scheduler-chain tests depend on their order), so the server can stop early."""
    here = Path(__file__).resolve().parent
    slots = [i for i, it in enumerate(items) if here in Path(str(it.path)).resolve().parents]
    mine = [items[i] for i in slots]
    ordered = [it for it in mine if _uses_airflow(it)] + [
        it for it in mine if not _uses_airflow(it)
    ]
    for i, it in zip(slots, ordered, strict=True):
        items[i] = it


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Stop the shared Airflow after the last test that uses it (whatever the order)."""
    result = yield
    if _uses_airflow(item) and "airflow_server" in _STOP:
        later = item.session.items[item.session.items.index(item) + 1 :]
        if not any(_uses_airflow(it) for it in later):
            _STOP.pop("airflow_server")()
    return result


@pytest.fixture(scope="session")
def web_chain(tmp_path_factory):
    """`make run`'s web chain (cc_ingest -> curate_web on the bundled sample) through
    `lmdata.workflow.local` (real Airflow `dags test`, the warm Spark Connect server), run once
    per session. Returns (its home: lake, runs, ...; the CompletedProcess)."""
    home = tmp_path_factory.mktemp("web_chain")
    return home, run_local_chain(home, "cc_ingest,curate_web")
