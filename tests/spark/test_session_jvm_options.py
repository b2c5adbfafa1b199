"""spark.cold_java_options and spark.class_data_sharing (issue 21): added to the driver JVM of a
cold local-mode session only; the AppCDS archive `make setup` builds is mapped (its classes load
from it); an archive that is missing or stale does not break the session."""

import json
import subprocess
import sys
from pathlib import Path

from lmdata.config import SparkConfig
from lmdata.spark import cds
from lmdata.spark.session import build_conf, cold_local_conf

_PROBE = r"""
import json, sys
from lmdata.config import SparkConfig
from lmdata.spark.session import get_spark
cds = sys.argv[2] == "1"
spark = get_spark(SparkConfig(master="local[1]", cold_java_options=sys.argv[1], class_data_sharing=cds))
args = list(spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
print(json.dumps({"args": args, "rows": spark.range(3).count()}))
spark.stop()
"""


def test_cold_options_only_for_local_masters():
    cfg = SparkConfig(cold_java_options="-XX:TieredStopAtLevel=1")
    conf = build_conf(cfg)
    local = cold_local_conf(conf, "local[2]", cfg)["spark.driver.extraJavaOptions"]
    assert local.endswith(" -XX:TieredStopAtLevel=1")
    assert local.startswith(conf["spark.driver.extraJavaOptions"])  # the defaults stay
    for master in ("spark://host:7077", "k8s://https://k", "yarn"):
        assert cold_local_conf(conf, master, cfg) == conf
    off = SparkConfig(class_data_sharing=False)
    assert cold_local_conf(conf, "local[2]", off) == conf  # empty: nothing added


def test_the_cds_archive_is_added_when_it_exists(tmp_path, monkeypatch):
    monkeypatch.setenv("LMDATA_JARS_DIR", str(tmp_path))
    cfg = SparkConfig(cold_java_options="-Dx=1")
    conf = build_conf(cfg)
    key = "spark.driver.extraJavaOptions"
    assert cds.java_options() == ""  # none built: nothing added
    assert cold_local_conf(conf, "local[2]", cfg)[key].endswith(" -Dx=1")
    (tmp_path / cds.ARCHIVE_NAME).write_bytes(b"x" * 10)
    opts = cold_local_conf(conf, "local[2]", cfg)[key]
    assert opts.endswith(f" -XX:SharedArchiveFile={tmp_path / cds.ARCHIVE_NAME} -Dx=1")
    assert cold_local_conf(conf, "spark://h:7077", cfg) == conf
    no = SparkConfig(class_data_sharing=False)
    assert "SharedArchiveFile" not in cold_local_conf(conf, "local[2]", no).get(key, "")


def test_options_reach_the_driver_jvm_and_a_stale_cds_archive_is_harmless(tmp_path):
    stale = tmp_path / "stale.jsa"
    stale.write_bytes(b"not a CDS archive")  # a missing one takes the same path (-Xshare:auto)
    opts = f"-XX:SharedArchiveFile={stale} -Dlmdata.test.marker=1"
    r = subprocess.run([sys.executable, "-c", _PROBE, opts, "0"], capture_output=True, text=True,
                       timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert "-Dlmdata.test.marker=1" in out["args"]
    assert f"-XX:SharedArchiveFile={stale}" in out["args"]
    assert "-XX:+ExitOnOutOfMemoryError" in out["args"]
    assert out["rows"] == 3


def test_the_setup_archive_serves_the_spark_classes(tmp_path):
    """`make setup` built the archive (lmdata.spark.cds); a cold session maps it: Spark's and
    Delta's classes load from its top (dynamic) layer, not from the jars."""
    archive = cds.archive_path()
    assert archive.is_file(), (
        f"no {archive}: `make setup` builds it (python -m lmdata.spark.cds build)"
    )
    log = tmp_path / "class-load.log"
    opts = f"-Xlog:class+load=info:file={log}"
    r = subprocess.run([sys.executable, "-c", _PROBE, opts, "1"], capture_output=True, text=True,
                       timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert f"-XX:SharedArchiveFile={archive}" in out["args"] and out["rows"] == 3
    lines = Path(log).read_text().splitlines()
    shared = [ln for ln in lines if "org.apache.spark." in ln and "shared objects file (top)" in ln]
    spark_classes = [ln for ln in lines if " org.apache.spark." in ln]
    assert len(shared) > 0.5 * len(spark_classes) > 500, (len(shared), len(spark_classes))
