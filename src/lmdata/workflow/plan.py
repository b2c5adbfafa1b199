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


def sample_code_sources() -> list[str]:
    """The bundled code sample: the running interpreter's `json` and `email` packages (PSF)."""
    import sysconfig
    from pathlib import Path

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return [f"{stdlib / name}=PSF-2.0" for name in ("json", "email")]


def code_args(sources: list[str]) -> list[str]:
    if not sources:
        raise ValueError("code_pipeline: no sources")
    args: list[str] = []
    for s in sources:
        args += ["--source", str(s)]
    return args


def lake_summary() -> str:
    """What the lake holds now (tables, versions, row counts), printed to the task log."""
    from lmdata.cli import describe_lake
    from lmdata.workflow import settings

    text = describe_lake(settings.lake())
    print(text)
    return text
