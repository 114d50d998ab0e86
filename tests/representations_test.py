"""Tests for specst_jax/overview.py and its CLI experiments/representations.py: files, shapes,
values and the bad-input contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import librosa
import matplotlib.image
import numpy as np
import pytest
import soundfile as sf

from specst_jax import audio, provenance, signals
from specst_jax import overview as representations

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("waveform", "linear_db", "mel_db", "mfcc", "mfcc_delta")


def _cli(*args, cwd=ROOT):
  return subprocess.run(
      [sys.executable, "-m", "experiments.representations", *args],
      cwd=cwd, capture_output=True, text=True, timeout=300,
  )


def _check_outputs(out: Path, *, n_samples: int, sr=22050, n_fft=1024, hop=256, n_mels=128,
                   n_mfcc=20):
  frames = 1 + n_samples // hop
  expected = {
      "waveform": (n_samples,), "linear_db": (frames, n_fft // 2 + 1), "mel_db": (frames, n_mels),
      "mfcc": (frames, n_mfcc), "mfcc_delta": (frames, n_mfcc),
  }
  arrays = {}
  for name, shape in expected.items():
    arrays[name] = np.load(out / f"{name}.npy")
    assert arrays[name].shape == shape and arrays[name].dtype == np.float32, name
    assert np.all(np.isfinite(arrays[name])), name
  for name in ("linear_db", "mel_db"):  # dB re max, floored 80 dB down
    assert arrays[name].max() == pytest.approx(0.0, abs=1e-4)
    assert arrays[name].min() >= -80.0 - 1e-3
  image = matplotlib.image.imread(out / "representations.png")
  assert image.ndim == 3 and image.shape[0] > 1000 and image.shape[1] > 800
  meta = json.loads((out / "representations.json").read_text())
  assert meta["sr"] == sr and meta["shapes"]["mfcc"] == list(expected["mfcc"])
  assert not [f for f in os.listdir(out) if f.startswith(".")]  # no temp files left
  return arrays


def test_default_signal_in_process(tmp_path):
  paths = representations.run(input_path=None, output_dir=str(tmp_path / "out"))
  arrays = _check_outputs(tmp_path / "out", n_samples=3 * 22050)
  assert set(NAMES) | {"png", "json"} == set(paths)
  np.testing.assert_array_equal(arrays["waveform"], signals.vowel_glide(22050, 3.0))
  # Reference twin: librosa's MFCC (time-major here) within 1e-3 of the largest coefficient.
  ref = librosa.feature.mfcc(y=arrays["waveform"], sr=22050, n_mfcc=20, n_fft=1024,
                             hop_length=256, n_mels=128).T
  np.testing.assert_allclose(arrays["mfcc"], ref, atol=1e-3 * np.abs(ref).max())
  ref_delta = librosa.feature.delta(ref.T, width=9).T
  np.testing.assert_allclose(arrays["mfcc_delta"], ref_delta, atol=1e-3 * np.abs(ref).max())


def test_generated_stereo_wav_resampled(tmp_path):
  sr_in = 16000
  t = np.arange(sr_in) / sr_in
  stereo = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 1000 * t)], 1)
  sf.write(tmp_path / "in.wav", stereo.astype(np.float32), sr_in, subtype="FLOAT")
  representations.run(input_path=str(tmp_path / "in.wav"), output_dir=str(tmp_path / "out"),
                      n_mels=64, n_mfcc=13)
  arrays = _check_outputs(tmp_path / "out", n_samples=22050, n_mels=64, n_mfcc=13)
  meta = json.loads((tmp_path / "out" / "representations.json").read_text())
  assert meta["provenance"]["data_sha256"] == provenance.data_hash([tmp_path / "in.wav"])
  assert meta["provenance"]["machine"] and "commit" in meta["provenance"]
  twin = audio.resample(stereo.T.mean(0), sr_in, 22050)
  np.testing.assert_allclose(arrays["waveform"], twin, atol=1e-6)
  # The two tones are the strongest bins below / above 700 Hz (mid clip), 6 dB apart (0.5 / 0.3).
  row = arrays["linear_db"][40]
  split = int(700 * 1024 / 22050)
  low, high = np.argmax(row[:split]), split + np.argmax(row[split:])
  assert abs(low * 22050 / 1024 - 440) < 22 and abs(high * 22050 / 1024 - 1000) < 22
  assert row[low] - row[high] == pytest.approx(20 * np.log10(0.5 / 0.3), abs=1.5)


def test_bad_settings_write_nothing(tmp_path):
  with pytest.raises(ValueError, match="--n_mfcc"):
    representations.run(input_path=None, output_dir=str(tmp_path / "o"), n_mels=10, n_mfcc=20)
  with pytest.raises(audio.AudioError, match="--sr"):
    representations.run(input_path=None, output_dir=str(tmp_path / "o"), sr=500)
  short = tmp_path / "short.wav"
  sf.write(short, np.zeros(300, np.float32) + 0.1, 22050)
  with pytest.raises(audio.AudioError, match="shorter than one frame"):
    representations.run(input_path=str(short), output_dir=str(tmp_path / "o"))
  assert not (tmp_path / "o").exists()


def test_cli_default_and_bad_file(tmp_path):
  result = _cli(f"--output_dir={tmp_path / 'default'}", "--duration=1.5")
  assert result.returncode == 0, result.stderr
  _check_outputs(tmp_path / "default", n_samples=round(1.5 * 22050))

  bad = tmp_path / "noise.wav"
  bad.write_bytes(np.random.default_rng(0).bytes(2048))
  result = _cli(f"--input={bad}", f"--output_dir={tmp_path / 'bad'}")
  assert result.returncode == 1
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: ") and "noise.wav" in lines[0], lines
  assert "Traceback" not in result.stderr
  assert not (tmp_path / "bad").exists()


def test_chunked_stream_equals_whole_clip(tmp_path):
  """Frames computed in chunks (and the two-pass dB) equal the whole-clip computation."""
  rng = np.random.default_rng(3)
  sr, n_fft, hop = 8000, 256, 64
  t = np.arange(2 * sr) / sr
  y = (0.4 * np.sin(2 * np.pi * 300 * t * (1 + t)) + 0.05 * rng.standard_normal(t.size))
  y = y.astype(np.float32)
  display, shapes, group, width = representations.stream(
      y, tmp_path, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=32, n_mfcc=13, chunk_frames=48,
      display_frames=40)
  frames = 1 + y.size // hop
  assert group == -(-frames // 40) and width == 9
  assert shapes["linear_db"] == [frames, n_fft // 2 + 1] and shapes["mfcc"] == [frames, 13]
  linear = np.load(tmp_path / "linear_db.npy")
  ref = librosa.amplitude_to_db(np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop,
                                                    pad_mode="constant")), ref=np.max).T
  np.testing.assert_allclose(linear, ref, atol=2e-3)
  mel = np.load(tmp_path / "mel_db.npy")
  mel_power = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop,
                                             n_mels=32, pad_mode="constant")
  np.testing.assert_allclose(mel, librosa.power_to_db(mel_power, ref=np.max).T, atol=2e-3)
  mfcc = np.load(tmp_path / "mfcc.npy")
  ref_mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel_power), n_mfcc=13).T
  np.testing.assert_allclose(mfcc, ref_mfcc, atol=1e-3 * np.abs(ref_mfcc).max())
  np.testing.assert_allclose(np.load(tmp_path / "mfcc_delta.npy"),
                             librosa.feature.delta(ref_mfcc.T, width=9).T,
                             atol=1e-3 * np.abs(ref_mfcc).max())
  # The figure's arrays: the max (dB) / mean (MFCC) over each group of frames.
  assert display["linear_db"].shape == (-(-frames // group), n_fft // 2 + 1)
  np.testing.assert_allclose(display["linear_db"][1], linear[group:2 * group].max(0))
  np.testing.assert_allclose(display["mfcc"][-1], mfcc[(frames - 1) // group * group:].mean(0),
                             rtol=1e-5, atol=1e-5)
