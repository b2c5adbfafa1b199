"""The stages on a warm Spark Connect server (lmdata.spark.connect) give exactly the tables the
classic in-process session gives, a fatal error leaves the server serving, and a stage whose
server is gone fails retryably (exit 75) with the reason."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lmdata.errors import EXIT_FATAL, EXIT_RETRYABLE
from lmdata.lake import delta
from lmdata.spark import connect
from lmdata.spark.job import execute
from lmdata.spark.stages import get_stage

ROOT = Path(__file__).resolve().parents[2]
PARAMS = str(ROOT / "params.yaml")
WARC = ["--source", str(ROOT / "samples" / "commoncrawl"), "--crawl", "CC-MAIN-2020-34"]
STAGES = [
    ("ingest-cc", [*WARC, "--format", "warc"]),
    ("curate", ["--source", "web"]),
    ("dedup", ["--source", "web"]),
]
pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("airflow") / "spark-connect"
    env_before = dict(os.environ)
    os.environ["LMDATA_PARAMS"] = PARAMS
    try:
        url = connect.start(d)
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    yield d, url
    connect.stop(d)


def _client(url: str, lake: Path, stage: str, args: list[str], run_id: str):
    env = dict(os.environ, LMDATA_SPARK_REMOTE=url, LMDATA_PARAMS=PARAMS)
    argv = [sys.executable, "-m", "lmdata.cli", stage, "--lake", str(lake), *args]
    return subprocess.run(
        [*argv, "--run-id", run_id], env=env, cwd=ROOT, capture_output=True, text=True
    )


def _tables(lake: Path) -> dict[str, list]:
    out = {}
    for name, cols in (
        (delta.BRONZE_WEB, ["doc_id", "text"]),
        ("silver/web_attributes", ["doc_id", "drop_reason", "lang"]),
        (delta.GOLD_WEB, ["doc_id", "text"]),
    ):
        t = delta.read_arrow(delta.table_uri(str(lake), name))
        cols = [c for c in cols if c in t.column_names]
        out[name] = sorted(tuple(r[c] for c in cols) for r in t.select(cols).to_pylist())
    return out


def test_stages_on_spark_connect_match_the_classic_session(server, spark, tmp_path):
    d, url = server
    warm, classic = tmp_path / "warm", tmp_path / "classic"
    for stage, args in STAGES:
        proc = _client(url, warm, stage, args, "r1")
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert "LMDATA_STATS" in proc.stdout
        code, stats = execute(
            get_stage(stage), ["--lake", str(classic), "--params", PARAMS, *args, "--run-id", "r1"]
        )
        assert code == 0, stats.error
    got, want = _tables(warm), _tables(classic)
    assert len(got[delta.BRONZE_WEB]) == 16
    assert 0 < len(got[delta.GOLD_WEB]) < 16
    assert got == want
    # a retry of the same run on the warm server commits nothing (Delta app transaction id)
    gold = delta.table_uri(str(warm), delta.GOLD_WEB)
    version = delta.current_version(gold)
    assert _client(url, warm, "dedup", ["--source", "web"], "r1").returncode == 0
    assert delta.current_version(gold) == version

    # a fatal error (a crawl that is not there) is exit 2; the server goes on serving
    bad = _client(url, warm, "ingest-cc", [*WARC[:3], "CC-MAIN-1999-01", "--format", "warc"], "r2")
    assert bad.returncode == EXIT_FATAL, bad.stderr[-3000:]
    again = _client(url, warm, "curate", ["--source", "web", "--redecide"], "r3")
    assert again.returncode == 0, again.stderr[-3000:]


_PROBE = """
import sys
from pyspark.sql import SparkSession

def probe(batches):
    import os, sys
    import pyarrow as pa
    for b in batches:
        row = {"mark": os.environ.get("LMDATA_WORKER_PRELOADED"),
               "presidio": "presidio_analyzer" in sys.modules, "torch": "torch" in sys.modules}
        yield pa.RecordBatch.from_pylist([row] * b.num_rows)

spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
schema = "mark string, presidio boolean, torch boolean"
rows = spark.range(0, 8, 1, 4).mapInArrow(probe, schema).collect()
print(sorted({(r.mark is not None, r.presidio, r.torch) for r in rows}))
"""


def test_python_workers_fork_from_the_preloading_daemon(server):
    """The server's Python workers come from lmdata.spark.worker_daemon: Presidio (spaCy,
    thinc) is imported before the task's code runs, in every worker, and torch is not (the PII
    engine keeps it out of Presidio's import)."""
    _, url = server
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, url], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "[(True, True, False)]"


def test_a_stage_without_its_server_fails_retryably(tmp_path):
    d = tmp_path / "spark-connect"
    url = f"sc://127.0.0.1:{connect.free_port()}"  # nothing listens there
    proc = _client(url, tmp_path / "lake", "curate", ["--source", "web"], "r1")
    assert proc.returncode == EXIT_RETRYABLE, proc.stderr[-3000:]
    assert f"no Spark Connect server at {url}" in proc.stderr
    assert connect.stop(d) is False  # nothing to stop


_START_THEN_DIE = """
import os, signal, sys
from pathlib import Path
from lmdata.spark import connect
d = Path(sys.argv[1])
connect.start(d)
print((d / "pid").read_text(), flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # a runner killed before its stop()
"""


def test_a_server_whose_runner_was_killed_stops_by_itself(tmp_path):
    d = tmp_path / "spark-connect"
    env = dict(os.environ, LMDATA_PARAMS=PARAMS)
    env.pop("LMDATA_SPARK_REMOTE", None)
    proc = subprocess.run(
        [sys.executable, "-c", _START_THEN_DIE, str(d)], env=env, capture_output=True, text=True
    )
    assert proc.returncode == -9, proc.stderr[-3000:]
    pid = int(proc.stdout.split()[0])
    deadline = time.monotonic() + 120
    while connect._alive(pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    alive = connect._alive(pid)
    if alive:  # do not leak it into the rest of the run
        os.killpg(pid, 9)
    assert not alive, (d / "server.log").read_text()[-3000:]
    assert "is gone: stopping" in (d / "server.log").read_text()
