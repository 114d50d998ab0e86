"""Tests for specst_jax/classifier/evaluate.py: accuracy, ensembles, class posteriors, and the
reproduction of the shipped models' recorded fold-5 results on the real ESC-50 data."""

import json
import subprocess
import sys
from pathlib import Path

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from esc50_fake import tiny_config  # noqa: E402

from specst_jax import pretrained, provenance  # noqa: E402
from specst_jax.classifier import esc50, evaluate, splits, steps, train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "esc50_16k"
GOLDEN = ROOT / "tests" / "golden" / "evaluate"
REAL = pytest.mark.skipif(not DATA.is_dir(), reason="ESC-50 data not present (../shared/data)")


def test_evaluate_ensemble_averages_probabilities(fake, tmp_path):
  c = tiny_config(fake, aux_weight=0.0, standardize=True)
  sp = splits.prepare_splits(c, log=lambda s: None)
  model = steps.make_model(c)
  x_test, y_test, _ = sp.arrays["test"]
  paths, probs = [], []
  for seed in range(3):
    params = model.init(jax.random.key(seed), jnp.asarray(x_test[:1]))["params"]
    paths.append(tmp_path / f"m{seed}.msgpack")
    train.export_model(paths[-1], params, sp, train.provenance(c, sp, {"epoch": 1}))
    probs.append(jax.nn.softmax(model.apply({"params": params}, x_test)[0]))
  folds = list(c.test_folds)
  got = evaluate.evaluate([str(p) for p in paths], c.data_dir, folds, c.cache_dir, 4)
  want = np.mean(np.mean(probs, axis=0).argmax(-1) == y_test)
  assert got["clips"] == len(y_test) and got["ensemble_accuracy"] == pytest.approx(want)
  assert [m["weights"] for m in got["models"]] == [str(p) for p in paths]
  one = evaluate.evaluate([str(paths[0])], c.data_dir, folds, c.cache_dir, 4)
  assert one["accuracy"] == pytest.approx(np.mean(np.argmax(probs[0], -1) == y_test))


def test_cli_bad_data_dir_exits_1(tmp_path):
  r = subprocess.run([sys.executable, "-m", "experiments.evaluate_classifier",
                      f"--data_dir={tmp_path}", "--weights", str(tmp_path / "w.msgpack")],
                     capture_output=True, text=True, timeout=300, cwd=ROOT)
  assert r.returncode == 1 and r.stderr.strip().startswith("error:")
  assert "w.msgpack" in r.stderr


class _MeanDense(nn.Module):
  """A stand-in classifier: logits = Dense(mean over frames); returns (logits, {})."""

  classes: int = 4

  @nn.compact
  def __call__(self, x, train=False):
    return nn.Dense(self.classes)(jnp.mean(x, axis=-2)), {}


