"""Ships a cross-validated classifier run as weights inside the package.

  python -m experiments.ship_classifier \
      --workdir=experiments/results/single_net/log_mel_deltas \
      --name=wyse_esc50_single_log_mel_deltas

Copies the selected epoch of ``workdir/fold5_seedS`` (trained on folds 1-4, its epoch chosen on
validation, scored once on fold 5) to ``--weights_dir/NAME.msgpack``, unchanged, with its
provenance ``NAME.json``: the run's ``best.json``, the fold-5 test accuracy of its score file and
the 5-fold cross-validation of its recipe (``workdir/crossval.json``: every fold's accuracy,
the selection rule, the git commit; ``shipped``: this step's commit, command, machine and
``data_sha256`` of the files it read; see ``crossval.shipped_provenance``). The pair is written
as a set, and only when every fold is finished and reported. Then add ``NAME`` to
``specst_jax.pretrained.SHIPPED`` and the shipped-file tests.
"""

import sys
from pathlib import Path

from absl import app, flags

from specst_jax import cli, files
from specst_jax.classifier import crossval

_WORKDIR = flags.DEFINE_string("workdir", None, "crossval_classifier work directory.",
                               required=True)
_NAME = flags.DEFINE_string("name", None, "File stem of the shipped weights.", required=True)
_SEED = flags.DEFINE_integer("seed", 0, "Which seed's fold-5 run to ship.")
_WEIGHTS_DIR = flags.DEFINE_string("weights_dir", "specst_jax/weights",
                                   "Folder of the shipped weights.")


def main(argv):
  cli.quiet()
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  run = crossval.run_dir(_WORKDIR.value, 5, _SEED.value)
  try:
    provenance = crossval.shipped_provenance(_WORKDIR.value, _SEED.value)
    weights = (run / "best.msgpack").read_bytes()
    with files.output_set(_WEIGHTS_DIR.value, inputs=[run / "best.msgpack"]) as tmp:
      files.write_bytes(tmp / f"{_NAME.value}.msgpack", weights)
      files.write_json(tmp / f"{_NAME.value}.json", provenance)
  except (OSError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  mean, sd = provenance["crossval"]["accuracy"]
  print(f"{Path(_WEIGHTS_DIR.value) / _NAME.value}.msgpack: fold 5 "
        f"{100 * provenance['test_accuracy']:.2f} %, 5-fold {100 * mean:.2f} +- {100 * sd:.2f} %")


if __name__ == "__main__":
  app.run(main)
