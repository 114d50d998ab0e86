"""Shared parts of the Ulyanov style-transfer twins: weights, scipy L-BFGS-B with a trace.

The reference workload (Ulyanov & Lebedev's TensorFlow notebook, 2016): one random 1-D
convolution (VALID, no bias, ReLU) over a ``log(1 + |STFT|)`` spectrogram, the Gram
``G = F^T F / T`` with ``T`` the input frames, the loss
``alpha * sum((F - C)^2) + sum((G - S)^2)`` (alpha = 1e-2), minimised by scipy's
L-BFGS-B (``maxiter=300``, scipy's default tolerances) on float64 copies of the float32
loss and gradient, then 500 Griffin-Lim iterations.
"""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Callable

import numpy as np

ALPHA = 1e-2


def kernel_std(n_bins: int, filters: int, width: int) -> float:
  """The reference's ``sqrt(2) * sqrt(2 / ((bins + filters) * width))``."""
  return math.sqrt(2.0) * math.sqrt(2.0 / ((n_bins + filters) * width))


def random_kernel(seed: int, n_bins: int, filters: int, width: int) -> np.ndarray:
  """Random normal kernel ``[width, bins, filters]`` float32 (numpy, seeded)."""
  rng = np.random.default_rng(seed)
  k = rng.standard_normal((width, n_bins, filters), dtype=np.float32)
  return (k * np.float32(kernel_std(n_bins, filters, width))).astype(np.float32)


def initial_x(seed: int, frames: int, n_bins: int) -> np.ndarray:
  """The reference's start ``1e-3 * N(0, 1)`` ``[frames, bins]`` float32."""
  rng = np.random.default_rng(seed + 1)
  return (1e-3 * rng.standard_normal((frames, n_bins))).astype(np.float32)


def numpy_loss(kernel: np.ndarray, content: np.ndarray, style: np.ndarray, x: np.ndarray,
               alpha: float = ALPHA) -> float:
  """The reference loss in float64 numpy (explicit Grams): a third, slow twin for tests."""
  k = kernel.astype(np.float64)
  width = k.shape[0]

  def net(a):
    a = a.astype(np.float64)
    n = a.shape[0] - width + 1
    cols = np.concatenate([a[j:j + n] for j in range(width)], axis=1)
    return np.maximum(cols @ k.reshape(-1, k.shape[-1]), 0.0)

  f, c, fs = net(x), net(content), net(style)
  g = f.T @ f / x.shape[0]
  s = fs.T @ fs / style.shape[0]
  return float(alpha * np.sum((f - c) ** 2) + np.sum((g - s) ** 2))


def lbfgs(value_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]], x0: np.ndarray,
          maxiter: int) -> dict:
  """scipy L-BFGS-B (default tolerances) with a trace of every evaluation.

  The trace holds ``(wall seconds, loss, process CPU seconds)`` since the start.

  ``value_and_grad`` takes and returns float64 vectors (the float32 model is wrapped
  by the caller, as ``tf.contrib.opt.ScipyOptimizerInterface`` did).
  """
  import scipy.optimize

  trace = []
  start, cpu0 = time.perf_counter(), time.process_time()

  def fun(v):
    f, g = value_and_grad(v)
    trace.append((time.perf_counter() - start, float(f), time.process_time() - cpu0))
    return f, g

  res = scipy.optimize.minimize(fun, np.asarray(x0, np.float64).ravel(), jac=True,
                                method="L-BFGS-B", options={"maxiter": maxiter})
  return {"x": res.x, "final_loss": float(res.fun), "n_evals": int(res.nfev),
          "n_iter": int(res.nit), "opt_s": time.perf_counter() - start,
          "opt_cpu_s": time.process_time() - cpu0, "trace": trace,
          "message": str(res.message)}


def time_to_loss(trace, target: float, column: int = 0) -> float | None:
  """Seconds (``column`` 0: wall, 2: CPU) of the first evaluation with loss <= ``target``."""
  for point in trace:
    if point[1] <= target:
      return point[column]
  return None


def peak_rss_mb() -> float:
  """This process's peak resident memory (ru_maxrss, Linux kB) in MiB."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_eval_seconds(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
  """Median wall and median process-CPU seconds of ``repeats`` calls after one warm-up."""
  fn()
  wall, cpu = [], []
  for _ in range(repeats):
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    wall.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
  return float(np.median(wall)), float(np.median(cpu))
