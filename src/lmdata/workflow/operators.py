"""Operators for lmdata stages: SparkSubmitOperator with lmdata's conventions.

- application = spark_jobs/<stage>.py, args carry --lake, --params, --run-id {{ run_id }}
- the stage's exit code decides retries: 2 (fatal) fails the task with no retry
  (AirflowFailException); 75 (retryable) or anything else lets Airflow retry with backoff
- the stage stats (written by the job to --stats-out) become the task's XCom return value and
  are logged

LmdataCommandOperator runs lmdata commands (`lmdata mix|mixture|report|train ...`) as a
subprocess of this task with the same exit-code contract; its XCom is the command's
`LMDATA_STATS` line (+ other `LMDATA_<TAG>` lines), else its last JSON line.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from lmdata.errors import EXIT_FATAL, EXIT_RETRYABLE
from lmdata.spark.connect import ENV_REMOTE
from lmdata.workflow import settings

_EXIT = re.compile(r"Error code is: (\d+)")


def stage_defaults(stage: str) -> dict[str, Any]:
    """The task settings of a stage task: Spark pool and connection, retries with exponential
    backoff, timeout, docs (a DAG's default_args win over the retry settings)."""
    job = settings.SPARK_JOBS / f"{stage.replace('-', '_')}.py"
    return {
        "conn_id": settings.SPARK_CONN_ID,
        "name": f"lmdata-{stage}",
        "pool": settings.SPARK_POOL,
        "retries": 2,
        "retry_delay": timedelta(seconds=20),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(hours=6),
        "doc_md": f"lmdata stage `{stage}` (`spark-submit {job.relative_to(settings.HOME)}`): "
        "stats in the log line `LMDATA_STATS {...}` / `lmdata stats for ...` and in this "
        "task's XCom. Exit 2 = fatal (no retry), 75 = retryable (retried with backoff).",
    }


def stage_partial(task_id: str, stage: str, **kwargs: Any):
    """`LmdataStageOperator.partial(...)` with the stage defaults: a mapped task's pool, docs and
    connection are what `partial` was given (its __init__ runs only at execution)."""
    for k, v in stage_defaults(stage).items():
        kwargs.setdefault(k, v)
    return LmdataStageOperator.partial(task_id=task_id, stage=stage, **kwargs)


class LmdataStageOperator(SparkSubmitOperator):
    """Run one lmdata stage with spark-submit."""

    ui_color = "#d9ead3"

    def __init__(self, *, stage: str, stage_args: list[str] | None = None, **kwargs: Any) -> None:
        self.stage = stage
        job = settings.SPARK_JOBS / f"{stage.replace('-', '_')}.py"
        stats_out = str(
            settings.runs_dir()
            / "{{ run_id | replace(':', '_') }}"
            / f"{kwargs['task_id']}{{{{ '-' ~ ti.map_index if ti.map_index >= 0 else '' }}}}.json"
        )
        args = [
            "--lake",
            settings.lake(),
            "--params",
            settings.params_path(),
            "--run-id",
            "{{ run_id }}",
            "--stats-out",
            stats_out,
            *(stage_args or []),
        ]
        for k, v in stage_defaults(stage).items():
            kwargs.setdefault(k, v)
        from lmdata.spark.session import launcher_conf  # no pyspark import: plain settings

        conf = {
            "spark.pyspark.python": settings.PYTHON,
            "spark.pyspark.driver.python": settings.PYTHON,
            "spark.ui.showConsoleProgress": "false",
            **launcher_conf(),  # delta-spark + hadoop-aws jars of infra/jars.lock (make setup)
        }
        conf.update(kwargs.pop("conf", None) or {})
        super().__init__(application=str(job), application_args=args, conf=conf, **kwargs)
        self._stats_out = stats_out

    def execute(self, context: Any) -> dict[str, Any] | None:
        # a templated optional flag (`version_flag`) renders to "" when it has nothing to pass
        self.application_args = [a for a in self.application_args or [] if a != ""]
        remote = os.environ.get(ENV_REMOTE)
        if remote:  # a warm Spark Connect server: the stage is a thin client, no spark-submit
            cmd = [settings.PYTHON, str(self.application), *self.application_args]
            self.log.info("on the warm Spark at %s: %s", remote, shlex.join(cmd))
            run_checked(self.log, cmd, f"stage {self.stage}")
            return self._stats(context)
        try:
            super().execute(context)
        except AirflowException as e:
            m = _EXIT.search(str(e))
            if m and int(m.group(1)) == EXIT_FATAL:
                raise AirflowFailException(
                    f"lmdata stage {self.stage} failed fatally (no retry): {e}"
                ) from e
            raise
        return self._stats(context)

    def _stats(self, context: Any) -> dict[str, Any] | None:
        path = Path(self.render_template(self._stats_out, context))
        if path.exists():
            stats = json.loads(path.read_text())
            self.log.info("lmdata stats for %s: %s", self.stage, json.dumps(stats, sort_keys=True))
            return stats
        return None


def version_flag(flag: str, stats: dict[str, Any] | None, table: str) -> str:
    """`--flag=N` with the Delta version of `table` an upstream stage wrote (its stats XCom), or
    "" (dropped from the arguments) when it wrote none (e.g. a skipped, already-committed run).
    A DAG macro: `{{ version_flag('--input-version', ti.xcom_pull(task_ids='curate'), T) }}`."""
    version = ((stats or {}).get("tables") or {}).get(table)
    return "" if version is None else f"{flag}={int(version)}"


def version_pins(events: dict[str, dict[str, Any]] | None) -> str:
    """`--pin=T=N,...` for `lmdata mix` from `{table: facts}` (the versions the triggering asset
    events name), or "" (dropped) when there are none. A DAG macro."""
    pins = [
        f"{t}={int(f['version'])}"
        for t, f in sorted((events or {}).items())
        if isinstance(f, dict) and f.get("version") is not None
    ]
    return f"--pin={','.join(pins)}" if pins else ""


def lmdata_task(name: str, task_id: str, args: list[str], **kwargs: Any) -> BaseOperator:
    """An lmdata command as a task: a Spark stage (spark-submit spark_jobs/<name>.py, Spark pool)
    when one is registered under that name, else `python -m lmdata.cli <name>` in a subprocess."""
    from lmdata.spark.stages import STAGES  # a dict of names: imports no pyspark

    job = settings.SPARK_JOBS / f"{name.replace('-', '_')}.py"
    if name in STAGES and job.exists():
        return LmdataStageOperator(task_id=task_id, stage=name, stage_args=args, **kwargs)
    return LmdataCommandOperator(task_id=task_id, command=name, args=args, **kwargs)


_TAGGED = re.compile(r"LMDATA_([A-Z_]+) (\{.*\})\s*$")


def parse_command_output(text: str) -> dict[str, Any] | None:
    """A command's result: its last `LMDATA_STATS {...}` line, with the last line of every other
    `LMDATA_<TAG> {...}` under `<tag>` (e.g. `mix`'s `LMDATA_MIXTURE` -> "mixture"); without
    tagged lines, its last JSON line (e.g. `lmdata train`'s summary)."""
    tagged: dict[str, Any] = {}
    for line in text.splitlines():
        m = _TAGGED.search(line)
        if m:
            try:
                tagged[m.group(1).lower()] = json.loads(m.group(2))
            except json.JSONDecodeError:
                continue
    if tagged:
        result = dict(tagged.pop("stats", {}))
        result.update(tagged)
        return result
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


def run_checked(log: Any, cmd: list[str], what: str) -> str:
    """Run an lmdata command in a subprocess of this task, its output in the task log; returns
    the output. Exit 2 (fatal): AirflowFailException, no retry; any other failure (75:
    retryable): AirflowException, retried with backoff."""
    env = dict(os.environ)
    env.setdefault("LMDATA_LAKE", settings.lake())
    env.setdefault("LMDATA_PARAMS", settings.params_path())
    proc = subprocess.Popen(
        cmd,
        cwd=str(settings.HOME),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        log.info("%s", line.rstrip())
    code = proc.wait()
    if code == EXIT_FATAL:
        raise AirflowFailException(f"lmdata {what} failed fatally (no retry): exit 2")
    if code != 0:
        kind = "retryable" if code == EXIT_RETRYABLE else "unexpected"
        raise AirflowException(f"lmdata {what} failed ({kind}, exit {code})")
    return "".join(lines)


class LmdataCommandOperator(BaseOperator):
    """Run `python -m lmdata.cli <command> <args>` (a non-Spark lmdata command) in a subprocess.

    Exit 0: the command's stats/summary JSON is the XCom. Exit 2 (fatal, e.g. a failed quality
    gate): AirflowFailException, no retry. Exit 75 (retryable) or anything else: AirflowException,
    Airflow retries with backoff.
    """

    template_fields: Sequence[str] = ("args",)
    ui_color = "#fce5cd"

    def __init__(
        self,
        *,
        command: str,
        args: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("retries", 2)
        kwargs.setdefault("retry_delay", timedelta(seconds=20))
        kwargs.setdefault("retry_exponential_backoff", 2.0)
        kwargs.setdefault("max_retry_delay", timedelta(minutes=10))
        kwargs.setdefault("execution_timeout", timedelta(hours=2))
        kwargs.setdefault(
            "doc_md",
            f"`lmdata {command}` in a subprocess: its JSON summary is this task's XCom; "
            "exit 2 fails with no retry, exit 75 retries with backoff.",
        )
        super().__init__(**kwargs)
        self.command = command
        self.args = list(args or [])

    def argv(self) -> list[str]:
        args = [str(a) for a in self.args if a != ""]
        return [settings.PYTHON, "-m", "lmdata.cli", self.command, *args]

    def execute(self, context: Any) -> dict[str, Any] | None:
        cmd = self.argv()
        self.log.info("running: %s", shlex.join(cmd))
        text = run_checked(self.log, cmd, self.command)
        result = parse_command_output(text)
        if result is not None:
            self.log.info("lmdata stats for %s: %s", self.command, json.dumps(result))
        return result
