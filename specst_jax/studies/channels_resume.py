"""Channel-count claims study, its resumable run: the units of :mod:`channels_units` through
the engine.

:func:`run` prepares the study (the trained weights whose input standardisation and STFT the
Wyse-shape nets use, the pairs, the judge, ``plan.json`` and ``pairs.json``), then runs every
unit whose item files are not all there, in the plan's order, until the units are done or
``max_minutes`` have passed (a unit in progress finishes; none starts after). Each finished unit
(or chunk of ``pairs_per_call`` pairs) writes its items (and the kept audio), then one line of
``units.jsonl``. Nets, settings and measures are :mod:`specst_jax.studies.channels`'.

Each item's initial noise and phase key are drawn from its seed and pair only, and its net from
its seed, so an item does not depend on the pairs it was batched with (up to float rounding of
the batch): ``pairs_per_call`` may differ between runs of one work directory.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from specst_jax import files, listener, provenance
from specst_jax.studies import channels, outputs
from specst_jax.studies import channels_units as cu
from specst_jax.studies import figure1_units as fu
from specst_jax.studies import judge as judge_lib
from specst_jax.studies import pairs as pairs_lib
from specst_jax.studies.figure1_resume import cores, pair_references
from specst_jax.style import nets, optimize, transfer


@dataclasses.dataclass(frozen=True)
class Study:
  """What every unit of one process needs (made once by :func:`prepare`)."""

  cfg: cu.Config
  workdir: Path
  trained: nets.Weights | None
  pairs: pairs_lib.PairSet
  judge: judge_lib.Judge
  references: dict  # pairs.json
  units: tuple[fu.Unit, ...]


def prepare(cfg: cu.Config, workdir: str | Path) -> Study:
  """Weights, pairs, judge and the unit order; writes (or checks) ``plan.json``, ``pairs.json``.

  Raises:
    ValueError: the work directory holds another design, other units or pairs, or was made
      with other trained weights' standardisation.
  """
  workdir = Path(workdir)
  fu.check_same_design(workdir, cfg)
  trained = nets.load_weights("wyse", None)
  ps = pairs_lib.load_pairs(cfg.data_dir, n_pairs=cfg.n_pairs, sr=cfg.sr,
                            duration=cfg.duration)
  judge = judge_lib.Judge(cfg.sr, cfg.classifier or None)
  unit_list = cu.units(cfg)
  plan = fu.jsonable(cu.plan_record(cfg, unit_list, ps.names,
                                    None if trained is None else trained.label))
  path = workdir / fu.PLAN
  if path.is_file():
    kept = json.loads(path.read_text())
    if any(kept[k] != plan[k] for k in ("units", "pairs", "trained_weights")):
      raise ValueError(f"{path}: its units, pairs or trained weights differ from this run's "
                       f"(pairs: {ps.source}; trained weights now: {plan['trained_weights']}): "
                       "use another --workdir")
  references = pair_references(workdir, ps, judge)
  if not path.is_file():
    files.write_json(path, plan, indent=1)
  logging.info("channel claims study: %d pair(s) (%s), %d unit(s) of %s", len(ps.names),
               ps.source, len(unit_list), cu.ORDER)
  return Study(cfg, workdir, trained, ps, judge, references, tuple(unit_list))


def item_keys(seed: int, pairs: list[int]) -> tuple[jax.Array, jax.Array]:
  """Per pair: the initial-noise key and the phase reconstruction's key, ``([n], [n])``,
  from ``(seed, pair)`` only."""
  base = jax.random.key(seed)
  init = jnp.stack([jax.random.fold_in(base, 100 + p) for p in pairs])
  phase_keys = jnp.stack([jax.random.fold_in(base, 200 + p) for p in pairs])
  return init, phase_keys


def wyse_net(settings: transfer.Settings, n_channels: int, trained: nets.Weights | None
             ) -> nets.Net:
  """:func:`channels.wyse_shape_net`, its weights labelled with C and the input it takes."""
  net = channels.wyse_shape_net(settings, n_channels, trained)
  given = ("raw [0, 1] input (no trained weights)" if trained is None else
           f"the input standardisation of {trained.label}")
  return dataclasses.replace(net, weights=f"random U(-0.1, 0.1), conv {n_channels} -> conv 64, "
                                          f"{given}")


def _listen(y: np.ndarray, S: np.ndarray, settings: transfer.Settings, path: Path | None
            ) -> dict:
  """The listener check of the result as written (also writing it when ``path`` is given)."""
  stft = settings.stft
  if path is not None:
    return outputs.save_clip(path, y, stft.sr, magnitude=S, stft=stft)[1]
  return listener.check_audio(transfer.peak_normalize(y), sr=stft.sr, magnitude=S, stft=stft)


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
  net, n_channels = cu.parse_condition(unit.condition)
  settings = cu.unit_settings(cfg, net, n_channels, unit.seed, study.trained)
  built = (wyse_net(settings, n_channels, study.trained) if net == "wyse"
           else None)  # the Ulyanov net: the engine draws it from the settings' seed
  idx = list(range(len(ps.pairs))) if pairs is None else list(pairs)
  keys, phase_keys = item_keys(unit.seed, idx)
  res = transfer.stylize_batch(settings, ps.contents[idx], ps.styles[idx], net=built, keys=keys,
                               phase_key=phase_keys, progress=progress)
  chosen = [ps.pairs[i] for i in idx]
  scores = study.judge.score(res.audio, ps.contents[idx], ps.styles[idx],
                             [p.content_class for p in chosen], [p.style_class for p in chosen])
  scores["sc_db"] = res.sc_db
  base = provenance.record(argv=argv)
  for j, p in enumerate(idx):
    item = unit.item_id(p)
    audio = fu.audio_name(item) if fu.keeps_audio(unit, p) else None
    path = None if audio is None else study.workdir / fu.ITEMS / audio
    check = _listen(res.audio[j], res.magnitude[j], settings, path)
    listener.warn(path or item, check)
    record = cu.item_record(
        unit=unit, pair=p, pair_name=ps.names[p],
        measures={m: scores[m][j] for m in cu.ITEM_MEASURES}, curve=res.loss_curve[j],
        n_done=int(np.atleast_1d(res.n_iter_done)[j]),
        n_evals=int(np.atleast_1d(res.n_evals)[j]),
        stop_reason=optimize.stop_reason_name(np.atleast_1d(res.stop_reason)[j]),
        final_losses={k: v[j] for k, v in res.final_losses.items()}, cfg=cfg,
        listener_check=check, audio=audio, weights=res.weights,
        provenance=dict(base, data_sha256=study.references["pairs"][p]["data_sha256"]))
    fu.write_item(study.workdir, record)
  line = dict(unit=unit.id, net=net, channels=n_channels, items=len(idx), pairs=idx,
              pairs_per_call=pairs_per_call, seconds=round(time.perf_counter() - t0, 3),
              cores=cores(), cpu_seconds=round(time.process_time() - cpu0, 3),
              load_start=[round(x, 2) for x in load0],
              load_end=[round(x, 2) for x in os.getloadavg()],
              engine_timings={k: round(v, 3) for k, v in res.timings.items()},
              commit=base["commit"], date=base["date"])
  fu.append_unit_log(study.workdir, line)
  return line


def _past(start: float, max_minutes: float | None) -> bool:
  return max_minutes is not None and time.monotonic() - start >= 60.0 * max_minutes


def run(cfg: cu.Config, workdir: str | Path, *, max_minutes: float | None = None,
        argv: list[str] | None = None, progress="log", pairs_per_call: int | None = None
        ) -> dict:
  """Runs the units not yet done, in order; none starts once ``max_minutes`` have passed.

  ``pairs_per_call``: run each unit in chunks of this many pairs (default: all its pairs in one
  call), each chunk's items written when it ends; on a CPU a vmapped L-BFGS pays every pair's
  longest line search, so one pair per call wastes no evaluations. A chunk whose items all
  exist is skipped; after ``max_minutes`` no further chunk starts (the unit is left unfinished,
  and the next run completes it).

  Returns:
    ``{"units", "done_before", "ran", "not_started", "seconds"}`` (unit counts).
  """
  if max_minutes is not None and max_minutes < 0:
    raise ValueError(f"max_minutes must be >= 0, got {max_minutes}")
  if pairs_per_call is not None and pairs_per_call < 1:
    raise ValueError(f"pairs_per_call must be >= 1, got {pairs_per_call}")
  start = time.monotonic()
  study = prepare(cfg, workdir)
  n_pairs = len(study.pairs.names)
  size = pairs_per_call or n_pairs
  todo = [u for u in study.units if not fu.unit_done(study.workdir, u, n_pairs)]
  ran = 0
  for k, unit in enumerate(todo):
    if _past(start, max_minutes):
      logging.info("channel claims study: %.3g min passed: %d unit(s) not started",
                   max_minutes, len(todo) - k)
      break
    logging.info("channel claims study: unit %s (%d of %d left), %d item(s)", unit.id, k + 1,
                 len(todo), n_pairs)
    stopped = False
    for first in range(0, n_pairs, size):
      chunk = [p for p in range(first, min(first + size, n_pairs))
               if not fu.item_path(study.workdir, unit.item_id(p)).is_file()]
      if not chunk:
        continue
      if first and _past(start, max_minutes):
        stopped = True
        break
      line = run_unit(study, unit, argv=argv, progress=progress, pairs=chunk,
                      pairs_per_call=pairs_per_call)
      logging.info("channel claims study: unit %s, pairs %s done in %.0f s", unit.id,
                   line["pairs"], line["seconds"])
    if stopped:
      logging.info("channel claims study: %.3g min passed: unit %s left unfinished",
                   max_minutes, unit.id)
      break
    ran += 1
  return dict(units=len(study.units), done_before=len(study.units) - len(todo), ran=ran,
              not_started=len(todo) - ran, seconds=time.monotonic() - start)
