"""Tests for specst_jax/classifier/train.py: the loop, resumption, export and provenance."""

import json
import shlex
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from esc50_fake import tiny_config  # noqa: E402

from specst_jax import pretrained  # noqa: E402
from specst_jax import provenance as provenance_lib  # noqa: E402
from specst_jax.classifier import splits, steps, train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_resume_reaches_the_same_parameters(fake, tmp_path):
  c = tiny_config(fake)
  straight = train.train_and_evaluate(c, tmp_path / "a", log=lambda s: None)
  train.train_and_evaluate(c, tmp_path / "b", log=lambda s: None, stop_after_epoch=1)
  assert len((tmp_path / "b" / "metrics.jsonl").read_text().splitlines()) == 1
  resumed = train.train_and_evaluate(c, tmp_path / "b", log=lambda s: None)
  assert int(resumed["state"].step) == int(straight["state"].step) > 0
  jax.tree.map(lambda p, q: np.testing.assert_array_equal(np.asarray(p), np.asarray(q)),
               straight["state"].params, resumed["state"].params)
  assert (tmp_path / "b" / "metrics.jsonl").read_text() .count("\n") == 2
  assert (tmp_path / "b" / "curves.png").stat().st_size > 0
  # The exported best epoch loads back and gives the same logits as its params.
  module, params, prov = pretrained.load_wyse(tmp_path / "a" / "best.msgpack")
  settings = pretrained.feature_settings(prov)
  assert settings["representation"] == "unit_db" and settings["sr"] == 4000
  assert prov["selected_epoch"] in (1, 2) and len(prov["centroid_edges"]) == 3
  x = jnp.ones((2, prov["n_frames"], prov["n_channels"]))
  assert module.apply({"params": params}, x)[0].shape == (2, 50)


def test_weight_average_is_resumed_evaluated_and_exported(fake, tmp_path):
  c = tiny_config(fake, ema_decay=0.5, num_epochs=2)
  straight = train.train_and_evaluate(c, tmp_path / "a", log=lambda s: None)
  train.train_and_evaluate(c, tmp_path / "b", log=lambda s: None, stop_after_epoch=1)
  resumed = train.train_and_evaluate(c, tmp_path / "b", log=lambda s: None)
  for name in ("params", "average"):
    jax.tree.map(lambda p, q: np.testing.assert_array_equal(np.asarray(p), np.asarray(q)),
                 getattr(straight["state"], name), getattr(resumed["state"], name))
  assert not np.allclose(straight["state"].average["conv1"]["kernel"],
                         straight["state"].params["conv1"]["kernel"])
  # The selected epoch's exported weights are the average; on the last epoch, today's average.
  _, params, prov = pretrained.load_wyse(tmp_path / "a" / "best.msgpack")
  if prov["selected_epoch"] == 2:
    jax.tree.map(lambda p, q: np.testing.assert_array_equal(np.asarray(p), np.asarray(q)),
                 params, jax.device_get(straight["state"].average))
  metrics = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
  history = [json.loads(line) for line in metrics]
  assert history[-1]["val_accuracy"] == pytest.approx(_accuracy(
      straight["state"].average, straight["splits"], c))


def test_standardised_representation_and_no_aux(fake, tmp_path):
  c = tiny_config(fake, aux_weight=0.0, standardize=True)
  c.features.representation = "mfcc"
  sp = splits.prepare_splits(c, log=lambda s: None)
  xtr = sp.arrays["train"][0]
  np.testing.assert_allclose(xtr.mean(axis=(0, 1)), 0, atol=1e-4)
  np.testing.assert_allclose(xtr.std(axis=(0, 1)), 1, atol=1e-3)
  assert len(sp.arrays["val"][0]) == 8 and len(sp.arrays["test"][0]) == 8
  model = steps.make_model(c)
  params = jax.jit(model.init)(jax.random.key(0), jnp.asarray(xtr[:1]))["params"]
  assert "aux_head" not in params
  train.export_model(tmp_path / "m.msgpack", params, sp, train.provenance(c, sp, {"epoch": 1}))
  module, loaded, prov = pretrained.load_wyse(tmp_path / "m.msgpack")
  assert module.n_aux_classes == 0 and prov["mean"].shape == (24,)
  assert pretrained.feature_settings(prov)["representation"] == "mfcc"
  assert prov["classes"] == [f"class{i}" for i in range(4)]
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(params), loaded)


