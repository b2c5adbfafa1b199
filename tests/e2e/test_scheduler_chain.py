"""The asset chain run by the real scheduler alone (api-server + scheduler + dag-processor of
conftest.py, LocalExecutor, LmdataStageOperator -> the warm Spark Connect server), with write-audit-publish:

a. every DAG unpaused, `code_ingest` + one `cc_ingest` run triggered: the scheduler runs
   curate_web, curate_code, build_mixture and train_gpu through their assets; the trained
   mixture's manifest names the published gold versions;
b. a batch that fails the gold gate (a crawl id the gold contract rejects): the rejection is
   recorded and undone, no gold event, no build_mixture run; `lmdata mix` by hand mixes the
   previous published version (manifest byte-identical) and says so;
c. a transient failure injected after a stage committed (exit 75, the LMDATA_FAULTS test hook):
   Airflow retries, the retry succeeds, the table holds exactly one commit of that run;
d. a fatal failure (a crawl that does not exist, exit 2): no retry, a readable task log.

The tests share conftest's Airflow (one per session) and run in this order; each later one
needs the earlier ones' lake. Inputs: the conftest bucket (sample WARCs), the bundled code
sample, and 8 documents of tests/fixtures/dedup/cc_docs.jsonl written as a WET file.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from lmdata.lake import delta, published

pytestmark = [pytest.mark.airflow, pytest.mark.spark, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CHAIN = ["cc_ingest", "code_ingest", "curate_web", "curate_code", "build_mixture", "train_gpu"]
DOWNSTREAM = CHAIN[2:]
GOLD_WEB, GOLD_CODE = "gold/web_documents", "gold/code_files"
BAD_CRAWL = "CC-MAIN-2026-X1"  # not ^CC-MAIN-[0-9]{4}-[0-9]{2}$: the gold suite rejects it
STATE: dict = {}


# --------------------------------------------------------------------------- helpers


def _api(server, method: str, path: str, body: dict | None = None) -> dict:
    for _ in range(20):  # SQLite: 503 "database is locked" while the scheduler writes
        status, out = server.api(method, path, body)
        if status != 503:
            assert status in (200, 201), (method, path, status, out)
            return out
        time.sleep(3)
    raise AssertionError(f"{method} {path}: still 503\n{server.logs()}")


def _pause(server, dags: list[str], paused: bool) -> None:
    for d in dags:
        _api(server, "PATCH", f"/dags/{d}", {"is_paused": paused})


def _trigger(server, dag_id: str, run_id: str, conf: dict | None = None) -> None:
    body = {"dag_run_id": run_id, "logical_date": None, "conf": conf or {}}
    for _ in range(20):
        status, out = server.api("POST", f"/dags/{dag_id}/dagRuns", body)
        if status in (200, 201):
            return
        if status == 409:  # created by an earlier try that answered 503
            return
        assert status == 503, (status, out)
        time.sleep(3)
    raise AssertionError(f"could not trigger {dag_id}")


def _runs(server, dag_id: str) -> list[dict]:
    out = _api(server, "GET", f"/dags/{dag_id}/dagRuns?limit=100")
    return out.get("dag_runs", [])


def _wait_runs(server, dag_id: str, pred, timeout: float, what: str) -> list[dict]:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        runs = _runs(server, dag_id)
        if pred(runs):
            return runs
        time.sleep(2)  # each poll is a few API reads (SQLite): not much more often
    raise TimeoutError(f"{what}: not after {timeout:.0f}s\n{_states(server)}\n{server.logs()}")


def _states(server) -> str:
    lines = []
    for d in CHAIN:
        lines.append(
            f"{d}: " + ", ".join(f"{r['dag_run_id']}={r['state']}" for r in _runs(server, d))
        )
    return "\n".join(lines)


def _run(server, dag_id: str, run_id: str) -> dict | None:
    return next((r for r in _runs(server, dag_id) if r["dag_run_id"] == run_id), None)


def _wait_run(server, dag_id: str, run_id: str, timeout: float = 900) -> dict:
    runs = _wait_runs(
        server,
        dag_id,
        lambda rs: any(
            r["dag_run_id"] == run_id and r["state"] in ("success", "failed") for r in rs
        ),
        timeout,
        f"{dag_id} {run_id} finished",
    )
    return next(r for r in runs if r["dag_run_id"] == run_id)


def _tis(server, dag_id: str, run_id: str) -> dict[str, dict]:
    out = _api(server, "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=100")
    return {t["task_id"]: t for t in out["task_instances"]}


def _log(server, dag_id: str, run_id: str, task_id: str, attempt: int) -> str:
    found = sorted(
        (
            server.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        ).glob(f"**/attempt={attempt}.log")
    )
    return "\n".join(p.read_text(errors="replace") for p in found)


def _events(server, source_dag: str) -> list[dict]:
    out = _api(server, "GET", f"/assets/events?source_dag_id={source_dag}&limit=100")
    return out.get("asset_events", [])


def _write_wet(path: Path, crawl: str, docs: list[dict]) -> None:
    """A WET file (one gzip member per record) with one conversion record per document."""

    def record(headers: dict[str, str], block: bytes) -> bytes:
        digest = "sha1:" + base64.b32encode(hashlib.sha1(block).digest()).decode()
        head = {"WARC-Block-Digest": digest, **headers, "Content-Length": str(len(block))}
        text = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n"
        return gzip.compress(text.encode() + block + b"\r\n\r\n")

    path.parent.mkdir(parents=True, exist_ok=True)
    info = f"isPartOf: {crawl}\r\npublisher: lmdata tests\r\n".encode()
    out = [
        record(
            {
                "WARC-Type": "warcinfo",
                "WARC-Date": "2026-02-01T00:00:00Z",
                "WARC-Filename": path.name,
                "WARC-Record-ID": f"<urn:uuid:{uuid.UUID(int=1)}>",
                "Content-Type": "application/warc-fields",
            },
            info,
        )
    ]
    for i, d in enumerate(docs):
        out.append(
            record(
                {
                    "WARC-Type": "conversion",
                    "WARC-Target-URI": d["id"],
                    "WARC-Date": "2026-02-01T00:00:00Z",
                    "WARC-Record-ID": f"<urn:uuid:{uuid.UUID(int=100 + i)}>",
                    "WARC-Refers-To": f"<urn:uuid:{uuid.UUID(int=200 + i)}>",
                    "Content-Type": "text/plain",
                },
                d["text"].encode("utf-8"),
            )
        )
    path.write_bytes(b"".join(out))


def _lmdata(server, *args: str) -> subprocess.CompletedProcess:
    """`lmdata ARGS` by hand, in the Airflow's environment (its lake, mixtures repo, params)."""
    cmd = [sys.executable, "-m", "lmdata.cli", *args]
    return subprocess.run(
        cmd, env=server.env, cwd=ROOT, capture_output=True, text=True, timeout=900
    )


