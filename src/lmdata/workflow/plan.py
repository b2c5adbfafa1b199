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


def cc_plan(inputs: list[dict[str, Any]] | None, logical_date: str | None) -> list[list[str]]:
    """`cc_ingest`'s ingest tasks: one per input (conf/param `inputs`), else one for the
    configured crawl (params.yaml `ingest_cc`). An input without `slice` takes the logical
    date's slice (`(date - ingest_cc.slice_start_date).days % ingest_cc.slices`), so each
    scheduled or backfilled date processes its own deterministic slice."""
    specs = [dict(s) for s in (inputs or [{}])]
    out = []
    for spec in specs:
        if spec.get("slice") is None and logical_date and spec.get("logical_date") is None:
            spec["logical_date"] = str(logical_date)[:10]
        out.append(ingest_args(spec))
    return out


def run_date(context: dict[str, Any]) -> str | None:
    """The run's date (YYYY-MM-DD): its logical date, else (manual runs with none) run_after."""
    run = context.get("dag_run")
    when = (
        context.get("logical_date")
        or getattr(run, "logical_date", None)
        or getattr(run, "run_after", None)
    )
    return when.strftime("%Y-%m-%d") if when is not None else None


def sample_code_sources() -> list[str]:
    """The bundled code sample: the running interpreter's `json` and `email` packages (PSF)."""
    import sysconfig
    from pathlib import Path

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return [f"{stdlib / name}=PSF-2.0" for name in ("json", "email")]


def code_args(sources: list[str]) -> list[str]:
    if not sources:
        raise ValueError("code_ingest: no sources (param `sources` is empty)")
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


def find_manifest(mix_summary: dict[str, Any] | None, mixture: str) -> str:
    """The manifest `lmdata mix` wrote: its summary's `manifest` (or `manifest_uri`) key, else
    `<mixtures dir>/<mixture>/manifest.json`."""
    from pathlib import Path

    from lmdata.workflow import settings

    s = (mix_summary or {}).get("mixture") or {}
    if s.get("manifest"):
        return str(Path(settings.HOME) / str(s["manifest"]).removeprefix("file://"))
    return str(Path(settings.mixtures_dir()) / mixture / "manifest.json")


def shards_facts(
    manifest: str, mix_summary: dict[str, Any] | None, gold: dict[str, Any]
) -> dict[str, Any]:
    """The `mixture/shards` event extra: manifest URI, DVC revision + tag, shards, documents,
    tokens, the gold versions of the triggering events and the ones the manifest pinned."""
    import json
    from pathlib import Path

    m = json.loads(Path(manifest).read_text())
    r = (mix_summary or {}).get("mixture") or {}
    totals = m.get("totals") or {}
    return {
        "manifest_uri": Path(manifest).resolve().as_uri(),
        "mixture": m.get("mixture") or r.get("mixture"),
        "mixture_version": m.get("version") or r.get("version"),
        "dvc_rev": r.get("rev"),
        "dvc_tag": r.get("tag"),
        "status": r.get("status"),
        "shards": len(m.get("shards") or []),
        "documents": totals.get("documents"),
        "tokens": totals.get("tokens"),
        "gold_versions": {k: v.get("version") for k, v in gold.items()},
        "pinned_versions": m.get("inputs") or m.get("tables") or (mix_summary or {}).get("inputs"),
    }


def fetch_manifest(event: dict[str, Any]) -> dict[str, Any]:
    """A local manifest path for a `mixture/shards` event: the URI's path when it exists, else
    `dvc pull` of the mixture directory (at `dvc_rev` when the repo is at another revision it
    fails with DVC's message)."""
    import subprocess
    from pathlib import Path
    from urllib.parse import unquote, urlparse

    from lmdata.workflow import settings

    uri = str(event["manifest_uri"])
    path = Path(unquote(urlparse(uri).path)) if uri.startswith("file:") else Path(uri)
    if not path.is_file():
        target = str(path.parent)
        print(f"{path} missing: dvc pull {target} (rev {event.get('dvc_rev')})")
        proc = subprocess.run(
            ["dvc", "pull", target], cwd=str(settings.HOME), capture_output=True, text=True
        )
        if proc.returncode != 0 or not path.is_file():
            raise FileNotFoundError(f"manifest {path} not found and dvc pull failed: {proc.stderr}")
    return {"manifest_path": str(path), "dvc_rev": event.get("dvc_rev"), "event": event}
