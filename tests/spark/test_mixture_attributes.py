"""Mixture selection by stored attributes (issue 22 item 3): a source that excludes a domain and
weights quality buckets (head x2, middle x1, tail x0), and one that keeps the top half by an
exact quantile; the shards hold exactly those documents and the manifest and DATASHEET.md say
so per bucket. An unknown column fails before any work, naming the available columns."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from pyspark.sql import functions as F
from test_mixture import FIXTURES, _sha1

from lmdata.lake import delta
from lmdata.mixture.cli import parse_result_line
from lmdata.mixture.manifest import iter_texts, load_manifest, verify_manifest
from lmdata.spark.job import execute
from lmdata.spark.stages.mix import MixStage, _uniform

pytestmark = pytest.mark.spark
SPAM = "spam.example"


def _lake(lake: str) -> tuple[list[dict], list[str]]:
    """gold/web_documents (real Common Crawl texts and Lingua sentences in 17 languages) and
    silver/web_attributes with a language, a domain and a quality score per document; four
    files of the interpreter's `json` package in gold/code_files, their license class in
    silver/code_attributes."""
    docs = []
    for f in ("dedup/cc_docs.jsonl", "langid/lingua_sentences.jsonl"):
        for line in (FIXTURES / f).read_text().splitlines():
            i = len(docs)
            docs.append(
                {
                    "doc_id": _sha1(json.loads(line)["text"]),
                    "text": json.loads(line)["text"],
                    "domain": SPAM if i % 5 == 0 else f"site{i % 3}.org",
                    "score": None if i == 7 else (i * 37 % 100) / 100,
                }
            )
    n = len(docs)
    code = [p.read_text() for p in sorted(Path(json.__file__).parent.glob("*.py"))][:4]
    code_ids = [_sha1("code" + t) for t in code]
    delta.write_table(
        delta.table_uri(lake, "gold/code_files"),
        pa.table({"doc_id": code_ids, "repo_key": ["json"] * 4, "language": ["Python"] * 4,
                  "repo_license": ["PSF-2.0"] * 4, "text": code}),
    )  # fmt: skip
    delta.write_table(  # license_class only here: the filter joins the attributes by doc_id
        delta.table_uri(lake, "silver/code_attributes"),
        pa.table({"doc_id": code_ids, "license_class": ["permissive", "copyleft"] * 2}),
    )
    delta.write_table(
        delta.table_uri(lake, "gold/web_documents"),
        pa.table({"doc_id": [d["doc_id"] for d in docs], "crawl": ["CC-MAIN-TEST"] * n,
                  "text": [d["text"] for d in docs]}),
    )  # fmt: skip
    delta.write_table(
        delta.table_uri(lake, "silver/web_attributes"),
        pa.table({"doc_id": [d["doc_id"] for d in docs], "crawl": ["CC-MAIN-TEST"] * n,
                  "language": ["en"] * n, "drop_reason": [None] * n,
                  "domain": [d["domain"] for d in docs],
                  "quality_model_v1__score": pa.array([d["score"] for d in docs], pa.float64())}),
    )  # fmt: skip
    return docs, [t for i, t in enumerate(code) if i % 2 == 0]  # the permissive files


def _run(e: dict[str, str], run_id: str):
    """The mix stage without git/DVC (test_mixture covers versioning)."""
    args = ["--lake", e["lake"], "--mixture", "t1", "--spec-dir", e["specs"], "--out", e["repo"],
            "--no-dvc", "--run-id", run_id]  # fmt: skip
    return execute(MixStage(), args)


def _write_spec(specs: Path, sources: list[dict]) -> None:
    specs.mkdir(exist_ok=True)
    (specs / "t1.yaml").write_text(yaml.safe_dump({
        "name": "t1", "seed": 3, "sources": sources, "sampling": {"temperature": 1.0},
        "tokenizer": {"vocab_size": 400, "train_sample_bytes": 10_000_000},
        "shards": {"count": 2},
    }))  # fmt: skip


BUCKETED = {
    "name": "web/quality",
    "table": "gold/web_documents",
    "filter": {"domain": {"not_in": [SPAM]}, "language": "EN"},  # labels compare lower case
    "bucket": {"column": "quality_model_v1__score", "edges": [0.3, 0.7],
               "weights": {"head": 2, "middle": 1.5, "tail": 0, "null": 0}},
}  # fmt: skip
TOP_HALF = {
    "name": "web/top-half",
    "table": "gold/web_documents",
    "bucket": {"column": "quality_model_v1__score", "quantiles": [0.5],
               "weights": {"tail": 0, "null": 0}},
}  # fmt: skip
CODE = {"name": "code/permissive", "table": "gold/code_files",
        "filter": {"license_class": "permissive"}}  # fmt: skip


def _bucket(score: float | None) -> str:
    if score is None:
        return "null"
    return "tail" if score < 0.3 else "middle" if score < 0.7 else "head"


def test_bucket_weights_and_excluded_domain_in_shards_and_manifest(spark, tmp_path, capsys):
    e = {k: str(tmp_path / k) for k in ("lake", "specs", "repo")}
    docs, code = _lake(e["lake"])
    _write_spec(Path(e["specs"]), [BUCKETED, TOP_HALF, CODE])
    rc, stats = _run(e, "a1")
    res = parse_result_line(capsys.readouterr().out)
    assert rc == 0 and res["status"] == "written", stats.error
    mpath = Path(res["manifest"])
    assert verify_manifest(mpath) == []
    m, mixdir = load_manifest(mpath)
    src = {s["name"]: s for s in m["sources"]}

    # web/quality: spam.example absent; head twice, middle 1.5 (once, plus once more when the
    # seeded hash of (seed, source, doc_id) < 0.5), tail and null never
    kept = [d for d in docs if d["domain"] != SPAM]
    u = _uniform([F.lit(3), F.lit("web/quality"), F.col("doc_id")])
    draws = spark.createDataFrame([(d["doc_id"],) for d in kept], "doc_id string")
    extra = {r["doc_id"] for r in draws.where(u < 0.5).collect()}
    copies = {"head": lambda d: 2, "middle": lambda d: 1 + (d["doc_id"] in extra),
              "tail": lambda d: 0, "null": lambda d: 0}  # fmt: skip
    want = Counter({d["text"]: copies[_bucket(d["score"])](d) for d in kept})
    middle = [d for d in kept if _bucket(d["score"]) == "middle"]
    assert 0 < sum(d["doc_id"] in extra for d in middle) < len(middle)  # the hash decides
    sel = src["web/quality"]["selection"]
    assert sel["attributes"] == "silver/web_attributes@v0"
    assert sel["filter"] == "domain NOT IN ('spam.example') AND language = 'EN'"
    assert src["web/quality"]["filter"]["where"] == sel["filter"]
    b = {x["name"]: x for x in sel["bucket"]["buckets"]}
    assert sel["bucket"]["edges"] == [0.3, 0.7]
    for name, w in {"head": 2, "middle": 1.5, "tail": 0, "null": 0}.items():
        mine = [d for d in kept if _bucket(d["score"]) == name]
        assert (b[name]["weight"], b[name]["documents_in"]) == (w, len(mine))
        assert b[name]["documents"] == sum(copies[name](d) for d in mine)
    assert b["head"]["documents_in"] > 0 and b["middle"]["documents_in"] > 0
    assert b["tail"]["documents_in"] > 0 and b["null"]["documents_in"] == 1
    assert sum(x["tokens"] for x in b.values()) == src["web/quality"]["tokens"]
    assert b["tail"]["tokens"] == 0 and b["head"]["tokens"] > 0

    # web/top-half: the exact median of the scores is the edge; every document at or above it once
    (edge,) = src["web/top-half"]["selection"]["bucket"]["edges"]
    scores = sorted(d["score"] for d in docs if d["score"] is not None)
    assert edge in scores and scores.index(edge) in (len(scores) // 2 - 1, len(scores) // 2)
    top = Counter(d["text"] for d in docs if d["score"] is not None and d["score"] >= edge)

    # code/permissive: license_class joined from silver/code_attributes
    assert src["code/permissive"]["selection"]["attributes"] == "silver/code_attributes@v0"
    assert Counter(iter_texts(mpath)) == want + top + Counter(code)
    assert m["totals"]["documents_by_source"] == {
        "web/quality": sum(want.values()), "web/top-half": sum(top.values()),
        "code/permissive": len(code)}  # fmt: skip
    assert m["spec"]["sources"][0]["filter"] == {
        "domain": {"not_in": [SPAM]},
        "language": {"eq": "EN"},
    }
    card = (mixdir / "DATASHEET.md").read_text()
    assert "## Selection by attributes" in card and "domain NOT IN ('spam.example')" in card
    assert f"| head | [0.7, +inf) | 2 | {b['head']['documents_in']} |" in card
    assert "bucket head is weighted x2" in card and "license_class = 'permissive'" in card


def test_unknown_or_mistyped_column_fails_before_any_work(spark, tmp_path, capsys):
    e = {k: str(tmp_path / k) for k in ("lake", "specs", "repo")}
    _lake(e["lake"])
    bad = dict(BUCKETED, filter={"domian": {"not_in": [SPAM]}})
    _write_spec(Path(e["specs"]), [bad])
    code, stats = _run(e, "bad")
    assert code == 2
    assert "column 'domian' is not in gold/web_documents@v0 + silver/web_attributes@v0" in (
        stats.error
    )
    assert "domain (string)" in stats.error and "quality_model_v1__score (number)" in stats.error
    assert not Path(e["repo"], "t1").exists()
    _write_spec(Path(e["specs"]), [dict(BUCKETED, bucket={"column": "domain", "edges": [1.0]})])
    code, stats = _run(e, "bad2")
    assert code == 2 and "bucket column 'domain' is string" in stats.error


def test_conditions_and_kinds_in_spark(spark):
    """Every filter operator on Spark columns, nulls included; Spark types -> the kinds the
    spec is validated with."""
    import datetime as dt

    from lmdata.mixture.select import Condition
    from lmdata.spark.stages.mix import _condition, _kind

    rows = [("a", 0.1, dt.date(2024, 1, 5), True), ("b", 0.5, dt.date(2024, 6, 1), False),
            ("c", 0.9, dt.date(2025, 2, 1), True), (None, None, None, None)]  # fmt: skip
    df = spark.createDataFrame(rows, "s string, x double, d date, b boolean")
    assert {f.name: _kind(f.dataType) for f in df.schema.fields} == {
        "s": "string", "x": "number", "d": "date", "b": "bool"}  # fmt: skip

    cases = [  # (column, ops, the values kept, in row order)
        ("s", {"eq": "a"}, ["a"]),
        ("s", {"ne": "a"}, ["b", "c", None]),  # ne / not_in keep nulls
        ("s", {"in": ["a", "c", "z"]}, ["a", "c"]),
        ("s", {"not_in": ["a"]}, ["b", "c", None]),
        ("x", {"min": 0.5}, [0.5, 0.9]),
        ("x", {"gt": 0.5}, [0.9]),
        ("x", {"max": 0.5}, [0.1, 0.5]),
        ("x", {"lt": 0.5, "min": 0.0}, [0.1]),
        ("x", {"is_null": True}, [None]),
        ("x", {"is_null": False}, [0.1, 0.5, 0.9]),
        ("d", {"min": dt.date(2024, 2, 1), "max": "2024-12-31"}, [dt.date(2024, 6, 1)]),
        ("b", {"eq": True}, [True, True]),
        ("s", {"min": "b"}, ["b", "c"]),  # strings compare as text (crawl ids, ISO dates)
    ]
    conds = [_condition(F.col(c), Condition.model_validate(o).ops()) for c, o, _ in cases]
    got = df.select("*", *[c.alias(f"k{i}") for i, c in enumerate(conds)]).collect()  # one job
    for i, (col, ops, want) in enumerate(cases):
        assert [r[col] for r in got if r[f"k{i}"]] == want, (col, ops)
