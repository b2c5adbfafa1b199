"""Gate results: where they are stored and how a failure reads.

A gate run validates one table version (or one mixture manifest) with its suites and stores:

* one row in the Delta table `_meta/validations` (table, version, suite, success, failed
  expectations JSON, run id, time, the result file and the Data Docs page);
* the GX validation result JSON under `<reports>/validations/<table>/v<version>-<suite>-<run>.json`.

A failed gate is a FatalError (exit 2: Airflow does not retry and nothing downstream runs) whose
message lists every failed expectation: suite, expectation, column, observed vs expected.
The stage that runs it is `lmdata validate` (lmdata.spark.stages.validate). Pure module.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from lmdata.errors import FatalError
from lmdata.lake import delta
from lmdata.quality.suites import failed_expectations, failure_message

VALIDATIONS = "_meta/validations"
VALIDATIONS_SCHEMA = pa.schema(
    [
        pa.field("table", pa.string()),
        pa.field("version", pa.int64()),
        pa.field("suite", pa.string()),
        pa.field("success", pa.bool_()),
        pa.field("evaluated", pa.int64()),
        pa.field("failed", pa.int64()),
        pa.field("failed_json", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("validated_at", pa.float64()),
        pa.field("result_path", pa.string()),
        pa.field("data_docs_url", pa.string()),
    ]
)


class GateFailed(FatalError):
    """The quality gate failed: exit 2, no retry, nothing downstream."""


@dataclass
class GateResult:
    table: str
    version: int | None
    run_id: str
    results: list[dict[str, Any]] = field(default_factory=list)  # GX validation result dicts

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [f for r in self.results for f in failed_expectations(r)]

    @property
    def success(self) -> bool:
        return all(r.get("success") for r in self.results)

    def message(self) -> str:
        return failure_message(self.table, self.version, self.failures)


def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s)


def store(lake: str, reports: Path, gate: GateResult) -> list[dict[str, Any]]:
    """Write every validation result JSON and its `_meta/validations` row; returns the rows."""
    now = time.time()
    rows = []
    out_dir = reports / "validations" / _safe(gate.table)
    out_dir.mkdir(parents=True, exist_ok=True)
    for r in gate.results:
        suite = r.get("suite_name") or "?"
        path = out_dir / f"v{gate.version}-{_safe(suite)}-{_safe(gate.run_id)}.json"
        path.write_text(json.dumps(r, indent=1, sort_keys=True, default=str))
        stats = r.get("statistics") or {}
        fails = failed_expectations(r)
        rows.append(
            {
                "table": gate.table,
                "version": gate.version,
                "suite": suite,
                "success": bool(r.get("success")),
                "evaluated": int(stats.get("evaluated_expectations") or 0),
                "failed": len(fails),
                "failed_json": json.dumps(fails, default=str),
                "run_id": gate.run_id,
                "validated_at": now,
                "result_path": str(path),
                "data_docs_url": r.get("data_docs_url"),
            }
        )
    if rows:
        delta.write_table(
            delta.table_uri(lake, VALIDATIONS),
            pa.Table.from_pylist(rows, schema=VALIDATIONS_SCHEMA),
            mode="append",
        )
    return rows


def read_validations(lake: str) -> list[dict[str, Any]]:
    uri = delta.table_uri(lake, VALIDATIONS)
    return delta.read_arrow(uri).to_pylist() if delta.exists(uri) else []


def read_stage_runs(lake: str) -> list[dict[str, Any]]:
    """`_meta/stage_runs` rows with `stats` parsed, oldest first."""
    uri = delta.table_uri(lake, delta.STAGE_RUNS)
    if not delta.exists(uri):
        return []
    rows = delta.read_arrow(uri).to_pylist()
    for r in rows:
        try:
            r["stats"] = json.loads(r.get("stats_json") or "{}")
        except ValueError:
            r["stats"] = {}
    return sorted(rows, key=lambda r: r.get("started_at") or 0)


def writer_run_id(lake: str, table: str, version: int) -> str | None:
    """The run id of the stage run that wrote `table` at `version` (from `_meta/stage_runs`
    stats: tables -> version), or None when no recorded run did."""
    for r in reversed(read_stage_runs(lake)):
        if (r["stats"].get("tables") or {}).get(table) == version:
            return r.get("run_id")
    return None


def writer_tables(lake: str, table: str, version: int) -> dict[str, int]:
    """Every table (with its version) the stage run that wrote `table@version` committed, e.g.
    dedup's gold + silver/web_dedup + dedup/minhash_index: what a gate publishes together."""
    for r in reversed(read_stage_runs(lake)):
        tables = r["stats"].get("tables") or {}
        if tables.get(table) == version:
            return {t: int(v) for t, v in tables.items() if v is not None and t != VALIDATIONS}
    return {}


def enforce(gate: GateResult) -> None:
    if not gate.success:
        raise GateFailed(gate.message())


def summarize(rows: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(
        f"{r['suite']}: {'ok' if r['success'] else 'FAILED'} ({r['evaluated'] - r['failed']}/{r['evaluated']})"
        for r in rows
    )
