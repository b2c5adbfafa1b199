"""Mixture specs (`configs/mixtures/<name>.yaml`) and the sampling math.

A mixture names its sources (web documents by language, code files by language), how much of
each it wants (a fixed weight, a token budget, or a share by temperature sampling), the seed of
every random choice, the tokenizer, and the Delta versions of the tables it reads ("latest" is
resolved to a number when the mixture is built and recorded in the manifest).

Sizes are measured in tokens, estimated before tokenization as UTF-8 bytes x the source's
tokens per byte (measured on the tokenizer's training sample); the manifest records the exact
token counts written. Where the rates do not depend on the sizes (``size_free_rates``) and the
tokenizer is given, nothing is estimated: tokens per byte are measured on what was tokenized.

Sampling plan (``plan``), per source i with natural size n_i:
  - a source with ``tokens: B`` gets target B;
  - a source with ``weight: w`` gets the share w of the rest;
  - the sources with neither share what is left (1 - sum w) by temperature:
    p_i = n_i^(1/T) / sum_j n_j^(1/T)  (T=1: proportional to size, T -> inf: uniform);
  - the rest is ``sampling.total_tokens`` minus the budgets, or (null) the natural size of the
    weighted and temperature sources together;
  - rate_i = target_i / n_i, capped at ``sampling.max_rate`` (a capped source simply ends up
    smaller: the others are not scaled up): each document is taken floor(rate) times, plus once more with
    probability frac(rate), decided by a hash of (seed, source, doc_id) - deterministic and
    independent of how the data is partitioned.

A source may also `filter` and `weight` by buckets of any stored attribute (`filter:`,
`bucket:`; lmdata.mixture.select); its natural size is then its bucket-weighted size.

Pure module: pydantic + yaml.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lmdata.config import validate_mapping
from lmdata.errors import ConfigError
from lmdata.mixture.select import BucketSpec, Condition, normalize_filter

DEFAULT_SPEC_DIR = "configs/mixtures"
WEB_TABLE = "gold/web_documents"
CODE_TABLE = "gold/code_files"
WEB_LANG_TABLE = "silver/web_attributes"
WEB_LANG_COLUMN = (
    "language"  # the language attribute of curate (older lakes: lid_fasttext_v1__lang)
)

# table -> the attributes table a source's `filter` / `bucket` columns are joined from (by doc_id)
ATTRIBUTES = {WEB_TABLE: WEB_LANG_TABLE, CODE_TABLE: "silver/code_attributes"}
# table -> (kind, where the language comes from: (table, column)); the language of a web
# document is the language-ID label curate stored in silver/web_attributes.
TABLES: dict[str, tuple[str, tuple[str, str]]] = {
    WEB_TABLE: ("web", (WEB_LANG_TABLE, WEB_LANG_COLUMN)),
    CODE_TABLE: ("code", (CODE_TABLE, "language")),
}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./+-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSpec(_Strict):
    name: str  # e.g. "web/en", "code/python"
    table: Literal["gold/web_documents", "gold/code_files"]
    languages: list[str] | None = None  # keep only these (case-insensitive); null = all
    exclude_languages: list[str] = Field(default_factory=list)
    weight: float | None = Field(None, gt=0, le=1)  # fixed share of the non-budget mixture
    tokens: int | None = Field(None, gt=0)  # absolute token budget (up- or down-sampled to it)
    # selection by stored attributes (lmdata.mixture.select): conditions per column, and weights
    # by buckets of one number column
    filter: dict[str, Condition] = Field(default_factory=dict)
    bucket: BucketSpec | None = None

    @field_validator("filter", mode="before")
    @classmethod
    def _filter(cls, v: Any) -> Any:
        return normalize_filter(v)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _SOURCE_NAME.match(v):
            raise ValueError(f"source name {v!r}: letters, digits and _./+- only")
        return v

    @field_validator("languages", "exclude_languages")
    @classmethod
    def _langs(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else sorted({x.strip().lower() for x in v if x.strip()})

    @model_validator(mode="after")
    def _one_size(self) -> SourceSpec:
        if self.weight is not None and self.tokens is not None:
            raise ValueError(f"source {self.name}: give weight or tokens, not both")
        if self.languages is not None and set(self.languages) & set(self.exclude_languages):
            raise ValueError(f"source {self.name}: a language is both kept and excluded")
        return self

    @property
    def kind(self) -> str:
        return TABLES[self.table][0]

    @property
    def selects(self) -> bool:
        """Whether the source selects by attributes (filter or bucket)."""
        return bool(self.filter) or self.bucket is not None

    def filter_dict(self) -> dict[str, Any]:
        f: dict[str, Any] = {}
        if self.languages is not None:
            f["languages"] = list(self.languages)
        if self.exclude_languages:
            f["exclude_languages"] = list(self.exclude_languages)
        return f


class SamplingSpec(_Strict):
    temperature: float = Field(1.0, gt=0)
    total_tokens: int | None = Field(None, gt=0)
    max_rate: float | None = Field(None, gt=0)  # cap on up-sampling (repetitions per document)


class TokenizerSpec(_Strict):
    path: str | None = None  # a tokenizer.json to use as is (relative to the spec file); else train
    vocab_size: int = Field(8192, ge=300, le=1_000_000)
    min_frequency: int = Field(2, ge=1)
    special_tokens: list[str] = Field(default_factory=lambda: ["<|endoftext|>", "<|pad|>"])
    eod_token: str = "<|endoftext|>"
    train_sample_bytes: int = Field(50_000_000, gt=0)  # text the BPE trainer sees at most

    @model_validator(mode="after")
    def _eod(self) -> TokenizerSpec:
        if self.path is None and self.eod_token not in self.special_tokens:
            raise ValueError(f"eod_token {self.eod_token!r} must be one of special_tokens")
        return self


class ShardSpec(_Strict):
    count: int | None = Field(None, gt=0)  # fixed number of shards (Spark tasks)
    max_text_bytes: int = Field(256 * 1024 * 1024, gt=0)  # else: text bytes per shard


class MixtureSpec(_Strict):
    name: str
    description: str = ""
    seed: int = Field(0, ge=0, lt=2**31)
    tables: dict[str, int | Literal["latest"]] = Field(default_factory=dict)
    sources: list[SourceSpec]
    sampling: SamplingSpec = Field(default_factory=SamplingSpec)
    tokenizer: TokenizerSpec = Field(default_factory=TokenizerSpec)
    shards: ShardSpec = Field(default_factory=ShardSpec)
    limitations: list[str] = Field(default_factory=list)  # extra lines for the dataset card

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"mixture name {v!r}: lowercase letters, digits and _.- only")
        return v

    @field_validator("tables")
    @classmethod
    def _tables(cls, v: dict[str, Any]) -> dict[str, Any]:
        for t, ver in v.items():
            if isinstance(ver, int) and ver < 0:
                raise ValueError(f"table {t}: version must be >= 0 or 'latest'")
        return v

    @model_validator(mode="after")
    def _check(self) -> MixtureSpec:
        if not self.sources:
            raise ValueError("sources: at least one source")
        names = [s.name for s in self.sources]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"sources: duplicate names {dup}")
        total_w = sum(s.weight or 0.0 for s in self.sources)
        if total_w > 1 + 1e-9:
            raise ValueError(f"sources: weights sum to {total_w:g} > 1")
        budget = sum(s.tokens or 0 for s in self.sources)
        if self.sampling.total_tokens is not None and budget > self.sampling.total_tokens:
            raise ValueError(
                f"sources: token budgets ({budget}) exceed sampling.total_tokens "
                f"({self.sampling.total_tokens})"
            )
        unknown = sorted(set(self.tables) - set(self.required_tables()))
        if unknown:
            raise ValueError(f"tables: {unknown} are read by no source")
        return self

    def required_tables(self) -> list[str]:
        """Every table the mixture reads (sources + where their languages come from + the
        attributes tables of sources that select by attributes)."""
        out: list[str] = []
        for s in self.sources:
            extra = [ATTRIBUTES[s.table]] if s.selects else []
            for t in (s.table, TABLES[s.table][1][0], *extra):
                if t not in out:
                    out.append(t)
        return out

    def table_versions(self) -> dict[str, int | str]:
        """Pinned versions; tables the spec does not name are read at 'latest'."""
        return {t: self.tables.get(t, "latest") for t in self.required_tables()}


def parse_spec(data: Any, source: str = "<mixture>") -> MixtureSpec:
    return validate_mapping(MixtureSpec, data, source)


def spec_path(name_or_path: str, spec_dir: str | Path | None = None) -> Path:
    """`sample` -> configs/mixtures/sample.yaml (`$LMDATA_MIXTURE_SPECS`, else ./configs/mixtures,
    else the project's); a path ending in .yaml/.yml is taken as is."""
    if name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path:
        return Path(name_or_path)
    if spec_dir is None:
        spec_dir = os.environ.get("LMDATA_MIXTURE_SPECS") or DEFAULT_SPEC_DIR
        if not Path(spec_dir).is_dir():  # not run from the project root (Airflow, spark-submit)
            spec_dir = Path(__file__).resolve().parents[3] / DEFAULT_SPEC_DIR
    return Path(spec_dir) / f"{name_or_path}.yaml"


def load_spec(name_or_path: str, spec_dir: str | Path | None = None) -> tuple[MixtureSpec, Path]:
    p = spec_path(name_or_path, spec_dir)
    if not p.exists():
        raise ConfigError(f"mixture spec not found: {p}")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {e}") from None
    spec = parse_spec(data, str(p))
    if spec.name != p.stem:
        raise ConfigError(f"{p}: name {spec.name!r} must match the file name {p.stem!r}")
    return spec, p


# --------------------------------------------------------------------------- sampling math


def temperature_weights(sizes: dict[str, float], temperature: float) -> dict[str, float]:
    """p_i = n_i^(1/T) / sum_j n_j^(1/T); empty sources get 0. T=1 is proportional to size."""
    if temperature <= 0:
        raise ConfigError(f"temperature must be > 0, got {temperature}")
    nonzero = {k: v for k, v in sizes.items() if v > 0}
    if not nonzero:
        return {k: 0.0 for k in sizes}
    # in log space: large sizes and small temperatures do not overflow
    logs = {k: math.log(v) / temperature for k, v in nonzero.items()}
    m = max(logs.values())
    exps = {k: math.exp(v - m) for k, v in logs.items()}
    z = sum(exps.values())
    return {k: exps.get(k, 0.0) / z for k in sizes}


@dataclass(frozen=True)
class SourcePlan:
    name: str
    natural: float  # natural size (tokens, estimated)
    target: float  # wanted size (tokens)
    rate: float  # target / natural: < 1 down-sampling, > 1 up-sampling (repetition)
    weight: float  # target / sum of targets

    @property
    def whole(self) -> int:
        return int(math.floor(self.rate))

    @property
    def frac(self) -> float:
        return self.rate - math.floor(self.rate)


def plan(
    spec: MixtureSpec, natural: dict[str, float], *, strict: bool = False
) -> dict[str, SourcePlan]:
    """Targets and sampling rates per source from natural sizes (tokens, estimated).

    An empty source gets rate 0 (strict=True: ConfigError instead)."""
    targets: dict[str, float] = {}
    share_sources = [s for s in spec.sources if s.tokens is None]
    for s in spec.sources:
        if s.tokens is not None:
            targets[s.name] = float(s.tokens)
    budget = sum(targets.values())
    if spec.sampling.total_tokens is not None:
        rest = float(spec.sampling.total_tokens) - budget
    else:
        rest = float(sum(natural.get(s.name, 0.0) for s in share_sources))
    fixed = {s.name: s.weight for s in share_sources if s.weight is not None}
    temp = [s.name for s in share_sources if s.weight is None]
    fixed_sum = sum(fixed.values())
    if not temp and fixed_sum > 0:  # only weighted sources: weights are relative
        fixed = {k: v / fixed_sum for k, v in fixed.items()}
        fixed_sum = 1.0
    tw = temperature_weights({k: natural.get(k, 0.0) for k in temp}, spec.sampling.temperature)
    for k, v in fixed.items():
        targets[k] = v * rest
    for k in temp:
        targets[k] = tw[k] * (1.0 - fixed_sum) * rest
    out: dict[str, SourcePlan] = {}
    total_target = 0.0
    for s in spec.sources:
        n = float(natural.get(s.name, 0.0))
        t = targets.get(s.name, 0.0)
        if n <= 0:
            if strict:
                raise ConfigError(f"source {s.name}: no documents in its tables")
            t = 0.0
        # rounded: a rate meant to be exactly 1 (T=1, natural total) is not 0.99999999999
        rate = round(t / n, 12) if n > 0 else 0.0
        cap = spec.sampling.max_rate
        if cap is not None and rate > cap:
            rate, t = cap, cap * n
        total_target += t
        out[s.name] = SourcePlan(s.name, n, t, rate, 0.0)
    return {
        k: SourcePlan(
            p.name, p.natural, p.target, p.rate, p.target / total_target if total_target else 0.0
        )
        for k, p in out.items()
    }


def size_free_rates(spec: MixtureSpec) -> dict[str, float] | None:
    """The rate of every source when ``plan`` gives the same rates whatever the natural sizes
    (an empty source aside, which gets nothing either way), else None.

    That is the case without token budgets (per source or ``total_tokens``) when the sources
    share by size alone: temperature 1 over every source (targets = natural sizes), or a single
    sharing source. Every rate is then 1 (capped at ``max_rate``), and the mix stage needs
    neither the sizes nor tokens per byte before it samples: it measures both exactly on the
    documents it tokenizes."""
    if spec.sampling.total_tokens is not None or any(s.tokens is not None for s in spec.sources):
        return None
    weighted = [s for s in spec.sources if s.weight is not None]
    if len(spec.sources) > 1 and (weighted or spec.sampling.temperature != 1.0):
        return None
    cap = spec.sampling.max_rate
    rate = 1.0 if cap is None else min(1.0, cap)
    return {s.name: rate for s in spec.sources}


def copies(rate: float, u: float) -> int:
    """How many times a document is taken at `rate`, given its uniform draw u in [0, 1)."""
    whole = math.floor(rate)
    return int(whole + (1 if u < rate - whole else 0))


def language_matches(source: SourceSpec, language: str | None) -> bool:
    lang = (language or "und").lower()
    if source.languages is not None and lang not in source.languages:
        return False
    return lang not in source.exclude_languages
