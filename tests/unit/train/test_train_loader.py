import json
import shutil

import numpy as np
import pytest

from lmdata.errors import ConfigError
from lmdata.tokens.megatron import IndexedDataset
from lmdata.train.loader import (
    GPTSamples,
    Manifest,
    ShardIntegrityError,
    ShardStream,
    make_loader,
    split_documents,
    verify_shards,
)


def _flat_stream(manifest: Manifest) -> np.ndarray:
    """Independent oracle: every shard's whole .bin, in manifest order."""
    return np.concatenate([IndexedDataset(s.prefix).tokens() for s in manifest.shards]).astype(
        np.int64
    )


def _docs(manifest: Manifest) -> list[np.ndarray]:
    out = []
    for s in manifest.shards:
        ds = IndexedDataset(s.prefix)
        out.extend(np.asarray(ds[i], dtype=np.int64) for i in range(len(ds)))
    return out


def test_manifest_counts_and_real_text(stdlib_manifest, stdlib_files):
    from tokenizers import Tokenizer

    m = Manifest.load(stdlib_manifest)
    assert m.mixture == "stdlib" and m.version == 3
    assert len(m.shards) >= 2
    assert m.tokens == m.raw["totals"]["tokens"] == _flat_stream(m).size
    assert m.documents == m.raw["totals"]["documents"] == len(_docs(m))
    assert verify_shards(m) > 0
    # the shards hold the real files: decode a document back to its source text, EOD at the end
    tok = Tokenizer.from_file(str(m.root / m.raw["tokenizer"]["path"]))
    texts = [p.read_text() for p in stdlib_files if p.read_text().strip()]
    docs = _docs(m)
    for i in (0, len(docs) // 2, len(docs) - 1):
        assert docs[i][-1] == m.eod_id
        assert m.eod_id not in docs[i][:-1]
        assert tok.decode(docs[i][:-1].tolist()) == texts[i]


def test_unshuffled_samples_are_exact_windows(stdlib_manifest):
    m = Manifest.load(stdlib_manifest)
    flat = _flat_stream(m)
    stream = ShardStream(m)
    seq = 37
    s = GPTSamples(stream, np.arange(m.documents), seq, shuffle=False)
    assert len(s) == (flat.size - 1) // seq and s.epochs == 1
    for i in range(len(s)):
        np.testing.assert_array_equal(s.sample(i), flat[i * seq : i * seq + seq + 1])
    # consecutive samples share exactly one boundary token (inputs/labels shift)
    assert s.sample(0)[-1] == s.sample(1)[0]


def test_shuffle_is_deterministic_and_epochs_repeat_every_document(stdlib_manifest):
    m = Manifest.load(stdlib_manifest)
    docs = _docs(m)
    stream = ShardStream(m)
    seq = 64
    train_docs, _ = split_documents(m.documents, 0.1, seed=7)
    per_epoch = (sum(docs[d].size for d in train_docs) - 1) // seq
    n = per_epoch * 2 + 5  # needs three epochs
    a = GPTSamples(stream, train_docs, seq, num_samples=n, seed=11)
    b = GPTSamples(stream, train_docs, seq, num_samples=n, seed=11)
    c = GPTSamples(stream, train_docs, seq, num_samples=n, seed=12)
    assert a.epochs == 3 and len(a) == n
    np.testing.assert_array_equal(a.shuffle_index, b.shuffle_index)
    np.testing.assert_array_equal(a.document_index, b.document_index)
    assert not np.array_equal(a.shuffle_index, c.shuffle_index)
    # each epoch is a permutation of the training documents, each in a different order
    epochs = a.document_index.reshape(3, len(train_docs))
    for e in epochs:
        assert sorted(e.tolist()) == sorted(train_docs.tolist())
    assert not np.array_equal(epochs[0], epochs[1])
    # every sample is the window of the permuted document stream the shuffle index points at
    permuted = np.concatenate([docs[d] for d in a.document_index])
    for i in list(range(20)) + list(range(n - 20, n)):
        j = int(a.shuffle_index[i])
        got = a.sample(i)
        assert got.shape == (seq + 1,)
        np.testing.assert_array_equal(got, permuted[j * seq : j * seq + seq + 1])
        np.testing.assert_array_equal(got, b.sample(i))


def test_split_is_disjoint_and_complete():
    tr, ev = split_documents(100, 0.05, seed=3)
    assert len(ev) == 5 and len(tr) == 95
    assert set(tr.tolist()).isdisjoint(ev.tolist())
    assert sorted(tr.tolist() + ev.tolist()) == list(range(100))
    tr2, ev2 = split_documents(100, 0.05, seed=3)
    np.testing.assert_array_equal(ev, ev2)


def test_dataloader_batches_match_samples_with_workers(stdlib_manifest):
    m = Manifest.load(stdlib_manifest)
    s = GPTSamples(ShardStream(m), np.arange(m.documents), 32, num_samples=24, seed=5)
    inproc = [b.numpy() for b in make_loader(s, batch_size=8, device="cpu", num_workers=0)]
    workers = [b.numpy() for b in make_loader(s, batch_size=8, device="cpu", num_workers=1)]
    assert len(inproc) == 3
    for k, b in enumerate(inproc):
        assert b.shape == (8, 33) and b.dtype == np.int64
        np.testing.assert_array_equal(b, np.stack([s.sample(k * 8 + i) for i in range(8)]))
        np.testing.assert_array_equal(b, workers[k])


def _copy(manifest_path, tmp_path):
    dst = tmp_path / "mix"
    shutil.copytree(manifest_path.parent, dst)
    return dst / "manifest.json"


def test_vocab_must_fit_dtype(stdlib_manifest, tmp_path):
    p = _copy(stdlib_manifest, tmp_path)
    data = json.loads(p.read_text())
    data["tokenizer"]["vocab_size"] = 70_000
    p.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="vocab_size 70000 does not fit tokenizer.dtype uint16"):
        Manifest.load(p)


