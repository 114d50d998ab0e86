"""Accuracy of trained Wyse-classifier weights on ESC-50 folds.

  python -m experiments.evaluate_classifier --fold=5
  python -m experiments.evaluate_classifier --fold=5 --weights=log_mel
  python -m experiments.evaluate_classifier --fold=5 --weights=A.msgpack --weights=B.msgpack
  python -m experiments.evaluate_classifier --fold=5 --weights=log_mel_wide_x4

Loads the shipped weights (``--weights``: ``unit_db``, the default, ``log_mel``,
``log_mel_wide``, ``log_mel_wide_s1``..``_s3``, see ``specst_jax.pretrained.SHIPPED``, the
shipped ensemble ``log_mel_wide_x4`` (its four members); or a ``.msgpack`` path),
computes the features the weights' provenance names (cached, see ``specst_jax.esc50``),
and prints the class and centroid-class accuracy on the chosen folds; ``--output`` also
writes them as JSON. Several ``--weights`` also report their ensemble: the class with the
highest mean softmax probability.
"""

import json
import sys

import jax
import numpy as np
from absl import app, flags

from specst_jax import esc50, files, pretrained, training

_WEIGHTS = flags.DEFINE_multi_string(
    "weights", None, "Weights .msgpack, or a shipped file's name: unit_db (default), log_mel, "
    "log_mel_wide, log_mel_wide_s1..s3; repeat it for an ensemble, or name the shipped "
    "ensemble log_mel_wide_x4.")
_DATA_DIR = flags.DEFINE_string("data_dir", "../shared/data/esc50_16k", "ESC-50 root.")
_FOLD = flags.DEFINE_multi_integer("fold", [5], "Fold(s) to evaluate on (1-5).")
_CACHE_DIR = flags.DEFINE_string("cache_dir", None, "Feature cache (default ~/.cache/specst_jax).")
_BATCH = flags.DEFINE_integer("batch_size", 50, "Clips per evaluation batch.")
_OUTPUT = flags.DEFINE_string("output", None, "Optional JSON file for the metrics.")


def evaluate_one(weights, data_dir, folds, cache_dir, batch_size, probabilities=False
                 ) -> tuple[dict, np.ndarray | None, np.ndarray]:
  """Metrics of one weights file on ``folds``, its class probabilities (when asked for,
  ``[clips, classes]``) and the targets."""
  module, params, prov = pretrained.load_wyse(weights)
  fcfg = esc50.FeatureConfig(**prov["config"]["features"])
  ds = esc50.load_dataset(data_dir, fcfg, cache_dir)
  idx = esc50.fold_indices(ds.clips, folds)
  x = training.normalise(ds.features[idx], prov.get("mean"), prov.get("std"))
  aux = esc50.centroid_classes(ds.centroids[idx], prov["centroid_edges"])
  aux_weight = prov["config"].get("aux_weight", 1.0)
  eval_fn = jax.jit(lambda p, b: training.eval_step(p, b, model=module, aux_weight=aux_weight))
  m = training.evaluate(eval_fn, params, x, ds.targets[idx], aux, batch_size)
  probs = None
  if probabilities:
    predict = jax.jit(lambda p, b: jax.nn.softmax(training.predict_logits(p, b, model=module)))
    probs = np.concatenate([np.asarray(predict(params, x[i:i + batch_size]))
                            for i in range(0, len(x), batch_size)])
  metrics = {"folds": list(folds), "clips": int(len(idx)), "accuracy": m["accuracy"],
             "aux_accuracy": m["aux_accuracy"] if module.n_aux_classes else None,
             "loss": m["loss"], "weights": str(weights or "unit_db"),
             "shipped_test_accuracy": prov.get("test_accuracy")}
  return metrics, probs, ds.targets[idx]


def evaluate_members(weights, data_dir, folds, cache_dir, batch_size
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


def ensemble_accuracy(probs, targets) -> float:
  """Accuracy of the class with the highest mean probability over the members."""
  return float(np.mean(np.mean(probs, axis=0).argmax(-1) == targets))


def evaluate(weights, data_dir, folds, cache_dir, batch_size) -> dict:
  """Metrics of each of ``weights`` on ``folds`` and, for several, of their ensemble."""
  weights = pretrained.expand_ensembles(weights or [None])
  if len(weights) == 1:
    return evaluate_one(weights[0], data_dir, folds, cache_dir, batch_size)[0]
  metrics, probs, targets = evaluate_members(weights, data_dir, folds, cache_dir, batch_size)
  return {"folds": list(folds), "clips": int(len(targets)),
          "ensemble_accuracy": ensemble_accuracy(probs, targets), "models": metrics}


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  try:
    result = evaluate(_WEIGHTS.value, _DATA_DIR.value, _FOLD.value, _CACHE_DIR.value, _BATCH.value)
  except (esc50.DataError, FileNotFoundError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  print(json.dumps(result, indent=2))
  if _OUTPUT.value:
    files.write_json(_OUTPUT.value, result)


if __name__ == "__main__":
  app.run(main)
