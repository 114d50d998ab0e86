"""Figure-1 measures against numpy twins of their formulas (tolerance 1e-5 relative, float32)."""

import chex
import librosa
import numpy as np
from absl.testing import absltest

from specst_jax import measures

RTOL = 1e-5


def _numpy_style_distance(r, s):
  dm = r.mean(axis=0) - s.mean(axis=0)
  ds = r.std(axis=0) - s.std(axis=0)
  return np.sqrt(np.mean(dm**2 + ds**2))


def _numpy_content_correlation(r, c):
  t = min(len(r), len(c))
  r = r[:t] - r[:t].mean(axis=0)
  c = c[:t] - c[:t].mean(axis=0)
  return np.corrcoef(r.ravel(), c.ravel())[0, 1]


class MeasuresTest(chex.TestCase):

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(0)
    self.a = rng.normal(-30, 10, (40, 16)).astype(np.float32)
    self.b = rng.normal(-40, 5, (33, 16)).astype(np.float32)

  @chex.variants(with_jit=True, without_jit=True)
  def test_style_distance_matches_numpy(self):
    got = self.variant(measures.style_distance)(self.a, self.b)
    np.testing.assert_allclose(got, _numpy_style_distance(self.a, self.b), rtol=RTOL)

  @chex.variants(with_jit=True, without_jit=True)
  def test_content_correlation_matches_numpy(self):
    got = self.variant(measures.content_correlation)(self.a, self.b)
    np.testing.assert_allclose(got, _numpy_content_correlation(self.a, self.b), rtol=1e-4)

  @chex.variants(with_jit=True, without_jit=True)
  def test_envelope_correlation_matches_numpy(self):
    got = self.variant(measures.envelope_correlation)(self.a, self.b)
    t = len(self.b)
    want = np.corrcoef(self.a[:t].mean(axis=1), self.b.mean(axis=1))[0, 1]
    np.testing.assert_allclose(got, want, rtol=1e-4)

  def test_identity_and_constant_cases(self):
    self.assertAlmostEqual(float(measures.style_distance(self.a, self.a)), 0.0, places=5)
    self.assertAlmostEqual(float(measures.content_correlation(self.a, self.a)), 1.0, places=5)
    flat = np.zeros_like(self.a)
    self.assertEqual(float(measures.content_correlation(self.a, flat)), 0.0)

  def test_batch_equals_per_example(self):
    batch = np.stack([self.a[:33], self.b])
    got = measures.style_distance(batch, self.b)
    for i in range(2):
      np.testing.assert_allclose(got[i], measures.style_distance(batch[i], self.b), rtol=RTOL)

  def test_logmel_db_matches_librosa(self):
    rng = np.random.default_rng(1)
    y = rng.standard_normal(8000).astype(np.float32)
    got = np.asarray(measures.logmel_db(y, sr=16000, n_fft=512, hop_length=128, n_mels=32))
    mel = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=128, n_mels=32)
    want = librosa.power_to_db(mel, ref=np.max, top_db=80.0).T
    np.testing.assert_allclose(got, want, atol=1e-3)  # dB, float32 log10 rounding
    self.assertEqual(got.max(), 0.0)


def _numpy_modulation_spectrum(x, frame_rate, bands=measures.MODULATION_BANDS_HZ):
  """Twin of the formula: per band, Hann-windowed periodogram of the mean-removed envelope."""
  n = x.shape[0]
  w = np.hanning(n)
  p = np.abs(np.fft.rfft((x - x.mean(axis=0)) * w[:, None], axis=0)) ** 2 / np.sum(w**2)
  f = np.fft.rfftfreq(n, 1.0 / frame_rate)
  out = []
  for lo, hi in bands:
    sel = (f >= lo) & (f < hi)
    out.append(10 * np.log10(p[sel].mean(axis=0) + 1e-10) if sel.any()
               else np.full(x.shape[1], np.nan))
  return np.stack(out, axis=-1)


class ModulationTest(chex.TestCase):

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(2)
    self.rate = 62.5  # 16 kHz, hop 256
    t = np.arange(300) / self.rate
    self.slow = (-30 + 10 * np.sin(2 * np.pi * 1.5 * t)[:, None]
                 + rng.normal(0, 1, (300, 8))).astype(np.float32)
    self.fast = (-30 + 10 * np.sin(2 * np.pi * 6.0 * t)[:, None]
                 + rng.normal(0, 1, (300, 8))).astype(np.float32)

  @chex.variants(with_jit=True, without_jit=True)
  def test_spectrum_matches_numpy(self):
    fn = self.variant(lambda x: measures.modulation_spectrum(x, frame_rate=self.rate))
    got = np.asarray(fn(self.slow))
    np.testing.assert_allclose(got, _numpy_modulation_spectrum(self.slow, self.rate),
                               atol=1e-3)  # dB
    self.assertEqual(got.shape, (8, 5))

  @chex.variants(with_jit=True, without_jit=True)
  def test_distance_matches_numpy(self):
    fn = self.variant(lambda a, b: measures.modulation_distance(a, b, frame_rate=self.rate))
    a = _numpy_modulation_spectrum(self.slow, self.rate)
    b = _numpy_modulation_spectrum(self.fast[:250], self.rate)
    np.testing.assert_allclose(fn(self.slow, self.fast[:250]),
                               np.sqrt(np.mean((a - b) ** 2)), rtol=1e-4)

  def test_rhythm_lands_in_its_band(self):
    m = np.asarray(measures.modulation_spectrum(self.slow, frame_rate=self.rate)).mean(axis=0)
    self.assertEqual(int(np.argmax(m)), 1)  # 1.5 Hz: the 1-2 Hz band
    m = np.asarray(measures.modulation_spectrum(self.fast, frame_rate=self.rate)).mean(axis=0)
    self.assertEqual(int(np.argmax(m)), 3)  # 6 Hz: the 4-8 Hz band
    self.assertAlmostEqual(float(measures.modulation_distance(
        self.slow, self.slow, frame_rate=self.rate)), 0.0, places=5)
    self.assertGreater(float(measures.modulation_distance(self.slow, self.fast,
                                                          frame_rate=self.rate)), 10.0)

  def test_short_clip_leaves_out_empty_bands(self):
    short = self.slow[:40]  # 0.64 s: no bin below 1.5 Hz
    m = np.asarray(measures.modulation_spectrum(short, frame_rate=self.rate))
    self.assertTrue(np.all(np.isnan(m[:, 0])) and np.all(np.isfinite(m[:, 2:])))
    self.assertTrue(np.isfinite(float(measures.modulation_distance(short, self.fast,
                                                                   frame_rate=self.rate))))
    with self.assertRaisesRegex(ValueError, "frame_rate"):
      measures.modulation_spectrum(self.slow, frame_rate=0.0)


if __name__ == "__main__":
  absltest.main()
