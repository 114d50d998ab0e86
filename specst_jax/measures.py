"""Objective measures of a style-transfer result that do not come from the network optimised.

Each condition of the paper's Figure 1 wins its own game (the loss of the net it optimised), so
these measures use a fixed, network-free representation: the log-mel spectrogram in dB.

* :func:`style_distance`: how far the result's *texture statistics* (per-band mean and spread of
  log-mel energy over time) are from the style's, in dB. Lower is more style.
* :func:`content_correlation`: how much of the content's *frame-level structure* (the time
  course of each mel band, with the band's mean removed) survives in the result. Pearson
  correlation in [-1, 1]; higher is more content.
* :func:`envelope_correlation`: correlation of the broadband loudness envelopes (dB per frame).
* :func:`modulation_distance`: how far the result's *long-timescale* structure (the modulation
  spectrum of each band's envelope, pooled into 0.5-1, 1-2, 2-4, 4-8 and 8-16 Hz) is from the
  style's, in dB. Lower is more of the style's rhythm and envelope texture.

All take log-mel spectrograms ``[..., frames, n_mels]`` (from :func:`logmel_db`); a leading batch
is allowed; they reduce over the last two axes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from specst_jax import features, scaling


def logmel_db(
    y: ArrayLike,
    *,
    sr: float,
    n_fft: int = 1024,
    hop_length: int = 256,
    n_mels: int = 64,
    top_db: float = 80.0,
) -> jax.Array:
  """Log-mel power spectrogram in dB re its maximum, floored ``top_db`` below it.

  Args:
    y: audio ``[..., samples]``.
    sr: sample rate in Hz.
    n_fft, hop_length: STFT size and hop in samples.
    n_mels: number of mel bands.
    top_db: dynamic range kept, in dB.

  Returns:
    ``[..., frames, n_mels]`` in dB, maximum 0.
  """
  mel = features.melspectrogram(y, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
  return scaling.power_to_db(mel, ref="max", top_db=top_db)


def band_statistics(logmel: ArrayLike) -> tuple[jax.Array, jax.Array]:
  """Per-band mean and standard deviation over frames: ``([..., n_mels], [..., n_mels])``."""
  logmel = jnp.asarray(logmel)
  return jnp.mean(logmel, axis=-2), jnp.std(logmel, axis=-2)


def style_distance(result: ArrayLike, style: ArrayLike) -> jax.Array:
  """RMS over bands of the difference in per-band mean and in per-band spread, in dB.

  ``sqrt(mean_b((mu_r - mu_s)^2 + (sd_r - sd_s)^2))``; frame counts may differ.
  """
  mean_r, sd_r = band_statistics(result)
  mean_s, sd_s = band_statistics(style)
  return jnp.sqrt(jnp.mean((mean_r - mean_s) ** 2 + (sd_r - sd_s) ** 2, axis=-1))


def _pearson(a: jax.Array, b: jax.Array) -> jax.Array:
  """Pearson correlation over the last two axes; 0 where either side is constant."""
  a = a - jnp.mean(a, axis=(-2, -1), keepdims=True)
  b = b - jnp.mean(b, axis=(-2, -1), keepdims=True)
  denominator = jnp.sqrt(jnp.sum(a * a, axis=(-2, -1)) * jnp.sum(b * b, axis=(-2, -1)))
  numerator = jnp.sum(a * b, axis=(-2, -1))
  return jnp.where(denominator > 0, numerator / jnp.where(denominator > 0, denominator, 1.0), 0.0)


def _common_frames(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
  frames = min(a.shape[-2], b.shape[-2])
  return a[..., :frames, :], b[..., :frames, :]


def content_correlation(result: ArrayLike, content: ArrayLike) -> jax.Array:
  """Correlation of the band-mean-removed log-mel time courses (first common frames)."""
  result, content = _common_frames(jnp.asarray(result), jnp.asarray(content))
  result = result - jnp.mean(result, axis=-2, keepdims=True)
  content = content - jnp.mean(content, axis=-2, keepdims=True)
  return _pearson(result, content)


def envelope_correlation(result: ArrayLike, content: ArrayLike) -> jax.Array:
  """Correlation of the frame loudness envelopes (mean dB over bands) over common frames."""
  result, content = _common_frames(jnp.asarray(result), jnp.asarray(content))
  envelope_r = jnp.mean(result, axis=-1, keepdims=True)
  envelope_c = jnp.mean(content, axis=-1, keepdims=True)
  return _pearson(envelope_r, envelope_c)


# ------------------------------------------------------------------ long-timescale style

MODULATION_BANDS_HZ = ((0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (4.0, 8.0), (8.0, 16.0))


def modulation_spectrum(
    logmel: ArrayLike,
    *,
    frame_rate: float,
    bands: tuple[tuple[float, float], ...] = MODULATION_BANDS_HZ,
    floor: float = 1e-10,
) -> jax.Array:
  """Modulation spectrum of each band's envelope, pooled into modulation-frequency bands.

  Per mel band, the log-energy envelope over time (the dB values, mean removed) is Hann
  windowed and Fourier transformed over frames; its power ``|X(f)|^2 / sum(w^2)`` is averaged
  over the modulation frequencies ``lo <= f < hi`` of each band and returned in dB. Slow
  rhythms (syllables at 2-8 Hz, a rooster's crow at 0.5-2 Hz) live here, which frame-level
  statistics such as :func:`style_distance` do not see.

  Args:
    logmel: ``[..., frames, n_mels]`` in dB (from :func:`logmel_db`).
    frame_rate: frames per second (``sr / hop_length``).
    bands: ``(lo, hi)`` modulation bands in Hz.
    floor: power floor before the log.

  Returns:
    ``[..., n_mels, n_bands]`` in dB; NaN for a band with no modulation frequency in it (a
    clip shorter than ``1 / (hi - lo)`` seconds, or ``hi`` above ``frame_rate / 2``).
  """
  x = jnp.asarray(logmel, jnp.float32)
  frames = x.shape[-2]
  if frames < 2:
    raise ValueError(f"modulation_spectrum: logmel needs >= 2 frames, got shape {x.shape}")
  if not frame_rate > 0:
    raise ValueError(f"modulation_spectrum: frame_rate must be positive, got {frame_rate}")
  window = jnp.asarray(np.hanning(frames), jnp.float32)
  x = (x - jnp.mean(x, axis=-2, keepdims=True)) * window[:, None]
  power = jnp.abs(jnp.fft.rfft(x, axis=-2)) ** 2 / jnp.sum(window**2)  # [..., f, n_mels]
  freqs = np.fft.rfftfreq(frames, 1.0 / frame_rate)
  out = []
  for lo, hi in bands:
    sel = np.flatnonzero((freqs >= lo) & (freqs < hi))
    if sel.size == 0:
      out.append(jnp.full(power.shape[:-2] + power.shape[-1:], jnp.nan, jnp.float32))
    else:
      out.append(10.0 * jnp.log10(jnp.mean(power[..., sel, :], axis=-2) + floor))
  return jnp.stack(out, axis=-1)


def modulation_distance(
    result: ArrayLike,
    style: ArrayLike,
    *,
    frame_rate: float,
    bands: tuple[tuple[float, float], ...] = MODULATION_BANDS_HZ,
) -> jax.Array:
  """RMS over mel bands x modulation bands of the modulation-spectrum difference, in dB.

  Lower is closer to the style's long-timescale (envelope) structure. Frame counts may
  differ (both are per-frequency powers); modulation bands empty for either clip are left
  out; NaN when none is left. ``result`` and ``style``: ``[..., frames, n_mels]`` dB.
  """
  a = modulation_spectrum(result, frame_rate=frame_rate, bands=bands)
  b = modulation_spectrum(style, frame_rate=frame_rate, bands=bands)
  return jnp.sqrt(jnp.nanmean((a - b) ** 2, axis=(-2, -1)))
