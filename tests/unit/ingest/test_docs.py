"""lmdata.ingest.docs: JSONL / Parquet corpora -> bronze rows + quarantine rows (no Spark)."""

from __future__ import annotations

import gzip
import json
import shutil
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lmdata.document import QUARANTINE_SCHEMA, WEB_DOCUMENT_SCHEMA, stable_doc_id
from lmdata.errors import ConfigError
from lmdata.ingest.docs import (
    DocsOptions,
    ingest_docs_uri,
    list_inputs,
    resolve_columns,
)

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "docs"


def run(path: Path, preset: str | None = None, rel: str | None = None, **kw):
    opts = DocsOptions(dataset="t", columns=resolve_columns(preset, kw.pop("columns", None)), **kw)
    counters = Counter()
    items = list(ingest_docs_uri(str(path), rel or path.name, opts, counters=counters))
    docs = [r for k, r in items if k == "doc"]
    rejects = [r for k, r in items if k == "reject"]
    return docs, rejects, counters


def test_dolma_documents_gz():
    docs, rejects, c = run(FIX / "dolma_000_head.json.gz", "dolma")
    assert rejects == [] and len(docs) == 4 and c["docs"] == 4
    d = docs[0]
    assert set(d) == set(WEB_DOCUMENT_SCHEMA.names)
    assert d["source"] == "docs" and d["crawl"] == "t" and d["record_offset"] == 1
    assert d["record_id"] == "http://advocatesaz.org/tag/antibiotic-resistant-bacteria/"
    assert d["doc_id"] == stable_doc_id("docs", f"t/id/{d['record_id']}", "")
    assert d["text"].startswith("PPAA Home") and d["byte_length"] == len(d["text"].encode())
    meta = json.loads(d["metadata"])
    assert "text" not in meta and "id" not in meta and meta["source"] == "common-crawl"


def test_dolma_ccnet_metadata_url_plain_jsonl():
    docs, rejects, _ = run(FIX / "dolma_cc_en_head_0091_head.jsonl", "dolma")
    assert rejects == [] and len(docs) == 3
    d = docs[0]
    assert (
        d["url"]
        == "http://100kinvesting.com/2016/11/28/first-teleconference-calls-invoice-factoring/"
    )
    assert d["host"] == "100kinvesting.com"
    assert d["warc_date"] == "2020-03-29T09:04:10Z" and d["cc_lang"] == "en"


def test_dclm_zstd_without_ids_gets_file_line_ids():
    docs, rejects, _ = run(FIX / "dclm_majority_head.jsonl.zst", rel="dclm/a.jsonl.zst")
    assert rejects == [] and len(docs) == 5
    assert [d["record_offset"] for d in docs] == [1, 2, 3, 4, 5]
    assert all(d["record_id"] is None for d in docs)
    assert len({d["doc_id"] for d in docs}) == 5
    again, _, _ = run(FIX / "dclm_majority_head.jsonl.zst", rel="dclm/a.jsonl.zst")
    assert [d["doc_id"] for d in again] == [d["doc_id"] for d in docs]  # deterministic
    other, _, _ = run(FIX / "dclm_majority_head.jsonl.zst", rel="dclm/b.jsonl.zst")
    assert {d["doc_id"] for d in other}.isdisjoint(d["doc_id"] for d in docs)
    assert json.loads(docs[0]["metadata"]) == {"label": 0}  # DCLM human label kept


def test_fineweb_parquet_multilingual():
    docs, rejects, _ = run(FIX / "fineweb_layout.parquet", "fineweb")
    assert rejects == [] and len(docs) == 6
    assert [d["record_offset"] for d in docs] == list(range(6))  # 0-based rows over row groups
    assert [d["cc_lang"] for d in docs] == ["en", "en", "en", "zh", "ja", "th"]
    zh = docs[3]
    assert zh["record_id"] == "<urn:fixture:zh-0>" and "彰化县" in zh["text"]
    meta = json.loads(zh["metadata"])
    assert meta["dump"] == "CC-MAIN-2024-10" and meta["token_count"] > 0
    assert "text" not in meta and "url" not in meta


def test_hf_export_explicit_columns_and_metadata_list(tmp_path):
    rows = [{"content": "ein kurzer Text über Daten", "meta": {"u": "https://x.de/1"}, "n": 1}]
    p = tmp_path / "part-0.parquet"
    pq.write_table(pa.Table.from_pylist(rows), p)
    docs, rejects, _ = run(p, "hf", columns={"text": "content", "url": "meta.u", "metadata": ["n"]})
    assert rejects == [] and docs[0]["url"] == "https://x.de/1"
    assert json.loads(docs[0]["metadata"]) == {"n": 1}


def test_redpajama_v2_meta_json_string(tmp_path):
    rec = {
        "raw_content": "Ein Dokument.",
        "doc_id": "2023-06/0000/de_head.json.gz/0",
        "meta": json.dumps(
            {"url": "https://a.de/x", "date_download": "2023-01-27", "language": "de"}
        ),
    }
    p = tmp_path / "rp.jsonl"
    p.write_text(json.dumps(rec) + "\n")
    (d,), rejects, _ = run(p, "redpajama_v2")
    assert rejects == []
    assert (d["url"], d["warc_date"], d["cc_lang"]) == ("https://a.de/x", "2023-01-27", "de")


