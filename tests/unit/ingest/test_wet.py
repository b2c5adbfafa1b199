"""WET conversion records -> rows (real Common Crawl data)."""

from __future__ import annotations

import gzip

import pytest

from lmdata.document import QUARANTINE_SCHEMA, WEB_DOCUMENT_SCHEMA, host_of, stable_doc_id
from lmdata.errors import ConfigError
from lmdata.ingest.records import IngestOptions


def _wet_payload_independently(path) -> tuple[dict, bytes]:
    """Parse the conversion record of whirlwind.warc.wet.gz with gzip + manual framing."""
    data = gzip.decompress(path.read_bytes())  # all members
    records = []
    pos = 0
    while pos < len(data):
        head_end = data.index(b"\r\n\r\n", pos)
        lines = data[pos:head_end].decode().split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        n = int(headers["Content-Length"])
        block = data[head_end + 4 : head_end + 4 + n]
        records.append((headers, block))
        pos = head_end + 4 + n + 4
    [(headers, block)] = [r for r in records if r[0]["WARC-Type"] == "conversion"]
    return headers, block


def test_whirlwind_wet_text_equals_the_payload(h):
    headers, block = _wet_payload_independently(h.CC / "whirlwind.warc.wet.gz")
    res = h.ingest_path(h.CC / "whirlwind.warc.wet.gz", run_id="r1", slice="0/1")
    assert res.rejects == []
    [doc] = res.docs
    assert doc["text"] == block.decode("utf-8")
    assert doc["source"] == "cc-wet"
    assert doc["url"] == headers["WARC-Target-URI"] == "https://an.wikipedia.org/wiki/Escopete"
    assert doc["host"] == "an.wikipedia.org"
    assert doc["cc_lang"] == headers["WARC-Identified-Content-Language"]
    assert doc["record_id"] == headers["WARC-Record-ID"]
    assert doc["warc_date"] == headers["WARC-Date"]
    assert doc["byte_length"] == len(block)
    assert doc["charset"] == "utf-8"
    assert doc["content_type"] == "text/plain"
    assert doc["crawl"] == h.CRAWL
    assert doc["warc_file"] == str(h.CC / "whirlwind.warc.wet.gz")
    assert doc["ingest_run_id"] == "r1" and doc["slice"] == "0/1"
    # record_offset = compressed offset of the record's gzip member (the CC index offset)
    assert (
        doc["record_offset"] == h.gzip_members((h.CC / "whirlwind.warc.wet.gz").read_bytes())[1][0]
    )
    digest = headers.get("WARC-Payload-Digest") or headers["WARC-Block-Digest"]
    assert doc["doc_id"] == stable_doc_id("cc-wet", doc["url"], digest)
    assert res.counters["docs"] == 1 and res.counters["records_seen"] == 2
    assert res.counters["skipped_other_type"] == 1  # warcinfo
    assert res.counters["bytes_read"] == (h.CC / "whirlwind.warc.wet.gz").stat().st_size


def test_rows_have_exactly_the_schema_fields(h):
    res = h.ingest_bytes(b"not a warc at all\n" * 3)
    assert res.docs == []
    doc_res = h.ingest_path(h.CC / "whirlwind.warc.wet.gz")
    for row in doc_res.docs:
        assert list(row) == WEB_DOCUMENT_SCHEMA.names
        for f in WEB_DOCUMENT_SCHEMA:
            if not f.nullable:
                assert row[f.name] is not None, f.name
    for row in res.rejects:
        assert list(row) == QUARANTINE_SCHEMA.names
        assert row["stage"] == "ingest-cc"


def test_doc_id_is_stable_across_reads_and_uris(h):
    a = h.ingest_path(h.CC / "whirlwind.warc.wet.gz").docs[0]
    b = h.ingest_bytes((h.CC / "whirlwind.warc.wet.gz").read_bytes(), uri="s3://x/y").docs[0]
    assert a["doc_id"] == b["doc_id"]
    assert {k: v for k, v in a.items() if k != "warc_file"} == {
        k: v for k, v in b.items() if k != "warc_file"
    }


