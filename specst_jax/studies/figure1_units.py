"""Figure 1 claims study, its units: the fixed order of work and one small file per item.

A *unit* is (condition, seed): every pair of that condition and seed in one batched
:func:`transfer.stylize_batch` call (:func:`figure1_runner.run_condition` with one seed). A
deterministic condition (trained weights, r = 0: no randomness left) is one unit at seed 0 whose
items count for every seed (``seeds_covered``). Order, seed-major (:func:`units`): seed 0 of
every condition in :func:`figure1_design.conditions` order, then seed 1, ...; so a partial run
already holds every condition for seed 0.

Files under the work directory (all written atomically through :mod:`specst_jax.files`):

* ``plan.json``: the design (the config) and the unit order, written by the first run; a later
  run with another design is refused (the items would not be comparable).
* ``pairs.json``: the pairs (names, classes, files, the data's SHA-256) and each pair's
  reference for ``style_progress`` (the judge's style distance of the content itself), so that
  items made by different processes are scored against the same numbers.
* ``items/<condition>__s<seed>__p<pair:02d>.json``: one per item (see :func:`item_record`).
* ``items/audio/<item id>.flac``: the written result of pairs 0 (the paper's) and 1 at seed 0
  only (24-bit FLAC, peak 0.9; a 5 s clip is ~0.2 MB, 12 clips in all).
* ``units.jsonl``: one line per finished unit (seconds, cores, CPU seconds, load average).

Host side: JSON in and out; the engine runs in :mod:`~specst_jax.studies.figure1_resume`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

from specst_jax import files
from specst_jax.studies import convergence
from specst_jax.studies.figure1_design import MEASURES, Config, conditions

ITEMS = "items"
AUDIO_PAIRS = (0, 1)  # pairs whose results are kept as audio (pair 0: the paper's), at seed 0
AUDIO_SEED = 0
PLAN, PAIRS, UNITS_LOG, CLAIMS = "plan.json", "pairs.json", "units.jsonl", "claims.json"
ITEM_MEASURES = MEASURES + ("style_progress",)
# Config fields that do not change an item (where the data lives, how a batch is sharded).
NOT_DESIGN = ("name", "shard", "data_dir")
ORDER = ("seed-major: seed 0 of every condition (trained, random at each r in turn), then seed "
         "1, ...; a deterministic condition (trained weights, r = 0) runs once, at seed 0")


@dataclasses.dataclass(frozen=True)
class Unit:
  """One (condition, seed) unit; ``seeds_covered``: the seeds its items stand for."""

  condition: str
  seed: int
  seeds_covered: tuple[int, ...]

  @property
  def id(self) -> str:
    return f"{self.condition}__s{self.seed}"

  def item_id(self, pair: int) -> str:
    return f"{self.id}__p{pair:02d}"


def units(cfg: Config, deterministic: set[str]) -> list[Unit]:
  """Every unit of the design in the run's order (seed-major, see the module docstring).

  ``deterministic``: keys of the conditions that run once (:func:`figure1_runner.deterministic`).
  """
  seeds = tuple(range(cfg.seeds))
  out = []
  for seed in seeds:
    for cond in conditions(cfg):
      if cond.key not in deterministic:
        out.append(Unit(cond.key, seed, (seed,)))
      elif seed == 0:
        out.append(Unit(cond.key, 0, seeds))
  return out


def item_path(workdir: str | Path, item_id: str) -> Path:
  return Path(workdir) / ITEMS / f"{item_id}.json"


def audio_name(item_id: str) -> str:
  """The item's clip, relative to the items folder."""
  return f"audio/{item_id}.flac"


def keeps_audio(unit: Unit, pair: int) -> bool:
  return unit.seed == AUDIO_SEED and pair in AUDIO_PAIRS


def unit_done(workdir: str | Path, unit: Unit, n_pairs: int) -> bool:
  """True when every item file of ``unit`` exists."""
  return all(item_path(workdir, unit.item_id(p)).is_file() for p in range(n_pairs))


def number(x) -> float | None:
  """A JSON-ready float: None for NaN or infinity (JSON has neither)."""
  x = float(x)
  return x if math.isfinite(x) else None


def item_record(*, unit: Unit, pair: int, pair_name: str, measures: dict, curve: np.ndarray,
                n_done: int, n_evals: int, stop_reason: str, final_losses: dict, cfg: Config,
                listener_check: dict, audio: str | None, weights: str, provenance: dict
                ) -> dict:
  """One item's file: what it is, its measures, its optimisation and where it came from.

  Args:
    measures: ``{measure: value}`` of :data:`ITEM_MEASURES` as the Figure 1 study scores it.
    curve: the loss curve ``[n_iter]``; the first ``n_done`` entries are the steps it ran.
    listener_check: :func:`specst_jax.listener.check_audio` of the result as written.
    audio: the clip's name relative to the items folder, or None (not kept).
  """
  return {
      "id": unit.item_id(pair), "condition": unit.condition, "seed": unit.seed,
      "seeds_covered": list(unit.seeds_covered), "pair": pair_name, "pair_index": pair,
      "measures": {m: number(measures[m]) for m in ITEM_MEASURES},
      **optimisation_record(curve=curve, n_done=n_done, n_evals=n_evals,
                            stop_reason=stop_reason, final_losses=final_losses,
                            n_iter=cfg.n_iter, optimizer=cfg.optimizer,
                            converge_rel=cfg.converge_rel),
      "listener": listener_check, "audio": audio, "weights": weights,
      "provenance": provenance}


