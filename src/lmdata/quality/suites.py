"""Which suite gates which table, the checks computed outside GX, and readable failures.

Pure module (pandas/pyarrow only, no pyspark, no great_expectations at import time).

Every gated table has two GX suites in `expectations/expectations/`:

* ``<suite>`` on the rows of the table version (a Spark DataFrame): schema, nulls, id
  uniqueness, value ranges, languages in the configured set;
* ``table_metrics`` on a small pandas frame of computed metrics, one row per subject
  (``batch``, ``filter:<name>``): removal rate per filter, kept rate, duplicate rate, share of
  documents with PII left after redaction, language-mix drift vs the previous version.
  A metric that does not apply is null (GX skips nulls), so one suite serves every table.

The ``shards`` suite checks a mixture manifest's per-shard rows.
Bounds come from params.yaml ``quality:`` as GX expectation parameters (``{"$PARAMETER": k}``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmdata.errors import ConfigError

METRICS_SUITE = "table_metrics"
SHARDS_SUITE = "shards"
METRIC_COLUMNS = (
    "removal_rate",
    "kept_rate",
    "duplicate_rate",
    "pii_left_share",
    "language_tvd",
)


@dataclass(frozen=True)
class TableSpec:
    table: str  # lake table name
    suite: str  # GX suite / checkpoint / asset name of its rows
    source: str  # "web" | "code"
    kind: str  # "bronze" | "attributes" | "gold"
    language_column: str | None  # the column the language mix is read from (None: joined)


LID_LANG = "language"  # lmdata.lang.LANGUAGE_COLUMN; older lakes: lmdata.lang.language_column
TABLES: dict[str, TableSpec] = {
    t.table: t
    for t in (
        TableSpec("bronze/web_documents", "bronze_web_documents", "web", "bronze", None),
        TableSpec("bronze/code_files", "bronze_code_files", "code", "bronze", "language"),
        TableSpec("silver/web_attributes", "silver_web_attributes", "web", "attributes", LID_LANG),
        TableSpec(
            "silver/code_attributes", "silver_code_attributes", "code", "attributes", "language"
        ),
        TableSpec("gold/web_documents", "gold_web_documents", "web", "gold", LID_LANG),
        TableSpec("gold/code_files", "gold_code_files", "code", "gold", "language"),
    )
}
# the tables a dedup run writes beside gold (duplicate rate) and curate writes (languages)
DEDUP_TABLE = {"web": "silver/web_dedup", "code": "silver/code_dedup"}
ATTRIBUTES_TABLE = {"web": "silver/web_attributes", "code": "silver/code_attributes"}
# the filter whose recognizers re-scan gold text for PII left after redaction
PII_FILTER = {"web": "pii_presidio_v1", "code": "secrets_v1"}


def table_spec(table: str) -> TableSpec:
    try:
        return TABLES[table.strip("/")]
    except KeyError:
        raise ConfigError(
            f"no quality suite for table {table!r}; gated tables: {', '.join(TABLES)}"
        ) from None


def expectations_dir() -> Path:
    """The GX file context: $LMDATA_EXPECTATIONS, else <repo>/expectations."""
    env = os.environ.get("LMDATA_EXPECTATIONS")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[3] / "expectations"


def reports_dir(lake: str, configured: str | None = None) -> Path:
    """quality.reports_dir, else $LMDATA_REPORTS, else <lake>/../reports (./var/reports)."""
    d = configured or os.environ.get("LMDATA_REPORTS")
    if d:
        return Path(d).expanduser().resolve()
    if "://" in lake:
        return Path("var/reports").resolve()
    return Path(lake).resolve().parent / "reports"


def load_suite(name: str, root: Path | None = None) -> dict[str, Any]:
    """A suite's JSON as stored in expectations/expectations/<name>.json."""
    p = (root or expectations_dir()) / "expectations" / f"{name}.json"
    if not p.exists():
        raise ConfigError(f"expectation suite {name!r} not found: {p}")
    return json.loads(p.read_text())


def suite_parameters(suite: Mapping[str, Any]) -> set[str]:
    """Names of the `$PARAMETER`s a suite's expectations use."""
    out: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, Mapping):
            if "$PARAMETER" in v:
                out.add(v["$PARAMETER"])
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    for e in suite.get("expectations", []):
        walk(e.get("kwargs", {}))
    return out


# ----------------------------------------------------------------------------- parameters


