r"""The paper's Figure 1, reproduced and measured (``specst_jax.studies.figure1``).

  python -m experiments.figure1 --output_dir=out/figure1            # full run (see WORKSPACE.md)
  python -m experiments.figure1 --output_dir=/tmp/f1 --quick        # tiny, for tests

Four conditions of the paper's classifier net (trained / random weights x init content / noise)
plus Ulyanov's net and VGG-19, on speech/rooster pairs. Writes, as one set, to ``--output_dir``:
``content.wav``, ``style.wav``, one WAV per condition, ``figure1.png``, ``metrics.json`` and
``metrics.md`` (network-free measures, P(rooster), SC after phase; mean +- std over pairs x seeds).
"""

import sys

from absl import app, flags

from specst_jax import audio
from specst_jax.studies import figure1

_OUT = flags.DEFINE_string("output_dir", "out/figure1", "output folder")
_QUICK = flags.DEFINE_bool("quick", False, "tiny configuration for tests (1 pair, 1 seed, 1 s)")
FLAGS = dict(
    seeds=flags.DEFINE_integer("seeds", 2, "seeds per pair (init noise, random weights)"),
    pairs=flags.DEFINE_integer("pairs", 3, "content/style pairs (the paper's first)"),
    n_iter=flags.DEFINE_integer("n_iter", 100, "Adam iterations of the Wyse conditions "
                                "(paper 600-3000; 100 fits the 2-core CPU budget)"),
    learning_rate=flags.DEFINE_float("learning_rate", 0.01, "Adam step size of the Wyse "
                                     "conditions (the paper: 2.0, which destroys the content)"),
    noise=flags.DEFINE_float("noise", 0.7, "r of the noise conditions: r U(-1,1) + (1-r) content"),
    duration=flags.DEFINE_float("duration", 5.0, "clip length in seconds (crop / zero-pad)"),
    data_dir=flags.DEFINE_string("data_dir", "../shared/data", "shared data root; missing: "
                                 "built-in signals stand in"),
    weights=flags.DEFINE_string("weights", None, "trained Wyse weights .msgpack (default: "
                                "shipped); 'random': none (a and c use a random stand-in)"),
    vgg_weights=flags.DEFINE_string("vgg_weights", None, "VGG-19 ImageNet weights (default: "
                                    "random)"),
    vgg_iter=flags.DEFINE_integer("vgg_iter", 5, "L-BFGS iterations of the VGG-19 row"),
    extra_pairs=flags.DEFINE_integer("extra_pairs", 1, "pairs of the Ulyanov and VGG-19 rows "
                                     "(seed 0 only: they are the costly rows on this CPU)"),
    ulyanov_iter=flags.DEFINE_integer("ulyanov_iter", 60, "L-BFGS iterations of the Ulyanov row"),
    ulyanov_filters=flags.DEFINE_integer("ulyanov_filters", 1024, "filters of the Ulyanov net "
                                         "(Ulyanov's 4096: about 5 s per L-BFGS iteration here)"),
    phase_method=flags.DEFINE_string("phase_method", "rtpghi+fgla", "phase reconstruction method"),
    phase_iter=flags.DEFINE_integer("phase_iter", 100, "phase reconstruction GLA iterations"),
    conditions=flags.DEFINE_list("conditions", "a,b,c,d,ulyanov,vgg19", "conditions to run"))


def settings() -> dict:
  """The flags as the study's settings; ``--quick`` sets tiny defaults, explicit flags win."""
  s = dict(quick=_QUICK.value, **{k: f.value for k, f in FLAGS.items()})
  s["conditions"] = list(s["conditions"])
  if s["quick"]:
    s.update({k: v for k, v in figure1.QUICK.items() if not flags.FLAGS[k].present})
  return s


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}")
  try:
    metrics = figure1.run(settings(), _OUT.value)
  except (ValueError, audio.AudioError, FileNotFoundError, FloatingPointError) as e:
    print(f"figure1: error: {e}", file=sys.stderr)
    sys.exit(1)
  print(metrics["markdown"])
  print(f"figure1: wall time {metrics['wall_time_s']:.1f} s")


if __name__ == "__main__":
  app.run(main)
