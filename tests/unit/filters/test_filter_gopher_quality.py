"""gopher_quality_v1: every rule just inside and just outside its published default."""

from __future__ import annotations

import pytest

from lmdata.filters.heuristics import GopherQuality
from lmdata.filters.text_utils import tokens, words

F = GopherQuality()


def only(rule: str) -> dict:
    """Thresholds with every rule off except ``rule`` (which keeps its default)."""
    return {k: (v if k == rule else None) for k, v in F.default_thresholds.items()}


def decide_on(text: str, rule: str) -> tuple[dict, str | None, str | None]:
    scores = F.score(text)
    return scores, F.decide(scores, only(rule)), F.decide(scores)


def test_published_defaults():
    # datatrove GopherQualityFilter defaults == Gopher paper (Rae et al. 2021, A.1.1)
    assert dict(F.default_thresholds) == {
        "min_word_count": 50,
        "max_word_count": 100_000,
        "min_mean_word_length": 3,
        "max_mean_word_length": 10,
        "max_hash_word_ratio": 0.1,
        "max_ellipsis_word_ratio": 0.1,
        "max_bullet_line_frac": 0.9,
        "max_ellipsis_line_frac": 0.3,
        "min_alpha_word_frac": 0.8,
        "min_stop_word_count": 2,
    }


def test_tokenizer_splits_punctuation_and_keeps_contractions():
    text = "Don't stop: the well-known 3.14 rule... (e.g. #tags)!"
    assert tokens(text) == (
        "Don't", "stop", ":", "the", "well-known", "3.14", "rule", "...", "(", "e.g", ".",
        "#", "tags", ")!",
    )  # fmt: skip
    assert words(text) == ("Don't", "stop", "the", "well-known", "3.14", "rule", "e.g", "tags")


@pytest.mark.parametrize(("n", "expected"), [(50, None), (49, "gopher_quality_v1:word_count")])
def test_min_word_count(n, expected):
    scores, reason, _ = decide_on(" ".join(["abcd"] * n) + " .", "min_word_count")
    assert scores["gopher_quality_v1.word_count"] == n  # the "." is not a word
    assert reason == expected


@pytest.mark.parametrize(
    ("n", "expected"), [(100_000, None), (100_001, "gopher_quality_v1:word_count")]
)
def test_max_word_count(n, expected):
    scores, reason, _ = decide_on("abcd " * n, "max_word_count")
    assert scores["gopher_quality_v1.word_count"] == n
    assert reason == expected


@pytest.mark.parametrize(
    ("words_", "mean", "expected"),
    [
        (["abc"] * 50, 3.0, None),
        (["abc"] * 49 + ["ab"], 2.98, "gopher_quality_v1:mean_word_length"),
    ],
)
def test_min_mean_word_length(words_, mean, expected):
    scores, reason, _ = decide_on(" ".join(words_) + ".", "min_mean_word_length")
    assert scores["gopher_quality_v1.mean_word_length"] == pytest.approx(mean, abs=1e-12)
    assert reason == expected


@pytest.mark.parametrize(
    ("words_", "mean", "expected"),
    [
        (["abcdefghij"] * 50, 10.0, None),
        (["abcdefghij"] * 49 + ["abcdefghijk"], 10.02, "gopher_quality_v1:mean_word_length"),
    ],
)
def test_max_mean_word_length(words_, mean, expected):
    scores, reason, _ = decide_on(", ".join(words_), "max_mean_word_length")
    assert scores["gopher_quality_v1.mean_word_length"] == pytest.approx(mean, abs=1e-12)
    assert reason == expected


@pytest.mark.parametrize(
    ("n_words", "n_hash", "expected"),
    [(45, 5, None), (44, 6, "gopher_quality_v1:hash_word_ratio")],
)
def test_max_hash_word_ratio(n_words, n_hash, expected):
    # each "#" stands alone, so it is one symbol token: ratio = hashes / all 50 tokens
    scores, reason, _ = decide_on(
        " ".join(["word"] * n_words + ["#"] * n_hash), "max_hash_word_ratio"
    )
    assert scores["gopher_quality_v1.hash_word_ratio"] == n_hash / 50
    assert reason == expected


