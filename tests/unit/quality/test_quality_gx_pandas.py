"""The committed GX context on pandas batches: the computed-metric and shards suites (no JVM)."""

import json

import pytest

from lmdata.config import parse_params
from lmdata.quality import gate as G
from lmdata.quality import gx
from lmdata.quality import suites as S


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    reports = tmp_path_factory.mktemp("reports")
    with gx.open_context(reports) as c:
        yield c, reports


PARAMS = S.expectation_parameters(parse_params({}))


def test_metrics_suite_passes_good_metrics_and_names_the_bad_filter(ctx):
    c, reports = ctx
    good = S.metrics_frame(
        {
            "removal_rate": {"c4_v1": 0.3, "lid_fasttext_v1": 0.1},
            "kept_rate": 0.6,
            "language_tvd": 0.1,
        }
    )
    r = gx.run_checkpoint(c, "silver_web_attributes__metrics", good, PARAMS, "unit_good")
    assert r["success"], S.failed_expectations(r)
    bad = S.metrics_frame(
        {
            "removal_rate": {"c4_v1": 1.0, "lid_fasttext_v1": 0.0},
            "kept_rate": 0.0,
            "pii_left_share": 0.25,
            "language_tvd": 0.8,
        }
    )
    r = gx.run_checkpoint(c, "gold_web_documents__metrics", bad, PARAMS, "unit_bad")
    assert not r["success"]
    fails = {f["column"]: f for f in S.failed_expectations(r)}
    assert set(fails) == {"removal_rate", "kept_rate", "pii_left_share", "language_tvd"}
    assert "filter:c4_v1" in fails["removal_rate"]["observed"]
    assert "filter:lid_fasttext_v1" not in fails["removal_rate"]["observed"]
    # the Data Docs site was built under the reports dir, with this validation's page
    assert (reports / "data_docs" / "index.html").exists()
    assert r["data_docs_url"] and r["data_docs_url"].startswith("file://" + str(reports))


def test_shards_suite_checks_tokens_documents_and_hashes(ctx, tmp_path):
    c, reports = ctx
    good = {
        "shards": [
            {"path": "s0.bin", "sha256": "a" * 64, "tokens": 100, "documents": 10},
            {"path": "s1.bin", "sha256": "b" * 64, "tokens": 7, "documents": 7},
        ]
    }
    assert gx.run_checkpoint(c, S.SHARDS_SUITE, S.shard_rows(good), PARAMS, "unit_s")["success"]
    bad = {
        "shards": [
            {"path": "s0.bin", "sha256": "a" * 64, "tokens": 3, "documents": 10},
            {"path": "s1.bin", "sha256": None, "tokens": 0, "documents": 0},
        ]
    }
    r = gx.run_checkpoint(c, S.SHARDS_SUITE, S.shard_rows(bad), PARAMS, "unit_s_bad")
    fails = S.failed_expectations(r)
    kinds = {(f["expectation"], f["column"]) for f in fails}
    assert ("expect_column_values_to_not_be_null", "sha256") in kinds
    assert ("expect_column_values_to_be_between", "tokens") in kinds
    assert ("expect_column_pair_values_a_to_be_greater_than_b", "tokens,documents") in kinds
    # stored with the version it checked
    lake = tmp_path / "lake"
    gate = G.GateResult("mixture/m", 3, "run1", [r])
    rows = G.store(str(lake), reports, gate)
    assert rows[0]["version"] == 3 and not rows[0]["success"]
    stored = G.read_validations(str(lake))
    assert stored[0]["table"] == "mixture/m" and json.loads(stored[0]["failed_json"])
    assert json.loads(open(stored[0]["result_path"]).read())["suite_name"] == "shards"
    with pytest.raises(G.GateFailed, match="quality gate failed for mixture/m v3"):
        G.enforce(gate)


def test_context_is_built_once_and_docs_are_built_for_the_validated_suite_only(tmp_path):
    reports = tmp_path / "reports"
    shards = S.shard_rows(
        {"shards": [{"path": "s0.bin", "sha256": "a" * 64, "tokens": 5, "documents": 1}]}
    )
    with gx.open_context(reports) as c1:
        [r] = gx.run_checkpoints(c1, [(S.SHARDS_SUITE, shards)], PARAMS, "unit_docs1")
    assert r["success"] and r["meta"]["checkpoint_id"]
    with gx.open_context(reports) as c2:
        assert c2 is c1  # reused, not re-read from great_expectations.yml
        docs = reports / "data_docs"
        suite_page = docs / "expectations" / "shards.html"
        assert sorted(p.name for p in (docs / "expectations").iterdir()) == ["shards.html"]
        built = suite_page.stat().st_mtime_ns
        [r2] = gx.run_checkpoints(c2, [(S.SHARDS_SUITE, shards)], PARAMS, "unit_docs2")
    # one page per validation, the index lists both; the unchanged suite's page is not rebuilt
    pages = {p.as_uri() for p in (docs / "validations").rglob("*.html")}
    assert len(pages) == 2 and {r["data_docs_url"], r2["data_docs_url"]} == pages
    assert "unit_docs1" in (docs / "index.html").read_text()
    assert suite_page.stat().st_mtime_ns == built


def test_spark_datasource_leaves_caching_to_the_stage(ctx, tmp_path):
    """GX's Spark datasource caches each batch in memory by default (`persist: true`); on a 1 GB
    table of web text that ran a 768m local driver out of heap. The committed context says
    `persist: false`, and `init_context` sets it on a context made without it."""
    import shutil

    c, _ = ctx
    assert c.data_sources.get(gx.SPARK_DS).persist is False
    root = tmp_path / "gx"
    shutil.copytree(gx.expectations_dir(), root)
    yml = root / "great_expectations.yml"
    yml.write_text(yml.read_text().replace("    persist: false\n", ""))
    with gx.open_context(tmp_path / "before", root) as old:
        assert old.data_sources.get(gx.SPARK_DS).persist is True
    gx.init_context(root)
    with gx.open_context(tmp_path / "after", root) as fresh:
        assert fresh.data_sources.get(gx.SPARK_DS).persist is False
        assert len(fresh.data_sources.get(gx.SPARK_DS).assets) == len(
            c.data_sources.get(gx.SPARK_DS).assets
        )
