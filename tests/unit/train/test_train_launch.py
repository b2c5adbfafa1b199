import json
import shlex

import pytest
import yaml

from lmdata.config import load_params
from lmdata.errors import ConfigError
from lmdata.train.launch import launch, remote_argv, render_pod_spec, train_argv, train_params
from lmdata.train.run import TrainConfig, train


def _params(tmp_path, train_section: dict):
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump({"train": train_section}))
    return str(p)


def test_local_launcher_runs_the_cli_and_returns_its_summary(stdlib_manifest, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the subprocess' torch threads (shared CI cores)
    tp = load_params(
        _params(tmp_path, {"config": "tiny", "device": "cpu", "steps": 6, "seed": 5})
    ).train
    result = launch(stdlib_manifest, tmp_path / "a", train=tp)
    assert result["launcher"] == "local"
    assert result["report"] == str(tmp_path / "a" / "training_report.json")
    assert result["steps"] == 6 and result["mixture"] == "stdlib" and result["config"] == "tiny"
    report = json.loads(open(result["report"]).read())
    # the same run in this process gives the same losses: seeded end to end
    here = train(
        TrainConfig(
            manifest=str(stdlib_manifest),
            out_dir=str(tmp_path / "b"),
            preset="tiny",
            steps=6,
            seed=5,
            device="cpu",
            threads=1,
        )
    )
    assert report["loss_curve"] == here["loss_curve"]
    assert report["manifest_sha256"] == here["manifest_sha256"]


def test_pod_spec_for_a_gpu_node(tmp_path):
    tp = load_params(
        _params(
            tmp_path,
            {
                "launcher": "kubernetes",
                "config": "small",
                "device": "cuda",
                "steps": 300,
                "kubernetes": {
                    "namespace": "ml",
                    "image": "registry.example/lmdata-train:1",
                    "gpus": 2,
                    "data_pvc": "lake",
                    "node_selector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
                    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
                    "env": {"LMDATA_LAKE": "/data/lake"},
                },
            },
        )
    ).train
    argv = train_argv("/data/mix/manifest.json", "/data/train/web-v1", tp)
    spec = render_pod_spec(argv, tp.kubernetes, "lmdata-train-web-v1-abc", {"lmdata/mixture": "web"})
    # what `kubectl apply` reads: YAML round trip of a v1 Pod
    spec = yaml.safe_load(yaml.safe_dump(spec))
    assert spec["apiVersion"] == "v1" and spec["kind"] == "Pod"
    assert spec["metadata"]["namespace"] == "ml"
    assert spec["metadata"]["labels"]["lmdata/mixture"] == "web"
    pod = spec["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    (c,) = pod["containers"]
    assert c["image"] == "registry.example/lmdata-train:1"
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert c["command"][:3] == ["python", "-m", "lmdata.train.cli"]
    cmd = c["command"]
    assert cmd[cmd.index("--manifest") + 1] == "/data/mix/manifest.json"
    assert cmd[cmd.index("--config") + 1] == "small"
    assert cmd[cmd.index("--device") + 1] == "cuda"
    assert cmd[cmd.index("--steps") + 1] == "300"
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts == {"dshm": "/dev/shm", "data": "/data"}
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["data"]["persistentVolumeClaim"]["claimName"] == "lake"
    assert vols["dshm"]["emptyDir"]["medium"] == "Memory"
    assert {"name": "LMDATA_LAKE", "value": "/data/lake"} in c["env"]


def test_kubernetes_launcher_without_apply_writes_pod_yaml(stdlib_manifest, tmp_path, monkeypatch):
    monkeypatch.setenv("LMDATA_TRAIN_LAUNCHER", "kubernetes")
    tp = train_params(_params(tmp_path, {"steps": 10}))
    assert tp.launcher == "kubernetes"
    result = launch(stdlib_manifest, tmp_path / "out", train=tp)
    assert result["applied"] is False and result["launcher"] == "kubernetes"
    spec = yaml.safe_load(open(result["pod_yaml"]).read())
    assert spec["metadata"]["name"] == result["pod"]
    assert result["pod"].startswith("lmdata-train-stdlib-v3-") and len(result["pod"]) <= 63
    assert not (tmp_path / "out" / "training_report.json").exists()


def test_remote_command_template(tmp_path):
    tp = load_params(
        _params(tmp_path, {"remote": {"host": "gpu1", "workdir": "/srv/lmdata", "python": "/opt/py/bin/python"}})
    ).train
    argv = train_argv("/mnt/mix dir/manifest.json", "/mnt/out", tp)
    ssh = remote_argv(argv, tp.remote)
    assert ssh[:4] == ["ssh", "-o", "BatchMode=yes", "gpu1"]
    assert ssh[4].startswith("cd /srv/lmdata && /opt/py/bin/python -m lmdata.train.cli ")
    remote_cmd = shlex.split(ssh[4].split(" && ", 1)[1])  # what the remote shell sees
    assert remote_cmd[remote_cmd.index("--manifest") + 1] == "/mnt/mix dir/manifest.json"
    no_host = load_params(_params(tmp_path, {})).train
    with pytest.raises(ConfigError, match="train.remote.host"):
        remote_argv(argv, no_host.remote)


def test_bad_train_params_are_named(tmp_path):
    with pytest.raises(ConfigError, match="train.launcher"):
        load_params(_params(tmp_path, {"launcher": "slurm"}))
    with pytest.raises(ConfigError, match="train.device"):
        load_params(_params(tmp_path, {"device": "tpu"}))
    with pytest.raises(ConfigError, match="train.kubernetes.gpu: unknown key"):
        load_params(_params(tmp_path, {"kubernetes": {"gpu": 1}}))


def test_train_path_imports_stay_light():
    """The DAG task and the GPU image import these: no torch until training starts, never
    pyspark, airflow or the lake."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import lmdata.train.cli, lmdata.train.launch, lmdata.train.run, lmdata.train.loader\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'pyspark', 'airflow', 'deltalake', 'tokenizers', 'matplotlib'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
