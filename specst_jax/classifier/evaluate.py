"""Scoring trained classifiers: accuracy on ESC-50 folds, mean-softmax ensembles, class posteriors.

:func:`evaluate` is what ``experiments/evaluate_classifier.py`` prints: each weights file's
class and centroid-class accuracy on the chosen folds, computed on the features the weights'
provenance names (:meth:`FeatureConfig.from_provenance`), and for several files their ensemble
(the class with the highest mean softmax probability). :func:`class_posterior` is the pure
audio -> P(class) map used to judge style-transfer outputs (the paper's Figure 1).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from specst_jax import pretrained
from specst_jax.classifier import esc50, splits, steps
from specst_jax.classifier.features import FeatureConfig, feature_fn, load_dataset


def evaluate_one(weights, data_dir, folds: Sequence[int], cache_dir, batch_size: int,
                 probabilities: bool = False) -> tuple[dict, np.ndarray | None, np.ndarray]:
  """Metrics of one weights file on ``folds``, its class probabilities (when asked for,
  ``[clips, classes]``) and the targets ``[clips]``.

  Args:
    weights: a shipped name (:data:`specst_jax.pretrained.SHIPPED`), a ``.msgpack`` path,
      or None (the shipped ``unit_db``).
    data_dir: the ESC-50 root; only the clips of ``folds`` are loaded.
    cache_dir: the feature cache (None: the default).
  """
  module, params, prov = pretrained.load_wyse(weights)
  ds = load_dataset(data_dir, FeatureConfig.from_provenance(prov), cache_dir, folds=folds)
  x = splits.normalise(ds.features, prov.get("mean"), prov.get("std"))
  aux = esc50.centroid_classes(ds.centroids, prov["centroid_edges"])
  aux_weight = prov["config"].get("aux_weight", 1.0)
  eval_fn = jax.jit(lambda p, b: steps.eval_step(p, b, model=module, aux_weight=aux_weight))
  m = splits.evaluate(eval_fn, params, x, ds.targets, aux, batch_size)
  probs = predict_probabilities(module, params, x, batch_size) if probabilities else None
  metrics = {"folds": list(folds), "clips": int(len(ds.targets)), "accuracy": m["accuracy"],
             "aux_accuracy": m["aux_accuracy"] if module.n_aux_classes else None,
             "loss": m["loss"], "weights": str(weights or "unit_db"),
             "shipped_test_accuracy": prov.get("test_accuracy")}
  return metrics, probs, ds.targets


@functools.partial(jax.jit, static_argnames="model")
def _probabilities(params, x: jax.Array, *, model) -> jax.Array:
  return jax.nn.softmax(steps.predict_logits(params, x, model=model))


def predict_probabilities(module, params, x: np.ndarray, batch_size: int) -> np.ndarray:
  """Softmax class probabilities ``[clips, classes]`` of inputs ``x [clips, frames, channels]``
  (one compiled function per module and batch shape, reused across calls)."""
  return np.concatenate([np.asarray(_probabilities(params, x[i:i + batch_size], model=module))
                         for i in range(0, len(x), batch_size)])


def window_starts(frames: int, window: int, hop: int) -> list[int]:
  """First frames of the windows of ``window`` frames every ``hop`` frames that fit in ``frames``
  (the last window may end before the clip does)."""
  if hop < 1:
    raise ValueError(f"hop must be >= 1 frame, got {hop}")
  if not 0 < window <= frames:
    raise ValueError(f"window must be in [1, {frames}] (the clip's frames), got {window}")
  return list(range(0, frames - window + 1, hop))


def window_averaged_probabilities(module, params, x: np.ndarray, window: int, hop: int,
                                  batch_size: int) -> np.ndarray:
  """Test-time averaging over crops: the mean softmax ``[clips, classes]`` of every window of
  ``window`` frames, every ``hop`` frames, of ``x [clips, frames, channels]`` (Piczak 2015's
  probability voting). ``window = frames`` is :func:`predict_probabilities`."""
  starts = window_starts(x.shape[1], window, hop)
  return np.mean([predict_probabilities(module, params, x[:, s:s + window], batch_size)
                  for s in starts], axis=0)


def window_validation_accuracies(config, run, window_lengths: Sequence[int], hop: int) -> dict:
  """Validation accuracies of the finished run in folder ``run`` (its ``best.msgpack``) on its
  own validation split (``config``: its folds and seed, checked against the provenance): the
  recorded one, whole-clip scoring and :func:`window_averaged_probabilities` for each window
  length. The test clips are never scored."""
  module, params, prov = pretrained.load_wyse(Path(run) / "best.msgpack")
  if prov["config"]["train_folds"] != list(config.train_folds) or (
      prov["config"]["seed"] != config.seed):
    raise ValueError(f"{run}: trained on folds {prov['config']['train_folds']} with seed "
                     f"{prov['config']['seed']}, not the split asked for")
  x, y, _ = splits.prepare_splits(config, log=lambda s: None).arrays["val"]
  row = {"recorded": prov["val_accuracy"], "clips": int(len(y))}
  whole = predict_probabilities(module, params, x, config.eval_batch_size)
  row["whole"] = float(np.mean(whole.argmax(-1) == y))
  for w in window_lengths:
    p = window_averaged_probabilities(module, params, x, w, hop, config.eval_batch_size)
    row[f"window {w}"] = float(np.mean(p.argmax(-1) == y))
  return row


def evaluate_members(weights: Sequence, data_dir, folds, cache_dir, batch_size: int
                     ) -> tuple[list[dict], list[np.ndarray], np.ndarray]:
  """Each of ``weights``' metrics and class probabilities on ``folds``, and the targets
  (checked to be the same clips for all)."""
  runs = [evaluate_one(w, data_dir, folds, cache_dir, batch_size, probabilities=True)
          for w in weights]
  targets = runs[0][2]
  for w, (_, _, t) in zip(weights, runs, strict=True):
    if not np.array_equal(t, targets):
      raise ValueError(f"--weights {w}: its data has other clips or labels than {weights[0]}")
  return [m for m, _, _ in runs], [p for _, p, _ in runs], targets


def ensemble_accuracy(probs: Sequence[np.ndarray], targets: np.ndarray) -> float:
  """Accuracy of the class with the highest mean probability over the members."""
  return float(np.mean(np.mean(probs, axis=0).argmax(-1) == targets))


def evaluate(weights: Sequence | None, data_dir, folds, cache_dir, batch_size: int) -> dict:
  """Metrics of each of ``weights`` on ``folds`` and, for several, of their ensemble.

  Ensemble names (:data:`specst_jax.pretrained.ENSEMBLES`) stand for their members; no
  weights means the shipped ``unit_db``.
  """
  weights = pretrained.expand_ensembles(weights or [None])
  if len(weights) == 1:
    return evaluate_one(weights[0], data_dir, folds, cache_dir, batch_size)[0]
  metrics, probs, targets = evaluate_members(weights, data_dir, folds, cache_dir, batch_size)
  return {"folds": list(folds), "clips": int(len(targets)),
          "ensemble_accuracy": ensemble_accuracy(probs, targets), "models": metrics}


def class_posterior(params: Any, audio: ArrayLike, *, model: Any,
                    features_fn: Callable[[jax.Array], jax.Array], class_index: int,
                    mean: ArrayLike | None = None, std: ArrayLike | None = None) -> jax.Array:
  """Softmax probability of class ``class_index`` for each clip.

  Args:
    params: the classifier's ``params`` collection (``model.apply({"params": params}, x)``).
    audio: ``[batch, samples]`` at the classifier's sample rate and clip length.
    model: a module returning ``(logits [batch, classes], activations)``.
    features_fn: audio ``[batch, samples]`` -> features ``[batch, frames, channels]``
      (e.g. :func:`specst_jax.classifier.features.feature_fn` of the weights' feature config).
    class_index: the class, in ``[0, classes)``.
    mean, std: per-channel standardisation the weights were trained with (``None``: none).

  Returns:
    ``[batch]`` probabilities in [0, 1].
  """
  x = features_fn(jnp.asarray(audio, jnp.float32))
  if mean is not None:
    x = (x - jnp.asarray(mean, jnp.float32)) / jnp.asarray(std, jnp.float32)
  logits = model.apply({"params": params}, x, train=False)[0]
  if not 0 <= class_index < logits.shape[-1]:
    raise ValueError(f"class_index {class_index} outside [0, {logits.shape[-1]})")
  return jax.nn.softmax(logits, axis=-1)[..., class_index]


def posterior_fn(loaded: tuple[Any, Any, dict], class_name: str
                 ) -> tuple[Callable[[ArrayLike], jax.Array], FeatureConfig]:
  """Trained weights' jitted ``audio [batch, samples] -> P(class_name) [batch]``.

  Args:
    loaded: :func:`specst_jax.pretrained.load_wyse`'s ``(module, params, provenance)``.
    class_name: one of the provenance's ``classes`` (e.g. ``"rooster"``).

  Returns:
    ``(fn, feature_config)``: ``fn`` takes audio at ``feature_config.sr`` Hz, exactly
    ``feature_config.n_samples`` long, and applies the weights' own feature map and
    standardisation (:func:`class_posterior`).

  Raises:
    ValueError: ``class_name`` is not one of the weights' classes.
  """
  module, params, prov = loaded
  classes = list(prov["classes"])
  if class_name not in classes:
    raise ValueError(f"class {class_name!r} is not one of the weights' classes {classes}")
  cfg = FeatureConfig.from_provenance(prov)
  post = jax.jit(lambda p, y: class_posterior(
      p, y, model=module, features_fn=feature_fn(cfg), class_index=classes.index(class_name),
      mean=prov.get("mean"), std=prov.get("std")))
  return (lambda audio: post(params, audio)), cfg
