"""Existing corpora (JSONL / Parquet) -> document rows: what the `ingest-docs` executors call.

Pure module (pyarrow, zstandard; no pyspark). One file at a time: ``ingest_docs_uri`` opens a
local / s3:// / https:// file through lmdata.ingest.sources (the same opener, retries and S3
client as ingest-cc) and yields ``("doc", row)`` rows shaped like ``WEB_DOCUMENT_SCHEMA`` (source
``docs``, ``crawl`` = the dataset name) and ``("reject", row)`` rows shaped like
``QUARANTINE_SCHEMA`` (stage ``ingest-docs``). It never raises for bad input.

Formats (detected from the bytes, not the name): JSON Lines, plain / gzip (multi-member) / zstd
(multi-frame), and Parquet. A column map (``ColumnMap``; presets in ``PRESETS``) names the fields
that become ``text``, the source id (``record_id``, and the doc_id when present), ``url``, the
date (``warc_date``) and the source's language label (``cc_lang``: a hint only; curation decides
the language itself, as for WET). Every other field is kept as JSON in ``metadata``. A path may
be dotted (``metadata.url``) and descends into objects and into JSON-encoded strings
(RedPajama-V2's ``meta``); a list of paths takes the first one present.

doc_id: ``stable_doc_id("docs", "<dataset>/id/<source id>", "")`` when the record has a source
id, else ``stable_doc_id("docs", "<dataset>/<file relative to its input>#<line|row>:<n>",
sha1(text))``: the same record ingested again gets the same id.

Quarantine reasons; ``record_offset`` = the 1-based line number (JSONL) or the 0-based row index
(Parquet), ``record_id`` = ``line:<n>`` / ``row:<n>``; null for file-level problems:
  not_found, access_denied, fetch_failed   the file could not be opened / read (sources)
  empty_file                               no bytes, or no records
  bad_json           a line that is not a JSON object
  invalid_utf8       a line that is not UTF-8
  missing_text       no text field, or null
  wrong_type         a mapped field of the wrong type (text not a string, ...); Parquet: a text
                     column that is not a string column (file level)
  empty_text         text shorter than min_text_chars after stripping whitespace
  oversized_record   a line longer than max_record_bytes (skipped up to the next newline)
  truncated_gzip, truncated_zstd   the compressed input ended mid-stream; every complete line
                     before the break arrived, the partial line at the break is this row
  corrupt_gzip, corrupt_zstd       the compressed data could not be decoded; reading stops there
  bad_parquet        not a readable Parquet file (magic / footer)
  corrupt_parquet    one row group could not be read (the others are read)
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from lmdata.document import host_of, stable_doc_id
from lmdata.errors import ConfigError, RecordError
from lmdata.ingest.sources import SourceOptions, is_local, local_path, open_input

STAGE = "ingest-docs"
SOURCE = "docs"
FORMATS = ("auto", "jsonl", "parquet")
# names a folder walk picks up (a file named explicitly is read whatever its name)
SUFFIXES = (
    ".jsonl",
    ".json",
    ".ndjson",
    ".jsonl.gz",
    ".json.gz",
    ".ndjson.gz",
    ".jsonl.zst",
    ".json.zst",
    ".jsonl.zstd",
    ".json.zstd",
    ".parquet",
)
FIELDS = ("text", "id", "url", "date", "language")

# Column layouts of the corpora people re-curate. dolma: the "documents" format (id, text,
# source, added, created, metadata{...}); the CCNet-derived files put the URL in metadata.url.
# redpajama_v2: the raw documents/*.json.gz (raw_content, url, date_download, language, ...) and
# the Hugging Face loader's export (raw_content, doc_id, meta = a JSON string). fineweb: the
# HuggingFaceFW/fineweb(-edu, -2) Parquet (text, id, dump, url, date, file_path, language,
# language_score, token_count). hf: a `datasets` export (to_json / to_parquet) with a text column.
PRESETS: dict[str, dict[str, Any]] = {
    "dolma": {
        "text": "text",
        "id": "id",
        "url": ["metadata.url", "url"],
        "date": ["created", "metadata.date_download"],
        "language": ["metadata.language", "lang"],
    },
    "redpajama_v2": {
        "text": "raw_content",
        "id": "doc_id",
        "url": ["url", "meta.url"],
        "date": ["date_download", "meta.date_download"],
        "language": ["language", "meta.language"],
    },
    "fineweb": {
        "text": "text",
        "id": "id",
        "url": "url",
        "date": "date",
        "language": "language",
    },
    "hf": {"text": "text", "id": "id", "url": "url", "date": "date", "language": "language"},
}


@dataclass(frozen=True)
class ColumnMap:
    """Field paths per target column (each a tuple of alternatives; empty = not mapped)."""

    text: tuple[str, ...] = ("text",)
    id: tuple[str, ...] = ()
    url: tuple[str, ...] = ()
    date: tuple[str, ...] = ()
    language: tuple[str, ...] = ()
    metadata: tuple[str, ...] | None = None  # None: every unmapped top-level field; () : none

    def mapped_top_level(self) -> set[str]:
        return {p.split(".", 1)[0] for f in FIELDS for p in getattr(self, f) if "." not in p}


def _paths(v: Any) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,) if v else ()
    return tuple(str(x) for x in v if x)


def resolve_columns(preset: str | None, overrides: Mapping[str, Any] | None = None) -> ColumnMap:
    """The preset's column map with the non-null ``overrides`` on top (params ingest_docs)."""
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"ingest_docs.preset must be one of {sorted(PRESETS)}, got {preset!r}")
    spec: dict[str, Any] = dict(PRESETS[preset or "hf"])  # no preset: the common names
    for k, v in (overrides or {}).items():
        if k not in (*FIELDS, "metadata"):
            raise ConfigError(f"ingest_docs.columns: unknown key {k!r}")
        if v is not None:
            spec[k] = v
    meta = spec.get("metadata", "*")
    kwargs = {f: _paths(spec.get(f)) for f in FIELDS}
    if not kwargs["text"]:
        kwargs["text"] = ("text",)
    return ColumnMap(**kwargs, metadata=None if meta == "*" else _paths(meta))


