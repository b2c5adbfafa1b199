"""gopher_repetition_v1: every rule just inside and just outside its published default.

Texts are built to an exact character length L so that each score is an exact fraction.
Filler tokens ("f0", "f1", ...) are unique, so they never repeat an n-gram.
"""

from __future__ import annotations

import pytest

from lmdata.filters.heuristics import GopherRepetition

F = GopherRepetition()
P = "gopher_repetition_v1"


def only(rule: str) -> dict:
    return {k: (v if k == rule else None) for k, v in F.default_thresholds.items()}


def pad_to(text: str, length: int) -> str:
    """Append one unique word ("zzz...") so that len(result) == length."""
    missing = length - len(text) - 1
    assert missing >= 1, (len(text), length)
    out = f"{text} {'z' * missing}"
    assert len(out) == length
    return out


def check(text: str, rule: str, score: str, value: float, expected: str | None) -> None:
    scores = F.score(text)
    assert scores[f"{P}.{score}"] == value
    assert F.decide(scores, only(rule)) == (None if expected is None else f"{P}:{score}")


def test_published_defaults():
    # Gopher (Rae et al. 2021) Table A1, as in datatrove GopherRepetitionFilter
    assert dict(F.default_thresholds) == {
        "max_dup_para_frac": 0.3,
        "max_dup_para_char_frac": 0.2,
        "max_dup_line_frac": 0.3,
        "max_dup_line_char_frac": 0.2,
        "max_top_2gram_char_frac": 0.20,
        "max_top_3gram_char_frac": 0.18,
        "max_top_4gram_char_frac": 0.16,
        "max_dup_5gram_char_frac": 0.15,
        "max_dup_6gram_char_frac": 0.14,
        "max_dup_7gram_char_frac": 0.13,
        "max_dup_8gram_char_frac": 0.12,
        "max_dup_9gram_char_frac": 0.11,
        "max_dup_10gram_char_frac": 0.10,
    }


@pytest.mark.parametrize(("n_dup", "drop"), [(3, False), (4, True)])
def test_dup_para_frac(n_dup, drop):
    paras = [f"paragraph number {i}" for i in range(10 - n_dup)] + ["paragraph number 0"] * n_dup
    check("\n\n".join(paras), "max_dup_para_frac", "dup_para_frac", n_dup / 10, drop or None)


@pytest.mark.parametrize(("d", "drop"), [(20, False), (21, True)])
def test_dup_para_char_frac(d, drop):
    # len(U) = 56, D twice: 56 + 2 + d + 2 + d chars, d of them repeated
    text = "u" * 56 + "\n\n" + "d" * d + "\n\n" + "d" * d
    check(text, "max_dup_para_char_frac", "dup_para_char_frac", d / (60 + 2 * d), drop or None)
    assert (d / (60 + 2 * d) > 0.2) is drop


@pytest.mark.parametrize(("n_dup", "drop"), [(3, False), (4, True)])
def test_dup_line_frac(n_dup, drop):
    lines = [f"line number {i}" for i in range(10 - n_dup)] + ["line number 0"] * n_dup
    # runs of newlines count as one separator (datatrove splits on \n+)
    check("\n\n\n".join(lines), "max_dup_line_frac", "dup_line_frac", n_dup / 10, drop or None)


@pytest.mark.parametrize(("d", "drop"), [(20, False), (21, True)])
def test_dup_line_char_frac(d, drop):
    text = "u" * 58 + "\n" + "d" * d + "\n" + "d" * d
    check(text, "max_dup_line_char_frac", "dup_line_char_frac", d / (60 + 2 * d), drop or None)


# top n-gram: (n, threshold, phrase, copies, length at the threshold); chars = copies * len(phrase)
TOP_CASES = [
    (2, 0.20, "ab cd", 4, 100),  # 4 * 5 = 20 chars = 0.20 * 100
    (3, 0.18, "abcd efgh ijkl", 9, 700),  # 9 * 14 = 126 = 0.18 * 700
    (4, 0.16, "abc def ghi jkl", 8, 750),  # 8 * 15 = 120 = 0.16 * 750
]


@pytest.mark.parametrize(("n", "limit", "phrase", "copies", "length"), TOP_CASES)
@pytest.mark.parametrize("drop", [False, True])
def test_top_ngram_char_frac(n, limit, phrase, copies, length, drop):
    text = " ".join(f"{phrase} f{i}" for i in range(copies))
    text = pad_to(text, length - drop)  # one character shorter pushes it just over the limit
    value = copies * len(phrase) / (length - drop)
    assert (value == limit) is not drop and (value > limit) is drop
    rule = f"top_{n}gram_char_frac"
    check(text, f"max_{rule}", rule, value, drop or None)


def test_top_ngram_ties_pick_the_first_and_short_texts():
    scores = F.score("aa b c dd")  # every 2-gram once: the first ("aa b") counts
    assert scores[f"{P}.top_2gram_char_frac"] == 4 / 9
    assert scores[f"{P}.top_4gram_char_frac"] == 9 / 9
    assert F.score("one")[f"{P}.top_2gram_char_frac"] == 0.0  # no 2-gram at all


# duplicate n-gram: phrase of n distinct words of length w, twice; repeated chars = n * w
DUP_CASES = [
    (5, 0.15, 6, 200),  # 30 chars = 0.15 * 200
    (6, 0.14, 7, 300),  # 42 = 0.14 * 300
    (7, 0.13, 13, 700),  # 91 = 0.13 * 700
    (8, 0.12, 3, 200),  # 24 = 0.12 * 200
    (9, 0.11, 11, 900),  # 99 = 0.11 * 900
    (10, 0.10, 2, 200),  # 20 = 0.10 * 200
]


@pytest.mark.parametrize(("n", "limit", "w", "length"), DUP_CASES)
@pytest.mark.parametrize("drop", [False, True])
def test_dup_ngram_char_frac(n, limit, w, length, drop):
    phrase = " ".join(chr(ord("a") + i) * w for i in range(n))
    text = pad_to(f"{phrase} f0 {phrase} f1", length - drop)
    value = n * w / (length - drop)
    assert (value == limit) is not drop and (value > limit) is drop
    rule = f"dup_{n}gram_char_frac"
    check(text, f"max_{rule}", rule, value, drop or None)
    if n < 10:  # the phrase is exactly n tokens long: no (n+1)-gram repeats
        assert F.score(text)[f"{P}.dup_{n + 1}gram_char_frac"] == 0.0


def test_dup_ngram_greedy_scan_skips_overlaps():
    # "a b c d e" x3 = 15 tokens. 5-grams at positions 5 and 10 repeat position 0; after the
    # hit at 5 the scan jumps to 10 (hit again): 2 repeats x 5 chars, not 6 overlapping ones.
    text = " ".join("abcde" * 3)
    assert F.score(text)[f"{P}.dup_5gram_char_frac"] == 10 / len(text)


def test_first_failing_rule_wins():
    text = "\n\n".join(["same paragraph"] * 5)
    assert F.decide(F.score(text)) == f"{P}:dup_para_frac"
    assert F.decide(F.score(" ".join(f"w{i}" for i in range(200)))) is None
