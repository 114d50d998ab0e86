"""specst_jax.scaling vs librosa: dB scalings, their inverses, unit_db and log1p.

Tolerance: dB values agree with librosa within 1e-4 dB absolute (float32: 10 log10 of
values spanning 1e-12..1e4 is exact to a few ulp of the dB value); inverses within 1e-5
relative. Every parity test runs jitted and not jitted (chex variants).
"""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest
from absl.testing import parameterized

from specst_jax import scaling

DB_ATOL = 1e-4


def _power(shape=(40, 33), seed=0) -> np.ndarray:
  """Positive values over ~16 decades, with some exact zeros."""
  rng = np.random.default_rng(seed)
  S = np.exp(rng.normal(0.0, 6.0, size=shape)).astype(np.float32)
  S[..., 0, :3] = 0.0
  return S


class PowerToDbTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(
      dict(ref=1.0, amin=1e-10, top_db=80.0),
      dict(ref=1.0, amin=1e-10, top_db=None),
      dict(ref=3.5, amin=1e-6, top_db=40.0),
      dict(ref="max", amin=1e-10, top_db=80.0),
      dict(ref="max", amin=1e-8, top_db=None),
  )
  def test_power_to_db_matches_librosa(self, ref, amin, top_db):
    S = _power()
    got = self.variant(functools.partial(scaling.power_to_db, ref=ref, amin=amin,
                                         top_db=top_db))(S)
    expected = librosa.power_to_db(S, ref=np.max if ref == "max" else ref, amin=amin,
                                   top_db=top_db)
    np.testing.assert_allclose(got, expected, rtol=0, atol=DB_ATOL)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(
      dict(ref=1.0, amin=1e-5, top_db=80.0),
      dict(ref=0.5, amin=1e-3, top_db=None),
      dict(ref="max", amin=1e-5, top_db=80.0),
      dict(ref="max", amin=1e-5, top_db=30.0),
  )
  def test_amplitude_to_db_matches_librosa(self, ref, amin, top_db):
    A = np.sqrt(_power(seed=1))
    got = self.variant(functools.partial(scaling.amplitude_to_db, ref=ref, amin=amin,
                                         top_db=top_db))(A)
    expected = librosa.amplitude_to_db(A, ref=np.max if ref == "max" else ref, amin=amin,
                                       top_db=top_db)
    np.testing.assert_allclose(got, expected, rtol=0, atol=DB_ATOL)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.named_parameters(("max", np.max), ("median", np.median), ("mean", np.mean))
  def test_callable_ref_as_librosa(self, ref):
    # librosa's idiom ref=np.max (any numpy reduction): applied to the whole array.
    A = np.sqrt(_power(seed=3))
    got = self.variant(functools.partial(scaling.amplitude_to_db, ref=ref))(A)
    np.testing.assert_allclose(got, librosa.amplitude_to_db(A, ref=ref), rtol=0, atol=DB_ATOL)
    S = _power(seed=4)
    got = self.variant(functools.partial(scaling.power_to_db, ref=ref))(S)
    np.testing.assert_allclose(got, librosa.power_to_db(S, ref=ref), rtol=0, atol=DB_ATOL)

  def test_amplitude_to_db_of_complex_uses_magnitude(self):
    rng = np.random.default_rng(2)
    X = (rng.standard_normal((20, 9)) + 1j * rng.standard_normal((20, 9))).astype(np.complex64)
    np.testing.assert_allclose(scaling.amplitude_to_db(X, ref="max"),
                               scaling.amplitude_to_db(np.abs(X), ref="max"), atol=DB_ATOL)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters("power", "amplitude")
  def test_batch_is_per_spectrogram(self, kind):
    # Three spectrograms with very different levels: ref="max" and the top_db floor
    # are taken per spectrogram (librosa would use the global maximum).
    S = np.stack([_power(seed=3), 1e-6 * _power(seed=4), 1e3 * _power(seed=5)])
    if kind == "power":
      fn, ref_fn = scaling.power_to_db, librosa.power_to_db
    else:
      S = np.sqrt(S)
      fn, ref_fn = scaling.amplitude_to_db, librosa.amplitude_to_db
    got = np.asarray(self.variant(functools.partial(fn, ref="max", top_db=80.0))(S))
    for i in range(3):
      np.testing.assert_allclose(got[i], ref_fn(S[i], ref=np.max, top_db=80.0), atol=DB_ATOL)
      self.assertAlmostEqual(float(got[i].max()), 0.0, places=5)
      self.assertAlmostEqual(float(got[i].min()), -80.0, places=4)

  def test_one_dimensional_input(self):
    S = _power((1, 50), seed=6)[0]
    np.testing.assert_allclose(scaling.power_to_db(S, ref="max"),
                               librosa.power_to_db(S, ref=np.max), atol=DB_ATOL)


class InverseTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_db_to_power_inverts_power_to_db(self):
    S = _power(seed=7) + 1e-6  # above amin, no floor -> exact inverse
    db = scaling.power_to_db(S, ref=2.0, top_db=None)
    back = self.variant(functools.partial(scaling.db_to_power, ref=2.0))(db)
    np.testing.assert_allclose(back, S, rtol=1e-5)
    np.testing.assert_allclose(back, librosa.db_to_power(np.asarray(db), ref=2.0), rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_db_to_amplitude_inverts_amplitude_to_db(self):
    A = np.sqrt(_power(seed=8)) + 1e-3
    db = scaling.amplitude_to_db(A, ref=0.5, top_db=None)
    back = self.variant(functools.partial(scaling.db_to_amplitude, ref=0.5))(db)
    np.testing.assert_allclose(back, A, rtol=1e-5)
    np.testing.assert_allclose(back, librosa.db_to_amplitude(np.asarray(db), ref=0.5),
                               rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_log1p_round_trip(self):
    A = np.sqrt(_power(seed=9))
    L = self.variant(scaling.log1p_magnitude)(A)
    np.testing.assert_allclose(L, np.log1p(A), rtol=1e-6)
    np.testing.assert_allclose(self.variant(scaling.expm1_magnitude)(L), A, rtol=1e-5, atol=1e-7)
    self.assertTrue(bool(jnp.all(scaling.expm1_magnitude(jnp.array([-1e-3, -5.0])) == 0.0)))


class UnitDbTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_range_and_tiff_scaling(self):
    A = np.sqrt(_power(seed=10))
    U = np.asarray(self.variant(scaling.unit_db)(A))
    self.assertAlmostEqual(float(U.max()), 1.0, places=6)
    self.assertGreaterEqual(float(U.min()), 0.0)
    self.assertAlmostEqual(float(U.min()), 0.0, places=6)  # wide range: the floor is reached
    # The TIFF scaling of the paper's author: value = dB / 80 + 1, dB re the maximum.
    expected = librosa.amplitude_to_db(A, ref=np.max, top_db=80.0) / 80.0 + 1.0
    np.testing.assert_allclose(U, expected, atol=DB_ATOL / 80.0)

  def test_known_levels(self):
    # max -> 1, -20 dB -> 0.75, -40 dB -> 0.5, -80 dB -> 0, below -80 dB -> 0.
    A = np.array([[1.0, 0.1, 0.01, 1e-4, 1e-6]], np.float32)
    np.testing.assert_allclose(scaling.unit_db(A), [[1.0, 0.75, 0.5, 0.0, 0.0]], atol=1e-6)
    np.testing.assert_allclose(scaling.unit_db(3.0 * A), [[1.0, 0.75, 0.5, 0.0, 0.0]], atol=1e-6)
    np.testing.assert_allclose(scaling.unit_db(A, top_db=40.0), [[1.0, 0.5, 0.0, 0.0, 0.0]],
                               atol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_inverse(self):
    A = np.sqrt(_power(seed=11))
    U = scaling.unit_db(A)
    back = np.asarray(self.variant(scaling.unit_db_to_amplitude)(U))
    relative = A / A.max()
    above_floor = relative > 1.5e-4  # -76 dB: clear of the -80 dB floor
    np.testing.assert_allclose(back[above_floor], relative[above_floor], rtol=1e-4)
    np.testing.assert_allclose(back[~above_floor & (relative < 1e-4)], 1e-4, rtol=1e-4)

  def test_batch_is_per_spectrogram(self):
    A = np.stack([np.sqrt(_power(seed=12)), 1e-4 * np.sqrt(_power(seed=13))])
    U = np.asarray(jax.jit(scaling.unit_db)(A))
    for i in range(2):
      np.testing.assert_allclose(U[i], scaling.unit_db(A[i]), atol=1e-6)
      self.assertAlmostEqual(float(U[i].max()), 1.0, places=6)

  def test_gradient_finite(self):
    A = jnp.asarray(np.sqrt(_power(seed=14)))
    grad = jax.grad(lambda a: jnp.sum(scaling.unit_db(a) ** 2))(A)
    self.assertTrue(bool(jnp.all(jnp.isfinite(grad))))
    grad = jax.grad(lambda a: jnp.sum(scaling.power_to_db(a, ref="max")))(A)
    self.assertTrue(bool(jnp.all(jnp.isfinite(grad))))


class BadArgumentTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("power_amin", scaling.power_to_db, dict(amin=0.0), "amin"),
      ("power_top_db", scaling.power_to_db, dict(top_db=-1.0), "top_db"),
      ("power_ref_name", scaling.power_to_db, dict(ref="min"), "ref"),
      ("power_ref_zero", scaling.power_to_db, dict(ref=0.0), "ref"),
      ("amplitude_amin", scaling.amplitude_to_db, dict(amin=-1.0), "amin"),
      ("amplitude_ref", scaling.amplitude_to_db, dict(ref=-2.0), "ref"),
      ("unit_top_db", scaling.unit_db, dict(top_db=0.0), "top_db"),
  )
  def test_bad_arguments(self, fn, kwargs, name):
    with self.assertRaisesRegex(ValueError, name):
      fn(np.ones((4, 4), np.float32), **kwargs)


if __name__ == "__main__":
  pytest.main([__file__])
