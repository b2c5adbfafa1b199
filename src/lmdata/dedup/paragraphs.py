"""Paragraph dedup across the corpus and across batches (dolma / CCNet style), pure helpers.

A *paragraph* is a line of the document text (split on ``\\n``): Common Crawl's WET text and the
HTML extractor write one paragraph per line, and dolma's paragraph dedup and CCNet's line dedup
split on newlines the same way. Blank lines are not paragraphs.

Each paragraph is hashed after :func:`paragraph_key`: Unicode NFKC, casefold, punctuation,
symbols and digits (Unicode categories P*, S*, N*, so CJK / Thai / Arabic punctuation and digits
too) removed, whitespace runs collapsed. Marks (M*) are kept: Thai, Devanagari and Arabic
vowel signs change the word. Paragraphs whose key is narrower than ``min_chars`` (default 30)
are never deduplicated; the width (:func:`key_width`) counts a Han / Kana / Hangul character
twice and a combining mark not at all, so 30 is ~6 English words, ~15 Chinese characters, and a
Thai syllable with its vowel signs counts as its base letters: "Home", "Share", "Read more" and short headings
recur legitimately (dolma skips short paragraphs for the same reason; CCNet's repeated-line
step, :mod:`lmdata.dedup.lines`, handles boilerplate lines within a crawl batch).

The Spark side (``lmdata.spark.stages.curate``) runs on the documents curate keeps, after the
filters decided (dolma dedups after filtering: a paragraph is never removed because a dropped
document had it first):

* the first occurrence of a hash is kept: the earliest in the persistent state
  ``silver/paragraph_hashes`` (published kept documents of earlier batches) wins; else, within
  the batch, the smallest ``(doc_id, paragraph index)`` - deterministic, independent of
  partitioning; later copies (also repeats inside one document) are removed;
* a document left shorter than ``min_doc_chars`` is dropped as :data:`REASON`;
* attributes keep the removed paragraph indexes, so ``curate --redecide`` rebuilds the same text
  (or, with ``paragraph_dedup: null``, the text without the removal) without hashing again.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

# `regex` (not stdlib `re`): Unicode property classes \p{P} \p{S} \p{N} cover every script's
# punctuation, symbols and digits; stdlib `re` has no property classes.
import regex
import xxhash

REASON = "paragraph_dedup:too_short"
SAMPLE_CHARS = 200  # a removed paragraph's text kept for the report is cut to this length

_STRIP_RE = regex.compile(r"[\p{P}\p{S}\p{N}]+")
_WS_RE = regex.compile(r"\s+")
_WIDE_RE = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]")
_MARK_RE = regex.compile(r"\p{M}")


def paragraph_key(paragraph: str) -> str:
    """The normalized form of a paragraph that is hashed (NFKC, casefold, no punctuation /
    symbols / digits, whitespace collapsed)."""
    k = unicodedata.normalize("NFKC", paragraph).casefold()
    return _WS_RE.sub(" ", _STRIP_RE.sub("", k)).strip()


def key_width(key: str) -> int:
    """Length of a key for the ``min_chars`` rule: Han / Kana / Hangul count 2 (one such
    character carries about a word), combining marks 0, anything else 1."""
    if key.isascii():
        return len(key)
    return len(key) + len(_WIDE_RE.findall(key)) - len(_MARK_RE.findall(key))


def key_hash(key: str) -> int:
    """Signed 64-bit xxh3 of a paragraph key (a Spark ``long``), stable across processes."""
    return xxhash.xxh3_64_intdigest(key.encode("utf-8", "surrogatepass")) - (1 << 63)


def iter_paragraphs(text: str, min_chars: int) -> Iterator[tuple[int, int, int, str]]:
    """``(paragraph index, hash, utf-8 bytes incl. newline, paragraph)`` for every paragraph of
    ``text`` whose key is at least ``min_chars`` wide (:func:`key_width`). The index is the position in
    ``text.split("\\n")`` (what :func:`lmdata.dedup.lines.remove_lines` takes)."""
    for i, line in enumerate(text.split("\n")):
        if not line.strip():
            continue
        key = paragraph_key(line)
        if key_width(key) < min_chars:
            continue
        yield i, key_hash(key), len(line.encode("utf-8", "surrogatepass")) + 1, line


def first_occurrences(
    docs: list[tuple[str, str]], min_chars: int, seen: dict[int, str] | None = None
) -> dict[str, list[int]]:
    """In-process reference of the Spark plan (tests, the bench): ``docs`` as ``(doc_id, text)``;
    ``seen`` = hash -> first doc_id of earlier batches. Returns doc_id -> removed paragraph
    indexes (sorted), for documents that lose at least one paragraph."""
    seen = dict(seen or {})
    first: dict[int, tuple[str, int]] = {}
    rows = []
    for doc_id, text in docs:
        for i, h, _, _ in iter_paragraphs(text or "", min_chars):
            rows.append((doc_id, i, h))
            if h not in seen and ((doc_id, i) < first.get(h, (doc_id, i + 1))):
                first[h] = (doc_id, i)
    out: dict[str, list[int]] = {}
    for doc_id, i, h in rows:
        if h in seen or first[h] != (doc_id, i):
            out.setdefault(doc_id, []).append(i)
    return {d: sorted(v) for d, v in out.items()}


def too_short(text: str, min_doc_chars: int) -> bool:
    """True when the text left after removal is empty or below ``min_doc_chars`` characters."""
    n = len(text.strip())
    return n == 0 or n < min_doc_chars
