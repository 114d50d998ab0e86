"""Tests for specst_jax/esc50.py against numpy/librosa twins and fake ESC-50 trees."""

import sys
from pathlib import Path

import jax
import librosa
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from esc50_fake import make_fake_esc50  # noqa: E402

from specst_jax import esc50  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "esc50_16k"
JIT = pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
SMALL = esc50.FeatureConfig(sr=4000, n_fft=64, hop_length=32, n_mels=16, n_mfcc=8)


def _maybe_jit(fn, jit):
  return jax.jit(fn) if jit else fn


def _audio(n=2, sr=4000, seed=0):
  rng = np.random.default_rng(seed)
  t = np.arange(5 * sr) / sr
  x = np.sin(2 * np.pi * np.outer(rng.uniform(100, 1500, n), t)) * np.linspace(0, 1, len(t))
  return (x + 0.05 * rng.standard_normal(x.shape)).astype(np.float32)


def _librosa_mag(x, cfg):
  return np.abs(librosa.stft(x, n_fft=cfg.n_fft, hop_length=cfg.hop_length, center=cfg.center)).T


# ---------------------------------------------------------------- metadata


def test_metadata_and_paths_resolve_by_stem(tmp_path):
  root = make_fake_esc50(tmp_path, suffix=".wav")
  clips = esc50.read_metadata(root)
  assert len(clips) == 40 and {c.fold for c in clips} == {1, 2, 3, 4, 5}
  paths = esc50.resolve_paths(root, clips)
  assert all(p.stem == c.stem and p.suffix == ".wav" for p, c in zip(paths, clips, strict=True))
  assert esc50.class_names(clips) == [f"class{i}" for i in range(4)]


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


# ---------------------------------------------------------------- features vs librosa


@JIT
def test_unit_db_matches_librosa(jit):
  x = _audio()
  got = np.asarray(_maybe_jit(esc50.feature_fn(SMALL), jit)(x))
  assert got.shape == (2, SMALL.n_frames, SMALL.n_channels)
  for i in range(2):
    want = librosa.amplitude_to_db(_librosa_mag(x[i], SMALL), ref=np.max, top_db=80) / 80 + 1
    np.testing.assert_allclose(got[i], want, atol=2e-4)  # 2e-4 of 80 dB = 0.016 dB


@JIT
@pytest.mark.parametrize("rep", ["log_mel", "log_mel_deltas", "mfcc", "log1p"])
def test_other_representations_match_librosa(jit, rep):
  cfg = esc50.FeatureConfig(**{**SMALL.__dict__, "representation": rep})
  x = _audio()
  got = np.asarray(_maybe_jit(esc50.feature_fn(cfg), jit)(x))
  assert got.shape == (2, cfg.n_frames, cfg.n_channels)
  for i in range(2):
    S = _librosa_mag(x[i], cfg).T
    if rep == "log1p":
      want = np.log1p(S).T
    else:
      log_mel = librosa.power_to_db(librosa.feature.melspectrogram(
          S=S ** 2, sr=cfg.sr, n_fft=cfg.n_fft, n_mels=cfg.n_mels), ref=1.0, top_db=80)
      if rep == "log_mel":
        want = log_mel.T
      elif rep == "log_mel_deltas":
        want = np.concatenate([log_mel, librosa.feature.delta(log_mel, order=1)]).T
      else:
        m = librosa.feature.mfcc(S=log_mel, n_mfcc=cfg.n_mfcc)
        want = np.concatenate([m, librosa.feature.delta(m, order=1),
                               librosa.feature.delta(m, order=2)]).T
    np.testing.assert_allclose(got[i], want, atol=2e-3 * max(1.0, np.abs(want).max()))


@JIT
def test_clip_centroid_matches_librosa(jit):
  x = _audio(3)
  got = np.asarray(_maybe_jit(esc50.clip_centroid_fn(SMALL), jit)(x))
  for i in range(3):
    S = _librosa_mag(x[i], SMALL).T
    c = librosa.feature.spectral_centroid(S=S, sr=SMALL.sr, n_fft=SMALL.n_fft)[0]
    r = librosa.feature.rms(S=S, frame_length=SMALL.n_fft)[0]
    np.testing.assert_allclose(got[i], np.sum(r * c) / np.sum(r), rtol=1e-4)


def test_centroid_classes_are_balanced():
  values = np.random.default_rng(0).lognormal(7, 0.5, 160)
  edges = esc50.fit_centroid_edges(values, 16)
  classes = esc50.centroid_classes(values, edges)
  np.testing.assert_array_equal(np.bincount(classes, minlength=16), np.full(16, 10))
  np.testing.assert_array_equal(classes, np.digitize(values, edges))
  with pytest.raises(ValueError, match="n_classes"):
    esc50.fit_centroid_edges(values[:5], 16)


def test_feature_config_validation():
  with pytest.raises(ValueError, match="representation"):
    esc50.FeatureConfig(representation="cqt")
  with pytest.raises(ValueError, match="hop_length"):
    esc50.FeatureConfig(hop_length=0)
  assert esc50.FeatureConfig().n_frames == 622 and esc50.FeatureConfig().n_channels == 257
  assert esc50.FeatureConfig().key() != esc50.FeatureConfig(representation="mfcc").key()


# ---------------------------------------------------------------- dataset and cache


def test_load_dataset_caches(tmp_path):
  root = make_fake_esc50(tmp_path / "data")
  ds = esc50.load_dataset(root, SMALL, tmp_path / "cache", limit=4)
  assert ds.features.shape == (20, SMALL.n_frames, SMALL.n_channels)
  np.testing.assert_array_equal(np.bincount(ds.folds), [0, 4, 4, 4, 4, 4])
  files = sorted((tmp_path / "cache").glob("*.npy"))
  assert len(files) == 2
  mtimes = [f.stat().st_mtime_ns for f in files]
  waves = esc50.load_waveforms(esc50.resolve_paths(root, ds.clips[:2]), SMALL.sr)
  np.testing.assert_allclose(ds.features[:2], np.asarray(esc50.feature_fn(SMALL)(waves)),
                             atol=1e-6)
  # The tones' pitch rises with the class, so must the centroid.
  assert ds.centroids[ds.targets == 1].min() > ds.centroids[ds.targets == 0].max()
  ds2 = esc50.load_dataset(root, SMALL, tmp_path / "cache", limit=4)
  assert [f.stat().st_mtime_ns for f in files] == mtimes
  np.testing.assert_array_equal(ds2.features, ds.features)


@pytest.mark.skipif(not DATA.is_dir(), reason="ESC-50 data not present")
def test_real_metadata():
  clips = esc50.read_metadata(DATA)
  assert len(clips) == 2000
  np.testing.assert_array_equal(np.bincount([c.fold for c in clips]), [0] + [400] * 5)
  np.testing.assert_array_equal(np.bincount([c.target for c in clips]), [40] * 50)
  assert len(esc50.resolve_paths(DATA, clips)) == 2000
