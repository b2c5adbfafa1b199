"""Exact dedup keys: a hash of normalized text, and normalized URLs. Pure module.

Keeper rule (deterministic, independent of partitioning): among rows with the same key keep
the one with the smallest (crawl, doc_id) — earliest crawl first (CC-MAIN-YYYY-WW sorts by time),
then the smallest doc_id.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit, urlunsplit

import xxhash

from lmdata.config import ExactDedupConfig

_WS = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)


def normalize_text(text: str, cfg: ExactDedupConfig) -> str:
    if cfg.unicode_form != "none":
        text = unicodedata.normalize(cfg.unicode_form, text)
    if cfg.lowercase:
        text = text.casefold()
    if cfg.strip_punctuation:
        text = _PUNCT.sub("", text)
    if cfg.collapse_whitespace:
        text = _WS.sub(" ", text).strip()
    return text


def text_key(text: str | None, cfg: ExactDedupConfig) -> str | None:
    """128-bit xxh3 of the normalized text, hex (None for empty text: never a duplicate)."""
    if text is None:
        return None
    norm = normalize_text(text, cfg)
    if not norm:
        return None
    return xxhash.xxh3_128_hexdigest(norm.encode("utf-8", "surrogatepass"))


def url_key(url: str | None) -> str | None:
    """URL normalized for dedup: scheme-insensitive (http/https), lower-case host without a
    leading 'www.', no fragment, no default port, no trailing slash on the path."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return url.strip()
    if host.startswith("www."):
        host = host[4:]
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/") or ""
    return urlunsplit(("", host, path, parts.query, ""))