def test_tampered_shard_fails_verification(stdlib_manifest, tmp_path):
    p = _copy(stdlib_manifest, tmp_path)
    m = Manifest.load(p)
    with open(m.shards[1].bin, "r+b") as f:
        f.seek(10)
        byte = f.read(1)
        f.seek(10)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ShardIntegrityError, match="part-00001.bin: sha256"):
        verify_shards(Manifest.load(p))


def test_manifest_counts_must_match_index(stdlib_manifest, tmp_path):
    p = _copy(stdlib_manifest, tmp_path)
    data = json.loads(p.read_text())
    data["shards"][0]["tokens"] += 1
    p.write_text(json.dumps(data))
    with pytest.raises(ShardIntegrityError, match="manifest says"):
        Manifest.load(p)
    data["shards"][0]["tokens"] -= 1
    (p.parent / data["shards"][0]["idx"]).unlink()
    p.write_text(json.dumps(data))
    with pytest.raises(ShardIntegrityError, match="shard file missing"):
        Manifest.load(p)


def test_missing_key_is_named(tmp_path):
    p = tmp_path / "manifest.json"
    p.write_text(json.dumps({"mixture": "x", "version": 1, "shards": []}))
    with pytest.raises(ConfigError, match="missing key 'tokenizer'"):
        Manifest.load(p)


def test_byte_tokenizer_fallback_holds_the_utf8_bytes(stdlib_files, tmp_path):
    from lmdata.train.smoke import build_text_mixture

    files = stdlib_files[:5]
    m = Manifest.load(build_text_mixture(files, tmp_path / "bytes", tokenizer="bytes"))
    assert (m.vocab_size, m.eod_id, m.dtype) == (257, 256, np.dtype("uint16"))
    docs = _docs(m)
    for f, d in zip(files, docs, strict=True):
        assert bytes(d[:-1].astype(np.uint8)) == f.read_text().encode("utf-8")
        assert d[-1] == 256
