"""Tests for specst_jax/classifier/features.py against numpy/librosa twins and fake ESC-50 trees."""

import sys
from pathlib import Path

import jax
import librosa
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from esc50_fake import make_fake_esc50  # noqa: E402

from specst_jax import pretrained  # noqa: E402
from specst_jax.classifier import esc50  # noqa: E402
from specst_jax.classifier import features as F  # noqa: E402
from specst_jax.classifier.features import FeatureConfig  # noqa: E402

JIT = pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
SMALL = FeatureConfig(sr=4000, n_fft=64, hop_length=32, n_mels=16, n_mfcc=8)


def _maybe_jit(fn, jit):
  return jax.jit(fn) if jit else fn


def _audio(n=2, sr=4000, seed=0):
  rng = np.random.default_rng(seed)
  t = np.arange(5 * sr) / sr
  x = np.sin(2 * np.pi * np.outer(rng.uniform(100, 1500, n), t)) * np.linspace(0, 1, len(t))
  return (x + 0.05 * rng.standard_normal(x.shape)).astype(np.float32)


def _librosa_mag(x, cfg):
  return np.abs(librosa.stft(x, n_fft=cfg.n_fft, hop_length=cfg.hop_length, center=cfg.center)).T


@JIT
def test_unit_db_matches_librosa(jit):
  x = _audio()
  got = np.asarray(_maybe_jit(F.feature_fn(SMALL), jit)(x))
  assert got.shape == (2, SMALL.n_frames, SMALL.n_channels)
  for i in range(2):
    want = librosa.amplitude_to_db(_librosa_mag(x[i], SMALL), ref=np.max, top_db=80) / 80 + 1
    np.testing.assert_allclose(got[i], want, atol=2e-4)  # 2e-4 of 80 dB = 0.016 dB


@JIT
@pytest.mark.parametrize("rep", ["log_mel", "log_mel_deltas", "mfcc", "log1p"])
def test_other_representations_match_librosa(jit, rep):
  cfg = FeatureConfig(**{**SMALL.__dict__, "representation": rep})
  x = _audio()
  got = np.asarray(_maybe_jit(F.feature_fn(cfg), jit)(x))
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
def test_a_stack_is_its_parts_side_by_side(jit):
  stack = FeatureConfig(**{**SMALL.__dict__, "representation": "log_mel_deltas+mfcc"})
  x = _audio()
  got = np.asarray(_maybe_jit(F.feature_fn(stack), jit)(x))
  parts = [np.asarray(F.feature_fn(FeatureConfig(**{**SMALL.__dict__, "representation": r}))(x))
           for r in ("log_mel_deltas", "mfcc")]  # each checked against librosa above
  assert got.shape == (2, stack.n_frames, stack.n_channels) == (2, SMALL.n_frames, 2 * 16 + 24)
  # float32 rounding of dB values: within 1e-4 dB
  np.testing.assert_allclose(got, np.concatenate(parts, axis=-1), atol=1e-4)


@JIT
def test_clip_centroid_matches_librosa(jit):
  x = _audio(3)
  got = np.asarray(_maybe_jit(F.clip_centroid_fn(SMALL), jit)(x))
  for i in range(3):
    S = _librosa_mag(x[i], SMALL).T
    c = librosa.feature.spectral_centroid(S=S, sr=SMALL.sr, n_fft=SMALL.n_fft)[0]
    r = librosa.feature.rms(S=S, frame_length=SMALL.n_fft)[0]
    np.testing.assert_allclose(got[i], np.sum(r * c) / np.sum(r), rtol=1e-4)


def test_feature_config_validation():
  with pytest.raises(ValueError, match="representation"):
    FeatureConfig(representation="cqt")
  for bad in ("log_mel+log_mel", "log_mel+cqt", "log_mel+"):
    with pytest.raises(ValueError, match="stack"):
      FeatureConfig(representation=bad)
  with pytest.raises(ValueError, match="hop_length"):
    FeatureConfig(hop_length=0)
  assert FeatureConfig().n_frames == 622 and FeatureConfig().n_channels == 257
  assert FeatureConfig().key() != FeatureConfig(representation="mfcc").key()


