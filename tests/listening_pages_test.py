"""The listening pages of the single-run tools (style_transfer, reconstruct) in headless Chromium:
the page loads without console errors, every audio element decodes (finite duration), every
image loads, is linked at full size and is shown readable (the figure at the page's figure
width); the inputs play beside the result; the written audio's listener check is in the metrics.
(The studies' pages are checked in figure1_test / studies_channels_test.)"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from specst_jax import listening, provenance
from tests import browser

ROOT = Path(__file__).resolve().parents[1]


def _check(page: Path, audio: list[str], figure: str):
  """The page plays ``audio`` (in order) and shows ``figure`` below the table."""
  assert page.is_file()
  html = page.read_text()
  for name in audio:
    assert f'<audio controls preload="metadata" src="{name}">' in html, name
  assert f'<figure><a href="{figure}"><img src="{figure}"' in html
  if browser.skip_reason():
    pytest.skip(browser.skip_reason())
  rep = browser.page_report(page)
  assert rep["console_errors"] == []
  assert [Path(a["src"]).name for a in rep["audio"]] == audio
  assert all(math.isfinite(a["duration"]) and a["duration"] > 0 for a in rep["audio"])
  (image,) = rep["images"]
  assert Path(image["src"]).name == figure and image["link"] == image["src"]
  assert image["width"] >= listening.FIGURE_MAX_WIDTH_PX  # full size is at least page size
  assert image["shown_width"] == pytest.approx(listening.FIGURE_MAX_WIDTH_PX)


def _listener_checks(metrics: dict, files: list[str], with_sc: str):
  assert sorted(metrics["listener"]) == sorted(files)
  for name, check in metrics["listener"].items():
    assert ("sc_db" in check) == (name == with_sc), name
    assert check["passed"] == (check["warnings"] == []), name
    assert check["edge_to_body_peak"] >= 0 and check["clipped_samples"] == 0


def test_reconstruct_page(tmp_path):
  x = 0.3 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)
  sf.write(tmp_path / "in.wav", x, 8000)
  out = tmp_path / "out" / "y.wav"
  r = subprocess.run([sys.executable, "-m", "experiments.reconstruct",
                      f"--input={tmp_path / 'in.wav'}", f"--output={out}", "--method=spsi",
                      "--sr=8000", "--n_fft=256", "--hop_length=64"], cwd=ROOT,
                     capture_output=True, text=True, timeout=300)
  assert r.returncode == 0, r.stderr[-2000:]
  assert "listener check" not in r.stderr  # a clean sine's reconstruction passes
  assert sorted(p.name for p in out.parent.iterdir()) == [
      "y.html", "y.json", "y.original.wav", "y.png", "y.wav"]
  original, _ = sf.read(out.parent / "y.original.wav")
  np.testing.assert_allclose(original, x, atol=1e-4)  # the input, 16-bit
  metrics = json.loads(out.with_suffix(".json").read_text())
  _listener_checks(metrics, ["y.wav", "y.original.wav"], with_sc="y.wav")
  assert metrics["listener"]["y.wav"]["sc_db"] == pytest.approx(
      metrics["spectral_convergence_db"], abs=0.1)  # gain 1: the same SC
  assert metrics["provenance"]["data_sha256"] == provenance.data_hash([tmp_path / "in.wav"])
  assert metrics["provenance"]["command"].startswith("python -m experiments.reconstruct")
  page = out.with_suffix(".html")
  assert "spsi" in page.read_text() and "data_sha256" not in page.read_text()
  _check(page, ["y.original.wav", "y.wav"], "y.png")


def test_style_transfer_page(tmp_path):
  out = tmp_path / "st"
  r = subprocess.run([sys.executable, "-m", "experiments.style_transfer", f"--output_dir={out}",
                      "--filters=8", "--n_iter=2", "--phase_iter=2", "--n_fft=256",
                      "--hop_length=64", "--sr=8000"], cwd=ROOT, capture_output=True, text=True,
                     timeout=300)
  assert r.returncode == 0, r.stderr[-2000:]
  metrics = json.loads((out / "metrics.json").read_text())
  _listener_checks(metrics, ["result.wav", "content.wav", "style.wav"], with_sc="result.wav")
  assert metrics["provenance"]["data_sha256"] is None  # the demo reads no file
  assert metrics["provenance"]["command"].startswith("python -m experiments.style_transfer")
  for name in ("content.wav", "style.wav"):
    info = sf.info(out / name)
    assert (info.samplerate, info.subtype) == (8000, "PCM_16"), name
  html = (out / "index.html").read_text()
  assert "target magnitude" in html and "as written" in html
  _check(out / "index.html", ["content.wav", "style.wav", "result.wav"], "spectrograms.png")
