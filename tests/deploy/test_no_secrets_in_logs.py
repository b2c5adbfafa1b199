"""Secrets stay out of logs and records: a real `ingest-cc` stage reads the sample crawl from an S3
server (moto on 127.0.0.1) with *signed* requests, the AWS secret key in the environment (as a
deployment injects it from a Kubernetes secret / docker/.env) and an s3a secret in the Spark
conf (LMDATA_SPARK_CONF, as docker/compose.yaml and infra/ pass the non-secret s3a settings).
Then no byte of the secret may appear in stdout/stderr (spark-submit --verbose dumps the Spark
conf: Spark must redact it), the stage stats, the lake (bronze, quarantine, _meta/stage_runs)
or - through Airflow - the task logs and the metadata DB, where the secret is also the
password of the `lmdata_spark` connection the operator reads."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support import moto_commoncrawl_bucket

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "commoncrawl"
CRAWL = "CC-MAIN-2024-22"

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.timeout(900)]

# Distinctive, and never a substring of anything else the run prints.
SECRET = "lmdataSecret" + secrets.token_hex(16)
S3A_SECRET = "s3aSecret" + secrets.token_hex(16)
CONN_PASSWORD = "connPw" + secrets.token_hex(16)
ALL = (SECRET, S3A_SECRET, CONN_PASSWORD)


@pytest.fixture(scope="module")
def s3():
    with moto_commoncrawl_bucket(SAMPLE) as endpoint:
        yield endpoint


def _secret_env(endpoint: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "lmdataAccessKeyId",
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_REGION": "us-east-1",
            "LMDATA_SPARK_CONF": f"spark.hadoop.fs.s3a.secret.key={S3A_SECRET},"
            f"spark.hadoop.fs.s3a.endpoint={endpoint}",
            "PYSPARK_PYTHON": sys.executable,
        }
    )
    return env


def _params(tmp: Path, endpoint: str) -> Path:
    """params.yaml with the crawl source on the S3 server, read with signed requests."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["ingest_cc"].update(
        {"source": "s3://commoncrawl", "crawl": CRAWL, "format": "wet", "limit": 1}
    )
    params["ingest_cc"]["s3"] = {"endpoint_url": endpoint, "unsigned": False, "region": "us-east-1"}
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def _leaks(root: Path) -> list[str]:
    """Files under root holding any secret (bytes, so Parquet, Delta logs and SQLite count)."""
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            out += [f"{p} holds {s[:10]}..." for s in ALL if s.encode() in data]
    return out


def _assert_clean(text: str, where: str) -> None:
    for s in ALL:
        assert s not in text, f"a secret ({s[:10]}...) leaked into {where}"


def _rows(lake: Path) -> int:
    from deltalake import DeltaTable

    return len(DeltaTable(str(lake / "bronze" / "web_documents")).to_pyarrow_table())


def test_spark_submit_stage_keeps_secrets_out(s3, tmp_path):
    lake, stats_out = tmp_path / "lake", tmp_path / "stats.json"
    env = _secret_env(s3)
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "spark-submit"),
            "--verbose",  # prints every Spark property: the conf dump Spark must redact
            "--master",
            "local[1]",
            "--conf",
            f"spark.hadoop.fs.s3a.secret.key={S3A_SECRET}",
            "--conf",
            f"spark.pyspark.python={sys.executable}",
            str(ROOT / "spark_jobs" / "ingest_cc.py"),
            "--lake",
            str(lake),
            "--params",
            str(_params(tmp_path, s3)),
            "--run-id",
            "secrets-test",
            "--stats-out",
            str(stats_out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    # The run really used the secrets: documents came over signed S3, and the s3a secret reached
    # Spark's conf (its key is listed in the conf dump, its value redacted).
    stats = json.loads(stats_out.read_text())
    assert stats["status"] == "ok" and stats["rows_out"] > 0, stats
    assert _rows(lake) == stats["rows_out"]
    assert "spark.hadoop.fs.s3a.secret.key" in out and "*********(redacted)" in out, out[-3000:]
    _assert_clean(out, "spark-submit stdout/stderr")
    _assert_clean(stats_out.read_text(), "the stage stats")
    assert not _leaks(lake), _leaks(lake)  # bronze, quarantine, _meta/stage_runs: all bytes


def test_airflow_task_logs_and_metadata_db_keep_secrets_out(s3, tmp_path):
    from lmdata.workflow import local

    dags = ROOT / "dags"
    if not (dags / "cc_ingest.py").exists():
        pytest.skip("no cc_ingest DAG in dags/")
    env = local.airflow_env(ROOT)
    env.update(_secret_env(s3))
    home = tmp_path / "airflow"
    home.mkdir()
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW_CONN_LMDATA_SPARK": json.dumps(
                {
                    "conn_type": "spark",
                    "host": "local[1]",
                    "login": "lmdata",
                    "password": CONN_PASSWORD,
                }
            ),
            "LMDATA_LAKE": str(tmp_path / "lake"),
            "LMDATA_RUNS_DIR": str(tmp_path / "runs"),
            "LMDATA_PARAMS": str(_params(tmp_path, s3)),
        }
    )
    airflow = str(Path(sys.executable).parent / "airflow")
    migrate = subprocess.run(
        [airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
    )
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    if hasattr(local, "ensure_pools"):
        local.ensure_pools(env)
    conf = {"inputs": [{"crawl": CRAWL, "format": "wet", "source": "s3://commoncrawl", "limit": 1}]}
    proc = subprocess.run(
        [airflow, "dags", "test", "cc_ingest", "2026-02-01", "--conf", json.dumps(conf)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert _rows(tmp_path / "lake") > 0  # the stage ran and read S3 with the secret
    _assert_clean(out, "`airflow dags test` output (task logs)")
    assert not _leaks(home), _leaks(home)  # task log files + the SQLite metadata DB
    assert not _leaks(tmp_path / "runs") and not _leaks(tmp_path / "lake")
    # What was searched holds the stage's own output (its stats line), so a leak would be seen.
    logs = "".join(p.read_text(errors="replace") for p in (home / "logs").rglob("*") if p.is_file())
    assert "LMDATA_STATS" in out + logs
