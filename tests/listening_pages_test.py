"""The listening pages of the single-run tools (style_transfer, reconstruct) in headless Chromium:
the page loads without console errors, every audio element decodes (finite duration), every
image loads. (The studies' pages are checked in figure1_test / studies_channels_test.)"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests import browser

ROOT = Path(__file__).resolve().parents[1]


def _check(page: Path, n_audio: int, n_images: int):
  assert page.is_file()
  if browser.skip_reason():
    pytest.skip(browser.skip_reason())
  rep = browser.page_report(page)
  assert rep["console_errors"] == []
  assert len(rep["audio"]) == n_audio
  assert all(math.isfinite(a["duration"]) and a["duration"] > 0 for a in rep["audio"])
  assert len(rep["images"]) == n_images and all(i["width"] > 0 for i in rep["images"])


def test_reconstruct_page(tmp_path):
  x = 0.3 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)
  sf.write(tmp_path / "in.wav", x, 8000)
  out = tmp_path / "out" / "y.wav"
  r = subprocess.run([sys.executable, "-m", "experiments.reconstruct",
                      f"--input={tmp_path / 'in.wav'}", f"--output={out}", "--method=spsi",
                      "--sr=8000", "--n_fft=256", "--hop_length=64"], cwd=ROOT,
                     capture_output=True, text=True, timeout=300)
  assert r.returncode == 0, r.stderr[-2000:]
  page = out.with_suffix(".html")
  assert "y.wav" in page.read_text() and "spsi" in page.read_text()
  _check(page, 1, 0)


def test_style_transfer_page(tmp_path):
  out = tmp_path / "st"
  r = subprocess.run([sys.executable, "-m", "experiments.style_transfer", f"--output_dir={out}",
                      "--filters=8", "--n_iter=2", "--phase_iter=2", "--n_fft=256",
                      "--hop_length=64", "--sr=8000"], cwd=ROOT, capture_output=True, text=True,
                     timeout=300)
  assert r.returncode == 0, r.stderr[-2000:]
  _check(out / "index.html", 1, 1)
