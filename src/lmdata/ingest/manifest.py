"""Crawl listings (``<fmt>.paths.gz``) and deterministic slicing of them.

A slice ``i/n`` is the set of listing paths whose sha1 falls into bucket ``i`` of ``n``. Hashing
(rather than cutting the sorted list into ranges) keeps every path in the same slice when other
files are added to or removed from a listing, so re-runs and backfills stay idempotent per slice.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
from datetime import date

from lmdata.errors import ConfigError, RecordError, RetryableError
from lmdata.ingest.sources import SourceOptions, is_local, join_uri, local_path, open_input

FORMATS = ("wet", "warc")
_SUFFIX = {"wet": ".warc.wet.gz", "warc": ".warc.gz"}
_NOT_WARC = (".warc.wet.gz", ".warc.wat.gz")


def _check_fmt(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"listing format must be one of {FORMATS}, got {fmt!r}")


def listing_uri(source_root: str, crawl: str, fmt: str) -> str:
    """``<root>/crawl-data/<crawl>/<fmt>.paths.gz``."""
    _check_fmt(fmt)
    return join_uri(source_root, f"crawl-data/{crawl}/{fmt}.paths.gz")


def read_listing(
    source_root: str, crawl: str, fmt: str, opts: SourceOptions | None = None
) -> list[str]:
    """The relative paths of one crawl's ``wet``/``warc`` files, in listing order.

    Reads ``<root>/crawl-data/<crawl>/<fmt>.paths.gz`` (S3, HTTP(S) or local). A local root without
    a paths file is walked instead: files under ``<root>/crawl-data/<crawl>/`` named
    ``*.warc.wet.gz`` (wet) or ``*.warc.gz`` (warc, WET/WAT excluded), sorted, relative to root.

    Raises ConfigError when the crawl/listing does not exist (retrying will not help) and
    RetryableError when it could not be fetched after retries.
    """
    _check_fmt(fmt)
    opts = opts or SourceOptions()
    uri = listing_uri(source_root, crawl, fmt)
    if is_local(source_root) and not os.path.exists(local_path(uri)):
        return _walk_local(source_root, crawl, fmt)
    try:
        stream = open_input(uri, opts)
    except RecordError as e:
        if e.reason == "fetch_failed":
            raise RetryableError(f"crawl listing {uri}: {e}") from e
        raise ConfigError(f"crawl listing {uri}: {e} (check source_root / crawl)") from e
    try:
        with gzip.open(stream, "rb") as gz:
            data = gz.read()
    except RecordError as e:
        raise RetryableError(f"crawl listing {uri}: {e}") from e
    except (OSError, EOFError) as e:
        raise ConfigError(f"crawl listing {uri} is not a readable .paths.gz: {e}") from e
    finally:
        stream.close()
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="strict")
    return [line.strip() for line in text if line.strip()]


def _walk_local(source_root: str, crawl: str, fmt: str) -> list[str]:
    root = local_path(source_root)
    crawl_dir = os.path.join(root, "crawl-data", crawl)
    if not os.path.isdir(crawl_dir):
        raise ConfigError(
            f"no {fmt}.paths.gz and no directory {crawl_dir!r}: check source_root / crawl"
        )
    suffix = _SUFFIX[fmt]
    out = []
    for dirpath, _dirs, files in os.walk(crawl_dir):
        for name in files:
            if not name.endswith(suffix):
                continue
            if fmt == "warc" and name.endswith(_NOT_WARC):
                continue
            rel = os.path.relpath(os.path.join(dirpath, name), root)
            out.append(rel.replace(os.sep, "/"))
    return sorted(out)


def parse_slice(s: str) -> tuple[int, int]:
    """``"3/10"`` -> ``(3, 10)``; 0-based, ``0 <= i < n``."""
    parts = str(s).strip().split("/")
    if len(parts) != 2:
        raise ValueError(f"slice must look like 'i/n' (e.g. '0/8'), got {s!r}")
    try:
        i, n = int(parts[0]), int(parts[1])
    except ValueError:
        raise ValueError(f"slice must be two integers 'i/n', got {s!r}") from None
    if n < 1:
        raise ValueError(f"slice count n must be >= 1, got {s!r}")
    if not 0 <= i < n:
        raise ValueError(f"slice index must satisfy 0 <= i < n (0-based), got {s!r}")
    return i, n


def slice_bucket(path: str, count: int) -> int:
    """The slice a listing path belongs to: sha1(path) mod count (first 8 bytes, big-endian)."""
    digest = hashlib.sha1(path.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def select_slice(paths: list[str], index: int, count: int, limit: int | None = None) -> list[str]:
    """Paths of slice ``index`` of ``count``: non-overlapping, covering, sorted, stable.

    ``limit`` keeps the first N of the sorted slice (for samples and smoke runs).
    """
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"slice index must satisfy 0 <= index < count, got {index}/{count}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    chosen = sorted({p for p in paths if slice_bucket(p, count) == index})
    return chosen if limit is None else chosen[:limit]


def slice_for_date(logical_date: date, start: date, count: int) -> int:
    """Slice index for a scheduled run: ``(logical_date - start).days % count``.

    Consecutive days walk through all slices; a backfill of day d always gets the same slice.
    """
    if count < 1:
        raise ValueError(f"slice count must be >= 1, got {count}")
    return (logical_date - start).days % count
