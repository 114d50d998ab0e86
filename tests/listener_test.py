"""The listener's check (specst_jax/listener.py) against independent numpy/librosa twins.

Tolerances: sample measures (peaks, counts, mean, RMS dB, silent fraction) are computed from the
same float32 samples in float64 by plain loops, so they agree to 1e-9 (RMS dB to 1e-6 dB);
the spectral convergence twin uses librosa's STFT in float64 against our float32 STFT: 0.02 dB
where the error is well above float32 round-off (SC > -60 dB).
"""

from __future__ import annotations

import logging
import math

import chex
import librosa
import numpy as np
import pytest

from specst_jax import listener
from specst_jax.representations import Stft

SR = 8000
STFT = Stft(sr=SR, n_fft=256, hop_length=64, center=True)


def _sine(seconds=1.0, amplitude=0.5, freq=440.0, sr=SR):
  t = np.arange(int(seconds * sr)) / sr
  return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


# ------------------------------------------------------------------------------ numpy twins


def _twin_edge_ratio(y, edge_samples=1024):
  n = len(y)
  edge = edge_samples if n >= 3 * edge_samples else n // 8
  if edge == 0:
    return 0.0, edge
  edge_peak = body_peak = 0.0
  for i, v in enumerate(np.abs(y.astype(np.float64))):
    if i < edge or i >= n - edge:
      edge_peak = max(edge_peak, v)
    else:
      body_peak = max(body_peak, v)
  if body_peak == 0:
    return (math.inf if edge_peak > 0 else 0.0), edge
  return edge_peak / body_peak, edge


def _twin_silent_fraction(y, sr, frame_s=0.02, floor_db=-60.0):
  n = int(round(frame_s * sr))
  starts = range(0, len(y) - n + 1, n) if len(y) >= n else [0]
  silent = [20 * np.log10(np.sqrt(np.mean(y[s:s + n].astype(np.float64) ** 2)) + 1e-300)
            < floor_db for s in starts]
  return sum(silent) / len(silent)


def _twin_body_rms_db(y, edge):
  body = y[edge:len(y) - edge].astype(np.float64)
  return max(10 * np.log10(np.mean(body ** 2) + 1e-300), -200.0)


def _twin_sc_db(S, y, stft):
  """Least-squares gain, then 20 log10(||S - g X|| / ||S||), X from librosa (float64)."""
  X = np.abs(librosa.stft(y.astype(np.float64), n_fft=stft.n_fft, hop_length=stft.hop_length,
                          center=stft.center, pad_mode="constant", window="hann")).T
  n = S.shape[0]
  X = X[:n] if X.shape[0] >= n else np.pad(X, [(0, n - X.shape[0]), (0, 0)])
  S = S.astype(np.float64)
  g = np.sum(S * X) / np.sum(X * X)
  return 20 * np.log10(np.linalg.norm(S - g * X) / np.linalg.norm(S))


def _assert_matches_twins(y, sr=SR, edge_samples=1024):
  m = listener.check_audio(y, sr=sr, edge_samples=edge_samples)
  ratio, edge = _twin_edge_ratio(y, edge_samples)
  assert m["edge_samples"] == edge
  if math.isinf(ratio):
    assert math.isinf(m["edge_to_body_peak"])
  else:
    np.testing.assert_allclose(m["edge_to_body_peak"], ratio, rtol=1e-9)
  assert m["clipped_samples"] == int(sum(abs(float(v)) >= 0.999 for v in y))
  np.testing.assert_allclose(m["clipped_fraction"], m["clipped_samples"] / len(y), rtol=1e-12)
  np.testing.assert_allclose(m["dc_offset"], float(np.sum(y.astype(np.float64)) / len(y)),
                             atol=1e-9)
  np.testing.assert_allclose(m["body_rms_dbfs"], _twin_body_rms_db(y, edge), atol=1e-6)
  np.testing.assert_allclose(m["silent_fraction"], _twin_silent_fraction(y, sr), atol=1e-12)
  return m


# ------------------------------------------------------------------------------ the checks


