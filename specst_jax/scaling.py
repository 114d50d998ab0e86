"""Amplitude scalings of spectrograms: dB, log1p, and the paper's dB-in-[0, 1].

All functions are elementwise except where a reference is taken over the last two
axes (``[..., frames, bins]``), which makes them per-example on a batch.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from specst_jax.spectral import magnitude

# numpy reductions a librosa user passes as ``ref`` (``ref=np.max``), as their jnp twins (jittable).
_NUMPY_REDUCTIONS = {np.max: jnp.max, np.amax: jnp.max, np.min: jnp.min, np.amin: jnp.min,
                     np.mean: jnp.mean, np.median: jnp.median}


def _reference(S: jax.Array, ref: float | str | Callable) -> jax.Array | float:
  """The reference value: a number, ``"max"`` (per spectrogram), or a callable applied to the
  whole array as librosa does (``np.max``: the maximum over everything, batch included)."""
  if callable(ref):
    return _NUMPY_REDUCTIONS.get(ref, ref)(S)
  if isinstance(ref, str):
    if ref != "max":
      raise ValueError(f"ref must be a positive number or 'max', got {ref!r}")
    return jnp.max(S, axis=(-2, -1), keepdims=True) if S.ndim >= 2 else jnp.max(S)
  if not ref > 0:
    raise ValueError(f"ref must be positive, got {ref}")
  return ref


def _to_db(
    power: jax.Array, reference: jax.Array | float, amin: float, top_db: float | None
) -> jax.Array:
  """``10 log10(max(power, amin) / max(reference, amin))`` with the per-spectrogram floor."""
  reference = jnp.maximum(amin, reference)
  db = 10.0 * jnp.log10(jnp.maximum(amin, power)) - 10.0 * jnp.log10(reference)
  if top_db is not None:
    peak = jnp.max(db, axis=(-2, -1), keepdims=True) if db.ndim >= 2 else jnp.max(db)
    db = jnp.maximum(db, peak - top_db)
  return db


def _check_amin_top_db(amin: float, top_db: float | None) -> None:
  if amin <= 0:
    raise ValueError(f"amin must be positive, got {amin}")
  if top_db is not None and top_db < 0:
    raise ValueError(f"top_db must be non-negative, got {top_db}")


def power_to_db(
    S: ArrayLike, *, ref: float | str | Callable = 1.0, amin: float = 1e-10,
    top_db: float | None = 80.0
) -> jax.Array:
  """``10 log10(max(S, amin) / max(ref, amin))``, floored ``top_db`` below the maximum.

  As ``librosa.power_to_db``, except that ``ref="max"`` and the ``top_db`` floor are
  taken per spectrogram over its last two axes rather than over the whole array. A
  callable ``ref`` (librosa's ``ref=np.max``) is applied to the whole array, as librosa does.
  """
  _check_amin_top_db(amin, top_db)
  S = jnp.asarray(S)
  return _to_db(S, _reference(S, ref), amin, top_db)


def amplitude_to_db(
    S: ArrayLike, *, ref: float | str | Callable = 1.0, amin: float = 1e-5,
    top_db: float | None = 80.0
) -> jax.Array:
  """``20 log10`` of a magnitude spectrogram; as ``librosa.amplitude_to_db``.

  Complex input is replaced by its magnitude; ``ref="max"`` and the floor are per
  spectrogram, as in :func:`power_to_db`.
  """
  _check_amin_top_db(amin, top_db)
  S = jnp.asarray(S)
  # |S| with a gradient that stays finite at 0, also for complex input.
  S = magnitude(S) if jnp.iscomplexobj(S) else jnp.abs(S)
  reference = _reference(S, ref)
  return _to_db(jnp.square(S), jnp.square(reference), amin**2, top_db)


def db_to_power(S_db: ArrayLike, *, ref: float = 1.0) -> jax.Array:
  """Inverse of :func:`power_to_db` (without the floor)."""
  return ref * jnp.power(10.0, 0.1 * jnp.asarray(S_db))


def db_to_amplitude(S_db: ArrayLike, *, ref: float = 1.0) -> jax.Array:
  """Inverse of :func:`amplitude_to_db` (without the floor)."""
  return ref * jnp.power(10.0, 0.05 * jnp.asarray(S_db))


def unit_db(S: ArrayLike, *, top_db: float = 80.0, amin: float = 1e-5) -> jax.Array:
  """The paper's representation: dB re the spectrogram's max, clipped at ``-top_db``, in [0, 1].

  ``unit = max(20 log10(max(|S|, amin)) - peak, -top_db) / top_db + 1`` with the peak taken per
  spectrogram over the last two axes, so 0 is ``-top_db`` dB and 1 is the maximum (the scaling
  of the author's ``wyse_audioST`` TIFFs; a silent spectrogram is all ones). Equal to
  ``amplitude_to_db(S, ref="max", amin=amin, top_db=top_db) / top_db + 1`` up to rounding.
  """
  if not top_db > 0:
    raise ValueError(f"top_db must be positive, got {top_db}")
  if amin <= 0:
    raise ValueError(f"amin must be positive, got {amin}")
  S = jnp.asarray(S)
  S = magnitude(S) if jnp.iscomplexobj(S) else jnp.abs(S)
  db = 20.0 * jnp.log10(jnp.maximum(S, amin))
  peak = jnp.max(db, axis=(-2, -1), keepdims=True) if db.ndim >= 2 else jnp.max(db)
  unit = jnp.maximum(db - peak, -top_db) / top_db + 1.0
  return jnp.clip(unit, 0.0, 1.0)  # exact bounds whatever the rounding


def unit_db_to_amplitude(U: ArrayLike, *, top_db: float = 80.0, ref: float = 1.0) -> jax.Array:
  """Inverse of :func:`unit_db`: magnitude with the maximum at ``ref``."""
  return db_to_amplitude((jnp.asarray(U) - 1.0) * top_db, ref=ref)


def log1p_magnitude(S: ArrayLike) -> jax.Array:
  """Ulyanov's representation ``log(1 + |S|)``."""
  return jnp.log1p(jnp.asarray(S))


def expm1_magnitude(L: ArrayLike) -> jax.Array:
  """Inverse of :func:`log1p_magnitude`, clipped at zero."""
  return jnp.maximum(jnp.expm1(jnp.asarray(L)), 0.0)
