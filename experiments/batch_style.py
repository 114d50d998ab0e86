r"""Batch style transfer: thousands of content/style pairs over devices and hosts, resumable.

  python -m experiments.batch_style --manifest=pairs.csv --output_dir=DIR \
      [--config=experiments/configs/batch.py:tpu] [--net=wyse --n_iter=300 ...]
  # several hosts: the same command on each, with
  #   --coordinator_address=HOST0:PORT --num_processes=N --process_id=K   (or nothing on a TPU VM)
  python -m experiments.batch_style --manifest=pairs.csv --output_dir=DIR --merge_only

The manifest (CSV or JSONL): ``id,content,style`` (styles separated by ``;``) and optional
per-row settings columns (``net``, ``seed``, ``n_iter``, ...: the flags below). Writes
``DIR/items/<id>/{result.wav,metrics.json[,spectrograms.png]}`` and, on process 0 once all
processes are done, ``DIR/summary.json``, ``DIR/summary.csv``, ``DIR/errors.jsonl``. Each
``result.wav`` gets the listener's check (``specst_jax.listener``: its spectral convergence
against the optimised magnitude, edge clicks, clipping, DC, loudness, silence), kept under
``listener`` in the item's ``metrics.json`` and the summary's ``listener`` column; a failed check
logs one warning line naming the file (the item is still written). Restart
the same command to resume. Exit status: the number of failed (or missing) items, at most 100;
255 for a problem found before anything ran (one line on stderr).
"""

from __future__ import annotations

import os
import sys

from absl import app, flags
from ml_collections import config_flags

from specst_jax import audio, cli, files
from specst_jax.batch import job, manifest, processes, runner

_CONFIG = config_flags.DEFINE_config_file("config", "experiments/configs/batch.py",
                                          "batch configuration (see experiments/configs/batch.py)")
_MANIFEST = flags.DEFINE_string("manifest", None, "CSV or JSONL manifest of pairs")
_OUT = flags.DEFINE_string("output_dir", None, "the run's folder (restart to resume)")
_MERGE = flags.DEFINE_bool("merge_only", False, "only rebuild the summary from DIR/items")
_COORD = flags.DEFINE_string("coordinator_address", None, "host:port of process 0 (multi-host)")
_NPROC = flags.DEFINE_integer("num_processes", None, "processes (hosts) of the run")
_PID = flags.DEFINE_integer("process_id", None, "this process's index")
_AUTO = flags.DEFINE_bool("auto_distributed", True,
                          "without --coordinator_address, try jax.distributed.initialize() "
                          "(finds the hosts of a Cloud TPU VM slice by itself)")
_JOIN_TIMEOUT = flags.DEFINE_integer("join_timeout_s", 300, "seconds to wait for the other "
                                     "processes to join (multi-host)")
_SINGLE = flags.DEFINE_bool("single_host", False, "run this host alone on purpose: never try "
                            "jax.distributed (a failed join is otherwise an error)")
_REFUSE_CROP = flags.DEFINE_bool("refuse_crop", False, "fail items whose content is longer "
                                 "than the largest bucket instead of cropping them (every crop "
                                 "is logged and in summary.csv's content_fit either way)")
_BATCH = flags.DEFINE_integer("batch_size", None, "pairs per call (config.batch_size)")
_FIGURES = flags.DEFINE_bool("figures", None, "write spectrograms.png (config.figures)")
# The settings flags of experiments.style_transfer (unset: the config's style, then the net's
# defaults); both tools map them to settings with transfer.Settings.for_net.
_STYLE = {k: define(k, None, *rest) for k, (define, *rest) in dict(
    net=(flags.DEFINE_string, "network: ulyanov, wyse or vgg19"),
    weights=(flags.DEFINE_string, "wyse / vgg19 weights: a shipped name, a file or 'random'"),
    seed=(flags.DEFINE_integer, "PRNG seed of rows without a seed column (default 0)"),
    optimizer=(flags.DEFINE_enum, ["lbfgs", "adam"], "optimiser"),
    n_iter=(flags.DEFINE_integer, "optimiser iterations"),
    learning_rate=(flags.DEFINE_float, "Adam step size"),
    init=(flags.DEFINE_enum, ["noise", "content", "mix"], "initialisation"),
    noise=(flags.DEFINE_float, "r of init=mix"),
    sr=(flags.DEFINE_integer, "sample rate of the run (inputs are resampled)"),
    n_fft=(flags.DEFINE_integer, "FFT size"), hop_length=(flags.DEFINE_integer, "STFT hop"),
    content_weight=(flags.DEFINE_float, "content loss weight"),
    style_weight=(flags.DEFINE_float, "style loss weight"),
    filters=(flags.DEFINE_integer, "ulyanov only: filters"),
    phase_method=(flags.DEFINE_string, "phase reconstruction method"),
    phase_iter=(flags.DEFINE_integer, "phase reconstruction iterations")).items()}


def main(argv) -> int:
  cli.quiet()  # no XLA TPU-probe line; AudioWarnings as one line each
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}")
  from specst_jax.batch import engine  # imports JAX's engine only after flag parsing
  c = _CONFIG.value
  try:
    if not _MANIFEST.value or not _OUT.value:
      raise ValueError("--manifest and --output_dir are required")
    if _MERGE.value:
      outcome = job.merge_only(_MANIFEST.value, _OUT.value, engine.OVERRIDES)
      print(f"batch_style: {outcome.summary['n_ok']} ok of {outcome.summary['n_items']}",
            file=sys.stderr)
      return _report(outcome)
    processes.compilation_cache(os.path.expanduser(c.compilation_cache_dir))
    info = processes.initialize(coordinator_address=_COORD.value, num_processes=_NPROC.value,
                                process_id=_PID.value,
                                auto=_AUTO.value and not _SINGLE.value,
                                timeout_s=_JOIN_TIMEOUT.value)
    base = {**c.style.to_dict(), **{k: f.value for k, f in _STYLE.items() if f.value is not None}}
    seed = int(base.pop("seed", 0))
    transfer = engine.StyleEngine()  # this process's local devices
    cfg = runner.RunConfig(
        _OUT.value, batch_size=_BATCH.value or c.batch_size,
        bucket_seconds=tuple(c.bucket_seconds), min_seconds=c.min_seconds, seed=seed,
        n_devices=len(transfer.devices), loader_threads=c.loader_threads,
        refuse_crop=_REFUSE_CROP.value)
    figures = c.figures if _FIGURES.value is None else _FIGURES.value
    outcome = job.run_job(_MANIFEST.value, transfer, cfg, overrides=engine.OVERRIDES,
                          base=base, info=info, barrier_timeout_s=c.barrier_timeout_s,
                          figure=engine.figure if figures else None)
  except (manifest.ManifestError, files.OutputError, audio.AudioError, ValueError,
          processes.DistributedError) as e:
    print(f"batch_style: error: {e}", file=sys.stderr)
    return 255
  return _report(outcome)


def _report(outcome: job.Outcome) -> int:
  if outcome.summary is not None and outcome.exit_status:
    print(f"batch_style: {outcome.summary['n_failed']} item(s) failed, "
          f"{outcome.summary['n_missing']} missing (see errors.jsonl)", file=sys.stderr)
  return outcome.exit_status


def console() -> None:
  """The installed command's entry point (setup.cfg ``console_scripts``)."""
  cli.console(lambda argv: sys.exit(main(argv)), __name__)


if __name__ == "__main__":
  console()
