"""Write-audit-publish: which version of each lake table readers may see (`_meta/published`).

A stage *writes* a new table version; the quality gate (`lmdata validate`) *audits* exactly
that version; only a passing gate *publishes* it: a row in the Delta table `_meta/published`
(table, version, action, gate result, run id, reason, time). The **published pointer** of a
table is its most recent `publish` / `manual` / `rollback` row. Readers (curate, dedup, mix, the
DAGs' manual-run fallbacks) read the version their asset event names, else the pointer - never
an unaudited or failed version. `--version N` reads any version explicitly, with a warning when
it is not published.

A gate run publishes the audited table together with its *companions*: the other tables the
same stage run wrote (from `_meta/stage_runs`), e.g. curate's `silver/web_documents` with
`silver/web_attributes`, dedup's `silver/web_dedup` and `dedup/minhash_index` with gold. So the
dedup state (what was "seen", the index of keepers) is published, or rejected, with gold.

A failed gate records `reject` rows and, when the rejected version is the table's latest,
*undoes* the write: each table is restored (Delta RESTORE, a new commit) to its published
version, or emptied when it has none. The rejected version stays in the history (read it with
`--version N`), but the next writer appends to published data only: a rejected batch is never
remembered as "seen" and never reaches gold or a mixture. `rollback` does the same for an older
published version (recorded, with the companions it was published with).

Tables never audited (no row at all, e.g. bronze, which has no gate in the DAGs) are read at
their latest version, with a note saying so.

Pure module: delta-rs + pyarrow, no Spark.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from lmdata.errors import ConfigError, FatalError
from lmdata.lake import delta

log = logging.getLogger("lmdata")

PUBLISHED = "_meta/published"
PUBLISHING = ("publish", "manual", "rollback")  # actions that move the pointer
SCHEMA = pa.schema(
    [
        pa.field("table", pa.string()),
        pa.field("version", pa.int64()),
        pa.field("action", pa.string()),  # publish | reject | manual | rollback
        pa.field("gate", pa.string()),  # passed | failed | override | -
        pa.field("run_id", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("with_table", pa.string()),  # the audited table, for a companion row
        pa.field("companions_json", pa.string()),  # {table: version} published alongside
        pa.field("restored_to", pa.int64()),  # the commit that undid a rejected write
        pa.field("at", pa.float64()),
    ]
)


def _uri(lake: str) -> str:
    return delta.table_uri(lake, PUBLISHED)


def read(lake: str) -> list[dict[str, Any]]:
    """Every `_meta/published` row, oldest first."""
    uri = _uri(lake)
    if not delta.exists(uri):
        return []
    rows = delta.read_arrow(uri).to_pylist()
    for r in rows:
        try:
            r["companions"] = json.loads(r.get("companions_json") or "{}")
        except ValueError:
            r["companions"] = {}
    return sorted(rows, key=lambda r: r.get("at") or 0.0)


def _append(lake: str, rows: list[dict[str, Any]]) -> None:
    now = time.time()
    out = []
    for i, r in enumerate(rows):
        row = {f.name: None for f in SCHEMA}
        row.update(r)
        row["companions_json"] = json.dumps(r.get("companions") or {}, sort_keys=True)
        row.pop("companions", None)
        row["at"] = now + i * 1e-6  # one batch keeps its order
        out.append(row)
    delta.write_table(_uri(lake), pa.Table.from_pylist(out, schema=SCHEMA), mode="append")


def pointer(lake: str, table: str, rows: list[dict[str, Any]] | None = None) -> dict | None:
    """The row that set `table`'s published pointer, or None (never published)."""
    rows = read(lake) if rows is None else rows
    mine = [r for r in rows if r["table"] == table and r["action"] in PUBLISHING]
    return mine[-1] if mine else None


def published_version(lake: str, table: str) -> int | None:
    p = pointer(lake, table)
    return None if p is None else int(p["version"])


def failed_versions(lake: str, table: str, rows: list[dict[str, Any]] | None = None) -> list[int]:
    rows = read(lake) if rows is None else rows
    return sorted(
        {int(r["version"]) for r in rows if r["table"] == table and r["action"] == "reject"}
    )


def audited(lake: str, table: str, rows: list[dict[str, Any]] | None = None) -> bool:
    """Whether any gate (or operator) ever recorded a version of `table`."""
    rows = read(lake) if rows is None else rows
    return any(r["table"] == table for r in rows)


