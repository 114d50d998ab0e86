"""Tests of specst_jax.studies.figure1 (conditions that differ only where they should, numpy /
librosa twins of the scoring) and the experiments.figure1 tool (quick mode; golden outputs of the
pre-redesign main when the shared data and the shipped weights are present)."""

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import chex
import librosa
import numpy as np
import pytest
import soundfile as sf
from absl.testing import absltest, parameterized

from specst_jax.studies import figure1 as f1

GOLDEN = Path(__file__).resolve().parent / "golden" / "figure1_quick" / "metrics.json"

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
  """All six rows, the golden configuration (``--quick``); with the shared data and the shipped
  weights the numbers must equal the pre-redesign main's (tests/golden/figure1_quick)."""
  out = tmp_path / "f1"
  args = [f"--output_dir={out}"]
  args += [f"--data_dir={DATA}"] if DATA.is_dir() else [f"--data_dir={tmp_path / 'no_data'}"]
  r = _run(args, tmp_path)
  assert r.returncode == 0, r.stderr[-3000:]
  assert "figure1: wall time" in r.stdout
  metrics = _check_outputs(out, dict(a=1, b=1, c=1, d=1, ulyanov=1, vgg19=1), trained=_shipped())
  rows = {r["key"]: r for r in metrics["rows"]}
  assert rows["b"]["weights"].startswith("random U(-0.1, 0.1)")
  assert "quick" in rows["vgg19"]["label"]
  if _shipped():
    assert rows["a"]["weights"].startswith("trained")
  assert metrics["settings"]["quick"]
  if DATA.is_dir() and _shipped():
    _compare_golden(metrics, json.loads(GOLDEN.read_text()))


def _compare_golden(got: dict, want: dict):
  """Same rows, weights, final losses (float32 tolerance) and measures (1e-4 relative)."""
  assert got["sr"] == want["sr"] and got["wyse_stft"] == want["wyse_stft"]
  assert got["pairs"] == want["pairs"]
  assert [r["key"] for r in got["rows"]] == [r["key"] for r in want["rows"]]
  for g, w in zip(got["rows"], want["rows"], strict=True):
    assert g["weights"] == w["weights"], g["key"]
    if "final_loss" in w:
      np.testing.assert_allclose(g["final_loss"], w["final_loss"], rtol=1e-5, err_msg=g["key"])
      assert g["stft"] == w["stft"], g["key"]
    for m in MEASURES:
      np.testing.assert_allclose(g["per_item"][m], w["per_item"][m], rtol=1e-4, atol=1e-7,
                                 err_msg=f"{g['key']} {m}")


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


# ------------------------------------------------------------------ conditions, in-process

SR = 16000


def _settings(**over):
  s = dict(quick=True, seeds=2, pairs=1, n_iter=3, learning_rate=0.01, noise=0.7,
           duration=0.25, data_dir="/nonexistent", weights="random", vgg_weights=None,
           vgg_iter=1, extra_pairs=1, ulyanov_iter=2, ulyanov_filters=16,
           phase_method="fgla", phase_iter=2, conditions=list(f1.CONDITION_KEYS))
  s.update(over)
  return f1.check_settings(s)


def _fake_trained(n_bins=257):
  """Stand-in "trained" weights: a small classifier with its own input statistics."""
  import jax

  from specst_jax.models.wyse import WyseClassifier
  from specst_jax.representations import Stft
  from specst_jax.style import nets
  module = WyseClassifier(conv_features=(32, 8))
  params = module.init(jax.random.key(42), np.zeros((1, 16, n_bins), np.float32))["params"]
  rng = np.random.default_rng(0)
  return nets.Weights("trained (fake)", params, module=module,
                      mean=rng.uniform(0.2, 0.4, n_bins).astype(np.float32),
                      std=rng.uniform(0.1, 0.2, n_bins).astype(np.float32),
                      stft=Stft(SR, 512, 128, False), representation="unit_db",
                      provenance={"test_accuracy": 0.5})


