"""Small, fast text helpers shared by the heuristic filters (pure: stdlib + numpy).

Tokenizer
---------
One regex tokenizer is used by every heuristic (documented difference from datatrove, which
uses a language-specific word tokenizer, NLTK's Treebank/punkt for English):

    token  = word | symbol
    word   = \\w+ ( [-'’.] \\w+ )*      e.g. "don't", "well-known", "3.14", "example.com"
    symbol = [^\\w\\s]+                 a run of punctuation / symbols, e.g. ",", "...", "#", "?!"

Like NLTK it splits punctuation off words ("end." -> "end", "."), so token counts, mean word
lengths and n-grams are close to datatrove's numbers on English text. Unlike NLTK it keeps
contractions and hyphenated words whole ("don't" is one word; NLTK gives "do", "n't") and keeps
runs of punctuation together ('."' is one symbol token; NLTK gives "." and '"').
Known limit: Python's ``re`` does not count combining marks (Unicode Mn/Mc) as word characters,
so words in scripts that use them (e.g. Devanagari vowel signs) are split there. These
heuristics are English-centric (as in Gopher / C4 / FineWeb); route other languages by langid.

"Alphabetic" means: contains a character matched by ``[^\\W\\d_]`` (a Unicode letter; also the
rare non-decimal numerics such as "½", which Python's ``re`` cannot tell apart from letters).

Caching: ``tokens(text)`` / ``words(text)`` keep the last few results (``functools.lru_cache``)
so that several filters scoring the same string tokenize it once. Results are tuples (immutable).
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

_WORD = r"\w+(?:[-'’.]\w+)*"
TOKEN_RE = re.compile(rf"{_WORD}|[^\w\s]+")
WORD_RE = re.compile(_WORD)
HAS_ALPHA_RE = re.compile(r"[^\W\d_]")
# a whole word token without an alphabetic char: only decimal digits, "_" and connectors
_NON_ALPHA_WORD_LINE_RE = re.compile(r"^[\d_\-'’.]+$", re.MULTILINE)
PARAGRAPH_SPLIT_RE = re.compile(r"\n{2,}")
LINE_SPLIT_RE = re.compile(r"\n+")

_CACHE_SIZE = 4


@lru_cache(maxsize=_CACHE_SIZE)
def tokens(text: str) -> tuple[str, ...]:
    """All tokens (words and symbol runs) in text order."""
    return tuple(TOKEN_RE.findall(text))


@lru_cache(maxsize=_CACHE_SIZE)
def words(text: str) -> tuple[str, ...]:
    """Only the word tokens (those containing a letter, digit or underscore), in text order."""
    return tuple(WORD_RE.findall(text))


def count_alpha_words(word_tokens: tuple[str, ...] | list[str]) -> int:
    """How many word tokens (as produced by :func:`words`) contain an alphabetic character.

    Counts the (rare) tokens made only of digits, "_" and connectors with one regex pass over
    the tokens joined by newlines, instead of a Python-level loop over every token.
    """
    if not word_tokens:
        return 0
    non_alpha = _NON_ALPHA_WORD_LINE_RE.findall("\n".join(word_tokens))
    return len(word_tokens) - len(non_alpha)


def find_duplicates(items: list[str]) -> tuple[int, int]:
    """(number of items equal to an earlier item, total characters of those items).

    The first occurrence is not counted, as in Gopher / datatrove's ``find_duplicates``.
    """
    seen: set[str] = set()
    dup_items = 0
    dup_chars = 0
    for item in items:
        if item in seen:
            dup_items += 1
            dup_chars += len(item)
        else:
            seen.add(item)
    return dup_items, dup_chars


# --- n-gram repetition statistics (Gopher, Rae et al. 2021, Table A1) -----------------------
#
# Token n-grams are compared through 64-bit polynomial hashes of per-token hashes (numpy,
# vectorised), never by building the n-gram strings. Two different n-grams collide with
# probability ~2**-64 per pair: negligible, and it could only raise a repetition score.

_MULT = np.uint64(0x9E3779B97F4A7C15)


def _token_hashes(toks: tuple[str, ...]) -> np.ndarray:
    return np.fromiter(map(hash, toks), dtype=np.int64, count=len(toks)).view(np.uint64)


def ngram_repetition(
    toks: tuple[str, ...], top_ns: tuple[int, ...], dup_ns: tuple[int, ...]
) -> tuple[dict[int, int], dict[int, int]]:
    """Character counts behind Gopher's n-gram repetition rules.

    Returns ``(top, dup)``:
    - ``top[n]`` = count of the most frequent n-gram x len(" ".join(ngram)) (ties: the n-gram
      that occurs first, like ``Counter.most_common(1)``); 0 when there are fewer than n tokens.
    - ``dup[n]`` = characters (tokens joined without spaces) of duplicated n-grams found by the
      greedy left-to-right scan of datatrove's ``find_all_duplicate``: an n-gram already seen
      counts its characters and the scan jumps n tokens ahead (so overlaps are not counted
      twice); otherwise it is remembered and the scan moves one token.
    Both equal datatrove's values for the same token list (up to hash collisions).
    """
    n_tok = len(toks)
    wanted = set(top_ns) | set(dup_ns)
    top: dict[int, int] = {n: 0 for n in top_ns}
    dup: dict[int, int] = {n: 0 for n in dup_ns}
    if n_tok < 2 or not wanted:
        return top, dup
    max_n = max(wanted)
    lens = np.fromiter(map(len, toks), dtype=np.int64, count=n_tok)
    cum = np.concatenate(([0], np.cumsum(lens)))
    th = _token_hashes(toks)

    g = th.copy()  # hashes of the n-grams starting at each position (n = 1 here)
    dup_mask: np.ndarray | None = None  # positions whose (n-1)-gram occurs more than once
    for n in range(2, max_n + 1):
        m = n_tok - n + 1
        if m <= 0:
            break
        g = g[:-1] * _MULT + th[n - 1 :]
        if dup_mask is None:
            pos = np.arange(m)
        else:
            # an n-gram can repeat only where both its (n-1)-gram prefix and suffix repeat
            pos = np.flatnonzero(dup_mask[:-1] & dup_mask[1:])
        sub = g[pos]
        if len(sub):
            _, first_local, inverse, counts = np.unique(
                sub, return_index=True, return_inverse=True, return_counts=True
            )
            per_pos_count = counts[inverse]
        else:
            first_local = inverse = counts = per_pos_count = np.empty(0, dtype=np.int64)
        new_mask = np.zeros(m, dtype=bool)
        new_mask[pos[per_pos_count > 1]] = True
        dup_mask = new_mask

        if n in top:
            if len(counts) and counts.max() > 1:
                best = counts.max()
                start = int(pos[first_local[counts == best].min()])
                count = int(best)
            else:  # every n-gram is unique: the first one is "most common" (count 1)
                start, count = 0, 1
            top[n] = count * int(cum[start + n] - cum[start] + (n - 1))
        if n in dup and len(counts) and counts.max() > 1:
            dup[n] = _greedy_dup_chars(pos, first_local, inverse, counts, cum, n)
        if not dup_mask.any() and n >= max(top_ns, default=0):
            break  # no repeated n-gram: no longer one can repeat either (scores stay 0)
    return top, dup


def _greedy_dup_chars(
    pos: np.ndarray,
    first_local: np.ndarray,
    inverse: np.ndarray,
    counts: np.ndarray,
    cum: np.ndarray,
    n: int,
) -> int:
    """datatrove's greedy duplicate scan, visiting only the positions that can be hits.

    A position is a hit iff it is visited (not inside the n-1 tokens after an earlier hit) and
    its n-gram was visited before. Positions holding the first occurrence of an n-gram are never
    hits; whether they were visited is checked lazily against the sorted list of hits.
    """
    from bisect import bisect_left

    first_pos = pos[first_local]  # global position of each group's first occurrence
    is_repeat = counts[inverse] > 1
    cand = np.flatnonzero(is_repeat & (pos != first_pos[inverse]))
    hits: list[int] = []
    visited_groups: set[int] = set()
    next_free = 0
    total = 0
    for p, grp in zip(pos[cand].tolist(), inverse[cand].tolist(), strict=True):
        if p < next_free:
            continue  # skipped by the jump after the previous hit
        seen = grp in visited_groups
        if not seen:
            f = int(first_pos[grp])
            i = bisect_left(hits, f) - 1
            seen = i < 0 or f >= hits[i] + n  # the first occurrence was visited
        visited_groups.add(grp)
        if seen:
            total += int(cum[p + n] - cum[p])
            hits.append(p)
            next_free = p + n
    return total