@dataclass(frozen=True)
class DocsOptions:
    dataset: str  # the `crawl` value of the rows (partition of bronze)
    columns: ColumnMap = field(default_factory=ColumnMap)
    fmt: str = "auto"
    run_id: str = ""
    slice: str = ""
    min_text_chars: int = 1
    max_record_bytes: int = 50 * 1024 * 1024
    batch_rows: int = 1024  # Parquet rows decoded at a time

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ConfigError(f"ingest_docs format must be one of {FORMATS}, got {self.fmt!r}")
        if not self.dataset:
            raise ConfigError("ingest_docs.dataset must name the corpus")


def reject_row(uri, opts: DocsOptions, reason, error, n=None, unit="line") -> dict:
    return {
        "input_uri": uri,
        "record_offset": n,
        "record_id": None if n is None else f"{unit}:{n}",
        "stage": STAGE,
        "reason": reason,
        "error": error,
        "run_id": opts.run_id,
        "crawl": opts.dataset,
        "slice": opts.slice,
    }


class _Bad(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


_MISSING = object()


def _get(record: Mapping[str, Any], path: str) -> Any:
    """A dotted path into nested objects; JSON-encoded objects on the way are decoded."""
    if path in record:
        return record[path]
    cur: Any = record
    for part in path.split("."):
        if isinstance(cur, str) and cur[:1] == "{":
            try:
                cur = json.loads(cur)
            except ValueError:
                return _MISSING
        if not isinstance(cur, Mapping) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


def _first(record: Mapping[str, Any], paths: Sequence[str]) -> Any:
    for p in paths:
        v = _get(record, p)
        if v is not _MISSING and v is not None:
            return v
    return None


def _as_str(name: str, v: Any, *, numbers: bool = False) -> str | None:
    if v is None or isinstance(v, str):
        return v or None
    if numbers and isinstance(v, int | float) and not isinstance(v, bool):
        return str(v)
    if hasattr(v, "isoformat") and name == "date":  # Parquet timestamp / date columns
        return v.isoformat()
    raise _Bad("wrong_type", f"{name} is a {type(v).__name__}, expected a string")


def _metadata(record: Mapping[str, Any], cols: ColumnMap) -> str | None:
    if cols.metadata is None:
        skip = cols.mapped_top_level()
        extra = {k: v for k, v in record.items() if k not in skip}
    else:
        extra = {p: v for p in cols.metadata if (v := _get(record, p)) is not _MISSING}
    if not extra:
        return None
    return json.dumps(extra, ensure_ascii=False, sort_keys=True, default=str)


def doc_row(record: Any, uri: str, rel: str, n: int, unit: str, opts: DocsOptions) -> dict:
    """One record (a JSON object / a Parquet row as a dict) -> a bronze row; raises _Bad."""
    if not isinstance(record, Mapping):
        raise _Bad("bad_json", f"a JSON {type(record).__name__}, expected an object")
    cols = opts.columns
    text = _first(record, cols.text)
    if text is None:
        raise _Bad("missing_text", f"no text field ({' | '.join(cols.text)})")
    if not isinstance(text, str):
        raise _Bad("wrong_type", f"text is a {type(text).__name__}, expected a string")
    if len(text.strip()) < opts.min_text_chars:
        raise _Bad("empty_text", f"text has {len(text.strip())} non-blank characters")
    src_id = _as_str("id", _first(record, cols.id), numbers=True)
    url = _as_str("url", _first(record, cols.url))
    date = _as_str("date", _first(record, cols.date), numbers=True)
    lang = _as_str("language", _first(record, cols.language))
    raw = text.encode("utf-8", "surrogatepass")
    if src_id is not None:
        doc_id = stable_doc_id(SOURCE, f"{opts.dataset}/id/{src_id}", "")
    else:
        digest = hashlib.sha1(raw).hexdigest()
        doc_id = stable_doc_id(SOURCE, f"{opts.dataset}/{rel}#{unit}:{n}", digest)
    return {
        "doc_id": doc_id,
        "source": SOURCE,
        "url": url,
        "host": host_of(url),
        "crawl": opts.dataset,
        "warc_file": uri,
        "record_offset": n,
        "record_id": src_id,
        "warc_date": date,
        "content_type": "text/plain",
        "charset": "utf-8",
        "html_lang": None,
        "cc_lang": lang,
        "text": text,
        "byte_length": len(raw),
        "ingest_run_id": opts.run_id,
        "slice": opts.slice,
        "metadata": _metadata(record, cols),
    }


# --- bytes -> lines ---------------------------------------------------------------------------

_GZIP, _ZSTD, _PARQUET = b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"PAR1"
_CHUNK = 1 << 20


class _Break(Exception):
    """The compressed stream ended or broke: every byte decoded before it was yielded."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(_CHUNK):
        yield chunk


def _decompress(chunks: Iterator[bytes], kind: str) -> Iterator[bytes]:
    """Multi-member gzip / multi-frame zstd, incrementally, raising _Break at a truncation or
    corruption after yielding every byte decoded before it. Not gzip.GzipFile / zstandard's
    stream_reader: GzipFile's EOFError drops the bytes decoded in that read, and stream_reader
    returns b"" without an error on a truncated frame; a decompressobj tells by ``eof``."""
    if kind == "gzip":
        new, errors = (lambda: zlib.decompressobj(wbits=31)), (zlib.error,)
    else:
        import zstandard

        dctx = zstandard.ZstdDecompressor()
        new, errors = dctx.decompressobj, (zstandard.ZstdError,)
    d, fed = new(), False
    for chunk in chunks:
        while chunk:
            fed = True
            try:
                out = d.decompress(chunk)
            except errors as e:
                raise _Break(f"corrupt_{kind}", f"{kind} data cannot be decoded: {e}") from e
            if out:
                yield out
            if not d.eof:
                break
            chunk = d.unused_data  # the next member / frame
            if kind == "gzip":
                chunk = chunk.lstrip(b"\x00")  # zero padding between members is tolerated
            d, fed = new(), False
    if fed and not d.eof:
        raise _Break(f"truncated_{kind}", f"the {kind} stream ended before its end marker")


def _lines(data: Iterator[bytes], max_bytes: int) -> Iterator[tuple[int, bytes | None, int]]:
    """(line number, line bytes or None when oversized, length); then re-raises a _Break with
    the number and bytes of the partial line at the break as ``.line`` / ``.partial``."""
    buf, n, skipping = b"", 0, 0
    try:
        for chunk in data:
            buf += chunk
            start = 0
            while (nl := buf.find(b"\n", start)) >= 0:
                n += 1
                if skipping or nl - start > max_bytes:
                    yield n, None, skipping + nl - start
                    skipping = 0
                else:
                    yield n, buf[start:nl], nl - start
                start = nl + 1
            buf = buf[start:]
            if len(buf) > max_bytes:  # an oversized line: stop buffering, skip to its end
                skipping += len(buf)
                buf = b""
    except _Break as e:
        e.line, e.partial = n + 1, len(buf) + skipping
        raise
    if buf or skipping:
        n += 1
        big = skipping or len(buf) > max_bytes
        yield (n, None, skipping + len(buf)) if big else (n, buf, len(buf))


# --- files -----------------------------------------------------------------------------------


def _peek(stream: BinaryIO, n: int = 4) -> tuple[bytes, Iterator[bytes]]:
    head = b""
    while len(head) < n and (b := stream.read(n - len(head))):
        head += b

    def chunks():
        if head:
            yield head
        yield from _chunks(stream)

    return head, chunks()


def iter_jsonl(
    uri: str, rel: str, chunks: Iterator[bytes], head: bytes, opts: DocsOptions, counters: Counter
) -> Iterator[tuple[str, dict]]:
    if head.startswith(_GZIP):
        data = _decompress(chunks, "gzip")
    elif head.startswith(_ZSTD):
        data = _decompress(chunks, "zstd")
    else:
        data = chunks
    seen = 0
    try:
        for n, line, size in _lines(data, opts.max_record_bytes):
            counters["bytes_decoded"] += size + 1
            if line is None:
                seen += 1
                yield _reject(
                    counters, uri, opts, "oversized_record",
                    f"line of {size} bytes exceeds max_record_bytes={opts.max_record_bytes}", n,
                )  # fmt: skip
                continue
            if not line.strip():
                counters["blank_lines"] += 1
                continue
            seen += 1
            counters["records_seen"] += 1
            try:
                try:
                    s = line.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise _Bad("invalid_utf8", f"not UTF-8: {e}") from e
                try:
                    record = json.loads(s)
                except ValueError as e:
                    raise _Bad("bad_json", f"not JSON: {e}") from e
                row = doc_row(record, uri, rel, n, "line", opts)
            except _Bad as e:
                yield _reject(counters, uri, opts, e.reason, f"line {n}: {e}", n)
                continue
            counters["docs"] += 1
            yield "doc", row
    except _Break as e:
        seen += 1
        yield _reject(
            counters, uri, opts, e.reason,
            f"line {e.line}: {e} ({e.partial} bytes of a partial line lost; "
            f"{e.line - 1} lines before it were read)", e.line,
        )  # fmt: skip
    except RecordError as e:
        yield _reject(counters, uri, opts, e.reason, f"read failed mid-file: {e}")
    if seen == 0:
        yield _reject(counters, uri, opts, "empty_file", "no records")


def iter_parquet(
    uri: str, rel: str, source: Any, opts: DocsOptions, counters: Counter
) -> Iterator[tuple[str, dict]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(source)
    except (pa.ArrowException, OSError, ValueError) as e:
        yield _reject(counters, uri, opts, "bad_parquet", f"not a readable Parquet file: {e}")
        return
    schema = pf.schema_arrow
    for path in opts.columns.text:
        if path in schema.names:
            t = schema.field(path).type
            if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
                yield _reject(
                    counters, uri, opts, "wrong_type",
                    f"text column {path!r} is {t}, expected a string column",
                )  # fmt: skip
                return
            break
    if pf.metadata.num_rows == 0:
        yield _reject(counters, uri, opts, "empty_file", "no rows")
        return
    row = 0
    for rg in range(pf.metadata.num_row_groups):
        rows = pf.metadata.row_group(rg).num_rows
        try:
            table = pf.read_row_group(rg)
        except (pa.ArrowException, OSError, ValueError) as e:
            yield _reject(
                counters, uri, opts, "corrupt_parquet",
                f"row group {rg} (rows {row}..{row + rows - 1}) cannot be read: {e}", row, "row",
            )  # fmt: skip
            row += rows
            continue
        for batch in table.to_batches(opts.batch_rows):
            for record in batch.to_pylist():
                counters["records_seen"] += 1
                try:
                    out = doc_row(record, uri, rel, row, "row", opts)
                except _Bad as e:
                    yield _reject(counters, uri, opts, e.reason, f"row {row}: {e}", row, "row")
                else:
                    counters["docs"] += 1
                    yield "doc", out
                row += 1


def _reject(counters, uri, opts, reason, error, n=None, unit="line") -> tuple[str, dict]:
    counters[f"rejected:{reason}"] += 1
    return "reject", reject_row(uri, opts, reason, error, n, unit)


def ingest_docs_uri(
    uri: str,
    rel: str,
    opts: DocsOptions,
    source_opts: SourceOptions | None = None,
    *,
    counters: Counter | None = None,
) -> Iterator[tuple[str, dict]]:
    """Rows of one file (``rel``: its path relative to the input it was listed from)."""
    counters = counters if counters is not None else Counter()
    counters["files"] += 1
    try:
        stream = open_input(uri, source_opts or SourceOptions(), counters=counters)
    except RecordError as e:
        yield _reject(counters, uri, opts, e.reason, str(e))
        return
    try:
        try:
            head, chunks = _peek(stream)
        except RecordError as e:
            yield _reject(counters, uri, opts, e.reason, str(e))
            return
        if not head:
            yield _reject(counters, uri, opts, "empty_file", "0 bytes")
            return
        is_parquet = head == _PARQUET if opts.fmt == "auto" else opts.fmt == "parquet"
        if not is_parquet:
            yield from iter_jsonl(uri, rel, chunks, head, opts, counters)
            return
        if is_local(uri):
            yield from iter_parquet(uri, rel, local_path(uri), opts, counters)
            return
        # Parquet needs random access (footer first): a remote file is spooled to local disk.
        with tempfile.TemporaryFile(prefix="lmdata-docs-") as tmp:
            try:
                for chunk in chunks:
                    tmp.write(chunk)
            except RecordError as e:
                yield _reject(counters, uri, opts, e.reason, str(e))
                return
            tmp.seek(0)
            yield from iter_parquet(uri, rel, tmp, opts, counters)
    finally:
        stream.close()


# --- listing ---------------------------------------------------------------------------------


def _wanted(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return not base.startswith((".", "_")) and base.lower().endswith(SUFFIXES)


def list_inputs(inputs: Sequence[str], opts: SourceOptions | None = None) -> list[tuple[str, str]]:
    """(uri, path relative to its input) of every file: a file as given, a local folder walked,
    an s3:// prefix listed; files a walk finds must look like JSONL/Parquet (SUFFIXES; names
    starting with . or _ skipped). Raises ConfigError for a local input that does not exist."""
    out: list[tuple[str, str]] = []
    for inp in inputs:
        if inp.startswith("s3://"):
            out += _list_s3(inp, opts or SourceOptions())
        elif is_local(inp):
            path = local_path(inp)
            if os.path.isdir(path):
                for dirpath, dirs, files in os.walk(path):
                    dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
                    for name in files:
                        full = os.path.join(dirpath, name)
                        rel = os.path.relpath(full, path).replace(os.sep, "/")
                        if _wanted(rel):
                            out.append((os.path.abspath(full), rel))
            elif os.path.exists(path):
                out.append((os.path.abspath(path), os.path.basename(path)))
            else:
                raise ConfigError(f"ingest_docs input {inp!r} does not exist")
        else:  # https: a file (HTTP has no folder listing)
            out.append((inp, inp.rsplit("/", 1)[-1]))
    return sorted(set(out))


def _list_s3(prefix_uri: str, opts: SourceOptions) -> list[tuple[str, str]]:
    from urllib.parse import urlsplit

    from lmdata.errors import RetryableError
    from lmdata.ingest.sources import _s3_call, _s3_client, _Transient

    parts = urlsplit(prefix_uri)
    bucket, prefix = parts.netloc, parts.path.lstrip("/")
    client = _s3_client(opts)
    out = []
    token = None
    while True:
        kwargs = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kwargs["ContinuationToken"] = token
        try:
            resp = _s3_call(lambda kw=kwargs: client.list_objects_v2(**kw), prefix_uri)
        except RecordError as e:
            raise ConfigError(f"ingest_docs input {prefix_uri}: {e}") from e
        except _Transient as e:  # throttling, 5xx, connection errors: the job is retried
            raise RetryableError(f"listing {prefix_uri}: {e}") from e
        for obj in resp.get("Contents", []):
            key = obj["Key"]
            rel = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
            if key == prefix or _wanted(rel):
                out.append((f"s3://{bucket}/{key}", rel))
        if not resp.get("IsTruncated"):
            return out
        token = resp.get("NextContinuationToken")