def _manifest(server) -> Path:
    return Path(server.env["LMDATA_MIXTURES_REPO"]) / "sample" / "manifest.json"


# --------------------------------------------------------------------------- tests


def test_a_scheduler_alone_runs_the_asset_chain(airflow_server):
    server = airflow_server
    t0 = time.monotonic()
    _pause(server, CHAIN, False)
    _trigger(server, "code_ingest", "chain-code")
    # the slice holding the sample's largest WARC (16 documents, 4 kept by curation)
    big = max(range(3), key=lambda i: (server.bucket / server.slice_paths[i]).stat().st_size)
    STATE["other_slice"] = (big + 1) % 3
    _trigger(
        server,
        "cc_ingest",
        "chain-web",
        {"inputs": [{"crawl": server.crawl, "format": "warc", "slice": f"{big}/3"}]},
    )

    def done(runs):
        failed = [
            (d, r["dag_run_id"])
            for d in DOWNSTREAM
            for r in _runs(server, d)
            if r["state"] == "failed"
        ]
        assert not failed, f"failed runs {failed}\n{_states(server)}"
        return any(r["state"] == "success" for r in runs)

    _wait_runs(server, "train_gpu", done, 3600, "train_gpu succeeded")
    for d in DOWNSTREAM:  # the scheduler made every downstream run, from asset events
        runs = _runs(server, d)
        assert runs and {r["run_type"] for r in runs} == {"asset_triggered"}, (d, runs)

    lake = str(server.lake)
    pub = {t: published.published_version(lake, t) for t in (GOLD_WEB, GOLD_CODE)}
    assert None not in pub.values(), published.read(lake)
    # the gold events name the published versions; the mixture was built from exactly them
    (shards,) = [e["extra"] for e in _events(server, "build_mixture")]
    assert shards["gold_versions"] == pub, shards
    manifest = json.loads(_manifest(server).read_text())
    assert {t: manifest["spec"]["tables"][t] for t in pub} == pub
    assert {s["table"]: s["delta_version"] for s in manifest["sources"]} == pub
    # and train_gpu trained on that manifest (the mixture version the shards event names)
    (report,) = Path(server.env["LMDATA_TRAIN_DIR"]).glob("*/training_report.json")
    trained = json.loads(report.read_text())
    assert Path(trained["manifest"]).resolve() == _manifest(server).resolve()
    assert trained["manifest_sha256"] == hashlib.sha256(_manifest(server).read_bytes()).hexdigest()
    # the attributes and gold gates published their tables with the dedup state
    rows = published.read(lake)
    assert {r["table"] for r in rows if r["action"] == "publish"} >= {
        GOLD_WEB,
        GOLD_CODE,
        "silver/web_dedup",
        "dedup/minhash_index",
        "silver/web_documents",
    }
    STATE.update(pub=pub, manifest=_manifest(server).read_bytes())
    print(f"chain by the scheduler in {time.monotonic() - t0:.0f}s; published {pub}")


