"""The feed-forward tools end to end, each in its own process on tiny settings: training in two
chunks (a time limit, then a resume), stylising a clip whole and streamed, the benchmark against
the optimisation, and the one-line errors of bad input. 8 kHz, n_fft 64, 32 filters, a generator
of 8 channels; a fake shared-data folder of four 1 s LJSpeech-named clips (LJ900-0004 is held
out at --heldout_fraction=0.5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import DATA

from specst_jax import audio, signals
from specst_jax.style import feedforward as ff

ROOT = Path(__file__).resolve().parents[1]
SR, HOP = 8000, 16
CLIPS = {"LJ900-0001.flac": "vowel_glide", "LJ900-0002.flac": "harmonic_mix",
         "LJ900-0003.flac": "noise_bursts", "LJ900-0004.flac": "vowel_glide"}
HELDOUT = "LJ900-0004.flac"
TINY = ["--sr=8000", "--n_fft=64", "--hop_length=16", "--filters=32", "--channels=8",
        "--dilations=1,2", "--batch_size=2", "--crop_seconds=0.25", "--heldout_fraction=0.5",
        "--log_every=1", "--eval_every=2", "--checkpoint_every=2", "--phase_method=rtpghi",
        "--phase_iter=0"]
STEPS = 3


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  """``(data_dir, style file, compilation cache)``."""
  root = tmp_path_factory.mktemp("ff_tools")
  speech = root / "data" / "speech" / "ljspeech"
  speech.mkdir(parents=True)
  for i, (name, kind) in enumerate(CLIPS.items()):
    y = signals.make_signal(kind, sr=SR, duration=1.0 + 0.25 * i)
    sf.write(speech / name, 0.5 * y / np.max(np.abs(y)), SR, subtype="PCM_16")
  style = root / "style.wav"
  sf.write(style, signals.make_signal("chirps", sr=SR, duration=1.0), SR, subtype="FLOAT")
  return root / "data", style, root / "jax_cache"


def _run(module: str, args: list[str], cache: Path) -> subprocess.CompletedProcess:
  env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_COMPILATION_CACHE_DIR=str(cache),
             JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
  env.pop("XLA_FLAGS", None)
  return subprocess.run([sys.executable, "-m", f"experiments.{module}", *args], cwd=ROOT,
                        env=env, capture_output=True, text=True, timeout=300)


def _ok(r: subprocess.CompletedProcess) -> str:
  assert r.returncode == 0, r.stderr[-3000:]
  return r.stdout


def _one_line_error(r: subprocess.CompletedProcess, tool: str, *parts: str) -> str:
  """The run failed with exit 1 and one ``<tool>: error: ...`` line holding ``parts``."""
  assert r.returncode == 1, (r.stdout[-1000:], r.stderr[-3000:])
  assert "Traceback" not in r.stderr, r.stderr[-3000:]
  last = r.stderr.strip().splitlines()[-1]
  assert last.startswith(f"{tool}: error: "), r.stderr[-3000:]
  for part in parts:
    assert part in last, last
  return last


@pytest.fixture(scope="module")
def trained(data):
  """A model trained in two chunks: ``(workdir, first run's stdout, second run's stdout)``."""
  data_dir, style, cache = data
  workdir = data_dir.parent / "run"
  args = [f"--style={style}", f"--workdir={workdir}", f"--data_dir={data_dir}",
          f"--steps={STEPS}", *TINY]
  first = _ok(_run("train_feedforward", [*args, "--max_minutes=1e-9"], cache))
  second = _ok(_run("train_feedforward", args, cache))
  return workdir, first, second


def test_training_stops_at_the_time_limit_resumes_and_records(trained, data):
  workdir, first, second = trained
  assert "3 training and 1 held-out content files" in first
  assert "feedforward: stopped at step 1/3 (time limit), checkpoint saved" in first
  assert "step 1/3 (stopped at the time limit; run the same command again to go on)" in first
  assert "resumed from step 1" in second
  assert "step 3/3 (done)" in second and str(workdir / ff.MODEL_FILE) in second
  history = [json.loads(line) for line in (workdir / "history.jsonl").read_text().splitlines()]
  assert [h["step"] for h in history] == [1, 2, 3]
  assert "heldout_loss" in history[0] and "heldout_loss" in history[-1]  # the stop evaluates
  meta = json.loads((workdir / "model.json").read_text())
  assert meta["train"]["step"] == STEPS and meta["heldout"]["names"] == [HELDOUT]
  assert meta["train"]["run"]["corpus"]["names"] == sorted(set(CLIPS) - {HELDOUT})
  prov = meta["provenance"]
  assert prov["command"].startswith("python -m experiments.train_feedforward")
  assert len(prov["data_sha256"]) == 64
  model = ff.load_model(workdir)
  assert (model.settings.stft.sr, model.settings.filters, model.generator.channels) == (SR, 32, 8)
  style, path = ff.load_style(model, workdir)  # the style clip kept beside it, as trained on
  np.testing.assert_array_equal(style, sf.read(data[1], dtype="float32")[0])
  assert path == workdir / ff.STYLE_CLIP


def test_stylize_fast_whole_and_streamed(trained, data, tmp_path):
  workdir, _, _ = trained
  data_dir, _, cache = data
  content = data_dir / "speech" / "ljspeech" / HELDOUT
  out = tmp_path / "fast"
  stdout = _ok(_run("stylize_fast", [f"--model={workdir}", f"--content={content}",
                                     f"--output_dir={out}", "--block_frames=7"], cache))
  assert f"stylize_fast: wrote {out}" in stdout and "streamed in 7-frame blocks" in stdout
  names = {"result.wav", "content.wav", "style.wav", "spectrograms.png", "metrics.json",
           "index.html"}
  assert names <= {p.name for p in out.iterdir()}
  m = json.loads((out / "metrics.json").read_text())
  seconds = sf.info(content).frames / SR
  assert m["audio_seconds"] == pytest.approx(seconds)
  t = m["timings"]
  assert m["rtf_spectrogram"] == pytest.approx(t["generator_s"] / seconds)
  assert m["rtf_total"] == pytest.approx(
      (t["analysis_s"] + t["generator_s"] + t["phase_s"]) / seconds)
  assert m["rtf_total"] > m["rtf_spectrogram"] > 0 and t["first_call_s"] > 0
  assert m["settings"]["phase_method"] == "rtpghi" and m["model"]["receptive_field_frames"] == 15
  assert set(m["final_losses"]) == {"style", "content", "range", "total"}
  assert set(m["listener"]) == {"result.wav", "content.wav", "style.wav"}
  assert "sc_db" in m["listener"]["result.wav"]
  assert all("passed" in c and "edge_to_body_peak" in c for c in m["listener"].values())
  stream = m["stream"]
  assert stream["max_rel_diff"] < 1e-5  # equal to the whole-file result, block edges included
  assert stream["latency_s"] == pytest.approx(7 * HOP / SR)
  assert stream["blocks"] == -(-(1 + sf.info(content).frames // HOP) // 7)  # centred frames
  assert len(m["provenance"]["data_sha256"]) == 64
  page = (out / "index.html").read_text()
  assert "result.wav" in page and "style.wav" in page


def test_bench_feedforward_quick(trained, data, tmp_path):
  workdir, _, _ = trained
  data_dir, _, cache = data
  output = tmp_path / "bench.json"
  stdout = _ok(_run("bench_feedforward", [
      "--quick", f"--model={workdir}", f"--data_dir={data_dir}", f"--output={output}",
      "--seconds=0.5", "--n_iter=3"], cache))
  assert "| style | clip |" in stdout and "loss ratio" in stdout
  b = json.loads(output.read_text())
  for path, keys in (("feedforward", ("rtf_spectrogram", "rtf_no_phase", "rtf_total", "loss")),
                     ("optimisation", ("rtf_no_phase", "rtf_total", "loss"))):
    for k in keys:
      assert b[path][k] > 0, (path, k)
  assert b["settings"]["clips"] == 1 and b["settings"]["n_iter"] == 3
  (row,) = b["clips"]
  assert row["clip"] == HELDOUT and row["seconds"] == pytest.approx(0.5)
  assert row["loss_ratio"] == pytest.approx(row["feedforward"]["loss"] /
                                            row["optimisation"]["loss"])
  assert b["loss_ratio"] == pytest.approx(row["loss_ratio"])
  assert row["optimisation"]["n_iter"] == 3 and row["optimisation"]["n_iterations_done"] <= 3
  for path in ("feedforward", "optimisation"):
    assert set(row[path]["losses"]) == {"style", "content", "range", "total"}
    assert set(row[path]["measures"]) >= {"style_distance_db", "content_correlation",
                                           "envelope_correlation"}
    assert row[path]["measures"]["style_distance_db"] is not None
    assert {"passed", "sc_db", "body_rms_dbfs"} <= set(row[path]["listener"])
  assert len(b["load_before"]) == 3 and len(b["load_after"]) == 3
  assert b["machine"]["before"]["cores"] == os.cpu_count()
  assert b["provenance"]["command"].startswith("python -m experiments.bench_feedforward")
  listen = tmp_path / "bench_listen"
  assert {"00_content.wav", "00_style.wav", "00_feedforward.wav", "00_optimisation.wav",
          "index.html"} <= {p.name for p in listen.iterdir()}


def test_train_refuses_bad_input(data, tmp_path):
  data_dir, style, cache = data
  a_file = tmp_path / "a_file"
  a_file.write_text("x")
  base = [f"--data_dir={data_dir}", *TINY]
  r = _run("train_feedforward", [f"--style={tmp_path / 'none.wav'}",
                                 f"--workdir={tmp_path / 'w'}", *base], cache)
  _one_line_error(r, "train_feedforward", f"--style={tmp_path / 'none.wav'}", "no such file")
  r = _run("train_feedforward", [f"--style={style}", f"--workdir={a_file}", *base], cache)
  _one_line_error(r, "train_feedforward", str(a_file), "not a folder")
  r = _run("train_feedforward", [f"--style={style}", f"--workdir={tmp_path / 'w'}", "--steps=0",
                                 *base], cache)
  _one_line_error(r, "train_feedforward", "--steps must be >= 1, got 0")
  assert not (tmp_path / "w").exists()


def test_stylize_and_bench_refuse_bad_input(data, tmp_path):
  data_dir, style, cache = data
  missing = tmp_path / "no_model"
  r = _run("stylize_fast", [f"--model={missing}", f"--content={style}",
                            f"--output_dir={tmp_path / 'out'}"], cache)
  _one_line_error(r, "stylize_fast", f"--model={missing}", "no such model file")
  assert not (tmp_path / "out").exists()
  if ff.shipped_models():
    pytest.skip("a model is shipped: the benchmark's default --model exists")
  r = _run("bench_feedforward", ["--quick", f"--output={tmp_path / 'b.json'}"], cache)
  _one_line_error(r, "bench_feedforward", "--model: no shipped feed-forward model")


def test_the_shipped_demo_stylises_held_out_speech_that_keeps_its_level(data, tmp_path):
  """The demo: ``stylize_fast --content=FILE`` with no --model runs the default shipped model. On
  5 s of speech held out from its training, the audio written passes the listener's check, its
  level holds from the first second to the last (a generator that only learnt a clip's start
  fades once its receptive field is past it), and the engine's loss at the generated frames is
  far below the loss at the content itself (the model learnt the style)."""
  shipped = ff.default_model()
  if shipped is None:
    pytest.skip("no feed-forward model shipped")
  assert shipped.name == ff.DEFAULT_MODEL
  speech = DATA / "speech" / "ljspeech" / "LJ001-0003.flac"
  if not speech.exists():
    pytest.skip(f"data not present: {speech}")
  model = ff.load_model(shipped)
  assert speech.name in model.info["heldout"]["names"]
  sr = model.settings.stft.sr
  content = tmp_path / "speech.wav"
  sf.write(content, audio.load_audio(speech, sr=sr)[0][:5 * sr], sr, subtype="FLOAT")
  out = tmp_path / "demo"
  _ok(_run("stylize_fast", [f"--content={content}", f"--output_dir={out}"], data[2]))
  metrics = json.loads((out / "metrics.json").read_text())
  assert metrics["settings"]["model"] == str(ff.model_file(shipped))
  assert metrics["listener"]["result.wav"]["passed"], metrics["listener"]["result.wav"]
  y, y_sr = sf.read(out / "result.wav", dtype="float32")
  assert y_sr == sr and y.size == sf.info(content).frames
  level = [10 * np.log10(np.mean(y[i * sr:(i + 1) * sr] ** 2)) for i in range(y.size // sr)]
  assert max(level) - min(level) < 10.0, level  # dB, per second
  s, rep = model.settings, model.representation
  _, net = ff.loss_net(s)
  x_c = ff.encode_audio(s.stft, rep, sf.read(content, dtype="float32")[0])
  x_s = ff.encode_audio(s.stft, rep, ff.load_style(model, shipped)[0])
  at_content = float(ff.engine_loss_terms(net, x_c, x_c, [x_s])["total"])
  assert metrics["final_losses"]["total"] < 0.2 * at_content, (metrics["final_losses"],
                                                                  at_content)
