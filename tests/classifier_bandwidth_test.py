"""Tests for specst_jax/classifier/bandwidth.py: energy above a cutoff and the input change of a
band-limited clip, against scipy / librosa / numpy twins and analytic signals."""

import librosa
import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from specst_jax import representations
from specst_jax.classifier import bandwidth as bw

SR = 22050


def test_energy_fractions_match_scipy_periodogram():
  rng = np.random.default_rng(0)
  x = rng.standard_normal(4001)  # odd length: no Nyquist bin
  bands = [(0.0, 2000.0), (2000.0, 8000.0), (8000.0, np.inf), (8000.0, 11025.0)]
  f, p = scipy.signal.periodogram(x, fs=SR, window="boxcar", detrend=False, scaling="spectrum")
  want = [p[(f >= lo) & (f < hi)].sum() / p.sum() for lo, hi in bands]
  got = bw.band_energy_fractions(x, SR, bands)
  np.testing.assert_allclose(got, want, rtol=1e-10)
  assert got[:3].sum() == pytest.approx(1.0)
  # White noise: energy in proportion to bandwidth (within sampling noise of 2 % absolute).
  assert got[2] == pytest.approx((SR / 2 - 8000) / (SR / 2), abs=0.02)


def test_energy_fractions_of_two_sines_are_their_power_shares():
  n = SR  # 1 s: integer-Hz sines fall on bins, no leakage
  t = np.arange(n) / SR
  x = 1.0 * np.sin(2 * np.pi * 1000 * t) + 0.1 * np.sin(2 * np.pi * 9000 * t)
  above, mid, top = bw.band_energy_fractions(x, SR, [(8000, np.inf), (8000, 11025),
                                                     (11025, np.inf)])
  assert above == pytest.approx(0.01 / 1.01, rel=1e-9) and mid == pytest.approx(above)
  assert top == pytest.approx(0.0, abs=1e-20)  # the Nyquist bin: rounding only
  assert np.isnan(bw.band_energy_fractions(np.zeros(100), SR, [(0, 100)])[0])
  with pytest.raises(ValueError, match="band"):
    bw.band_energy_fractions(x, SR, [(5000, 4000)])
  with pytest.raises(ValueError, match="1-D"):
    bw.band_energy_fractions(np.zeros((2, 10)), SR, [(0, 100)])


def test_band_limit_removes_the_band_above_8k_and_keeps_below():
  t = np.arange(2 * SR) / SR
  low, high = np.sin(2 * np.pi * 3000 * t), np.sin(2 * np.pi * 9500 * t)
  y = bw.band_limit(low + high, SR)
  assert y.shape == t.shape
  core = slice(SR // 2, -SR // 2)  # away from the resampler's edges
  # What is left is the 3 kHz sine (soxr HQ: passband ripple and stopband far below 1e-3).
  np.testing.assert_allclose(y[core], low[core], atol=2e-3)
  with pytest.raises(ValueError, match="cutoff_sr"):
    bw.band_limit(low, SR, cutoff_sr=SR)


def numpy_unit_db(x, n_fft=512, hop=128, top_db=80.0):
  win = scipy.signal.get_window("hann", n_fft)  # periodic Hann
  frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * win
  S = np.abs(np.fft.rfft(frames, axis=-1))
  db = 20 * np.log10(np.maximum(S, 1e-5) / max(S.max(), 1e-5))
  return np.maximum(db, -top_db)


def test_feature_change_matches_a_numpy_twin_on_unit_db():
  rng = np.random.default_rng(1)
  t = np.arange(3 * SR) / SR
  x = (0.5 * np.sin(2 * np.pi * 700 * t) + 0.003 * rng.standard_normal(t.size)).astype(np.float32)
  stft = representations.Stft(SR, 512, 128, center=False)
  got = bw.feature_change(x, SR, "unit_db", stft)
  full, lim = numpy_unit_db(x.astype(np.float64)), numpy_unit_db(bw.band_limit(x, SR).astype(
      np.float64))
  above = np.fft.rfftfreq(512, 1 / SR) >= 8000
  d = full - lim
  assert got.channels_above == pytest.approx(above.mean())
  assert got.mean_change_above == pytest.approx(d[:, above].mean(), abs=0.05)
  assert got.level_above == pytest.approx(full[:, above].mean(), abs=0.05)
  assert got.mean_abs_change_below == pytest.approx(np.abs(d[:, ~above]).mean(), abs=0.05)
  assert got.values_changed == pytest.approx((np.abs(d) > 3).mean(), abs=0.01)
  # The noise above 8 kHz sat about 14 dB above the -80 dB floor and is gone: it drops to the
  # floor there, and little changes below.
  assert got.mean_change_above == pytest.approx(got.level_above + 80, abs=0.5)
  assert got.mean_change_above > 10 and got.mean_abs_change_below < 1


def test_feature_change_of_a_band_limited_signal_is_small():
  t = np.arange(3 * SR) / SR
  x = (0.5 * np.sin(2 * np.pi * 700 * t)).astype(np.float32)
  for rep, stft in bw.SETTINGS:
    c = bw.feature_change(x, SR, rep, stft)
    assert abs(c.mean_change_above) < 1.0 and c.mean_abs_change_below < 1.0, rep
  with pytest.raises(ValueError, match="representation"):
    bw.feature_change(x, SR, "mfcc", bw.SETTINGS[0][1])
  with pytest.raises(ValueError, match="sr"):
    bw.feature_change(x, 16000, "unit_db", bw.SETTINGS[0][1])


def test_channel_frequencies_match_librosa():
  stft, opts = representations.Stft(SR, 1024, 512, False), representations.Options(n_mels=128)
  np.testing.assert_allclose(bw.channel_frequencies("log_mel", stft, opts),
                             librosa.mel_frequencies(130, fmax=SR / 2)[1:-1], rtol=1e-6)
  np.testing.assert_allclose(bw.channel_frequencies("unit_db", stft, opts),
                             librosa.fft_frequencies(sr=SR, n_fft=1024))
  f = bw.channel_frequencies("logfreq", stft, opts)
  np.testing.assert_allclose(f, librosa.midi_to_hz(24 + np.arange(len(f))), rtol=1e-9)
  assert f[-1] * 2 ** (1 / 12) <= SR / 2


def test_measure_corpus_skips_low_rate_files_and_tabulates(tmp_path):
  rng = np.random.default_rng(2)
  sf.write(tmp_path / "a.wav", (0.1 * rng.standard_normal(int(11 * SR))).astype(np.float32), SR)
  sf.write(tmp_path / "b.wav", np.zeros(11025, np.float32), 11025)
  r = bw.measure_corpus([tmp_path / "a.wav", tmp_path / "b.wav"])
  assert r["files"] == [str(tmp_path / "a.wav")] and "11025 Hz" in r["skipped"][0]
  assert r["segments"] == 2 and r["rates"] == [SR]  # 11 s: two 5 s pieces
  # White noise: 27 % of its energy above 8 kHz.
  assert r["energy"]["above 8 kHz"]["mean"] == pytest.approx(3025 / 11025, abs=0.01)
  text = bw.markdown({"noise": r})
  assert "| noise | 1 (2) | 22050 Hz |" in text and "log_mel (n_fft 1024, hop 512)" in text
  with pytest.raises(ValueError, match="no file"):
    bw.measure_corpus([tmp_path / "b.wav"])
  assert [len(s) for s in bw.segments(np.zeros(12), 1, seconds=5)] == [5, 5]
  assert [len(s) for s in bw.segments(np.zeros(3), 1, seconds=5)] == [3]