def test_b_failed_gold_gate_publishes_nothing_and_mix_keeps_the_published_version(
    airflow_server,
):
    if "pub" not in STATE:
        pytest.skip("needs test_a's chain")
    server = airflow_server
    lake = str(server.lake)
    t0 = time.monotonic()
    docs = [
        json.loads(x)
        for x in (ROOT / "tests/fixtures/dedup/cc_docs.jsonl").read_text().splitlines()
    ]
    _write_wet(
        server.bucket / f"crawl-data/{BAD_CRAWL}/segments/0/wet/part-00000.warc.wet.gz",
        BAD_CRAWL,
        docs,
    )
    mixtures_before = len(_runs(server, "build_mixture"))
    gold_events_before = len(_events(server, "curate_web"))
    curate_before = {r["dag_run_id"] for r in _runs(server, "curate_web")}
    gold_uri = delta.table_uri(lake, GOLD_WEB)
    rows_before = delta.read_arrow(gold_uri, STATE["pub"][GOLD_WEB]).num_rows

    _trigger(
        server,
        "cc_ingest",
        "gate-fail",
        {"inputs": [{"crawl": BAD_CRAWL, "format": "wet", "slice": "0/1"}]},
    )
    assert _wait_run(server, "cc_ingest", "gate-fail")["state"] == "success"
    runs = _wait_runs(
        server,
        "curate_web",
        lambda rs: any(
            r["dag_run_id"] not in curate_before and r["state"] in ("success", "failed") for r in rs
        ),
        900,
        "curate_web run of the bad batch finished",
    )
    (run,) = [r for r in runs if r["dag_run_id"] not in curate_before]
    assert run["state"] == "failed", _states(server)
    tis = _tis(server, "curate_web", run["dag_run_id"])
    assert tis["validate_attributes"]["state"] == "success"
    assert tis["validate_gold"]["state"] == "failed"
    assert tis["validate_gold"]["try_number"] == 1  # a failed gate is fatal: no retry
    assert tis["publish_gold"]["state"] == "upstream_failed"
    gate_log = _log(server, "curate_web", run["dag_run_id"], "validate_gold", 1)
    assert "crawl" in gate_log and "rejected gold/web_documents" in gate_log

    # the rejection is recorded; the pointer stays; the write is undone with the dedup state
    rejected = [r for r in published.read(lake) if r["action"] == "reject"]
    assert {r["table"] for r in rejected} == {GOLD_WEB, "silver/web_dedup", "dedup/minhash_index"}
    failed = published.failed_versions(lake, GOLD_WEB)
    assert failed and published.published_version(lake, GOLD_WEB) == STATE["pub"][GOLD_WEB]
    latest = delta.read_arrow(gold_uri)
    assert latest.num_rows == rows_before and BAD_CRAWL not in set(latest["crawl"].to_pylist())
    bad = delta.read_arrow(gold_uri, failed[-1])  # the failed version stays readable
    assert BAD_CRAWL in set(bad["crawl"].to_pylist())
    seen = delta.read_arrow(delta.table_uri(lake, "silver/web_dedup"))
    assert BAD_CRAWL not in set(seen["crawl"].to_pylist())  # not remembered as "seen"
    proc = _lmdata(server, "tables")
    assert proc.returncode == 0, proc.stderr
    tables = proc.stdout
    line = next(x for x in tables.splitlines() if x.strip().startswith(GOLD_WEB))
    assert f"published=v{STATE['pub'][GOLD_WEB]}" in line and f"v{failed[-1]}" in line

    # no gold event, so the scheduler starts no mixture
    time.sleep(20)
    assert len(_events(server, "curate_web")) == gold_events_before
    assert len(_runs(server, "build_mixture")) == mixtures_before

    # by hand: the previous published version, the same manifest, and it says so
    proc = _lmdata(server, "mix", "--mixture", "sample", "--run-id", "by-hand")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert f"{GOLD_WEB}: reading the published v{STATE['pub'][GOLD_WEB]}" in out, out[-5000:]
    assert f"failed gate: v{failed[-1]}" in out
    assert '"status": "unchanged"' in out
    assert _manifest(server).read_bytes() == STATE["manifest"]
    STATE["gate_failed"] = True
    print(f"failed gold gate held back in {time.monotonic() - t0:.0f}s")


