"""specst_jax.features vs librosa / scipy / a numpy twin, gradients and bad arguments.

Tolerances (float32 features, float64 host matrices):
  * filterbanks (mel vs librosa.filters.mel(...).T, log-frequency vs the numpy twin below):
    max |error| <= 1e-5 * max |reference|.
  * melspectrogram, mfcc, deltas, spectral_centroid vs librosa, dct vs scipy.fft.dct,
    logfreq_spectrogram vs its twin: max |error| <= 1e-4 * max |reference| (the issue's bar;
    observed errors are ~1e-6).
Parity tests run jitted and not jitted (chex variants).
"""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest
import scipy.fft
import scipy.signal
from absl.testing import parameterized
from conftest import DATA, band_rel_err, clip, db_err, noise, rel_err

from specst_jax import features as F
from specst_jax import spectral

LJSPEECH_CLIP = DATA / "speech" / "ljspeech" / "LJ001-0001.flac"
ESC50_CLIP = DATA / "esc50_16k" / "audio" / "1-100038-A-14.flac"

FB_RTOL = 1e-5
RTOL = 1e-4
SR = 16000
STFT = dict(n_fft=512, hop_length=128)


def _T(x):
  """librosa's [..., bins, frames] -> ours [..., frames, bins]."""
  return np.swapaxes(np.asarray(x), -1, -2)


# ----------------------------------------------------------------------------
# Mel scale and filterbank
# ----------------------------------------------------------------------------


class MelScaleTest(parameterized.TestCase):

  @parameterized.parameters(False, True)
  def test_hz_mel_match_librosa(self, htk):
    f = np.array([0.0, 20.0, 440.0, 999.0, 1000.0, 1001.0, 4000.0, 11025.0])
    np.testing.assert_allclose(F.hz_to_mel(f, htk=htk), librosa.hz_to_mel(f, htk=htk),
                               rtol=1e-12)
    m = librosa.hz_to_mel(f, htk=htk)
    np.testing.assert_allclose(F.mel_to_hz(m, htk=htk), librosa.mel_to_hz(m, htk=htk),
                               rtol=1e-12, atol=1e-9)
    # jax inputs give jax outputs, also under jit, with finite gradients (incl. f = 0).
    jf = jnp.asarray(f, jnp.float32)
    np.testing.assert_allclose(jax.jit(functools.partial(F.hz_to_mel, htk=htk))(jf),
                               librosa.hz_to_mel(f, htk=htk), rtol=1e-6)
    grad = jax.grad(lambda x: jnp.sum(F.mel_to_hz(F.hz_to_mel(x, htk=htk), htk=htk)))(jf)
    np.testing.assert_allclose(grad, 1.0, rtol=1e-4)

  @parameterized.parameters(False, True)
  def test_mel_frequencies(self, htk):
    np.testing.assert_allclose(F.mel_frequencies(40, fmin=30.0, fmax=8000.0, htk=htk),
                               librosa.mel_frequencies(40, fmin=30.0, fmax=8000.0, htk=htk),
                               rtol=1e-12)


