"""The stages on real fixtures through the job skeleton (same path as the CLI and spark-submit)."""

import gzip
import shutil
from pathlib import Path

import pytest

from lmdata.lake import delta
from support import run_stage as _run

ROOT = Path(__file__).resolve().parents[2]
CC = ROOT / "tests" / "fixtures" / "cc"
pytestmark = pytest.mark.spark


def _bucket(tmp_path: Path) -> Path:
    """A local dir laid out like s3://commoncrawl with two WET files, one of them truncated."""
    root = tmp_path / "bucket"
    seg = root / "crawl-data" / "CC-MAIN-2024-22" / "segments" / "1" / "wet"
    seg.mkdir(parents=True)
    shutil.copy(CC / "whirlwind.warc.wet.gz", seg / "a.warc.wet.gz")
    data = (CC / "whirlwind.warc.wet.gz").read_bytes()
    (seg / "b-truncated.warc.wet.gz").write_bytes(data[: len(data) - 700])
    listing = "\n".join(
        f"crawl-data/CC-MAIN-2024-22/segments/1/wet/{n}"
        for n in ("a.warc.wet.gz", "b-truncated.warc.wet.gz")
    )
    (root / "crawl-data" / "CC-MAIN-2024-22" / "wet.paths.gz").write_bytes(
        gzip.compress(listing.encode())
    )
    return root


def _bronze_rows(lake):
    t = delta.read_arrow(delta.table_uri(str(lake), delta.BRONZE_WEB))
    return sorted((r["doc_id"], r["url"], r["text"]) for r in t.to_pylist())


def test_ingest_quarantines_bad_file_and_reruns_are_idempotent(spark, tmp_path):
    lake = tmp_path / "lake"
    src = _bucket(tmp_path)
    args = ["--crawl", "CC-MAIN-2024-22", "--source", str(src), "--format", "wet"]
    s1 = _run("ingest-cc", lake, *args, "--run-id", "r1")
    rows1 = _bronze_rows(lake)
    # the good file's document arrives; the truncated copy is reported, not silently short
    assert s1.rows_out == len(rows1) >= 1
    assert any(u == "https://an.wikipedia.org/wiki/Escopete" for _, u, _ in rows1)
    q = delta.read_arrow(delta.table_uri(str(lake), delta.QUARANTINE)).to_pylist()
    assert any(
        r["input_uri"].endswith("b-truncated.warc.wet.gz") and r["reason"] == "truncated_gzip"
        for r in q
    ), q
    assert s1.quarantined["truncated_gzip"] >= 1
    # an Airflow retry of the same run: nothing is added
    s2 = _run("ingest-cc", lake, *args, "--run-id", "r1")
    assert s2.status == "skipped" and _bronze_rows(lake) == rows1
    # a backfill / re-run of the same slice with a new run id replaces its partition: same rows
    bronze = delta.table_uri(str(lake), delta.BRONZE_WEB)
    v_before = delta.current_version(bronze)
    _run("ingest-cc", lake, *args, "--run-id", "r2")
    assert delta.current_version(bronze) == v_before + 1
    assert _bronze_rows(lake) == rows1
    q2 = delta.read_arrow(delta.table_uri(str(lake), delta.QUARANTINE)).to_pylist()
    assert len(q2) == len(q)


def test_dedup_exact_keeps_one_per_text_and_url_deterministically(spark, tmp_path):
    from lmdata.document import WEB_DOCUMENT_SCHEMA
    from lmdata.spark.io import spark_schema, write_delta

    lake = tmp_path / "lake"
    names = WEB_DOCUMENT_SCHEMA.names

    def doc(doc_id, crawl, url, text):
        r = dict.fromkeys(names)
        r.update(doc_id=doc_id, source="cc-wet", crawl=crawl, url=url, text=text, slice="0-of-1")
        return tuple(r[n] for n in names)

    rows = [
        doc("b", "CC-MAIN-2024-22", "http://x.org/1", "Hello  World"),
        doc(
            "a", "CC-MAIN-2024-22", "http://x.org/2", "hello world"
        ),  # same normalized text, smaller id
        doc("c", "CC-MAIN-2020-34", "http://y.org/1", "HELLO WORLD\n"),  # earliest crawl wins
        doc("d", "CC-MAIN-2024-22", "https://www.z.org/p/", "page one"),
        doc("e", "CC-MAIN-2024-22", "http://z.org/p", "page one, edited"),  # same URL as d
        doc("f", "CC-MAIN-2024-22", "http://u.org/", "unique"),
    ]
    df = spark.createDataFrame(rows, spark_schema(WEB_DOCUMENT_SCHEMA))
    write_delta(
        df.repartition(3),
        delta.table_uri(str(lake), "silver/web_documents"),
        partition_by=["crawl"],
    )
    s = _run("dedup", lake, "--run-id", "d1")
    gold = delta.table_uri(str(lake), delta.GOLD_WEB)
    kept = sorted(delta.read_arrow(gold)["doc_id"].to_pylist())
    assert kept == ["c", "d", "f"]
    assert s.rows_in == 6 and s.rows_out == 3
    assert s.dropped == {"exact_duplicate": 2, "url_duplicate": 1}
    # a rebuild with more shuffle partitions gives the identical table
    _run("dedup", lake, "--run-id", "d2", "--rebuild", "--set", "spark.shuffle_partitions=7")
    assert sorted(delta.read_arrow(gold)["doc_id"].to_pylist()) == kept