def optimisation_record(*, curve: np.ndarray, n_done: int, n_evals: int, stop_reason: str,
                        final_losses: dict, n_iter: int, optimizer: str, converge_rel: float
                        ) -> dict:
  """An item's optimisation, as every claims study records it: final losses, the loss curve
  subsampled (:func:`convergence.subsample`), iterations asked for and done, why it stopped,
  and the convergence rule's verdict on the steps it ran.

  Args:
    curve: the loss curve ``[n_iter]``; the first ``n_done`` entries are the steps it ran.
    final_losses: ``{"total", ...}`` at the result.
    n_iter, optimizer: what the engine was asked to run.
    converge_rel: the rule's threshold (:func:`convergence.converged`).
  """
  ran = np.asarray(curve, np.float64)[: int(n_done)]
  steps, values = convergence.subsample(ran)
  return {
      "final_loss": number(final_losses["total"]),
      "final_losses": {k: number(v) for k, v in final_losses.items()},
      "loss_curve": [number(v) for v in values], "loss_curve_steps": steps,
      "loss_curve_length": int(n_done), "n_iter": int(n_iter), "n_evaluations": int(n_evals),
      "stop_reason": stop_reason, "optimizer": optimizer,
      "converged": convergence.converged(ran, rel=converge_rel),
      "convergence": {"rule": "best loss fell by less than converge_rel of its value over the "
                              "last tail_fraction of the steps run",
                      "converge_rel": converge_rel,
                      "tail_fraction": convergence.TAIL_FRACTION,
                      "relative_drop": number(convergence.relative_tail_drop(ran))}}


def jsonable(obj):
  """``obj`` with every non-finite float (NaN, infinity) as None, numpy scalars as Python's."""
  if isinstance(obj, dict):
    return {k: jsonable(v) for k, v in obj.items()}
  if isinstance(obj, list | tuple):
    return [jsonable(v) for v in obj]
  if isinstance(obj, np.generic):
    obj = obj.item()
  if isinstance(obj, float):
    return number(obj)
  return obj


def write_item(workdir: str | Path, record: dict) -> Path:
  return files.write_json(item_path(workdir, record["id"]), jsonable(record), indent=1)


def read_items(workdir: str | Path) -> dict[str, dict]:
  """Every item file of the work directory: ``{item id: record}``."""
  out = {}
  for path in sorted((Path(workdir) / ITEMS).glob("*.json")):
    try:
      record = json.loads(path.read_text())
    except ValueError as e:
      raise ValueError(f"{path}: not an item file ({e})") from None
    out[record["id"]] = record
  return out


def read_json(workdir: str | Path, name: str) -> dict:
  path = Path(workdir) / name
  if not path.is_file():
    raise FileNotFoundError(f"{path}: missing (run the study first: it writes {name})")
  return json.loads(path.read_text())


def design(cfg: Config) -> dict:
  """The config fields that change an item (all but :data:`NOT_DESIGN`), JSON-ready.

  ``cfg``: any study's config dataclass (the channel-count study's too).
  """
  d = dataclasses.asdict(cfg)
  return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()
          if k not in NOT_DESIGN}


def check_same_design(workdir: str | Path, cfg: Config) -> None:
  """Refuses a config whose design differs from the work directory's ``plan.json``."""
  path = Path(workdir) / PLAN
  if not path.is_file():
    return
  kept = json.loads(path.read_text())["design"]
  now = design(cfg)
  diff = sorted(k for k in set(kept) | set(now) if kept.get(k) != now.get(k))
  if diff:
    raise ValueError(f"{path}: the work directory holds another design; differs in "
                     + ", ".join(f"{k} ({kept.get(k)!r} there, {now.get(k)!r} now)"
                                 for k in diff) + ": use another --workdir")


def plan_record(cfg: Config, unit_list: list[Unit], pair_names: list[str],
                trained_weights: str | None, *, order: str = ORDER) -> dict:
  """``plan.json``: the design, the unit order (``order`` says it in words) and the pairs.

  ``cfg``: any study's config dataclass (:func:`design`).
  """
  return {"design": design(cfg), "config_name": cfg.name, "order": order,
          "units": [dict(unit=u.id, condition=u.condition, seed=u.seed,
                         seeds_covered=list(u.seeds_covered)) for u in unit_list],
          "pairs": pair_names, "expected_items": len(unit_list) * len(pair_names),
          "trained_weights": trained_weights}


def plan_units(plan: dict) -> list[Unit]:
  return [Unit(u["condition"], u["seed"], tuple(u["seeds_covered"])) for u in plan["units"]]


def append_unit_log(workdir: str | Path, line: dict) -> Path:
  """Adds one line to ``units.jsonl`` (the whole small file rewritten atomically)."""
  path = Path(workdir) / UNITS_LOG
  old = path.read_text() if path.is_file() else ""
  return files.write_text(path, old + json.dumps(line) + "\n")


def read_unit_log(workdir: str | Path) -> list[dict]:
  path = Path(workdir) / UNITS_LOG
  if not path.is_file():
    return []
  return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