def test_c_transient_failure_is_retried_and_commits_once(airflow_server):
    server = airflow_server
    _pause(server, DOWNSTREAM, True)  # only the ingest is under test here
    faults = Path(server.env["LMDATA_FAULTS"])
    faults.write_text(
        json.dumps([{"stage": "ingest-cc", "run_id": "fault-75", "exit": 75, "when": "after"}])
    )
    try:
        _trigger(
            server,
            "cc_ingest",
            "fault-75",
            {
                "inputs": [
                    {
                        "crawl": server.crawl,
                        "format": "warc",
                        "slice": f"{STATE.get('other_slice', 1)}/3",
                    }
                ]
            },
        )
        run = _wait_run(server, "cc_ingest", "fault-75")
    finally:
        faults.unlink()
    assert run["state"] == "success", _states(server)
    ti = _tis(server, "cc_ingest", "fault-75")["ingest_cc"]
    assert ti["try_number"] == 2, ti  # failed once (exit 75), retried by Airflow
    first = _log(server, "cc_ingest", "fault-75", "ingest_cc", 1)
    assert "injected failure #1 of stage ingest-cc" in first and "exit 75" in first
    # the first try committed before failing: the retry found its app id and wrote nothing
    hist = delta.history(delta.table_uri(str(server.lake), delta.BRONZE_WEB))
    mine = [h for h in hist if "fault-75" in str(h.get("userMetadata") or "")]
    assert len(mine) == 1, mine


def test_d_fatal_failure_is_not_retried_and_reads_clearly(airflow_server):
    server = airflow_server
    _trigger(
        server,
        "cc_ingest",
        "fatal-2",
        {"inputs": [{"crawl": "CC-MAIN-1999-01", "format": "warc", "slice": "0/1"}]},
    )
    run = _wait_run(server, "cc_ingest", "fatal-2")
    assert run["state"] == "failed"
    ti = _tis(server, "cc_ingest", "fatal-2")["ingest_cc"]
    assert ti["state"] == "failed" and ti["try_number"] == 1, ti  # exit 2: no retry
    log = _log(server, "cc_ingest", "fatal-2", "ingest_cc", 1)
    assert "CC-MAIN-1999-01" in log and "check source_root / crawl" in log
    assert "failed fatally (no retry)" in log
