"""Language-aware Gopher, C4 and FineWeb filters (``*_v2``): one recipe per language (pure).

The ``*_v1`` filters in :mod:`lmdata.filters.heuristics` apply English rules to every document
(English stop words, a tokenizer that sees a whole Chinese sentence as one word). The ``*_v2``
filters score each document with the recipe of its language (:mod:`lmdata.lang.recipes`: the
word tokenizer, the stop words; FineWeb-2's configurations) and are decided with that recipe's
thresholds: :class:`lmdata.filters.base.FilterPipeline` resolves, per document language,
``filter defaults <- recipe (recipe_thresholds) <- params pipeline overrides <- params
languages.<label> overrides``. The language comes from ``lid_fasttext_v1`` earlier in the pipeline
(``uses_language``); without it a document is scored as English.

Rules follow datatrove's current implementation (the reference FineWeb-2 ran), with these choices:

- ``gopher_quality_v2``: words = tokens holding a letter/mark/digit; ``word_count`` and
  ``mean_word_length`` over them; the ratios over all tokens; ``alpha_word_frac`` = tokens with a
  letter or combining mark (Unicode) / all tokens; ``stop_word_count`` = how many DISTINCT stop words
  of the recipe occur (datatrove: ``len(stop_words & set(words))``; v1 counted occurrences). Bullets
  ``• - *`` (v1's choice).
- ``gopher_repetition_v2``: v1's scores over the language's tokens; n-gram limits and the
  duplicate-line limit from the recipe. FineWeb-2 switched the paragraph and line-character rules
  off because trafilatura's output has no paragraphs; our WET / main-text output keeps paragraphs,
  so Gopher's defaults for them stay on (a documented difference).
- ``fineweb_v2``: blank lines are dropped before every line ratio (datatrove; v1 counted them, so
  paragraph-separated text looked like short lines); "punctuated" = ends in a Unicode
  Sentence_Terminal (。！？؟।...; closing quotes allowed); datatrove's strict comparisons; for
  non-English recipes FineWeb-2's settings: ``short_line`` off, duplicate-line characters <= 0.1.
- ``c4_v2``: C4's line pass with the script's sentence terminals and sentence counting (CJK
  full-width terminals need no following space); words per line counted with the language's
  tokenizer for unsegmented scripts; for Thai and Lao (sentences are not ended by punctuation)
  the terminal-punctuation line rule is off and a chunk between spaces with >= 3 words counts
  as a sentence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from lmdata.filters.base import above, below
from lmdata.filters.heuristics import (
    C4,
    C4_ELLIPSIS,
    C4_MIN_WORDS_PER_LINE,
    DUP_NGRAM_LIMITS,
    FINEWEB_SHORT_LINE_LENGTH,
    TOP_NGRAM_LIMITS,
    FineWebQuality,
    GopherQuality,
    GopherRepetition,
)
from lmdata.filters.registry import register
from lmdata.filters.text_utils import (
    find_duplicates,
)
from lmdata.lang import tokenize as tk
from lmdata.lang.recipes import Recipe, recipe_for


class LanguageAware:
    """Mixin: scored with the document's language (from an earlier language-ID filter)."""

    uses_language: ClassVar[bool] = True
    uses_recipe: ClassVar[bool] = True

    def score_with(self, text: str, recipe: Recipe) -> dict[str, float]:
        raise NotImplementedError

    def score(self, text: str, lang: str | None = None) -> dict[str, float]:  # type: ignore[override]
        return self.score_with(text, recipe_for(lang))

    def score_and_transform_lang(self, text: str, lang: str | None) -> tuple[dict[str, float], str]:
        """Scores and the kept text for a document in ``lang`` (the pipeline's path)."""
        return self.score(text, lang), self.transform_lang(text, lang)

    def transform_lang(self, text: str, lang: str | None) -> str:
        return text

    def score_and_transform(self, text: str) -> tuple[dict[str, float], str]:
        return self.score_and_transform_lang(text, None)

    def score_batch(
        self, texts: Sequence[str], langs: Sequence[str | None]
    ) -> list[dict[str, float]]:
        return [self.score(t, lang) for t, lang in zip(texts, langs, strict=True)]

    @classmethod
    def recipe_thresholds(cls, recipe: Recipe) -> dict[str, Any]:
        return {}


@register
class GopherQualityV2(LanguageAware, GopherQuality):
    """Gopher quality per language (see the module docstring)."""

    name = "gopher_quality_v2"
    version = 2

    def score_with(self, text: str, recipe: Recipe) -> dict[str, float]:
        toks = tk.tokens(text, recipe.tokenizer)
        wrds = tk.words(text, recipe.tokenizer)
        n_stop = float(len(recipe.stop_words.intersection(toks)))
        return self._scores(text, toks, wrds, tk.count_alpha(wrds, recipe.tokenizer), n_stop)

    @classmethod
    def recipe_thresholds(cls, recipe: Recipe) -> dict[str, Any]:
        if recipe.is_english:
            return {}
        return {
            "min_mean_word_length": recipe.min_avg_word_length,
            "max_mean_word_length": recipe.max_avg_word_length,
            "min_alpha_word_frac": recipe.min_alpha_word_frac,
            # no stop-word list (fallback recipes): the rule cannot apply
            "min_stop_word_count": recipe.min_stop_words if recipe.stop_words else None,
        }


