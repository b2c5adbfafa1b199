"""Run the DAGs on this machine through real Airflow (SQLite metadata DB under var/airflow).

    python -m lmdata.workflow.local run web_pipeline,code_pipeline   # `make run`
    python -m lmdata.workflow.local env                   # print the environment it uses
    python -m lmdata.workflow.local standalone            # `make airflow`: the UI on :8080

It sets AIRFLOW_HOME, the DAGs folder and the `lmdata_spark` connection (local[*]) in the
environment, migrates the metadata DB, and runs `airflow dags test <dag>` (a real DAG run:
scheduler logic, task instances, XCom, the SparkSubmitOperator launching spark-submit).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lmdata.workflow import settings


def airflow_env(home: Path | None = None) -> dict[str, str]:
    home = home or settings.HOME
    var = home / "var"
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    # spark-submit from the venv runs the venv's Spark only when the venv's bin/ comes first.
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env.setdefault("AIRFLOW_HOME", str(var / "airflow"))
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(home / "dags"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env.setdefault(
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{var / 'airflow' / 'airflow.db'}"
    )
    env.setdefault("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    env.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
    env.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
    env.setdefault(
        "AIRFLOW_CONN_LMDATA_SPARK", json.dumps({"conn_type": "spark", "host": "local[*]"})
    )
    env.setdefault("LMDATA_HOME", str(home))
    env.setdefault("LMDATA_LAKE", str(var / "lake"))
    env.setdefault("LMDATA_PARAMS", str(home / "params.yaml"))
    env.setdefault("LMDATA_PYTHON", sys.executable)
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env.setdefault("NO_PROXY", "*")  # macOS/py fork-safety and no proxy lookups for localhost
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    return env


def _airflow(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    airflow = shutil.which("airflow", path=env["PATH"]) or "airflow"
    return subprocess.run([airflow, *args], env=env, check=check)


def migrate(env: dict[str, str]) -> None:
    _airflow(env, "db", "migrate")


def run_dag(dag_id: str, conf: dict | None = None, logical_date: str | None = None) -> int:
    env = airflow_env()
    t0 = time.monotonic()
    migrate(env)
    args = ["dags", "test", dag_id]
    if logical_date:
        args.append(logical_date)
    if conf:
        args += ["--conf", json.dumps(conf)]
    proc = _airflow(env, *args, check=False)
    print(f"\nairflow dags test {dag_id}: exit {proc.returncode} in {time.monotonic() - t0:.0f}s")
    from lmdata.cli import describe_lake

    print(describe_lake(env["LMDATA_LAKE"]))
    return proc.returncode


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "standalone":  # the Airflow UI on :8080 with our DAGs and connection
        env = airflow_env()
        migrate(env)
        return _airflow(env, "standalone", check=False).returncode
    if not argv or argv[0] not in ("run", "env"):
        print(__doc__)
        return 2
    if argv[0] == "env":
        env = airflow_env()
        for k in sorted(env):
            if k.startswith(("AIRFLOW", "LMDATA")):
                print(f"{k}={env[k]}")
        return 0
    dag_ids = argv[1].split(",") if len(argv) > 1 else ["web_pipeline"]
    conf = json.loads(argv[2]) if len(argv) > 2 else None
    code = 0
    for dag_id in dag_ids:
        code = run_dag(dag_id, conf) or code
    return code


if __name__ == "__main__":
    sys.exit(main())
