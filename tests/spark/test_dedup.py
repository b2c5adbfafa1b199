"""dedup stage: same clusters and keepers as the in-process reference, deterministic across
partition counts, incremental across batches (batch 2 duplicates of batch 1 removed, batch 1
untouched)."""

import json
import random
from pathlib import Path

import pytest

from lmdata.config import load_params
from lmdata.dedup.reference import reference_dedup
from lmdata.document import WEB_DOCUMENT_SCHEMA
from lmdata.lake import delta
from lmdata.spark.job import execute
from lmdata.spark.stages import get_stage

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.spark
SILVER, GOLD, ATTRS, INDEX = (
    "silver/web_documents",
    "gold/web_documents",
    "silver/web_dedup",
    "dedup/minhash_index",
)


def _real_texts():
    rows = [
        json.loads(line)
        for line in (ROOT / "tests/fixtures/filters/dclm_agreement_sample.jsonl").open()
    ]
    return [r["text"] for r in rows if len(r["text"].split()) > 60]


def _edit(text, rate, rng):
    words = text.split()
    for i in rng.sample(range(len(words)), max(1, int(len(words) * rate))):
        words[i] = "zzz" + words[i][::-1]
    return " ".join(words)


def _corpus(crawl, texts, rng, prefix):
    docs = []
    for i, t in enumerate(texts):
        docs.append((f"{prefix}{i:02d}o", crawl, f"http://{prefix}.org/{i}", t))
        docs.append(
            (f"{prefix}{i:02d}e", crawl, f"http://{prefix}.org/{i}/copy", "  " + t.upper() + "\n")
        )  # exact
        docs.append(
            (f"{prefix}{i:02d}n", crawl, f"http://{prefix}.net/{i}", _edit(t, 0.02, rng))
        )  # near
    docs.append((f"{prefix}99u", crawl, f"http://{prefix}.org/u", "a short unique page"))
    return docs


def _write_silver(spark, lake, docs, mode="append"):
    from lmdata.spark.io import spark_schema, write_delta

    names = WEB_DOCUMENT_SCHEMA.names
    rows = []
    for doc_id, crawl, url, text in docs:
        r = dict.fromkeys(names)
        r.update(doc_id=doc_id, crawl=crawl, url=url, text=text, source="cc-wet", slice="0-of-1")
        rows.append(tuple(r[n] for n in names))
    df = spark.createDataFrame(rows, spark_schema(WEB_DOCUMENT_SCHEMA)).repartition(3)
    write_delta(df, delta.table_uri(str(lake), SILVER), mode=mode, partition_by=["crawl"])


def _dedup(lake, run_id, *extra):
    code, stats = execute(
        get_stage("dedup"),
        [
            "--lake",
            str(lake),
            "--params",
            str(ROOT / "params.yaml"),
            "--run-id",
            run_id,
            "--set",
            "dedup.exact.url_dedup=false",
            *extra,
        ],
    )
    assert code == 0, stats.error
    return stats


def _attrs(lake):
    return {r["doc_id"]: r for r in delta.read_arrow(delta.table_uri(str(lake), ATTRS)).to_pylist()}


def test_dedup_matches_reference_and_partitioning(spark, tmp_path):
    rng = random.Random(7)
    docs = _corpus("CC-MAIN-2024-22", _real_texts(), rng, "a")
    lake = tmp_path / "lake"
    _write_silver(spark, lake, docs)
    stats = _dedup(lake, "r1")
    got = _attrs(lake)
    params = load_params(ROOT / "params.yaml").dedup.fuzzy.minhash_params()
    ref = {r.doc_id: r for r in reference_dedup([(d, (c,), t) for d, c, _, t in docs], params)}
    assert set(got) == set(ref)
    for doc_id, r in ref.items():
        g = got[doc_id]
        assert (g["cluster_id"], g["cluster_size"], g["duplicate_of"]) == (
            r.cluster_id,
            r.cluster_size,
            r.duplicate_of,
        ), doc_id
    ntexts = len(_real_texts())
    assert stats.dropped["exact_duplicate"] == ntexts and stats.dropped["near_duplicate"] == ntexts
    gold_ids = set(delta.read_arrow(delta.table_uri(str(lake), GOLD))["doc_id"].to_pylist())
    assert gold_ids == {d for d, r in ref.items() if r.kept}
    # the same input with other partition counts gives identical results
    lake2 = tmp_path / "lake2"
    _write_silver(spark, lake2, list(reversed(docs)))
    _dedup(lake2, "r1", "--set", "spark.shuffle_partitions=13")
    assert {
        k: {c: v[c] for c in ("cluster_id", "cluster_size", "duplicate_of", "dedup_reason")}
        for k, v in _attrs(lake2).items()
    } == {
        k: {c: v[c] for c in ("cluster_id", "cluster_size", "duplicate_of", "dedup_reason")}
        for k, v in got.items()
    }


