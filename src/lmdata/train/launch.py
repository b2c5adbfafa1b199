"""How a training run is started: `local` (default), `kubernetes` or `remote`.

All three run the same command, `python -m lmdata.train.cli --manifest M --out O ...`, whose last
stdout line is the JSON summary; `launch` returns that summary as a dict (the train DAG's XCom).

- local: a subprocess on this machine (its stderr, the progress log, goes to ours).
- kubernetes: a Pod spec with an `nvidia.com/gpu` limit, written to `<out>/pod.yaml`. With
  `train.kubernetes.apply: true` it is `kubectl apply`-ed, waited for (phase Succeeded) and its
  log's last line is the summary. The manifest and output paths must be visible inside the pod
  (e.g. `train.kubernetes.data_pvc` mounted at `data_mount`, and paths under it).
- remote: an argv template (`train.remote.command`, default `ssh -o BatchMode=yes {host}
  "cd {workdir} && {command}"`); `{command}` is the shell-quoted training command with
  `train.remote.python`. Paths must be valid on the remote side.

Configuration: params.yaml `train:` (lmdata.config.TrainConfigParams), then the environment
(`LMDATA_TRAIN_LAUNCHER`, `LMDATA_TRAIN_DEVICE`, `LMDATA_TRAIN_CONFIG`, `LMDATA_TRAIN_STEPS`),
then explicit `overrides`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lmdata.errors import EXIT_FATAL, ConfigError, FatalError, RetryableError

ENV_OVERRIDES = {
    "LMDATA_TRAIN_LAUNCHER": "launcher",
    "LMDATA_TRAIN_DEVICE": "device",
    "LMDATA_TRAIN_CONFIG": "config",
    "LMDATA_TRAIN_STEPS": "steps",
}

# TrainConfigParams field -> CLI flag of lmdata.train.cli
_FLAGS = {
    "config": "--config",
    "steps": "--steps",
    "device": "--device",
    "batch_size": "--batch-size",
    "seq_len": "--seq-len",
    "lr": "--lr",
    "seed": "--seed",
    "eval_batches": "--eval-batches",
    "num_workers": "--num-workers",
}


def train_params(params_path: str | None = None, overrides: list[str] | None = None):
    """params.yaml `train:` with the LMDATA_TRAIN_* environment applied on top."""
    from lmdata.config import load_params

    env = [f"train.{key}={os.environ[var]}" for var, key in ENV_OVERRIDES.items() if os.environ.get(var)]
    return load_params(params_path, env + list(overrides or [])).train


def train_argv(
    manifest: str, out_dir: str, train, python: str | None = None, overrides: dict | None = None
) -> list[str]:
    """The training command: `python -m lmdata.train.cli --manifest ... --out ... <flags>`."""
    values = {k: getattr(train, k) for k in _FLAGS}
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    argv = [python or train.python or sys.executable, "-m", "lmdata.train.cli"]
    argv += ["--manifest", str(manifest), "--out", str(out_dir)]
    for key, flag in _FLAGS.items():
        if values.get(key) is not None:
            argv += [flag, str(values[key])]
    if train.compile:
        argv.append("--compile")
    if not train.verify_shards:
        argv.append("--skip-verify")
    return argv


def _dns_name(*parts: str, limit: int = 63) -> str:
    s = re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")
    return s[:limit].rstrip("-")


def pod_name(manifest_name: str, version: Any, argv: list[str]) -> str:
    digest = hashlib.sha256(("\0".join(argv) + str(time.time_ns())).encode()).hexdigest()[:8]
    return _dns_name("lmdata-train", _dns_name(manifest_name, limit=30), f"v{version}", digest)


def render_pod_spec(argv: list[str], k8s, name: str, labels: dict[str, str] | None = None) -> dict:
    """A Kubernetes Pod (v1) dict running `argv` (argv[0] replaced by `python`) on `k8s.gpus` GPUs."""
    command = ["python", *argv[1:]]
    resources: dict[str, dict[str, Any]] = {
        "requests": {"cpu": k8s.cpu, "memory": k8s.memory},
        "limits": {"cpu": k8s.cpu, "memory": k8s.memory},
    }
    if k8s.gpus:
        resources["limits"]["nvidia.com/gpu"] = k8s.gpus
        resources["requests"]["nvidia.com/gpu"] = k8s.gpus
    mounts = [{"name": "dshm", "mountPath": "/dev/shm"}]
    volumes: list[dict[str, Any]] = [
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": k8s.shm_size}}
    ]
    if k8s.data_pvc:
        mounts.append({"name": "data", "mountPath": k8s.data_mount})
        volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": k8s.data_pvc}})
    env = [{"name": "PYTHONUNBUFFERED", "value": "1"}]
    env += [{"name": k, "value": str(v)} for k, v in sorted(k8s.env.items())]
    container = {
        "name": "train",
        "image": k8s.image,
        "imagePullPolicy": k8s.image_pull_policy,
        "command": command,
        "env": env,
        "resources": resources,
        "volumeMounts": mounts,
    }
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [container],
        "volumes": volumes,
    }
    if k8s.service_account:
        spec["serviceAccountName"] = k8s.service_account
    if k8s.node_selector:
        spec["nodeSelector"] = dict(k8s.node_selector)
    if k8s.tolerations:
        spec["tolerations"] = [dict(t) for t in k8s.tolerations]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": k8s.namespace,
            "labels": {"app.kubernetes.io/name": "lmdata-train", **(labels or {})},
        },
        "spec": spec,
    }


def remote_argv(argv: list[str], remote) -> list[str]:
    """The remote template with {host}, {workdir} and {command} (shell-quoted argv) filled in."""
    if any("{host}" in part for part in remote.command) and not remote.host:
        raise ConfigError("train.remote.host: required by the remote command template")
    command = shlex.join([remote.python, *argv[1:]])
    subst = {"host": remote.host or "", "workdir": remote.workdir, "command": command}
    try:
        return [part.format(**subst) for part in remote.command]
    except (KeyError, IndexError) as e:
        raise ConfigError(f"train.remote.command: unknown placeholder {e}") from None


def _summary_from(stdout: str, where: str) -> dict[str, Any]:
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                break
    raise FatalError(f"{where}: no JSON summary on the last line of its output")


def _run(argv: list[str], timeout_s: int, where: str) -> dict[str, Any]:
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise RetryableError(f"{where}: timed out after {timeout_s}s") from None
    except FileNotFoundError as e:
        raise FatalError(f"{where}: cannot run {argv[0]!r}: {e}") from None
    if proc.stdout:
        sys.stdout.write(proc.stdout)
        sys.stdout.flush()
    if proc.returncode == EXIT_FATAL:
        raise FatalError(f"{where}: failed (exit {proc.returncode}, bad input or config)")
    if proc.returncode != 0:
        # 75 = retryable by contract; a signal (negative) or crash is worth one more try too
        raise RetryableError(f"{where}: failed (exit {proc.returncode})")
    return _summary_from(proc.stdout, where)


def _kubectl(k8s) -> list[str]:
    base = [k8s.kubectl]
    if k8s.context:
        base += ["--context", k8s.context]
    return base + ["-n", k8s.namespace]


def launch(
    manifest: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    *,
    train=None,
    params_path: str | None = None,
    launcher: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Start one training run and return its summary (plus "launcher")."""
    from lmdata.train.run import default_out_dir

    tp = train if train is not None else train_params(params_path)
    which = launcher or tp.launcher
    out = Path(out_dir) if out_dir else default_out_dir(tp.out_dir, manifest)
    argv = train_argv(str(manifest), str(out), tp, overrides=overrides)

    if which == "local":
        result = _run(argv, tp.timeout_s, "local training")
    elif which == "remote":
        result = _run(remote_argv(argv, tp.remote), tp.timeout_s, "remote training")
    elif which == "kubernetes":
        import yaml

        mpath = Path(manifest)
        try:
            meta = json.loads((mpath / "manifest.json" if mpath.is_dir() else mpath).read_text())
        except (OSError, ValueError):
            meta = {}  # the manifest may only exist inside the pod's volume
        name = pod_name(str(meta.get("mixture", "mixture")), meta.get("version", "x"), argv)
        labels = {"lmdata/mixture": _dns_name(str(meta.get("mixture", "unknown")))}
        spec = render_pod_spec(argv, tp.kubernetes, name, labels)
        out.mkdir(parents=True, exist_ok=True)
        pod_file = out / "pod.yaml"
        pod_file.write_text(yaml.safe_dump(spec, sort_keys=False))
        result = {"pod": name, "pod_yaml": str(pod_file), "applied": tp.kubernetes.apply}
        if tp.kubernetes.apply:
            kc = _kubectl(tp.kubernetes)
            subprocess.run([*kc, "apply", "-f", str(pod_file)], check=True)
            wait = subprocess.run(
                [
                    *kc,
                    "wait",
                    f"pod/{name}",
                    "--for=jsonpath={.status.phase}=Succeeded",
                    f"--timeout={tp.timeout_s}s",
                ]
            )
            logs = subprocess.run([*kc, "logs", f"pod/{name}"], stdout=subprocess.PIPE, text=True)
            if wait.returncode != 0:
                raise RetryableError(f"pod {name}: did not succeed (kubectl wait exit {wait.returncode})")
            result.update(_summary_from(logs.stdout, f"pod {name}"))
    else:
        raise ConfigError(f"train.launcher: unknown launcher {which!r} (local, kubernetes, remote)")
    result["launcher"] = which
    return result

