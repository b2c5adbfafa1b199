"""Helpers shared by test folders (tests/ is on sys.path through its rootmost conftest)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def moto_commoncrawl_bucket(tree: Path, bucket: str = "commoncrawl"):
    """A real moto S3 server on 127.0.0.1 holding `tree` in a publicly readable bucket (like the
    real commoncrawl bucket, so unsigned reads work). Yields the endpoint URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(Bucket=bucket)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ["s3:GetObject", "s3:ListBucket"],
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                }
            ],
        }
        client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                client.upload_file(str(path), bucket, path.relative_to(tree).as_posix())
        yield endpoint
    finally:
        server.stop()


def run_stage(stage: str, lake, *args: str):
    """Run one lmdata stage through the job skeleton (the CLI's and spark-submit's path) on
    `lake` with the repository's params.yaml; asserts it succeeded and returns its stats."""
    from lmdata.spark.job import execute
    from lmdata.spark.stages import get_stage

    params = Path(__file__).resolve().parents[1] / "params.yaml"
    code, stats = execute(get_stage(stage), ["--lake", str(lake), "--params", str(params), *args])
    assert code == 0, stats.error
    return stats


def run_local_chain(home: Path, dag_ids: str, extra_env: dict[str, str] | None = None):
    """`python -m lmdata.workflow.local run DAG[,DAG]` (`make run`'s path: real Airflow
    `dags test`, SQLite) with its own Airflow home, lake, runs, mixtures, DVC remote and reports
    under `home`; `extra_env` last. Returns the CompletedProcess (output captured)."""
    import os
    import subprocess
    import sys

    from lmdata.workflow import airflow_db

    bin_dir = Path(sys.executable).parent
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(home / "airflow"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=airflow_db.sqlite_url(home / "airflow" / "airflow.db"),
        AIRFLOW_CONN_LMDATA_SPARK=json.dumps({"conn_type": "spark", "host": "local[2]"}),
        LMDATA_LAKE=str(home / "lake"),
        LMDATA_RUNS_DIR=str(home / "runs"),
        LMDATA_MIXTURES_REPO=str(home / "mixtures"),
        LMDATA_DVC_REMOTE=str(home / "dvc-remote"),
        LMDATA_REPORTS=str(home / "reports"),
        LMDATA_REPORTS_DIR=str(home / "reports"),
        PATH=str(bin_dir) + os.pathsep + env.get("PATH", ""),
    )
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "lmdata.workflow.local", "run", dag_ids],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,  # a hang guard, not a speed check (a shared 2-core machine is slow)
    )
