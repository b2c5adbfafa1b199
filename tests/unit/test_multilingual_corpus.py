"""bench/multilingual_corpus.py: deterministic documents of every kind, gold labels in the URL."""

from __future__ import annotations

import gzip
import hashlib
import sys
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SENTS = REPO / "tests" / "fixtures" / "multilingual" / "mlcorpus_sentences"
if str(REPO) not in sys.path:  # bench/ is a package at the repository root, not installed
    sys.path.insert(0, str(REPO))

from bench import multilingual_corpus as mc  # noqa: E402

LANGS = ["ar", "de", "hi", "ja", "ko", "ru", "th", "zh"]


@pytest.fixture(scope="module")
def sentences() -> dict[str, list[str]]:
    return mc.load_sentences(SENTS)


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_fixture_languages(sentences):
    assert mc.available_languages(SENTS) == LANGS
    assert all(len(s) == 40 for s in sentences.values())


def test_same_seed_same_documents_other_seed_other(sentences):
    a = mc.eval_docs(sentences, clean=4, spam=2, seed=1)
    b = mc.eval_docs(mc.load_sentences(SENTS), clean=4, spam=2, seed=1)
    c = mc.eval_docs(sentences, clean=4, spam=2, seed=2)
    assert a == b
    assert [d.text for d in a] != [d.text for d in c]
    # a language's documents do not depend on which other languages are built
    only_de = mc.eval_docs({"de": sentences["de"]}, clean=4, spam=2, seed=1)
    assert only_de == [d for d in a if d.lang == "de"]


def test_kinds_counts_and_urls(sentences):
    docs = mc.eval_docs(sentences, clean=5, spam=3, seed=0)
    counts = Counter((d.lang, d.kind) for d in docs)
    for lang in LANGS:
        assert counts[(lang, "clean")] == 5
        for kind in mc.SPAM_KINDS:
            assert counts[(lang, kind)] == 3
    urls = [d.url for d in docs]
    assert len(set(urls)) == len(urls)
    for d in docs:
        assert mc.parse_url(d.url) == (d.lang, d.kind, d.n)
    assert mc.parse_url("https://example.com/de/clean/1") is None


def test_each_kind_has_its_shape(sentences):
    docs = mc.eval_docs(sentences, clean=12, spam=6, seed=0)
    for d in docs:
        src = sentences[d.lang]
        lines = d.text.split("\n")
        if d.kind == "clean":
            paras = [p for p in d.text.split("\n\n" if d.variant == "blank-line" else "\n")]
            assert 3 <= len(paras) <= 8 and all(p.strip() for p in paras)
            # every sentence of a clean document is a real sentence of its language
            joined = "".join(src) if d.lang in ("zh", "ja") else " ".join(src)
            for p in paras:
                assert p.replace(" ", "") in joined.replace(" ", "") or any(
                    p.startswith(s) for s in src
                )
        elif d.kind == "repeated_line":
            assert 10 <= len(lines) <= 40 and len(set(lines)) == 1 and lines[0] in src
        elif d.kind == "word_list":
            sep = {"one-per-line": "\n", "comma": ", ", "space": " ",
                   "ideographic-comma": "、"}[d.variant]  # fmt: skip
            words = d.text.split(sep)
            assert 50 <= len(words) <= 300
            assert all(w and "\n" not in w for w in words)
        else:
            assert d.kind == "menu"
            assert 20 <= len(lines) <= 60
            assert all(1 <= len(x.split()) <= 3 for x in lines)
    variants = Counter((d.kind, d.variant) for d in docs)
    assert variants[("clean", "blank-line")] > variants[("clean", "newline")] > 0


def test_words_of_unsegmented_scripts(sentences):
    from lmdata.lang import tokenize as tk
    from lmdata.lang.recipes import recipe_for

    for lang in ("zh", "ja", "th"):
        words = mc.words_of(lang, sentences[lang])
        assert len(words) > 50 and len(set(words)) == len(words)
        # the segmenter's own words (a keyword list has real words, not character fragments)
        kind = recipe_for(lang).tokenizer
        # (dictionary segmenters depend on context: most, not all, words stand alone)
        assert sum(tk.words(w, kind) == (w,) for w in words[:50]) >= 40, lang
        assert all(not w[0].isspace() and not w[0].isascii() for w in words)
    de = mc.words_of("de", sentences["de"])
    assert all(w[0].isalpha() and w[-1].isalpha() for w in de)


def test_wet_files_are_deterministic_and_ingestible(tmp_path, sentences):
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    a = mc.build_eval(tmp_path / "a", SENTS, clean=3, spam=2, seed=0, files=2)
    b = mc.build_eval(tmp_path / "b", SENTS, clean=3, spam=2, seed=0, files=2)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b") and a == b
    assert a["conversion_records"] == len(LANGS) * (3 + 2 * len(mc.SPAM_KINDS))
    root = tmp_path / "a"
    listing = gzip.decompress((root / "crawl-data" / mc.CRAWL / "wet.paths.gz").read_bytes())
    paths = listing.decode().split()
    assert len(paths) == 2 and all((root / p).is_file() for p in paths)
    seen = Counter()
    for p in paths:
        for rec in ArchiveIterator(str(root / p), record_types=WarcRecordType.conversion):
            lang, kind, _ = mc.parse_url(rec.headers["WARC-Target-URI"])
            rec.reader.read().decode("utf-8")
            seen[kind] += 1
    assert seen["clean"] == 3 * len(LANGS) and seen["menu"] == 2 * len(LANGS)


def test_bench_corpus_mixes_languages_and_kinds(tmp_path):
    root = mc.build_bench(0.3, seed=0, out=tmp_path, sent_dir=SENTS, log=lambda *_: None)
    meta = __import__("json").loads((root / "corpus.json").read_text())
    assert meta["compressed_bytes"] >= 0.3 * (1 << 20)
    assert meta["n_files"] >= 2
    assert set(meta["languages"]) == set(LANGS)
    assert set(meta["kinds"]) == set(mc.KINDS)
    again = mc.build_bench(0.3, seed=0, out=tmp_path / "x", sent_dir=SENTS, log=lambda *_: None)
    # same bytes; corpus.json differs only by its build_seconds
    assert {k: v for k, v in _digests(root).items() if k != "corpus.json"} == {
        k: v for k, v in _digests(again).items() if k != "corpus.json"
    }
    meta2 = __import__("json").loads((again / "corpus.json").read_text())
    assert {**meta, "build_seconds": 0} == {**meta2, "build_seconds": 0}
