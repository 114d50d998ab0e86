"""DCT and mel-frequency cepstral coefficients, as scipy.fft.dct and librosa.feature.mfcc."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from specst_jax import scaling
from specst_jax.features._common import _matmul
from specst_jax.features.mel import melspectrogram


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
