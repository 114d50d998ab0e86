"""Tests for specst_jax.audio: round trips, mixing, resampling and every bad input."""

from __future__ import annotations

import io
import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile as sf
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent))
import audio_corpus  # noqa: E402

from specst_jax import audio, decode, mp3  # noqa: E402
from specst_jax.audio import (  # noqa: E402
    AudioError,
    load_audio,
    resample,
    save_audio,
    validate_audio,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _tone(n=4000, sr=16000, freq=440.0, amplitude=0.5):
  t = np.arange(n) / sr
  return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _n_out(n, sr_in, sr_out):
  """round(n * sr_out / sr_in), halves rounded up."""
  return int(np.floor(n * sr_out / sr_in + 0.5))


def _peak_frequency(x, sr):
  spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
  return np.fft.rfftfreq(len(x), 1.0 / sr)[np.argmax(spectrum)]


# ----------------------------------------------------------------------------
# Round trips
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ext,subtype,atol",
    [
        ("wav", "FLOAT", 0.0),
        ("wav", "PCM_16", 1.0 / 32768),
        ("flac", "PCM_16", 1.0 / 32768),
        ("flac", None, 1.0 / 2**23),
    ],
)
def test_round_trip_lossless(tmp_path, ext, subtype, atol):
  x = _tone()
  path = save_audio(tmp_path / f"x.{ext}", x, 16000, subtype=subtype)
  y, sr = load_audio(path)
  assert sr == 16000
  assert y.dtype == np.float32 and y.shape == x.shape
  np.testing.assert_allclose(y, x, atol=atol + 1e-7)
  # The twin: soundfile itself.
  ref, _ = sf.read(path, dtype="float32")
  np.testing.assert_array_equal(y, ref)


@pytest.mark.parametrize("ext", ["ogg", "mp3"])
def test_round_trip_lossy(tmp_path, ext):
  x = _tone(n=16000)
  path = save_audio(tmp_path / f"x.{ext}", x, 16000)
  y, sr = load_audio(path)
  assert sr == 16000 and y.shape == x.shape
  # Vorbis/MP3 are lossy: the tone survives (frequency and energy), samples only approximately.
  assert abs(_peak_frequency(y, sr) - 440.0) < 2.0
  np.testing.assert_allclose(np.sqrt(np.mean(y**2)), np.sqrt(np.mean(x**2)), rtol=0.05)


def test_int16_file_written_by_soundfile(tmp_path):
  ints = (np.arange(-1000, 1000, dtype=np.int16) * 30).astype(np.int16)
  sf.write(tmp_path / "i.wav", ints, 8000, subtype="PCM_16")
  y, sr = load_audio(tmp_path / "i.wav")
  assert sr == 8000
  np.testing.assert_allclose(y, ints / 32768.0, atol=1e-7)


def test_stereo_mixed_to_mono_and_kept(tmp_path):
  left, right = _tone(freq=300.0), _tone(freq=700.0, amplitude=0.25)
  sf.write(tmp_path / "s.wav", np.stack([left, right], axis=1), 16000, subtype="FLOAT")
  mono, _ = load_audio(tmp_path / "s.wav")
  np.testing.assert_allclose(mono, (left + right) / 2, atol=1e-7)
  both, _ = load_audio(tmp_path / "s.wav", mono=False)
  assert both.shape == (2, left.size)
  np.testing.assert_array_equal(both[0], left)
  np.testing.assert_array_equal(both[1], right)
  # Saving [channels, samples] writes a stereo file.
  save_audio(tmp_path / "s2.wav", both, 16000)
  assert sf.info(tmp_path / "s2.wav").channels == 2


