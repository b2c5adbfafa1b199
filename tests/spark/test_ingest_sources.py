"""The ingest stage reads the same crawl identically from S3 (moto server on 127.0.0.1, real
boto3 path), over HTTP (a local server) and from a local directory laid out like the bucket."""

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from lmdata.lake import delta
from lmdata.spark.job import execute
from lmdata.spark.stages import get_stage

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "commoncrawl"
pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def moto_bucket():
    from support import moto_commoncrawl_bucket

    with moto_commoncrawl_bucket(SAMPLES) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def http_root():
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(SAMPLES))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _ingest(lake, source, crawl, fmt, *extra):
    code, stats = execute(
        get_stage("ingest-cc"),
        [
            "--lake",
            str(lake),
            "--params",
            str(ROOT / "params.yaml"),
            "--run-id",
            "src-test",
            "--crawl",
            crawl,
            "--format",
            fmt,
            "--source",
            source,
            *extra,
        ],
    )
    assert code == 0, stats.error
    t = delta.read_arrow(delta.table_uri(str(lake), delta.BRONZE_WEB))
    cols = [c for c in t.column_names if c not in ("warc_file", "ingest_run_id")]
    return stats, sorted(tuple(r[c] for c in cols) for r in t.to_pylist())


@pytest.mark.parametrize(
    "crawl,fmt,ndocs", [("CC-MAIN-2024-22", "wet", 1), ("CC-MAIN-2020-34", "warc", 16)]
)
def test_same_rows_from_s3_http_and_local(
    spark, tmp_path, moto_bucket, http_root, crawl, fmt, ndocs
):
    local_src = tmp_path / "cc"
    shutil.copytree(SAMPLES, local_src)
    s_local, local = _ingest(tmp_path / "l1", str(local_src), crawl, fmt)
    s_s3, from_s3 = _ingest(
        tmp_path / "l2",
        "s3://commoncrawl",
        crawl,
        fmt,
        "--set",
        f"ingest_cc.s3.endpoint_url={moto_bucket}",
    )
    s_http, from_http = _ingest(tmp_path / "l3", http_root, crawl, fmt)
    assert len(local) == ndocs
    assert local == from_s3 == from_http
    assert s_local.bytes_in == s_s3.bytes_in == s_http.bytes_in > 0
    warc_files = delta.read_arrow(delta.table_uri(str(tmp_path / "l2"), delta.BRONZE_WEB))[
        "warc_file"
    ]
    assert all(u.startswith("s3://commoncrawl/crawl-data/") for u in warc_files.to_pylist())


def test_missing_file_in_listing_is_quarantined(spark, tmp_path, http_root):
    # a listing that names a file the server does not have: 404 -> quarantine row, job goes on
    import gzip

    src = tmp_path / "cc"
    shutil.copytree(SAMPLES, src)
    listing = src / "crawl-data" / "CC-MAIN-2024-22" / "wet.paths.gz"
    paths = gzip.decompress(listing.read_bytes()).decode().split()
    paths.append("crawl-data/CC-MAIN-2024-22/segments/1/wet/missing.warc.wet.gz")
    listing.write_bytes(gzip.compress("\n".join(paths).encode()))
    stats, rows = _ingest(tmp_path / "lake", str(src), "CC-MAIN-2024-22", "wet")
    assert len(rows) == 1
    q = delta.read_arrow(delta.table_uri(str(tmp_path / "lake"), delta.QUARANTINE)).to_pylist()
    assert [(r["reason"], r["input_uri"].endswith("missing.warc.wet.gz")) for r in q] == [
        ("not_found", True)
    ]
    assert stats.quarantined["not_found"] == 1
