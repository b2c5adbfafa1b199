"""Sub-document dedup in curate: a second batch's copy of a first batch's paragraph is removed
(pointer to the first occurrence) while batch one stays untouched; a document left too short is
dropped with its own reason; a long span copied inside a line is removed by the exact-substring
step; --redecide with both steps null restores the text without hashing again."""

from pathlib import Path

import pytest

from lmdata.lake import delta
from lmdata.spark.job import execute
from lmdata.spark.stages import get_stage

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.spark
SHARED = "All articles on this site are written by volunteers and reviewed by our editors."
SHARED_ZH = "本网站所有内容均受版权保护，未经许可不得转载。"
# ~270 UTF-8 bytes, copied inside two different lines: only the substring step can see it
LONG_JA = (
    "この町の歴史は古く、江戸時代には宿場町として栄え、多くの旅人が行き交いました。"
    "現在も当時の町並みが残り、毎年秋には伝統的な祭りが行われています。"
)
OFF = ("--set", "curate.web.pipeline={}", "--set", "curate.web.decontam=null")


def _body(topic: str) -> str:
    return (
        f"This long article about the {topic} explains its history in some detail.\n"
        f"The town around the {topic} grew slowly over the centuries and kept its character."
    )


def _write(spark, lake, crawl, rows, mode):
    from lmdata.spark.io import write_delta

    df = spark.createDataFrame(
        [(d, "cc-wet", f"http://ex.org/{d}", crawl, t) for d, t in rows],
        "doc_id string, source string, url string, crawl string, text string",
    )
    write_delta(df, delta.table_uri(str(lake), delta.BRONZE_WEB), mode=mode, partition_by=["crawl"])


def _run(lake, *args):
    code, stats = execute(
        get_stage("curate"), ["--lake", str(lake), "--params", str(ROOT / "params.yaml"), *args]
    )
    assert code == 0, stats.error
    return stats


def _tables(lake):
    a = delta.read_arrow(delta.table_uri(str(lake), "silver/web_attributes")).to_pylist()
    k = delta.read_arrow(delta.table_uri(str(lake), "silver/web_documents")).to_pylist()
    return {r["doc_id"]: r for r in a}, {r["doc_id"]: r["text"] for r in k}


def test_paragraph_dedup_across_batches_and_redecide_undoes_it(spark, tmp_path):
    lake = tmp_path / "lake"
    d1 = f"{_body('harbor')}\n{SHARED}\n{SHARED_ZH}\nGuide: {LONG_JA} (harbor)"
    # d1 < d2: d2 loses both paragraph copies and the copied span
    d2 = f"{SHARED}\n{_body('castle')}\n{SHARED_ZH}\nA note from the castle, {LONG_JA}"
    _write(spark, lake, "CC-MAIN-2024-10", [("d1", d1), ("d2", d2)], "overwrite")
    s1 = _run(lake, "--run-id", "c1", *OFF)
    attrs1, kept1 = _tables(lake)
    # the copy is " " + LONG_JA (the space before it is shared too)
    assert kept1["d1"] == d1 and kept1["d2"] == _body("castle") + "\nA note from the castle,"
    assert attrs1["d2"]["substring_dedup_bytes"] == len(LONG_JA.encode()) + 1
    assert s1.counters["substring_dedup:bytes_removed"] == len(LONG_JA.encode()) + 1
    assert attrs1["d2"]["paragraph_dedup_idx"] == [0, 3]
    assert attrs1["d2"]["paragraph_dedup_first"] == "d1"
    assert attrs1["d2"]["paragraph_dedup_bytes"] == len(SHARED) + len(SHARED_ZH.encode()) + 2
    assert attrs1["d1"]["paragraph_dedup_removed"] == 0
    assert s1.counters["paragraph_dedup:paragraphs_removed"] == 2
    state = delta.read_arrow(delta.table_uri(str(lake), "silver/paragraph_hashes")).to_pylist()
    assert {r["first_doc_id"] for r in state} == {"d1", "d2"} and len(state) == 8
    # batch two: d3 copies batch one's paragraphs, d4 is little more than a copy
    d3 = f"{_body('forest')}\n{SHARED_ZH}\n{SHARED.upper()}!"
    d4 = f"{SHARED}\nContact us"
    _write(spark, lake, "CC-MAIN-2024-18", [("d3", d3), ("d4", d4)], "append")
    s2 = _run(lake, "--run-id", "c2", *OFF)
    attrs2, kept2 = _tables(lake)
    assert s2.rows_in == 2 and s2.dropped["paragraph_dedup:too_short"] == 1
    assert kept2["d3"] == _body("forest") and attrs2["d3"]["paragraph_dedup_first"] == "d1"
    assert attrs2["d4"]["drop_reason"] == "paragraph_dedup:too_short" and "d4" not in kept2
    assert {d: attrs2[d] for d in attrs1} == attrs1  # batch one untouched
    assert {d: kept2[d] for d in kept1} == kept1
    # the most repeated removed paragraph of batch two: SHARED, in d3 (upper case) and d4
    assert tuple(s2.counters["paragraph_dedup_top"][0]) == (SHARED.upper() + "!", 2)
    # re-decide with paragraph dedup off: every removed paragraph is back, nothing rehashed
    s3 = _run(
        lake,
        *("--run-id", "c3", "--redecide", *OFF),
        *("--set", "curate.web.paragraph_dedup=null", "--set", "curate.web.substring_dedup=null"),
    )
    attrs3, kept3 = _tables(lake)
    assert kept3 == {"d1": d1, "d2": d2, "d3": d3, "d4": d4}
    assert s3.counters["subdoc_dedup:restored"] == 2 and s3.counters["newly_kept"] == 3
    assert attrs3["d3"]["paragraph_dedup_idx"] == [2, 3]  # the attributes still say what was found
