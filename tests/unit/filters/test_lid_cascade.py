"""lid_cascade_v1: lid.176 first, CLD3 as a guarded second opinion; lid_cascade_v2: then CLD3 on
the text without diacritics (real Leipzig sentences)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmdata.errors import ConfigError
from lmdata.filters.base import FilterPipeline
from lmdata.filters.langid import (
    CASCADE_LANGUAGES,
    LANGUAGES,
    SECOND_OPINION_BELOW,
    LidCascade,
    LidCascadeV2,
    LidFastTextV2,
    strip_diacritics,
)
from lmdata.lang.recipes import recipe_for

FIXTURES = Path(__file__).parents[2] / "fixtures" / "multilingual" / "lid_sentences"


def doc(lang: str, start: int = 0, n: int = 6) -> str:
    lines = [x for x in (FIXTURES / f"{lang}.txt").read_text(encoding="utf-8").split("\n") if x]
    return " ".join(lines[start : start + n])


def scored(text: str) -> tuple[str, dict[str, float]]:
    f = LidCascade()
    s = f.score(text)
    return f.lang_from_scores(s), s


def test_label_table_extends_lid176_without_moving_its_indexes() -> None:
    assert CASCADE_LANGUAGES[: len(LANGUAGES)] == LANGUAGES
    assert {"mi", "zu", "xh", "sn", "st"} <= set(CASCADE_LANGUAGES) - set(LANGUAGES)


@pytest.mark.parametrize("lang", ["so", "la"])
def test_cld3_rescues_a_language_lid176_is_unsure_of(lang: str) -> None:
    # lid.176 puts these below 0.5 on most paragraphs (Somali: right on 12% of sentences)
    for start in (0, 10, 20):
        text = doc(lang, start)
        label, s = scored(text)
        assert label == lang
        assert s["lid_cascade_v1.group_score"] >= SECOND_OPINION_BELOW
        if s["lid_cascade_v1.lid176_group_score"] >= SECOND_OPINION_BELOW:
            assert s["lid_cascade_v1.cld3"] == 0.0  # lid.176's confident answers are final
        else:
            assert s["lid_cascade_v1.cld3"] == 1.0


@pytest.mark.parametrize(("lang", "recipe"), [("mi", "mri_Latn"), ("zu", "zul_Latn")])
def test_languages_lid176_lacks_get_cld3_label_and_their_own_recipe(lang, recipe) -> None:
    text = doc(lang)
    assert LidFastTextV2().language(text) != lang  # lid.176 has no such label
    label, s = scored(text)
    assert label == lang and s["lid_cascade_v1.cld3"] == 1.0
    assert recipe_for(label).key == recipe
    res = FilterPipeline.from_config({"lid_cascade_v1": {}, "gopher_quality_v2": {}}).apply(text)
    # the quality verdict is not this test's subject, only that the language step passed
    assert res.reason is None or not res.reason.startswith("lid_")
    assert res.labels["language"] == lang and res.labels["recipe"] == recipe


def test_cld3_answer_outside_lid176_candidates_is_refused() -> None:
    # CLD3 calls tone-marked Yoruba Vietnamese with confidence; lid.176 never proposes vi for it,
    # so the page keeps lid.176's unsure answer (and its drop) rather than joining Vietnamese
    text = doc("yo", 0, 10)
    label, s = scored(text)
    assert label != "vi"
    assert s["lid_cascade_v1.cld3"] == 0.0
    res = FilterPipeline.from_config({"lid_cascade_v1": {}}).apply(text)
    assert res.reason == "lid_cascade_v1:score"


def test_confident_lid176_answer_is_not_second_guessed() -> None:
    text = (
        "The committee published its annual report on Tuesday. It describes how the new library "
        "was funded, who designed it and when it will open to the public next spring."
    )
    label, s = scored(text)
    assert label == "en"
    assert s["lid_cascade_v1.cld3"] == 0.0
    assert s["lid_cascade_v1.score"] == s["lid_cascade_v1.lid176_group_score"]


def test_redecide_from_stored_scores_needs_no_model() -> None:
    _, s = scored(doc("mi"))
    assert LidCascade.labels_from_scores(s) == {"lid_cascade_v1.lang": "mi"}
    f = LidCascade()
    assert f.decide(s, f.resolve_thresholds({"min_score_by_lang": {"mi": 1.0}})) is not None
    assert f.decide(s, f.resolve_thresholds({"languages": ["mi", "en"]})) is None
    assert f.decide(s, f.resolve_thresholds({"languages": ["en"]})) == "lid_cascade_v1:lang"


def test_thresholds_accept_cld3_labels_and_reject_unknown_ones() -> None:
    LidCascade.resolve_thresholds({"min_score_by_lang": {"zu": 0.6}, "languages": ["zu", "en"]})
    with pytest.raises(ConfigError, match="not a language label"):
        LidCascade.resolve_thresholds({"languages": ["klingon"]})
    with pytest.raises(ConfigError, match="not a lid.176 label"):
        LidFastTextV2.resolve_thresholds({"languages": ["zu"]})  # lid.176 alone has no Zulu
    FilterPipeline.from_config({"lid_cascade_v1": {}}, languages={"zu": {"lid_cascade_v1": {}}})


def test_blank_text_is_undetermined() -> None:
    label, s = scored("   \n ")
    assert label == "und" and s["lid_cascade_v1.score"] == 0.0


# --- lid_cascade_v2: CLD3 once more on the text without its diacritics --------------------------


def test_strip_diacritics_removes_accents_and_tone_marks_only() -> None:
    assert strip_diacritics("Ọmọ ilé ẹ̀kọ́ ṣe àṣeyọrí") == "Omo ile eko se aseyori"
    assert strip_diacritics("Crème brûlée, naïve") == "Creme brulee, naive"
    # other scripts' combining marks are parts of their letters: kept
    for text in ("हिन्दी भाषा", "ภาษาไทย", "مُدَرِّسَة"):
        assert strip_diacritics(text) == text


@pytest.mark.parametrize("start", [0, 10, 20, 30])
def test_tone_marked_yoruba_is_recognised_without_its_marks(start: int) -> None:
    text = doc("yo", start, 10)
    f = LidCascadeV2()
    s = f.score(text)
    v1 = LidCascade().score(text)
    assert v1["lid_cascade_v1.group_score"] < SECOND_OPINION_BELOW  # v1 is unsure of it
    assert f.lang_from_scores(s) == "yo"
    assert s["lid_cascade_v2.stripped"] == 1.0 and s["lid_cascade_v2.cld3"] == 1.0
    assert s["lid_cascade_v2.group_score"] >= recipe_for("yo").lid_min_score
    res = FilterPipeline.from_config({"lid_cascade_v2": {}, "gopher_quality_v2": {}}).apply(text)
    assert res.reason is None or not res.reason.startswith("lid_")
    assert FilterPipeline.from_config({"lid_cascade_v2": {}}).apply(text).reason is None
    assert res.labels["language"] == "yo" and res.labels["recipe"] == recipe_for("yo").key


@pytest.mark.parametrize("lang", ["so", "la", "mi", "zu"])
def test_v2_agrees_with_v1_where_v1_is_sure_or_has_no_diacritics(lang: str) -> None:
    text = doc(lang)
    s1, s2 = LidCascade().score(text), LidCascadeV2().score(text)
    assert s2["lid_cascade_v2.stripped"] == 0.0
    assert {k.split(".")[1]: v for k, v in s1.items()} == {
        k.split(".")[1]: v for k, v in s2.items() if not k.endswith(".stripped")
    }


def test_confident_answers_never_take_the_third_look() -> None:
    text = "Le comité a publié son rapport annuel mardi. Il décrit comment la bibliothèque a été financée."
    s = LidCascadeV2().score(text)
    assert LidCascadeV2.lang_from_scores(s) == "fr" and s["lid_cascade_v2.stripped"] == 0.0
