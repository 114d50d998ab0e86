"""Tests for specst_jax/training.py and specst_jax/pretrained.py (tiny nets, fake data)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from esc50_fake import make_fake_esc50  # noqa: E402

from experiments.configs import tiny  # noqa: E402
from specst_jax import esc50, pretrained, training  # noqa: E402
from specst_jax.models.wyse import WyseClassifier  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "esc50_16k"
JIT = pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
  d = tmp_path_factory.mktemp("esc50")
  return make_fake_esc50(d / "data"), d / "cache"


def _config(fake, **overrides):
  c = tiny.get_config()
  c.data_dir, c.cache_dir = str(fake[0]), str(fake[1])
  c.update(overrides)
  return c


def _log_softmax_ce(logits, labels):
  z = logits - logits.max(-1, keepdims=True)
  return np.log(np.exp(z).sum(-1)) - z[np.arange(len(labels)), labels]


@JIT
def test_loss_matches_numpy_cross_entropy(jit):
  model = WyseClassifier(n_classes=5, n_aux_classes=3, conv_features=(4, 2), dense_features=4)
  x = jax.random.normal(jax.random.key(0), (6, 12, 7))
  params = model.init(jax.random.key(1), x)["params"]
  batch = {"x": x, "y": jnp.array([0, 1, 2, 3, 4, 0]), "aux": jnp.array([0, 1, 2, 0, 1, 2]),
           "w": jnp.array([1, 1, 1, 1, 0, 0], jnp.float32)}
  fn = lambda p, b: training.loss_and_metrics(p, b, None, model=model, aux_weight=0.5,  # noqa
                                              train=False)
  loss, m = (jax.jit(fn) if jit else fn)(params, batch)
  logits, acts = model.apply({"params": params}, x)
  logits, aux = np.asarray(logits, np.float64), np.asarray(acts["aux_logits"], np.float64)
  y, a, w = (np.asarray(batch[k]) for k in ("y", "aux", "w"))
  ce, ce_aux = _log_softmax_ce(logits, y), _log_softmax_ce(aux, a)
  np.testing.assert_allclose(loss, np.sum(w * (ce + 0.5 * ce_aux)) / 4, rtol=1e-5)
  np.testing.assert_allclose(m["loss"], np.sum(w * ce), rtol=1e-5)
  assert m["count"] == 4
  assert m["correct"] == np.sum(w * (logits.argmax(-1) == y))


def test_batches_pad_and_order_is_deterministic():
  x, y = np.arange(10, dtype=np.float32)[:, None, None], np.arange(10)
  batches = list(training.iterate_batches(x, y, y, 4, drop_last=False))
  assert [b["w"].sum() for b in batches] == [4, 4, 2]
  assert batches[-1]["y"].tolist() == [8, 9, 0, 0]
  assert len(list(training.iterate_batches(x, y, y, 4, drop_last=True))) == 2
  key = jax.random.key(0)
  np.testing.assert_array_equal(training.epoch_order(10, key, 3), training.epoch_order(10, key, 3))
  assert sorted(training.epoch_order(10, key, 3)) == list(range(10))
  assert not np.array_equal(training.epoch_order(10, key, 3), training.epoch_order(10, key, 4))


def test_resume_reaches_the_same_parameters(fake, tmp_path):
  c = _config(fake)
  straight = training.train_and_evaluate(c, tmp_path / "a", log=lambda s: None)
  training.train_and_evaluate(c, tmp_path / "b", log=lambda s: None, stop_after_epoch=1)
  assert len((tmp_path / "b" / "metrics.jsonl").read_text().splitlines()) == 1
  resumed = training.train_and_evaluate(c, tmp_path / "b", log=lambda s: None)
  assert int(resumed["state"].step) == int(straight["state"].step) > 0
  jax.tree.map(lambda p, q: np.testing.assert_array_equal(np.asarray(p), np.asarray(q)),
               straight["state"].params, resumed["state"].params)
  assert (tmp_path / "b" / "metrics.jsonl").read_text() .count("\n") == 2
  assert (tmp_path / "b" / "curves.png").stat().st_size > 0
  # The exported best epoch loads back and gives the same logits as its params.
  module, params, prov = pretrained.load_wyse(tmp_path / "a" / "best.msgpack")
  assert prov["representation"] == "unit_db" and prov["sr"] == 4000
  assert prov["selected_epoch"] in (1, 2) and len(prov["centroid_edges"]) == 3
  x = jnp.ones((2, prov["n_frames"], prov["n_channels"]))
  assert module.apply({"params": params}, x)[0].shape == (2, 50)


@pytest.mark.parametrize("by_source", [False, True])
def test_validation_split(fake, by_source):
  c = _config(fake, val_fraction=0.25)
  c.val_by_source = by_source
  splits = training.prepare_splits(c, log=lambda s: None)
  clips = esc50.read_metadata(fake[0])
  source = {k: {clips[i].source for i in idx} for k, idx in splits.indices.items()}
  assert {clips[i].fold for i in splits.indices["val"]} <= set(c.train_folds)
  assert not set(splits.indices["val"]) & set(splits.indices["train"])
  np.testing.assert_array_equal(splits.arrays["val"][1],
                                [clips[i].target for i in splits.indices["val"]])
  # Without grouping, this seed happens to split some recordings across val and train.
  assert bool(source["val"] & source["train"]) == (not by_source)
  assert len(splits.indices["val"]) == 4 * 2  # a quarter of 8 clips per class (pairs by source)


def test_standardised_representation_and_no_aux(fake, tmp_path):
  c = _config(fake, aux_weight=0.0, standardize=True)
  c.features.representation = "mfcc"
  splits = training.prepare_splits(c, log=lambda s: None)
  xtr = splits.arrays["train"][0]
  np.testing.assert_allclose(xtr.mean(axis=(0, 1)), 0, atol=1e-4)
  np.testing.assert_allclose(xtr.std(axis=(0, 1)), 1, atol=1e-3)
  assert len(splits.arrays["val"][0]) == 8 and len(splits.arrays["test"][0]) == 8
  model = training.make_model(c)
  params = jax.jit(model.init)(jax.random.key(0), jnp.asarray(xtr[:1]))["params"]
  assert "aux_head" not in params
  training.export_model(tmp_path / "m.msgpack", params, splits,
                        training.provenance(c, splits, {"epoch": 1}))
  module, loaded, prov = pretrained.load_wyse(tmp_path / "m.msgpack")
  assert module.n_aux_classes == 0 and prov["mean"].shape == (24,)
  assert prov["representation"] == "mfcc" and prov["classes"] == [f"class{i}" for i in range(4)]
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(params), loaded)


def test_data_parallel_matches_single_device():
  """Two fake CPU devices (own process): the sharded step equals the unsharded one."""
  code = textwrap.dedent("""
    import jax, numpy as np
    from experiments.configs import tiny
    from specst_jax import training
    assert len(jax.devices()) == 2, jax.devices()
    c = tiny.get_config()
    model = training.make_model(c)
    tx = training.make_optimizer(c, 10)
    rng = np.random.default_rng(0)
    b = {"x": rng.random((4, 40, 9), np.float32), "y": np.arange(4, dtype=np.int32),
         "aux": np.arange(4, dtype=np.int32) % 4, "w": np.ones(4, np.float32)}
    out = []
    for devices in (jax.devices()[:1], jax.devices()):
      mesh = training.data_mesh(devices)
      state = training.init_state(model, tx, jax.random.key(0), (40, 9))
      state = jax.device_put(state, training.replicated_sharding(mesh))
      step, _ = training.jit_steps(model, 1.0, mesh)
      for _ in range(2):
        state, m = step(state, b, jax.random.key(1))
      out.append(jax.device_get(state.params))
    jax.tree.map(lambda p, q: np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6), *out)
    print("OK")
  """)
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
             JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
  r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                     timeout=300, cwd=ROOT)
  assert r.returncode == 0 and "OK" in r.stdout, r.stderr[-2000:]


def test_evaluate_ensemble_averages_probabilities(fake, tmp_path):
  from experiments import evaluate_classifier
  c = _config(fake, aux_weight=0.0, standardize=True)
  splits = training.prepare_splits(c, log=lambda s: None)
  model = training.make_model(c)
  x_test, y_test, _ = splits.arrays["test"]
  paths, probs = [], []
  for seed in range(3):
    params = model.init(jax.random.key(seed), jnp.asarray(x_test[:1]))["params"]
    paths.append(tmp_path / f"m{seed}.msgpack")
    training.export_model(paths[-1], params, splits, training.provenance(c, splits, {"epoch": 1}))
    probs.append(jax.nn.softmax(model.apply({"params": params}, x_test)[0]))
  folds = list(c.test_folds)
  got = evaluate_classifier.evaluate([str(p) for p in paths], c.data_dir, folds, c.cache_dir, 4)
  want = np.mean(np.mean(probs, axis=0).argmax(-1) == y_test)
  assert got["clips"] == len(y_test) and got["ensemble_accuracy"] == pytest.approx(want)
  assert [m["weights"] for m in got["models"]] == [str(p) for p in paths]
  one = evaluate_classifier.evaluate([str(paths[0])], c.data_dir, folds, c.cache_dir, 4)
  assert one["accuracy"] == pytest.approx(np.mean(np.argmax(probs[0], -1) == y_test))


def test_cli_bad_data_dir_exits_1(tmp_path):
  r = subprocess.run([sys.executable, "-m", "experiments.evaluate_classifier",
                      f"--data_dir={tmp_path}", "--weights", str(tmp_path / "w.msgpack")],
                     capture_output=True, text=True, timeout=300, cwd=ROOT)
  assert r.returncode == 1 and r.stderr.strip().startswith("error:")
  assert "w.msgpack" in r.stderr


def test_load_wyse_errors(tmp_path):
  with pytest.raises(FileNotFoundError, match="missing.msgpack"):
    pretrained.load_wyse(tmp_path / "missing.msgpack")
  (tmp_path / "bad.msgpack").write_bytes(b"not msgpack")
  (tmp_path / "bad.json").write_text("{}")
  with pytest.raises(ValueError, match="not a specst-jax weights file"):
    pretrained.load_wyse(tmp_path / "bad.msgpack")


# What each shipped file was trained on: representation, (sr, n_fft, hop, centred),
# (frames, channels), first-layer filters, hidden dense units.
SHIPPED_SETTINGS = {
    "unit_db": ("unit_db", (16000, 512, 128, False), (622, 257), 2048, 32),
    "log_mel": ("log_mel", (16000, 1024, 512, False), (155, 128), 2048, 32),
    "log_mel_wide": ("log_mel", (16000, 1024, 512, False), (155, 128), 512, 256),
    **{f"log_mel_wide_s{s}": ("log_mel", (16000, 1024, 512, False), (155, 128), 512, 256)
       for s in (1, 2, 3)},
}


@pytest.mark.parametrize("name", sorted(pretrained.SHIPPED))
def test_shipped_weights_load_and_classify(name):
  """Each shipped file loads with its settings; on real fold-5 clips it beats chance."""
  path = pretrained.default_weights_path(name)
  assert path.is_file(), f"shipped weights missing: {path}"
  module, params, prov = pretrained.load_wyse(name)
  representation, stft, (frames, channels), filters, dense = SHIPPED_SETTINGS[name]
  assert (prov["sr"], prov["n_fft"], prov["hop_length"], prov["center"]) == stft
  assert prov["representation"] == representation and prov["n_frames"] == frames
  assert prov["n_channels"] == channels and prov["mean"].shape == (channels,)
  assert len(prov["classes"]) == 50 and prov["classes"][0] == "dog"
  assert prov["train_folds"] == [1, 2, 3, 4] and prov["test_folds"] == [5]
  assert len(prov["centroid_edges"]) == 15 and np.all(np.diff(prov["centroid_edges"]) > 0)
  logits, acts = module.apply({"params": params}, jnp.zeros((1, frames, channels)))
  assert logits.shape == (1, 50) and acts["conv1"].shape == (1, frames, filters)
  assert acts["dense"].shape == (1, dense)
  if not DATA.is_dir():
    pytest.skip("ESC-50 data not present: accuracy part skipped")
  clips = [c for c in esc50.read_metadata(DATA) if c.fold == 5][::20]  # 20 clips
  cfg = esc50.FeatureConfig(**prov["config"]["features"])
  x = esc50.feature_fn(cfg)(esc50.load_waveforms(esc50.resolve_paths(DATA, clips), cfg.sr))
  x = training.normalise(np.asarray(x), prov.get("mean"), prov.get("std"))
  pred = np.asarray(jax.jit(module.apply)({"params": params}, x)[0]).argmax(-1)
  correct = int(np.sum(pred == np.array([c.target for c in clips])))
  # Chance is 1 in 50: P(>= SHIPPED_MIN_CORRECT of 20 by chance) < 1e-4.
  assert correct >= SHIPPED_MIN_CORRECT, f"{name}: {correct} of 20 fold-5 clips correct"


def test_shipped_weights_names():
  assert pretrained.default_weights_path() == pretrained.default_weights_path("unit_db")
  with pytest.raises(ValueError, match="shipped weights are"):
    pretrained.default_weights_path("mfcc")
  assert set(SHIPPED_SETTINGS) == set(pretrained.SHIPPED)
  assert pretrained.expand_ensembles(["a.msgpack", "log_mel_wide_x4", None]) == [
      "a.msgpack", "log_mel_wide", "log_mel_wide_s1", "log_mel_wide_s2", "log_mel_wide_s3", None]
  for members in pretrained.ENSEMBLES.values():
    assert set(members) <= set(pretrained.SHIPPED)
    # Seeds of one recipe: same settings, different seeds, all trained on folds 1-4.
    provs = [pretrained.load_wyse(m)[2] for m in members]
    assert len({p["config"]["seed"] for p in provs}) == len(members)
    recipes = {json.dumps({k: v for k, v in p["config"].items() if k != "seed"}, sort_keys=True)
               for p in provs}
    assert len(recipes) == 1


SHIPPED_MIN_CORRECT = 5


@JIT
def test_mixup_loss_mixes_inputs_and_both_cross_entropies(jit):
  model = WyseClassifier(n_classes=5, n_aux_classes=3, conv_features=(4, 2), dense_features=4,
                         head_input="meanmax")
  x = jax.random.normal(jax.random.key(0), (4, 12, 7))
  params = model.init(jax.random.key(1), x)["params"]
  batch = {"x": x, "y": jnp.array([0, 1, 2, 3]), "aux": jnp.array([0, 1, 2, 0]),
           "w": jnp.ones(4, jnp.float32)}
  lam, perm = jnp.float32(0.3), jnp.array([2, 3, 1, 0])
  fn = lambda p, b: training.loss_and_metrics(p, b, None, model=model, aux_weight=1.0,  # noqa
                                              train=False, mixup=(lam, perm))
  loss, _ = (jax.jit(fn) if jit else fn)(params, batch)
  mixed = 0.3 * x + 0.7 * x[np.asarray(perm)]
  logits, acts = model.apply({"params": params}, mixed)
  logits, aux = np.asarray(logits, np.float64), np.asarray(acts["aux_logits"], np.float64)
  y, a, p = np.asarray(batch["y"]), np.asarray(batch["aux"]), np.asarray(perm)
  expected = (0.3 * (_log_softmax_ce(logits, y) + _log_softmax_ce(aux, a))
              + 0.7 * (_log_softmax_ce(logits, y[p]) + _log_softmax_ce(aux, a[p])))
  np.testing.assert_allclose(loss, expected.mean(), rtol=1e-5)


@JIT
def test_augment_rolls_each_example_and_masks_bands(jit):
  x = jnp.arange(3 * 10 * 6, dtype=jnp.float32).reshape(3, 10, 6) + 1.0
  key = jax.random.key(3)
  roll = training.Augmentation(time_roll=True)
  fn = lambda x, k, a: training.augment(x, k, a)  # noqa: E731
  if jit:
    fn = jax.jit(fn, static_argnums=2)
  rolled = np.asarray(fn(x, key, roll))
  for b in range(3):  # each example is a circular shift of itself along frames
    shifts = [s for s in range(10) if np.array_equal(np.roll(np.asarray(x[b]), s, 0), rolled[b])]
    assert len(shifts) == 1
  masked = np.asarray(fn(x, key, training.Augmentation(freq_mask=3, time_mask=4)))
  for b in range(3):
    zero_channels = np.all(masked[b] == 0, axis=0).sum()
    zero_frames = np.all(masked[b] == 0, axis=1).sum()
    assert zero_channels <= 3 and zero_frames <= 4
    keep = masked[b] != 0  # everything not masked is untouched
    np.testing.assert_array_equal(masked[b][keep], np.asarray(x[b])[keep])
  np.testing.assert_array_equal(fn(x, key, training.Augmentation()), x)


def test_scale_by_fan_in_divides_by_the_fan_in_ratio():
  updates = {"conv1": {"kernel": jnp.ones((5, 8, 16)), "bias": jnp.ones(16)},
             "conv2": {"kernel": jnp.ones((5, 16, 4)), "bias": jnp.ones(4)},
             "head": {"kernel": jnp.ones((4, 3)), "bias": jnp.ones(3)}}
  tx = training.scale_by_fan_in("conv1")
  out, _ = jax.jit(tx.update)(updates, tx.init(updates))
  np.testing.assert_allclose(out["conv1"]["kernel"], 1.0)
  np.testing.assert_allclose(out["conv2"]["kernel"], 40 / 80)  # fan-ins 5*8 and 5*16
  np.testing.assert_allclose(out["conv2"]["bias"], 40 / 80)
  np.testing.assert_allclose(out["head"]["bias"], 1.0)  # fan-in 4 < 40: never scaled up


@pytest.mark.parametrize("head_input", ["max", "mean", "meanmax"])
def test_pooled_heads_accept_any_length(head_input):
  model = WyseClassifier(n_classes=5, n_aux_classes=0, conv_features=(4, 3), dense_features=4,
                         head_input=head_input)
  params = model.init(jax.random.key(0), jnp.zeros((1, 16, 7)))
  x = jax.random.normal(jax.random.key(1), (2, 40, 7))
  logits, acts = model.apply(params, x)
  pooled = np.asarray(acts["pool2"])
  expected_in = {"max": pooled.max(1), "mean": pooled.mean(1),
                 "meanmax": np.concatenate([pooled.mean(1), pooled.max(1)], -1)}[head_input]
  dense = params["params"]["dense"]
  np.testing.assert_allclose(
      acts["dense"], np.maximum(expected_in @ dense["kernel"] + dense["bias"], 0), rtol=1e-5,
      atol=1e-6)
  assert logits.shape == (2, 5)
  with pytest.raises(ValueError, match="head_input"):
    WyseClassifier(conv_features=(2, 2), head_input="sum").init(jax.random.key(0), x)


def test_paper_config_options():
  from experiments.configs import paper
  c = paper.get_config("log_mel,study,fold2")
  assert c.train_folds == (1, 3, 4, 5) and c.test_folds == (2,)
  assert c.model.conv_features == (512, 64) and c.model.head_input == "meanmax"
  assert c.standardize and c.lr_fan_in_scaling and c.augment.time_roll
  old = paper.get_config("unit_db,paper_recipe")
  assert old.model.head_input == "flatten" and not old.standardize and not old.augment.time_roll
  assert paper.get_config("flatten,noaux").aux_weight == 0.0
  coarse = paper.get_config("log_mel,hop512,aug")
  assert (coarse.features.n_fft, coarse.features.hop_length) == (1024, 512)
  assert coarse.augment.mixup == paper.AUG["mixup"] and coarse.augment.freq_mask > 0
  assert paper.get_config("hop256").features.hop_length == 256
  assert paper.get_config("wide").model.dense_features == 256 and c.model.dense_features == 32
  assert paper.get_config("srcval").val_by_source and not c.val_by_source
  assert paper.get_config("log_mel_deltas").features.representation == "log_mel_deltas"
  assert c.augment.mixup == 0.0 and c.features.hop_length == 128
  for bad in ("fold1,fold2", "log_mel,mfcc", "fold6", "hop256,hop512"):
    with pytest.raises(ValueError, match="config arguments"):
      paper.get_config(bad)


def test_crossval_trains_each_fold_and_seed_once_and_scores_ensembles(fake, tmp_path):
  from experiments import crossval_classifier as cv
  c = _config(fake, aux_weight=0.0, num_epochs=1)
  result = cv.crossvalidate(c, tmp_path, folds=["2", "5"], seeds=["0", "1"], log=lambda s: None)
  assert [r["fold"] for r in result["folds"]] == [2, 5]
  for r in result["folds"]:
    paths = [cv.run_dir(tmp_path, r["fold"], s) / "best.msgpack" for s in (0, 1)]
    provs = [pretrained.load_wyse(p)[2] for p in paths]
    assert [p["test_folds"] for p in provs] == [[r["fold"]]] * 2
    assert [p["config"]["seed"] for p in provs] == [0, 1]
    assert r["fold"] not in provs[0]["train_folds"] and len(provs[0]["train_folds"]) == 4
    # Members are the runs' own selected-epoch test accuracies; the ensemble is
    # evaluate_classifier's mean-softmax vote over the same files.
    assert r["members"] == pytest.approx([p["test_accuracy"] for p in provs])
    want = evaluate_classifier_ensemble(paths, c, r["fold"])
    assert r["ensemble"] == pytest.approx(want) and r["clips"] == 8
    assert r["ensemble_by_size"][-1] == r["ensemble"]
    singles = [evaluate_classifier_ensemble([q], c, r["fold"]) for q in paths]
    assert r["ensemble_by_size"][0] == pytest.approx(np.mean(singles))
  means = [r["member_mean"] for r in result["folds"]]
  assert result["member_accuracy"] == pytest.approx([np.mean(means), np.std(means, ddof=1)])
  assert result["ensemble_by_size"] == pytest.approx(
      np.mean([r["ensemble_by_size"] for r in result["folds"]], axis=0))
  assert "| 5 |" in cv.table(result) and "ensemble of 2" in cv.table(result)
  # A second call finds every run finished and trains nothing.
  stamp = cv.run_dir(tmp_path, 5, 1) / "best.msgpack"
  before = stamp.stat().st_mtime_ns
  again = cv.crossvalidate(c, tmp_path, folds=[5], seeds=[1], log=lambda s: None)
  assert stamp.stat().st_mtime_ns == before
  assert again["folds"][0]["members"] == pytest.approx(result["folds"][1]["members"][1:])
  with pytest.raises(ValueError, match="fold"):
    cv.crossvalidate(c, tmp_path, folds=[6], seeds=[0], log=lambda s: None)


def evaluate_classifier_ensemble(paths, config, fold) -> float:
  """Mean-softmax ensemble accuracy, computed here with numpy from each file's logits."""
  probs, targets = [], None
  for p in paths:
    module, params, prov = pretrained.load_wyse(p)
    c = config.copy_and_resolve_references()
    c.train_folds, c.test_folds = tuple(prov["train_folds"]), (fold,)
    c.seed = prov["config"]["seed"]  # the seed picks the val split, hence the normaliser
    x, targets, _ = training.prepare_splits(c, log=lambda s: None).arrays["test"]
    logits = np.asarray(module.apply({"params": params}, jnp.asarray(x))[0], np.float64)
    z = np.exp(logits - logits.max(-1, keepdims=True))
    probs.append(z / z.sum(-1, keepdims=True))
  return float(np.mean(np.mean(probs, axis=0).argmax(-1) == targets))


def test_shipped_ensemble_reproduces_its_fold5_accuracy(tmp_path):
  """The shipped seeds, on all of fold 5: each its recorded accuracy, the four 0.6375."""
  if not DATA.is_dir():
    pytest.skip("ESC-50 data not present")
  from experiments import evaluate_classifier
  got = evaluate_classifier.evaluate(["log_mel_wide_x4"], str(DATA), [5], str(tmp_path), 100)
  assert got["clips"] == 400
  for m in got["models"]:
    assert m["accuracy"] == pytest.approx(m["shipped_test_accuracy"], abs=1e-9)
  assert got["ensemble_accuracy"] == pytest.approx(0.6375, abs=1e-9)  # 255 of 400
