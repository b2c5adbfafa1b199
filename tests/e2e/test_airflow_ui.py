"""The Airflow UI in a real browser (headless Debian Chromium + Playwright) against the real
api-server: log in, see our DAGs, open code_ingest, trigger a run from the UI, see the run."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUR_DAGS = ["build_mixture", "cc_ingest", "code_ingest", "curate_code", "curate_web", "train_gpu"]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian chromium is not installed (make browser)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def _manual_runs(server, dag_id: str) -> list[dict]:
    _, body = server.api("GET", f"/dags/{dag_id}/dagRuns?limit=100&run_type=manual")
    return body.get("dag_runs", [])


def test_login_see_dags_trigger_a_run(airflow_server, browser):
    server = airflow_server
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    shots = ROOT / "var" / "reports"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        # login (simple auth manager's form)
        page.goto(server.url + "/")
        page.wait_for_selector("input[name=username]")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", "admin")
        page.keyboard.press("Enter")
        # the DAG list shows every lmdata DAG
        page.wait_for_url(lambda u: "/auth/" not in u)
        page.goto(server.url + "/dags")
        for dag_id in OUR_DAGS:
            page.get_by_text(dag_id, exact=True).first.wait_for()
        page.screenshot(path=str(shots / "airflow_ui_dags.png"), full_page=True)

        # open code_ingest, trigger it from the UI's dialog
        before = len(_manual_runs(server, "code_ingest"))
        page.goto(server.url + "/dags/code_ingest")
        page.get_by_text("code_ingest").first.wait_for()
        page.get_by_role("button", name="Trigger").first.click()
        dialog = page.get_by_role("dialog")
        dialog.wait_for()
        dialog.get_by_role("button", name="Trigger").last.click()
        t0 = time.monotonic()
        while len(_manual_runs(server, "code_ingest")) <= before:
            assert time.monotonic() - t0 < 60, "the UI trigger created no run"
            time.sleep(1)
        run_id = _manual_runs(server, "code_ingest")[-1]["dag_run_id"]
        # ... and the run shows up in the UI
        page.goto(server.url + "/dags/code_ingest/runs")
        page.get_by_text(run_id).first.wait_for()
        page.screenshot(path=str(shots / "airflow_ui.png"), full_page=True)
        # the run is not needed further: stop it and pause the DAG (frees the spark pool for
        # the backfill test that shares these servers)
        server.api("PATCH", f"/dags/code_ingest/dagRuns/{run_id}", {"state": "failed"})
        server.api("PATCH", "/dags/code_ingest", {"is_paused": True})
    except Exception:
        page.screenshot(path=str(shots / "airflow_ui_failure.png"), full_page=True)
        raise
    finally:
        page.close()
