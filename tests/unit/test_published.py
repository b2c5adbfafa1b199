"""Write-audit-publish records (`_meta/published`, lmdata.lake.published) on small delta-rs
tables: the pointer, readers' resolution, a rejected write undone with its companions, manual
publish and rollback, `lmdata tables`, and the fault-injection test hook."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from lmdata.errors import ConfigError, FatalError, RetryableError
from lmdata.lake import delta, published

GOLD, DEDUP = "gold/web_documents", "silver/web_dedup"


def _append(lake: str, table: str, ids: list[str]) -> int:
    uri = delta.table_uri(lake, table)
    delta.write_table(uri, pa.table({"doc_id": pa.array(ids, pa.string())}), mode="append")
    return delta.current_version(uri)


def _ids(lake: str, table: str, version: int | None = None) -> list[str]:
    t = delta.read_arrow(delta.table_uri(lake, table), version)
    return sorted(t["doc_id"].to_pylist())


def test_unaudited_table_reads_latest_with_a_note(tmp_path):
    lake = str(tmp_path)
    _append(lake, GOLD, ["a"])
    _append(lake, GOLD, ["b"])
    v, note = published.resolve(lake, GOLD)
    assert v == 1 and "no gate records" in note
    with pytest.raises(FatalError):
        published.resolve(lake, "gold/none")


def test_publish_reject_undo_and_readers(tmp_path):
    lake = str(tmp_path)
    g0, d0 = _append(lake, GOLD, ["a"]), _append(lake, DEDUP, ["a"])
    published.publish(lake, GOLD, g0, "run-1", companions={DEDUP: d0})
    assert published.published_version(lake, GOLD) == 0
    assert published.published_version(lake, DEDUP) == 0

    # batch 2 is written, fails its gate: rejected with its companion and undone
    g1, d1 = _append(lake, GOLD, ["b"]), _append(lake, DEDUP, ["b"])
    published.reject(lake, GOLD, g1, "run-2", companions={DEDUP: d1}, reason="crawl regex")
    assert published.published_version(lake, GOLD) == 0
    assert published.failed_versions(lake, GOLD) == [1]
    assert published.failed_versions(lake, DEDUP) == [1]
    # the next writer appends to published content: the rejected batch is not "seen"
    assert _ids(lake, GOLD) == ["a"] and _ids(lake, DEDUP) == ["a"]
    assert delta.current_version(delta.table_uri(lake, GOLD)) == 2  # the RESTORE commit
    assert _ids(lake, GOLD, 1) == ["a", "b"]  # the failed version stays readable explicitly

    v, note = published.resolve(lake, GOLD)
    assert v == 0 and "published v0" in note and "failed gate: v1" in note
    v, note = published.resolve(lake, GOLD, 1)
    assert v == 1 and note.startswith("WARNING") and "FAILED" in note
    v, note = published.resolve(lake, GOLD, 2)
    assert v == 2 and note.startswith("WARNING") and "not published" in note
    with pytest.raises(ConfigError):
        published.resolve(lake, GOLD, 9)

    # batch 3 passes: published, stacked on the published content only
    g3 = _append(lake, GOLD, ["c"])
    published.publish(lake, GOLD, g3, "run-3")
    assert published.resolve(lake, GOLD)[0] == 3 and _ids(lake, GOLD) == ["a", "c"]
    # a re-audit that fails the published version records it and undoes nothing
    published.reject(lake, GOLD, 3, "re-audit")
    assert _ids(lake, GOLD) == ["a", "c"] and published.published_version(lake, GOLD) == 3


def test_first_batch_rejected_leaves_an_empty_table_and_readers_refuse(tmp_path):
    lake = str(tmp_path)
    g0 = _append(lake, GOLD, ["a"])
    published.reject(lake, GOLD, g0, "run-1")
    assert _ids(lake, GOLD) == []
    with pytest.raises(FatalError, match="no published version"):
        published.resolve(lake, GOLD)


def test_manual_publish_and_rollback_are_recorded(tmp_path):
    lake = str(tmp_path)
    g0, d0 = _append(lake, GOLD, ["a"]), _append(lake, DEDUP, ["a"])
    published.publish(lake, GOLD, g0, "run-1", companions={DEDUP: d0})
    g1, d1 = _append(lake, GOLD, ["b"]), _append(lake, DEDUP, ["b"])
    published.publish(lake, GOLD, g1, "run-2", companions={DEDUP: d1})
    with pytest.raises(ConfigError, match="reason"):
        published.manual_publish(lake, GOLD, 0, " ", "op")
    with pytest.raises(ConfigError, match="never published"):
        published.rollback(lake, GOLD, 5, "op")

    rows = published.rollback(lake, GOLD, 0, "op-1", "bad batch 2")
    assert {(r["table"], r["version"], r["action"]) for r in rows} == {
        (GOLD, 0, "rollback"),
        (DEDUP, 0, "rollback"),
    }
    assert published.published_version(lake, GOLD) == 0
    assert published.published_version(lake, DEDUP) == 0
    assert _ids(lake, GOLD) == ["a"] and _ids(lake, DEDUP) == ["a"]  # RESTOREd

    published.manual_publish(lake, GOLD, 1, "checked by hand: the regex was wrong", "op-2")
    p = published.pointer(lake, GOLD)
    assert (p["version"], p["action"], p["gate"]) == (1, "manual", "override")
    assert "regex" in p["reason"]
    assert _ids(lake, GOLD) == ["a", "b"]  # RESTOREd to v1: writers continue from it

    from lmdata.cli import describe_lake, main

    text = describe_lake(lake)
    line = next(x for x in text.splitlines() if x.strip().startswith(GOLD))
    assert "published=v1 (manual)" in line
    assert main(["rollback", "--lake", lake, "--table", GOLD, "--to", "0"]) == 0
    assert published.published_version(lake, GOLD) == 0
    assert (
        main(["publish", "--lake", lake, "--table", GOLD, "--version", "99", "--reason", "x"]) == 2
    )


def test_version_pins_macro_and_mix_pins():
    from lmdata.spark.stages.mix import _parse_pins
    from lmdata.workflow.operators import version_pins

    arg = version_pins({GOLD: {"version": 5}, "gold/code_files": {"version": 3}})
    assert arg == "--pin=gold/code_files=3,gold/web_documents=5"
    assert version_pins({}) == "" and version_pins(None) == ""
    assert _parse_pins([arg.removeprefix("--pin="), ""]) == {
        "gold/code_files": 3,
        GOLD: 5,
    }
    with pytest.raises(ConfigError):
        _parse_pins(["gold/web_documents"])


def test_fault_hook_fires_the_configured_times(tmp_path, monkeypatch):
    from lmdata import faults

    faults.check("ingest-cc", "any", "before")  # no variable: nothing
    f = tmp_path / "faults.json"
    f.write_text(
        json.dumps(
            [
                {"stage": "ingest-cc", "run_id": "fault-75", "exit": 75, "when": "after"},
                {"stage": "dedup", "run_id": "fault-2", "exit": 2, "times": 2},
            ]
        )
    )
    monkeypatch.setenv(faults.ENV, str(f))
    faults.check("ingest-cc", "manual__fault-75", "before")  # wrong moment
    with pytest.raises(RetryableError, match="injected failure #1"):
        faults.check("ingest-cc", "manual__fault-75", "after")
    faults.check("ingest-cc", "manual__fault-75", "after")  # the retry succeeds
    for n in (1, 2):
        with pytest.raises(FatalError, match=f"#{n}"):
            faults.check("dedup", "fault-2", "before")
    faults.check("dedup", "fault-2", "before")


def test_report_shows_pointers_failed_versions_and_overrides(tmp_path):
    from lmdata.quality.report import build_index

    lake = str(tmp_path / "lake")
    g0 = _append(lake, GOLD, ["a"])
    published.publish(lake, GOLD, g0, "run-1")
    g1 = _append(lake, GOLD, ["b"])
    published.reject(lake, GOLD, g1, "run-2", reason="crawl does not match the regex")
    assert _ids(lake, GOLD) == ["a"]
    published.manual_publish(lake, GOLD, g1, "the crawl label is right after all", "op-1")
    assert _ids(lake, GOLD) == ["a", "b"]  # the rejected version, published by hand, is back
    published.rollback(lake, GOLD, g0, "op-2", "back to the gated version")
    (tmp_path / "reports").mkdir()
    page = build_index({}, lake, tmp_path / "reports").read_text()
    section = page.split("Published versions (write-audit-publish)", 1)[1]
    assert f"<td>{GOLD}</td>" in section
    assert "v1 FAILED" in section
    assert "the crawl label is right after all" in section and ">manual<" in section
    assert ">rollback<" in section and ">reject<" in section


def test_make_airflow_password_is_generated_once_and_kept(tmp_path):
    import stat

    from lmdata.workflow.local import admin_password

    pw, new = admin_password(tmp_path, {})
    assert new and len(pw) >= 20
    assert stat.S_IMODE((tmp_path / "admin-password").stat().st_mode) == 0o600
    assert admin_password(tmp_path, {}) == (pw, False)
    assert admin_password(tmp_path, {"LMDATA_AIRFLOW_PASSWORD": "set"}) == ("set", False)


def test_manual_dag_runs_fall_back_to_the_published_version(tmp_path, monkeypatch):
    """build_mixture / curate_* without a triggering event (a manual DAG run) read the
    published version, not the latest (here: a rejected, undone one)."""
    from lmdata.workflow.assets import published_facts

    lake = str(tmp_path)
    monkeypatch.setenv("LMDATA_LAKE", lake)
    g0 = _append(lake, GOLD, ["a"])
    published.publish(lake, GOLD, g0, "run-1")
    g1 = _append(lake, GOLD, ["b", "c"])
    published.reject(lake, GOLD, g1, "run-2")
    facts = published_facts(GOLD)
    assert (facts["version"], facts["rows"], facts["origin"]) == (0, 1, "published")
