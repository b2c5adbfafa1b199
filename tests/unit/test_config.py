import os

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


def test_local_driver_gc_flag(monkeypatch):
    """A local-mode driver gets the collector of `spark.local_gc` (parallel by default) after
    the default JVM options; a cluster master's conf carries no GC flag."""
    from lmdata.config import SparkConfig
    from lmdata.spark.session import _SMALL_MACHINE_DEFAULTS, build_conf

    monkeypatch.delenv("LMDATA_SPARK_MASTER", raising=False)
    monkeypatch.delenv("LMDATA_SPARK_CONF", raising=False)
    key = "spark.driver.extraJavaOptions"
    base = _SMALL_MACHINE_DEFAULTS[key]
    assert build_conf(SparkConfig(), "local[2]")[key] == f"{base} -XX:+UseParallelGC"
    assert build_conf(SparkConfig(local_gc="g1"), "local[2]")[key] == f"{base} -XX:+UseG1GC"
    assert build_conf(SparkConfig(local_gc="jvm"), "local[2]")[key] == base
    assert build_conf(SparkConfig(), "spark://h:7077")[key] == base
    with pytest.raises(ValueError):
        SparkConfig(local_gc="zgc")


def test_driver_memory_auto_sized_to_task_slots(monkeypatch):
    from lmdata.config import SparkConfig
    from lmdata.spark import session
    from lmdata.spark.session import build_conf, driver_memory, local_slots

    monkeypatch.delenv("LMDATA_SPARK_MASTER", raising=False)
    monkeypatch.setattr(session.os, "cpu_count", lambda: 6)
    assert local_slots("local") == 1 and local_slots("local[3]") == 3
    assert local_slots("local[*]") == 6 and local_slots("local[4,2]") == 4
    assert local_slots("spark://h:7077") is None and local_slots("k8s://https://x") is None
    cfg = SparkConfig()  # the default is auto
    assert driver_memory(cfg, "local[2]") == "768m"
    assert driver_memory(cfg, "local") == "768m"  # the floor (256 + 256 is under it)
    assert driver_memory(cfg, "local[*]") == f"{256 + 256 * 6}m"
    assert driver_memory(cfg, "spark://h:7077") == "2g"
    assert driver_memory(SparkConfig(driver_memory="3g"), "local[2]") == "3g"
    # the configured master, or LMDATA_SPARK_MASTER over it, when none is passed
    assert build_conf(SparkConfig(master="local[4]"))["spark.driver.memory"] == "1280m"
    # file splits: 4 per local slot; a cluster keeps Spark's default
    assert build_conf(SparkConfig(master="local[4]"))["spark.sql.files.minPartitionNum"] == "16"
    assert "spark.sql.files.minPartitionNum" not in build_conf(SparkConfig(), "spark://h:7077")
    # Java serialization resets after each object (a cached batch), on every master
    for master in ("local[2]", "spark://h:7077"):
        assert build_conf(SparkConfig(), master)["spark.serializer.objectStreamReset"] == "1"
    monkeypatch.setenv("LMDATA_SPARK_MASTER", "local[2]")
    assert build_conf(SparkConfig(master="local[4]"))["spark.driver.memory"] == "768m"
    # never more than half the machine's RAM
    ram_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    assert driver_memory(cfg, "local[100000]") == f"{max(768, ram_mb // 2)}m"


def test_driver_memory_rejects_a_non_jvm_size():
    import pydantic

    from lmdata.config import SparkConfig

    with pytest.raises(pydantic.ValidationError):
        SparkConfig(driver_memory="2 GB")
