"""Log-frequency filterbank and spectrogram (a triangular resampling of the linear STFT)."""

from __future__ import annotations

import math

import jax
import numpy as np
from jax.typing import ArrayLike

from specst_jax import spectral
from specst_jax.features._common import _matmul, _spectrogram


def logfreq_frequencies(
    *, fmin: float = 32.703195662574764, bins_per_octave: int = 12, n_bins: int = 84
) -> np.ndarray:
  """Centre frequencies ``fmin * 2 ** (k / bins_per_octave)``, k = 0..n_bins-1 (Hz, float64)."""
  return fmin * 2.0 ** (np.arange(n_bins) / float(bins_per_octave))


def _logfreq_n_bins(sr: float, fmin: float, bins_per_octave: int) -> int:
  """The most bins whose upper filter edge stays at or below Nyquist."""
  return int(math.floor(bins_per_octave * math.log2((sr / 2.0) / fmin) + 1e-9))


def logfreq_filterbank(
    *,
    sr: float,
    n_fft: int,
    fmin: float = 32.703195662574764,
    bins_per_octave: int = 12,
    n_bins: int | None = None,
    norm: str | None = "sum",
    dtype=np.float32,
) -> np.ndarray:
  """Triangular log-frequency filterbank ``[n_fft // 2 + 1, n_bins]`` (host numpy).

  Filter ``k`` is centred on ``f_k = fmin * 2 ** (k / bins_per_octave)`` and is a
  triangle, linear in Hz, rising from ``f_{k-1}`` and falling to ``f_{k+1}``
  (the neighbouring centres), so at high frequencies adjacent filters overlap by
  half and sum to one. At low frequencies, where neighbouring centres are closer
  than the FFT bin spacing ``sr / n_fft``, each side of a triangle is widened to
  at least one bin spacing, so every filter covers at least one FFT bin with
  weight >= 1/2 and no band is empty (low bands then share FFT bins: they are
  interpolations of the linear spectrum, not new resolution).

  Args:
    sr: sample rate in Hz.
    n_fft: FFT size.
    fmin: centre of the lowest band in Hz (default C1, 32.70 Hz).
    bins_per_octave: bands per octave.
    n_bins: number of bands; default: as many as fit, i.e. the top band's upper
      edge ``fmin * 2 ** (n_bins / bins_per_octave)`` is at most ``sr / 2``.
    norm: ``"sum"`` (default: each filter's weights sum to one, so a band is a
      weighted mean of the magnitudes around its centre and keeps the scale of
      the linear spectrogram) or ``None`` (triangles of peak one).
    dtype: numpy dtype of the result.

  Raises:
    ValueError: naming the bad argument (including a top band above Nyquist).
  """
  if not sr > 0:
    raise ValueError(f"sr must be positive, got {sr}")
  if not isinstance(n_fft, int | np.integer) or n_fft < 2:
    raise ValueError(f"n_fft must be an integer >= 2, got {n_fft!r}")
  if not fmin > 0:
    raise ValueError(f"fmin must be positive, got {fmin}")
  if not isinstance(bins_per_octave, int | np.integer) or bins_per_octave < 1:
    raise ValueError(f"bins_per_octave must be an integer >= 1, got {bins_per_octave!r}")
  if norm not in ("sum", None):
    raise ValueError(f"norm must be 'sum' or None, got {norm!r}")
  if fmin >= sr / 2.0:
    raise ValueError(f"fmin={fmin} must be below the Nyquist frequency sr/2={sr / 2.0}")
  max_bins = _logfreq_n_bins(sr, fmin, bins_per_octave)
  if n_bins is None:
    n_bins = max_bins
    if n_bins < 1:
      raise ValueError(f"fmin={fmin}: no band fits below the Nyquist frequency {sr / 2.0}")
  if not isinstance(n_bins, int | np.integer) or n_bins < 1:
    raise ValueError(f"n_bins must be an integer >= 1, got {n_bins!r}")
  if n_bins > max_bins:
    top = fmin * 2.0 ** (n_bins / bins_per_octave)
    raise ValueError(
        f"n_bins={n_bins}: the top band's upper edge {top:.1f} Hz exceeds the Nyquist frequency "
        f"sr/2={sr / 2.0} (at most {max_bins} bands fit)"
    )
  edges = fmin * 2.0 ** (np.arange(-1, n_bins + 1) / float(bins_per_octave))
  centres = edges[1:-1]
  df = sr / float(n_fft)
  lower_width = np.maximum(centres - edges[:-2], df)
  upper_width = np.maximum(edges[2:] - centres, df)
  fftfreqs = np.fft.rfftfreq(n_fft, d=1.0 / sr)
  diff = fftfreqs[:, None] - centres[None, :]  # [bins, n_bins]
  weights = np.maximum(0.0, 1.0 - np.where(diff < 0, -diff / lower_width, diff / upper_width))
  if norm == "sum":
    weights = weights / weights.sum(axis=0, keepdims=True)
  return weights.astype(dtype)


def logfreq_spectrogram(
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
    power: float = 1.0,
    fmin: float = 32.703195662574764,
    bins_per_octave: int = 12,
    n_bins: int | None = None,
    norm: str | None = "sum",
) -> jax.Array:
  """Log-frequency spectrogram ``[..., frames, n_bins]``: ``|X| ** power @ logfreq_filterbank``.

  Band ``k`` is centred on ``fmin * 2 ** (k / bins_per_octave)`` Hz (by default
  C1 = 32.70 Hz and semitones, so band ``k`` is MIDI note ``24 + k``); see
  :func:`logfreq_filterbank` for the filter shapes. This is a resampling of the
  linear STFT onto a logarithmic frequency axis (cheap, differentiable, the
  same time resolution at every band), not a constant-Q transform.

  Args:
    y: audio ``[..., samples]``; or
    S: a spectrogram ``|X| ** power`` ``[..., frames, bins]``.
    sr: sample rate in Hz.
    n_fft, hop_length, win_length, window, center, pad_mode: STFT settings.
    power: exponent of the magnitude (default 1: magnitude).
    fmin, bins_per_octave, n_bins, norm: see :func:`logfreq_filterbank`.
  """
  S, n_fft = _spectrogram(
      y, S, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window,
      center=center, pad_mode=pad_mode, power=power,
  )
  fb = logfreq_filterbank(sr=sr, n_fft=n_fft, fmin=fmin, bins_per_octave=bins_per_octave,
                          n_bins=n_bins, norm=norm, dtype=np.float64)
  return _matmul(S, fb)
