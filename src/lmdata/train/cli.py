"""`lmdata train` (also `python -m lmdata.train.cli`): train a small GPT on a mixture's shards.

    lmdata train --manifest var/mixtures/web/v1/manifest.json --out var/train/web-v1 \\
                 [--config auto|tiny|small] [--steps N] [--device auto|cpu|cuda] \\
                 [--batch-size B] [--seq-len T] [--lr LR] [--launcher local|kubernetes|remote]

Defaults come from params.yaml `train:` (then the config preset); flags win. Without
`--launcher` it trains in this process; with it, `lmdata.train.launch` runs the same command as a
subprocess, a Kubernetes GPU pod or a remote command. Progress goes to stderr; the LAST line on
stdout is a one-line JSON summary (with "report": the path of training_report.json), so an Airflow
task can push it as its XCom. Exit codes: 0 ok, 2 bad input/config, 75 retryable.
"""

from __future__ import annotations

import argparse
import json
import sys

from lmdata.errors import EXIT_FATAL, ConfigError, LmdataError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lmdata train", description="Train a small GPT on a mixture's Megatron shards."
    )
    p.add_argument("--manifest", required=True, help="manifest.json of a mixture (or its dir)")
    p.add_argument("--out", default=None, help="output dir (default <train.out_dir>/<mixture>-v<N>)")
    p.add_argument("--config", choices=["auto", "tiny", "small"], default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--seq-len", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--warmup-steps", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--eval-batches", type=int, default=None)
    p.add_argument("--eval-fraction", type=float, default=0.05)
    p.add_argument("--num-workers", type=int, default=None)
    p.add_argument("--n-layer", type=int, default=None)
    p.add_argument("--n-head", type=int, default=None)
    p.add_argument("--d-model", type=int, default=None)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the model")
    p.add_argument(
        "--skip-verify", action="store_true", help="do not check the shards' sha256 first"
    )
    p.add_argument(
        "--launcher",
        choices=["local", "kubernetes", "remote"],
        default=None,
        help="run through lmdata.train.launch instead of in this process",
    )
    p.add_argument(
        "--params",
        default=None,
        help="params.yaml (default $LMDATA_PARAMS, ./params.yaml); 'none': flags and built-in "
        "defaults only",
    )
    p.add_argument("--set", action="append", default=[], metavar="train.KEY=VALUE")
    return p


def _pick(flag, tp, key: str, default):
    """The flag if given, else params.yaml train.<key> (when params are read), else default."""
    if flag is not None:
        return flag
    return default if tp is None else getattr(tp, key)


def cli(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        tp = None
        if args.params != "none":  # `--params none`: flags + built-in defaults only (no pydantic)
            from lmdata.config import load_params

            tp = load_params(args.params, args.set).train
        if args.launcher:
            if tp is None:
                raise ConfigError("--launcher needs params (drop --params none)")
            from lmdata.train.launch import launch

            result = launch(
                args.manifest,
                args.out,
                train=tp,
                launcher=args.launcher,
                overrides={
                    "config": args.config,
                    "steps": args.steps,
                    "device": args.device,
                    "batch_size": args.batch_size,
                    "seq_len": args.seq_len,
                    "lr": args.lr,
                    "seed": args.seed,
                },
            )
            print(json.dumps(result, sort_keys=True), flush=True)
            return 0

        from lmdata.train.run import TrainConfig, default_out_dir, summary, train

        d = TrainConfig(manifest="", out_dir="")  # the built-in defaults
        cfg = TrainConfig(
            manifest=args.manifest,
            out_dir=args.out
            or str(default_out_dir("var/train" if tp is None else tp.out_dir, args.manifest)),
            preset=_pick(args.config, tp, "config", d.preset),
            steps=_pick(args.steps, tp, "steps", d.steps),
            batch_size=_pick(args.batch_size, tp, "batch_size", d.batch_size),
            seq_len=_pick(args.seq_len, tp, "seq_len", d.seq_len),
            lr=_pick(args.lr, tp, "lr", d.lr),
            warmup_steps=args.warmup_steps,
            device=_pick(args.device, tp, "device", d.device),
            compile=_pick(args.compile, tp, "compile", d.compile),
            seed=_pick(args.seed, tp, "seed", d.seed),
            log_every=args.log_every,
            eval_fraction=args.eval_fraction,
            eval_batches=_pick(args.eval_batches, tp, "eval_batches", d.eval_batches),
            num_workers=_pick(args.num_workers, tp, "num_workers", d.num_workers),
            verify=(d.verify if tp is None else tp.verify_shards) and not args.skip_verify,
            threads=args.threads,
            model_overrides={
                k: v
                for k, v in (("n_layer", args.n_layer), ("n_head", args.n_head), ("d_model", args.d_model))
                if v is not None
            },
        )
        report = train(cfg)
    except LmdataError as e:
        print(f"lmdata train: error: {e}", file=sys.stderr, flush=True)
        return e.exit_code
    except ImportError as e:
        print(
            f"lmdata train: error: {e} (the training path needs torch: pip install 'lmdata[train]')",
            file=sys.stderr,
            flush=True,
        )
        return EXIT_FATAL
    print(json.dumps(summary(report), sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
