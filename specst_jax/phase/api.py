"""One entry point for every phase-reconstruction method: :func:`reconstruct`."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from specst_jax import spectral
from specst_jax.phase import _common
from specst_jax.phase import phase_gradient as pghi_lib
from specst_jax.phase import rtisi as rtisi_lib
from specst_jax.phase import single_pass as spsi_lib
from specst_jax.phase.gla import griffin_lim

# From experiments/bench_phase.py (8 clips, n_fft 1024/hop 256 and 2048/512): PGHI's start
# reaches librosa's FGLA-100 SC after 40 (1024) / 30 (2048) fast-GLA iterations; 60 beat it
# by 1.4-1.9 dB in under 0.2x of librosa's time (RTPGHI's start needed about 90).
DEFAULT_METHOD = "pghi+fgla"
DEFAULT_N_ITER = 60

SINGLE_PASS = ("pghi", "rtpghi", "spsi", "rtisi_la")
METHODS = ("gla", "fgla") + SINGLE_PASS + tuple(f"{m}+fgla" for m in SINGLE_PASS) + tuple(
    f"{m}+gla" for m in SINGLE_PASS)


def _synthesise(S, phase, *, n_fft, hop_length, win_length, window, center, length):
  return spectral.istft(S * _common.phasor(phase), n_fft=n_fft, hop_length=hop_length,
                        win_length=win_length, window=window, center=center, length=length)


@functools.cache
def _compiled_synthesise():
  # Compiled once per shape: eagerly, the batched ISTFT's lax.map was traced anew on every call.
  return jax.jit(_synthesise, static_argnames=("n_fft", "hop_length", "win_length", "window",
                                               "center", "length"))


def _phase_estimate(name, S, key, *, n_fft, hop_length, win_length, window):
  """Phase ``[..., frames, bins]`` from one of the non-iterative estimators."""
  if name == "pghi":
    return pghi_lib.pghi(S, n_fft=n_fft, hop_length=hop_length, window=window,
                         win_length=win_length, key=key)
  if name == "rtpghi":
    return pghi_lib.rtpghi(S, n_fft=n_fft, hop_length=hop_length, window=window,
                           win_length=win_length, key=key)
  if name == "spsi":
    return spsi_lib.spsi(S, n_fft=n_fft, hop_length=hop_length)
  return rtisi_lib.rtisi_la(S, n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                            window=window)


def reconstruct(
    S: ArrayLike,
    *,
    n_fft: int,
    hop_length: int | None = None,
    method: str = DEFAULT_METHOD,
    n_iter: int | None = None,
    key: jax.Array | None = None,
    window: str | tuple = "hann",
    win_length: int | None = None,
    center: bool = True,
    length: int | None = None,
    momentum: float = 0.99,
) -> jax.Array:
  """Audio from a magnitude spectrogram, by the chosen phase-reconstruction method.

  Args:
    S: magnitudes ``[..., frames, bins]`` (``bins = n_fft // 2 + 1``; leading axes a batch).
    n_fft, hop_length, win_length, window, center: the STFT that produced ``S``.
    method: one of :data:`METHODS`: ``"gla"`` / ``"fgla"`` (Griffin-Lim from a
      random phase), ``"pghi"``, ``"rtpghi"``, ``"spsi"``, ``"rtisi_la"`` (one
      pass, no GLA), or ``"<one of those>+fgla"`` / ``"+gla"`` (its phase starts
      the (fast) Griffin-Lim stage). The default, ``"pghi+fgla"`` with 60
      iterations, was chosen from ``experiments/bench_phase.py`` (see WORKSPACE.md).
    n_iter: iterations of the GLA stage (default :data:`DEFAULT_N_ITER`); unused
      by the one-pass methods.
    key: ``jax.random`` key: required by ``"gla"``/``"fgla"`` (random initial
      phase); optional for PGHI (random phase of negligible bins, else zero).
    length: samples of the output (default ``(frames - 1) * hop_length`` when centred).
    momentum: fast-GLA momentum (``"fgla"`` stages).

  Returns:
    Audio ``[..., samples]`` (float32), at the level of ``S``: the reconstruction runs on
    ``S`` scaled to a peak of 1 and the result is scaled back, so it does not depend on the
    input's level (no overflow for loud float files).
  """
  if method not in METHODS:
    raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
  hop_length, win_length = _common.check_sizes(n_fft, hop_length, win_length)
  S = _common.check_magnitude(S, n_fft=n_fft)
  n_iter = DEFAULT_N_ITER if n_iter is None else n_iter
  if not isinstance(n_iter, int | np.integer) or n_iter < 0:
    raise ValueError(f"n_iter must be a non-negative integer, got {n_iter!r}")
  # Level invariance: every method is scale-equivariant in exact arithmetic, so reconstruct
  # the spectrogram scaled to a peak of 1 and restore the level after (a float file peaking at
  # 5e5 would otherwise overflow intermediate powers and come back as NaN).
  peak = jnp.max(S, axis=(-2, -1), keepdims=True)
  scale = jnp.where(peak > 0, peak, 1.0)
  S = S / scale
  first, _, stage = method.partition("+")
  if first in ("gla", "fgla"):
    init, stage = "random", first
  else:
    init = _phase_estimate(first, S, key, n_fft=n_fft, hop_length=hop_length,
                           win_length=win_length, window=window)
    if not stage:
      _common.check_window(window)
      y = _compiled_synthesise()(S, init, n_fft=n_fft, hop_length=hop_length,
                                 win_length=win_length, window=window, center=center,
                                 length=length)
      return y * scale[..., 0]
  y = griffin_lim(
      S, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window,
      center=center, length=length, n_iter=int(n_iter),
      momentum=momentum if stage == "fgla" else 0.0, init=init, key=key,
  )
  return y * scale[..., 0]
