"""Training the Wyse classifier on ESC-50: pure steps, sharding, orbax checkpoints, the loop.

The steps are pure functions of ``(state, batch, key)``; :func:`train_and_evaluate`
is the host-side loop (data, logging, checkpoints, metrics files) used by
``experiments/train_classifier.py``. Randomness is reproducible under resumption:
epoch ``e`` shuffles with ``fold_in(data_key, e)`` and step ``s`` draws its dropout and
augmentation from ``fold_in(step_key, s)``, so a run restored from its last checkpoint reaches the
same parameters as an uninterrupted one.

Batches are ``{"x": [batch, frames, channels] float32, "y": [batch] int32,
"aux": [batch] int32, "w": [batch] float32 (0 for padding)}``; they are sharded
over ``jax.devices()`` on the batch axis (data parallel), parameters are replicated.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import flax.serialization
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax.training import train_state
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from specst_jax import esc50, files
from specst_jax.models import wyse
from specst_jax.models.wyse import WyseClassifier

Batch = dict[str, np.ndarray]


class TrainState(train_state.TrainState):
  """Flax train state (step, params, opt_state)."""


# ---------------------------------------------------------------- model and optimiser


def make_model(config: ml_collections.ConfigDict) -> WyseClassifier:
  """The classifier a config describes (no auxiliary head when ``aux_weight == 0``)."""
  return wyse.from_model_config(config.model, aux=config.aux_weight > 0)


def make_optimizer(config: ml_collections.ConfigDict, steps_per_epoch: int
                   ) -> optax.GradientTransformation:
  """Adam(W) with a constant or cosine-decayed learning rate (``config.schedule``),
  global-norm clipping and, with ``config.lr_fan_in_scaling``, per-layer step sizes
  scaled by :func:`scale_by_fan_in`."""
  if config.schedule == "constant":
    lr = config.learning_rate
  elif config.schedule == "cosine":
    # One epoch of linear warm-up (none for a one-epoch run), then cosine decay to 1 %.
    total = steps_per_epoch * config.num_epochs
    lr = optax.warmup_cosine_decay_schedule(
        0.0, config.learning_rate, steps_per_epoch if config.num_epochs > 1 else 0, total,
        end_value=config.learning_rate * 0.01)
  else:
    raise ValueError(f"schedule must be 'constant' or 'cosine', got {config.schedule!r}")
  parts = [optax.clip_by_global_norm(config.get("grad_clip", 1.0)),
           optax.adamw(lr, weight_decay=config.get("weight_decay", 0.0))]
  if config.get("lr_fan_in_scaling", False):
    parts.append(scale_by_fan_in("conv1"))
  return optax.chain(*parts)


def scale_by_fan_in(reference_layer: str) -> optax.GradientTransformation:
  """Scales each layer's updates by ``min(1, fan_in(reference_layer) / fan_in(layer))``.

  Adam moves every weight by about the learning rate, so a unit's pre-activation moves
  by about ``lr * fan_in`` (times the mean input) per step. The paper's conv2 (fan-in
  10240) and dense layer (fan-in ~10^4) then take steps 16x larger than conv1 and their
  ReLUs die within an epoch at any learning rate that trains conv1. Dividing by the
  fan-in ratio (as muP does for Adam's hidden layers) keeps all layers moving alike.
  Updates are ``{layer: {"kernel", "bias"}}`` trees; fan-in is ``prod(kernel.shape[:-1])``.
  """

  def fan_in(layer: dict) -> int:
    return int(np.prod(layer["kernel"].shape[:-1]))

  def update_fn(updates, state, params=None):
    del params
    ref = fan_in(updates[reference_layer])
    scaled = {name: _scale_tree(layer, min(1.0, ref / fan_in(layer)))
              for name, layer in updates.items()}
    return scaled, state

  return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)


def init_state(model: WyseClassifier, tx: optax.GradientTransformation, key: jax.Array,
               input_shape: tuple[int, int]) -> TrainState:
  """Initial state for inputs ``[frames, channels]``."""
  x = jnp.zeros((1,) + tuple(input_shape), jnp.float32)
  params = jax.jit(model.init)(key, x)["params"]  # one compile instead of many eager ops
  opt_state = jax.jit(tx.init)(params)
  return TrainState(step=jnp.zeros((), jnp.int32), apply_fn=model.apply, params=params, tx=tx,
                    opt_state=opt_state)


# ---------------------------------------------------------------- pure steps


@dataclasses.dataclass(frozen=True)
class Augmentation:
  """Training-time augmentation, applied inside the jitted step.

  Attributes:
    time_roll: roll each spectrogram circularly by a random number of frames (ESC-50
      events sit anywhere in the clip; the silence padding wraps around).
    freq_mask: zero (the standardised mean) up to this many adjacent channels per example.
    time_mask: zero up to this many adjacent frames per example (SpecAugment-style).
    mixup: Beta(mixup, mixup) mixing of pairs of examples and their targets (0: off).
  """

  time_roll: bool = False
  freq_mask: int = 0
  time_mask: int = 0
  mixup: float = 0.0

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> Augmentation:
    a = config.get("augment")
    return cls() if a is None else cls(**a.to_dict())


def _band_mask(key: jax.Array, batch: int, length: int, max_width: int) -> jax.Array:
  """``[batch, length]`` bool, True outside one random band of width ``0..max_width``."""
  k_width, k_start = jax.random.split(key)
  width = jax.random.randint(k_width, (batch, 1), 0, max_width + 1)
  start = jax.random.randint(k_start, (batch, 1), 0, length)
  i = jnp.arange(length)[None]
  return ~((i >= start) & (i < start + width))


def augment(x: jax.Array, key: jax.Array, aug: Augmentation) -> jax.Array:
  """Rolls and masks a batch ``[batch, frames, channels]`` (mixup is in the loss)."""
  b, t, c = x.shape
  k_roll, k_freq, k_time = jax.random.split(key, 3)
  if aug.time_roll:
    shifts = jax.random.randint(k_roll, (b,), 0, t)
    x = jax.vmap(lambda xi, s: jnp.roll(xi, s, axis=0))(x, shifts)
  if aug.freq_mask:
    x = x * _band_mask(k_freq, b, c, aug.freq_mask)[:, None, :]
  if aug.time_mask:
    x = x * _band_mask(k_time, b, t, aug.time_mask)[:, :, None]
  return x


def _scale_tree(tree, factor: float):
  return jax.tree_util.tree_map(lambda u: u * factor, tree)


def loss_and_metrics(params, batch: Batch, key: jax.Array | None, *, model: WyseClassifier,
                     aux_weight: float, train: bool,
                     mixup: tuple[jax.Array, jax.Array] | None = None
                     ) -> tuple[jax.Array, dict[str, jax.Array]]:
  """Weighted mean of ``CE(class) + aux_weight * CE(aux)``, plus summed metrics.

  ``mixup = (lam, perm)`` feeds ``lam * x + (1 - lam) * x[perm]`` and mixes both
  cross-entropies the same way (metrics then count the unmixed labels).
  Returns ``(loss, metrics)``; metrics hold sums over the real (``w > 0``) examples:
  ``loss``, ``correct``, ``aux_correct`` and ``count``, so they add across batches.
  """
  rngs = {"dropout": key} if train else {}
  x = batch["x"]
  if mixup is not None:
    lam, perm = mixup
    x = lam * x + (1.0 - lam) * x[perm]
  logits, acts = model.apply({"params": params}, x, train=train, rngs=rngs)
  logits = logits.astype(jnp.float32)
  w = batch["w"]

  def cross_entropy(z, labels):
    ce = optax.softmax_cross_entropy_with_integer_labels(z, labels)
    if mixup is None:
      return ce
    return lam * ce + (1.0 - lam) * optax.softmax_cross_entropy_with_integer_labels(
        z, labels[perm])

  ce = cross_entropy(logits, batch["y"])
  per_example = ce
  aux_correct = jnp.zeros(())
  if model.n_aux_classes and aux_weight > 0:
    aux_logits = acts["aux_logits"].astype(jnp.float32)
    per_example = ce + aux_weight * cross_entropy(aux_logits, batch["aux"])
    aux_correct = jnp.sum(w * (jnp.argmax(aux_logits, -1) == batch["aux"]))
  count = jnp.sum(w)
  loss = jnp.sum(w * per_example) / jnp.maximum(count, 1.0)
  correct = jnp.sum(w * (jnp.argmax(logits, -1) == batch["y"]))
  metrics = {"loss": jnp.sum(w * ce), "correct": correct, "aux_correct": aux_correct,
             "count": count}
  return loss, metrics


def train_step(state: TrainState, batch: Batch, key: jax.Array, *, model: WyseClassifier,
               aux_weight: float, aug: Augmentation = Augmentation()
               ) -> tuple[TrainState, dict[str, jax.Array]]:
  """One optimiser step; all randomness from ``fold_in(key, state.step)``."""
  step_key = jax.random.fold_in(key, state.step)
  drop_key, aug_key, mix_key = jax.random.split(step_key, 3)
  batch = dict(batch, x=augment(batch["x"], aug_key, aug))
  mixup = None
  if aug.mixup > 0:
    k_lam, k_perm = jax.random.split(mix_key)
    mixup = (jax.random.beta(k_lam, aug.mixup, aug.mixup),
             jax.random.permutation(k_perm, batch["x"].shape[0]))
  grad_fn = jax.grad(loss_and_metrics, has_aux=True)
  grads, metrics = grad_fn(state.params, batch, drop_key, model=model, aux_weight=aux_weight,
                           train=True, mixup=mixup)
  return state.apply_gradients(grads=grads), metrics


def eval_step(params, batch: Batch, *, model: WyseClassifier, aux_weight: float
              ) -> dict[str, jax.Array]:
  """Summed metrics of one batch, no dropout."""
  return loss_and_metrics(params, batch, None, model=model, aux_weight=aux_weight,
                          train=False)[1]


def predict_logits(params, x: jax.Array, *, model: WyseClassifier) -> jax.Array:
  """Class logits ``[batch, n_classes]`` for inputs ``[batch, frames, channels]``."""
  return model.apply({"params": params}, x, train=False)[0]


# ---------------------------------------------------------------- sharding


def data_mesh(devices=None) -> Mesh:
  """A 1-D mesh named ``"data"`` over ``devices`` (default all)."""
  return Mesh(np.array(devices if devices is not None else jax.devices()), ("data",))


def batch_sharding(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec("data"))


def replicated_sharding(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec())


@functools.lru_cache(maxsize=8)
def jit_steps(model: WyseClassifier, aux_weight: float, mesh: Mesh,
              aug: Augmentation = Augmentation()) -> tuple[Callable, Callable]:
  """Jitted ``(train_step(state, batch, key), eval_step(params, batch))`` sharded on ``mesh``.

  Cached on its (hashable) arguments, so repeated runs in one process compile once.
  """
  data, rep = batch_sharding(mesh), replicated_sharding(mesh)
  train = jax.jit(lambda s, b, k: train_step(s, b, k, model=model, aux_weight=aux_weight, aug=aug),
                  in_shardings=(rep, data, rep), out_shardings=(rep, rep), donate_argnums=0)
  evaluate = jax.jit(lambda p, b: eval_step(p, b, model=model, aux_weight=aux_weight),
                     in_shardings=(rep, data), out_shardings=rep)
  return train, evaluate


# ---------------------------------------------------------------- batching (host)


def epoch_order(n: int, key: jax.Array, epoch: int) -> np.ndarray:
  """The permutation of ``n`` training examples for ``epoch`` (``fold_in(key, epoch)``)."""
  return np.asarray(_permutation(key, epoch, n))


@functools.partial(jax.jit, static_argnums=2)
def _permutation(key: jax.Array, epoch: int, n: int) -> jax.Array:
  return jax.random.permutation(jax.random.fold_in(key, epoch), n)


def iterate_batches(x: np.ndarray, y: np.ndarray, aux: np.ndarray, batch_size: int,
                    order: np.ndarray | None = None, *, drop_last: bool) -> Iterator[Batch]:
  """Batches in ``order`` (default sequential); the last one is padded with ``w = 0``
  unless ``drop_last``."""
  order = np.arange(len(x)) if order is None else order
  stop = len(order) - len(order) % batch_size if drop_last else len(order)
  for start in range(0, stop, batch_size):
    idx = order[start:start + batch_size]
    n = len(idx)
    pad = batch_size - n
    b = {"x": np.asarray(x[idx], np.float32), "y": y[idx].astype(np.int32),
         "aux": aux[idx].astype(np.int32), "w": np.ones(n, np.float32)}
    if pad:
      b = {k: np.concatenate([v, np.zeros((pad,) + v.shape[1:], v.dtype)]) for k, v in b.items()}
    yield b


def summarise(totals: dict[str, float]) -> dict[str, float]:
  """Turns summed metrics into means: loss, accuracy, aux_accuracy."""
  n = max(totals.get("count", 0.0), 1.0)
  return {"loss": totals["loss"] / n, "accuracy": totals["correct"] / n,
          "aux_accuracy": totals["aux_correct"] / n}


def evaluate(eval_fn: Callable, params, x, y, aux, batch_size: int) -> dict[str, float]:
  """Mean metrics of ``params`` over all examples."""
  totals: dict[str, float] = {}
  for b in iterate_batches(x, y, aux, batch_size, drop_last=False):
    m = jax.device_get(eval_fn(params, b))
    for k, v in m.items():
      totals[k] = totals.get(k, 0.0) + float(v)
  return summarise(totals)


# ---------------------------------------------------------------- files




def write_history(workdir: Path, history: list[dict]) -> None:
  """``metrics.jsonl`` (one line per epoch) and ``curves.png``, both atomically."""
  files.write_bytes(workdir / "metrics.jsonl",
               "".join(json.dumps(h) + "\n" for h in history).encode())
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
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
  fd, tmp = tempfile.mkstemp(dir=workdir, prefix="curves", suffix=".png")
  os.close(fd)
  fig.savefig(tmp, format="png")
  plt.close(fig)
  os.replace(tmp, workdir / "curves.png")


def checkpoint_manager(workdir: Path) -> ocp.CheckpointManager:
  return ocp.CheckpointManager(Path(workdir).resolve() / "checkpoints",
                               options=ocp.CheckpointManagerOptions(max_to_keep=2))


def save_checkpoint(mgr: ocp.CheckpointManager, epoch: int, state: TrainState, meta: dict
                    ) -> None:
  mgr.save(epoch, args=ocp.args.Composite(
      state=ocp.args.StandardSave({"params": state.params, "opt_state": state.opt_state,
                                   "step": state.step}),
      meta=ocp.args.JsonSave(meta)))
  mgr.wait_until_finished()


def restore_checkpoint(mgr: ocp.CheckpointManager, state: TrainState
                       ) -> tuple[TrainState, dict] | None:
  """The latest checkpoint applied to ``state``'s structure, or None when there is none."""
  epoch = mgr.latest_step()
  if epoch is None:
    return None
  abstract = {"params": state.params, "opt_state": state.opt_state, "step": state.step}
  restored = mgr.restore(epoch, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()))
  s = restored["state"]
  return state.replace(params=s["params"], opt_state=s["opt_state"], step=s["step"]), \
      restored["meta"]