class MelFilterbankTest(parameterized.TestCase):

  @parameterized.product(
      htk=[False, True],
      norm=["slaney", None],
      config=[(22050, 2048, 128, 0.0, None), (16000, 512, 40, 50.0, 7000.0),
              (8000, 255, 20, 0.0, 4000.0)],
  )
  def test_matches_librosa(self, htk, norm, config):
    sr, n_fft, n_mels, fmin, fmax = config
    got = F.mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk,
                           norm=norm)
    expected = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                                   htk=htk, norm=norm).T
    self.assertEqual(got.shape, (n_fft // 2 + 1, n_mels))
    self.assertEqual(got.dtype, np.float32)
    self.assertLessEqual(rel_err(got, expected), FB_RTOL)


# ----------------------------------------------------------------------------
# Mel spectrogram, MFCC, DCT
# ----------------------------------------------------------------------------


class MelspectrogramTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(
      dict(),
      dict(power=1.0, n_mels=40, fmin=60.0, fmax=7600.0),
      dict(htk=True, norm=None, n_mels=64),
      dict(center=False, window="hamming", win_length=400, hop_length=160),
  )
  def test_matches_librosa(self, **options):
    kwargs = dict(sr=SR, **STFT, n_mels=32)
    kwargs.update(options)
    y = noise(4000)
    got = self.variant(functools.partial(F.melspectrogram, **kwargs))(y)
    expected = _T(librosa.feature.melspectrogram(y=y, **kwargs))
    self.assertLessEqual(rel_err(got, expected), RTOL)

  @chex.variants(with_jit=True, without_jit=True)
  def test_from_spectrogram(self):
    y = noise(4000, seed=1)
    S = np.abs(librosa.stft(y, **STFT)) ** 2
    got = self.variant(lambda S: F.melspectrogram(S=S, sr=SR, n_mels=32))(_T(S))  # n_fft inferred
    expected = _T(librosa.feature.melspectrogram(S=S, sr=SR, n_mels=32))
    self.assertLessEqual(rel_err(got, expected), RTOL)

  def test_batched_equals_per_example(self):
    y = noise(4000, seed=2, shape=(2, 3))
    fn = jax.jit(functools.partial(F.melspectrogram, sr=SR, **STFT, n_mels=32))
    got = np.asarray(fn(y))
    for i in range(2):
      for j in range(3):
        np.testing.assert_allclose(got[i, j], fn(y[i, j]), rtol=1e-6, atol=0)
    self.assertLessEqual(rel_err(got, _T(librosa.feature.melspectrogram(
        y=y, sr=SR, **STFT, n_mels=32))), RTOL)


class DctTest(parameterized.TestCase):

  @parameterized.product(dct_type=[2, 3], norm=["ortho", None], n=[None, 7, 16], axis=[0, -1])
  def test_matches_scipy(self, dct_type, norm, n, axis):
    x = np.random.default_rng(3).standard_normal((10, 12)).astype(np.float32)
    got = F.dct(x, n=n, axis=axis, norm=norm, dct_type=dct_type)
    expected = scipy.fft.dct(x.astype(np.float64), type=dct_type, n=n, axis=axis, norm=norm)
    self.assertLessEqual(rel_err(got, expected), 1e-6)

  def test_ortho_is_orthonormal_and_jits(self):
    x = jnp.asarray(np.random.default_rng(4).standard_normal((5, 20)), jnp.float32)
    y = jax.jit(F.dct)(x)
    np.testing.assert_allclose(jnp.sum(y**2, -1), jnp.sum(x**2, -1), rtol=1e-5)
    np.testing.assert_allclose(F.dct(y, dct_type=3), x, atol=1e-5)


class MfccTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(
      dict(),
      dict(n_mfcc=13, lifter=22),
      dict(n_mfcc=20, lifter=5, dct_type=3),
      dict(n_mfcc=12, norm=None, mel_norm=None, htk=True, fmax=7000.0),
  )
  def test_matches_librosa(self, **options):
    kwargs = dict(sr=SR, **STFT, n_mels=40)
    kwargs.update(options)
    y = noise(4000, seed=5)
    got = self.variant(functools.partial(F.mfcc, **kwargs))(y)
    expected = _T(librosa.feature.mfcc(y=y, **kwargs))
    self.assertLessEqual(rel_err(got, expected), RTOL)

  @chex.variants(with_jit=True, without_jit=True)
  def test_from_log_mel(self):
    y = noise(4000, seed=6)
    log_mel = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=SR, **STFT, n_mels=40))
    got = self.variant(lambda S: F.mfcc(S=S, sr=SR, n_mfcc=13, lifter=22))(_T(log_mel))
    expected = _T(librosa.feature.mfcc(S=log_mel, sr=SR, n_mfcc=13, lifter=22))
    self.assertLessEqual(rel_err(got, expected), RTOL)

  def test_batch_floor_is_per_spectrogram(self):
    # A loud and a quiet clip: each is floored 80 dB below its own maximum.
    y = np.stack([noise(4000, seed=7), 1e-3 * noise(4000, seed=8)])
    got = np.asarray(F.mfcc(y, sr=SR, **STFT, n_mels=40, n_mfcc=13))
    for i in range(2):
      expected = _T(librosa.feature.mfcc(y=y[i], sr=SR, **STFT, n_mels=40, n_mfcc=13))
      self.assertLessEqual(rel_err(got[i], expected), RTOL)


