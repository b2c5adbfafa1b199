"""spark.cold_java_options (issue 21): added to the driver JVM of a cold local-mode session only;
an AppCDS archive that is missing or stale does not break the session."""

import json
import subprocess
import sys

from lmdata.config import SparkConfig
from lmdata.spark.session import build_conf, cold_local_conf

_PROBE = r"""
import json, sys
from lmdata.config import SparkConfig
from lmdata.spark.session import get_spark
spark = get_spark(SparkConfig(master="local[1]", cold_java_options=sys.argv[1]))
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
    assert cold_local_conf(conf, "local[2]", SparkConfig()) == conf  # empty: nothing added


def test_options_reach_the_driver_jvm_and_a_stale_cds_archive_is_harmless(tmp_path):
    stale = tmp_path / "stale.jsa"
    stale.write_bytes(b"not a CDS archive")  # a missing one takes the same path (-Xshare:auto)
    opts = f"-XX:SharedArchiveFile={stale} -Dlmdata.test.marker=1"
    r = subprocess.run([sys.executable, "-c", _PROBE, opts], capture_output=True, text=True,
                       timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert "-Dlmdata.test.marker=1" in out["args"]
    assert f"-XX:SharedArchiveFile={stale}" in out["args"]
    assert "-XX:+ExitOnOutOfMemoryError" in out["args"]
    assert out["rows"] == 3
