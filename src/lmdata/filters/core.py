"""The Filter contract: one versioned rule set that scores text and decides from scores only.

The bottom of :mod:`lmdata.filters`: it imports nothing from the package. Who uses it:
:mod:`lmdata.filters.registry` (names -> Filter classes), :mod:`lmdata.filters.base` (the
pipeline, which re-exports ``Filter``, ``above`` and ``below`` for ``from lmdata.filters.base
import ...``), and every filter module. Keeping the contract below the registry is what lets the
pipeline look filters up by name without an import cycle (base -> registry -> core). The
framework's conventions (score / decide halves, transforms, threshold rules) are in the
docstring of :mod:`lmdata.filters.base`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
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

    @classmethod
    def split_options(
        cls, overrides: Mapping[str, Any] | None, keys: tuple[str, ...]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(thresholds, options)``: the option ``keys`` (a model path, list files: how to
        build the filter, not decision rules) popped from ``overrides`` (None when absent)."""
        if overrides is not None and not isinstance(overrides, Mapping):
            raise ConfigError(
                f"filter {cls.name!r}: thresholds must be a mapping, got {type(overrides).__name__}"
            )
        rest = dict(overrides or {})
        return rest, {k: rest.pop(k, None) for k in keys}

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
