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


if __name__ == "__main__":
  absltest.main()
