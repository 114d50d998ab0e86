"""Real-time iterative spectrogram inversion, look-ahead (RTISI-LA; Zhu, Beauregard & Wyse 2007).

Frames are committed one at a time. When frame ``n + k`` arrives (``k`` frames of
look-ahead), it gets the phase of the STFT of the partial reconstruction at its
position (zero where that is silent), then ``n_inner`` Griffin-Lim steps update
the ``k + 1`` frames ``n .. n + k`` together against the committed signal of the
frames before ``n``; frame ``n`` is then committed. The whole run is a
``lax.scan`` over frames with a buffer of ``n_fft + k * hop_length`` samples.

Simplification (documented): the newest frame's initial phase uses the ordinary
analysis window rather than the paper's asymmetric one.

Magnitudes ``[..., frames, bins]``; phases in radians, same shape.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from specst_jax import spectral
from specst_jax.phase import _common

_EPS = float(np.finfo(np.float32).tiny)


def _shifted_squares(window: np.ndarray, *, hop_length: int, look_ahead: int) -> np.ndarray:
  """``[R + k, buffer]``: each overlapping frame's squared window inside the buffer.

  Row ``r`` is the frame at offset ``o = r - (R - 1)`` frames from the buffer's
  first frame (``R = ceil(n_fft / hop)``).
  """
  n_fft = window.shape[0]
  overlap = -(-n_fft // hop_length)
  size = n_fft + look_ahead * hop_length
  rows = np.zeros((overlap + look_ahead, size))
  for r in range(overlap + look_ahead):
    start = (r - (overlap - 1)) * hop_length
    lo, hi = max(start, 0), min(start + n_fft, size)
    if hi > lo:
      rows[r, lo:hi] = window[lo - start : hi - start] ** 2
  return rows


def _drop_first_frame(a: jax.Array) -> jax.Array:
  """``[..., k + 1, bins]`` -> frames ``1 .. k`` then a zero frame."""
  return jnp.concatenate([a[..., 1:, :], jnp.zeros_like(a[..., :1, :])], axis=-2)


def _rtisi_scan(S, *, n_fft, hop_length, win_length, window, look_ahead, n_inner):
  k = look_ahead
  w_np = spectral._padded_window(window, win_length, n_fft)  # noqa: SLF001
  w = jnp.asarray(w_np, jnp.float32)
  squares_np = _shifted_squares(w_np, hop_length=hop_length, look_ahead=k)
  squares = jnp.asarray(squares_np, jnp.float32)
  overlap = squares.shape[0] - k
  wss_floor = spectral.WSS_FLOOR * float(np.max(squares_np.sum(axis=0)))
  n_frames, bins = S.shape[-2:]
  batch = S.shape[:-2]
  size = n_fft + k * hop_length
  frames_in = jnp.moveaxis(S, -2, 0)
  frames_in = jnp.concatenate([frames_in, jnp.zeros((k,) + batch + (bins,), S.dtype)], axis=0)

  def synthesis(acc, est, wss):
    chunks = jnp.fft.irfft(est, n=n_fft, axis=-1) * w
    return (acc + spectral.overlap_add(chunks, hop_length=hop_length)) / wss

  def analysis(y):
    return jnp.fft.rfft(spectral.frame(y, frame_length=n_fft, hop_length=hop_length) * w, axis=-1)

  def project(X, mag):
    size = jnp.abs(X)
    return mag * jnp.where(size > _EPS, X / jnp.where(size > _EPS, size, 1.0), 1.0)

  def step(carry, inputs):
    acc, est, mags = carry  # acc [..., size]; est, mags [..., k + 1, bins] for frames n .. n + k
    new_mag, n = inputs
    offsets = n + jnp.arange(-(overlap - 1), k + 1)
    exists = ((offsets >= 0) & (offsets < n_frames)).astype(jnp.float32)
    wss = jnp.maximum(exists @ squares, wss_floor)  # spectral.overlap_add_gain's rule
    mags = mags.at[..., k, :].set(new_mag)
    y = synthesis(acc, est, wss)
    est = est.at[..., k, :].set(project(analysis(y)[..., k, :], new_mag))

    def inner(_, est):
      return project(analysis(synthesis(acc, est, wss)), mags)

    est = jax.lax.fori_loop(0, n_inner, inner, est)
    committed = est[..., 0, :]
    acc = acc.at[..., :n_fft].add(jnp.fft.irfft(committed, n=n_fft, axis=-1) * w)
    acc = jnp.concatenate([acc[..., hop_length:], jnp.zeros(batch + (hop_length,), acc.dtype)],
                          axis=-1)
    return (acc, _drop_first_frame(est), _drop_first_frame(mags)), committed

  # Frame n = t - k is committed at step t; the first k steps only fill the look-ahead.
  acc0 = jnp.zeros(batch + (size,), jnp.float32)
  est0 = jnp.zeros(batch + (k + 1, bins), jnp.complex64)
  mags0 = jnp.zeros(batch + (k + 1, bins), jnp.float32)
  steps = jnp.arange(n_frames + k) - k
  _, out = jax.lax.scan(step, (acc0, est0, mags0), (frames_in, steps))
  return jnp.moveaxis(jnp.angle(out[k:]), 0, -2)


@functools.cache
def _compiled_rtisi():
  return jax.jit(_rtisi_scan, static_argnames=("n_fft", "hop_length", "win_length", "window",
                                               "look_ahead", "n_inner"))


def rtisi_la(
    S: ArrayLike,
    *,
    n_fft: int,
    hop_length: int,
    win_length: int | None = None,
    window: str | tuple = "hann",
    look_ahead: int = 3,
    n_inner: int = 5,
) -> jax.Array:
  """RTISI-LA phase estimate.

  Args:
    S: magnitudes ``[..., frames, bins]`` (centred or not: the phases are
      per frame and do not depend on the centring).
    n_fft, hop_length, win_length, window: the STFT that produced ``S``.
    look_ahead: frames of look-ahead ``k`` (3 at 75% overlap in the paper).
    n_inner: Griffin-Lim steps per new frame (5-8 in the paper).

  Returns:
    Phase ``[..., frames, bins]`` in radians (float32).
  """
  hop_length, win_length = _common.check_sizes(n_fft, hop_length, win_length)
  _common.check_window(window)
  S = _common.check_magnitude(S, n_fft=n_fft)
  for name, value, low in (("look_ahead", look_ahead, 0), ("n_inner", n_inner, 0)):
    if not isinstance(value, int | np.integer) or value < low:
      raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
  return _compiled_rtisi()(S, n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                           window=window, look_ahead=int(look_ahead), n_inner=int(n_inner))
