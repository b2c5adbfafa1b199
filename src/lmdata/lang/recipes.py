"""Per-language curation recipes (FineWeb-2's configurations, shipped as package data).

A document's language (the ``lid_fasttext_v1.lang`` label: a fastText lid.176 code) selects a
:class:`Recipe`: the word tokenizer, the stop words and the thresholds every language-aware filter
uses. The data is ``data/fineweb2_recipes.json``, built by :mod:`lmdata.lang._build` from FineWeb-2's
1,929 per-language YAML files (huggingface/fineweb-2, Apache-2.0, ``data/LICENSE-fineweb2``,
``data/PROVENANCE.md``): the 174 configurations lid.176's labels map to, plus per-script fallbacks.

Which recipe a label gets (:func:`recipe_for`):
1. ``en`` -> ``eng_Latn``: FineWeb's own English recipe (FineWeb-2 has no English config): the
   published Gopher / C4 / FineWeb defaults, Gopher's eight stop words, the English regex
   tokenizer, language score 0.65. English curation is what it was.
2. a label with a FineWeb-2 configuration -> that configuration (``zh`` -> ``cmn_Hani``,
   ``ar`` -> ``arb_Arab``, ``als`` (Alemannic in lid.176) -> ``gsw_Latn``, ...).
3. anything else (``und``, or a label added later) -> ``fallback_<Script>``: the medians of every
   FineWeb-2 configuration of that script (``Zyyy`` = all scripts), with NO stop words, so the
   stop-word rule is off rather than English. Never English stop words for another language.

The recipe key is stored with every document (the ``recipe`` attribute), and a recipe depends only
on the language label, so ``curate --redecide`` re-derives it from the stored scores.

Word tokenizer by script: Han -> ``zh`` (Chinese segmenter), Jpan -> ``ja``, Hang -> ``ko``,
Thai -> ``th``, Khmr/Laoo/Mymr/Tibt -> their segmenters where :mod:`lmdata.lang.segmenters` has
one, else ``regex`` (which cuts those scripts into single characters); every other script ->
``regex`` (:mod:`lmdata.lang.tokenize`).

Thresholds: FineWeb-2's values are the recipe's; ``params.yaml`` can override any filter threshold
for every language (``curate.web.pipeline.<filter>``) or for one language
(``curate.web.languages.<label>.<filter>.<key>``); the more specific wins.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from importlib import resources
from typing import Any

DATA_FILE = "fineweb2_recipes.json"
ENGLISH_KEY = "eng_Latn"
#: the script of a label whose language is unknown ("und": empty text)
UNKNOWN_SCRIPT = "Zyyy"
SCRIPT_SEGMENTER = {
    "Hani": "zh",
    "Jpan": "ja",
    "Hang": "ko",
    "Thai": "th",
    "Khmr": "km",
    "Laoo": "lo",
    "Mymr": "my",
    "Tibt": "bo",
}
#: scripts whose writing does not end sentences with a Sentence_Terminal character in practice
#: (Thai and Lao separate sentences with spaces): C4's "line must end in punctuation" rule and
#: its sentence count are off for them.
NO_SENTENCE_PUNCT_SCRIPTS = frozenset({"Thai", "Laoo"})


#: lmdata's calibration of FineWeb-2's values for OUR language-ID model and tokenizers (applied
#: to every FineWeb-2 / fallback recipe, never to English), measured by `make eval`
#: (BENCHMARKS.md, "Multilingual curation"; FineWeb-2's own removal rates are in the same table):
#:
#: - language score: FineWeb-2's thresholds are GlotLID probabilities. lid.176 is less sure of
#:   itself on clean pages of many languages (median top-1 probability: Latin 0.61, Slovenian
#:   0.66, Mongolian 0.87 vs FineWeb-2's 0.73 / 0.60 / 0.89). The minimum is capped at 0.5,
#:   CCNet's lid.176 threshold for every language (Wenzek et al. 2019); English keeps FineWeb's
#:   0.65. (Close varieties that split lid.176's probability are handled by lid_fasttext_v2's
#:   group score, not by the cap.)
#: - alphabetic-token ratio: FineWeb-2's minimum (0.74-0.91; datatrove counts every punctuation
#:   token in the denominator) sits at the median of clean prose for several languages (Basque
#:   0.77, Armenian 0.76, Thai 0.80 with its period abbreviations พ.ศ.). Capped at 0.7: pages of
#:   numbers and symbols stay far below it.
LID_MIN_SCORE_CAP = 0.5
ALPHA_WORD_FRAC_CAP = 0.7
#: per-recipe departures beyond the caps (key -> field -> value), each with its reason
ADJUSTMENTS: dict[str, dict[str, float]] = {
    # FineWeb-2's Telugu list has 9 words, three of them Wikipedia village-stub vocabulary
    # (కేంద్రం centre, గ్రామం village, దూరంలో at a distance): a third of clean Telugu pages hold
    # fewer than two of them; one is required instead
    "tel_Telu": {"min_stop_words": 1},
}


@dataclass(frozen=True)
class Recipe:
    """Everything language-dependent that the filters need for one language."""

    key: str  # "cmn_Hani" | "eng_Latn" | "fallback_Latn"
    source: str  # "fineweb2" | "fineweb" (English) | "fallback"
    script: str
    tokenizer: str  # lmdata.lang.tokenize kind
    stop_words: frozenset[str]
    language_score: float | None
    dup_line_frac: float | None
    top_n_grams: Mapping[int, float]
    dup_n_grams: Mapping[int, float]
    line_punct_thr: float | None
    new_line_ratio: float | None
    min_avg_word_length: float | None
    max_avg_word_length: float | None
    min_alpha_word_frac: float | None
    sentence_punct: bool = True
    min_stop_words: int = 2  # distinct stop words a document needs (FineWeb-2: 2)

    @property
    def is_english(self) -> bool:
        return self.key == ENGLISH_KEY

    @property
    def lid_min_score(self) -> float | None:
        """The minimum lid.176 probability for this language (see LID_MIN_SCORE_CAP)."""
        if self.language_score is None or self.is_english:
            return self.language_score
        return min(self.language_score, LID_MIN_SCORE_CAP)


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    text = resources.files("lmdata.lang").joinpath("data", DATA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def _disabled_if_nonpositive(v: float | None) -> float | None:
    # datatrove tests ``if self.threshold and ...``: FineWeb-2 writes 0 (or -1) for "off"
    return None if v is None or v <= 0 else float(v)


def _cap(v: float | None, cap: float) -> float | None:
    return None if v is None else min(v, cap)


def _segmenter_for(script: str) -> str:
    kind = SCRIPT_SEGMENTER.get(script)
    if kind is None:
        return "regex"
    from lmdata.lang.segmenters import SEGMENTER_KINDS

    return kind if kind in SEGMENTER_KINDS else "regex"


def _from_config(key: str, source: str, script: str, cfg: Mapping[str, Any]) -> Recipe:
    adjust = ADJUSTMENTS.get(key, {})
    if adjust:
        source = f"{source}+lmdata"
    recipe = Recipe(
        key=key,
        source=source,
        script=script,
        tokenizer=_segmenter_for(script),
        stop_words=frozenset(cfg["stopwords"]),
        language_score=float(cfg["language_score"]),
        dup_line_frac=_disabled_if_nonpositive(cfg["dup_line_frac"]),
        top_n_grams={int(n): float(v) for n, v in cfg["top_n_grams"].items()},
        dup_n_grams={int(n): float(v) for n, v in cfg["dup_n_grams"].items()},
        line_punct_thr=_disabled_if_nonpositive(cfg["line_punct_thr"]),
        new_line_ratio=_disabled_if_nonpositive(cfg["new_line_ratio"]),
        min_avg_word_length=_disabled_if_nonpositive(cfg["min_avg_word_length"]),
        max_avg_word_length=_disabled_if_nonpositive(cfg["max_avg_word_length"]),
        min_alpha_word_frac=_cap(
            _disabled_if_nonpositive(cfg["max_non_alpha_words_ratio"]), ALPHA_WORD_FRAC_CAP
        ),
        sentence_punct=script not in NO_SENTENCE_PUNCT_SCRIPTS,
    )
    return replace(recipe, **adjust) if adjust else recipe


@lru_cache(maxsize=1)
def english() -> Recipe:
    """FineWeb's English recipe: the filters' published defaults (datatrove / Gopher / C4)."""
    from lmdata.filters.heuristics import (
        DUP_NGRAM_LIMITS,
        GOPHER_STOP_WORDS,
        TOP_NGRAM_LIMITS,
    )

    return Recipe(
        key=ENGLISH_KEY,
        source="fineweb",
        script="Latn",
        tokenizer="en",
        stop_words=GOPHER_STOP_WORDS,
        language_score=0.65,
        dup_line_frac=0.3,
        top_n_grams=dict(TOP_NGRAM_LIMITS),
        dup_n_grams=dict(DUP_NGRAM_LIMITS),
        line_punct_thr=0.12,
        new_line_ratio=0.3,
        min_avg_word_length=3,
        max_avg_word_length=10,
        min_alpha_word_frac=0.8,
    )


def fallback(script: str) -> Recipe:
    """The recipe of a language without a configuration: medians of its script, no stop words."""
    fb = _data()["script_fallback"]
    s = script if script in fb else UNKNOWN_SCRIPT
    return _from_config(f"fallback_{s}", "fallback", s, fb[s])


@cache
def recipe_for(language: str | None) -> Recipe:
    """The recipe of a lid.176 label (``None``: no language filter ran -> English, as the
    toxicity word list does)."""
    if language is None or language == "en":
        return english()
    data = _data()
    key = data["lid176"].get(language)
    if key:
        return _from_config(key, "fineweb2", key.split("_", 1)[1], data["recipes"][key])
    return fallback(data["lid176_script"].get(language, UNKNOWN_SCRIPT))


def recipe_keys() -> dict[str, str]:
    """language label (lid.176's and CLD3's extra ones) -> recipe key, for every label."""
    from lmdata.filters.langid import CASCADE_LANGUAGES

    return {lang: recipe_for(lang).key for lang in CASCADE_LANGUAGES}
