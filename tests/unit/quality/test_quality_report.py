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
            counters={  # url_v1's domain attribute, as curate records it
                "url_domains_top_kept": [["wikipedia.org", 9]],
                "url_domains_top_dropped": [["bücher.de", 2]],
            },
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
    assert "top domains kept (curate)" in html and "wikipedia.org" in html
    assert "top domains dropped (curate)" in html and "bücher.de" in html
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


def _multilingual_attributes(with_recipe=True):
    """20 languages: en 40 docs, zh 30, ja 20, then 17 languages of 18 .. 2 documents."""
    langs, recipes, reasons = [], [], []

    def add(lang, recipe, n, drops):
        for i in range(n):
            langs.append(lang)
            recipes.append(recipe)
            reasons.append(drops[i] if i < len(drops) else None)

    add("en", "eng_Latn", 40, ["gopher_quality_v2:stop_word_count"] * 5 + ["c4_v2:lines"] * 3)
    add(
        "zh",
        "cmn_Hani",
        30,
        ["lid_fasttext_v1:score"] * 6
        + ["gopher_repetition_v2:dup_line_frac"] * 4
        + ["fineweb_v2:line_punct_ratio"] * 2
        + ["c4_v2:lines"],
    )
    add("ja", "jpn_Jpan", 20, [])
    for k, lang in enumerate("ab ac ad ae af ag ah ai aj ak al am an ao ap aq ar".split()):
        add(lang, f"fallback_{k}", 18 - k, ["gopher_quality_v2:mean_word_length"])
    add(None, None, 1, ["lid_fasttext_v1:score"])  # no label
    cols = {
        "doc_id": [f"{i:040x}" for i in range(len(langs))],
        "lid_fasttext_v1__lang": langs,
        "drop_reason": reasons,
    }
    if with_recipe:
        cols["recipe"] = recipes
    return pa.table(cols)


def test_language_rows_top_languages_other_kept_rates_and_reasons():
    t = _multilingual_attributes()
    rows = R.language_rows(R.language_counts(t, "lid_fasttext_v1__lang"))
    assert len(rows) == R.TOP_LANGUAGES + 1
    assert [r.language for r in rows[:4]] == ["en", "zh", "ja", "ab"]
    en, zh, ja = rows[:3]
    assert (en.recipe, en.docs_in, en.kept) == ("eng_Latn", 40, 32) and en.kept_rate == 0.8
    assert en.reasons == [("gopher_quality_v2:stop_word_count", 5), ("c4_v2:lines", 3)]
    assert (zh.recipe, zh.docs_in, zh.kept) == ("cmn_Hani", 30, 17)
    assert zh.reasons == [  # top 3 only, most documents first
        ("lid_fasttext_v1:score", 6),
        ("gopher_repetition_v2:dup_line_frac", 4),
        ("fineweb_v2:line_punct_ratio", 2),
    ]
    assert (ja.docs_in, ja.kept, ja.kept_rate, ja.reasons) == (20, 20, 1.0, [])
    # 15th: "am" (18 - 11 = 7 documents); the rest (an..ar: 6..2 docs, and "?": 1) is "other"
    assert rows[14].language == "am" and rows[14].docs_in == 7
    other = rows[-1]
    assert other.language == "other (6 languages)" and other.languages == 6
    assert (other.docs_in, other.kept) == (6 + 5 + 4 + 3 + 2 + 1, 5 + 4 + 3 + 2 + 1)
    assert other.reasons == [
        ("gopher_quality_v2:mean_word_length", 5),
        ("lid_fasttext_v1:score", 1),
    ]
    assert other.recipe == "5 recipes"
    assert sum(r.docs_in for r in rows) == t.num_rows
    # no rest: no "other" row
    assert [
        r.language
        for r in R.language_rows(R.language_counts(t.slice(0, 70), "lid_fasttext_v1__lang"))
    ] == ["en", "zh"]


def test_language_rows_without_recipe_column_or_language():
    t = _multilingual_attributes(with_recipe=False)
    rows = R.language_rows(R.language_counts(t, "lid_fasttext_v1__lang"), top=2)
    assert [(r.language, r.recipe, r.docs_in) for r in rows[:2]] == [("en", "", 40), ("zh", "", 30)]
    assert rows[-1].recipe == "" and rows[-1].docs_in == t.num_rows - 70
    assert (
        R.language_counts(t.drop_columns(["lid_fasttext_v1__lang"]), "lid_fasttext_v1__lang") == []
    )
    assert R.language_counts(None, "lid_fasttext_v1__lang") == []
    assert R.plot_language_rows("t", [], "not curated yet").note == "not curated yet"


