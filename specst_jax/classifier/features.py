"""The classifier's inputs: the feature config, the pure feature maps and their on-disk cache.

:class:`FeatureConfig` (hashable) says how a 5 s clip becomes ``[frames, channels]``; it is
built from a training config (:meth:`FeatureConfig.from_config`) or from a weights file's
provenance (:meth:`FeatureConfig.from_provenance`) and nowhere else. :func:`feature_fn` is the
pure map ``audio [batch, samples] -> [batch, frames, channels]``, one representation of
:mod:`specst_jax.representations` of the clip's ``|STFT|``; :func:`clip_centroid_fn` gives the
clip's RMS-weighted spectral centroid (the auxiliary head's target). :func:`load_dataset`
applies both in jitted batches and caches the result as ``.npy`` keyed by a hash of the config,
so a training epoch never recomputes them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from specst_jax import files, pretrained, representations, spectral
from specst_jax.classifier import esc50

# The representations the classifier takes: ``[frames, channels]`` arrays of one clip.
REPRESENTATIONS = ("unit_db", "log_mel", "log_mel_deltas", "mfcc", "log1p", "logfreq")


def is_input(name: str) -> bool:
  """Whether the classifier takes ``name``: one of :data:`REPRESENTATIONS` or a stack of
  distinct ones joined by ``+`` (``"log_mel_deltas+logfreq"``)."""
  parts = str(name).split(representations.STACK_SEPARATOR)
  return len(set(parts)) == len(parts) and all(p in REPRESENTATIONS for p in parts)


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
  """How a clip becomes a ``[frames, channels]`` input; hashable, so it keys the cache.

  Attributes:
    representation: one of :data:`REPRESENTATIONS` (see :mod:`specst_jax.representations`):
      ``"unit_db"`` (the paper's [0, 1] dB re the clip max), ``"log_mel"``, ``"log_mel_deltas"``
      (log-mel and its first delta, ``2 * n_mels`` channels: Piczak's input), ``"mfcc"``
      (``n_mfcc`` coefficients, with first and second deltas when ``deltas``), ``"log1p"`` or
      ``"logfreq"`` (semitone bands from C1 up to Nyquist, dB re the clip max, floored
      ``top_db`` below it: 95 bands at 16 kHz), or a stack of distinct ones joined by ``+``
      (their channels side by side: ``"log_mel_deltas+logfreq"``, 351 channels at 16 kHz).
    sr: sample rate in Hz the clips are resampled to.
    n_fft: FFT size in samples (``n_fft // 2 + 1`` linear bins).
    hop_length: hop in samples.
    center: pad so frames are centred (the paper: False).
    n_mels: mel bands for log_mel / mfcc.
    n_mfcc: cepstral coefficients for mfcc.
    deltas: append first and second deltas to the MFCCs.
    top_db: dynamic range of the dB representations in dB.
  """

  representation: str = "unit_db"
  sr: int = 16000
  n_fft: int = 512
  hop_length: int = 128
  center: bool = False
  n_mels: int = 128
  n_mfcc: int = 40
  deltas: bool = True
  top_db: float = 80.0

  def __post_init__(self):
    if not is_input(self.representation):
      raise ValueError(f"representation must be one of {REPRESENTATIONS} or a stack of "
                       f"distinct ones joined by '+', got {self.representation!r}")
    for name in ("sr", "n_fft", "hop_length", "n_mels", "n_mfcc"):
      if int(getattr(self, name)) <= 0:
        raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

  @classmethod
  def from_settings(cls, settings: Mapping[str, Any]) -> FeatureConfig:
    """From a mapping of these fields (a config's ``features`` section); ValueError naming
    an unknown key."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(settings) - names)
    if unknown:
      raise ValueError(f"unknown feature settings {unknown} (known: {sorted(names)})")
    return cls(**settings)

  @classmethod
  def from_config(cls, config) -> FeatureConfig:
    """The features of a training config (its ``features`` section)."""
    return cls.from_settings(config.features.to_dict())

  @classmethod
  def from_provenance(cls, provenance: Mapping[str, Any]) -> FeatureConfig:
    """The features a weights file was trained on (see ``pretrained.feature_settings``)."""
    return cls.from_settings(pretrained.feature_settings(provenance))

  @property
  def stft(self) -> representations.Stft:
    return representations.Stft(sr=self.sr, n_fft=self.n_fft, hop_length=self.hop_length,
                                 center=self.center)

  @property
  def options(self) -> representations.Options:
    return representations.Options(n_mels=self.n_mels, n_mfcc=self.n_mfcc, deltas=self.deltas,
                                   top_db=self.top_db)

  @property
  def n_samples(self) -> int:
    """Samples per 5 s clip at ``sr``."""
    return int(round(esc50.CLIP_SECONDS * self.sr))

  @property
  def n_frames(self) -> int:
    return self.stft.n_frames(self.n_samples)

  @property
  def n_channels(self) -> int:
    return representations.get(self.representation).n_channels(self.stft, self.options)

  def key(self) -> str:
    """A short hash of every field (the cache key)."""
    blob = json.dumps(dataclasses.asdict(self), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


# ---------------------------------------------------------------- pure maps


def feature_fn(cfg: FeatureConfig) -> Callable[[jax.Array], jax.Array]:
  """The pure map ``audio [batch, samples] -> features [batch, frames, channels]``."""
  stft, options = cfg.stft, cfg.options

  def fn(x: jax.Array) -> jax.Array:
    return representations.encode(cfg.representation, stft.magnitude(x), stft, options)

  return fn


def clip_centroid_fn(cfg: FeatureConfig) -> Callable[[jax.Array], jax.Array]:
  """The map ``audio [batch, samples] -> RMS-weighted spectral centroid [batch]`` in Hz.

  Per frame t: centroid ``c_t = sum_k f_k |S_tk| / sum_k |S_tk|`` and RMS
  ``r_t = sqrt(sum_k w_k |S_tk|^2) * sqrt(2) / n_fft`` (Parseval, librosa's
  ``rms(S=...)``, with ``w_k`` = 1/2 for DC and Nyquist); clip value
  ``sum_t r_t c_t / sum_t r_t``. Silent frames have weight 0.
  """
  stft = cfg.stft
  freqs = jnp.asarray(spectral.fft_frequencies(sr=cfg.sr, n_fft=cfg.n_fft), jnp.float32)

  def fn(x: jax.Array) -> jax.Array:
    S = stft.magnitude(x)
    c = (S * freqs).sum(-1) / jnp.maximum(S.sum(-1), 1e-10)
    power = S ** 2
    power = power.at[..., 0].multiply(0.5).at[..., -1].multiply(0.5)
    r = jnp.sqrt(2.0 * power.sum(-1)) / cfg.n_fft
    return (r * c).sum(-1) / jnp.maximum(r.sum(-1), 1e-20)

  return fn


def apply_in_batches(fn: Callable[[jax.Array], jax.Array], x: np.ndarray,
                     batch_size: int = 50) -> np.ndarray:
  """Applies a jitted ``fn`` over axis 0 of ``x`` in fixed-size batches (one compile)."""
  jfn = jax.jit(fn)
  outs = []
  for start in range(0, len(x), batch_size):
    chunk = x[start:start + batch_size]
    n = len(chunk)
    if n < batch_size:
      chunk = np.concatenate([chunk, np.zeros((batch_size - n,) + chunk.shape[1:], chunk.dtype)])
    outs.append(np.asarray(jfn(chunk))[:n])
  return np.concatenate(outs)


# ---------------------------------------------------------------- the cached dataset


def default_cache_dir() -> Path:
  return Path(os.environ.get("SPECST_JAX_CACHE", Path.home() / ".cache" / "specst_jax"))


@dataclasses.dataclass
class Dataset:
  """Everything training needs, as host arrays over the chosen clips in CSV order.

  Attributes:
    clips: metadata rows.
    features: ``[clips, frames, channels]`` float32 (may be a read-only memmap).
    targets: ``[clips]`` int32 class in [0, 50).
    folds: ``[clips]`` int32 fold in 1..5.
    centroids: ``[clips]`` float32 RMS-weighted spectral centroid in Hz.
  """

  clips: list[esc50.Clip]
  features: np.ndarray
  targets: np.ndarray
  folds: np.ndarray
  centroids: np.ndarray


def _save_npy(path: Path, array: np.ndarray) -> None:
  with files.atomic_path(path) as tmp, open(tmp, "wb") as f:
    np.save(f, array)


def _cached(path: Path, compute: Callable[[], np.ndarray]) -> None:
  if not path.exists():
    _save_npy(path, np.asarray(compute(), np.float32))


def load_dataset(data_dir: str | os.PathLike, cfg: FeatureConfig,
                 cache_dir: str | os.PathLike | None = None, *, batch_size: int = 50,
                 limit: int | None = None, folds=None,
                 log: Callable[[str], None] | None = None) -> Dataset:
  """Loads ESC-50 features, computing and caching them on first use.

  Args:
    data_dir: the ESC-50 root (``meta/esc50.csv`` and ``audio/``).
    cfg: the feature configuration; its hash names the cache files.
    cache_dir: where the ``.npy`` cache lives (default ``$SPECST_JAX_CACHE`` or
      ``~/.cache/specst_jax``); ``None`` uses the default.
    batch_size: clips per jitted feature batch.
    limit: keep only the first ``limit`` clips per fold (tests).
    folds: keep only the clips of these folds (default all).
    log: optional progress callback.

  The cache files are named by the config's hash and a hash of the clips kept.

  Raises:
    DataError: missing CSV or clips (listed).
  """
  clips = esc50.read_metadata(data_dir)
  if folds is not None:
    clips = [clips[i] for i in esc50.fold_indices(clips, folds)]
  if limit is not None:
    clips = esc50.first_per_fold(clips, limit)
  paths = esc50.resolve_paths(data_dir, clips)
  cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
  ident = hashlib.sha256(("|".join(c.stem for c in clips)).encode()).hexdigest()[:8]
  feat_path = cache / f"esc50_{cfg.representation}_{cfg.key()}_{ident}.npy"
  cent_cfg = FeatureConfig(sr=cfg.sr, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                           center=cfg.center)
  cent_path = cache / f"esc50_centroid_{cent_cfg.key()}_{ident}.npy"
  waves = None
  if not feat_path.exists() or not cent_path.exists():
    if log:
      log(f"loading {len(paths)} clips at {cfg.sr} Hz; computing {cfg.representation} "
          f"features -> {feat_path}")
    waves = esc50.load_waveforms(paths, cfg.sr)
  _cached(feat_path, lambda: apply_in_batches(feature_fn(cfg), waves, batch_size))
  _cached(cent_path, lambda: apply_in_batches(clip_centroid_fn(cent_cfg), waves, batch_size))
  features = np.load(feat_path, mmap_mode="r")
  expected = (len(clips), cfg.n_frames, cfg.n_channels)
  if features.shape != expected:
    raise esc50.DataError(f"{feat_path}: cached shape {features.shape}, expected {expected}; "
                          "delete it to recompute")
  return Dataset(clips=clips, features=features,
                 targets=np.array([c.target for c in clips], np.int32),
                 folds=np.array([c.fold for c in clips], np.int32),
                 centroids=np.load(cent_path))
