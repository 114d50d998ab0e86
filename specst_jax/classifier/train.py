"""The classifier's training loop: :func:`train_and_evaluate`, orbax checkpoints, history, export.

Host side: data from :mod:`~specst_jax.classifier.splits`, steps from
:mod:`~specst_jax.classifier.steps`. Randomness is reproducible under resumption: epoch ``e``
shuffles with ``fold_in(data_key, e)`` and step ``s`` draws its dropout and augmentation from
``fold_in(step_key, s)``, so a run restored from its last checkpoint reaches the same
parameters as an uninterrupted one. Every file is written through :mod:`specst_jax.files`.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import ml_collections
import orbax.checkpoint as ocp

from specst_jax import files, pretrained
from specst_jax import provenance as provenance_lib
from specst_jax.classifier import distill, steps
from specst_jax.classifier import splits as splits_lib
from specst_jax.classifier.splits import Splits


def default_command() -> str:
  """This process's command line (``python -m <module> args`` for a ``-m`` run), with paths
  under the repository written relative to it (:func:`specst_jax.provenance.relative_command`)."""
  main = sys.modules.get("__main__")
  module = getattr(getattr(main, "__spec__", None), "name", None)
  if module and module.endswith(".__main__"):  # python -m package
    module = module[:-len(".__main__")]
  head = ["python", "-m", module] if module else ["python", sys.argv[0]]
  return shlex.join(head + provenance_lib.relative_args(sys.argv[1:]))


def write_history(workdir: Path, history: list[dict]) -> None:
  """``metrics.jsonl`` (one line per epoch) and ``curves.png``, both atomically."""
  files.write_text(workdir / "metrics.jsonl", "".join(json.dumps(h) + "\n" for h in history))
  import matplotlib.pyplot as plt  # matplotlib only when a run writes its curves

  from specst_jax import plotting  # (sets the Agg backend)

  fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
  epochs = [h["epoch"] for h in history]
  for split in ("train", "val", "test"):
    if history and f"{split}_loss" in history[0]:
      ax1.plot(epochs, [h[f"{split}_loss"] for h in history], label=split)
      ax2.plot(epochs, [h[f"{split}_accuracy"] for h in history], label=split)
  ax1.set(xlabel="epoch", ylabel="class cross-entropy")
  ax2.set(xlabel="epoch", ylabel="accuracy")
  ax1.legend()
  ax2.legend()
  fig.tight_layout()
  plotting.save_figure(fig, workdir / "curves.png", dpi=100)


def checkpoint_manager(workdir: Path) -> ocp.CheckpointManager:
  return ocp.CheckpointManager(Path(workdir).resolve() / "checkpoints",
                               options=ocp.CheckpointManagerOptions(max_to_keep=2))


def save_checkpoint(mgr: ocp.CheckpointManager, epoch: int, state: steps.TrainState, meta: dict
                    ) -> None:
  mgr.save(epoch, args=ocp.args.Composite(
      state=ocp.args.StandardSave(_saved(state)),
      meta=ocp.args.JsonSave(meta)))
  mgr.wait_until_finished()


def restore_checkpoint(mgr: ocp.CheckpointManager, state: steps.TrainState
                       ) -> tuple[steps.TrainState, dict] | None:
  """The latest checkpoint applied to ``state``'s structure, or None when there is none."""
  epoch = mgr.latest_step()
  if epoch is None:
    return None
  restored = mgr.restore(epoch, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(_saved(state)), meta=ocp.args.JsonRestore()))
  return state.replace(**restored["state"]), restored["meta"]


def _saved(state: steps.TrainState) -> dict:
  """What a checkpoint holds: step, params, optimiser state and the weight average if kept."""
  saved = {"params": state.params, "opt_state": state.opt_state, "step": state.step}
  if state.average is not None:
    saved["average"] = state.average
  return saved


def provenance(config: ml_collections.ConfigDict, splits: Splits, record: dict,
               command: str | None = None) -> dict:
  """The JSON record shipped beside exported weights (feature settings only in
  ``config.features``: see :func:`specst_jax.pretrained.feature_settings`), with
  :func:`specst_jax.provenance.record`'s ``commit``, ``machine``, ``date``, ``python``,
  ``jax`` and ``data_sha256`` (the ESC-50 CSV and the clips of the train and test folds:
  :func:`specst_jax.classifier.splits.recipe_files`)."""
  f = splits.feature_config
  return {
      "model": _model_name(config),
      "n_frames": f.n_frames, "n_channels": f.n_channels,
      "classes": splits.class_names,
      "train_folds": list(config.train_folds), "test_folds": list(config.test_folds),
      "selected_epoch": record["epoch"], "val_accuracy": record.get("val_accuracy"),
      "test_accuracy": record.get("test_accuracy"),
      "selection": "epoch with the best accuracy on a stratified val_fraction of the "
                   "training folds" + (", whole source recordings held out"
                                       if config.get("val_by_source", False) else "")
                   + "; test folds never used for selection",
      "config": config.to_dict(),
      **provenance_lib.record(data=splits_lib.recipe_files(config)),
      "command": command or default_command(),
      "devices": [str(d) for d in jax.devices()],
  }


def _model_name(config: ml_collections.ConfigDict) -> str:
  """The module's import path, e.g. ``specst_jax.models.wyse.WyseClassifier``."""
  cls = type(steps.make_model(config))
  return f"{cls.__module__}.{cls.__name__}"


