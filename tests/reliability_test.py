"""Reliability of the host side and of the CLIs representations / reconstruct (issue 16).

A generated corpus of malformed and odd inputs (tests/audio_corpus.py) through load_audio and
through each CLI in a subprocess; output-location faults; input == output refusals; SIGKILL
during the write phase; level-invariant phase reconstruction; long input within a memory bound.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import jax
import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import audio_corpus  # noqa: E402

from specst_jax import audio, phase, reconstruct_file, spectral  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
IS_ROOT = os.geteuid() == 0
REPR_FILES = ["linear_db.npy", "mel_db.npy", "mfcc.npy", "mfcc_delta.npy",
              "representations.json", "representations.png", "waveform.npy"]

# Runs a CLI's main() once per argv list (read as JSON from stdin) in ONE process, the way
# absl's app.run would (flags parsed, main's return code), and reports the return code and
# everything main printed on stderr; an escaping exception is reported as a traceback.
_DRIVER = r"""
import contextlib, importlib, io, json, sys, traceback
from absl import flags
module = importlib.import_module(sys.argv[1])
results = []
for argv in json.loads(sys.stdin.read()):
  flags.FLAGS.unparse_flags()
  err = io.StringIO()
  with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
    try:
      flags.FLAGS([sys.argv[1]] + argv)
      rc = module.main([sys.argv[1]])
    except BaseException:
      traceback.print_exc()
      rc = "exception"
  results.append({"rc": rc, "stderr": err.getvalue()})