@register
class GopherRepetitionV2(LanguageAware, GopherRepetition):
    """Gopher repetition per language (see the module docstring)."""

    name = "gopher_repetition_v2"
    version = 2

    def score_with(self, text: str, recipe: Recipe) -> dict[str, float]:
        return self._score_tokens(text, lambda t: tk.tokens(t, recipe.tokenizer))

    @classmethod
    def recipe_thresholds(cls, recipe: Recipe) -> dict[str, Any]:
        if recipe.is_english:
            return {}
        out: dict[str, Any] = {"max_dup_line_frac": recipe.dup_line_frac}
        for n, v in recipe.top_n_grams.items():
            if n in TOP_NGRAM_LIMITS:
                out[f"max_top_{n}gram_char_frac"] = v
        for n, v in recipe.dup_n_grams.items():
            if n in DUP_NGRAM_LIMITS:
                out[f"max_dup_{n}gram_char_frac"] = v
        return out


@register
class FineWebQualityV2(LanguageAware, FineWebQuality):
    """FineWeb quality per language (see the module docstring)."""

    name = "fineweb_v2"
    version = 2

    def score_with(self, text: str, recipe: Recipe) -> dict[str, float]:
        lines = [line for line in text.split("\n") if line.strip()]
        n_lines = len(lines)
        k = self.key
        if not n_lines:
            return {k(s): 0.0 for s in self.score_names}
        punct = sum(1 for line in lines if tk.ends_sentence(line))
        short = sum(1 for line in lines if len(line) <= FINEWEB_SHORT_LINE_LENGTH)
        chars = len(text) - text.count("\n")
        n_tok = len(tk.tokens(text, recipe.tokenizer))
        n_newlines = text.count("\n")
        return {
            k("line_punct_frac"): punct / n_lines,
            k("short_line_frac"): short / n_lines,
            k("dup_line_char_frac"): find_duplicates(lines)[1] / chars if chars else 0.0,
            k("newline_word_ratio"): n_newlines / n_tok if n_tok else float(n_newlines),
        }

    def check(self, scores: Mapping[str, float], t: Mapping[str, Any]) -> str | None:
        # datatrove's current (strict) comparisons
        k = self.key
        punct = scores[k("line_punct_frac")]
        if below(punct, t["min_line_punct_frac"]) and not (
            punct == 0 and t["line_punct_exclude_zero"]
        ):
            return self.reason("line_punct_frac")
        if above(scores[k("short_line_frac")], t["max_short_line_frac"]):
            return self.reason("short_line_frac")
        if above(scores[k("dup_line_char_frac")], t["max_dup_line_char_frac"]):
            return self.reason("dup_line_char_frac")
        if above(scores[k("newline_word_ratio")], t["max_newline_word_ratio"]):
            return self.reason("newline_word_ratio")
        return None

    @classmethod
    def recipe_thresholds(cls, recipe: Recipe) -> dict[str, Any]:
        if recipe.is_english:
            return {}
        return {  # FineWeb-2's pipeline: short_line_thr=999 (off), char_duplicates_ratio=0.1
            "min_line_punct_frac": recipe.line_punct_thr,
            "max_short_line_frac": None,
            "max_dup_line_char_frac": 0.1,
            "max_newline_word_ratio": recipe.new_line_ratio,
        }


@register
class C4V2(LanguageAware, C4):
    """C4's line pass with the script's punctuation (see the module docstring)."""

    name = "c4_v2"
    version = 2

    def score(self, text: str, lang: str | None = None) -> dict[str, float]:  # type: ignore[override]
        return self._line_pass_v2(text, recipe_for(lang))[0]

    def score_with(self, text: str, recipe: Recipe) -> dict[str, float]:
        return self._line_pass_v2(text, recipe)[0]

    def transform(self, text: str) -> str:
        return self.transform_lang(text, None)

    def transform_lang(self, text: str, lang: str | None) -> str:
        return self._line_pass_v2(text, recipe_for(lang))[1]

    def score_and_transform_lang(self, text: str, lang: str | None) -> tuple[dict[str, float], str]:
        return self._line_pass_v2(text, recipe_for(lang))

    def _line_pass_v2(self, text: str, recipe: Recipe) -> tuple[dict[str, float], str]:
        kind = recipe.tokenizer
        segmented = kind not in ("en", "regex")

        def ends_line(line: str) -> bool:
            return not recipe.sentence_punct or (
                tk.ends_sentence(line) and not line.endswith(C4_ELLIPSIS)
            )

        def line_words(line: str, split: list[str]) -> int:
            return len(tk.words(line, kind)) if segmented else len(split)

        def line_sentences(line: str, split: list[str]) -> int:
            if recipe.sentence_punct:
                return tk.count_sentences(line)
            # Thai/Lao: a space separates sentences (and clauses): a chunk between spaces is a
            # sentence when it holds >= 3 words (a space-separated word list has none)
            return sum(1 for c in split if len(tk.words(c, kind)) >= C4_MIN_WORDS_PER_LINE)

        return self._line_pass(text, ends_line, line_words, line_sentences)
