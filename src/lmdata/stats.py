"""Stage statistics: rows in/out, drops per reason, bytes, seconds, tables written.

Every stage returns one `StageStats`; the job skeleton prints it as one JSON line
(`LMDATA_STATS {...}`, picked up in Airflow task logs and by the DAG's XCom), writes it to
`--stats-out`, and records it in the lake's `_meta/stage_runs` table.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any

STATS_PREFIX = "LMDATA_STATS "
#: the `lmdata mix` result line (mixture, version, tag, rev, manifest, ...): printed by the mix
#: stage (lmdata.spark.stages.mix), parsed by lmdata.mixture.cli.parse_result_line
MIXTURE_RESULT_PREFIX = "LMDATA_MIXTURE "


class RejectCounters(Counter):
    """A ``collections.Counter`` whose ``rejected:<reason>`` keys count quarantined inputs (the
    ingest counters, lmdata.ingest.records and lmdata.ingest.code, build on it)."""

    @property
    def rejected(self) -> dict[str, int]:
        return {k.split(":", 1)[1]: v for k, v in self.items() if k.startswith("rejected:")}

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


@dataclass
class StageStats:
    stage: str
    run_id: str
    status: str = "running"  # running | ok | skipped (already committed) | failed
    rows_in: int = 0
    rows_out: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> rows
    quarantined: Counter = field(default_factory=Counter)  # reason -> inputs/records
    counters: Counter = field(default_factory=Counter)  # anything else worth counting
    bytes_in: int = 0
    seconds: float = 0.0
    tables: dict[str, int] = field(default_factory=dict)  # table name -> Delta version written/read
    inputs: dict[str, int] = field(default_factory=dict)  # table name -> Delta version read
    error: str | None = None
    started_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it rebuilds a Counter from (key, value) pairs, which breaks on
        # structured counter values (e.g. curate's `repeated_lines_top`: [[line, docs], ...]).
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        for k in ("dropped", "quarantined", "counters"):
            d[k] = {
                key: list(v) if isinstance(v, tuple) else v
                for key, v in sorted(getattr(self, k).items())
            }
        for k in ("tables", "inputs"):
            d[k] = dict(d[k])
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StageStats:
        d = dict(d)
        for k in ("dropped", "quarantined", "counters"):
            d[k] = Counter(d.get(k) or {})
        return cls(**d)

    def summary(self) -> str:
        parts = [f"{self.stage} [{self.status}] in={self.rows_in} out={self.rows_out}"]
        files = self.counters.get("files_selected") or self.counters.get("files")
        if files:
            parts.append(f"files={files}")
        if self.bytes_in:
            parts.append(f"bytes={self.bytes_in / 1e6:.1f}MB")
        if self.dropped:
            parts.append("dropped=" + ",".join(f"{k}:{v}" for k, v in sorted(self.dropped.items())))
        if self.quarantined:
            parts.append(
                "quarantined=" + ",".join(f"{k}:{v}" for k, v in sorted(self.quarantined.items()))
            )
        if self.tables:
            parts.append("tables=" + ",".join(f"{k}@v{v}" for k, v in sorted(self.tables.items())))
        parts.append(f"{self.seconds:.1f}s")
        return " ".join(parts)


def parse_prefixed_json(text: str, prefix: str) -> dict[str, Any] | None:
    """The last `<prefix>{...}` JSON line in a log / stdout, or None."""
    found = None
    for line in text.splitlines():
        i = line.find(prefix)
        if i >= 0:
            try:
                found = json.loads(line[i + len(prefix) :])
            except json.JSONDecodeError:
                continue
    return found


def parse_stats_line(text: str) -> dict[str, Any] | None:
    """The last `LMDATA_STATS` JSON line in a log / stdout, or None."""
    return parse_prefixed_json(text, STATS_PREFIX)
