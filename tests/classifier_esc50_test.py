"""Tests for specst_jax/classifier/esc50.py (host data, numpy only) on fake ESC-50 trees."""

import ast
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from esc50_fake import make_fake_esc50  # noqa: E402

from specst_jax.classifier import esc50  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "esc50_16k"


def test_host_module_imports_no_jax():
  """The host data module is numpy only: no import of jax, flax or optax."""
  tree = ast.parse(Path(esc50.__file__).read_text())
  names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
  names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
  assert names and not [m for m in names if m.split(".")[0] in ("jax", "flax", "optax")], names


def test_first_per_fold():
  clips = [esc50.Clip(f"c{i}", 1 + i % 5, i % 10, "x") for i in range(50)]
  kept = esc50.first_per_fold(clips, 3)
  assert [c.stem for c in kept] == [f"c{i}" for i in range(15)]
  with pytest.raises(ValueError, match="limit"):
    esc50.first_per_fold(clips, 0)


def test_metadata_and_paths_resolve_by_stem(tmp_path):
  root = make_fake_esc50(tmp_path, suffix=".wav")
  clips = esc50.read_metadata(root)
  assert len(clips) == 40 and {c.fold for c in clips} == {1, 2, 3, 4, 5}
  paths = esc50.resolve_paths(root, clips)
  assert all(p.stem == c.stem and p.suffix == ".wav" for p, c in zip(paths, clips, strict=True))
  assert esc50.class_names(clips) == [f"class{i}" for i in range(4)]


def test_data_files_are_the_csv_and_the_clips_of_the_folds(tmp_path):
  """What a classifier result's data_sha256 covers: the CSV, then each clip of the folds."""
  root = make_fake_esc50(tmp_path)
  got = esc50.data_files(root, [2, 5])
  assert got[0] == root / "meta" / "esc50.csv" and len(got) == 1 + 16
  assert {p.name.split("-")[0] for p in got[1:]} == {"2", "5"}
  limited = esc50.data_files(root, [2, 5], limit=3)
  assert len(limited) == 1 + 6 and set(limited) < set(got)
  (root / "audio" / got[-1].name).unlink()
  with pytest.raises(esc50.DataError, match="1 of 8 clips missing"):
    esc50.data_files(root, [5])


def test_missing_csv_and_directory(tmp_path):
  with pytest.raises(esc50.DataError, match="does not exist"):
    esc50.read_metadata(tmp_path / "nope")
  with pytest.raises(esc50.DataError, match="esc50.csv"):
    esc50.read_metadata(tmp_path)


def test_missing_clips_are_listed(tmp_path):
  root = make_fake_esc50(tmp_path)
  clips = esc50.read_metadata(root)
  (root / "audio" / f"{clips[3].stem}.flac").unlink()
  (root / "audio" / f"{clips[7].stem}.flac").unlink()
  with pytest.raises(esc50.DataError, match=f"2 of 40 clips missing: {clips[3].stem}, "
                     f"{clips[7].stem}"):
    esc50.resolve_paths(root, clips)


def test_malformed_csv(tmp_path):
  (tmp_path / "meta").mkdir()
  (tmp_path / "meta" / "esc50.csv").write_text("filename,fold\na.wav,1\n")
  with pytest.raises(esc50.DataError, match="missing columns"):
    esc50.read_metadata(tmp_path)
  (tmp_path / "meta" / "esc50.csv").write_text("filename,fold,target,category\na.wav,9,1,x\n")
  with pytest.raises(esc50.DataError, match="out of range"):
    esc50.read_metadata(tmp_path)


def test_folds_and_stratified_split():
  clips = [esc50.Clip(f"c{i}", 1 + i % 5, i % 10, "x") for i in range(200)]
  idx = esc50.fold_indices(clips, [2, 4])
  assert len(idx) == 80 and all(clips[i].fold in (2, 4) for i in idx)
  with pytest.raises(ValueError, match="folds"):
    esc50.fold_indices(clips, [6])
  targets = np.array([c.target for c in clips])
  rest, held = esc50.stratified_split(targets, 0.1, seed=0)
  assert len(np.intersect1d(rest, held)) == 0 and len(rest) + len(held) == 200
  np.testing.assert_array_equal(np.bincount(targets[held]), np.full(10, 2))


def test_stratified_split_by_group_keeps_groups_whole():
  rng = np.random.default_rng(1)
  targets = np.repeat(np.arange(10), 20)
  groups = np.array([f"{t}-{rng.integers(6)}" for t in targets])  # groups of about 3
  rest, held = esc50.stratified_split(targets, 0.1, seed=0, groups=groups)
  assert len(np.intersect1d(rest, held)) == 0 and len(rest) + len(held) == 200
  assert not set(groups[rest]) & set(groups[held])
  counts = np.bincount(targets[held], minlength=10)
  biggest_group = max(np.unique(groups, return_counts=True)[1])
  assert (counts >= 2).all() and (counts <= 1 + biggest_group).all()
  with pytest.raises(ValueError, match="one label per target"):
    esc50.stratified_split(targets, 0.1, seed=0, groups=groups[:5])


def test_centroid_classes_are_balanced():
  values = np.random.default_rng(0).lognormal(7, 0.5, 160)
  edges = esc50.fit_centroid_edges(values, 16)
  classes = esc50.centroid_classes(values, edges)
  np.testing.assert_array_equal(np.bincount(classes, minlength=16), np.full(16, 10))
  np.testing.assert_array_equal(classes, np.digitize(values, edges))
  with pytest.raises(ValueError, match="n_classes"):
    esc50.fit_centroid_edges(values[:5], 16)


@pytest.mark.skipif(not DATA.is_dir(), reason="ESC-50 data not present")
def test_real_metadata():
  clips = esc50.read_metadata(DATA)
  assert len(clips) == 2000
  np.testing.assert_array_equal(np.bincount([c.fold for c in clips]), [0] + [400] * 5)
  np.testing.assert_array_equal(np.bincount([c.target for c in clips]), [40] * 50)
  assert len(esc50.resolve_paths(DATA, clips)) == 2000
