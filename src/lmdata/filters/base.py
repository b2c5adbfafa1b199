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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lmdata.errors import ConfigError

# the Filter contract lives one layer down (lmdata.filters.core, which the registry also
# imports); re-exported here so ``from lmdata.filters.base import Filter, above, below`` works
from lmdata.filters.core import Filter, above, below
from lmdata.filters.registry import get_filter

__all__ = [
    "Filter",
    "FilterPipeline",
    "PipelineResult",
    "StepSpec",
    "above",
    "below",
    "doc_language",
]


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

    Per-language recipes (:mod:`lmdata.lang.recipes`) are on when a filter of the pipeline
    ``uses_recipe`` (the ``*_v2`` heuristics), or when ``recipes=True``. Then the thresholds of a
    document are resolved for ITS language (the label of the language-ID filter): filter defaults
    <- the recipe's values (each filter's ``recipe_thresholds``; lid_fasttext_v1 takes the
    recipe's language score) <- the ``steps`` overrides <- ``languages[<label>][<filter>]``
    overrides; and every result carries the ``language`` (the language-ID label; absent without
    one) and the recipe key (``recipe``) as labels.
    """

    RECIPE_LABEL = "recipe"
    LANGUAGE_LABEL = "language"

    def __init__(
        self,
        steps: Iterable[StepSpec],
        *,
        chain_transforms: bool = True,
        languages: Mapping[str, Mapping[str, Mapping[str, Any] | None] | None] | None = None,
        recipes: bool | None = None,
    ) -> None:
        self.filters: list[Filter] = []
        self.thresholds: list[dict[str, Any]] = []
        self._overrides: list[dict[str, Any]] = []
        self.chain_transforms = chain_transforms
        for step in steps:
            spec, overrides = step if isinstance(step, tuple) else (step, None)
            if isinstance(spec, Filter):
                flt = spec
            elif isinstance(spec, str):
                cls = get_filter(spec)
                # a filter that cannot exist without options (quality_model_v1: its model
                # file) takes them from its step's mapping, beside the thresholds
                needs = getattr(cls, "requires_options", False)
                flt = cls.from_options(overrides) if needs else cls()  # type: ignore[attr-defined]
            else:
                raise ConfigError(f"filter pipeline: cannot build a filter from {spec!r}")
            if any(f.name == flt.name for f in self.filters):
                raise ConfigError(f"filter pipeline: filter {flt.name!r} listed twice")
            self.filters.append(flt)
            self.thresholds.append(flt.resolve_thresholds(overrides))
            self._overrides.append(dict(overrides or {}))
        self.recipes = (
            any(getattr(f, "uses_recipe", False) for f in self.filters)
            if recipes is None
            else recipes
        )
        self.languages = self._check_languages(languages or {})
        self._by_lang: dict[str | None, list[dict[str, Any]]] = {}

    def _check_languages(self, languages: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        if not isinstance(languages, Mapping):
            raise ConfigError("filter pipeline: languages must map a language label to filters")
        from lmdata.filters.langid import CASCADE_LANGUAGES as LABELS  # lid.176's + CLD3's

        out: dict[str, dict[str, Any]] = {}
        for lang, per_filter in languages.items():
            if lang not in LABELS:
                raise ConfigError(
                    f"languages.{lang}: not a language label (known: {', '.join(LABELS)})"
                )
            per_filter = per_filter or {}
            if not isinstance(per_filter, Mapping):
                raise ConfigError(f"languages.{lang}: expected a mapping filter -> thresholds")
            unknown = set(per_filter) - set(self.names)
            if unknown:
                raise ConfigError(
                    f"languages.{lang}: filters not in the pipeline: {sorted(unknown)} "
                    f"(pipeline: {self.names})"
                )
            for f in self.filters:  # validate now, not on the first document of that language
                if per_filter.get(f.name):
                    f.resolve_thresholds(per_filter[f.name])
            out[lang] = {k: dict(v or {}) for k, v in per_filter.items()}
        return out

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Mapping[str, Any] | None],
        *,
        chain_transforms: bool = True,
        languages: Mapping[str, Any] | None = None,
        recipes: bool | None = None,
    ) -> FilterPipeline:
        """From an ordered mapping ``{filter_name: {threshold: value, ...} | None}``
        (the shape of the ``filters`` section of params.yaml)."""
        if not isinstance(config, Mapping):
            raise ConfigError("filters: expected a mapping of filter name -> thresholds")
        return cls(
            list(config.items()),
            chain_transforms=chain_transforms,
            languages=languages,
            recipes=recipes,
        )

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.filters]

    def score_keys(self) -> list[str]:
        return [k for f in self.filters for k in f.score_keys()]

    def label_keys(self) -> list[str]:
        """String attributes some filters derive from their scores (e.g. lid_fasttext_v1.lang),
        and ``language`` + ``recipe`` when recipes are on."""
        keys = [k for f in self.filters for k in getattr(f, "label_keys", lambda: [])()]
        return [*keys, self.LANGUAGE_LABEL, self.RECIPE_LABEL] if self.recipes else keys

    def labels(self, scores: Mapping[str, float]) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in self.filters:
            decode = getattr(f, "labels_from_scores", None)
            if decode is not None:
                try:
                    out.update(decode(scores))
                except KeyError:  # that filter has not scored yet (it comes later in the pipeline)
                    pass
        if self.recipes:
            from lmdata.lang.recipes import recipe_for

            lang = doc_language(out)
            if lang is not None:
                out[self.LANGUAGE_LABEL] = lang
            out[self.RECIPE_LABEL] = recipe_for(lang).key
        return out

    def thresholds_for(self, lang: str | None) -> list[dict[str, Any]]:
        """Every filter's resolved thresholds for a document in ``lang`` (cached per language)."""
        if not self.recipes:
            return self.thresholds
        got = self._by_lang.get(lang)
        if got is None:
            from lmdata.lang.recipes import recipe_for

            recipe = recipe_for(lang)
            per_lang = self.languages.get(lang, {}) if lang else {}
            got = []
            for f, ov in zip(self.filters, self._overrides, strict=True):
                from_recipe = getattr(f, "recipe_thresholds", None)
                merged = {
                    **(from_recipe(recipe) if from_recipe is not None else {}),
                    **ov,
                    **per_lang.get(f.name, {}),
                }
                got.append(f.resolve_thresholds(merged))
            self._by_lang[lang] = got
        return got

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
        new.recipes = self.recipes
        new.languages = self.languages
        new._by_lang = {}
        new._overrides = [
            {**ov, **(overrides.get(f.name) or {})}
            for f, ov in zip(self.filters, self._overrides, strict=True)
        ]
        new.thresholds = [
            {**th, **f.resolve_thresholds(overrides[f.name])} if overrides.get(f.name) else th
            for f, th in zip(self.filters, self.thresholds, strict=True)
        ]
        return new

    @staticmethod
    def _lang_step(f: Filter, text: str, lang: str | None) -> tuple[dict[str, float], str]:
        both = getattr(f, "score_and_transform_lang", None)
        if both is not None:
            return both(text, lang)
        return f.score(text, lang), text  # type: ignore[call-arg]

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
                s, edited = self._lang_step(f, current, doc_language(self.labels(scores)))
            else:
                s, edited = f.score_and_transform(current)
            scores.update(s)
            if self.chain_transforms:
                current = edited
        return PipelineResult(scores, self.decide(scores), current, self.labels(scores))

    def _batched(self, f: Filter) -> bool:
        """Whether a filter scores a whole batch in one call (a model or engine call per batch:
        toxicity_v1's classifier, pii_presidio_v1's fast path); the others score per document."""
        if getattr(f, "uses_language", False):
            return not hasattr(f, "score_and_transform_lang")
        has_batch = getattr(f, "score_and_transform_batch", None) is not None
        return has_batch and getattr(f, "score_file", None) is None

    def _doc_step(self, f: Filter, text: str, meta, scores) -> tuple[dict[str, float], str]:
        file_scorer = getattr(f, "score_file", None)
        if file_scorer is not None and meta is not None:
            return file_scorer(text, meta), text
        if getattr(f, "uses_language", False):
            return self._lang_step(f, text, doc_language(self.labels(scores)))
        return f.score_and_transform(text)

    def apply_batch(
        self, texts: Sequence[str], metas: Sequence[Mapping[str, Any] | None] | None = None
    ) -> list[PipelineResult]:
        """``[apply(t, m) ...]`` with one call per filter for the whole batch where a filter has a
        batch path (``score_and_transform_batch``, e.g. pii_presidio_v1's fast path; toxicity's
        classifier); the results are the same as per-document ``apply``.

        Consecutive per-document filters run document by document (all of them on one document,
        then the next), so the tokens one filter computed are still in the small per-text cache
        of :mod:`lmdata.lang.tokenize` / :mod:`lmdata.filters.text_utils` for the next: a
        document is word-segmented once, not once per filter (Kiwi, MeCab, jieba)."""
        metas = list(metas) if metas is not None else [None] * len(texts)
        current = list(texts)
        scores: list[dict[str, float]] = [{} for _ in current]
        groups: list[list[Filter]] = []
        for f in self.filters:
            if self._batched(f) or not groups or self._batched(groups[-1][0]):
                groups.append([f])
            else:
                groups[-1].append(f)
        for group in groups:
            f = group[0]
            if self._batched(f):
                if getattr(f, "uses_language", False):
                    langs = [doc_language(self.labels(s)) for s in scores]
                    results = list(zip(f.score_batch(current, langs), current, strict=True))
                else:
                    results = f.score_and_transform_batch(current)  # type: ignore[attr-defined]
                for i, (s, edited) in enumerate(results):
                    scores[i].update(s)
                    if self.chain_transforms:
                        current[i] = edited
                continue
            for i, meta in enumerate(metas):
                for g in group:
                    s, edited = self._doc_step(g, current[i], meta, scores[i])
                    scores[i].update(s)
                    if self.chain_transforms:
                        current[i] = edited
        return [
            PipelineResult(s, self.decide(s), t, self.labels(s))
            for s, t in zip(scores, current, strict=True)
        ]

    def transform(self, text: str, lang: str | None = None) -> str:
        """Every filter's text transform in order (for documents kept by a re-decision: their
        text is rebuilt from bronze), language-aware filters with the document's language."""
        for f in self.filters:
            step = getattr(f, "transform_lang", None)
            text = step(text, lang) if step is not None else f.transform(text)
        return text

    def score_all(self, text: str) -> dict[str, float]:
        return self.apply(text).scores

    def _doc_thresholds(self, scores: Mapping[str, float]) -> list[dict[str, Any]]:
        if not self.recipes:
            return self.thresholds
        return self.thresholds_for(doc_language(self.labels(scores)))

    def decide(self, scores: Mapping[str, float]) -> str | None:
        """The first drop reason in pipeline order, or None (keep); thresholds of the
        document's language when recipes are on."""
        for f, th in zip(self.filters, self._doc_thresholds(scores), strict=True):
            reason = f.check(scores, th)
            if reason is not None:
                return reason
        return None

    def reasons(self, scores: Mapping[str, float]) -> list[str]:
        """The drop reason of every filter that drops the document (for stats)."""
        out = []
        for f, th in zip(self.filters, self._doc_thresholds(scores), strict=True):
            reason = f.check(scores, th)
            if reason is not None:
                out.append(reason)
        return out

    def run(self, text: str) -> tuple[dict[str, float], str | None]:
        result = self.apply(text)
        return result.scores, result.reason

    def __repr__(self) -> str:
        return f"FilterPipeline({self.names})"