@pytest.mark.parametrize(
    ("n_words", "marks", "expected"),
    [
        (45, ["..."] * 3 + ["…"] * 2, None),
        (44, ["..."] * 3 + ["…"] * 3, "gopher_quality_v1:ellipsis_word_ratio"),
    ],
)
def test_max_ellipsis_word_ratio(n_words, marks, expected):
    scores, reason, _ = decide_on(" ".join(["word"] * n_words + marks), "max_ellipsis_word_ratio")
    assert scores["gopher_quality_v1.ellipsis_word_ratio"] == len(marks) / 50
    assert reason == expected


@pytest.mark.parametrize(
    ("n_bullets", "expected"), [(90, None), (91, "gopher_quality_v1:bullet_line_frac")]
)
def test_max_bullet_line_frac(n_bullets, expected):
    marks = ["• ", "- ", "  * "]  # leading whitespace is ignored
    lines = [marks[i % 3] + f"item {i}" for i in range(n_bullets)]
    lines += [f"plain line {i}" for i in range(100 - n_bullets)]
    scores, reason, _ = decide_on("\n".join(lines), "max_bullet_line_frac")
    assert scores["gopher_quality_v1.bullet_line_frac"] == n_bullets / 100
    assert reason == expected


@pytest.mark.parametrize(
    ("n_ellipsis", "expected"), [(3, None), (4, "gopher_quality_v1:ellipsis_line_frac")]
)
def test_max_ellipsis_line_frac(n_ellipsis, expected):
    ends = ["...", "…", "...  "]  # trailing whitespace is ignored
    lines = [f"teaser number {i} {ends[i % 3]}" for i in range(n_ellipsis)]
    lines += [f"a full sentence {i}." for i in range(10 - n_ellipsis)]
    scores, reason, _ = decide_on("\n".join(lines), "max_ellipsis_line_frac")
    assert scores["gopher_quality_v1.ellipsis_line_frac"] == n_ellipsis / 10
    assert reason == expected


@pytest.mark.parametrize(
    ("n_alpha", "expected"), [(40, None), (39, "gopher_quality_v1:alpha_word_frac")]
)
def test_min_alpha_word_frac(n_alpha, expected):
    toks = ["word"] * n_alpha + ["1999", "3.14", "_"] * 10
    toks = toks[:50]
    scores, reason, _ = decide_on(" ".join(toks), "min_alpha_word_frac")
    assert scores["gopher_quality_v1.alpha_word_frac"] == n_alpha / 50
    assert reason == expected


def test_alpha_word_frac_counts_symbol_tokens_like_datatrove():
    # 2 alphabetic words out of 4 tokens ("Hello", ",", "world", "."), as with NLTK tokens
    assert F.score("Hello, world.")["gopher_quality_v1.alpha_word_frac"] == 0.5
    assert F.score("x2 ½ é_1 __")["gopher_quality_v1.alpha_word_frac"] == 0.75


@pytest.mark.parametrize(
    ("stop", "expected"),
    [(["the", "and"], None), (["the", "The", "AND"], "gopher_quality_v1:stop_word_count")],
)
def test_min_stop_word_count(stop, expected):
    # matched case-sensitively, as in datatrove and dolma
    scores, reason, _ = decide_on(" ".join(stop + ["word"] * 60), "min_stop_word_count")
    assert scores["gopher_quality_v1.stop_word_count"] == (2 if expected is None else 1)
    assert reason == expected


def test_first_failing_rule_wins_with_all_defaults():
    # 49 words, mean length 2: word_count is checked first
    assert decide_on("ab " * 49, "min_word_count")[2] == "gopher_quality_v1:word_count"
    # enough words, but mean length 2 and no stop words: mean_word_length comes first
    assert decide_on("ab " * 60, "min_word_count")[2] == "gopher_quality_v1:mean_word_length"