# ----------------------------------------------------------------------------
# Resampling
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("sr_in,sr_out", [(16000, 22050), (44100, 16000), (22050, 8000)])
def test_resample_matches_soxr_and_scipy(sr_in, sr_out):
  n = 5000
  x = _tone(n=n, sr=sr_in, freq=1000.0)
  y = resample(x, sr_in, sr_out)
  assert y.dtype == np.float32
  assert y.shape == (_n_out(n, sr_in, sr_out),)
  # Twin 1: soxr directly (identical algorithm).
  np.testing.assert_allclose(y, soxr.resample(x, sr_in, sr_out, quality="HQ"), atol=1e-6)
  # Twin 2: scipy's polyphase resampler agrees away from the edges (within 1e-2 of a 0.5 tone).
  ref = scipy.signal.resample_poly(x.astype(np.float64), sr_out, sr_in)[: y.size]
  edge = sr_out // 100
  np.testing.assert_allclose(y[edge:-edge], ref[edge:-edge], atol=1e-2)
  assert abs(_peak_frequency(y, sr_out) - 1000.0) < sr_out / y.size


def test_resample_stereo_and_load_with_sr(tmp_path):
  x = np.stack([_tone(freq=500.0), _tone(freq=900.0)])
  y = resample(x, 16000, 8000)
  assert y.shape == (2, 2000)
  np.testing.assert_allclose(y[1], resample(x[1], 16000, 8000), atol=1e-6)
  save_audio(tmp_path / "t.wav", x[0], 16000)
  z, sr = load_audio(tmp_path / "t.wav", sr=22050)
  assert sr == 22050 and z.shape == (_n_out(4000, 16000, 22050),) == (5513,)
  np.testing.assert_allclose(z, resample(x[0], 16000, 22050), atol=1e-6)
  same, _ = load_audio(tmp_path / "t.wav", sr=16000)
  np.testing.assert_array_equal(same, x[0])


# ----------------------------------------------------------------------------
# Bad inputs
# ----------------------------------------------------------------------------


def _expect(path, *fragments, **kwargs):
  with pytest.raises(AudioError) as info:
    load_audio(path, **kwargs)
  message = str(info.value)
  for fragment in fragments:
    assert fragment in message, message
  return message


def test_missing_file(tmp_path):
  _expect(tmp_path / "nope.wav", "nope.wav", "no such file")


def test_directory(tmp_path):
  _expect(tmp_path, str(tmp_path), "directory")


def test_empty_file(tmp_path):
  (tmp_path / "e.wav").write_bytes(b"")
  _expect(tmp_path / "e.wav", "e.wav", "empty")


def test_random_bytes(tmp_path):
  (tmp_path / "r.wav").write_bytes(np.random.default_rng(0).bytes(4096))
  _expect(tmp_path / "r.wav", "r.wav", "not a readable audio file")


def test_text_file(tmp_path):
  (tmp_path / "notes.flac").write_text("this is not audio\n" * 50)
  _expect(tmp_path / "notes.flac", "notes.flac", "not a readable audio file")


def test_truncated_wav(tmp_path):
  path = tmp_path / "full.wav"
  sf.write(path, _tone(n=8000), 16000, subtype="PCM_16")
  data = path.read_bytes()
  # The header still claims 8000 frames; cut the file in half.
  (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])
  _expect(tmp_path / "cut.wav", "cut.wav", "truncated")
  # The whole file is fine, and the header check agrees.
  assert decode._container_truncation(path) is None
  assert struct.unpack("<I", data[40:44])[0] == 16000