# ----------------------------------------------------------------------------
# Deltas
# ----------------------------------------------------------------------------


class DeltasTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.product(width=[3, 5, 9], order=[1, 2])
  def test_interp_matches_librosa(self, width, order):
    x = np.random.default_rng(9).standard_normal((3, 30, 13)).astype(np.float32)
    got = self.variant(functools.partial(F.deltas, width=width, order=order))(x)
    expected = librosa.feature.delta(x, width=width, order=order, axis=-2)
    self.assertLessEqual(rel_err(got, expected), RTOL)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters("nearest", "mirror", "constant", "wrap")
  def test_other_modes_match_librosa(self, mode):
    x = np.random.default_rng(10).standard_normal((20, 6)).astype(np.float32)
    for order in (1, 2):
      got = self.variant(functools.partial(F.deltas, width=5, order=order, mode=mode))(x)
      expected = librosa.feature.delta(x, width=5, order=order, axis=-2, mode=mode)
      self.assertLessEqual(rel_err(got, expected), RTOL)

  @parameterized.parameters(3, 5, 9)
  def test_edges_only(self, width):
    # As many frames as the window: every output comes from an edge polynomial fit.
    x = np.random.default_rng(11).standard_normal((width, 4)).astype(np.float32)
    for order in (1, 2):
      np.testing.assert_allclose(
          F.deltas(x, width=width, order=order),
          librosa.feature.delta(x, width=width, order=order, axis=-2), rtol=0,
          atol=RTOL * np.abs(librosa.feature.delta(x, width=width, order=order, axis=-2)).max())

  def test_polynomials_are_exact(self):
    # A degree-`order` polynomial in time: the delta is its exact derivative everywhere.
    t = np.arange(25, dtype=np.float64)
    line = np.stack([2.0 * t + 1.0, -0.5 * t], axis=-1)
    np.testing.assert_allclose(F.deltas(line, width=7), [[2.0, -0.5]] * 25, atol=1e-4)
    parabola = (0.1 * t**2 - t)[:, None]
    np.testing.assert_allclose(F.deltas(parabola, width=5, order=2), 0.2, atol=1e-4)

  def test_axis_argument(self):
    x = np.random.default_rng(12).standard_normal((7, 40)).astype(np.float32)
    np.testing.assert_allclose(F.deltas(x, axis=-1), librosa.feature.delta(x, axis=-1),
                               atol=RTOL * 3)
    np.testing.assert_allclose(F.deltas(x.T).T, F.deltas(x, axis=1), atol=1e-6)

  def test_savgol_identity(self):
    x = np.random.default_rng(13).standard_normal((18, 3))
    np.testing.assert_allclose(
        F.deltas(x, width=7, order=2),
        scipy.signal.savgol_filter(x, 7, polyorder=2, deriv=2, axis=0, mode="interp"),
        atol=1e-5)

  def test_stack_deltas(self):
    x = np.random.default_rng(14).standard_normal((2, 30, 13)).astype(np.float32)
    stacked = np.asarray(jax.jit(F.stack_deltas)(x))
    self.assertEqual(stacked.shape, (2, 30, 39))
    np.testing.assert_allclose(stacked[..., :13], x)
    np.testing.assert_allclose(stacked[..., 13:26], F.deltas(x, order=1), atol=1e-6)
    np.testing.assert_allclose(stacked[..., 26:], F.deltas(x, order=2), atol=1e-6)
    self.assertEqual(F.stack_deltas(x, width=5, orders=(1,)).shape, (2, 30, 26))


# ----------------------------------------------------------------------------
# Spectral centroid
# ----------------------------------------------------------------------------


class SpectralCentroidTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(dict(), dict(center=False, window="blackman", n_fft=400))
  def test_matches_librosa(self, **options):
    kwargs = dict(sr=SR, **STFT)
    kwargs.update(options)
    y = noise(4000, seed=15) * np.linspace(0.0, 1.0, 4000, dtype=np.float32)
    got = self.variant(functools.partial(F.spectral_centroid, **kwargs))(y)
    expected = librosa.feature.spectral_centroid(y=y, **kwargs)[0]
    self.assertEqual(got.ndim, 1)
    self.assertLessEqual(rel_err(got, expected), RTOL)

  @chex.variants(with_jit=True, without_jit=True)
  def test_from_spectrogram_with_silent_frame(self):
    S = np.abs(librosa.stft(noise(4000, seed=16), **STFT))
    S[:, 3] = 0.0  # a silent frame has centroid 0
    freq = np.linspace(0.0, 5000.0, S.shape[0])
    got = np.asarray(self.variant(lambda S: F.spectral_centroid(S=S, sr=SR))(_T(S)))
    expected = librosa.feature.spectral_centroid(S=S, sr=SR)[0]
    self.assertEqual(got[3], 0.0)
    self.assertLessEqual(rel_err(got, expected), RTOL)
    got = F.spectral_centroid(S=_T(S), sr=SR, freq=freq)
    self.assertLessEqual(rel_err(got, librosa.feature.spectral_centroid(S=S, freq=freq)[0]),
                         RTOL)

  def test_sinusoid(self):
    y = np.sin(2 * np.pi * 1500.0 * np.arange(4000) / SR).astype(np.float32)
    c = np.asarray(F.spectral_centroid(y, sr=SR, **STFT))
    np.testing.assert_allclose(c[2:-2], 1500.0, rtol=0.02)


# ----------------------------------------------------------------------------
# Log-frequency spectrogram
# ----------------------------------------------------------------------------