def web_languages(params) -> list[str]:
    from lmdata.filters.langid import CASCADE_LANGUAGES as LANGUAGES

    q = params.quality
    if q.web_languages is not None:
        return sorted(q.web_languages)
    pipeline = params.curate.web.pipeline
    lid_cfg = next(
        (
            pipeline[n]
            for n in ("lid_cascade_v2", "lid_cascade_v1", "lid_fasttext_v2", "lid_fasttext_v1")
            if n in pipeline
        ),
        None,
    )
    lid = (lid_cfg or {}).get("languages")
    return sorted(lid) if lid else list(LANGUAGES)


def code_languages(params) -> list[str]:
    from lmdata.ingest import languages as L

    q = params.quality
    if q.code_languages is not None:
        return sorted(q.code_languages)
    names = {L.UNKNOWN}
    for table in (L.FILENAME_LANGUAGES, L.EXTENSION_LANGUAGES, L.INTERPRETER_LANGUAGES):
        names.update(table.values())
    return sorted(names)


def expectation_parameters(params) -> dict[str, Any]:
    """Every `$PARAMETER` the suites use, from params.yaml."""
    q = params.quality
    return {
        "web_languages": web_languages(params),
        "code_languages": code_languages(params),
        "max_file_bytes": params.ingest_code.max_file_bytes,
        "max_filter_removal_rate": q.max_filter_removal_rate,
        "min_kept_rate": q.min_kept_rate,
        "max_duplicate_rate": q.max_duplicate_rate,
        "max_pii_left_share": q.max_pii_left_share,
        "max_language_tvd": q.max_language_tvd,
    }


# ----------------------------------------------------------------------------- computed metrics


def filter_of(reason: str) -> str:
    """Drop reason ``"<filter>:<score>"`` -> filter name."""
    return reason.split(":", 1)[0]


def removal_rates(reason_counts: Mapping[str | None, int], filters: Iterable[str]) -> dict:
    """Per filter (every configured one, 0 when it dropped nothing): share of the batch it
    dropped (first drop reason), plus the batch's kept rate. Empty batch -> {}."""
    total = sum(reason_counts.values())
    if total == 0:
        return {}
    by_filter: dict[str, int] = dict.fromkeys(filters, 0)
    for reason, n in reason_counts.items():
        if reason is not None:
            f = filter_of(reason)
            by_filter[f] = by_filter.get(f, 0) + n
    return {
        "removal_rate": {f: n / total for f, n in by_filter.items()},
        "kept_rate": reason_counts.get(None, 0) / total,
    }


def distribution(counts: Mapping[Any, int]) -> dict[Any, float]:
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total else {}


def total_variation(p: Mapping[Any, float], q: Mapping[Any, float]) -> float:
    """TVD = 1/2 sum |p - q| over the union of labels (0 = same mix, 1 = disjoint)."""
    keys = set(p) | set(q)
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in keys)


def language_drift(
    current: Mapping[Any, int], previous: Mapping[Any, int] | None, min_rows: int
) -> float | None:
    """TVD of the language mix vs the previous version; None when there is no previous version
    or either has fewer than `min_rows` rows (too small to compare)."""
    if previous is None:
        return None
    if sum(current.values()) < min_rows or sum(previous.values()) < min_rows:
        return None
    return total_variation(distribution(current), distribution(previous))


