"""Selection of a mixture source by stored attributes: `filter` and `bucket` (issue 22 item 3).

A source may keep only the documents whose attributes pass a filter, and weight the rest by
buckets of one numeric attribute (CCNet head/middle/tail, DCLM top-k style):

    - name: web/en
      table: gold/web_documents
      languages: [en]
      filter:                              # every condition must hold (AND)
        domain: {not_in: [spam.example]}   # in / not_in: lists; eq / ne: one value
        crawl: {min: CC-MAIN-2024-10}      # min / max (inclusive), gt / lt: numbers, strings
        quality_model_v1__score: {is_null: false}   #   (crawl ids, ISO dates sort as text), dates
        license_class: permissive          # shorthand: a value = eq, a list = in
      bucket:
        column: quality_model_v1__score    # a number column
        edges: [0.3, 0.7]                  # or quantiles: [0.5, 0.9] (exact, over the filtered source)
        weights: {head: 2, middle: 1, tail: 0}

Columns: any column of the source's gold table (except `text`) or of its attributes table
(`silver/web_attributes`, `silver/code_attributes`), joined by doc_id, plus `language` and
`license`. Buckets are low to high: edges e1 < ... < ek give k+1 buckets (-inf, e1), [e1, e2),
..., [ek, +inf); default names tail/head (1 edge), tail/middle/head (2 edges), else b0..bk. A
document whose bucket column is null falls in bucket `null`. A bucket not named in `weights` has
weight 1. The weight multiplies how often a document is taken (2 = each document twice, 0 =
none, 0.5 = each document with probability 1/2 by the seeded hash of doc_id, like every rate of
the mixture); the source's natural size is its weighted size, so the plan's rate applies on top.

Pure module: pydantic. `check_columns` validates a source against the table schemas (column
name -> kind, see `KINDS`) before any work.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lmdata.errors import ConfigError

Scalar = bool | int | float | str | dt.date
KINDS = ("number", "string", "bool", "date", "timestamp", "other")
NULL_BUCKET = "null"
_RANGE_OPS = ("min", "max", "gt", "lt")
_SQL_OP = {"eq": "=", "ne": "!=", "min": ">=", "max": "<=", "gt": ">", "lt": "<"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Condition(_Strict):
    """Conditions on one column; all given ones must hold (a null value passes none but
    `is_null: true` and `ne` / `not_in`, which keep nulls)."""

    eq: Scalar | None = None
    ne: Scalar | None = None
    in_: list[Scalar] | None = Field(None, alias="in")
    not_in: list[Scalar] | None = None
    min: Scalar | None = None
    max: Scalar | None = None
    gt: Scalar | None = None
    lt: Scalar | None = None
    is_null: bool | None = None

    @model_validator(mode="after")
    def _some(self) -> Condition:
        if not self.ops():
            raise ValueError("a condition needs at least one of eq, ne, in, not_in, min, max, "
                             "gt, lt, is_null")  # fmt: skip
        if self.in_ is not None and not self.in_:
            raise ValueError("in: an empty list keeps nothing")
        return self

    def ops(self) -> dict[str, Any]:
        """{op: value} of the given conditions ("in" spelled as in YAML)."""
        d = self.model_dump(by_alias=True, exclude_none=True)
        return {k: _plain(v) for k, v in d.items()}


def _plain(v: Any) -> Any:
    """YAML dates (2024-01-01 unquoted) -> ISO strings; lists element-wise."""
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


class BucketSpec(_Strict):
    column: str
    edges: list[float] | None = None
    quantiles: list[float] | None = None
    names: list[str] | None = None  # low to high; len(edges or quantiles) + 1
    weights: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> BucketSpec:
        cuts = self.edges if self.edges is not None else self.quantiles
        if (self.edges is None) == (self.quantiles is None):
            raise ValueError(f"bucket {self.column}: give edges or quantiles (one of them)")
        if not cuts:
            raise ValueError(f"bucket {self.column}: at least one edge")
        if any(not math.isfinite(c) for c in cuts) or any(
            b <= a for a, b in zip(cuts, cuts[1:], strict=False)
        ):
            raise ValueError(f"bucket {self.column}: edges must be finite and increasing: {cuts}")
        if self.quantiles is not None and not all(0 < q < 1 for q in self.quantiles):
            raise ValueError(f"bucket {self.column}: quantiles must be in (0, 1)")
        names = self.bucket_names()
        if len(names) != len(cuts) + 1:
            raise ValueError(
                f"bucket {self.column}: {len(cuts)} edges make {len(cuts) + 1} buckets, "
                f"names has {len(names)}"
            )
        if len(set(names)) != len(names) or NULL_BUCKET in names:
            raise ValueError(f"bucket {self.column}: names must be unique and not {NULL_BUCKET!r}")
        unknown = sorted(set(self.weights) - set(names) - {NULL_BUCKET})
        if unknown:
            raise ValueError(f"bucket {self.column}: weights name unknown buckets {unknown}; "
                             f"buckets are {names + [NULL_BUCKET]}")  # fmt: skip
        bad = {k: v for k, v in self.weights.items() if not (math.isfinite(v) and v >= 0)}
        if bad:
            raise ValueError(f"bucket {self.column}: weights must be >= 0: {bad}")
        return self

    def bucket_names(self) -> list[str]:
        if self.names is not None:
            return list(self.names)
        n = len(self.edges if self.edges is not None else self.quantiles or []) + 1
        return {2: ["tail", "head"], 3: ["tail", "middle", "head"]}.get(
            n, [f"b{i}" for i in range(n)]
        )

    def weight(self, name: str) -> float:
        return float(self.weights.get(name, 1.0))

    def ranges(self, edges: list[float]) -> list[tuple[str, float | None, float | None]]:
        """(name, low inclusive, high exclusive) per bucket, None = unbounded."""
        bounds: list[float | None] = [None, *edges, None]
        return [(n, bounds[i], bounds[i + 1]) for i, n in enumerate(self.bucket_names())]


def normalize_filter(v: Any) -> Any:
    """YAML shorthand: `col: value` = eq, `col: [a, b]` = in."""
    if v is None:
        return {}
    if not isinstance(v, dict):
        return v  # pydantic names the wrong type
    out = {}
    for col, cond in v.items():
        if isinstance(cond, list):
            cond = {"in": cond}
        elif not isinstance(cond, dict):
            cond = {"eq": cond}
        out[col] = cond
    return out


def selection_columns(filt: dict[str, Condition], bucket: BucketSpec | None) -> list[str]:
    cols = list(filt)
    if bucket is not None and bucket.column not in cols:
        cols.append(bucket.column)
    return cols


def _kind_ok(kind: str, value: Any) -> bool:
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind in ("string", "date", "timestamp"):
        if kind != "string" and isinstance(value, dt.date):
            return True
        if not isinstance(value, str):
            return False
        if kind == "string":
            return True
        try:
            dt.datetime.fromisoformat(value)
        except ValueError:
            return False
        return True
    return False


def check_columns(
    source: str,
    filt: dict[str, Condition],
    bucket: BucketSpec | None,
    available: dict[str, str],
    where: str,
) -> None:
    """ConfigError (a FatalError) naming the column when the selection uses a column the tables
    lack or compares it with values of another type; `available` maps column -> kind."""
    listing = ", ".join(f"{c} ({k})" for c, k in sorted(available.items()))
    for col in selection_columns(filt, bucket):
        if col not in available:
            raise ConfigError(
                f"source {source}: column {col!r} is not in {where}; available columns: {listing}"
            )
    for col, cond in filt.items():
        kind = available[col]
        for op, val in cond.ops().items():
            if op == "is_null":
                continue
            if kind == "bool" and op in _RANGE_OPS:
                raise ConfigError(f"source {source}: filter {col}.{op}: {col} is bool, "
                                  "a range needs a number, string or date column")  # fmt: skip
            vals = val if isinstance(val, list) else [val]
            bad = [v for v in vals if not _kind_ok(kind, v)]
            if bad:
                raise ConfigError(
                    f"source {source}: filter {col}.{op}: {bad[0]!r} does not compare with "
                    f"column {col!r} of type {kind} (in {where})"
                )
    b = bucket
    if b is not None and available[b.column] != "number":
        raise ConfigError(
            f"source {source}: bucket column {b.column!r} is {available[b.column]}, a bucket "
            f"needs a number column; number columns: "
            f"{', '.join(sorted(c for c, k in available.items() if k == 'number')) or 'none'}"
        )


def _sql_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"


def describe_filter(filt: dict[str, Condition]) -> str | None:
    """The filter as one SQL-like expression, for the manifest and the dataset card."""
    parts = []
    for col, cond in filt.items():
        for op, v in cond.ops().items():
            if op == "is_null":
                parts.append(f"{col} IS {'' if v else 'NOT '}NULL")
            elif op in ("in", "not_in"):
                neg = "NOT " if op == "not_in" else ""
                parts.append(f"{col} {neg}IN ({', '.join(_sql_value(x) for x in v)})")
            else:
                parts.append(f"{col} {_SQL_OP[op]} {_sql_value(v)}")
    return " AND ".join(parts) or None
