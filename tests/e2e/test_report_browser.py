"""The HTML report of a real pipeline run, rendered in headless Chromium (Debian's package).

A tiny real lake: ingest-cc on the WET fixture and the bundled WARC sample, curate, dedup, the gold gate, then
`lmdata report --run <run>`; every plot <img> must be present and decoded (naturalWidth > 0).
The screenshot goes to var/reports/screenshot.png."""

import gzip
import json
import shutil
from pathlib import Path

import pytest

from lmdata.cli import main as lmdata_main
from lmdata.spark.job import execute
from lmdata.spark.stages import get_stage

ROOT = Path(__file__).resolve().parents[2]
CC = ROOT / "tests" / "fixtures" / "cc"
SAMPLE = ROOT / "samples" / "commoncrawl"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = (  # headless, no network, no GPU, no first-run UI
    "--headless --no-sandbox --disable-gpu --disable-background-networking "
    "--disable-component-update --disable-sync --no-first-run"
).split()
pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _bucket(tmp_path: Path) -> Path:
    root = tmp_path / "bucket"
    seg = root / "crawl-data" / "CC-MAIN-2024-22" / "segments" / "1" / "wet"
    seg.mkdir(parents=True)
    shutil.copy(CC / "whirlwind.warc.wet.gz", seg / "a.warc.wet.gz")
    (root / "crawl-data" / "CC-MAIN-2024-22" / "wet.paths.gz").write_bytes(
        gzip.compress(b"crawl-data/CC-MAIN-2024-22/segments/1/wet/a.warc.wet.gz")
    )
    return root


def test_report_of_a_real_run_renders_every_plot(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (/usr/bin/chromium)")
    from playwright.sync_api import sync_playwright

    lake, reports, run = tmp_path / "lake", tmp_path / "reports", "dag_run_1"
    common = [
        "--lake",
        str(lake),
        "--params",
        str(ROOT / "params.yaml"),
        "--run-id",
        run,
        "--set",
        "spark.master=local[2]",
        "--set",
        f"quality.reports_dir={reports}",
    ]
    src = _bucket(tmp_path)
    for stage, args in [
        ("ingest-cc", ["--crawl", "CC-MAIN-2024-22", "--source", str(src), "--format", "wet"]),
        # the bundled WARC sample: 16 HTML pages, at least one survives curation into gold
        ("ingest-cc", ["--crawl", "CC-MAIN-2020-34", "--source", str(SAMPLE), "--format", "warc"]),
        ("curate", ["--source", "web"]),
        ("dedup", ["--source", "web"]),
        ("validate", ["--table", "gold/web_documents"]),
    ]:
        code, stats = execute(get_stage(stage), [*common, *args])
        assert code == 0, f"{stage}: {stats.error}"
    mixtures = tmp_path / "mixtures"
    (mixtures / "m1").mkdir(parents=True)
    (mixtures / "m1" / "manifest.json").write_text(
        json.dumps({"totals": {"tokens_by_source": {"web": 1200, "code": 300}}})
    )
    assert (
        lmdata_main(
            [
                "report",
                "--lake",
                str(lake),
                "--run",
                run,
                "--out",
                str(reports),
                "--mixtures",
                str(mixtures),
            ]
        )
        == 0
    )
    page = reports / "runs" / f"{run}.html"
    index = reports / "index.html"
    assert page.exists() and run in index.read_text()
    html = page.read_text()
    assert "gold/web_documents" in html and "passed" in html  # the gate and its versions
    assert 'src="data:image/png;base64,' in html and "<img" in html

    shot = ROOT / "var" / "reports" / "screenshot.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            pg = browser.new_page(viewport={"width": 1200, "height": 900})
            pg.goto(page.as_uri())
            pg.wait_for_load_state("load")
            imgs = pg.evaluate(
                "Array.from(document.querySelectorAll('img.plot'))"
                ".map(i => [i.alt, i.complete, i.naturalWidth])"
            )
            pg.screenshot(path=str(shot), full_page=True)
            pg.goto(index.as_uri())
            links = pg.evaluate("Array.from(document.links).map(a => a.textContent)")
        finally:
            browser.close()
    titles = {t for t, _, _ in imgs}
    for want in (
        "web: funnel of documents and bytes",
        "web: language distribution (scored vs kept)",
        "web: document length, before (bronze) and after (gold)",
        "web: duplicate cluster sizes",
        "web: toxicity score",
        "tokens per source in the mixture (m1)",
    ):
        assert want in titles, (want, titles)
    bad = [(t, c, w) for t, c, w in imgs if not c or w <= 0]
    assert not bad, f"plots not loaded: {bad}"
    assert run in links
    assert shot.stat().st_size > 10_000
