"""Figure 1 claims study, its resumable run: the units of :mod:`figure1_units` through the engine.

:func:`run` prepares the study (weights, pairs, judge, ``plan.json`` and ``pairs.json``), then
runs every unit whose item files are not all there, in the plan's order, until the units are
done or ``max_minutes`` have passed (a unit in progress finishes; none starts after). Each
finished unit writes its items (and the kept audio), then one line of ``units.jsonl``. Every
item of a unit is scored exactly as :func:`specst_jax.studies.figure1.run` scores it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
from absl import logging

from specst_jax import files, listener, provenance
from specst_jax.representations import Stft
from specst_jax.studies import figure1_page, outputs
from specst_jax.studies import figure1_units as fu
from specst_jax.studies import judge as judge_lib
from specst_jax.studies import pairs as pairs_lib
from specst_jax.studies.figure1_design import Config, conditions, load_pairs
from specst_jax.studies.figure1_report import style_progress
from specst_jax.studies.figure1_runner import _weights, deterministic, run_condition, run_stft
from specst_jax.style import nets, optimize, transfer


@dataclasses.dataclass(frozen=True)
class Study:
  """What every unit of one process needs (made once by :func:`prepare`)."""

  cfg: Config
  workdir: Path
  trained: nets.Weights | None
  stft: Stft
  pairs: pairs_lib.PairSet
  judge: judge_lib.Judge
  references: dict  # pairs.json
  units: tuple[fu.Unit, ...]


def cores() -> int:
  """CPU cores this process may use (its affinity mask; os.cpu_count() where there is none)."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:
    return os.cpu_count() or 1


def pair_references(workdir: Path, ps: pairs_lib.PairSet, judge: judge_lib.Judge) -> dict:
  """``pairs.json``: read (its pairs and judge checked against this run's) or made and written.

  Per pair: name, classes, files, the SHA-256 of its two files, and ``reference_style_distance_db``:
  the judge's style distance of the content itself (``style_progress``'s denominator).
  """
  path = workdir / fu.PAIRS
  judge_info = fu.jsonable(judge.classifier)
  if path.is_file():
    kept = json.loads(path.read_text())
    if [p["name"] for p in kept["pairs"]] != ps.names or kept["judge"] != judge_info:
      raise ValueError(f"{path}: its pairs or judge differ from this run's ({ps.source}; judge "
                       f"{judge_info}): use another --workdir")
    return kept
  c_cls = [p.content_class for p in ps.pairs]
  s_cls = [p.style_class for p in ps.pairs]
  ref = judge.score(ps.contents, ps.contents, ps.styles, c_cls, s_cls)["style_distance_db"]
  rows = []
  for i, (p, d) in enumerate(zip(ps.describe(), ref, strict=True)):
    data = [f for f in (p["content_file"], p["style_file"]) if f]
    rows.append(dict(index=i, **p, data_sha256=provenance.data_hash(data),
                     reference_style_distance_db=float(d)))
  record = {"sr": ps.sr, "source": ps.source, "judge": judge_info, "pairs": rows}
  files.write_json(path, fu.jsonable(record), indent=1)
  return record


def prepare(cfg: Config, workdir: str | Path) -> Study:
  """Weights, pairs, judge and the unit order; writes (or checks) ``plan.json``, ``pairs.json``."""
  workdir = Path(workdir)
  if cfg.extras:
    raise ValueError(f"claims study: extras {cfg.extras} are not part of its design (set "
                     "--config.extras='()')")
  fu.check_same_design(workdir, cfg)
  trained, _ = _weights(cfg)
  stft = run_stft(trained)
  ps = load_pairs(cfg, stft.sr)
  judge = judge_lib.Judge(stft.sr, cfg.classifier or None)
  det = {c.key for c in conditions(cfg) if deterministic(c, trained)}
  unit_list = fu.units(cfg, det)
  plan = fu.jsonable(fu.plan_record(cfg, unit_list, ps.names,
                                    None if trained is None else trained.label))
  path = workdir / fu.PLAN
  if path.is_file():
    kept = json.loads(path.read_text())
    if kept["units"] != plan["units"] or kept["pairs"] != plan["pairs"]:
      raise ValueError(f"{path}: its units or pairs differ from this run's (trained weights "
                       f"now: {plan['trained_weights']}): use another --workdir")
  references = pair_references(workdir, ps, judge)
  if not path.is_file():
    files.write_json(path, plan, indent=1)
  logging.info("claims study: %d pair(s) (%s), %d unit(s) of %s", len(ps.names), ps.source,
               len(unit_list), fu.ORDER)
  return Study(cfg, workdir, trained, stft, ps, judge, references, tuple(unit_list))


def _listen(y: np.ndarray, S: np.ndarray, stft: Stft, path: Path | None) -> dict:
  """The listener check of the result as written (also writing it when ``path`` is given)."""
  if path is not None:
    _, check = outputs.save_clip(path, y, stft.sr, magnitude=S, stft=stft)
  else:
    check = listener.check_audio(transfer.peak_normalize(y), sr=stft.sr, magnitude=S, stft=stft)
  return check


