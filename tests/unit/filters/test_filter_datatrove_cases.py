"""datatrove's own filter test cases (huggingface/datatrove tests/pipeline/filters/test_filters.py,
commit a649de79, Apache-2.0; texts and expectations restated here) run through the *_v2 filters
with the English recipe: the reasons match datatrove's, case by case. One documented difference:
an empty document is dropped by fineweb_v2's line-punctuation rule (datatrove: reason "empty")."""

from __future__ import annotations

import pytest

from lmdata.filters.registry import get_filter

TEXT_LF_1 = (
    "I wish it need not have happened in my time,' said Frodo. 'So do I,' said Gandalf, 'and so "
    "do all who live to see such times. But that is not for them to decide. All we have to decide "
    "is what to do with the time that is given us.'"
)


def reason(name: str, text: str, **thresholds) -> str | None:
    f = get_filter(name)()
    scores = f.score(text, "en")
    r = f.decide(scores, thresholds or None)
    return None if r is None else r.split(":", 1)[1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I am your father.\n" * 4, "dup_line_frac"),
        ("I am your father.\n\n" * 4, "dup_para_frac"),
        (
            "I am groot.\n\nYou are a wizard.\n\nI am your father.\n\n" + f"{'x' * 30}.\n\n" * 2,
            "dup_para_char_frac",
        ),
        (
            "I am groot.\nYou are a wizard.\nI am your father.\n" + f"{'x' * 40}.\n" * 2,
            "dup_line_char_frac",
        ),
        ("I am Frank, I am Frank, I am Frank", "top_2gram_char_frac"),
        ("I am Frank, you are Jhon. I am Frank. I am Frank you are Jhon", "top_3gram_char_frac"),
        ("I am a solo traveller " * 4 + TEXT_LF_1, "dup_5gram_char_frac"),
    ],
)
def test_gopher_repetition_cases(text: str, expected: str) -> None:
    assert reason("gopher_repetition_v2", text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I am too small...", "word_count"),
        ("I am " * 20, "mean_word_length"),
        ("interconnection " * 20, "mean_word_length"),
        ("# comment " * 20, "hash_word_ratio"),
        ("... comment " * 20, "ellipsis_word_ratio"),
        (
            "the ./!*?<><> apple <?////> orange  ++ interconnection !<>??? have" * 20,
            "alpha_word_frac",
        ),
        (TEXT_LF_1, None),
    ],
)
def test_gopher_quality_cases(text: str, expected: str | None) -> None:
    got = reason("gopher_quality_v2", text, min_word_count=10, max_word_count=1000)
    assert got == expected


def test_fineweb_cases() -> None:
    good = (
        "This is a well-written paragraph that ends with proper punctuation.\n"
        "The content here is substantial and has meaningful information.\n"
        "Quality filtering ensures that only the best documents pass through.\n"
        "Each line here is long enough and ends with a terminal punctuation mark.\n"
        "This document should pass all the quality checks applied by the filter."
    )
    assert reason("fineweb_v2", good) is None
    low_punct = "No punctuation here\nAnother line without any\nStill nothing"
    assert reason("fineweb_v2", low_punct, min_line_punct_frac=0.5) == "line_punct_frac"
    short = "hi.\nbye.\nok.\nno.\nyes."
    got = reason("fineweb_v2", short, max_short_line_frac=0.5, min_line_punct_frac=0.0)
    assert got == "short_line_frac"
    assert reason("fineweb_v2", "\n".join(["a"] * 50), max_newline_word_ratio=0.1) is not None
    assert reason("fineweb_v2", "") == "line_punct_frac"  # datatrove: "empty"
    # blank lines between paragraphs are not lines (v1 counted them as short lines)
    assert reason("fineweb_v2", good.replace("\n", "\n\n")) is None
    spaced = good.replace("\n", "\n\n\n\n")
    v1, v2 = get_filter("fineweb_v1")(), get_filter("fineweb_v2")()
    assert v1.decide(v1.score(spaced)) == "fineweb_v1:short_line_frac"
    assert v2.score(spaced, "en")["fineweb_v2.short_line_frac"] == 0.0
