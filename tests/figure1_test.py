"""Tests of specst_jax.studies.figure1: trained and random conditions differ ONLY in the weights
(same input pipeline, settings, init and keys), the claims' statistics, config checks, and the
experiments.figure1 tool in quick mode (listening page checked in headless Chromium)."""

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import chex
import jax
import numpy as np
import pytest
from absl.testing import absltest, parameterized

from specst_jax.studies import figure1 as f1
from specst_jax.studies import pairs as pairs_lib
from specst_jax.style import nets, optimize, transfer
from tests import browser

ROOT = Path(__file__).resolve().parents[1]
SR = 16000


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
    m, sd, n = f1.mean_std(np.array([[1.0, np.nan], [3.0, 8.0]]))
    self.assertEqual(n, 3)
    np.testing.assert_allclose([m, sd], [np.mean([1, 3, 8]), np.std([1, 3, 8])], rtol=1e-12)
    self.assertEqual(f1.mean_std([np.nan])[2], 0)


def _cfg(**over):
  c = dict(name="test", n_pairs=2, paper_pair=False, seeds=2, duration=0.25,
           noise_levels=(0.0, 0.7), n_iter=3, phase_method="fgla", phase_iter=2,
           classifier="", data_dir="/nonexistent")
  c.update(over)
  return f1.Config(**c)


def _fake_trained(n_bins=257):
  """Stand-in "trained" weights: a small classifier with its own input statistics."""
  from specst_jax.models.wyse import WyseClassifier
  from specst_jax.representations import Stft
  module = WyseClassifier(conv_features=(32, 8))
  params = module.init(jax.random.key(42), np.zeros((1, 16, n_bins), np.float32))["params"]
  rng = np.random.default_rng(0)
  return nets.Weights("trained (fake)", params, module=module,
                      mean=rng.uniform(0.2, 0.4, n_bins).astype(np.float32),
                      std=rng.uniform(0.1, 0.2, n_bins).astype(np.float32),
                      stft=Stft(SR, 512, 128, False), representation="unit_db",
                      provenance={"test_accuracy": 0.5})


