"""Tests for specst_jax/classifier/splits.py on a fake ESC-50 tree."""

import sys
from pathlib import Path

import jax
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from esc50_fake import make_fake_esc50, tiny_config  # noqa: E402

from specst_jax.classifier import esc50, splits  # noqa: E402


def test_batches_pad_and_order_is_deterministic():
  x, y = np.arange(10, dtype=np.float32)[:, None, None], np.arange(10)
  batches = list(splits.iterate_batches(x, y, y, 4, drop_last=False))
  assert [b["w"].sum() for b in batches] == [4, 4, 2]
  assert batches[-1]["y"].tolist() == [8, 9, 0, 0]
  assert len(list(splits.iterate_batches(x, y, y, 4, drop_last=True))) == 2
  key = jax.random.key(0)
  np.testing.assert_array_equal(splits.epoch_order(10, key, 3), splits.epoch_order(10, key, 3))
  assert sorted(splits.epoch_order(10, key, 3)) == list(range(10))
  assert not np.array_equal(splits.epoch_order(10, key, 3), splits.epoch_order(10, key, 4))


@pytest.mark.parametrize("by_source", [False, True])
def test_validation_split(fake, by_source):
  c = tiny_config(fake, val_fraction=0.25)
  c.val_by_source = by_source
  sp = splits.prepare_splits(c, log=lambda s: None)
  clips = esc50.read_metadata(fake[0])
  source = {k: {clips[i].source for i in idx} for k, idx in sp.indices.items()}
  assert {clips[i].fold for i in sp.indices["val"]} <= set(c.train_folds)
  assert not set(sp.indices["val"]) & set(sp.indices["train"])
  np.testing.assert_array_equal(sp.arrays["val"][1],
                                [clips[i].target for i in sp.indices["val"]])
  # Without grouping, this seed happens to split some recordings across val and train.
  assert bool(source["val"] & source["train"]) == (not by_source)
  assert len(sp.indices["val"]) == 4 * 2  # a quarter of 8 clips per class (pairs by source)



def _noise_clip(path: Path, seed: int) -> None:
  """Overwrites a fake clip with loud white noise (an outlier in level and centroid)."""
  import soundfile as sf
  info = sf.info(str(path))
  x = 0.9 * np.random.default_rng(seed).uniform(-1, 1, info.frames)
  sf.write(str(path), x.astype(np.float32), info.samplerate)


@pytest.mark.parametrize("representation", ["unit_db", "mfcc"])
def test_statistics_and_centroid_edges_come_from_training_clips_only(tmp_path, representation):
  """A validation clip and a test clip are loud noise: neither may move the standardisation
  or the centroid-class edges, which must be those of the training clips alone."""
  root = make_fake_esc50(tmp_path / "data")
  c = tiny_config((root, tmp_path / "cache0"), standardize=True)
  c.features.representation = representation
  first = splits.prepare_splits(c, log=lambda s: None)
  clips = esc50.read_metadata(root)
  val_i, test_i = int(first.indices["val"][0]), int(first.indices["test"][0])
  for k, i in enumerate((val_i, test_i)):
    _noise_clip(root / "audio" / f"{clips[i].stem}.flac", seed=k)
  c.cache_dir = str(tmp_path / "cache1")  # features of the changed tree
  sp = splits.prepare_splits(c, log=lambda s: None)
  np.testing.assert_array_equal(sp.indices["val"], first.indices["val"])  # same split
  train_i = sp.indices["train"]
  assert val_i not in train_i and test_i not in train_i
  from specst_jax.classifier.features import FeatureConfig, load_dataset
  ds = load_dataset(root, FeatureConfig.from_config(c), c.cache_dir,
                    limit=c.clips_per_fold)
  # What the training clips alone give (numpy, float64) ...
  xt = np.asarray(ds.features[train_i], np.float64)
  np.testing.assert_allclose(sp.mean, xt.mean(axis=(0, 1)), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(sp.std, np.maximum(xt.std(axis=(0, 1)), 1e-6), rtol=1e-5)
  np.testing.assert_allclose(sp.centroid_edges,
                             np.quantile(ds.centroids[train_i], np.arange(1, 4) / 4), rtol=1e-6)
  # ... and the edges and statistics they would have with an outlier in: visibly different,
  # so the checks above can fail.
  for outlier in (val_i, test_i):
    with_it = np.append(train_i, outlier)
    assert not np.allclose(sp.centroid_edges,
                           np.quantile(ds.centroids[with_it], np.arange(1, 4) / 4), rtol=1e-3)
    x = np.asarray(ds.features[with_it], np.float64)
    assert np.max(np.abs(x.mean(axis=(0, 1)) - sp.mean) / sp.std) > 1e-2
  # The test clip is standardised with the training statistics.
  pos = int(np.flatnonzero(sp.indices["test"] == test_i)[0])
  np.testing.assert_allclose(sp.arrays["test"][0][pos],
                             (ds.features[test_i] - sp.mean) / sp.std, rtol=1e-5, atol=1e-5)


def test_fit_standardisation_matches_numpy():
  x = np.random.default_rng(0).normal(3.0, 2.0, (5, 7, 4)).astype(np.float32)
  x[..., 3] = 1.0  # a constant channel: std floored, not zero
  mean, std = splits.fit_standardisation(x)
  np.testing.assert_allclose(mean, x.reshape(-1, 4).mean(0), rtol=1e-6)
  np.testing.assert_allclose(std[:3], x.reshape(-1, 4).std(0)[:3], rtol=1e-5)
  assert std[3] == np.float32(1e-6) and mean.dtype == std.dtype == np.float32
  np.testing.assert_allclose(splits.normalise(x, mean, std)[..., :3].reshape(-1, 3).std(0), 1,
                             rtol=1e-4)
