"""The training loop: a small GPT on a mixture's shards, one process, one device.

AdamW (decay on matrices only), linear warmup + cosine decay to `min_lr_ratio * lr`, gradient
clipping, bf16 autocast on CUDA (fp32 on CPU), optional torch.compile (off by default).
Every step's loss is kept (fetched from the device every `log_every` steps, so the loop does not
synchronise each step); tokens/s and the data loader's share of step time are measured over the
steps after a short warm-up (CUDA context, worker start-up) and over all steps.

Outputs in `out_dir`: `checkpoint.pt` (model + optimizer + configs + step + manifest sha256),
`training_report.json`, `loss_curve.png`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lmdata.errors import ConfigError, FatalError

REPORT_NAME = "training_report.json"
CHECKPOINT_NAME = "checkpoint.pt"
PLOT_NAME = "loss_curve.png"


@dataclass
class TrainConfig:
    manifest: str
    out_dir: str
    preset: str = "auto"  # model + batch defaults (model.PRESETS); auto: small on CUDA, else tiny
    steps: int = 60
    batch_size: int | None = None  # None: the preset's
    seq_len: int | None = None
    lr: float | None = None
    warmup_steps: int | None = None
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    compile: bool = False
    seed: int = 1234
    log_every: int = 10
    eval_fraction: float = 0.05  # documents held out for the eval loss
    eval_batches: int = 4
    num_workers: int | None = None  # None: 0 on CPU, min(4, cpus) on CUDA
    verify: bool = True  # sha256 of every shard before training
    threads: int | None = None  # torch intra-op CPU threads (None: torch's default)
    model_overrides: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        for name in ("steps", "log_every", "eval_batches"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train: {name} must be >= 1, got {getattr(self, name)}")
        for name in ("batch_size", "seq_len"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ConfigError(f"train: {name} must be >= 1, got {v}")
        if self.lr is not None and not self.lr > 0:
            raise ConfigError(f"train: lr must be > 0, got {self.lr}")
        if not 0 <= self.eval_fraction < 1:
            raise ConfigError(f"train: eval_fraction must be in [0, 1), got {self.eval_fraction}")


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {device}: torch {torch.__version__} sees no CUDA device")
        return device
    if device != "cpu":
        raise ConfigError(f"--device must be auto, cpu or cuda[:N], got {device!r}")
    return device


def default_out_dir(root: str | os.PathLike, manifest: str | os.PathLike) -> Path:
    """<root>/<mixture>-v<version> from the manifest's name and version."""
    p = Path(manifest)
    p = p / "manifest.json" if p.is_dir() else p
    try:
        data = json.loads(p.read_text())
        return Path(root) / f"{data['mixture']}-v{data['version']}"
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"manifest {p}: cannot read mixture name and version: {e}") from None