def test_load_dataset_caches(tmp_path):
  root = make_fake_esc50(tmp_path / "data")
  ds = F.load_dataset(root, SMALL, tmp_path / "cache", limit=4)
  assert ds.features.shape == (20, SMALL.n_frames, SMALL.n_channels)
  np.testing.assert_array_equal(np.bincount(ds.folds), [0, 4, 4, 4, 4, 4])
  files = sorted((tmp_path / "cache").glob("*.npy"))
  assert len(files) == 2
  mtimes = [f.stat().st_mtime_ns for f in files]
  waves = esc50.load_waveforms(esc50.resolve_paths(root, ds.clips[:2]), SMALL.sr)
  np.testing.assert_allclose(ds.features[:2], np.asarray(F.feature_fn(SMALL)(waves)),
                             atol=1e-6)
  # The tones' pitch rises with the class, so must the centroid.
  assert ds.centroids[ds.targets == 1].min() > ds.centroids[ds.targets == 0].max()
  ds2 = F.load_dataset(root, SMALL, tmp_path / "cache", limit=4)
  assert [f.stat().st_mtime_ns for f in files] == mtimes
  np.testing.assert_array_equal(ds2.features, ds.features)


def test_load_dataset_folds_keeps_only_those_clips(tmp_path):
  root = make_fake_esc50(tmp_path / "data")
  ds = F.load_dataset(root, SMALL, tmp_path / "cache", folds=[2, 5])
  assert set(ds.folds.tolist()) == {2, 5} and len(ds.clips) == 16
  full = F.load_dataset(root, SMALL, tmp_path / "cache")
  keep = np.isin(full.folds, [2, 5])
  np.testing.assert_allclose(ds.features, full.features[keep], atol=1e-6)
  np.testing.assert_array_equal(ds.targets, full.targets[keep])


@pytest.mark.parametrize("name", sorted(pretrained.SHIPPED))
def test_feature_config_from_provenance_of_shipped_weights(name):
  """The shipped (older-schema) files: one reader, equal to their training config's features."""
  _, _, prov = pretrained.load_wyse(name)
  cfg = FeatureConfig.from_provenance(prov)
  assert cfg == FeatureConfig.from_settings(prov["config"]["features"])
  assert (cfg.sr, cfg.n_fft, cfg.hop_length, cfg.center, cfg.representation) == (
      prov["sr"], prov["n_fft"], prov["hop_length"], prov["center"], prov["representation"])
  assert (cfg.n_frames, cfg.n_channels) == (prov["n_frames"], prov["n_channels"])
  assert cfg.stft.as_dict() == {k: prov[k] for k in ("sr", "n_fft", "hop_length", "center")}


def test_feature_config_from_settings_and_config():
  from experiments.configs import paper
  c = paper.get_config("log_mel,hop512")
  cfg = FeatureConfig.from_config(c)
  assert (cfg.representation, cfg.n_fft, cfg.hop_length) == ("log_mel", 1024, 512)
  assert cfg.key() == FeatureConfig.from_settings(c.features.to_dict()).key()
  with pytest.raises(ValueError, match=r"unknown feature settings \['n_ftt'\]"):
    FeatureConfig.from_settings({"n_ftt": 512})


REAL_CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "esc50_16k" / "audio" / \
    "1-100038-A-14.flac"


@pytest.mark.skipif(not REAL_CLIP.is_file(), reason="ESC-50 data not present (../shared/data)")
@pytest.mark.parametrize("rep", ["unit_db", "log_mel"])
def test_real_clip_every_band_matches_librosa_in_db(rep):
  """A real clip (quiet high bands) at the shipped models' settings: every band within 0.01 dB
  of librosa, so errors in quiet bands are not hidden behind the loud ones."""
  cfg = FeatureConfig(representation=rep, n_fft=512 if rep == "unit_db" else 1024,
                      hop_length=128 if rep == "unit_db" else 512)
  x = esc50.load_waveforms([REAL_CLIP], cfg.sr)
  got = np.asarray(jax.jit(F.feature_fn(cfg))(x))[0]
  S = _librosa_mag(x[0], cfg)
  if rep == "unit_db":
    got_db, want_db = (got - 1) * 80, librosa.amplitude_to_db(S, ref=np.max, top_db=80)
  else:
    got_db = got
    want_db = librosa.power_to_db(librosa.feature.melspectrogram(
        S=S.T ** 2, sr=cfg.sr, n_fft=cfg.n_fft, n_mels=cfg.n_mels), ref=1.0, top_db=80).T
  per_band = np.abs(got_db - want_db).max(axis=0)
  assert np.ptp(want_db.mean(axis=0)) > 30  # the clip does have quiet bands
  assert per_band.max() < 0.01, (per_band.argmax(), per_band.max())
