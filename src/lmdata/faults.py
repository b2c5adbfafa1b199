"""A test hook: make a stage fail on purpose, to test retries and fatal errors end to end.

Set `LMDATA_FAULTS` to a JSON file holding a list of faults; a stage run (lmdata.spark.job)
checks it before and after its work:

    [{"stage": "ingest-cc", "run_id": "fault-75", "exit": 75, "when": "after", "times": 1}]

- `stage`: the stage name; `run_id`: a substring of the run id (an Airflow DAG run id);
- `exit`: 75 (retryable: RetryableError) or 2 (fatal: FatalError);
- `when`: "before" the stage's work, or "after" it (the stage committed, then fails: its retry
  must write nothing twice);
- `times`: how many runs fail (default 1); each firing leaves a marker file in
  `<LMDATA_FAULTS>.fired/`, so a retry of the same run after that succeeds.

No variable (the default) or no file: nothing happens. The e2e tests
(tests/e2e/test_scheduler_chain.py) use it through the real scheduler: no mock of Airflow or
Spark. Pure module.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from lmdata.errors import EXIT_FATAL, EXIT_RETRYABLE, FatalError, RetryableError

ENV = "LMDATA_FAULTS"


def check(stage: str, run_id: str, when: str) -> None:
    """Raise the configured fault for this stage run and moment, if one is due."""
    path = os.environ.get(ENV)
    if not path or not Path(path).is_file():
        return
    try:
        faults = json.loads(Path(path).read_text())
    except ValueError:
        return
    for i, f in enumerate(faults if isinstance(faults, list) else [faults]):
        if f.get("stage") != stage or str(f.get("run_id", "")) not in run_id:
            continue
        if f.get("when", "before") != when:
            continue
        key = hashlib.sha1(f"{i}|{stage}|{run_id}|{when}".encode()).hexdigest()[:16]
        fired = Path(f"{path}.fired")
        fired.mkdir(parents=True, exist_ok=True)
        done = len(list(fired.glob(f"{key}-*")))
        if done >= int(f.get("times", 1)):
            continue
        (fired / f"{key}-{done + 1}").write_text(json.dumps({**f, "run": run_id}))
        code = int(f.get("exit", EXIT_RETRYABLE))
        msg = (
            f"injected failure #{done + 1} of stage {stage} run {run_id} {when} its work "
            f"(test hook {ENV}={path}, exit {code})"
        )
        if code == EXIT_FATAL:
            raise FatalError(msg)
        raise RetryableError(msg)