def _logfreq_twin(*, sr, n_fft, fmin, bins_per_octave, n_bins, norm):
  """Independent numpy twin of logfreq_filterbank: one filter at a time, bins in a loop."""
  fb = np.zeros((n_fft // 2 + 1, n_bins))
  df = sr / n_fft
  for k in range(n_bins):
    lo, centre, hi = (fmin * 2.0 ** ((k + d) / bins_per_octave) for d in (-1, 0, 1))
    rise = max(centre - lo, df)
    fall = max(hi - centre, df)
    for b in range(n_fft // 2 + 1):
      f = b * df
      if centre - rise < f <= centre:
        fb[b, k] = (f - (centre - rise)) / rise
      elif centre < f < centre + fall:
        fb[b, k] = ((centre + fall) - f) / fall
    if norm == "sum":
      fb[:, k] /= fb[:, k].sum()
  return fb


class LogfreqTest(chex.TestCase):

  @parameterized.parameters(
      dict(sr=16000, n_fft=512, fmin=32.703195662574764, bins_per_octave=12, n_bins=None,
           norm="sum"),
      dict(sr=22050, n_fft=1024, fmin=55.0, bins_per_octave=24, n_bins=100, norm=None),
      dict(sr=8000, n_fft=256, fmin=100.0, bins_per_octave=6, n_bins=None, norm=None),
  )
  def test_filterbank_matches_twin(self, **kwargs):
    got = F.logfreq_filterbank(**kwargs)
    if kwargs["n_bins"] is None:  # as many as fit: the top upper edge is <= Nyquist
      n = got.shape[1]
      top = kwargs["fmin"] * 2.0 ** (n / kwargs["bins_per_octave"])
      self.assertLessEqual(top, kwargs["sr"] / 2)
      self.assertGreater(kwargs["fmin"] * 2.0 ** ((n + 1) / kwargs["bins_per_octave"]),
                         kwargs["sr"] / 2)
      kwargs = dict(kwargs, n_bins=n)
    expected = _logfreq_twin(**kwargs)
    self.assertLessEqual(rel_err(got, expected), FB_RTOL)

  def test_no_empty_filters(self):
    # Semitones from C1 with 31 Hz FFT bins: the low bands are much narrower than a bin.
    fb = F.logfreq_filterbank(sr=16000, n_fft=512, norm=None)
    self.assertGreaterEqual(float(fb.max(axis=0).min()), 0.5)
    fb_sum = F.logfreq_filterbank(sr=16000, n_fft=512)
    np.testing.assert_allclose(fb_sum.sum(axis=0), 1.0, rtol=1e-5)
    # Where bands are wider than a bin, peak-one triangles are a partition of unity.
    fb = F.logfreq_filterbank(sr=16000, n_fft=4096, fmin=200.0, norm=None)
    centres = F.logfreq_frequencies(fmin=200.0, n_bins=fb.shape[1])
    freqs = np.fft.rfftfreq(4096, 1.0 / 16000)
    inside = (freqs >= centres[0]) & (freqs <= centres[-1])
    np.testing.assert_allclose(fb[inside].sum(axis=1), 1.0, atol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(dict(power=1.0, norm="sum"), dict(power=2.0, norm=None))
  def test_spectrogram_matches_twin(self, power, norm):
    y = noise(4000, seed=17)
    got = self.variant(functools.partial(F.logfreq_spectrogram, sr=SR, **STFT, power=power,
                                         norm=norm))(y)
    S = np.abs(librosa.stft(y.astype(np.float64), **STFT)).T ** power
    fb = _logfreq_twin(sr=SR, n_fft=512, fmin=32.703195662574764, bins_per_octave=12,
                       n_bins=got.shape[-1], norm=norm)
    self.assertLessEqual(rel_err(got, S @ fb), RTOL)

  @parameterized.parameters(
      (440.0, 45),  # A4 = MIDI 69 = 24 + 45 with the default fmin (C1)
      (261.6255653005986, 36),  # C4
      (440.0 * 2 ** (0.2 / 12), 45),  # a fifth of a semitone sharp: still A4
      (3520.0 * 2 ** (-0.2 / 12), 81),  # A7, a fifth of a semitone flat
      (1000.0, 59),
  )
  def test_sinusoid_peak_in_right_band(self, freq, band):
    y = np.sin(2 * np.pi * freq * np.arange(8000) / SR).astype(np.float32)
    L = np.asarray(F.logfreq_spectrogram(y, sr=SR, n_fft=4096, hop_length=1024))
    self.assertEqual(int(np.argmax(L[L.shape[0] // 2])), band)
    centres = F.logfreq_frequencies(n_bins=L.shape[-1])
    self.assertLess(abs(12 * np.log2(freq / centres[band])), 0.5)

  def test_from_spectrogram(self):
    y = noise(4000, seed=18)
    S = spectral.magnitude(spectral.stft(y, **STFT))
    np.testing.assert_allclose(F.logfreq_spectrogram(S=S, sr=SR, n_bins=60),
                               F.logfreq_spectrogram(y, sr=SR, **STFT, n_bins=60), rtol=1e-6)


# ----------------------------------------------------------------------------
# Real clips
# ----------------------------------------------------------------------------


class RealClipTest(chex.TestCase, parameterized.TestCase):

  @parameterized.parameters([ESC50_CLIP, 512, 128], [LJSPEECH_CLIP, 1024, 256])
  def test_quiet_mel_bands_in_db(self, path, n_fft, hop_length):
    """Mel power in dB against librosa on the float64 signal, quiet bands included.

    Bar: 0.01 dB wherever the reference is within 100 dB of the clip's peak (observed
    <= 0.0012 dB; librosa's own float32 path: 2e-6 dB), and per band max |error| <= 1e-4
    of the band's own peak (observed <= 4e-6). A peak-relative error cannot see these bands.
    """
    y, sr = clip(path, seconds=3.0)
    kwargs = dict(sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=64)
    got = np.asarray(jax.jit(functools.partial(F.melspectrogram, **kwargs))(y))
    ref = _T(librosa.feature.melspectrogram(y=y.astype(np.float64), **kwargs))
    band_peak_db = 10 * np.log10(ref.max(axis=0) / ref.max())
    self.assertLess(band_peak_db.min(), -30.0, "the clip should have a band 30 dB down")
    self.assertLessEqual(db_err(got, ref, floor_db=-100.0), 0.01)
    self.assertLessEqual(band_rel_err(got, ref).max(), 1e-4)

  @chex.variants(with_jit=True, without_jit=True)
  def test_speech_features(self):
    y, sr = clip(LJSPEECH_CLIP)
    kwargs = dict(sr=sr, n_fft=1024, hop_length=256)

    def all_features(y):
      mel = F.melspectrogram(y, **kwargs, n_mels=80)
      mfcc = F.mfcc(y, **kwargs, n_mels=80, n_mfcc=13)
      return mel, mfcc, F.deltas(mfcc), F.deltas(mfcc, order=2, width=5), F.spectral_centroid(
          y, **kwargs)

    mel, mfcc, d1, d2, centroid = self.variant(all_features)(y)
    ref_mfcc = librosa.feature.mfcc(y=y, **kwargs, n_mels=80, n_mfcc=13)
    self.assertLessEqual(rel_err(mel, _T(librosa.feature.melspectrogram(y=y, **kwargs,
                                                                          n_mels=80))), RTOL)
    self.assertLessEqual(rel_err(mfcc, _T(ref_mfcc)), RTOL)
    self.assertLessEqual(rel_err(d1, _T(librosa.feature.delta(ref_mfcc))), RTOL)
    self.assertLessEqual(rel_err(d2, _T(librosa.feature.delta(ref_mfcc, order=2, width=5))),
                         RTOL)
    self.assertLessEqual(
        rel_err(centroid, librosa.feature.spectral_centroid(y=y, **kwargs)[0]), RTOL)

  def test_esc50_mel(self):
    y, sr = clip(ESC50_CLIP, seconds=5.0)
    got = jax.jit(functools.partial(F.melspectrogram, sr=sr, n_fft=1024, hop_length=512))(y)
    expected = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=1024, hop_length=512)
    self.assertLessEqual(rel_err(got, _T(expected)), RTOL)


# ----------------------------------------------------------------------------
# Gradients, vmap
# ----------------------------------------------------------------------------


class GradientTest(parameterized.TestCase):

  @parameterized.parameters(["random"], ["zeros"])
  def test_gradients_finite(self, signal):
    y = jnp.asarray(noise(2048, seed=19) if signal == "random" else np.zeros(2048, np.float32))
    kwargs = dict(sr=SR, **STFT)
    losses = {
        "log_mel": lambda y: jnp.sum(jnp.log(F.melspectrogram(y, **kwargs, n_mels=32) + 1e-6)),
        "mfcc_deltas": lambda y: jnp.sum(F.stack_deltas(F.mfcc(y, **kwargs, n_mels=32,
                                                                  n_mfcc=13), width=5) ** 2),
        "centroid": lambda y: jnp.sum(F.spectral_centroid(y, **kwargs)),
        "logfreq": lambda y: jnp.sum(jnp.log1p(F.logfreq_spectrogram(y, **kwargs))),
    }
    for name, loss in losses.items():
      grad = jax.jit(jax.grad(loss))(y)
      self.assertTrue(bool(jnp.all(jnp.isfinite(grad))), name)
      if signal == "random" and name != "centroid":
        self.assertGreater(float(jnp.max(jnp.abs(grad))), 0.0, name)

  def test_vmap(self):
    y = noise(2048, seed=20, shape=(3,))
    fn = functools.partial(F.mfcc, sr=SR, **STFT, n_mels=32, n_mfcc=13)
    np.testing.assert_allclose(jax.vmap(fn)(y), fn(y), atol=1e-4)


# ----------------------------------------------------------------------------
# Bad arguments
# ----------------------------------------------------------------------------


class BadArgumentTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("fmax_above_nyquist", F.mel_filterbank, dict(sr=16000, n_fft=512, fmax=9000.0), "fmax"),
      ("fmin_above_fmax", F.mel_filterbank, dict(sr=16000, n_fft=512, fmin=5000.0, fmax=4000.0),
       "fmin"),
      ("fmin_negative", F.mel_filterbank, dict(sr=16000, n_fft=512, fmin=-1.0), "fmin"),
      ("n_mels_zero", F.mel_filterbank, dict(sr=16000, n_fft=512, n_mels=0), "n_mels"),
      ("mel_norm", F.mel_filterbank, dict(sr=16000, n_fft=512, norm="l2"), "norm"),
      ("mel_n_fft", F.mel_filterbank, dict(sr=16000, n_fft=1), "n_fft"),
      ("sr_zero", F.mel_filterbank, dict(sr=0, n_fft=512), "sr"),
      ("logfreq_too_many", F.logfreq_filterbank, dict(sr=16000, n_fft=512, n_bins=200),
       "n_bins"),
      ("logfreq_fmin", F.logfreq_filterbank, dict(sr=16000, n_fft=512, fmin=0.0), "fmin"),
      ("logfreq_fmin_nyquist", F.logfreq_filterbank, dict(sr=16000, n_fft=512, fmin=9000.0),
       "fmin"),
      ("logfreq_bpo", F.logfreq_filterbank, dict(sr=16000, n_fft=512, bins_per_octave=0),
       "bins_per_octave"),
      ("logfreq_norm", F.logfreq_filterbank, dict(sr=16000, n_fft=512, norm="max"), "norm"),
  )
  def test_filterbank_arguments(self, fn, kwargs, name):
    with self.assertRaisesRegex(ValueError, name):
      fn(**kwargs)

  @parameterized.named_parameters(
      ("width_even", dict(width=4), "width"),
      ("width_small", dict(width=1), "width"),
      ("width_too_long", dict(width=11), "width"),
      ("order_zero", dict(order=0), "order"),
      ("order_float", dict(order=1.0), "order"),
      ("order_ge_width", dict(width=3, order=3), "order"),
      ("mode", dict(mode="reflect"), "mode"),
  )
  def test_delta_arguments(self, kwargs, name):
    with self.assertRaisesRegex(ValueError, name):
      F.deltas(np.zeros((10, 4), np.float32), **kwargs)

  def test_feature_arguments(self):
    y = noise(2048)
    with self.assertRaisesRegex(ValueError, "exactly one of y"):
      F.melspectrogram(sr=SR)
    with self.assertRaisesRegex(ValueError, "exactly one of y"):
      F.melspectrogram(y, S=np.ones((4, 257)), sr=SR)
    with self.assertRaisesRegex(ValueError, "fmax"):
      F.melspectrogram(y, sr=SR, fmax=10000.0)
    with self.assertRaisesRegex(ValueError, "n_mels"):
      F.melspectrogram(y, sr=SR, n_mels=0)
    with self.assertRaisesRegex(ValueError, "power"):
      F.melspectrogram(y, sr=SR, power=0.0)
    with self.assertRaisesRegex(ValueError, "n_mfcc"):
      F.mfcc(y, sr=SR, n_mels=20, n_mfcc=30)
    with self.assertRaisesRegex(ValueError, "lifter"):
      F.mfcc(y, sr=SR, lifter=-1)
    with self.assertRaisesRegex(ValueError, "dct_type"):
      F.mfcc(y, sr=SR, dct_type=1)
    with self.assertRaisesRegex(ValueError, "exactly one of y"):
      F.mfcc(sr=SR)
    with self.assertRaisesRegex(ValueError, "freq"):
      F.spectral_centroid(y, sr=SR, n_fft=512, freq=np.arange(10.0))
    with self.assertRaisesRegex(ValueError, "n_fft"):
      F.spectral_centroid(y, sr=SR, n_fft=1)
    with self.assertRaisesRegex(ValueError, "norm"):
      F.dct(y, norm="forward")


if __name__ == "__main__":
  pytest.main([__file__])
