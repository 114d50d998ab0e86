r"""The channel-count claim of Wyse 2017 (end of section 2), tested with intervals.

  python -m experiments.channels --output_dir=out/channels                 # full design
  python -m experiments.channels --output_dir=/tmp/ch --quick              # tiny, for tests
  python -m experiments.channels --output_dir=out/ch --n_pairs=6 --seeds=1 --wyse_iter=60

Random-weight nets of the paper's classifier shape and Ulyanov's 1-D net at 256 ... 4096
first-layer channels, every pair x seed through the batched engine; writes ``channels.md``
(means with bootstrap intervals per C, slope and C_min - C_max verdicts), ``results.json``,
``style_distance_db.png``, ``modulation_distance_db.png``, ``loss_curves.png``, the audio and
spectrograms of seed 0 and the listening page ``index.html``, as one output set. Every clip
written gets the listener's check (``specst_jax.listener``), kept under ``listener`` in
``results.json``; a failed one prints one warning line naming the file (the run goes on). The
design is ``specst_jax.studies.channels.Config``; every flag left unset keeps its value there.
"""

import dataclasses

from absl import app, flags

from specst_jax import cli, files, listener
from specst_jax.studies import channels

_OUT = flags.DEFINE_string("output_dir", "out/channels", "output folder")
_QUICK = flags.DEFINE_bool("quick", False, "tiny design for tests (channels.QUICK)")
_CHANNELS = flags.DEFINE_list("channels", None, "first-layer channel counts (256,...,4096)")
_NETS = flags.DEFINE_list("nets", None, "nets: wyse, ulyanov (both)")
_INTS = {k: flags.DEFINE_integer(k, None, h) for k, h in dict(
    n_pairs="content/style pairs (12)", seeds="seeds per pair (3)",
    wyse_iter="Adam steps of the Wyse-shape net (600)",
    ulyanov_iter="L-BFGS iterations of the Ulyanov net (300)",
    phase_iter="phase reconstruction iterations (100)").items()}
_FLOATS = {k: flags.DEFINE_float(k, None, h) for k, h in dict(
    duration="clip length in s (5)", wyse_lr="Adam step size (0.01)",
    noise="r of the Wyse net's start r U(-1,1) + (1-r) content (0.2)").items()}
_STRS = {k: flags.DEFINE_string(k, None, h) for k, h in dict(
    data_dir="shared data root (../shared/data; missing: built-in signals)",
    classifier="second judge: shipped classifier name (log_mel_wide); '' for none",
    phase_method="phase reconstruction method (fgla)").items()}


def config() -> channels.Config:
  c = dict(channels.QUICK) if _QUICK.value else {}
  if _CHANNELS.value is not None:
    c["channels"] = tuple(int(v) for v in _CHANNELS.value)
  if _NETS.value is not None:
    c["nets"] = tuple(_NETS.value)
  for group in (_INTS, _FLOATS, _STRS):
    c.update({k: f.value for k, f in group.items() if f.value is not None})
  return channels.Config(**c)


def main(argv):
  cli.quiet()  # no XLA TPU-probe line; AudioWarnings as one line each
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}")
  with cli.one_line_errors("channels"):
    cfg = config()
    out = files.check_output_dir(_OUT.value)
    with files.output_set(out) as tmp:
      results = channels.run(cfg, tmp)
  listener.warn_each(out, results["listener"])
  print(channels.markdown(results))
  print(f"channels: {dataclasses.asdict(cfg)['channels']} wall time "
        f"{results['wall_time_s']:.1f} s -> {out}")


def console() -> None:
  """The installed command's entry point (setup.cfg ``console_scripts``)."""
  cli.console(main, __name__)


if __name__ == "__main__":
  console()