def _lake_with(tmp_path, attrs):
    lake = str(tmp_path / "lake")
    n = attrs.num_rows if attrs is not None else 3
    ids = [f"{i:040x}" for i in range(n)]
    delta.write_table(
        delta.table_uri(lake, "bronze/web_documents"),
        pa.table({"doc_id": ids, "text": ["x" * 20] * n, "byte_length": [20] * n}),
    )
    if attrs is not None:
        delta.write_table(delta.table_uri(lake, "silver/web_attributes"), attrs)
    delta.write_table(
        delta.table_uri(lake, delta.STAGE_RUNS),
        pa.Table.from_pylist(
            [_stage_run("curate", "r1", 1.0, tables={"silver/web_attributes": 0})],
            schema=STAGE_RUNS_SCHEMA,
        ),
    )
    return lake


def test_report_page_has_the_language_table_and_plot(tmp_path):
    lake = _lake_with(tmp_path, _multilingual_attributes())
    page = R.build(lake, parse_params({}), None, tmp_path / "reports", tmp_path / "no-mix")
    html = page.read_text()
    table = html[html.index('<table class="languages">') :]
    table = table[: table.index("</table>")]
    cells = re.findall(
        r"<tr><td>([^<]+)</td><td><code>([^<]*)</code></td><td>([^<]+)</td>"
        r"<td>([^<]+)</td>\s*<td>([^<]+)</td>",
        table,
    )
    assert len(cells) == R.TOP_LANGUAGES + 1
    assert cells[0] == ("en", "eng_Latn", "40", "32", "80.0%")
    assert cells[1] == ("zh", "cmn_Hani", "30", "17", "56.7%")
    assert cells[-1] == ("other (6 languages)", "5 recipes", "21", "15", "71.4%")
    assert "<code>lid_fasttext_v1:score (6)</code>" in table
    assert "<code>gopher_quality_v2:stop_word_count (5)</code>" in table
    assert "c4_v2:lines (1)" not in table  # zh's 4th reason is not shown
    assert "documents per language (top 15 + other)" in html
    imgs = dict(
        re.findall(r'<img class="plot" alt="([^"]+)" src="data:image/png;base64,([^"]+)"', html)
    )
    assert base64.b64decode(imgs["web: language distribution (scored vs kept)"])[:4] == b"\x89PNG"


def test_report_page_languages_older_lake_and_no_attributes(tmp_path):
    lake = _lake_with(tmp_path / "old", _multilingual_attributes(with_recipe=False))
    html = R.build(lake, parse_params({}), None, tmp_path / "r1", tmp_path / "no-mix").read_text()
    assert "no recipe column (curated before per-language recipes)" in html
    assert "<tr><td>en</td><td><code></code></td><td>40</td>" in html
    lake = _lake_with(tmp_path / "none", None)
    html = R.build(lake, parse_params({}), None, tmp_path / "r2", tmp_path / "no-mix").read_text()
    assert '<table class="languages">' not in html
    assert "not curated yet" in html


def test_quality_model_histogram_marks_the_threshold(tmp_path):
    lake = str(tmp_path / "lake")
    scores = [0.05, 0.2, 0.45, 0.55, 0.8, 0.95, None]
    reasons = ["quality_model_v1:score"] * 3 + [None, None, "c4_v2:x", "lid_cascade_v1:score"]
    delta.write_table(
        delta.table_uri(lake, "silver/web_attributes"),
        pa.table(
            {
                "doc_id": [f"{i:040x}" for i in range(7)],
                "quality_model_v1__score": pa.array(scores, pa.float64()),
                "drop_reason": reasons,
            }
        ),
    )
    data = R.RunData(run_id="r", lake=lake, stage_runs=[])
    plot = R.plot_quality_model("web", data, {"min_score": 0.5})
    assert base64.b64decode(plot.png_b64)[:4] == b"\x89PNG"
    assert plot.note == "min_score 0.5: 3 of 6 scored documents dropped by it"
    # a top-p% decision has no single line; a pipeline without the filter says so
    top = R.plot_quality_model("web", data, {"min_score": None, "keep_top_fraction": 0.1})
    assert top.png_b64 and top.note.startswith("top 10% per language:")
    other = R.RunData(run_id="r", lake=str(tmp_path / "none"), stage_runs=[])
    assert "no quality_model_v1" in R.plot_quality_model("web", other, {}).note
