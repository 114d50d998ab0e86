"""Tests for specst_jax/pretrained/wyse.py: the weights format, its provenance schema, the shipped
files and the loading rule shared by style transfer and Figure 1."""

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from specst_jax import pretrained, representations

ROOT = Path(__file__).resolve().parents[1]
ESC50 = ROOT.parent / "shared" / "data" / "esc50_16k"

# sha256 of the shipped weight files: they must never change (a .json only gains
# ``provenance_added``, written after training; the rest of it hashes as shipped).
SHIPPED_SHA256 = {
    "wyse_esc50.json":
        "20e07e630d78717feaf104e2eb0c4e92419228fbb82e25a027660afc6497691e",
    "wyse_esc50.msgpack":
        "81b8e3531827f520739b580e2a6bba072e2c21e707385f6e1c44ad6a46ddaf1b",
    "wyse_esc50_log_mel.json":
        "303599118c72ae23d01a979df38067874508b4e20721d9bce6666b72854011bd",
    "wyse_esc50_log_mel.msgpack":
        "e48d7819618b9794042b3f21c4446117b1255fbddb453f60cfe59e87066bfd9d",
    "wyse_esc50_log_mel_wide.json":
        "bc76c92a1281182a80381044ab8ad7692ccce592c697913ffb4c24bc7b59d09a",
    "wyse_esc50_log_mel_wide.msgpack":
        "2abffae72b737f947ccc3a39c10e3c0097d5753984f95a58bf3d6eb5b98ef072",
    "wyse_esc50_log_mel_wide_s1.json":
        "5c87e2672890cc53713ce307de7a7e206541029447f7f3087f1fcc224b5869d8",
    "wyse_esc50_log_mel_wide_s1.msgpack":
        "4a17450c03dedd984e6d0c2b034b27f819e8c05b3d6b95bd4a8e1a457cfaeb5d",
    "wyse_esc50_log_mel_wide_s2.json":
        "9fcc36389b2b19fa8d9c760df2928c055bf19bc75c1f2713b99125189653b47c",
    "wyse_esc50_log_mel_wide_s2.msgpack":
        "796c59262d3b1c13affc6c353c863687c6999533a6a32432097c715750a9bea1",
    "wyse_esc50_log_mel_wide_s3.json":
        "7e5b0ec7f8d2b0d4bbaf8fa25e46a3a3a5c7ab128db7005dc6407ed06bb19004",
    "wyse_esc50_log_mel_wide_s3.msgpack":
        "8479980cbc17a456c8dc6636810b40f278b495769a8e6485e93dd7924faf4a1e",
}


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
  """Each shipped file loads, unchanged, with its settings (fold-5 accuracy: see
  classifier_evaluate_test.py)."""
  path = pretrained.default_weights_path(name)
  assert path.is_file(), f"shipped weights missing: {path}"
  module, params, prov = pretrained.load_wyse(name)
  representation, stft, (frames, channels), filters, dense = SHIPPED_SETTINGS[name]
  settings = pretrained.feature_settings(prov)
  assert (settings["sr"], settings["n_fft"], settings["hop_length"], settings["center"]) == stft
  assert settings["representation"] == representation and prov["n_frames"] == frames
  assert prov["n_channels"] == channels and prov["mean"].shape == (channels,)
  assert len(prov["classes"]) == 50 and prov["classes"][0] == "dog"
  assert prov["train_folds"] == [1, 2, 3, 4] and prov["test_folds"] == [5]
  assert len(prov["centroid_edges"]) == 15 and np.all(np.diff(prov["centroid_edges"]) > 0)
  logits, acts = module.apply({"params": params}, jnp.zeros((1, frames, channels)))
  assert logits.shape == (1, 50) and acts["conv1"].shape == (1, frames, filters)
  assert acts["dense"].shape == (1, dense)


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


def test_load_wyse_errors(tmp_path):
  with pytest.raises(FileNotFoundError, match="missing.msgpack"):
    pretrained.load_wyse(tmp_path / "missing.msgpack")
  (tmp_path / "bad.msgpack").write_bytes(b"not msgpack")
  (tmp_path / "bad.json").write_text("{}")
  with pytest.raises(ValueError, match="not a specst-jax weights file"):
    pretrained.load_wyse(tmp_path / "bad.msgpack")


def test_shipped_files_are_unchanged():
  for name, want in SHIPPED_SHA256.items():
    path = pretrained.default_weights_path().parent / name
    data = path.read_bytes()
    if path.suffix == ".json":  # as shipped: without the provenance added after training
      prov = json.loads(data)
      assert set(prov["provenance_added"]) >= {"date", "shipped_in_commit", "data_sha256", "note"}
      del prov["provenance_added"]
      data = (json.dumps(prov, indent=2) + "\n").encode()
    assert hashlib.sha256(data).hexdigest() == want, name


