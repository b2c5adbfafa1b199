"""The stage job skeleton (cc-pyspark style: one base, stages override `run`).

argv -> typed config -> Spark session -> run -> stats JSON -> exit code.
The same stage runs from the CLI (`lmdata <stage>`), from `spark-submit spark_jobs/<stage>.py`,
and from Airflow (SparkSubmitOperator). Error kinds (lmdata.errors):
  fatal      -> exit 2, Airflow must not retry
  retryable  -> exit 75, Airflow retries with backoff
  per-record -> quarantine rows + counters inside the stage; the job goes on
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import traceback
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pyarrow as pa

from lmdata import faults
from lmdata.config import Params, load_params, resolve_lake
from lmdata.errors import EXIT_FATAL, EXIT_OK, EXIT_RETRYABLE, LmdataError, RetryableError
from lmdata.lake import delta
from lmdata.stats import STATS_PREFIX, StageStats

log = logging.getLogger("lmdata")

STAGE_RUNS_SCHEMA = pa.schema(
    [
        pa.field("stage", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("app_id", pa.string()),
        pa.field("status", pa.string()),
        pa.field("started_at", pa.float64()),
        pa.field("seconds", pa.float64()),
        pa.field("stats_json", pa.string()),
    ]
)


@dataclass
class StageContext:
    params: Params
    lake: str
    run_id: str
    stats: StageStats
    args: argparse.Namespace

    @cached_property
    def spark(self):
        from lmdata.spark.session import get_spark

        return get_spark(self.params.spark, app_name=f"lmdata-{self.stats.stage}")

    def table(self, name: str) -> str:
        return delta.table_uri(self.lake, name)

    def already_committed(self, uri: str, app_id: str, name: str | None = None) -> bool:
        """True (and the stage's status "skipped") when this run's commit to `uri` is already
        there (a retried task: Delta's app transaction id `app_id`); with `name`, the stats
        record that table's current version as the one this run wrote."""
        if delta.committed(uri, app_id) is None:
            return False
        self.stats.status = "skipped"
        if name is not None:
            self.stats.tables[name] = delta.current_version(uri)
        return True

    def job_group(self, description: str) -> None:
        """Name the Spark jobs that follow (shown in the Spark UI and logs). On Spark Connect
        (no SparkContext) the jobs carry the stage's tag and this step's, in the same UI."""
        from lmdata.spark.connect import is_connect

        if is_connect(self.spark):
            self.spark.clearTags()
            self.spark.addTag(f"lmdata-{self.stats.stage}")
            self.spark.addTag(_tag(description))
        else:
            self.spark.sparkContext.setJobGroup(
                self.stats.stage, description, interruptOnCancel=True
            )
        log.info("[%s] %s", self.stats.stage, description)

    def close(self) -> None:
        """End a Spark Connect session (its cached DataFrames and temp views live on the
        server until then); a classic session ends with this process."""
        if "spark" in self.__dict__:
            from lmdata.spark.connect import is_connect

            if is_connect(self.spark):
                try:
                    self.spark.stop()
                except Exception as e:  # the work is done; a failed release is only logged
                    log.warning("could not release the Spark Connect session: %s", e)


def _tag(text: str) -> str:
    """A Spark job tag from free text (tags may not be empty or contain commas)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:60] or "step"


class Stage(ABC):
    name: str = "stage"
    description: str = ""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:  # noqa: B027
        """Stage-specific arguments."""

    @abstractmethod
    def run(self, ctx: StageContext) -> None:
        """Do the work; fill ctx.stats. Raise FatalError / RetryableError for job-level errors."""

    def app_id(self, ctx: StageContext) -> str:
        """Idempotency key of this stage run (Delta app transaction id)."""
        return f"lmdata:{self.name}:{ctx.run_id}"


def base_parser(stage: Stage) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"lmdata {stage.name}", description=stage.description)
    p.add_argument("--lake", default=None, help="lake root (default $LMDATA_LAKE, else ./var/lake)")
    p.add_argument(
        "--params", default=None, help="params.yaml (default $LMDATA_PARAMS or ./params.yaml)"
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one params key, e.g. --set ingest_cc.limit=2 (repeatable)",
    )
    p.add_argument("--run-id", default=None, help="stage run id (Airflow passes its run_id)")
    p.add_argument("--stats-out", default=None, help="also write the stats JSON to this file")
    stage.add_arguments(p)
    return p


def _configure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=os.environ.get("LMDATA_LOG_LEVEL", "INFO"),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
    for noisy in ("py4j", "great_expectations", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def record_stage_run(lake: str, stats: StageStats, app_id: str) -> None:
    row = {
        "stage": stats.stage,
        "run_id": stats.run_id,
        "app_id": app_id,
        "status": stats.status,
        "started_at": stats.started_at,
        "seconds": stats.seconds,
        "stats_json": stats.to_json(),
    }
    try:
        delta.write_table(
            delta.table_uri(lake, delta.STAGE_RUNS),
            pa.Table.from_pylist([row], schema=STAGE_RUNS_SCHEMA),
            mode="append",
        )
    except Exception as e:  # the run record is lineage, never a reason to fail the stage
        log.warning("could not record the stage run: %s", e)


def execute(stage: Stage, argv: list[str] | None = None) -> tuple[int, StageStats | None]:
    """Run a stage from argv; returns (exit code, stats). Never raises."""
    _configure_logging()
    parser = base_parser(stage)
    args = parser.parse_args(argv)
    run_id = (
        args.run_id
        or os.environ.get("AIRFLOW_CTX_DAG_RUN_ID")
        or time.strftime("manual__%Y%m%dT%H%M%S", time.gmtime())
    )
    stats = StageStats(stage=stage.name, run_id=run_id)
    t0 = time.monotonic()
    code = EXIT_OK
    try:
        params = load_params(args.params, args.overrides)
        lake = resolve_lake(args.lake)
        ctx = StageContext(params=params, lake=lake, run_id=run_id, stats=stats, args=args)
        faults.check(stage.name, run_id, "before")  # test hook, off unless LMDATA_FAULTS is set
        stage.run(ctx)
        faults.check(stage.name, run_id, "after")
        if stats.status == "running":
            stats.status = "ok"
    except LmdataError as e:
        stats.status = "failed"
        stats.error = f"{type(e).__name__}: {e}"
        code = e.exit_code
        log.error("%s failed (%s): %s", stage.name, type(e).__name__, e)
    except Exception as e:  # unknown errors: retryable if they smell transient, else fatal
        stats.status = "failed"
        stats.error = f"{type(e).__name__}: {e}"
        code = EXIT_RETRYABLE if _looks_transient(e) else EXIT_FATAL
        died = _jvm_died() if _looks_transient(e) else None
        if died is not None:  # the Spark driver JVM is gone: say why, not "connection refused"
            stats.error, code = died
        log.error("%s failed:\n%s", stage.name, traceback.format_exc())
        if died is not None:
            log.error("%s", stats.error)
    if "ctx" in locals():
        ctx.close()
    stats.seconds = round(time.monotonic() - t0, 3)
    if stats.status != "failed" and "ctx" in locals():
        record_stage_run(ctx.lake, stats, stage.app_id(ctx))
    line = stats.to_json()
    print(STATS_PREFIX + line, flush=True)
    log.info("%s", stats.summary())
    if args.stats_out:
        Path(args.stats_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.stats_out).write_text(json.dumps(stats.to_dict(), indent=2, sort_keys=True))
    return code, stats


JVM_EXIT_OOM = 3  # -XX:+ExitOnOutOfMemoryError


def _jvm_died() -> tuple[str, int] | None:
    """(error, exit code) when the Spark driver JVM this process launched has exited, else None.

    A heap OOM (exit 3) is fatal: retrying the same stage with the same memory fails the same
    way. Any other JVM death (killed by the OS, crashed) is retryable.
    """
    try:
        from pyspark import SparkContext

        proc = getattr(SparkContext._gateway, "proc", None)
        if proc is None:  # under spark-submit the JVM is our parent: its exit code is the job's
            return None
        rc = proc.wait(timeout=10)  # a dying JVM takes a moment to exit after the socket closes
    except Exception:  # alive (TimeoutExpired) or no gateway
        return None
    if rc == JVM_EXIT_OOM:
        return (
            "SparkDriverOutOfMemory: the Spark driver JVM ran out of heap and exited "
            "(raise spark.driver_memory in params.yaml, or lower spark.sql.files.maxPartitionBytes)",
            EXIT_FATAL,
        )
    return (f"SparkDriverDied: the Spark driver JVM exited with code {rc}", EXIT_RETRYABLE)


def _looks_transient(e: BaseException) -> bool:
    if isinstance(e, (RetryableError, ConnectionError, TimeoutError)):
        return True
    text = f"{type(e).__name__} {e}".lower()
    return any(
        s in text for s in ("connection refused", "timed out", "lost executor", "py4jnetwork")
    )


def main(stage: Stage, argv: list[str] | None = None) -> int:
    code, _ = execute(stage, argv)
    return code