class ConditionsTest(absltest.TestCase):
  """(a) vs (b) and (c) vs (d) differ in the weights only; (a) vs (c) in the init only."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.s = _settings()
    cls.trained = _fake_trained()
    cls.pairs, _ = f1.load_pairs(cls.s, SR)
    cls.conds = {c.key: c for c in f1.conditions(cls.s["noise"])}
    cls.res = {k: f1.run_condition(cls.conds[k], cls.s, cls.trained, None, cls.pairs,
                                   cls.trained.stft) for k in "abcd"}

  def test_settings_differ_only_where_they_should(self):
    settings = {k: f1.condition_settings(self.conds[k], self.s, self.trained.stft)
                for k in "abcd"}
    self.assertEqual(settings["a"], settings["b"])
    self.assertEqual(settings["c"], settings["d"])
    self.assertEqual(dataclasses.replace(settings["a"], init="mix"), settings["c"])
    self.assertEqual(settings["a"].stft, self.trained.stft)

  def test_trained_and_random_share_the_pipeline_and_differ_in_weights(self):
    import jax
    n_bins = self.trained.stft.n_bins
    settings = f1.condition_settings(self.conds["a"], self.s, self.trained.stft)
    a = f1.condition_nets(self.conds["a"], settings, self.trained, None, n_bins, [0, 1], "")
    b = f1.condition_nets(self.conds["b"], settings, self.trained, None, n_bins, [0, 1], "")
    self.assertEqual(len(a), 1)  # trained from the content: deterministic, one draw
    self.assertEqual(len(b), 2)  # random: one draw per seed
    for net in b:  # same loss, layers, representation, receptive field and architecture
      self.assertEqual(net.config, a[0].config)
      self.assertEqual(net.representation, a[0].representation)
      self.assertEqual(net.receptive_field, a[0].receptive_field)
      self.assertEqual(net.features_fn.module, a[0].features_fn.module)
      self.assertEqual(net.features_fn.layers, a[0].features_fn.layers)
      for layer in ("conv1", "conv2"):
        self.assertEqual(jax.tree.map(np.shape, net.params["params"][layer]),
                         jax.tree.map(np.shape, a[0].params["variables"]["params"][layer]))
    self.assertTrue(a[0].weights.startswith("trained (shipped, fold-5 acc 0.500"))
    self.assertTrue(b[0].weights.startswith("random U(-0.1, 0.1)"))
    # the two seeds draw different weights
    self.assertFalse(np.allclose(b[0].params["params"]["conv1"]["kernel"],
                                 b[1].params["params"]["conv1"]["kernel"]))

  def test_results_differ_between_weights_and_between_inits(self):
    res = self.res
    self.assertEqual(len(res["a"]["items"]), 1)
    self.assertEqual([it for it in res["b"]["items"]], [(0, 0), (0, 1)])
    for x, y in (("a", "b"), ("c", "d"), ("a", "c")):
      self.assertFalse(np.allclose(res[x]["S"][0], res[y]["S"][0], rtol=1e-3), (x, y))
      self.assertFalse(np.allclose(res[x]["audio"][0], res[y]["audio"][0], atol=1e-4), (x, y))
    # (b)'s two seeds: different weights and noise keys, different results
    self.assertFalse(np.allclose(res["b"]["S"][0], res["b"]["S"][1], rtol=1e-3))
    for r in res.values():
      self.assertTrue(np.all(np.isfinite(r["audio"])) and np.all(np.isfinite(r["sc"])))


class JudgeTest(absltest.TestCase):

  def test_score_vs_librosa_numpy_twins(self):
    rng = np.random.default_rng(0)
    t = np.arange(SR // 2) / SR
    content = (0.5 * np.sin(2 * np.pi * 300 * t * (1 + t))).astype(np.float32)
    style = (0.3 * rng.standard_normal(t.size) * (t % 0.1 < 0.05)).astype(np.float32)
    result = (0.5 * content + 0.5 * style).astype(np.float32)
    judge = f1.Judge(None, SR)
    got = judge.score(result[None], judge.logmel(content[None]), judge.logmel(style[None]))

    def logmel(y):
      mel = librosa.feature.melspectrogram(y=y.astype(np.float64), sr=SR, n_fft=1024,
                                           hop_length=256, n_mels=64)
      return librosa.power_to_db(mel, ref=np.max, top_db=80.0).T

    lr, lc, ls = logmel(result), logmel(content), logmel(style)
    dist = np.sqrt(np.mean((lr.mean(0) - ls.mean(0)) ** 2 + (lr.std(0) - ls.std(0)) ** 2))
    corr = np.corrcoef((lr - lr.mean(0)).ravel(), (lc - lc.mean(0)).ravel())[0, 1]
    env = np.corrcoef(lr.mean(1), lc.mean(1))[0, 1]
    np.testing.assert_allclose(got["style_distance_db"], [dist], rtol=2e-3)
    np.testing.assert_allclose(got["content_correlation"], [corr], atol=2e-3)
    np.testing.assert_allclose(got["envelope_correlation"], [env], atol=2e-3)
    self.assertTrue(np.isnan(got["p_rooster"]).all())  # no classifier: n/a, not a number

  def test_summary_and_tables(self):
    per = {k: np.array([1.0, 3.0]) for k in MEASURES}
    per["p_rooster"] = np.array([np.nan, np.nan])
    summ = f1.summary(per)
    self.assertEqual(summ["sc_db"], dict(mean=2.0, std=1.0, n=2))
    self.assertEqual(summ["p_rooster"]["n"], 0)
    row = dict(label="(x)", weights="w", summary=summ,
               per_item={k: list(v) for k, v in per.items()},
               items=[dict(pair="p1", seed=0), dict(pair="p2", seed=0)])
    table = f1.markdown_table([row])
    self.assertIn("| (x) | w | 2 | 2.00 ± 1.00 | 2.000 ± 1.000 | 2.000 ± 1.000 | n/a | "
                  "2.0 ± 1.0 |", table)
    self.assertIn("| (x) | 1.0 dB / 1.000 | 3.0 dB / 3.000 |",
                  f1.per_pair_table([row], ["p1", "p2"]))


if __name__ == "__main__":
  pytest.main([__file__, "-q"])
