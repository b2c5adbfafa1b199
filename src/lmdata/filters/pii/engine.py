"""The PII engines: the fast one (``get_engine`` / ``_FastEngine``) and the reference one
(``naive_analyzer`` / ``naive_analyze``, a plain Presidio ``AnalyzerEngine``).

Who calls whom: :mod:`.filter` (``PiiRedactor``) calls :func:`get_engine`; tests and
bench/eval_pii.py compare it with :func:`naive_analyze`. ``_FastEngine`` takes the recognizers
of Presidio's default registry and runs each through a plan from :mod:`.plans`
(``_RegexPlan`` / ``_PhonePlan``), all fed by one shared digit-run scan (``_Digits``, from
:mod:`.triggers`); points 1, 2 and 5 of the package docstring happen here. Engines are built
once per process and config (``_ENGINES``) and never pickled.
"""

from __future__ import annotations

import bisect
import gc
import importlib.abc
import os
import sys
import threading
from collections.abc import Iterable
from typing import Any

from lmdata.errors import ConfigError
from lmdata.filters.pii.config import (
    DEFAULT_PLACEHOLDER,
    DEFAULT_SCORE_THRESHOLD,
    LANGUAGE,
    PiiSpan,
    validate_config,
)
from lmdata.filters.pii.plans import _PV_CACHE, _PhonePlan, _RegexPlan, _shift
from lmdata.filters.pii.triggers import _Digits

# ---------------------------------------------------------------------------------------------
# the reference: a plain AnalyzerEngine (blank spaCy pipeline in memory)
# ---------------------------------------------------------------------------------------------

_LOCK = threading.RLock()
_NAIVE: list[Any] = []
_ENGINES: dict[tuple[str, ...], _FastEngine] = {}


