"""Tokenizer training, exact round trips through Megatron shards, and the shards gate."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from tokens_helpers import real_texts

from lmdata.errors import ConfigError
from lmdata.mixture.manifest import fingerprint, iter_texts, verify_manifest, write_manifest
from lmdata.tokens import encode as encode_mod
from lmdata.tokens.encode import encode_documents, worker_tokenizer
from lmdata.tokens.megatron import IndexedDataset, IndexedDatasetWriter, dtype_for_vocab
from lmdata.tokens.shards import ShardReader
from lmdata.tokens.train import TokenizerInfo, load_tokenizer, sha256_bytes, sha256_file, train_bpe

SPECIALS = ["<|endoftext|>", "<|pad|>"]
TRICKY = [
    "",
    " leading and trailing spaces  ",
    "tabs\tand\r\nwindows newlines\n\n\n",
    "a literal <|endoftext|> inside a document must stay text",
    "emoji 👩‍👩‍👧 and combining é (e + U+0301) and NUL \x00 byte",
    "日本語のテキスト、中文文本、한국어 텍스트",
]


@pytest.fixture(scope="module")
def tok():
    t = train_bpe(real_texts(), vocab_size=600, special_tokens=SPECIALS, min_frequency=2)
    return load_tokenizer(t.to_str().encode())


def test_training_is_deterministic_and_sized():
    a = train_bpe(real_texts(), vocab_size=600, special_tokens=SPECIALS).to_str()
    b = train_bpe(real_texts(), vocab_size=600, special_tokens=SPECIALS).to_str()
    assert sha256_bytes(a.encode()) == sha256_bytes(b.encode())
    t = load_tokenizer(a.encode())
    assert t.get_vocab_size() == 600
    info = TokenizerInfo.of(t, "<|endoftext|>")
    assert info.eod_id == t.token_to_id("<|endoftext|>") == 0
    assert info.dtype == "uint16"


def test_byte_level_bpe_round_trips_every_text(tok):
    for text in real_texts() + TRICKY:
        ids = tok.encode(text, add_special_tokens=False).ids
        assert tok.decode(ids, skip_special_tokens=False) == text
    eod = tok.token_to_id("<|endoftext|>")
    ids = tok.encode(TRICKY[3], add_special_tokens=False).ids
    assert eod not in ids  # a literal special token in a document is ordinary text


def test_missing_eod_token_and_bad_file_are_named(tmp_path, tok):
    with pytest.raises(ConfigError, match="<\\|eos\\|>"):
        TokenizerInfo.of(tok, "<|eos|>")
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="tokenizer.json"):
        load_tokenizer(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_tokenizer(tmp_path / "missing.json")


def test_chunked_encoding_equals_one_batch(tok, monkeypatch):
    """encode_documents encodes a chunk at a time (bounded worker memory): the ids, their
    order and the appended end-of-document id are those of one encode_batch over everything,
    whether a chunk ends on its document count or on its character budget."""
    texts = [*real_texts(), *TRICKY, "x" * 5000]
    eod = tok.token_to_id("<|endoftext|>")
    whole = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
    for docs, chars in ((3, 1 << 20), (10_000, 4000), (1, 1)):
        monkeypatch.setattr(encode_mod, "CHUNK_DOCS", docs)
        monkeypatch.setattr(encode_mod, "CHUNK_CHARS", chars)
        sizes = [len(c) for c in encode_mod._chunks(texts)]
        assert sum(sizes) == len(texts) and max(sizes) <= docs and len(sizes) > 1
        got = list(encode_documents(tok, texts, eod, np.uint16))
        assert [a.dtype for a in got] == [np.dtype(np.uint16)] * len(texts)
        assert [a[:-1].tolist() for a in got] == whole
        assert {int(a[-1]) for a in got} == {eod}


def test_dtype_rule():
    assert dtype_for_vocab(65499) is np.uint16
    assert dtype_for_vocab(65500) is np.int32


def _write_mixture(tmp_path, tok, texts, n_shards=2):
    """A hand-made mixture directory: tokenizer, shards, manifest (what the mix stage writes)."""
    root = tmp_path / "mix"
    (root / "shards").mkdir(parents=True)
    tj = tok.to_str().encode()
    (root / "tokenizer.json").write_bytes(tj)
    eod = tok.token_to_id("<|endoftext|>")
    shards = []
    for k in range(n_shards):
        part = texts[k::n_shards]
        prefix = f"shards/part-{k:05d}"
        with IndexedDatasetWriter(root / prefix, np.uint16) as w:
            for arr in encode_documents(worker_tokenizer(tj), part, eod):
                w.add_document(arr)
        shards.append(
            {
                "prefix": prefix,
                "bin": prefix + ".bin",
                "idx": prefix + ".idx",
                "bin_sha256": sha256_file(root / (prefix + ".bin")),
                "idx_sha256": sha256_file(root / (prefix + ".idx")),
                "documents": w.documents,
                "tokens": w.tokens,
            }
        )
    total = sum(s["tokens"] for s in shards)
    docs = sum(s["documents"] for s in shards)
    m = {
        "mixture": "t",
        "version": 1,
        "created_at": "2026-01-01T00:00:00Z",
        "seed": 1,
        "spec": {},
        "sources": [
            {
                "name": "web/x",
                "table": "gold/web_documents",
                "delta_version": 0,
                "filter": {},
                "weight": 1.0,
                "documents": docs,
                "tokens": total,
            }
        ],  # fmt: skip
        "tokenizer": {
            "path": "tokenizer.json",
            "sha256": sha256_bytes(tj),
            "vocab_size": tok.get_vocab_size(),
            "eod_id": eod,
            "dtype": "uint16",
        },  # fmt: skip
        "shards": shards,
        "totals": {
            "documents": docs,
            "tokens": total,
            "tokens_by_source": {"web/x": total},
            "tokens_by_language": {"und": total},
            "documents_by_source": {"web/x": docs},
        },  # fmt: skip
    }
    write_manifest(root, m)
    return root, m


def test_docs_to_shards_to_tokens_to_text(tmp_path, tok):
    texts = real_texts() + TRICKY
    root, m = _write_mixture(tmp_path, tok, texts)
    assert verify_manifest(root) == []
    got = list(iter_texts(root))
    want = [t for k in range(2) for t in texts[k::2]]
    assert got == want
    # the exact token sequences: encoder output + eod, nothing else
    eod = m["tokenizer"]["eod_id"]
    r = ShardReader(root / "shards/part-00000", eod)
    seqs = list(r.sequences())
    assert [int(s[-1]) for s in seqs] == [eod] * len(seqs)
    for seq, text in zip(r.documents(), texts[0::2], strict=True):
        assert seq.tolist() == tok.encode(text, add_special_tokens=False).ids
    assert not list(root.glob("shards/*.tmp"))


def test_megatron_core_reads_our_shards(tmp_path, tok):
    idx_mod = pytest.importorskip("megatron.core.datasets.indexed_dataset")
    texts = real_texts()
    root, _ = _write_mixture(tmp_path, tok, texts, n_shards=1)
    ours = IndexedDataset(root / "shards/part-00000")
    theirs = idx_mod.IndexedDataset(str(root / "shards/part-00000"), mmap=True)
    assert len(theirs) == len(ours) == len(texts)
    for i in range(len(texts)):
        assert np.array_equal(theirs[i], ours[i])
    assert np.array_equal(theirs.document_indices, np.arange(len(texts) + 1))


def test_shards_gate_names_each_problem(tmp_path, tok):
    root, m = _write_mixture(tmp_path, tok, real_texts())
    assert verify_manifest(root) == []
    # one flipped byte in a shard
    b = root / "shards/part-00001.bin"
    data = bytearray(b.read_bytes())
    data[3] ^= 0xFF
    b.write_bytes(bytes(data))
    assert any("sha256 of shards/part-00001.bin" in p for p in verify_manifest(root))
    # a wrong count in the manifest
    root2, m2 = _write_mixture(tmp_path / "b", tok, real_texts())
    m2["shards"][0]["documents"] += 1
    write_manifest(root2, m2)
    probs = verify_manifest(root2)
    assert any("index has" in p and "documents" in p for p in probs)
    assert any("totals: documents" in p for p in probs)
    # a missing file and a changed tokenizer
    (root2 / "shards/part-00000.idx").unlink()
    (root2 / "tokenizer.json").write_text("{}")
    probs = verify_manifest(root2)
    assert any("part-00000.idx missing" in p for p in probs)
    assert any("tokenizer: sha256" in p for p in probs)
    assert verify_manifest(tmp_path / "nowhere") != []


def test_fingerprint_ignores_version_and_time(tmp_path, tok):
    _, m = _write_mixture(tmp_path, tok, real_texts())
    m2 = json.loads(json.dumps(m))
    m2["version"], m2["created_at"] = 7, "2030-01-01T00:00:00Z"
    assert fingerprint(m) == fingerprint(m2)
    m2["shards"][0]["bin_sha256"] = "0" * 64
    assert fingerprint(m) != fingerprint(m2)


def test_killed_writer_leaves_no_finished_shard(tmp_path):
    prefix = tmp_path / "part-00000"
    with pytest.raises(RuntimeError):
        with IndexedDatasetWriter(prefix) as w:
            w.add_document([1, 2, 3])
            raise RuntimeError("killed")
    assert not list(tmp_path.iterdir())
    shutil.rmtree(tmp_path)
