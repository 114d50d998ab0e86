"""Single-pass spectrogram inversion (SPSI; Beauregard, Harish & Wyse 2015).

Per frame: find the spectral peaks, refine each by parabolic interpolation
``p = 0.5 (alpha - gamma) / (alpha - 2 beta + gamma)`` of the magnitudes around
it, advance the peak's phase by ``2 pi a (k + p) / M`` (hop ``a``, FFT size ``M``),
and give the bins of the peak's lobe (the monotone slopes on either side) the
peak's phase with a ``pi`` shift per bin (the window is centred ``M / 2``
samples into the frame, so a sinusoid's phase alternates across its lobe).
Bins outside every lobe keep their phase. One pass; the recursion over frames
is a ``lax.scan``, each frame is vectorised over bins.

Magnitudes ``[..., frames, bins]``; phases in radians, same shape.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from specst_jax.phase import _common

_FLOOR = 1e-30


def _spsi_frame(phase: jax.Array, mag: jax.Array, *, n_fft: int, hop_length: int) -> jax.Array:
  """Updates the running phase ``[..., bins]`` with one frame's magnitudes ``[..., bins]``."""
  bins = mag.shape[-1]
  idx = jnp.arange(bins)
  last = mag.ndim - 1
  below = jnp.concatenate([mag[..., :1], mag[..., :-1]], axis=-1)
  above = jnp.concatenate([mag[..., 1:], mag[..., -1:]], axis=-1)
  interior = (idx > 0) & (idx < bins - 1)
  peak = interior & (mag > below) & (mag > above)
  # Parabola through the log magnitudes (exact for a Gaussian lobe; on linear
  # magnitudes a Hann lobe biases p by up to ~0.06 bin).
  lb, lm, la = (jnp.log(jnp.maximum(v, _FLOOR)) for v in (below, mag, above))
  denom = lb - 2.0 * lm + la
  safe = jnp.where(denom == 0, 1.0, denom)
  p = jnp.where(denom == 0, 0.0, jnp.clip(0.5 * (lb - la) / safe, -0.5, 0.5))
  advance = np.float32(2.0 * np.pi * hop_length / n_fft) * (idx + p)
  peak_phase = jnp.where(peak, _common.wrap(phase + advance), phase)

  rises = mag < above  # bin j climbs towards j + 1
  falls = mag < below  # bin j climbs towards j - 1
  top_above = jax.lax.cummin(jnp.where(rises & (idx < bins - 1), bins, idx), axis=last,
                             reverse=True)
  top_below = jax.lax.cummax(jnp.where(falls & (idx > 0), -1, idx), axis=last)
  top_above = jnp.clip(top_above, 0, bins - 1)
  top_below = jnp.clip(top_below, 0, bins - 1)
  on_lower_slope = jnp.take_along_axis(peak, top_above, axis=-1) & (top_above > idx)
  on_upper_slope = jnp.take_along_axis(peak, top_below, axis=-1) & (top_below < idx)
  owner = jnp.where(on_lower_slope, top_above, top_below)
  lobe_phase = jnp.take_along_axis(peak_phase, owner, axis=-1) + np.pi * (idx - owner)
  in_lobe = ~peak & (on_lower_slope | on_upper_slope)
  return jnp.where(in_lobe, _common.wrap(lobe_phase), peak_phase)


def _spsi_scan(S, *, n_fft, hop_length):
  frames = jnp.moveaxis(S, -2, 0)

  def step(phase, mag):
    phase = _spsi_frame(phase, mag, n_fft=n_fft, hop_length=hop_length)
    return phase, phase

  _, phases = jax.lax.scan(step, jnp.zeros_like(frames[0]), frames)
  return jnp.moveaxis(phases, 0, -2)


@functools.cache
def _compiled_spsi():
  return jax.jit(_spsi_scan, static_argnames=("n_fft", "hop_length"))


def spsi(S: ArrayLike, *, n_fft: int, hop_length: int) -> jax.Array:
  """Single-pass spectrogram inversion.

  Args:
    S: magnitudes ``[..., frames, bins]`` (``bins = n_fft // 2 + 1``).
    n_fft: FFT size ``M``.
    hop_length: hop ``a`` in samples.

  Returns:
    Phase ``[..., frames, bins]`` in radians (float32), frame-start referenced.
  """
  hop_length, _ = _common.check_sizes(n_fft, hop_length, None)
  S = _common.check_magnitude(S, n_fft=n_fft)
  return _compiled_spsi()(S, n_fft=n_fft, hop_length=hop_length)
