"""Language-aware curation (*_v2 filters + FineWeb-2 recipes) on real text of eight scripts:
a clean document passes with its language's recipe named in the labels; its repetitive and
word-list twins fail; English keeps the published English recipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmdata.errors import ConfigError
from lmdata.filters.base import FilterPipeline
from lmdata.lang import tokenize as tk
from lmdata.lang.recipes import recipe_for

FIXTURE = Path(__file__).parents[2] / "fixtures" / "multilingual" / "filter_sentences.json"
SENTENCES: dict[str, list[str]] = json.loads(FIXTURE.read_text(encoding="utf-8"))
V2 = {
    "lid_cascade_v1": {},
    "gopher_repetition_v2": {},
    "gopher_quality_v2": {},
    "c4_v2": {},
    "fineweb_v2": {},
}
V1 = {  # the English-only pipeline
    "lid_fasttext_v1": {},
    **{k.replace("_v2", "_v1"): v for k, v in V2.items() if k.endswith("_v2")},
}
EXPECTED_RECIPE = {
    "zh": "cmn_Hani",
    "ja": "jpn_Jpan",
    "ko": "kor_Hang",
    "th": "tha_Thai",
    "ar": "arb_Arab",
    "hi": "hin_Deva",
    "ru": "rus_Cyrl",
    "de": "deu_Latn",
    "fr": "fra_Latn",
    "en": "eng_Latn",
}
NO_SPACE = {"zh", "ja"}


@pytest.fixture(scope="module")
def pipeline() -> FilterPipeline:
    return FilterPipeline.from_config(V2)


def clean_doc(lang: str) -> str:
    """Four paragraphs of consecutive real sentences, blank-line separated (main-text shape)."""
    s = SENTENCES[lang]
    sep = "" if lang in NO_SPACE else " "
    return "\n\n".join(sep.join(s[i : i + 6]) for i in range(0, 24, 6))


def repeated_doc(lang: str) -> str:
    return "\n".join([SENTENCES[lang][0]] * 30)


def word_list_doc(lang: str) -> str:
    kind = recipe_for(lang).tokenizer
    words: list[str] = []
    for s in SENTENCES[lang]:
        words.extend(w for w in tk.words(s, kind) if w not in words)
    return "\n".join(words[:120])


@pytest.mark.parametrize("lang", sorted(EXPECTED_RECIPE))
def test_clean_text_passes_with_its_recipe(pipeline: FilterPipeline, lang: str) -> None:
    res = pipeline.apply(clean_doc(lang))
    assert res.labels["lid_cascade_v1.lang"] == res.labels["language"] == lang
    assert res.labels["recipe"] == EXPECTED_RECIPE[lang]
    assert res.keep, (lang, res.reason)


@pytest.mark.parametrize("lang", sorted(EXPECTED_RECIPE))
def test_repetitive_and_word_list_twins_fail(pipeline: FilterPipeline, lang: str) -> None:
    rep = pipeline.apply(repeated_doc(lang))
    assert not rep.keep
    assert rep.reason.split(":")[0] in {"gopher_repetition_v2", "lid_cascade_v1", "c4_v2"}
    wl = pipeline.apply(word_list_doc(lang))
    assert not wl.keep, lang


@pytest.mark.parametrize("lang", ["zh", "ja", "ru", "de", "ar", "hi"])
def test_english_rules_dropped_the_same_clean_text(lang: str) -> None:
    """The v1 (English-only) filters drop what the recipes keep: the defect this fixes."""
    assert FilterPipeline.from_config(V1).apply(clean_doc(lang)).reason is not None


def test_chinese_is_segmented_into_words(pipeline: FilterPipeline) -> None:
    res = pipeline.apply(clean_doc("zh"))
    mwl = res.scores["gopher_quality_v2.mean_word_length"]
    assert 1.0 <= mwl <= 3.0  # words, not one 1,000-character "word"
    assert res.scores["gopher_quality_v2.stop_word_count"] >= 2  # 的 / 在 / 是 ... found


def test_thresholds_follow_the_document_language(pipeline: FilterPipeline) -> None:
    zh = pipeline.thresholds_for("zh")
    en = pipeline.thresholds_for("en")
    i = pipeline.names.index("gopher_quality_v2")
    assert zh[i]["max_mean_word_length"] == 5 and en[i]["max_mean_word_length"] == 10
    # lid.176 minimum: FineWeb-2's language_score capped at 0.5 (CCNet); English: FineWeb's 0.65
    assert pipeline.thresholds_for("de")[0]["min_score"] == 0.5
    assert pipeline.thresholds_for("sl")[0]["min_score"] == pytest.approx(0.5)
    assert en[0]["min_score"] == 0.65


def test_per_language_overrides_win_over_recipe_and_pipeline() -> None:
    p = FilterPipeline.from_config(
        {**V2, "gopher_quality_v2": {"min_word_count": 10}},
        languages={"zh": {"gopher_quality_v2": {"min_stop_word_count": 5}}},
    )
    i = p.names.index("gopher_quality_v2")
    assert p.thresholds_for("zh")[i]["min_stop_word_count"] == 5
    assert p.thresholds_for("zh")[i]["min_word_count"] == 10
    assert p.thresholds_for("de")[i]["min_stop_word_count"] == 2
    # re-deciding from stored scores alone gives the same reason as scoring
    doc = clean_doc("zh")
    res = p.apply(doc)
    assert p.decide(res.scores) == res.reason


def test_language_overrides_are_validated() -> None:
    with pytest.raises(ConfigError, match="not a language label"):
        FilterPipeline.from_config(V2, languages={"zz": {}})
    with pytest.raises(ConfigError, match="not in the pipeline"):
        FilterPipeline.from_config(V2, languages={"zh": {"gopher_quality_v1": {}}})
    with pytest.raises(ConfigError, match="unknown threshold key"):
        FilterPipeline.from_config(V2, languages={"zh": {"gopher_quality_v2": {"nope": 1}}})


def test_fallback_recipe_never_uses_english_stop_words() -> None:
    und = recipe_for("und")
    assert und.source == "fallback" and not und.stop_words
    assert recipe_for("en").stop_words == frozenset(
        {"the", "be", "to", "of", "and", "that", "have", "with"}
    )
    for lang in ("de", "zh", "ru"):
        assert not recipe_for(lang).stop_words & {"the", "be", "with"}


def test_v1_pipelines_are_unchanged() -> None:
    p = FilterPipeline.from_config(V1)
    assert not p.recipes and "recipe" not in p.label_keys()
    assert p.thresholds_for("de")[0]["min_score"] == 0.65


def test_fineweb_v2_ignores_blank_lines() -> None:
    """Paragraphs separated by blank lines are not 'short lines' (v1 counted the blanks)."""
    p = FilterPipeline.from_config({"fineweb_v2": {}, "fineweb_v1": {}}, recipes=False)
    res = p.apply(clean_doc("en"))
    assert res.scores["fineweb_v2.short_line_frac"] == 0.0
    assert res.scores["fineweb_v1.short_line_frac"] > 0.4


def test_sentence_terminals_of_every_script() -> None:
    for line in ("这是一个句子。", "これは文です。", "هذه جملة؟", "यह वाक्य है।", "Это предложение."):
        assert tk.ends_sentence(line), line
    assert not tk.ends_sentence("Home | About us")
    assert tk.count_sentences("第一句。第二句！第三句？") == 3


def test_group_score_keeps_croatian_that_lid176_splits_across_hr_sr_bs_sh() -> None:
    from lmdata.filters.langid import LidFastTextV2

    doc = (
        "Hrvatska je država u srednjoj i jugoistočnoj Europi. Glavni grad je Zagreb, koji je "
        "ujedno i najveći grad u državi. Hrvatska ima dugu obalu na Jadranskom moru i više od "
        "tisuću otoka. Službeni jezik je hrvatski, a valuta je euro od početka 2023. godine."
    )
    s = LidFastTextV2().score(doc)
    assert s["lid_fasttext_v2.group_score"] >= s["lid_fasttext_v2.score"]
    assert s["lid_fasttext_v2.group_score"] > 0.8


def test_toxicity_classifier_applies_to_english_only_with_recipes(pipeline) -> None:
    p = FilterPipeline.from_config({**V2, "toxicity_v1": {}})
    i = p.names.index("toxicity_v1")
    assert p.thresholds_for("en")[i]["max_classifier_prob"] == 0.5
    assert p.thresholds_for("eu")[i]["max_classifier_prob"] is None
    assert p.thresholds_for("eu")[i]["max_wordlist_frac"] == 0.02  # the word list still applies


def test_recipe_calibration_caps_and_adjustments() -> None:
    assert recipe_for("eu").min_alpha_word_frac == 0.7  # FineWeb-2: 0.788
    assert recipe_for("en").min_alpha_word_frac == 0.8  # English untouched
    assert recipe_for("te").min_stop_words == 1 and recipe_for("te").source == "fineweb2+lmdata"
