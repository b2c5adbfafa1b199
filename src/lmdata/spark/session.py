"""Spark session factory: the one place a SparkSession is built.

`local[*]` by default; master and conf from params.yaml (`spark:`) and the environment
(`LMDATA_SPARK_MASTER`, `LMDATA_SPARK_CONF="k=v,k=v"`), so `spark://`, `k8s://` and `yarn`
are passed without code changes. Under `spark-submit`, the master/conf given on the command line
win (we only set what the launcher did not).

Delta Lake (DESIGN §3): every session loads delta-spark (`lake_conf`): the pinned jars of
infra/jars.lock (fetched by `make setup`) go on the driver and executor class path, the Delta SQL
extension and catalog are on, and an `s3://`/`s3a://` lake gets its s3a settings from the
environment (endpoint, path-style, region; credentials stay in AWS_* and never enter the conf).
"""

from __future__ import annotations

import os
import re
import sys

from lmdata.config import SparkConfig

_SMALL_MACHINE_DEFAULTS = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # rows per Arrow batch into a Python worker (mapInArrow): each worker holds a batch, its
    # Python strings and its results at once; 1,000 web documents are ~4.5 MB of text
    "spark.sql.execution.arrow.maxRecordsPerBatch": "1000",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.parquet.compression.codec": "zstd",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.files.maxPartitionBytes": "64m",
    # rows per columnar batch of a cached DataFrame (Spark's default 10,000): a batch is built,
    # and read back, whole in the heap even when the cache is DISK_ONLY
    "spark.sql.inMemoryColumnarStorage.batchSize": "2000",
    # Parquet row group (parquet-mr's default 128 MiB): each task's open writer buffers one
    "spark.hadoop.parquet.block.size": str(32 * 2**20),
    "spark.python.worker.reuse": "true",
    # Java serialization (a cached DataFrame's batches, spark.serializer's default) keeps every
    # object a stream wrote or read reachable until the stream resets, every 100 objects by
    # default: a DISK_ONLY cache of web text held all of a task's batches in the heap while it
    # was written and again while it was read back, so the heap a task needed grew with its
    # split (a 768m driver climbed to ~545 MiB live in curate at 1 GB and ran out there).
    # Reset after each object: a batch is ~10 MB, its class descriptors a few hundred bytes.
    "spark.serializer.objectStreamReset": "1",
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


# Delta table features stay within what delta-rs 1.6.6, DuckDB's delta extension and Polars read:
# no deletion vectors, classic (v1) checkpoints. README "The lake" lists what the tables use.
_DELTA_DEFAULTS = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.databricks.delta.properties.defaults.enableDeletionVectors": "false",
}


def lake_conf() -> dict[str, str]:
    """The Delta + S3 part of every session's conf.

    Jars: by default on `spark.{driver,executor}.extraClassPath` (`<jars dir>/*`): on one machine
    or in the images (where they also sit in $SPARK_HOME/jars) nothing is copied; with
    `spark.jars` Spark would copy the 640 MB AWS SDK bundle to every executor of every
    application. LMDATA_SPARK_SHIP_JARS=1 ships them with `spark.jars` instead (cluster nodes
    without the jars).
    """
    conf = dict(_DELTA_DEFAULTS)
    conf.update(launcher_conf())
    conf.update(s3a_conf())
    return conf


def launcher_conf() -> dict[str, str]:
    """The class-path settings only the launcher can apply (the driver JVM's class path is fixed
    when it starts): `spark-submit --conf` from the Airflow operator, or pyspark's own launch."""
    from lmdata.lake import jars

    if os.environ.get("LMDATA_SPARK_SHIP_JARS") == "1":
        return {"spark.jars": ",".join(jars.spark_jars())}
    cp = os.path.join(str(jars.jars_dir()), "*")
    return {"spark.driver.extraClassPath": cp, "spark.executor.extraClassPath": cp}


def _add_jars_to_driver(jvm) -> None:
    """Under a spark-submit that was not given the jars (a hand run, another launcher): add them
    to the driver's class loader before the session exists. spark-submit runs the application
    with a MutableURLClassLoader as the context class loader (py4j's threads inherit it), and
    Spark resolves session extensions and data sources through it. Executors get the jars from
    `spark.executor.extraClassPath`, which is still set before the SparkContext starts."""
    from lmdata.lake import jars

    utils = jvm.org.apache.spark.util.Utils
    if utils.classIsLoadable("io.delta.sql.DeltaSparkSessionExtension"):
        return
    loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
    if loader.getClass().getName() != "org.apache.spark.util.MutableURLClassLoader":
        return  # _check_delta names the fix
    for path in jars.spark_jars():
        if os.path.exists(path):
            loader.addURL(jvm.java.io.File(path).toURI().toURL())


