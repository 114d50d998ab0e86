"""MPEG audio (MP3) structure on the host: tags, frames, the Xing/Info header, truncation.

libsndfile decodes MP3 through mpg123, which knows a file's length exactly only from a
Xing/Info header; without one it estimates the length from the first frame's bitrate, and
libsndfile stops reading at that estimate (a header-less VBR file can lose most of its audio).
:func:`parse` walks the frame headers (ISO/IEC 11172-3 and 13818-3 layouts) to count the
frames and to find real damage: a damaged ID3v2 tag, a cut last frame, fewer bytes or frames
than the Xing/Info header declares, or bytes between frames that are not MPEG audio.
:func:`with_xing` puts a Xing header with the counted frames in front of a header-less stream
so that the decoder reads every frame.
"""

from __future__ import annotations

import dataclasses
import struct

# kbps by (MPEG-1?, layer); index 1..14 (0 = free format and 15 = bad are refused).
_BITRATES = {
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_TRAILERS = (b"TAG", b"APETAGEX", b"LYRICSBEGIN", b"ID3")


@dataclasses.dataclass(frozen=True)
class Frame:
  """One MPEG audio frame header."""

  size: int  # bytes, header included
  samples: int  # samples per channel
  sr: int
  channels: int
  side_info: int  # bytes from the frame start to the Xing/Info tag (layer III)
  key: tuple  # (version, layer, sample-rate index): equal for every frame of a stream


def frame_at(buf, offset: int) -> Frame | None:
  """The frame header at ``offset`` of ``buf``, or None where there is no valid one."""
  if offset + 4 > len(buf):
    return None
  h = struct.unpack_from(">I", buf, offset)[0]
  if h >> 21 != 0x7FF:
    return None
  version, layer_bits, bitrate_index = (h >> 19) & 3, (h >> 17) & 3, (h >> 12) & 15
  rate_index, padding, mode = (h >> 10) & 3, (h >> 9) & 1, (h >> 6) & 3
  if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
    return None
  layer, mpeg1 = 4 - layer_bits, version == 3
  bitrate = _BITRATES[(mpeg1, layer)][bitrate_index - 1] * 1000
  sr = _RATES[version][rate_index]
  if layer == 1:
    size, samples = (12 * bitrate // sr + padding) * 4, 384
  elif layer == 2:
    size, samples = 144 * bitrate // sr + padding, 1152
  else:
    size, samples = (144 if mpeg1 else 72) * bitrate // sr + padding, 1152 if mpeg1 else 576
  crc = 0 if (h >> 16) & 1 else 2
  side = (32 if mode != 3 else 17) if mpeg1 else (17 if mode != 3 else 9)
  return Frame(size, samples, sr, 1 if mode == 3 else 2, 4 + crc + side,
               (version, layer, rate_index))


@dataclasses.dataclass(frozen=True)
class Layout:
  """What :func:`parse` found in an MP3 file."""

  first: int  # offset of the first frame (the Xing/Info frame when there is one)
  audio: int  # offset of the first audio frame
  end: int  # end of the last complete frame
  n_frames: int  # audio frames (a Xing/Info frame is not counted)
  samples: int  # samples per channel in those frames (before decoder delay/padding)
  sr: int
  channels: int
  xing_frames: int | None  # from a Xing/Info header (None: no header or no count)
  xing_bytes: int | None
  skipped: int  # bytes between frames that were not MPEG audio (damage)
  problem: str | None  # truncation, described; None for a whole file


def _id3v2_end(buf) -> int:
  """Offset after a leading ID3v2 tag (0 without one); ValueError for a damaged tag."""
  if bytes(buf[:3]) != b"ID3":
    return 0
  if len(buf) < 10:
    raise ValueError("damaged ID3v2 tag: the file ends inside its 10-byte header")
  major, flags, size_bytes = buf[3], buf[5], bytes(buf[6:10])
  if major not in (2, 3, 4) or buf[4] == 0xFF or any(b & 0x80 for b in size_bytes):
    raise ValueError(f"damaged ID3v2 tag (version 2.{major}, size bytes {size_bytes.hex()} "
                     "are not a valid tag header)")
  size = 10 + ((size_bytes[0] << 21) | (size_bytes[1] << 14) | (size_bytes[2] << 7)
               | size_bytes[3]) + (10 if flags & 0x10 else 0)
  if size > len(buf):
    raise ValueError(f"damaged ID3v2 tag: it declares {size} bytes but the file has only "
                     f"{len(buf)}")
  return size


def _sync(buf, offset: int, limit: int) -> int | None:
  """The first offset >= ``offset`` with two consecutive frames (or one that ends the data)."""
  while True:
    offset = buf.find(b"\xff", offset, limit)
    if offset < 0:
      return None
    frame = frame_at(buf, offset)
    if frame is not None and offset + frame.size <= limit:
      following = frame_at(buf, offset + frame.size)
      if offset + frame.size == limit or (following is not None and following.key == frame.key):
        return offset
    offset += 1


def _xing(buf, offset: int, frame: Frame) -> tuple[int | None, int | None] | None:
  """(frames, bytes) of a Xing/Info header in the frame at ``offset`` (None if there is none)."""
  at = offset + frame.side_info
  if bytes(buf[at:at + 4]) not in (b"Xing", b"Info") or at + 8 > len(buf):
    return None
  flags = struct.unpack_from(">I", buf, at + 4)[0]
  at += 8
  frames = n_bytes = None
  if flags & 1 and at + 4 <= len(buf):
    frames = struct.unpack_from(">I", buf, at)[0]
    at += 4
  if flags & 2 and at + 4 <= len(buf):
    n_bytes = struct.unpack_from(">I", buf, at)[0]
  return frames, n_bytes


def looks_like_mp3(buf) -> bool:
  """True for a leading ID3v2 tag or MPEG frame sync."""
  head = bytes(buf[:3])
  return head == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


def parse(buf) -> Layout:
  """Walks an MP3 file's tags and frames.

  Args:
    buf: the whole file (bytes, or an mmap).

  Returns:
    The :class:`Layout`; ``problem`` says how the file is truncated, if it is.

  Raises:
    ValueError: a damaged ID3v2 tag, or no MPEG audio frames at all.
  """
  tag_end = _id3v2_end(buf)
  limit = len(buf)
  if limit >= 128 and bytes(buf[limit - 128:limit - 125]) == b"TAG":
    limit -= 128
  first = _sync(buf, tag_end, limit)
  if first is None:
    where = "after the ID3v2 tag" if tag_end else "in the file"
    raise ValueError(f"no MPEG audio frames {where}")
  head = frame_at(buf, first)
  xing = _xing(buf, first, head)
  offset = first + head.size if xing else first
  audio, n_frames, samples, skipped, problem = offset, 0, 0, 0, None
  while offset < limit:
    frame = frame_at(buf, offset)
    if frame is None and offset + 4 > limit and buf[offset] == 0xFF:
      problem = f"the file ends inside a frame header ({limit - offset} bytes at byte {offset})"
      break
    if frame is None or frame.key != head.key:
      rest = bytes(buf[offset:offset + 11])
      if any(rest.startswith(t) for t in _TRAILERS) or not bytes(buf[offset:limit]).strip(b"\0"):
        break
      resync = _sync(buf, offset + 1, limit)
      if resync is None:
        skipped += limit - offset
        break
      skipped += resync - offset
      offset = resync
      continue
    if offset + frame.size > limit:
      problem = (f"the last MPEG frame is cut ({limit - offset} of {frame.size} bytes at "
                 f"byte {offset})")
      break
    n_frames += 1
    samples += frame.samples
    offset += frame.size
  xing_frames, xing_bytes = xing if xing else (None, None)
  if problem is None and xing_bytes and offset - first < 0.99 * xing_bytes - head.size:
    problem = (f"the Xing/Info header declares {xing_bytes} bytes of MPEG data, the file "
               f"holds {offset - first}")
  if problem is None and xing_frames and n_frames < xing_frames - 1:
    problem = f"the Xing/Info header declares {xing_frames} frames, the file holds {n_frames}"
  return Layout(first, audio, offset, n_frames, samples, head.sr, head.channels, xing_frames,
                xing_bytes, skipped, problem)


def with_xing(buf, layout: Layout) -> bytes:
  """The stream from ``layout.audio`` with a Xing header (frame count only) in front."""
  header = bytearray(buf[layout.audio:layout.audio + 4])
  header[1] |= 1  # no CRC, so the tag sits right after the side information
  frame = frame_at(header + bytes(4), 0)
  xing = bytearray(frame.size)
  xing[:4] = header
  at = frame.side_info
  xing[at:at + 12] = b"Xing" + struct.pack(">II", 1, layout.n_frames)
  return bytes(xing) + bytes(buf[layout.audio:layout.end])
