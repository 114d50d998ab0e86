r"""Times our stft / istft / melspectrogram (jitted) against librosa, in one run, and their memory.

For each n_fft in ``--n_ffts`` (hop = n_fft / 4) and each case (one clip, a batch of
``--batch`` clips, ``--duration`` s at ``--sr`` Hz), it prints the median and the
minimum wall time of ``--rounds`` x ``--repeats`` calls of each side (ours and librosa
alternate in blocks, so CPU contention from other processes hits both alike), the
per-clip time, the ratio librosa / ours (> 1: ours is faster) and our compile time
(excluded from the timings).
With ``--long_minutes`` > 0 it then measures, each in a fresh subprocess, the peak
resident memory (VmHWM) of stft and melspectrogram on a clip that long,
above the process's memory just before the call.

  python -m experiments.bench_spectral
  python -m experiments.bench_spectral --n_ffts=1024 --repeats=3 --long_minutes=0
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from functools import partial

import jax
import numpy as np
from absl import app, flags

from specst_jax import features, spectral

_SR = flags.DEFINE_integer("sr", 22050, "Sample rate in Hz.")
_DURATION = flags.DEFINE_float("duration", 5.0, "Seconds per clip.")
_BATCH = flags.DEFINE_integer("batch", 16, "Clips in the batch case.")
_N_FFTS = flags.DEFINE_list("n_ffts", ["1024", "2048"], "FFT sizes; hop_length = n_fft // 4.")
_N_MELS = flags.DEFINE_integer("n_mels", 128, "Mel bands for melspectrogram.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed calls per side in each round.")
_ROUNDS = flags.DEFINE_integer("rounds", 3, "Alternating rounds (ours, librosa) per measurement.")
_LONG_MINUTES = flags.DEFINE_float(
    "long_minutes", 10.0, "Length of the clip for the memory measurement (0: skip it).")

OPS = ("stft", "istft", "melspectrogram")


def ours(op: str, *, sr: int, n_fft: int, n_mels: int):
  """Our jitted function for ``op``; batch axes lead, arrays are time-major."""
  hop = n_fft // 4
  if op == "stft":
    return jax.jit(partial(spectral.stft, n_fft=n_fft, hop_length=hop))
  if op == "istft":
    return jax.jit(partial(spectral.istft, n_fft=n_fft, hop_length=hop))
  return jax.jit(partial(features.melspectrogram, sr=sr, n_fft=n_fft, hop_length=hop,
                         n_mels=n_mels))


def reference(op: str, *, sr: int, n_fft: int, n_mels: int):
  """librosa's function for ``op`` (frequency-major, as librosa returns it)."""
  import librosa

  hop = n_fft // 4
  if op == "stft":
    return partial(librosa.stft, n_fft=n_fft, hop_length=hop)
  if op == "istft":
    return partial(librosa.istft, n_fft=n_fft, hop_length=hop)
  return lambda y: librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop,
                                                  n_mels=n_mels)


def _timed(fn, arg) -> float:
  start = time.perf_counter()
  jax.block_until_ready(fn(arg))
  return time.perf_counter() - start