def test_conv2d_net_trains_on_windows_exports_and_loads(fake, tmp_path):
  """The 2-D net through the loop: trained on crops, scored and exported on whole clips."""
  from experiments.configs import conv2d
  c = tiny_config(fake, aux_weight=0.0, standardize=True, num_epochs=1)
  c.features.representation = "log_mel_deltas"
  c.model = conv2d.get_config("log_mel_deltas").model
  c.model.update(dict(conv_features=(4, 4, 4), dense_features=8))
  c.augment.crop_frames = 32
  c.lr_fan_in_scaling = False
  out = train.train_and_evaluate(c, tmp_path, log=lambda s: None)
  assert np.isfinite(out["meta"]["history"][0]["train_loss"])
  module, params, prov = pretrained.load_wyse(tmp_path / "best.msgpack")
  assert type(module).__name__ == "Conv2DClassifier" and module.planes == 2
  assert prov["model"] == "specst_jax.models.conv2d.Conv2DClassifier"
  x = jnp.asarray(out["splits"].arrays["val"][0])  # whole clips, longer than the windows
  assert x.shape[1] > 32
  np.testing.assert_allclose(
      module.apply({"params": params}, x)[0],
      steps.predict_logits(out["state"].params, x, model=steps.make_model(c)), rtol=1e-6)
  with pytest.raises(ValueError, match="best.msgpack: holds a Conv2DClassifier, not the paper"):
    pretrained.load_wyse_bundle(tmp_path / "best.msgpack")  # style transfer needs the 1-D net


def test_provenance_stores_feature_settings_once(fake, tmp_path):
  """New exports keep the STFT settings only in config.features (one schema)."""
  c = tiny_config(fake, aux_weight=0.0)
  sp = splits.prepare_splits(c, log=lambda s: None)
  prov = train.provenance(c, sp, {"epoch": 3}, command="python -m x --a='b c'")
  for k in ("sr", "n_fft", "hop_length", "center", "representation"):
    assert k not in prov, k
  assert prov["command"] == "python -m x --a='b c'"
  assert pretrained.feature_settings(prov) == c.features.to_dict()
  assert (prov["n_frames"], prov["n_channels"]) == (sp.feature_config.n_frames,
                                                    sp.feature_config.n_channels)
  # Where it came from: the commit, machine, and the data (the CSV, the train and test clips).
  data = splits.recipe_files(c)
  assert data[0].name == "esc50.csv" and len(data) == 1 + sum(
      len(sp.indices[k]) for k in ("train", "val", "test"))
  assert prov["data_sha256"] == provenance_lib.data_hash(data)
  assert prov["commit"] == provenance_lib.git_commit() and prov["machine"]
  assert {"date", "python", "jax", "devices"} <= set(prov)
  broken = json.loads(json.dumps(prov))
  del broken["config"]["features"]["hop_length"]
  with pytest.raises(ValueError, match="lacks"):
    train.export_model(tmp_path / "m.msgpack", {}, sp, broken)
  assert not (tmp_path / "m.msgpack").exists()


def test_cli_records_the_callers_command(fake, tmp_path):
  """train_classifier records its own command line; the library hard-codes none."""
  assert "experiments.train_classifier" not in Path(train.__file__).read_text()
  args = ["--config=experiments/configs/tiny.py", f"--config.data_dir={fake[0]}",
          f"--config.cache_dir={fake[1]}", "--config.num_epochs=1", "--config.aux_weight=0.0",
          f"--workdir={tmp_path / 'run'}"]
  r = subprocess.run([sys.executable, "-m", "experiments.train_classifier", *args],
                     capture_output=True, text=True, timeout=600, cwd=ROOT)
  assert r.returncode == 0, r.stderr[-2000:]
  assert r.stdout.startswith("best epoch 1: val accuracy")
  prov = json.loads((tmp_path / "run" / "best.json").read_text())
  assert prov["command"] == shlex.join(["python", "-m", "experiments.train_classifier", *args])
  assert prov["data_sha256"] == provenance_lib.data_hash(splits.recipe_files(tiny_config(fake)))
  assert {"commit", "machine", "date", "python", "jax"} <= set(prov)
  assert {p.name for p in (tmp_path / "run").iterdir()} == {
      "best.msgpack", "best.json", "metrics.jsonl", "curves.png", "checkpoints"}
  assert oct((tmp_path / "run" / "curves.png").stat().st_mode & 0o777) != "0o600"


def test_default_command_is_this_process_command_line(monkeypatch):
  import types
  main = types.ModuleType("__main__")
  main.__spec__ = types.SimpleNamespace(name="experiments.crossval_classifier")
  monkeypatch.setitem(sys.modules, "__main__", main)
  monkeypatch.setattr(sys, "argv", ["/x/crossval_classifier.py", "--seeds=0,1", "--workdir=a b"])
  assert train.default_command() == (
      "python -m experiments.crossval_classifier --seeds=0,1 '--workdir=a b'")
  main.__spec__ = types.SimpleNamespace(name="pytest.__main__")  # python -m pytest
  assert train.default_command().startswith("python -m pytest --seeds=0,1")
  main.__spec__ = None  # run as a script
  assert train.default_command() == "python /x/crossval_classifier.py --seeds=0,1 '--workdir=a b'"


def _accuracy(params, data: splits.Splits, config) -> float:
  """Validation accuracy of ``params``, with numpy argmax over the model's logits."""
  x, y, _ = data.arrays["val"]
  logits = steps.make_model(config).apply({"params": params}, jnp.asarray(x), train=False)[0]
  return float(np.mean(np.asarray(logits).argmax(-1) == y))
