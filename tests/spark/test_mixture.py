"""The mix stage end to end on gold-shaped Delta tables with real texts (Common Crawl documents,
Lingua sentences in 17 languages, the interpreter's `json` package): documents -> shards ->
tokens -> text, idempotent re-runs, a second version, checkout of the first byte for byte."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from lmdata.lake import delta
from lmdata.mixture.cli import mixture_cli, parse_result_line
from lmdata.mixture.manifest import iter_texts, load_manifest, verify_manifest
from lmdata.spark.job import execute
from lmdata.spark.stages.mix import MixStage

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
pytestmark = pytest.mark.spark


def _sha1(s: str) -> str:
    return hashlib.sha1(s.encode()).hexdigest()


def _lake(root: Path) -> dict[str, list[str]]:
    """gold/web_documents + silver/web_attributes (language labels) + gold/code_files."""
    web, langs = [], []
    for f, key in (("dedup/cc_docs.jsonl", None), ("langid/lingua_sentences.jsonl", "lang")):
        for line in (FIXTURES / f).read_text().splitlines():
            r = json.loads(line)
            web.append(r["text"])
            langs.append(r[key] if key else "en")
    ids = [_sha1(t) for t in web]
    lake = str(root)
    delta.write_table(
        delta.table_uri(lake, "gold/web_documents"),
        pa.table(
            {
                "doc_id": ids,
                "source": ["cc-wet"] * len(ids),
                "crawl": ["CC-MAIN-TEST"] * len(ids),
                "url": [f"https://example.org/{i}" for i in range(len(ids))],
                "text": web,
            }
        ),  # fmt: skip
        partition_by=["crawl"],
    )
    delta.write_table(
        delta.table_uri(lake, "silver/web_attributes"),
        pa.table(
            {
                "doc_id": ids,
                "crawl": ["CC-MAIN-TEST"] * len(ids),
                "lid_fasttext_v1__lang": langs,
                "drop_reason": [None] * len(ids),
            }
        ),  # fmt: skip
        partition_by=["crawl"],
    )
    code_dir = Path(json.__file__).parent
    code = [p.read_text() for p in sorted(code_dir.glob("*.py"))]
    delta.write_table(
        delta.table_uri(lake, "gold/code_files"),
        pa.table(
            {
                "doc_id": [_sha1("code" + t) for t in code],
                "repo_key": ["json"] * len(code),
                "language": ["Python"] * len(code),
                "repo_license": ["PSF-2.0"] * len(code),
                "path": [f"json/{i}.py" for i in range(len(code))],
                "text": code,
            }
        ),  # fmt: skip
        partition_by=["repo_key"],
    )
    en = [t for t, lang in zip(web, langs, strict=True) if lang == "en"]
    other = [t for t, lang in zip(web, langs, strict=True) if lang != "en"]
    return {"web/en": en, "web/other": other, "code/python": code}


def _spec(specs: Path, **over) -> None:
    d = {
        "name": "t1",
        "seed": 7,
        "sources": [
            {"name": "web/en", "table": "gold/web_documents", "languages": ["en"]},
            {"name": "web/other", "table": "gold/web_documents", "exclude_languages": ["en"]},
            {"name": "code/python", "table": "gold/code_files", "languages": ["python"]},
        ],
        "sampling": {"temperature": 1.0},  # natural proportions: every document exactly once
        "tokenizer": {"vocab_size": 600, "train_sample_bytes": 10_000_000},
        "shards": {"count": 3},
    }
    d.update(over)
    specs.mkdir(exist_ok=True)
    (specs / "t1.yaml").write_text(yaml.safe_dump(d))


def _mix(env, run_id, capsys):
    code, stats = execute(
        MixStage(),
        [
            "--lake",
            env["lake"],
            "--mixture",
            "t1",
            "--spec-dir",
            env["specs"],
            "--out",
            env["repo"],
            "--remote",
            env["remote"],
            "--run-id",
            run_id,
        ],  # fmt: skip
    )
    out = capsys.readouterr().out
    assert code == 0, stats.error if stats else out
    res = parse_result_line(out)
    assert res is not None and "LMDATA_STATS" in out
    return res, stats


def _shard_bytes(mixdir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((mixdir / "shards").iterdir())}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("mix")
    texts = _lake(root / "lake")
    e = {k: str(root / k) for k in ("lake", "specs", "repo", "remote")}
    _spec(root / "specs")
    return e, texts


def test_mix_round_trip_idempotent_versions_and_checkout(spark, env, capsys):
    e, texts = env
    res, stats = _mix(e, "r1", capsys)
    assert res["status"] == "created" and res["version"] == 1 and res["tag"] == "t1@v1"
    mpath = Path(res["manifest"])
    assert mpath == Path(e["repo"]) / "t1" / "manifest.json"
    assert verify_manifest(mpath) == []
    m, mixdir = load_manifest(mpath)
    assert set(m) == {"mixture", "version", "created_at", "seed", "spec", "sources", "tokenizer",
                      "shards", "totals"}  # fmt: skip
    assert m["spec"]["tables"] == {"gold/web_documents": 0, "silver/web_attributes": 0,
                                   "gold/code_files": 0}  # fmt: skip
    assert [s["delta_version"] for s in m["sources"]] == [0, 0, 0]
    assert m["tokenizer"]["dtype"] == "uint16" and m["tokenizer"]["vocab_size"] <= 600
    assert 1 <= len(m["shards"]) <= 3
    # documents -> shards -> tokens -> text: every document exactly once (rates are 1)
    got = Counter(iter_texts(mpath))
    want = Counter(t for ts in texts.values() for t in ts)
    assert got == want
    assert m["totals"]["documents_by_source"] == {k: len(v) for k, v in texts.items()}
    assert set(m["totals"]["tokens_by_language"]) >= {"en", "de", "ja", "python"}
    assert stats.rows_out == sum(len(v) for v in texts.values())
    card = (mixdir / "DATASHEET.md").read_text()
    assert "PSF-2.0" in card and "## Known limitations" in card and "web/other" in card
    v1_files = _shard_bytes(mixdir)
    v1_manifest = mpath.read_bytes()

    # same inputs + spec: byte-identical shards, no new version
    res2, _ = _mix(e, "r2", capsys)
    assert res2["status"] == "unchanged" and res2["tag"] == "t1@v1"
    assert res2["fingerprint"] == res["fingerprint"]
    assert _shard_bytes(mixdir) == v1_files and mpath.read_bytes() == v1_manifest

    # another seed and an up-sampled code share: version 2
    _spec(Path(e["specs"]), seed=8, sampling={"temperature": 2.0},
          sources=[{"name": "web/en", "table": "gold/web_documents", "languages": ["en"]},
                   {"name": "code/python", "table": "gold/code_files", "weight": 0.8}])  # fmt: skip
    res3, _ = _mix(e, "r3", capsys)
    assert res3["status"] == "created" and res3["tag"] == "t1@v2"
    assert verify_manifest(mpath) == []
    m3, _ = load_manifest(mpath)
    rate = m3["spec"]["plan"]["code/python"]["rate"]
    assert rate > 1
    code_docs = m3["totals"]["documents_by_source"]["code/python"]
    assert code_docs >= len(texts["code/python"]) * int(rate)
    assert set(iter_texts(mpath)) <= set(texts["web/en"]) | set(texts["code/python"])
    assert _shard_bytes(mixdir) != v1_files

    # checkout of the older version restores its files byte for byte
    assert mixture_cli(["checkout", "t1@1", "--repo", e["repo"]]) == 0
    out = capsys.readouterr().out
    assert parse_result_line(out)["tag"] == "t1@v1"
    assert _shard_bytes(mixdir) == v1_files and mpath.read_bytes() == v1_manifest
    assert mixture_cli(["list", "t1", "--repo", e["repo"]]) == 0
    out = capsys.readouterr().out
    assert "t1@v1" in out and "t1@v2" in out


def test_given_tokenizer_at_natural_rates_reads_the_text_once(spark, env, tmp_path, capsys):
    """A given tokenizer and rates that do not depend on sizes (temperature 1, a fixed shard
    count): no sizes job, no tokenizer sample; sizes, tokens per byte and licenses are measured
    exactly in the one pass that tokenizes, and a re-run is unchanged."""
    from lmdata.tokens.train import train_bpe

    e, texts = env
    docs = [t for ts in texts.values() for t in ts]
    tok = train_bpe(docs[::7], vocab_size=400, special_tokens=["<|endoftext|>", "<|pad|>"])
    tok.save(str(tmp_path / "tok.json"))
    _spec(tmp_path / "specs", tokenizer={"path": str(tmp_path / "tok.json")})
    e2 = {**e, **{k: str(tmp_path / k) for k in ("specs", "repo", "remote")}}
    res, stats = _mix(e2, "g1", capsys)
    assert res["status"] == "created"
    c = stats.counters
    assert c["single_scan"] == 1 and "ms_measure" not in c and "ms_tokenizer" not in c
    m, mixdir = load_manifest(Path(res["manifest"]))
    assert Counter(iter_texts(Path(res["manifest"]))) == Counter(docs)
    n_bytes = {k: sum(len(t.encode("utf-8")) for t in v) for k, v in texts.items()}
    assert stats.rows_in == len(docs) and stats.bytes_in == sum(n_bytes.values())
    for k, p in m["spec"]["plan"].items():
        tokens = m["totals"]["tokens_by_source"][k] - m["totals"]["documents_by_source"][k]
        assert p["rate"] == 1.0
        assert p["tokens_per_byte"] == pytest.approx(tokens / n_bytes[k], abs=1e-9)
        assert p["natural_tokens"] == pytest.approx(tokens, abs=1e-3)
    card = (mixdir / "DATASHEET.md").read_text()
    assert f"- code/python: PSF-2.0: {len(texts['code/python'])} documents" in card
    res2, _ = _mix(e2, "g2", capsys)
    assert res2["status"] == "unchanged" and res2["fingerprint"] == res["fingerprint"]


def test_missing_table_is_a_fatal_named_error(spark, env, tmp_path, capsys):
    e, _ = env
    code, stats = execute(
        MixStage(),
        [
            "--lake",
            str(tmp_path / "empty"),
            "--mixture",
            "t1",
            "--spec-dir",
            e["specs"],
            "--out",
            str(tmp_path / "repo"),
            "--run-id",
            "bad",
        ],  # fmt: skip
    )
    assert code == 2 and "does not exist" in stats.error and "gold/" in stats.error
