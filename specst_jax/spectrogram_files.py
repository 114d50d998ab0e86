"""Host-side reading of spectrogram images: the paper author's ``wyse_audioST`` TIFFs.

Those files are ``[bins, frames]`` float32 images in [0, 1], flipped vertically (row 0 is the
highest bin), with value = dB / scale + 1 re the clip maximum (so 0 is ``-scale`` dB); TIFF tag
270 (ImageDescription) holds ``"scale,shift"``. Their STFT: 22050 Hz, n_fft 512, hop 128. The data
README calls it not centred, but the rooster image lines up with a *centred* STFT of the rooster
clip (correlation 0.989 centred vs 0.893 uncentred; tests/spectrogram_files_test.py), so frame
``t`` is centred on sample ``128 t`` here.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from specst_jax.representations import Stft

# The STFT of the author's images (centred: see the module docstring). A property of these
# files, not of a network (the Wyse net's own defaults are in specst_jax.style.nets.NETS).
TIFF_STFT = Stft(sr=22050, n_fft=512, hop_length=128, center=True)
_IMAGE_DESCRIPTION = 270


class SpectrogramFileError(ValueError):
  """A spectrogram file is missing, unreadable or not of the expected layout."""


@dataclasses.dataclass(frozen=True)
class SpectrogramImage:
  """A spectrogram read from an image file.

  Attributes:
    unit_db: ``[frames, bins]`` float32 in [0, 1] (dB / scale + 1), time-major, bin 0 = 0 Hz.
    scale: dB span of [0, 1] (80 for the author's files).
    shift: dB offset stored beside the scale (0 for the author's files).
    sr, n_fft, hop_length, center: the STFT the image implies.
  """

  unit_db: np.ndarray
  scale: float
  shift: float
  sr: int = TIFF_STFT.sr
  n_fft: int = TIFF_STFT.n_fft
  hop_length: int = TIFF_STFT.hop_length
  center: bool = TIFF_STFT.center

  @property
  def stft(self) -> Stft:
    """The STFT the image implies."""
    return Stft(self.sr, self.n_fft, self.hop_length, self.center)

  def magnitude(self) -> np.ndarray:
    """Linear magnitude ``[frames, bins]``, maximum 1 (the image's 0 maps to -scale dB)."""
    db = (self.unit_db.astype(np.float64) - 1.0) * self.scale + self.shift
    return (10.0 ** (db / 20.0)).astype(np.float32)


def _parse_description(text: str | None, path: Path) -> tuple[float, float]:
  if not text:
    return 80.0, 0.0
  try:
    scale, shift = (float(v) for v in str(text).split(","))
  except ValueError as error:
    raise SpectrogramFileError(
        f"{path}: TIFF ImageDescription {text!r} is not 'scale,shift'"
    ) from error
  if not scale > 0:
    raise SpectrogramFileError(f"{path}: scale in ImageDescription must be positive, got {scale}")
  return scale, shift


def load_wyse_tiff(path: str | os.PathLike, *, n_fft: int = TIFF_STFT.n_fft) -> SpectrogramImage:
  """Reads one of the author's spectrogram TIFFs as a time-major ``[frames, bins]`` image.

  Args:
    path: the ``.tif`` file.
    n_fft: the FFT size the image's rows must match (``n_fft // 2 + 1`` rows).

  Raises:
    SpectrogramFileError: missing or unreadable file, wrong number of rows, values outside
      [0, 1] or not finite.
  """
  from PIL import Image  # matplotlib's dependency; imported here to keep import light

  path = Path(path)
  if not path.is_file():
    raise SpectrogramFileError(f"{path}: no such file")
  try:
    with Image.open(path) as image:
      array = np.asarray(image, dtype=np.float32)
      description = image.tag_v2.get(_IMAGE_DESCRIPTION) if hasattr(image, "tag_v2") else None
  except (OSError, ValueError) as error:
    raise SpectrogramFileError(f"{path}: cannot read as an image ({error})") from error
  bins = n_fft // 2 + 1
  if array.ndim != 2 or array.shape[0] != bins:
    raise SpectrogramFileError(
        f"{path}: expected a 2-D image with {bins} rows (n_fft={n_fft}), got shape {array.shape}"
    )
  if not np.all(np.isfinite(array)):
    raise SpectrogramFileError(f"{path}: image has NaN or Inf values")
  if array.min() < 0.0 or array.max() > 1.0:
    raise SpectrogramFileError(
        f"{path}: values must lie in [0, 1], got [{array.min()}, {array.max()}]"
    )
  scale, shift = _parse_description(description, path)
  unit_db = np.ascontiguousarray(array[::-1].T)  # flip rows (row 0 = top bin), time-major
  return SpectrogramImage(unit_db=unit_db, scale=scale, shift=shift, n_fft=n_fft)