def run_unit(study: Study, unit: fu.Unit, *, argv: list[str] | None = None,
             progress="log", pairs: list[int] | None = None,
             pairs_per_call: int | None = None) -> dict:
  """Runs one unit (or the chunk ``pairs`` of it), writes its items (audio first, then the
  JSONs) and its ``units.jsonl`` line.

  Returns:
    the log line.
  """
  t0, cpu0, load0 = time.perf_counter(), time.process_time(), os.getloadavg()
  cfg, ps = study.cfg, study.pairs
  cond = {c.key: c for c in conditions(cfg)}[unit.condition]
  res = run_condition(cond, cfg, study.trained, None, ps, study.stft, progress=progress,
                      seeds=[unit.seed], pairs=pairs)
  idx = res["pair_index"]
  pairs = [ps.pairs[i] for i in idx]
  scores = study.judge.score(res["audio"], ps.contents[idx], ps.styles[idx],
                             [p.content_class for p in pairs], [p.style_class for p in pairs])
  scores["sc_db"] = res["sc"]
  ref = np.asarray([study.references["pairs"][i]["reference_style_distance_db"] for i in idx])
  scores["style_progress"] = style_progress(scores["style_distance_db"], ref)
  base = provenance.record(argv=argv)
  stft = res["settings"].stft
  for j, (p, seed) in enumerate(res["items"]):
    if seed != unit.seed:
      raise AssertionError(f"{unit.id}: the engine ran seed {seed}")
    item = unit.item_id(p)
    audio = fu.audio_name(item) if fu.keeps_audio(unit, p) else None
    path = None if audio is None else study.workdir / fu.ITEMS / audio
    if path is not None:  # the page plays the pair's content and style beside it
      figure1_page.source_clips(study.workdir, ps.pairs, ps.sr, [p])
    check = _listen(res["audio"][j], res["S"][j], stft, path)
    listener.warn(path or item, check)
    record = fu.item_record(
        unit=unit, pair=p, pair_name=ps.names[p],
        measures={m: scores[m][j] for m in fu.ITEM_MEASURES}, curve=res["loss_curve"][j],
        n_done=int(res["n_iter_done"][j]), n_evals=int(res["n_evals"][j]),
        stop_reason=optimize.stop_reason_name(res["stop_reason"][j]),
        final_losses={k: v[j] for k, v in res["final_losses"].items()}, cfg=cfg,
        listener_check=check, audio=audio, weights=res["weights"],
        provenance=dict(base, data_sha256=study.references["pairs"][p]["data_sha256"]))
    fu.write_item(study.workdir, record)
  line = dict(unit=unit.id, items=len(res["items"]), pairs=[int(p) for p in idx],
              pairs_per_call=pairs_per_call,
              seconds=round(time.perf_counter() - t0, 3), cores=cores(),
              cpu_seconds=round(time.process_time() - cpu0, 3),
              load_start=[round(x, 2) for x in load0],
              load_end=[round(x, 2) for x in os.getloadavg()],
              engine_timings={k: round(v, 3) for k, v in res["timings"].items()},
              commit=base["commit"], date=base["date"])
  fu.append_unit_log(study.workdir, line)
  return line


def run(cfg: Config, workdir: str | Path, *, max_minutes: float | None = None,
        argv: list[str] | None = None, progress="log", pairs_per_call: int | None = None
        ) -> dict:
  """Runs the units not yet done, in order; none starts once ``max_minutes`` have passed.

  ``pairs_per_call``: run each unit in chunks of this many pairs (default: all its pairs in one
  call), each chunk's items written when it finishes: finer chunks for short working periods,
  and on a CPU a vmapped L-BFGS pays every pair's longest line search, so one pair per call
  wastes no evaluations. The optimisation does not depend on it, but the phase
  reconstruction's random start is drawn for the call's batch shape, so the written audio and
  its measures do: a work directory keeps the ``pairs_per_call`` of its first run (recorded in
  ``units.jsonl``) and refuses another.

  Returns:
    ``{"units", "done_before", "ran", "not_started", "seconds"}`` (unit counts).
  """
  if max_minutes is not None and max_minutes < 0:
    raise ValueError(f"max_minutes must be >= 0, got {max_minutes}")
  start = time.monotonic()
  study = prepare(cfg, workdir)
  n_pairs = len(study.pairs.names)
  kept = {line.get("pairs_per_call") for line in fu.read_unit_log(study.workdir)}
  if kept and kept != {pairs_per_call}:
    raise ValueError(f"{study.workdir}: its items were made with pairs_per_call="
                     f"{sorted(kept, key=str)}, this run asks for {pairs_per_call} (the phase "
                     "reconstruction's start depends on the batch): use the same value")
  todo = [u for u in study.units if not fu.unit_done(study.workdir, u, n_pairs)]
  ran = 0
  for k, unit in enumerate(todo):
    if max_minutes is not None and time.monotonic() - start >= 60.0 * max_minutes:
      logging.info("claims study: %.3g min passed: %d unit(s) not started", max_minutes,
                   len(todo) - k)
      break
    logging.info("claims study: unit %s (%d of %d left), %d item(s)", unit.id, k + 1,
                 len(todo), n_pairs)
    size = pairs_per_call or n_pairs
    stopped = False
    for first in range(0, n_pairs, size):
      chunk = [p for p in range(first, min(first + size, n_pairs))
               if not fu.item_path(study.workdir, unit.item_id(p)).is_file()]
      if not chunk:
        continue
      if first and max_minutes is not None and time.monotonic() - start >= 60.0 * max_minutes:
        stopped = True
        break
      line = run_unit(study, unit, argv=argv, progress=progress,
                      pairs=None if size >= n_pairs else chunk, pairs_per_call=pairs_per_call)
      logging.info("claims study: unit %s, pairs %s done in %.0f s", unit.id, line["pairs"],
                   line["seconds"])
    if stopped:
      logging.info("claims study: %.3g min passed: unit %s left unfinished", max_minutes,
                   unit.id)
      break
    ran += 1
  return dict(units=len(study.units), done_before=len(study.units) - len(todo), ran=ran,
              not_started=len(todo) - ran, seconds=time.monotonic() - start)
