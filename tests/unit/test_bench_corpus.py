"""bench/corpus.py is deterministic: the same (size, seed) gives byte-identical WET files."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "fixtures" / "bench_corpus"
# bench/ is not an installed package: load the builder from its file (it imports no bench module)
_spec = importlib.util.spec_from_file_location("bench_corpus_builder", REPO / "bench" / "corpus.py")
corpus = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = corpus  # dataclasses look the module up while the class is built
_spec.loader.exec_module(corpus)


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "corpus.json"
    }


def _meta(root: Path) -> dict:
    meta = json.loads((root / "corpus.json").read_text())
    meta.pop("build_seconds")
    return meta


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    quiet = lambda *_: None  # noqa: E731
    a = corpus.build(0.05, seed=3, out=tmp_path / "a", data=DATA, log=quiet)
    b = corpus.build(0.05, seed=3, out=tmp_path / "b", data=DATA, log=quiet)
    c = corpus.build(0.05, seed=4, out=tmp_path / "c", data=DATA, log=quiet)
    da, db, dc = _digests(a), _digests(b), _digests(c)
    assert len(da) == 2  # the listing and one WET file
    assert da == db
    assert _meta(a) == _meta(b)
    assert dc != da  # another seed: other bytes
    meta = _meta(a)
    assert meta["compressed_bytes"] >= 0.05 * corpus.MIB
    assert sum(meta["kinds"].values()) == meta["conversion_records"] > 0
    # the listing names exactly the WET files that were written
    listing = gzip.decompress((a / "crawl-data" / corpus.CRAWL / "wet.paths.gz").read_bytes())
    assert sorted(listing.decode().split()) == sorted(k for k in da if k.endswith(".wet.gz"))


def test_bad_size_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="corpus size must be > 0 MiB"):
        corpus.build(0, seed=0, out=tmp_path, data=DATA)