def test_incremental_batches(spark, tmp_path):
    rng = random.Random(3)
    texts = _real_texts()
    lake = tmp_path / "lake"
    batch1 = [
        (f"b1-{i}", "CC-MAIN-2020-34", f"http://one.org/{i}", t) for i, t in enumerate(texts[:3])
    ]
    _write_silver(spark, lake, batch1)
    _dedup(lake, "b1")
    gold_v1 = sorted(delta.read_arrow(delta.table_uri(str(lake), GOLD))["doc_id"].to_pylist())
    attrs_v1 = _attrs(lake)
    assert gold_v1 == sorted(d for d, *_ in batch1)
    # batch 2: near and exact copies of batch-1 documents, plus new documents
    batch2 = [
        ("b2-near", "CC-MAIN-2024-22", "http://two.org/n", _edit(texts[0], 0.02, rng)),
        ("b2-exact", "CC-MAIN-2024-22", "http://two.org/e", texts[1].lower()),
        ("a0-new", "CC-MAIN-2024-22", "http://two.org/x", texts[3]),
        ("b2-new", "CC-MAIN-2024-22", "http://two.org/y", texts[4]),
    ]
    _write_silver(spark, lake, batch2)
    s = _dedup(lake, "b2")
    assert s.rows_in == 4  # only the new batch was processed
    attrs = _attrs(lake)
    assert (
        attrs["b2-near"]["duplicate_of"] == "b1-0"
        and attrs["b2-near"]["dedup_reason"] == "near_duplicate"
    )
    assert (
        attrs["b2-exact"]["duplicate_of"] == "b1-1"
        and attrs["b2-exact"]["dedup_reason"] == "exact_duplicate"
    )
    assert attrs["a0-new"]["duplicate_of"] is None and attrs["b2-new"]["duplicate_of"] is None
    # batch 1 untouched: its rows and its gold documents are as they were
    assert {k: attrs[k] for k in attrs_v1} == attrs_v1
    gold = sorted(delta.read_arrow(delta.table_uri(str(lake), GOLD))["doc_id"].to_pylist())
    assert gold == sorted(gold_v1 + ["a0-new", "b2-new"])
    assert len(delta.read_arrow(delta.table_uri(str(lake), INDEX))) == 5
    # an Airflow retry of batch 2 changes nothing
    assert _dedup(lake, "b2").status == "skipped"
    # a new run with nothing new processes nothing
    assert _dedup(lake, "b3").rows_in == 0


def test_cross_source_dedup_is_configurable(spark, tmp_path):
    from lmdata.spark.io import write_delta

    texts = _real_texts()
    lake = tmp_path / "lake"
    _write_silver(spark, lake, [("w1", "CC-MAIN-2024-22", "http://w.org/1", texts[0])])
    _dedup(lake, "w")
    code = spark.createDataFrame(
        [
            ("c1", "code", "repo-1", "repo", "a.py", texts[0]),
            ("c2", "code", "repo-1", "repo", "b.py", texts[1]),
        ],
        "doc_id string, source string, repo_key string, repo_id string, path string, text string",
    )
    write_delta(code, delta.table_uri(str(lake), "silver/code_files"), partition_by=["repo_key"])
    code_attrs = delta.table_uri(str(lake), "silver/code_dedup")
    # off (the default): code is deduplicated against code only
    _dedup(lake, "c-off", "--source", "code")
    assert {r["doc_id"]: r["duplicate_of"] for r in delta.read_arrow(code_attrs).to_pylist()} == {
        "c1": None,
        "c2": None,
    }
    # on: a rebuild of the code side against the kept web documents too
    s = _dedup(lake, "c-on", "--source", "code", "--rebuild", "--set", "dedup.cross_source=true")
    got = {r["doc_id"]: r for r in delta.read_arrow(code_attrs).to_pylist()}
    assert got["c1"]["duplicate_of"] == "w1" and got["c1"]["dedup_reason"] == "exact_duplicate"
    assert got["c2"]["duplicate_of"] is None and s.rows_in == 2
    gold = delta.read_arrow(delta.table_uri(str(lake), "gold/code_files"))["doc_id"].to_pylist()
    assert gold == ["c2"]
