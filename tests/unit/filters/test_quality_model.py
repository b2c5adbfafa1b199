"""quality_model_v1 and lmdata.quality_model: tiny models trained here from 40 real labelled
documents (tests/fixtures/quality_model), loading checks, the filter in a pipeline, the CLI."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest

from lmdata.errors import ConfigError
from lmdata.filters.base import FilterPipeline
from lmdata.filters.quality_model import top_fraction, with_cuts
from lmdata.quality_model import ModelError, file_sha256, load_model, model_id_hex
from lmdata.quality_model.cli import cli
from lmdata.quality_model.train import keep_metrics, read_labelled, train

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "quality_model" / "labelled.jsonl"
needs_fasttext = pytest.mark.skipif(
    shutil.which("fasttext") is None, reason="the fastText CLI (apt-get install fasttext) is absent"
)


@pytest.fixture(scope="module")
def data():
    return read_labelled(FIXTURE)


@pytest.fixture(scope="module")
def linear_model(tmp_path_factory, data):
    texts, labels = data
    return train(texts, labels, kind="linear", out=tmp_path_factory.mktemp("lin"), seed=1)


@pytest.fixture(scope="module")
def ft_model(tmp_path_factory, data):
    if shutil.which("fasttext") is None:
        pytest.skip("the fastText CLI (apt-get install fasttext) is absent")
    texts, labels = data
    params = {"epoch": 10, "dim": 8, "bucket": 10_000}
    return train(texts, labels, kind="fasttext", out=tmp_path_factory.mktemp("ft"), params=params)


def test_read_labelled_label_forms(tmp_path, data):
    texts, labels = data
    assert len(texts) == 40 and sum(labels) == 20
    p = tmp_path / "s.jsonl"
    rows = [{"t": "good text", "q": 4.5}, {"t": "bad", "q": 1}, {"t": "", "q": 5}, {"t": "x"}]
    p.write_text("\n".join(json.dumps(r) for r in rows))
    assert read_labelled(p, "t", "q", positive_min=3) == (["good text", "bad"], [1, 0])
    p.write_text(
        "\n".join(json.dumps(r) for r in [{"text": "a", "l": "hq"}, {"text": "b", "l": "cc"}])
    )
    assert read_labelled(p, label_field="l", positive="hq")[1] == [1, 0]
    with pytest.raises(ConfigError, match="not 0/1"):
        read_labelled(p, label_field="l")
    p.write_text(json.dumps({"text": "a", "label": 1}))
    with pytest.raises(ConfigError, match="both classes"):
        read_labelled(p)


def test_linear_train_writes_versioned_model_and_card(linear_model, data, tmp_path):
    card = linear_model.card
    path = linear_model.model_path
    assert path.name == "model.npz" and path.parent.name == "v1"
    assert card["sha256"] == file_sha256(path) and card["size_bytes"] == path.stat().st_size
    assert card["data"]["train"] + card["data"]["test"] == 40 and card["data"]["test"] == 8
    assert 0 <= card["heldout_metrics"]["roc_auc"] <= 1
    assert "ROC-AUC" in (path.parent / "CARD.md").read_text()
    again = train(*data, kind="linear", out=path.parent.parent, seed=1)
    assert again.model_path.parent.name == "v2"  # a new version, the old one untouched
    assert file_sha256(again.model_path) == card["sha256"]  # seeded: the same model


@needs_fasttext
def test_fasttext_model_loads_with_fasttext_predict(ft_model, data):
    m = load_model(ft_model.model_path)
    assert m.kind == "fasttext" and m.label == "__label__hq"
    assert set(m.labels) == {"__label__hq", "__label__lq"}
    probs = m.probs(data[0][:5] + ["", "line one\nline two \ud800"])
    assert all(0.0 <= p <= 1.0 for p in probs)
    assert ft_model.card["trainer"].startswith("fastText CLI")


def _pipeline(model: Path, **th) -> FilterPipeline:
    return FilterPipeline.from_config({"quality_model_v1": {"model": str(model), **th}})


@pytest.mark.parametrize("kind", ["linear", "fasttext"])
def test_filter_scores_labels_and_decides(kind, linear_model, request, data):
    if kind == "fasttext" and shutil.which("fasttext") is None:
        pytest.skip("the fastText CLI is absent")
    trained = linear_model if kind == "linear" else request.getfixturevalue("ft_model")
    sha = trained.card["sha256"]
    p = _pipeline(trained.model_path, min_score=0.5)
    results = p.apply_batch(data[0][:6])
    one = p.apply(data[0][0])
    assert one.scores == results[0].scores  # batch == per document
    for r in results:
        s = r.scores["quality_model_v1.score"]
        assert 0 <= s <= 1
        assert (
            r.labels["quality_model_v1.model"] == f"sha256:{sha[:13]}" == trained.card["model_id"]
        )
        assert (r.reason is None) == (s >= 0.5)
    # re-deciding from the stored scores needs no model
    strict = p.with_thresholds({"quality_model_v1": {"min_score": 1.0}})
    assert all(
        strict.decide(r.scores) == "quality_model_v1:score"
        for r in results
        if r.scores["quality_model_v1.score"] < 1
    )
    off = p.with_thresholds({"quality_model_v1": {"min_score": None}})
    assert all(off.decide(r.scores) is None for r in results)


def test_filter_pickles_without_the_model(linear_model):
    flt = _pipeline(linear_model.model_path).filters[0]
    blob = pickle.dumps(flt)
    assert len(blob) < 1000
    assert pickle.loads(blob).score("some text")["quality_model_v1.model_id"] == flt._id


def test_bad_models_fail_at_pipeline_construction(tmp_path, linear_model):
    with pytest.raises(ConfigError, match="needs `model: PATH`"):
        FilterPipeline(["quality_model_v1"])
    with pytest.raises(ModelError, match="not found"):
        _pipeline(tmp_path / "nope.bin")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelError, match="not a model of a known kind"):
        _pipeline(junk)
    truncated = tmp_path / "trunc.npz"
    truncated.write_bytes(linear_model.model_path.read_bytes()[:200])
    with pytest.raises(ModelError, match="unreadable"):
        _pipeline(truncated)
    with pytest.raises(ModelError, match="wrong kind"):
        _pipeline(linear_model.model_path, kind="fasttext")
    with pytest.raises(ModelError, match="differs from the pinned"):
        _pipeline(linear_model.model_path, sha256="0" * 64)
    with pytest.raises(ConfigError, match="kind"):
        _pipeline(linear_model.model_path, kind="bert")
    with pytest.raises(ConfigError, match="keep_top_fraction"):
        _pipeline(linear_model.model_path, keep_top_fraction=0)


@needs_fasttext
def test_bad_fasttext_models(tmp_path, ft_model):
    with pytest.raises(ModelError, match="not one of the model's labels"):
        _pipeline(ft_model.model_path, label="__label__cc")
    # a truncated copy beside its card: caught by the card's sha256 before fastText parses it
    truncated = tmp_path / "t" / "model.bin"
    truncated.parent.mkdir()
    shutil.copy(ft_model.model_path.parent / "card.json", truncated.parent / "card.json")
    truncated.write_bytes(ft_model.model_path.read_bytes()[:5000])
    with pytest.raises(ModelError, match="differs from its card"):
        _pipeline(truncated)
    cut = tmp_path / "v.bin"  # fastText's magic, then nothing (fastText itself would abort)
    cut.write_bytes(ft_model.model_path.read_bytes()[:8])
    with pytest.raises(ModelError, match="truncated"):
        _pipeline(cut)


def test_params_validation_names_the_model(tmp_path):
    from lmdata.config import FilterSetConfig

    with pytest.raises(ValueError, match="not found"):
        FilterSetConfig(pipeline={"quality_model_v1": {"model": str(tmp_path / "m.bin")}})


def test_top_fraction_cuts():
    cfg = {
        "pipeline": {
            "c4_v2": {},
            "quality_model_v1": {"model": "m", "min_score": 0.2, "keep_top_fraction": 0.1},
        },
        "languages": {"de": {"c4_v2": {"x": 1}}},
    }
    assert top_fraction(cfg["pipeline"]) == 0.1 and top_fraction({"c4_v2": {}}) is None
    out = with_cuts(cfg, {"en": 0.7, "de": 0.1}, recipes=True)
    assert out["languages"]["en"] == {"quality_model_v1": {"min_score": 0.7}}
    assert out["languages"]["de"] == {"c4_v2": {"x": 1}, "quality_model_v1": {"min_score": 0.2}}
    assert cfg["languages"]["de"] == {"c4_v2": {"x": 1}}  # not modified in place
    flat = with_cuts(cfg, {None: 0.6}, recipes=False)
    assert flat["pipeline"]["quality_model_v1"]["min_score"] == 0.6


def test_keep_metrics():
    labels = [1, 0, 1, 1, 0, 0, 0, 1, 0, 0]
    probs = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]
    assert keep_metrics(labels, probs, 0.3) == {"precision": 2 / 3, "recall": 0.5, "kept": 3}
    assert keep_metrics(labels, probs, 0.1)["precision"] == 1.0


def test_cli_train_and_info(tmp_path, capsys):
    out = tmp_path / "models"
    args = ["train", "--input", str(FIXTURE), "--kind", "linear", "--out", str(out)]
    assert cli([*args, "--param", "C=1.0"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["params"]["C"] == 1.0 and card["version"] == "v1"
    assert cli(["info", card["model"]]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "linear" and info["model_id"] == model_id_hex(
        float(int(card["sha256"][:13], 16))
    )
    assert cli(["info", str(tmp_path / "missing.bin")]) == 2
    assert cli(["score", card["model"], str(FIXTURE)]) == 0
    scores = [float(x) for x in capsys.readouterr().out.split()]
    assert len(scores) == 40 and all(0 <= x <= 1 for x in scores)


def test_cli_train_track_versions_the_model_with_git_and_dvc(tmp_path, capsys):
    """--track: v<N> DVC-tracked, its pointer committed and tagged, its data pushed; a clone
    without the data checks the exact file out from the remote; the next version is v2."""
    import subprocess

    from lmdata.mixture.dvc import DataRepo

    repo_dir, remote = tmp_path / "models", tmp_path / "remote"
    args = ["train", "--input", str(FIXTURE), "--kind", "linear", "--out", str(repo_dir / "web")]
    assert cli([*args, "--track", "--remote", str(remote)]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["tracked"]["tag"] == "web@v1" and card["version"] == "v1"
    repo = DataRepo(repo_dir)
    assert "web/v1.dvc" in repo.git("ls-files").stdout.split()
    assert not any(f.startswith("web/v1/") for f in repo.git("ls-files").stdout.split())
    facts = repo.versions("web")[0]
    assert facts["sha256"] == card["sha256"] and facts["kind"] == "linear"
    assert any(remote.rglob("*")), "dvc push wrote nothing to the remote"

    # elsewhere: a clone of the repository (pointers only) and the shared remote
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo_dir), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "fetch", "-q", "--tags"], check=True)
    assert cli(["checkout", "web@v1", "--repo", str(clone)]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["pulled"] is True
    model = clone / "web" / "v1" / card["model_file"]
    assert file_sha256(model) == card["sha256"]
    # the next training in the clone (v1 checked out or only its pointer) is v2, tagged anew
    shutil.rmtree(clone / "web" / "v1")
    assert cli([*args[:-1], str(clone / "web"), "--track"]) == 0
    assert json.loads(capsys.readouterr().out)["tracked"]["tag"] == "web@v2"
    assert cli(["checkout", "web@v9", "--repo", str(clone)]) == 2
