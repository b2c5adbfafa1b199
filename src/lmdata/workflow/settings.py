"""Where things are, for DAGs and operators: resolved from the environment, no Airflow imports."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

# Repo root (src/lmdata/workflow/settings.py -> parents[3]); a deployed image sets LMDATA_HOME.
HOME = Path(os.environ.get("LMDATA_HOME") or Path(__file__).resolve().parents[3])
SPARK_JOBS = HOME / "spark_jobs"
SPARK_CONN_ID = os.environ.get("LMDATA_SPARK_CONN_ID", "lmdata_spark")
PYTHON = os.environ.get("LMDATA_PYTHON", sys.executable)
# Pools that serialize the heavy work on a small machine (`lmdata.workflow.local` creates them;
# a cluster sizes them with `airflow pools set`): Spark stages, and DVC (one repo, one lock).
SPARK_POOL = os.environ.get("LMDATA_SPARK_POOL", "spark")
DVC_POOL = os.environ.get("LMDATA_DVC_POOL", "dvc")
POOLS = {
    SPARK_POOL: (1, "lmdata Spark stages (local[*] uses every core)"),
    DVC_POOL: (1, "DVC add/commit/push (one repository lock)"),
}
# The default mixture `build_mixture` builds and the training config / steps of `train_gpu`.
MIXTURE = os.environ.get("LMDATA_MIXTURE", "sample")  # configs/mixtures/<name>.yaml
TRAIN_CONFIG = os.environ.get("LMDATA_TRAIN_CONFIG", "tiny")
TRAIN_STEPS = int(os.environ.get("LMDATA_TRAIN_STEPS", "40"))
TRAIN_DEVICE = os.environ.get("LMDATA_TRAIN_DEVICE", "auto")
# How train_gpu starts training: lmdata.train.launch's `local` (a subprocess, default),
# `kubernetes` (a GPU pod) or `remote` (a command template) - see params.yaml `train:`.
TRAIN_LAUNCHER = os.environ.get("LMDATA_TRAIN_LAUNCHER", "local")
# The last logical date `cc_ingest` schedules (YYYY-MM-DD; empty: no end): a crawl whose
# slices are all done, or a test Airflow whose scheduler must create no interval runs of its own.
CC_INGEST_END_DATE = os.environ.get("LMDATA_CC_INGEST_END_DATE") or None


def default_args(**overrides: Any) -> dict[str, Any]:
    """Task defaults for every lmdata DAG: retries with exponential backoff (2x per try, at
    most 10 min apart) for retryable failures (exit 75; fatal exit 2 fails with no retry, see
    operators.py), and an execution timeout."""
    args: dict[str, Any] = {
        "owner": "lmdata",
        "retries": 2,
        "retry_delay": timedelta(seconds=20),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(hours=2),
    }
    args.update(overrides)
    return args


def params_value(dotted: str, default: Any = None) -> Any:
    """One value of params.yaml (e.g. `ingest_cc.slice_start_date`) at DAG-parse time: plain YAML,
    no validation (the stages validate the whole file)."""
    import yaml

    try:
        with open(params_path()) as f:
            node: Any = yaml.safe_load(f) or {}
    except OSError:
        return default
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def lake() -> str:
    from lmdata.config import resolve_lake

    return resolve_lake(os.environ.get("LMDATA_LAKE") or str(HOME / "var" / "lake"))


def params_path() -> str:
    return os.environ.get("LMDATA_PARAMS") or str(HOME / "params.yaml")


def runs_dir() -> Path:
    return Path(os.environ.get("LMDATA_RUNS_DIR") or HOME / "var" / "runs")


def mixtures_dir() -> Path:
    return Path(os.environ.get("LMDATA_MIXTURES_REPO") or HOME / "var" / "mixtures")


def reports_dir() -> Path:
    return Path(os.environ.get("LMDATA_REPORTS_DIR") or HOME / "var" / "reports")


def train_dir() -> Path:
    return Path(os.environ.get("LMDATA_TRAIN_DIR") or HOME / "var" / "train")
