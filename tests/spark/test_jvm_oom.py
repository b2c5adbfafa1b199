"""A Spark driver heap OOM ends the stage with a fatal, named error (not a retryable
"connection refused"): the JVM runs with -XX:+ExitOnOutOfMemoryError and the stage skeleton
reads the JVM's exit code."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from lmdata.errors import EXIT_FATAL
from lmdata.stats import STATS_PREFIX

SCRIPT = textwrap.dedent(
    """
    import sys
    from lmdata.spark.job import Stage, main

    class Hog(Stage):
        name = "hog"

        def run(self, ctx):
            # ~1.6 GB of rows collected into a 512 MiB driver heap
            ctx.spark.range(0, 8_000_000).selectExpr("repeat('x', 200) AS s").collect()

    sys.exit(main(Hog(), sys.argv[1:]))
    """
)


def test_driver_oom_is_fatal_and_named(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT,
            "--lake",
            str(tmp_path / "lake"),
            "--set",
            "spark.driver_memory=512m",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == EXIT_FATAL, proc.stderr[-3000:]
    stats_line = next(ln for ln in proc.stdout.splitlines() if ln.startswith(STATS_PREFIX))
    stats = json.loads(stats_line[len(STATS_PREFIX) :])
    assert stats["status"] == "failed"
    assert stats["error"].startswith("SparkDriverOutOfMemory"), stats["error"]
