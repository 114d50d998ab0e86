"""Objective measures of a style-transfer result that do not come from the network optimised.

Each condition of the paper's Figure 1 wins its own game (the loss of the net it optimised), so
these measures use a fixed, network-free representation: the log-mel spectrogram in dB.

* :func:`style_distance`: how far the result's *texture statistics* (per-band mean and spread of
  log-mel energy over time) are from the style's, in dB. Lower is more style.
* :func:`content_correlation`: how much of the content's *frame-level structure* (the time
  course of each mel band, with the band's mean removed) survives in the result. Pearson
  correlation in [-1, 1]; higher is more content.
* :func:`envelope_correlation`: correlation of the broadband loudness envelopes (dB per frame).

All take log-mel spectrograms ``[..., frames, n_mels]`` (from :func:`logmel_db`); a leading batch
is allowed; they reduce over the last two axes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
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
