r"""The paper's claims decided in resumable units, each finished item kept as a small file.

  python -m experiments.claims_study --study=figure1 \
      --config=experiments/configs/figure1.py:claims --workdir=experiments/results/figure1 \
      [--max_minutes=50] [--report_only]
  python -m experiments.claims_study --study=channels \
      --config=experiments/configs/channels.py:claims --workdir=experiments/results/channels \
      [--max_minutes=50] [--pairs_per_call=1] [--report_only]

``--study=figure1`` (the paper's Figure 1) is described below. ``--study=channels`` (the
channel-count claim, end of the paper's section 2: random nets of the Wyse shape and Ulyanov's
with C first-layer channels, C 256 ... 4096; the family and statistics in
``specst_jax.studies.channels_claims``) works the same way: its config is
``specst_jax.studies.channels_units.Config`` (default ``experiments/configs/channels.py:claims``,
the pre-registered design; ``--config.X`` overrides need ``--config`` given), its units are
(net, C, seed) with items ``<net>_c<C>__s<seed>__p<pair>``, cheap units first (seed-major, C
ascending), and it writes the same files but no figure or page.

Design knobs (the config, ``specst_jax.studies.figure1.Config``; the ``claims`` preset is the
pre-registered design): ``n_pairs`` (+ ``paper_pair``), ``seeds``, ``noise_levels``,
``duration``, ``optimizer`` ("adam" or "lbfgs"), ``n_iter``, ``learning_rate``, ``phase_method``
/ ``phase_iter``, the judge ``classifier``, and ``converge_rel`` (the convergence rule: an item
has converged when its best loss fell by less than this fraction over the last 20 % of its
steps). A work directory holds one design: another one there is refused.

A unit is (condition, seed): every pair of it in one batched engine call. Units run seed-major
(seed 0 of every condition first; the deterministic trained r = 0 condition once, its items
standing for every seed). A unit whose item files all exist is skipped, so rerunning the
command resumes; with ``--max_minutes`` no unit starts after that many minutes (the one in
progress finishes). ``--report_only`` reads the files and never builds a network or trains.

Outputs in ``--workdir``: ``plan.json`` (design, unit order), ``pairs.json`` (pairs, data
hashes, references), ``items/<condition>__s<seed>__p<pair>.json`` (each item's measures, loss,
subsampled loss curve, convergence verdict, listener check, provenance),
``items/audio/*.flac`` (pairs 0 and 1 at seed 0), ``units.jsonl`` (one line per finished
unit: seconds, cores, CPU seconds, load average), ``claims.json`` (design, convergence per
condition, each claim's mean, 95 % t interval, Holm-adjusted p and verdict, provenance with
CPU hours), and from the kept audio ``figure1.png`` (the paper's four panels for its own pair,
as written) and ``index.html`` (the listening page; :mod:`specst_jax.studies.figure1_page`), all
rewritten at the end of every run.
"""

from pathlib import Path

from absl import app, flags
from ml_collections import config_flags

from specst_jax import cli, files
from specst_jax.studies import (
  channels_claims,
  channels_resume,
  channels_units,
  figure1_claims,
  figure1_design,
  figure1_page,
  figure1_resume,
)

CONFIGS = Path(__file__).resolve().parent / "configs"
CONFIG = CONFIGS / "figure1.py"
_STUDY = flags.DEFINE_enum("study", "figure1", ["figure1", "channels"], "which study "
                           "(figure1: the paper's Figure 1 claims; channels: the channel-count "
                           "claim)")
_CONFIG = config_flags.DEFINE_config_file("config", f"{CONFIG}:claims",
                                          "the study's design (default: the study's claims "
                                          "preset, figure1.py:claims or channels.py:claims)")
_WORKDIR = flags.DEFINE_string("workdir", None, "work directory: plan, pairs, items, units "
                               "log, claims.json (default: experiments/results/<study>)")
_MAX_MINUTES = flags.DEFINE_float("max_minutes", None, "start no unit after this many minutes "
                                  "(default: no limit; 0 starts none)")
_PAIRS_PER_CALL = flags.DEFINE_integer("pairs_per_call", None, "run each unit in chunks of this "
                                       "many pairs, each chunk's items written when it ends "
                                       "(default: a unit's pairs in one call)")
_REPORT_ONLY = flags.DEFINE_bool("report_only", False, "only write claims.json from the item "
                                 "files (never trains)")


def main(argv):
  cli.quiet()
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}")
  if _REPORT_ONLY.value and _MAX_MINUTES.value is not None:
    raise app.UsageError("--max_minutes has no use with --report_only (nothing runs)")
  channels = _STUDY.value == "channels"
  with cli.one_line_errors("claims_study"):
    cfg = _channels_config() if channels else figure1_design.config_from_dict(
        _CONFIG.value.to_dict())
    workdir = files.check_output_dir(_WORKDIR.value or f"experiments/results/{_STUDY.value}")
    if not _REPORT_ONLY.value:
      resume = channels_resume if channels else figure1_resume
      done = resume.run(cfg, workdir, max_minutes=_MAX_MINUTES.value,
                        pairs_per_call=_PAIRS_PER_CALL.value)
      print(f"claims_study ({_STUDY.value}): {done['ran']} unit(s) run, {done['done_before']} "
            f"done before, {done['not_started']} not started, of {done['units']}; "
            f"{done['seconds']:.0f} s")
    rep = (channels_claims if channels else figure1_claims).report(workdir, cfg=cfg)
    shown = None if channels else figure1_page.page(workdir, cfg)
  items = rep["items"]
  print(f"claims_study ({_STUDY.value}): {items['found']}/{items['expected']} items, "
        f"complete: {rep['complete']}, {rep['provenance']['cpu_hours']:.2f} CPU hours; "
        f"{workdir / 'claims.json'}")
  if shown is not None:
    print(f"claims_study ({_STUDY.value}): the figure and page: {workdir / figure1_page.FIGURE}, "
          f"{shown}")
  for c in rep["claims"]:
    print(f"  {c['verdict']:>12}  {c['claim']}: mean {_g(c['mean'])}, 95 % "
          f"[{_g(c['ci95'][0])}, {_g(c['ci95'][1])}], p_adjusted {_g(c['p_adjusted'])}")


def _channels_config() -> channels_units.Config:
  """The channel study's design: ``--config`` when given, else ``channels.py:claims``."""
  if flags.FLAGS["config"].present:
    return channels_units.config_from_dict(_CONFIG.value.to_dict())
  if flags.FLAGS["config"].override_values:
    raise app.UsageError("--config.* overrides of the channel study need its config given: "
                         "--config=experiments/configs/channels.py:claims")
  from experiments.configs import channels as channels_configs
  return channels_units.config_from_dict(channels_configs.get_config("claims").to_dict())


def _g(x) -> str:
  return "n/a" if x is None else f"{x:.3g}"


def console() -> None:
  """The installed command's entry point (setup.cfg ``console_scripts``)."""
  cli.console(main, __name__)


if __name__ == "__main__":
  console()
