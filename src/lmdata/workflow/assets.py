"""The lmdata assets and the facts their events carry.

Producers attach facts to the asset event (`extra`): the Delta version and row count of the table
they committed, the run, and for the shards the manifest URI and DVC revision. Consumers read
exactly the events that triggered their run (`triggering_asset_events`), never "the latest"
table state. Under `airflow dags test` there are no triggering events: the run's conf then
carries them as ``{"asset_events": {"<asset name>": [extra, ...]}}`` (what
`lmdata.workflow.local` passes from the producer's run to the consumer's).

Importing this module is cheap (airflow.sdk only); the lake is read inside the functions.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset

_GROUP = "lmdata"


def _table_asset(table: str) -> Asset:
    return Asset(name=table, uri=f"lmdata://lake/{table}", group=_GROUP)


BRONZE_WEB = _table_asset("bronze/web_documents")
BRONZE_CODE = _table_asset("bronze/code_files")
GOLD_WEB = _table_asset("gold/web_documents")
GOLD_CODE = _table_asset("gold/code_files")
SHARDS = Asset(name="mixture/shards", uri="lmdata://mixtures/shards", group=_GROUP)

ALL = [BRONZE_WEB, BRONZE_CODE, GOLD_WEB, GOLD_CODE, SHARDS]


def table_facts(table: str, version: int | None = None, **more: Any) -> dict[str, Any]:
    """Delta version + row count (+ file count, URI) of one lake table at `version` (default:
    as it is now)."""
    from lmdata.lake import delta
    from lmdata.workflow import settings

    uri = delta.table_uri(settings.lake(), table)
    if not delta.exists(uri):
        raise FileNotFoundError(f"table {table} does not exist under {settings.lake()}")
    version, files = delta.snapshot_files(uri, None if version is None else int(version))
    facts = {
        "table": table,
        "uri": uri,
        "version": int(version),
        "rows": int(sum(f.num_records or 0 for f in files)),
        "files": len(files),
    }
    facts.update(more)
    return facts


def published_facts(table: str, **more: Any) -> dict[str, Any]:
    """`table_facts` at the table's published version (lmdata.lake.published: the pointer, or
    the latest version of a table no gate audits) - what a manual run reads, never an
    unaudited or failed version."""
    from lmdata.lake import published
    from lmdata.workflow import settings

    version, note = published.resolve(settings.lake(), table)
    print(note)
    return table_facts(table, version=version, origin="published", **more)


def publish_ingest(context: Any, asset: Asset, stats: list[dict[str, Any]] | None) -> dict:
    """The bronze event of an ingest run: the table's Delta version + rows after the run's
    stage tasks (their stats XComs), the rows they wrote and the slices they took."""
    stats = [s for s in (stats or []) if s]
    slices = sorted(
        f"{c['slice_index']}/{c['slice_count']}"
        for c in (s.get("counters") or {} for s in stats)
        if "slice_index" in c
    )
    versions = [v for s in stats if (v := (s.get("tables") or {}).get(asset.name)) is not None]
    facts = table_facts(
        asset.name,
        version=max(versions) if versions else None,
        run_id=context["run_id"],
        rows_written=sum(int(s.get("rows_out") or 0) for s in stats),
    )
    if slices:
        facts["slices"] = slices
    return attach(context, asset, facts)


def attach(context: Any, asset: Asset, extra: dict[str, Any]) -> dict[str, Any]:
    """Put `extra` on this task's event for `asset` (the task must list it in `outlets`)."""
    context["outlet_events"][asset].extra = extra
    print(f"asset event {asset.name}: {extra}")
    return extra


def triggering_extras(context: Any, asset: Asset) -> list[dict[str, Any]]:
    """The `extra` of every event of `asset` that triggered this run, oldest first; under
    `airflow dags test` (no events) the run conf's ``asset_events[<name>]`` list."""
    events = context.get("triggering_asset_events") or {}
    found: list[dict[str, Any]] = []
    try:
        found = [dict(e.extra or {}) for e in events[asset]]
    except KeyError:
        found = []
    if found:
        return found
    conf = (getattr(context.get("dag_run"), "conf", None) or {}).get("asset_events") or {}
    return [dict(x) for x in conf.get(asset.name) or []]


def newest(extras: list[dict[str, Any]], key: str = "version") -> dict[str, Any] | None:
    """The event with the highest `key` (several producer runs can trigger one consumer run)."""
    with_key = [e for e in extras if e.get(key) is not None]
    return max(with_key, key=lambda e: e[key]) if with_key else None
