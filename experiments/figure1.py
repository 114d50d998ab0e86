r"""The paper's Figure 1 as a study that can decide (``specst_jax.studies.figure1``).

  python -m experiments.figure1 --output_dir=out/figure1                      # config "ours"
  python -m experiments.figure1 --output_dir=out/f1_paper \
      --config=experiments/configs/figure1.py:paper                           # the paper's
  python -m experiments.figure1 --output_dir=/tmp/f1 --quick                  # tiny, for tests

Trained vs random weights of the paper's classifier (same input pipeline) x initial noise r,
on 12+ content/style pairs x seeds, all through the batched engine. Writes, as one set:
``metrics.md`` (every measure per condition with bootstrap intervals, the claims' verdicts),
``metrics.json``, ``figure1.png`` (the paper's layout, first pair), ``loss_curves.png``,
``audio/`` + ``img/`` (seed 0) and the listening page ``index.html``. Every clip written gets
the listener's check (``specst_jax.listener``), kept under ``listener`` in ``metrics.json``; a
failed one prints one warning line naming the file (the run goes on).
"""

from pathlib import Path

from absl import app, flags
from ml_collections import config_flags

from specst_jax import cli, files, listener
from specst_jax.studies import figure1

CONFIG = Path(__file__).resolve().parent / "configs" / "figure1.py"
_OUT = flags.DEFINE_string("output_dir", "out/figure1", "output folder")
_QUICK = flags.DEFINE_bool("quick", False, "the tests' tiny design (the config's 'quick' preset)")
_CONFIG = config_flags.DEFINE_config_file("config", str(CONFIG), "study configuration "
                                          "(presets: ours, paper, cpu, claims, quick)")


def config() -> figure1.Config:
  c = _CONFIG.value
  if _QUICK.value:
    import importlib.util
    spec = importlib.util.spec_from_file_location("figure1_config", CONFIG)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    quick = module.get_config("quick")
    for k in quick:  # explicit --config.KEY=... overrides still win
      name = f"config.{k}"
      if name in flags.FLAGS and flags.FLAGS[name].present:
        quick[k] = c[k]
    c = quick
  return figure1.config_from_dict(c.to_dict())


def main(argv):
  cli.quiet()  # no XLA TPU-probe line; AudioWarnings as one line each
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}")
  with cli.one_line_errors("figure1"):
    cfg = config()
    out = files.check_output_dir(_OUT.value)
    with files.output_set(out) as tmp:
      metrics = figure1.run(cfg, tmp)
  listener.warn_each(out, metrics["listener"])
  print(metrics["markdown"])
  print(f"figure1: wall time {metrics['wall_time_s']:.1f} s")


def console() -> None:
  """The installed command's entry point (setup.cfg ``console_scripts``)."""
  cli.console(main, __name__)


if __name__ == "__main__":
  console()
