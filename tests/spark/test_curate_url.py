"""url_v1 in curate: a small crawl of real WET text with planted block-listed URLs; exactly the
planted documents are dropped, every document gets domain + host, re-decide keeps the entries."""

import gzip
import uuid
from pathlib import Path

import pytest
from fastwarc.warc import ArchiveIterator, WarcRecordType

from lmdata.lake import delta
from support import run_stage as _run

ROOT = Path(__file__).resolve().parents[2]
CC = ROOT / "tests" / "fixtures" / "cc"
LISTS = ROOT / "tests" / "fixtures" / "url"
pytestmark = pytest.mark.spark

# planted URL -> the drop reason it must get (None: a near miss, kept)
PLANTED = {
    "https://www.blocked-example.com/news/1": "url_v1:domain_blocklist:blocked-example.com",
    "http://xn--bcher-kva.de/kaufen": "url_v1:domain_blocklist:bücher.de",
    "https://news.example.org/2024/bad-page.html?id=7": (
        "url_v1:url_blocklist:news.example.org/2024/bad-page.html"
    ),
    "https://zh.example.com/%E6%88%90%E4%BA%BA%E5%86%85%E5%AE%B9/1": (
        "url_v1:banned_subwords:成人内容"
    ),
    "https://notblocked-example.com/a": None,
    "https://blocked-example.com.evil.org/b": None,
    "https://example.org/news.example.org/2024/bad-page.html": None,
    "https://an.wikipedia.org/wiki/Escopete": None,  # the record's own URL
}


def _wet_record(url: str, text: str) -> bytes:
    body = text.encode()
    head = (
        "WARC/1.0\r\nWARC-Type: conversion\r\n"
        f"WARC-Target-URI: {url}\r\nWARC-Date: 2024-05-18T01:58:10Z\r\n"
        f"WARC-Record-ID: <urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, url)}>\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return gzip.compress(head.encode() + body + b"\r\n\r\n")


def _crawl(tmp_path: Path) -> Path:
    """cc_net's 3 real WET records as they are, plus the whirlwind record's text cut into
    disjoint line sets (no line in two documents: line dedup steps cannot interfere), one per
    planted URL."""
    root = tmp_path / "bucket"
    seg = root / "crawl-data" / "CC-MAIN-2024-22" / "segments" / "1" / "wet"
    seg.mkdir(parents=True)
    (seg / "a.warc.wet.gz").write_bytes(gzip.compress((CC / "sample.warc.txt").read_bytes()))
    with open(CC / "whirlwind.warc.wet.gz", "rb") as f:
        rec = next(iter(ArchiveIterator(f, record_types=WarcRecordType.conversion)))
        text = rec.reader.read().decode()
    lines = list(dict.fromkeys(ln for ln in text.splitlines() if ln.strip()))
    n = len(PLANTED)
    planted = b"".join(_wet_record(url, "\n".join(lines[i::n])) for i, url in enumerate(PLANTED))
    (seg / "b.warc.wet.gz").write_bytes(planted)
    (root / "crawl-data" / "CC-MAIN-2024-22" / "wet.paths.gz").write_bytes(
        gzip.compress(
            b"crawl-data/CC-MAIN-2024-22/segments/1/wet/a.warc.wet.gz\n"
            b"crawl-data/CC-MAIN-2024-22/segments/1/wet/b.warc.wet.gz"
        )
    )
    return root


def test_url_filter_drops_exactly_the_planted_urls(spark, tmp_path):
    lake = tmp_path / "lake"
    src = _crawl(tmp_path)
    _run("ingest-cc", lake, "--source", str(src), "--crawl", "CC-MAIN-2024-22", "--format", "wet")
    lists = (
        f"domain_lists: ['{LISTS / 'domains'}'], url_lists: ['{LISTS / 'urls'}'], "
        f"banned_subword_lists: ['{LISTS / 'banned_subwords'}']"
    )
    pipeline = f"curate.web.pipeline={{url_v1: {{{lists}}}}}"
    # the text steps are tested elsewhere; off here, so only url_v1 decides
    steps = ("repeated_lines", "decontam", "paragraph_dedup", "substring_dedup")
    fast = [a for step in steps for a in ("--set", f"curate.web.{step}=null")]
    s = _run("curate", lake, "--run-id", "c1", "--set", pipeline, *fast)
    attrs = delta.read_arrow(delta.table_uri(str(lake), "silver/web_attributes")).to_pylist()
    got = {a["url"]: a["drop_reason"] for a in attrs}
    real = {
        "http://sample_english.com": None,
        "http://sample_chinese.zh": None,
        "http://sample_russian.ru": None,
    }
    assert got == {**PLANTED, **real}
    by_url = {a["url"]: a for a in attrs}
    assert all(a["domain"] and a["host"] and a["url_v1__has_url"] == 1.0 for a in attrs)
    assert by_url["https://www.blocked-example.com/news/1"]["domain"] == "blocked-example.com"
    assert by_url["http://xn--bcher-kva.de/kaufen"]["host"] == "bücher.de"
    assert by_url["https://an.wikipedia.org/wiki/Escopete"]["domain"] == "wikipedia.org"
    # stats: reasons by list (entries stay in the table), top domains kept / dropped
    assert s.dropped == {
        "url_v1:domain_blocklist": 2,
        "url_v1:url_blocklist": 1,
        "url_v1:banned_subwords": 1,
    }
    top_dropped = dict(s.counters["url_domains_top_dropped"])
    assert top_dropped == {
        "blocked-example.com": 1,
        "bücher.de": 1,
        "example.org": 1,
        "example.com": 1,
    }
    assert s.counters["url_domains"] == len({a["domain"] for a in attrs})
    # re-decide without the domain rule: those two kept, the others keep their named entries
    _run(
        "curate",
        lake,
        "--run-id",
        "c2",
        "--redecide",
        "--set",
        pipeline,
        "--set",
        "curate.web.pipeline.url_v1.block_domains=false",
        *fast,
    )
    attrs = delta.read_arrow(delta.table_uri(str(lake), "silver/web_attributes")).to_pylist()
    want = {u: (None if r and "domain_blocklist" in r else r) for u, r in got.items()}
    assert {a["url"]: a["drop_reason"] for a in attrs} == want
