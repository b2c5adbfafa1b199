"""The `make run` chain on a real Spark standalone cluster with the lake on an S3 server.

A Spark master and two workers (the venv's pyspark `spark-class`, 127.0.0.1, one core each, their
own work dirs), an S3 server (moto, path-style, signed requests) holding the lake
(`LMDATA_LAKE=s3://lmdata-lake/lake`), Airflow's `lmdata_spark` connection at
`spark://127.0.0.1:PORT`: `lmdata.workflow.local run` runs cc_ingest and curate_web (with
LMDATA_CLUSTER_TEST_FULL=1 also code_ingest, curate_code and build_mixture) through `airflow dags
test` and SparkSubmitOperator. Spark writes
through delta-spark + s3a, the gates, the asset facts and the report read the same tables with
delta-rs. The gold tables (doc_id, text hash) and the mixture manifest must equal those of the
same chain on local Spark with a local lake.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from lmdata.lake import delta
from support import run_local_chain

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# The compact default (CI's 90 minutes on 2 cores): the web chain, whose gold table is compared.
# LMDATA_CLUSTER_TEST_FULL=1: the whole `make run` chain but training (code + mixture too), and
# the mixture manifests are compared as well (about 3x longer).
FULL = os.environ.get("LMDATA_CLUSTER_TEST_FULL") == "1"
CHAIN = (
    "cc_ingest,code_ingest,curate_web,curate_code,build_mixture" if FULL else "cc_ingest,curate_web"
)
BUCKET = "lmdata-lake"
GOLD = ["gold/web_documents", "gold/code_files"] if FULL else ["gold/web_documents"]
pytestmark = [pytest.mark.airflow, pytest.mark.spark, pytest.mark.slow]

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "lmdata-test-key",
    "AWS_SECRET_ACCESS_KEY": "lmdata-test-secret",
    "AWS_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, procs: list[subprocess.Popen], timeout: float = 120) -> bytes:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        for p in procs:
            assert p.poll() is None, f"{p.args} exited {p.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.read()
        except OSError:
            time.sleep(0.25)
    raise TimeoutError(url)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """moto's S3 server as its own process on 127.0.0.1; yields the endpoint URL."""
    import boto3

    port = _free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "w")
    proc = subprocess.Popen(
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{endpoint}/moto-api/", [proc])
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **_keys())
        s3.create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        _stop([proc])


