"""Word tokenization per language (pure; the segmenters' packages load lazily, once per process).

One function, :func:`tokens`, turns a text into its tokens for a tokenizer *kind* (the kind a
language's recipe names, :mod:`lmdata.lang.recipes`):

- ``"en"``: the regex tokenizer the English filters always used
  (:func:`lmdata.filters.text_utils.tokens`), so English scores do not move;
- ``"regex"``: a Unicode-aware splitter for every space-delimited script (``regex`` package):
  words are runs of letters, combining marks (Devanagari, Bengali, Tamil vowel signs...), digits,
  ``_`` and the zero-width (non-)joiners, joined by ``' ’ - .`` inside a word; an elided article or preposition of one or two
  letters (French/Italian/Catalan ``l'``, ``d'``, ``dell'``-style ``l'``) is split off as its own
  token, as spaCy does, because FineWeb-2's stop-word lists count ``l'`` and ``d'``; a run of other
  symbols is one token. Characters of scripts written without spaces (Han, kana, Thai, Lao, Khmer,
  Myanmar, Tibetan) that appear inside such text are one token each;
- ``"zh" "ja" "ko" "th" ...``: a real segmenter from :mod:`lmdata.lang.segmenters`
  (loaded on first use in the worker, never at import).

Why not datatrove's spaCy/stanza tokenizers: they cost most of datatrove's curate time (201 of
275 s in our benchmark) and stanza needs models from a hub. spaCy's rule tokenizer and this regex
agree on what matters to the filters (word counts, lengths, stop words) for space-delimited
scripts; the segmenters are the ones FineWeb-2 names (jieba, MeCab-family, Kiwi, PyThaiNLP) or their
faster equivalents.

A token is a "word" when it holds a letter, mark or digit (:func:`words`); the others are
punctuation/symbol tokens. Results are tuples, cached for the last few texts so that several
filters scoring the same document tokenize it once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache

import regex

from lmdata.errors import ConfigError

UNSEGMENTED_SCRIPTS = (
    r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}"
)
# ZWNJ/ZWJ (U+200C/D) are part of words in Persian and the Indic scripts
_WORD_CHAR = rf"[[\p{{L}}\p{{M}}\p{{N}}_\u200c\u200d]--[{UNSEGMENTED_SCRIPTS}]]"
TOKEN_RE = regex.compile(
    rf"(?<!{_WORD_CHAR})[\p{{L}}]{{1,2}}['’](?={_WORD_CHAR})"  # elision: l' d' (FR/IT/CA)
    rf"|[{UNSEGMENTED_SCRIPTS}]"  # one character of a script without spaces
    rf"|{_WORD_CHAR}+(?:['’\-.]{_WORD_CHAR}+)*"  # a word
    rf"|[^\s\p{{L}}\p{{M}}\p{{N}}_]+",  # a run of symbols / punctuation
    regex.V1,
)
WORD_RE = regex.compile(r"[\p{L}\p{M}\p{N}]")
ALPHA_RE = regex.compile(r"[\p{L}\p{M}]")
#: a sentence end: a full-width terminal (CJK: no space follows), or any terminal run followed by
#: closing quotes and whitespace / the line end (so "3.14" and "example.com" are not ends)
SENTENCE_END_RE = regex.compile(
    r"[。！？｡]+[\"'”’»›」』）)\]]*|\p{Sentence_Terminal}+[\"'”’»›」』）)\]]*(?=\s|$)"
)

KINDS_BUILTIN = ("en", "regex")


def _regex_tokens(text: str) -> list[str]:
    return TOKEN_RE.findall(text)


def _english_tokens(text: str) -> list[str]:
    from lmdata.filters.text_utils import tokens as v1_tokens

    return list(v1_tokens(text))


@cache
def tokenizer(kind: str) -> Callable[[str], list[str]]:
    """The tokenizing function of a kind (segmenters load on first call, once per process)."""
    if kind == "regex":
        return _regex_tokens
    if kind == "en":
        return _english_tokens
    from lmdata.lang import segmenters

    if kind not in segmenters.SEGMENTER_KINDS:
        raise ConfigError(
            f"unknown word tokenizer {kind!r}; known: "
            f"{', '.join(KINDS_BUILTIN + tuple(segmenters.SEGMENTER_KINDS))}"
        )
    seg = segmenters.get_segmenter(kind)

    def _segmented(text: str) -> list[str]:
        return [t for t in seg(text) if t and not t.isspace()]

    return _segmented


def tokens(text: str, kind: str = "regex") -> tuple[str, ...]:
    """Every token (words and punctuation) of ``text`` in order, by the ``kind`` tokenizer."""
    if kind == "en":  # the English filters' own (cached) tokenizer, unchanged
        from lmdata.filters.text_utils import tokens as en_tokens

        return en_tokens(text)
    return _tokens(text, kind)


@lru_cache(maxsize=8)
def _tokens(text: str, kind: str) -> tuple[str, ...]:
    return tuple(tokenizer(kind)(text))


def words(text: str, kind: str = "regex") -> tuple[str, ...]:
    """The tokens that hold a letter, combining mark or digit (not pure punctuation)."""
    if kind == "en":
        from lmdata.filters.text_utils import words as en_words

        return en_words(text)
    return _words(text, kind)


# one regex pass over the tokens joined by newlines (tokens never hold whitespace) instead of a
# regex call per token: the lines holding a letter / mark / digit, and those without a letter
_WORD_LINE_RE = regex.compile(r"^.*[\p{L}\p{M}\p{N}].*$", regex.MULTILINE)
_NO_ALPHA_LINE_RE = regex.compile(r"^[^\p{L}\p{M}\n]*$", regex.MULTILINE)


@lru_cache(maxsize=8)
def _words(text: str, kind: str) -> tuple[str, ...]:
    toks = _tokens(text, kind)
    return tuple(_WORD_LINE_RE.findall("\n".join(toks))) if toks else ()


def count_alpha(word_tokens: tuple[str, ...], kind: str = "regex") -> int:
    """How many of ``words(text, kind)`` hold a letter (or a combining mark)."""
    if kind == "en":
        from lmdata.filters.text_utils import count_alpha_words

        return count_alpha_words(word_tokens)
    if not word_tokens:
        return 0
    return len(word_tokens) - len(_NO_ALPHA_LINE_RE.findall("\n".join(word_tokens)))


_CLOSERS = "\"'”’»›」』）)]"
_STERM = regex.compile(r"\p{Sentence_Terminal}")


def ends_sentence(line: str) -> bool:
    """Whether a line ends with a sentence terminal of any script: Unicode's Sentence_Terminal
    property (. ! ? 。 ！ ？ ؟ । ॥ ...; the set datatrove lists by hand as TERMINAL_PUNCTUATION),
    closing quotes/brackets and trailing whitespace allowed; one character is looked at."""
    s = line.rstrip().rstrip(_CLOSERS)
    return bool(s) and _STERM.match(s[-1]) is not None


def count_sentences(line: str) -> int:
    """Sentence ends in a line (runs of terminals count once), at least 1 for a non-blank line."""
    return max(1, len(SENTENCE_END_RE.findall(line))) if line.strip() else 0
