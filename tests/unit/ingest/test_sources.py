"""Reading the same Common-Crawl-like tree from a local dir, a real moto S3 server and HTTP."""

from __future__ import annotations

import pytest

from lmdata.errors import RecordError
from lmdata.ingest.manifest import read_listing
from lmdata.ingest.records import IngestCounters, IngestOptions, ingest_uri
from lmdata.ingest.sources import SourceOptions, join_uri, open_input

FAST = {"retries": 2, "backoff_s": 0.001, "http_timeout_s": 5.0}


def _s3(endpoint: str, **kw) -> SourceOptions:
    return SourceOptions(
        s3_endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region="us-east-1",
        **FAST,
        **kw,
    )


def _ingest_root(root: str, src: SourceOptions, fmt: str, crawl: str):
    rows = []
    c = IngestCounters()
    for rel in read_listing(root, crawl, fmt, src):
        rows += list(ingest_uri(join_uri(root, rel), IngestOptions(crawl=crawl), src, counters=c))
    return rows, c


def _without_file(rows):
    return [
        (k, {f: v for f, v in r.items() if f not in ("warc_file", "input_uri")}) for k, r in rows
    ]


def test_same_rows_from_local_s3_unsigned_s3_and_http(h, cc_tree, moto_s3, http_cc):
    local, c_local = _ingest_root(str(cc_tree), SourceOptions(**FAST), "wet", h.CRAWL)
    s3, c_s3 = _ingest_root("s3://commoncrawl/", _s3(moto_s3), "wet", h.CRAWL)
    s3u, _ = _ingest_root("s3://commoncrawl/", _s3(moto_s3, s3_unsigned=True), "wet", h.CRAWL)
    web, _ = _ingest_root(http_cc.base + "/", SourceOptions(**FAST), "wet", h.CRAWL)
    assert [k for k, _ in local] == ["doc"] * 4  # whirlwind + the generated 3-record file
    assert _without_file(local) == _without_file(s3) == _without_file(s3u) == _without_file(web)
    assert local[0][1]["warc_file"] == str(cc_tree / h.WET_REL)
    assert s3[0][1]["warc_file"] == f"s3://commoncrawl/{h.WET_REL}"
    assert web[0][1]["warc_file"] == f"{http_cc.base}/{h.WET_REL}"
    assert c_local["bytes_read"] == c_s3["bytes_read"] > 0
    assert c_local["docs"] == c_s3["docs"] == 4 and c_s3["files"] == 2


def test_warc_listing_over_s3(h, moto_s3):
    rows, c = _ingest_root("s3://commoncrawl", _s3(moto_s3), "warc", h.CRAWL)
    [(kind, doc)] = rows
    assert kind == "doc" and doc["source"] == "cc-warc" and doc["html_lang"] == "an"


def test_s3_missing_key_is_one_not_found_reject(h, moto_s3):
    c = IngestCounters()
    uri = "s3://commoncrawl/crawl-data/nope.warc.gz"
    rows = list(ingest_uri(uri, IngestOptions(crawl=h.CRAWL), _s3(moto_s3), counters=c))
    assert len(rows) == 1
    kind, rej = rows[0]
    assert kind == "reject" and rej["reason"] == "not_found" and rej["record_offset"] is None
    assert rej["input_uri"] == uri and rej["stage"] == "ingest-cc"
    assert c["fetch_retries"] == 0  # 404 is not retried
    # a missing bucket, too
    with pytest.raises(RecordError) as e:
        open_input("s3://no-such-bucket/x", _s3(moto_s3))
    assert e.value.reason == "not_found"


def test_s3_unreachable_endpoint_is_retried_then_fetch_failed(h):
    c = IngestCounters()
    src = _s3("http://127.0.0.1:9")  # discard port: connection refused
    rows = list(ingest_uri("s3://b/k.warc.gz", IngestOptions(crawl=h.CRAWL), src, counters=c))
    assert [r["reason"] for _, r in rows] == ["fetch_failed"]
    assert c["fetch_retries"] == 2


def test_http_404_is_not_found_without_retries(h, http_cc):
    c = IngestCounters()
    uri = f"{http_cc.base}/crawl-data/missing.warc.wet.gz"
    rows = list(ingest_uri(uri, IngestOptions(crawl=h.CRAWL), SourceOptions(**FAST), counters=c))
    assert [r["reason"] for _, r in rows] == ["not_found"]
    assert http_cc.hits["/crawl-data/missing.warc.wet.gz"] == 1
    assert c["fetch_retries"] == 0


def test_http_503_is_retried_then_fetch_failed(h, http_cc):
    c = IngestCounters()
    path = "/always-503/x.warc.wet.gz"
    src = SourceOptions(**{**FAST, "retries": 3})
    rows = list(ingest_uri(http_cc.base + path, IngestOptions(crawl=h.CRAWL), src, counters=c))
    [(kind, rej)] = rows
    assert kind == "reject" and rej["reason"] == "fetch_failed" and rej["record_offset"] is None
    assert "503" in rej["error"]
    assert http_cc.hits[path] == 4  # 1 attempt + 3 retries
    assert c["fetch_retries"] == 3 and c["rejected:fetch_failed"] == 1


def test_http_connection_dropped_mid_body_is_resumed_with_range(h, http_cc, cc_tree):
    """The first response stops after half of the file; the reader re-opens at that byte."""
    path = "/flaky/" + h.WET2_REL
    c = IngestCounters()
    rows = list(
        ingest_uri(
            http_cc.base + path, IngestOptions(crawl=h.CRAWL), SourceOptions(**FAST), counters=c
        )
    )
    local = list(
        ingest_uri(str(cc_tree / h.WET2_REL), IngestOptions(crawl=h.CRAWL), SourceOptions())
    )
    assert _without_file(rows) == _without_file(local)
    assert [k for k, _ in rows] == ["doc"] * 3
    assert http_cc.hits[path] == 2 and c["fetch_retries"] == 1
    assert c["bytes_read"] == (cc_tree / h.WET2_REL).stat().st_size


def test_local_paths_and_file_uris(h, tmp_path):
    src = SourceOptions()
    with open_input(f"file://{h.CC / 'whirlwind.warc.wet.gz'}", src) as f:
        assert f.read(2) == b"\x1f\x8b"
    with pytest.raises(RecordError) as e:
        open_input(str(tmp_path / "missing.warc.gz"), src)
    assert e.value.reason == "not_found"
    rows = list(ingest_uri(str(tmp_path / "missing.warc.gz"), IngestOptions(crawl="c"), src))
    assert [(k, r["reason"], r["record_offset"]) for k, r in rows] == [
        ("reject", "not_found", None)
    ]


def test_join_uri():
    rel = "crawl-data/CC-MAIN-2024-22/segments/1/wet/x.warc.wet.gz"
    assert join_uri("s3://commoncrawl/", rel) == f"s3://commoncrawl/{rel}"
    assert join_uri("s3://commoncrawl", rel) == f"s3://commoncrawl/{rel}"
    assert join_uri("https://data.commoncrawl.org/", "/" + rel) == "/" + rel  # absolute path kept
    assert join_uri("/data/cc/", rel) == f"/data/cc/{rel}"
    assert join_uri("s3://a/", "s3://b/c") == "s3://b/c"
