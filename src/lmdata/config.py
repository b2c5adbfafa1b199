"""Typed, validated configuration: one `params.yaml` (also DVC's params file) -> config objects.

A wrong key or value fails at start with a message that names the key, e.g.
``params.yaml: ingest_cc.max_record_bytes: Input should be greater than 0``.
Pure module: pydantic + yaml only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, TypeVar

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
    # The driver JVM's heap (-Xmx): a JVM size ("1536m", "2g") or "auto", sized to the work:
    # in local mode the driver is also the executor, and what a heap holds grows with the task
    # slots running at once (each a Parquet row group, Arrow batches, shuffle buffers), not
    # with the input (stages cache DISK_ONLY and spill); lmdata.spark.session.driver_memory.
    driver_memory: str = Field("auto", pattern=r"^(auto|\d+[kKmMgGtT]?)$")
    # The garbage collector of a local-mode driver JVM (lmdata.spark.session.gc_options):
    # "parallel" (throughput: a batch job has no pause target, and it keeps none of G1's
    # remembered sets: 67 MiB of GC structures in NMT at 1g; at 768m it ran as fast as G1 at
    # 1g), "g1" (the JVM's
    # own default on a server-class machine) or "jvm" (no flag). Clusters are never touched.
    local_gc: Literal["parallel", "g1", "jvm"] = "parallel"
    ui: bool = False
    log_level: Literal["ERROR", "WARN", "INFO", "DEBUG"] = "WARN"
    conf: dict[str, str] = Field(default_factory=dict)  # any extra spark.* settings
    # JVM options added to the driver's when lmdata itself launches a local-mode driver (a cold
    # `lmdata <stage>` command, tests); never to spark-submit, a cluster master or the warm
    # Spark Connect server. Default measured in BENCHMARKS.md "Cold Spark command (JVM options)".
    cold_java_options: str = ""
    # ... and with the class data sharing archive `make setup` builds (lmdata.spark.cds), when it
    # exists: ~0.7x the CPU of a cold driver start (BENCHMARKS.md "Cold Spark command").
    class_data_sharing: bool = True

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


class DocsColumnsConfig(_Strict):
    """ingest-docs column map: a field path (dotted = nested) or a list of alternatives; null
    keeps the preset's. metadata: the fields kept as JSON ("*" = every unmapped field)."""

    text: str | list[str] | None = None
    id: str | list[str] | None = None
    url: str | list[str] | None = None
    date: str | list[str] | None = None
    language: str | list[str] | None = None
    metadata: Literal["*"] | list[str] = "*"


class IngestDocsConfig(_Strict):
    """`lmdata ingest-docs`: existing JSONL / Parquet corpora -> a bronze web table."""

    inputs: list[str] = Field(default_factory=list)  # files or folders: local, s3://, https://
    # the rows' `crawl` value (their bronze partition); lower case, never a CC-MAIN-* name
    dataset: str = Field("docs", pattern=r"^[a-z][a-z0-9_.-]{0,63}$")
    preset: Literal["dolma", "redpajama_v2", "fineweb", "hf"] | None = None
    format: Literal["auto", "jsonl", "parquet"] = "auto"
    columns: DocsColumnsConfig = Field(default_factory=DocsColumnsConfig)
    table: str = Field("bronze/web_documents", pattern=r"^bronze/[a-z0-9_]+$")
    slices: int = Field(1, gt=0)
    slice_start_date: str = "2026-01-01"
    limit: int | None = Field(None, gt=0)
    min_text_chars: int = Field(1, ge=0)
    max_record_bytes: int = Field(50 * 1024 * 1024, gt=0)
    files_per_task: int = Field(1, gt=0)
    s3: S3Config = Field(default_factory=lambda: S3Config(unsigned=False))
    http: HttpConfig = Field(default_factory=HttpConfig)


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
    shingle: Literal["word", "char", "language"] = "word"
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
    # lid.176 (+ its macrolanguage group), CLD3 where lid.176 is unsure, then CLD3 on the text
    # without its diacritics
    "lid_cascade_v2": {},
    "gopher_repetition_v2": {},  # *_v2: per-language recipes (FineWeb-2), lmdata.lang.recipes
    "gopher_quality_v2": {},
    "c4_v2": {},
    "fineweb_v2": {},
    "toxicity_v1": {},
    "pii_presidio_v1": {},
}


