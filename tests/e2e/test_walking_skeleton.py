"""`make run`'s path: cc_ingest -> curate_web and code_ingest -> curate_code through real Airflow
(`airflow dags test`, SQLite), LmdataStageOperator -> the warm Spark Connect server -> stages ->
Delta tables, the producer's asset event passed to the consumer; and what curation did to the
documents (drop reasons, PII placeholders, duplicates), not only that rows arrived."""

import re
from pathlib import Path

import pytest

from lmdata.lake import delta
from support import run_local_chain

ROOT = Path(__file__).resolve().parents[2]
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
# curate's steps besides the pipeline's filters that may drop a document
STEP_REASONS = {"decontam", "paragraph_dedup", "substring_dedup", "repeated_lines"}
pytestmark = [pytest.mark.airflow, pytest.mark.spark, pytest.mark.slow]


def test_web_chain_through_airflow(web_chain):
    # the session's one run of the web chain (conftest.py; test_cluster_s3.py compares with it)
    home, proc = web_chain
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    # the stages ran on the warm Spark Connect server `make run` starts (lmdata.spark.connect)
    assert "warm Spark (Spark Connect) at sc://127.0.0.1:" in out and "LMDATA_STATS" in out
    assert "on the warm Spark at sc://" in out
    lake = str(home / "lake")
    bronze = delta.read_arrow(delta.table_uri(lake, delta.BRONZE_WEB))
    gold = delta.read_arrow(delta.table_uri(lake, delta.GOLD_WEB))
    # the sample: 1 WET conversion record (CC-MAIN-2024-22) + 16 HTML responses (CC-MAIN-2020-34)
    assert sorted(set(bronze["crawl"].to_pylist())) == ["CC-MAIN-2020-34", "CC-MAIN-2024-22"]
    assert bronze.num_rows == 17
    assert 0 < gold.num_rows <= bronze.num_rows
    assert set(gold["doc_id"].to_pylist()) <= set(bronze["doc_id"].to_pylist())
    attrs = delta.read_arrow(delta.table_uri(lake, "silver/web_attributes"))
    assert attrs.num_rows == 17  # every bronze document scored, kept or not
    assert delta.read_arrow(
        delta.table_uri(lake, "silver/web_dedup")
    ).num_rows == gold.num_rows + sum(
        1
        for r in delta.read_arrow(delta.table_uri(lake, "silver/web_dedup")).to_pylist()
        if r["duplicate_of"]
    )
    # what curation did: every dropped document names the filter (or step) and the rule that
    # dropped it; gold = the kept documents less the duplicates, each pointing at its original
    import yaml

    pipeline = set(yaml.safe_load((ROOT / "params.yaml").read_text())["curate"]["web"]["pipeline"])
    reasons = {r["doc_id"]: r["drop_reason"] for r in attrs.to_pylist()}
    dropped = {d for d, why in reasons.items() if why}
    assert dropped, "the sample has pages every recipe drops (link lists, short pages)"
    for why in filter(None, reasons.values()):
        name, _, rule = why.partition(":")
        assert (name in pipeline or name in STEP_REASONS) and rule, why
    dedup = delta.read_arrow(delta.table_uri(lake, "silver/web_dedup")).to_pylist()
    dups = {r["doc_id"]: r["duplicate_of"] for r in dedup if r["duplicate_of"]}
    assert all(orig in reasons and orig not in dups for orig in dups.values())
    assert set(gold["doc_id"].to_pylist()) == set(reasons) - dropped - set(dups)
    # PII: the input's e-mail addresses and phone numbers do not reach gold; placeholders do
    bronze_text = "\n".join(bronze["text"].to_pylist())
    gold_text = "\n".join(gold["text"].to_pylist())
    assert EMAIL.search(bronze_text) and not EMAIL.search(gold_text)
    assert "0900 4683643" in bronze_text and "0900 4683643" not in gold_text  # a kept NL page
    assert "<PHONE_NUMBER>" in gold_text
    # stats files of every stage task were written (2 mapped ingests, then the curate DAG's)
    stems = sorted(p.stem for p in (home / "runs").rglob("*.json"))
    assert stems[:2] == ["curate", "dedup"] and "ingest_cc-0" in stems and "ingest_cc-1" in stems
    # the producer's asset event (bronze version + rows) reached the consumer, which curated
    # exactly that bronze version and published gold with its own facts
    assert "asset event bronze/web_documents" in proc.stdout
    assert '"rows": 17' in proc.stdout and "curating bronze/web_documents@v" in out
    assert (
        f'"version": {delta.current_version(delta.table_uri(lake, delta.GOLD_WEB))}'
        in (proc.stdout.split("asset event gold/web_documents", 1)[1])
    )
    # the run printed what it produced
    assert "gold/web_documents" in proc.stdout and "bronze/web_documents" in proc.stdout


def test_code_chain_through_airflow(tmp_path):
    proc = run_local_chain(tmp_path, "code_ingest,curate_code")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    lake = str(tmp_path / "lake")
    bronze = delta.read_arrow(delta.table_uri(lake, "bronze/code_files")).to_pylist()
    # the sample: the interpreter's json + email packages, PSF-licensed Python
    assert len(bronze) > 20
    langs = [r["language"] for r in bronze]
    assert langs.count("Python") > 20 and set(langs) <= {"Python", "reStructuredText"}
    assert {(r["repo_license"], r["license_class"]) for r in bronze} == {("PSF-2.0", "permissive")}
    gold = delta.read_arrow(delta.table_uri(lake, "gold/code_files"))
    attrs = delta.read_arrow(delta.table_uri(lake, "silver/code_attributes"))
    assert attrs.num_rows == len(bronze) and 0 < gold.num_rows <= len(bronze)