def test_bad_records_are_quarantined_with_line_numbers():
    docs, rejects, c = run(FIX / "broken.jsonl")
    assert [d["record_id"] for d in docs] == ["good-1", "good-2"]
    got = [(r["record_offset"], r["reason"]) for r in rejects]
    assert got == [
        (2, "bad_json"),
        (3, "wrong_type"),
        (4, "missing_text"),
        (5, "empty_text"),
        (6, "bad_json"),
        (8, "wrong_type"),
    ]
    assert all(set(r) == set(QUARANTINE_SCHEMA.names) for r in rejects)
    assert rejects[0]["record_id"] == "line:2" and rejects[0]["stage"] == "ingest-docs"
    assert "line 8" in rejects[-1]["error"] and "url" in rejects[-1]["error"]
    assert c["blank_lines"] == 1 and c["rejected:bad_json"] == 2


def test_truncated_gzip_keeps_every_line_before_the_break(tmp_path):
    raw = gzip.decompress((FIX / "dolma_000_head.json.gz").read_bytes())
    first3 = raw.split(b"\n")[:3]
    data = gzip.compress(raw, mtime=0)
    # cut the gzip stream where the 4th line is being decoded
    for cut in range(len(data) - 10, 0, -64):
        p = tmp_path / "cut.json.gz"
        p.write_bytes(data[:cut])
        docs, rejects, _ = run(p, "dolma")
        if len(docs) == 3:
            break
    else:
        pytest.fail("no cut point kept exactly 3 lines")
    assert [d["text"] for d in docs] == [json.loads(x)["text"] for x in first3]
    assert [(r["reason"], r["record_offset"]) for r in rejects] == [("truncated_gzip", 4)]


def test_truncated_zstd_keeps_every_line_before_the_break(tmp_path):
    data = (FIX / "dclm_majority_head.jsonl.zst").read_bytes()
    p = tmp_path / "cut.jsonl.zst"
    p.write_bytes(data[: int(len(data) * 0.7)])
    docs, rejects, _ = run(p)
    assert 1 <= len(docs) < 5
    assert [(r["reason"], r["record_offset"]) for r in rejects] == [
        ("truncated_zstd", len(docs) + 1)
    ]


def test_corrupt_and_empty_files(tmp_path):
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00" + b"garbage" * 10)
    _, rejects, _ = run(bad)
    assert [r["reason"] for r in rejects] == ["corrupt_gzip"]
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    _, rejects, _ = run(empty)
    assert [r["reason"] for r in rejects] == ["empty_file"]
    _, rejects, _ = run(tmp_path / "missing.jsonl")
    assert [(r["reason"], r["record_offset"]) for r in rejects] == [("not_found", None)]
    pq_bad = tmp_path / "x.parquet"
    pq_bad.write_bytes(b"PAR1" + b"\x00" * 20)
    _, rejects, _ = run(pq_bad)
    assert [r["reason"] for r in rejects] == ["bad_parquet"]


def test_parquet_wrong_text_type_is_one_file_level_reject(tmp_path):
    p = tmp_path / "ints.parquet"
    pq.write_table(pa.table({"text": [1, 2, 3]}), p)
    docs, rejects, _ = run(p)
    assert docs == [] and [(r["reason"], r["record_offset"]) for r in rejects] == [
        ("wrong_type", None)
    ]


def test_oversized_line_is_skipped_to_its_end(tmp_path):
    p = tmp_path / "big.jsonl"
    p.write_text(json.dumps({"text": "x" * 5000}) + "\n" + json.dumps({"text": "small"}) + "\n")
    docs, rejects, _ = run(p, max_record_bytes=1000)
    assert [d["text"] for d in docs] == ["small"] and docs[0]["record_offset"] == 2
    assert [(r["reason"], r["record_offset"]) for r in rejects] == [("oversized_record", 1)]


def test_list_inputs_walks_folders(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.jsonl.gz").write_bytes(b"")
    (tmp_path / "a" / "_SUCCESS").write_bytes(b"")
    (tmp_path / "a" / "notes.txt").write_bytes(b"")
    (tmp_path / "y.parquet").write_bytes(b"")
    got = list_inputs([str(tmp_path)])
    assert [rel for _, rel in got] == ["a/x.jsonl.gz", "y.parquet"]
    with pytest.raises(ConfigError, match="does not exist"):
        list_inputs([str(tmp_path / "nope")])


def test_s3_prefix_is_listed_and_read(tmp_path):
    from lmdata.ingest.sources import SourceOptions
    from support import moto_commoncrawl_bucket

    tree = tmp_path / "tree"
    (tree / "corpus" / "part").mkdir(parents=True)
    shutil.copy(FIX / "fineweb_layout.parquet", tree / "corpus" / "part" / "0.parquet")
    shutil.copy(FIX / "dclm_majority_head.jsonl.zst", tree / "corpus" / "1.jsonl.zst")
    (tree / "corpus" / "_SUCCESS").write_bytes(b"")
    with moto_commoncrawl_bucket(tree, bucket="corpora") as endpoint:
        src = SourceOptions(s3_endpoint_url=endpoint, s3_unsigned=True, retries=0)
        files = list_inputs(["s3://corpora/corpus/"], src)
        assert files == [
            ("s3://corpora/corpus/1.jsonl.zst", "1.jsonl.zst"),
            ("s3://corpora/corpus/part/0.parquet", "part/0.parquet"),
        ]
        opts = DocsOptions(dataset="t", columns=resolve_columns("fineweb"))
        rows = [list(ingest_docs_uri(u, rel, opts, src)) for u, rel in files]
    assert [sum(k == "doc" for k, _ in r) for r in rows] == [5, 6]  # Parquet spooled to disk


def test_unknown_preset_or_column_key():
    with pytest.raises(ConfigError, match="preset"):
        resolve_columns("c4")
    with pytest.raises(ConfigError, match="unknown key"):
        resolve_columns(None, {"body": "x"})
