"""curate on the real sample: scores for every document, kept table, incremental, re-decide."""

from pathlib import Path

import pytest

from lmdata.lake import delta
from support import run_stage as _run

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.spark
LOOSE = (
    "curate.web.pipeline={lid_cascade_v2: {min_score: 0.0}, "
    "gopher_repetition_v2: {max_top_2gram_char_frac: 0.9, "
    "max_top_4gram_char_frac: 0.9}, gopher_quality_v2: {min_stop_word_count: 0, "
    "min_alpha_word_frac: 0.1, min_word_count: 5, min_mean_word_length: 1}, c4_v2: {}, fineweb_v2: {}}"
)


def test_curate_scores_decides_and_redecides_without_rescoring(spark, tmp_path):
    lake = tmp_path / "lake"
    src = str(ROOT / "samples" / "commoncrawl")
    _run(
        "ingest-cc",
        lake,
        "--source",
        src,
        "--crawl",
        "CC-MAIN-2020-34",
        "--format",
        "warc",
        "--run-id",
        "i1",
    )
    _run(
        "ingest-cc",
        lake,
        "--source",
        src,
        "--crawl",
        "CC-MAIN-2024-22",
        "--format",
        "wet",
        "--run-id",
        "i1",
    )
    s = _run("curate", lake, "--run-id", "c1")
    attrs_uri = delta.table_uri(str(lake), "silver/web_attributes")
    kept_uri = delta.table_uri(str(lake), "silver/web_documents")
    attrs = delta.read_arrow(attrs_uri).to_pylist()
    assert len(attrs) == 17 and s.rows_in == 17
    assert all(
        a["gopher_quality_v2__word_count"] >= 0 and a["curate_run_id"] == "c1" for a in attrs
    )
    kept = {r["doc_id"] for r in delta.read_arrow(kept_uri).to_pylist()}
    assert kept == {a["doc_id"] for a in attrs if a["drop_reason"] is None}
    assert s.rows_out == len(kept) and sum(s.dropped.values()) == 17 - len(kept)
    assert all(":" in a["drop_reason"] for a in attrs if a["drop_reason"])
    # incremental: a new run finds nothing new to score
    s2 = _run("curate", lake, "--run-id", "c2")
    assert s2.rows_in == 0 and len(delta.read_arrow(attrs_uri)) == 17
    # re-decide with looser thresholds: more kept, scores untouched (same scoring run, same values)
    before = {a["doc_id"]: a for a in attrs}
    s3 = _run("curate", lake, "--run-id", "c3", "--redecide", "--set", LOOSE)
    after = delta.read_arrow(attrs_uri).to_pylist()
    kept2 = {r["doc_id"] for r in delta.read_arrow(kept_uri).to_pylist()}
    assert kept < kept2 and s3.counters["newly_kept"] == len(kept2) - len(kept)
    for a in after:
        b = before[a["doc_id"]]
        assert a["curate_run_id"] == "c1"
        assert {k: v for k, v in a.items() if "__" in k} == {
            k: v for k, v in b.items() if "__" in k
        }
    assert kept2 == {a["doc_id"] for a in after if a["drop_reason"] is None}