def _keys() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_ENV["AWS_SECRET_ACCESS_KEY"],
    }


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory, s3_server):
    """A standalone master + 2 workers (1 core, 1.5 GiB each); yields (master URL, UI URL,
    {name: process})."""
    import pyspark

    tmp = tmp_path_factory.mktemp("spark_cluster")
    spark_home = str(Path(pyspark.__file__).parent)
    port, ui = _free_port(), _free_port()
    env = dict(os.environ)
    env.update(
        S3_ENV,
        PATH=str(VENV_BIN) + os.pathsep + env.get("PATH", ""),
        SPARK_HOME=spark_home,
        SPARK_LOG_DIR=str(tmp / "logs"),
        PYSPARK_PYTHON=sys.executable,
        SPARK_NO_DAEMONIZE="1",
    )
    spark_class = str(Path(spark_home) / "bin" / "spark-class")
    procs: list[subprocess.Popen] = []
    named: dict[str, subprocess.Popen] = {}

    def start(name: str, *args: str) -> None:
        log = open(tmp / f"{name}.log", "w")
        procs.append(
            subprocess.Popen(
                [spark_class, *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=tmp,
            )
        )
        named[name] = procs[-1]

    master = f"spark://127.0.0.1:{port}"
    start(
        "master",
        "org.apache.spark.deploy.master.Master",
        "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui),
    )  # fmt: skip
    try:
        _wait_http(f"http://127.0.0.1:{ui}/json/", procs)
        for i in (1, 2):
            work = tmp / f"worker{i}"
            work.mkdir()
            start(
                f"worker{i}",
                "org.apache.spark.deploy.worker.Worker", master,
                "--host", "127.0.0.1", "--cores", "1", "--memory", "1500m",
                "--webui-port", str(_free_port()), "--work-dir", str(work),
            )  # fmt: skip
        t0 = time.monotonic()
        while time.monotonic() - t0 < 120:
            state = json.loads(_wait_http(f"http://127.0.0.1:{ui}/json/", procs))
            if sum(w["state"] == "ALIVE" for w in state["workers"]) == 2:
                break
            time.sleep(1)
        else:
            raise TimeoutError("2 Spark workers did not register")
        yield master, f"http://127.0.0.1:{ui}", named
    finally:
        _stop(procs)


def _gold(lake: str) -> dict[str, set[tuple[str, str]]]:
    out = {}
    for t in GOLD:
        rows = delta.read_arrow(delta.table_uri(lake, t), columns=["doc_id", "text"]).to_pylist()
        out[t] = {(r["doc_id"], hashlib.sha256(r["text"].encode()).hexdigest()) for r in rows}
    return out


def _manifest(mixtures: Path) -> dict:
    from lmdata.mixture.manifest import fingerprint

    (path,) = sorted(mixtures.glob("*/manifest.json"))
    m = json.loads(path.read_text())
    return {
        "fingerprint": fingerprint(m),
        "sources": [
            {k: s.get(k) for k in ("name", "table", "delta_version", "documents", "tokens")}
            for s in m["sources"]
        ],
        "totals": m["totals"],
    }


def test_chain_on_spark_cluster_with_s3_lake_equals_local_run(
    tmp_path, s3_server, spark_cluster, monkeypatch, request
):
    master, ui, _ = spark_cluster
    host, port = master.rsplit(":", 1)
    s3_lake = f"s3://{BUCKET}/lake"
    cluster_env = {
        **S3_ENV,
        "LMDATA_LAKE": s3_lake,
        "LMDATA_S3_ENDPOINT": s3_server,
        "AIRFLOW_CONN_LMDATA_SPARK": json.dumps(
            {"conn_type": "spark", "host": host, "port": int(port)}
        ),
        "LMDATA_SPARK_MASTER": master,  # `lmdata mix` (not a spark-submit task) too
        "LMDATA_WARM_SPARK": "0",  # spark-submit per stage; the local run uses the warm server
    }
    cluster = run_local_chain(tmp_path / "cluster", CHAIN, cluster_env)
    out = cluster.stdout + cluster.stderr
    assert cluster.returncode == 0, out[-6000:]
    assert f"--master {master}" in out, "the stages did not go to the standalone master"
    if FULL:
        local_home = tmp_path / "local"
        local = run_local_chain(local_home, CHAIN)
    else:  # the session's web chain run (conftest.py), which test_walking_skeleton.py checks
        local_home, local = request.getfixturevalue("web_chain")
    assert local.returncode == 0, (local.stdout + local.stderr)[-6000:]
    assert "warm Spark (Spark Connect)" in local.stdout  # so gold is compared across both paths

    # every Spark stage ran as an application of the cluster, with executors on both workers
    state = json.loads(urllib.request.urlopen(f"{ui}/json/", timeout=10).read())
    apps = state["completedapps"] + state["activeapps"]
    assert len(apps) >= 5, apps  # 2 ingests, curate, dedup, 2 gates
    # the lake is in the bucket, nowhere on the local disk
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", **_keys())
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="lake/")
        for o in page.get("Contents", [])
    ]
    for t in ("bronze/web_documents", *GOLD, "_meta/stage_runs"):
        assert any(k.startswith(f"lake/{t}/_delta_log/") for k in keys), t
    assert not (tmp_path / "cluster" / "lake").exists()

    for k, v in {**S3_ENV, "LMDATA_S3_ENDPOINT": s3_server}.items():
        monkeypatch.setenv(k, v)
    # delta-rs reads what delta-spark wrote through s3a; gold equals the local run's
    got, want = _gold(s3_lake), _gold(str(local_home / "lake"))
    for t in GOLD:
        assert got[t] and got[t] == want[t], t
    if FULL:
        assert _manifest(tmp_path / "cluster" / "mixtures") == _manifest(local_home / "mixtures")
    # the stage runs were recorded in the S3 lake, and the gold tables were written by delta-spark
    runs = delta.read_arrow(delta.table_uri(s3_lake, delta.STAGE_RUNS)).to_pylist()
    assert {"ingest-cc", "curate", "dedup"} <= {r["stage"] for r in runs}
    ops = {h.get("engineInfo", "") for h in delta.history(delta.table_uri(s3_lake, GOLD[0]))}
    assert any("Delta-Lake" in e or "Apache-Spark" in e for e in ops), ops


def test_killed_worker_mid_stage_loses_and_duplicates_no_row(
    tmp_path, s3_server, spark_cluster, monkeypatch
):
    """SIGKILL one worker (its JVM and its executor) while its tasks write into an S3 table:
    the driver reschedules the lost tasks on the other worker, the one commit holds every row
    exactly once."""
    master, ui, named = spark_cluster
    table = f"s3://{BUCKET}/kill/t"
    marker = tmp_path / "markers"
    marker.mkdir()
    env = dict(os.environ)
    env.update(
        S3_ENV,
        LMDATA_S3_ENDPOINT=s3_server,
        LMDATA_SPARK_MASTER=master,
        PATH=str(VENV_BIN) + os.pathsep + env.get("PATH", ""),
    )
    n = 2000
    job = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/spark/killable_write.py"), table, "kill-run", str(n),
         str(marker), "0.4"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 300 and len(list(marker.glob("task-*"))) < 2:
            assert job.poll() is None, job.communicate()[0][-3000:]
            time.sleep(0.5)
        assert len(list(marker.glob("task-*"))) >= 2, "tasks never ran on both workers"
        victim = named["worker2"]
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(30)
        out, _ = job.communicate(timeout=600)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    assert job.returncode == 0, out[-4000:]
    assert "COMMITTED 0 2000 True" in out, out[-2000:]
    for k, v in {**S3_ENV, "LMDATA_S3_ENDPOINT": s3_server}.items():
        monkeypatch.setenv(k, v)
    ids = delta.read_arrow(table, columns=["id"])["id"].to_pylist()
    assert sorted(ids) == list(range(n))
    state = json.loads(urllib.request.urlopen(f"{ui}/json/", timeout=10).read())
    assert sum(w["state"] == "ALIVE" for w in state["workers"]) == 1