def metrics_frame(metrics: Mapping[str, Any]):
    """The `table_metrics` batch: one row per subject, a column per metric (null = n/a).

    `metrics` holds scalars under METRIC_COLUMNS names and, for per-filter removal rates,
    ``removal_rate`` as a mapping filter -> rate."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    batch: dict[str, Any] = {"subject": "batch"}
    for col in METRIC_COLUMNS:
        v = metrics.get(col)
        if isinstance(v, Mapping):
            for sub, x in sorted(v.items()):
                rows.append({"subject": f"filter:{sub}", col: float(x)})
        elif v is not None:
            batch[col] = float(v)
    rows.insert(0, batch)
    df = pd.DataFrame(rows, columns=["subject", *METRIC_COLUMNS])
    return df.astype({c: "float64" for c in METRIC_COLUMNS})


# ----------------------------------------------------------------------------- shards


SHARD_KEYS = {
    "shard": ("prefix", "path", "shard", "name", "file"),
    "sha256": ("bin_sha256", "sha256"),
    "tokens": ("tokens", "num_tokens", "n_tokens"),
    "documents": ("documents", "num_documents", "docs", "n_documents"),
}


def shard_rows(manifest: Mapping[str, Any]):
    """A mixture manifest's per-shard rows as the `shards` suite's frame: shard, source,
    sha256, tokens, documents (missing values stay null and fail the suite)."""
    import pandas as pd

    shards = manifest.get("shards")
    if not isinstance(shards, list):
        raise ConfigError("manifest: 'shards' must be a list of per-shard objects")
    rows = []
    for i, s in enumerate(shards):
        if not isinstance(s, Mapping):
            raise ConfigError(f"manifest: shards[{i}] is not an object")
        row: dict[str, Any] = {"source": s.get("source")}
        for col, keys in SHARD_KEYS.items():
            row[col] = next((s[k] for k in keys if k in s), None)
        if row["shard"] is None:
            row["shard"] = f"#{i}"
        rows.append(row)
    df = pd.DataFrame(rows, columns=["shard", "source", "sha256", "tokens", "documents"])
    for c in ("tokens", "documents"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    return df


# ----------------------------------------------------------------------------- failures


def _fmt(v: Any, limit: int = 160) -> str:
    if isinstance(v, float) and not math.isnan(v):
        s = f"{v:.4g}"
    else:
        s = json.dumps(v, default=str) if not isinstance(v, str) else v
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _fmt_item(x: Any) -> str:
    """An unexpected value, or an index row {subject/shard: ..., column: value} as `id: col=v`."""
    if isinstance(x, Mapping):
        ident = [str(x[k]) for k in ("subject", "shard") if k in x]
        rest = [f"{k}={_fmt(v, 60)}" for k, v in x.items() if k not in ("subject", "shard")]
        return (ident[0] + ": " if ident else "") + " ".join(rest)
    return _fmt(x, 80)


def expected_of(kwargs: Mapping[str, Any]) -> str:
    """A short human statement of what an expectation wanted."""
    lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
    if lo is not None or hi is not None:
        return f"in [{_fmt(lo) if lo is not None else '-inf'}, {_fmt(hi) if hi is not None else 'inf'}]"
    for k in ("value_set", "column_set", "regex", "value"):
        if k in kwargs:
            return f"{k}={_fmt(kwargs[k], 80)}"
    if "column_A" in kwargs:
        op = ">=" if kwargs.get("or_equal") else ">"
        return f"{kwargs['column_A']} {op} {kwargs['column_B']}"
    return "true"


def observed_of(result: Mapping[str, Any]) -> str:
    """A short human statement of what was observed (GX `result` dict)."""
    if not result:
        return "no result"
    parts = []
    if "observed_value" in result:
        parts.append(f"observed {_fmt(result['observed_value'], 120)}")
    if result.get("unexpected_count"):
        n = result.get("element_count")
        if n is not None and result.get("missing_count"):
            n -= result["missing_count"]
        parts.append(f"{result['unexpected_count']} of {n} values unexpected")
        idx = result.get("partial_unexpected_index_list") or result.get("unexpected_index_list")
        sample = idx[:5] if idx else (result.get("partial_unexpected_list") or [])[:5]
        if sample:
            parts.append("observed " + ", ".join(_fmt_item(x) for x in sample))
    return "; ".join(parts) or _fmt(result, 200)


def failed_expectations(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The failed expectations of a GX validation result (its `to_json_dict()`):
    [{suite, expectation, column, observed, expected, exception}]."""
    out = []
    suite = result.get("suite_name")
    for r in result.get("results", []):
        if r.get("success"):
            continue
        cfg = r.get("expectation_config", {})
        kwargs = {k: v for k, v in cfg.get("kwargs", {}).items() if k != "batch_id"}
        exc = r.get("exception_info") or {}
        exc_msg = exc.get("exception_message") if exc.get("raised_exception") else None
        column = kwargs.get("column") or (
            f"{kwargs['column_A']},{kwargs['column_B']}" if "column_A" in kwargs else None
        )
        out.append(
            {
                "suite": suite,
                "expectation": cfg.get("type"),
                "column": column,
                "observed": exc_msg or observed_of(r.get("result") or {}),
                "expected": expected_of(kwargs),
            }
        )
    return out


def failure_message(table: str, version: int | None, failures: list[Mapping[str, Any]]) -> str:
    head = f"quality gate failed for {table}" + (f" v{version}" if version is not None else "")
    lines = [f"{head}: {len(failures)} failed expectation(s)"]
    for f in failures:
        col = f" column={f['column']}" if f.get("column") else ""
        lines.append(
            f"  - [{f.get('suite')}] {f['expectation']}{col}: {f['observed']} (expected {f['expected']})"
        )
    return "\n".join(lines)