# ---------------------------------------------------------------- data for a config


@dataclasses.dataclass
class Splits:
  """Host arrays per split (``train``, ``val``, ``test``): ``(x, y, aux)``, plus normaliser;
  ``indices`` gives each split's rows of ``esc50.read_metadata``."""

  arrays: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
  centroid_edges: np.ndarray
  mean: np.ndarray | None
  std: np.ndarray | None
  feature_config: esc50.FeatureConfig
  class_names: list[str]
  indices: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


def feature_config(config: ml_collections.ConfigDict) -> esc50.FeatureConfig:
  return esc50.FeatureConfig(**config.features.to_dict())


def normalise(x: np.ndarray, mean: np.ndarray | None, std: np.ndarray | None) -> np.ndarray:
  """``(x - mean) / std`` per channel (identity when ``mean`` is None)."""
  if mean is None:
    return np.asarray(x, np.float32)
  return ((np.asarray(x, np.float32) - mean) / std).astype(np.float32)


def prepare_splits(config: ml_collections.ConfigDict, log: Callable[[str], None] = print
                   ) -> Splits:
  """Train / val / test arrays: ``config.train_folds`` minus a stratified ``val_fraction``
  held out for model selection, and ``config.test_folds``. Centroid-class edges and the
  optional per-channel standardisation are fitted on the training part only."""
  fcfg = feature_config(config)
  ds = esc50.load_dataset(config.data_dir, fcfg, config.get("cache_dir") or None,
                          limit=config.get("clips_per_fold") or None, log=log)
  train_idx = esc50.fold_indices(ds.clips, config.train_folds)
  test_idx = esc50.fold_indices(ds.clips, config.test_folds)
  if set(train_idx) & set(test_idx):
    raise ValueError("train_folds and test_folds overlap")
  # Grouped by source recording, the held-out clips share no recording with the training
  # clips (ESC-50 keeps each recording's clips in one fold for the same reason).
  groups = ([ds.clips[i].source or ds.clips[i].stem for i in train_idx]
            if config.get("val_by_source", False) else None)
  rest, held = esc50.stratified_split(ds.targets[train_idx], config.val_fraction, config.seed,
                                      groups=groups)
  val_idx, train_idx = train_idx[held], train_idx[rest]
  edges = esc50.fit_centroid_edges(ds.centroids[train_idx], config.model.n_aux_classes)
  aux = esc50.centroid_classes(ds.centroids, edges)
  mean = std = None
  if config.standardize:
    xt = np.asarray(ds.features[train_idx], np.float64)
    mean = xt.mean(axis=(0, 1)).astype(np.float32)
    std = np.maximum(xt.std(axis=(0, 1)), 1e-6).astype(np.float32)
  indices = {"train": train_idx, "val": val_idx, "test": test_idx}
  arrays = {name: (normalise(ds.features[idx], mean, std), ds.targets[idx], aux[idx])
            for name, idx in indices.items()}
  log(f"clips: train {len(train_idx)}, val {len(val_idx)}, test {len(test_idx)}; "
      f"input {fcfg.n_frames} frames x {fcfg.n_channels} channels")
  return Splits(arrays, edges, mean, std, fcfg, esc50.class_names(ds.clips), indices)


