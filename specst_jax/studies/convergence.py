"""When a style optimisation has converged, by one stated rule, and its loss curve kept small.

The rule (pre-registered for the claims studies): an item has converged when its best loss so
far fell by less than ``rel`` (default 0.005) of its value over the last ``tail`` (20 %) of the
steps it ran. The *best* loss so far is used because the engine returns the best iterate
(Adam's loss can rise for a step; the result never does). L-BFGS curves are cut at the
iterations done (the engine pads them with the best value after an early stop).

Host-side numpy.
"""

from __future__ import annotations

import math

import numpy as np
from jax.typing import ArrayLike

CONVERGE_REL = 0.005
TAIL_FRACTION = 0.2
MAX_POINTS = 60


def relative_tail_drop(curve: ArrayLike, *, tail: float = TAIL_FRACTION) -> float:
  """``(m[n-1-k] - m[n-1]) / |m[n-1-k]|`` of the running minimum ``m`` of ``curve [steps]``,
  ``k = max(1, ceil(tail * n))``: how much the best loss fell over the last ``tail`` of the
  steps, relative to its value where that stretch starts. NaN for fewer than 2 steps or a
  non-finite loss."""
  if not 0.0 < tail < 1.0:
    raise ValueError(f"tail must be in (0, 1), got {tail}")
  c = np.asarray(curve, np.float64).ravel()
  if c.size < 2 or not np.all(np.isfinite(c)):
    return float("nan")
  best = np.minimum.accumulate(c)
  k = max(1, math.ceil(tail * c.size))
  start = best[c.size - 1 - k]
  if start == 0.0:
    return 0.0
  return float((start - best[-1]) / abs(start))


def converged(curve: ArrayLike, *, rel: float = CONVERGE_REL, tail: float = TAIL_FRACTION
              ) -> bool:
  """The rule above for one loss curve ``[steps]`` (False when it cannot be judged)."""
  if not rel > 0:
    raise ValueError(f"rel must be positive, got {rel}")
  drop = relative_tail_drop(curve, tail=tail)
  return bool(np.isfinite(drop) and drop < rel)


def subsample(curve: ArrayLike, max_points: int = MAX_POINTS) -> tuple[list[int], list[float]]:
  """At most ``max_points`` evenly spaced points of ``curve [steps]``, first and last kept:
  ``(step indices, values)``."""
  if max_points < 2:
    raise ValueError(f"max_points must be >= 2, got {max_points}")
  c = np.asarray(curve, np.float64).ravel()
  if c.size == 0:
    return [], []
  idx = np.unique(np.round(np.linspace(0, c.size - 1, min(c.size, max_points))).astype(int))
  return [int(i) for i in idx], [float(c[i]) for i in idx]
