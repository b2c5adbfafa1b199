import pytest

from lmdata.config import load_params, parse_params, resolve_lake
from lmdata.errors import ConfigError


def test_repo_params_yaml_is_valid():
    p = load_params("params.yaml")
    assert p.spark.master == "local[*]"
    assert p.dedup.exact.unicode_form == "NFKC"


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match=r"ingest_cc\.crawlx: unknown key"):
        parse_params({"ingest_cc": {"crawlx": "CC-MAIN-2024-22"}})


def test_bad_value_is_named():
    with pytest.raises(ConfigError, match=r"ingest_cc\.max_record_bytes"):
        parse_params({"ingest_cc": {"max_record_bytes": 0}})
    with pytest.raises(ConfigError, match=r"ingest_cc\.crawl"):
        parse_params({"ingest_cc": {"crawl": "2024-22"}})
    with pytest.raises(ConfigError, match=r"spark\.conf"):
        parse_params({"spark": {"conf": {"shuffle": "1"}}})


def test_overrides_and_missing_file(tmp_path):
    p = load_params("params.yaml", ["ingest_cc.limit=2", "spark.master=spark://h:7077"])
    assert p.ingest_cc.limit == 2 and p.spark.master == "spark://h:7077"
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("spark: [")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)


def test_resolve_lake(monkeypatch, tmp_path):
    monkeypatch.delenv("LMDATA_LAKE", raising=False)
    assert resolve_lake().endswith("var/lake")
    monkeypatch.setenv("LMDATA_LAKE", str(tmp_path))
    assert resolve_lake() == str(tmp_path)
    assert resolve_lake("s3://bucket/lake/") == "s3://bucket/lake"


def test_spark_conf_from_env(monkeypatch):
    from lmdata.config import SparkConfig
    from lmdata.spark.session import build_conf

    monkeypatch.setenv(
        "LMDATA_SPARK_CONF", "spark.executor.memory=8g, spark.sql.shuffle.partitions=400"
    )
    conf = build_conf(SparkConfig(shuffle_partitions=8, conf={"spark.foo": "1"}))
    assert conf["spark.executor.memory"] == "8g"
    assert conf["spark.sql.shuffle.partitions"] == "400"
    assert conf["spark.foo"] == "1" and conf["spark.ui.enabled"] == "false"
