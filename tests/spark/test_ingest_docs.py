"""ingest-docs through the stage runner into a temp lake, then curate on its rows."""

import gzip
import shutil
from collections import Counter
from pathlib import Path

import pytest

from lmdata.lake import delta
from support import run_stage as _run

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "docs"
pytestmark = pytest.mark.spark
LOOSE = (
    "curate.web.pipeline={lid_cascade_v1: {min_score: 0.0}, gopher_quality_v2: "
    "{min_stop_word_count: 0, min_word_count: 1, min_mean_word_length: 1}}"
)


def test_ingest_docs_then_curate(spark, tmp_path):
    inp = tmp_path / "corpus"
    (inp / "sub").mkdir(parents=True)
    shutil.copy(FIX / "dolma_000_head.json.gz", inp / "dolma.json.gz")
    shutil.copy(FIX / "fineweb_layout.parquet", inp / "sub" / "fw.parquet")
    shutil.copy(FIX / "dolma_000_head.json.gz", inp / "sub" / "dolma-copy.json.gz")  # same ids
    shutil.copy(FIX / "broken.jsonl", inp / "broken.jsonl")
    data = gzip.compress((FIX / "dolma_cc_en_head_0091_head.jsonl").read_bytes(), mtime=0)
    (inp / "cut.json.gz").write_bytes(data[: len(data) * 2 // 3])
    lake = tmp_path / "lake"
    args = ["--input", str(inp), "--dataset", "unit-docs", "--preset", "dolma"]
    s = _run("ingest-docs", lake, *args, "--run-id", "d1")
    bronze = delta.read_arrow(delta.table_uri(str(lake), delta.BRONZE_WEB)).to_pylist()
    cut_docs = sum(r["warc_file"].endswith("cut.json.gz") for r in bronze)
    assert 0 < cut_docs < 3  # the good lines before the break arrived
    assert len(bronze) == 4 + 6 + 2 + cut_docs == s.rows_out
    assert {r["crawl"] for r in bronze} == {"unit-docs"} and {r["source"] for r in bronze} == {
        "docs"
    }
    assert len({r["doc_id"] for r in bronze}) == len(bronze)
    q = delta.read_arrow(delta.table_uri(str(lake), delta.QUARANTINE)).to_pylist()
    reasons = Counter(r["reason"] for r in q)
    assert reasons == {"bad_json": 2, "wrong_type": 2, "missing_text": 1, "empty_text": 1,
                       "truncated_gzip": 1}  # fmt: skip
    assert all(r["stage"] == "ingest-docs" and r["crawl"] == "unit-docs" for r in q)
    assert {r["record_offset"] for r in q if r["input_uri"].endswith("broken.jsonl")} == {
        2, 3, 4, 5, 6, 8
    }  # fmt: skip
    assert s.quarantined["truncated_gzip"] == 1 and s.counters["files_selected"] == 5
    assert s.counters["duplicate_doc_ids"] == 4  # the copied shard

    # a re-run (another run id) replaces the partition: no duplicates in bronze or quarantine
    _run("ingest-docs", lake, *args, "--run-id", "d2")
    again = delta.read_arrow(delta.table_uri(str(lake), delta.BRONZE_WEB)).to_pylist()
    assert sorted(r["doc_id"] for r in again) == sorted(r["doc_id"] for r in bronze)
    assert len(delta.read_arrow(delta.table_uri(str(lake), delta.QUARANTINE))) == len(q)

    c = _run("curate", lake, "--run-id", "c1", "--set", LOOSE)
    attrs = delta.read_arrow(delta.table_uri(str(lake), "silver/web_attributes")).to_pylist()
    assert c.rows_in == len(again) == len(attrs)
    # curation decides the language (the dolma preset maps no language from the Parquet rows)
    assert {"en", "zh", "ja", "th"} <= {a["language"] for a in attrs}
