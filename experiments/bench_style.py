r"""Benchmark: Ulyanov's reference style-transfer workload, with the breakdown next to ANCHORS.md.

  python -m experiments.bench_style                       # 10 s, 4096 filters, 300 L-BFGS, 500 GLA
  python -m experiments.bench_style --compute_dtype=bfloat16 --scipy_reference

Content: LJSpeech clips concatenated, style: world-music excerpts (from ``--data_dir``;
synthetic signals when absent), both cut to ``--seconds`` at 22050 Hz; n_fft 2048, hop 512.
Prints set-up, compile, seconds per loss-and-gradient evaluation, evaluations, optimisation,
phase reconstruction and end-to-end times, the final loss, and the reference TensorFlow
numbers (measured on this kind of 2-core CPU, ANCHORS.md section 1). ``--scipy_reference``
also runs scipy's L-BFGS-B (the reference's optimiser) on the same jitted loss and gradient.
``--memory_seconds`` measures peak resident memory (ru_maxrss) of a whole short run on
that much audio in a subprocess.
"""

from __future__ import annotations

import glob
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from specst_jax import audio, phase, signals, spectral
from specst_jax.style import optimize
from specst_jax.style import pipeline as pl

REFERENCE = dict(end_to_end_s=330.0, per_eval_s=0.81, n_evals=319, setup_s=15.0,
                 phase_s=13.0, final_loss=550.0)

_DATA = flags.DEFINE_string("data_dir", "../shared/data", "shared data folder")
_SECONDS = flags.DEFINE_float("seconds", 10.0, "content and style duration (s)")
_SR = flags.DEFINE_integer("sr", 22050, "sample rate (Hz)")
_N_FFT = flags.DEFINE_integer("n_fft", 2048, "FFT size")
_HOP = flags.DEFINE_integer("hop_length", 512, "hop (samples)")
_FILTERS = flags.DEFINE_integer("filters", 4096, "filters")
_WIDTH = flags.DEFINE_integer("kernel_width", 11, "kernel width (frames)")
_N_ITER = flags.DEFINE_integer("n_iter", 300, "L-BFGS iterations")
_PHASE_ITER = flags.DEFINE_integer("phase_iter", 500, "Griffin-Lim iterations")
_IMPL = flags.DEFINE_enum("impl", "matmul", ["matmul", "conv"], "1-D conv implementation")
_DTYPE = flags.DEFINE_enum("compute_dtype", "float32", ["float32", "bfloat16"], "conv operands")
_SEED = flags.DEFINE_integer("seed", 0, "PRNG seed")
_SCIPY = flags.DEFINE_bool("scipy_reference", False, "also run scipy L-BFGS-B on the same loss")
_MEM = flags.DEFINE_float("memory_seconds", 60.0, "peak-memory run length (s); 0 skips")
_MEM_CHILD = flags.DEFINE_bool("memory_child", False, "internal: print ru_maxrss after the run")


def _clips(pattern: str, seconds: float, sr: int) -> np.ndarray | None:
  files = sorted(glob.glob(pattern))
  if not files:
    return None
  need, parts = int(round(seconds * sr)), []
  for f in files:
    parts.append(audio.load_audio(f, sr=sr)[0])
    if sum(len(p) for p in parts) >= need:
      return np.concatenate(parts)[:need]
  return np.resize(np.concatenate(parts), need)


def _inputs() -> tuple[np.ndarray, np.ndarray, str]:
  d, s, sr = Path(_DATA.value), _SECONDS.value, _SR.value
  content = _clips(str(d / "speech/ljspeech/*.flac"), s, sr)
  style = _clips(str(d / "music/world/*.ogg"), s, sr)
  if content is None or style is None:
    return (signals.make_signal("vowel_glide", sr=sr, duration=s),
            signals.make_signal("harmonic_mix", sr=sr, duration=s), "synthetic")
  return content, style, "LJSpeech + world music"