class _NoTorch(importlib.abc.MetaPathFinder):
    """A meta-path finder that answers "not installed" for torch (`_presidio` uses it)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "torch" or fullname.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {fullname!r} (lmdata: not for Presidio)")
        return None


def _presidio():
    """Import presidio_analyzer offline-safely (tldextract must not fetch its suffix list) and
    without torch.

    Presidio imports spaCy, which imports thinc, whose compat module imports torch whenever it is
    installed (make setup installs it for the training stage). lmdata's PII engine runs pattern
    recognizers only, so no spaCy model and no torch op ever runs; the import alone cost every
    Python worker ~1.2 s, and its peak RSS was 568 MiB with torch vs 105 MiB without. thinc treats a missing torch as "no torch" (its own
    try/except ImportError); the finder is removed right after, so a later `import torch` (the
    training stage, the embedding quality model on a GPU) works as usual. Where torch is already
    imported, nothing changes."""
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    # pattern recognizers only (no NLP model): Presidio's device probe (CUDA) is never needed
    os.environ.setdefault("PRESIDIO_DEVICE", "cpu")
    finder = None
    if "presidio_analyzer" not in sys.modules and "torch" not in sys.modules:
        finder = _NoTorch()
        sys.meta_path.insert(0, finder)
    try:
        import presidio_analyzer
    finally:
        if finder is not None:
            sys.meta_path.remove(finder)
    return presidio_analyzer


_REGISTRY: list[Any] = []


def _default_registry():
    """Presidio's default recognizer registry for English (built once per process; the
    recognizers are stateless apart from their compiled patterns)."""
    with _LOCK:
        if not _REGISTRY:
            _presidio()
            from presidio_analyzer.recognizer_registry import RecognizerRegistryProvider

            _REGISTRY.append(
                RecognizerRegistryProvider(
                    registry_configuration={"supported_languages": [LANGUAGE]}
                ).create_recognizer_registry()
            )
        return _REGISTRY[0]


def naive_analyzer():
    """A default ``AnalyzerEngine`` (default registry incl. the spaCy recognizer) on a blank
    English spaCy pipeline built in memory: what "Presidio, offline" does out of the box."""
    with _LOCK:
        if not _NAIVE:
            _presidio()
            import spacy
            from presidio_analyzer import AnalyzerEngine
            from presidio_analyzer.nlp_engine import SpacyNlpEngine

            nlp_engine = SpacyNlpEngine(models=[{"lang_code": LANGUAGE, "model_name": "blank"}])
            nlp_engine.nlp = {LANGUAGE: spacy.blank(LANGUAGE)}  # loaded: nothing to download
            _NAIVE.append(AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=[LANGUAGE]))
        return _NAIVE[0]


def naive_analyze(
    text: str,
    entities: Iterable[str] | None = None,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
) -> list[PiiSpan]:
    """``AnalyzerEngine.analyze`` on one text, as spans sorted by start (the reference the fast
    path must equal)."""
    ents, _, thr = validate_config(entities, DEFAULT_PLACEHOLDER, score_threshold)
    results = naive_analyzer().analyze(
        text=text, language=LANGUAGE, entities=list(ents), score_threshold=thr
    )
    return _sorted_spans(results)


def _sorted_spans(results) -> list[PiiSpan]:
    return sorted(
        (PiiSpan(r.entity_type, r.start, r.end, float(r.score)) for r in results),
        key=lambda s: (s.start, s.end, s.entity_type, s.score),
    )


# ---------------------------------------------------------------------------------------------
# the fast engine
# ---------------------------------------------------------------------------------------------


def get_engine(entities: Iterable[str] | None = None) -> _FastEngine:
    """The process-wide fast engine for these entities (built on first use)."""
    ents, _, _ = validate_config(entities, DEFAULT_PLACEHOLDER, DEFAULT_SCORE_THRESHOLD)
    engine = _ENGINES.get(ents)
    if engine is None:
        with _LOCK:
            engine = _ENGINES.get(ents)
            if engine is None:
                engine = _ENGINES[ents] = _FastEngine(ents)
                # the ~10^6 long-lived objects of spaCy / Presidio / libphonenumber metadata
                # made every full garbage collection cost ~60 ms; they live as long as the
                # process, so take them out of the collector's scans
                gc.collect()
                gc.freeze()
    return engine


def clear_caches() -> None:
    """Forget built engines and memoised phone verdicts (tests, benchmarks: cold start)."""
    with _LOCK:
        _ENGINES.clear()
        _REGISTRY.clear()
        _PV_CACHE.clear()


class _FastEngine:
    """The configured recognizers of Presidio's default registry, run as described above."""

    def __init__(self, entities: tuple[str, ...]) -> None:
        _presidio()
        from presidio_analyzer.predefined_recognizers import PhoneRecognizer

        registry = _default_registry()
        self.entities = entities
        recognizers = registry.get_recognizers(language=LANGUAGE, entities=list(entities))
        self.plans: list[_RegexPlan | _PhonePlan] = []
        for rec in recognizers:
            if isinstance(rec, PhoneRecognizer):
                self.plans.append(_PhonePlan(rec))
            elif hasattr(rec, "patterns") and not getattr(rec, "deny_list", None):
                self.plans.append(_RegexPlan(rec))
            else:  # pragma: no cover - not in the default English registry
                raise ConfigError(f"pii: entities: no pattern recognizer for {rec.name!r}")
        found = {e for r in recognizers for e in r.supported_entities}
        missing = sorted(set(entities) - found)
        if missing:
            raise ConfigError(f"pii: entities: no recognizer in Presidio's registry for {missing}")
        mins = [p.min_digits for p in self.plans if isinstance(p, _RegexPlan) and p.min_digits]
        phone = [p for p in self.plans if isinstance(p, _PhonePlan) and p.ok]
        mins += [p.k_min for p in phone]
        ext_chars = phone[0].ext_chars if phone else None
        self.digits = _Digits(min(mins), ext_chars) if mins else None

    def reset_caches(self) -> None:
        """Forget memoised phone-number verdicts (benchmarks: measure a cold start)."""
        _PV_CACHE.clear()
        for plan in self.plans:
            if isinstance(plan, _PhonePlan) and plan.ok:
                plan.reset_caches()

    def analyze_batch(self, texts: list[str], score_threshold: float) -> list[list[PiiSpan]]:
        from presidio_analyzer import EntityRecognizer

        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"pii: expected str, got {type(t).__name__}")
        if not texts:
            return []
        big = "\n".join(texts)
        doc_starts = []
        pos = 0
        for t in texts:
            doc_starts.append(pos)
            pos += len(t) + 1
        digit_hits = self.digits.hits(big) if self.digits is not None else []
        per_doc: list[list] = [[] for _ in texts]
        for plan in self.plans:
            for r in plan.run(big, digit_hits, texts, doc_starts):
                if r.score < score_threshold:
                    continue
                d = bisect.bisect_right(doc_starts, r.start) - 1
                per_doc[d].append(_shift(r, -doc_starts[d]))
        return [
            _sorted_spans(EntityRecognizer.remove_duplicates(rs)) if rs else [] for rs in per_doc
        ]
