"""Mel scale, mel filterbank and mel spectrogram, as librosa."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from specst_jax import spectral
from specst_jax.features._common import _matmul, _spectrogram

# Slaney (Auditory Toolbox) mel scale constants, as librosa.
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def _xp(x):
  """numpy (float64, host) for host values, jax.numpy for jax arrays and tracers."""
  return jnp if isinstance(x, jax.Array) else np


# ----------------------------------------------------------------------------
# Mel scale
# ----------------------------------------------------------------------------


def hz_to_mel(frequencies: ArrayLike, *, htk: bool = False):
  """Hz to mels, as ``librosa.hz_to_mel``.

  Slaney's scale (default): linear below 1 kHz, logarithmic above. HTK:
  ``2595 log10(1 + f / 700)``. Host inputs (python / numpy) give float64 numpy
  arrays; jax arrays give jax arrays (jit- and grad-safe).
  """
  xp = _xp(frequencies)
  f = xp.asarray(frequencies, dtype=None if xp is jnp else np.float64)
  if htk:
    return (2595.0 / math.log(10.0)) * xp.log1p(f / 700.0)
  linear = f / _F_SP
  # Guard the log branch so the unselected side of `where` never sees log(0).
  log_branch = f >= _MIN_LOG_HZ
  log_part = _MIN_LOG_MEL + xp.log(xp.where(log_branch, f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
  return xp.where(log_branch, log_part, linear)


def mel_to_hz(mels: ArrayLike, *, htk: bool = False):
  """Mels to Hz, the inverse of :func:`hz_to_mel` (as ``librosa.mel_to_hz``)."""
  xp = _xp(mels)
  m = xp.asarray(mels, dtype=None if xp is jnp else np.float64)
  if htk:
    return 700.0 * xp.expm1(m * (math.log(10.0) / 2595.0))
  linear = _F_SP * m
  log_branch = m >= _MIN_LOG_MEL
  log_part = _MIN_LOG_HZ * xp.exp(_LOGSTEP * (xp.where(log_branch, m, _MIN_LOG_MEL) - _MIN_LOG_MEL))
  return xp.where(log_branch, log_part, linear)


def mel_frequencies(
    n_mels: int = 128, *, fmin: float = 0.0, fmax: float = 11025.0, htk: bool = False
) -> np.ndarray:
  """``n_mels`` frequencies (Hz, float64) evenly spaced on the mel scale from fmin to fmax."""
  if n_mels < 1:
    raise ValueError(f"n_mels must be >= 1, got {n_mels}")
  mels = np.linspace(hz_to_mel(fmin, htk=htk), hz_to_mel(fmax, htk=htk), n_mels)
  return mel_to_hz(mels, htk=htk)


def _check_band(sr: float, fmin: float, fmax: float | None) -> float:
  if not sr > 0:
    raise ValueError(f"sr must be positive, got {sr}")
  fmax = sr / 2.0 if fmax is None else float(fmax)
  if fmin < 0:
    raise ValueError(f"fmin must be >= 0, got {fmin}")
  if fmax > sr / 2.0:
    raise ValueError(f"fmax={fmax} must not exceed the Nyquist frequency sr/2={sr / 2.0}")
  if not fmin < fmax:
    raise ValueError(f"fmin={fmin} must be below fmax={fmax}")
  return fmax


def mel_filterbank(
    *,
    sr: float,
    n_fft: int,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    norm: str | None = "slaney",
    dtype=np.float32,
) -> np.ndarray:
  """Mel filterbank ``[n_fft // 2 + 1, n_mels]`` (host numpy).

  Equals ``librosa.filters.mel(...).T``: transposed so that a spectrogram
  ``S[..., frames, bins] @ fb`` gives ``[..., frames, n_mels]``.

  Args:
    sr: sample rate in Hz.
    n_fft: FFT size.
    n_mels: number of mel bands.
    fmin, fmax: band edges in Hz (``fmax`` defaults to ``sr / 2``).
    htk: HTK mel formula instead of Slaney's.
    norm: ``"slaney"`` (each triangle divided by its width in Hz / 2: constant
      energy per band) or ``None`` (peak 1).
    dtype: numpy dtype of the result.

  Raises:
    ValueError: naming the bad argument.
  """
  if not isinstance(n_fft, int | np.integer) or n_fft < 2:
    raise ValueError(f"n_fft must be an integer >= 2, got {n_fft!r}")
  if not isinstance(n_mels, int | np.integer) or n_mels < 1:
    raise ValueError(f"n_mels must be an integer >= 1, got {n_mels!r}")
  if norm not in ("slaney", None):
    raise ValueError(f"norm must be 'slaney' or None, got {norm!r}")
  fmax = _check_band(sr, fmin, fmax)

  fftfreqs = np.fft.rfftfreq(n_fft, d=1.0 / sr)
  mel_f = mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax, htk=htk)
  fdiff = np.diff(mel_f)
  ramps = mel_f[:, None] - fftfreqs[None, :]
  lower = -ramps[:-2] / fdiff[:-1, None]
  upper = ramps[2:] / fdiff[1:, None]
  weights = np.maximum(0.0, np.minimum(lower, upper))  # [n_mels, bins]
  if norm == "slaney":
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
  return np.ascontiguousarray(weights.T).astype(dtype)


def melspectrogram(
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
    power: float = 2.0,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    norm: str | None = "slaney",
) -> jax.Array:
  """Mel spectrogram ``[..., frames, n_mels]``, as ``librosa.feature.melspectrogram``.

  Args:
    y: audio ``[..., samples]``; or
    S: a spectrogram ``|X| ** power`` ``[..., frames, bins]`` (then the STFT
      arguments are ignored and ``n_fft`` is taken from ``bins`` if it does
      not match, as librosa does).
    sr: sample rate in Hz.
    n_fft, hop_length, win_length, window, center, pad_mode: STFT settings, see
      :func:`specst_jax.stft` (``hop_length`` defaults to ``win_length // 4``,
      which is librosa's 512 for the default ``n_fft=2048``).
    power: exponent of the magnitude (2: power, 1: energy/magnitude).
    n_mels, fmin, fmax, htk, norm: see :func:`mel_filterbank`.
  """
  S, n_fft = _spectrogram(
      y, S, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window,
      center=center, pad_mode=pad_mode, power=power,
  )
  fb = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk,
                      norm=norm, dtype=np.float64)
  return _matmul(S, fb)
