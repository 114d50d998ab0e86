"""Spectral centroid, as librosa.feature.spectral_centroid."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from specst_jax import spectral
from specst_jax.features._common import _spectrogram


def spectral_centroid(
    y: ArrayLike | None = None,
    *,
    S: ArrayLike | None = None,
    sr: float,
    n_fft: int = 2048,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: spectral.WindowSpec = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    freq: ArrayLike | None = None,
) -> jax.Array:
  """Spectral centroid in Hz ``[..., frames]``, as ``librosa.feature.spectral_centroid``.

  ``sum_k f_k S[t, k] / sum_k |S[t, k]|`` over the magnitude spectrogram; a silent
  frame gives 0.

  Args:
    y: audio ``[..., samples]``; or
    S: a magnitude spectrogram ``[..., frames, bins]``.
    sr: sample rate in Hz.
    n_fft, hop_length, win_length, window, center, pad_mode: STFT settings.
    freq: optional bin frequencies ``[bins]`` (default the FFT bin centres).
  """
  if not sr > 0:
    raise ValueError(f"sr must be positive, got {sr}")
  S, n_fft = _spectrogram(
      y, S, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window,
      center=center, pad_mode=pad_mode, power=1.0,
  )
  if freq is None:
    freq = spectral.fft_frequencies(sr=sr, n_fft=n_fft)
  freq = jnp.asarray(freq, S.dtype)
  if freq.shape[-1] != S.shape[-1]:
    raise ValueError(f"freq has {freq.shape[-1]} entries but S has {S.shape[-1]} bins")
  total = jnp.sum(jnp.abs(S), axis=-1)
  tiny = jnp.finfo(S.dtype).tiny
  safe = jnp.where(total < tiny, 1.0, total)
  return jnp.sum(freq * S, axis=-1) / safe
