"""Score first, decide later: the quality-filter framework (pure; no pyspark / airflow).

After dolma (taggers score, the mixer decides) and datatrove (one filter = one keep/drop rule
set with a reason). A :class:`Filter` has two halves:

- ``score(text) -> {"<name>.<score>": float}``: everything that needs the text. Stored per
  document in the ``silver/*_attributes`` tables, so scores are never lost.
- ``decide(scores, thresholds) -> None | "<name>:<score>"``: reads ONLY the scores, so a mixture
  can be re-thresholded later without recomputing anything.

A filter may also rewrite the text (C4 removes lines): ``transform(text)`` returns the new text
and ``score_and_transform`` does both in one pass. In a :class:`FilterPipeline`, filters after a
transforming filter score the transformed text (as in datatrove, where a filter that edits
``doc.text`` feeds the next step); re-thresholding stays valid because a transform never depends
on thresholds.

Threshold conventions: ``default_thresholds`` holds the published defaults; a value of ``None``
disables that rule; boolean thresholds switch a document-level rule on/off. Unknown keys or
wrongly typed values raise :class:`lmdata.errors.ConfigError` naming the filter and the key.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, ClassVar

from lmdata.errors import ConfigError


class Filter(ABC):
    """One versioned set of quality rules. Subclasses set the class attributes below and
    implement :meth:`score` and :meth:`check`; they register with
    :func:`lmdata.filters.registry.register`.
    """

    #: versioned registry name, e.g. "gopher_quality_v1" (changing any score => new version)
    name: ClassVar[str]
    version: ClassVar[int]
    #: the score names this filter emits (without the "<name>." prefix), in a fixed order
    score_names: ClassVar[tuple[str, ...]]
    #: published default thresholds; keys are the only accepted threshold keys
    default_thresholds: ClassVar[Mapping[str, Any]]

    # -- scoring -----------------------------------------------------------------------------
    @abstractmethod
    def score(self, text: str) -> dict[str, float]:
        """Named scores, keys prefixed with ``f"{name}."``; every value a finite float."""

    def transform(self, text: str) -> str:
        """The text this filter would keep (identity unless the filter edits text)."""
        return text

    def score_and_transform(self, text: str) -> tuple[dict[str, float], str]:
        """``(score(text), transform(text))``, in one pass where the filter can."""
        return self.score(text), text

    # -- deciding ----------------------------------------------------------------------------
    @abstractmethod
    def check(self, scores: Mapping[str, float], thresholds: Mapping[str, Any]) -> str | None:
        """Decide from scores with already-resolved thresholds (all keys present)."""

    def decide(
        self, scores: Mapping[str, float], thresholds: Mapping[str, Any] | None = None
    ) -> str | None:
        """None to keep, or a drop reason ``"<name>:<score name>"``. Uses only ``scores``.

        ``thresholds`` overrides the defaults key by key (unknown keys -> ConfigError).
        """
        return self.check(scores, self.resolve_thresholds(thresholds))

    # -- helpers -----------------------------------------------------------------------------
    @classmethod
    def key(cls, score_name: str) -> str:
        return f"{cls.name}.{score_name}"

    @classmethod
    def score_keys(cls) -> list[str]:
        """The full score keys this filter emits (e.g. for an attributes-table schema)."""
        return [cls.key(s) for s in cls.score_names]

    @classmethod
    def reason(cls, score_name: str) -> str:
        return f"{cls.name}:{score_name}"

    @classmethod
    def resolve_thresholds(cls, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults updated with ``overrides``, validated. Raises ConfigError."""
        resolved = dict(cls.default_thresholds)
        if not overrides:
            return resolved
        if not isinstance(overrides, Mapping):
            raise ConfigError(
                f"filter {cls.name!r}: thresholds must be a mapping, got {type(overrides).__name__}"
            )
        for k, v in overrides.items():
            if k not in cls.default_thresholds:
                known = ", ".join(sorted(cls.default_thresholds))
                raise ConfigError(
                    f"filter {cls.name!r}: unknown threshold key {k!r} (known keys: {known})"
                )
            resolved[k] = _validate_value(cls.name, k, cls.default_thresholds[k], v)
        return resolved

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def _validate_value(filter_name: str, key: str, default: Any, value: Any) -> Any:
    where = f"filter {filter_name!r}, threshold {key!r}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if value is None:
        return None  # disables the rule
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigError(f"{where}: expected a number or null, got {value!r}")
    if not math.isfinite(float(value)):
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    return value


