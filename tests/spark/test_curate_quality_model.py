"""curate with quality_model_v1 in the web pipeline: a linear model trained here from the
fixture labels; its score and model id land in silver/web_attributes, re-deciding (threshold and
keep-top-fraction) needs no model, and a bad model fails at start."""

from pathlib import Path

import pytest

from lmdata.lake import delta
from lmdata.quality_model.train import read_labelled, train
from lmdata.spark.job import execute
from lmdata.spark.stages import get_stage

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "quality_model" / "labelled.jsonl"
pytestmark = pytest.mark.spark


def _run(stage, lake, *args, ok=True):
    code, stats = execute(
        get_stage(stage), ["--lake", str(lake), "--params", str(ROOT / "params.yaml"), *args]
    )
    assert (code == 0) == ok, stats.error
    return stats


def test_curate_with_quality_model(spark, tmp_path):
    model = train(*read_labelled(FIXTURE), kind="linear", out=tmp_path / "qm", seed=0)
    lake = tmp_path / "lake"
    src = str(ROOT / "samples" / "commoncrawl")
    _run("ingest-cc", lake, "--source", src, "--crawl", "CC-MAIN-2024-22", "--format", "wet")
    qm = f"curate.web.pipeline.quality_model_v1={{model: '{model.model_path}', min_score: 0.5}}"
    s = _run("curate", lake, "--run-id", "c1", "--set", qm)
    attrs = delta.read_arrow(delta.table_uri(str(lake), "silver/web_attributes")).to_pylist()
    assert attrs and s.rows_in == len(attrs)
    model_id = model.card["model_id"]
    for a in attrs:
        assert 0.0 <= a["quality_model_v1__score"] <= 1.0
        assert a["quality_model_v1__model"] == model_id
    # no other filter dropped it and the model scored it below 0.5 -> the model's reason
    others = {a["doc_id"] for a in attrs if a["drop_reason"] not in (None, "quality_model_v1:score")}
    for a in attrs:
        if a["doc_id"] not in others:
            low = a["quality_model_v1__score"] < 0.5
            assert (a["drop_reason"] == "quality_model_v1:score") == low
    assert s.counters[f"quality_model_v1__model={model_id}:in"] == len(attrs)

    # keep the top half per language, re-decided from the stored scores (no rescoring)
    top = (
        f"curate.web.pipeline.quality_model_v1={{model: '{model.model_path}', min_score: null, "
        "keep_top_fraction: 0.5}"
    )
    s2 = _run("curate", lake, "--run-id", "c2", "--redecide", "--set", top)
    cuts = {k: v for k, v in s2.counters.items() if k.startswith("quality_model_v1:cut:")}
    assert cuts
    after = delta.read_arrow(delta.table_uri(str(lake), "silver/web_attributes")).to_pylist()
    by_doc = {a["doc_id"]: a for a in attrs}
    for a in after:
        assert a["quality_model_v1__score"] == by_doc[a["doc_id"]]["quality_model_v1__score"]
        cut = cuts.get(f"quality_model_v1:cut:{a['language']}")
        if a["doc_id"] not in others and cut is not None:
            assert (a["drop_reason"] is None) == (a["quality_model_v1__score"] >= cut)

    # a missing model fails the stage at start (exit 2), before any table is written
    bad = f"curate.web.pipeline.quality_model_v1={{model: '{tmp_path / 'nope.bin'}'}}"
    versions = delta.current_version(delta.table_uri(str(lake), "silver/web_attributes"))
    s3 = _run("curate", lake, "--run-id", "c3", "--rescore", "--set", bad, ok=False)
    assert "not found" in s3.error
    assert delta.current_version(delta.table_uri(str(lake), "silver/web_attributes")) == versions