def _frames(y):
  """Toy feature map: audio [batch, samples] -> [batch, frames=samples // 8, 8]."""
  return jnp.reshape(y, y.shape[:-1] + (y.shape[-1] // 8, 8))


class ClassPosteriorTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_matches_numpy_softmax(self):
    rng = np.random.default_rng(1)
    y = rng.normal(size=(3, 64)).astype(np.float32)
    mean, std = rng.normal(size=8).astype(np.float32), rng.uniform(0.5, 2, 8).astype(np.float32)
    model = _MeanDense()
    params = model.init(jax.random.key(0), jnp.zeros((1, 8, 8)))["params"]
    got = self.variant(lambda p, y: evaluate.class_posterior(
        p, y, model=model, features_fn=_frames, class_index=2, mean=mean, std=std))(params, y)
    x = (y.reshape(3, 8, 8).astype(np.float64) - mean) / std
    w, b = np.asarray(params["Dense_0"]["kernel"]), np.asarray(params["Dense_0"]["bias"])
    logits = x.mean(axis=1) @ w + b
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    np.testing.assert_allclose(np.asarray(got), p[:, 2], rtol=1e-5, atol=1e-7)

  def test_bad_class(self):
    model = _MeanDense()
    params = model.init(jax.random.key(0), jnp.zeros((1, 8, 8)))["params"]
    with self.assertRaisesRegex(ValueError, "class_index 4"):
      evaluate.class_posterior(params, np.zeros((1, 64)), model=model, features_fn=_frames,
                         class_index=4)


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory):
  """A fresh feature cache: the features of fold 5 are computed by this code, not reused."""
  return tmp_path_factory.mktemp("features")


@REAL
@pytest.mark.parametrize("name", sorted(pretrained.SHIPPED))
def test_shipped_model_reproduces_its_recorded_fold5_result(name, real_cache):
  """Each shipped file on all 400 clips of fold 5: the accuracy its provenance records (to
  one clip) and exactly what the pre-redesign main printed (tests/golden/evaluate)."""
  got = evaluate.evaluate([name], str(DATA), [5], str(real_cache), 100)
  golden = json.loads((GOLDEN / f"{name}.json").read_text())
  assert got["clips"] == golden["clips"] == 400
  recorded = pretrained.load_wyse(name)[2]["test_accuracy"]
  assert abs(got["accuracy"] - recorded) <= 0.0025 + 1e-9, (got["accuracy"], recorded)
  assert got["accuracy"] == golden["accuracy"]
  assert got["loss"] == pytest.approx(golden["loss"], rel=1e-4)
  assert {k: v for k, v in got.items() if k not in ("accuracy", "loss")} == {
      k: v for k, v in golden.items() if k not in ("accuracy", "loss")}


@REAL
def test_evaluate_cli_reproduces_the_shipped_ensemble(real_cache, tmp_path):
  """experiments.evaluate_classifier --weights=log_mel_wide_x4: the golden file, 255 of 400."""
  out = tmp_path / "x4.json"
  r = subprocess.run([sys.executable, "-m", "experiments.evaluate_classifier", "--fold=5",
                      "--weights=log_mel_wide_x4", f"--data_dir={DATA}",
                      f"--cache_dir={real_cache}", f"--output={out}"],
                     capture_output=True, text=True, timeout=600, cwd=ROOT)
  assert r.returncode == 0, r.stderr[-2000:]
  got = json.loads(out.read_text())
  golden = json.loads((GOLDEN / "log_mel_wide_x4.json").read_text())
  assert json.loads(r.stdout) == got
  assert got["provenance"]["data_sha256"] == provenance.data_hash(esc50.data_files(DATA, [5]))
  assert {"commit", "command", "machine", "date"} <= set(got["provenance"])
  assert got["ensemble_accuracy"] == golden["ensemble_accuracy"] == 0.6375
  assert [m["weights"] for m in got["models"]] == [m["weights"] for m in golden["models"]]
  for m, g in zip(got["models"], golden["models"], strict=True):
    assert m["accuracy"] == g["accuracy"] == g["shipped_test_accuracy"]
    assert m["loss"] == pytest.approx(g["loss"], rel=1e-4)


def test_posterior_fn_is_class_posterior_of_the_weights_own_features():
  from specst_jax.classifier.features import feature_fn
  loaded = pretrained.load_wyse("log_mel_wide")
  fn, cfg = evaluate.posterior_fn(loaded, "rooster")
  assert (cfg.sr, cfg.n_samples, cfg.representation) == (16000, 80000, "log_mel")
  t = np.arange(cfg.n_samples) / cfg.sr
  audio = np.stack([np.sin(2 * np.pi * 700 * t), 0.1 * np.sin(2 * np.pi * 3000 * t)])
  got = np.asarray(fn(audio.astype(np.float32)))
  module, params, prov = loaded
  x = (np.asarray(feature_fn(cfg)(audio.astype(np.float32))) - prov["mean"]) / prov["std"]
  logits = np.asarray(module.apply({"params": params}, jnp.asarray(x))[0], np.float64)
  p = np.exp(logits - logits.max(-1, keepdims=True))
  p /= p.sum(-1, keepdims=True)
  np.testing.assert_allclose(got, p[:, prov["classes"].index("rooster")], rtol=1e-4, atol=1e-7)
  with pytest.raises(ValueError, match="'unicorn' is not one of"):
    evaluate.posterior_fn(loaded, "unicorn")


def _np_softmax(logits):
  z = np.exp(logits - logits.max(-1, keepdims=True))
  return z / z.sum(-1, keepdims=True)


def test_window_averaged_probabilities_match_a_numpy_twin():
  """Piczak's probability voting: the mean softmax over windows (tolerance: float32 softmax)."""
  from specst_jax.models.wyse import WyseClassifier
  model = WyseClassifier(n_classes=6, n_aux_classes=0, conv_features=(4, 3), dense_features=5,
                         head_input="meanmax")
  x = np.asarray(jax.random.normal(jax.random.key(0), (3, 21, 5)))
  params = model.init(jax.random.key(1), jnp.asarray(x))["params"]
  assert evaluate.window_starts(21, 8, 4) == [0, 4, 8, 12]
  got = evaluate.window_averaged_probabilities(model, params, x, 8, 4, batch_size=2)
  want = np.mean([_np_softmax(np.asarray(model.apply({"params": params}, x[:, s:s + 8])[0],
                                         np.float64)) for s in (0, 4, 8, 12)], axis=0)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(  # one window of the whole clip is whole-clip scoring
      evaluate.window_averaged_probabilities(model, params, x, 21, 4, batch_size=3),
      evaluate.predict_probabilities(model, params, x, batch_size=3), rtol=1e-6)
  with pytest.raises(ValueError, match=r"window must be in \[1, 21\]"):
    evaluate.window_starts(21, 22, 4)
  with pytest.raises(ValueError, match="hop must be >= 1"):
    evaluate.window_starts(21, 8, 0)


def test_window_scoring_scores_a_runs_own_validation_split(fake, tmp_path):
  """experiments.window_scoring: the run's validation clips (its folds, its seed), never its
  test fold; a run of another seed is refused; the JSON is written."""
  from specst_jax.classifier import crossval
  c = crossval.fold_config(tiny_config(fake, aux_weight=0.0, standardize=True), 5, 0)
  c.model.head_input = "meanmax"
  sp = splits.prepare_splits(c, log=lambda s: None)
  model = steps.make_model(c)
  x_val, y_val, _ = sp.arrays["val"]
  params = model.init(jax.random.key(3), jnp.asarray(x_val[:1]))["params"]
  run = crossval.run_dir(tmp_path / "cv", 5, 0)
  train.export_model(run / "best.msgpack", params, sp,
                     train.provenance(c, sp, {"epoch": 1, "val_accuracy": 0.25}))
  row = evaluate.window_validation_accuracies(c, run, [16], hop=8)
  want = np.mean(_np_softmax(np.asarray(model.apply({"params": params}, x_val)[0])).argmax(-1)
                 == y_val)
  assert row["recorded"] == 0.25 and row["clips"] == len(y_val)
  assert row["whole"] == pytest.approx(want)
  assert 0.0 <= row["window 16"] <= 1.0
  with pytest.raises(ValueError, match="not the split asked for"):
    evaluate.window_validation_accuracies(crossval.fold_config(c, 5, 1), run, [16], hop=8)
  out = subprocess.run(
      [sys.executable, "-m", "experiments.window_scoring", "--config=experiments/configs/tiny.py",
       f"--config.data_dir={fake[0]}", f"--config.cache_dir={fake[1]}",
       "--config.aux_weight=0.0", "--config.standardize=True",
       "--config.model.head_input=meanmax", f"--workdir={tmp_path / 'cv'}", "--folds=5",
       "--windows=16", "--hop=8", f"--output={tmp_path / 'w.json'}"],
      cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  assert "| whole |" in out.stdout
  saved = json.loads((tmp_path / "w.json").read_text())
  assert saved["split"] == "validation only"
  assert saved["runs"]["fold5_seed0"]["whole"] == pytest.approx(want)
  assert saved["provenance"]["data_sha256"] == provenance.data_hash(crossval.data_files(c))
  assert saved["provenance"]["command"].startswith("python -m experiments.window_scoring")
