"""Shared checks and small helpers for the phase-reconstruction methods.

Spectrograms are magnitudes ``[..., frames, bins]`` with ``bins = n_fft // 2 + 1``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from specst_jax import spectral

TWO_PI = 2.0 * np.pi


def is_concrete(x) -> bool:
  """True when ``x`` holds values (not a tracer under jit/vmap)."""
  return not isinstance(x, jax.core.Tracer)


def _item_keys(key: jax.Array) -> int:
  """How many leading axes ``key`` spans: 0 for one key, ``n`` for a ``[*batch]`` array of
  typed keys (``jax.random.key``) or a ``[*batch, 2]`` array of raw ``PRNGKey`` s."""
  if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
    return key.ndim
  return key.ndim - 1


def uniform(key: jax.Array, shape: tuple[int, ...], low: float, high: float) -> jax.Array:
  """Uniform float32 values of ``shape`` in ``[low, high)``.

  ``key`` is one key, or one key per item of the leading axes (``[*batch]``, with
  ``shape[:len(batch)] == batch``): then item ``i`` is ``uniform(key[i], shape[len(batch):])``,
  the draw a single call with that key makes, whatever the batch size or the item's position.
  """
  lead = _item_keys(key)
  if tuple(key.shape[:lead]) != tuple(shape[:lead]):
    raise ValueError(f"key: {key.shape[:lead]} keys do not match the leading axes of {shape}")
  draw = lambda k: jax.random.uniform(k, shape[lead:], jnp.float32, low, high)  # noqa: E731
  for _ in range(lead):
    draw = jax.vmap(draw)
  return draw(key)


def fold_in(key: jax.Array, data) -> jax.Array:
  """``jax.random.fold_in`` of one key or of each key of a ``[*batch]`` array of keys."""
  fold = lambda k: jax.random.fold_in(k, data)  # noqa: E731
  for _ in range(_item_keys(key)):
    fold = jax.vmap(fold)
  return fold(key)


def check_window(window) -> None:
  """Only hashable window specs (names, ``(name, param)`` tuples) reach the compiled loops."""
  if not isinstance(window, str | tuple):
    raise ValueError(
        "window: phase reconstruction takes a window name or (name, param) tuple, "
        f"got {type(window)}"
    )


def check_sizes(
    n_fft: int, hop_length: int | None, win_length: int | None
) -> tuple[int, int]:
  """Validates the STFT sizes; returns ``(hop_length, win_length)``."""
  hop_length, win_length = spectral._check_sizes(n_fft, hop_length, win_length)  # noqa: SLF001
  if hop_length > win_length:
    raise ValueError(
        f"hop_length={hop_length} is larger than the window (win_length={win_length}): "
        "frames would leave gaps"
    )
  return hop_length, win_length


def check_magnitude(S: ArrayLike, *, n_fft: int, name: str = "S") -> jax.Array:
  """Checks a magnitude spectrogram ``[..., frames, bins]`` and returns it as float32.

  Shape checks always run; value checks (finite, non-negative) run only on
  concrete arrays, i.e. not under ``jax.jit``.

  Raises:
    ValueError: naming ``name``: wrong rank, bins that do not match ``n_fft``,
      no frames, complex input, NaN/Inf or negative values.
  """
  if jnp.iscomplexobj(S):
    raise ValueError(f"{name}: expected a real magnitude spectrogram, got a complex array")
  S = jnp.asarray(S)
  if S.ndim < 2:
    raise ValueError(f"{name}: expected [..., frames, bins], got shape {S.shape}")
  if S.shape[-1] != n_fft // 2 + 1:
    raise ValueError(
        f"{name}: bins axis (last) has {S.shape[-1]} bins but n_fft={n_fft} needs {n_fft // 2 + 1}"
    )
  if S.size == 0 or S.shape[-2] == 0:
    raise ValueError(f"{name}: empty spectrogram, shape {S.shape}")
  if not jnp.issubdtype(S.dtype, jnp.floating) or S.dtype == jnp.float64:
    S = S.astype(jnp.float32)
  if is_concrete(S):
    values = np.asarray(S)
    if not np.all(np.isfinite(values)):
      raise ValueError(f"{name}: contains NaN or Inf")
    if np.any(values < 0):
      raise ValueError(f"{name}: magnitudes must be non-negative, min is {values.min()}")
  return S


def wrap(phase: jax.Array) -> jax.Array:
  """Wraps radians into ``[-pi, pi)``."""
  return jnp.mod(phase + np.pi, TWO_PI) - np.pi


def phasor(phase: jax.Array) -> jax.Array:
  """``exp(i phase)`` as complex64 for float32 input."""
  return jax.lax.complex(jnp.cos(phase), jnp.sin(phase))
