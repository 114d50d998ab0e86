"""Decoding audio files on the host: checks, headers, MP3 frame counts, block-wise decoding.

The machinery behind :func:`specst_jax.audio.load_audio` and :func:`specst_jax.audio.info`
(use those). A file is checked (kind, permissions, container truncation, MP3 structure via
:mod:`specst_jax.mp3`) from its header before anything is decoded, then decoded block by block
with libsndfile, mixing to mono and resampling (soxr "HQ", streamed) on the fly. What C decoders
(mpg123) print on stderr is captured and turned into :class:`AudioWarning` / error text.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import io
import mmap
import os
import stat
import struct
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from specst_jax import mp3

# Frames decoded per block: the decoder's buffers stay small whatever the file's length.
_BLOCK = 1 << 16


class AudioError(ValueError):
  """A bad audio file or array; the message names the file/argument and the problem."""


class AudioWarning(UserWarning):
  """A readable file with a quirk worth knowing (damaged MP3 frames, channels that cancel)."""


def _container_truncation(path: Path) -> str | None:
  """For RIFF/WAVE and AIFF files, says how the audio chunk is truncated (None if whole)."""
  with open(path, "rb") as f:
    header = f.read(12)
    if len(header) < 12:
      return None
    if header[:4] == b"RIFF" and header[8:12] == b"WAVE":
      endian, audio_chunk, kind = "<", b"data", "data"
    elif header[:4] == b"FORM" and header[8:12] in (b"AIFF", b"AIFC"):
      endian, audio_chunk, kind = ">", b"SSND", "SSND"
    else:
      return None
    size = path.stat().st_size
    offset = 12
    while offset + 8 <= size:
      f.seek(offset)
      chunk_id, chunk_size = struct.unpack(f"{endian}4sI", f.read(8))
      if chunk_id == audio_chunk:
        available = size - offset - 8
        if chunk_size in (0, 0xFFFFFFFF):  # streaming writers leave the size unknown
          return None
        if chunk_size > available:
          return f"{kind} chunk declares {chunk_size} bytes but only {available} are present"
        return None
      offset += 8 + chunk_size + (chunk_size & 1)
  return None


def _open_error(path: Path, error: Exception) -> AudioError:
  message = str(error).replace(f"Error opening {str(path)!r}: ", "")
  if "malformed" in message.lower():
    return AudioError(f"{path}: malformed or truncated audio file ({message})")
  if "does not exist or is not a regular file" in message or "System error" in message:
    message = "libsndfile recognises no audio format in it"
  return AudioError(f"{path}: not a readable audio file ({message})")


_DECODER_PREFIXES = ("Note:", "Warning:", "Error:", "[")
_capture_lock = threading.Lock()
_capture: dict = {"users": 0, "saved": -1, "file": None}


def _is_decoder_line(line: str) -> bool:
  return line.startswith(_DECODER_PREFIXES) or "mpg123" in line


@contextlib.contextmanager
def _decoder_messages() -> Iterator[list[str]]:
  """Captures what C decoders (mpg123 inside libsndfile) print on stderr while active.

  Yields a list that holds the decoder's lines on exit. Thread-safe: the first user
  redirects file descriptor 2 into a temp file, the last one restores it and passes every
  other line on to stderr (with concurrent users, a list may hold a neighbour's lines).
  """
  lines: list[str] = []
  with _capture_lock:
    if _capture["users"] == 0:
      try:
        sys.stderr.flush()
        saved = os.dup(2)
      except (OSError, ValueError):
        saved = -1
      if saved >= 0:
        capture = tempfile.TemporaryFile()
        os.dup2(capture.fileno(), 2)
        _capture.update(saved=saved, file=capture)
    _capture["users"] += 1
    capture = _capture["file"]
    start = os.lseek(2, 0, os.SEEK_END) if capture is not None else 0
  try:
    yield lines
  finally:
    with _capture_lock:
      _capture["users"] -= 1
      if capture is not None:
        fd = capture.fileno()  # pread: the shared offset C writers append at stays put
        text = os.pread(fd, os.fstat(fd).st_size - start, start).decode("utf-8", "replace")
        lines.extend(line.strip() for line in text.splitlines() if _is_decoder_line(line))
        if _capture["users"] == 0:
          os.dup2(_capture["saved"], 2)
          os.close(_capture["saved"])
          rest = os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", "replace")
          capture.close()
          _capture.update(saved=-1, file=None)
          for line in rest.splitlines():
            if line.strip() and not _is_decoder_line(line):
              print(line, file=sys.stderr)


@dataclasses.dataclass(frozen=True)
class AudioInfo:
  """What a file holds, from its header (MP3: from its frames), before decoding."""

  path: Path
  sr: int
  channels: int
  frames: int  # samples per channel (MP3: as the decoder will deliver them)
  format: str  # libsndfile's major format, e.g. "WAV", "FLAC", "OGG", "MP3"

  @property
  def seconds(self) -> float:
    return self.frames / self.sr


def _check_path(path: Path) -> None:
  """One clear AudioError for a path that is not a readable, non-empty regular file."""
  try:
    st = os.stat(path)
  except FileNotFoundError:
    if os.path.lexists(path):
      raise AudioError(f"{path}: broken symbolic link (its target does not exist)") from None
    raise AudioError(f"{path}: no such file") from None
  except OSError as e:
    if e.errno == errno.ELOOP:
      raise AudioError(f"{path}: symbolic link loop (the link points back to itself)") from None
    if e.errno == errno.EACCES:
      raise AudioError(f"{path}: permission denied (cannot reach the file)") from None
    if e.errno == errno.ENOTDIR:
      raise AudioError(f"{path}: no such file (a folder on the path is a file)") from None
    raise AudioError(f"{path}: cannot access the file ({e.strerror or e})") from None
  if stat.S_ISDIR(st.st_mode):
    raise AudioError(f"{path}: is a directory, not an audio file")
  if not stat.S_ISREG(st.st_mode):
    kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else
            "a socket" if stat.S_ISSOCK(st.st_mode) else "a device")
    raise AudioError(f"{path}: is {kind}, not a regular audio file")
  if st.st_size == 0:
    raise AudioError(f"{path}: empty file (0 bytes)")
  try:
    with open(path, "rb"):
      pass
  except PermissionError:
    raise AudioError(f"{path}: permission denied (cannot read the file)") from None
  except OSError as e:
    raise AudioError(f"{path}: cannot read the file ({e.strerror or e})") from None


def _warn(message: str) -> None:
  warnings.warn(message, AudioWarning, stacklevel=3)


def _mp3_source(path: Path, error: Exception | None, estimate: int | None):
  """(AudioInfo, opener) for an MP3 file, after walking its frames."""
  with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
    try:
      layout = mp3.parse(buf)
    except ValueError as e:
      if error is None and "ID3" not in str(e):
        # libsndfile reads what the walk does not know (e.g. free-format bitrates): let it.
        _warn(f"{path}: MP3 frames not recognised ({e}); decoding with libsndfile alone")
        return None, (lambda: sf.SoundFile(str(path)))
      if error is not None and not mp3.looks_like_mp3(buf):
        raise _open_error(path, error) from None
      raise AudioError(f"{path}: not a readable MP3 file: {e}") from None
    data = layout.end - layout.first
    if layout.n_frames == 0 or (error is not None and layout.skipped > 0.1 * data):
      raise AudioError(f"{path}: not a readable audio file (no MPEG audio stream in it)")
    if layout.problem:
      raise AudioError(f"{path}: truncated MP3 file: {layout.problem}")
    if layout.skipped:
      _warn(f"{path}: skipped {layout.skipped} damaged bytes between MPEG frames")
    if layout.xing_frames and error is None:
      return None, (lambda: sf.SoundFile(str(path)))
    stream = mp3.with_xing(buf, layout)
  opener = lambda: sf.SoundFile(io.BytesIO(stream))  # noqa: E731
  with _decoder_messages(), opener() as f:
    frames = f.frames
  if estimate is not None and abs(estimate - frames) > 0.1 * frames:
    _warn(f"{path}: MP3 without a Xing/Info header: the bitrate estimate is {estimate} "
          f"frames, its {layout.n_frames} MPEG frames hold {frames}; reading them all")
  return frames, opener


def source(path: Path):
  """(AudioInfo, opener): checks the file and its header; opener() gives a SoundFile."""
  _check_path(path)
  error = None
  with _decoder_messages():
    try:
      with sf.SoundFile(str(path)) as f:
        info = AudioInfo(path, f.samplerate, f.channels, f.frames, f.format)
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
      error, info = e, None
  if error is None and info.format != "MP3":
    if info.format in ("WAV", "WAVEX", "AIFF"):
      problem = _container_truncation(path)
      if problem:
        raise AudioError(f"{path}: truncated {info.format[:4]} file: {problem}")
    return info, (lambda: sf.SoundFile(str(path)))
  if error is not None and path.suffix.lower() not in (".mp3", ".mp2", ".mpga"):
    with open(path, "rb") as fh:
      if not mp3.looks_like_mp3(fh.read(4)):
        raise _open_error(path, error)
  frames, opener = _mp3_source(path, error, None if info is None else info.frames)
  if info is None or frames is not None:
    with _decoder_messages(), opener() as f:
      info = AudioInfo(path, f.samplerate, f.channels, f.frames, "MP3")
  return info, opener


def info(path) -> AudioInfo:
  """What an audio file holds (rate, channels, frames, format), read from its header.

  Raises:
    AudioError: as :func:`load_audio` for a file that cannot be read.
  """
  return source(Path(path))[0]


class _Sink:
  """Collects blocks ``[channels, n]`` into a growing array (amortised doubling)."""

  def __init__(self, channels: int, capacity: int):
    self.data = np.empty((channels, max(capacity, 1)), np.float32)
    self.n = 0

  def add(self, block: np.ndarray) -> None:
    need = self.n + block.shape[-1]
    if need > self.data.shape[-1]:
      grown = np.empty((self.data.shape[0], max(need, 2 * self.data.shape[-1])), np.float32)
      grown[:, :self.n] = self.data[:, :self.n]
      self.data = grown
    self.data[:, self.n:need] = block
    self.n = need

  def result(self, n: int) -> np.ndarray:
    if n > self.n:
      self.add(np.zeros((self.data.shape[0], n - self.n), np.float32))
    return self.data[:, :n]


def decode(path: Path, info: AudioInfo, opener, *, mono: bool, sr: int | None) -> np.ndarray:
  """Decodes block by block (mixing and resampling on the fly); ``[channels, samples]``."""
  channels_out = 1 if mono else info.channels
  stream = None
  if sr is not None and sr != info.sr:
    stream = soxr.ResampleStream(info.sr, sr, channels_out, dtype="float32", quality="HQ")
  target = sr or info.sr
  sink = _Sink(channels_out, (2 * info.frames * target + info.sr) // (2 * info.sr) + 1)
  n_in, bad, energy_channels, energy_mix = 0, 0, 0.0, 0.0
  with _decoder_messages() as notes:
    try:
      with opener() as f:
        for block in f.blocks(blocksize=_BLOCK, dtype="float32", always_2d=True):
          n_in += block.shape[0]
          finite = np.isfinite(block)
          if not finite.all():
            bad += int(block.size - np.count_nonzero(finite))
            continue
          if mono and block.shape[1] > 1:
            energy_channels += float(np.mean(np.square(block, dtype=np.float64)))
            block = block.mean(axis=1, keepdims=True)
            energy_mix += float(np.mean(np.square(block, dtype=np.float64)))
          elif mono:
            block = block[:, :1]
          if stream is not None:
            block = stream.resample_chunk(block, last=False)
          sink.add(block.T)
        if stream is not None and not bad:
          sink.add(stream.resample_chunk(np.zeros((0, channels_out), np.float32), last=True).T)
    except sf.LibsndfileError as e:
      raise AudioError(f"{path}: truncated or corrupt audio data ({e})") from None
  if bad:
    raise AudioError(f"{path}: audio has {bad} NaN/Inf samples")
  if n_in == 0:
    if info.format == "OGG":
      raise AudioError(f"{path}: corrupt or truncated Ogg stream: no samples could be decoded")
    if info.frames:
      raise AudioError(f"{path}: no samples could be decoded (the header declares "
                       f"{info.frames} frames)")
    raise AudioError(f"{path}: audio has zero samples")
  if info.format == "MP3":
    if n_in + 2 * 1152 < info.frames:
      raise AudioError(f"{path}: the MP3 decoder stopped after {n_in} of {info.frames} frames"
                       + (f" ({notes[0]})" if notes else ""))
    if notes:
      _warn(f"{path}: the MP3 decoder reported damage: {notes[0]}"
            + (f" (+{len(notes) - 1} more)" if len(notes) > 1 else ""))
  elif n_in < info.frames:
    raise AudioError(f"{path}: truncated file: header declares {info.frames} frames, "
                     f"read {n_in}")
  if mono and info.channels > 1 and energy_channels > 1e-12 and (
      energy_mix < 1e-4 * energy_channels):
    level = 10 * np.log10(max(energy_mix, 1e-30) / energy_channels)
    _warn(f"{path}: the channels cancel when mixed to mono (the mix is {level:.0f} dB below "
          "the channels: one channel is the other inverted?); load it with mono=False")
  n_out = n_in if stream is None else (2 * n_in * target + info.sr) // (2 * info.sr)
  return sink.result(n_out)
