"""Figure 1 claims study, its report: ``claims.json`` from the item files alone.

Reads the work directory's ``plan.json``, ``pairs.json``, ``items/*.json`` and ``units.jsonl``
(:mod:`figure1_units`); never builds a network or trains. The pre-registered family
(:func:`family`), with the sign each claim predicts:

* (a) trained > random weights for style, at each r: ``style_distance_db`` trained - random < 0;
* (b) trained > random weights for content, at each r: ``content_correlation`` trained - random
  > 0;
* (c) noise hurts style more than content, trained and random weights, r = 0 vs the largest r:
  (style-progress drop) - (content-correlation drop) > 0;
* (d) random weights hurt style more than content, at each r: the same form, trained vs random.

Statistics (:mod:`stats`): the unit is the pair (seeds averaged within a pair first); a
two-sided one-sample t test on the per-pair differences and its 95 % t interval; Holm's
adjustment over the whole family; the verdict follows mechanically (:func:`stats.decide`,
alpha 0.05). A claim any of whose items is missing is ``undecided`` (``items_missing`` > 0).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from specst_jax import files, provenance
from specst_jax.studies import figure1_report, stats
from specst_jax.studies import figure1_units as fu
from specst_jax.studies.figure1_design import Config

SUFFER = "style-progress drop - content-corr drop"
CPU_HOURS_HOW = ("sum over units.jsonl of each finished unit's wall seconds (pairs' engine "
                 "call, phase, scoring, writing) x the cores its process could use (its CPU "
                 "affinity), / 3600: an upper bound; cpu_hours_measured sums the processes' "
                 "own CPU time (time.process_time, all threads) over the same units")


@dataclasses.dataclass(frozen=True)
class Claim:
  """One pre-registered claim: condition ``a`` against ``b`` on ``quantity`` (a measure, or
  :data:`SUFFER`'s style-minus-content drop), with the sign of A - B it predicts."""

  claim: str
  measure: str
  a: str
  b: str
  quantity: str
  predicted_sign: int

  def differences(self, rows: dict, pair_names: list[str]) -> np.ndarray:
    """Per pair (seeds averaged), ``[len(pair_names)]``; NaN where a pair has no values."""
    if self.quantity == SUFFER:
      return figure1_report.suffer_differences(rows, self.a, self.b, pair_names)
    return figure1_report.pair_differences(rows, self.a, self.b, self.quantity, pair_names)


def family(noise_levels) -> list[Claim]:
  """The Figure 1 family, in the module docstring's order (a), (b), (c), (d)."""
  levels = [float(r) for r in noise_levels]
  out = []
  for r in levels:
    out.append(Claim(f"trained > random weights for style (r={r:g})",
                     "style_distance_db: trained - random", f"trained_r{r:g}", f"random_r{r:g}",
                     "style_distance_db", -1))
  for r in levels:
    out.append(Claim(f"trained > random weights for content (r={r:g})",
                     "content_correlation: trained - random", f"trained_r{r:g}",
                     f"random_r{r:g}", "content_correlation", 1))
  low, high = min(levels), max(levels)
  if high > low:
    for w in ("trained", "random"):
      out.append(Claim(f"noise hurts style more than content ({w}, r={low:g} vs {high:g})",
                       SUFFER, f"{w}_r{low:g}", f"{w}_r{high:g}", SUFFER, 1))
  for r in levels:
    out.append(Claim(f"random weights hurt style more than content (r={r:g})", SUFFER,
                     f"trained_r{r:g}", f"random_r{r:g}", SUFFER, 1))
  return out


def rows_from_items(items: dict[str, dict]) -> dict:
  """``{condition: {"pairs": [pair name per item], measure: [values]}}`` (None -> NaN)."""
  rows: dict = {}
  for record in items.values():
    row = rows.setdefault(record["condition"],
                          {"pairs": [], **{m: [] for m in fu.ITEM_MEASURES}})
    row["pairs"].append(record["pair"])
    for m in fu.ITEM_MEASURES:
      v = record["measures"].get(m)
      row[m].append(np.nan if v is None else float(v))
  return rows


def _claim_entry(c: Claim, rows: dict, names: list[str], missing: dict[str, int]) -> dict:
  d = c.differences(rows, names) if c.a in rows and c.b in rows else np.full(len(names), np.nan)
  t = stats.t_test(d)
  return dict(claim=c.claim, measure=c.measure, mean=t.mean, ci95=[t.low, t.high],
              p=t.p, t=t.t, df=t.df, n_pairs=t.n, predicted_sign=c.predicted_sign,
              conditions=[c.a, c.b], items_missing=missing.get(c.a, 0) + missing.get(c.b, 0),
              differences=dict(zip(names, (float(v) for v in d), strict=True)))


def decide_family(entries: list[dict]) -> list[dict]:
  """Adds ``p_adjusted`` (Holm over all ``entries``) and ``verdict`` to each entry; a claim
  with missing items is ``undecided``."""
  adjusted = stats.holm([e["p"] for e in entries])
  for e, p in zip(entries, adjusted, strict=True):
    e["p_adjusted"] = float(p)
    e["verdict"] = ("undecided" if e["items_missing"] else
                    stats.decide(e["mean"], p, e["predicted_sign"]))
  return entries


def convergence_by_condition(units: list[fu.Unit], names: list[str], items: dict
                             ) -> tuple[dict, dict]:
  """Per condition: whether every expected item is there and converged, and the counts
  ``{"converged", "found", "expected"}`` (any claims study's units and item records)."""
  found: dict[str, list[bool]] = {}
  expected: dict[str, int] = {}
  for u in units:
    expected[u.condition] = expected.get(u.condition, 0) + len(names)
    for p in range(len(names)):
      record = items.get(u.item_id(p))
      if record is not None:
        found.setdefault(u.condition, []).append(bool(record["converged"]))
  counts = {k: dict(converged=sum(found.get(k, [])), found=len(found.get(k, [])),
                    expected=n) for k, n in expected.items()}
  return ({k: c["converged"] == c["expected"] for k, c in counts.items()}, counts)


def cpu_record(lines: list[dict]) -> dict:
  """CPU and wall hours of the ``units.jsonl`` lines (see :data:`CPU_HOURS_HOW`)."""
  return dict(cpu_hours=sum(x["seconds"] * x["cores"] for x in lines) / 3600.0,
              cpu_hours_how=CPU_HOURS_HOW,
              cpu_hours_measured=sum(x.get("cpu_seconds", 0.0) for x in lines) / 3600.0,
              wall_hours=sum(x["seconds"] for x in lines) / 3600.0, units_run=len(lines))



def claims_provenance(workdir: Path, argv: list[str] | None, item_commits) -> dict:
  """A claims file's ``provenance``: this report's commit, command and machine, the CPU hours of
  the finished units (:func:`cpu_record`) and the commits the items were made at."""
  return {"commit": provenance.git_commit(), "command": provenance.relative_command(argv),
          "machine": provenance.machine(), **cpu_record(fu.read_unit_log(workdir)),
          "item_commits": sorted(c for c in item_commits if c)}


def write_claims(workdir: Path, report: dict) -> dict:
  """Writes ``report`` as ``workdir``'s claims file (JSON-ready: NaN as None); returns it."""
  out = fu.jsonable(report)
  files.write_json(workdir / fu.CLAIMS, out, indent=1)
  return out

def report(workdir: str | Path, *, cfg: Config | None = None,
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
  names = [p["name"] for p in fu.read_json(workdir, fu.PAIRS)["pairs"]]
  design = plan["design"]
  units = fu.plan_units(plan)
  items = fu.read_items(workdir)
  wanted = [u.item_id(p) for u in units for p in range(len(names))]
  absent = [i for i in wanted if i not in items]
  missing: dict[str, int] = {}
  for i in absent:
    cond = i.split("__")[0]
    missing[cond] = missing.get(cond, 0) + 1
  rows = rows_from_items({i: items[i] for i in wanted if i in items})
  claims = decide_family([_claim_entry(c, rows, names, missing)
                          for c in family(design["noise_levels"])])
  converged, counts = convergence_by_condition(units, names, items)
  found = {items[i]["provenance"]["commit"] for i in wanted if i in items}
  out = {
      "design": {"pairs": names, "seeds": design["seeds"],
                 "noise_levels": design["noise_levels"], "duration_s": design["duration"],
                 "optimizer": design["optimizer"], "steps": design["n_iter"],
                 "learning_rate": design["learning_rate"],
                 "converge_rel": design["converge_rel"], "phase_method": design["phase_method"],
                 "phase_iter": design["phase_iter"], "judge": design["classifier"],
                 "trained_weights": plan["trained_weights"], "unit_order": plan["order"]},
      "converged": converged,
      "claims": claims,
      "provenance": claims_provenance(workdir, argv, found),
      "complete": not absent,
      "items": {"found": len(wanted) - len(absent), "expected": len(wanted), "missing": absent},
      "convergence_counts": counts,
      "statistics": ("pair as the unit (seeds averaged within a pair); two-sided one-sample t "
                     "test and 95 % t interval of the per-pair differences; Holm over the "
                     f"{len(claims)} claims; supported / contradicted: p_adjusted < "
                     f"{stats.ALPHA} with the predicted / other sign of the mean; a claim with "
                     "missing items is undecided"),
  }
  return write_claims(workdir, out)
