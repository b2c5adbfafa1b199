"""Bytes -> rows: the single entry point the Spark ingest stage calls on its executors.

``iter_file`` yields ``("doc", row)`` rows shaped like ``WEB_DOCUMENT_SCHEMA`` and
``("reject", row)`` rows shaped like ``QUARANTINE_SCHEMA`` (stage ``ingest-cc``). It never raises
for bad input: every problem becomes a reject row with a stable ``reason`` and reading continues
with the next record. Reason codes:

file level (``record_offset`` None):
  not_found, access_denied, fetch_failed   the file could not be opened (sources.open_input)
  empty_file                               0 bytes, or no records at all
  not_warc                                 does not start with a WARC record
  unsupported_format                       ARC (``filedesc://``) or zstd input
record level (``record_offset`` = compressed offset of the gzip member / raw offset):
  truncated_gzip      the input ended inside a gzip member (detected via zlib end-of-member)
  corrupt_gzip        a gzip member failed to inflate (bad data / CRC); reading resumes at the
                      next member
  trailing_garbage    non-gzip bytes after a gzip member; reading resumes at the next member
  truncated_record    uncompressed input ended inside a record
  fetch_failed        a network read failed mid-file after retries
  bad_content_length  Content-Length does not end the record; the record is re-framed at the next
                      ``WARC/1.x`` line and, when that works, its document is ALSO emitted
  bad_record_header   no WARC version line / Content-Length where a record should start
  malformed_record    FastWARC could not parse the framed record
  bad_http            the HTTP header block of a response could not be parsed
  oversized_record    record block (or decoded HTTP body) larger than max_record_bytes
  invalid_utf8        WET text with more than 1% invalid UTF-8
  invalid_encoding    HTML that no charset decodes with less than 1% replacement characters
  empty_extraction    text shorter than min_text_chars after extraction
  extract_failed      an unexpected error while extracting one record (message has the details)
  internal_error      an unexpected error in the framing code; the rest of the file is not read

Skipped and only counted (not quarantined): non-HTML responses (``skipped_non_html``), non-2xx
responses (``skipped_http_status``), and other record types (``skipped_other_type``: warcinfo,
request, metadata, revisit, resource; conversion records when fmt="warc", responses when
fmt="wet").
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from lmdata.document import QUARANTINE_SCHEMA, WEB_DOCUMENT_SCHEMA, host_of, stable_doc_id
from lmdata.errors import ConfigError, RecordError
from lmdata.ingest.sources import SourceOptions, open_input
from lmdata.ingest.warc import Frame, Problem, extract_html, is_html, iter_frames, mime_of
from lmdata.ingest.wet import decode_wet, too_invalid
from lmdata.stats import RejectCounters

STAGE = "ingest-cc"
SOURCE_WET = "cc-wet"
SOURCE_WARC = "cc-warc"
FORMATS = ("auto", "wet", "warc")
DOC_FIELDS = tuple(f.name for f in WEB_DOCUMENT_SCHEMA)
REJECT_FIELDS = tuple(f.name for f in QUARANTINE_SCHEMA)

_IS_PART_OF = re.compile(rb"(?im)^ispartof:[ \t]*(\S+)")


@dataclass(frozen=True)
class IngestOptions:
    crawl: str  # e.g. "CC-MAIN-2024-22"; kept even if the file's warcinfo isPartOf differs
    # "wet" -> conversion records only, "warc" -> response records only; "auto" takes both and
    # dispatches per record type (conversion -> WET text, response -> HTML extraction), which
    # also handles files whose name says nothing (cc_net's sample.warc.txt is a WET file).
    fmt: str = "auto"
    run_id: str = ""
    slice: str = ""  # "i/n"
    max_record_bytes: int = 50 * 1024 * 1024
    min_text_chars: int = 1

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ConfigError(f"ingest fmt must be one of {FORMATS}, got {self.fmt!r}")
        if self.max_record_bytes < 1:
            raise ConfigError(f"max_record_bytes must be >= 1, got {self.max_record_bytes}")
        if self.min_text_chars < 0:
            raise ConfigError(f"min_text_chars must be >= 0, got {self.min_text_chars}")


class IngestCounters(RejectCounters):
    """Counters of one or more ingested files (a ``collections.Counter``).

    Keys: files, records_seen, docs, skipped_non_html, skipped_http_status, skipped_other_type,
    rejected:<reason>, bytes_read (compressed bytes read from the source), decode_replacements,
    docs_with_replacements, charset_detected, charset_overridden, salvaged_records, truncated_payload,
    http_decode_fallback, crawl_mismatch, resyncs, fetch_retries.
    """


def reject_row(
    uri: str,
    opts: IngestOptions,
    reason: str,
    error: str,
    offset: int | None = None,
    record_id: str | None = None,
) -> dict:
    return {
        "input_uri": uri,
        "record_offset": offset,
        "record_id": record_id,
        "stage": STAGE,
        "reason": reason,
        "error": error,
        "run_id": opts.run_id,
        "crawl": opts.crawl,
        "slice": opts.slice,
    }


def _rejected(
    counters: Counter,
    uri: str,
    opts: IngestOptions,
    reason: str,
    error: str,
    offset: int | None = None,
    record_id: str | None = None,
) -> tuple[str, dict]:
    """Count ``rejected:<reason>`` and return the ``("reject", quarantine row)`` item."""
    counters[f"rejected:{reason}"] += 1
    return "reject", reject_row(uri, opts, reason, error, offset, record_id)


def _clean_url(url: str | None) -> str | None:
    if not url:
        return None
    url = url.strip()
    if url.startswith("<") and url.endswith(">"):  # wget writes <http://...>
        url = url[1:-1].strip()
    return url or None


def _digest(headers, payload: bytes) -> str:
    d = headers.get("WARC-Payload-Digest") or headers.get("WARC-Block-Digest")
    if d:
        return d.strip()
    return "sha1:" + base64.b32encode(hashlib.sha1(payload).digest()).decode("ascii")


class _Reject(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _doc_row(uri, opts, frame, rec, source, url, payload_digest_src, **fields) -> dict:
    row = {
        "doc_id": stable_doc_id(source, url or frame.record_id or "", payload_digest_src),
        "source": source,
        "url": url,
        "host": host_of(url),
        "crawl": opts.crawl,
        "warc_file": uri,
        "record_offset": frame.offset,
        "record_id": frame.record_id or rec.headers.get("WARC-Record-ID"),
        "warc_date": rec.headers.get("WARC-Date"),
        "content_type": None,
        "charset": None,
        "html_lang": None,
        "cc_lang": rec.headers.get("WARC-Identified-Content-Language"),
        "text": "",
        "byte_length": None,
        "ingest_run_id": opts.run_id,
        "slice": opts.slice,
        "metadata": None,  # ingest-docs' source fields; WET/WARC records have none
    }
    row.update(fields)
    return row


def _wet_doc(uri, opts, frame, rec, counters) -> dict:
    payload = frame.block  # a conversion record's block is the text (no HTTP envelope)
    dec = decode_wet(payload)
    if dec.invalid:
        if too_invalid(dec.invalid, dec.text):
            raise _Reject(
                "invalid_utf8",
                f"{dec.invalid} invalid UTF-8 sequences in {len(dec.text)} characters",
            )
        counters["decode_replacements"] += dec.invalid
        counters["docs_with_replacements"] += 1
    if len(dec.text.strip()) < opts.min_text_chars:
        raise _Reject("empty_extraction", f"WET text has {len(dec.text.strip())} characters")
    url = _clean_url(rec.headers.get("WARC-Target-URI"))
    return _doc_row(
        uri,
        opts,
        frame,
        rec,
        SOURCE_WET,
        url,
        _digest(rec.headers, payload),
        content_type=mime_of(rec.headers.get("Content-Type")) or "text/plain",
        charset="utf-8",
        text=dec.text,
        byte_length=len(payload),
    )


def _http_body(rec, data: bytes, max_bytes: int, counters):
    """Parse the HTTP response of a record and read its (decoded) body."""
    from fastwarc.warc import WarcRecord

    for mode in ("all", "none"):
        if mode == "none":
            rec = WarcRecord.from_bytes(data)
        try:
            rec.parse_http(auto_decode=mode)
            body = rec.reader.read(max_bytes + 1)
        except OSError as e:
            if mode == "none":
                raise _Reject("bad_http", f"unparseable HTTP response: {e}") from e
            # Chunked / gzip / brotli decoding failed (e.g. a header that lies about the
            # encoding): fall back to the body as stored.
            continue
        if mode == "none":
            counters["http_decode_fallback"] += 1
        return rec, body
    raise AssertionError("unreachable")


def _warc_doc(uri, opts, frame, rec, data, counters) -> dict | None:
    rec, body = _http_body(rec, data, opts.max_record_bytes, counters)
    status = rec.http_headers.status_code if rec.is_http else None
    if status is None:
        raise _Reject("bad_http", "response record without an HTTP status line")
    if not 200 <= status < 300:
        counters["skipped_http_status"] += 1
        return None
    if len(body) > opts.max_record_bytes:
        raise _Reject(
            "oversized_record",
            f"decoded HTTP body exceeds max_record_bytes={opts.max_record_bytes}",
        )
    http_mime = mime_of(rec.http_content_type)
    ident = mime_of(rec.headers.get("WARC-Identified-Payload-Type"))
    if not is_html(http_mime, ident, body):
        counters["skipped_non_html"] += 1
        return None
    ht = extract_html(body, rec.http_charset)
    dec = ht.decoded
    if dec.replaced:
        if too_invalid(dec.replaced, dec.text):
            raise _Reject(
                "invalid_encoding",
                f"{dec.replaced} undecodable characters with charset {dec.charset} "
                f"(declared {rec.http_charset!r})",
            )
        counters["decode_replacements"] += dec.replaced
        counters["docs_with_replacements"] += 1
    if dec.how in ("detected", "fallback"):
        counters["charset_detected"] += 1  # no usable declaration: byte detection decided
    if rec.http_charset and dec.how not in ("http", "bom"):
        counters["charset_overridden"] += 1  # the HTTP charset did not decode the bytes
    if len(ht.text.strip()) < opts.min_text_chars:
        raise _Reject("empty_extraction", f"HTML main text has {len(ht.text.strip())} characters")
    if rec.headers.get("WARC-Truncated"):
        counters["truncated_payload"] += 1
    url = _clean_url(rec.headers.get("WARC-Target-URI"))
    return _doc_row(
        uri,
        opts,
        frame,
        rec,
        SOURCE_WARC,
        url,
        _digest(rec.headers, body),
        content_type=http_mime
        if http_mime in ("text/html", "application/xhtml+xml")
        else "text/html",
        charset=dec.charset,
        html_lang=ht.html_lang,
        text=ht.text,
        byte_length=len(body),
    )


def _frame_doc(uri: str, opts: IngestOptions, frame: Frame, counters) -> dict | None:
    from fastwarc.warc import WarcRecord, WarcRecordType

    data = frame.header + frame.block
    try:
        rec = WarcRecord.from_bytes(data)
    except OSError as e:
        raise _Reject("malformed_record", f"FastWARC cannot parse the record: {e}") from e
    rtype = rec.record_type
    if rtype == WarcRecordType.conversion and opts.fmt in ("auto", "wet"):
        return _wet_doc(uri, opts, frame, rec, counters)
    if rtype == WarcRecordType.response and opts.fmt in ("auto", "warc"):
        return _warc_doc(uri, opts, frame, rec, data, counters)
    if rtype == WarcRecordType.warcinfo:
        m = _IS_PART_OF.search(frame.block)
        if m and m.group(1).decode("utf-8", "replace") != opts.crawl:
            counters["crawl_mismatch"] += 1
    counters["skipped_other_type"] += 1
    return None


_WARC_TYPE_METADATA = re.compile(rb"(?im)^warc-type:[ \t]*metadata[ \t]*\r?$")
_CONCURRENT_TO = re.compile(rb"(?im)^warc-concurrent-to:[ \t]*(\S+)")
_CLD2 = re.compile(rb"(?m)^languages-cld2:[ \t]*(\{.*\})[ \t]*\r?$")


def _metadata_lang(frame: Frame) -> tuple[str, str | None] | None:
    """(WARC-Concurrent-To, cc_lang) of a Common Crawl metadata record, else None.

    CC writes the CLD2 languages of a response into the metadata record that follows it
    (`languages-cld2: {"languages":[{"code-iso-639-3":"spa",...}]}`); WET files carry the same
    fact as `WARC-Identified-Content-Language: spa`. We give WARC rows the same ISO 639-3 list.
    """
    if not _WARC_TYPE_METADATA.search(frame.header):
        return None
    m = _CONCURRENT_TO.search(frame.header)
    if not m:
        return None
    lang = None
    j = _CLD2.search(frame.block)
    if j:
        try:
            langs = json.loads(j.group(1)).get("languages") or []
            codes = [x.get("code-iso-639-3") or x.get("code") for x in langs]
            lang = ",".join(c for c in codes if c) or None
        except (ValueError, AttributeError):
            lang = None
    return m.group(1).decode("ascii", "replace"), lang


def iter_file(
    uri: str,
    stream: BinaryIO,
    opts: IngestOptions,
    *,
    counters: Counter | None = None,
) -> Iterator[tuple[str, dict]]:
    """Rows of one already-open input (WARC or WET, gzip or plain). Never raises for bad input.

    A WARC response's row is held until the next record: when that is its metadata record, the
    row gets the CLD2 language as `cc_lang` (WET rows have it from their own header).
    """
    counters = counters if counters is not None else IngestCounters()
    pending: dict | None = None
    for kind, row in _iter_file_rows(uri, stream, opts, counters=counters):
        if kind == "meta":
            concurrent_to, lang = row
            if pending is not None and pending.get("record_id") == concurrent_to:
                if lang and not pending.get("cc_lang"):
                    pending["cc_lang"] = lang
                yield "doc", pending
                pending = None
            continue
        if pending is not None:
            yield "doc", pending
            pending = None
        if kind == "doc" and row.get("source") == SOURCE_WARC:
            pending = row
        else:
            yield kind, row
    if pending is not None:
        yield "doc", pending


def _iter_file_rows(
    uri: str,
    stream: BinaryIO,
    opts: IngestOptions,
    *,
    counters: Counter | None = None,
) -> Iterator[tuple[str, dict]]:
    """iter_file without the metadata join: also yields ("meta", (concurrent_to, cc_lang))."""
    frames = iter_frames(stream, max_record_bytes=opts.max_record_bytes, counters=counters)
    last_offset = None
    while True:
        try:
            item = next(frames)
        except StopIteration:
            return
        except (MemoryError, KeyboardInterrupt):
            raise
        except Exception as e:  # noqa: BLE001 - a framing bug must cost one file, not the job
            msg = f"reading stopped after offset {last_offset}: {type(e).__name__}: {e}"
            yield _rejected(counters, uri, opts, "internal_error", msg, last_offset)
            return
        last_offset = item.offset if item.offset is not None else last_offset
        if isinstance(item, Problem):
            yield _rejected(
                counters, uri, opts, item.reason, item.message, item.offset, item.record_id
            )
            continue
        meta = _metadata_lang(item)
        if meta is not None:
            counters["skipped_other_type"] += 1
            yield "meta", meta
            continue
        try:
            row = _frame_doc(uri, opts, item, counters)
        except _Reject as e:
            yield _rejected(counters, uri, opts, e.reason, str(e), item.offset, item.record_id)
            continue
        except (MemoryError, KeyboardInterrupt):
            raise
        except Exception as e:  # noqa: BLE001 - one bad record must not stop the file
            msg = f"{type(e).__name__}: {e}"
            yield _rejected(counters, uri, opts, "extract_failed", msg, item.offset, item.record_id)
            continue
        if row is not None:
            if item.salvaged:
                counters["salvaged_records"] += 1
            counters["docs"] += 1
            yield "doc", row


def ingest_uri(
    uri: str,
    opts: IngestOptions,
    src: SourceOptions,
    *,
    counters: Counter | None = None,
) -> Iterator[tuple[str, dict]]:
    """``open_input`` + ``iter_file``; an open failure is ONE reject row (record_offset None)."""
    counters = counters if counters is not None else IngestCounters()
    counters["files"] += 1
    try:
        stream = open_input(uri, src, counters=counters)
    except RecordError as e:
        yield _rejected(counters, uri, opts, e.reason, str(e), None)
        return
    try:
        yield from iter_file(uri, stream, opts, counters=counters)
    finally:
        stream.close()
