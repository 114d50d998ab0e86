"""Delta features (Savitzky-Golay derivatives, as librosa.feature.delta) and their stacking."""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from specst_jax.features._common import _matmul


def _savgol_rows(width: int, order: int, positions: np.ndarray) -> np.ndarray:
  """Rows ``[len(positions), width]``: the ``order``-th derivative at each position of the
  least-squares polynomial of degree ``order`` through ``width`` samples at 0..width-1."""
  t = np.arange(width, dtype=np.float64)
  vander = t[:, None] ** np.arange(order + 1)[None, :]  # [width, order+1]
  pinv = np.linalg.pinv(vander)  # [order+1, width]: samples -> polynomial coefficients
  p = np.arange(order + 1)
  # d^order/dt^order t^p = p! / (p - order)! t^(p - order), zero for p < order.
  scale = np.array([math.perm(int(q), order) if q >= order else 0 for q in p], dtype=np.float64)
  power = np.maximum(p - order, 0)
  deriv = scale[None, :] * positions.astype(np.float64)[:, None] ** power[None, :]
  return deriv @ pinv


_DELTA_PAD_MODES = {"nearest": "edge", "mirror": "reflect", "constant": "constant", "wrap": "wrap"}


def deltas(
    x: ArrayLike, *, width: int = 9, order: int = 1, axis: int = -2, mode: str = "interp"
) -> jax.Array:
  """Delta features: a local ``order``-th derivative estimate, as ``librosa.feature.delta``.

  librosa's delta is ``scipy.signal.savgol_filter(x, width, deriv=order,
  polyorder=order, mode=mode)``; this reproduces it with coefficients derived in
  numpy. With ``mode="interp"`` the first and last ``width // 2`` outputs are
  the derivative of the polynomial fitted to the first / last ``width`` samples;
  the other modes pad the input (``"nearest"``, ``"mirror"``, ``"constant"``,
  ``"wrap"``, as scipy.ndimage).

  Args:
    x: features, e.g. ``[..., frames, n_mfcc]``.
    width: odd window length >= 3 (and at most the length of ``axis`` for interp).
    order: derivative order (1: delta, 2: delta-delta).
    axis: the time axis (default -2: frames in the time-major layout).
    mode: edge handling, see above.
  """
  if not isinstance(width, int | np.integer) or width < 3 or width % 2 != 1:
    raise ValueError(f"width must be an odd integer >= 3, got {width!r}")
  if not isinstance(order, int | np.integer) or isinstance(order, bool) or order < 1:
    raise ValueError(f"order must be a positive integer, got {order!r}")
  if order >= width:
    raise ValueError(f"order={order} must be less than width={width}")
  if mode != "interp" and mode not in _DELTA_PAD_MODES:
    raise ValueError(
        f"mode must be one of 'interp', {', '.join(map(repr, _DELTA_PAD_MODES))}; got {mode!r}"
    )
  x = jnp.asarray(x)
  if not jnp.issubdtype(x.dtype, jnp.floating):
    x = x.astype(jnp.float32)
  if x.ndim < 1:
    raise ValueError("x must have at least one axis")
  x = jnp.moveaxis(x, axis, -1)
  n = x.shape[-1]
  half = width // 2
  centre = _savgol_rows(width, order, np.array([half]))[0]
  if mode == "interp":
    if width > n:
      raise ValueError(f"width={width} exceeds the length {n} of axis {axis} (mode='interp')")
    interior = _correlate_valid(x, centre)
    left = _matmul(x[..., :width], _savgol_rows(width, order, np.arange(half)).T)
    right = _matmul(x[..., n - width :],
                    _savgol_rows(width, order, np.arange(width - half, width)).T)
    y = jnp.concatenate([left, interior, right], axis=-1)
  else:
    pad_mode = _DELTA_PAD_MODES[mode]
    if pad_mode == "reflect" and n < 2:
      raise ValueError(f"mode='mirror' needs at least 2 samples along axis {axis}")
    padded = _pad_last(x, half, pad_mode)
    y = _correlate_valid(padded, centre)
  return jnp.moveaxis(y, -1, axis)


def _pad_last(x: jax.Array, pad: int, mode: str) -> jax.Array:
  """Pads the last axis by ``pad`` on both sides, repeating reflect / wrap as scipy.ndimage."""
  n = x.shape[-1]
  if mode in ("reflect", "wrap") and pad > (n - 1 if mode == "reflect" else n):
    # Pad in steps that each fit (np.pad semantics for large pads, which match ndimage).
    step = n - 1 if mode == "reflect" else n
    while pad > 0:
      k = min(pad, step)
      x = _pad_last(x, k, mode)
      pad -= k
      step = x.shape[-1] - 1 if mode == "reflect" else x.shape[-1]
    return x
  return jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)], mode=mode)


def _correlate_valid(x: jax.Array, coeffs: np.ndarray) -> jax.Array:
  """``y[t] = sum_j coeffs[j] x[t + j]`` over the last axis, valid part only."""
  width = coeffs.shape[0]
  n_out = x.shape[-1] - width + 1
  acc = None
  for j, c in enumerate(coeffs):
    if c == 0.0:
      continue
    term = x[..., j : j + n_out] * jnp.asarray(c, x.dtype)
    acc = term if acc is None else acc + term
  return acc if acc is not None else jnp.zeros((*x.shape[:-1], n_out), x.dtype)


def stack_deltas(
    x: ArrayLike, *, width: int = 9, orders: Sequence[int] = (1, 2), mode: str = "interp"
) -> jax.Array:
  """Features and their deltas concatenated on the feature axis.

  ``x[..., frames, F]`` -> ``[..., frames, F * (1 + len(orders))]``, ordered
  ``[x, delta_order0, delta_order1, ...]`` (e.g. MFCC + delta + delta-delta).
  """
  x = jnp.asarray(x)
  if x.ndim < 2:
    raise ValueError(f"x must be [..., frames, features], got shape {x.shape}")
  parts = [x] + [deltas(x, width=width, order=o, axis=-2, mode=mode) for o in orders]
  return jnp.concatenate(parts, axis=-1)
