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


_DOCS_KEYS = {
    "input": "--input",
    "dataset": "--dataset",
    "preset": "--preset",
    "format": "--format",
    "table": "--table",
    "slice": "--slice",
    "limit": "--limit",
    "logical_date": "--logical-date",
}


def docs_plan(inputs: list[dict[str, Any]] | None, logical_date: str | None) -> list[list[str]]:
    """`docs_ingest`'s ingest tasks: one per input spec ({input: path or [paths], dataset,
    preset, format, table, slice, limit}), else one for params.yaml `ingest_docs`. A spec without
    `slice` takes the logical date's slice of `ingest_docs.slices`, as cc_plan does."""
    out = []
    for spec in [dict(s) for s in (inputs or [{}])]:
        unknown = set(spec) - set(_DOCS_KEYS)
        if unknown:
            raise ValueError(
                f"unknown docs input keys {sorted(unknown)}; known: {sorted(_DOCS_KEYS)}"
            )
        if spec.get("slice") is None and logical_date and spec.get("logical_date") is None:
            spec["logical_date"] = str(logical_date)[:10]
        args: list[str] = []
        for key, flag in _DOCS_KEYS.items():
            values = spec.get(key)
            for v in values if isinstance(values, list) else [values]:
                if v is not None:
                    args += [flag, str(v)]
        out.append(args)
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
    """A local manifest path holding exactly the mixture version of a `mixture/shards` event.

    The manifest lives at `<data repo>/<name>/manifest.json`. When the event names a version
    (`dvc_tag` = `<name>@v<N>`) and the working tree holds another one (a later `mix` ran) or
    none, that version is restored (`git checkout` of the tag + `dvc checkout`, `dvc pull` from
    the remote when the cache lacks it: lmdata.mixture.dvc.DataRepo.checkout). Then the shards
    gate (checksums and counts) must pass.
    """
    import json
    from pathlib import Path
    from urllib.parse import unquote, urlparse

    from lmdata.mixture.dvc import DataRepo, parse_ref
    from lmdata.mixture.manifest import verify_manifest

    uri = str(event["manifest_uri"])
    path = Path(unquote(urlparse(uri).path)) if uri.startswith("file:") else Path(uri)
    have = json.loads(path.read_text()).get("version") if path.is_file() else None
    tag = event.get("dvc_tag")
    if tag:
        name, version = parse_ref(tag)
        if have != version:
            repo = DataRepo(path.parent.parent)
            print(f"{path}: version {have} here, the event names {tag}: restoring it")
            with repo.lock():
                repo.ensure()
                repo.checkout(name, version)
    elif not path.is_file():
        raise FileNotFoundError(f"manifest {path} not found and the event names no DVC version")
    problems = verify_manifest(path)
    if problems:
        raise ValueError(f"shards of {path} fail the shards gate: " + "; ".join(problems))
    return {"manifest_path": str(path), "dvc_rev": event.get("dvc_rev"), "event": event}
