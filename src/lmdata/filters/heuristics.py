"""Gopher, C4 and FineWeb heuristic quality filters (pure: stdlib + numpy).

Published defaults, checked against datatrove's implementation (huggingface/datatrove,
``src/datatrove/pipeline/filters/``): ``gopher_quality_filter.py``,
``gopher_repetition_filter.py``, ``c4_filters.py`` (C4QualityFilter, after TFDS ``c4_utils.py``),
``fineweb_quality_filter.py``; papers: Gopher = Rae et al. 2021 (arXiv:2112.11446, Sec. A.1.1 and
Table A1), C4 = Raffel et al. 2020 (JMLR 21, Sec. 2.2), FineWeb = Penedo et al. 2024.

Every rule compares ONE stored score with ONE threshold, in datatrove's rule order, with
datatrove's comparison (strict ``>``/``<`` for Gopher; FineWeb's inclusive ``<=``/``>=``).
Words come from the regex tokenizer in :mod:`lmdata.filters.text_utils` (datatrove: NLTK).
Differences from datatrove are listed in each class docstring.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from lmdata.filters.core import Filter, above, below
from lmdata.filters.registry import register
from lmdata.filters.text_utils import (
    LINE_SPLIT_RE,
    PARAGRAPH_SPLIT_RE,
    count_alpha_words,
    find_duplicates,
    ngram_repetition,
    tokens,
    words,
)

# ---------------------------------------------------------------------------------------------
# Gopher quality
# ---------------------------------------------------------------------------------------------

GOPHER_STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
BULLETS = ("•", "-", "*")
ELLIPSES = ("...", "…")


@register
class GopherQuality(Filter):
    """Gopher's quality rules (Rae et al. 2021, A.1.1). Scores:

    - ``word_count``: word tokens (tokens with a letter/digit; symbol runs excluded).
    - ``mean_word_length``: mean characters per word token (0.0 with no words).
    - ``hash_word_ratio``: ``text.count("#")`` / all tokens (words + symbol runs).
    - ``ellipsis_word_ratio``: (``count("...")`` + ``count("…")``) / all tokens.
    - ``bullet_line_frac``: lines (``str.splitlines``) starting, after leading whitespace,
      with "•", "-" or "*".
    - ``ellipsis_line_frac``: lines ending, before trailing whitespace, with "..." or "…".
    - ``alpha_word_frac``: tokens containing an alphabetic character / all tokens.
    - ``stop_word_count``: tokens equal (case-sensitive) to one of
      the, be, to, of, and, that, have, with.

    Differences from datatrove's GopherQualityFilter: regex tokenizer instead of NLTK; "*"
    also counts as a bullet (dolma's gopher tagger does the same; datatrove: "•", "-"); empty
    text scores 0 everywhere instead of dividing by zero. Like datatrove, the denominators of
    the ratios count symbol tokens, and stop words are matched case-sensitively.
    """

    name = "gopher_quality_v1"
    version = 1
    score_names = (
        "word_count",
        "mean_word_length",
        "hash_word_ratio",
        "ellipsis_word_ratio",
        "bullet_line_frac",
        "ellipsis_line_frac",
        "alpha_word_frac",
        "stop_word_count",
    )
    default_thresholds: ClassVar[Mapping[str, Any]] = {
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

    def score(self, text: str) -> dict[str, float]:
        wrds = words(text)
        stop = GOPHER_STOP_WORDS.__contains__
        return self._scores(
            text, tokens(text), wrds, count_alpha_words(wrds), float(sum(map(stop, wrds)))
        )

    def _scores(
        self, text: str, toks: Sequence[str], wrds: Sequence[str], n_alpha: int, n_stop: float
    ) -> dict[str, float]:
        """The scores from the tokens; gopher_quality_v2 passes its language's tokens and
        stop-word count."""
        n_tok = len(toks)
        n_words = len(wrds)
        lines = text.splitlines()
        n_lines = len(lines)
        bullet_lines = sum(1 for s in lines if s.lstrip().startswith(BULLETS))
        ellipsis_lines = sum(1 for s in lines if s.rstrip().endswith(ELLIPSES))
        k = self.key
        return {
            k("word_count"): float(n_words),
            k("mean_word_length"): sum(map(len, wrds)) / n_words if n_words else 0.0,
            k("hash_word_ratio"): text.count("#") / n_tok if n_tok else 0.0,
            k("ellipsis_word_ratio"): (
                (text.count("...") + text.count("…")) / n_tok if n_tok else 0.0
            ),
            k("bullet_line_frac"): bullet_lines / n_lines if n_lines else 0.0,
            k("ellipsis_line_frac"): ellipsis_lines / n_lines if n_lines else 0.0,
            # symbol tokens never contain a letter, so only word tokens need checking
            k("alpha_word_frac"): n_alpha / n_tok if n_tok else 0.0,
            k("stop_word_count"): n_stop,
        }

    def check(self, scores: Mapping[str, float], t: Mapping[str, Any]) -> str | None:
        k = self.key
        wc = scores[k("word_count")]
        if below(wc, t["min_word_count"]) or above(wc, t["max_word_count"]):
            return self.reason("word_count")
        mwl = scores[k("mean_word_length")]
        if below(mwl, t["min_mean_word_length"]) or above(mwl, t["max_mean_word_length"]):
            return self.reason("mean_word_length")
        for score, limit in (
            ("hash_word_ratio", "max_hash_word_ratio"),
            ("ellipsis_word_ratio", "max_ellipsis_word_ratio"),
            ("bullet_line_frac", "max_bullet_line_frac"),
            ("ellipsis_line_frac", "max_ellipsis_line_frac"),
        ):
            if above(scores[k(score)], t[limit]):
                return self.reason(score)
        if below(scores[k("alpha_word_frac")], t["min_alpha_word_frac"]):
            return self.reason("alpha_word_frac")
        if below(scores[k("stop_word_count")], t["min_stop_word_count"]):
            return self.reason("stop_word_count")
        return None


# ---------------------------------------------------------------------------------------------
# Gopher repetition
# ---------------------------------------------------------------------------------------------

TOP_NGRAM_LIMITS = {2: 0.20, 3: 0.18, 4: 0.16}
DUP_NGRAM_LIMITS = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}


@register
class GopherRepetition(Filter):
    """Gopher's repetition rules (Rae et al. 2021, Table A1), computed as datatrove does.
    Scores (all in [0, 1]; "chars" are divided by ``len(text)``):

    - ``dup_para_frac`` / ``dup_para_char_frac``: paragraphs = ``text.strip()`` split on
      ``\\n{2,}``; paragraphs equal to an earlier one, and their characters.
    - ``dup_line_frac`` / ``dup_line_char_frac``: the same for lines (split on ``\\n+``).
    - ``top_{n}gram_char_frac`` (n = 2, 3, 4): count x length of the most frequent token
      n-gram, joined with single spaces (ties: the earliest); capped at 1.0.
    - ``dup_{n}gram_char_frac`` (n = 5..10): characters (tokens joined without spaces) of the
      n-grams that repeat an earlier one, by datatrove's greedy scan (after a repeat the scan
      jumps n tokens, so overlapping repeats are not double counted).

    Differences from datatrove's GopherRepetitionFilter: regex tokenizer instead of NLTK;
    ``top_*`` capped at 1.0 (joining symbol tokens with spaces can exceed ``len(text)``; every
    threshold is < 1 so no decision changes); empty text scores 0 instead of dividing by zero;
    n-grams compared by 64-bit hashes (see text_utils). Note the Gopher paper counts the
    characters of *all* copies of duplicated n-grams; datatrove (and we) count only the repeats.
    """

    name = "gopher_repetition_v1"
    version = 1
    score_names = (
        "dup_para_frac",
        "dup_para_char_frac",
        "dup_line_frac",
        "dup_line_char_frac",
        *(f"top_{n}gram_char_frac" for n in TOP_NGRAM_LIMITS),
        *(f"dup_{n}gram_char_frac" for n in DUP_NGRAM_LIMITS),
    )
    default_thresholds: ClassVar[Mapping[str, Any]] = {
        "max_dup_para_frac": 0.3,
        "max_dup_para_char_frac": 0.2,
        "max_dup_line_frac": 0.3,
        "max_dup_line_char_frac": 0.2,
        **{f"max_top_{n}gram_char_frac": v for n, v in TOP_NGRAM_LIMITS.items()},
        **{f"max_dup_{n}gram_char_frac": v for n, v in DUP_NGRAM_LIMITS.items()},
    }
    _order: ClassVar[tuple[tuple[str, str], ...]] = tuple((s, f"max_{s}") for s in score_names)

    def score(self, text: str) -> dict[str, float]:
        return self._score_tokens(text, tokens)

    def _score_tokens(
        self, text: str, tokenize: Callable[[str], Sequence[str]]
    ) -> dict[str, float]:
        """The scores with the words of ``tokenize`` (gopher_repetition_v2: the language's)."""
        k = self.key
        n_chars = len(text)
        if n_chars == 0:
            return {k(s): 0.0 for s in self.score_names}
        paragraphs = PARAGRAPH_SPLIT_RE.split(text.strip())
        para_dups, para_dup_chars = find_duplicates(paragraphs)
        lines = LINE_SPLIT_RE.split(text)
        line_dups, line_dup_chars = find_duplicates(lines)
        top, dup = ngram_repetition(
            tuple(tokenize(text)), tuple(TOP_NGRAM_LIMITS), tuple(DUP_NGRAM_LIMITS)
        )
        out = {
            k("dup_para_frac"): para_dups / len(paragraphs),
            k("dup_para_char_frac"): para_dup_chars / n_chars,
            k("dup_line_frac"): line_dups / len(lines),
            k("dup_line_char_frac"): line_dup_chars / n_chars,
        }
        for n in TOP_NGRAM_LIMITS:
            out[k(f"top_{n}gram_char_frac")] = min(1.0, top[n] / n_chars)
        for n in DUP_NGRAM_LIMITS:
            out[k(f"dup_{n}gram_char_frac")] = min(1.0, dup[n] / n_chars)
        return out

    def check(self, scores: Mapping[str, float], t: Mapping[str, Any]) -> str | None:
        k = self.key
        for score, limit in self._order:
            if above(scores[k(score)], t[limit]):
                return self.reason(score)
        return None


# ---------------------------------------------------------------------------------------------
# C4
# ---------------------------------------------------------------------------------------------

C4_END_PUNCTUATION = (".", "?", "!", '"', "'")
C4_ELLIPSIS = "..."
C4_POLICY_SUBSTRINGS = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
C4_MIN_WORDS_PER_LINE = 3
C4_MAX_WORD_LENGTH = 1000
C4_CITATION_RE = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
# a sentence ends at a run of . ! ? (plus closing quotes/brackets) followed by space or line end
C4_SENTENCE_END_RE = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")


@register
class C4(Filter):
    """C4's clean-up rules (Raffel et al. 2020 Sec. 2.2; TFDS ``c4_utils.clean_page``;
    datatrove ``C4QualityFilter``).

    C4 *edits* the text: it keeps only the lines that pass the line rules below. So this filter
    has two outputs: ``transform(text)`` returns the kept lines (stripped, citations removed,
    joined with "\\n"), and the scores describe what the line pass did. The line rules are part
    of the scorer (fixed in ``c4_v1``; a change is a new version); only the document-level
    rules are thresholds.

    Line rules, applied in this order to every non-blank line (``str.splitlines``, stripped);
    the first that matches removes the line and is counted in its ``removed_*`` score:
      1. a word (whitespace split) longer than 1000 chars          -> ``removed_long_word``
      2. (citation markers ``[1]``, ``[edit]``, ``[citation needed]`` are deleted)
      3. not ending in . ? ! " ' or ending in "..."                -> ``removed_no_terminal_punct``
      4. fewer than 3 words                                        -> ``removed_too_few_words``
      5. contains "javascript" (any case)                          -> ``removed_javascript``
      6. contains a cookie/terms-of-use policy phrase (any case)   -> ``removed_policy``
    Document flags, looked for on lines that survive rules 1-4 (as in TFDS/datatrove):
      ``has_lorem_ipsum`` ("lorem ipsum", any case, checked before rule 5), ``has_curly_bracket``
      ("{", checked after rule 5). Lines carrying a flag are kept by the line pass: when the flag
      rule is on, the document is dropped anyway; when off, TFDS keeps such lines too.
    Other scores: ``line_count`` (non-blank lines), ``kept_line_count``,
    ``removed_line_frac`` (1 - kept/non-blank lines), ``kept_char_frac`` (len(transformed)/len(text)),
    ``sentence_count`` (sentences in kept lines).

    Thresholds: ``min_sentence_count`` 5 (C4: "discarded any page with fewer than 5 sentences"),
    ``filter_lorem_ipsum`` / ``filter_curly_bracket`` true, and ``max_removed_line_frac``
    (our extension, off by default).

    Differences from datatrove: sentences are counted with a regex (a run of . ! ? with optional
    closing quote/bracket, followed by whitespace or line end; at least 1 per kept line)
    instead of NLTK punkt, so abbreviations such as "Mr. Smith" count as a sentence end; the
    LDNOOBW bad-words rule of C4 is not part of this filter (datatrove: separate
    C4BadWordsFilter); blank lines are not counted in ``line_count``.
    """

    name = "c4_v1"
    version = 1
    score_names = (
        "line_count",
        "kept_line_count",
        "removed_line_frac",
        "kept_char_frac",
        "removed_long_word",
        "removed_no_terminal_punct",
        "removed_too_few_words",
        "removed_javascript",
        "removed_policy",
        "sentence_count",
        "has_lorem_ipsum",
        "has_curly_bracket",
    )
    default_thresholds: ClassVar[Mapping[str, Any]] = {
        "filter_lorem_ipsum": True,
        "filter_curly_bracket": True,
        "min_sentence_count": 5,
        "max_removed_line_frac": None,
    }

    @staticmethod
    def _ends_line(line: str) -> bool:
        return line.endswith(C4_END_PUNCTUATION) and not line.endswith(C4_ELLIPSIS)

    @staticmethod
    def _line_words(line: str, split: list[str]) -> int:
        return len(split)

    @staticmethod
    def _line_sentences(line: str, split: list[str]) -> int:
        return max(1, len(C4_SENTENCE_END_RE.findall(line)))

    def _line_pass(
        self,
        text: str,
        ends_line: Callable[[str], bool] | None = None,
        line_words: Callable[[str, list[str]], int] | None = None,
        line_sentences: Callable[[str, list[str]], int] | None = None,
    ) -> tuple[dict[str, float], str]:
        """The line pass; the three script-dependent rules can be swapped (c4_v2 does)."""
        ends_line = ends_line or self._ends_line
        line_words = line_words or self._line_words
        line_sentences = line_sentences or self._line_sentences
        n_lines = long_word = no_punct = few_words = javascript = policy = 0
        sentences = 0
        lorem = curly = False
        kept: list[str] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line:
                continue
            n_lines += 1
            split = line.split()
            if len(line) > C4_MAX_WORD_LENGTH and max(map(len, split)) > C4_MAX_WORD_LENGTH:
                long_word += 1
                continue
            if "[" in line:
                line = C4_CITATION_RE.sub("", line)
            if not ends_line(line):
                no_punct += 1
                continue
            if line_words(line, split) < C4_MIN_WORDS_PER_LINE:
                few_words += 1
                continue
            low = line.lower()
            if "lorem ipsum" in low:
                lorem = True
            if "javascript" in low:
                javascript += 1
                continue
            if "{" in line:
                curly = True
            if any(p in low for p in C4_POLICY_SUBSTRINGS):
                policy += 1
                continue
            sentences += line_sentences(line, split)
            kept.append(line)
        out_text = "\n".join(kept).strip()
        k = self.key
        scores = {
            k("line_count"): float(n_lines),
            k("kept_line_count"): float(len(kept)),
            k("removed_line_frac"): (n_lines - len(kept)) / n_lines if n_lines else 0.0,
            k("kept_char_frac"): min(1.0, len(out_text) / len(text)) if text else 0.0,
            k("removed_long_word"): float(long_word),
            k("removed_no_terminal_punct"): float(no_punct),
            k("removed_too_few_words"): float(few_words),
            k("removed_javascript"): float(javascript),
            k("removed_policy"): float(policy),
            k("sentence_count"): float(sentences),
            k("has_lorem_ipsum"): float(lorem),
            k("has_curly_bracket"): float(curly),
        }
        return scores, out_text

    def score(self, text: str) -> dict[str, float]:
        return self._line_pass(text)[0]

    def transform(self, text: str) -> str:
        return self._line_pass(text)[1]

    def score_and_transform(self, text: str) -> tuple[dict[str, float], str]:
        return self._line_pass(text)

    def check(self, scores: Mapping[str, float], t: Mapping[str, Any]) -> str | None:
        k = self.key
        if t["filter_lorem_ipsum"] and scores[k("has_lorem_ipsum")]:
            return self.reason("has_lorem_ipsum")
        if t["filter_curly_bracket"] and scores[k("has_curly_bracket")]:
            return self.reason("has_curly_bracket")
        if below(scores[k("sentence_count")], t["min_sentence_count"]):
            return self.reason("sentence_count")
        if above(scores[k("removed_line_frac")], t["max_removed_line_frac"]):
            return self.reason("removed_line_frac")
        return None


# ---------------------------------------------------------------------------------------------
# FineWeb
# ---------------------------------------------------------------------------------------------

FINEWEB_STOP_CHARS = (".", "'", '"', "!", "?")
FINEWEB_SHORT_LINE_LENGTH = 30


@register
class FineWebQuality(Filter):
    """FineWeb's quality rules (Penedo et al. 2024; datatrove ``FineWebQualityFilter``).
    Lines are ``text.split("\\n")`` (not stripped). Scores:

    - ``line_punct_frac``: lines ending in . ' " ! ?          drop if <= 0.12
    - ``short_line_frac``: lines of <= 30 characters            drop if >= 0.67
    - ``dup_line_char_frac``: characters of non-blank lines repeating an earlier line /
      characters of the text without newlines                   drop if >= 0.01
    - ``newline_word_ratio``: ``text.count("\\n")`` / tokens (words + symbol runs)  drop if > 0.3
      (not bounded by 1).
    Comparisons are datatrove's (inclusive for the first three). ``line_punct_exclude_zero``
    (default false): when true, a document with no punctuated line at all is not dropped by the
    first rule. The short-line length (30) is part of the scorer.

    Differences from datatrove: regex tokenizer instead of NLTK (affects ``newline_word_ratio``);
    empty / newline-only text scores 0 instead of dividing by zero.
    """

    name = "fineweb_v1"
    version = 1
    score_names = ("line_punct_frac", "short_line_frac", "dup_line_char_frac", "newline_word_ratio")
    default_thresholds: ClassVar[Mapping[str, Any]] = {
        "min_line_punct_frac": 0.12,
        "line_punct_exclude_zero": False,
        "max_short_line_frac": 0.67,
        "max_dup_line_char_frac": 0.01,
        "max_newline_word_ratio": 0.3,
    }

    def score(self, text: str) -> dict[str, float]:
        lines = text.split("\n")
        n_lines = len(lines)  # >= 1
        punct = sum(1 for line in lines if line.endswith(FINEWEB_STOP_CHARS))
        short = sum(1 for line in lines if len(line) <= FINEWEB_SHORT_LINE_LENGTH)
        non_blank = [line for line in lines if line.strip()]
        dup_chars = find_duplicates(non_blank)[1]
        n_newlines = n_lines - 1
        chars_wo_newlines = len(text) - n_newlines
        n_tok = len(tokens(text))
        k = self.key
        return {
            k("line_punct_frac"): punct / n_lines,
            k("short_line_frac"): short / n_lines,
            k("dup_line_char_frac"): dup_chars / chars_wo_newlines if chars_wo_newlines else 0.0,
            k("newline_word_ratio"): n_newlines / n_tok if n_tok else float(n_newlines),
        }

    def check(self, scores: Mapping[str, float], t: Mapping[str, Any]) -> str | None:
        k = self.key
        punct = scores[k("line_punct_frac")]
        limit = t["min_line_punct_frac"]
        if (
            limit is not None
            and punct <= limit
            and not (punct == 0 and t["line_punct_exclude_zero"])
        ):
            return self.reason("line_punct_frac")
        limit = t["max_short_line_frac"]
        if limit is not None and scores[k("short_line_frac")] >= limit:
            return self.reason("short_line_frac")
        limit = t["max_dup_line_char_frac"]
        if limit is not None and scores[k("dup_line_char_frac")] >= limit:
            return self.reason("dup_line_char_frac")
        if above(scores[k("newline_word_ratio")], t["max_newline_word_ratio"]):
            return self.reason("newline_word_ratio")
        return None
