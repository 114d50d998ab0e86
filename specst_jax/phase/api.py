"""One entry point for every phase-reconstruction method: :func:`reconstruct`."""

from __future__ import annotations

import jax
import numpy as np
from jax.typing import ArrayLike

from specst_jax.phase import _common
from specst_jax.phase.griffin_lim import griffin_lim

DEFAULT_METHOD = "fgla"
DEFAULT_N_ITER = 32


def _gla_phase_init(method: str, S, key, *, n_fft, hop_length, win_length, window):
  """The initial phase for the GLA stage: ``("random", key)`` or a phase array."""
  del method, S, n_fft, hop_length, win_length, window
  return "random", key


METHODS = ("gla", "fgla")


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
    method: one of :data:`METHODS`.
    n_iter: iterations of the GLA stage (default :data:`DEFAULT_N_ITER`).
    key: ``jax.random`` key, needed by methods that draw a random phase.
    length: samples of the output (default ``(frames - 1) * hop_length`` when centred).
    momentum: fast-GLA momentum (``"fgla"`` stages).

  Returns:
    Audio ``[..., samples]`` (float32).
  """
  if method not in METHODS:
    raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
  hop_length, win_length = _common.check_sizes(n_fft, hop_length, win_length)
  S = _common.check_magnitude(S, n_fft=n_fft)
  n_iter = DEFAULT_N_ITER if n_iter is None else n_iter
  if not isinstance(n_iter, int | np.integer) or n_iter < 0:
    raise ValueError(f"n_iter must be a non-negative integer, got {n_iter!r}")
  stage = method.split("+")[-1]
  init = _gla_phase_init(
      method, S, key, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window)
  return griffin_lim(
      S, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window,
      center=center, length=length, n_iter=int(n_iter), momentum=momentum if stage == "fgla" else 0.0,
      init=init[0] if init[0] == "random" else init, key=key,
  )
