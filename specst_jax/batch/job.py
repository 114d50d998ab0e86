"""A whole batch run as the tool starts it on every host: checks, share, barrier, merge.

:func:`run_job` is what ``experiments/batch_style.py`` calls once the processes have joined
(:mod:`specst_jax.batch.processes`). Everything that can be checked before computing is: the
manifest (and every row's settings), the output folder, and that a resumed run uses the
settings it was started with (``run.json``).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from absl import logging

from specst_jax import files, provenance
from specst_jax.batch import manifest, processes, runner, store

# Settings a resumed run must share with the run that created the folder (the rest, such as
# the batch size or figures, may change between attempts).
FIXED = ("base", "seed", "bucket_seconds", "min_seconds")
MAX_STATUS = 100


@dataclasses.dataclass(frozen=True)
class Outcome:
  """What the tool reports: counts and the exit status.

  ``exit_status`` is the number of items that failed (or, on process 0 after the merge, that
  failed or are missing), capped at :data:`MAX_STATUS`; 0 when all are done.
  """

  stats: runner.Stats | None
  summary: dict[str, Any] | None
  exit_status: int


def _run_record(output_dir: Path, record: dict[str, Any], write: bool) -> None:
  path = output_dir / "run.json"
  if path.is_file():
    try:
      old = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
      old = None
    if old is not None:
      diff = [k for k in FIXED if old.get(k) != record[k]]
      if diff:
        raise files.OutputError(
            f"{output_dir}: was started with other settings ({', '.join(diff)}: "
            f"{ {k: old.get(k) for k in diff} }, now { {k: record[k] for k in diff} }); "
            "use another --output_dir or the same settings")
      return
  if write:
    files.write_json(path, record)


def data_provenance(manifest_path: str, items: Sequence[manifest.Item]) -> dict:
  """:func:`specst_jax.provenance.record` for ``summary.json``: ``data_sha256`` covers the
  manifest and every audio file its rows name that exists (a row whose file is missing fails
  before reading anything)."""
  named = {p for it in items for p in (it.content, *it.styles)}
  return provenance.record(data=[manifest_path, *(p for p in named if Path(p).is_file())])


def merge_only(manifest_path: str, output_dir: str, overrides: Mapping[str, type]) -> Outcome:
  """Rebuilds ``summary.json`` / ``summary.csv`` / ``errors.jsonl`` from the items on disk."""
  items = manifest.read_manifest(manifest_path, overrides)
  summary = store.merge(output_dir, [it.id for it in items],
                        extra=dict(provenance=data_provenance(manifest_path, items)))
  return Outcome(None, summary, min(summary["n_failed"] + summary["n_missing"], MAX_STATUS))


def run_job(manifest_path: str, engine: runner.Engine,
            cfg: runner.RunConfig, *, overrides: Mapping[str, type],
            base: Mapping[str, Any], info: processes.ProcessInfo,
            barrier_timeout_s: float = 7 * 86400.0,
            figure: Callable | None = None) -> Outcome:
  """Runs this process's share, waits for the others, and (process 0) merges the summary.

  Args:
    manifest_path: the CSV / JSONL manifest.
    engine: the transfer (:class:`runner.Engine`).
    cfg: the run's cut (process fields are taken from ``info``).
    overrides: settings a manifest row may set (name -> type).
    base: settings for every row (the tool's flags).
    info: this process's place (:func:`processes.initialize`).
    barrier_timeout_s: how long process 0 waits for the slowest process.
    figure: writes an item's PNG, or None.

  Raises:
    ManifestError, OutputError, ValueError: a problem found before anything runs.
  """
  items = manifest.read_manifest(manifest_path, overrides)
  out = files.check_output_dir(cfg.output_dir, inputs=[manifest_path])
  record = dict(manifest=str(Path(manifest_path).absolute()), base=dict(sorted(base.items())),
                seed=cfg.seed, bucket_seconds=list(cfg.bucket_seconds),
                min_seconds=cfg.min_seconds, n_items=len(items),
                started=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"))
  try:  # the flags alone first, so that their error does not name a manifest row
    engine.resolve({"seed": cfg.seed, **base})
  except ValueError as e:
    raise ValueError(f"settings: {e}") from None
  runner.resolve_items(items, engine, base, cfg.seed)  # every row's settings, before writing
  _run_record(out, record, write=info.process_id == 0)
  cfg = dataclasses.replace(cfg, process_id=info.process_id, num_processes=info.num_processes)
  stats = runner.run(items, engine, cfg, base=base, figure=figure)
  logging.info("process %d: %d written, %d failed, %d already done, in %.1f s; %s compiled "
               "program(s), %d call(s) halved for memory", info.process_id, stats.ok,
               stats.failed, stats.skipped, stats.seconds, stats.compiled_programs,
               stats.backoffs)
  if info.num_processes > 1:
    processes.barrier("specst_batch_done", timeout_s=barrier_timeout_s)
  if info.process_id != 0:
    return Outcome(stats, None, min(stats.failed, MAX_STATUS))
  summary = store.merge(out, [it.id for it in items],
                        extra=dict(manifest=record["manifest"], num_processes=info.num_processes,
                                   settings=record["base"], seed=cfg.seed,
                                   provenance=data_provenance(manifest_path, items)))
  logging.info("summary: %d ok, %d failed, %d missing of %d (%s)", summary["n_ok"],
               summary["n_failed"], summary["n_missing"], summary["n_items"],
               out / "summary.json")
  return Outcome(stats, summary, min(summary["n_failed"] + summary["n_missing"], MAX_STATUS))
