"""Toxicity: ``toxicity_v1`` = an LDNOOBW word-list score + the ``alt-profanity-check`` classifier.

Word list (C4's "bad words" list; the 28 LDNOOBW files ship in ``lmdata/filters/data/ldnoobw``,
CC BY 4.0, see the PROVENANCE.md there). The list is chosen by language: the ``lang`` argument
of :meth:`Toxicity.score` (a lid.176 label, e.g. the ``lid_fasttext_v1`` label of the document),
else the filter's own ``lang`` (constructor; default ``"en"``; ``"auto"`` = run
``lid_fasttext_v1``'s model on the text). Label -> list: the same code, plus ``tl`` -> ``fil``
and ``nb`` -> ``no``; the ``kab``, ``tlh`` and ``fr-CA-u-sd-caqc`` lists are used only when that
exact code is given (lid.176 cannot produce them; ``fr`` uses the ``fr`` list only). A language
without a list scores 0 on the word-list scores.

Matching (case-insensitive: the text is NFC-normalized, text and terms are lower-cased):

- whole-word (every language except ja, zh, th): a term matches only between word boundaries
  (no word character, or Unicode combining mark, right before or after), so "class" does not
  match "ass" and "assess" does not either; a multi-word term matches with any whitespace run
  between its words ("2 girls  1 cup"); terms with inner punctuation ("g-spot", "s&m") match
  literally; longest term wins at a position; matches do not overlap.
- substring (ja, zh, th: written without spaces between words): any occurrence counts.

Scores:

- ``wordlist_count``: number of (non-overlapping) matches.
- ``wordlist_frac``: matched units / units, in [0, 1]. Whole-word languages: units are words
  (runs of word characters and combining marks); a match covers the words inside it (at least
  one: a symbol-only term such as the emoji in ``en`` counts as one unit, also in the total).
  Substring languages: units are non-whitespace characters.
- ``classifier_prob``: ``profanity_check.predict_prob`` (alt-profanity-check: TF-IDF + a
  calibrated linear SVM trained on English tweets and Wikipedia talk comments; it ships its
  model). English only: it is computed for every document whatever its language, so apply its
  threshold to English documents (e.g. after an ``en``-only lid step).

Thresholds (drop when the score is above): ``max_classifier_prob`` 0.5 (the calibrated
classifier's own decision point; on the Wikipedia-talk test set P 0.91 / R 0.80),
``max_wordlist_frac`` 0.02 (more than 1 listed word in 50: precision 0.89 there, about the
classifier's, where any listed word gives 0.72; on web documents a single "dick", "cock" or
"suck" in a short page is common and not toxic), ``max_wordlist_count`` null (C4's rule "drop on
any listed word" is ``max_wordlist_count: 0``; it drops far more clean text, see BENCHMARKS.md).
Rules are checked in that order; drop reasons ``toxicity_v1:<score name>``.

Models load once per process on first use (the classifier is imported lazily: importing
scikit-learn takes seconds; the compiled word lists are cached per language); the filter object
holds no model, so it pickles cheaply. ``score_batch`` scores many documents with one classifier
call; one-at-a-time scoring stays cheap too (about 0.6 ms per short document instead of 6 ms
through ``predict_prob``, see :class:`_Classifier`).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from functools import cache, lru_cache
from importlib import resources
from typing import Any, ClassVar

from lmdata.filters.base import Filter, above
from lmdata.filters.registry import register

DEFAULT_LANG = "en"
AUTO = "auto"
#: languages written without spaces between words: terms match as substrings
SUBSTRING_LANGS = frozenset({"ja", "zh", "th"})
#: lid.176 label -> LDNOOBW file name, where they differ
LANG_ALIASES: Mapping[str, str] = {"tl": "fil", "nb": "no"}
WORDLIST_PACKAGE = "lmdata.filters"
WORDLIST_DIR = ("data", "ldnoobw")
_NON_LIST_FILES = frozenset({"PROVENANCE.md", "MANIFEST.tsv"})
_BMP_MAX = 0xFFFF


# --- word lists ----------------------------------------------------------------------------------


def _wordlist_dir():
    return resources.files(WORDLIST_PACKAGE).joinpath(*WORDLIST_DIR)


@lru_cache(maxsize=1)
def wordlist_languages() -> tuple[str, ...]:
    """The LDNOOBW list names shipped with lmdata (sorted)."""
    return tuple(sorted(p.name for p in _wordlist_dir().iterdir() if p.name not in _NON_LIST_FILES))


def wordlist_name(lang: str) -> str | None:
    """The list used for a language label, or None when there is none."""
    name = LANG_ALIASES.get(lang, lang)
    return name if name in wordlist_languages() else None


@cache
def load_terms(name: str) -> tuple[str, ...]:
    """The terms of one list: stripped, lower-cased, inner whitespace collapsed, de-duplicated."""
    text = _wordlist_dir().joinpath(name).read_text(encoding="utf-8")
    return tuple(dict.fromkeys(" ".join(t.split()).lower() for t in text.splitlines() if t.strip()))


@lru_cache(maxsize=1)
def _mark_class() -> str:
    """Regex class body for the Unicode combining marks that ``\\w`` misses (Devanagari vowel
    signs, Arabic harakat, ...), so that they count as part of a word. Built once per process.
    Basic Multilingual Plane only: with a code point above U+FFFF in the class, ``re`` falls
    back from a bitmap to a range scan and matching gets 2.5x slower; the marks beyond are
    historic / minority scripts that have no word list."""
    word = re.compile(r"\w")
    ranges: list[tuple[int, int]] = []
    start = None
    for cp in range(_BMP_MAX + 2):
        is_mark = (
            cp <= _BMP_MAX
            and unicodedata.category(chr(cp)).startswith("M")
            and not word.match(chr(cp))
        )
        if is_mark and start is None:
            start = cp
        elif not is_mark and start is not None:
            ranges.append((start, cp - 1))
            start = None
    return "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)


@lru_cache(maxsize=1)
def _word_re() -> re.Pattern[str]:
    return re.compile(rf"[\w{_mark_class()}]+")


_SPACE_RE = re.compile(r"\s")


def _trie_pattern(terms: Iterable[str]) -> str:
    """One regex alternation for many literals, factored as a trie (8x faster than a flat
    alternation in ``re``); at each position the longest term is tried first. A space in a
    term matches any whitespace run."""
    trie: dict[str, Any] = {}
    for term in terms:
        node = trie
        for ch in term:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        alts = [
            (r"\s+" if ch == " " else re.escape(ch)) + build(child)
            for ch, child in sorted(node.items())
            if ch
        ]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


@cache
def _matcher(name: str) -> re.Pattern[str]:
    body = _trie_pattern(load_terms(name))
    if name in SUBSTRING_LANGS:
        return re.compile(f"(?:{body})")
    w = rf"[\w{_mark_class()}]"
    return re.compile(rf"(?<!{w})(?:{body})(?!{w})")


def _prepare(text: str) -> str:
    """NFC (so that a decomposed "e" + U+0301 equals the list's "é"), then lower case."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text.lower()


def wordlist_matches(text: str, lang: str = DEFAULT_LANG) -> list[str]:
    """The matched terms (as written in the NFC, lower-cased text), in text order."""
    name = wordlist_name(lang)
    if name is None or not text:
        return []
    return _matcher(name).findall(_prepare(text))


def wordlist_counts(text: str, lang: str = DEFAULT_LANG) -> tuple[int, int, int]:
    """``(matches, matched units, units)`` for the list of ``lang`` (see the module docstring)."""
    name = wordlist_name(lang)
    if name is None or not text:
        return 0, 0, 0
    low = _prepare(text)
    matches = _matcher(name).findall(low)
    if name in SUBSTRING_LANGS:
        units = len(low) - len(_SPACE_RE.findall(low))
        matched = sum(len(m) - len(_SPACE_RE.findall(m)) for m in matches)
        return len(matches), matched, units
    count_words = _word_re().findall
    units = len(count_words(low))
    matched = 0
    for m in matches:
        n = len(count_words(m))
        if n == 0:  # a symbol-only term (emoji): one unit, not among the words
            n = 1
            units += 1
        matched += n
    return len(matches), matched, units


# --- classifier ----------------------------------------------------------------------------------

#: texts on which the fast path must reproduce ``profanity_check.predict_prob`` before it is used
_PROBE_TEXTS = (
    "",
    "have a nice day, the weather is lovely",
    "you are an idiot and a moron",
    "what the fuck is this shit",
    "I'll edit and add something to this, too, in a few hours.",
)


class _Classifier:
    """alt-profanity-check, loaded once per process.

    Its model is a ``CalibratedClassifierCV`` (sigmoid) over 5 ``LinearSVC`` folds after a
    ``TfidfVectorizer``; ``predict_proba`` pays ~5 ms of scikit-learn overhead per call, which
    dominates when documents are scored one at a time (``FilterPipeline.apply``). So the 5
    linear models and their sigmoids are read out once and applied as one sparse x dense
    product: the same probabilities (checked against ``predict_prob`` on probe texts at load
    time; on any mismatch or another model layout, ``predict_prob`` itself is used).
    """

    def __init__(self) -> None:
        import importlib

        import numpy as np

        module = importlib.import_module("profanity_check.profanity_check")
        self.np = np
        self.vectorizer = module.vectorizer
        self.slow = module.predict_prob
        self.fast: tuple[Any, Any, Any, Any] | None = None
        try:
            cal = module.model.calibrated_classifiers_
            if module.model.method != "sigmoid" or len(module.model.classes_) != 2:
                raise ValueError("not a binary sigmoid-calibrated model")
            weights = np.vstack([c.estimator.coef_.ravel() for c in cal]).T  # features x folds
            intercept = np.array([float(c.estimator.intercept_[0]) for c in cal])
            a = np.array([float(c.calibrators[0].a_) for c in cal])
            b = np.array([float(c.calibrators[0].b_) for c in cal])
            self.fast = (np.ascontiguousarray(weights), intercept, a, b)
            probe = list(_PROBE_TEXTS)
            if not np.allclose(self._fast(probe), self.slow(probe), rtol=0, atol=1e-9):
                raise ValueError("fast path disagrees with predict_prob")
        except (AttributeError, IndexError, TypeError, ValueError):
            self.fast = None

    def _fast(self, texts: list[str]) -> Any:
        np = self.np
        weights, intercept, a, b = self.fast  # type: ignore[misc]
        decision = self.vectorizer.transform(texts) @ weights + intercept  # samples x folds
        return (1.0 / (1.0 + np.exp(a * decision + b))).mean(axis=1)

    def probs(self, texts: list[str]) -> list[float]:
        raw = self._fast(texts) if self.fast is not None else self.slow(texts)
        return [min(1.0, max(0.0, float(p))) for p in raw]


_classifier: _Classifier | None = None
_classifier_lock = threading.Lock()


def get_classifier() -> _Classifier:
    """The process-wide classifier (loaded on first use)."""
    global _classifier
    if _classifier is None:
        with _classifier_lock:
            if _classifier is None:
                _classifier = _Classifier()
    return _classifier


def classifier_probs(texts: Sequence[str]) -> list[float]:
    """alt-profanity-check probabilities for a batch (the model loads on the first call)."""
    if not texts:
        return []
    return get_classifier().probs(list(texts))


# --- the filter ----------------------------------------------------------------------------------


@register
class Toxicity(Filter):
    """LDNOOBW word-list + alt-profanity-check scores; see the module docstring."""

    name = "toxicity_v1"
    version = 1
    score_names = ("classifier_prob", "wordlist_frac", "wordlist_count")
    default_thresholds: ClassVar[Mapping[str, Any]] = {
        "max_classifier_prob": 0.5,
        "max_wordlist_frac": 0.02,
        "max_wordlist_count": None,
    }

    # In a FilterPipeline the word list follows the language an earlier filter (lid_fasttext_v1)
    # found for each document; `lang` is the fallback when none did.
    uses_language = True

    def __init__(self, lang: str = DEFAULT_LANG) -> None:
        if not isinstance(lang, str) or not lang:
            raise TypeError(f"toxicity_v1: lang must be a language label or 'auto', got {lang!r}")
        self.lang = lang

    def _lang_for(self, text: str, lang: str | None) -> str:
        lang = lang or self.lang
        if lang == AUTO:
            from lmdata.filters.langid import predict

            return predict(text)[0]
        return lang

    def _wordlist_scores(self, text: str, lang: str) -> dict[str, float]:
        count, matched, units = wordlist_counts(text, lang)
        return {
            self.key("wordlist_frac"): matched / units if units else 0.0,
            self.key("wordlist_count"): float(count),
        }

    def score(self, text: str, lang: str | None = None) -> dict[str, float]:
        """Scores of one document; ``lang`` picks the word list (default: the filter's)."""
        return self.score_batch([text], None if lang is None else [lang])[0]

    def score_batch(
        self, texts: Sequence[str], langs: Sequence[str | None] | None = None
    ) -> list[dict[str, float]]:
        """Scores of many documents, with one classifier call for the batch."""
        if langs is not None and len(langs) != len(texts):
            raise ValueError("toxicity_v1.score_batch: texts and langs differ in length")
        probs = classifier_probs(texts)
        out = []
        for i, (text, prob) in enumerate(zip(texts, probs, strict=True)):
            lang = self._lang_for(text, None if langs is None else langs[i])
            out.append({self.key("classifier_prob"): prob, **self._wordlist_scores(text, lang)})
        return out

    @classmethod
    def recipe_thresholds(cls, recipe: Any) -> dict[str, Any]:
        """With per-language recipes (FilterPipeline), the classifier rule applies to English
        documents only: alt-profanity-check is an English bag-of-words model, and on clean
        Afrikaans / Basque prose it passes 0.5 for a quarter of the documents (make eval). The
        language's LDNOOBW word list applies to every language."""
        return {} if recipe.is_english else {"max_classifier_prob": None}

    def check(self, scores: Mapping[str, float], t: Mapping[str, Any]) -> str | None:
        for score in self.score_names:
            if above(scores[self.key(score)], t[f"max_{score}"]):
                return self.reason(score)
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} lang={self.lang!r}>"
