"""ESC-50 on the host: metadata, folds, clip loading, cached features, centroid classes.

Host-side I/O module (numpy in, numpy out). The feature maths itself is a pure JAX
function (:func:`feature_fn`) built from the project's spectral core; this module
applies it in jitted batches and caches the result on disk as ``.npy`` keyed by a
hash of the :class:`FeatureConfig`, so a training epoch never recomputes it.

Layout expected under ``data_dir`` (the ESC-50 release, Piczak 2015):
``meta/esc50.csv`` (columns filename, fold, target, category, ...) and ``audio/``.
The CSV names ``*.wav`` files; a row's file is resolved by its stem, so both the
original 44.1 kHz WAV release and the 16 kHz FLAC copy work.

Arrays: waveforms ``[clips, samples]``; features ``[clips, frames, channels]``.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from specst_jax import audio as audio_io
from specst_jax import files, scaling, spectral

CSV_PATH = Path("meta") / "esc50.csv"
AUDIO_DIR = "audio"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
CLIP_SECONDS = 5.0
N_FOLDS = 5
N_CLASSES = 50
REPRESENTATIONS = ("unit_db", "log_mel", "log_mel_deltas", "mfcc", "log1p")


class DataError(ValueError):
  """The data directory is missing, incomplete or malformed."""


@dataclasses.dataclass(frozen=True)
class Clip:
  """One ESC-50 row: ``stem`` is the file name without suffix, ``target`` in [0, 50),
  ``source`` the Freesound recording it was cut from (``src_file``; several clips may
  share one, within one fold and class for all but 4 of ESC-50's 1,524 recordings;
  ``""`` when the CSV has no such column)."""

  stem: str
  fold: int
  target: int
  category: str
  source: str = ""


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
  """How a clip becomes a ``[frames, channels]`` input; hashable, so it keys the cache.

  Attributes:
    representation: ``"unit_db"`` (the paper's: linear magnitude in dB re the clip
      max, clipped at ``-top_db``, scaled to [0, 1]), ``"log_mel"`` (dB of a
      Slaney mel power spectrogram re 1.0, floored ``top_db`` below the clip max),
      ``"log_mel_deltas"`` (log_mel and its first delta, ``2 * n_mels`` channels:
      Piczak's input), ``"mfcc"`` (``n_mfcc`` coefficients, with their first and
      second deltas when ``deltas``) or
      ``"log1p"`` (``log(1 + |S|)``).
    sr: sample rate in Hz the clips are resampled to.
    n_fft: FFT size in samples (``n_fft // 2 + 1`` linear bins).
    hop_length: hop in samples.
    center: pad so frames are centred (the paper: False).
    n_mels: mel bands for log_mel / mfcc.
    n_mfcc: cepstral coefficients for mfcc.
    deltas: append first and second deltas to the MFCCs.
    top_db: dynamic range of unit_db in dB.
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
    if self.representation not in REPRESENTATIONS:
      raise ValueError(
          f"representation must be one of {REPRESENTATIONS}, got {self.representation!r}")
    for name in ("sr", "n_fft", "hop_length", "n_mels", "n_mfcc"):
      if int(getattr(self, name)) <= 0:
        raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

  @property
  def n_samples(self) -> int:
    """Samples per 5 s clip at ``sr``."""
    return int(round(CLIP_SECONDS * self.sr))

  @property
  def n_frames(self) -> int:
    return spectral.num_frames(self.n_samples, n_fft=self.n_fft, hop_length=self.hop_length,
                               center=self.center)

  @property
  def n_channels(self) -> int:
    if self.representation in ("unit_db", "log1p"):
      return self.n_fft // 2 + 1
    if self.representation == "log_mel":
      return self.n_mels
    if self.representation == "log_mel_deltas":
      return 2 * self.n_mels
    return self.n_mfcc * (3 if self.deltas else 1)

  def key(self) -> str:
    """A short hash of every field (the cache key)."""
    blob = json.dumps(dataclasses.asdict(self), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


# ---------------------------------------------------------------- metadata and files


def read_metadata(data_dir: str | os.PathLike) -> list[Clip]:
  """Reads ``meta/esc50.csv``.

  Raises:
    DataError: the directory or CSV is missing, a column is missing, or a row is malformed.
  """
  data_dir = Path(data_dir)
  if not data_dir.is_dir():
    raise DataError(f"ESC-50 data directory {data_dir} does not exist")
  csv_path = data_dir / CSV_PATH
  if not csv_path.is_file():
    raise DataError(f"{data_dir}: no metadata file {CSV_PATH} (is this the ESC-50 release?)")
  with open(csv_path, newline="") as f:
    reader = csv.DictReader(f)
    missing = {"filename", "fold", "target", "category"} - set(reader.fieldnames or ())
    if missing:
      raise DataError(f"{csv_path}: missing columns {sorted(missing)}")
    clips = []
    for line, row in enumerate(reader, start=2):
      try:
        clip = Clip(Path(row["filename"]).stem, int(row["fold"]), int(row["target"]),
                    row["category"], row.get("src_file") or "")
      except (TypeError, ValueError) as e:
        raise DataError(f"{csv_path}:{line}: malformed row {row}: {e}") from None
      if not 1 <= clip.fold <= N_FOLDS or not 0 <= clip.target < N_CLASSES:
        raise DataError(f"{csv_path}:{line}: fold {clip.fold} or target {clip.target} "
                        "out of range")
      clips.append(clip)
  if not clips:
    raise DataError(f"{csv_path}: no rows")
  return clips


def class_names(clips: Sequence[Clip]) -> list[str]:
  """Category name of each target ``0..max``  (``""`` for a target with no clip)."""
  names = [""] * (max(c.target for c in clips) + 1)
  for c in clips:
    names[c.target] = c.category
  return names


def resolve_paths(data_dir: str | os.PathLike, clips: Sequence[Clip]) -> list[Path]:
  """Finds each clip's audio file by stem (any of ``AUDIO_SUFFIXES``).

  Raises:
    DataError: listing every clip whose file is missing (the first 20 by name).
  """
  audio_dir = Path(data_dir) / AUDIO_DIR
  if not audio_dir.is_dir():
    raise DataError(f"{data_dir}: no audio directory {AUDIO_DIR}/")
  by_stem = {}
  for p in audio_dir.iterdir():
    if p.suffix.lower() in AUDIO_SUFFIXES:
      by_stem.setdefault(p.stem, p)
  missing = [c.stem for c in clips if c.stem not in by_stem]
  if missing:
    shown = ", ".join(missing[:20]) + (" ..." if len(missing) > 20 else "")
    raise DataError(f"{audio_dir}: {len(missing)} of {len(clips)} clips missing: {shown}")
  return [by_stem[c.stem] for c in clips]


def fold_indices(clips: Sequence[Clip], folds: Sequence[int]) -> np.ndarray:
  """Indices of the clips in any of ``folds`` (1-based, as in the CSV)."""
  for f in folds:
    if not 1 <= int(f) <= N_FOLDS:
      raise ValueError(f"folds must be in 1..{N_FOLDS}, got {f}")
  wanted = {int(f) for f in folds}
  return np.array([i for i, c in enumerate(clips) if c.fold in wanted], dtype=np.int64)


def stratified_split(targets: np.ndarray, fraction: float, seed: int,
                     groups: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
  """Splits positions ``0..len(targets)-1`` into (rest, held-out) with ``fraction`` per class.

  With ``groups`` (one label per position, e.g. each clip's source recording), whole groups
  are held out: a class gets random groups of its own until it has at least its share, so
  no group lies on both sides when each group lies within one class (as all but 4 of
  ESC-50's 1,524 recordings do).
  """
  if not 0.0 < fraction < 1.0:
    raise ValueError(f"fraction must be in (0, 1), got {fraction}")
  targets = np.asarray(targets)
  if groups is not None:
    groups = np.asarray(groups, dtype=str)
    if groups.shape != targets.shape:
      raise ValueError(f"groups must have one label per target ({targets.shape}), "
                       f"got shape {groups.shape}")
  rng = np.random.default_rng(seed)
  held = []
  for t in np.unique(targets):
    idx = np.flatnonzero(targets == t)
    k = max(1, int(round(fraction * len(idx))))
    if groups is None:
      held.extend(rng.permutation(idx)[:k].tolist())
      continue
    taken = []
    for g in rng.permutation(np.unique(groups[idx])):
      if len(taken) >= k:
        break
      taken.extend(idx[groups[idx] == g].tolist())
    held.extend(taken)
  held = np.sort(np.array(held, dtype=np.int64))
  rest = np.setdiff1d(np.arange(len(targets)), held)
  return rest, held


def load_waveforms(paths: Sequence[Path], sr: int) -> np.ndarray:
  """Loads clips at ``sr`` Hz, zero-padded or trimmed to 5 s: ``[clips, samples]`` float32."""
  n = int(round(CLIP_SECONDS * sr))
  out = np.zeros((len(paths), n), np.float32)
  for i, p in enumerate(paths):
    x, _ = audio_io.load_audio(p, sr=sr)
    out[i, :min(n, x.shape[-1])] = x[:n]
  return out


# ---------------------------------------------------------------- features (pure JAX)


def feature_fn(cfg: FeatureConfig) -> Callable[[jax.Array], jax.Array]:
  """The pure map ``audio [batch, samples] -> features [batch, frames, channels]``."""

  def linear(x):
    return spectral.magnitude(spectral.stft(x, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                                            center=cfg.center))

  def fn(x: jax.Array) -> jax.Array:
    S = linear(x)
    if cfg.representation == "unit_db":
      # == scaling.unit_db(S) (per spectrogram); written via power_to_db because
      # unit_db's array-valued ref does not trace under jit yet.
      db = scaling.power_to_db(S ** 2, ref="max", amin=1e-10, top_db=cfg.top_db)
      return db / cfg.top_db + 1.0
    if cfg.representation == "log1p":
      return scaling.log1p_magnitude(S)
    from specst_jax import features  # imported lazily: only these scales need it
    mel = features.melspectrogram(S=S ** 2, sr=cfg.sr, n_fft=cfg.n_fft, n_mels=cfg.n_mels)
    log_mel = scaling.power_to_db(mel, ref=1.0, amin=1e-10, top_db=cfg.top_db)
    if cfg.representation == "log_mel":
      return log_mel
    if cfg.representation == "log_mel_deltas":
      return features.stack_deltas(log_mel, orders=(1,))
    m = features.mfcc(S=log_mel, sr=cfg.sr, n_mfcc=cfg.n_mfcc)
    return features.stack_deltas(m, orders=(1, 2)) if cfg.deltas else m

  return fn


def clip_centroid_fn(cfg: FeatureConfig) -> Callable[[jax.Array], jax.Array]:
  """The map ``audio [batch, samples] -> RMS-weighted spectral centroid [batch]`` in Hz.

  Per frame t: centroid ``c_t = sum_k f_k |S_tk| / sum_k |S_tk|`` and RMS
  ``r_t = sqrt(sum_k w_k |S_tk|^2) * sqrt(2) / n_fft`` (Parseval, librosa's
  ``rms(S=...)``, with ``w_k`` = 1/2 for DC and Nyquist); clip value
  ``sum_t r_t c_t / sum_t r_t``. Silent frames have weight 0.
  """
  freqs = jnp.asarray(spectral.fft_frequencies(sr=cfg.sr, n_fft=cfg.n_fft), jnp.float32)

  def fn(x: jax.Array) -> jax.Array:
    S = spectral.magnitude(spectral.stft(x, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                                         center=cfg.center))
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


# ---------------------------------------------------------------- centroid classes


def fit_centroid_edges(values: np.ndarray, n_classes: int = 16) -> np.ndarray:
  """Inner edges ``[n_classes - 1]`` of ``n_classes`` equally populated bins (quantiles)."""
  values = np.asarray(values, np.float64)
  if n_classes < 2 or len(values) < n_classes:
    raise ValueError(f"need n_classes >= 2 and at least n_classes values, got {n_classes}, "
                     f"{len(values)}")
  return np.quantile(values, np.arange(1, n_classes) / n_classes)


def centroid_classes(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
  """Class of each value: the number of inner edges at or below it, in ``[0, len(edges)]``."""
  return np.searchsorted(np.asarray(edges), np.asarray(values), side="right").astype(np.int32)


# ---------------------------------------------------------------- cache




def _save_npy(path: Path, array: np.ndarray) -> None:
  with files.atomic_path(path) as tmp, open(tmp, "wb") as f:
    np.save(f, array)


def default_cache_dir() -> Path:
  return Path(os.environ.get("SPECST_JAX_CACHE", Path.home() / ".cache" / "specst_jax"))


@dataclasses.dataclass
class Dataset:
  """Everything training needs, as host arrays over all clips in CSV order.

  Attributes:
    clips: metadata rows.
    features: ``[clips, frames, channels]`` float32 (may be a read-only memmap).
    targets: ``[clips]`` int32 class in [0, 50).
    folds: ``[clips]`` int32 fold in 1..5.
    centroids: ``[clips]`` float32 RMS-weighted spectral centroid in Hz.
  """

  clips: list[Clip]
  features: np.ndarray
  targets: np.ndarray
  folds: np.ndarray
  centroids: np.ndarray


def load_dataset(data_dir: str | os.PathLike, cfg: FeatureConfig,
                 cache_dir: str | os.PathLike | None = None, *, batch_size: int = 50,
                 limit: int | None = None, log: Callable[[str], None] | None = None) -> Dataset:
  """Loads ESC-50 features, computing and caching them on first use.

  Args:
    data_dir: the ESC-50 root (``meta/esc50.csv`` and ``audio/``).
    cfg: the feature configuration; its hash names the cache files.
    cache_dir: where the ``.npy`` cache lives (default ``$SPECST_JAX_CACHE`` or
      ``~/.cache/specst_jax``); ``None`` uses the default.
    batch_size: clips per jitted feature batch.
    limit: keep only the first ``limit`` clips per fold (tests); part of the cache key.
    log: optional progress callback.

  Raises:
    DataError: missing CSV or clips (listed).
  """
  clips = read_metadata(data_dir)
  if limit is not None:
    per_fold: dict[int, int] = {}
    kept = []
    for c in clips:
      if per_fold.get(c.fold, 0) < limit:
        kept.append(c)
        per_fold[c.fold] = per_fold.get(c.fold, 0) + 1
    clips = kept
  paths = resolve_paths(data_dir, clips)
  cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
  ident = hashlib.sha256(("|".join(c.stem for c in clips)).encode()).hexdigest()[:8]
  feat_path = cache / f"esc50_{cfg.representation}_{cfg.key()}_{ident}.npy"
  cent_cfg = FeatureConfig(sr=cfg.sr, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                           center=cfg.center)
  cent_path = cache / f"esc50_centroid_{cent_cfg.key()}_{ident}.npy"
  waves = None
  if not feat_path.exists() or not cent_path.exists():
    if log:
      log(f"loading {len(paths)} clips at {cfg.sr} Hz")
    waves = load_waveforms(paths, cfg.sr)
  if not feat_path.exists():
    if log:
      log(f"computing {cfg.representation} features -> {feat_path}")
    _save_npy(feat_path, apply_in_batches(feature_fn(cfg), waves, batch_size)
                     .astype(np.float32))
  if not cent_path.exists():
    _save_npy(cent_path, apply_in_batches(clip_centroid_fn(cent_cfg), waves, batch_size)
                     .astype(np.float32))
  features = np.load(feat_path, mmap_mode="r")
  expected = (len(clips), cfg.n_frames, cfg.n_channels)
  if features.shape != expected:
    raise DataError(f"{feat_path}: cached shape {features.shape}, expected {expected}; "
                    "delete it to recompute")
  return Dataset(clips=clips, features=features,
                 targets=np.array([c.target for c in clips], np.int32),
                 folds=np.array([c.fold for c in clips], np.int32),
                 centroids=np.load(cent_path))
