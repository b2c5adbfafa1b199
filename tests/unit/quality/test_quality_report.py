"""The HTML report on a small lake written with delta-rs (no JVM): run grouping, versions,
plots embedded, gate results, repeated lines, the mixture manifest or its absence."""

import base64
import json
import re

import pyarrow as pa

from lmdata.config import parse_params
from lmdata.lake import delta
from lmdata.quality import gate as G
from lmdata.quality import report as R
from lmdata.spark.job import STAGE_RUNS_SCHEMA


def _stage_run(stage, run_id, t, **stats):
    st = {"stage": stage, "run_id": run_id, "rows_in": 3, "rows_out": 2, **stats}
    return {
        "stage": stage,
        "run_id": run_id,
        "app_id": f"a:{stage}:{run_id}",
        "status": "ok",
        "started_at": t,
        "seconds": 1.0,
        "stats_json": json.dumps(st),
    }


def _lake(tmp_path):
    lake = str(tmp_path / "lake")
    ids = [f"{i:040x}" for i in range(6)]
    w = lambda t, d: delta.write_table(delta.table_uri(lake, t), pa.table(d), mode="append")  # noqa: E731
    w(
        "bronze/web_documents",
        {
            "doc_id": ids,
            "text": ["x" * (10 ** (i % 4 + 1)) for i in range(6)],
            "byte_length": [100 * (i + 1) for i in range(6)],
        },
    )
    w(
        "silver/web_attributes",
        {
            "doc_id": ids,
            "lid_fasttext_v1__lang": ["en", "en", "fr", "de", "en", "zh"],
            "toxicity_v1__classifier_prob": [0.01, 0.2, 0.5, 0.9, 0.05, 0.1],
            "pii_presidio_v1__EMAIL_ADDRESS": [1.0, 0, 0, 2, 0, 0],
            "pii_presidio_v1__total": [1.0, 0, 0, 2, 0, 0],
            "drop_reason": [None, "c4_v1:x", None, "toxicity_v1:p", None, "lid_fasttext_v1:score"],
        },
    )
    w(
        "silver/web_dedup",
        {
            "doc_id": ids[:3] + ids[4:5],
            "cluster_id": [ids[0], ids[0], ids[2], ids[4]],
            "cluster_size": [2, 2, 1, 1],
            "duplicate_of": [None, ids[0], None, None],
        },
    )
    w(
        "gold/web_documents",
        {"doc_id": [ids[0], ids[2], ids[4]], "text": ["a" * 50, "b" * 500, "c" * 5]},
    )
    runs = [
        _stage_run("ingest-cc", "old", 1.0, tables={"bronze/web_documents": 0}),
        _stage_run(
            "curate",
            "dag_1",
            2.0,
            tables={"silver/web_attributes": 0},
            repeated_lines_top=[["Accept cookies", 12], ["Menu", 7]],
        ),
        _stage_run("dedup", "dag_1", 3.0, tables={"gold/web_documents": 0, "silver/web_dedup": 0}),
    ]
    delta.write_table(
        delta.table_uri(lake, delta.STAGE_RUNS),
        pa.Table.from_pylist(runs, schema=STAGE_RUNS_SCHEMA),
        mode="append",
    )
    return lake


def test_grouping_and_versions():
    runs = R.group_runs(
        [
            {"run_id": "b", "started_at": 5},
            {"run_id": "a", "started_at": 1},
            {"run_id": "b", "started_at": 2},
        ]
    )
    assert list(runs) == ["a", "b"] and [r["started_at"] for r in runs["b"]] == [2, 5]
    v = R.run_versions(
        [
            {"stats": {"inputs": {"t": 1}, "tables": {"u": 3}}},
            {"stats": {"tables": {"t": 2, "u": 4}}},
        ]
    )
    assert v == {"t": 2, "u": 4}


def test_report_page_embeds_plots_gates_and_repeated_lines(tmp_path):
    lake = _lake(tmp_path)
    reports = tmp_path / "reports"
    failed = [
        {
            "suite": "table_metrics",
            "expectation": "expect_column_values_to_be_between",
            "column": "pii_left_share",
            "observed": "1 of 1 rows unexpected",
            "expected": "in [0, 0]",
        }
    ]
    delta.write_table(
        delta.table_uri(lake, G.VALIDATIONS),
        pa.Table.from_pylist(
            [
                {
                    "table": "gold/web_documents",
                    "version": 0,
                    "suite": "table_metrics",
                    "success": False,
                    "evaluated": 5,
                    "failed": 1,
                    "failed_json": json.dumps(failed),
                    "run_id": "dag_1",
                    "validated_at": 4.0,
                    "result_path": "x.json",
                    "data_docs_url": f"file://{reports}/data_docs/validations/x.html",
                }
            ],
            schema=G.VALIDATIONS_SCHEMA,
        ),
    )
    page = R.build(lake, parse_params({}), None, reports, tmp_path / "no-mixtures")
    assert page == reports / "runs" / "dag_1.html"  # the latest run by default
    html = page.read_text()
    imgs = re.findall(r'<img class="plot" alt="([^"]+)" src="data:image/png;base64,([^"]+)"', html)
    titles = {t for t, _ in imgs}
    assert {
        "web: funnel of documents and bytes",
        "web: drop reasons (first failing filter)",
        "web: language distribution (scored vs kept)",
        "web: duplicate cluster sizes",
        "web: PII redacted, by type",
        "web: toxicity score",
        "web: document length, before (bronze) and after (gold)",
    } <= titles
    for _, b64 in imgs:
        assert base64.b64decode(b64)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "no mixture yet" in html
    assert "Accept cookies" in html and "12" in html
    assert "FAILED (4/5)" in html and "pii_left_share" in html
    assert 'href="../data_docs/validations/x.html"' in html
    assert "silver/web_attributes" in html and "v0" in html
    index = (reports / "index.html").read_text()
    assert "runs/dag_1.html" in index and "0/1 passed" in index
    R.build(lake, parse_params({}), "old", reports, tmp_path)
    assert (reports / "runs" / "old.html").exists()


def test_mixture_tokens_per_source_and_cli_errors(tmp_path, capsys):
    m = tmp_path / "mix" / "m2"
    m.mkdir(parents=True)
    (m / "manifest.json").write_text(
        json.dumps({"totals": {"tokens_by_source": {"web": 10, "code": 5}}})
    )
    p = R.plot_mixture(R.latest_manifest(tmp_path / "mix"))
    assert p.png_b64 and "m2" in p.title
    assert R.plot_mixture(None).note == "no mixture yet"
    assert R.cli(["--lake", str(tmp_path / "empty")]) == 2
    assert "nothing to report" in capsys.readouterr().out
    lake = _lake(tmp_path)
    assert R.cli(["--lake", lake, "--run", "nope", "--out", str(tmp_path / "r")]) == 2
    assert "run 'nope' not found" in capsys.readouterr().out
