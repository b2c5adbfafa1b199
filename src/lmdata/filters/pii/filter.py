"""``pii_presidio_v1`` and ``PiiRedactor``: the public face of :mod:`lmdata.filters.pii`.

Who calls whom: ``PiiPresidio`` (the registered filter) holds a ``PiiRedactor``, which holds only
its config (:mod:`.config`) and asks :func:`.engine.get_engine` for the process-wide fast engine
on first use; spans come back as :class:`.config.PiiSpan` and are redacted here
(``resolve_overlaps`` / ``redact_spans``). See the package docstring for what is detected and
how the engine is fast.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from lmdata.filters.core import Filter, above
from lmdata.filters.pii.config import (
    DEFAULT_PLACEHOLDER,
    DEFAULT_SCORE_THRESHOLD,
    SHORT_LABELS,
    SUPPORTED_ENTITIES,
    PiiSpan,
    validate_config,
)
from lmdata.filters.pii.engine import _FastEngine, get_engine
from lmdata.filters.registry import register

# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------


class PiiRedactor:
    """Detect and redact PII; see the module docstring. Cheap to create and to pickle: the
    engine is built on first use, once per process and config."""

    def __init__(
        self,
        entities: Iterable[str] | None = None,
        placeholder: str = DEFAULT_PLACEHOLDER,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    ) -> None:
        self.entities, self.placeholder, self.score_threshold = validate_config(
            entities, placeholder, score_threshold
        )

    def _engine(self) -> _FastEngine:
        return get_engine(self.entities)

    def analyze_batch(self, texts: Sequence[str]) -> list[list[PiiSpan]]:
        """Per text, the spans Presidio reports (threshold applied, same-type duplicates
        removed), sorted by start."""
        return self._engine().analyze_batch(list(texts), self.score_threshold)

    def analyze(self, text: str) -> list[PiiSpan]:
        return self.analyze_batch([text])[0]

    def redact_batch(self, texts: Sequence[str]) -> list[tuple[str, dict[str, int]]]:
        texts = list(texts)
        return [
            redact_spans(t, s, self.placeholder)
            for t, s in zip(texts, self.analyze_batch(texts), strict=True)
        ]

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        """``(redacted text, {entity type: number of redacted spans})``."""
        return self.redact_batch([text])[0]

    def __repr__(self) -> str:
        return (
            f"PiiRedactor(entities={list(self.entities)}, placeholder={self.placeholder!r}, "
            f"score_threshold={self.score_threshold})"
        )


def resolve_overlaps(spans: Iterable[PiiSpan]) -> list[PiiSpan]:
    """Non-overlapping spans, sorted by start: highest score, then longest, then earliest,
    then entity name wins."""
    kept_starts: list[int] = []
    kept: list[PiiSpan] = []
    for s in sorted(spans, key=lambda s: (-s.score, -(s.end - s.start), s.start, s.entity_type)):
        i = bisect.bisect_left(kept_starts, s.start)
        if i > 0 and kept[i - 1].end > s.start:
            continue
        if i < len(kept) and kept[i].start < s.end:
            continue
        kept_starts.insert(i, s.start)
        kept.insert(i, s)
    return kept


def redact_spans(
    text: str, spans: Iterable[PiiSpan], placeholder: str = DEFAULT_PLACEHOLDER
) -> tuple[str, dict[str, int]]:
    """Replace ``spans`` (overlaps resolved first) with ``placeholder.format(entity=, short=)``."""
    kept = resolve_overlaps(spans)
    if not kept:
        return text, {}
    out: list[str] = []
    pos = 0
    for s in kept:
        out.append(text[pos : s.start])
        out.append(placeholder.format(entity=s.entity_type, short=SHORT_LABELS[s.entity_type]))
        pos = s.end
    out.append(text[pos:])
    return "".join(out), dict(Counter(s.entity_type for s in kept))


# ---------------------------------------------------------------------------------------------
# the filter
# ---------------------------------------------------------------------------------------------


@register
class PiiPresidio(Filter):
    """PII counts per entity type (+ ``total``) and redaction; see the module docstring.

    Scores: ``<ENTITY>`` = number of redacted spans of that type (0 for types not configured),
    ``total`` = all redacted spans. Threshold ``max_total`` (default None = never drop): drop a
    document with more PII spans than that. Constructor arguments as for :class:`PiiRedactor`.
    """

    name = "pii_presidio_v1"
    version = 1
    score_names = (*SUPPORTED_ENTITIES, "total")
    default_thresholds: ClassVar[Mapping[str, Any]] = {"max_total": None}

    def __init__(
        self,
        entities: Iterable[str] | None = None,
        placeholder: str = DEFAULT_PLACEHOLDER,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    ) -> None:
        self.redactor = PiiRedactor(entities, placeholder, score_threshold)
        self._last: tuple[str, dict[str, float], str] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"redactor": self.redactor, "_last": None}

    def _scores(self, counts: Mapping[str, int]) -> dict[str, float]:
        k = self.key
        out = {k(e): float(counts.get(e, 0)) for e in SUPPORTED_ENTITIES}
        out[k("total")] = float(sum(counts.values()))
        return out

    def score_and_transform_batch(self, texts: Sequence[str]) -> list[tuple[dict[str, float], str]]:
        """``score_and_transform`` for many texts at once (the fast path)."""
        return [(self._scores(c), t) for t, c in self.redactor.redact_batch(texts)]

    def score_and_transform(self, text: str) -> tuple[dict[str, float], str]:
        last = self._last
        if last is not None and last[0] == text:
            return dict(last[1]), last[2]
        redacted, counts = self.redactor.redact(text)
        scores = self._scores(counts)
        self._last = (text, scores, redacted)
        return dict(scores), redacted

    def score(self, text: str) -> dict[str, float]:
        return self.score_and_transform(text)[0]

    def transform(self, text: str) -> str:
        return self.score_and_transform(text)[1]

    def check(self, scores: Mapping[str, float], t: Mapping[str, Any]) -> str | None:
        if above(scores[self.key("total")], t["max_total"]):
            return self.reason("total")
        return None