def lr_at(step: int, lr: float, warmup: int, total: int, min_ratio: float) -> float:
    """Linear warmup over `warmup` steps, then cosine from lr to min_ratio * lr at `total` (1-based)."""
    if warmup > 0 and step <= warmup:
        return lr * step / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def evaluate(model, samples, batch_size: int, batches: int, device: str, autocast) -> float | None:
    """Mean next-token loss over the first `batches * batch_size` samples (token-weighted)."""
    import numpy as np
    import torch

    n = min(len(samples), batches * batch_size)
    if n == 0:
        return None
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, n, batch_size):
            rows = np.stack([samples.sample(i) for i in range(start, min(n, start + batch_size))])
            batch = torch.from_numpy(rows).to(device)
            with autocast():
                _, loss = model(batch[:, :-1], batch[:, 1:])
            k = batch[:, 1:].numel()
            total += float(loss) * k
            count += k
    model.train(was_training)
    return total / count


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def plot_loss(path: Path, curve: list[list[float]], evals: list[list[float]], title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        _log("matplotlib not installed: no loss plot")
        return False
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot([s for s, _ in curve], [v for _, v in curve], lw=1, label="train loss")
    if evals:
        ax.plot([s for s, _ in evals], [v for _, v in evals], "o--", label="held-out loss")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
    return True


def load_checkpoint(path: str | os.PathLike, map_location: str = "cpu"):
    """(model, checkpoint dict) from a `checkpoint.pt` written by `train`."""
    import torch

    from lmdata.train.model import GPT, GPTConfig

    ckpt = torch.load(path, map_location=map_location, weights_only=False)
    model = GPT(GPTConfig.from_dict(ckpt["model_config"]))
    model.load_state_dict(ckpt["model"])
    return model, ckpt


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train; write checkpoint, report and plot into cfg.out_dir; return the report dict."""
    import numpy as np
    import torch

    from lmdata.train.loader import (
        GPTSamples,
        Manifest,
        ShardStream,
        default_num_workers,
        make_loader,
        split_documents,
        verify_shards,
    )
    from lmdata.train.model import GPT, PRESETS, model_config

    cfg.validate()
    started = datetime.now(timezone.utc)  # noqa: UP017 (GPU images may run Python 3.10)
    t_begin = time.perf_counter()
    device = resolve_device(cfg.device)
    cuda = device.startswith("cuda")
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)

    manifest = Manifest.load(cfg.manifest)
    verify_s = None
    if cfg.verify:
        t = time.perf_counter()
        nbytes = verify_shards(manifest)
        verify_s = round(time.perf_counter() - t, 3)
        _log(f"verified sha256 of {len(manifest.shards)} shards ({nbytes:,} bytes) in {verify_s}s")

    preset_name = ("small" if cuda else "tiny") if cfg.preset == "auto" else cfg.preset
    if preset_name not in PRESETS:
        raise ConfigError(f"unknown config {cfg.preset!r} (known: auto, {', '.join(PRESETS)})")
    preset = PRESETS[preset_name]
    mcfg = model_config(preset_name, manifest.vocab_size, seq_len=cfg.seq_len, **cfg.model_overrides)
    batch_size = cfg.batch_size or preset["batch_size"]
    lr = cfg.lr or preset["lr"]
    warmup = preset["warmup_steps"] if cfg.warmup_steps is None else cfg.warmup_steps
    warmup = min(warmup, max(0, cfg.steps - 1))
    seq_len = mcfg.seq_len

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    if cuda:
        torch.cuda.manual_seed_all(cfg.seed)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    stream = ShardStream(manifest)
    train_docs, eval_docs = split_documents(len(stream.doc_lengths), cfg.eval_fraction, cfg.seed)
    train_samples = GPTSamples(
        stream, train_docs, seq_len, num_samples=cfg.steps * batch_size, seed=cfg.seed
    )
    eval_samples = None
    if len(eval_docs):
        try:
            eval_samples = GPTSamples(stream, eval_docs, seq_len, seed=cfg.seed, shuffle=False)
        except ConfigError as e:
            _log(f"no held-out eval: {e}")
    loader = make_loader(train_samples, batch_size, device=device, num_workers=cfg.num_workers)

    model = GPT(mcfg).to(device)
    opt = model.optimizer(lr, cfg.weight_decay, fused=cuda)
    run_model = torch.compile(model) if cfg.compile else model
    use_bf16 = cuda and torch.cuda.is_bf16_supported()
    dtype = "bfloat16" if use_bf16 else "float32"

    def autocast():
        if use_bf16:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    device_name = torch.cuda.get_device_name(device) if cuda else platform.processor() or "cpu"
    _log(
        f"train {manifest.mixture} v{manifest.version}: {preset_name} "
        f"({model.num_parameters():,} params), device {device} ({device_name}), {dtype}, "
        f"{cfg.steps} steps x {batch_size} x {seq_len} tokens, {train_samples.epochs} epoch(s) "
        f"of {len(train_docs)} documents"
    )

    evals: list[list[float]] = []
    eval_initial = None
    if eval_samples is not None:
        eval_initial = evaluate(model, eval_samples, batch_size, cfg.eval_batches, device, autocast)
        evals.append([0, eval_initial])

    tokens_per_step = batch_size * seq_len
    skip = min(max(1, cfg.steps // 10), 10) if cfg.steps > 2 else 0  # warm-up steps not timed
    curve: list[list[float]] = []
    pending: list[Any] = []
    wait_all = wait_steady = 0.0
    t_loop = time.perf_counter()
    t_steady = t_loop
    interval_t, interval_wait = t_loop, 0.0
    grad_norm = None
    model.train()
    it = iter(loader)
    for step in range(1, cfg.steps + 1):
        t0 = time.perf_counter()
        batch = next(it)
        waited = time.perf_counter() - t0
        wait_all += waited
        interval_wait += waited
        if step > skip:
            wait_steady += waited
        batch = batch.to(device, non_blocking=True)
        cur_lr = lr_at(step, lr, warmup, cfg.steps, cfg.min_lr_ratio)
        for g in opt.param_groups:
            g["lr"] = cur_lr
        with autocast():
            _, loss = run_model(batch[:, :-1], batch[:, 1:])
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        pending.append(loss.detach())
        if step % cfg.log_every == 0 or step == cfg.steps or step == skip:
            values = torch.stack(pending).float().cpu().tolist()  # one device sync per interval
            first = step - len(values) + 1
            curve.extend([[first + i, round(v, 5)] for i, v in enumerate(values)])
            pending.clear()
            if not all(math.isfinite(v) for v in values):
                raise FatalError(f"loss is not finite at step {curve[-1][0]}: {values[-1]}")
            now = time.perf_counter()
            n_steps = len(values)
            _log(
                f"step {step:>6d}/{cfg.steps} loss {values[-1]:.4f} lr {cur_lr:.2e} "
                f"grad_norm {float(grad_norm):.3f} "
                f"tok/s {n_steps * tokens_per_step / max(now - interval_t, 1e-9):,.0f} "
                f"loader {interval_wait / max(now - interval_t, 1e-9):.1%}"
            )
            interval_t, interval_wait = now, 0.0
            if step == skip:
                t_steady = now
    if cuda:
        torch.cuda.synchronize()
    t_end = time.perf_counter()
    del it, loader  # stop DataLoader workers before anything else is printed

    eval_final = None
    if eval_samples is not None:
        eval_final = evaluate(model, eval_samples, batch_size, cfg.eval_batches, device, autocast)
        evals.append([cfg.steps, eval_final])

    loop_s = t_end - t_loop
    steady_s = t_end - t_steady
    steady_steps = cfg.steps - skip
    ckpt_path = out / CHECKPOINT_NAME
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "model_config": mcfg.to_dict(),
            "train_config": asdict(cfg),
            "step": cfg.steps,
            "tokens_seen": cfg.steps * tokens_per_step,
            "mixture": manifest.mixture,
            "version": manifest.version,
            "manifest_sha256": manifest.sha256,
            "tokenizer": manifest.raw.get("tokenizer"),
        },
        str(ckpt_path) + ".tmp",
    )
    os.replace(str(ckpt_path) + ".tmp", ckpt_path)

    plot_path = out / PLOT_NAME
    title = (
        f"{manifest.mixture} v{manifest.version} · {preset_name} · {device_name} · {dtype} · "
        f"{cfg.steps} steps"
    )
    has_plot = plot_loss(plot_path, curve, evals, title)

    losses = [v for _, v in curve]
    k = min(5, len(losses))
    report = {
        "mixture": manifest.mixture,
        "version": manifest.version,
        "manifest": str(manifest.path),
        "manifest_sha256": manifest.sha256,
        "device": device,
        "device_name": device_name,
        "dtype": dtype,
        "config": preset_name,
        "model": mcfg.to_dict(),
        "parameters": model.num_parameters(),
        "steps": cfg.steps,
        "batch_size": batch_size,
        "seq_len": seq_len,
        "tokens_per_step": tokens_per_step,
        "tokens_seen": cfg.steps * tokens_per_step,
        "tokens_per_s": round(steady_steps * tokens_per_step / steady_s, 1)
        if steady_steps > 0
        else round(cfg.steps * tokens_per_step / loop_s, 1),
        "tokens_per_s_all_steps": round(cfg.steps * tokens_per_step / loop_s, 1),
        "loader_share": round(wait_steady / steady_s, 5) if steady_steps > 0 else None,
        "loader_share_all_steps": round(wait_all / loop_s, 5),
        "loader_wait_s": round(wait_all, 4),
        "loader_workers": default_num_workers(device)
        if cfg.num_workers is None
        else cfg.num_workers,
        "timed_from_step": skip + 1,
        "train_loop_s": round(loop_s, 3),
        "lr": lr,
        "warmup_steps": warmup,
        "seed": cfg.seed,
        "epochs": train_samples.epochs,
        "train_documents": int(len(train_docs)),
        "eval_documents": int(len(eval_docs)),
        "train_tokens_per_epoch": int(stream.doc_lengths[train_docs].sum()),
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "loss_first5_mean": round(float(np.mean(losses[:k])), 5),
        "loss_last5_mean": round(float(np.mean(losses[-k:])), 5),
        "loss_curve": curve,
        "eval_loss_initial": None if eval_initial is None else round(eval_initial, 5),
        "eval_loss": None if eval_final is None else round(eval_final, 5),
        "eval_tokens": 0
        if eval_samples is None
        else min(len(eval_samples), cfg.eval_batches * batch_size) * seq_len,
        "verify_s": verify_s,
        "checkpoint": str(ckpt_path),
        "loss_plot": str(plot_path) if has_plot else None,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
        "wall_time_s": round(time.perf_counter() - t_begin, 3),
    }
    report_path = out / REPORT_NAME
    report["report"] = str(report_path)
    _atomic_write(report_path, (json.dumps(report, indent=2) + "\n").encode())
    _log(
        f"done: loss {report['loss_first5_mean']} -> {report['loss_last5_mean']} "
        f"(held-out {report['eval_loss_initial']} -> {report['eval_loss']}), "
        f"{report['tokens_per_s']:,.0f} tok/s, loader share {report['loader_share']}, "
        f"report {report_path}"
    )
    return report


SUMMARY_KEYS = (
    "mixture",
    "version",
    "device",
    "dtype",
    "config",
    "steps",
    "tokens_seen",
    "tokens_per_s",
    "loader_share",
    "loss_first5_mean",
    "loss_last5_mean",
    "eval_loss",
    "wall_time_s",
    "checkpoint",
    "loss_plot",
    "report",
)


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The one-line result a caller (Airflow XCom) keeps."""
    return {k: report.get(k) for k in SUMMARY_KEYS}
