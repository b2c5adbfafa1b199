"""Operators for lmdata stages: SparkSubmitOperator with lmdata's conventions.

- application = spark_jobs/<stage>.py, args carry --lake, --params, --run-id {{ run_id }}
- the stage's exit code decides retries: 2 (fatal) fails the task with no retry
  (AirflowFailException); 75 (retryable) or anything else lets Airflow retry with backoff
- the stage stats (written by the job to --stats-out) become the task's XCom return value and
  are logged
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from lmdata.errors import EXIT_FATAL
from lmdata.workflow import settings

_EXIT = re.compile(r"Error code is: (\d+)")


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
        kwargs.setdefault("conn_id", settings.SPARK_CONN_ID)
        kwargs.setdefault("name", f"lmdata-{stage}")
        kwargs.setdefault("pool", settings.SPARK_POOL)
        kwargs.setdefault("retries", 2)
        kwargs.setdefault("retry_delay", timedelta(seconds=30))
        kwargs.setdefault("retry_exponential_backoff", True)
        kwargs.setdefault("execution_timeout", timedelta(hours=6))
        conf = {
            "spark.pyspark.python": settings.PYTHON,
            "spark.pyspark.driver.python": settings.PYTHON,
            "spark.ui.showConsoleProgress": "false",
        }
        conf.update(kwargs.pop("conf", None) or {})
        kwargs.setdefault(
            "doc_md",
            f"lmdata stage `{stage}` (`{job.name}`): stats in the log line "
            "`LMDATA_STATS {...}` and in this task's XCom.",
        )
        super().__init__(application=str(job), application_args=args, conf=conf, **kwargs)
        self._stats_out = stats_out

    def execute(self, context: Any) -> dict[str, Any] | None:
        try:
            super().execute(context)
        except AirflowException as e:
            m = _EXIT.search(str(e))
            if m and int(m.group(1)) == EXIT_FATAL:
                raise AirflowFailException(
                    f"lmdata stage {self.stage} failed fatally (no retry): {e}"
                ) from e
            raise
        path = Path(self.render_template(self._stats_out, context))
        if path.exists():
            stats = json.loads(path.read_text())
            self.log.info("lmdata stats for %s: %s", self.stage, json.dumps(stats, sort_keys=True))
            return stats
        return None
