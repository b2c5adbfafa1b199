"""`lmdata quality-model`: train, inspect and try quality classifiers.

    lmdata quality-model train --input labelled.jsonl [--text-field text] [--label-field label]
        [--positive VALUE | --positive-min X] [--kind fasttext|linear|embedding] [--out DIR]
        [--seed 0] [--test-fraction 0.2] [--param key=value ...] [--track [--remote URL]]
        -> DIR/v<N>/{model.bin|model.npz|head.npz, card.json, CARD.md}; prints the card as JSON
    lmdata quality-model info MODEL        kind, labels, sha256, model id (checks the file)
    lmdata quality-model score MODEL [FILE.jsonl]   one score per line (stdin by default)
    lmdata quality-model checkout NAME@vN [--repo DIR]   restore a tracked version's files

``--input`` is a JSONL file or a Delta table directory. The output directory is versioned: a new
``v<N>`` each run. ``--track`` versions it like a mixture: DIR's parent is a git + DVC repository
(:class:`lmdata.mixture.dvc.DataRepo`, created on first use), ``DIR/v<N>`` is DVC-tracked as one
unit, its pointer committed and tagged ``<basename of DIR>@v<N>`` (the tag message: kind, sha256,
held-out metrics) and its data pushed to the DVC remote (``--remote``, else
``$LMDATA_DVC_REMOTE``, else ``var/dvc-remote``), so a worker elsewhere gets the exact model with
``lmdata quality-model checkout web@v3 --repo var/quality_models``.
"""

from __future__ import annotations

import argparse
import json
import sys

from lmdata.quality_model.kinds import KINDS

DEFAULT_OUT = "var/quality_models/web"
DEFAULT_REPO = "var/quality_models"


def _param(s: str) -> tuple[str, object]:
    k, sep, v = s.partition("=")
    if not sep or not k:
        raise argparse.ArgumentTypeError(f"--param {s!r}: expected key=value")
    try:
        return k, json.loads(v)
    except ValueError:
        return k, v


def cli(argv: list[str]) -> int:
    from lmdata.errors import LmdataError

    p = argparse.ArgumentParser(prog="lmdata quality-model", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    tr = sub.add_parser("train", help="train a classifier from labelled documents")
    tr.add_argument("--input", required=True, help="JSONL file or Delta table with text + label")
    tr.add_argument("--text-field", default="text")
    tr.add_argument("--label-field", default="label")
    grp = tr.add_mutually_exclusive_group()
    grp.add_argument("--positive", default=None, help="label value of the high-quality class")
    grp.add_argument("--positive-min", type=float, default=None, help="score >= X is positive")
    tr.add_argument("--kind", choices=KINDS, default="fasttext")
    tr.add_argument("--out", default=DEFAULT_OUT, help=f"versioned root (default {DEFAULT_OUT})")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--test-fraction", type=float, default=0.2)
    tr.add_argument("--param", type=_param, action="append", default=[], help="trainer key=value")
    tr.add_argument("--track", action="store_true", help="git + DVC: commit, tag and push v<N>")
    tr.add_argument("--remote", default=None, help="DVC remote of --track (a path or s3://...)")
    info = sub.add_parser("info", help="load and check a model; print its facts")
    info.add_argument("model")
    info.add_argument("--kind", default=None)
    info.add_argument("--label", default=None)
    sc = sub.add_parser("score", help="score JSONL documents (field `text`)")
    sc.add_argument("model")
    sc.add_argument("input", nargs="?", default="-")
    sc.add_argument("--text-field", default="text")
    co = sub.add_parser("checkout", help="restore the files of a tracked version (NAME@vN)")
    co.add_argument("ref")
    co.add_argument("--repo", default=DEFAULT_REPO, help=f"default {DEFAULT_REPO}")
    a = p.parse_args(argv)
    try:
        if a.cmd == "train":
            return _train(a)
        if a.cmd == "info":
            from lmdata.quality_model import load_model, model_id_hex

            m = load_model(a.model, kind=a.kind, label=a.label)
            facts = {
                "path": str(m.path),
                "kind": m.kind,
                "labels": list(m.labels),
                "positive_label": m.label,
                "sha256": m.sha256,
                "model_id": model_id_hex(m.model_id),
            }
            print(json.dumps(facts, indent=2))
            return 0
        if a.cmd == "checkout":
            return _checkout(a)
        return _score(a)
    except LmdataError as e:
        print(f"lmdata quality-model {a.cmd}: {e}", file=sys.stderr)
        return e.exit_code


def _train(a: argparse.Namespace) -> int:
    from pathlib import Path

    from lmdata.quality_model.kinds import file_sha256
    from lmdata.quality_model.train import read_labelled, train

    texts, labels = read_labelled(
        a.input, a.text_field, a.label_field, positive=a.positive, positive_min=a.positive_min
    )
    src = Path(a.input)
    data = {
        "input": str(src),
        "text_field": a.text_field,
        "label_field": a.label_field,
        "input_sha256": file_sha256(src) if src.is_file() else None,
        "bytes": sum(len(t.encode("utf-8")) for t in texts),
    }
    out = Path(a.out).resolve()
    repo = None
    if a.track:
        from lmdata.mixture.dvc import DataRepo, parse_ref, tag_name

        parse_ref(tag_name(out.name, 1))  # the directory name must make a valid tag
        repo = DataRepo(out.parent, a.remote)
    res = train(
        texts,
        labels,
        kind=a.kind,
        out=a.out,
        seed=a.seed,
        test_fraction=a.test_fraction,
        params=dict(a.param),
        data=data,
    )
    result = {"model": str(res.model_path), **res.card}
    if repo is not None:
        vdir = res.model_path.parent
        facts = {k: res.card[k] for k in ("kind", "sha256", "model_id", "created")}
        facts["heldout_roc_auc"] = (res.card.get("heldout_metrics") or {}).get("roc_auc")
        with repo.lock():
            repo.ensure()
            result["tracked"] = repo.track_dir(
                f"{out.name}/{vdir.name}", tag_name(out.name, int(vdir.name[1:])), facts, "model"
            )
    print(json.dumps(result, indent=2))
    return 0


def _checkout(a: argparse.Namespace) -> int:
    from lmdata.mixture.dvc import DataRepo, parse_ref, tag_name

    name, version = parse_ref(a.ref)
    repo = DataRepo(a.repo)
    with repo.lock():
        res = repo.restore_dir(f"{name}/v{version}", tag_name(name, version))
    print(json.dumps(res, indent=2))
    return 0


def _score(a: argparse.Namespace) -> int:
    from lmdata.quality_model import load_model

    m = load_model(a.model)
    f = sys.stdin if a.input == "-" else open(a.input, encoding="utf-8")  # noqa: SIM115
    try:
        for line in f:
            if line.strip():
                text = json.loads(line).get(a.text_field) or ""
                print(f"{m.probs([text])[0]:.6f}")
    finally:
        if f is not sys.stdin:
            f.close()
    return 0
