"""The classifier's data for one training config: splits, standardisation, host batches.

:func:`prepare_splits` turns a config into train / validation / test arrays. Everything fitted
to data (the centroid-class edges and the per-channel standardisation) is fitted on the
training part only: never on the validation or test clips. :func:`iterate_batches` and
:func:`epoch_order` feed the steps of :mod:`specst_jax.classifier.steps`; :func:`evaluate`
sums their metrics over a split.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import jax
import ml_collections
import numpy as np

from specst_jax.classifier import esc50
from specst_jax.classifier.features import FeatureConfig, load_dataset
from specst_jax.classifier.steps import Batch


@dataclasses.dataclass
class Splits:
  """Host arrays per split (``train``, ``val``, ``test``): ``(x, y, aux)``, plus normaliser;
  ``indices`` gives each split's rows of the loaded clips and ``stems`` their file names."""

  arrays: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
  centroid_edges: np.ndarray
  mean: np.ndarray | None
  std: np.ndarray | None
  feature_config: FeatureConfig
  class_names: list[str]
  indices: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
  stems: dict[str, list[str]] = dataclasses.field(default_factory=dict)


def fit_standardisation(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Per-channel mean and standard deviation (floored at 1e-6) of ``x [clips, frames, channels]``,
  as ``[channels]`` float32 (accumulated in float64)."""
  x = np.asarray(x, np.float64)
  return (x.mean(axis=(0, 1)).astype(np.float32),
          np.maximum(x.std(axis=(0, 1)), 1e-6).astype(np.float32))


def normalise(x: np.ndarray, mean: np.ndarray | None, std: np.ndarray | None) -> np.ndarray:
  """``(x - mean) / std`` per channel (identity when ``mean`` is None)."""
  if mean is None:
    return np.asarray(x, np.float32)
  return ((np.asarray(x, np.float32) - mean) / std).astype(np.float32)


def prepare_splits(config: ml_collections.ConfigDict, log: Callable[[str], None] = print
                   ) -> Splits:
  """Train / val / test arrays: ``config.train_folds`` minus a stratified ``val_fraction``
  held out for model selection, and ``config.test_folds``. Centroid-class edges and the
  optional per-channel standardisation are fitted on the training part only."""
  fcfg = FeatureConfig.from_config(config)
  ds = load_dataset(config.data_dir, fcfg, config.get("cache_dir") or None,
                    limit=config.get("clips_per_fold") or None, log=log)
  train_idx = esc50.fold_indices(ds.clips, config.train_folds)
  test_idx = esc50.fold_indices(ds.clips, config.test_folds)
  if set(train_idx) & set(test_idx):
    raise ValueError("train_folds and test_folds overlap")
  # Grouped by source recording, the held-out clips share no recording with the training
  # clips (ESC-50 keeps each recording's clips in one fold for the same reason).
  groups = ([ds.clips[i].source or ds.clips[i].stem for i in train_idx]
            if config.get("val_by_source", False) else None)
  rest, held = esc50.stratified_split(ds.targets[train_idx], config.val_fraction, config.seed,
                                      groups=groups)
  val_idx, train_idx = train_idx[held], train_idx[rest]
  edges = esc50.fit_centroid_edges(ds.centroids[train_idx], config.model.n_aux_classes)
  aux = esc50.centroid_classes(ds.centroids, edges)
  mean, std = fit_standardisation(ds.features[train_idx]) if config.standardize else (None, None)
  indices = {"train": train_idx, "val": val_idx, "test": test_idx}
  arrays = {name: (normalise(ds.features[idx], mean, std), ds.targets[idx], aux[idx])
            for name, idx in indices.items()}
  log(f"clips: train {len(train_idx)}, val {len(val_idx)}, test {len(test_idx)}; "
      f"input {fcfg.n_frames} frames x {fcfg.n_channels} channels")
  stems = {name: [ds.clips[i].stem for i in idx] for name, idx in indices.items()}
  return Splits(arrays, edges, mean, std, fcfg, esc50.class_names(ds.clips), indices, stems)


def recipe_files(config: ml_collections.ConfigDict) -> list[Path]:
  """The files :func:`prepare_splits` builds ``config``'s splits from: the ESC-50 CSV and the
  clips of its train and test folds (:func:`specst_jax.classifier.esc50.data_files`)."""
  return esc50.data_files(config.data_dir, [*config.train_folds, *config.test_folds],
                          config.get("clips_per_fold") or None)


def epoch_order(n: int, key: jax.Array, epoch: int) -> np.ndarray:
  """The permutation of ``n`` training examples for ``epoch`` (``fold_in(key, epoch)``)."""
  return np.asarray(_permutation(key, epoch, n))


@functools.partial(jax.jit, static_argnums=2)
def _permutation(key: jax.Array, epoch: int, n: int) -> jax.Array:
  return jax.random.permutation(jax.random.fold_in(key, epoch), n)


def iterate_batches(x: np.ndarray, y: np.ndarray, aux: np.ndarray, batch_size: int,
                    order: np.ndarray | None = None, *, drop_last: bool,
                    soft: np.ndarray | None = None) -> Iterator[Batch]:
  """Batches in ``order`` (default sequential); the last one is padded with ``w = 0``
  unless ``drop_last``. ``soft`` (``[examples, classes]`` soft targets, e.g. distillation's)
  adds ``"p"`` to each batch."""
  order = np.arange(len(x)) if order is None else order
  stop = len(order) - len(order) % batch_size if drop_last else len(order)
  for start in range(0, stop, batch_size):
    idx = order[start:start + batch_size]
    n = len(idx)
    pad = batch_size - n
    b = {"x": np.asarray(x[idx], np.float32), "y": y[idx].astype(np.int32),
         "aux": aux[idx].astype(np.int32), "w": np.ones(n, np.float32)}
    if soft is not None:
      b["p"] = np.asarray(soft[idx], np.float32)
    if pad:
      b = {k: np.concatenate([v, np.zeros((pad,) + v.shape[1:], v.dtype)]) for k, v in b.items()}
    yield b


def summarise(totals: dict[str, float]) -> dict[str, float]:
  """Turns summed metrics into means: loss, accuracy, aux_accuracy."""
  n = max(totals.get("count", 0.0), 1.0)
  return {"loss": totals["loss"] / n, "accuracy": totals["correct"] / n,
          "aux_accuracy": totals["aux_correct"] / n}


def evaluate(eval_fn: Callable, params, x, y, aux, batch_size: int) -> dict[str, float]:
  """Mean metrics of ``params`` over all examples."""
  totals: dict[str, float] = {}
  for b in iterate_batches(x, y, aux, batch_size, drop_last=False):
    m = jax.device_get(eval_fn(params, b))
    for k, v in m.items():
      totals[k] = totals.get(k, 0.0) + float(v)
  return summarise(totals)
