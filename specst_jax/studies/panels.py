"""Spectrogram panels in one figure, every one in :func:`specst_jax.representations.display_db`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from specst_jax import plotting, representations
from specst_jax.representations import Stft


def plot_magnitudes(path: str | Path, panels: Sequence[tuple[str, np.ndarray, Stft]], *,
                    columns: int, panel_size: tuple[float, float] = (5.0, 4.0),
                    colorbar_label: str = "dB", floor_db: float = 80.0) -> Path:
  """Writes ``panels`` (title, magnitude ``[frames, bins]``, its STFT) in reading order.

  Each panel is dB re its own maximum, floored at ``-floor_db`` (colour range
  ``[-floor_db, 0]``); unused cells of the last row are blank. Saved atomically.
  """
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  if not panels:
    raise ValueError("plot_magnitudes: no panels")
  rows = (len(panels) + columns - 1) // columns
  fig, axes = plt.subplots(rows, columns, squeeze=False,
                           figsize=(panel_size[0] * columns, panel_size[1] * rows))
  for ax, (title, S, stft) in zip(axes.ravel(), panels, strict=False):
    db = np.asarray(representations.display_db(S, floor_db=floor_db))
    plotting.plot_spectrogram(ax, db, sr=stft.sr, hop_length=stft.hop_length, n_fft=stft.n_fft,
                              title=title, vmin=-floor_db, vmax=0,
                              colorbar_label=colorbar_label)
  for ax in axes.ravel()[len(panels):]:
    ax.axis("off")
  fig.tight_layout()
  return plotting.save_figure(fig, path)
