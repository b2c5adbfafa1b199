"""Turn DAG params into stage arguments (pure; used by TaskFlow tasks)."""

from __future__ import annotations

from typing import Any

_KEYS = {
    "crawl": "--crawl",
    "format": "--format",
    "source": "--source",
    "slice": "--slice",
    "limit": "--limit",
    "logical_date": "--logical-date",
}


def ingest_args(spec: dict[str, Any]) -> list[str]:
    unknown = set(spec) - set(_KEYS)
    if unknown:
        raise ValueError(f"unknown ingest input keys {sorted(unknown)}; known: {sorted(_KEYS)}")
    args: list[str] = []
    for key, flag in _KEYS.items():
        if spec.get(key) is not None:
            args += [flag, str(spec[key])]
    return args
