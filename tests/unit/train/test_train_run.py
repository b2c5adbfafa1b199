import json
import math

import numpy as np
import pytest

from lmdata.train.loader import GPTSamples, Manifest, ShardStream, split_documents
from lmdata.train.run import TrainConfig, evaluate, load_checkpoint, lr_at, train

STEPS = 40


@pytest.fixture(scope="module")
def trained(stdlib_manifest, tmp_path_factory):
    out = tmp_path_factory.mktemp("train-out")
    cfg = TrainConfig(
        manifest=str(stdlib_manifest),
        out_dir=str(out),
        preset="tiny",
        steps=STEPS,
        device="cpu",
        seed=99,
        log_every=10,
        threads=1,
    )
    return cfg, train(cfg)


def test_loss_goes_down(trained):
    _, r = trained
    losses = [v for _, v in r["loss_curve"]]
    assert [s for s, _ in r["loss_curve"]] == list(range(1, STEPS + 1))
    assert all(math.isfinite(v) for v in losses)
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    # starts near uniform over the vocabulary, then learns the code's statistics
    assert first > math.log(384) - 0.5
    assert last < first - 0.5, (first, last)
    assert r["eval_loss"] < r["eval_loss_initial"] - 0.3


def test_report_fields_and_outputs(trained, stdlib_manifest):
    cfg, r = trained
    m = Manifest.load(stdlib_manifest)
    report = json.loads(open(r["report"]).read())
    assert report == r
    assert report["mixture"] == "stdlib" and report["version"] == 3
    assert report["manifest_sha256"] == m.sha256
    assert report["device"] == "cpu" and report["dtype"] == "float32"
    assert report["config"] == "tiny" and report["steps"] == STEPS
    assert report["tokens_seen"] == STEPS * report["batch_size"] * report["seq_len"] == STEPS * 8 * 64
    assert report["tokens_per_s"] > 0
    assert 0 <= report["loader_share"] < 1 and 0 <= report["loader_share_all_steps"] < 1
    assert report["train_documents"] + report["eval_documents"] == m.documents
    assert report["wall_time_s"] > report["train_loop_s"] > 0
    with open(report["loss_plot"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_checkpoint_reloads_to_the_same_model(trained, stdlib_manifest):
    import contextlib

    cfg, r = trained
    model, ckpt = load_checkpoint(r["checkpoint"])
    m = Manifest.load(stdlib_manifest)
    assert ckpt["step"] == STEPS and ckpt["manifest_sha256"] == m.sha256
    assert ckpt["mixture"] == "stdlib" and ckpt["version"] == 3
    assert ckpt["train_config"]["seed"] == 99
    assert len(ckpt["optimizer"]["state"]) > 0
    # the reloaded weights give the reported held-out loss on the same held-out documents
    _, eval_docs = split_documents(m.documents, cfg.eval_fraction, cfg.seed)
    ev = GPTSamples(ShardStream(m), eval_docs, model.cfg.seq_len, seed=cfg.seed, shuffle=False)
    loss = evaluate(model, ev, r["batch_size"], cfg.eval_batches, "cpu", contextlib.nullcontext)
    assert loss == pytest.approx(r["eval_loss"], abs=1e-4)


def test_cli_bad_manifest_exits_2(tmp_path, capsys):
    from lmdata.train.cli import cli

    rc = cli(["--manifest", str(tmp_path / "nope.json"), "--out", str(tmp_path / "o")])
    assert rc == 2
    assert "manifest not found" in capsys.readouterr().err


def test_lr_schedule():
    assert lr_at(1, 1.0, 10, 100, 0.1) == pytest.approx(0.1)
    assert lr_at(10, 1.0, 10, 100, 0.1) == pytest.approx(1.0)
    assert lr_at(100, 1.0, 10, 100, 0.1) == pytest.approx(0.1)
    mid = lr_at(55, 1.0, 10, 100, 0.1)
    assert mid == pytest.approx(0.55)
