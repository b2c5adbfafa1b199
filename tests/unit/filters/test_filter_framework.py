"""Filter base class, pipeline and registry: config errors, re-thresholding, ordering."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from lmdata.errors import ConfigError, FatalError
from lmdata.filters import heuristics
from lmdata.filters.base import Filter, FilterPipeline, PipelineResult
from lmdata.filters.registry import available, get_filter, register

BUILTIN = ["c4_v1", "fineweb_v1", "gopher_quality_v1", "gopher_repetition_v1"]
FINEWEB_ORDER = ["gopher_repetition_v1", "gopher_quality_v1", "c4_v1", "fineweb_v1"]

ARTICLE = (
    "The river town of Lehighton sits at the edge of the Pocono Mountains, and the relay race "
    "passed through it on a cold Saturday morning.\n"
    "Teams of six or twelve runners share nearly two hundred miles of road between them, and "
    "each runner takes three turns over the day and the night.\n"
    "Most of the runners said that the hardest part was not the distance but the lack of sleep "
    "in the van between their legs.\n"
    "One team had come from Chambersburg with the aim of finishing before noon on Sunday.\n"
    "They did, with an hour to spare, and celebrated with coffee and pancakes at the finish."
)


def test_registry_lists_builtin_filters():
    assert set(BUILTIN) <= set(available())
    for name in BUILTIN:
        cls = get_filter(name)
        assert issubclass(cls, Filter)
        assert cls.name == name
        assert name.endswith(f"_v{cls.version}")


def test_unknown_filter_name_lists_known_names():
    with pytest.raises(ConfigError) as exc:
        get_filter("gopher_v9")
    msg = str(exc.value)
    assert "gopher_v9" in msg
    for name in BUILTIN:
        assert name in msg
    assert isinstance(exc.value, FatalError)  # config errors are fatal (no Airflow retry)
    with pytest.raises(ConfigError, match="nope_v1"):
        FilterPipeline(["gopher_quality_v1", "nope_v1"])


def test_unknown_threshold_key_names_filter_and_key():
    with pytest.raises(ConfigError) as exc:
        FilterPipeline([("gopher_quality_v1", {"min_words": 10})])
    msg = str(exc.value)
    assert "gopher_quality_v1" in msg and "min_words" in msg
    assert "min_word_count" in msg  # the known keys are listed
    scores = heuristics.GopherQuality().score(ARTICLE)
    with pytest.raises(ConfigError, match="max_dup_11gram_char_frac"):
        heuristics.GopherRepetition().decide(scores, {"max_dup_11gram_char_frac": 0.1})
    with pytest.raises(ConfigError, match="thresholds given for filters not in the pipeline"):
        FilterPipeline(["c4_v1"]).with_thresholds({"fineweb_v1": {"max_short_line_frac": 0.5}})


@pytest.mark.parametrize(
    ("name", "key", "value"),
    [
        ("gopher_quality_v1", "min_word_count", "50"),
        ("gopher_quality_v1", "min_word_count", True),
        ("gopher_quality_v1", "max_hash_word_ratio", math.nan),
        ("c4_v1", "filter_lorem_ipsum", 1),
        ("c4_v1", "filter_curly_bracket", None),
        ("fineweb_v1", "max_short_line_frac", [0.5]),
    ],
)
def test_wrongly_typed_threshold_is_a_config_error(name, key, value):
    with pytest.raises(ConfigError) as exc:
        FilterPipeline([(name, {key: value})])
    assert name in str(exc.value) and key in str(exc.value)


def test_thresholds_must_be_a_mapping():
    with pytest.raises(ConfigError, match="mapping"):
        FilterPipeline([("c4_v1", [("min_sentence_count", 3)])])
    with pytest.raises(ConfigError, match="mapping"):
        FilterPipeline.from_config(["c4_v1"])  # type: ignore[arg-type]


def test_duplicate_filter_in_pipeline_is_a_config_error():
    with pytest.raises(ConfigError, match="listed twice"):
        FilterPipeline(["c4_v1", ("c4_v1", {"min_sentence_count": 3})])


def test_none_disables_a_rule():
    flt = heuristics.GopherQuality()
    scores = flt.score("too short to keep")
    assert flt.decide(scores) == "gopher_quality_v1:word_count"
    assert flt.decide(scores, {"min_word_count": None, "min_stop_word_count": None}) is None


def test_defaults_are_not_mutated_by_overrides():
    before = dict(heuristics.C4.default_thresholds)
    FilterPipeline([("c4_v1", {"min_sentence_count": 1, "filter_curly_bracket": False})])
    assert dict(heuristics.C4.default_thresholds) == before


class _CountingFilter(Filter):
    """A test double: counts score() calls; drops when 'score' > threshold."""

    name = "counting_v1"
    version = 1
    score_names = ("value",)
    default_thresholds: ClassVar[Mapping[str, Any]] = {"max_value": 10}

    def __init__(self, value: float) -> None:
        self.value = value
        self.calls = 0

    def score(self, text: str) -> dict[str, float]:
        self.calls += 1
        return {self.key("value"): self.value}

    def check(self, scores, thresholds):
        v = scores[self.key("value")]
        return self.reason("value") if v > thresholds["max_value"] else None


class _OtherFilter(_CountingFilter):
    name = "other_v1"


def test_redeciding_with_new_thresholds_never_rescores():
    flt = _CountingFilter(7.0)
    pipeline = FilterPipeline([flt])
    scores, reason = pipeline.run("any text")
    assert (reason, flt.calls) == (None, 1)
    stricter = pipeline.with_thresholds({"counting_v1": {"max_value": 5}})
    assert stricter.decide(scores) == "counting_v1:value"
    assert flt.decide(scores, {"max_value": 5}) == "counting_v1:value"
    assert pipeline.decide(scores) is None  # the original pipeline is unchanged
    assert flt.calls == 1


def test_redeciding_real_filters_without_scoring(monkeypatch):
    pipeline = FilterPipeline(FINEWEB_ORDER)
    scores, reason = pipeline.run(ARTICLE)
    assert reason is None

    def boom(self, text):  # any scoring from here on is a bug
        raise AssertionError("score() called while re-deciding")

    for name in FINEWEB_ORDER:
        cls = get_filter(name)
        monkeypatch.setattr(cls, "score", boom)
        monkeypatch.setattr(cls, "score_and_transform", boom)
    stricter = pipeline.with_thresholds({"gopher_quality_v1": {"min_word_count": 500}})
    assert stricter.decide(scores) == "gopher_quality_v1:word_count"
    assert scores["c4_v1.sentence_count"] == 5.0  # C4's minimum, just inside
    stricter_c4 = pipeline.with_thresholds({"c4_v1": {"min_sentence_count": 6}})
    assert stricter_c4.decide(scores) == "c4_v1:sentence_count"
    looser = pipeline.with_thresholds(
        {"c4_v1": {"min_sentence_count": 1}, "gopher_quality_v1": {"min_word_count": 10}}
    )
    assert looser.decide(scores) is None


def test_pipeline_returns_the_first_reason_in_pipeline_order():
    text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit."  # short and lorem ipsum
    forward = FilterPipeline(["gopher_quality_v1", "c4_v1"])
    backward = FilterPipeline(["c4_v1", "gopher_quality_v1"])
    scores_f, reason_f = forward.run(text)
    scores_b, reason_b = backward.run(text)
    assert reason_f == "gopher_quality_v1:word_count"
    assert reason_b == "c4_v1:has_lorem_ipsum"
    assert forward.reasons(scores_f) == ["gopher_quality_v1:word_count", "c4_v1:has_lorem_ipsum"]
    assert backward.reasons(scores_b) == ["c4_v1:has_lorem_ipsum", "gopher_quality_v1:word_count"]
    # and with test doubles, independent of any heuristic
    a, b = _CountingFilter(20.0), _OtherFilter(20.0)
    assert FilterPipeline([a, b]).run("x")[1] == "counting_v1:value"
    assert FilterPipeline([b, a]).run("x")[1] == "other_v1:value"


def test_score_keys_are_prefixed_finite_floats():
    pipeline = FilterPipeline(FINEWEB_ORDER)
    for text in ["", "\n\n\n", ARTICLE, "#" * 50, "… " * 10, "{}" * 3, "a\r\nb\x85c\u2028d"]:
        scores = pipeline.score_all(text)
        assert list(scores) == pipeline.score_keys()
        for key, value in scores.items():
            assert type(value) is float, key
            assert math.isfinite(value), key
        for flt in pipeline.filters:
            assert all(k.startswith(flt.name + ".") for k in flt.score(text))


def test_empty_text_is_dropped_not_crashed():
    scores, reason = FilterPipeline(FINEWEB_ORDER).run("")
    assert reason == "gopher_quality_v1:word_count"
    assert FilterPipeline(["fineweb_v1"]).run("")[1] == "fineweb_v1:line_punct_frac"


def test_from_config_keeps_order_and_overrides():
    pipeline = FilterPipeline.from_config(
        {"fineweb_v1": {"max_short_line_frac": 0.5}, "gopher_quality_v1": None}
    )
    assert pipeline.names == ["fineweb_v1", "gopher_quality_v1"]
    assert pipeline.thresholds[0]["max_short_line_frac"] == 0.5
    assert pipeline.thresholds[0]["max_newline_word_ratio"] == 0.3
    assert pipeline.thresholds[1] == dict(heuristics.GopherQuality.default_thresholds)


def test_apply_chains_transforms_and_reports_text():
    text = ARTICLE + "\nShare this page\nPlease enable JavaScript to see the comments below."
    chained = FilterPipeline(["c4_v1", "fineweb_v1"]).apply(text)
    assert isinstance(chained, PipelineResult)
    assert chained.keep
    assert chained.text == ARTICLE  # the C4 line pass removed the two boilerplate lines
    assert chained.scores["fineweb_v1.line_punct_frac"] == 1.0  # FineWeb saw the clean text
    unchained = FilterPipeline(["c4_v1", "fineweb_v1"], chain_transforms=False).apply(text)
    assert unchained.text == text
    assert unchained.scores["fineweb_v1.line_punct_frac"] == 6 / 7


def test_register_rejects_bad_names_and_clashes():
    class BadName(_CountingFilter):
        name = "Bad-Name"

    class WrongVersion(_CountingFilter):
        name = "wrong_v2"

    class Clash(_CountingFilter):
        name = "c4_v1"

    with pytest.raises(ValueError, match="stem_v"):
        register(BadName)
    with pytest.raises(ValueError, match="version"):
        register(WrongVersion)
    with pytest.raises(ValueError, match="already taken"):
        register(Clash)
    with pytest.raises(TypeError):
        register(object)  # type: ignore[arg-type]
    assert set(BUILTIN) <= set(available()) and "clash_v1" not in available()
