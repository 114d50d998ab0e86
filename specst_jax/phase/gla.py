"""Griffin-Lim (GLA) and fast Griffin-Lim (FGLA), and spectral convergence.

The loop is librosa 0.11's ``griffinlim`` step for step (``t_n = STFT(ISTFT(c))``,
``c = S * a / (|a| + eps)`` with ``a = t_n - m / (1 + m) * t_{n-1}``), compiled
once as a ``lax.fori_loop``. Arrays are time-major: magnitudes ``[..., frames, bins]``,
audio ``[..., samples]``; leading axes are a batch (broadcast, no Python loop).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from specst_jax import spectral
from specst_jax.phase import _common

_EPS = float(np.finfo(np.float32).tiny)  # librosa: util.tiny(complex64)


def _stft_kwargs(n_fft, hop_length, win_length, window, center):
  return dict(
      n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window, center=center
  )


def _consistency_fused(*, n_fft, hop_length, win_length, window, center, length, n_frames):
  """``STFT(ISTFT(c))`` for ``[frames, bins]`` without leaving the overlap-add buffer.

  With zero padding, ISTFT's trim to ``length`` followed by STFT's centre
  padding only zeroes the overlap-add buffer outside ``[n_fft // 2, n_fft // 2 +
  length)``, so that mask is folded into the window-sum-square normalisation and
  the frames are cut from the buffer directly (no trim, pad, or copies).
  """
  window_np = spectral._padded_window(window, win_length, n_fft)  # noqa: SLF001
  wss = spectral.window_sumsquare(window, n_frames, n_fft=n_fft, hop_length=hop_length,
                                  win_length=win_length)
  gain = spectral.overlap_add_gain(wss)
  start = n_fft // 2 if center else 0
  stop = start + (wss.shape[0] - 2 * start if length is None else length)
  gain[:start] = 0.0
  gain[stop:] = 0.0
  gain = jnp.asarray(gain, jnp.float32)
  window_j = jnp.asarray(window_np, jnp.float32)

  def project(c):
    frames = jnp.fft.irfft(c, n=n_fft, axis=-1) * window_j
    y = spectral.overlap_add(frames, hop_length=hop_length) * gain
    frames = spectral._windowed_frames(y, window_j, n_fft=n_fft, hop_length=hop_length)  # noqa: SLF001
    return jnp.fft.rfft(frames, n=n_fft, axis=-1)

  return project


def _consistency(*, n_fft, hop_length, win_length, window, center, length, pad_mode, n_frames):
  """The projection ``c -> STFT(ISTFT(c))`` on ``[frames, bins]`` used by every GLA step."""
  if pad_mode == "constant" or not center:
    return _consistency_fused(n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                              window=window, center=center, length=length, n_frames=n_frames)
  kw = _stft_kwargs(n_fft, hop_length, win_length, window, center)
  return lambda c: spectral.stft(spectral.istft(c, length=length, **kw), pad_mode=pad_mode, **kw)


def _normalise(S, a):
  """``S * a / (|a| + eps)`` with real arithmetic (no complex abs/division)."""
  re, im = jnp.real(a), jnp.imag(a)
  scale = S / (jnp.sqrt(re * re + im * im) + _EPS)
  return jax.lax.complex(re * scale, im * scale)


def _gla_one(S, angles, momentum, *, n_iter, n_fft, hop_length, win_length, window, center,
             length, pad_mode):
  """Runs ``n_iter`` (fast) GLA steps on one ``[frames, bins]`` spectrogram; returns audio."""
  project = _consistency(n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                         window=window, center=center, length=length, pad_mode=pad_mode,
                         n_frames=S.shape[-2])
  coef = momentum / (1.0 + momentum)

  def body(_, carry):
    c, t_prev = carry
    t = project(c)
    return _normalise(S, t - coef * t_prev), t

  c0 = S * angles
  c, _ = jax.lax.fori_loop(0, n_iter, body, (c0, jnp.zeros_like(c0)))
  return spectral.istft(c, length=length, **_stft_kwargs(n_fft, hop_length, win_length, window,
                                                          center))


def _gla_loop(S, angles, momentum, **kw):
  """:func:`_gla_one` over the leading axes of ``S`` / ``angles`` ``[..., frames, bins]``.

  On CPU the whole loop runs one example at a time (``lax.map``): each example's
  ~2 MB working set then stays in cache for all iterations, so a batch costs the
  same per example as one example (a vectorised batch was 2x slower per clip).
  Elsewhere the batch is vectorised.
  """
  one = functools.partial(_gla_one, **kw)
  S, angles = jnp.broadcast_arrays(S, angles)
  lead = S.shape[:-2]
  if not lead:
    return one(S, angles, momentum)
  flat_S = S.reshape(-1, *S.shape[-2:])
  flat_a = angles.reshape(-1, *S.shape[-2:])
  if jax.default_backend() == "cpu":
    y = jax.lax.map(lambda sa: one(sa[0], sa[1], momentum), (flat_S, flat_a))
  else:
    y = jax.vmap(one, in_axes=(0, 0, None))(flat_S, flat_a, momentum)
  return y.reshape(*lead, y.shape[-1])


@functools.cache
def _compiled_gla():
  return jax.jit(
      _gla_loop,
      static_argnames=("n_iter", "n_fft", "hop_length", "win_length", "window", "center",
                       "length", "pad_mode"),
  )


def initial_angles(S: jax.Array, init, key: jax.Array | None) -> jax.Array:
  """Unit-modulus complex initial phase ``[..., frames, bins]`` (broadcast to ``S``).

  Args:
    S: magnitudes ``[..., frames, bins]``.
    init: ``"random"`` (uniform phase, needs ``key``), ``"zeros"``/``None``
      (zero phase), a real array of phases in radians, or a complex array whose
      angle is used.
    key: a ``jax.random`` key for ``"random"``, or one per item of the leading axes
      (see :func:`_common.uniform`).
  """
  if isinstance(init, str) or init is None:
    if init in ("zeros", None):
      return jnp.ones(S.shape, jnp.complex64)
    if init == "random":
      if key is None:
        raise ValueError("key: init='random' needs an explicit jax.random key")
      phase = _common.uniform(key, S.shape, 0.0, _common.TWO_PI)
      return _common.phasor(phase)
    raise ValueError(f"init: expected 'random', 'zeros', or a phase array, got {init!r}")
  init = jnp.asarray(init)
  try:
    jnp.broadcast_shapes(init.shape, S.shape)
  except ValueError:
    raise ValueError(f"init: phase shape {init.shape} does not broadcast to S {S.shape}") from None
  if jnp.iscomplexobj(init):
    phase = jnp.angle(init).astype(jnp.float32)
  else:
    phase = init.astype(jnp.float32)
  return jnp.broadcast_to(_common.phasor(phase), S.shape)


def griffin_lim(
    S: ArrayLike,
    *,
    n_fft: int,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: str | tuple = "hann",
    center: bool = True,
    length: int | None = None,
    n_iter: int = 32,
    momentum: float = 0.99,
    init="random",
    key: jax.Array | None = None,
    pad_mode: str = "constant",
) -> jax.Array:
  """Griffin-Lim phase reconstruction (GLA for ``momentum=0``, fast GLA otherwise).

  Args:
    S: magnitudes ``[..., frames, bins]``, ``bins = n_fft // 2 + 1`` (leading
      axes are a batch).
    n_fft, hop_length, win_length, window, center, pad_mode: the STFT that
      produced ``S`` (see :func:`specst_jax.spectral.stft`).
    length: samples of the output (default: ``(frames - 1) * hop_length`` when centred).
    n_iter: iterations (static; 0 returns ``ISTFT(S * init)``).
    momentum: fast-GLA momentum ``m`` in ``[0, ...)``; librosa's default 0.99.
    init: ``"random"`` (needs ``key``), ``"zeros"``, or an initial phase
      (real radians or complex) broadcastable to ``S``.
    key: ``jax.random`` key for the random initial phase.

  Returns:
    Audio ``[..., samples]`` (float32).

  Raises:
    ValueError: bad sizes, bad magnitudes (see ``_common.check_magnitude``),
      negative momentum, a random init without a key.
  """
  hop_length, win_length = _common.check_sizes(n_fft, hop_length, win_length)
  _common.check_window(window)
  S = _common.check_magnitude(S, n_fft=n_fft)
  if not isinstance(n_iter, int | np.integer) or n_iter < 0:
    raise ValueError(f"n_iter must be a non-negative integer, got {n_iter!r}")
  if _common.is_concrete(momentum) and float(momentum) < 0:
    raise ValueError(f"momentum must be >= 0, got {momentum}")
  if length is not None:
    frames = spectral.num_frames(length, n_fft=n_fft, hop_length=hop_length, center=center)
    if n_iter > 0 and frames != S.shape[-2]:
      raise ValueError(
          f"length={length} gives {frames} STFT frames but S has {S.shape[-2]}"
      )
  angles = initial_angles(S, init, key)
  return _compiled_gla()(
      S, angles, jnp.float32(momentum), n_iter=int(n_iter), n_fft=n_fft, hop_length=hop_length,
      win_length=win_length, window=window, center=center, length=length, pad_mode=pad_mode,
  )


def spectral_convergence(
    S: ArrayLike,
    x_hat: ArrayLike,
    *,
    n_fft: int,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: str | tuple = "hann",
    center: bool = True,
) -> jax.Array:
  """Spectral convergence in dB, per example: ``20 log10(|| |STFT(x_hat)| - S ||_F / ||S||_F)``.

  Lower is better. Frames of ``STFT(x_hat)`` beyond ``S``'s are dropped; missing
  ones count as zeros.

  Args:
    S: target magnitudes ``[..., frames, bins]``.
    x_hat: reconstructed audio ``[..., samples]`` (leading axes broadcast with ``S``'s).
    n_fft, hop_length, win_length, window, center: the STFT of ``S``.

  Returns:
    ``[...]`` dB values (float32).
  """
  hop_length, win_length = _common.check_sizes(n_fft, hop_length, win_length)
  S = _common.check_magnitude(S, n_fft=n_fft)
  x_hat = jnp.asarray(x_hat, jnp.float32)
  X = spectral.magnitude(spectral.stft(
      x_hat, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window,
      center=center))
  n = S.shape[-2]
  if X.shape[-2] >= n:
    X = X[..., :n, :]
  else:
    X = jnp.pad(X, [(0, 0)] * (X.ndim - 2) + [(0, n - X.shape[-2]), (0, 0)])
  err = jnp.sqrt(jnp.sum((X - S) ** 2, axis=(-2, -1)))
  ref = jnp.sqrt(jnp.sum(S**2, axis=(-2, -1)))
  return 20.0 * jnp.log10(err / jnp.maximum(ref, _EPS) + _EPS)