def _check_delta(spark) -> None:
    """Fail with the fix when the driver lacks delta-spark (e.g. a hand-run spark-submit
    without the launcher settings), instead of an obscure error at the first Delta read."""
    from lmdata.errors import FatalError

    utils = spark._jvm.org.apache.spark.util.Utils
    if not utils.classIsLoadable("io.delta.sql.DeltaSparkSessionExtension"):
        hint = " ".join(f"--conf {k}={v}" for k, v in launcher_conf().items())
        raise FatalError(
            "delta-spark is not on the Spark driver's class path: run `make setup` (jars) and "
            f"pass {hint} to spark-submit"
        ) from None


def s3a_conf() -> dict[str, str]:
    """s3a settings for an S3-compatible lake from the environment (LMDATA_S3_ENDPOINT or
    AWS_ENDPOINT_URL, AWS_REGION). `s3://` is served by S3A too. Credentials: S3A's default
    provider chain reads AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY from each JVM's environment."""
    conf = {
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        # Delta's S3 log store: atomic only with ONE writing driver per table (README, S3 lake)
        "spark.delta.logStore.s3.impl": "io.delta.storage.S3SingleDriverLogStore",
        "spark.delta.logStore.s3a.impl": "io.delta.storage.S3SingleDriverLogStore",
    }
    endpoint = os.environ.get("LMDATA_S3_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        conf["spark.hadoop.fs.s3a.endpoint"] = endpoint
        conf["spark.hadoop.fs.s3a.path.style.access"] = "true"
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(
            endpoint.startswith("https://")
        ).lower()
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        conf["spark.hadoop.fs.s3a.endpoint.region"] = region
    return conf


# `spark.driver_memory: auto` (issue 21 item 5, BENCHMARKS.md "Memory"): a local-mode heap of
# HEAP_BASE_MB + HEAP_PER_SLOT_MB per task slot, at least HEAP_MIN_MB, at most half the RAM.
# local[2] -> 768m, with the parallel collector (GC_FLAGS). What a local heap holds grows with
# the tasks running at once (a Parquet writer's row group, cached batches, Arrow batches), not
# with the input: stages cache to disk, dedup re-reads its texts from the pinned table, cached
# batches are 2,000 rows, Parquet row groups 32 MiB, and the Java serializer resets after every
# object (above: with its default of 100, a task's whole DISK_ONLY partition stayed reachable,
# so the heap grew with the split and 768m ran out at 1 GB in curate's kept write; the 1 GiB
# default of 2026-12-05 was that margin). A cluster's driver only plans and commits (its
# executors hold the data, sized by spark.executor.memory): it keeps 2g.
HEAP_BASE_MB = 256
HEAP_PER_SLOT_MB = 256
HEAP_MIN_MB = 768
CLUSTER_DRIVER_MEMORY = "2g"


def local_slots(master: str) -> int | None:
    """Task slots of a local master (`local`, `local[4]`, `local[*]`, `local[4,2]`), or None
    for a cluster master."""
    m = re.fullmatch(r"local(?:\[(\*|\d+)(?:,\s*\d+)?\])?", master.strip())
    if m is None:
        return None
    if m.group(1) in (None, ""):
        return 1
    if m.group(1) == "*":
        return os.cpu_count() or 1
    return int(m.group(1))


def configured_master(cfg: SparkConfig) -> str:
    """The master a classic session lmdata launches itself uses: $LMDATA_SPARK_MASTER, else
    params.yaml's."""
    return os.environ.get("LMDATA_SPARK_MASTER") or cfg.master


def driver_memory(cfg: SparkConfig, master: str | None = None) -> str:
    """The driver heap for `master` (default: the configured one): `cfg.driver_memory`, or with
    "auto" the size above."""
    if cfg.driver_memory != "auto":
        return cfg.driver_memory
    slots = local_slots(master or configured_master(cfg))
    if slots is None:
        return CLUSTER_DRIVER_MEMORY
    mb = max(HEAP_MIN_MB, HEAP_BASE_MB + HEAP_PER_SLOT_MB * slots)
    try:
        ram_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
        mb = min(mb, max(HEAP_MIN_MB, ram_mb // 2))
    except (ValueError, OSError):  # no sysconf (not Linux): the formula alone
        pass
    return f"{mb}m"


def _with_java_options(conf: dict[str, str], opts: str) -> dict[str, str]:
    """`conf` with `opts` appended to the driver's JVM options (after what is there)."""
    if not opts:
        return conf
    key = "spark.driver.extraJavaOptions"
    return {**conf, key: f"{conf.get(key, '')} {opts}".strip()}


GC_FLAGS = {"parallel": "-XX:+UseParallelGC", "g1": "-XX:+UseG1GC", "jvm": ""}


def gc_options(cfg: SparkConfig, master: str | None = None) -> str:
    """The JVM flag of `cfg.local_gc` for a local-mode driver (it is also the executor and runs
    the batch work); "" for a cluster master, whose JVMs keep their own settings."""
    if local_slots(master or configured_master(cfg)) is None:
        return ""
    return GC_FLAGS[cfg.local_gc]


# File splits per local task slot, at least (`spark.sql.files.minPartitionNum`; Spark's default
# is one per slot). Spark packs a table's files into splits of at most maxPartitionBytes and at
# least total/minPartitionNum: on the 200 MiB pipeline's 9 bronze files of 15 MB that made 3
# scoring tasks for 2 slots in curate (126, 125 and 102 s: the third ran alone, one core idle
# for a third of the stage; Spark event log, BENCHMARKS.md "Memory"). Small tables are not
# split finer: a split is never under spark.sql.files.openCostInBytes (4 MiB).
SPLITS_PER_SLOT = 4


def build_conf(cfg: SparkConfig, master: str | None = None) -> dict[str, str]:
    conf = dict(_SMALL_MACHINE_DEFAULTS)
    conf.update(lake_conf())
    slots = local_slots(master or configured_master(cfg))
    if slots is not None:
        conf["spark.sql.files.minPartitionNum"] = str(SPLITS_PER_SLOT * slots)
    conf["spark.sql.shuffle.partitions"] = str(cfg.shuffle_partitions)
    conf["spark.ui.enabled"] = "true" if cfg.ui else "false"
    conf["spark.driver.memory"] = driver_memory(cfg, master)
    conf = _with_java_options(conf, gc_options(cfg, master))
    conf.update(cfg.conf)
    conf.update(_env_conf())
    return conf


def cold_local_conf(conf: dict[str, str], master: str, cfg: SparkConfig) -> dict[str, str]:
    """`conf` with the class data sharing archive (lmdata.spark.cds, when built and
    `cfg.class_data_sharing`) and `cfg.cold_java_options` appended to the driver's JVM options
    when lmdata launches a local-mode driver itself (one JVM per command: its fixed cost is JVM
    start and JIT warm-up, not the long run a cluster or the warm server is tuned for; the warm
    server clears cold_java_options but keeps the archive, which only speeds class loading)."""
    if local_slots(master) is None:
        return conf
    opts = cfg.cold_java_options.strip()
    if cfg.class_data_sharing:
        from lmdata.spark import cds

        opts = f"{cds.java_options()} {opts}".strip()
    return _with_java_options(conf, opts)


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
    from lmdata.spark.connect import remote_url

    remote = remote_url()
    if remote:  # a warm Spark Connect server (lmdata.spark.connect) runs the work
        return _connect_session(remote, cfg, app_name)
    if os.environ.get("PYSPARK_GATEWAY_PORT"):
        # Launched by spark-submit: its --master and --conf win; we add only what it left unset.
        from pyspark import SparkConf, SparkContext

        SparkContext._ensure_initialized()
        _add_jars_to_driver(SparkContext._jvm)
        base = SparkConf()  # loads the spark.* properties the launcher set
        for k, v in build_conf(cfg, base.get("spark.master", None)).items():
            if not base.contains(k):
                base.set(k, v)
        builder = SparkSession.builder.config(conf=base)
        if not base.contains("spark.app.name"):
            builder = builder.appName(app_name or cfg.app_name)
    else:
        master = configured_master(cfg)
        builder = SparkSession.builder.appName(app_name or cfg.app_name).master(master)
        for k, v in cold_local_conf(build_conf(cfg, master), master, cfg).items():
            builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(cfg.log_level)
    _check_delta(spark)
    return spark


def _connect_session(url: str, cfg: SparkConfig, app_name: str | None):
    """A Spark Connect session on a warm server. The server's static settings (jars, Delta,
    memory, master) are its own; this session gets the runtime SQL settings of `cfg` (shuffle
    partitions, `spark.conf` entries Spark lets a session change)."""
    from pyspark.sql import SparkSession

    from lmdata.errors import RetryableError
    from lmdata.spark.connect import reachable

    # Spark Connect's client retries an unreachable server for minutes; a task whose server is
    # down should rather fail at once (exit 75) and be retried by Airflow with its backoff.
    if not reachable(url):
        raise RetryableError(f"no Spark Connect server at {url}: nothing listens there")
    try:
        spark = SparkSession.builder.remote(url).getOrCreate()
        spark.conf.set("spark.sql.shuffle.partitions", str(cfg.shuffle_partitions))
    except Exception as e:  # server down or restarting: the task is retried (exit 75)
        raise RetryableError(f"no Spark Connect server at {url}: {e}") from e
    for k, v in {**cfg.conf, **_env_conf()}.items():
        if spark.conf.isModifiable(k):
            spark.conf.set(k, v)
    spark.addTag(app_name or cfg.app_name)
    return spark