def export_model(path: Path, params, splits: Splits, provenance: dict) -> None:
  """Writes ``path`` and its ``.json`` provenance (:func:`specst_jax.pretrained.export_wyse`)."""
  pretrained.export_wyse(path, jax.device_get(params), provenance,
                         centroid_edges=splits.centroid_edges, mean=splits.mean, std=splits.std)


def _add(totals: dict[str, float], metrics) -> None:
  for k, v in jax.device_get(metrics).items():
    totals[k] = totals.get(k, 0.0) + float(v)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike,
                       log: Callable[[str], None] = print, stop_after_epoch: int | None = None,
                       command: str | None = None) -> dict[str, Any]:
  """Trains (resuming from ``workdir``'s last checkpoint) and returns the final record.

  Each epoch: train, evaluate val and test, checkpoint (orbax), then rewrite
  ``metrics.jsonl`` and ``curves.png``. The epoch with the best *validation*
  accuracy is exported to ``workdir/best.msgpack`` (+ ``best.json``); the test
  accuracy reported for it was never used for selection. With ``config.ema_decay > 0``
  (absent: off) the weights evaluated, selected and exported are the moving average of the
  trained weights (:class:`specst_jax.classifier.steps.TrainState`). With ``config.distill``
  the training clips' targets are soft: the labels mixed with a teacher ensemble's
  probabilities (:mod:`specst_jax.classifier.distill`, kept in ``workdir/teacher_targets.npz``).

  Args:
    stop_after_epoch: stop once this epoch is done (simulates an interrupted run).
    command: the caller's command line, recorded in the provenance (default: this
      process's, :func:`default_command`).

  Returns:
    ``{"state": TrainState, "meta": {"epoch", "history", "best"}, "splits": Splits}``.
  """
  workdir = Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  splits = splits_lib.prepare_splits(config, log)
  xtr, ytr, atr = splits.arrays["train"]
  soft = (distill.train_soft_targets(workdir, config, splits, log)
          if config.get("distill") else None)
  mesh = steps.data_mesh()
  if config.batch_size % mesh.devices.size:
    raise ValueError(f"batch_size {config.batch_size} not divisible by {mesh.devices.size} "
                     "devices")
  steps_per_epoch = len(xtr) // config.batch_size
  if steps_per_epoch == 0:
    raise ValueError(f"batch_size {config.batch_size} exceeds the {len(xtr)} training clips")
  model = steps.make_model(config)
  tx = steps.make_optimizer(config, steps_per_epoch)
  init_key, data_key, step_key = jax.random.split(jax.random.key(config.seed), 3)
  state = steps.init_state(model, tx, init_key, xtr.shape[1:], config.get("ema_decay", 0.0))
  mgr = checkpoint_manager(workdir)
  meta = {"epoch": 0, "history": [], "best": None}
  restored = restore_checkpoint(mgr, state)
  if restored is not None:
    state, meta = restored
    log(f"resumed from epoch {meta['epoch']} (step {int(state.step)})")
  state = jax.device_put(state, steps.replicated_sharding(mesh))
  train_fn, eval_fn = steps.jit_steps(model, config.aux_weight, mesh,
                                      steps.Augmentation.from_config(config))
  eval_bs = config.get("eval_batch_size", config.batch_size)
  for epoch in range(meta["epoch"] + 1, config.num_epochs + 1):
    t0 = time.time()
    totals: dict[str, float] = {}
    order = splits_lib.epoch_order(len(xtr), data_key, epoch)
    for b in splits_lib.iterate_batches(xtr, ytr, atr, config.batch_size, order, drop_last=True,
                                        soft=soft):
      state, m = train_fn(state, b, step_key)
      _add(totals, m)
      if config.get("log_every", 0) and int(state.step) % config.log_every == 0:
        log(f"epoch {epoch} step {int(state.step)}: running train loss "
            f"{totals['loss'] / totals['count']:.4f}, accuracy "
            f"{totals['correct'] / totals['count']:.4f} ({time.time() - t0:.0f} s)")
    record = {"epoch": epoch, "step": int(state.step),
              "train_seconds": round(time.time() - t0, 2)}
    record.update({f"train_{k}": v for k, v in splits_lib.summarise(totals).items()})
    # ``test_every_epoch=False``: the test fold is not looked at during training at all
    # (cross-validation scores each run's selected epoch once, at the end).
    for split in ("val", "test") if config.get("test_every_epoch", True) else ("val",):
      x, y, a = splits.arrays[split]
      if len(x):
        record.update({f"{split}_{k}": v for k, v in
                       splits_lib.evaluate(eval_fn, state.eval_params, x, y, a, eval_bs).items()})
    record["epoch_seconds"] = round(time.time() - t0, 2)
    meta["history"].append(record)
    meta["epoch"] = epoch
    best = meta["best"]
    if best is None or record.get("val_accuracy", 0.0) > best.get("val_accuracy", 0.0):
      meta["best"] = dict(record)
      export_model(workdir / "best.msgpack", state.eval_params, splits,
                   provenance(config, splits, record, command))
    save_checkpoint(mgr, epoch, state, meta)
    write_history(workdir, meta["history"])
    log(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                 for k, v in record.items()))
    if stop_after_epoch is not None and epoch >= stop_after_epoch:
      break
  mgr.close()
  return {"state": state, "meta": meta, "splits": splits}
