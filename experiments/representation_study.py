"""The representation study: one fixed recipe, each input, 5-fold cross-validation x seeds.

  python -m experiments.representation_study \
      --workdir=experiments/results/representation_study \
      --representations=unit_db,log_mel,logfreq,mfcc,log_mel_deltas --seeds=0,1
  python -m experiments.representation_study \
      --workdir=experiments/results/representation_study \
      --representations=unit_db --centre=both --seeds=0,1 --report=centre
  # a report of finished runs only (never trains; an unfinished run is an error)
  python -m experiments.representation_study \
      --workdir=experiments/results/representation_study --folds=1,2,3 --seeds=0,1 \
      --report_only --report=folds123

The recipe is ``--config`` (default ``experiments/configs/representation_study.py``, fixed
before the study); rows differ only in the input. Each row is cross-validated in
``workdir/<row>/`` (resumable: finished runs are skipped, so rerunning the same command
continues an interrupted study) through :func:`specst_jax.classifier.study.run_study`. A run
is finished once its test fold is scored (``foldK_seedS/test_scores.npz``); the repository
keeps those small files of the study's work directory (see ``.gitignore``: not the weights or
checkpoints), so the study continues across machines and sessions. Writes
``workdir/<report>.json``, ``workdir/<report>.md`` (the tables; ``--report``, default
``study``) and ``workdir/curves_<row>.png``, and prints the tables. With ``--centre=both`` in the
study's workdir the uncentred rows are the study's own (same recipe: their runs are reused).
Runs unchanged on CPU, GPU or TPU (data parallel over local devices).
"""

import sys
from pathlib import Path

from absl import app, flags, logging
from ml_collections import config_flags

from specst_jax import cli, files
from specst_jax.classifier import esc50, study, train

_CONFIG = config_flags.DEFINE_config_file(
    "config", "experiments/configs/representation_study.py", "The study's recipe.",
    lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory of the rows, study.json, study.md.")
_REPS = flags.DEFINE_list("representations",
                          ["unit_db", "log_mel", "logfreq", "mfcc", "log_mel_deltas"],
                          "Inputs, one row each.")
_BASELINE = flags.DEFINE_string("baseline", "unit_db", "Row the others are compared against.")
_CENTRE = flags.DEFINE_enum("centre", "config", study.CENTRE_CHOICES,
                            "STFT centring: the recipe's, false, true, or both (each input "
                            "uncentred and centred, compared).")
_FOLDS = flags.DEFINE_list("folds", ["1", "2", "3", "4", "5"], "Test folds (1-5).")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1"], "Seeds per fold (paired across rows).")
_REPORT = flags.DEFINE_string("report", "study",
                              "Name of the report files in workdir (REPORT.json, REPORT.md), so "
                              "several studies can share rows (e.g. --centre=both).")
_REPORT_ONLY = flags.DEFINE_bool("report_only", False,
                                 "Report finished runs only: an unfinished one is an error, "
                                 "never trained (safe beside a running study).")
flags.mark_flags_as_required(["workdir"])


def main(argv):
  cli.quiet()  # no XLA TPU-probe line; AudioWarnings as one line each
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  logging.set_verbosity(logging.INFO)
  command = train.default_command()  # this process's own command line
  try:
    files.check_output_dir(_WORKDIR.value)  # before any work: a file, unwritable, ...
    rows, comparisons = study.plan(_CONFIG.value, _REPS.value, centre=_CENTRE.value,
                                   baseline=_BASELINE.value)
    result = study.run_study(rows, comparisons, _WORKDIR.value, _FOLDS.value, _SEEDS.value,
                             log=logging.info, command=command,
                             recipe=config_flags.get_config_filename(flags.FLAGS["config"]),
                             train_missing=not _REPORT_ONLY.value)
  except (esc50.DataError, ValueError) as e:  # OutputError is a ValueError
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  files.write_json(Path(_WORKDIR.value) / f"{_REPORT.value}.json", result)
  text = study.markdown(result)
  files.write_text(Path(_WORKDIR.value) / f"{_REPORT.value}.md", text)
  print(text)


if __name__ == "__main__":
  app.run(main)
