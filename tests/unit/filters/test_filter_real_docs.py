"""The default heuristics on real Common Crawl documents with human quality labels (DCLM).

Fixture: tests/fixtures/filters/dclm_agreement_sample.jsonl (see PROVENANCE.md there).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmdata.filters.base import FilterPipeline

FIXTURE = Path(__file__).parents[2] / "fixtures" / "filters" / "dclm_agreement_sample.jsonl"
FINEWEB_ORDER = ["gopher_repetition_v1", "gopher_quality_v1", "c4_v1", "fineweb_v1"]

# line in agreement_data.jsonl -> the rule that drops the page (None = kept)
EXPECTED = {
    134: None,  # news report on a relay race (label 1)
    153: None,  # law firm explainer on medical bills (label 1)
    12: "c4_v1:sentence_count",  # site navigation menu (label 0)
    82: "gopher_repetition_v1:top_4gram_char_frac",  # "- <Month> Events & Festivals (n)" list
    110: "gopher_quality_v1:alpha_word_frac",  # shop page: specs, numbers, "- |" widgets
    44: "gopher_quality_v1:ellipsis_line_frac",  # index of teasers cut with "..."
}


def load() -> list[dict]:
    with FIXTURE.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


DOCS = load()


@pytest.mark.parametrize("doc", DOCS, ids=[f"line{d['line']}-label{d['label']}" for d in DOCS])
def test_default_pipeline_agrees_with_human_label(doc):
    scores, reason = FilterPipeline(FINEWEB_ORDER).run(doc["text"])
    assert reason == EXPECTED[doc["line"]]
    assert (reason is None) is (doc["label"] == 1)


def test_fixture_covers_both_labels():
    assert {d["label"] for d in DOCS} == {0, 1}
    assert set(EXPECTED) == {d["line"] for d in DOCS}


def test_c4_transform_strips_navigation_but_keeps_article_text():
    by_line = {d["line"]: d["text"] for d in DOCS}
    pipeline = FilterPipeline(["c4_v1"])
    article = pipeline.apply(by_line[134])
    assert article.keep
    assert article.scores["c4_v1.kept_char_frac"] > 0.9
    assert "Ragnar Relay Pennsylvania." in article.text
    menu = pipeline.apply(by_line[12])
    assert menu.scores["c4_v1.removed_line_frac"] > 0.9
    assert "Skip to main content" not in menu.text
    assert "Terms of Use" not in menu.text


def test_scores_on_a_good_article_are_plausible():
    by_line = {d["line"]: d["text"] for d in DOCS}
    s = FilterPipeline(FINEWEB_ORDER).score_all(by_line[134])
    assert 400 < s["gopher_quality_v1.word_count"] < 700
    assert 3.5 < s["gopher_quality_v1.mean_word_length"] < 6
    assert s["gopher_quality_v1.stop_word_count"] > 20
    assert s["gopher_repetition_v1.dup_line_frac"] == 0.0
    assert s["fineweb_v1.line_punct_frac"] > 0.9
