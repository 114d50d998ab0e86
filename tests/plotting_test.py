"""Tests for specst_jax.plotting: axes, labels, frequency placement and atomic saving."""

from __future__ import annotations

import os

import librosa
import matplotlib.pyplot as plt
import numpy as np
import pytest

from specst_jax import plotting


def _image():
  return np.random.default_rng(0).uniform(-80, 0, size=(40, 513)).astype(np.float32)


def test_linear_axes_and_labels():
  fig, ax = plt.subplots()
  mesh = plotting.plot_spectrogram(ax, _image(), sr=22050, hop_length=256, n_fft=1024, title="lin")
  assert ax.get_xlabel() == "time (s)" and ax.get_ylabel() == "frequency (Hz)"
  assert ax.get_title() == "lin"
  # 40 frames x 513 bins drawn as [bins, frames]; time spans 40 hops, frequency up to Nyquist.
  assert mesh.get_array().shape == (513, 40)
  x0, x1 = ax.get_xlim()
  assert x0 == pytest.approx(0.0) and x1 == pytest.approx(39.5 * 256 / 22050, rel=1e-6)
  assert ax.get_ylim()[1] == pytest.approx(22050 / 2 + 22050 / 1024 / 2)
  assert fig.axes[-1].get_ylabel() == "dB"  # the colour bar
  plt.close(fig)


def test_mel_axis_uses_librosa_band_centres():
  centres = plotting.mel_band_frequencies(64, fmax=8000.0)
  np.testing.assert_allclose(
      centres, librosa.mel_frequencies(66, fmin=0.0, fmax=8000.0)[1:-1], rtol=1e-10
  )
  fig, ax = plt.subplots()
  plotting.plot_spectrogram(ax, _image()[:, :64], sr=16000, hop_length=160, freqs=centres,
                            y_axis="mel")
  assert ax.get_yscale() == "function" and ax.get_ylabel() == "frequency (Hz)"
  plt.close(fig)


def test_coefficient_axis_and_waveform():
  fig, (a, b) = plt.subplots(2)
  plotting.plot_spectrogram(a, _image()[:, :20], sr=22050, hop_length=512, y_axis="coef",
                            colorbar_label="value")
  assert a.get_ylabel() == "coefficient" and a.get_ylim() == (-0.5, 19.5)
  plotting.plot_waveform(b, np.zeros(22050), sr=22050)
  assert b.get_xlim() == (0.0, 1.0) and b.get_ylabel() == "amplitude"
  plt.close(fig)


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"S_db": np.zeros((3, 4, 5))}, "frames, bins"),
        ({"y_axis": "bark"}, "y_axis"),
        ({"n_fft": None}, "needs n_fft or freqs"),
        ({"n_fft": None, "freqs": np.arange(3)}, "freqs must have shape"),
    ],
)
def test_bad_arguments(kwargs, fragment):
  args = {"S_db": np.zeros((4, 5)), "sr": 8000, "hop_length": 64, "n_fft": 8, **kwargs}
  fig, ax = plt.subplots()
  with pytest.raises(ValueError, match=fragment):
    plotting.plot_spectrogram(ax, args.pop("S_db"), **args)
  plt.close(fig)


def test_save_figure_atomic(tmp_path, monkeypatch):
  fig, ax = plt.subplots()
  ax.plot([0, 1])
  path = plotting.save_figure(fig, tmp_path / "sub" / "f.png")
  assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert os.listdir(tmp_path / "sub") == ["f.png"]

  fig2, _ = plt.subplots()

  def broken(self, fname, **kwargs):
    with open(fname, "wb") as f:
      f.write(b"partial")
    raise OSError("simulated failure")

  monkeypatch.setattr(type(fig2), "savefig", broken)
  with pytest.raises(OSError, match="simulated"):
    plotting.save_figure(fig2, tmp_path / "sub" / "g.png")
  assert os.listdir(tmp_path / "sub") == ["f.png"]


def test_long_waveform_drawn_as_envelope():
  y = np.sin(np.arange(100_000) / 50.0).astype(np.float32)
  y[12_345] = 3.0  # a single peak must survive the decimation
  fig, ax = plt.subplots()
  plotting.plot_waveform(ax, y, sr=1000, max_points=1000)
  assert not ax.lines and len(ax.collections) == 1
  vertices = ax.collections[0].get_paths()[0].vertices
  assert vertices[:, 1].max() == pytest.approx(3.0)
  assert vertices[:, 1].min() == pytest.approx(-1.0, abs=1e-3)
  assert ax.get_xlim() == (0.0, 100.0)
  plt.close(fig)
  fig, ax = plt.subplots()
  plotting.plot_waveform(ax, y[:500], sr=1000, max_points=1000)
  assert len(ax.lines) == 1 and ax.lines[0].get_ydata().size == 500
  plt.close(fig)
