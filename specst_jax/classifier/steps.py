"""Training steps of the Wyse classifier: model and optimiser, augmentation, loss, jitted steps.

Everything here is a pure function of ``(state, batch, key)``: step ``s`` draws its dropout and
augmentation from ``fold_in(key, s)``, so a run resumed from a checkpoint takes the same steps.
Batches are ``{"x": [batch, frames, channels] float32, "y": [batch] int32, "aux": [batch] int32,
"w": [batch] float32 (0 for padding)}``; :func:`jit_steps` shards them over a 1-D ``"data"`` mesh
on the batch axis (data parallel) with the parameters replicated.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import struct
from flax.training import train_state
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from specst_jax import models
from specst_jax.models.conv2d import Conv2DClassifier
from specst_jax.models.wyse import WyseClassifier

Batch = dict[str, np.ndarray]


class TrainState(train_state.TrainState):
  """Flax train state (step, params, opt_state) and, when ``ema_decay > 0``, an exponential
  moving average of the parameters (``average``; ``None`` when off).

  After step ``t`` (1-based) the average moves by ``d_t = min(ema_decay, (1 + t) / (10 + t))``:
  ``average <- d_t * average + (1 - d_t) * params`` (the warm-up of TensorFlow's
  ``ExponentialMovingAverage(num_updates=t)``, so early averages do not keep the initial weights).
  """
  average: Any = None
  ema_decay: float = struct.field(pytree_node=False, default=0.0)

  def apply_gradients(self, *, grads, **kwargs) -> TrainState:
    new = super().apply_gradients(grads=grads, **kwargs)
    if self.average is None:
      return new
    t = new.step.astype(jnp.float32)
    d = jnp.minimum(self.ema_decay, (1.0 + t) / (10.0 + t))
    average = jax.tree.map(lambda a, w: d * a + (1.0 - d) * w, self.average, new.params)
    return new.replace(average=average)

  @property
  def eval_params(self):
    """The weights to evaluate and export: the average when kept, else ``params``."""
    return self.params if self.average is None else self.average


# ---------------------------------------------------------------- model and optimiser


def make_model(config: ml_collections.ConfigDict) -> WyseClassifier | Conv2DClassifier:
  """The classifier a config describes (no auxiliary head when ``aux_weight == 0``)."""
  return models.classifier_from_config(config.model, aux=config.aux_weight > 0)


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
               input_shape: tuple[int, int], ema_decay: float = 0.0) -> TrainState:
  """Initial state for inputs ``[frames, channels]``; ``ema_decay > 0`` keeps a moving
  average of the weights (:class:`TrainState`)."""
  if not 0.0 <= ema_decay < 1.0:
    raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay}")
  x = jnp.zeros((1,) + tuple(input_shape), jnp.float32)
  params = jax.jit(model.init)(key, x)["params"]  # one compile instead of many eager ops
  opt_state = jax.jit(tx.init)(params)
  # The average starts as a copy: the train step donates the state, and one buffer cannot be
  # donated twice.
  return TrainState(step=jnp.zeros((), jnp.int32), apply_fn=model.apply, params=params, tx=tx,
                    opt_state=opt_state,
                    average=jax.tree.map(jnp.copy, params) if ema_decay > 0 else None,
                    ema_decay=float(ema_decay))


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
    crop_frames: train on a random window of this many frames of each clip (0: the whole
      clip; after the roll, so with ``time_roll`` the window may wrap around). Nets whose
      head pools over time then score whole clips in one pass.
  """

  time_roll: bool = False
  freq_mask: int = 0
  time_mask: int = 0
  mixup: float = 0.0
  crop_frames: int = 0

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


def random_crop(x: jax.Array, key: jax.Array, frames: int) -> jax.Array:
  """A random window of ``frames`` frames of each example of ``[batch, time, channels]``."""
  b, t, _ = x.shape
  if not 0 < frames <= t:
    raise ValueError(f"crop_frames must be in [1, {t}] (the clip's frames), got {frames}")
  starts = jax.random.randint(key, (b,), 0, t - frames + 1)
  return jax.vmap(lambda xi, s: jax.lax.dynamic_slice_in_dim(xi, s, frames, axis=0))(x, starts)


def augment(x: jax.Array, key: jax.Array, aug: Augmentation) -> jax.Array:
  """Rolls, crops and masks a batch ``[batch, frames, channels]`` (mixup is in the loss)."""
  b, t, c = x.shape
  k_roll, k_freq, k_time = jax.random.split(key, 3)  # (the crop's key leaves these as they were)
  if aug.time_roll:
    shifts = jax.random.randint(k_roll, (b,), 0, t)
    x = jax.vmap(lambda xi, s: jnp.roll(xi, s, axis=0))(x, shifts)
  if aug.crop_frames:
    x = random_crop(x, jax.random.fold_in(key, 3), aug.crop_frames)
    t = aug.crop_frames
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
  cross-entropies the same way (metrics then count the unmixed labels). A batch with soft
  targets ``"p"`` ``[batch, classes]`` (distillation) takes the class cross-entropy against
  them instead of the labels ``"y"`` (accuracy still counts ``"y"``).
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

  if "p" in batch:
    p = batch["p"]
    if mixup is not None:
      p = lam * p + (1.0 - lam) * p[perm]
    ce = optax.softmax_cross_entropy(logits, p)
  else:
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
