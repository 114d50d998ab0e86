"""Channel-count claims study, its design and units: the config, the order of work, the items.

The study (``experiments/claims_study.py --study=channels``) tests the channel-count claim of
:mod:`specst_jax.studies.channels` as a pre-registered, resumable claims study, the way
:mod:`figure1_units` does Figure 1's. Its nets, pairs, measures and engine calls are the channel
study's; what this adds is a design with its own optimiser and convergence rule
(:class:`Config`), units and one small file per item.

A *unit* is (net, C, seed): every pair of it in one batched :func:`transfer.stylize_batch` call
(or in chunks of ``pairs_per_call``). Its condition key is ``<net>_c<C>`` and its items'
ids ``<net>_c<C>__s<seed>__p<pair:02d>`` (e.g. ``ulyanov_c1024__s0__p03``). Order
(:func:`units`), cheap units first: seed-major, then C ascending, then the nets in the design's
order; so a partial run holds every (net, C) of seed 0, the small ones first.

Files under the work directory are :mod:`figure1_units`' (``plan.json``, ``pairs.json``,
``items/<item id>.json``, ``items/audio/<item id>.flac`` for pairs 0 and 1 at seed 0,
``units.jsonl``, ``claims.json``), with the item record of :func:`item_record`.

Host side: JSON in and out; the engine runs in :mod:`~specst_jax.studies.channels_resume`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from specst_jax import phase
from specst_jax.studies import channels, convergence
from specst_jax.studies import figure1_units as fu
from specst_jax.studies.judge import MEASURES as JUDGE_MEASURES
from specst_jax.style import nets, transfer

ITEM_MEASURES = JUDGE_MEASURES + ("sc_db",)
ORDER = ("seed-major, cheap units first: seed 0 of every (net, C) with C ascending (at each C "
         "the nets in the design's order), then seed 1, ...")


@dataclasses.dataclass(frozen=True)
class Config(channels.Config):
  """The claims study's design: :class:`channels.Config`'s fields, and

  Attributes:
    name: the preset's name (``experiments/configs/channels.py``); not part of the design.
    optimizer: ``"lbfgs"`` or ``"adam"``, for both nets (``wyse_lr``: Adam's step size of the
      Wyse-shape net; L-BFGS ignores it).
    converge_rel: the convergence rule's threshold (:mod:`specst_jax.studies.convergence`): an
      item has converged when its best loss fell by less than this fraction over the last 20 %
      of its iterations.

  ``wyse_iter`` / ``ulyanov_iter`` are each net's iterations (L-BFGS: at most).
  """

  name: str = "claims"
  optimizer: str = "lbfgs"
  converge_rel: float = convergence.CONVERGE_REL

  def __post_init__(self):
    super().__post_init__()
    if self.optimizer not in transfer.OPTIMIZERS:
      raise ValueError(f"channels config: optimizer must be one of {transfer.OPTIMIZERS}, got "
                       f"{self.optimizer!r}")
    if not 0.0 < self.converge_rel < 1.0:
      raise ValueError(f"channels config: converge_rel must be in (0, 1), got "
                       f"{self.converge_rel}")
    if not self.duration > 0:
      raise ValueError(f"channels config: duration must be positive, got {self.duration}")
    if self.phase_method not in phase.METHODS:
      raise ValueError(f"channels config: phase_method must be one of {phase.METHODS}, got "
                       f"{self.phase_method!r}")

  def n_iter(self, net: str) -> int:
    """The iterations of ``net`` (``wyse_iter`` or ``ulyanov_iter``)."""
    return self.wyse_iter if net == "wyse" else self.ulyanov_iter


def config_from_dict(d) -> Config:
  """A :class:`Config` from a config file's fields (``ml_collections.ConfigDict.to_dict()``);
  a field it does not know (another study's config) is an error that says so."""
  d = dict(d)
  known = {f.name for f in dataclasses.fields(Config)}
  unknown = sorted(set(d) - known)
  if unknown:
    raise ValueError(f"channels config: unknown fields {unknown} (is --config the channel "
                     "study's, experiments/configs/channels.py?)")
  for k in ("channels", "nets"):
    if k in d:
      d[k] = tuple(d[k])
  if "channels" in d:
    d["channels"] = tuple(int(c) for c in d["channels"])
  return Config(**d)


def condition(net: str, n_channels: int) -> str:
  """The condition key of (net, C): ``"wyse_c256"``."""
  return f"{net}_c{int(n_channels)}"


def parse_condition(key: str) -> tuple[str, int]:
  """``"wyse_c256"`` -> ``("wyse", 256)``."""
  net, sep, c = key.rpartition("_c")
  if not sep or net not in channels.NETS or not c.isdigit():
    raise ValueError(f"not a channel-study condition: {key!r} (expected <net>_c<C>)")
  return net, int(c)


def units(cfg: Config) -> list[fu.Unit]:
  """Every unit of the design in the run's order (seed-major, C ascending, see above)."""
  return [fu.Unit(condition(net, c), seed, (seed,)) for seed in range(cfg.seeds)
          for c in sorted(cfg.channels) for net in cfg.nets]


def unit_settings(cfg: Config, net: str, n_channels: int, seed: int,
                  trained: nets.Weights | None) -> transfer.Settings:
  """The engine settings of a unit: the channel study's (:func:`channels.settings_for`) with
  the design's optimiser."""
  s = channels.settings_for(cfg, net, n_channels, seed, trained)
  return dataclasses.replace(s, optimizer=cfg.optimizer)


def item_record(*, unit: fu.Unit, pair: int, pair_name: str, measures: dict,
                curve: np.ndarray, n_done: int, n_evals: int, stop_reason: str,
                final_losses: dict, cfg: Config, listener_check: dict, audio: str | None,
                weights: str, provenance: dict) -> dict:
  """One item's file: what it is (net, C, seed, pair), its measures (:data:`ITEM_MEASURES`),
  its optimisation (:func:`figure1_units.optimisation_record`, with the net's iterations) and
  where it came from.

  Args:
    curve: the loss curve ``[n_iter]``; the first ``n_done`` entries are the steps it ran.
    listener_check: :func:`specst_jax.listener.check_audio` of the result as written.
    audio: the clip's name relative to the items folder, or None (not kept).
  """
  net, c = parse_condition(unit.condition)
  return {
      "id": unit.item_id(pair), "condition": unit.condition, "net": net, "channels": c,
      "seed": unit.seed, "seeds_covered": list(unit.seeds_covered), "pair": pair_name,
      "pair_index": pair, "measures": {m: fu.number(measures[m]) for m in ITEM_MEASURES},
      **fu.optimisation_record(curve=curve, n_done=n_done, n_evals=n_evals,
                               stop_reason=stop_reason, final_losses=final_losses,
                               n_iter=cfg.n_iter(net), optimizer=cfg.optimizer,
                               converge_rel=cfg.converge_rel),
      "listener": listener_check, "audio": audio, "weights": weights,
      "provenance": provenance}


def plan_record(cfg: Config, unit_list: list[fu.Unit], pair_names: list[str],
                trained_weights: str | None) -> dict:
  """``plan.json`` (:func:`figure1_units.plan_record` with this study's order);
  ``trained_weights``: whose input standardisation and STFT the Wyse-shape nets use."""
  return fu.plan_record(cfg, unit_list, pair_names, trained_weights, order=ORDER)