def _git(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, timeout=60, check=False)


@pytest.mark.parametrize("name", sorted(pretrained.SHIPPED))
def test_shipped_provenance_added_names_the_commit_that_shipped_these_bytes(name):
  """``shipped_in_commit`` holds this very .msgpack (skipped outside a git checkout that has
  the commit, e.g. an installed package or a shallow clone)."""
  path = pretrained.default_weights_path(name)
  added = json.loads(path.with_suffix(".json").read_text())["provenance_added"]
  assert len(added["shipped_in_commit"]) == 40 and "after training" in added["note"]
  shipped = _git("show", f"{added['shipped_in_commit']}:{path.relative_to(ROOT)}")
  if shipped.returncode != 0:
    pytest.skip(f"no git history with {added['shipped_in_commit'][:7]} here")
  assert shipped.stdout == path.read_bytes()


@pytest.mark.skipif(not ESC50.is_dir(), reason="ESC-50 data not present (../shared/data)")
@pytest.mark.parametrize("name", sorted(pretrained.SHIPPED))
def test_shipped_data_sha256_is_the_recipes_files_hash(name):
  """The backfilled hash is :func:`splits.recipe_files`' files of the recorded recipe, at the
  shared ESC-50 copy (read once per process: data_hash caches)."""
  from specst_jax import provenance
  from specst_jax.classifier import splits
  prov = json.loads(pretrained.default_weights_path(name).with_suffix(".json").read_text())
  config = ml_collections.ConfigDict(dict(prov["config"], data_dir=str(ESC50)))
  files = splits.recipe_files(config)
  assert len(files) == prov["provenance_added"]["data_files"] == 2001
  assert provenance.data_hash(files) == prov["provenance_added"]["data_sha256"]


def test_feature_settings_one_reader_for_both_schemas():
  _, _, old = pretrained.load_wyse("log_mel")  # the older schema: top-level copies too
  settings = pretrained.feature_settings(old)
  assert settings == {k: old["config"]["features"][k] for k in pretrained.wyse.FEATURE_KEYS}
  new = {k: v for k, v in old.items() if k not in ("sr", "n_fft", "hop_length", "center",
                                                    "representation")}
  assert pretrained.feature_settings(new) == settings
  bad = dict(old, hop_length=256)  # a top-level copy that disagrees
  with pytest.raises(ValueError, match="hop_length=256 at the top level but 512"):
    pretrained.feature_settings(bad)
  with pytest.raises(ValueError, match="no config.features"):
    pretrained.feature_settings({"config": {}})


def test_load_wyse_rejects_a_provenance_without_feature_settings(tmp_path):
  src = pretrained.default_weights_path("log_mel_wide")
  shutil.copy(src, tmp_path / "w.msgpack")
  prov = json.loads(src.with_suffix(".json").read_text())
  del prov["config"]["features"]["n_fft"]
  (tmp_path / "w.json").write_text(json.dumps(prov))
  with pytest.raises(ValueError, match=r"w\.json: .*lacks \['n_fft'\]"):
    pretrained.load_wyse(tmp_path / "w.msgpack")


def test_load_wyse_bundle_rules(tmp_path):
  assert pretrained.load_wyse_bundle("random") is None
  bundle = pretrained.load_wyse_bundle()
  assert bundle.label == "trained (shipped)" and bundle.representation == "unit_db"
  assert bundle.stft == representations.Stft(sr=16000, n_fft=512, hop_length=128, center=False)
  assert bundle.options == representations.Options(n_mels=128, n_mfcc=40, deltas=True,
                                                   top_db=80.0)
  assert bundle.mean.shape == (257,) and bundle.std.shape == (257,)
  _, acts = bundle.module.apply({"params": bundle.params}, jnp.zeros((1, 9, 257)), heads=False)
  assert acts["conv1"].shape == (1, 9, 2048)
  log_mel = pretrained.load_wyse_bundle("log_mel")
  assert log_mel.label == "trained (log_mel)" and log_mel.representation == "log_mel"
  assert log_mel.stft.hop_length == 512
  with pytest.raises(FileNotFoundError, match="absent.msgpack"):
    pretrained.load_wyse_bundle(tmp_path / "absent.msgpack")


def test_load_wyse_bundle_falls_back_only_for_the_default(monkeypatch, tmp_path):
  monkeypatch.setattr(pretrained.wyse, "default_weights_path",
                      lambda name="unit_db": tmp_path / "missing.msgpack")
  warnings = []
  assert pretrained.load_wyse_bundle(None, warn=warnings.append) is None
  assert len(warnings) == 1 and "RANDOM" in warnings[0] and "missing.msgpack" in warnings[0]
  assert pretrained.load_wyse_bundle("", warn=warnings.append) is None
  with pytest.raises(FileNotFoundError):
    pretrained.load_wyse_bundle("unit_db", warn=warnings.append)
