"""``quality_model_v1``: a trained quality classifier's probability of "high quality" (DCLM's
fastText filter, FineWeb-Edu's classifier), with the model's id, decided by a threshold or by
keeping the top fraction per language.

Configured like every filter, in params.yaml (the model options sit beside the thresholds)::

    curate.web.pipeline.quality_model_v1:
      model: var/quality_models/web/v1/model.bin   # required; `lmdata quality-model train`
      kind: null          # fasttext | linear | embedding | null (the card's, else sniffed)
      label: null         # fastText's positive label (null: the card's, else __label__hq)
      sha256: null        # pin: the model file must have this sha256
      min_score: 0.5      # drop below (null: no absolute floor)
      keep_top_fraction: null   # e.g. 0.1 = DCLM's top 10%, per language (see below)

The model is loaded and checked when the pipeline is built (params validation, the driver, each
Python worker once), so a missing, corrupt or wrong-kind model fails the stage at start with a
:class:`lmdata.quality_model.ModelError` naming the file, never mid-stage. The filter holds the
path, never the model (:mod:`lmdata.quality_model.kinds` caches it per process).

Scores: ``score`` = P(positive label) in [0, 1]; ``model_id`` = the first 52 bits of the model
file's sha256 as a float, decoded by :meth:`QualityModelFilter.labels_from_scores` into the
``quality_model_v1.model`` label (``sha256:<13 hex>``), so every stored score says which model
made it. Drop reason ``quality_model_v1:score``.

``keep_top_fraction`` needs the score distribution, which one document does not have: the
curate stage computes, per language, the score above which that fraction of the documents lies
(:func:`top_fraction`, :func:`with_cuts`) and applies it as that language's ``min_score`` (never
below the configured one). ``lmdata curate`` does so over the batch it scores, ``curate
--redecide`` over the whole attributes table; the cuts are in the stage stats
(``quality_model_v1:cut:<lang>``). In a pipeline without recipes (no language), the cut is one
for all documents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from lmdata.errors import ConfigError
from lmdata.filters.core import Filter, below
from lmdata.filters.registry import register

#: option keys (how to load the model) that travel with the thresholds; not decision rules
OPTIONS = ("model", "kind", "label", "sha256")


@register
class QualityModelFilter(Filter):
    """A trained quality classifier's score; see the module docstring."""

    name = "quality_model_v1"
    version = 1
    score_names = ("score", "model_id")
    label_names: ClassVar[tuple[str, ...]] = ("model",)
    default_thresholds: ClassVar[Mapping[str, Any]] = {
        "min_score": 0.5,
        "keep_top_fraction": None,
        "model": None,
        "kind": None,
        "label": None,
        "sha256": None,
    }
    #: FilterPipeline builds it with :meth:`from_options` (it cannot score without a model)
    requires_options: ClassVar[bool] = True

    def __init__(
        self,
        model: str,
        *,
        kind: str | None = None,
        label: str | None = None,
        sha256: str | None = None,
    ) -> None:
        from lmdata.quality_model import load_model

        loaded = load_model(model, kind=kind, label=label, sha256=sha256)  # checks it now
        self.model_path, self.kind, self.label = str(model), kind, label
        self.sha256 = loaded.sha256
        self._id = loaded.model_id

    @classmethod
    def from_options(cls, overrides: Mapping[str, Any] | None) -> QualityModelFilter:
        opts = cls.resolve_thresholds(overrides)
        if not opts["model"]:
            raise ConfigError(
                f"filter {cls.name!r}: needs `model: PATH` (a fastText .bin, a linear .npz or an "
                "embedding head.npz; "
                "train one with `lmdata quality-model train`)"
            )
        return cls(opts["model"], kind=opts["kind"], label=opts["label"], sha256=opts["sha256"])

    def _model(self):
        from lmdata.quality_model import load_model

        return load_model(self.model_path, kind=self.kind, label=self.label, sha256=self.sha256)

    # -- scoring -----------------------------------------------------------------------------
    def score(self, text: str) -> dict[str, float]:
        return self.score_batch([text])[0]

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        probs = self._model().probs(list(texts))
        return [{self.key("score"): p, self.key("model_id"): self._id} for p in probs]

    def score_and_transform_batch(self, texts: Sequence[str]) -> list[tuple[dict, str]]:
        return list(zip(self.score_batch(texts), texts, strict=True))

    # -- labels ------------------------------------------------------------------------------
    @classmethod
    def label_keys(cls) -> list[str]:
        return [cls.key(n) for n in cls.label_names]

    @classmethod
    def labels_from_scores(cls, scores: Mapping[str, float]) -> dict[str, str]:
        from lmdata.quality_model import model_id_hex

        return {cls.key("model"): model_id_hex(scores[cls.key("model_id")])}

    # -- deciding ----------------------------------------------------------------------------
    def check(self, scores: Mapping[str, float], t: Mapping[str, Any]) -> str | None:
        score = scores[self.key("score")]
        if math.isnan(score) or below(score, t["min_score"]):
            return self.reason("score")
        return None

    @classmethod
    def resolve_thresholds(cls, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """As :meth:`Filter.resolve_thresholds`, plus the string options (``model``, ``kind``,
        ``label``, ``sha256``) and ``keep_top_fraction`` in (0, 1]."""
        rest, opts = cls.split_options(overrides, OPTIONS)
        for k, v in opts.items():
            if v is not None and (not isinstance(v, str) or not v):
                raise ConfigError(f"filter {cls.name!r}, {k!r}: expected a string, got {v!r}")
        if opts["kind"] is not None:
            from lmdata.quality_model import KINDS

            if opts["kind"] not in KINDS:
                raise ConfigError(
                    f"filter {cls.name!r}, 'kind': {opts['kind']!r} (kinds: {', '.join(KINDS)})"
                )
        resolved = super().resolve_thresholds(rest)
        for k in ("min_score", "keep_top_fraction"):
            v = resolved[k]
            if v is not None and not (0 <= v <= 1) or (k == "keep_top_fraction" and v == 0):
                raise ConfigError(f"filter {cls.name!r}, threshold {k!r}: expected (0, 1], got {v}")
        return {**resolved, **opts}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.model_path} sha256={self.sha256[:13]}>"


