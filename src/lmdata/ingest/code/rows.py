"""The unit loop: one :class:`.units.Unit` -> ``("file", row)`` / ``("reject", row)`` rows.

``iter_unit`` (executor) reads a unit's files through :func:`.sources._open_reader`, keeps the
paths inside ``[lo, hi)``, applies the per-file limits and skips (binary, empty, oversized),
decodes (``decode_source``: BOM, UTF-8, PEP 263 cookie, charset detection, fallback) and builds
``CODE_FILE_SCHEMA`` rows (``_file_row``) or quarantine rows (``reject_row``). It never raises
for bad input. ``ingest_sources`` = ``plan_units`` + ``iter_unit`` in one process.

Who calls whom: the ingest-code Spark stage and :mod:`lmdata.ingest.code` users call
``iter_unit`` / ``ingest_sources``; this module calls :mod:`.sources` and :mod:`.units`.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace

from lmdata.document import stable_doc_id
from lmdata.filters.code_filters import code_text_stats
from lmdata.ingest.code.sources import _open_reader, plan_source, plan_units
from lmdata.ingest.code.units import (
    BINARY_SNIFF_BYTES,
    SOURCE,
    STAGE,
    CodeIngestCounters,
    CodeIngestOptions,
    SourceSpec,
    Unit,
    _File,
    _MemberError,
    _Problem,
    _safe,
    _Skip,
    _SourceStop,
)
from lmdata.ingest.languages import is_binary_path, language_of

# --- decoding ------------------------------------------------------------------------------------

_CODING_RE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")  # PEP 263
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32"),
    (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16"),
)


def _declared_coding(data: bytes) -> str | None:
    for line in data.split(b"\n", 2)[:2]:
        m = _CODING_RE.match(line)
        if m:
            name = m.group(1).decode("ascii", "replace")
            try:
                return codecs.lookup(name).name
            except LookupError:
                return None
    return None


def decode_source(
    data: bytes, opts: CodeIngestOptions, counters: Counter | None = None
) -> tuple[str, str] | None:
    """``(text, encoding)``; None for binary content (NUL in the first 8000 bytes).

    Order: BOM (UTF-8/16/32) -> strict UTF-8 -> the PEP 263 coding cookie -> charset_normalizer
    (when installed and ``opts.detect_charset``) -> ``opts.fallback_encoding``. Raises
    :class:`_MemberError` ``undecodable`` when nothing decodes.
    """
    counters = counters if counters is not None else Counter()
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(codec)
            except UnicodeDecodeError:
                break
            counters["bom"] += 1
            return text, label
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        return None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as e:
        utf8_error = e
    declared = _declared_coding(data)
    if declared and declared != "utf-8":
        try:
            text = data.decode(declared)
            counters["charset_declared"] += 1
            return text, declared
        except (UnicodeDecodeError, LookupError):
            pass
    if opts.detect_charset:
        try:
            import charset_normalizer
        except ImportError:  # pragma: no cover - it is in the lock (requests depends on it)
            charset_normalizer = None
        if charset_normalizer is not None:
            best = charset_normalizer.from_bytes(data).best()
            if best is not None and best.encoding:
                counters["charset_detected"] += 1
                return str(best), codecs.lookup(best.encoding).name
    if opts.fallback_encoding:
        counters["encoding_fallback"] += 1
        return data.decode(opts.fallback_encoding, "replace"), codecs.lookup(
            opts.fallback_encoding
        ).name
    raise _MemberError("undecodable", f"not UTF-8 ({utf8_error}) and no charset detected")


# --- the unit loop -------------------------------------------------------------------------------


def reject_row(
    unit: Unit,
    opts: CodeIngestOptions,
    reason: str,
    error: str,
    path: str | None = None,
    offset: int | None = None,
) -> dict:
    return {
        "input_uri": _safe(unit.uri),
        "record_offset": offset,
        "record_id": _safe(path),
        "stage": STAGE,
        "reason": reason,
        "error": _safe(error),
        "run_id": opts.run_id,
        "crawl": None,
        "slice": unit.slice,
    }


def _file_row(unit: Unit, opts: CodeIngestOptions, rel: str, data: bytes, text: str, enc: str):
    sha1 = hashlib.sha1(data).hexdigest()
    st = code_text_stats(text)
    return {
        "doc_id": stable_doc_id(SOURCE, f"{unit.repo_id}:{rel}", sha1),
        "source": SOURCE,
        "repo_id": unit.repo_id,
        "repo_commit": unit.repo_commit,
        "repo_license": unit.repo_license,
        "license_class": unit.license_class,
        "path": rel,
        "language": language_of(rel, text[:4096]),
        "size_bytes": len(data),
        "line_count": st["line_count"],
        "max_line_length": st["max_line_length"],
        "mean_line_length": float(st["mean_line_length"]),
        "alnum_fraction": float(st["alnum_fraction"]),
        "content_sha1": sha1,
        "encoding": enc,
        "text": text,
        "ingest_run_id": opts.run_id,
    }


def _process_file(unit, opts, item: _File, counters) -> tuple[str, dict] | None:
    rel = item.path
    counters["files_seen"] += 1
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return "reject", reject_row(
            unit, opts, "bad_path", "file name is not valid UTF-8", rel, item.offset
        )
    if is_binary_path(rel):
        counters["skipped_binary"] += 1
        return None
    cap = opts.max_file_bytes
    if item.size is not None and item.size > cap:
        msg = f"{item.size} bytes > max_file_bytes={cap}"
        return "reject", reject_row(unit, opts, "oversized_file", msg, rel, item.offset)
    if item.size == 0:
        counters["skipped_empty"] += 1
        return None
    try:
        data = item.read(cap + 1)
    except _MemberError as e:
        return "reject", reject_row(unit, opts, e.reason, str(e), rel, item.offset)
    except PermissionError as e:
        return "reject", reject_row(unit, opts, "access_denied", str(e), rel, item.offset)
    except OSError as e:
        reason = "symlink_loop" if e.errno == errno.ELOOP else "read_error"
        return "reject", reject_row(
            unit, opts, reason, f"{type(e).__name__}: {e}", rel, item.offset
        )
    counters["bytes_read"] += len(data)
    if len(data) > cap:
        msg = f"more than max_file_bytes={cap} bytes"
        return "reject", reject_row(unit, opts, "oversized_file", msg, rel, item.offset)
    if not data:
        counters["skipped_empty"] += 1
        return None
    try:
        decoded = decode_source(data, opts, counters)
    except _MemberError as e:
        return "reject", reject_row(unit, opts, e.reason, str(e), rel, item.offset)
    if decoded is None:
        counters["skipped_binary"] += 1
        return None
    text, enc = decoded
    row = _file_row(unit, opts, rel, data, text, enc)
    counters[f"languages:{row['language']}"] += 1
    return "file", row


def iter_unit(
    unit: Unit,
    opts: CodeIngestOptions | None = None,
    counters: Counter | None = None,
) -> Iterator[tuple[str, dict]]:
    """Rows of one unit: ``("file", CODE_FILE_SCHEMA row)`` / ``("reject", QUARANTINE row)``.
    Never raises for bad input (see the module docstring for the reasons)."""
    opts = opts or CodeIngestOptions()
    counters = counters if counters is not None else CodeIngestCounters()
    counters["units"] += 1
    if not unit.planned:  # repository facts (license, commit, archive prefix) not known yet
        facts = plan_source(
            SourceSpec(unit.uri, unit.repo_id, unit.license_override, unit.kind),
            max_files_per_unit=2**62,
            opts=opts,
            counters=Counter(),
        )[0]
        unit = replace(facts, batch=unit.batch, n_batches=unit.n_batches, lo=unit.lo, hi=unit.hi)
    first = unit.batch == 0
    seen: set[str] = set()

    def source_problem(reason, message, path=None, offset=None):
        if first:
            counters[f"rejected:{reason}"] += 1
            return "reject", reject_row(unit, opts, reason, message, path, offset)
        counters["source_error_other_batch"] += 1
        return None

    try:
        reader = _open_reader(unit, opts, counters, unit.root_prefix, unit.contains)
        for item in reader:
            if isinstance(item, _Skip):
                if (item.path is None and first) or (
                    item.path is not None and unit.contains(item.path)
                ):
                    counters[item.key] += 1
                continue
            if isinstance(item, _Problem):
                if item.source_level or item.path is None:
                    out = source_problem(item.reason, item.message, item.path, item.offset)
                    if out:
                        yield out
                elif unit.contains(item.path):
                    counters[f"rejected:{item.reason}"] += 1
                    yield (
                        "reject",
                        reject_row(unit, opts, item.reason, item.message, item.path, item.offset),
                    )
                continue
            if not unit.contains(item.path):
                continue
            if item.path in seen:
                counters["rejected:duplicate_path"] += 1
                msg = "the same path appears twice; the first one is kept"
                yield (
                    "reject",
                    reject_row(unit, opts, "duplicate_path", msg, item.path, item.offset),
                )
                continue
            seen.add(item.path)
            out = _process_file(unit, opts, item, counters)
            if out is None:
                continue
            if out[0] == "file":
                counters["files"] += 1
            else:
                counters[f"rejected:{out[1]['reason']}"] += 1
            yield out
    except _SourceStop as e:
        out = source_problem(e.reason, str(e), e.path, e.offset)
        if out:
            yield out
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as e:  # noqa: BLE001 - a reader bug must cost one unit, not the job
        counters["rejected:internal_error"] += 1
        yield "reject", reject_row(unit, opts, "internal_error", f"{type(e).__name__}: {e}")


def ingest_sources(
    sources: Sequence[str | SourceSpec | dict],
    opts: CodeIngestOptions | None = None,
    *,
    max_files_per_unit: int = 10_000,
    counters: Counter | None = None,
) -> Iterator[tuple[str, dict]]:
    """``plan_units`` + ``iter_unit`` over every unit, in one process (tests, small runs)."""
    opts = opts or CodeIngestOptions()
    counters = counters if counters is not None else CodeIngestCounters()
    for unit in plan_units(sources, max_files_per_unit, opts, counters=Counter()):
        yield from iter_unit(unit, opts, counters)
