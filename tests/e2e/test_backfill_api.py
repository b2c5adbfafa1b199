"""A backfill of cc_ingest created the way the UI does it (`POST /api/v2/backfills`), run by the
real scheduler (LocalExecutor, LmdataStageOperator -> the warm Spark Connect server): each
logical date ingests exactly its slice; the same backfill again (reprocess_behavior=completed) changes nothing."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from lmdata.lake import delta

pytestmark = [pytest.mark.airflow, pytest.mark.spark, pytest.mark.slow]

DATES = ("2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z")  # 3 logical dates -> slices 0, 1, 2


def _backfill(server, reprocess: str, after_id: int = 0) -> tuple[int, list[dict]]:
    body = {
        "dag_id": "cc_ingest",
        "from_date": DATES[0],
        "to_date": DATES[1],
        "max_active_runs": 1,
        "reprocess_behavior": reprocess,
    }
    # SQLite: a 503 "Database is locked" while the scheduler writes (the backfill may still have
    # been created: a retry then answers 409 "already a running backfill") - take that one
    for _ in range(12):
        status, out = server.api("POST", "/backfills", body)
        if status in (503, 409):
            _, listed = server.api("GET", "/backfills?dag_id=cc_ingest&limit=100")
            newer = [b for b in listed.get("backfills", []) if b["id"] > after_id]
            if newer:
                status, out = 200, max(newer, key=lambda b: b["id"])
                break
            time.sleep(5)
            continue
        break
    assert status == 200, out
    body = out
    bid = body["id"]
    t0 = time.monotonic()
    while time.monotonic() - t0 < 900:
        _, b = server.api("GET", f"/backfills/{bid}")
        _, runs = server.api("GET", "/dags/cc_ingest/dagRuns?limit=100&run_type=backfill")
        mine = [r for r in runs.get("dag_runs", []) if r.get("backfill_id") == bid] or [
            r for r in runs.get("dag_runs", [])
        ]
        if b.get("completed_at") and all(r["state"] in ("success", "failed") for r in mine):
            return bid, mine
        time.sleep(5)
    raise TimeoutError(f"backfill {bid} did not finish\n{server.logs()}")


def _bronze(server):
    t = delta.read_arrow(delta.table_uri(str(server.lake), delta.BRONZE_WEB))
    return sorted(
        (r["slice"], r["doc_id"], r["warc_file"], r["ingest_run_id"])
        for r in t.select(["slice", "doc_id", "warc_file", "ingest_run_id"]).to_pylist()
    )


def test_backfill_processes_exactly_the_dates_slices_and_is_idempotent(airflow_server):
    server = airflow_server
    SLICES = len(server.slice_paths)  # noqa: N806 (the conftest's bucket: one WARC per slice)
    status, body = server.api("PATCH", "/dags/cc_ingest", {"is_paused": False})
    assert status == 200, body

    first, runs = _backfill(server, "none")
    assert len(runs) == 3, runs
    assert all(r["state"] == "success" for r in runs), (runs, server.logs())
    by_date = {r["logical_date"][:10]: r["dag_run_id"] for r in runs}
    assert sorted(by_date) == ["2026-01-01", "2026-01-02", "2026-01-03"]

    rows = _bronze(server)
    # each date d ingested slice (d - 2026-01-01).days % 3: exactly its file, nothing else
    slices = {s for s, *_ in rows}
    assert slices == {f"{i}-of-{SLICES}" for i in range(SLICES)}
    for day, run_id in by_date.items():
        i = (int(day[-2:]) - 1) % SLICES
        part = [r for r in rows if r[0] == f"{i}-of-{SLICES}"]
        assert part, f"slice {i} of {day} is empty"
        assert {r[2].rsplit("/", 1)[-1] for r in part} == {server.slice_paths[i].rsplit("/", 1)[-1]}
        assert {r[3] for r in part} == {run_id}
    assert len({r[1] for r in rows}) == len(rows)  # no duplicate documents
    t = delta.read_arrow(delta.table_uri(str(server.lake), delta.BRONZE_WEB))
    assert set(t["crawl"].to_pylist()) == {server.crawl}
    version_before = delta.current_version(delta.table_uri(str(server.lake), delta.BRONZE_WEB))

    # every run published the bronze asset with the Delta version and row count it left
    status, ev = server.api("GET", "/assets/events?source_dag_id=cc_ingest&limit=100")
    assert status == 200, ev
    extras = [e["extra"] for e in ev["asset_events"]]
    assert len(extras) == 3 and all(e["table"] == "bronze/web_documents" for e in extras)
    assert max(e["version"] for e in extras) == version_before
    assert max(e["rows"] for e in extras) == len(rows)
    assert Counter(s for e in extras for s in e["slices"]) == Counter(
        f"{i}/{SLICES}" for i in range(SLICES)
    )

    # the same backfill again, reprocessing the completed runs: the same rows, no duplicates
    second, again = _backfill(server, "completed", after_id=first)
    assert second > first
    assert len(again) == 3 and all(r["state"] == "success" for r in again), again
    assert _bronze(server) == rows
    print(
        f"bronze v{version_before} -> v"
        f"{delta.current_version(delta.table_uri(str(server.lake), delta.BRONZE_WEB))}, "
        f"{len(rows)} rows in {len(slices)} slices"
    )
