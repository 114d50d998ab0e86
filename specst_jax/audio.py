"""Host-side audio I/O: reading, resampling, validating and atomically writing audio.

Everything here is numpy on the host (no JAX). Audio is ``float32``
``[samples]`` (mono) or ``[channels, samples]`` (``mono=False``), in
[-1, 1] for integer files. Every problem with an input raises
:class:`AudioError`, whose message names the file (or argument) and the problem.

Reading uses libsndfile (python-soundfile): WAV, FLAC, Ogg Vorbis, MP3 and the
other formats it knows. Resampling uses soxr ("HQ" quality).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from specst_jax import files

MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 384_000

# Formats whose frame count comes from the header, so reading fewer frames means a
# truncated file. MP3's count is an estimate (Xing header or bitrate), so it gets a tolerance.
_MP3_TOLERANCE = 0.01


class AudioError(ValueError):
  """A bad audio file or array; the message names the file/argument and the problem."""


def check_sample_rate(sr: float, *, name: str = "sr") -> int:
  """Returns ``sr`` as an int after checking it lies in [1 kHz, 384 kHz].

  Raises:
    AudioError: if ``sr`` is not a whole number of Hz in range.
  """
  try:
    value = float(sr)
  except (TypeError, ValueError):
    raise AudioError(f"{name}: sample rate must be a number of Hz, got {sr!r}") from None
  if not np.isfinite(value) or value != round(value):
    raise AudioError(f"{name}: sample rate must be a whole number of Hz, got {sr!r}")
  if not MIN_SAMPLE_RATE <= value <= MAX_SAMPLE_RATE:
    raise AudioError(
        f"{name}: sample rate {int(value)} Hz is outside "
        f"[{MIN_SAMPLE_RATE}, {MAX_SAMPLE_RATE}] Hz"
    )
  return int(value)


def validate_audio(x, *, name: str = "audio", min_samples: int = 1) -> np.ndarray:
  """Checks an audio array and returns it as float32.

  Args:
    x: audio ``[samples]`` or ``[channels, samples]``.
    name: how to refer to the array (or its file) in error messages.
    min_samples: fewest samples allowed, e.g. ``n_fft`` where a frame is needed.

  Returns:
    ``x`` as a float32 numpy array (same shape).

  Raises:
    AudioError: wrong rank, not real numbers, fewer than ``min_samples``
      samples (zero samples included) or NaN/Inf samples.
  """
  array = np.asarray(x)
  if array.dtype.kind not in "fiub":
    raise AudioError(f"{name}: audio must be real numbers, got dtype {array.dtype}")
  if array.ndim not in (1, 2):
    raise AudioError(
        f"{name}: audio must be [samples] or [channels, samples], got shape {array.shape}"
    )
  n = array.shape[-1]
  if n == 0 or array.size == 0:
    raise AudioError(f"{name}: audio has zero samples")
  if n < min_samples:
    raise AudioError(
        f"{name}: clip of {n} samples is shorter than one frame ({min_samples} samples)"
    )
  array = array.astype(np.float32, copy=False)
  if not np.all(np.isfinite(array)):
    bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
    raise AudioError(f"{name}: audio has {bad} NaN/Inf samples")
  return array


def _wav_truncation(path: Path) -> str | None:
  """For a RIFF/WAVE file, says how the data chunk is truncated (None if it is whole)."""
  with open(path, "rb") as f:
    header = f.read(12)
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
      return None
    size = path.stat().st_size
    offset = 12
    while offset + 8 <= size:
      f.seek(offset)
      chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
      if chunk_id == b"data":
        available = size - offset - 8
        if chunk_size in (0, 0xFFFFFFFF):  # streaming writers leave the size unknown
          return None
        if chunk_size > available:
          return f"data chunk declares {chunk_size} bytes but only {available} are present"
        return None
      offset += 8 + chunk_size + (chunk_size & 1)
  return None


def _open_error(path: Path, error: Exception) -> AudioError:
  message = str(error)
  if "malformed" in message.lower():
    return AudioError(f"{path}: malformed or truncated audio file ({message})")
  return AudioError(f"{path}: not a readable audio file ({message})")


def _read(path: Path) -> tuple[np.ndarray, int]:
  """Reads ``[channels, samples]`` float32 and the sample rate, checking for truncation."""
  try:
    with sf.SoundFile(str(path)) as f:
      declared, sr, fmt = f.frames, f.samplerate, f.format
      data = f.read(dtype="float32", always_2d=True)
  except sf.LibsndfileError as e:
    if "opening" in str(e):
      raise _open_error(path, e) from None
    raise AudioError(f"{path}: truncated or corrupt audio data ({e})") from None
  except (RuntimeError, TypeError) as e:
    raise _open_error(path, e) from None
  read = data.shape[0]
  tolerance = int(_MP3_TOLERANCE * declared) + 1152 if fmt == "MP3" else 0
  if read + tolerance < declared:
    raise AudioError(f"{path}: truncated file: header declares {declared} frames, read {read}")
  if fmt in ("WAV", "WAVEX"):
    problem = _wav_truncation(path)
    if problem:
      raise AudioError(f"{path}: truncated WAV file: {problem}")
  return data.T, sr


def load_audio(path, *, sr: int | None = None, mono: bool = True,
               min_samples: int = 1) -> tuple[np.ndarray, int]:
  """Reads an audio file into float32.

  Args:
    path: any file libsndfile reads (wav, flac, ogg, mp3, ...).
    sr: target sample rate in Hz; ``None`` keeps the file's rate. Resampling
      uses soxr "HQ".
    mono: mix channels to mono by their mean (``[samples]``); otherwise keep
      them (``[channels, samples]``).
    min_samples: fewest samples (after resampling) the caller can use, e.g.
      ``n_fft`` when a whole frame is needed.

  Returns:
    ``(audio, sample_rate)``: audio ``[samples]`` or ``[channels, samples]``
    float32, and the sample rate in Hz.

  Raises:
    AudioError: missing file, a directory, unreadable or non-audio bytes,
      truncated file, zero samples, NaN/Inf samples, fewer than
      ``min_samples`` samples, or a sample rate (the file's or ``sr``) outside
      1 kHz - 384 kHz.
  """
  path = Path(path)
  if sr is not None:
    sr = check_sample_rate(sr, name="sr")
  if not path.exists():
    raise AudioError(f"{path}: no such file")
  if path.is_dir():
    raise AudioError(f"{path}: is a directory, not an audio file")
  if path.stat().st_size == 0:
    raise AudioError(f"{path}: empty file (0 bytes)")
  data, file_sr = _read(path)
  check_sample_rate(file_sr, name=f"{path}")
  data = validate_audio(data, name=str(path))
  if mono:
    data = data.mean(axis=0)
  if sr is not None and sr != file_sr:
    data = resample(data, file_sr, sr)
  data = validate_audio(data, name=str(path), min_samples=min_samples)
  return data, (file_sr if sr is None else sr)


def resample(x, orig_sr: int, target_sr: int) -> np.ndarray:
  """Resamples ``x[..., samples]`` (1-D or 2-D) from ``orig_sr`` to ``target_sr`` Hz with soxr HQ.

  The output has ``floor(samples * target_sr / orig_sr + 1/2)`` samples (rounded
  half up, soxr's own length), enforced exactly by trimming or zero-padding.
  """
  orig_sr = check_sample_rate(orig_sr, name="orig_sr")
  target_sr = check_sample_rate(target_sr, name="target_sr")
  x = validate_audio(x, name="x")
  if orig_sr == target_sr:
    return x
  # soxr wants [samples, channels].
  y = np.asarray(soxr.resample(x.T, orig_sr, target_sr, quality="HQ"), np.float32).T
  n_out = (2 * x.shape[-1] * target_sr + orig_sr) // (2 * orig_sr)
  if y.shape[-1] < n_out:
    y = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, n_out - y.shape[-1])])
  return np.ascontiguousarray(y[..., :n_out])


def _format_for(path: Path) -> str:
  ext = path.suffix.lower().lstrip(".")
  formats = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "oga": "OGG", "mp3": "MP3",
             "aif": "AIFF", "aiff": "AIFF"}
  if ext not in formats:
    raise AudioError(
        f"{path}: unknown audio extension {path.suffix!r} (use .wav, .flac, .ogg or .mp3)"
    )
  return formats[ext]


def save_audio(path, x, sr: int, *, subtype: str | None = None) -> Path:
  """Writes audio atomically (:func:`specst_jax.files.atomic_path`).

  Parent folders are created. On any failure no file (and no temp file) is left.

  Args:
    path: destination; the format follows the extension (.wav, .flac, .ogg, .mp3).
    x: audio ``[samples]`` or ``[channels, samples]``; float values should lie in
      [-1, 1] (integer subtypes clip outside).
    sr: sample rate in Hz.
    subtype: libsndfile subtype (e.g. "PCM_16", "FLOAT"); default per format
      (WAV: "FLOAT", FLAC: "PCM_24", OGG: "VORBIS").

  Returns:
    The path written.
  """
  path = Path(path)
  sr = check_sample_rate(sr, name="sr")
  x = validate_audio(x, name=str(path))
  fmt = _format_for(path)
  if subtype is None and fmt == "WAV":
    subtype = "FLOAT"
  if subtype is None and fmt == "FLAC":
    subtype = "PCM_24"
  if subtype is not None and not sf.check_format(fmt, subtype):
    raise AudioError(f"{path}: subtype {subtype!r} is not valid for {fmt}")
  try:
    with files.atomic_path(path) as tmp:
      sf.write(tmp, x.T, sr, format=fmt, subtype=subtype)
  except (sf.LibsndfileError, RuntimeError, TypeError) as e:
    raise AudioError(f"{path}: could not write audio ({e})") from None
  return path
