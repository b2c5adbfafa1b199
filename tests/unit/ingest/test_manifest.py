"""Crawl listings and deterministic slices."""

from __future__ import annotations

import gzip
from datetime import date, timedelta

import pytest

from lmdata.errors import ConfigError
from lmdata.ingest.manifest import (
    listing_uri,
    parse_slice,
    read_listing,
    select_slice,
    slice_for_date,
)
from lmdata.ingest.sources import SourceOptions

PATHS = [
    f"crawl-data/CC-MAIN-2024-22/segments/17159710{i:05d}.{i % 97}/wet/file-{i:05d}.warc.wet.gz"
    for i in range(500)
]


def test_listing_uri():
    assert (
        listing_uri("s3://commoncrawl/", "CC-MAIN-2024-22", "wet")
        == "s3://commoncrawl/crawl-data/CC-MAIN-2024-22/wet.paths.gz"
    )
    assert (
        listing_uri("https://data.commoncrawl.org", "CC-MAIN-2024-22", "warc")
        == "https://data.commoncrawl.org/crawl-data/CC-MAIN-2024-22/warc.paths.gz"
    )
    with pytest.raises(ConfigError):
        listing_uri("s3://commoncrawl/", "CC-MAIN-2024-22", "wat")


@pytest.mark.parametrize("s,expected", [("3/10", (3, 10)), ("0/1", (0, 1)), (" 7 / 8 ", (7, 8))])
def test_parse_slice(s, expected):
    assert parse_slice(s) == expected


@pytest.mark.parametrize("s", ["10/10", "-1/4", "1/0", "3", "a/b", "1/2/3", ""])
def test_parse_slice_rejects(s):
    with pytest.raises(ValueError, match="slice"):
        parse_slice(s)


def test_slices_partition_the_listing():
    n = 7
    slices = [select_slice(PATHS, i, n) for i in range(n)]
    assert sorted(p for s in slices for p in s) == sorted(PATHS)  # covering
    assert sum(len(s) for s in slices) == len(PATHS)  # non-overlapping
    assert all(s == sorted(s) for s in slices)
    assert min(len(s) for s in slices) > 40  # roughly balanced (500/7 ~ 71)


def test_slices_are_stable_when_the_listing_grows():
    more = PATHS + [p.replace("file-", "extra-") for p in PATHS[:100]]
    for i in range(5):
        before, after = set(select_slice(PATHS, i, 5)), set(select_slice(more, i, 5))
        assert before <= after  # old files never move to another slice
    assert select_slice(list(reversed(PATHS)), 2, 5) == select_slice(PATHS, 2, 5)  # order-free


def test_select_slice_limit_and_validation():
    full = select_slice(PATHS, 1, 3)
    assert select_slice(PATHS, 1, 3, limit=5) == full[:5]
    assert select_slice(PATHS, 0, 1) == sorted(PATHS)
    with pytest.raises(ValueError):
        select_slice(PATHS, 3, 3)


def test_slice_for_date():
    start = date(2024, 6, 1)
    assert slice_for_date(start, start, 8) == 0
    assert slice_for_date(date(2024, 6, 4), start, 8) == 3
    assert slice_for_date(date(2024, 6, 9), start, 8) == 0
    assert slice_for_date(date(2024, 5, 31), start, 8) == 7  # before start wraps around
    days = [slice_for_date(start + timedelta(days=d), start, 8) for d in range(8)]
    assert sorted(days) == list(range(8))
    with pytest.raises(ValueError):
        slice_for_date(start, start, 0)


def test_read_listing_local_paths_file_and_directory_walk(h, cc_tree, tmp_path):
    assert read_listing(str(cc_tree), h.CRAWL, "wet") == [h.WET_REL, h.WET2_REL]
    assert read_listing(f"file://{cc_tree}", h.CRAWL, "warc") == [h.WARC_REL]
    # without paths files: walk the directory (WET/WAT files are not WARC files)
    root = tmp_path / "root"
    for rel in (h.WET_REL, h.WARC_REL, h.WARC_REL.replace(".warc.gz", ".warc.wat.gz")):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    assert read_listing(str(root), h.CRAWL, "wet") == [h.WET_REL]
    assert read_listing(str(root), h.CRAWL, "warc") == [h.WARC_REL]
    with pytest.raises(ConfigError, match="CC-MAIN-1999-01"):
        read_listing(str(root), "CC-MAIN-1999-01", "wet")


def test_read_listing_s3_and_http(h, moto_s3, http_cc):
    src = SourceOptions(
        s3_endpoint_url=moto_s3,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        retries=0,
    )
    assert read_listing("s3://commoncrawl/", h.CRAWL, "wet", src) == [h.WET_REL, h.WET2_REL]
    assert read_listing(http_cc.base, h.CRAWL, "warc", SourceOptions()) == [h.WARC_REL]
    with pytest.raises(ConfigError, match="not_found|NoSuchKey|404"):
        read_listing("s3://commoncrawl/", "CC-MAIN-1999-01", "wet", src)


def test_read_listing_rejects_a_non_gzip_listing(tmp_path):
    d = tmp_path / "crawl-data" / "C"
    d.mkdir(parents=True)
    (d / "wet.paths.gz").write_bytes(b"plain text, not gzip\n")
    with pytest.raises(ConfigError, match="paths.gz"):
        read_listing(str(tmp_path), "C", "wet")
    (d / "wet.paths.gz").write_bytes(gzip.compress(b"a.warc.wet.gz\n\n b.warc.wet.gz \n"))
    assert read_listing(str(tmp_path), "C", "wet") == ["a.warc.wet.gz", "b.warc.wet.gz"]
