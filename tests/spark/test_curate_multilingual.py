"""curate (local Spark) on a mixed-language crawl: every language gets its recipe, clean pages
survive in every script, spam pages do not; dedup shingles by language."""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import pytest

from lmdata.lake import delta
from support import run_stage as _run

ROOT = Path(__file__).resolve().parents[2]
SENTS = ROOT / "tests" / "fixtures" / "multilingual" / "mlcorpus_sentences"
if str(ROOT) not in sys.path:  # bench/ is a package at the repository root, not installed
    sys.path.insert(0, str(ROOT))

from bench import multilingual_corpus as mc  # noqa: E402

pytestmark = pytest.mark.spark
RECIPES = {
    "ar": "arb_Arab",
    "de": "deu_Latn",
    "hi": "hin_Deva",
    "ja": "jpn_Jpan",
    "ko": "kor_Hang",
    "ru": "rus_Cyrl",
    "th": "tha_Thai",
    "zh": "cmn_Hani",
}


def test_curate_mixed_language_batch(spark, tmp_path):
    cc = tmp_path / "cc"
    mc.build_eval(cc, sent_dir=SENTS, clean=3, spam=1, files=1)
    lake = tmp_path / "lake"
    _run("ingest-cc", lake, "--source", str(cc), "--crawl", mc.CRAWL, "--format", "wet")
    stats = _run("curate", lake, "--run-id", "ml1")
    attrs = delta.read_arrow(delta.table_uri(str(lake), "silver/web_attributes")).to_pylist()
    assert len(attrs) == stats.rows_in == 8 * (3 + len(mc.SPAM_KINDS))
    by = defaultdict(lambda: defaultdict(list))
    for a in attrs:
        lang, kind, _ = mc.parse_url(a["url"])
        by[lang][kind].append(a)
    for lang, recipe in RECIPES.items():
        clean = by[lang]["clean"]
        assert (
            {a["language"] for a in clean} == {a["lid_cascade_v2__lang"] for a in clean} == {lang}
        )
        assert {a["recipe"] for a in clean} == {recipe}
        assert sum(a["drop_reason"] is None for a in clean) >= 2, (lang, clean)
        for kind in mc.SPAM_KINDS:
            assert all(a["drop_reason"] for a in by[lang][kind]), (lang, kind)
    # per-language stats for the report
    assert stats.counters["language=zh:in"] == 3 + len(mc.SPAM_KINDS)
    assert stats.counters["recipe=cmn_Hani:kept"] >= 2
    # dedup over the kept pages, shingled per language: the fixture has 40 sentences per
    # language, so clean pages of one language re-use sentences and some are near-duplicates;
    # every duplicate found points to a page of the same language
    d = _run("dedup", lake, "--run-id", "dd1")
    gold = delta.read_arrow(delta.table_uri(str(lake), "gold/web_documents")).to_pylist()
    assert d.rows_in == sum(a["drop_reason"] is None for a in attrs)
    dups = [
        r
        for r in delta.read_arrow(delta.table_uri(str(lake), "silver/web_dedup")).to_pylist()
        if r["duplicate_of"]
    ]
    assert len(gold) == d.rows_in - len(dups)
    lang_of = {a["doc_id"]: a["language"] for a in attrs}
    assert all(lang_of[r["doc_id"]] == lang_of[r["duplicate_of"]] for r in dups)
    # one language re-thresholded from the stored scores (CLI --set, no rescoring): only zh moves
    strict_zh = "curate.web.languages={zh: {gopher_quality_v2: {min_word_count: 100000}}}"
    r = _run("curate", lake, "--run-id", "ml2", "--redecide", "--set", strict_zh)
    after = delta.read_arrow(delta.table_uri(str(lake), "silver/web_attributes")).to_pylist()
    moved = {a["doc_id"] for a in after} - {a["doc_id"] for a in after if a["drop_reason"] is None}
    for a in after:
        was = next(b for b in attrs if b["doc_id"] == a["doc_id"])
        if a["language"] == "zh":
            assert a["drop_reason"] is not None
        else:
            assert a["drop_reason"] == was["drop_reason"]
    assert r.rows_out == len(after) - len(moved)
