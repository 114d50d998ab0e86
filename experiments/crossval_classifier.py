"""Cross-validates the Wyse classifier on ESC-50: every test fold x seed, and each fold's ensemble.

  python -m experiments.crossval_classifier \
      --config=experiments/configs/paper.py:log_mel,study,hop512,aug,noaux,wide,srcval \
      --config.num_epochs=60 --seeds=0,1,2 --workdir=out/runs/cv_wide

For each test fold K (``--folds``, default 1-5) and seed S (``--seeds``) it trains on the other
four folds into ``workdir/foldK_seedS`` (resumed when interrupted, skipped when finished), then
scores each fold's selected epochs on fold K alone and as an ensemble
(:func:`specst_jax.classifier.crossval.crossvalidate`). Prints a markdown table and writes
``workdir/crossval.json``, which records the selection rule, recipe, config, seeds, folds and
git commit. Protocol: every choice is made on validation data of the training folds (whole
source recordings); a selection by test accuracy (e.g. ``--members=test_top:2``), a config
without ``srcval`` (unless ``--allow_clip_validation``) or a finished run of another recipe in
the work directory is an error naming the rule. ``--report_only`` scores finished runs only
(an unfinished one is an error that names it, raised before anything is trained or written),
e.g. the folds done so far of a cross-validation that is still training.
"""

import sys
from pathlib import Path

from absl import app, flags, logging
from ml_collections import config_flags

from specst_jax import cli, files
from specst_jax.classifier import crossval, esc50, train

_CONFIG = config_flags.DEFINE_config_file("config", None, "Training configuration file.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory of the runs and crossval.json.")
_FOLDS = flags.DEFINE_list("folds", ["1", "2", "3", "4", "5"], "Test folds (1-5).")
_SEEDS = flags.DEFINE_list("seeds", ["0"], "Seeds per fold; several make an ensemble.")
_EPOCH = flags.DEFINE_string("epoch", "val_accuracy",
                             "Which epoch of each run is scored (validation only).")
_MEMBERS = flags.DEFINE_string("members", "all",
                               "Ensemble members per fold: 'all' or 'val_top:N' (by validation).")
_ALLOW_CLIP_VAL = flags.DEFINE_bool(
    "allow_clip_validation", False,
    "Score a config whose validation clips share recordings with training (old runs).")
_REPORT_ONLY = flags.DEFINE_bool("report_only", False,
                                 "Report finished runs only: an unfinished one is an error, "
                                 "never trained (safe beside a running cross-validation).")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  cli.quiet()  # no XLA TPU-probe line; AudioWarnings as one line each
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  logging.set_verbosity(logging.INFO)
  command = train.default_command()  # this process's own command line
  try:
    files.check_output_dir(_WORKDIR.value)  # before any work: a file, unwritable, ...
    result = crossval.crossvalidate(
        _CONFIG.value, _WORKDIR.value, _FOLDS.value, _SEEDS.value, log=logging.info,
        command=command, members=_MEMBERS.value, epoch=_EPOCH.value,
        recipe=config_flags.get_config_filename(flags.FLAGS["config"]),
        allow_clip_validation=_ALLOW_CLIP_VAL.value, train_missing=not _REPORT_ONLY.value)
  except (esc50.DataError, ValueError) as e:  # OutputError is a ValueError
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  files.write_json(Path(_WORKDIR.value) / "crossval.json", result)
  print(crossval.table(result))


def console() -> None:
  """The installed command's entry point (setup.cfg ``console_scripts``)."""
  cli.console(main, __name__)


if __name__ == "__main__":
  console()