def main(argv):
  del argv
  t_start = time.perf_counter()
  content, style, source = _inputs()
  kw = dict(n_fft=_N_FFT.value, hop_length=_HOP.value)
  S_c = spectral.magnitude(spectral.stft(jnp.asarray(content), **kw))
  S_s = spectral.magnitude(spectral.stft(jnp.asarray(style), **kw))
  k_net, k_init, k_phase = jax.random.split(jax.random.key(_SEED.value), 3)
  dtype = jnp.bfloat16 if _DTYPE.value == "bfloat16" else jnp.float32
  setup = pl.ulyanov_setup(k_net, S_c.shape[-1], filters=_FILTERS.value,
                           kernel_width=_WIDTH.value, impl=_IMPL.value, compute_dtype=dtype)
  x_c, x_s = pl.to_representation(S_c, "log1p"), pl.to_representation(S_s, "log1p")
  fn, cfg = setup.features_fn, setup.config
  targets = jax.block_until_ready(jax.jit(
      lambda p, c, s: optimize.make_targets(fn, p, c, [s], cfg))(setup.params, x_c, x_s))
  x0 = optimize.initial_value(k_init, x_c, init="noise")
  run = jax.jit(lambda p, x, t: optimize.run_style_transfer(
      p, x, t, features_fn=fn, config=cfg, optimizer="lbfgs", n_iter=_N_ITER.value))
  compiled = run.lower(setup.params, x0, targets).compile()
  setup_s = time.perf_counter() - t_start
  print(f"set-up + compile: {setup_s:.1f} s; optimising ({_N_ITER.value} L-BFGS iterations)",
        flush=True)

  t0 = time.perf_counter()
  result = jax.block_until_ready(compiled(setup.params, x0, targets))
  opt_s = time.perf_counter() - t0
  print(f"optimisation: {opt_s:.1f} s, {int(result.n_iter)} iterations (early stop at ftol 1e-6), "
        f"{int(result.n_evals)} evaluations, final loss "
        f"{float(result.final['total']):.6g}", flush=True)

  t0 = time.perf_counter()
  S_r = pl.from_representation(result.x, "log1p")
  y = jax.block_until_ready(phase.reconstruct(S_r, **kw, method="gla", n_iter=_PHASE_ITER.value,
                                              key=k_phase, length=len(content)))
  phase_s = time.perf_counter() - t0
  end_to_end = time.perf_counter() - t_start
  if not np.all(np.isfinite(np.asarray(y))):
    raise FloatingPointError("non-finite audio")

  if _MEM_CHILD.value:
    print(f"MAXRSS_MB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
    return

  vg = jax.jit(jax.value_and_grad(lambda x, p, t: optimize.loss_terms(
      x, p, t, features_fn=fn, config=cfg)["total"]))
  jax.block_until_ready(vg(x0, setup.params, targets))
  reps = 5
  t0 = time.perf_counter()
  for _ in range(reps):
    jax.block_until_ready(vg(result.x, setup.params, targets))
  per_eval = (time.perf_counter() - t0) / reps

  n_evals = int(result.n_evals)
  final = float(result.final["total"])
  print(f"workload: {source}, {_SECONDS.value:g} s at {_SR.value} Hz, {S_c.shape[0]} frames x "
        f"{S_c.shape[1]} bins, {_FILTERS.value} filters x {_WIDTH.value}, {_N_ITER.value} L-BFGS "
        f"iterations, {_PHASE_ITER.value} GLA iterations; impl={_IMPL.value}, "
        f"operands={_DTYPE.value}; device {jax.devices()[0]}; load {os.getloadavg()[0]:.1f}")
  rows = [
      ("set-up + compile (s)", setup_s, REFERENCE["setup_s"]),
      ("s per loss-and-gradient evaluation", per_eval, REFERENCE["per_eval_s"]),
      ("evaluations", n_evals, REFERENCE["n_evals"]),
      ("optimisation total (s)", opt_s, REFERENCE["per_eval_s"] * REFERENCE["n_evals"]),
      ("phase reconstruction (s)", phase_s, REFERENCE["phase_s"]),
      ("end to end (s)", end_to_end, REFERENCE["end_to_end_s"]),
      ("final loss", final, REFERENCE["final_loss"]),
  ]
  print(f"{'':38s} {'specst-jax':>12s} {'TF reference':>13s} {'ratio':>7s}")
  for name, ours, ref in rows:
    print(f"{name:38s} {ours:12.4g} {ref:13.4g} {ours / ref:7.3f}")
  print(f"final terms: style {float(result.final['style']):.4g}, "
        f"content {float(result.final['content']):.4g}")
  # Check of the frame-product form: the style loss through explicit C x C Grams (float64 numpy).
  f_r = np.asarray(fn(setup.params, result.x)["conv"], np.float64)
  f_s = np.asarray(fn(setup.params, x_s)["conv"], np.float64)
  g = f_r.T @ f_r / x_c.shape[0] - f_s.T @ f_s / x_s.shape[0]
  print(f"style loss via explicit {g.shape[0]}x{g.shape[0]} Grams in float64: "
        f"{np.sum(g * g):.6g} (frame-product float32: {float(result.final['style']):.6g})")

  if _SCIPY.value:
    import scipy.optimize
    shape = x0.shape

    def f(v):
      val, g = vg(jnp.asarray(v.reshape(shape), jnp.float32), setup.params, targets)
      return float(val), np.asarray(g, np.float64).ravel()

    t0 = time.perf_counter()
    res = scipy.optimize.minimize(f, np.asarray(x0, np.float64).ravel(), jac=True,
                                  method="L-BFGS-B", options=dict(maxiter=_N_ITER.value))
    print(f"scipy L-BFGS-B (maxiter {_N_ITER.value}) on the same loss: final loss "
          f"{res.fun:.4g}, {res.nfev} evaluations, "
          f"{res.nit} iterations, {time.perf_counter() - t0:.1f} s")

  if _MEM.value > 0:
    cmd = [sys.executable, "-m", "experiments.bench_style", "--memory_child",
           f"--seconds={_MEM.value}", "--n_iter=5", "--phase_iter=5", f"--impl={_IMPL.value}",
           f"--compute_dtype={_DTYPE.value}", f"--filters={_FILTERS.value}",
           f"--data_dir={_DATA.value}", "--memory_seconds=0"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("MAXRSS_MB")]
    print(f"peak resident memory, {_MEM.value:g} s content + style (5 L-BFGS + 5 GLA iterations): "
          f"{line[0].split()[1] + ' MB' if line else 'failed: ' + out.stderr[-500:]}")


if __name__ == "__main__":
  app.run(main)
