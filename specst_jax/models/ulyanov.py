"""Ulyanov & Lebedev (2016): one random 1-D convolution over time, bins as channels.

Input is a log1p-magnitude spectrogram ``[batch, frames, bins]`` (Flax's
``[batch, length, channels]``); the network is ``relu(conv1d(x))`` with VALID
padding and no bias, so the output has ``frames - kernel_width + 1`` frames.
Ulyanov & Lebedev's audio texture code (2016): 4096 filters, width 11, weights random normal with
``std = sqrt(2) * sqrt(2 / ((bins + filters) * width))``.

Two equivalent implementations are selectable (``impl``): ``"conv"`` calls
``lax.conv_general_dilated``; ``"matmul"`` unfolds the ``width`` neighbouring
frames into one ``[frames', width * bins]`` matrix and does a single matmul.
``compute_dtype`` (e.g. ``jnp.bfloat16``) casts input and kernel before the
product while accumulating in float32; with ``impl="matmul"`` the backward products take
bfloat16 operands too (:func:`low_precision_matmul`).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

LAYER = "conv"


def ulyanov_std(n_bins: int, filters: int, width: int) -> float:
  """Standard deviation of the random kernel: ``sqrt(2) * sqrt(2 / ((bins + filters) * width))``."""
  for name, value in (("n_bins", n_bins), ("filters", filters), ("width", width)):
    if int(value) < 1:
      raise ValueError(f"{name} must be a positive integer, got {value}")
  return math.sqrt(2.0) * math.sqrt(2.0 / ((n_bins + filters) * width))


def _kernel_init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
  width, n_bins, filters = shape
  return ulyanov_std(n_bins, filters, width) * jax.random.normal(key, shape, dtype)


def unfold_frames(x: jax.Array, width: int) -> jax.Array:
  """``[..., frames, bins]`` -> ``[..., frames - width + 1, width * bins]`` (frame-major blocks)."""
  n_out = x.shape[-2] - width + 1
  cols = [x[..., k:k + n_out, :] for k in range(width)]
  return jnp.concatenate(cols, axis=-1)


@jax.custom_vjp
def low_precision_matmul(a: jax.Array, b: jax.Array) -> jax.Array:
  """``a @ b`` (``[..., k] x [k, f]``) of low-precision operands (e.g. bfloat16), accumulated
  and returned in float32, with a backward pass whose products also take low-precision
  operands (the cotangent cast to ``a``'s dtype): JAX's own transpose would multiply the
  float32 cotangent by the bfloat16 kernel, a mixed-precision product that XLA's CPU runs
  slower than the float32 one."""
  return jnp.einsum("...k,kf->...f", a, b, preferred_element_type=jnp.float32)


def _low_precision_forward(a, b):
  return low_precision_matmul(a, b), (a, b)


def _low_precision_backward(residuals, g):
  a, b = residuals
  g = g.astype(a.dtype)
  d_a = jnp.einsum("...f,kf->...k", g, b, preferred_element_type=jnp.float32)
  d_b = jnp.einsum("...k,...f->kf", a, g, preferred_element_type=jnp.float32)
  return d_a.astype(a.dtype), d_b.astype(b.dtype)


low_precision_matmul.defvjp(_low_precision_forward, _low_precision_backward)


class UlyanovNet(nn.Module):
  """One 1-D convolution over time (VALID, no bias) followed by ReLU.

  Attributes:
    filters: output channels (4096 in the reference).
    kernel_width: frames per filter (11 in the reference).
    impl: ``"matmul"`` (default; faster on CPU) or ``"conv"``; same result.
    compute_dtype: dtype of the product's operands (float32 or bfloat16);
      accumulation and the output are float32.
  """

  filters: int = 4096
  kernel_width: int = 11
  impl: str = "matmul"
  compute_dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Runs the network.

    Args:
      x: spectrogram ``[batch, frames, bins]`` (log1p magnitude).

    Returns:
      ``(features, {"conv": features})`` with features
      ``[batch, frames - kernel_width + 1, filters]`` after ReLU.
    """
    if x.ndim != 3:
      raise ValueError(f"UlyanovNet expects [batch, frames, bins], got shape {x.shape}")
    if x.shape[1] < self.kernel_width:
      raise ValueError(
          f"UlyanovNet: {x.shape[1]} frames is shorter than the receptive field "
          f"(kernel_width={self.kernel_width} frames)")
    kernel = self.param("kernel", _kernel_init, (self.kernel_width, x.shape[-1], self.filters))
    lhs = x.astype(self.compute_dtype)
    rhs = kernel.astype(self.compute_dtype)
    if self.impl == "conv":
      h = lax.conv_general_dilated(
          lhs, rhs, window_strides=(1,), padding="VALID",
          dimension_numbers=("NWC", "WIO", "NWC"), preferred_element_type=jnp.float32)
    elif self.impl == "matmul":
      cols = unfold_frames(lhs, self.kernel_width)
      if lhs.dtype == jnp.float32:
        h = jnp.einsum("btk,kf->btf", cols, rhs.reshape(-1, self.filters),
                       preferred_element_type=jnp.float32)
      else:
        h = low_precision_matmul(cols, rhs.reshape(-1, self.filters))
    else:
      raise ValueError(f"impl must be 'conv' or 'matmul', got {self.impl!r}")
    h = nn.relu(h)
    return h, {LAYER: h}


def ulyanov_params(key: jax.Array, n_bins: int, filters: int = 4096, width: int = 11) -> dict:
  """Random Ulyanov weights ``{"params": {"kernel": [width, n_bins, filters]}}``."""
  std = ulyanov_std(n_bins, filters, width)
  kernel = std * jax.random.normal(key, (width, n_bins, filters), jnp.float32)
  return {"params": {"kernel": kernel}}
