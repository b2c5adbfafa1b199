"""Property tests: scoring never raises, every score is a finite float in its range, and the
vectorised n-gram code equals a plain reference implementation of the same definitions."""

from __future__ import annotations

import math
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmdata.filters.base import FilterPipeline
from lmdata.filters.registry import available, get_filter
from lmdata.filters.text_utils import ngram_repetition

# every filter that needs no options (quality_model_v1 needs a model file: test_quality_model)
SELF_CONTAINED = [n for n in available() if not getattr(get_filter(n), "requires_options", False)]
PIPELINE = FilterPipeline(SELF_CONTAINED)
UNCHAINED = FilterPipeline(SELF_CONTAINED, chain_transforms=False)

# arbitrary unicode plus text with many line breaks, symbols and repeats
WEBBY = st.lists(
    st.sampled_from(
        [
            "the",
            "and",
            "word",
            "#",
            "...",
            "…",
            "•",
            "-",
            "*",
            "{",
            "\n",
            "\n\n",
            "\r\n",
            " ",
            ".",
            "!",
            "?",
            '"',
            "'",
            "lorem ipsum",
            "javascript",
            "privacy policy",
            "[1]",
            "½",
            "3.14",
            "_",
            "é",
            "\u2028",
            "\x85",
            "x" * 1001,
        ]
    ),  # fmt: skip
    max_size=200,
).map("".join)
TEXTS = st.one_of(st.text(max_size=400), WEBBY)


def check_ranges(scores: dict[str, float]) -> None:
    assert list(scores) == PIPELINE.score_keys()
    for key, value in scores.items():
        assert type(value) is float, key
        assert math.isfinite(value), (key, value)
        assert value >= 0.0, (key, value)
        if key.endswith("_frac"):
            assert value <= 1.0, (key, value)
        if ".has_" in key:
            assert value in (0.0, 1.0)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS)
def test_scores_never_raise_and_stay_finite(text):
    for pipeline in (PIPELINE, UNCHAINED):
        result = pipeline.apply(text)
        check_ranges(result.scores)
        assert result.reason is None or result.reason.split(":")[0] in pipeline.names
        assert isinstance(result.text, str)


def reference(toks: list[str]) -> tuple[dict[int, int], dict[int, int]]:
    """Plain-Python restatement of the definitions in text_utils.ngram_repetition."""
    top = {}
    for n in (2, 3, 4):
        grams = [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]
        if not grams:
            top[n] = 0
            continue
        gram, count = Counter(grams).most_common(1)[0]  # ties: first inserted
        top[n] = count * len(" ".join(gram))
    dup = {}
    for n in range(5, 11):
        seen, idx, chars = set(), 0, 0
        while idx < len(toks) - n + 1:
            gram = tuple(toks[idx : idx + n])
            if gram in seen:
                chars += sum(map(len, gram))
                idx += n
            else:
                seen.add(gram)
                idx += 1
        dup[n] = chars
    return top, dup


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "bb", "a", "ccc", "d", ",", "the"]), max_size=80),
    st.integers(min_value=0, max_value=5),
)
def test_ngram_repetition_matches_reference(base, copies):
    toks = base + base[: len(base) // 2] * copies  # force long repeated runs
    got = ngram_repetition(tuple(toks), (2, 3, 4), (5, 6, 7, 8, 9, 10))
    assert got == reference(toks)