def test_sample_warc_txt_uncompressed_wet_gives_three_docs(h):
    """cc_net's hand-built sample has LF line ends and Content-Lengths that count characters,
    not bytes; every record is re-framed at the next WARC/1.0 line (and reported)."""
    res = h.ingest_path(h.CC / "sample.warc.txt")
    urls = [d["url"] for d in res.docs]
    assert urls == [
        "http://sample_english.com",
        "http://sample_chinese.zh",
        "http://sample_russian.ru",
    ]
    assert res.docs[0]["text"].startswith("Famous Mark Twain Quotes\n")
    assert "馬克·吐溫名言" in res.docs[1]["text"]
    assert "Марка Твена" in res.docs[2]["text"]
    assert all(not d["text"].endswith("\n\n") for d in res.docs)  # the trailer is not text
    assert res.reasons == ["bad_content_length"] * 4  # warcinfo + 3 conversions
    assert res.counters["salvaged_records"] == 3
    assert res.counters["crawl_mismatch"] == 1  # isPartOf CC-MAIN-2019-13, configured crawl kept
    assert {d["crawl"] for d in res.docs} == {h.CRAWL}
    # the uncompressed file's record_offset is the byte offset of the "WARC/1.0" line
    raw = (h.CC / "sample.warc.txt").read_bytes()
    for d in res.docs:
        assert raw[d["record_offset"] :].startswith(b"WARC/1.0\n")


def test_invalid_utf8_few_bytes_kept_and_counted(h, wet_parts):
    block = bytearray(wet_parts.conv_block)
    block[100] = 0xFF  # one invalid byte in ~4.4 kB
    data = h.gz(wet_parts.info_raw, wet_parts.conv("https://e.org/x", bytes(block)))
    res = h.ingest_bytes(data)
    assert res.rejects == []
    [doc] = res.docs
    assert doc["text"].count("\ufffd") == 1
    assert res.counters["decode_replacements"] == 1
    assert res.counters["docs_with_replacements"] == 1


def test_invalid_utf8_many_bytes_quarantined(h, wet_parts):
    bad = bytes(b if i % 20 else 0xFF for i, b in enumerate(wet_parts.conv_block))  # 5% invalid
    good = wet_parts.conv("https://e.org/good")
    data = h.gz(wet_parts.info_raw, wet_parts.conv("https://e.org/bad", bad), good)
    res = h.ingest_bytes(data)
    assert res.reasons == ["invalid_utf8"]
    assert res.rejects[0]["record_offset"] is not None
    assert res.rejects[0]["record_id"] == wet_parts.conv_headers["WARC-Record-ID"]
    assert [d["url"] for d in res.docs] == ["https://e.org/good"]


def test_empty_wet_record_is_empty_extraction(h, wet_parts):
    data = h.gz(
        wet_parts.conv("https://e.org/empty", b"   \n"), wet_parts.conv("https://e.org/full")
    )
    res = h.ingest_bytes(data)
    assert res.reasons == ["empty_extraction"]
    assert [d["url"] for d in res.docs] == ["https://e.org/full"]
    # min_text_chars=0 keeps it
    assert len(h.ingest_bytes(data, min_text_chars=0).docs) == 2


def test_fmt_filters_record_types(h):
    assert len(h.ingest_path(h.CC / "whirlwind.warc.wet.gz", fmt="warc").docs) == 0
    assert len(h.ingest_path(h.CC / "whirlwind.warc.gz", fmt="wet").docs) == 0
    assert len(h.ingest_path(h.CC / "whirlwind.warc.gz", fmt="warc").docs) == 1


def test_options_are_validated():
    with pytest.raises(ConfigError):
        IngestOptions(crawl="x", fmt="wat")
    with pytest.raises(ConfigError):
        IngestOptions(crawl="x", max_record_bytes=0)


def test_host_of_url_with_angle_brackets(h):
    res = h.ingest_path(h.EDGE / "example-wget-bad-target-uri.warc.gz")
    [doc] = res.docs
    assert doc["url"] == "http://example.com/" and doc["host"] == host_of(doc["url"])