class NormalizeConfig(_Strict):
    """Text normalization before scoring (lmdata.filters.normalize); every change is counted."""

    ftfy: bool = True  # mojibake repair only
    unicode_form: Literal["NFC", "NFKC", "none"] = "NFC"
    strip_control: bool = True  # C0/C1 controls (not TAB/LF/CR/FF); CRLF/CR -> LF
    strip_zero_width: bool = True  # ZWSP, WJ, BOM, soft hyphen (ZWJ/ZWNJ kept)
    collapse_whitespace: bool = True  # never for code (indentation)
    fullwidth_punct: dict[Literal["zh", "ja"], bool] = Field(default_factory=dict)


class RepeatedLinesConfig(_Strict):
    """CCNet set-level line dedup per crawl batch (lmdata.dedup.lines)."""

    enabled: bool = True
    min_docs: int = Field(3, ge=2)  # a line in >= max(min_docs, ceil(min_doc_frac * docs)) docs
    min_doc_frac: float = Field(0.001, ge=0, le=1)
    min_chars: int = Field(0, ge=0)  # a document left shorter than this is dropped
    top: int = Field(20, ge=0)  # most frequent removed lines kept in the stage stats


class ParagraphDedupConfig(_Strict):
    """Paragraph dedup across batches after the decision (lmdata.dedup.paragraphs)."""

    enabled: bool = True
    min_chars: int = Field(30, ge=1)  # shorter paragraph keys ("Home", "Share") are not deduped
    min_doc_chars: int = Field(0, ge=0)  # a document left shorter than this is dropped
    top: int = Field(20, ge=0)  # most repeated removed paragraphs kept in the stage stats


class SubstringDedupConfig(_Strict):
    """Exact-substring dedup within shards after paragraph dedup (lmdata.dedup.substrings)."""

    enabled: bool = True
    min_bytes: int = Field(200, ge=20)  # ~50 GPT-2 tokens of English (Lee et al.)
    shard_mb: float = Field(16, gt=0)  # shard size: peak memory ~50-90 bytes per byte of text
    min_doc_chars: int = Field(0, ge=0)  # a document left shorter than this is dropped


