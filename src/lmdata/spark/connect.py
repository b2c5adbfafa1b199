"""A warm Spark for the stages: one long-lived Spark driver that serves Spark Connect on loopback.

Every stage run through `spark-submit` pays a JVM start, Delta's and the catalog's warm-up and
new Python workers (which load lid.176, Presidio, the tokenizer... again). With a warm server the
stages are thin Spark Connect clients (`LMDATA_SPARK_REMOTE=sc://127.0.0.1:PORT`): the JVM,
its JIT-compiled code and the reused Python workers with their loaded models stay up between
tasks, DAG runs and tests.

    python -m lmdata.spark.connect start [--port N]   # background server; prints its sc:// URL
    python -m lmdata.spark.connect status | stop
    python -m lmdata.spark.connect serve [--port N]   # in the foreground (a container's command)

The server is an ordinary lmdata SparkSession (`lmdata.spark.session.get_spark`: params.yaml's
`spark:` section, the Delta jars and settings, the s3a conf) with Spark's own Connect plugin
(`org.apache.spark.sql.connect.SparkConnectPlugin`, in pyspark's jars) enabled: not a server of
ours, Spark's, started the way `start-connect-server.sh` does inside a driver. Bound to
127.0.0.1 unless `--host` says otherwise: Spark Connect has no authentication of its own.

`make run` and `make airflow` start one (`lmdata.workflow.local`) and point the Airflow tasks at
it; without `LMDATA_SPARK_REMOTE` a stage task runs `spark-submit` as before (cluster deploy
mode, a real cluster's master).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ENV_REMOTE = "LMDATA_SPARK_REMOTE"
_STARTED: dict[str, subprocess.Popen] = {}  # servers this process started, by state dir
DEFAULT_PORT = 15002
PLUGIN = "org.apache.spark.sql.connect.SparkConnectPlugin"


def remote_url() -> str | None:
    """The Spark Connect URL the stages use (`sc://host:port`), or None (a classic session)."""
    url = os.environ.get(ENV_REMOTE, "").strip()
    return url or None


def is_connect(spark) -> bool:
    """Whether `spark` is a Spark Connect session (no SparkContext, no RDDs, no broadcast)."""
    try:
        from pyspark.sql.connect.session import SparkSession as ConnectSession
    except ImportError:  # pyspark without the Connect client's dependencies
        return False
    return isinstance(spark, ConnectSession)


def state_dir(airflow_home: Path | str | None = None) -> Path:
    """Where a server keeps its pid, URL and log: next to the Airflow home whose tasks use it
    (`$AIRFLOW_HOME/spark-connect`; `make run`/`make airflow`: var/airflow/spark-connect), so
    that each Airflow (a test's, the local one) has its own server."""
    from lmdata.workflow import settings

    home = airflow_home or os.environ.get("AIRFLOW_HOME") or settings.HOME / "var" / "airflow"
    return Path(home) / "spark-connect"


def _port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def _host_port(url: str) -> tuple[str, int]:
    """(host, port) of `sc://host[:port][/;params]` (Spark Connect's default port when none)."""
    hostport = url.removeprefix("sc://").split("/", 1)[0].split(";", 1)[0]
    host, _, port = hostport.rpartition(":")
    if not host:
        host, port = hostport, str(DEFAULT_PORT)
    return host.strip("[]"), int(port)


def reachable(url: str, timeout_s: float = 10.0) -> bool:
    """Whether something accepts connections at `sc://host:port[/;params]` within `timeout_s`."""
    host, port = _host_port(url)
    deadline = time.monotonic() + timeout_s
    while True:
        if _port_open(host, port, timeout=2.0):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # an exited server nobody reaped yet (re-parented to an init that does not reap)
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _running(d: Path) -> tuple[int, str] | None:
    """(pid, url) of the server of state dir `d` when it is up and accepting connections."""
    try:
        pid = int((d / "pid").read_text())
        url = (d / "url").read_text().strip()
    except (OSError, ValueError):
        return None
    if _alive(pid) and _port_open(*_host_port(url)):
        return pid, url
    return None


def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    url_file: Path | None = None,
    exit_with_parent: bool = False,
) -> int:
    """Run the server in this process until SIGTERM/SIGINT, or, with `exit_with_parent`, until
    the process that started it is gone (its runner was SIGKILLed and could not stop it: the
    server is re-parented, so the parent pid changes; no pid is compared, so no pid reuse)."""
    parent = os.getppid()
    from lmdata.config import load_params
    from lmdata.spark import worker_daemon
    from lmdata.spark.session import get_spark

    os.environ.pop(ENV_REMOTE, None)  # the server itself is a classic driver
    # a long-lived driver: keep the full (C2) JIT; cold_java_options are for one-shot commands
    cfg = load_params(None, []).spark.model_copy(update={"cold_java_options": ""})
    cfg.conf.setdefault("spark.plugins", PLUGIN)
    # its Python workers fork from a daemon that has the filters' heavy imports done (once)
    cfg.conf.setdefault("spark.python.daemon.module", worker_daemon.MODULE)
    cfg.conf["spark.connect.grpc.binding.address"] = host
    cfg.conf["spark.connect.grpc.binding.port"] = str(port)
    t0 = time.monotonic()
    spark = get_spark(cfg, app_name="lmdata-connect")
    url = f"sc://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    print(f"Spark Connect server ready at {url} in {time.monotonic() - t0:.1f}s", flush=True)
    if url_file is not None:
        url_file.write_text(url + "\n")
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(1.0):
        if exit_with_parent and os.getppid() != parent:
            print(f"the process that started this server ({parent}) is gone: stopping", flush=True)
            break
    spark.stop()  # ends the JVM and its Python workers
    return 0


