"""Trains the Wyse classifier on ESC-50 (resumes from the work directory's last checkpoint).

  python -m experiments.train_classifier --config=experiments/configs/paper.py \
      --workdir=out/runs/paper_unit_db

Writes ``metrics.jsonl``, ``curves.png``, ``checkpoints/`` and ``best.msgpack`` (+ ``.json``,
the epoch with the best validation accuracy) into the work directory
(:func:`specst_jax.classifier.train.train_and_evaluate`).
"""

import sys

from absl import app, flags, logging
from ml_collections import config_flags

from specst_jax import cli, files
from specst_jax.classifier import esc50, train

_CONFIG = config_flags.DEFINE_config_file("config", None, "Training configuration file.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints and metrics.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  cli.quiet()  # no XLA TPU-probe line; AudioWarnings as one line each
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  logging.set_verbosity(logging.INFO)
  command = train.default_command()  # this process's own command line
  try:
    files.check_output_dir(_WORKDIR.value)  # before any work: a file, unwritable, ...
    result = train.train_and_evaluate(_CONFIG.value, _WORKDIR.value, log=logging.info,
                                      command=command)
  except (esc50.DataError, files.OutputError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  best = result["meta"]["best"]
  if best:
    print(f"best epoch {best['epoch']}: val accuracy {best.get('val_accuracy', float('nan')):.4f}, "
          f"test accuracy {best.get('test_accuracy', float('nan')):.4f}")


def console() -> None:
  """The installed command's entry point (setup.cfg ``console_scripts``)."""
  cli.console(main, __name__)


if __name__ == "__main__":
  console()