# ---------------------------------------------------------------- the loop


def export_model(path: Path, params, splits: Splits, provenance: dict) -> None:
  """Writes ``path`` (flax msgpack of params + normaliser + centroid edges) and
  ``path.with_suffix('.json')`` (provenance), both atomically."""
  payload = {"params": jax.device_get(params),
             "centroid_edges": np.asarray(splits.centroid_edges, np.float32)}
  if splits.mean is not None:
    payload["mean"], payload["std"] = splits.mean, splits.std
  files.write_bytes(Path(path), flax.serialization.msgpack_serialize(payload))
  files.write_bytes(Path(path).with_suffix(".json"),
               (json.dumps(provenance, indent=2, default=str) + "\n").encode())


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike,
                       log: Callable[[str], None] = print, stop_after_epoch: int | None = None,
                       command: str | None = None) -> dict[str, Any]:
  """Trains (resuming from ``workdir``'s last checkpoint) and returns the final record.

  Each epoch: train, evaluate val and test, checkpoint (orbax), then rewrite
  ``metrics.jsonl`` and ``curves.png``. The epoch with the best *validation*
  accuracy is exported to ``workdir/best.msgpack`` (+ ``best.json``); the test
  accuracy reported for it was never used for selection.

  Args:
    stop_after_epoch: stop once this epoch is done (simulates an interrupted run).
    command: the command line recorded in the provenance (default: ``train_classifier``
      with this process's arguments).
  """
  workdir = Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  splits = prepare_splits(config, log)
  xtr, ytr, atr = splits.arrays["train"]
  mesh = data_mesh()
  n_dev = mesh.devices.size
  if config.batch_size % n_dev:
    raise ValueError(f"batch_size {config.batch_size} not divisible by {n_dev} devices")
  steps_per_epoch = len(xtr) // config.batch_size
  if steps_per_epoch == 0:
    raise ValueError(f"batch_size {config.batch_size} exceeds the {len(xtr)} training clips")
  model = make_model(config)
  tx = make_optimizer(config, steps_per_epoch)
  key = jax.random.key(config.seed)
  init_key, data_key, step_key = jax.random.split(key, 3)
  state = init_state(model, tx, init_key, xtr.shape[1:])
  mgr = checkpoint_manager(workdir)
  meta = {"epoch": 0, "history": [], "best": None}
  restored = restore_checkpoint(mgr, state)
  if restored is not None:
    state, meta = restored
    log(f"resumed from epoch {meta['epoch']} (step {int(state.step)})")
  state = jax.device_put(state, replicated_sharding(mesh))
  train_fn, eval_fn = jit_steps(model, config.aux_weight, mesh,
                                Augmentation.from_config(config))
  eval_bs = config.get("eval_batch_size", config.batch_size)
  for epoch in range(meta["epoch"] + 1, config.num_epochs + 1):
    t0 = time.time()
    totals: dict[str, float] = {}
    order = epoch_order(len(xtr), data_key, epoch)
    for b in iterate_batches(xtr, ytr, atr, config.batch_size, order, drop_last=True):
      state, m = train_fn(state, b, step_key)
      for k, v in jax.device_get(m).items():
        totals[k] = totals.get(k, 0.0) + float(v)
      if config.get("log_every", 0) and int(state.step) % config.log_every == 0:
        log(f"epoch {epoch} step {int(state.step)}: running train loss "
            f"{totals['loss'] / totals['count']:.4f}, accuracy "
            f"{totals['correct'] / totals['count']:.4f} ({time.time() - t0:.0f} s)")
    train_time = time.time() - t0
    record = {"epoch": epoch, "step": int(state.step), "train_seconds": round(train_time, 2)}
    record.update({f"train_{k}": v for k, v in summarise(totals).items()})
    for split in ("val", "test"):
      x, y, a = splits.arrays[split]
      if len(x):
        record.update({f"{split}_{k}": v for k, v in
                       evaluate(eval_fn, state.params, x, y, a, eval_bs).items()})
    record["epoch_seconds"] = round(time.time() - t0, 2)
    meta["history"].append(record)
    meta["epoch"] = epoch
    best = meta["best"]
    if best is None or record.get("val_accuracy", 0.0) > best.get("val_accuracy", 0.0):
      meta["best"] = dict(record)
      export_model(workdir / "best.msgpack", state.params, splits,
                   provenance(config, splits, record, command))
    save_checkpoint(mgr, epoch, state, meta)
    write_history(workdir, meta["history"])
    log(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                 for k, v in record.items()))
    if stop_after_epoch is not None and epoch >= stop_after_epoch:
      break
  mgr.close()
  return {"state": state, "meta": meta, "splits": splits}


def provenance(config: ml_collections.ConfigDict, splits: Splits, record: dict,
               command: str | None = None) -> dict:
  """The JSON record shipped beside exported weights."""
  f = splits.feature_config
  return {
      "model": "specst_jax.models.wyse.WyseClassifier",
      "sr": f.sr, "n_fft": f.n_fft, "hop_length": f.hop_length, "center": f.center,
      "representation": f.representation, "n_frames": f.n_frames, "n_channels": f.n_channels,
      "classes": splits.class_names,
      "train_folds": list(config.train_folds), "test_folds": list(config.test_folds),
      "selected_epoch": record["epoch"], "val_accuracy": record.get("val_accuracy"),
      "test_accuracy": record.get("test_accuracy"),
      "selection": "epoch with the best accuracy on a stratified val_fraction of the "
                   "training folds" + (", whole source recordings held out"
                                       if config.get("val_by_source", False) else "")
                   + "; test folds never used for selection",
      "config": config.to_dict(),
      "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
      "jax": jax.__version__, "devices": [str(d) for d in jax.devices()],
      "command": command or "python -m experiments.train_classifier " + shlex.join(sys.argv[1:]),
      "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs".strip(),
  }
