"""ESC-50 on the host: metadata, folds, splits, clip loading, centroid classes.

Host-side data module, numpy only (no JAX): the feature maps and their cache are in
:mod:`specst_jax.classifier.features`.

Layout expected under ``data_dir`` (the ESC-50 release, Piczak 2015):
``meta/esc50.csv`` (columns filename, fold, target, category, ...) and ``audio/``.
The CSV names ``*.wav`` files; a row's file is resolved by its stem, so both the
original 44.1 kHz WAV release and the 16 kHz FLAC copy work.

Arrays: waveforms ``[clips, samples]``; features ``[clips, frames, channels]``.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from specst_jax import audio as audio_io

CSV_PATH = Path("meta") / "esc50.csv"
AUDIO_DIR = "audio"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
CLIP_SECONDS = 5.0
N_FOLDS = 5
N_CLASSES = 50


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


def data_files(data_dir: str | os.PathLike, folds: Sequence[int],
               limit: int | None = None) -> list[Path]:
  """The files a result on ``folds`` reads: ``meta/esc50.csv`` and the audio file of every
  clip in ``folds`` (the first ``limit`` per fold when given, as :func:`first_per_fold`).

  This is what a classifier result's ``data_sha256`` covers
  (:func:`specst_jax.provenance.data_hash`: each file's name and bytes). Features read from
  the cache were computed from these clips; the cache itself is not hashed.

  Raises:
    DataError: the CSV or a clip's file is missing.
  """
  clips = read_metadata(data_dir)
  if limit:
    clips = first_per_fold(clips, limit)
  clips = [clips[i] for i in fold_indices(clips, folds)]
  return [Path(data_dir) / CSV_PATH, *resolve_paths(data_dir, clips)]


def fold_indices(clips: Sequence[Clip], folds: Sequence[int]) -> np.ndarray:
  """Indices of the clips in any of ``folds`` (1-based, as in the CSV)."""
  for f in folds:
    if not 1 <= int(f) <= N_FOLDS:
      raise ValueError(f"folds must be in 1..{N_FOLDS}, got {f}")
  wanted = {int(f) for f in folds}
  return np.array([i for i, c in enumerate(clips) if c.fold in wanted], dtype=np.int64)


def first_per_fold(clips: Sequence[Clip], limit: int) -> list[Clip]:
  """The first ``limit`` clips of each fold, in CSV order."""
  if limit < 1:
    raise ValueError(f"limit must be >= 1 clip per fold, got {limit}")
  per_fold: dict[int, int] = {}
  kept = []
  for c in clips:
    if per_fold.get(c.fold, 0) < limit:
      kept.append(c)
      per_fold[c.fold] = per_fold.get(c.fold, 0) + 1
  return kept


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
