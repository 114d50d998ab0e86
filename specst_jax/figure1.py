"""Small pure pieces of the paper's Figure 1 reproduction (``experiments/figure1.py``).

* :func:`fit_length`: crop or zero-pad audio ``[..., samples]`` to a fixed length.
* :func:`mean_std`: mean and (population) standard deviation of the finite values.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike


def fit_length(x: ArrayLike, n: int) -> jax.Array:
  """Crops or zero-pads ``x [..., samples]`` at the end to ``n`` samples (``n`` static, >= 1)."""
  if int(n) < 1:
    raise ValueError(f"n must be a positive number of samples, got {n}")
  x = jnp.asarray(x)
  if x.ndim < 1:
    raise ValueError(f"x must have a samples axis, got shape {x.shape}")
  x = x[..., :n]
  pad = n - x.shape[-1]
  if pad:
    x = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, pad)])
  return x


def mean_std(values: ArrayLike) -> tuple[float, float, int]:
  """``(mean, std, count)`` of the finite entries of ``values`` (NaNs if there are none).

  Host-side summary (numpy); ``std`` is the population standard deviation (ddof 0).
  """
  v = np.asarray(values, np.float64).ravel()
  v = v[np.isfinite(v)]
  if v.size == 0:
    return float("nan"), float("nan"), 0
  return float(v.mean()), float(v.std()), int(v.size)