def test_clean_sine_passes_and_its_sc_against_its_own_magnitude_is_tiny():
  y = _sine()
  m = _assert_matches_twins(y)
  assert m["passed"] and m["warnings"] == []
  m = listener.check_audio(y, sr=SR, magnitude=np.asarray(STFT.magnitude(y)), stft=STFT)
  assert m["sc_db"] < -100.0, m["sc_db"]
  assert m["passed"]


def test_edge_spike_is_flagged_with_one_line_naming_the_file(caplog):
  y = _sine(amplitude=0.1)
  y[1] = 0.99  # the Wyse net's click at sample 1
  m = _assert_matches_twins(y)
  assert m["edge_to_body_peak"] == pytest.approx(9.9, rel=1e-3)
  assert not m["passed"] and any("edge-to-body peak" in w for w in m["warnings"])
  with caplog.at_level(logging.WARNING):
    assert listener.warn("out/x/result.wav", m)
  lines = [r.getMessage() for r in caplog.records]
  assert lines == ["listener check: out/x/result.wav: edge-to-body peak 9.9 > 2 "
                   "(a click at the clip edge)"]


def test_a_spike_in_the_body_is_not_an_edge_click():
  y = _sine(amplitude=0.1)
  y[SR // 2] = 0.99
  m = _assert_matches_twins(y)
  assert m["edge_to_body_peak"] < 1.0 and m["passed"]


def test_clipping_is_counted():
  y = np.clip(_sine(amplitude=1.5), -1.0, 1.0)
  m = _assert_matches_twins(y)
  assert m["clipped_samples"] > 100 and not m["passed"]
  assert any("clipped samples" in w for w in m["warnings"])
  assert listener.check_audio(_sine(amplitude=0.998), sr=SR)["clipped_samples"] == 0


def test_dc_offset_is_flagged():
  y = _sine(amplitude=0.3) + np.float32(0.05)
  m = _assert_matches_twins(y)
  assert m["dc_offset"] == pytest.approx(0.05, abs=1e-3)
  assert [w for w in m["warnings"] if "DC offset" in w] and not m["passed"]
  assert listener.check_audio(_sine(amplitude=0.3) + np.float32(0.005), sr=SR)["passed"]


def test_silence_and_a_mostly_silent_clip():
  m = _assert_matches_twins(np.zeros(SR, np.float32))
  assert m["edge_to_body_peak"] == 0.0 and m["body_rms_dbfs"] == -200.0
  assert m["silent_fraction"] == 1.0 and not m["passed"]
  assert any("near-silence" in w for w in m["warnings"])
  y = _sine(2.0)
  y[: int(1.2 * SR)] = 0.0  # 60 % silent
  m = _assert_matches_twins(y)
  assert m["silent_fraction"] == pytest.approx(0.6, abs=0.01)
  assert any("frames below -60 dBFS" in w for w in m["warnings"])
  y = _sine(2.0)
  y[: int(0.8 * SR)] = 0.0  # 40 % silent: passes
  assert _assert_matches_twins(y)["passed"]


def test_a_silent_body_under_a_sounding_edge_is_infinite_and_flagged():
  y = np.zeros(SR, np.float32)
  y[0] = 0.5
  m = _assert_matches_twins(y)
  assert math.isinf(m["edge_to_body_peak"]) and not m["passed"]


@pytest.mark.parametrize("n", [3071, 100, 7, 1])
def test_short_clips_use_an_eighth_as_edge(n):
  rng = np.random.default_rng(n)
  y = (0.3 * rng.standard_normal(n)).astype(np.float32)
  y[0] = 0.9
  m = _assert_matches_twins(y)
  assert m["edge_samples"] == n // 8
  if n < 8:
    assert m["edge_to_body_peak"] == 0.0


def test_sc_matches_the_librosa_twin_and_ignores_the_written_gain():
  rng = np.random.default_rng(0)
  x = _sine() + np.float32(0.05) * rng.standard_normal(SR).astype(np.float32)
  S = np.asarray(STFT.magnitude(x))
  y = _sine()  # the clean sine against the noisy one's magnitude: a few dB of error
  for written in (y, 0.013 * y, 7.0 * y):
    written = written.astype(np.float32)
    sc = listener.check_audio(written, sr=SR, magnitude=S, stft=STFT)["sc_db"]
    np.testing.assert_allclose(sc, _twin_sc_db(S, written, STFT), atol=0.02)
  sc = [listener.check_audio((c * y).astype(np.float32), sr=SR, magnitude=S, stft=STFT)["sc_db"]
        for c in (1.0, 0.013, 7.0)]
  np.testing.assert_allclose(sc, sc[0], atol=1e-3)
  assert -40 < sc[0] < -5


def test_sc_sees_an_edge_click_and_counts_missing_frames():
  y = _sine()
  S = np.asarray(STFT.magnitude(y))
  clicked = y.copy()
  clicked[1] = 0.99
  sc_clean = listener.check_audio(y, sr=SR, magnitude=S, stft=STFT)["sc_db"]
  sc_click = listener.check_audio(clicked, sr=SR, magnitude=S, stft=STFT)["sc_db"]
  assert sc_click > sc_clean + 50
  np.testing.assert_allclose(sc_click, _twin_sc_db(S, clicked, STFT), atol=0.02)
  short = y[: SR // 2]  # half the frames missing: they count as zeros
  sc_short = listener.check_audio(short, sr=SR, magnitude=S, stft=STFT)["sc_db"]
  np.testing.assert_allclose(sc_short, _twin_sc_db(S, short, STFT), atol=0.02)
  assert sc_short > -4


def test_silent_written_clip_has_sc_0_db():
  S = np.asarray(STFT.magnitude(_sine()))
  sc = listener.check_audio(np.zeros(SR, np.float32), sr=SR, magnitude=S, stft=STFT)["sc_db"]
  assert sc == pytest.approx(0.0, abs=1e-5)


class GainMatchedScTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_jitted_and_not_agree_with_the_twin_batched(self):
    stft = Stft(sr=SR, n_fft=256, hop_length=64, center=False)
    rng = np.random.default_rng(1)
    x = (0.3 * rng.standard_normal((2, 4000))).astype(np.float32)
    S = np.asarray(stft.magnitude(x))
    y = (x + 0.1 * rng.standard_normal(x.shape)).astype(np.float32) * np.float32([[0.2], [3.0]])
    fn = self.variant(lambda S, y: listener.gain_matched_sc_db(S, y, stft))
    sc = np.asarray(fn(S, y))
    assert sc.shape == (2,)
    np.testing.assert_allclose(sc, [_twin_sc_db(S[i], y[i], stft) for i in range(2)], atol=0.02)


def test_bad_arguments():
  with pytest.raises(ValueError, match="samples"):
    listener.check_audio(np.zeros((2, 100), np.float32), sr=SR)
  with pytest.raises(ValueError, match="samples"):
    listener.check_audio(np.zeros(0, np.float32), sr=SR)
  S = np.asarray(STFT.magnitude(_sine()))
  with pytest.raises(ValueError, match="STFT"):
    listener.check_audio(_sine(), sr=SR, magnitude=S)
  with pytest.raises(ValueError, match="sr=16000"):
    listener.check_audio(_sine(), sr=16000, magnitude=S, stft=STFT)


def test_warn_each_names_each_failed_file(caplog, tmp_path):
  good = listener.check_audio(_sine(), sr=SR)
  bad = listener.check_audio(np.zeros(SR, np.float32), sr=SR)
  with caplog.at_level(logging.WARNING):
    assert listener.warn_each(tmp_path, {"a.wav": good, "audio/b.wav": bad}) == 1
  lines = [r.getMessage() for r in caplog.records]
  assert len(lines) == 1 and lines[0].startswith(f"listener check: {tmp_path}/audio/b.wav: ")
  assert listener.warning_line("a.wav", good) is None


def test_result_is_json_ready():
  import json
  m = listener.check_audio(_sine(), sr=SR, magnitude=np.asarray(STFT.magnitude(_sine())),
                           stft=STFT)
  assert json.loads(json.dumps(m)) == m
  assert all(type(v) in (float, int, bool, list) for v in m.values())
