"""Where things are, for DAGs and operators: resolved from the environment, no Airflow imports."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Repo root (src/lmdata/workflow/settings.py -> parents[3]); a deployed image sets LMDATA_HOME.
HOME = Path(os.environ.get("LMDATA_HOME") or Path(__file__).resolve().parents[3])
SPARK_JOBS = HOME / "spark_jobs"
SPARK_CONN_ID = os.environ.get("LMDATA_SPARK_CONN_ID", "lmdata_spark")
SPARK_POOL = os.environ.get("LMDATA_SPARK_POOL", "default_pool")
PYTHON = os.environ.get("LMDATA_PYTHON", sys.executable)


def lake() -> str:
    from lmdata.config import resolve_lake

    return resolve_lake(os.environ.get("LMDATA_LAKE") or str(HOME / "var" / "lake"))


def params_path() -> str:
    return os.environ.get("LMDATA_PARAMS") or str(HOME / "params.yaml")


def runs_dir() -> Path:
    return Path(os.environ.get("LMDATA_RUNS_DIR") or HOME / "var" / "runs")
