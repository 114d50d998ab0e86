#!/usr/bin/env bash
# The checks to run when an accelerator machine is lent (one call, under 10 minutes in all).
#
#   bash experiments/device_prepare.sh           # here, first: builds .device/ (wheels + data)
#   run(command="bash experiments/device_check.sh", carry=[".device"], timeout_s=600)
#
# On the device machine only the checkout (and what is carried) exists: ../shared does not
# travel and the image lacks soundfile, soxr, ml_collections and librosa. With .device/ this
# script installs those wheels into /tmp/site and reads its data from .device/data (the
# ESC-50 epoch then runs on the subset's clips per fold); without it, from $DATA.
#
# Runs, each under its own time limit (30+190+40+70+90+140 = 560 s in all):
#   1. the machine and JAX's devices;
#   2. bench_style at full size (10 s, 4096 filters: ours, the TF and PyTorch twins);
#   3. bench_spectral and bench_phase (both clip sets; phase needs the shared data);
#   4. three ESC-50 epochs of the paper's classifier (needs $DATA/esc50_16k);
#   5. the test suite.
# Everything lands in $OUT (at most 8 files: run.log, tests.log, three JSONs, the figure,
# the epoch's metrics, and bench_style's partial results if it ran out of time).
# The machine cannot reach the network: what its image lacks comes in .device/ (above), except
# TensorFlow (bench_style then runs without its TF twin).
set -u
OUT=${OUT:-/tmp/device_check}
mkdir -p "$OUT"
source experiments/device_env.sh >>"$OUT/run.log" 2>&1  # PY, DATA, the carried wheels
CLIPS=$(cat "$DATA/esc50_16k/CLIPS_PER_FOLD" 2>/dev/null || echo 0)  # 0: all 400 per fold
LOG="$OUT/run.log"
start=$(date +%s)

step() {  # step NAME SECONDS COMMAND...: run with a time limit, log, record the exit code
  local name=$1 limit=$2
  shift 2
  echo "=== $name (limit ${limit}s, at $(( $(date +%s) - start ))s)" | tee -a "$LOG"
  timeout --kill-after=10 "$limit" "$@" >>"$LOG" 2>&1
  local rc=$?
  echo "=== $name: exit $rc" | tee -a "$LOG"
}

{
  date -u
  lscpu | grep -E "Model name|^CPU\(s\)|Flags" | cut -c1-300
  uptime
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | head -3
} >>"$LOG" 2>&1

step "jax devices" 30 "$PY" -c "import jax; print(jax.__version__, jax.devices())"

# The TensorFlow twin needs tensorflow, which the image lacks (too large to carry): without it
# the PyTorch twin is the peer and the times to the TF loss are left empty.
IMPLS=tf,ours,torch,ours_early_stop,ours_scipy
"$PY" -c "import tensorflow" >/dev/null 2>&1 || IMPLS=ours,torch,ours_early_stop,ours_scipy
step "bench_style full" 190 "$PY" -m experiments.bench_style --data_dir="$DATA" --parallel --jobs=5 \
  --impls="$IMPLS" --output="$OUT/bench_style.json" --figure=loss_vs_time.png

step "bench_spectral" 40 "$PY" -m experiments.bench_spectral --long_minutes=0 \
  --output="$OUT/bench_spectral.json"

if [ -d "$DATA/speech" ]; then
  step "bench_phase" 70 "$PY" -m experiments.bench_phase --data_dir="$DATA" \
    --configs=1024:256 --seeds=1 --output="$OUT/bench_phase.json"
else
  echo "=== bench_phase skipped: no $DATA/speech" | tee -a "$LOG"
fi

if [ -d "$DATA/esc50_16k" ]; then
  WORK=$(mktemp -d /tmp/esc50_epoch.XXXXXX)
  # Three epochs: the first includes the compile; on the subset (CLIPS per fold) scale the
  # later epochs' seconds by 89 / (steps per epoch) for a full 1424-clip epoch.
  step "esc50 epochs" 90 "$PY" -m experiments.train_classifier \
    --config=experiments/configs/paper.py --config.num_epochs=3 \
    --config.data_dir="$DATA/esc50_16k" --config.clips_per_fold="$CLIPS" \
    --config.cache_dir="$WORK/cache" --workdir="$WORK"
  cp "$WORK/metrics.jsonl" "$OUT/esc50_epoch_metrics.jsonl" 2>>"$LOG"
else
  echo "=== esc50 epoch skipped: no $DATA/esc50_16k" | tee -a "$LOG"
fi

echo "=== tests (limit 140s, at $(( $(date +%s) - start ))s)" | tee -a "$LOG"
timeout --kill-after=10 140 "$PY" -m pytest -q -x tests >"$OUT/tests.log" 2>&1
echo "=== tests: exit $? ($(tail -1 "$OUT/tests.log"))" | tee -a "$LOG"

echo "=== done in $(( $(date +%s) - start ))s" | tee -a "$LOG"
