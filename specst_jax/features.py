"""Spectral features, time-major: mel, MFCC, deltas, centroid, log-frequency.

Layout: audio ``[..., samples]``; spectrograms and features ``[..., frames, bins]``
(the transpose of librosa's ``[..., bins, frames]``). Keyword names and defaults
follow librosa, and results match it up to that transpose (see the tests for the
tolerances).

Everything that touches a signal is a pure JAX function, so ``jax.jit``,
``jax.vmap`` and ``jax.grad`` go through it. Integer sizes, sample rates and
option strings are static: close over them or pass them as
``static_argnames`` when jitting. Filterbanks and DCT / Savitzky-Golay matrices
are built on the host with numpy in float64 and enter the program as constants.
Matrix products use ``Precision.HIGHEST`` so float32 parity also holds on
accelerators that would otherwise use reduced-precision matmuls.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from specst_jax import scaling, spectral

_HIGHEST = jax.lax.Precision.HIGHEST

# Slaney (Auditory Toolbox) mel scale constants, as librosa.
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def _matmul(x: jax.Array, m: np.ndarray) -> jax.Array:
  """``x[..., k] @ m[k, j]`` with a host constant, at full precision."""
  return jnp.matmul(x, jnp.asarray(m, x.dtype), precision=_HIGHEST)


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


# ----------------------------------------------------------------------------
# Spectrogram helper
# ----------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------
# Mel spectrogram and MFCC
# ----------------------------------------------------------------------------


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


def _dct_matrix(n: int, *, dct_type: int = 2, norm: str | None = "ortho") -> np.ndarray:
  """``[n, n]`` host matrix ``M`` with ``x @ M == scipy.fft.dct(x, type, norm)``."""
  if dct_type not in (2, 3):
    raise ValueError(f"dct_type must be 2 or 3, got {dct_type!r}")
  if norm not in ("ortho", None):
    raise ValueError(f"norm must be 'ortho' or None, got {norm!r}")
  k = np.arange(n)[None, :]  # output index
  i = np.arange(n)[:, None]  # input index
  if dct_type == 2:
    m = 2.0 * np.cos(np.pi * k * (2 * i + 1) / (2.0 * n))
    if norm == "ortho":
      m = m * np.where(k == 0, np.sqrt(1.0 / (4.0 * n)), np.sqrt(1.0 / (2.0 * n)))
  else:
    m = 2.0 * np.cos(np.pi * (2 * k + 1) * i / (2.0 * n))
    m[0, :] = 1.0
    if norm == "ortho":
      m = m * np.where(i == 0, 1.0 / np.sqrt(n), 1.0 / np.sqrt(2.0 * n))
  return m


def dct(
    x: ArrayLike,
    *,
    n: int | None = None,
    axis: int = -1,
    norm: str | None = "ortho",
    dct_type: int = 2,
) -> jax.Array:
  """Discrete cosine transform along ``axis``, as ``scipy.fft.dct``.

  Computed as a product with a host-side float64 matrix (exact, cheap for the
  small sizes of MFCC).

  Args:
    x: input array.
    n: transform length: the input is truncated or zero-padded to ``n`` along
      ``axis`` first (scipy's meaning); default its current length.
    axis: the axis to transform.
    norm: ``"ortho"`` (orthonormal) or ``None`` (scipy's unnormalised DCT).
    dct_type: 2 (DCT-II, the MFCC transform) or 3 (its inverse up to scale).
  """
  x = jnp.asarray(x)
  if not jnp.issubdtype(x.dtype, jnp.floating):
    x = x.astype(jnp.float32)
  x = jnp.moveaxis(x, axis, -1)
  length = x.shape[-1] if n is None else n
  if length < 1:
    raise ValueError(f"n must be >= 1, got {length}")
  if x.shape[-1] > length:
    x = x[..., :length]
  elif x.shape[-1] < length:
    x = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, length - x.shape[-1])])
  y = _matmul(x, _dct_matrix(length, dct_type=dct_type, norm=norm))
  return jnp.moveaxis(y, -1, axis)


def mfcc(
    y: ArrayLike | None = None,
    *,
    S: ArrayLike | None = None,
    sr: float,
    n_mfcc: int = 20,
    dct_type: int = 2,
    norm: str | None = "ortho",
    lifter: float = 0,
    mel_norm: str | None = "slaney",
    top_db: float | None = 80.0,
    **mel_kwargs,
) -> jax.Array:
  """Mel-frequency cepstral coefficients ``[..., frames, n_mfcc]``, as ``librosa.feature.mfcc``.

  ``dct(power_to_db(melspectrogram(y, ...)))[..., :n_mfcc]`` with DCT-II, ortho.

  Unlike librosa, the ``top_db`` floor of ``power_to_db`` (80 dB below the
  maximum) is taken per spectrogram over its last two axes, so each example of
  a batch ``[..., frames, n_mels]`` is scaled on its own (librosa floors a
  multichannel array at its global maximum). For a single spectrogram the two
  agree.

  Args:
    y: audio ``[..., samples]``; or
    S: a log-power mel spectrogram ``[..., frames, n_mels]`` (dB).
    sr: sample rate in Hz.
    n_mfcc: number of coefficients kept (at most ``n_mels``).
    dct_type: 2 (default) or 3.
    norm: DCT normalisation, ``"ortho"`` or ``None``.
    lifter: if > 0, cepstral liftering ``1 + (lifter / 2) sin(pi (k + 1) / lifter)``.
    mel_norm: the filterbank's ``norm`` (see :func:`mel_filterbank`).
    top_db: the dB floor below each spectrogram's maximum (``None``: no floor).
    **mel_kwargs: passed to :func:`melspectrogram` (n_fft, hop_length, n_mels, fmin, ...).
  """
  if not isinstance(n_mfcc, int | np.integer) or n_mfcc < 1:
    raise ValueError(f"n_mfcc must be an integer >= 1, got {n_mfcc!r}")
  if lifter < 0:
    raise ValueError(f"lifter must be non-negative, got {lifter}")
  if S is None:
    if y is None:
      raise ValueError("pass exactly one of y (audio) or S (log-power mel spectrogram)")
    S = scaling.power_to_db(
        melspectrogram(y, sr=sr, norm=mel_norm, **mel_kwargs), ref=1.0, amin=1e-10, top_db=top_db
    )
  elif y is not None:
    raise ValueError("pass exactly one of y (audio) or S (log-power mel spectrogram)")
  S = jnp.asarray(S)
  n_mels = S.shape[-1]
  if n_mfcc > n_mels:
    raise ValueError(f"n_mfcc={n_mfcc} must not exceed the number of mel bands ({n_mels})")
  m = _dct_matrix(n_mels, dct_type=dct_type, norm=norm)[:, :n_mfcc]
  if lifter > 0:
    m = m * (1.0 + (lifter / 2.0) * np.sin(np.pi * np.arange(1, 1 + n_mfcc) / lifter))[None, :]
  return _matmul(S, m)


# ----------------------------------------------------------------------------
# Deltas (Savitzky-Golay derivatives, as librosa.feature.delta)
# ----------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------
# Spectral centroid
# ----------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------
# Log-frequency spectrogram
# ----------------------------------------------------------------------------


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
