"""### train_gpu: Megatron shards -> a small GPT-style model (PyTorch)

Scheduled on the `mixture/shards` asset. Reads the manifest URI and the DVC revision from the
**triggering asset event** (under `airflow dags test`: the run conf's `asset_events`; a manual
run may pass `{"manifest": PATH}`), makes sure the shards are there (the path, else
`dvc pull` at that revision), and runs the training launcher: `lmdata train` with
`--launcher local` (a subprocess, default), `kubernetes` (a GPU pod) or `remote` (see
params.yaml `train:`). bf16 on CUDA when a GPU is present, the tiny config on CPU otherwise.
Writes a checkpoint, `training_report.json` (tokens/s, loss curve) under `var/train/<run>`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param, task

from lmdata.workflow import settings
from lmdata.workflow.assets import SHARDS
from lmdata.workflow.operators import LmdataCommandOperator

with DAG(
    dag_id="train_gpu",
    description="Train a small GPT on the shards of the triggering mixture event.",
    schedule=[SHARDS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=settings.default_args(),
    tags=["lmdata", "train", "gpu"],
    params={
        "manifest": Param(None, type=["null", "string"], description="manual runs: manifest"),
        "config": Param(settings.TRAIN_CONFIG, enum=["auto", "tiny", "small"]),
        "device": Param(settings.TRAIN_DEVICE, type="string", description="auto|cpu|cuda"),
        "steps": Param(settings.TRAIN_STEPS, type="integer", minimum=1),
        "launcher": Param(settings.TRAIN_LAUNCHER, enum=["local", "kubernetes", "remote"]),
    },
    doc_md=__doc__,
) as dag:

    @task(
        doc_md="Manifest URI + DVC revision of the triggering `mixture/shards` event; the "
        "shards fetched (path, else `dvc pull` at that revision)."
    )
    def fetch_shards(params=None, **context) -> dict:
        from lmdata.workflow.assets import triggering_extras
        from lmdata.workflow.plan import fetch_manifest

        extras = triggering_extras(context, SHARDS)
        event = extras[-1] if extras else {"manifest_uri": params["manifest"], "dvc_rev": None}
        if not event.get("manifest_uri"):
            raise ValueError("train_gpu: no triggering mixture/shards event and no `manifest`")
        return fetch_manifest(event)

    shards = fetch_shards()
    train = LmdataCommandOperator(
        task_id="train",
        command="train",
        args=[
            "--manifest",
            "{{ ti.xcom_pull(task_ids='fetch_shards')['manifest_path'] }}",
            "--out",
            str(settings.train_dir()) + "/{{ run_id | replace(':', '_') | replace('+', '_') }}",
            "--config",
            "{{ params.config }}",
            "--device",
            "{{ params.device }}",
            "--steps",
            "{{ params.steps }}",
            "--launcher",
            "{{ params.launcher }}",
        ],
        retries=1,
        execution_timeout=timedelta(hours=12),
        doc_md="`lmdata train` through the configured launcher: tokens/s, loss curve, checkpoint "
        "and training_report.json (its summary is this task's XCom).",
    )
    shards >> train
