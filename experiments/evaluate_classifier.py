"""Accuracy of trained Wyse-classifier weights on ESC-50 folds.

  python -m experiments.evaluate_classifier --fold=5
  python -m experiments.evaluate_classifier --fold=5 --weights=log_mel
  python -m experiments.evaluate_classifier --fold=5 --weights=A.msgpack --weights=B.msgpack
  python -m experiments.evaluate_classifier --fold=5 --weights=log_mel_wide_x4

Loads the shipped weights (``--weights``: ``unit_db``, the default, ``log_mel``,
``log_mel_wide``, ``log_mel_wide_s1``..``_s3``, see ``specst_jax.pretrained.SHIPPED``, the
shipped ensemble ``log_mel_wide_x4`` (its four members); or a ``.msgpack`` path),
computes the features the weights' provenance names (cached, see
``specst_jax.classifier.features``), and prints the class and centroid-class accuracy on the
chosen folds; ``--output`` also writes them as JSON. Both carry ``provenance``
(:func:`specst_jax.provenance.record`: commit, command, machine; ``data_sha256`` over the
ESC-50 CSV and the chosen folds' clips). Several ``--weights`` also report their
ensemble: the class with the highest mean softmax probability
(:func:`specst_jax.classifier.evaluate.evaluate`).
"""

import json
import sys

from absl import app, flags

from specst_jax import cli, files, provenance
from specst_jax.classifier import esc50, evaluate

_WEIGHTS = flags.DEFINE_multi_string(
    "weights", None, "Weights .msgpack, or a shipped file's name: unit_db (default), log_mel, "
    "log_mel_wide, log_mel_wide_s1..s3; repeat it for an ensemble, or name the shipped "
    "ensemble log_mel_wide_x4.")
_DATA_DIR = flags.DEFINE_string("data_dir", "../shared/data/esc50_16k", "ESC-50 root.")
_FOLD = flags.DEFINE_multi_integer("fold", [5], "Fold(s) to evaluate on (1-5).")
_CACHE_DIR = flags.DEFINE_string("cache_dir", None, "Feature cache (default ~/.cache/specst_jax).")
_BATCH = flags.DEFINE_integer("batch_size", 50, "Clips per evaluation batch.")
_OUTPUT = flags.DEFINE_string("output", None, "Optional JSON file for the metrics.")


def main(argv):
  cli.quiet()  # no XLA TPU-probe line; AudioWarnings as one line each
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  try:
    result = evaluate.evaluate(_WEIGHTS.value, _DATA_DIR.value, _FOLD.value, _CACHE_DIR.value,
                               _BATCH.value)
    result["provenance"] = provenance.record(data=esc50.data_files(_DATA_DIR.value, _FOLD.value))
  except (esc50.DataError, FileNotFoundError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  print(json.dumps(result, indent=2))
  if _OUTPUT.value:
    files.write_json(_OUTPUT.value, result)


def console() -> None:
  """The installed command's entry point (setup.cfg ``console_scripts``)."""
  cli.console(main, __name__)


if __name__ == "__main__":
  console()
