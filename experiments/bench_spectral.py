r"""Times our stft / istft / melspectrogram (jitted) against librosa, in one run, and their memory.

For each n_fft in ``--n_ffts`` (hop = n_fft / 4) and each case (one clip, a batch of
``--batch`` clips, ``--duration`` s at ``--sr`` Hz), every side runs ``--rounds`` rounds,
alternating in blocks (so CPU contention from other processes hits all alike); in each
round a side makes one untimed warm call and then ``--repeats`` timed calls (the same
number for every side). Printed: the median over rounds of each round's median, the
spread of those round medians (min-max, % of the median), the per-clip time, the ratio
librosa / ours (> 1: ours is faster) and our compile time (excluded). Our timed calls
include copying the result back to the host (``np.asarray``), as a numpy caller needs.
For melspectrogram librosa is timed twice: as ``librosa.feature.melspectrogram`` (which
rebuilds the mel basis on each call) and as ``basis @ |stft|^2`` with the basis built once
(``librosa+basis``), what a user who cares reuses. The machine (CPU model, cores, load
average at start and end) is printed in the header and stored with ``--output``.
With ``--long_minutes`` > 0 it then measures, each in a fresh subprocess, the peak
resident memory (VmHWM) of stft and melspectrogram on a clip that long,
above the process's memory just before the call.

  python -m experiments.bench_spectral
  python -m experiments.bench_spectral --n_ffts=1024 --repeats=3 --long_minutes=0  # quick
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import jax
import numpy as np
from absl import app, flags

from experiments.peers import machine
from specst_jax import features, provenance, spectral

_SR = flags.DEFINE_integer("sr", 22050, "Sample rate in Hz.")
_DURATION = flags.DEFINE_float("duration", 5.0, "Seconds per clip.")
_BATCH = flags.DEFINE_integer("batch", 16, "Clips in the batch case.")
_N_FFTS = flags.DEFINE_list("n_ffts", ["1024", "2048"], "FFT sizes; hop_length = n_fft // 4.")
_N_MELS = flags.DEFINE_integer("n_mels", 128, "Mel bands for melspectrogram.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed calls per side in each round.")
_ROUNDS = flags.DEFINE_integer("rounds", 3, "Alternating rounds (ours, librosa) per measurement.")
_OUTPUT = flags.DEFINE_string("output", "", "If set, also write the results as JSON here.")
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


def reference(op: str, *, sr: int, n_fft: int, n_mels: int, basis: bool = False):
  """librosa's function for ``op`` (frequency-major, as librosa returns it).

  ``basis=True`` (melspectrogram only): the mel basis is built here, once, and each call
  is ``basis @ |librosa.stft|^2``, equal to ``librosa.feature.melspectrogram``'s output.
  """
  import librosa

  hop = n_fft // 4
  if op == "stft":
    return partial(librosa.stft, n_fft=n_fft, hop_length=hop)
  if op == "istft":
    return partial(librosa.istft, n_fft=n_fft, hop_length=hop)
  if basis:
    mel = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels).astype(np.float32)
    return lambda y: np.matmul(mel, np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop)) ** 2)
  return lambda y: librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop,
                                                  n_mels=n_mels)


def _timed(fn, arg) -> float:
  start = time.perf_counter()
  np.asarray(fn(arg))  # ours: the copy back to the host is part of the call
  return time.perf_counter() - start


def measure(op: str, x: np.ndarray, *, sr: int, n_fft: int, n_mels: int, repeats: int,
            rounds: int) -> dict:
  """Per side: median over rounds of the round medians (s), their spread, and our compile time.

  ``rounds`` times, each side makes one untimed call then ``repeats`` timed calls,
  the sides alternating, so all see the same background load and run with warm caches.
  """
  fn_ours = ours(op, sr=sr, n_fft=n_fft, n_mels=n_mels)
  sides = {"librosa": reference(op, sr=sr, n_fft=n_fft, n_mels=n_mels)}
  if op == "melspectrogram":
    sides["librosa+basis"] = reference(op, sr=sr, n_fft=n_fft, n_mels=n_mels, basis=True)
  if op == "istft":
    arg_ours = np.asarray(spectral.stft(x, n_fft=n_fft, hop_length=n_fft // 4))
    arg_ref = np.ascontiguousarray(np.swapaxes(arg_ours, -1, -2))  # librosa: [..., bins, frames]
  else:
    arg_ours = arg_ref = x
  arg_ours = jax.device_put(arg_ours)
  start = time.perf_counter()
  compiled = fn_ours.lower(arg_ours).compile()
  compile_s = time.perf_counter() - start
  if op == "melspectrogram":  # the basis variant computes the same thing
    np.testing.assert_allclose(np.swapaxes(sides["librosa+basis"](arg_ref), -1, -2),
                               np.asarray(compiled(arg_ours)), rtol=1e-3,
                               atol=1e-4 * float(np.max(np.asarray(compiled(arg_ours)))))
  calls = {"ours": (compiled, arg_ours), **{k: (f, arg_ref) for k, f in sides.items()}}
  per_round = {k: [] for k in calls}
  for _ in range(rounds):  # alternate blocks so contention hits every side alike
    for name, (fn, arg) in calls.items():
      _timed(fn, arg)  # warm caches / allocator after the other side ran
      per_round[name].append(float(np.median([_timed(fn, arg) for _ in range(repeats)])))
  out = {"compile": compile_s}
  for name, ts in per_round.items():
    med = float(np.median(ts))
    out[name] = med
    out[f"{name}_spread_pct"] = 100.0 * (max(ts) - min(ts)) / med
    out[f"{name}_rounds"] = ts
  return out


_MEMORY_CHILD = r"""
import json, resource, sys
import numpy as np
op, impl, n_fft, sr, minutes, n_mels = sys.argv[1:]
n_fft, sr, n_mels, minutes = int(n_fft), int(sr), int(n_mels), float(minutes)
import jax
from experiments.peers import machine
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
  info_start = machine.describe()
  print(machine.header(info_start))
  print(f"jax {jax.__version__} on {jax.devices()[0].platform}; {_DURATION.value} s clips at "
        f"{sr} Hz; per side {rounds} rounds x (1 warm + {repeats} timed) calls; times: median "
        "of the round medians, spread: (max - min) / median of the round medians")
  print("| op | n_fft | case | ours ms (spread) | librosa ms (spread) | librosa+basis ms (spread) "
        "| ours ms/clip | librosa/ours | librosa+basis/ours | compile s |")
  print("|---|---|---|---|---|---|---|---|---|---|")
  rows = []
  for n_fft in (int(n) for n in _N_FFTS.value):
    for op in OPS:
      for case, x in cases.items():
        r = measure(op, x, sr=sr, n_fft=n_fft, n_mels=n_mels, repeats=repeats, rounds=rounds)
        clips = 1 if x.ndim == 1 else x.shape[0]
        rows.append(dict(op=op, n_fft=n_fft, case=case, **r))

        def cell(name, r=r):
          if name not in r:
            return "-"
          return f"{1e3 * r[name]:.1f} ({r[name + '_spread_pct']:.0f}%)"

        basis = f"{r['librosa+basis'] / r['ours']:.2f}" if "librosa+basis" in r else "-"
        print(f"| {op} | {n_fft} | {case} | {cell('ours')} | {cell('librosa')} | "
              f"{cell('librosa+basis')} | {1e3 * r['ours'] / clips:.2f} | "
              f"{r['librosa'] / r['ours']:.2f} | {basis} | {r['compile']:.2f} |", flush=True)
  info_end = machine.describe()
  print(machine.header(info_end) + " (end of timings)")
  if _OUTPUT.value:
    Path(_OUTPUT.value).parent.mkdir(parents=True, exist_ok=True)
    record = provenance.record()  # no data files: seeded noise (data_sha256 null)
    Path(_OUTPUT.value).write_text(json.dumps(dict(
        machine_start=info_start, machine_end=info_end, command=record["command"],
        provenance=record, rows=rows), indent=1) + "\n")
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