def as_of(lake: str, table: str, when: float | None) -> int | None:
    """The version of `table` that was published at time `when` (None: now)."""
    rows = [r for r in read(lake) if r["table"] == table and r["action"] in PUBLISHING]
    if when is not None:
        rows = [r for r in rows if (r.get("at") or 0.0) <= when]
    return int(rows[-1]["version"]) if rows else None


def publish_row(lake: str, table: str, version: int) -> dict | None:
    """The most recent row that published exactly `table@version`."""
    mine = [
        r
        for r in read(lake)
        if r["table"] == table and r["action"] in PUBLISHING and int(r["version"]) == int(version)
    ]
    return mine[-1] if mine else None


def resolve(lake: str, table: str, version: int | None = None) -> tuple[int, str]:
    """The version a reader of `table` reads, and a note for the log.

    version given: that version (the note warns when it is not published, louder when it failed
    its gate); None: the published pointer; a table no gate ever audited: its latest version.
    Raises FatalError when the table is missing, or audited but nothing of it is published."""
    uri = delta.table_uri(lake, table)
    current = delta.current_version(uri)
    if current is None:
        raise FatalError(f"no Delta table {table} in the lake {lake}")
    rows = read(lake)
    p = pointer(lake, table, rows)
    if version is not None:
        version = int(version)
        if version > current or version < 0:
            raise ConfigError(f"{table} has no version {version} (latest {current})")
        if p is not None and int(p["version"]) == version:
            return version, f"{table}@v{version} (published)"
        if version in failed_versions(lake, table, rows):
            return version, (
                f"WARNING: reading {table}@v{version} explicitly: it FAILED its quality gate "
                f"(published: {'v' + str(p['version']) if p else 'none'})"
            )
        if audited(lake, table, rows):
            return version, (
                f"WARNING: reading {table}@v{version} explicitly: it is not published "
                f"(published: {'v' + str(p['version']) if p else 'none'})"
            )
        return version, f"{table}@v{version} (explicit; the table has no gate records)"
    if p is not None:
        v = int(p["version"])
        note = f"{table}: reading the published v{v}"
        if v != current:
            failed = [f for f in failed_versions(lake, table, rows) if f > v]
            note += f" (latest v{current}" + (
                f"; failed gate: {', '.join(f'v{f}' for f in failed)})" if failed else ")"
            )
        return v, note
    if audited(lake, table, rows):
        failed = failed_versions(lake, table, rows)
        raise FatalError(
            f"{table} has no published version (failed gate: "
            f"{', '.join(f'v{f}' for f in failed) or 'none'}); publish one with "
            f"`lmdata publish --table {table} --version N --reason ...` or read one explicitly"
        )
    return current, f"{table}: no gate records: reading the latest v{current}"


def resolve_logged(lake: str, table: str, version: int | None = None) -> int:
    v, note = resolve(lake, table, version)
    (log.warning if note.startswith("WARNING") else log.info)("%s", note)
    return v


# --------------------------------------------------------------------------- recording


def _restore(lake: str, table: str, version: int | None) -> int:
    """Make `table`'s latest version hold the content of `version` (None: no rows): a RESTORE
    (or DELETE) commit, so the next writer appends to that content. Returns the new version."""
    uri = delta.table_uri(lake, table)
    dt = delta.open_table(uri)
    if version is not None and int(version) == dt.version():
        return dt.version()  # already holds that content
    if version is None:
        dt.delete()
    else:
        dt.restore(int(version))
    return int(delta.current_version(uri))


def publish(
    lake: str,
    table: str,
    version: int,
    run_id: str,
    *,
    companions: Mapping[str, int] | None = None,
    action: str = "publish",
    gate: str = "passed",
    reason: str | None = None,
) -> list[dict[str, Any]]:
    """Move the pointer of `table` (and of each companion) to the given versions."""
    comp = {k: int(v) for k, v in (companions or {}).items() if k != table}
    rows = [
        {
            "table": table,
            "version": int(version),
            "action": action,
            "gate": gate,
            "run_id": run_id,
            "reason": reason,
            "companions": comp,
        }
    ]
    for t, v in sorted(comp.items()):
        rows.append(
            {
                "table": t,
                "version": v,
                "action": action,
                "gate": gate,
                "run_id": run_id,
                "reason": reason,
                "with_table": table,
            }
        )
    _append(lake, rows)
    for r in rows:
        print(f"published {r['table']}@v{r['version']} ({action}, gate {gate})", flush=True)
    return rows