def start(
    d: Path | None = None,
    port: int | None = None,
    timeout_s: float = 240.0,
    env: dict[str, str] | None = None,
    exit_with_parent: bool = True,
) -> str:
    """Start the server of state dir `d` (default `state_dir()`) in the background unless it is
    up; returns its URL. Its log is `d/server.log`; the pid and URL sit next to it. With
    `exit_with_parent` (the default) it stops by itself once this process is gone, so a runner
    killed without its `stop()` leaves no server behind; `lmdata.spark.connect start` (a CLI that
    exits at once) starts a detached one, stopped by `stop`."""
    d = d or state_dir()
    up = _running(d)
    if up is not None:
        return up[1]
    d.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    for name in ("url", "pid", "ready"):
        (d / name).unlink(missing_ok=True)
    env = dict(os.environ if env is None else env)  # the server's: lake, params, S3, master
    env.pop(ENV_REMOTE, None)
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    with open(d / "server.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lmdata.spark.connect", "serve", "--port", str(port)]
            + ["--url-file", str(d / "ready")]
            + (["--exit-with-parent"] if exit_with_parent else []),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # not killed with the terminal / task that started it
        )
    (d / "pid").write_text(str(proc.pid))
    _STARTED[str(d)] = proc  # reaped by stop()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"the Spark Connect server exited with code {proc.returncode}: see {d / 'server.log'}"
            )
        if (d / "ready").exists() and _port_open("127.0.0.1", port):
            url = (d / "ready").read_text().strip()
            (d / "url").write_text(url + "\n")
            return url
        time.sleep(0.5)
    stop(d)
    raise RuntimeError(f"the Spark Connect server did not start in {timeout_s:.0f}s: see {d}")


def stop(d: Path | None = None, timeout_s: float = 60.0) -> bool:
    """Stop the server of state dir `d` (default `state_dir()`); True when one was running."""
    d = d or state_dir()
    try:
        pid = int((d / "pid").read_text())
    except (OSError, ValueError):
        return False
    stopped = False
    proc = _STARTED.pop(str(d), None)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _alive(pid) and time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:  # reaped: no zombie left
                break
            time.sleep(0.2)
        if (proc is None or proc.poll() is None) and _alive(pid):  # did not shut down
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)  # the whole group: Python, JVM, workers
            if proc is not None:
                proc.wait(timeout=30)
        stopped = True
    for name in ("url", "pid", "ready"):
        (d / name).unlink(missing_ok=True)
    return stopped


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m lmdata.spark.connect", description=__doc__.split("\n")[0]
    )
    p.add_argument("command", choices=["start", "stop", "status", "serve"])
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--host", default="127.0.0.1", help="serve: the address to bind")
    p.add_argument("--url-file", default=None, help=argparse.SUPPRESS)
    p.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="serve: stop when the process that started the server is gone",
    )
    args = p.parse_args(argv)
    if args.command == "serve":
        url_file = Path(args.url_file) if args.url_file else None
        return serve(args.host, args.port or DEFAULT_PORT, url_file, args.exit_with_parent)
    if args.command == "start":
        print(start(port=args.port, exit_with_parent=False))
        return 0
    if args.command == "stop":
        print("stopped" if stop() else "not running")
        return 0
    up = _running(state_dir())
    print(f"running (pid {up[0]}) at {up[1]}" if up else "not running")
    return 0 if up else 3


if __name__ == "__main__":
    sys.exit(main())
