"""Spark session factory: the one place a SparkSession is built.

`local[*]` by default; master and conf from params.yaml (`spark:`) and the environment
(`LMDATA_SPARK_MASTER`, `LMDATA_SPARK_CONF="k=v,k=v"`), so `spark://`, `k8s://` and `yarn`
are passed without code changes. Under `spark-submit`, the master/conf given on the command line
win (we only set what the launcher did not).
"""

from __future__ import annotations

import os
import sys

from lmdata.config import SparkConfig

_SMALL_MACHINE_DEFAULTS = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "2000",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.parquet.compression.codec": "zstd",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.files.maxPartitionBytes": "64m",
    "spark.python.worker.reuse": "true",
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
    "spark.ui.showConsoleProgress": "false",
    # A heap OOM ends the JVM at once (exit 3) instead of leaving a half-alive driver; the stage
    # then reports a fatal, named error (lmdata.spark.job._jvm_died) rather than a retryable
    # "connection refused".
    "spark.driver.extraJavaOptions": "-Dlog4j2.level=WARN -XX:+ExitOnOutOfMemoryError",
}


def _env_conf() -> dict[str, str]:
    raw = os.environ.get("LMDATA_SPARK_CONF", "")
    out = {}
    for item in filter(None, (s.strip() for s in raw.split(","))):
        if "=" in item:
            k, v = item.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def build_conf(cfg: SparkConfig) -> dict[str, str]:
    conf = dict(_SMALL_MACHINE_DEFAULTS)
    conf["spark.sql.shuffle.partitions"] = str(cfg.shuffle_partitions)
    conf["spark.ui.enabled"] = "true" if cfg.ui else "false"
    conf["spark.driver.memory"] = cfg.driver_memory
    conf.update(cfg.conf)
    conf.update(_env_conf())
    return conf


def get_spark(cfg: SparkConfig | None = None, app_name: str | None = None):
    """Build (or return the active) SparkSession for this process."""
    from pyspark.sql import SparkSession

    cfg = cfg or SparkConfig()
    # Executors must run the same interpreter as the driver (the venv), not whatever is on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if os.environ.get("PYSPARK_GATEWAY_PORT"):
        # Launched by spark-submit: its --master and --conf win; we add only what it left unset.
        from pyspark import SparkConf, SparkContext

        SparkContext._ensure_initialized()
        base = SparkConf()  # loads the spark.* properties the launcher set
        for k, v in build_conf(cfg).items():
            if not base.contains(k):
                base.set(k, v)
        builder = SparkSession.builder.config(conf=base)
        if not base.contains("spark.app.name"):
            builder = builder.appName(app_name or cfg.app_name)
    else:
        builder = SparkSession.builder.appName(app_name or cfg.app_name)
        builder = builder.master(os.environ.get("LMDATA_SPARK_MASTER") or cfg.master)
        for k, v in build_conf(cfg).items():
            builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(cfg.log_level)
    return spark
