"""Bad input, nothing lost: every kind of damage yields a reject row with a stable reason, and the
good records of the same file still arrive. All damaged inputs are generated here from the real
whirlwind WET file (tests/fixtures/cc/whirlwind.warc.wet.gz)."""

from __future__ import annotations

import gzip
import io

import pytest

from lmdata.errors import RecordError

U1, U2, U3 = "https://e.org/1", "https://e.org/2", "https://e.org/3"


@pytest.fixture
def three(wet_parts):
    """Uncompressed records: warcinfo + three conversions (the middle one is the victim)."""
    wp = wet_parts
    return [wp.info_raw, wp.conv(U1), wp.conv(U2), wp.conv(U3)]


def _urls(res):
    return [d["url"] for d in res.docs]


# --- gzip damage -------------------------------------------------------------------------


def test_fastwarc_alone_would_not_notice_a_truncated_member(h, wet_parts):
    """Why we inflate ourselves: FastWARC 2.0 returns the cut record short, without an error."""
    from fastwarc.warc import ArchiveIterator

    data = wet_parts.data
    start, length, _ = wet_parts.members[1]
    cut = data[: start + length // 2]
    recs = [(r.content_length, len(r.reader.read())) for r in ArchiveIterator(io.BytesIO(cut))]
    assert recs[-1][1] < recs[-1][0]  # short payload, no exception


def test_truncated_gzip_in_the_middle_of_the_2nd_member(h, wet_parts):
    start, length, _ = wet_parts.members[1]
    res = h.ingest_bytes(wet_parts.data[: start + length // 2])
    assert res.docs == []
    assert res.reasons == ["truncated_gzip"]
    rej = res.rejects[0]
    assert rej["record_offset"] == start == 466
    assert rej["record_id"] == wet_parts.conv_headers["WARC-Record-ID"]  # header was readable
    assert res.counters["rejected:truncated_gzip"] == 1


def test_truncated_gzip_keeps_the_records_before_it(h, three):
    data = h.gz(*three)
    members = h.gzip_members(data)
    start, length, _ = members[3]
    res = h.ingest_bytes(data[: start + length // 2])
    assert _urls(res) == [U1, U2]
    assert res.reasons == ["truncated_gzip"]
    assert res.rejects[0]["record_offset"] == start


def test_truncated_gzip_trailer_is_reported_but_the_complete_record_is_kept(h, wet_parts):
    res = h.ingest_bytes(wet_parts.data[:-5])  # inside the CRC32/ISIZE trailer
    assert len(res.docs) == 1
    assert res.reasons == ["truncated_gzip"]
    assert res.rejects[0]["record_offset"] == wet_parts.members[1][0]


def test_corrupt_gzip_member_is_skipped_and_reading_resumes(h, three):
    data = bytearray(h.gz(*three))
    members = h.gzip_members(bytes(data))
    start, length, _ = members[2]
    for i in range(start + 20, start + 60):  # scribble over the deflate data of U2's member
        data[i] ^= 0x5A
    res = h.ingest_bytes(bytes(data))
    assert _urls(res) == [U1, U3]
    assert res.reasons == ["corrupt_gzip"]
    assert res.rejects[0]["record_offset"] == start


def test_non_gzip_bytes_between_and_after_members(h, three):
    a, b = h.gz(*three[:2]), h.gz(*three[2:])
    res = h.ingest_bytes(a + b"\x00garbage between members\n" + b + b"trailing junk")
    assert _urls(res) == [U1, U2, U3]
    assert res.reasons == ["trailing_garbage", "trailing_garbage"]
    assert res.rejects[0]["record_offset"] == len(a)
    assert res.rejects[1]["record_offset"] == len(a) + 25 + len(b)


# --- not a WARC / empty --------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"<html><body>not a warc</body></html>\n" * 5,
        gzip.compress(b"just some gzipped text\n" * 5, mtime=0),
        bytes(range(256)) * 4,
        b"WARC/1.0\r\nno header end",
    ],
    ids=["text", "gzipped-text", "binary", "unterminated-header"],
)
def test_garbage_is_not_warc(h, data):
    res = h.ingest_bytes(data)
    assert res.docs == [] and res.reasons == ["not_warc"]
    assert res.rejects[0]["record_offset"] is None  # whole file


@pytest.mark.parametrize(
    "data", [b"", gzip.compress(b"", mtime=0), b"\r\n\r\n"], ids=["0-bytes", "empty-gzip", "blank"]
)
def test_empty_file(h, data):
    res = h.ingest_bytes(data)
    assert res.docs == [] and res.reasons == ["empty_file"]
    assert res.rejects[0]["record_offset"] is None


def test_zstd_is_unsupported(h):
    res = h.ingest_bytes(b"\x28\xb5\x2f\xfd" + bytes(40))
    assert res.reasons == ["unsupported_format"]


# --- framing damage ------------------------------------------------------------------------


@pytest.mark.parametrize("delta", [+100, -100, +1, -1], ids=["long", "short", "long1", "short1"])
@pytest.mark.parametrize("compressed", [True, False], ids=["gz", "plain"])
def test_wrong_content_length_is_reported_and_salvaged(h, wet_parts, three, delta, compressed):
    n = len(wet_parts.conv_block)
    records = list(three)
    records[2] = wet_parts.conv(U2, content_length=n + delta)
    data = h.gz(*records) if compressed else b"".join(records)
    res = h.ingest_bytes(data)
    assert _urls(res) == [U1, U2, U3]
    assert res.reasons == ["bad_content_length"]
    assert str(n + delta) in res.rejects[0]["error"]
    texts = {d["url"]: d["text"] for d in res.docs}
    assert texts[U2] == texts[U1] == wet_parts.conv_block.decode()  # re-framed exactly
    assert res.counters["salvaged_records"] == 1
    expected_offset = h.gzip_members(data)[2][0] if compressed else len(b"".join(records[:2]))
    assert res.rejects[0]["record_offset"] == expected_offset


@pytest.mark.parametrize("compressed", [True, False], ids=["gz", "plain"])
def test_content_length_far_beyond_the_file(h, wet_parts, three, compressed):
    """A corrupt huge length (> max_record_bytes) must not swallow the rest of the file."""
    records = list(three)
    records[2] = wet_parts.conv(U2, content_length=99_999_999)
    data = h.gz(*records) if compressed else b"".join(records)
    res = h.ingest_bytes(data, max_record_bytes=1_000_000)
    assert _urls(res) == [U1, U3]
    assert res.reasons == ["bad_content_length"]
    assert "dropped" in res.rejects[0]["error"]


def test_content_length_past_the_end_but_below_the_limit(h, wet_parts, three):
    records = list(three)
    records[2] = wet_parts.conv(U2, content_length=500_000)
    res = h.ingest_bytes(b"".join(records))
    assert _urls(res) == [U1, U2, U3]
    assert res.reasons == ["bad_content_length"]


def test_non_numeric_content_length(h, wet_parts, three):
    records = list(three)
    records[2] = records[2].replace(b"Content-Length: ", b"Content-Length: x", 1)
    res = h.ingest_bytes(h.gz(*records))
    assert _urls(res) == [U1, U3]
    assert res.reasons == ["bad_record_header"]


def test_garbage_between_records_is_reported(h, three):
    data = b"".join(three[:2]) + b"this line is not a record\r\n" + b"".join(three[2:])
    res = h.ingest_bytes(data)
    assert _urls(res) == [U1, U2, U3]
    assert res.reasons == ["bad_record_header"]
    assert res.rejects[0]["record_offset"] == len(b"".join(three[:2]))


def test_truncated_uncompressed_file(h, three):
    data = b"".join(three)
    res = h.ingest_bytes(data[: len(data) - 1000])
    assert _urls(res) == [U1, U2]
    assert res.reasons == ["truncated_record"]
    assert res.rejects[0]["record_offset"] == len(b"".join(three[:3]))


def test_warcio_truncated_example(h):
    """warcio's example-trunc.warc: the response's Content-Length is 2 bytes short."""
    res = h.ingest_path(h.EDGE / "example-trunc.warc")
    assert res.reasons == ["bad_content_length"]
    [doc] = res.docs
    assert doc["text"].startswith("Example Domain")
    assert res.counters["skipped_other_type"] == 3  # 2 warcinfo + the request after it


# --- size limits ---------------------------------------------------------------------------


@pytest.mark.parametrize("compressed", [True, False], ids=["gz", "plain"])
def test_oversized_record_is_quarantined_and_skipped(h, wet_parts, compressed):
    small = b"kurz\n"
    recs = [
        wet_parts.conv(U1, small),
        wet_parts.conv(U2),  # 4456 bytes
        wet_parts.conv(U3, small),
    ]
    data = h.gz(*recs) if compressed else b"".join(recs)
    res = h.ingest_bytes(data, max_record_bytes=1000)
    assert _urls(res) == [U1, U3]
    assert res.reasons == ["oversized_record"]
    assert res.rejects[0]["record_id"] == wet_parts.conv_headers["WARC-Record-ID"]


def test_oversized_decoded_http_body(h):
    body = b"<html><body><p>" + b"x" * 5000 + b"</p></body></html>"
    gz_body = gzip.compress(body, mtime=0)
    http = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n\r\n" % len(gz_body)
    ) + gz_body
    rec = h.warc_record(
        {"WARC-Type": "response", "WARC-Target-URI": U1, "Content-Type": "application/http"},
        http,
    )
    res = h.ingest_bytes(h.gz(rec), max_record_bytes=2000)
    assert res.reasons == ["oversized_record"]
    assert "decoded" in res.rejects[0]["error"]


# --- broken HTTP inside a good WARC record ---------------------------------------------------


def test_response_without_http_headers_is_bad_http(h):
    rec = h.warc_record(
        {"WARC-Type": "response", "WARC-Target-URI": U1, "Content-Type": "application/http"},
        b"this is not an HTTP response",
    )
    res = h.ingest_bytes(h.gz(rec, h.response_record(U2, b"<p>fine text</p>")))
    assert res.reasons == ["bad_http"] and _urls(res) == [U2]


def test_lying_transfer_encoding_falls_back_to_the_raw_body(h):
    body = b"<html><body><p>not really chunked</p></body></html>"
    http = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    )
    rec = h.warc_record(
        {"WARC-Type": "response", "WARC-Target-URI": U1, "Content-Type": "application/http"},
        http,
    )
    res = h.ingest_bytes(h.gz(rec))
    [doc] = res.docs
    assert doc["text"] == "not really chunked"
    assert res.counters["http_decode_fallback"] == 1


# --- read errors in the middle of a stream ----------------------------------------------------


class _FailingStream(io.RawIOBase):
    def __init__(self, data: bytes, fail_at: int, exc: Exception) -> None:
        self._data, self._pos, self._fail_at, self._exc = data, 0, fail_at, exc

    def readable(self):
        return True

    def read(self, n=-1):
        if self._pos >= self._fail_at:
            raise self._exc
        n = min(n if n >= 0 else len(self._data), self._fail_at - self._pos, 700)
        out = self._data[self._pos : self._pos + n]
        self._pos += len(out)
        return out


@pytest.mark.parametrize(
    "exc",
    [OSError("connection reset"), RecordError("fetch_failed", "gave up after 4 attempts")],
    ids=["oserror", "recorderror"],
)
def test_read_failure_mid_file(h, three, exc):
    from lmdata.ingest.records import IngestCounters, IngestOptions, iter_file

    data = h.gz(*three)
    members = h.gzip_members(data)
    fail_at = members[3][0] + 10
    c = IngestCounters()
    rows = list(
        iter_file(
            "s3://b/k", _FailingStream(data, fail_at, exc), IngestOptions(crawl="c"), counters=c
        )
    )
    docs = [r["url"] for k, r in rows if k == "doc"]
    rejects = [r for k, r in rows if k == "reject"]
    assert docs == [U1, U2]
    assert [r["reason"] for r in rejects] == ["fetch_failed"]
    assert rejects[0]["record_offset"] == members[3][0]


# --- stream shapes (not damage, but they exercise the same buffering) -------------------------


class _Trickle(io.RawIOBase):
    """Returns at most `step` bytes per read, like a slow network stream."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._pos, self._step = data, 0, step

    def readable(self):
        return True

    def read(self, n=-1):
        out = self._data[self._pos : self._pos + min(self._step, n if n >= 0 else self._step)]
        self._pos += len(out)
        return out


@pytest.mark.parametrize("step", [1, 7, 4096])
def test_tiny_reads_give_the_same_rows(h, wet_parts, three, step):
    from lmdata.ingest.records import IngestOptions, iter_file

    records = list(three)
    records[2] = wet_parts.conv(U2, content_length=len(wet_parts.conv_block) + 50)
    for data in (h.gz(*records), b"".join(records)):
        expected = h.ingest_bytes(data).rows
        got = list(
            iter_file("mem://test.warc.gz", _Trickle(data, step), IngestOptions(crawl=h.CRAWL))
        )
        assert got == expected
        assert [r["url"] for k, r in got if k == "doc"] == [U1, U2, U3]


def test_one_gzip_member_for_the_whole_file(h, three):
    res = h.ingest_bytes(gzip.compress(b"".join(three), mtime=0))
    assert _urls(res) == [U1, U2, U3]
    assert {d["record_offset"] for d in res.docs} == {0}  # the member holding each record


def test_large_highly_compressible_records(h, wet_parts):
    big = ("Lorem ipsum dolor sit amet. " * 150_000).encode()  # 4.2 MB, ~1000:1 in gzip
    data = h.gz(wet_parts.conv(U1, big), wet_parts.conv(U2), wet_parts.conv(U3, big))
    res = h.ingest_bytes(data)
    assert _urls(res) == [U1, U2, U3] and res.rejects == []
    assert res.docs[0]["text"] == res.docs[2]["text"] == big.decode()
    assert res.docs[2]["record_offset"] == h.gzip_members(data)[2][0]


# --- our own bugs must cost one record / one file, never the job -----------------------------


def test_unexpected_extraction_error_is_one_reject(h, monkeypatch):
    import lmdata.ingest.records as records

    def boom(body, charset):
        raise RuntimeError("extractor bug")

    monkeypatch.setattr(records, "extract_html", boom)
    res = h.ingest_path(h.CC / "warcfile.warc.gz")
    assert res.reasons == ["extract_failed"] * 16
    assert "RuntimeError: extractor bug" in res.rejects[0]["error"]
    assert res.counters.rejected == {"extract_failed": 16}
    assert res.counters.rejected_total == 16


def test_unexpected_framing_error_is_one_file_reject(h, three, monkeypatch):
    import lmdata.ingest.records as records

    real = records.iter_frames

    def flaky(*a, **kw):
        for i, item in enumerate(real(*a, **kw)):
            if i == 2:
                raise ValueError("framer bug")
            yield item

    monkeypatch.setattr(records, "iter_frames", flaky)
    res = h.ingest_bytes(h.gz(*three))
    assert _urls(res) == [U1]
    assert res.reasons == ["internal_error"]
    assert "framer bug" in res.rejects[0]["error"]
