"""Channel-count claims study, its report: ``claims.json`` from the item files alone.

Reads the work directory's ``plan.json``, ``pairs.json``, ``items/*.json`` and ``units.jsonl``
(:mod:`channels_units`); never builds a network or trains. The pre-registered family
(:func:`family`), for each net (Wyse shape, Ulyanov), with the sign each claim predicts:

* (a) more first-layer channels bring the long-timescale style closer: the per-pair slope of
  ``modulation_distance_db`` against log2 C is negative;
* (b) more first-layer channels bring the style closer: the per-pair slope of
  ``style_distance_db`` against log2 C is negative.

Statistics (:mod:`stats`), as :mod:`figure1_claims`: the unit is the pair (seeds averaged within
a pair at each C first, then one least-squares slope per pair over the C values, in units of the
measure per doubling of C); a two-sided one-sample t test on the per-pair slopes and its 95 % t
interval; Holm's adjustment over the whole family; the verdict follows mechanically
(:func:`stats.decide`, alpha 0.05). A claim any of whose items is missing is ``undecided``
(``items_missing`` > 0).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from specst_jax.studies import channels_units as cu
from specst_jax.studies import figure1_units as fu
from specst_jax.studies import stats
from specst_jax.studies.figure1_claims import (
  claims_provenance,
  convergence_by_condition,
  decide_family,
  write_claims,
)

SLOPE = "per-pair slope against log2 C (per doubling of C)"


@dataclasses.dataclass(frozen=True)
class Claim:
  """One pre-registered claim: on ``net``, the per-pair slope of ``quantity`` (a measure)
  against log2 C has the sign ``predicted_sign``."""

  claim: str
  net: str
  quantity: str
  predicted_sign: int

  @property
  def measure(self) -> str:
    return f"{self.quantity}: {SLOPE}"


def family(net_names) -> list[Claim]:
  """The family, in the module docstring's order: (a) for each net, then (b) for each net."""
  out = [Claim(f"more channels bring the long-timescale style closer ({n})", n,
               "modulation_distance_db", -1) for n in net_names]
  out += [Claim(f"more channels bring the style closer ({n})", n, "style_distance_db", -1)
          for n in net_names]
  return out


def pair_matrix(items: dict[str, dict], net: str, channel_counts, names: list[str],
                measure: str) -> np.ndarray:
  """``[len(names), len(channel_counts)]``: ``measure`` of ``net`` per pair and C, seeds
  averaged (finite values only; NaN where a pair has none at that C)."""
  values: dict = {}
  for record in items.values():
    if record["net"] == net:
      v = record["measures"].get(measure)
      key = (record["pair"], record["channels"])
      values.setdefault(key, []).append(np.nan if v is None else float(v))
  out = np.full((len(names), len(channel_counts)), np.nan)
  for i, p in enumerate(names):
    for j, c in enumerate(channel_counts):
      v = np.asarray(values.get((p, int(c)), []), np.float64)
      v = v[np.isfinite(v)]
      if v.size:
        out[i, j] = v.mean()
  return out


def _claim_entry(c: Claim, items: dict, names: list[str], channel_counts: list[int],
                 missing: dict[str, int]) -> dict:
  m = pair_matrix(items, c.net, channel_counts, names, c.quantity)
  slopes = stats.slopes(np.log2(np.asarray(channel_counts, np.float64)), m)
  t = stats.t_test(slopes)
  keys = [cu.condition(c.net, n) for n in channel_counts]
  per_c = []
  for j, n in enumerate(channel_counts):
    v = m[np.isfinite(m[:, j]), j]
    per_c.append(dict(channels=n, mean=float(v.mean()) if v.size else None, n_pairs=int(v.size)))
  return dict(claim=c.claim, measure=c.measure, net=c.net, mean=t.mean, ci95=[t.low, t.high],
              p=t.p, t=t.t, df=t.df, n_pairs=t.n, predicted_sign=c.predicted_sign,
              conditions=keys, items_missing=sum(missing.get(k, 0) for k in keys),
              slopes=dict(zip(names, (float(v) for v in slopes), strict=True)),
              per_channels=per_c)


def _design(design: dict, names: list[str], plan: dict) -> dict:
  return {"pairs": names, "seeds": design["seeds"], "channels": design["channels"],
          "nets": design["nets"], "duration_s": design["duration"], "sr": design["sr"],
          "optimizer": design["optimizer"],
          "steps": {n: design[f"{n}_iter"] for n in design["nets"]},
          "wyse_learning_rate": design["wyse_lr"], "wyse_init": design["init"],
          "wyse_noise": design["noise"], "converge_rel": design["converge_rel"],
          "phase_method": design["phase_method"], "phase_iter": design["phase_iter"],
          "judge": design["classifier"], "trained_weights": plan["trained_weights"],
          "unit_order": plan["order"]}


def report(workdir: str | Path, *, cfg: cu.Config | None = None,
           argv: list[str] | None = None) -> dict:
  """Writes ``claims.json`` in ``workdir`` from its files (see the module docstring).

  Args:
    cfg: when given, it must be the work directory's design (else ValueError).
    argv: the command, for the provenance.

  Returns:
    the report as written (JSON-ready: NaN as None).
  """
  workdir = Path(workdir)
  if cfg is not None:
    fu.check_same_design(workdir, cfg)
  plan = fu.read_json(workdir, fu.PLAN)
  design = plan["design"]
  if "channels" not in design or "nets" not in design:
    raise ValueError(f"{workdir / fu.PLAN}: not a channel-count study's plan (another study's "
                     "work directory?)")
  names = [p["name"] for p in fu.read_json(workdir, fu.PAIRS)["pairs"]]
  units = fu.plan_units(plan)
  items = fu.read_items(workdir)
  wanted = [u.item_id(p) for u in units for p in range(len(names))]
  absent = [i for i in wanted if i not in items]
  missing: dict[str, int] = {}
  for i in absent:
    cond = i.split("__")[0]
    missing[cond] = missing.get(cond, 0) + 1
  kept = {i: items[i] for i in wanted if i in items}
  counts = sorted(int(c) for c in design["channels"])
  claims = decide_family([_claim_entry(c, kept, names, counts, missing)
                          for c in family(design["nets"])])
  converged, convergence_counts = convergence_by_condition(units, names, items)
  found = {kept[i]["provenance"].get("commit") for i in kept}
  out = {
      "design": _design(design, names, plan),
      "converged": converged,
      "claims": claims,
      "provenance": claims_provenance(workdir, argv, found),
      "complete": not absent,
      "items": {"found": len(wanted) - len(absent), "expected": len(wanted), "missing": absent},
      "convergence_counts": convergence_counts,
      "statistics": ("pair as the unit (seeds averaged within a pair at each C); one "
                     "least-squares slope per pair of the measure against log2 C; two-sided "
                     "one-sample t test and 95 % t interval of the per-pair slopes; Holm over "
                     f"the {len(claims)} claims; supported / contradicted: p_adjusted < "
                     f"{stats.ALPHA} with the predicted / other sign of the mean; a claim with "
                     "missing items is undecided"),
  }
  return write_claims(workdir, out)
