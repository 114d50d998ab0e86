"""Output pieces shared by the studies: clips, spectrogram thumbnails, curves, interval plots.

Every clip written gets the listener's check of its samples as written
(:func:`specst_jax.listener.check_audio`; a result's spectral convergence is against the magnitude
it was made from); the studies record them under ``listener`` in their JSON. A result's
thumbnail shows that magnitude above the written clip re-analysed (:func:`result_thumbnail`).

Host side (numpy, matplotlib Agg); every file is written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from specst_jax import audio, listener, plotting, representations
from specst_jax.representations import Stft
from specst_jax.style import transfer


def _plt():
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt


THUMBNAIL_INCHES = (3.6, 2.4)  # per panel; at 120 dpi 432 x 288 px, shown 360 px wide


def save_clip(path: str | Path, y: np.ndarray, sr: int, *, magnitude: np.ndarray | None = None,
              stft: Stft | None = None) -> tuple[np.ndarray, dict]:
  """A clip ``[samples]`` peak-normalised to 0.9 (:func:`transfer.peak_normalize`) as WAV.

  Returns:
    the samples written and their listener check (with ``magnitude [frames, bins]`` and its
    ``stft``: the spectral convergence against it).
  """
  written = transfer.peak_normalize(y)
  audio.save_audio(path, written, sr)
  return written, listener.check_audio(written, sr=sr, magnitude=magnitude, stft=stft)


def _spectrogram(ax, magnitude: np.ndarray, stft: Stft, title: str) -> None:
  db = np.asarray(representations.display_db(magnitude))
  plotting.plot_spectrogram(ax, db, sr=stft.sr, hop_length=stft.hop_length, n_fft=stft.n_fft,
                            title=title, vmin=-80, vmax=0, colorbar_label="dB")


def thumbnail(path: str | Path, magnitude: np.ndarray, stft: Stft, title: str = "") -> Path:
  """A small spectrogram image (display dB re its max, -80 dB floor) of ``[frames, bins]``."""
  plt = _plt()
  fig, ax = plt.subplots(figsize=THUMBNAIL_INCHES)
  _spectrogram(ax, magnitude, stft, title)
  fig.tight_layout()
  return plotting.save_figure(fig, path)


def result_thumbnail(path: str | Path, target: np.ndarray, written: np.ndarray, stft: Stft,
                     title: str = "") -> Path:
  """Two small spectrograms, one above the other: the ``target`` magnitude ``[frames, bins]``
  a result was made from, and the ``written`` clip ``[samples]`` re-analysed with ``stft``."""
  plt = _plt()
  fig, (top, bottom) = plt.subplots(2, 1, figsize=(THUMBNAIL_INCHES[0],
                                                    2 * THUMBNAIL_INCHES[1]))
  _spectrogram(top, target, stft, f"{title}: target" if title else "target")
  _spectrogram(bottom, np.asarray(stft.magnitude(written)), stft, "as written (re-analysed)")
  fig.tight_layout()
  return plotting.save_figure(fig, path)


def loss_curves(path: str | Path, curves: Mapping[str, np.ndarray], *, title: str = "") -> Path:
  """Loss against iteration, one line per label (``[n_iter]`` or ``[items, n_iter]``: the
  mean, with the items' range shaded), log scale."""
  plt = _plt()
  fig, ax = plt.subplots(figsize=(7, 4))
  for label, c in curves.items():
    c = np.atleast_2d(np.asarray(c, np.float64))
    c = c / np.maximum(c[:, :1], 1e-30)  # relative to each item's first loss
    it = np.arange(1, c.shape[1] + 1)
    ax.plot(it, c.mean(axis=0), label=label)
    if c.shape[0] > 1:
      ax.fill_between(it, c.min(axis=0), c.max(axis=0), alpha=0.15)
  ax.set_yscale("log")
  ax.set_xlabel("iteration")
  ax.set_ylabel("loss / initial loss")
  ax.set_title(title)
  ax.legend(fontsize=7)
  fig.tight_layout()
  return plotting.save_figure(fig, path)


def interval_plot(path: str | Path, x: Sequence[float], series: Mapping[str, np.ndarray], *,
                  xlabel: str, ylabel: str, title: str = "", logx: bool = True) -> Path:
  """``series``: label -> ``[3, len(x)]`` (mean, low, high); error bars are the intervals."""
  plt = _plt()
  fig, ax = plt.subplots(figsize=(6, 4))
  for label, (m, lo, hi) in series.items():
    m, lo, hi = (np.asarray(v, np.float64) for v in (m, lo, hi))
    ax.errorbar(x, m, yerr=[m - lo, hi - m], marker="o", capsize=3, label=label)
  if logx:
    ax.set_xscale("log", base=2)
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  ax.set_title(title)
  ax.legend(fontsize=8)
  fig.tight_layout()
  return plotting.save_figure(fig, path)