def measure(op: str, x: np.ndarray, *, sr: int, n_fft: int, n_mels: int, repeats: int,
            rounds: int) -> dict:
  """Seconds per call (median and min) of ours and librosa on ``x[..., samples]``; compile time.

  ``rounds`` times, each side runs one untimed call then ``repeats`` timed calls,
  alternating, so both sides see the same background load and each runs with warm caches.
  """
  fn_ours = ours(op, sr=sr, n_fft=n_fft, n_mels=n_mels)
  fn_ref = reference(op, sr=sr, n_fft=n_fft, n_mels=n_mels)
  if op == "istft":
    arg_ours = np.asarray(spectral.stft(x, n_fft=n_fft, hop_length=n_fft // 4))
    arg_ref = np.ascontiguousarray(np.swapaxes(arg_ours, -1, -2))  # librosa: [..., bins, frames]
  else:
    arg_ours = arg_ref = x
  arg_ours = jax.device_put(arg_ours)
  start = time.perf_counter()
  compiled = fn_ours.lower(arg_ours).compile()
  compile_s = time.perf_counter() - start
  t_ours, t_ref = [], []
  for _ in range(rounds):  # alternate blocks so contention hits both sides alike
    _timed(compiled, arg_ours)  # warm caches / allocator after the other side ran
    t_ours += [_timed(compiled, arg_ours) for _ in range(repeats)]
    _timed(fn_ref, arg_ref)
    t_ref += [_timed(fn_ref, arg_ref) for _ in range(repeats)]
  return {"ours": float(np.median(t_ours)), "librosa": float(np.median(t_ref)),
          "ours_min": float(np.min(t_ours)), "librosa_min": float(np.min(t_ref)),
          "compile": compile_s}


_MEMORY_CHILD = r"""
import json, resource, sys
import numpy as np
op, impl, n_fft, sr, minutes, n_mels = sys.argv[1:]
n_fft, sr, n_mels, minutes = int(n_fft), int(sr), int(n_mels), float(minutes)
import jax
from specst_jax import features, spectral
x = np.random.default_rng(0).standard_normal(int(minutes * 60 * sr), dtype=np.float32)
hop = n_fft // 4
if impl == "ours":
  if op == "stft":
    fn = jax.jit(lambda y: spectral.stft(y, n_fft=n_fft, hop_length=hop))
  else:
    fn = jax.jit(lambda y: features.melspectrogram(y, sr=sr, n_fft=n_fft, hop_length=hop,
                                                   n_mels=n_mels))
  compiled = fn.lower(x).compile()  # compile memory stays out of the measurement
  run = lambda: jax.block_until_ready(compiled(x))
else:
  import librosa
  if op == "stft":
    run = lambda: librosa.stft(x, n_fft=n_fft, hop_length=hop)
  else:
    run = lambda: librosa.feature.melspectrogram(y=x, sr=sr, n_fft=n_fft, hop_length=hop,
                                                 n_mels=n_mels)

def status(key):
  for line in open("/proc/self/status"):
    if line.startswith(key + ":"):
      return int(line.split()[1]) / 1024  # kB -> MiB
  return None

try:  # reset the high-water mark (Linux) so earlier transients do not count
  with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
  reset = True
except OSError:
  reset = False
before = status("VmRSS") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = run()
peak = status("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"before_mb": before, "peak_mb": peak, "hwm_reset": reset,
                  "input_mb": x.nbytes / 2**20, "output_mb": np.asarray(out).nbytes / 2**20}))
"""


def measure_memory(op: str, impl: str, *, n_fft: int, sr: int, minutes: float,
                   n_mels: int) -> dict:
  """Resident memory (MiB) just before and at the peak of one call on a ``minutes``-long clip.

  Runs in a fresh subprocess; the peak is the kernel's high-water mark (VmHWM),
  reset just before the call where Linux allows it (else ru_maxrss since start).
  """
  env = dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
  result = subprocess.run(
      [sys.executable, "-c", _MEMORY_CHILD, op, impl, str(n_fft), str(sr), str(minutes),
       str(n_mels)],
      capture_output=True, text=True, env=env, timeout=900, check=False)
  if result.returncode != 0:
    return {"error": result.stderr.strip().splitlines()[-1] if result.stderr else "failed"}
  return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv):
  del argv
  sr, n_mels, repeats, rounds = _SR.value, _N_MELS.value, _REPEATS.value, _ROUNDS.value
  n_samples = int(round(_DURATION.value * sr))
  rng = np.random.default_rng(0)
  cases = {
      "1 clip": rng.standard_normal(n_samples).astype(np.float32),
      f"batch {_BATCH.value}": rng.standard_normal((_BATCH.value, n_samples)).astype(np.float32),
  }
  print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPUs; "
        f"{_DURATION.value} s clips at {sr} Hz; median and min of {rounds} x {repeats} calls; "
        f"load average "
        f"{os.getloadavg()[0]:.1f} at start")
  print("| op | n_fft | case | ours ms | librosa ms | ours ms/clip | librosa/ours "
        "| min: ours ms | min: librosa ms | min ratio | compile s |")
  print("|---|---|---|---|---|---|---|---|---|---|---|")
  for n_fft in (int(n) for n in _N_FFTS.value):
    for op in OPS:
      for case, x in cases.items():
        r = measure(op, x, sr=sr, n_fft=n_fft, n_mels=n_mels, repeats=repeats, rounds=rounds)
        clips = 1 if x.ndim == 1 else x.shape[0]
        print(f"| {op} | {n_fft} | {case} | {1e3 * r['ours']:.1f} | {1e3 * r['librosa']:.1f} | "
              f"{1e3 * r['ours'] / clips:.2f} | {r['librosa'] / r['ours']:.2f} | "
              f"{1e3 * r['ours_min']:.1f} | {1e3 * r['librosa_min']:.1f} | "
              f"{r['librosa_min'] / r['ours_min']:.2f} | {r['compile']:.2f} |", flush=True)
  print(f"load average {os.getloadavg()[0]:.1f} at end of timings")
  if _LONG_MINUTES.value > 0:
    minutes, n_fft = _LONG_MINUTES.value, int(_N_FFTS.value[0])
    print(f"\nPeak memory on a {minutes:g}-minute clip (n_fft {n_fft}, hop {n_fft // 4}), "
          "MiB of resident memory, each in a fresh process:")
    print("| op | impl | input MiB | output MiB | RSS before call | peak RSS | peak - before |")
    print("|---|---|---|---|---|---|---|")
    for op in ("stft", "melspectrogram"):
      for impl in ("ours", "librosa"):
        m = measure_memory(op, impl, n_fft=n_fft, sr=sr, minutes=minutes, n_mels=n_mels)
        if "error" in m:
          print(f"| {op} | {impl} | error: {m['error']} |||||")
          continue
        print(f"| {op} | {impl} | {m['input_mb']:.0f} | {m['output_mb']:.0f} | "
              f"{m['before_mb']:.0f} | {m['peak_mb']:.0f} | "
              f"{m['peak_mb'] - m['before_mb']:.0f} |", flush=True)
  return 0


if __name__ == "__main__":
  app.run(main)
