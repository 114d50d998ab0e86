r"""The checks for an accelerator machine, from a clone of the repository: one command, ~10 min.

  python -m experiments.device_check --output_dir=out/device_check                # a CUDA GPU
  python -m experiments.device_check --output_dir=out/device_check --backend=tpu
  python -m experiments.device_check --output_dir=out/dc --backend=cpu --quick    # a dry run

Install first (README.md, "On a GPU or a TPU VM"): ``pip install -e ".[cuda12,bench]" pytest
pytest-xdist`` (``.[tpu,bench]`` on a TPU VM); PyTorch, when installed, adds bench_style's
PyTorch twin. Nothing is needed from elsewhere: without ``--data_dir``'s recordings bench_style
uses built-in signals and bench_phase (real recordings only) is skipped.

Steps (:mod:`specst_jax.device_check`), each a child process, one at a time, under its own time
limit (its share of what is left of ``--budget_s``):

  1. backend: ``jax.default_backend()`` and ``jax.devices()`` must be ``--backend``: a JAX that
     fell back to the CPU stops the check here with one line saying how to install its
     accelerator build, and nothing else runs;
  2. packages: which optional packages import (the TF / PyTorch twins, librosa, pytest);
  3. bench_batch: the batch engine's phase stage sharded over all local devices (small);
  4. tests: the accelerator-relevant tests (lowering, style, phase, the batch engine), one
     pytest process, the CPU not forced;
  5. bench_spectral; 6. bench_phase (real recordings only: skipped without them);
  7. bench_style at its full size (10 s, 4096 filters; one kernel seed) with the implementations
     whose packages import (TensorFlow / PyTorch twins where they import; ours always).

``--quick`` gives every step its small sizes (bench_style ``--seconds=3 --filters=1024``, ...).
Every child runs with ``XLA_PYTHON_CLIENT_PREALLOCATE=false``. Writes into ``--output_dir``:
``device_check.json`` (``backend``, ``devices``, ``ok``, ``steps``: name, command, rc, seconds,
limit_s, log, skipped; ``figures``: the headline numbers of each benchmark's JSON;
``provenance``), one ``STEP.log`` per step, the benchmarks' JSONs and ``loss_vs_time.png``.
Exit status 0 only when every step that ran passed and none was skipped for a missing package
or the budget.
"""

from __future__ import annotations

import sys

from absl import app, flags

from specst_jax import cli, device_check, files

_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Folder for device_check.json, one log "
                                  "per step and the benchmarks' JSONs (required).")
_BACKEND = flags.DEFINE_enum("backend", "gpu", ["gpu", "tpu", "cpu"],
                             "The JAX backend the machine must use (cpu: a dry run, with --quick).")
_BUDGET = flags.DEFINE_float("budget_s", 570.0, "Seconds for all steps together (a lent "
                             "machine's command may last 600 s; steps share what is left).")
_QUICK = flags.DEFINE_bool("quick", False, "Small sizes for every step (a dry run of the check).")
_DATA_DIR = flags.DEFINE_string("data_dir", "../shared/data", "The shared data folder: "
                                "bench_style's clips (else built-in signals) and bench_phase's "
                                "(else it is skipped).")


def main(argv):
  cli.quiet()  # no XLA TPU-probe line; AudioWarnings as one line each
  if len(argv) > 1:
    print(f"device_check: error: unexpected arguments {argv[1:]}", file=sys.stderr)
    return 1
  if not _OUTPUT_DIR.value:
    print("device_check: error: --output_dir is required", file=sys.stderr)
    return 1
  with cli.one_line_errors("device_check"):
    out = files.check_output_dir(_OUTPUT_DIR.value, names=[device_check.REPORT])
    return device_check.run(out, backend=_BACKEND.value, budget_s=_BUDGET.value,
                            quick=_QUICK.value, data_dir=_DATA_DIR.value)


if __name__ == "__main__":
  app.run(main)
