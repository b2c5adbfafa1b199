"""Suites and computed checks on plain pandas/arrow data (no JVM)."""

import json

import pytest

from lmdata.config import load_params, parse_params
from lmdata.errors import ConfigError
from lmdata.quality import suites as S
from lmdata.quality.gx import checkpoint_plan

ROOT = S.expectations_dir()


def test_every_gated_table_has_a_suite_checkpoint_and_parameters():
    params = S.expectation_parameters(parse_params({}))
    plan = checkpoint_plan()
    for name, _, _, suite, _ in plan:
        assert (ROOT / "checkpoints" / f"{name}.json").exists(), name
        assert (ROOT / "validation_definitions" / f"{name}.json").exists(), name
        s = S.load_suite(suite, ROOT)
        assert s["name"] == suite and s["expectations"]
        missing = S.suite_parameters(s) - set(params)
        assert not missing, f"{suite} uses parameters params.yaml does not give: {missing}"
    assert {spec.suite for spec in S.TABLES.values()} <= {p[3] for p in plan}
    assert S.SHARDS_SUITE in {p[0] for p in plan}


def test_table_spec_names_the_gated_tables():
    assert S.table_spec("gold/web_documents").suite == "gold_web_documents"
    with pytest.raises(ConfigError, match="no quality suite for table 'gold/nope'.*gold/web"):
        S.table_spec("gold/nope")


def test_quality_params_are_validated():
    with pytest.raises(ConfigError, match="quality.max_language_tvd"):
        parse_params({"quality": {"max_language_tvd": 1.5}})
    with pytest.raises(ConfigError, match="quality.max_dup: unknown key"):
        parse_params({"quality": {"max_dup": 0.1}})
    p = load_params(overrides=["quality.web_languages=[en, fr]"])
    assert S.expectation_parameters(p)["web_languages"] == ["en", "fr"]


def test_default_languages_follow_the_lid_allow_list():
    p = parse_params(
        {"curate": {"web": {"pipeline": {"lid_fasttext_v1": {"languages": ["de", "en"]}}}}}
    )
    assert S.web_languages(p) == ["de", "en"]
    full = S.web_languages(parse_params({}))
    assert "en" in full and "zh" in full and len(full) > 100
    assert "Python" in S.code_languages(parse_params({}))


def test_removal_rates_per_filter_and_kept_rate():
    counts = {None: 2, "c4_v1:x": 5, "c4_v1:y": 1, "gopher_quality_v1:word_count": 2}
    r = S.removal_rates(counts, ["lid_fasttext_v1", "c4_v1", "gopher_quality_v1"])
    assert r["removal_rate"] == {"lid_fasttext_v1": 0.0, "c4_v1": 0.6, "gopher_quality_v1": 0.2}
    assert r["kept_rate"] == pytest.approx(0.2)
    assert S.removal_rates({}, ["c4_v1"]) == {}
    everything = S.removal_rates({"c4_v1:x": 7}, ["c4_v1"])
    assert everything["kept_rate"] == 0.0 and everything["removal_rate"]["c4_v1"] == 1.0


def test_language_drift_is_total_variation_and_skips_small_or_first_versions():
    assert S.total_variation({"en": 1.0}, {"en": 1.0}) == 0.0
    assert S.total_variation({"en": 1.0}, {"fr": 1.0}) == 1.0
    assert S.language_drift({"en": 30, "fr": 10}, {"en": 10, "fr": 30}, 10) == pytest.approx(0.5)
    assert S.language_drift({"en": 30}, None, 10) is None  # first version
    assert S.language_drift({"en": 3}, {"fr": 3}, 10) is None  # too small to compare


def test_metrics_frame_has_one_row_per_subject_and_nulls_for_na():
    df = S.metrics_frame(
        {
            "removal_rate": {"c4_v1": 0.5, "lid_fasttext_v1": 0.1},
            "kept_rate": 0.4,
            "language_tvd": None,
        }
    )
    assert list(df["subject"]) == ["batch", "filter:c4_v1", "filter:lid_fasttext_v1"]
    assert list(df.columns) == ["subject", *S.METRIC_COLUMNS]
    assert df.loc[0, "kept_rate"] == 0.4 and df["language_tvd"].isna().all()
    assert df.loc[1, "removal_rate"] == 0.5 and str(df.dtypes["duplicate_rate"]) == "float64"


def test_shard_rows_accepts_manifest_key_spellings_and_rejects_bad_manifests():
    m = {
        "shards": [
            {
                "prefix": "a",
                "bin_sha256": "0" * 64,
                "idx_sha256": "1" * 64,
                "tokens": 10,
                "documents": 2,
            },
            {"path": "b.bin", "sha256": None, "num_tokens": 3, "num_documents": 4, "source": "web"},
        ]
    }
    df = S.shard_rows(m)
    assert list(df["shard"]) == ["a", "b.bin"]
    assert list(df["tokens"]) == [10.0, 3.0] and df["sha256"].isna().tolist() == [False, True]
    with pytest.raises(ConfigError, match="'shards' must be a list"):
        S.shard_rows({"totals": {}})


def test_failure_message_lists_each_failed_expectation():
    result = {
        "suite_name": "table_metrics",
        "success": False,
        "results": [
            {"success": True, "expectation_config": {"type": "x", "kwargs": {}}},
            {
                "success": False,
                "expectation_config": {
                    "type": "expect_column_values_to_be_between",
                    "kwargs": {
                        "column": "removal_rate",
                        "min_value": 0.0,
                        "max_value": 0.95,
                        "batch_id": "b",
                    },
                },
                "result": {
                    "element_count": 3,
                    "unexpected_count": 1,
                    "unexpected_percent": 50.0,
                    "partial_unexpected_index_list": [
                        {"removal_rate": 1.0, "subject": "filter:c4_v1"}
                    ],
                },
            },
        ],
    }
    fails = S.failed_expectations(result)
    assert len(fails) == 1 and fails[0]["column"] == "removal_rate"
    msg = S.failure_message("silver/web_attributes", 3, fails)
    assert "silver/web_attributes v3: 1 failed expectation(s)" in msg
    assert "expect_column_values_to_be_between column=removal_rate" in msg
    assert "filter:c4_v1" in msg and "expected in [0, 0.95]" in msg
    json.dumps(fails)  # stored as JSON in _meta/validations
