"""Helpers shared by the feature modules: a full-precision host-matrix product and the
``y`` / ``S`` spectrogram front end."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from specst_jax import spectral

_HIGHEST = jax.lax.Precision.HIGHEST


def _matmul(x: jax.Array, m: np.ndarray) -> jax.Array:
  """``x[..., k] @ m[k, j]`` with a host constant, at full precision."""
  return jnp.matmul(x, jnp.asarray(m, x.dtype), precision=_HIGHEST)


def _spectrogram(
    y, S, *, n_fft, hop_length, win_length, window, center, pad_mode, power
) -> tuple[jax.Array, int]:
  """``|stft(y)| ** power`` or the given ``S``, and the FFT size (as librosa)."""
  if (y is None) == (S is None):
    raise ValueError("pass exactly one of y (audio) or S (spectrogram)")
  if S is not None:
    S = jnp.asarray(S)
    if S.ndim < 2:
      raise ValueError(f"S must be [..., frames, bins], got shape {S.shape}")
    if not jnp.issubdtype(S.dtype, jnp.floating):
      S = S.astype(jnp.float32)
    bins = S.shape[-1]
    if n_fft is None or n_fft // 2 + 1 != bins:
      n_fft = 2 * (bins - 1)
    return S, n_fft
  if not power > 0:
    raise ValueError(f"power must be positive, got {power}")
  X = spectral.stft(
      y, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window,
      center=center, pad_mode=pad_mode,
  )
  return spectral.magnitude(X, power=power), n_fft
