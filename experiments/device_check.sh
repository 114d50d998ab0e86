#!/usr/bin/env bash
# The checks to run when an accelerator machine is lent (one call, under 10 minutes in all).
#
#   bash experiments/device_check.sh            # from the repository root; writes under $OUT
#
# Runs, each under its own time limit (30+190+40+70+90+140 = 560 s in all):
#   1. the machine and JAX's devices;
#   2. bench_style at full size (10 s, 4096 filters: ours, the TF and PyTorch twins);
#   3. bench_spectral and bench_phase (both clip sets; phase needs the shared data);
#   4. one ESC-50 epoch of the paper's classifier (needs $DATA/esc50_16k);
#   5. the test suite.
# Everything lands in $OUT (at most 8 files: run.log, tests.log, three JSONs, the figure,
# the epoch's metrics, and bench_style's partial results if it ran out of time).
# The machine cannot reach the network: the environment must already hold the package and
# its extras (pip install -e ".[test,bench]").
set -u
OUT=${OUT:-/tmp/device_check}
DATA=${DATA:-../shared/data}
mkdir -p "$OUT"
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

step "jax devices" 30 python -c "import jax; print(jax.__version__, jax.devices())"

step "bench_style full" 190 python -m experiments.bench_style --data_dir="$DATA" --parallel --jobs=5 \
  --output="$OUT/bench_style.json" --figure=loss_vs_time.png

step "bench_spectral" 40 python -m experiments.bench_spectral --long_minutes=0 \
  --output="$OUT/bench_spectral.json"

if [ -d "$DATA/speech" ]; then
  step "bench_phase" 70 python -m experiments.bench_phase --data_dir="$DATA" \
    --configs=1024:256 --seeds=1 --output="$OUT/bench_phase.json"
else
  echo "=== bench_phase skipped: no $DATA/speech" | tee -a "$LOG"
fi

if [ -d "$DATA/esc50_16k" ]; then
  WORK=$(mktemp -d /tmp/esc50_epoch.XXXXXX)
  step "esc50 one epoch" 90 python -m experiments.train_classifier \
    --config=experiments/configs/paper.py --config.num_epochs=1 \
    --config.data_dir="$DATA/esc50_16k" --workdir="$WORK"
  cp "$WORK/metrics.jsonl" "$OUT/esc50_epoch_metrics.jsonl" 2>>"$LOG"
else
  echo "=== esc50 epoch skipped: no $DATA/esc50_16k" | tee -a "$LOG"
fi

echo "=== tests (limit 140s, at $(( $(date +%s) - start ))s)" | tee -a "$LOG"
timeout --kill-after=10 140 python -m pytest -q -x tests >"$OUT/tests.log" 2>&1
echo "=== tests: exit $? ($(tail -1 "$OUT/tests.log"))" | tee -a "$LOG"

echo "=== done in $(( $(date +%s) - start ))s" | tee -a "$LOG"
