"""Shared row vocabulary: the columns every stage reads and writes.

Pure module (pyarrow only). The Arrow schemas here are the single source of truth for
the Delta tables; Spark stages derive their DataFrame schemas from them.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import pyarrow as pa

# bronze/web_documents: one row per document (WET conversion record or extracted WARC response).
WEB_DOCUMENT_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),  # "cc-wet" | "cc-warc" | "docs"
        pa.field("url", pa.string()),
        pa.field("host", pa.string()),
        pa.field("crawl", pa.string(), nullable=False),
        pa.field("warc_file", pa.string()),  # the input file URI as listed
        pa.field("record_offset", pa.int64()),  # byte offset of the record in the (compressed) file
        pa.field("record_id", pa.string()),
        pa.field("warc_date", pa.string()),
        pa.field("content_type", pa.string()),
        pa.field("charset", pa.string()),
        pa.field("html_lang", pa.string()),
        pa.field("cc_lang", pa.string()),  # WARC-Identified-Content-Language, when present
        pa.field("text", pa.string(), nullable=False),
        pa.field("byte_length", pa.int64()),  # bytes of the record payload as read
        pa.field("ingest_run_id", pa.string()),
        pa.field("slice", pa.string()),  # "i/n" slice of the crawl listing this row came from
        # ingest-docs: the source record's other fields as a JSON object (null for WET/WARC)
        pa.field("metadata", pa.string()),
    ]
)

# quarantine/rejected_inputs: every input that could not be read, with the reason.
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("input_uri", pa.string(), nullable=False),
        pa.field("record_offset", pa.int64()),  # null when the whole file failed
        pa.field("record_id", pa.string()),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),  # short stable code, e.g. "truncated_gzip"
        pa.field("error", pa.string()),  # the human-readable message / exception text
        pa.field("run_id", pa.string()),
        pa.field("crawl", pa.string()),
        pa.field("slice", pa.string()),
    ]
)


def stable_doc_id(source: str, locator: str, digest: str) -> str:
    """Stable document id: sha1 over source, url/path and record digest (hex, 40 chars).

    The same record read twice (re-run, backfill, another executor) gets the same id.
    """
    h = hashlib.sha1()
    for part in (source, locator, digest):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


def host_of(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower() if host else None


def empty_table(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


# One row of bronze/code_files (lmdata.ingest.code), the code counterpart of WEB_DOCUMENT_SCHEMA.
CODE_FILE_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),  # "code"
        pa.field("repo_id", pa.string(), nullable=False),
        pa.field("repo_commit", pa.string()),  # git HEAD sha; null for dirs and archives
        pa.field("repo_license", pa.string()),  # SPDX expression, or null
        pa.field("license_class", pa.string(), nullable=False),  # permissive|copyleft|unknown
        pa.field("path", pa.string(), nullable=False),  # repository-relative, POSIX
        pa.field("language", pa.string(), nullable=False),  # Linguist name or "unknown"
        pa.field("size_bytes", pa.int64(), nullable=False),
        pa.field("line_count", pa.int64(), nullable=False),
        pa.field("max_line_length", pa.int64(), nullable=False),
        pa.field("mean_line_length", pa.float64(), nullable=False),
        pa.field("alnum_fraction", pa.float64(), nullable=False),
        pa.field("content_sha1", pa.string(), nullable=False),  # sha1 of the raw bytes
        pa.field("encoding", pa.string(), nullable=False),  # codec the bytes were decoded with
        pa.field("text", pa.string(), nullable=False),
        pa.field("ingest_run_id", pa.string()),
    ]
)
