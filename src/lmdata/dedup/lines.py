"""Repeated-line removal across documents (CCNet's set-level line dedup), pure helpers.

Lines that occur in many documents of the same crawl batch (navigation, cookie banners, footers)
are boilerplate. The Spark stage (``lmdata.spark.stages.curate``) hashes every non-blank line of
every document with :func:`line_hash` (after :func:`line_key`: stripped, lowercased, digits -> 0,
inner whitespace collapsed, as CCNet normalizes before hashing), counts the documents per hash and
crawl, and removes lines whose document count reaches :func:`min_docs_for`. A document left empty
(or shorter than ``min_chars``) is dropped with the reason :data:`REASON`.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

REASON = "repeated_lines"
SAMPLE_CHARS = 200  # a removed line's text kept for the report is cut to this length

_DIGIT_RE = re.compile(r"\d")
_WS_RE = re.compile(r"\s+")


def line_key(line: str) -> str:
    """The normalized form of a line that is hashed (CCNet: lowercase, digits -> 0)."""
    return _WS_RE.sub(" ", _DIGIT_RE.sub("0", line.strip().lower()))


def line_hash(line: str) -> int:
    """Signed 64-bit hash of :func:`line_key` (a Spark ``long``), stable across processes."""
    d = hashlib.blake2b(line_key(line).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(d, "little", signed=True)


def iter_lines(text: str) -> Iterator[tuple[int, int, int, bool, str]]:
    """``(line index, hash, utf-8 bytes incl. newline, first occurrence in this doc, line)`` for
    every non-blank line of ``text`` split on ``\\n``."""
    seen: set[int] = set()
    for i, line in enumerate(text.split("\n")):
        if not line.strip():
            continue
        h = line_hash(line)
        first = h not in seen
        seen.add(h)
        yield i, h, len(line.encode("utf-8", "surrogatepass")) + 1, first, line


def remove_lines(text: str, indexes: Iterable[int] | None) -> str:
    """``text`` without the lines at ``indexes`` (positions in ``text.split("\\n")``), with
    blank-line runs left by the removal collapsed and the result stripped."""
    drop = set(indexes or ())
    if not drop:
        return text
    kept = [line for i, line in enumerate(text.split("\n")) if i not in drop]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def min_docs_for(n_docs: int, cfg: Mapping[str, Any]) -> int:
    """The document count from which a line is boilerplate: ``max(min_docs, ceil(frac * docs))``."""
    return max(int(cfg.get("min_docs", 3)), math.ceil(float(cfg.get("min_doc_frac", 0.0)) * n_docs))


def emptied(text: str, cfg: Mapping[str, Any]) -> bool:
    """True when the text left after removal is empty or below ``min_chars``."""
    n = len(text.strip())
    return n == 0 or n < int(cfg.get("min_chars", 0))
