"""Parity of specst_jax.spectral (stft / istft) with librosa, round trips, gradients, bad input.

Tolerances (float32 throughout):
  * stft vs librosa.stft: max |error| <= 1e-5 * max |librosa| (relative to the largest magnitude).
  * istft vs librosa.istft and istft(stft(x)) vs x: max |error| <= 1e-5 * max |reference|.
Every parity test runs jitted and not jitted (chex variants).
"""

from __future__ import annotations

import functools
import warnings

import chex
import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest
import soundfile as sf
from absl.testing import parameterized
from conftest import DATA, band_rel_err, clip, db_err, noise, rel_err

from specst_jax import spectral

ESC50_CLIP = DATA / "esc50_16k" / "audio" / "1-100038-A-14.flac"
LJSPEECH_CLIP = DATA / "speech" / "ljspeech" / "LJ001-0001.flac"

RTOL = 1e-5
EXPLICIT_WINDOW = np.sin(np.pi * (np.arange(200) + 0.5) / 200)  # sine window, length 200
WINDOWS = {
    "hann": "hann",
    "hamming": "hamming",
    "blackman": "blackman",
    "gaussian": ("gaussian", 40.0),
    "array": EXPLICIT_WINDOW,
}


def _librosa_stft(y, **kwargs):
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    return np.swapaxes(librosa.stft(y, **kwargs), -1, -2)


def _fade_twin(n_frames, *, length, n_fft, hop_length, win_length, window, center):
  """``wss / max(wss, 0.15 * max(wss))`` on the output samples, from librosa's window_sumsquare."""
  wss = librosa.filters.window_sumsquare(window=window, n_frames=n_frames, n_fft=n_fft,
                                         hop_length=hop_length, win_length=win_length,
                                         dtype=np.float64)
  fade = wss / np.maximum(wss, 0.15 * wss.max())
  start = n_fft // 2 if center else 0
  fade = fade[start:start + length]
  return np.pad(fade, (0, length - fade.shape[0]))  # past the last frame: nothing, zero


class StftParityTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.product(window=list(WINDOWS), center=[True, False])
  def test_windows(self, window, center):
    y = noise(3001)
    win_length = 200 if window == "array" else None
    kwargs = dict(n_fft=256, hop_length=64, win_length=win_length, window=WINDOWS[window],
                  center=center)
    got = self.variant(functools.partial(spectral.stft, **kwargs))(y)
    self.assertLessEqual(rel_err(got, _librosa_stft(y, **kwargs)), RTOL)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(
      # n_fft, win_length, hop_length, center, pad_mode
      (256, None, 64, True, "constant"),   # hop divides n_fft
      (256, None, 64, False, "constant"),
      (256, 200, 50, True, "reflect"),     # win_length < n_fft; hop divides win, not n_fft
      (255, None, 70, True, "constant"),   # odd n_fft, hop divides neither
      (255, None, 70, False, "constant"),
      (256, None, 100, True, "reflect"),   # hop does not divide n_fft
  )
  def test_sizes_and_padding(self, n_fft, win_length, hop_length, center, pad_mode):
    y = noise(2000, seed=1)
    kwargs = dict(n_fft=n_fft, hop_length=hop_length, win_length=win_length, center=center,
                  pad_mode=pad_mode)
    got = self.variant(functools.partial(spectral.stft, **kwargs))(y)
    expected = _librosa_stft(y, **kwargs)
    self.assertEqual(got.shape[-2], spectral.num_frames(
        2000, n_fft=n_fft, hop_length=hop_length, center=center))
    self.assertLessEqual(rel_err(got, expected), RTOL)

  @chex.variants(with_jit=True, without_jit=True)
  def test_default_hop_is_quarter_window(self):
    y = noise(1500, seed=2)
    got = self.variant(functools.partial(spectral.stft, n_fft=128, win_length=96))(y)
    expected = _librosa_stft(y, n_fft=128, win_length=96)  # librosa: hop = win_length // 4
    self.assertLessEqual(rel_err(got, expected), RTOL)

  @chex.variants(with_jit=True, without_jit=True)
  def test_batched_equals_per_example(self):
    y = noise(1200, seed=3, shape=(2, 3))
    fn = self.variant(functools.partial(spectral.stft, n_fft=128, hop_length=48))
    got = np.asarray(fn(y))
    self.assertEqual(got.shape, (2, 3, 1 + 1200 // 48, 65))
    for i in range(2):
      for j in range(3):
        single = np.asarray(fn(y[i, j]))
        np.testing.assert_allclose(got[i, j], single, rtol=0, atol=RTOL * np.abs(single).max())
    self.assertLessEqual(rel_err(got, _librosa_stft(y, n_fft=128, hop_length=48)), RTOL)

  def test_vmap_equals_batch(self):
    y = noise(1000, seed=4, shape=(4,))
    fn = functools.partial(spectral.stft, n_fft=128, hop_length=32)
    np.testing.assert_allclose(jax.vmap(fn)(y), fn(y), rtol=0, atol=1e-5)


class IstftTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(
      # window, n_fft, win_length, hop_length, center, length
      ("hann", 256, None, 64, True, None),
      ("hann", 256, None, 64, True, 3100),
      ("hamming", 256, 200, 50, False, 2900),
      ("gaussian", 255, None, 70, True, 2900),
      ("blackman", 256, None, 100, False, None),
      ("blackman", 256, None, 100, False, 3100),
      ("array", 256, 200, 64, True, None),
  )
  def test_matches_librosa(self, window, n_fft, win_length, hop_length, center, length):
    win_length = 200 if window == "array" else win_length
    kwargs = dict(n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                  window=WINDOWS[window], center=center)
    # An STFT of a real signal (librosa's), so both inverses see the same input.
    X = _librosa_stft(noise(3001), **kwargs)
    got = self.variant(functools.partial(spectral.istft, length=length, **kwargs))(X)
    expected = librosa.istft(np.swapaxes(X, -1, -2), length=length, **kwargs)
    # The twin of the overlap-add rule: librosa divides by wss, we by max(wss, 0.15 max(wss)),
    # so ours = librosa's * wss / max(wss, floor) (1 wherever wss >= floor, all of a centred
    # inverse's output for these windows).
    expected = expected * _fade_twin(X.shape[-2], length=expected.shape[-1], **kwargs)
    self.assertLessEqual(rel_err(got, expected), RTOL)

  @parameterized.parameters(True, False)
  def test_never_amplifies_an_inconsistent_edge(self, center):
    # A magnitude with random phases (what style transfer hands the inverse): librosa's
    # istft turns the edge frames of a non-centred STFT into a click far above the clip;
    # ours keeps the edges below the body's level.
    kwargs = dict(n_fft=512, hop_length=128, center=center)
    rng = np.random.default_rng(0)
    X = np.abs(_librosa_stft(noise(22050), **kwargs)) * np.exp(2j * np.pi * rng.random((
        1 + (22050 + (512 if center else 0) - 512) // 128, 257)))
    ours = np.asarray(spectral.istft(X.astype(np.complex64), **kwargs))
    theirs = librosa.istft(np.swapaxes(X, -1, -2), **kwargs)

    def edge_to_body(y, edge=1024):
      return max(np.abs(y[:edge]).max(), np.abs(y[-edge:]).max()) / np.abs(y[edge:-edge]).max()

    self.assertLessEqual(edge_to_body(ours), 2.0)
    if not center:  # the flaw this rule removes, so the test can tell the two apart
      self.assertGreater(edge_to_body(theirs), 10.0)

  def test_overlap_add_gain_formula(self):
    wss = librosa.filters.window_sumsquare(window="hann", n_frames=20, n_fft=512,
                                           hop_length=128, dtype=np.float64)
    gain = spectral.overlap_add_gain(wss)
    self.assertEqual(spectral.WSS_FLOOR, 0.15)
    floor = 0.15 * wss.max()
    np.testing.assert_allclose(gain, 1.0 / np.maximum(wss, floor), rtol=1e-12)
    self.assertLessEqual(gain.max(), 1.0 / floor * (1 + 1e-12))
    inner = wss >= floor
    np.testing.assert_allclose(gain[inner] * wss[inner], 1.0, rtol=1e-12)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(
      # window, n_fft, win_length, hop_length, center
      ("hann", 256, None, 64, True),
      ("hann", 256, None, 64, False),
      ("hamming", 256, 200, 50, False),
      ("gaussian", 255, None, 70, True),
      ("blackman", 512, None, 128, False),
      ("array", 256, 200, 64, True),
  )
  def test_round_trip(self, window, n_fft, win_length, hop_length, center):
    win_length = 200 if window == "array" else win_length
    kwargs = dict(n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                  window=WINDOWS[window], center=center)
    x = noise(3000, seed=5)

    def round_trip(x, length):
      return spectral.istft(spectral.stft(x, **kwargs), length=length, **kwargs)

    with_length = np.asarray(self.variant(functools.partial(round_trip, length=3000))(x))
    without_length = np.asarray(self.variant(functools.partial(round_trip, length=None))(x))
    self.assertEqual(with_length.shape, (3000,))
    scale = np.abs(x).max()
    # Exact wherever wss >= WSS_FLOOR * max(wss); below it (the edges of a non-centred STFT,
    # the last samples of a centred one at less than 75 % overlap) faded by wss / floor.
    fade = _fade_twin(spectral.num_frames(3000, n_fft=n_fft, hop_length=hop_length,
                                          center=center), length=3000, **kwargs)
    if center and window == "hann":  # 75 % overlap: a centred inverse is exact everywhere
      np.testing.assert_array_equal(fade, 1.0)
    else:
      self.assertLess(np.count_nonzero(fade < 1), n_fft)  # only the edges fade
    np.testing.assert_allclose(with_length, x * fade, rtol=0, atol=RTOL * scale)
    covered = without_length.shape[-1]
    np.testing.assert_allclose(without_length, (x * fade)[:covered], rtol=0, atol=RTOL * scale)

  def test_round_trip_batched(self):
    x = noise(2000, seed=6, shape=(2, 3))
    X = spectral.stft(x, n_fft=256, hop_length=64)
    y = spectral.istft(X, n_fft=256, hop_length=64, length=2000)
    np.testing.assert_allclose(y, x, rtol=0, atol=RTOL * np.abs(x).max())

  def test_length_pads_with_zeros(self):
    x = noise(1000, seed=7)
    X = spectral.stft(x, n_fft=128, hop_length=32)
    y = np.asarray(spectral.istft(X, n_fft=128, hop_length=32, length=1500))
    self.assertEqual(y.shape, (1500,))
    np.testing.assert_allclose(y[:1000], x, rtol=0, atol=RTOL * np.abs(x).max())
    # 32 frames cover 128 + 31 * 32 - 64 = 1056 samples (the padding reconstructs as ~0);
    # beyond that `length` pads with exact zeros.
    np.testing.assert_allclose(y[1000:1056], 0.0, atol=RTOL * np.abs(x).max())
    np.testing.assert_array_equal(y[1056:], 0.0)

  def test_default_n_fft_from_bins(self):
    x = noise(1000, seed=8)
    X = spectral.stft(x, n_fft=128, hop_length=32)
    y = spectral.istft(X, hop_length=32, length=1000)
    np.testing.assert_allclose(y, x, rtol=0, atol=RTOL * np.abs(x).max())


class GradientTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(["random"], ["zeros"])
  def test_log_magnitude_gradient_finite(self, signal):
    n = 1024
    if signal == "random":
      x = noise(n, seed=9)
    else:  # |X| == 0 everywhere: the hardest case for sqrt
      x = np.zeros(n, np.float32)

    def loss(x):
      X = spectral.stft(x, n_fft=256, hop_length=64)
      return jnp.sum(jnp.log(spectral.magnitude(X) + 1e-6))

    grad = self.variant(jax.grad(loss))(jnp.asarray(x))
    self.assertTrue(bool(jnp.all(jnp.isfinite(grad))))
    if signal != "zeros":
      self.assertGreater(float(jnp.max(jnp.abs(grad))), 0.0)

  def test_istft_gradient_finite(self):
    X = spectral.stft(noise(800, seed=10), n_fft=128, hop_length=32)
    grad = jax.grad(lambda X: jnp.sum(spectral.istft(X, n_fft=128, hop_length=32) ** 2))(X)
    self.assertTrue(bool(jnp.all(jnp.isfinite(grad))))

  def test_magnitude_powers(self):
    X = spectral.stft(noise(600, seed=11), n_fft=64, hop_length=16)
    np.testing.assert_allclose(spectral.magnitude(X), np.abs(X), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(spectral.magnitude(X, power=2.0), np.abs(X) ** 2, rtol=1e-5)


class RealClipTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters([ESC50_CLIP, 512, 128], [LJSPEECH_CLIP, 1024, 256])
  def test_real_clip(self, path, n_fft, hop_length):
    if not path.exists():
      self.skipTest(f"data not present: {path}")
    y, _ = sf.read(path, dtype="float32", always_2d=False)
    y = y[: 3 * 22050]  # up to 3 s keeps the test fast
    fn = self.variant(functools.partial(spectral.stft, n_fft=n_fft, hop_length=hop_length))
    X = fn(y)
    self.assertLessEqual(rel_err(X, _librosa_stft(y, n_fft=n_fft, hop_length=hop_length)), RTOL)
    back = spectral.istft(X, n_fft=n_fft, hop_length=hop_length, length=y.shape[-1])
    np.testing.assert_allclose(back, y, rtol=0, atol=RTOL * np.abs(y).max())


class QuietBandTest(parameterized.TestCase):
  """Real clips with quiet bands: errors in dB and per band, which a peak-relative error hides.

  The reference is librosa on the float64 signal. Tolerances: power within 0.05 dB wherever
  the reference power is within 100 dB of the clip's peak (observed 0.006 dB on the ESC-50
  clip, 0.019 dB on LJSpeech; 0.08 dB at 120 dB: XLA's float32 FFT errs by ~1e-7 of the
  *peak*, while librosa's float32 path stays within 2e-6 dB down there); per frequency bin,
  max |error| <= 1e-4 of that bin's own peak (observed <= 1.2e-5).
  """

  @parameterized.parameters([ESC50_CLIP, 512, 128], [LJSPEECH_CLIP, 1024, 256])
  def test_quiet_bands_match_librosa(self, path, n_fft, hop_length):
    y, _ = clip(path, seconds=3.0)
    X = np.asarray(jax.jit(functools.partial(spectral.stft, n_fft=n_fft,
                                             hop_length=hop_length))(y))
    ref = _librosa_stft(y.astype(np.float64), n_fft=n_fft, hop_length=hop_length)
    peak_db = 20 * np.log10(np.abs(ref).max(axis=0) / np.abs(ref).max())
    self.assertLess(peak_db.min(), -40.0, "the clip should have a band 40 dB below the peak")
    self.assertLessEqual(db_err(np.abs(X) ** 2, np.abs(ref) ** 2, floor_db=-100.0), 0.05)
    self.assertLessEqual(band_rel_err(X, ref).max(), 1e-4)


class WindowTest(parameterized.TestCase):

  @parameterized.parameters(["hann"], ["hamming"], ["blackman"], [("gaussian", 7.5)])
  def test_windows_match_scipy(self, window):
    import scipy.signal

    for n in (16, 17):
      np.testing.assert_allclose(spectral.get_window(window, n),
                                 scipy.signal.get_window(window, n, fftbins=True), atol=1e-12)

  def test_window_sumsquare_matches_librosa(self):
    got = spectral.window_sumsquare("hann", 10, n_fft=256, hop_length=64, win_length=200)
    expected = librosa.filters.window_sumsquare(window="hann", n_frames=10, n_fft=256,
                                                hop_length=64, win_length=200)
    np.testing.assert_allclose(got, expected, atol=1e-12)

  def test_frame_and_overlap_add(self):
    x = np.arange(20.0, dtype=np.float32)
    for hop in (2, 3, 4):
      frames = np.asarray(spectral.frame(x, frame_length=4, hop_length=hop))
      expected = librosa.util.frame(x, frame_length=4, hop_length=hop, axis=0)
      np.testing.assert_array_equal(frames, expected)
      ola = np.asarray(spectral.overlap_add(np.ones_like(frames), hop_length=hop))
      self.assertEqual(ola.shape, (4 + hop * (len(frames) - 1),))

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters((8, 2), (8, 3), (7, 7), (5, 8), (6, 4))
  def test_overlap_add_matches_numpy_loop(self, frame_length, hop):
    """Values against the textbook loop ``y[i h : i h + L] += frames[i]`` (float64 numpy),
    for hops that divide the frame, do not, equal it, and exceed it (gaps stay zero)."""
    frames = noise(frame_length, seed=12, shape=(2, 9))  # batch 2, 9 frames
    expected = np.zeros((2, frame_length + hop * 8))
    for i in range(9):
      expected[:, i * hop:i * hop + frame_length] += frames[:, i]
    got = np.asarray(self.variant(functools.partial(spectral.overlap_add, hop_length=hop))(frames))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6 * np.abs(expected).max())


class BadInputTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("n_fft_1", dict(n_fft=1), "n_fft"),
      ("n_fft_float", dict(n_fft=256.0), "n_fft"),
      ("hop_0", dict(n_fft=256, hop_length=0), "hop_length"),
      ("win_too_long", dict(n_fft=256, win_length=300), "win_length"),
      ("win_0", dict(n_fft=256, win_length=0), "win_length"),
      ("unknown_window", dict(n_fft=256, window="kaiser-bessel"), "window"),
      ("gaussian_no_std", dict(n_fft=256, window=("gaussian",)), "window"),
      ("array_wrong_length", dict(n_fft=256, window=np.ones(100)), "window"),
      ("array_not_finite", dict(n_fft=4, window=np.array([1.0, np.nan, 1.0, 1.0])), "window"),
  )
  def test_bad_stft_arguments(self, kwargs, name):
    with self.assertRaisesRegex(ValueError, name):
      spectral.stft(np.zeros(1000, np.float32), **kwargs)

  def test_signal_shorter_than_frame(self):
    with self.assertRaisesRegex(ValueError, "shorter than one frame"):
      spectral.stft(np.zeros(100, np.float32), n_fft=256, center=False)

  def test_signal_too_short_to_reflect(self):
    with self.assertRaisesRegex(ValueError, "reflect"):
      spectral.stft(np.zeros(100, np.float32), n_fft=256, pad_mode="reflect")

  def test_scalarnoise(self):
    with self.assertRaisesRegex(ValueError, "samples axis"):
      spectral.stft(np.float32(1.0), n_fft=4)

  def test_istft_wrong_bins(self):
    X = spectral.stft(np.zeros(1000, np.float32), n_fft=256)
    with self.assertRaisesRegex(ValueError, "bins"):
      spectral.istft(X, n_fft=512)

  def test_istft_no_frames(self):
    with self.assertRaisesRegex(ValueError, "no frames"):
      spectral.istft(jnp.zeros((0, 129), jnp.complex64), n_fft=256)


if __name__ == "__main__":
  pytest.main([__file__])