class DecontamBenchmarkConfig(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    path: str = "builtin"  # "builtin" (humaneval) or a JSONL(.gz) file
    field: str | list[str] = "text"  # JSONL field(s) holding the benchmark text


class DecontamConfig(_Strict):
    """Drop (or flag) documents sharing a word n-gram with a benchmark (lmdata.filters.decontam)."""

    enabled: bool = True
    ngram: int = Field(13, ge=5)
    min_matches: int = Field(1, ge=1)  # matched n-gram positions needed
    action: Literal["drop", "flag"] = "drop"
    benchmarks: list[DecontamBenchmarkConfig] = Field(
        default_factory=lambda: [DecontamBenchmarkConfig(name="humaneval", path="builtin")]
    )

    @field_validator("benchmarks")
    @classmethod
    def _unique(cls, v: list[DecontamBenchmarkConfig]) -> list[DecontamBenchmarkConfig]:
        names = [b.name for b in v]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate benchmark names in {names}")
        return v


class FilterSetConfig(_Strict):
    """An ordered pipeline: filter registry name -> threshold overrides (empty = published defaults).
    The first filter that drops a document gives its reason; every filter scores every document.
    Before scoring: normalize -> repeated_lines (web) -> decontam; null switches a step off."""

    normalize: NormalizeConfig | None = Field(default_factory=NormalizeConfig)
    repeated_lines: RepeatedLinesConfig | None = Field(default_factory=RepeatedLinesConfig)
    decontam: DecontamConfig | None = Field(default_factory=DecontamConfig)
    # after the decision, on kept documents (web; off for code)
    paragraph_dedup: ParagraphDedupConfig | None = Field(default_factory=ParagraphDedupConfig)
    substring_dedup: SubstringDedupConfig | None = Field(default_factory=SubstringDedupConfig)

    pipeline: dict[str, dict[str, Any] | None] = Field(
        default_factory=lambda: dict(DEFAULT_WEB_FILTERS)
    )
    chain_transforms: bool = True  # later filters see the text edited by earlier ones (C4 lines)
    # per-language threshold overrides over the recipe (lmdata.lang.recipes):
    # {lid.176 label: {filter name: {threshold: value}}}, e.g. {zh: {gopher_quality_v2:
    # {min_stop_word_count: 1}}}; the most specific wins (recipe < pipeline < languages)
    languages: dict[str, dict[str, dict[str, Any] | None] | None] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_filters(self) -> FilterSetConfig:
        from lmdata.filters.base import FilterPipeline

        try:
            FilterPipeline.from_config(self.pipeline, languages=self.languages)
        except ConfigError as e:
            raise ValueError(str(e)) from None
        return self


DEFAULT_CODE_FILTERS: dict[str, dict[str, Any] | None] = {
    "code_license_v1": {},
    "code_vendored_v1": {},
    "starcoder_code_v1": {},
    "secrets_v1": {},
}


class CodeFilterSetConfig(FilterSetConfig):
    """Code: only safe normalization (no mojibake guessing, no whitespace or zero-width edits in
    string literals / indentation) and no cross-document line removal."""

    pipeline: dict[str, dict[str, Any] | None] = Field(
        default_factory=lambda: dict(DEFAULT_CODE_FILTERS)
    )
    normalize: NormalizeConfig | None = Field(
        default_factory=lambda: NormalizeConfig(
            ftfy=False, strip_zero_width=False, collapse_whitespace=False
        )
    )
    repeated_lines: RepeatedLinesConfig | None = None
    paragraph_dedup: ParagraphDedupConfig | None = None
    substring_dedup: SubstringDedupConfig | None = None

    @model_validator(mode="after")
    def _safe_for_code(self) -> CodeFilterSetConfig:
        if self.repeated_lines is not None and self.repeated_lines.enabled:
            raise ValueError("repeated_lines: line removal is for web text only (code keeps lines)")
        if self.normalize is not None and self.normalize.collapse_whitespace:
            raise ValueError("normalize.collapse_whitespace would destroy code indentation")
        return self


class CurateConfig(_Strict):
    web: FilterSetConfig = Field(default_factory=FilterSetConfig)
    code: CodeFilterSetConfig = Field(default_factory=CodeFilterSetConfig)


class QualityConfig(_Strict):
    """Quality gates (`lmdata validate`, lmdata.quality): bounds of the computed-metric checks."""

    reports_dir: str | None = None  # null: $LMDATA_REPORTS, else <lake>/../reports (var/reports)
    max_filter_removal_rate: float = Field(0.95, ge=0, le=1)  # per filter, of a curate batch
    min_kept_rate: float = Field(0.01, ge=0, le=1)  # a curate batch keeping less fails
    max_duplicate_rate: float = Field(0.9, ge=0, le=1)  # of a dedup batch
    max_pii_left_share: float = Field(0.0, ge=0, le=1)  # gold documents with PII after redaction
    pii_sample_rows: int | None = Field(None, gt=0)  # re-scan at most N gold rows (null: all)
    max_language_tvd: float = Field(0.5, ge=0, le=1)  # vs the previous version of the table
    min_drift_rows: int = Field(10, ge=1)  # fewer rows in either version: drift not checked
    web_languages: list[str] | None = None  # null: the lid filter's allow-list, else any label
    code_languages: list[str] | None = None  # null: any language


class TrainKubernetesConfig(_Strict):
    """`train.launcher: kubernetes`: one GPU pod running `python -m lmdata.train.cli ...`."""

    namespace: str = "default"
    image: str = "lmdata-train:latest"  # an image with lmdata + CUDA torch installed
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    gpus: int = Field(1, ge=0)  # nvidia.com/gpu limit
    cpu: str = "8"
    memory: str = "64Gi"
    shm_size: str = "8Gi"  # /dev/shm for DataLoader workers
    service_account: str | None = None
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    data_pvc: str | None = None  # PersistentVolumeClaim holding shards + outputs, at data_mount
    data_mount: str = "/data"
    env: dict[str, str] = Field(default_factory=dict)
    apply: bool = False  # true: kubectl apply + wait + logs; false: only write pod.yaml
    kubectl: str = "kubectl"
    context: str | None = None


class TrainRemoteConfig(_Strict):
    """`train.launcher: remote`: an argv template; {host} {workdir} {command} are substituted."""

    host: str | None = None
    workdir: str = "~/lmdata"
    python: str = "python"
    command: list[str] = Field(
        default_factory=lambda: [
            "ssh",
            "-o",
            "BatchMode=yes",
            "{host}",
            "cd {workdir} && {command}",
        ]
    )


class TrainConfigParams(_Strict):
    """`lmdata train` defaults and how the training DAG launches it."""

    launcher: Literal["local", "kubernetes", "remote"] = "local"  # or $LMDATA_TRAIN_LAUNCHER
    config: Literal["auto", "tiny", "small"] = "auto"  # auto: small on CUDA, tiny on CPU
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    steps: int = Field(200, gt=0)
    batch_size: int | None = Field(None, gt=0)
    seq_len: int | None = Field(None, gt=0)
    lr: float | None = Field(None, gt=0)
    seed: int = Field(1234, ge=0)
    eval_batches: int = Field(4, gt=0)
    num_workers: int | None = Field(None, ge=0)
    compile: bool = False
    verify_shards: bool = True
    out_dir: str = "var/train"  # outputs go to <out_dir>/<mixture>-v<version>
    python: str | None = None  # interpreter of the local launcher (default: the running one)
    timeout_s: int = Field(6 * 3600, gt=0)
    kubernetes: TrainKubernetesConfig = Field(default_factory=TrainKubernetesConfig)
    remote: TrainRemoteConfig = Field(default_factory=TrainRemoteConfig)


class LakeConfig(_Strict):
    """Delta maintenance (lake_maintenance DAG): OPTIMIZE (+ Z-ORDER) and VACUUM."""

    vacuum_retention_hours: float = Field(720.0, ge=0)
    optimize: bool = True
    tables: list[str] = Field(default_factory=list)  # empty: every Spark-written table
    zorder: dict[str, list[str]] = Field(default_factory=dict)


class Params(_Strict):
    spark: SparkConfig = Field(default_factory=SparkConfig)
    ingest_cc: IngestCCConfig = Field(default_factory=IngestCCConfig)
    ingest_code: IngestCodeConfig = Field(default_factory=IngestCodeConfig)
    ingest_docs: IngestDocsConfig = Field(default_factory=IngestDocsConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    curate: CurateConfig = Field(default_factory=CurateConfig)
    train: TrainConfigParams = Field(default_factory=TrainConfigParams)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    lake: LakeConfig = Field(default_factory=LakeConfig)


def _format_error(source: str, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{source}: {key}: {msg}")
    return "\n".join(lines)


_M = TypeVar("_M", bound=BaseModel)


def validate_mapping(model: type[_M], data: Any, source: str) -> _M:
    """`model` from a parsed YAML mapping; any problem is a ConfigError naming `source` + key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: top level must be a mapping, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_error(source, e)) from None


def parse_params(data: dict[str, Any] | None, source: str = DEFAULT_PARAMS) -> Params:
    return validate_mapping(Params, {} if data is None else data, source)


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