# --- keep the top fraction per language (applied by the curate stage) -----------------------------


def top_fraction(pipeline_config: Mapping[str, Any]) -> float | None:
    """``keep_top_fraction`` of quality_model_v1 in a pipeline config (name -> thresholds)."""
    th = pipeline_config.get(QualityModelFilter.name)
    return None if not th else th.get("keep_top_fraction")


def with_cuts(
    config: Mapping[str, Any], cuts: Mapping[str | None, float], recipes: bool
) -> dict[str, Any]:
    """The curate config (``pipeline`` / ``languages``) with per-language score cuts applied as
    quality_model_v1's ``min_score`` (never below the configured minimum). ``cuts`` maps a
    language label (None: all documents, when the pipeline has no language) to the cut."""
    name = QualityModelFilter.name
    out = {**config, "pipeline": dict(config["pipeline"])}
    base = dict(out["pipeline"][name] or {})
    floor = QualityModelFilter.resolve_thresholds(base)["min_score"]

    def cut(c: float) -> float:
        return c if floor is None else max(c, floor)

    if not recipes or None in cuts:
        overall = cuts.get(None, min(cuts.values(), default=floor or 0.0))
        base["min_score"] = cut(overall)
        out["pipeline"][name] = base
        return out
    languages = {k: dict(v or {}) for k, v in (out.get("languages") or {}).items()}
    for lang, c in cuts.items():
        per = dict(languages.get(lang, {}))
        per[name] = {**(per.get(name) or {}), "min_score": cut(c)}
        languages[lang] = per
    out["languages"] = languages
    return out