class ConditionsTest(absltest.TestCase):
  """trained_rX vs random_rX: the weights and nothing else."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.cfg = _cfg()
    cls.trained = _fake_trained()
    cls.ps = f1.load_pairs(cls.cfg, SR)
    cls.conds = {c.key: c for c in f1.conditions(cls.cfg)}
    cls.res = {k: f1.run_condition(cls.conds[k], cls.cfg, cls.trained, None, cls.ps,
                                   cls.trained.stft, progress=None)
               for k in ("trained_r0", "random_r0", "trained_r0.7", "random_r0.7")}

  def test_condition_keys(self):
    self.assertEqual(list(self.conds), ["trained_r0", "random_r0", "trained_r0.7", "random_r0.7"])
    with_extras = f1.conditions(dataclasses.replace(self.cfg, extras=("ulyanov",)))
    self.assertEqual(with_extras[-1].key, "ulyanov")

  def test_settings_are_equal_for_both_weights(self):
    st = {k: f1.condition_settings(c, self.cfg, self.trained.stft) for k, c in self.conds.items()}
    self.assertEqual(st["trained_r0"], st["random_r0"])
    self.assertEqual(st["trained_r0.7"], st["random_r0.7"])
    self.assertEqual(dataclasses.replace(st["trained_r0"], noise=0.7), st["trained_r0.7"])
    self.assertEqual(st["trained_r0"].init, "mix")
    self.assertEqual(st["trained_r0"].stft, self.trained.stft)

  def test_same_input_pipeline_module_and_loss(self):
    s = f1.condition_settings(self.conds["trained_r0"], self.cfg, self.trained.stft)
    n_bins = self.trained.stft.n_bins
    a = f1.wyse_nets(self.conds["trained_r0"], s, self.trained, n_bins, [0, 1])
    b = f1.wyse_nets(self.conds["random_r0"], s, self.trained, n_bins, [0, 1])
    self.assertLen(a, 1)
    self.assertLen(b, 2)
    for net in b:
      self.assertIsInstance(net.features_fn, optimize.StandardizedNetFeatures)
      self.assertEqual(net.features_fn, a[0].features_fn)  # same module, layers, call args
      self.assertEqual((net.config, net.representation, net.receptive_field),
                       (a[0].config, a[0].representation, a[0].receptive_field))
      for k in ("mean", "std"):  # the trained weights' standardisation, in both
        np.testing.assert_array_equal(net.params[k], a[0].params[k])
      for layer in ("conv1", "conv2"):  # the layers the losses use (heads are never called)
        self.assertEqual(jax.tree.map(np.shape, net.params["variables"]["params"][layer]),
                         jax.tree.map(np.shape, a[0].params["variables"]["params"][layer]))
      leaves = np.concatenate([np.ravel(x) for x in jax.tree.leaves(net.params["variables"])])
      self.assertTrue(leaves.min() >= -0.1 and leaves.max() <= 0.1 and leaves.std() > 0.05)
    self.assertFalse(np.allclose(b[0].params["variables"]["params"]["conv1"]["kernel"],
                                 b[1].params["variables"]["params"]["conv1"]["kernel"]))
    self.assertIn("trained input standardisation", b[0].weights)

  def test_random_condition_is_the_trained_run_with_its_weights_swapped(self):
    """Run the TRAINED condition's net with only its weights replaced by the random draw of
    seed 0: the result must equal the random condition's seed 0 exactly."""
    cond, res = self.conds["random_r0.7"], self.res["random_r0.7"]
    s = f1.condition_settings(cond, self.cfg, self.trained.stft)
    n_bins = self.trained.stft.n_bins
    a = f1.wyse_nets(self.conds["trained_r0.7"], s, self.trained, n_bins, [0])[0]
    b = f1.wyse_nets(cond, s, self.trained, n_bins, [0])[0]
    swapped = dataclasses.replace(a, params=dict(a.params, variables=b.params["variables"]))
    items = [i for i, (_, k) in enumerate(res["items"]) if k == 0]
    keys = jax.numpy.stack([jax.random.fold_in(jax.random.key(0), 100 + p)
                            for p, _ in (res["items"][i] for i in items)])
    r = transfer.stylize_batch(s, self.ps.contents, self.ps.styles, net=swapped, keys=keys,
                               phase_key=jax.random.key(5), progress=None)
    np.testing.assert_allclose(r.magnitude, res["S"][items], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(r.loss_curve, res["loss_curve"][items], rtol=1e-6)

  def test_results_differ_between_weights_and_inits(self):
    res = self.res
    self.assertEqual(res["trained_r0"]["items"], [(0, 0), (1, 0)])  # deterministic: 1 seed
    self.assertEqual(res["random_r0"]["items"], [(0, 0), (1, 0), (0, 1), (1, 1)])
    for x, y in (("trained_r0", "random_r0"), ("trained_r0.7", "random_r0.7"),
                 ("trained_r0", "trained_r0.7")):
      self.assertFalse(np.allclose(res[x]["S"][0], res[y]["S"][0], rtol=1e-3), (x, y))
    for r in res.values():
      self.assertTrue(np.all(np.isfinite(r["audio"])) and np.all(np.isfinite(r["sc"])))
      self.assertEqual(r["loss_curve"].shape[-1], self.cfg.n_iter)


class ClaimsTest(absltest.TestCase):

  def test_verdicts_follow_the_measures(self):
    cfg = _cfg(noise_levels=(0.0, 0.7))
    rng = np.random.default_rng(0)
    names = [f"p{i}" for i in range(12)]
    rows = {}
    for key, dist, cc in (("trained_r0", 10.0, 0.8), ("random_r0", 14.0, 0.79),
                          ("trained_r0.7", 16.0, 0.75), ("random_r0.7", 18.0, 0.74)):
      v = lambda m: m + rng.normal(0, 0.3, 12)  # noqa: E731
      rows[key] = dict(pairs=names, style_distance_db=v(dist), modulation_distance_db=v(5.0),
                       p_style_class=np.full(12, np.nan), content_correlation=v(cc) * 0.1 + cc,
                       envelope_correlation=v(0.5), p_content_class=np.full(12, np.nan))
      rows[key]["style_progress"] = f1.style_progress(rows[key]["style_distance_db"],
                                                      np.full(12, 20.0))
    out = {(c, m.split(":")[0]): v for c, m, v in f1.claims(rows, cfg, names)}
    self.assertEqual(out[("trained > random weights (r=0)", "style_distance_db")].verdict,
                     "supported")  # 10 dB vs 14 dB: trained is closer to the style
    self.assertEqual(out[("trained > random weights (r=0)", "modulation_distance_db")].verdict,
                     "undecided")
    self.assertEqual(out[("trained > random weights (r=0)", "p_style_class")].n_pairs, 0)
    # style progress drops 0.3 from noise, content 0.05: style suffers more
    self.assertEqual(out[("noise hurts style more than content (trained, r=0 vs 0.7)",
                          "style-progress drop - content-corr drop")].verdict, "supported")

  def test_style_progress(self):
    np.testing.assert_allclose(f1.style_progress(np.array([0.0, 5.0, 10.0]), 10.0), [1, 0.5, 0])


class ConfigTest(absltest.TestCase):

  def test_bad_values_are_named(self):
    for over, msg in ((dict(noise_levels=(1.5,)), "noise_levels"),
                      (dict(noise_levels=(0.2, 0.2)), "repeat"),
                      (dict(extras=("zz",)), "extras"), (dict(seeds=0), "seeds"),
                      (dict(phase_method="nope"), "phase_method")):
      with self.assertRaisesRegex(ValueError, msg):
        _cfg(**over)

  def test_presets(self):
    import importlib.util
    spec = importlib.util.spec_from_file_location("c", ROOT / "experiments/configs/figure1.py")
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    paper = m.get_config("paper")
    self.assertEqual((paper.phase_method, paper.phase_iter), ("spsi+gla", 50))
    self.assertEqual(tuple(paper.noise_levels), (0.0, 0.2, 0.7))
    ours = m.get_config("ours")
    self.assertGreaterEqual(ours.n_pairs, 12)
    self.assertEqual(ours.seeds, 3)
    with self.assertRaisesRegex(ValueError, "unknown preset"):
      m.get_config("zz")


def _run(args):
  return subprocess.run([sys.executable, "-m", "experiments.figure1", "--quick", *args],
                        cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_quick_end_to_end(tmp_path):
  out = tmp_path / "f1"
  r = _run([f"--output_dir={out}", f"--config.data_dir={tmp_path / 'none'}",
            "--config.seeds=1"])
  assert r.returncode == 0, r.stderr[-3000:]
  assert "figure1: wall time" in r.stdout and "| claim |" in r.stdout
  m = json.loads((out / "metrics.json").read_text())
  assert m["config"]["seeds"] == 1 and m["config"]["name"] == "quick"  # override kept
  assert list(m["rows"]) == ["content", "style", "trained_r0", "random_r0", "trained_r0.7",
                             "random_r0.7"]
  assert m["source"].startswith("built-in")
  assert m["provenance"]["command"].startswith("python -m experiments.figure1")
  assert m["provenance"]["data_sha256"] is None and m["provenance"]["machine"]  # no data read
  np.testing.assert_allclose(m["rows"]["content"]["content_correlation"], 1.0, atol=1e-5)
  np.testing.assert_allclose(m["rows"]["style"]["style_distance_db"], 0.0, atol=1e-3)
  for key in ("trained_r0", "random_r0"):
    assert all(math.isfinite(v) for v in m["rows"][key]["style_distance_db"])
  assert "standardisation" in m["input_pipeline"] or "raw" in m["input_pipeline"]
  assert {c["claim"] for c in m["claims"]} >= {"trained > random weights (r=0)"}
  for name in ("metrics.md", "figure1.png", "loss_curves.png", "index.html"):
    assert (out / name).is_file(), name
  # The listener's check of every clip written; the results' SC against their magnitudes.
  clips = sorted(str(p.relative_to(out)) for p in (out / "audio").iterdir())
  assert sorted(m["listener"]) == clips and len(clips) == 2 * (2 + 4)
  for name, check in m["listener"].items():
    is_input = name.endswith(("_content.wav", "_style.wav"))
    assert ("sc_db" in check) != is_input, name
    assert check["passed"] == (check["warnings"] == [])
  page = (out / "index.html").read_text()
  assert "listener check" in page and "as written" in page
  n_audio = 2 * (2 + 4)  # pairs x (content, style, 4 conditions)
  assert page.count("<audio controls") == n_audio
  if browser.skip_reason():
    pytest.skip(browser.skip_reason())
  rep = browser.page_report(out / "index.html")
  assert rep["console_errors"] == []
  assert len(rep["audio"]) == n_audio
  assert all(math.isfinite(a["duration"]) and a["duration"] > 0 for a in rep["audio"])
  # One image per cell, then figure1.png below the table; each linked at full size.
  assert len(rep["images"]) == n_audio + 1 and all(i["width"] > 0 for i in rep["images"])
  assert all(i["link"] == i["src"] for i in rep["images"])
  assert rep["images"][-1]["src"].endswith("figure1.png")


def test_bad_inputs(tmp_path):
  r = _run([f"--output_dir={tmp_path / 'o'}", "--config.noise_levels=(0.0, 2.0)"])
  assert r.returncode == 1 and "noise_levels" in r.stderr.strip().splitlines()[-1]
  f = tmp_path / "file"
  f.write_text("x")
  r = _run([f"--output_dir={f}"])
  assert r.returncode == 1 and r.stderr.strip().splitlines()[-1].startswith("figure1: error:")


def test_pairs_builtin_and_fit():
  ps = pairs_lib.load_pairs("/nonexistent", n_pairs=3, sr=SR, duration=0.5)
  assert ps.contents.shape == (3, SR // 2) and ps.source.startswith("built-in")
  np.testing.assert_allclose(np.abs(ps.contents).max(axis=1), pairs_lib.PEAK, rtol=1e-6)
  y = pairs_lib.fit(np.ones(5), 8)
  np.testing.assert_allclose(y, [0.9] * 5 + [0] * 3, rtol=1e-6)
  assert pairs_lib.activity(np.r_[np.zeros(800), np.ones(800)], 16000) == 0.5
  assert ps.files() == []  # built-in signals: no file read, data_sha256 null


@pytest.mark.skipif(not (ROOT.parent / "shared" / "data" / "esc50_16k").is_dir(),
                    reason="shared data absent")
def test_pairs_from_data_are_fold_5_and_several_style_classes():
  ps = pairs_lib.load_pairs(ROOT.parent / "shared" / "data", n_pairs=12, sr=SR, duration=0.5)
  assert len({p.style_class for p in ps.pairs}) == 6
  esc = [p for p in ps.pairs if p.content_class] + list(ps.pairs)
  for p in esc:
    for f in (p.content_file, p.style_file):
      if "esc50" in f:
        assert Path(f).name.startswith("5-"), f  # ESC-50 file names start with the fold
  assert sum(1 for p in ps.pairs if p.content_class) == 4
  named = {f for p in ps.pairs for f in (p.content_file, p.style_file)}
  assert ps.files() == sorted(named) and all(Path(f).is_file() for f in ps.files())
