"""Reading the author's TIFF spectrograms: layout, scaling and errors."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from specst_jax import spectral
from specst_jax.spectrogram_files import TIFF_STFT, SpectrogramFileError, load_wyse_tiff

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _write_tiff(path, array, description="80.0,0.0"):
  image = Image.fromarray(array.astype(np.float32), mode="F")
  image.save(path, tiffinfo={270: description})


def test_layout_and_scaling(tmp_path):
  rng = np.random.default_rng(0)
  image = rng.uniform(0, 1, (257, 30)).astype(np.float32)
  _write_tiff(tmp_path / "a.tif", image)
  got = load_wyse_tiff(tmp_path / "a.tif")
  assert got.unit_db.shape == (30, 257)
  np.testing.assert_array_equal(got.unit_db[:, 0], image[-1])  # bin 0 is the bottom row
  want_db = (image[::-1].T - 1.0) * 80.0
  np.testing.assert_allclose(20 * np.log10(got.magnitude()), want_db, atol=1e-3)


@pytest.mark.parametrize("array,match", [
    (np.zeros((100, 30)), "257 rows"),
    (np.full((257, 30), 2.0), r"\[0, 1\]"),
    (np.full((257, 30), np.nan), "NaN"),
])
def test_bad_images(tmp_path, array, match):
  _write_tiff(tmp_path / "bad.tif", array)
  with pytest.raises(SpectrogramFileError, match=match):
    load_wyse_tiff(tmp_path / "bad.tif")


def test_missing_and_corrupt(tmp_path):
  with pytest.raises(SpectrogramFileError, match="no such file"):
    load_wyse_tiff(tmp_path / "missing.tif")
  (tmp_path / "junk.tif").write_bytes(b"not an image at all")
  with pytest.raises(SpectrogramFileError, match="cannot read"):
    load_wyse_tiff(tmp_path / "junk.tif")


def test_rooster_tiff_matches_rooster_audio():
  """The data README: the rooster TIFF correlates 0.989 with the rooster clip's spectrogram."""
  tif, wav = DATA / "wyse_audioST" / "roosters5.0.tif", DATA / "rooster" / "rooster_wyse2017.wav"
  if not (tif.exists() and wav.exists()):
    pytest.skip("shared data absent")
  import soundfile as sf

  from specst_jax import representations
  image = load_wyse_tiff(tif)
  y, sr = sf.read(wav, dtype="float32")
  assert sr == image.sr and image.stft == TIFF_STFT and TIFF_STFT.center
  # The image's frames line up with a centred STFT (measured: r = 0.989 centred, 0.893 not).
  S = spectral.magnitude(spectral.stft(y, n_fft=512, hop_length=128, center=True))
  np.testing.assert_array_equal(S, image.stft.magnitude(y))
  ours = np.asarray(representations.encode("unit_db", S, image.stft))
  frames = min(len(ours), len(image.unit_db))
  r = np.corrcoef(ours[:frames].ravel(), image.unit_db[:frames].ravel())[0, 1]
  assert r > 0.98, r
