"""Quality gates on deliberately broken batches, through the `validate` stage (exit 2 = fatal).

Tables are written with delta-rs in the real schemas; the stage reads them with Spark and runs
the committed GX suites. One good batch passes; broken ones fail with a readable message."""

from pathlib import Path

import pyarrow as pa
import pytest

from lmdata.document import WEB_DOCUMENT_SCHEMA, stable_doc_id
from lmdata.errors import EXIT_FATAL
from lmdata.lake import delta
from lmdata.quality import gate as G
from lmdata.quality.suites import load_suite
from lmdata.spark.job import execute
from lmdata.spark.stages import get_stage

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.spark

EN = "The committee met on Tuesday to discuss the budget for the new library building."
FR = "Le comité s'est réuni mardi pour discuter du budget de la nouvelle bibliothèque."


def _docs(n: int, text: str, tag: str) -> list[dict]:
    rows = []
    for i in range(n):
        url = f"https://example.org/{tag}/{i}"
        rows.append(
            {
                "doc_id": stable_doc_id("cc-wet", url, f"{tag}{i}"),
                "source": "cc-wet",
                "url": url,
                "host": "example.org",
                "crawl": "CC-MAIN-2024-22",
                "text": f"{text} Item {i}.",
                "byte_length": len(text),
                "record_offset": i,
                "slice": "0/1",
            }
        )
    return rows


def _attrs(docs: list[dict], lang: str, run_id: str, reason: str | None = None) -> pa.Table:
    """silver/web_attributes rows with every column the suite names."""
    suite = load_suite("silver_web_attributes")
    score_cols = sorted(
        {e["kwargs"]["column"] for e in suite["expectations"] if "column" in e["kwargs"]}
        - {"doc_id", "crawl", "curate_run_id", "language", "recipe", "drop_reason"}
    )
    out = {
        "doc_id": [d["doc_id"] for d in docs],
        "crawl": [d["crawl"] for d in docs],
        "curate_run_id": [run_id] * len(docs),
        "language": [lang] * len(docs),
        "recipe": ["eng_Latn" if lang == "en" else f"{lang}_recipe"] * len(docs),
    }
    for c in score_cols:
        out[c] = [0.5] * len(docs)
    out["drop_reason"] = [reason] * len(docs)
    return pa.table(out).cast(
        pa.schema(
            [
                pa.field(
                    k,
                    pa.string()
                    if k
                    in ("doc_id", "crawl", "curate_run_id", "language", "recipe", "drop_reason")
                    else pa.float64(),
                )
                for k in out
            ]
        )
    )


# text nullable: delta-rs enforces NOT NULL on write, a Spark writer with a looser schema may not
NULLABLE_WEB = pa.schema([f.with_nullable(True) for f in WEB_DOCUMENT_SCHEMA])


def _write(lake, table, data, mode="overwrite"):
    if isinstance(data, list):
        data = pa.Table.from_pylist(data, schema=NULLABLE_WEB)
    return delta.write_table(delta.table_uri(str(lake), table), data, mode=mode)


def _validate(lake, reports, *args):
    return execute(
        get_stage("validate"),
        [
            "--lake",
            str(lake),
            "--params",
            str(ROOT / "params.yaml"),
            "--set",
            f"quality.reports_dir={reports}",
            *args,
        ],
    )


def test_gates_pass_good_batches_and_fail_broken_ones(spark, tmp_path):
    lake, reports = tmp_path / "lake", tmp_path / "reports"
    good = _docs(12, EN, "en")
    _write(lake, "gold/web_documents", good)  # v0
    _write(lake, "silver/web_attributes", _attrs(good, "en", "r1"))
    dedup = pa.table(
        {
            "doc_id": [d["doc_id"] for d in good],
            "duplicate_of": pa.nulls(12, pa.string()),
            "dedup_run_id": ["r1"] * 12,
        }
    )
    _write(lake, "silver/web_dedup", dedup)

    # a good batch passes, and the result is stored with the version it checked
    code, stats = _validate(lake, reports, "--table", "gold/web_documents", "--run-id", "good")
    assert code == 0, stats.error
    rows = [r for r in G.read_validations(str(lake)) if r["run_id"] == "good"]
    assert {(r["table"], r["version"], r["success"]) for r in rows} == {
        ("gold/web_documents", 0, True)
    }
    assert {r["suite"] for r in rows} == {"gold_web_documents", "table_metrics"}
    assert all(Path(r["result_path"]).exists() for r in rows)
    assert (reports / "data_docs" / "index.html").exists()

    # broken gold batch: null text, PII left unredacted, and a language-mix shift (en -> fr)
    bad = _docs(12, FR, "fr")
    bad[0]["text"] = None
    bad[1]["text"] = FR + " Écrivez à jean.dupont@example.com ou appelez le +1 415-555-0132."
    _write(lake, "gold/web_documents", bad)  # v1
    _write(lake, "silver/web_attributes", _attrs(bad, "fr", "r2"), mode="append")
    code, stats = _validate(lake, reports, "--table", "gold/web_documents", "--run-id", "bad")
    assert code == EXIT_FATAL
    msg = stats.error
    assert "quality gate failed for gold/web_documents v1" in msg
    assert "expect_column_values_to_not_be_null column=text" in msg
    assert "column=pii_left_share" in msg
    assert "column=language_tvd" in msg and "expected in [0, 0.5]" in msg
    stored = [r for r in G.read_validations(str(lake)) if r["run_id"] == "bad"]
    assert {r["version"] for r in stored} == {1} and not all(r["success"] for r in stored)
    # write-audit-publish: v0 was published; v1 is rejected and undone (the table is back to v0)
    from lmdata.lake import published

    assert published.published_version(str(lake), "gold/web_documents") == 0
    assert published.failed_versions(str(lake), "gold/web_documents") == [1]
    back = delta.read_arrow(delta.table_uri(str(lake), "gold/web_documents"))
    assert sorted(back["doc_id"].to_pylist()) == sorted(d["doc_id"] for d in good)

    # a filter that removed everything: the curate batch keeps nothing
    gone = _attrs(_docs(12, EN, "all"), "en", "r3", reason="c4_v2:kept_char_frac")
    _write(lake, "silver/web_attributes", gone)
    code, stats = _validate(lake, reports, "--table", "silver/web_attributes", "--run-id", "gone")
    assert code == EXIT_FATAL
    assert "column=kept_rate" in stats.error and "filter:c4_v2" in stats.error
    assert "filter:lid_cascade_v1" not in stats.error  # only the filter that removed everything
