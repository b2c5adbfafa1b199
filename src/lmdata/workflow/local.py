"""Run the DAGs on this machine through real Airflow (SQLite metadata DB under var/airflow).

    python -m lmdata.workflow.local run                   # `make run`: the whole chain (CHAIN)
    python -m lmdata.workflow.local run cc_ingest,curate_web [CONF_JSON]
    python -m lmdata.workflow.local env                   # print the environment it uses
    python -m lmdata.workflow.local standalone            # `make airflow`: the UI on 127.0.0.1:8080

It sets AIRFLOW_HOME, the DAGs folder and the `lmdata_spark` connection (local[*]) in the
environment, migrates the metadata DB, creates the `spark` and `dvc` pools, and runs
`airflow dags test <dag>` for each DAG in order (a real DAG run: task instances, XCom, asset
events, the stage operators running each stage on the warm Spark). The chain runs the `dags test`
command in one child process (the Airflow CLI's own parser and command function, called once per
DAG), not one `airflow` process per DAG: each of those paid ~6 s of Airflow import and ~6 s of
building the in-process execution API again (cached per process), half of `make run`'s Airflow
overhead. `dags test` does not trigger the
asset-scheduled DAGs, so after each run the runner reads the asset events that run produced from
the metadata DB and passes their `extra` to the next DAGs as conf `{"asset_events": {...}}` -
what `triggering_asset_events` holds when the scheduler triggers them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lmdata.workflow import airflow_db, settings


def airflow_env(home: Path | None = None) -> dict[str, str]:
    home = home or settings.HOME
    var = home / "var"
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    # spark-submit from the venv runs the venv's Spark only when the venv's bin/ comes first.
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env.setdefault("AIRFLOW_HOME", str(var / "airflow"))
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(home / "dags"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    conn = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or airflow_db.sqlite_url(
        var / "airflow" / "airflow.db"
    )
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = airflow_db.with_busy_timeout(conn)
    env.setdefault("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    env.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
    env.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
    env.setdefault(
        "AIRFLOW_CONN_LMDATA_SPARK", json.dumps({"conn_type": "spark", "host": "local[*]"})
    )
    env.setdefault("LMDATA_HOME", str(home))
    env.setdefault("LMDATA_LAKE", str(var / "lake"))
    env.setdefault("LMDATA_PARAMS", str(home / "params.yaml"))
    env.setdefault("LMDATA_PYTHON", sys.executable)
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env.setdefault("NO_PROXY", "*")  # macOS/py fork-safety and no proxy lookups for localhost
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    return env


def _airflow(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    airflow = shutil.which("airflow", path=env["PATH"]) or "airflow"
    return subprocess.run([airflow, *args], env=env, check=check)


# `make run`: the whole chain on the bundled sample, in dependency order.
CHAIN = ["cc_ingest", "code_ingest", "curate_web", "curate_code", "build_mixture", "train_gpu"]
# The bundled Common Crawl sample (samples/commoncrawl): a WET file of CC-MAIN-2024-22 and a
# WARC file of CC-MAIN-2020-34.
SAMPLE_CC_INPUTS = [
    {"crawl": "CC-MAIN-2024-22", "format": "wet"},
    {"crawl": "CC-MAIN-2020-34", "format": "warc"},
]
# Which assets each DAG consumes (its schedule), for passing events along under `dags test`.
CONSUMES = {
    "curate_web": ["bronze/web_documents"],
    "curate_code": ["bronze/code_files"],
    "build_mixture": ["gold/web_documents", "gold/code_files"],
    "train_gpu": ["mixture/shards"],
}


def migrate(env: dict[str, str]) -> None:
    _airflow(env, "db", "migrate")
    ensure_pools(env)


def ensure_pools(env: dict[str, str]) -> None:
    """Create/size the `spark` and `dvc` pools (`airflow pools import`, one CLI call)."""
    spec = {
        name: {"slots": slots, "description": desc, "include_deferred": False}
        for name, (slots, desc) in settings.POOLS.items()
    }
    path = Path(env["AIRFLOW_HOME"]) / "lmdata_pools.json"
    path.write_text(json.dumps(spec, indent=2))
    _airflow(env, "pools", "import", str(path))


def _db_path(env: dict[str, str]) -> str:
    conn = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    if not conn.startswith("sqlite:///"):
        raise ValueError(f"the local runner reads asset events from SQLite only, not {conn}")
    return airflow_db.sqlite_path(conn)


def last_asset_event_id(env: dict[str, str]) -> int:
    import sqlite3

    with sqlite3.connect(_db_path(env)) as db:
        return int(db.execute("SELECT COALESCE(MAX(id), 0) FROM asset_event").fetchone()[0])


def asset_events_since(env: dict[str, str], after_id: int) -> dict[str, list[dict]]:
    """Asset name -> the `extra` of each event recorded after `after_id` (oldest first)."""
    import sqlite3

    with sqlite3.connect(_db_path(env)) as db:
        rows = db.execute(
            "SELECT a.name, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            "WHERE e.id > ? ORDER BY e.id",
            (after_id,),
        ).fetchall()
    out: dict[str, list[dict]] = {}
    for name, extra in rows:
        out.setdefault(name, []).append(json.loads(extra) if extra else {})
    return out


def last_asset_events(env: dict[str, str], names: list[str]) -> dict[str, list[dict]]:
    """Asset name -> [the `extra` of its most recent event] (a chain resumed mid-way: the events
    the earlier `dags test` runs left in the metadata DB)."""
    import sqlite3

    out: dict[str, list[dict]] = {}
    with sqlite3.connect(_db_path(env)) as db:
        for name in names:
            row = db.execute(
                "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
                "WHERE a.name = ? ORDER BY e.id DESC LIMIT 1",
                (name,),
            ).fetchone()
            if row:
                out[name] = [json.loads(row[0]) if row[0] else {}]
    return out


def airflow_here(*args: str) -> int:
    """`airflow ARGS` in this process, whose environment must be the Airflow one (`airflow_env`)
    from before Airflow was imported: the CLI's own parser and command function, as
    `airflow/__main__.py` calls them, without a new interpreter each time. Returns the exit code."""
    from airflow.cli import cli_parser
    from airflow.configuration import write_default_airflow_configuration_if_needed

    write_default_airflow_configuration_if_needed()
    ns = cli_parser.get_parser().parse_args(list(args))
    try:
        ns.func(ns)
    except SystemExit as e:  # `dags test` exits with "DagRun failed" when the run fails
        if e.code not in (None, 0):
            print(e.code if isinstance(e.code, str) else f"exit {e.code}", file=sys.stderr)
            return e.code if isinstance(e.code, int) else 1
    except Exception:  # one DAG's crash is reported like a failed `airflow` process
        import traceback

        traceback.print_exc()
        return 1
    return 0


def run_dag(
    dag_id: str,
    conf: dict | None = None,
    logical_date: str | None = None,
    env: dict[str, str] | None = None,
    in_process: bool = False,
) -> tuple[int, dict[str, list[dict]]]:
    """`airflow dags test DAG` (a new `airflow` process, or `airflow_here` with `in_process`);
    returns (exit code, the asset events that run produced)."""
    env = env or airflow_env()
    t0 = time.monotonic()
    before = last_asset_event_id(env)
    args = ["dags", "test", dag_id]
    if logical_date:
        args.append(logical_date)
    if conf:
        args += ["--conf", json.dumps(conf)]
    print(f"\n=== airflow {' '.join(args)}", flush=True)
    if in_process:
        code = airflow_here(*args)
    else:
        code = _airflow(env, *args, check=False).returncode
    sys.stdout.flush()
    events = asset_events_since(env, before)
    print(f"=== airflow dags test {dag_id}: exit {code} in {time.monotonic() - t0:.0f}s")
    for name, extras in events.items():
        print(f"    asset event {name}: {json.dumps(extras[-1], sort_keys=True)}")
    return code, events


def default_conf(dag_id: str) -> dict | None:
    if dag_id == "cc_ingest":
        return {"inputs": SAMPLE_CC_INPUTS}
    return None


@contextlib.contextmanager
def warm_spark(env: dict[str, str], meanwhile=None):
    """Point the stage tasks at a warm Spark Connect server (lmdata.spark.connect) while the
    block runs: the one LMDATA_SPARK_REMOTE names, else one started now for this Airflow home
    and stopped afterwards. LMDATA_WARM_SPARK=0 keeps spark-submit per stage. `meanwhile()`
    (e.g. the metadata DB migration) runs while the server starts (its JVM takes ~10-15 s)."""
    from lmdata.spark import connect

    if env.get(connect.ENV_REMOTE) or env.get("LMDATA_WARM_SPARK", "1") == "0":
        if meanwhile:
            meanwhile()
        yield
        return
    from concurrent.futures import ThreadPoolExecutor

    t0 = time.monotonic()
    state = connect.state_dir(env["AIRFLOW_HOME"])
    with ThreadPoolExecutor(1) as pool:
        server = pool.submit(connect.start, state, env=dict(env))
        try:
            if meanwhile:
                meanwhile()
        finally:
            url = server.result()  # raises if the server did not start
    env[connect.ENV_REMOTE] = url
    print(f"=== warm Spark (Spark Connect) at {url} in {time.monotonic() - t0:.0f}s", flush=True)
    try:
        yield
    finally:
        connect.stop(state)


def run_chain(dag_ids: list[str], conf: dict | None = None) -> int:
    """Run DAGs in order with `dags test`, passing each producer's asset events along: the
    metadata DB migrated while the warm Spark starts, then the chain in one child process with
    the Airflow environment (`airflow_here` per DAG)."""
    env = airflow_env()
    t0 = time.monotonic()
    with warm_spark(env, meanwhile=lambda: migrate(env)):
        env["LMDATA_CHAIN_T0"] = str(time.time() - (time.monotonic() - t0))
        cmd = [sys.executable, "-m", "lmdata.workflow.local", "_chain", ",".join(dag_ids)]
        return subprocess.run(cmd + ([json.dumps(conf)] if conf else []), env=env).returncode


def _chain_here(dag_ids: list[str], conf: dict | None) -> int:
    """The child of `run_chain`: its environment is the Airflow one."""
    started = float(os.environ.get("LMDATA_CHAIN_T0", time.time()))
    t0 = time.monotonic() - (time.time() - started)  # the summary counts from the parent's start
    return _run_chain(dict(os.environ), dag_ids, conf, t0, in_process=True)


def _run_chain(
    env: dict[str, str],
    dag_ids: list[str],
    conf: dict | None,
    t0: float,
    in_process: bool = False,
) -> int:
    events: dict[str, list[dict]] = {}
    results = []
    for dag_id in dag_ids:
        run_conf = dict(conf or default_conf(dag_id) or {})
        wanted = CONSUMES.get(dag_id, [])
        consumed = last_asset_events(env, [a for a in wanted if a not in events])
        consumed.update({a: events[a] for a in wanted if a in events})
        if consumed:
            run_conf["asset_events"] = consumed
        code, produced = run_dag(dag_id, run_conf or None, env=env, in_process=in_process)
        results.append((dag_id, code, produced))
        for name, extras in produced.items():
            events[name] = extras
        if code != 0:
            print(f"{dag_id} failed (exit {code}): stopping the chain", file=sys.stderr)
            break
    print(summary(env, results, time.monotonic() - t0))
    return max((c for _, c, _ in results), default=0)


def summary(env: dict[str, str], results: list, seconds: float) -> str:
    from lmdata.cli import describe_lake

    lines = ["", "=" * 72, f"lmdata: {len(results)} DAG run(s) in {seconds:.0f}s"]
    for dag_id, code, produced in results:
        facts = []
        for name, extras in produced.items():
            e = extras[-1]
            if "version" in e:
                facts.append(f"{name}@v{e['version']} rows={e.get('rows')}")
            elif "manifest_uri" in e:
                facts.append(
                    f"{name}: {e.get('tokens')} tokens in {e.get('shards')} shard(s), "
                    f"dvc {e.get('dvc_rev')}"
                )
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        lines.append(f"  {dag_id:14s} {status:18s} {'; '.join(facts)}")
    lines.append(describe_lake(env["LMDATA_LAKE"]))
    home = Path(env["LMDATA_HOME"])
    reports = home / "var" / "reports" / "index.html"
    lines.append(f"report:     {reports}" + ("" if reports.exists() else " (not built)"))
    docs = home / "var" / "reports" / "data_docs" / "index.html"
    found = [docs] if docs.exists() else sorted((home / "var").glob("**/data_docs/**/index.html"))
    if found:
        lines.append(f"data docs:  {found[0]}")
    runs = sorted((home / "var" / "train").glob("*/training_report.json"))
    if runs:
        latest = max(runs, key=lambda p: p.stat().st_mtime)
        try:
            r = json.loads(latest.read_text())
            lines.append(
                f"training:   {r.get('config')} on {r.get('device')}, {r.get('steps')} steps, "
                f"loss {r.get('loss_first')} -> {r.get('loss_last')}, "
                f"{r.get('tokens_per_s')} tokens/s, checkpoint {r.get('checkpoint')}"
            )
        except (OSError, ValueError):
            pass
        lines.append(f"            {latest}")
    lines.append("Airflow UI: make airflow  (then http://127.0.0.1:8080)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "standalone":  # the Airflow UI on :8080 with our DAGs and connection
        return standalone()
    if argv and argv[0] == "_chain":  # run_chain's child (the Airflow environment is set)
        return _chain_here(argv[1].split(","), json.loads(argv[2]) if len(argv) > 2 else None)
    if not argv or argv[0] not in ("run", "env"):
        print(__doc__)
        return 2
    if argv[0] == "env":
        env = airflow_env()
        for k in sorted(env):
            if k.startswith(("AIRFLOW", "LMDATA")):
                print(f"{k}={env[k]}")
        return 0
    dag_ids = argv[1].split(",") if len(argv) > 1 and argv[1] else CHAIN
    unknown = set(dag_ids) - set(CHAIN)
    if unknown:
        print(f"unknown DAG(s) {sorted(unknown)}; known: {', '.join(CHAIN)}", file=sys.stderr)
        return 2
    conf = json.loads(argv[2]) if len(argv) > 2 else None
    return run_chain(dag_ids, conf)


def admin_password(home: Path, env: dict[str, str]) -> tuple[str, bool]:
    """The `admin` login of `make airflow`: $LMDATA_AIRFLOW_PASSWORD when set, else the one
    generated on the first start and kept in <AIRFLOW_HOME>/admin-password (mode 0600).
    Returns (password, whether it was just generated)."""
    if env.get("LMDATA_AIRFLOW_PASSWORD"):
        return env["LMDATA_AIRFLOW_PASSWORD"], False
    kept = home / "admin-password"
    if kept.is_file() and kept.read_text().strip():
        return kept.read_text().strip(), False
    import secrets

    password = secrets.token_urlsafe(18)
    kept.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    return password, True


def standalone(port: int = 8080) -> int:
    """`airflow standalone` (api-server + scheduler + dag-processor + triggerer) with our DAGs,
    the pools and a login (simple auth manager, user `admin`).

    Binds to 127.0.0.1 unless LMDATA_AIRFLOW_HOST says otherwise (e.g. 0.0.0.0 to expose it on
    purpose). The password is LMDATA_AIRFLOW_PASSWORD, else one generated on the first start,
    printed once and kept in <AIRFLOW_HOME>/admin-password."""
    env = airflow_env()
    home = Path(env["AIRFLOW_HOME"])
    host = env.get("LMDATA_AIRFLOW_HOST", "127.0.0.1")
    port = int(env.get("LMDATA_AIRFLOW_PORT", port))
    password, generated = admin_password(home, env)
    pw_file = home / "simple_auth_manager_passwords.json"
    fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps({"admin": password}))
    env.setdefault("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin")
    env.setdefault("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(pw_file))
    env.setdefault("AIRFLOW__API__HOST", host)
    env.setdefault("AIRFLOW__API__PORT", str(port))
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    env.setdefault("AIRFLOW__API__BASE_URL", f"http://{shown}:{port}")
    migrate(env)
    login = (
        f"admin / {password}  (generated now, kept in {home / 'admin-password'}; not shown again)"
        if generated
        else "admin / the password in "
        + (
            "$LMDATA_AIRFLOW_PASSWORD"
            if env.get("LMDATA_AIRFLOW_PASSWORD")
            else str(home / "admin-password")
        )
    )
    print(
        f"\nAirflow UI: http://{shown}:{port} (listening on {env['AIRFLOW__API__HOST']})  "
        f"login: {login}\n"
        f"DAGs: {', '.join(CHAIN)} (paused at creation: unpause cc_ingest to schedule it)\n",
        flush=True,
    )
    with warm_spark(env):
        return _airflow(env, "standalone", check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
