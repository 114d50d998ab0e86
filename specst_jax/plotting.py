"""Host-side figures (matplotlib, Agg backend): spectrograms with labelled axes, atomic saving.

Spectrograms come in time-major, ``S_db[frames, bins]`` (the package's
convention); they are drawn with time (s) on the x axis and frequency (Hz),
mel bands or coefficients on the y axis, and a colour bar.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from specst_jax import features, files  # noqa: E402

Y_AXES = ("linear", "log", "mel", "coef")
_NICE_HZ = (0, 50, 100, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000)


def _hz_to_mel(hz):
  return features.hz_to_mel(np.asarray(hz, np.float64))


def _mel_to_hz(mel):
  return features.mel_to_hz(np.asarray(mel, np.float64))


def mel_band_frequencies(n_mels: int, *, fmin: float = 0.0, fmax: float) -> np.ndarray:
  """Centre frequencies (Hz) of the ``n_mels`` Slaney mel filters between ``fmin`` and ``fmax``."""
  return features.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax)[1:-1]


def _spaced_ticks(low: float, high: float, forward) -> list[float]:
  """Round Hz values in [low, high] at least 7% of the (transformed) axis apart."""
  low_t, high_t = forward(max(low, 1e-3)), forward(high)
  ticks: list[float] = []
  for f in _NICE_HZ:
    if not low <= f <= high:
      continue
    gap = forward(max(f, 1e-3)) - forward(max(ticks[-1], 1e-3)) if ticks else np.inf
    if gap >= 0.07 * (high_t - low_t):
      ticks.append(f)
  return ticks


def _edges(centres: np.ndarray) -> np.ndarray:
  """Cell edges around increasing centres (for pcolormesh)."""
  centres = np.asarray(centres, np.float64)
  if centres.size == 1:
    return np.array([centres[0] - 0.5, centres[0] + 0.5])
  middle = 0.5 * (centres[1:] + centres[:-1])
  first = centres[0] - (middle[0] - centres[0])
  last = centres[-1] + (centres[-1] - middle[-1])
  return np.concatenate([[first], middle, [last]])


def plot_spectrogram(ax, S_db, *, sr: float, hop_length: int, n_fft: int | None = None,
                     freqs=None, y_axis: str = "linear", title: str = "",
                     colorbar_label: str = "dB", cmap: str = "magma", vmin=None, vmax=None):
  """Draws a time-major spectrogram ``S_db[frames, bins]`` on ``ax``.

  Args:
    ax: a matplotlib Axes.
    S_db: ``[frames, bins]`` values (usually dB); frame ``t`` is centred at
      ``t * hop_length / sr`` seconds.
    sr: sample rate in Hz.
    hop_length: samples between frames.
    n_fft: FFT size; gives linear bin frequencies ``k * sr / n_fft`` when
      ``freqs`` is not given (``y_axis`` "linear" or "log").
    freqs: centre frequency in Hz of each bin (e.g. mel band centres from
      :func:`mel_band_frequencies`); required for ``y_axis="mel"`` unless the
      bins are drawn as band indices.
    y_axis: "linear" (Hz, linear), "log" (Hz, log scale), "mel" (Hz on a mel
      scale) or "coef" (coefficient index, e.g. MFCCs).
    title: axes title.
    colorbar_label: label of the colour bar (e.g. "dB").

  Returns:
    The QuadMesh drawn.

  Raises:
    ValueError: wrong shape, unknown ``y_axis``, or missing frequency information.
  """
  S_db = np.asarray(S_db)
  if S_db.ndim != 2:
    raise ValueError(f"S_db must be [frames, bins], got shape {S_db.shape}")
  if y_axis not in Y_AXES:
    raise ValueError(f"y_axis must be one of {Y_AXES}, got {y_axis!r}")
  frames, bins = S_db.shape
  times = np.arange(frames + 1) * hop_length / float(sr) - 0.5 * hop_length / float(sr)
  times = np.maximum(times, 0.0)
  if y_axis == "coef":
    y_edges = np.arange(bins + 1) - 0.5
    ylabel = "coefficient"
  else:
    if freqs is None:
      if n_fft is None:
        raise ValueError(f"y_axis={y_axis!r} needs n_fft or freqs to place the bins in Hz")
      freqs = np.arange(bins) * sr / float(n_fft)
    freqs = np.asarray(freqs, np.float64)
    if freqs.shape != (bins,):
      raise ValueError(f"freqs must have shape ({bins},), got {freqs.shape}")
    y_edges = np.maximum(_edges(freqs), 0.0)
    ylabel = "frequency (Hz)"
  mesh = ax.pcolormesh(times, y_edges, S_db.T, shading="flat", cmap=cmap, vmin=vmin, vmax=vmax,
                       rasterized=True)
  if y_axis == "log":
    ax.set_yscale("symlog", linthresh=max(float(freqs[1]) if bins > 1 else 1.0, 1.0))
    ax.set_ylim(max(float(freqs[1]) if bins > 1 else 1.0, 1.0) / 2, y_edges[-1])
  elif y_axis == "mel":
    ax.set_yscale("function", functions=(_hz_to_mel, _mel_to_hz))
    ax.set_ylim(y_edges[0], y_edges[-1])
  if y_axis in ("log", "mel"):
    low, high = ax.get_ylim()
    ticks = _spaced_ticks(low, high, _hz_to_mel if y_axis == "mel" else np.log)
    if len(ticks) >= 2:
      ax.set_yticks(ticks)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
  ax.set_xlabel("time (s)")
  ax.set_ylabel(ylabel)
  if title:
    ax.set_title(title)
  ax.figure.colorbar(mesh, ax=ax, label=colorbar_label)
  return mesh


def plot_waveform(ax, y, *, sr: float, title: str = "", max_points: int = 20000):
  """Draws audio ``y[samples]`` against time in seconds.

  Beyond ``max_points`` samples it draws the min/max envelope over ``max_points // 2``
  equal spans instead (what a screen can show; hours of audio stay cheap to draw).
  """
  y = np.asarray(y)
  if y.ndim != 1:
    raise ValueError(f"y must be [samples], got shape {y.shape}")
  if y.size > max_points:
    columns = max_points // 2
    edges = np.linspace(0, y.size, columns + 1).astype(np.int64)
    low = np.minimum.reduceat(y, edges[:-1])
    high = np.maximum.reduceat(y, edges[:-1])
    ax.fill_between(edges[:-1] / float(sr), low, high, step="post", linewidth=0.5)
  else:
    ax.plot(np.arange(y.size) / float(sr), y, linewidth=0.5)
  ax.set_xlim(0, y.size / float(sr))
  ax.set_xlabel("time (s)")
  ax.set_ylabel("amplitude")
  if title:
    ax.set_title(title)


def save_figure(fig, path, *, dpi: int = 120, close: bool = True) -> Path:
  """Saves ``fig`` atomically (temp file in the same folder, then ``os.replace``).

  The format follows the extension (.png, .pdf, .svg). Parent folders are
  created; on failure nothing is left behind.
  """
  path = Path(path)
  try:
    with files.atomic_path(path) as tmp:
      fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=path.suffix.lstrip(".") or None)
  finally:
    if close:
      plt.close(fig)
  return path
