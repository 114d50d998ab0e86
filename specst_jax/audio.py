"""Host-side audio I/O: reading, resampling, validating and atomically writing audio.

Everything here is numpy on the host (no JAX). Audio is ``float32``
``[samples]`` (mono) or ``[channels, samples]`` (``mono=False``), in
[-1, 1] for integer files. Every problem with an input raises
:class:`AudioError`, whose message names the file (or argument) and the problem.

Reading uses libsndfile (python-soundfile): WAV, FLAC, Ogg Vorbis, MP3 and the
other formats it knows, block by block (:mod:`specst_jax.decode`; MP3 lengths from
:mod:`specst_jax.mp3`). Resampling uses soxr ("HQ" quality).
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from specst_jax import decode, files
from specst_jax.decode import AudioError, AudioInfo, AudioWarning, info

__all__ = ["AudioError", "AudioInfo", "AudioWarning", "MAX_SAMPLE_RATE", "MIN_SAMPLE_RATE",
           "check_duration", "check_format", "check_sample_rate", "info", "load_audio",
           "resample", "save_audio", "show_warnings_as_lines", "validate_audio"]

MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 384_000


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

def check_duration(source, max_seconds: float | None, *, flag: str = "--max_seconds",
                   sr: int | None = None) -> float:
  """Refuses audio longer than ``max_seconds`` BEFORE it is decoded; returns its seconds.

  Args:
    source: an audio file (its header is read, nothing is decoded) or an array
      ``[..., samples]`` (then ``sr`` is required).
    max_seconds: the limit; None or <= 0 means no limit.
    flag: how the user raises the limit, named in the error.
    sr: sample rate of an array ``source``.

  Raises:
    AudioError: longer than the limit (names the file, the length, the limit and ``flag``).
  """
  if isinstance(source, (str, os.PathLike)):
    name, seconds = str(source), info(source).seconds
  else:
    if sr is None:
      raise ValueError("check_duration: sr is required for an array")
    name, seconds = "audio", np.shape(source)[-1] / float(sr)
  if max_seconds is not None and max_seconds > 0 and seconds > max_seconds:
    raise AudioError(f"{name}: {seconds:.1f} s of audio is longer than the limit of "
                     f"{max_seconds:g} s (raise it with {flag})")
  return seconds

def load_audio(path, *, sr: int | None = None, mono: bool = True, min_samples: int = 1,
               max_seconds: float | None = None,
               max_seconds_flag: str = "max_seconds") -> tuple[np.ndarray, int]:
  """Reads an audio file into float32, block by block (mixing and resampling on the fly).

  Memory: the result plus a few blocks (a 1-hour mono file at 22.05 kHz is 318 MB).

  Args:
    path: any file libsndfile reads (wav, flac, ogg, mp3, ...). MP3 lengths come
      from counting the MPEG frames (header-less and VBR files load whole).
    sr: target sample rate in Hz; ``None`` keeps the file's rate. Resampling
      uses soxr "HQ" (streamed).
    mono: mix channels to mono by their mean (``[samples]``); otherwise keep
      them (``[channels, samples]``). An :class:`AudioWarning` says when the
      channels cancel in the mix (L = -R).
    min_samples: fewest samples (after resampling) the caller can use, e.g.
      ``n_fft`` when a whole frame is needed.
    max_seconds: refuse (before decoding, from the header) a file longer than
      this; None: no limit.
    max_seconds_flag: what the error tells the user to raise (e.g. "--max_seconds").

  Returns:
    ``(audio, sample_rate)``: audio ``[samples]`` or ``[channels, samples]``
    float32, and the sample rate in Hz.

  Raises:
    AudioError: missing file, broken link or link loop, a directory, FIFO or
      device, permission denied, unreadable or non-audio bytes, damaged ID3 tag,
      truncated file, zero samples, NaN/Inf samples, fewer than ``min_samples``
      samples, longer than ``max_seconds``, or a sample rate (the file's or
      ``sr``) outside 1 kHz - 384 kHz. The message names the file.
  """
  path = Path(path)
  if sr is not None:
    sr = check_sample_rate(sr, name="sr")
  source, opener = decode.source(path)
  check_sample_rate(source.sr, name=f"{path}")
  if max_seconds is not None and max_seconds > 0 and source.seconds > max_seconds:
    raise AudioError(f"{path}: {source.seconds:.1f} s of audio is longer than the limit of "
                     f"{max_seconds:g} s (raise it with {max_seconds_flag})")
  data = decode.decode(path, source, opener, mono=mono, sr=sr)
  if mono:
    data = data[0]
  data = validate_audio(data, name=str(path), min_samples=min_samples)
  return data, (source.sr if sr is None else sr)


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


def show_warnings_as_lines() -> None:
  """For command-line tools: print each :class:`AudioWarning` as one ``warning: ...`` line."""
  previous = warnings.showwarning
  if getattr(previous, "_specst_lines", False):
    return

  def show(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, AudioWarning):
      print(f"warning: {message}", file=sys.stderr)
    else:
      previous(message, category, filename, lineno, file, line)

  show._specst_lines = True
  warnings.showwarning = show


def check_format(path) -> str:
  """libsndfile's format for an output path's extension (AudioError for an unknown one)."""
  return _format_for(Path(path))


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