# --- comparison helpers used by the filters' check() -------------------------------------------


def below(value: float, limit: float | None) -> bool:
    """True when a minimum is set and ``value < limit`` (the rule fires)."""
    return limit is not None and value < limit


def above(value: float, limit: float | None) -> bool:
    """True when a maximum is set and ``value > limit`` (the rule fires)."""
    return limit is not None and value > limit


# --- pipeline ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineResult:
    scores: dict[str, float]
    reason: str | None  # None = keep
    text: str  # the text after every filter's transform (== input when none edits text)
    labels: dict[str, str] = field(default_factory=dict)  # string attributes, e.g. the language

    @property
    def keep(self) -> bool:
        return self.reason is None


StepSpec = (
    str | tuple[str, Mapping[str, Any] | None] | Filter | tuple[Filter, Mapping[str, Any] | None]
)


def doc_language(labels: Mapping[str, str]) -> str | None:
    """The document language an earlier filter found (the first ``*.lang`` label), or None."""
    for k, v in labels.items():
        if k.endswith(".lang") and v:
            return v
    return None


class FilterPipeline:
    """An ordered list of filters with their resolved thresholds.

    ``steps`` items: a registry name, ``(name, threshold_overrides)``, a Filter instance, or
    ``(filter_instance, threshold_overrides)``. Thresholds are validated here (ConfigError).
    ``chain_transforms`` (default True): filters after a text-editing filter (c4_v1) score the
    edited text, as in datatrove; set False to score every filter on the original text.
    """

    def __init__(self, steps: Iterable[StepSpec], *, chain_transforms: bool = True) -> None:
        from lmdata.filters.registry import get_filter

        self.filters: list[Filter] = []
        self.thresholds: list[dict[str, Any]] = []
        self.chain_transforms = chain_transforms
        for step in steps:
            spec, overrides = step if isinstance(step, tuple) else (step, None)
            if isinstance(spec, Filter):
                flt = spec
            elif isinstance(spec, str):
                flt = get_filter(spec)()
            else:
                raise ConfigError(f"filter pipeline: cannot build a filter from {spec!r}")
            if any(f.name == flt.name for f in self.filters):
                raise ConfigError(f"filter pipeline: filter {flt.name!r} listed twice")
            self.filters.append(flt)
            self.thresholds.append(flt.resolve_thresholds(overrides))

    @classmethod
    def from_config(
        cls, config: Mapping[str, Mapping[str, Any] | None], *, chain_transforms: bool = True
    ) -> FilterPipeline:
        """From an ordered mapping ``{filter_name: {threshold: value, ...} | None}``
        (the shape of the ``filters`` section of params.yaml)."""
        if not isinstance(config, Mapping):
            raise ConfigError("filters: expected a mapping of filter name -> thresholds")
        return cls(list(config.items()), chain_transforms=chain_transforms)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.filters]

    def score_keys(self) -> list[str]:
        return [k for f in self.filters for k in f.score_keys()]

    def label_keys(self) -> list[str]:
        """String attributes some filters derive from their scores (e.g. lid_fasttext_v1.lang)."""
        return [k for f in self.filters for k in getattr(f, "label_keys", lambda: [])()]

    def labels(self, scores: Mapping[str, float]) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in self.filters:
            decode = getattr(f, "labels_from_scores", None)
            if decode is not None:
                out.update(decode(scores))
        return out

    def with_thresholds(self, overrides: Mapping[str, Mapping[str, Any] | None]) -> FilterPipeline:
        """A pipeline with the same filter instances and new threshold overrides (per filter
        name; names not given keep their current thresholds). Scores stay valid."""
        unknown = set(overrides) - set(self.names)
        if unknown:
            raise ConfigError(
                f"filter pipeline: thresholds given for filters not in the pipeline: "
                f"{sorted(unknown)} (pipeline: {self.names})"
            )
        new = object.__new__(FilterPipeline)
        new.filters = list(self.filters)
        new.chain_transforms = self.chain_transforms
        new.thresholds = [
            {**th, **f.resolve_thresholds(overrides[f.name])} if overrides.get(f.name) else th
            for f, th in zip(self.filters, self.thresholds, strict=True)
        ]
        return new

    def apply(self, text: str, meta: Mapping[str, Any] | None = None) -> PipelineResult:
        """Score (and transform) one document. ``meta``: the row's other columns, for filters
        that score metadata too (code filters' ``score_file(text, meta)``: path, license...)."""
        scores: dict[str, float] = {}
        current = text
        for f in self.filters:
            score_file = getattr(f, "score_file", None) if meta is not None else None
            if score_file is not None:
                s, edited = score_file(current, meta), current
            elif getattr(f, "uses_language", False):  # the language found by an earlier filter
                s, edited = f.score(current, doc_language(self.labels(scores))), current
            else:
                s, edited = f.score_and_transform(current)
            scores.update(s)
            if self.chain_transforms:
                current = edited
        return PipelineResult(scores, self.decide(scores), current, self.labels(scores))

    def apply_batch(
        self, texts: Sequence[str], metas: Sequence[Mapping[str, Any] | None] | None = None
    ) -> list[PipelineResult]:
        """``[apply(t, m) ...]`` with one call per filter for the whole batch where a filter has a
        batch path (``score_and_transform_batch``, e.g. pii_presidio_v1's fast path); the results
        are the same as per-document ``apply``."""
        metas = list(metas) if metas is not None else [None] * len(texts)
        current = list(texts)
        scores: list[dict[str, float]] = [{} for _ in current]
        for f in self.filters:
            batch = getattr(f, "score_and_transform_batch", None)
            file_scorer = getattr(f, "score_file", None)
            if getattr(f, "uses_language", False):
                langs = [doc_language(self.labels(s)) for s in scores]
                results = list(zip(f.score_batch(current, langs), current, strict=True))
            elif batch is not None and file_scorer is None:
                results = batch(current)
            else:
                results = []
                for text, meta in zip(current, metas, strict=True):
                    if file_scorer is not None and meta is not None:
                        results.append((file_scorer(text, meta), text))
                    else:
                        results.append(f.score_and_transform(text))
            for i, (s, edited) in enumerate(results):
                scores[i].update(s)
                if self.chain_transforms:
                    current[i] = edited
        return [
            PipelineResult(s, self.decide(s), t, self.labels(s))
            for s, t in zip(scores, current, strict=True)
        ]

    def score_all(self, text: str) -> dict[str, float]:
        return self.apply(text).scores

    def decide(self, scores: Mapping[str, float]) -> str | None:
        """The first drop reason in pipeline order, or None (keep)."""
        for f, th in zip(self.filters, self.thresholds, strict=True):
            reason = f.check(scores, th)
            if reason is not None:
                return reason
        return None

    def reasons(self, scores: Mapping[str, float]) -> list[str]:
        """The drop reason of every filter that drops the document (for stats)."""
        out = []
        for f, th in zip(self.filters, self.thresholds, strict=True):
            reason = f.check(scores, th)
            if reason is not None:
                out.append(reason)
        return out

    def run(self, text: str) -> tuple[dict[str, float], str | None]:
        result = self.apply(text)
        return result.scores, result.reason

    def __repr__(self) -> str:
        return f"FilterPipeline({self.names})"
