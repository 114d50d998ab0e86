"""Tests for specst_jax.signals: shape, range, determinism and each signal's designed content."""

from __future__ import annotations

import numpy as np
import pytest

from specst_jax import signals

SR = 16000


def _spectrum(x, sr):
  """Magnitude spectrum (Hann-windowed) and its frequencies in Hz (numpy twin)."""
  mag = np.abs(np.fft.rfft(x * np.hanning(x.size)))
  return np.fft.rfftfreq(x.size, 1.0 / sr), mag


def _peak(x, sr, lo=50.0, hi=None):
  freqs, mag = _spectrum(x, sr)
  keep = (freqs >= lo) & (freqs <= (hi or sr / 2))
  return freqs[keep][np.argmax(mag[keep])]


@pytest.mark.parametrize("name", sorted(signals.SIGNALS))
def test_shape_range_determinism(name):
  x = signals.make_signal(name, sr=SR, duration=1.3)
  assert x.dtype == np.float32 and x.shape == (round(SR * 1.3),)
  assert np.all(np.isfinite(x))
  np.testing.assert_allclose(np.max(np.abs(x)), 0.9, rtol=1e-6)
  np.testing.assert_array_equal(x, signals.make_signal(name, sr=SR, duration=1.3))
  assert np.sqrt(np.mean(x**2)) > 0.02  # not silent


def test_vowel_glide_pitch_and_syllables():
  x = signals.vowel_glide(SR, 2.0)
  # At t = 0.14 s (first syllable) f0 = 140 + 45 sin(2 pi 0.35 t) + 12 sin(2 pi 2.1 t).
  t0 = 0.14
  seg = x[int(t0 * SR) : int(t0 * SR) + 640]
  expected = 140 + 45 * np.sin(2 * np.pi * 0.35 * t0) + 12 * np.sin(2 * np.pi * 2.1 * t0)
  # Autocorrelation pitch estimate (numpy twin), search 80-300 Hz.
  ac = np.correlate(seg, seg, mode="full")[seg.size - 1 :]
  lags = np.arange(SR // 300, SR // 80)
  f0 = SR / lags[np.argmax(ac[lags])]
  assert abs(f0 - expected) / expected < 0.08, (f0, expected)
  # Syllable gaps (sin(pi 3.5 t) <= 0, e.g. t = 0.3-0.57 s) hold only faint breath noise.
  gap = x[int(0.35 * SR) : int(0.5 * SR)]
  assert np.sqrt(np.mean(gap**2)) < 0.01 * np.sqrt(np.mean(x**2))


def test_chirps_rise_and_fall():
  x = signals.chirps(SR, 1.0, period=0.5)
  call = 0.3  # each call lasts 0.6 * period seconds
  # Pitch at 10% and 40% of a call (rising) and near its end (falling), vs the designed track.
  for frac, expected in [(0.1, 900.0), (0.4, 1500.0), (0.9, 1000.0)]:
    centre = int(frac * call * SR)
    seg = x[centre - 160 : centre + 160]
    assert abs(_peak(seg, SR, hi=2000) - expected) < 80, (frac, _peak(seg, SR, hi=2000))
  # Silence between calls.
  assert np.max(np.abs(x[int(0.31 * SR) : int(0.49 * SR)])) == 0.0


def test_noise_bursts_bands():
  x = signals.noise_bursts(SR, 1.0, rate=3.0)
  # Bursts start at 0.05 s + i / 3 s with band centres 500 Hz, 1.5 kHz, 4 kHz.
  centroids = []
  for i in range(3):
    start = int((0.05 + i / 3.0) * SR)
    freqs, mag = _spectrum(x[start : start + int(0.2 * SR)], SR)
    centroids.append(np.sum(freqs * mag**2) / np.sum(mag**2))
  assert centroids[0] < centroids[1] < centroids[2]
  for c, centre in zip(centroids, (500.0, 1500.0, 4000.0), strict=True):
    assert centre / 1.6 < c < centre * 1.6, centroids
  assert np.max(np.abs(x[: int(0.04 * SR)])) == 0.0


def test_harmonic_mix_chord_notes():
  x = signals.harmonic_mix(SR, 0.75)
  freqs, mag = _spectrum(x, SR)
  # A minor: the three fundamentals are local maxima well above the floor.
  for note in (220.0, 261.63, 329.63):
    k = np.argmin(np.abs(freqs - note))
    assert mag[k - 2 : k + 3].max() > 0.1 * mag.max(), note
  # No energy between them.
  k = np.argmin(np.abs(freqs - 240.0))
  assert mag[k] < 0.01 * mag.max()


@pytest.mark.parametrize(
    "kwargs,fragment",
    [({"sr": 0}, "sr"), ({"duration": -1.0}, "duration"), ({"duration": float("nan")}, "duration")],
)
def test_bad_arguments(kwargs, fragment):
  args = {"sr": SR, "duration": 1.0, **kwargs}
  with pytest.raises(ValueError, match=fragment):
    signals.vowel_glide(args["sr"], args["duration"])
  with pytest.raises(ValueError, match="signal: unknown"):
    signals.make_signal("rooster", sr=SR)
