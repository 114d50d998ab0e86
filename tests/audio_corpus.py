"""A generated corpus of malformed and odd audio files (built in a temp folder by the tests).

``build(folder)`` writes every case and returns them as :class:`Case` records: the file,
the fragment the one-line error must contain (``None``: the file loads) and, for files that
load, a fragment of the expected :class:`specst_jax.audio.AudioWarning`. MP3s are made by an
encoder (libsndfile's LAME through soundfile): VBR (Xing header) and CBR (Info header), with
the header frame stripped, with ID3v2 and ID3v1 tags, cut, and damaged.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf

from specst_jax import mp3

SR = 8000


@dataclasses.dataclass(frozen=True)
class Case:
  name: str
  path: Path
  error: str | None = None  # fragment of the AudioError (None: loads)
  warning: str | None = None  # fragment of an AudioWarning when it loads
  frames: int | None = None  # samples per channel it must load with (None: not checked)
  root_skip: bool = False  # meaningless as root (permissions)


def tone(n: int = SR // 2, sr: int = SR, freq: float = 440.0, amplitude: float = 0.5):
  t = np.arange(n) / sr
  return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def id3v2(payload: bytes = b"rooster, CC0") -> bytes:
  """A valid ID3v2.3 tag with one TIT2 frame (and 64 bytes of padding)."""
  frame = b"TIT2" + struct.pack(">I", len(payload) + 1) + b"\0\0" + b"\0" + payload
  body = frame + bytes(64)
  n = len(body)
  size = bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])
  return b"ID3\x03\x00\x00" + size + body


def id3v1() -> bytes:
  return (b"TAG" + b"title".ljust(30, b"\0") + b"artist".ljust(30, b"\0")
          + b"album".ljust(30, b"\0") + b"2024" + bytes(30) + b"\x0c")


def encode_mp3(path: Path, x, sr: int, *, vbr: bool) -> bytes:
  """An encoder-made MP3 (LAME through libsndfile): VBR has a Xing header, CBR an Info header."""
  sf.write(path, x, sr, format="MP3", bitrate_mode="VARIABLE" if vbr else "CONSTANT",
           compression_level=0.5)
  return path.read_bytes()


def strip_header_frame(data: bytes) -> bytes:
  """The MP3 without its Xing/Info frame (the header-less case an encoder without it makes)."""
  start = mp3._id3v2_end(data)
  frame = mp3.frame_at(data, start)
  tag = data[start + frame.side_info:start + frame.side_info + 4]
  assert tag in (b"Xing", b"Info"), tag
  return data[:start] + data[start + frame.size:]


def _wav_with_chunk_before_data(x) -> bytes:
  pcm = (x * 32767).astype("<i2").tobytes()
  fmt = struct.pack("<HHIIHH", 1, 1, SR, SR * 2, 2, 16)
  info = b"INFOISFT" + struct.pack("<I", 6) + b"specst"
  chunks = (b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"LIST" + struct.pack("<I", len(info)) + info
            + b"data" + struct.pack("<I", len(pcm)) + pcm)
  return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def _png() -> bytes:
  raw = b"\0" + bytes(3 * 4)
  ihdr = struct.pack(">IIBBBBB", 4, 1, 8, 2, 0, 0, 0)

  def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

  return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
          + chunk(b"IEND", b""))


def build(folder: Path) -> list[Case]:
  """Writes the corpus into ``folder``; returns the cases (at least 40)."""
  folder = Path(folder)
  folder.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(16)
  x = tone()
  cases: list[Case] = []

  def add(name, data=None, **kwargs):
    path = folder / name
    if data is not None:
      path.write_bytes(data)
    cases.append(Case(name, path, **kwargs))
    return path

  def sfw(name, y, sr=SR, **kwargs):
    sf.write(folder / name, y, sr, **kwargs)
    return (folder / name).read_bytes()

  # --- not audio at all / not a regular file ---
  add("missing.wav", error="no such file")
  (folder / "a_folder.wav").mkdir()
  add("a_folder.wav", error="directory")
  add("empty.wav", b"", error="empty file")
  for ext in ("wav", "flac", "ogg", "mp3", "aiff"):
    add(f"random.{ext}", rng.bytes(6000), error="not a readable")
  add("text.flac", b"this is not audio\n" * 40, error="not a readable")
  add("image.wav", _png(), error="not a readable")
  add("archive.wav", b"PK\x03\x04" + rng.bytes(2000), error="not a readable")
  os.symlink(folder / "nowhere.wav", folder / "broken_link.wav")
  add("broken_link.wav", error="broken symbolic link")
  os.symlink(folder / "loop.wav", folder / "loop.wav")
  add("loop.wav", error="symbolic link loop")
  os.mkfifo(folder / "fifo.wav")
  add("fifo.wav", error="named pipe")
  (folder / "plain_file").write_bytes(b"x")
  cases.append(Case("under_a_file.wav", folder / "plain_file" / "x.wav", error="no such file"))
  no_read = add("no_permission.wav", sfw("no_permission.wav", x), error="permission denied",
                root_skip=True)
  no_read.chmod(0)

  # --- broken containers ---
  wav16 = sfw("tmp16.wav", x, subtype="PCM_16")
  add("half.wav", wav16[: len(wav16) // 2], error="truncated")
  add("header_only.wav", wav16[:44], error="truncated")
  add("riff_only.wav", wav16[:12], error="not a readable")
  bad_fmt = bytearray(wav16)
  bad_fmt[20:22] = struct.pack("<H", 0x1234)
  add("unknown_codec.wav", bytes(bad_fmt), error="malformed")
  flac = sfw("tmp.flac", rng.uniform(-0.5, 0.5, 20000).astype(np.float32))
  add("half.flac", flac[: len(flac) // 2], error="truncated")
  add("flac_header_only.flac", flac[:60], error="audio")
  ogg = sfw("tmp.ogg", tone(SR * 2))
  add("half.ogg", ogg[: len(ogg) // 2], error="truncated")
  page = bytearray(ogg)
  second = page.find(b"OggS", 200)
  page[second + 30:second + 60] = bytes(30)
  add("corrupt_page.ogg", bytes(page), error="Ogg")
  aiff = sfw("tmp.aiff", x, subtype="PCM_16")
  add("half.aiff", aiff[: len(aiff) // 2], error="truncated")

  # --- bad contents ---
  add("zero_samples.wav", sfw("zero_samples.wav", np.zeros(0, np.float32)), error="zero samples")
  bad = x.copy()
  bad[5] = np.nan
  add("nan.wav", sfw("nan.wav", bad, subtype="FLOAT"), error="NaN/Inf")
  bad[5] = np.inf
  add("inf.wav", sfw("inf.wav", bad, subtype="FLOAT"), error="NaN/Inf")
  add("rate_500.wav", sfw("rate_500.wav", x, sr=500, subtype="PCM_16"), error="outside")
  add("rate_400k.wav", sfw("rate_400k.wav", x, sr=400_000, subtype="PCM_16"), error="outside")

  # --- MP3s made by an encoder ---
  music = tone(SR * 3 // 2, freq=330.0, amplitude=0.4) + tone(SR * 3 // 2, freq=990.0,
                                                              amplitude=0.1)
  vbr = encode_mp3(folder / "vbr_xing.mp3", music, SR, vbr=True)
  cbr = encode_mp3(folder / "cbr_info.mp3", music, SR, vbr=False)
  n = music.size
  add("vbr_xing.mp3", frames=n)
  add("cbr_info.mp3", frames=n)
  add("vbr_no_header.mp3", strip_header_frame(vbr))
  add("cbr_no_header.mp3", strip_header_frame(cbr))
  add("vbr_id3.mp3", id3v2() + vbr, frames=n)
  add("cbr_no_header_id3.mp3", id3v2() + strip_header_frame(cbr))
  add("cbr_id3v1.mp3", cbr + id3v1(), frames=n)
  add("mp3_named.wav", vbr, frames=n)
  music44 = tone(44100 * 2, sr=44100, freq=440.0, amplitude=0.3)
  vbr44 = encode_mp3(folder / "tmp44.mp3", music44, 44100, vbr=True)
  add("vbr44_no_header_id3.mp3", id3v2() + strip_header_frame(vbr44),
      warning="without a Xing/Info header")
  add("garbage_id3.mp3", b"ID3\x04\x00\x00" + bytes([0x7F] * 4) + rng.bytes(300) + vbr,
      error="damaged ID3v2 tag")
  add("id3_only.mp3", id3v2(), error="no MPEG audio frames")
  add("cut_vbr.mp3", vbr[: len(vbr) * 2 // 3 + 7], error="truncated MP3")
  add("cut_cbr_no_header.mp3", strip_header_frame(cbr)[: len(cbr) // 2 + 3],
      error="truncated MP3")
  first = mp3.frame_at(cbr, 0)
  middle = 8 * first.size
  add("junk_inside.mp3", cbr[:middle] + rng.bytes(150).replace(b"\xff", b"\x00") + cbr[middle:],
      warning="damaged bytes")

  # --- odd but valid ---
  add("int16.wav", wav16, frames=x.size)
  add("uint8.wav", sfw("uint8.wav", x, subtype="PCM_U8"), frames=x.size)
  add("loud_float.wav", sfw("loud_float.wav", 1e6 * x, subtype="FLOAT"), frames=x.size)
  add("stereo24.flac", sfw("stereo24.flac", np.stack([x, 0.5 * x], 1), subtype="PCM_24"),
      frames=x.size)
  add("three_channels.wav", sfw("three_channels.wav", np.stack([x, x, x], 1), subtype="FLOAT",
                                format="WAVEX"), frames=x.size)
  add("tone.ogg", sfw("tone.ogg", x), frames=x.size)
  add("flac_named.wav", flac, frames=20000)
  add("list_chunk.wav", _wav_with_chunk_before_data(x), frames=x.size)
  streamed = bytearray(wav16)
  streamed[40:44] = b"\xff\xff\xff\xff"  # a streaming writer's "unknown" data size
  add("unknown_size.wav", bytes(streamed), frames=x.size)
  add("silence.wav", sfw("silence.wav", np.zeros(SR // 2, np.float32)), frames=SR // 2)
  add("cancel.wav", sfw("cancel.wav", np.stack([x, -x], 1), subtype="FLOAT"),
      warning="cancel", frames=x.size)
  os.symlink(folder / "int16.wav", folder / "link_to_int16.wav")
  add("link_to_int16.wav", frames=x.size)
  add("spaced é name.wav", wav16, frames=x.size)
  add("one_sample.wav", sfw("one_sample.wav", x[:1]), frames=1)
  add("ten_samples.wav", sfw("ten_samples.wav", x[:10]), frames=10)
  for tmp in ("tmp16.wav", "tmp.flac", "tmp.ogg", "tmp.aiff", "tmp44.mp3"):
    (folder / tmp).unlink()
  return cases
