#!/usr/bin/env bash
# GPU check of the training path (issue 9): on a fresh GPU machine with this repository, build
# real shards from the Python standard library's source, train the "small" GPT for 300 steps in
# bf16 and keep training_report.json + loss_curve.png (tokens/s, data loader share of step time).
#
#   OUT=/some/dir bash bench/gpu_train_check.sh          # from the repository root
#   DEVICE=cpu CONFIG=tiny STEPS=30 SHARD_ARGS="--max-mb 1 --top-level" bash bench/gpu_train_check.sh
#
# Env: OUT (results; default bench/out/gpu-train-check), DEVICE (cuda), CONFIG (small), STEPS
# (300), PY (a python with torch; default: the first of python3/python that imports torch and
# numpy), WORK (scratch; default /tmp/lmdata-gpu-check), SHARD_ARGS (extra make_stdlib_shards
# flags), TRAIN_ARGS (extra lmdata.train.cli flags), COMPARE_WORKERS (1: a second run with
# --num-workers 0, to see what the loader workers buy; default 1), SKIP_PIP (1: install nothing).
# Needs only torch + numpy; uses tokenizers (else a byte tokenizer), matplotlib (else no plot).
# pip is tried for what is missing and may fail offline; nothing else is installed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
OUT=${OUT:-bench/out/gpu-train-check}
DEVICE=${DEVICE:-cuda}
CONFIG=${CONFIG:-small}
STEPS=${STEPS:-300}
WORK=${WORK:-/tmp/lmdata-gpu-check}
COMPARE_WORKERS=${COMPARE_WORKERS:-1}
mkdir -p "$OUT" "$WORK"
exec > >(tee -a "$OUT/gpu_train_check.log") 2>&1
echo "== lmdata GPU train check $(date -u +%FT%TZ) device=$DEVICE config=$CONFIG steps=$STEPS"

# 1. a python with torch + numpy (preinstalled on GPU images), else a venv with pip
PYBIN=""
for c in ${PY:-} python3 python; do
  if command -v "$c" >/dev/null 2>&1 && "$c" -c "import torch, numpy" 2>/dev/null; then PYBIN=$c; break; fi
done
if [ -z "$PYBIN" ]; then
  echo "no python with torch + numpy: trying a venv + pip install torch numpy tokenizers matplotlib"
  python3 -m venv --system-site-packages "$WORK/venv" &&
    "$WORK/venv/bin/pip" install --quiet --timeout 30 --retries 1 torch numpy tokenizers matplotlib &&
    PYBIN="$WORK/venv/bin/python"
  [ -n "$PYBIN" ] || { echo "FAILED: cannot get torch + numpy"; exit 2; }
fi
echo "python: $(command -v "$PYBIN") $("$PYBIN" -V 2>&1)"

# 2. the few packages the train path uses (all optional but torch/numpy) + lmdata itself
if [ "${SKIP_PIP:-0}" != 1 ]; then
  for pair in tokenizers:tokenizers matplotlib:matplotlib yaml:pyyaml pydantic:pydantic; do
    mod=${pair%%:*} pkg=${pair##*:}
    "$PYBIN" -c "import $mod" 2>/dev/null ||
      "$PYBIN" -m pip install --quiet --timeout 5 --retries 0 "$pkg" >/dev/null 2>&1 ||
      echo "note: $pkg not installed (offline?); the train path runs without it"
  done
  "$PYBIN" -m pip install --quiet --no-deps --no-build-isolation -e . >/dev/null 2>&1 ||
    echo "note: pip install -e . failed; using PYTHONPATH=src"
fi
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$PYBIN" - <<'EOF' || { echo "FAILED: import check"; exit 2; }
import sys
import lmdata.train.cli, lmdata.train.run, lmdata.train.loader, lmdata.train.model  # noqa: E401,F401
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"pyspark", "airflow", "deltalake"})
assert not heavy, f"the train path imported {heavy}"
EOF

# 3. the machine
{
  nvidia-smi 2>&1 || true
  "$PYBIN" -c "import torch, numpy, platform, os; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available(), [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())], 'bf16', torch.cuda.is_available() and torch.cuda.is_bf16_supported(), 'numpy', numpy.__version__, 'python', platform.python_version(), 'cpus', os.cpu_count())"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt" | tail -3

# 4. shards from the stdlib source (tokenizer training + Megatron writer + manifest, no Spark)
MIX="$WORK/stdlib-mixture"
# shellcheck disable=SC2086
"$PYBIN" -m bench.make_stdlib_shards --out "$MIX" ${SHARD_ARGS:-} || { echo "FAILED: shards"; exit 2; }
cp "$MIX/manifest.json" "$OUT/manifest.json"

# 5. train
run() {  # run NAME [extra cli flags]
  local name=$1; shift
  local dir="$WORK/run-$name"
  rm -rf "$dir"
  # shellcheck disable=SC2086
  "$PYBIN" -m lmdata.train.cli --manifest "$MIX/manifest.json" --out "$dir" --config "$CONFIG" \
    --device "$DEVICE" --steps "$STEPS" --params none ${TRAIN_ARGS:-} "$@" \
    > "$WORK/$name.stdout" 2> >(tee "$OUT/train-$name.log" >&2)
  local rc=$?
  tail -n 1 "$WORK/$name.stdout" > "$OUT/summary-$name.json"
  mkdir -p "$OUT/$name"
  cp "$dir/training_report.json" "$OUT/$name/" 2>/dev/null
  cp "$dir/loss_curve.png" "$OUT/$name/" 2>/dev/null
  echo "run $name: exit $rc, summary: $(cat "$OUT/summary-$name.json")"
  return $rc
}
run workers || { echo "FAILED: training"; exit 1; }
cp "$OUT/workers/training_report.json" "$OUT/training_report.json"
cp "$OUT/workers/loss_curve.png" "$OUT/loss_curve.png" 2>/dev/null
if [ "$COMPARE_WORKERS" = 1 ]; then run workers0 --num-workers 0 || echo "workers0 run failed"; fi

"$PYBIN" - "$OUT" <<'EOF' | tee "$OUT/benchmarks_rows.md"
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
print("| run | device | dtype | model | batch x seq | loader workers | tokens/s (after warm-up / all steps) "
      "| loader share of step time (after warm-up / all) | train loss first 5 -> last 5 | held-out loss | wall s |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
def f(v, spec=".3f"):
    return "-" if v is None else format(v, spec)
for p in sorted(out.glob("*/training_report.json")):
    r = json.loads(p.read_text())
    print(f"| {p.parent.name} | {r['device_name']} | {r['dtype']} | {r['config']} ({r['parameters']/1e6:.1f} M params) "
          f"| {r['batch_size']} x {r['seq_len']} | {r['loader_workers']} "
          f"| {r['tokens_per_s']:,.0f} / {r['tokens_per_s_all_steps']:,.0f} "
          f"| {f(r['loader_share'], '.2%')} / {f(r['loader_share_all_steps'], '.2%')} "
          f"| {r['loss_first5_mean']:.3f} -> {r['loss_last5_mean']:.3f} "
          f"| {f(r['eval_loss_initial'])} -> {f(r['eval_loss'])} | {r['wall_time_s']:.1f} |")
EOF
echo "== done: $OUT"
