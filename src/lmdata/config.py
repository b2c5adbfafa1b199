"""Typed, validated configuration: one `params.yaml` (also DVC's params file) -> config objects.

A wrong key or value fails at start with a message that names the key, e.g.
``params.yaml: ingest_cc.max_record_bytes: Input should be greater than 0``.
Pure module: pydantic + yaml only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from lmdata.errors import ConfigError

DEFAULT_PARAMS = "params.yaml"
DEFAULT_LAKE = "./var/lake"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SparkConfig(_Strict):
    master: str = "local[*]"  # local[N], spark://host:7077, k8s://https://..., yarn
    app_name: str = "lmdata"
    shuffle_partitions: int = Field(8, gt=0)
    driver_memory: str = "2g"
    ui: bool = False
    log_level: Literal["ERROR", "WARN", "INFO", "DEBUG"] = "WARN"
    conf: dict[str, str] = Field(default_factory=dict)  # any extra spark.* settings

    @field_validator("conf")
    @classmethod
    def _conf_keys(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if not key.startswith("spark."):
                raise ValueError(f"spark conf key {key!r} must start with 'spark.'")
        return {k: str(val) for k, val in v.items()}


class S3Config(_Strict):
    endpoint_url: str | None = None
    unsigned: bool = True  # the public commoncrawl bucket is read unsigned
    region: str = "us-east-1"


class HttpConfig(_Strict):
    timeout_s: float = Field(60.0, gt=0)
    retries: int = Field(3, ge=0)
    backoff_s: float = Field(0.5, ge=0)


class IngestCCConfig(_Strict):
    crawl: str = Field("CC-MAIN-2024-22", pattern=r"^CC-MAIN-\d{4}-\d{2}$")
    source: str = (
        "samples/commoncrawl"  # s3://commoncrawl, https://data.commoncrawl.org, or a local dir
    )
    format: Literal["wet", "warc", "auto"] = "wet"
    slices: int = Field(1, gt=0)  # the listing is cut into this many deterministic slices
    slice_start_date: str = "2026-01-01"  # logical date of slice 0 for scheduled runs
    limit: int | None = Field(None, gt=0)  # keep only the first N files of a slice (samples)
    max_record_bytes: int = Field(50 * 1024 * 1024, gt=0)
    files_per_task: int = Field(1, gt=0)
    s3: S3Config = Field(default_factory=S3Config)
    http: HttpConfig = Field(default_factory=HttpConfig)


class CodeSourceConfig(_Strict):
    uri: str  # a directory, a git checkout or an archive (.tar.gz, .zip, ...)
    repo_id: str | None = None
    license_override: str | None = None  # SPDX expression that replaces detection
    kind: Literal["dir", "git", "archive"] | None = None


class IngestCodeConfig(_Strict):
    sources: list[CodeSourceConfig] = Field(default_factory=list)
    max_files_per_unit: int = Field(2000, gt=0)  # huge repositories are split into file batches
    max_file_bytes: int = Field(1_000_000, gt=0)  # The Stack's 1 MB cap
    max_archive_bytes: int = Field(2 * 1024**3, gt=0)
    max_compression_ratio: float = Field(100.0, gt=1)
    git_mode: Literal["head", "worktree"] = "head"


class ExactDedupConfig(_Strict):
    unicode_form: Literal["NFC", "NFKC", "none"] = "NFKC"
    lowercase: bool = True
    collapse_whitespace: bool = True
    strip_punctuation: bool = False
    url_dedup: bool = True


class FuzzyDedupConfig(_Strict):
    """MinHash-LSH. bands x rows are explicit (never datasketch's default threshold): the
    published 5-gram, 14 bands x 8 rows setting; the S-curve is in BENCHMARKS.md."""

    enabled: bool = True
    ngram: int = Field(5, ge=1)
    shingle: Literal["word", "char"] = "word"
    num_perm: int = Field(112, ge=1)
    bands: int = Field(14, ge=1)
    rows: int = Field(8, ge=1)
    seed: int = Field(42, ge=0, lt=2**32)
    lowercase: bool = True
    verify: Literal["none", "estimated"] = (
        "none"  # "estimated": MinHash Jaccard >= verify_threshold
    )
    verify_threshold: float = Field(0.7, gt=0, le=1)

    @model_validator(mode="after")
    def _fits(self) -> FuzzyDedupConfig:
        if self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"bands x rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}"
            )
        return self

    def minhash_params(self):
        from lmdata.dedup.minhash import MinHashParams

        return MinHashParams(
            ngram=self.ngram,
            shingle=self.shingle,
            num_perm=self.num_perm,
            bands=self.bands,
            rows=self.rows,
            seed=self.seed,
            lowercase=self.lowercase,
        )


class DedupConfig(_Strict):
    exact: ExactDedupConfig = Field(default_factory=ExactDedupConfig)
    fuzzy: FuzzyDedupConfig = Field(default_factory=FuzzyDedupConfig)
    cross_source: bool = False  # also dedup web against kept code and code against kept web


DEFAULT_WEB_FILTERS: dict[str, dict[str, Any] | None] = {
    "lid_fasttext_v1": {},
    "gopher_repetition_v1": {},
    "gopher_quality_v1": {},
    "c4_v1": {},
    "fineweb_v1": {},
    "toxicity_v1": {},
    "pii_presidio_v1": {},
}


class FilterSetConfig(_Strict):
    """An ordered pipeline: filter registry name -> threshold overrides (empty = published defaults).
    The first filter that drops a document gives its reason; every filter scores every document."""

    pipeline: dict[str, dict[str, Any] | None] = Field(
        default_factory=lambda: dict(DEFAULT_WEB_FILTERS)
    )
    chain_transforms: bool = True  # later filters see the text edited by earlier ones (C4 lines)

    @field_validator("pipeline")
    @classmethod
    def _known_filters(
        cls, v: dict[str, dict[str, Any] | None]
    ) -> dict[str, dict[str, Any] | None]:
        from lmdata.filters.base import FilterPipeline

        try:
            FilterPipeline.from_config(v)
        except ConfigError as e:
            raise ValueError(str(e)) from None
        return v


DEFAULT_CODE_FILTERS: dict[str, dict[str, Any] | None] = {
    "code_license_v1": {},
    "code_vendored_v1": {},
    "starcoder_code_v1": {},
    "secrets_v1": {},
}


class CurateConfig(_Strict):
    web: FilterSetConfig = Field(default_factory=FilterSetConfig)
    code: FilterSetConfig = Field(
        default_factory=lambda: FilterSetConfig(pipeline=dict(DEFAULT_CODE_FILTERS))
    )


class Params(_Strict):
    spark: SparkConfig = Field(default_factory=SparkConfig)
    ingest_cc: IngestCCConfig = Field(default_factory=IngestCCConfig)
    ingest_code: IngestCodeConfig = Field(default_factory=IngestCodeConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    curate: CurateConfig = Field(default_factory=CurateConfig)


def _format_error(source: str, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{source}: {key}: {msg}")
    return "\n".join(lines)


def parse_params(data: dict[str, Any] | None, source: str = DEFAULT_PARAMS) -> Params:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: top level must be a mapping, got {type(data).__name__}")
    try:
        return Params.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_error(source, e)) from None


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Apply one `section.key=value` override (value parsed as YAML) to a raw params dict."""
    parts = dotted.split(".")
    cur = data
    for p in parts[:-1]:
        nxt = cur.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"override {dotted}: {p} is not a section")
        cur = nxt
    cur[parts[-1]] = yaml.safe_load(value) if isinstance(value, str) else value


def load_params(
    path: str | os.PathLike | None = None, overrides: list[str] | None = None
) -> Params:
    """Read params.yaml (path, else $LMDATA_PARAMS, else ./params.yaml; missing file = defaults)."""
    p = Path(path or os.environ.get("LMDATA_PARAMS") or DEFAULT_PARAMS)
    data: dict[str, Any] = {}
    if p.exists():
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{p}: not valid YAML: {e}") from None
    elif path is not None:
        raise ConfigError(f"params file not found: {p}")
    for ov in overrides or []:
        if "=" not in ov:
            raise ConfigError(f"override {ov!r}: expected section.key=value")
        k, v = ov.split("=", 1)
        set_dotted(data, k.strip(), v)
    return parse_params(data, str(p))


def resolve_lake(lake: str | None = None) -> str:
    """--lake DIR, else $LMDATA_LAKE, else ./var/lake. Local paths are made absolute."""
    root = lake or os.environ.get("LMDATA_LAKE") or DEFAULT_LAKE
    if "://" in root:
        return root.rstrip("/")
    return str(Path(root).expanduser().resolve())
