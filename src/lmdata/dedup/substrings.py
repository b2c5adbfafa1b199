"""Exact-substring dedup within one shard (Lee et al. 2022, "Deduplicating Training Data Makes
Language Models Better"), pure module.

The shard's documents are concatenated as UTF-8 bytes, each followed by the byte ``0xFF`` (never
part of UTF-8, so no real text matches it). A suffix array (libdivsufsort through the maintained
``pydivsufsort`` package) and its LCP array (Kasai, same package) give every repeated byte
string: adjacent suffixes sharing a prefix of at least ``min_bytes`` bytes start copies of the
same span. Matches are clipped at the end of their document (nothing spans two documents).

Keeper rule (deterministic, like the other dedup steps): among the suffixes of one LCP run (all
sharing >= ``min_bytes`` bytes), the smallest position - the earliest document in shard order,
then the earliest offset - keeps its bytes; every other copy is removed. So the first
occurrence of a copied span stays, later copies go (Lee et al.'s tool removes every copy; we keep
one, like the paragraph step, so no text disappears from the corpus entirely).

Unit: bytes, not tokens. At curate time no tokenizer exists yet (the mixture trains one), and a
byte threshold is the same for every script's text. Lee et al.'s 50 GPT-2 tokens are about 200
bytes of English (~4 bytes per token); ``min_bytes`` defaults to 200. For Chinese / Japanese
(3 bytes per character, ~1 token per 1-1.5 characters) 200 bytes is ~67 characters (~50-70
tokens). Removed spans are shrunk to UTF-8 character boundaries.

Reason for a document left too short: :data:`REASON`.

What crosses shards: nothing. A span copied between two shards is found only when both copies
land in the same shard (the Spark side shards by a hash of doc_id, so it is chance); documents
copied whole across shards are caught by the corpus-wide exact / MinHash dedup, and repeated
paragraphs by the corpus-wide paragraph step (lmdata.dedup.paragraphs). This is the same limit
as Lee et al.'s per-dataset suffix array when the dataset is split for memory.

Memory: the suffix array, the LCP array and a few per-byte work arrays are int32 below 2 GiB
(int64 above); the eval measures the peak (BENCHMARKS.md, "Sub-document dedup").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SEP = 0xFF
REASON = "substring_dedup:too_short"


@dataclass(frozen=True)
class SubstringResult:
    """Per document: the removed byte ranges ``[(start, end), ...]`` (offsets in the document's
    UTF-8 bytes, sorted, disjoint) and the text without them."""

    spans: list[list[tuple[int, int]]]
    texts: list[str]

    @property
    def bytes_removed(self) -> list[int]:
        return [sum(e - s for s, e in sp) for sp in self.spans]


def _encode(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The shard's bytes (documents joined by SEP, one after each) and each document's start."""
    raw = [(t or "").encode("utf-8", "surrogatepass") for t in texts]
    starts = np.zeros(len(raw) + 1, dtype=np.int64)
    np.cumsum([len(b) + 1 for b in raw], out=starts[1:])
    # a writable copy: pydivsufsort passes the array to C through ctypes (no read-only arrays)
    buf = np.frombuffer(b"".join(b + bytes([SEP]) for b in raw), dtype=np.uint8).copy()
    return buf, starts


def duplicate_mask(texts: Sequence[str], min_bytes: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Bytes to remove: a boolean mask over the shard buffer, and the document starts."""
    from pydivsufsort import divsufsort, kasai

    buf, starts = _encode(texts)
    n = len(buf)
    mask = np.zeros(n, dtype=bool)
    if n < 2 or min_bytes < 1:
        return mask, starts
    # int32 positions below 2 GiB halve the memory of every per-byte array
    idx = np.int32 if n < 2**31 - 1 else np.int64
    sa = divsufsort(buf).astype(idx, copy=False)
    lcp = kasai(buf, sa).astype(idx, copy=False)  # lcp[i] = common prefix of sa[i] and sa[i + 1]
    # bytes left in the position's document (up to its SEP): per document a descending ramp
    lens = np.diff(starts).astype(idx)
    room = np.repeat(starts[1:].astype(idx) - 1, lens) - np.arange(n, dtype=idx)
    a, b = sa[:-1], sa[1:]
    pair = np.minimum(lcp[:-1], np.minimum(room[a], room[b]))  # clipped at both documents' ends
    link = pair >= min_bytes  # suffix i and i + 1 share >= min_bytes
    if not link.any():
        return mask, starts
    # runs of linked suffixes: run id per SA slot; slots outside any run are ignored
    in_run = np.zeros(n, dtype=bool)
    in_run[:-1] |= link
    in_run[1:] |= link
    run = np.cumsum(np.concatenate(([1], ~link)).astype(idx)) - 1
    # per slot: the longest clipped match with a linked neighbour (what that copy shares)
    length = np.zeros(n, dtype=idx)
    length[:-1] = np.where(link, pair, 0)
    length[1:] = np.maximum(length[1:], np.where(link, pair, 0))
    slots = np.nonzero(in_run)[0]  # in SA order: each run is a contiguous block
    pos = sa[slots]
    r = run[slots]
    heads = np.flatnonzero(np.concatenate(([True], r[1:] != r[:-1])))
    first = np.repeat(np.minimum.reduceat(pos, heads), np.diff(np.append(heads, len(r))))
    drop = pos != first
    # mark [pos, pos + length) of every non-keeper copy (difference array, then prefix sum);
    # bincount, not np.add.at (ufunc.at is slow on millions of positions)
    begin = pos[drop]
    diff = np.bincount(begin, minlength=n + 1) - np.bincount(
        begin + length[slots][drop], minlength=n + 1
    )
    mask = np.cumsum(diff[:-1]) > 0
    return mask, starts


def _utf8_spans(mask: np.ndarray, data: bytes) -> list[tuple[int, int]]:
    """Runs of True in ``mask`` as (start, end), shrunk to UTF-8 character boundaries."""
    if not mask.any():
        return []
    m = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(m))
    out = []
    for s, e in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        while s < e and (data[s] & 0xC0) == 0x80:  # not a character start: move right
            s += 1
        while e < len(data) and e > s and (data[e] & 0xC0) == 0x80:  # cut inside a char: left
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def remove_spans(text: str, spans: Sequence[tuple[int, int]] | Sequence[int] | None) -> str:
    """``text`` without the UTF-8 byte ranges ``spans`` (pairs, or flat ``[s0, e0, s1, ...]`` as
    the attributes store them); ranges lie on character boundaries (:func:`dedup_shard`)."""
    if not spans:
        return text
    if not isinstance(spans[0], tuple | list):
        spans = list(zip(spans[::2], spans[1::2], strict=True))
    data = text.encode("utf-8", "surrogatepass")
    keep, at = [], 0
    for s, e in spans:
        keep.append(data[at:s])
        at = e
    keep.append(data[at:])
    return b"".join(keep).decode("utf-8", "surrogatepass")


def dedup_shard(texts: Sequence[str], min_bytes: int = 200) -> SubstringResult:
    """Remove every later copy of a byte span of >= ``min_bytes`` repeated inside the shard."""
    mask, starts = duplicate_mask(texts, min_bytes)
    spans, out = [], []
    for i, t in enumerate(texts):
        data = (t or "").encode("utf-8", "surrogatepass")
        sp = _utf8_spans(mask[starts[i] : starts[i] + len(data)], data)
        spans.append(sp)
        out.append(remove_spans(t or "", sp))
    return SubstringResult(spans=spans, texts=out)