def reject(
    lake: str,
    table: str,
    version: int,
    run_id: str,
    *,
    companions: Mapping[str, int] | None = None,
    reason: str | None = None,
    undo: bool = True,
) -> list[dict[str, Any]]:
    """Record that `table@version` (and its companions) failed the gate; with `undo`, restore
    each table whose latest version is the rejected one to its published version (or empty)."""
    comp = {k: int(v) for k, v in (companions or {}).items() if k != table}
    targets = {table: int(version), **comp}
    rows = []
    for t, v in targets.items():
        restored = None
        cur = delta.current_version(delta.table_uri(lake, t))
        keep = published_version(lake, t)
        if undo and cur is not None and int(cur) == v and keep != v:
            restored = _restore(lake, t, keep)
            print(
                f"rejected {t}@v{v}: restored to "
                + (f"the published v{keep}" if keep is not None else "no rows (nothing published)")
                + f" as v{restored}",
                flush=True,
            )
        else:
            why = "it is the published version" if keep == v else f"the latest is v{cur}"
            print(f"rejected {t}@v{v} ({why}: not undone)", flush=True)
        rows.append(
            {
                "table": t,
                "version": v,
                "action": "reject",
                "gate": "failed",
                "run_id": run_id,
                "reason": reason,
                "with_table": None if t == table else table,
                "companions": comp if t == table else {},
                "restored_to": restored,
            }
        )
    _append(lake, rows)
    return rows


def manual_publish(lake: str, table: str, version: int, reason: str, run_id: str) -> list[dict]:
    """`lmdata publish`: an operator publishes `table@version` by hand (recorded, with the
    reason), with the companions its writer run wrote; a version that is not the latest (e.g.
    one a gate rejected and undid) is RESTOREd, so writers continue from it."""
    if not reason or not reason.strip():
        raise ConfigError("lmdata publish needs --reason (it is recorded)")
    uri = delta.table_uri(lake, table)
    cur = delta.current_version(uri)
    if cur is None:
        raise ConfigError(f"no Delta table {table} in the lake {lake}")
    if not 0 <= int(version) <= int(cur):
        raise ConfigError(f"{table} has no version {version} (latest {cur})")
    from lmdata.quality.gate import writer_tables

    comp = {t: v for t, v in writer_tables(lake, table, int(version)).items() if t != table}
    return _publish_restoring(lake, table, {table: int(version), **comp}, "manual", "override",
                              run_id, reason)  # fmt: skip


def rollback(lake: str, table: str, to: int, run_id: str, reason: str | None = None) -> list[dict]:
    """`lmdata rollback`: publish the older version `to` of `table` again (with the companions
    it was published with) and RESTORE each table to it, so writers continue from there."""
    prior = publish_row(lake, table, to)
    if prior is None:
        raise ConfigError(
            f"{table}@v{to} was never published: roll back to a published version "
            f"(see `lmdata tables`), or publish it with `lmdata publish`"
        )
    targets = {table: int(to), **{k: int(v) for k, v in prior["companions"].items()}}
    return _publish_restoring(lake, table, targets, "rollback", prior.get("gate") or "-", run_id,
                              reason or f"rollback to v{to}")  # fmt: skip


def _publish_restoring(
    lake: str, table: str, targets: dict[str, int], action: str, gate: str, run_id: str, reason
) -> list[dict]:
    """Point each of `targets` (table -> version) at its version and RESTORE the tables whose
    latest version is another one; one recorded row each."""
    rows = []
    for t, v in targets.items():
        restored = None
        if delta.current_version(delta.table_uri(lake, t)) != v:
            restored = _restore(lake, t, v)
            print(f"{action}: {t} RESTOREd to v{v} (commit v{restored})", flush=True)
        print(f"published {t}@v{v} ({action}, gate {gate})", flush=True)
        rows.append(
            {
                "table": t,
                "version": v,
                "action": action,
                "gate": gate,
                "run_id": run_id,
                "reason": reason,
                "with_table": None if t == table else table,
                "companions": {k: x for k, x in targets.items() if k != table}
                if t == table
                else {},
                "restored_to": restored,
            }
        )
    _append(lake, rows)
    return rows


def summary(lake: str) -> dict[str, dict[str, Any]]:
    """Per audited table: the pointer row, failed versions, and the last actions (report, CLI)."""
    rows = read(lake)
    out: dict[str, dict[str, Any]] = {}
    for t in sorted({r["table"] for r in rows}):
        mine = [r for r in rows if r["table"] == t]
        out[t] = {
            "pointer": pointer(lake, t, rows),
            "failed": failed_versions(lake, t, rows),
            "history": mine[-10:],
        }
    return out
