"""One entry point for every phase-reconstruction method: :func:`reconstruct`."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec
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


def reconstruct_sharded(S: ArrayLike, devices, *, key: jax.Array | None = None,
                        **settings) -> jax.Array:
  """:func:`reconstruct` with the leading (item) axis split over ``devices``: each device
  reconstructs its own items (``shard_map``: no communication between devices, no copy
  through the host), as the batch engine shards its pairs.

  Args:
    S: magnitudes ``[items, frames, bins]``, ``items`` a multiple of the device count.
    devices: the devices (one: plain :func:`reconstruct`).
    key: None, or one key per item ``[items]`` (each item then equals its own call).
    settings: :func:`reconstruct`'s keyword arguments (hashable values; one compiled program
      per distinct set, kept for the process).

  ``pghi`` integrates on the host (a callback per device); the other methods run on the
  devices. Raises ValueError for a batch that does not divide over the devices or a single
  key for several items.
  """
  devices = tuple(devices)
  if len(devices) == 1:
    return reconstruct(S, key=key, **settings)
  S = _common.check_magnitude(S, n_fft=settings["n_fft"])
  if S.ndim != 3 or S.shape[0] % len(devices):
    raise ValueError(f"S: expected [items, frames, bins] with items a multiple of "
                     f"{len(devices)} devices, got shape {S.shape}")
  if key is not None and key.shape[:1] != S.shape[:1]:
    raise ValueError(f"key: one per item needed ({S.shape[0]}), got shape {key.shape}")
  fn = _sharded(devices, key is not None, tuple(sorted(settings.items())))
  return fn(S) if key is None else fn(S, key)


@functools.cache
def _sharded(devices: tuple, keyed: bool, settings: tuple):
  items = PartitionSpec("items")
  run = functools.partial(reconstruct, **dict(settings))
  body = (lambda s, k: run(s, key=k)) if keyed else run
  mesh = Mesh(np.asarray(devices), ("items",))
  # check_vma=False: the methods' scans start their carries from constants (not marked as
  # varying over the items axis); every item is independent, so nothing needs the check.
  return jax.jit(jax.shard_map(body, mesh=mesh, in_specs=(items, items) if keyed else items,
                               out_specs=items, check_vma=False))
