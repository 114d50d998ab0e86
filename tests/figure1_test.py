"""Tests of specst_jax.figure1 (numpy twins) and the experiments.figure1 tool (quick mode)."""

import json
import math
import subprocess
import sys
from pathlib import Path

import chex
import numpy as np
import pytest
import soundfile as sf
from absl.testing import absltest, parameterized

from specst_jax import figure1 as f1

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MEASURES = ("style_distance_db", "content_correlation", "envelope_correlation", "p_rooster",
            "sc_db")


class FitLengthTest(chex.TestCase, parameterized.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(3, 10, 16)
  def test_matches_numpy_crop_pad(self, n):
    x = np.random.default_rng(0).normal(size=(2, 10)).astype(np.float32)
    want = np.zeros((2, n), np.float32)
    want[:, :min(n, 10)] = x[:, :n]
    got = self.variant(lambda x: f1.fit_length(x, n))(x)
    np.testing.assert_array_equal(np.asarray(got), want)

  def test_bad_length(self):
    with self.assertRaisesRegex(ValueError, "n must be a positive"):
      f1.fit_length(np.zeros(4), 0)
    with self.assertRaisesRegex(ValueError, "samples axis"):
      f1.fit_length(np.float32(1.0), 3)


class MeanStdTest(absltest.TestCase):

  def test_finite_entries_only(self):
    v = np.array([[1.0, np.nan], [3.0, 8.0]])
    m, sd, n = f1.mean_std(v)
    self.assertEqual(n, 3)
    np.testing.assert_allclose([m, sd], [np.mean([1, 3, 8]), np.std([1, 3, 8])], rtol=1e-12)

  def test_none_finite(self):
    m, sd, n = f1.mean_std([np.nan, np.inf])
    self.assertEqual(n, 0)
    self.assertTrue(math.isnan(m) and math.isnan(sd))


def _run(args, tmp_path):
  return subprocess.run([sys.executable, "-m", "experiments.figure1", "--quick", *args],
                        cwd=ROOT, capture_output=True, text=True, timeout=600)


def _check_outputs(out: Path, n_items: dict, trained: bool):
  """``n_items``: condition key -> expected (pair, seed) items."""
  metrics = json.loads((out / "metrics.json").read_text())
  rows = {r["key"]: r for r in metrics["rows"]}
  keys = list(n_items)
  assert list(rows) == ["content", "style", *keys]
  sr = metrics["sr"]
  for key, row in rows.items():
    for m in MEASURES:
      values = row["per_item"][m]
      want_n = n_items.get(key, metrics["settings"]["pairs"])
      assert len(values) == want_n, (key, m, values)
      if m == "p_rooster" and not trained:
        assert all(math.isnan(v) for v in values)
        continue
      assert all(math.isfinite(v) for v in values), (key, m, values)
      assert row["summary"][m]["n"] == want_n
    if trained:
      assert all(0.0 <= v <= 1.0 for v in row["per_item"]["p_rooster"])
  # Calibration rows: the content is perfectly correlated with itself, the style is at
  # distance 0 from itself.
  np.testing.assert_allclose(rows["content"]["per_item"]["content_correlation"], 1.0, atol=1e-5)
  np.testing.assert_allclose(rows["style"]["per_item"]["style_distance_db"], 0.0, atol=1e-3)
  for name in ["content.wav", "style.wav"]:
    y, file_sr = sf.read(out / name)
    assert file_sr == sr and len(y) == round(metrics["duration_s"] * sr)
  wavs = sorted(p.name for p in out.glob("*.wav"))
  assert len(wavs) == 2 + len(keys), wavs
  assert (out / "figure1.png").stat().st_size > 10_000
  table, per_pair = (out / "metrics.md").read_text().split("Per pair")
  for text in (table, per_pair):
    lines = [ln for ln in text.splitlines() if ln.startswith("| ") and not ln.startswith("| cond")]
    assert len(lines) == 2 + len(keys), text
  return metrics


def test_quick_end_to_end(tmp_path):
  """All six rows; with the shared data when present (2 pairs: the paper's + LJSpeech/ESC-50)."""
  out = tmp_path / "f1"
  args = [f"--output_dir={out}", "--seeds=2"]
  if DATA.is_dir():
    args += [f"--data_dir={DATA}", "--pairs=2"]
  else:
    args += [f"--data_dir={tmp_path / 'no_data'}"]
  r = _run(args, tmp_path)
  assert r.returncode == 0, r.stderr[-3000:]
  assert "figure1: wall time" in r.stdout
  pairs = 2 if DATA.is_dir() else 1
  # (a) with trained weights is deterministic (one seed); Ulyanov / VGG: one pair, seed 0.
  n = dict(a=pairs * (1 if _shipped() else 2), b=2 * pairs, c=2 * pairs, d=2 * pairs,
           ulyanov=1, vgg19=1)
  metrics = _check_outputs(out, n, trained=_shipped())
  rows = {r["key"]: r for r in metrics["rows"]}
  assert rows["b"]["weights"].startswith("random U(-0.1, 0.1)")
  assert "quick" in rows["vgg19"]["label"]
  if _shipped():
    assert rows["a"]["weights"].startswith("trained")
  assert metrics["settings"]["quick"]


def test_builtin_signals_and_random_stand_in(tmp_path):
  """No data and no trained weights: built-in signals, labelled random stand-in, P(rooster) n/a."""
  out = tmp_path / "f1"
  r = _run([f"--output_dir={out}", f"--data_dir={tmp_path / 'none'}", "--weights=random",
            "--conditions=a"], tmp_path)
  assert r.returncode == 0, r.stderr[-3000:]
  metrics = _check_outputs(out, {"a": 1}, trained=False)
  assert metrics["source"].startswith("built-in")
  row = metrics["rows"][2]
  assert "RANDOM STAND-IN" in row["weights"]
  assert "n/a" in (out / "metrics.md").read_text()


def test_bad_inputs(tmp_path):
  empty = tmp_path / "empty"
  empty.mkdir()
  r = _run([f"--output_dir={tmp_path / 'o'}", f"--data_dir={empty}", "--weights=random"],
           tmp_path)
  assert r.returncode == 1
  err = r.stderr.strip().splitlines()
  assert err[-1].startswith("figure1: error:") and "BeingRural5.0.tif" in err[-1], err[-3:]
  r = _run([f"--output_dir={tmp_path / 'o'}", "--conditions=a,zz"], tmp_path)
  assert r.returncode == 1 and "--conditions" in r.stderr


def _shipped() -> bool:
  from specst_jax import pretrained
  return pretrained.default_weights_path().is_file()


if __name__ == "__main__":
  pytest.main([__file__, "-q"])
