"""specst_jax.representations vs librosa / numpy twins, and vs the code paths it replaced.

Twins (float64 numpy / librosa on the same magnitudes):
  * unit_db: ``librosa.amplitude_to_db(S, ref=max, top_db) / top_db + 1`` and the old ESC-50
    branch ``librosa.power_to_db(S**2, ref=max, amin=1e-10, top_db) / top_db + 1``:
    within 1e-5 (float32 dB / 80).
  * log_mel / log_mel_deltas / mfcc: ``librosa.feature.melspectrogram(S=S**2)`` +
    ``librosa.power_to_db`` (+ ``librosa.feature.delta``, ``librosa.feature.mfcc``):
    within 1e-3 dB absolute (mel), 2e-3 (MFCC, deltas) on a clip with quiet bands.
  * log1p, unit_db_image: exact formulas within 1e-6.
  * display_db: the two old display copies (style transfer's plot and Figure 1's ``_db``)
    after the -80 dB colour floor, within 1e-4 dB.
Each parity test runs jitted and not (chex variants).
"""

from __future__ import annotations

import chex
import librosa
import numpy as np
import pytest
from absl.testing import parameterized

from specst_jax import representations as R

STFT = R.Stft(sr=8000, n_fft=256, hop_length=64, center=False)
OPTS = R.Options(n_mels=32, n_mfcc=13, deltas=True, top_db=80.0)


def _audio(n=4000, seed=0) -> np.ndarray:
  """A tone, a quiet high band and silence at the end: quiet bands and a floor to hit."""
  rng = np.random.default_rng(seed)
  t = np.arange(n) / STFT.sr
  y = 0.5 * np.sin(2 * np.pi * 440 * t) + 1e-3 * rng.standard_normal(n)
  y[-n // 5:] = 0.0
  return y.astype(np.float32)


def _mag(y=None) -> np.ndarray:
  y = _audio() if y is None else y
  return np.abs(librosa.stft(y.astype(np.float64), n_fft=STFT.n_fft, hop_length=STFT.hop_length,
                             center=STFT.center)).T  # [frames, bins]


def _unit_db_twin(S, top_db=80.0):
  return librosa.amplitude_to_db(S, ref=np.max, amin=1e-5, top_db=top_db) / top_db + 1.0


def _log_mel_twin(S, o=OPTS):
  mel = librosa.feature.melspectrogram(S=(S ** 2).T, sr=STFT.sr, n_fft=STFT.n_fft,
                                       n_mels=o.n_mels)
  return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=o.top_db).T


def _encode(variant, name, S, stft=STFT, options=OPTS):
  return np.asarray(variant(lambda s: R.encode(name, s, stft, options))(np.float32(S)))


class StftTest(chex.TestCase):

  def test_fields_and_dict_round_trip(self):
    assert STFT.n_bins == 129
    assert STFT.n_frames(4000) == 1 + (4000 - 256) // 64
    d = dict(STFT.as_dict(), representation="unit_db", mean=[1.0])  # provenance-like extras
    assert R.Stft.from_dict(d) == STFT
    assert hash(R.Stft.from_dict(d)) == hash(STFT)
    assert R.Stft.from_dict({"n_fft": 512}) == R.Stft(n_fft=512)

  @chex.variants(with_jit=True, without_jit=True)
  def test_magnitude_vs_librosa(self):
    y = _audio()
    got = np.asarray(self.variant(STFT.magnitude)(y))
    ref = _mag(y)
    assert got.shape == ref.shape == (STFT.n_frames(len(y)), STFT.n_bins)
    np.testing.assert_allclose(got, ref, atol=1e-4 * ref.max())

  @parameterized.parameters("sr", "n_fft", "hop_length")
  def test_bad_fields_name_the_field(self, field):
    with pytest.raises(ValueError, match=f"Stft.{field}"):
      R.Stft(**{field: 0})
    with pytest.raises(ValueError, match=f"Stft.{field}"):
      R.Stft(**{field: 1.5})


class EncodeTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_unit_db_vs_librosa_and_the_old_esc50_branch(self):
    S = _mag()
    got = _encode(self.variant, "unit_db", S)
    np.testing.assert_allclose(got, _unit_db_twin(S), atol=1e-5)
    old_esc50 = librosa.power_to_db(S ** 2, ref=np.max, amin=1e-10, top_db=80.0) / 80.0 + 1.0
    np.testing.assert_allclose(got, old_esc50, atol=1e-5)
    assert got.min() == 0.0 and got.max() == 1.0  # the silent tail is on the floor

  @chex.variants(with_jit=True, without_jit=True)
  def test_unit_db_equals_the_old_style_pipeline_to_an_ulp(self):
    # style/pipeline._unit_db at f3be592, verbatim (the style-transfer
    # goldens depend on it), in the same jit mode: equal within an ulp of 1.
    import jax.numpy as jnp
    def old(S):
      db = 20.0 * jnp.log10(jnp.maximum(S, 1e-5))
      return jnp.maximum(db - jnp.max(db, axis=(-2, -1), keepdims=True), -80.0) / 80.0 + 1.0

    S = np.float32(_mag())
    np.testing.assert_allclose(_encode(self.variant, "unit_db", S),
                               np.asarray(self.variant(old)(S)), rtol=0, atol=3e-7)

  @chex.variants(with_jit=True, without_jit=True)
  def test_log1p_and_image(self):
    S = _mag()
    np.testing.assert_allclose(_encode(self.variant, "log1p", S), np.log1p(S), rtol=1e-6)
    img = _encode(self.variant, "unit_db_image", S)
    assert img.shape == (STFT.n_bins, S.shape[0], 3)
    for c in range(3):
      np.testing.assert_allclose(img[..., c], _unit_db_twin(S).T, atol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_log_mel_family_vs_librosa(self):
    S = _mag()
    lm = _log_mel_twin(S)
    np.testing.assert_allclose(_encode(self.variant, "log_mel", S), lm, atol=1e-3)
    delta = librosa.feature.delta(lm.T, width=9, order=1).T
    np.testing.assert_allclose(_encode(self.variant, "log_mel_deltas", S),
                               np.concatenate([lm, delta], -1), atol=2e-3)
    m = librosa.feature.mfcc(S=lm.T, sr=STFT.sr, n_mfcc=OPTS.n_mfcc)
    twin = np.concatenate([m, librosa.feature.delta(m, width=9, order=1),
                           librosa.feature.delta(m, width=9, order=2)]).T
    np.testing.assert_allclose(_encode(self.variant, "mfcc", S), twin, atol=2e-3)
    plain = R.Options(n_mels=32, n_mfcc=13, deltas=False)
    np.testing.assert_allclose(_encode(self.variant, "mfcc", S, options=plain), m.T, atol=2e-3)

  @chex.variants(with_jit=True, without_jit=True)
  def test_logfreq_vs_numpy(self):
    from specst_jax import features
    S = _mag()
    fb = features.logfreq_filterbank(sr=STFT.sr, n_fft=STFT.n_fft, dtype=np.float64)
    twin = librosa.amplitude_to_db(S @ fb, ref=np.max, amin=1e-5, top_db=80.0)
    np.testing.assert_allclose(_encode(self.variant, "logfreq", S), twin, atol=1e-3)

  @chex.variants(with_jit=True, without_jit=True)
  def test_stack_is_its_parts_side_by_side(self):
    # twins: librosa log-mel + librosa delta, and the numpy semitone filterbank in dB
    from specst_jax import features
    S = _mag()
    log_mel = _log_mel_twin(S)
    fb = features.logfreq_filterbank(sr=STFT.sr, n_fft=STFT.n_fft, dtype=np.float64)
    twin = np.concatenate([log_mel, librosa.feature.delta(log_mel.T, order=1).T,
                           librosa.amplitude_to_db(S @ fb, ref=np.max, amin=1e-5, top_db=80.0)],
                          axis=-1)
    got = _encode(self.variant, "log_mel_deltas+logfreq", S)
    assert got.shape == twin.shape
    assert R.get("log_mel_deltas+logfreq").n_channels(STFT, OPTS) == twin.shape[-1]
    np.testing.assert_allclose(got, twin, atol=2e-3)
    assert not R.get("log_mel_deltas+logfreq").invertible

  @parameterized.parameters("log_mel+log_mel", "log_mel+", "unit_db_image+log_mel", "log_mel+db")
  def test_bad_stack(self, name):
    with pytest.raises(ValueError, match=r"stack|one of"):
      R.get(name)

  @parameterized.parameters(*R.REPRESENTATIONS, "unit_db+mfcc")
  def test_channels_and_batch(self, name):
    S = np.stack([_mag(), 1e-3 * _mag(_audio(seed=1))])  # a quieter second clip
    x = np.asarray(R.encode(name, S, STFT, OPTS))
    assert x.shape[-1] == R.get(name).n_channels(STFT, OPTS)
    # maxima and floors per spectrogram: a batch gives each clip's own result
    for i in range(2):
      np.testing.assert_allclose(x[i], R.encode(name, S[i], STFT, OPTS), atol=1e-4)

  def test_bad_input(self):
    with pytest.raises(ValueError, match="one of .*unit_db.*got 'db'"):
      R.get("db")
    with pytest.raises(ValueError, match=r"\[..., frames, 129\]"):
      R.encode("unit_db", np.ones((4, 100)), STFT)
    with pytest.raises(ValueError, match="cannot be decoded"):
      R.decode("mfcc", np.ones((4, 13)))
    with pytest.raises(ValueError, match="floor_db"):
      R.display_db(np.ones((2, 2)), floor_db=0)


class DecodeTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters("unit_db", "unit_db_image", "log1p")
  def test_round_trip(self, name):
    S = np.float32(_mag())
    ref = S.max()
    x = R.encode(name, S, STFT)
    back = np.asarray(self.variant(lambda x, r: R.decode(name, x, ref=r))(x, ref))
    above = S > ref * 10 ** (-79 / 20)  # the dB ones keep 80 dB, zero below
    np.testing.assert_allclose(back[above], S[above], rtol=2e-4)
    if name == "log1p":
      np.testing.assert_allclose(back, S, rtol=1e-5, atol=1e-6)
    else:
      assert np.all(back[~above] <= ref * 10 ** (-79 / 20) * 1.01)

  @chex.variants(with_jit=True, without_jit=True)
  def test_decode_matches_the_old_from_representation(self):
    # style/pipeline.from_representation at f3be592 (unit_db): clip to [0, 1], 0 -> 0,
    # else 10 ** ((u - 1) * 80 / 20) * ref.
    u = np.float32([[-0.5, 0.0, 0.25, 0.5, 1.0, 1.5]])
    ref = np.float32(3.0)
    old = np.where(u > 0, 10.0 ** ((np.clip(u, 0, 1) - 1) * 4.0), 0.0) * ref
    got = self.variant(lambda u: R.decode("unit_db", u, ref=ref))(u)
    np.testing.assert_allclose(got, old, rtol=1e-6)
    np.testing.assert_allclose(R.decode("log1p", np.float32([[-1.0, 0.0, 2.0]])),
                               [[0.0, 0.0, np.expm1(2.0)]], rtol=1e-6)


class DisplayDbTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_equals_the_old_display_copies(self):
    S = _mag()
    got = np.asarray(self.variant(R.display_db)(S))
    top = S.max()
    old_figure1 = 20 * np.log10(np.maximum(S, top * 1e-4) / top)
    old_style = 20 * np.log10(np.maximum(S, 1e-5 * top) / top)
    np.testing.assert_allclose(got, old_figure1, atol=1e-4)
    np.testing.assert_allclose(got, np.maximum(old_style, -80.0), atol=1e-4)  # vmin=-80
    assert got.max() == 0.0 and got.min() == -80.0

  def test_per_spectrogram_and_silence(self):
    S = np.stack([_mag(), 10 * _mag()])
    got = np.asarray(R.display_db(S, floor_db=60.0))
    np.testing.assert_allclose(got[0], got[1], atol=1e-4)
    assert got.min() == pytest.approx(-60.0)
    np.testing.assert_array_equal(R.display_db(np.zeros((3, 4))), -80.0)


def test_registry_is_read_only():
  with pytest.raises(TypeError):
    R.REPRESENTATIONS["x"] = R.REPRESENTATIONS["unit_db"]  # type: ignore[index]
  assert hash(R.Options()) == hash(R.Options())  # hashable: a static jit argument
