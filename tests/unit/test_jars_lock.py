"""infra/jars.lock is the one source of the JVM jars: fetched + verified by `make setup`, the same
versions in the images and the Kubernetes templates, matching the locked pyspark."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lmdata.lake import jars

ROOT = Path(__file__).resolve().parents[2]


def test_lock_pins_delta_for_this_spark_and_hadoop_aws_for_its_hadoop():
    import pyspark

    lock = jars.load_lock()
    by = {j.artifact: j for j in lock}
    assert {"delta-spark_2.13", "delta-storage", "hadoop-aws", "bundle"} <= set(by)
    spark_jars = Path(pyspark.__file__).parent / "jars"
    # Scala 2.13 Spark; Delta's minor = Spark's minor (delta 4.1.x <-> Spark 4.1.x)
    assert list(spark_jars.glob("scala-library-2.13.*.jar"))
    assert by["delta-spark_2.13"].version.split(".")[:2] == pyspark.__version__.split(".")[:2]
    assert by["delta-storage"].version == by["delta-spark_2.13"].version
    hadoop = by["hadoop-aws"].version
    assert (spark_jars / f"hadoop-client-api-{hadoop}.jar").exists()
    assert all(re.fullmatch(r"[0-9a-f]{64}", j.sha256) for j in lock)


def test_make_setup_fetched_every_jar_and_each_matches_its_sha256():
    for j in jars.load_lock():
        path = jars.jars_dir() / j.filename
        assert path.exists(), f"{path}: run `make setup` (make jars)"
        assert jars.sha256_of(path) == j.sha256, j.coordinate
    assert len(jars.spark_jars(check=True)) == len(jars.load_lock())


def test_a_wrong_checksum_is_refused_and_nothing_is_left(tmp_path):
    lock = tmp_path / "jars.lock"
    src = tmp_path / "repo" / "g" / "a" / "1.0"
    src.mkdir(parents=True)
    (src / "a-1.0.jar").write_bytes(b"not the jar")
    lock.write_text(f"g:a:1.0 {'0' * 64}\n")
    with pytest.raises(RuntimeError, match="sha256"):
        jars.fetch(tmp_path / "out", repo=(tmp_path / "repo").as_uri(), lock=lock)
    assert not list((tmp_path / "out").iterdir())
    good = jars.sha256_of(src / "a-1.0.jar")
    lock.write_text(f"# comment\ng:a:1.0   {good}  # trailing\n")
    (path,) = jars.fetch(tmp_path / "out", repo=(tmp_path / "repo").as_uri(), lock=lock)
    assert path.read_bytes() == b"not the jar"


def _dockerfile_args(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)", path.read_text(), re.M))


@pytest.mark.parametrize("name", ["Dockerfile.spark", "Dockerfile.airflow"])
def test_images_fetch_the_lock_into_the_jars_dir_the_templates_use(name):
    df = ROOT / "docker" / name
    text = df.read_text()
    args = _dockerfile_args(df)
    assert args["HADOOP_VERSION"] == jars.version_of("hadoop-aws")
    assert args["AWS_SDK_V2_VERSION"] == jars.version_of("bundle")
    assert "COPY infra/jars.lock src/lmdata/lake/jars.py" in text
    assert "jars.py fetch --lock" in text and "LMDATA_JARS_DIR=/opt/lmdata/jars" in text
    app = (ROOT / "infra/spark/sparkapplication-ingest-cc.yaml").read_text()
    script = (ROOT / "infra/spark/spark-submit-k8s.sh").read_text()
    for conf in ("spark.driver.extraClassPath", "spark.executor.extraClassPath"):
        assert f"{conf}: /opt/lmdata/jars/*" in app
        assert f"{conf}=/opt/lmdata/jars/*" in script


def test_sessions_and_the_operator_put_the_jars_on_the_class_path(monkeypatch):
    from lmdata.spark.session import launcher_conf, s3a_conf

    cp = launcher_conf()
    assert cp["spark.driver.extraClassPath"] == f"{jars.jars_dir()}/*"
    assert cp["spark.executor.extraClassPath"] == f"{jars.jars_dir()}/*"
    monkeypatch.setenv("LMDATA_SPARK_SHIP_JARS", "1")
    assert launcher_conf() == {"spark.jars": ",".join(jars.spark_jars())}
    monkeypatch.setenv("LMDATA_S3_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "never-in-the-conf")
    conf = s3a_conf()
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert "never-in-the-conf" not in str(conf)
