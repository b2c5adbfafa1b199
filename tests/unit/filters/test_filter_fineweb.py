"""fineweb_v1: every rule just inside and just outside its published default.

FineWeb's comparisons are inclusive (datatrove): drop if line_punct_frac <= 0.12,
short_line_frac >= 0.67, dup_line_char_frac >= 0.01; newline_word_ratio > 0.3.
"""

from __future__ import annotations

import pytest

from lmdata.filters.heuristics import FineWebQuality

F = FineWebQuality()
P = "fineweb_v1"


def only(rule: str) -> dict:
    out = {k: (v if k == rule else None) for k, v in F.default_thresholds.items()}
    out["line_punct_exclude_zero"] = False
    return out


def check(text: str, rule: str, score: str, value: float, drop: bool) -> dict:
    scores = F.score(text)
    assert scores[f"{P}.{score}"] == value
    assert F.decide(scores, only(rule)) == (f"{P}:{score}" if drop else None)
    return scores


def test_published_defaults():
    # datatrove FineWebQualityFilter(line_punct_thr=0.12, line_punct_exclude_zero=False,
    # short_line_thr=0.67, short_line_length=30, char_duplicates_ratio=0.01, new_line_ratio=0.3)
    assert dict(F.default_thresholds) == {
        "min_line_punct_frac": 0.12,
        "line_punct_exclude_zero": False,
        "max_short_line_frac": 0.67,
        "max_dup_line_char_frac": 0.01,
        "max_newline_word_ratio": 0.3,
    }


@pytest.mark.parametrize(("n_punct", "drop"), [(13, False), (12, True)])
def test_line_punct_frac(n_punct, drop):
    stops = [".", "'", '"', "!", "?"]
    lines = [f"sentence {i} ends{stops[i % 5]}" for i in range(n_punct)]
    lines += ["ends with a space. "]  # lines are not stripped: this one is not punctuated
    lines += [f"heading {i}" for i in range(99 - n_punct)]
    check("\n".join(lines), "min_line_punct_frac", "line_punct_frac", n_punct / 100, drop)


def test_line_punct_exclude_zero():
    text = "heading one\nheading two\nheading three"
    scores = check(text, "min_line_punct_frac", "line_punct_frac", 0.0, True)
    assert (
        F.decide(scores, {**only("min_line_punct_frac"), "line_punct_exclude_zero": True}) is None
    )


@pytest.mark.parametrize(("n_short", "drop"), [(66, False), (67, True)])
def test_short_line_frac(n_short, drop):
    short = [f"{i:02d}".ljust(30, "s") for i in range(n_short)]  # exactly 30 chars: short
    long = [f"{i:02d}".ljust(31, "l") for i in range(100 - n_short)]  # 31 chars: not short
    check("\n".join(short + long), "max_short_line_frac", "short_line_frac", n_short / 100, drop)


@pytest.mark.parametrize(("unique_len", "drop"), [(979, False), (978, True)])
def test_dup_line_char_frac(unique_len, drop):
    # a 10-char line twice: 10 repeated chars out of unique_len + 20 + 2 (the blank line "  "
    # is not a duplicate but its 2 chars count; newlines do not): 10/1000 = 0.01 drops
    text = "u" * unique_len + "\n" + "d" * 10 + "\n\n  \n" + "d" * 10
    value = 10 / (unique_len + 20 + 2)
    check(text, "max_dup_line_char_frac", "dup_line_char_frac", value, drop)
    assert (value >= 0.01) is drop


@pytest.mark.parametrize(("n_lines", "drop"), [(31, False), (32, True)])
def test_newline_word_ratio(n_lines, drop):
    toks = [f"w{i}" for i in range(100)]
    lines = [" ".join(toks[i::n_lines]) for i in range(n_lines)]  # 100 tokens on n_lines lines
    value = (n_lines - 1) / 100
    check("\n".join(lines), "max_newline_word_ratio", "newline_word_ratio", value, drop)


def test_all_rules_in_order_with_defaults():
    prose = "\n".join(f"This is a long enough line of prose, number {i}." for i in range(20))
    assert F.decide(F.score(prose)) is None
    assert F.decide(F.score("menu\nhome\nabout")) == f"{P}:line_punct_frac"
    assert F.decide(F.score("Short.\nLines.\nOnly.")) == f"{P}:short_line_frac"
    assert F.decide(F.score(prose + "\n" + prose.split("\n")[0])) == f"{P}:dup_line_char_frac"