def test_truncated_flac(tmp_path):
  path = tmp_path / "full.flac"
  sf.write(path, np.random.default_rng(1).uniform(-0.5, 0.5, 20000).astype(np.float32), 16000)
  data = path.read_bytes()
  (tmp_path / "half.flac").write_bytes(data[: len(data) // 2])
  _expect(tmp_path / "half.flac", "half.flac", "truncated")


def test_zero_samples(tmp_path):
  sf.write(tmp_path / "z.wav", np.zeros(0, np.float32), 16000)
  _expect(tmp_path / "z.wav", "z.wav", "zero samples")


def test_nan_and_inf_samples(tmp_path):
  x = _tone(n=100)
  x[10], x[20] = np.nan, np.inf
  sf.write(tmp_path / "nan.wav", x, 16000, subtype="FLOAT")
  _expect(tmp_path / "nan.wav", "nan.wav", "2 NaN/Inf")


def test_shorter_than_a_frame(tmp_path):
  save_audio(tmp_path / "short.wav", _tone(n=300), 16000)
  _expect(tmp_path / "short.wav", "short.wav", "300 samples", "1024", min_samples=1024)
  # The frame check applies after resampling: 300 samples at 16 kHz become 600 at 32 kHz.
  y, _ = load_audio(tmp_path / "short.wav", sr=32000, min_samples=512)
  assert y.size == 600


@pytest.mark.parametrize("rate", [500, 400_000])
def test_file_sample_rate_out_of_range(tmp_path, rate):
  sf.write(tmp_path / "odd.wav", _tone(n=1000), rate, subtype="PCM_16")
  _expect(tmp_path / "odd.wav", "odd.wav", f"{rate} Hz", "outside")


@pytest.mark.parametrize("rate", [999, 384_001, 0, -16000, 22050.5, "fast"])
def test_sr_argument_out_of_range(tmp_path, rate):
  save_audio(tmp_path / "ok.wav", _tone(), 16000)
  _expect(tmp_path / "ok.wav", "sr", sr=rate)
  with pytest.raises(AudioError, match="target_sr"):
    resample(_tone(), 16000, rate)


def test_validate_audio():
  np.testing.assert_array_equal(validate_audio(np.arange(3, dtype=np.int16)), [0, 1, 2])
  with pytest.raises(AudioError, match="clip: audio must be"):
    validate_audio(np.zeros((2, 2, 2)), name="clip")
  with pytest.raises(AudioError, match="real numbers"):
    validate_audio(np.zeros(4, np.complex64))
  with pytest.raises(AudioError, match="zero samples"):
    validate_audio(np.zeros((2, 0)))


# ----------------------------------------------------------------------------
# Atomic writes
# ----------------------------------------------------------------------------


def test_save_creates_parents_and_replaces(tmp_path):
  path = tmp_path / "a" / "b" / "c.flac"
  save_audio(path, _tone(), 16000)
  save_audio(path, _tone(freq=880.0), 16000)
  y, _ = load_audio(path)
  assert abs(_peak_frequency(y, 16000) - 880.0) < 5.0
  assert sorted(os.listdir(path.parent)) == ["c.flac"]


@pytest.mark.parametrize(
    "x,kwargs,fragment",
    [
        (np.full(100, np.nan, np.float32), {}, "NaN/Inf"),
        (np.zeros(0, np.float32), {}, "zero samples"),
        (np.zeros(100, np.float32), {"subtype": "VORBIS"}, "subtype"),
    ],
)
def test_failing_save_leaves_nothing(tmp_path, x, kwargs, fragment):
  with pytest.raises(AudioError, match=fragment):
    save_audio(tmp_path / "bad.wav", x, 16000, **kwargs)
  assert os.listdir(tmp_path) == []


def test_failure_during_write_removes_temp_file(tmp_path, monkeypatch):
  def broken_write(file, *args, **kwargs):
    Path(file).write_bytes(b"partial")
    raise sf.LibsndfileError(0, prefix="simulated disk failure: ")

  (tmp_path / "keep.wav").write_bytes(b"old")
  monkeypatch.setattr(audio.sf, "write", broken_write)
  with pytest.raises(AudioError, match="could not write"):
    save_audio(tmp_path / "keep.wav", _tone(), 16000)
  # The old file is untouched and no temp file is left behind.
  assert os.listdir(tmp_path) == ["keep.wav"]
  assert (tmp_path / "keep.wav").read_bytes() == b"old"


def test_save_rejects_bad_extension_and_rate(tmp_path):
  with pytest.raises(AudioError, match="extension"):
    save_audio(tmp_path / "x.xyz", _tone(), 16000)
  with pytest.raises(AudioError, match="sr"):
    save_audio(tmp_path / "x.wav", _tone(), 100)
  assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------------------
# Real files (skipped when ../shared/data is absent)
# ----------------------------------------------------------------------------


def _need(path):
  if not path.exists():
    pytest.skip(f"{path} not available")
  return path


def test_real_flac_and_wav():
  clip = _need(DATA / "esc50_16k")
  flacs = sorted(clip.rglob("*.flac"))[:1]
  if not flacs:
    pytest.skip("no ESC-50 flac files")
  y, sr = load_audio(flacs[0])
  assert sr == 16000 and y.shape == (80000,) and y.dtype == np.float32
  np.testing.assert_array_equal(y, sf.read(flacs[0], dtype="float32")[0])
  rooster, sr = load_audio(_need(DATA / "rooster" / "rooster_wyse2017.wav"))
  assert sr == 22050 and abs(rooster.size / sr - 4.96) < 0.01


def test_real_ogg_stereo_resampled():
  path = _need(DATA / "music" / "world" / "africa.ogg")
  stereo, sr = load_audio(path, mono=False)
  ref = sf.read(path, dtype="float32", always_2d=True)[0].T
  assert stereo.shape == ref.shape
  np.testing.assert_array_equal(stereo, ref)
  mono, sr2 = load_audio(path, sr=22050)
  assert sr2 == 22050
  assert mono.shape == (_n_out(ref.shape[1], sr, 22050),)


# ----------------------------------------------------------------------------
# Block-wise decoding, MP3 structure, duration limits
# ----------------------------------------------------------------------------


def test_blockwise_decode_equals_whole_file(tmp_path, monkeypatch):
  """Many small blocks (mixing and streamed soxr resampling per block) = the one-shot path."""
  rng = np.random.default_rng(5)
  stereo = rng.uniform(-0.5, 0.5, (2, 10007)).astype(np.float32)
  sf.write(tmp_path / "s.wav", stereo.T, 16000, subtype="FLOAT")
  monkeypatch.setattr(decode, "_BLOCK", 999)
  mono, _ = load_audio(tmp_path / "s.wav", sr=22050)
  np.testing.assert_allclose(mono, resample(stereo.mean(0), 16000, 22050), atol=1e-5)
  both, _ = load_audio(tmp_path / "s.wav", sr=8000, mono=False)
  np.testing.assert_allclose(both, resample(stereo, 16000, 8000), atol=1e-5)
  same, _ = load_audio(tmp_path / "s.wav", mono=False)
  np.testing.assert_array_equal(same, stereo)


@pytest.mark.parametrize("vbr", [True, False])
def test_mp3_frames_counted_with_and_without_header(tmp_path, vbr):
  x = _tone(n=22050, sr=22050)
  data = audio_corpus.encode_mp3(tmp_path / "x.mp3", x, 22050, vbr=vbr)
  layout = mp3.parse(data)
  assert layout.problem is None and layout.skipped == 0 and layout.sr == 22050
  assert layout.xing_frames == layout.n_frames  # the encoder's own count
  bare = mp3.parse(audio_corpus.strip_header_frame(data))
  assert bare.xing_frames is None and bare.n_frames == layout.n_frames
  # Xing with the counted frames in front: the decoder sees every frame.
  with sf.SoundFile(io.BytesIO(mp3.with_xing(data, layout))) as f:
    assert f.frames >= x.size
  tagged = mp3.parse(audio_corpus.id3v2() + data + audio_corpus.id3v1())
  assert tagged.n_frames == layout.n_frames and tagged.skipped == 0


def test_info_and_check_duration(tmp_path):
  save_audio(tmp_path / "t.flac", _tone(n=16000), 16000)
  info = audio.info(tmp_path / "t.flac")
  assert (info.sr, info.channels, info.frames, info.format) == (16000, 1, 16000, "FLAC")
  assert audio.check_duration(tmp_path / "t.flac", 2.0) == 1.0
  with pytest.raises(AudioError, match=r"t.flac: 1.0 s of audio is longer than the limit of "
                                       r"0.5 s \(raise it with --max_seconds\)"):
    audio.check_duration(tmp_path / "t.flac", 0.5)
  with pytest.raises(AudioError, match="--style_seconds"):
    audio.check_duration(np.zeros(16000), 0.5, flag="--style_seconds", sr=16000)
  with pytest.raises(AudioError, match="limit of 0.5 s"):
    load_audio(tmp_path / "t.flac", max_seconds=0.5)
