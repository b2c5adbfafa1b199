"""### build_mixture: gold tables -> token mixture -> Megatron shards -> DVC version -> report

Scheduled on **both** gold assets (`gold/web_documents` and `gold/code_files`): an event is
emitted only for a version whose gold gate passed (write-audit-publish). Reads their Delta
versions from the triggering asset events (under `airflow dags test`: the run conf's
`asset_events`; a manual run with neither: the published versions), then:

1. `mix`: `lmdata mix --mixture <name> --pin <those versions>` samples the gold tables by the
   mixture's weights, trains
   or loads the tokenizer, writes Megatron `.bin/.idx` shards + `manifest.json`, and versions
   them with DVC (commit + tag) - in the `dvc` pool (one DVC repository lock).
2. `verify_shards`: the shards gate (`lmdata validate --manifest`): every shard file exists with the
   manifest's sha256, its index reads, and its document/token counts match.
3. `report`: `lmdata report` (the HTML data-quality report, `var/reports/index.html`).
4. `publish_shards`: the `mixture/shards` asset event carries the manifest URI, the DVC
   revision, token counts and the gold versions it was built from (schedules `train_gpu`).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, task

from lmdata.workflow import settings
from lmdata.workflow.assets import GOLD_CODE, GOLD_WEB, SHARDS
from lmdata.workflow.operators import LmdataCommandOperator, lmdata_task, version_pins

with DAG(
    dag_id="build_mixture",
    description="gold tables -> mixture -> tokenize -> Megatron shards -> DVC version -> report",
    schedule=[GOLD_WEB, GOLD_CODE],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=settings.default_args(),
    tags=["lmdata", "mixture"],
    params={"mixture": Param(settings.MIXTURE, type="string", description="mixture name")},
    user_defined_macros={"version_pins": version_pins},
    doc_md=__doc__,
) as dag:

    @task(doc_md="The gold Delta versions of the triggering asset events.")
    def gold_events(**context) -> dict:
        from lmdata.workflow.assets import newest, published_facts, triggering_extras

        out = {}
        for asset in (GOLD_WEB, GOLD_CODE):
            chosen = newest(triggering_extras(context, asset))
            if chosen is None:
                print(f"no triggering {asset.name} event: using its published version")
                chosen = published_facts(asset.name)
            out[asset.name] = chosen
        print({k: f"v{v['version']} rows={v['rows']}" for k, v in out.items()})
        return out

    mix = LmdataCommandOperator(
        task_id="mix",
        command="mix",
        args=[
            "--mixture",
            "{{ params.mixture }}",
            "{{ version_pins(ti.xcom_pull(task_ids='gold_events')) }}",
        ],
        pool=settings.DVC_POOL,
        doc_md="`lmdata mix`: mixture -> tokenizer -> Megatron shards -> manifest -> DVC "
        "commit + tag (dvc pool).",
    )

    @task(doc_md="The manifest `mix` wrote (its `LMDATA_MIXTURE` line).")
    def manifest_path(mix_summary: dict | None, params=None) -> str:
        from lmdata.workflow.plan import find_manifest

        return find_manifest(mix_summary, params["mixture"])

    manifest = manifest_path(mix.output)
    verify = lmdata_task(
        "validate",
        "verify_shards",
        ["--manifest", "{{ ti.xcom_pull(task_ids='manifest_path') }}"],
        doc_md="The shards gate (`lmdata validate --manifest`): every shard's sha256, index and "
        "document/token counts against the manifest; a failure (exit 2) stops the chain.",
    )
    report = LmdataCommandOperator(
        task_id="report",
        command="report",
        args=[],
        doc_md="`lmdata report`: the HTML data-quality report (var/reports/index.html).",
    )

    @task(outlets=[SHARDS], doc_md="The `mixture/shards` event: manifest URI + DVC revision.")
    def publish_shards(gold: dict, mix_summary: dict | None, manifest: str, **context) -> dict:
        from lmdata.workflow.assets import attach
        from lmdata.workflow.plan import shards_facts

        extra = shards_facts(manifest, mix_summary, gold)
        extra["run_id"] = context["run_id"]
        return attach(context, SHARDS, extra)

    gold = gold_events()
    gold >> mix
    manifest >> verify >> report
    report >> publish_shards(gold, mix.output, manifest)
