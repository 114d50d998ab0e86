"""Test-time averaging over crops, judged on validation data only (never a test fold).

  python -m experiments.window_scoring \\
      --config=experiments/configs/representation_study.py:log_mel_deltas \\
      --workdir=experiments/results/representation_study/log_mel_deltas --seeds=0,1 \\
      --windows=64,96,128 --hop=16 [--output=window_scoring.json]

For each finished run ``workdir/foldK_seedS`` (its ``best.msgpack``: the epoch it selected), this
rebuilds the run's own validation split (whole source recordings of its training folds, its seed)
and prints the validation accuracy of whole-clip scoring (what the run recorded: a check) and of
the mean softmax over windows of each length every ``--hop`` frames
(:func:`specst_jax.classifier.evaluate.window_validation_accuracies`). The run's test clips
are never scored. A scoring rule chosen here is a choice on validation data, as the protocol
asks. The JSON's ``provenance`` (:func:`specst_jax.provenance.record`) hashes the ESC-50 CSV and
the clips of all five folds (:func:`specst_jax.classifier.crossval.data_files`).
"""

import sys

import numpy as np
from absl import app, flags
from ml_collections import config_flags

from specst_jax import cli, files, provenance
from specst_jax.classifier import crossval, evaluate

_CONFIG = config_flags.DEFINE_config_file("config", None, "The runs' recipe.")
_WORKDIR = flags.DEFINE_string("workdir", None, "crossval_classifier work directory.",
                               required=True)
_FOLDS = flags.DEFINE_list("folds", ["1", "2", "3", "4", "5"], "Test folds of the runs.")
_SEEDS = flags.DEFINE_list("seeds", ["0"], "Seeds of the runs.")
_WINDOWS = flags.DEFINE_list("windows", ["64", "96", "128"], "Window lengths (frames).")
_HOP = flags.DEFINE_integer("hop", 16, "Frames between window starts.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "ESC-50 root (default: the config's).")
_OUTPUT = flags.DEFINE_string("output", None, "Also write the table as JSON here.")


def main(argv):
  cli.quiet()
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  try:
    if _OUTPUT.value:
      files.check_output_file(_OUTPUT.value)
    config = _CONFIG.value
    if _DATA_DIR.value:
      config.data_dir = _DATA_DIR.value
    windows = [int(w) for w in _WINDOWS.value]
    rows = {}
    for fold in map(int, _FOLDS.value):
      for seed in map(int, _SEEDS.value):
        run = crossval.run_dir(_WORKDIR.value, fold, seed)
        row = evaluate.window_validation_accuracies(crossval.fold_config(config, fold, seed), run,
                                                     windows, _HOP.value)
        rows[f"fold{fold}_seed{seed}"] = row
        print(f"{run.name}: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                          for k, v in row.items()), flush=True)
  except (OSError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  keys = [k for k in next(iter(rows.values())) if k != "clips"]
  mean = {k: float(np.mean([r[k] for r in rows.values()])) for k in keys}
  print("| scoring | mean validation accuracy |\n|---|---|")
  for k in keys:
    print(f"| {k} | {100 * mean[k]:.2f} |")
  if _OUTPUT.value:
    record = provenance.record(data=crossval.data_files(config))
    files.write_json(_OUTPUT.value, {"workdir": _WORKDIR.value, "hop": _HOP.value, "runs": rows,
                                     "mean": mean, "split": "validation only",
                                     "provenance": record})


if __name__ == "__main__":
  flags.mark_flags_as_required(["config"])
  app.run(main)