print(json.dumps(results))
"""


def _drive(module: str, argvs: list[list[str]], timeout: int = 600) -> list[dict]:
  result = subprocess.run([sys.executable, "-c", _DRIVER, module], input=json.dumps(argvs),
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)
  assert result.returncode == 0, result.stderr[-3000:]
  # Nothing leaks past main: no decoder chatter on the process's stderr, no TPU-probe line.
  for noise in ("Illegal Audio-MPEG-Header", "Note: Trying to resync", "Unable to initialize"):
    assert noise not in result.stderr, result.stderr[-3000:]
  return json.loads(result.stdout.strip().splitlines()[-1])


def _one_error_line(stderr: str, *fragments: str) -> str:
  """The stderr of a failed run: warnings aside, exactly one 'error: ' line, no traceback."""
  assert "Traceback" not in stderr, stderr
  lines = [line for line in stderr.strip().splitlines() if not line.startswith("warning: ")]
  assert len(lines) == 1 and lines[0].startswith("error: "), stderr
  for fragment in fragments:
    assert fragment in lines[0], (fragment, lines[0])
  return lines[0]


def _leftovers(folder: Path) -> list[str]:
  return sorted(p.name for p in folder.iterdir() if ".specst-tmp." in p.name or
                p.name.endswith(".tmp"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
  folder = tmp_path_factory.mktemp("corpus")
  cases = audio_corpus.build(folder)
  assert len(cases) >= 40
  yield cases
  (folder / "no_permission.wav").chmod(0o644)


# ----------------------------------------------------------------------------
# The corpus through load_audio
# ----------------------------------------------------------------------------


def test_corpus_through_load_audio(corpus):
  for case in corpus:
    if case.root_skip and IS_ROOT:
      continue
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter("always")
      if case.error:
        with pytest.raises(audio.AudioError) as info:
          audio.load_audio(case.path)
        message = str(info.value)
        assert case.error in message and case.path.name in message, (case.name, message)
        assert "\n" not in message, message
        continue
      y, sr = audio.load_audio(case.path)
    assert sr == (44100 if "44" in case.name else audio_corpus.SR), case.name
    assert y.ndim == 1 and y.dtype == np.float32 and np.all(np.isfinite(y)), case.name
    if case.frames is not None:
      assert y.size == case.frames, (case.name, y.size)
    messages = [str(w.message) for w in caught if issubclass(w.category, audio.AudioWarning)]
    if case.warning:
      assert any(case.warning in m and case.path.name in m for m in messages), (case.name,
                                                                                 messages)


def test_corpus_mp3s_decode_the_encoded_signal(corpus):
  """Every loadable MP3 variant holds the encoded two-tone signal (its length and level)."""
  by_name = {case.name: case for case in corpus}
  music = audio_corpus.tone(12000, freq=330.0, amplitude=0.4) + audio_corpus.tone(
      12000, freq=990.0, amplitude=0.1)
  rms = np.sqrt(np.mean(music**2))
  for name in ("vbr_xing.mp3", "cbr_info.mp3", "vbr_no_header.mp3", "cbr_no_header.mp3",
               "vbr_id3.mp3", "cbr_no_header_id3.mp3", "cbr_id3v1.mp3", "mp3_named.wav"):
    with warnings.catch_warnings():
      warnings.simplefilter("ignore", audio.AudioWarning)
      y, _ = audio.load_audio(by_name[name].path)
    # Header-less files keep the encoder delay and padding (no LAME tag says how much):
    # at most two frames of 1152 samples more than the signal, never less.
    assert music.size <= y.size <= music.size + 2 * 1152, (name, y.size)
    assert np.sqrt(np.mean(y**2)) == pytest.approx(rms, rel=0.1), name
    spectrum = np.abs(np.fft.rfft(y[:8192] * np.hanning(8192)))
    assert abs(np.argmax(spectrum) * audio_corpus.SR / 8192 - 330.0) < 5, name
  # libsndfile alone stops at its bitrate estimate for a header-less VBR file.
  with sf.SoundFile(by_name["vbr44_no_header_id3.mp3"].path) as f:
    estimate = f.frames
  y, _ = audio.load_audio(by_name["vbr44_no_header_id3.mp3"].path)
  assert y.size >= 2 * 44100 and estimate < 0.9 * y.size


def test_concurrent_loads_keep_stderr(corpus, capfd):
  """Loader threads (as the batch runner's) capture decoder chatter and restore stderr."""
  import concurrent.futures

  names = ("random.mp3", "vbr_no_header.mp3", "junk_inside.mp3", "int16.wav", "cut_vbr.mp3")
  paths = [c.path for c in corpus if c.name in names] * 8

  def load(path):
    try:
      with warnings.catch_warnings():
        warnings.simplefilter("ignore", audio.AudioWarning)
        return audio.load_audio(path)[0].size
    except audio.AudioError as e:
      return str(e)

  expected = [load(p) for p in paths]
  with concurrent.futures.ThreadPoolExecutor(8) as pool:
    assert list(pool.map(load, paths)) == expected
  os.write(2, b"stderr still reaches its file\n")
  err = capfd.readouterr().err
  assert "stderr still reaches its file" in err
  assert "Illegal Audio-MPEG-Header" not in err and "Note:" not in err


# ----------------------------------------------------------------------------
# The corpus through the CLIs (one subprocess per CLI)
# ----------------------------------------------------------------------------


# Files that load, run through the CLIs too (all the failing ones run): one of each kind, as
# every distinct length costs a compilation and a figure.
CLI_OK = ("int16.wav", "vbr_no_header.mp3", "cancel.wav", "loud_float.wav", "silence.wav",
          "spaced é name.wav")


def _cli_corpus(corpus, tmp_path, module, make_argv, expected_files):
  cases = [c for c in corpus if not (c.root_skip and IS_ROOT) and (
      c.error or c.name in CLI_OK or (c.frames is not None and c.frames < 1024))]
  assert len(cases) >= 40
  outs = [tmp_path / f"out_{i}" for i in range(len(cases))]
  results = _drive(module, [make_argv(c.path, out) for c, out in zip(cases, outs, strict=True)])
  for case, out, result in zip(cases, outs, results, strict=True):
    if case.error or (case.frames is not None and case.frames < 1024):
      assert result["rc"] == 1, (case.name, result)
      _one_error_line(result["stderr"], case.path.name)
      assert not os.path.lexists(out), case.name  # nothing written
    else:
      assert result["rc"] == 0, (case.name, result["stderr"])
      assert "Traceback" not in result["stderr"]
      assert sorted(os.listdir(out)) == expected_files(out), case.name
  assert _leftovers(tmp_path) == []


def test_corpus_through_representations(corpus, tmp_path):
  _cli_corpus(corpus, tmp_path, "experiments.representations",
              lambda path, out: [f"--input={path}", f"--output_dir={out}", "--n_mels=32"],
              lambda out: REPR_FILES)


def test_corpus_through_reconstruct(corpus, tmp_path):
  _cli_corpus(corpus, tmp_path, "experiments.reconstruct",
              lambda path, out: [f"--input={path}", f"--output={out / 'y.wav'}",
                                 "--method=spsi"],
              lambda out: ["y.html", "y.json", "y.original.wav", "y.png", "y.wav"])


# ----------------------------------------------------------------------------
# Output locations, checked before any work
# ----------------------------------------------------------------------------


def _faults(tmp_path):
  good = tmp_path / "good.wav"
  sf.write(good, audio_corpus.tone(4000), audio_corpus.SR, subtype="PCM_16")
  (tmp_path / "a_file").write_text("x")
  (tmp_path / "taken").mkdir()
  (tmp_path / "taken" / "representations.png").mkdir()
  (tmp_path / "sidecar_dir.json").mkdir()
  (tmp_path / "in.json").write_text("{}")
  ro = [("/sys/specst_out", "permission denied")] if os.path.isdir("/sys") and IS_ROOT else []
  if not IS_ROOT:
    (tmp_path / "locked").mkdir(mode=0o500)
    ro = [(str(tmp_path / "locked" / "out"), "permission denied")]
  return good, ro


def test_output_faults_representations(tmp_path):
  good, ro = _faults(tmp_path)
  cases = [(str(tmp_path / "a_file"), "is an existing file"),
           (str(tmp_path / "a_file" / "out"), "a_file is a file"),
           (str(tmp_path / "taken"), "taken by a folder"), *ro]
  results = _drive("experiments.representations",
                   [[f"--input={good}", f"--output_dir={out}"] for out, _ in cases])
  for (out, fragment), result in zip(cases, results, strict=True):
    assert result["rc"] == 1, (out, result)
    _one_error_line(result["stderr"], fragment)
  assert sorted(os.listdir(tmp_path / "taken")) == ["representations.png"]
  assert (tmp_path / "a_file").read_text() == "x"


def test_output_faults_reconstruct(tmp_path):
  good, ro = _faults(tmp_path)
  (tmp_path / "good.json").write_text('{"keep": 1}')
  cases = [(str(tmp_path / "taken"), "is a folder"),
           (str(tmp_path / "a_file" / "y.wav"), "a_file is a file"),
           (str(good), "refusing to write over the input"),
           (str(tmp_path / "sidecar_dir.wav"), "is a folder"),
           (str(tmp_path / "y.txt"), "unknown audio extension"),
           *[(f"{out}/y.wav", fragment) for out, fragment in ro]]
  argvs = [[f"--input={good}", f"--output={out}"] for out, _ in cases]
  argvs.append([f"--input={tmp_path / 'in.json'}", f"--output={tmp_path / 'in.wav'}"])
  cases.append(("in.wav", "refusing to write over the input"))
  results = _drive("experiments.reconstruct", argvs)
  for (out, fragment), result in zip(cases, results, strict=True):
    assert result["rc"] == 1, (out, result)
    _one_error_line(result["stderr"], fragment)
  assert sf.info(good).frames == 4000 and (tmp_path / "good.json").read_text() == '{"keep": 1}'
  assert (tmp_path / "in.json").read_text() == "{}"


def test_real_cli_refuses_input_as_output(tmp_path):
  """The real command line (absl app.run): one line, exit 1, the input untouched."""
  source = tmp_path / "x.flac"
  sf.write(source, audio_corpus.tone(4000), audio_corpus.SR)
  before = source.read_bytes()
  result = subprocess.run(
      [sys.executable, "-m", "experiments.reconstruct", f"--input={source}",
       f"--output={source}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert result.returncode == 1
  assert result.stderr.strip() == f"error: {source}: refusing to write over the input file " \
                                  f"{source}"
  assert source.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["x.flac"]


# ----------------------------------------------------------------------------
# Killed while writing: the next run leaves one complete, consistent set
# ----------------------------------------------------------------------------


def _without_compilation_cache() -> dict:
  """The environment less the session's compilation cache (see conftest), so a killed child
  cannot leave a half-written entry there."""
  return {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}


def test_sigkill_in_write_phase_then_rerun(tmp_path):
  out = tmp_path / "run"
  first = subprocess.run([sys.executable, "-m", "experiments.representations",
                          f"--output_dir={out}", "--duration=1", "--n_mels=32"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert first.returncode == 0, first.stderr
  before = {name: (out / name).read_bytes() for name in REPR_FILES}
  # 30 s of signal: seconds of work between the temp folder's appearance and the commit.
  child = subprocess.Popen([sys.executable, "-m", "experiments.representations",
                            f"--output_dir={out}", "--duration=30", "--n_mels=32"], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=_without_compilation_cache())
  try:
    deadline = time.monotonic() + 240
    while not list(out.glob(".specst-tmp.*")):
      assert child.poll() is None and time.monotonic() < deadline, "no temp folder appeared"
      time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=60) == -signal.SIGKILL, "the run ended before it was killed"
  finally:
    child.kill()
    child.wait()
  # The killed run changed nothing that a reader sees.
  assert {name: (out / name).read_bytes() for name in REPR_FILES} == before
  again = subprocess.run([sys.executable, "-m", "experiments.representations",
                          f"--output_dir={out}", "--duration=2", "--n_mels=32"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert again.returncode == 0, again.stderr
  assert sorted(os.listdir(out)) == REPR_FILES  # no temp folders or files left
  meta = json.loads((out / "representations.json").read_text())
  assert meta["duration_s"] == 2.0
  for name in ("waveform", "linear_db", "mfcc"):
    assert list(np.load(out / f"{name}.npy").shape) == meta["shapes"][name]


# ----------------------------------------------------------------------------
# Level and long input
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["pghi+fgla", "fgla", "gla", "spsi", "rtisi_la"])
def test_phase_reconstruction_is_level_invariant(method):
  rng = np.random.default_rng(0)
  x = (np.sin(np.arange(4096) / 7.0) * rng.uniform(0.5, 1.0, 4096)).astype(np.float32)
  S = np.abs(np.asarray(spectral.stft(x, n_fft=256, hop_length=64)))
  kwargs = dict(n_fft=256, hop_length=64, method=method, n_iter=8, key=jax.random.key(0),
                length=x.size)
  y = np.asarray(phase.reconstruct(S, **kwargs))
  sc = float(phase.spectral_convergence(S, y, n_fft=256, hop_length=64))
  for level in (5e5, 1e-6):
    loud = np.asarray(phase.reconstruct(S * level, **kwargs))
    assert np.all(np.isfinite(loud))
    # The same quality at any level...
    assert float(phase.spectral_convergence(S * level, loud, n_fft=256, hop_length=64)) == (
        pytest.approx(sc, abs=0.5))
    # ... and the same waveform, except for RTISI-LA, whose per-frame phase choices flip on
    # one-ulp changes of S (S * (1 + 3e-7) changes its output as much).
    if method != "rtisi_la":
      np.testing.assert_allclose(loud / level, y, atol=1e-3 * np.abs(y).max())


def test_reconstruct_level_rule(tmp_path):
  """A loud float file (peak 5e5) gives finite audio scaled to 0.99; a quiet one keeps its level."""
  sf.write(tmp_path / "loud.wav", 5e5 * audio_corpus.tone(4000), audio_corpus.SR,
           subtype="FLOAT")
  sf.write(tmp_path / "quiet.wav", 0.1 * audio_corpus.tone(4000), audio_corpus.SR)
  common = ["--n_fft=256", "--hop_length=64", "--sr=8000"]
  results = _drive("experiments.reconstruct", [
      [f"--input={tmp_path / 'loud.wav'}", f"--output={tmp_path / 'y.wav'}", "--n_iter=4",
       *common],
      [f"--input={tmp_path / 'quiet.wav'}", f"--output={tmp_path / 'q.wav'}", "--method=spsi",
       *common]])
  assert [r["rc"] for r in results] == [0, 0], results
  y, _ = audio.load_audio(tmp_path / "y.wav")
  metrics = json.loads((tmp_path / "y.json").read_text())
  assert np.all(np.isfinite(y)) and np.abs(y).max() == pytest.approx(0.99, rel=1e-5)
  assert metrics["output_peak"] == pytest.approx(0.99, rel=1e-5)
  assert metrics["output_gain"] < 1e-5 and metrics["spectral_convergence_db"] < -10
  q, _ = audio.load_audio(tmp_path / "q.wav")
  metrics = json.loads((tmp_path / "q.json").read_text())
  assert metrics["output_gain"] == 1.0 and np.abs(q).max() == pytest.approx(
      metrics["output_peak"], rel=1e-5) and metrics["output_peak"] < 0.2


@pytest.mark.parametrize("peak, gain", [(0.5, 1.0), (1.0, 1.0), (2.0, 0.495), (5e5, 1.98e-6)])
def test_output_gain(peak, gain):
  """The level rule by its formula: 1 up to a peak of 1, else 0.99 / peak (peak after = 0.99)."""
  assert reconstruct_file.output_gain(peak) == pytest.approx(gain, rel=1e-12)
  assert peak * reconstruct_file.output_gain(peak) <= max(peak, 0.99) * (1 + 1e-12)


def _sparse_wav(path: Path, seconds: int, sr: int = 8000) -> Path:
  """A valid 16-bit WAV of ``seconds`` of silence that takes no disk space (sparse file)."""
  with sf.SoundFile(path, "w", sr, 1, "PCM_16") as f:
    f.write(np.zeros(16, np.int16))
  data = bytearray(path.read_bytes()[:44])
  n = seconds * sr * 2
  data[4:8] = (36 + n).to_bytes(4, "little")
  data[40:44] = n.to_bytes(4, "little")
  with open(path, "wb") as f:
    f.write(data)
    f.truncate(44 + n)
  return path


def test_too_long_input_refused_before_decoding(tmp_path):
  long = _sparse_wav(tmp_path / "hour.wav", 3600)
  with pytest.raises(audio.AudioError, match=r"3600.0 s of audio is longer than the limit of "
                                             r"600 s \(raise it with --max_seconds\)"):
    audio.load_audio(long, max_seconds=600, max_seconds_flag="--max_seconds")
  assert audio.check_duration(long, None) == 3600.0
  with pytest.raises(audio.AudioError, match="hour.wav"):
    audio.check_duration(long, 60, flag="--max_seconds")
  results = _drive("experiments.reconstruct",
                   [[f"--input={long}", f"--output={tmp_path / 'y.wav'}"]])
  _one_error_line(results[0]["stderr"], "hour.wav", "120 s", "--max_seconds")
  assert sorted(os.listdir(tmp_path)) == ["hour.wav"]


_MEASURE = r"""
import resource, sys
from specst_jax import overview as representations
representations.CHUNK_FRAMES = 1000
representations.run(input_path=sys.argv[1], output_dir=sys.argv[2], sr=8000, n_mels=32)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_kb(source: Path, out: Path) -> int:
  result = subprocess.run([sys.executable, "-c", _MEASURE, str(source), str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  return int(result.stdout.split()[-1])


def test_long_input_memory_is_bounded(tmp_path):
  """Twice the length through representations (one process each): the peak memory grows by
  less than the audio plus one [frames, bins] array of the extra length (whole-array code
  needs several). Both runs use the same shapes (chunks of 1000 frames, 1876 figure
  columns), so the difference is what scales with the length.
  """
  rng = np.random.default_rng(1)
  for name, minutes in (("five.wav", 5), ("ten.wav", 10)):
    with sf.SoundFile(tmp_path / name, "w", 8000, 1, "PCM_16") as f:
      for _ in range(minutes):
        f.write((0.05 * rng.standard_normal(8000 * 60)).astype(np.float32))
  base_kb = _peak_kb(tmp_path / "five.wav", tmp_path / "a")
  peak_kb = _peak_kb(tmp_path / "ten.wav", tmp_path / "b")
  frames = 1 + 600 * 8000 // 256
  audio_bytes = 600 * 8000 * 4
  extra_linear_bytes = (frames // 2) * 513 * 4
  assert (peak_kb - base_kb) * 1024 < audio_bytes + extra_linear_bytes, (base_kb, peak_kb)
  assert np.load(tmp_path / "b" / "linear_db.npy", mmap_mode="r").shape == (frames, 513)
