"""The three networks' set-ups, representations, and batched / sharded runs.

Representations (``x`` is what the optimiser changes):
  * ``"log1p"``: ``log(1 + |S|)`` ``[frames, bins]`` (Ulyanov);
  * ``"unit_db"``: the paper's dB re the clip max in [0, 1] ``[frames, bins]`` (Wyse);
  * ``"unit_db_image"``: that, as an image ``[H=bins, W=frames, 3]`` (VGG-19), turned
    back into one channel by luminosity.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from jax.typing import ArrayLike

from specst_jax import scaling
from specst_jax.models import vgg19 as vgg19_lib
from specst_jax.models.ulyanov import UlyanovNet, ulyanov_params
from specst_jax.models.wyse import WyseClassifier
from specst_jax.style import optimize

REPRESENTATIONS = ("log1p", "unit_db", "unit_db_image")
VGG_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
VGG_CONTENT_LAYER = "conv4_2"


@dataclasses.dataclass(frozen=True)
class NetSetup:
  """Everything the optimisation needs about one network.

  Attributes:
    name: ``"ulyanov"``, ``"wyse"`` or ``"vgg19"``.
    features_fn: hashable feature function (:class:`optimize.NetFeatures`).
    params: network variables (a pytree; passed as an argument, never baked in).
    config: the loss (:class:`optimize.LossConfig`).
    representation: one of :data:`REPRESENTATIONS`.
    weights: human-readable description of the weights in use (goes into metrics).
    receptive_field: minimum frames the network accepts.
  """

  name: str
  features_fn: optimize.NetFeatures
  params: Any = dataclasses.field(compare=False, hash=False)
  config: optimize.LossConfig
  representation: str
  weights: str
  receptive_field: int = 1


def to_representation(S: ArrayLike, representation: str) -> jax.Array:
  """Magnitude ``[..., frames, bins]`` -> the representation (see module docstring)."""
  S = jnp.asarray(S)
  if representation == "log1p":
    return scaling.log1p_magnitude(S)
  if representation == "unit_db":
    return _unit_db(S)
  if representation == "unit_db_image":
    return vgg19_lib.spectrogram_to_image(_unit_db(S))
  raise ValueError(f"representation must be one of {REPRESENTATIONS}, got {representation!r}")


def _unit_db(S: jax.Array) -> jax.Array:
  # Per-spectrogram max over the last two axes (batch-safe); silent input -> all ones.
  db = 20.0 * jnp.log10(jnp.maximum(S, 1e-5))
  ref = jnp.max(db, axis=(-2, -1), keepdims=True)
  return jnp.maximum(db - ref, -80.0) / 80.0 + 1.0


def from_representation(x: ArrayLike, representation: str, *, ref: float | ArrayLike = 1.0
                        ) -> jax.Array:
  """The representation -> magnitude ``[..., frames, bins]`` (``ref``: linear max for dB ones).

  Values outside the valid range are clipped first ([0, 1] for the dB ones, >= 0 for log1p).
  """
  x = jnp.asarray(x)
  if representation == "log1p":
    return scaling.expm1_magnitude(x)
  if representation == "unit_db_image":
    x = vgg19_lib.image_to_spectrogram(x)
  elif representation != "unit_db":
    raise ValueError(f"representation must be one of {REPRESENTATIONS}, got {representation!r}")
  u = jnp.clip(x, 0.0, 1.0)
  return jnp.where(u > 0.0, scaling.unit_db_to_amplitude(u, ref=1.0), 0.0) * jnp.asarray(ref)


def random_wyse_params(key: jax.Array, params: Any, *, limit: float = 0.1) -> Any:
  """The paper's random-weights condition: every leaf re-drawn from ``U(-limit, limit)``."""
  leaves, treedef = jax.tree.flatten(params)
  keys = jax.random.split(key, len(leaves))
  new = [jax.random.uniform(k, jnp.shape(a), jnp.float32, -limit, limit)
         for k, a in zip(keys, leaves, strict=True)]
  return jax.tree.unflatten(treedef, new)


def ulyanov_setup(key: jax.Array, n_bins: int, *, filters: int = 4096, kernel_width: int = 11,
                  content_weight: float = 1e-2, style_weight: float = 1.0,
                  normalization: str = "input_frames", impl: str = "matmul",
                  compute_dtype=jnp.float32) -> NetSetup:
  """Ulyanov's random 1-D net and loss (ANCHORS.md section 1)."""
  module = UlyanovNet(filters=filters, kernel_width=kernel_width, impl=impl,
                      compute_dtype=compute_dtype)
  config = optimize.LossConfig(style_layers=(("conv", style_weight),),
                               content_layers=(("conv", content_weight),) if content_weight else (),
                               style_normalization=normalization, content_normalization="sum")
  return NetSetup("ulyanov", optimize.NetFeatures(module, ("conv",)),
                  ulyanov_params(key, n_bins, filters, kernel_width), config, "log1p",
                  f"random normal (Ulyanov std), {filters} filters x width {kernel_width}",
                  kernel_width)


def wyse_setup(key: jax.Array, n_bins: int, *, module: WyseClassifier | None = None,
               params: Any | None = None, mean: ArrayLike | None = None,
               std: ArrayLike | None = None, weights: str = "", content_weight: float = 1.0,
               style_weight: float = 1.0, range_weight: float = 1.0) -> NetSetup:
  """The paper's classifier: style conv1 (x1) + conv2 (x2), content conv2, Gatys normalisation.

  Args:
    key: PRNG key of the random-weights condition.
    n_bins: frequency bins of the spectrogram (the net's input channels).
    module: the classifier (default ``WyseClassifier()``, 2048 and 64 channels).
    params: its variables ``{"params": ...}``; ``None`` gives the paper's
      random-weights condition (every weight U(-0.1, 0.1)).
    mean, std: per-bin input standardisation the weights were trained with (or None).
    weights: description of ``params`` for the metrics.
  """
  module = WyseClassifier() if module is None else module
  if params is None:
    shapes = jax.eval_shape(lambda: module.init(key, jnp.zeros((1, 8, n_bins)), heads=False))
    params = random_wyse_params(key, jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes))
    weights = "random U(-0.1, 0.1) (the paper's random-weights condition)"
  kernel = params["params"]["conv1"]["kernel"]
  if kernel.shape[1] != n_bins:
    raise ValueError(f"Wyse weights expect {kernel.shape[1]} bins but the spectrogram has "
                     f"{n_bins} (n_fft must be {2 * (kernel.shape[1] - 1)})")
  config = optimize.LossConfig(
      style_layers=(("conv1", 1.0 * style_weight), ("conv2", 2.0 * style_weight)),
      content_layers=(("conv2", content_weight),) if content_weight else (),
      style_normalization="gatys", content_normalization="wyse", range_weight=range_weight)
  args = (module, ("conv1", "conv2"), (("heads", False),))
  if mean is not None:
    features = optimize.StandardizedNetFeatures(*args)
    params = {"variables": params, "mean": jnp.asarray(mean, jnp.float32),
              "std": jnp.maximum(jnp.asarray(std, jnp.float32), 1e-6)}
  else:
    features = optimize.NetFeatures(*args)
  return NetSetup("wyse", features, params, config, "unit_db", weights, 4)


def vgg19_setup(key: jax.Array, *, params: Any | None = None, preprocessing: str = "torch",
                weights: str = "", content_weight: float = 1.0, style_weight: float = 1e3,
                style_layers: Sequence[str] = VGG_STYLE_LAYERS,
                content_layer: str = VGG_CONTENT_LAYER) -> NetSetup:
  """VGG-19 (Gatys et al.): style = Grams of ``style_layers`` (equal weights), content one layer.

  ``params=None`` uses random (He-normal-like Flax default) weights: say so.
  """
  last = max(list(style_layers) + [content_layer], key=vgg19_lib.CONV_LAYERS.index)
  module = vgg19_lib.VGG19(preprocessing=preprocessing, last_layer=last)
  if params is None:
    params = module.init(key, jnp.zeros((1, 32, 32, 3)))
    weights = "random (Flax default init; NOT ImageNet weights)"
  n = len(style_layers)
  config = optimize.LossConfig(
      style_layers=tuple((name, style_weight / n) for name in style_layers),
      content_layers=((content_layer, content_weight),) if content_weight else (),
      style_normalization="gatys", content_normalization="sum", range_weight=1.0)
  layers = tuple(dict.fromkeys(list(style_layers) + [content_layer]))
  return NetSetup("vgg19", optimize.NetFeatures(module, layers), params, config,
                  "unit_db_image", weights, 2 ** (int(last[4]) - 1))


def check_frames(setup: NetSetup, x: ArrayLike, name: str) -> None:
  """Raises if ``x`` (a representation; frames on axis -2 for both layouts) is too short."""
  frames = jnp.shape(x)[-2]
  if frames < setup.receptive_field:
    raise ValueError(f"{name}: {frames} frames is shorter than the {setup.name} network's "
                     f"receptive field ({setup.receptive_field} frames)")


def stylize_batch(params: Any, contents: jax.Array, styles: jax.Array, keys: jax.Array, *,
                  features_fn: optimize.FeaturesFn, config: optimize.LossConfig,
                  optimizer: str = "lbfgs", n_iter: int = 300, learning_rate: float = 2.0,
                  init: str = "noise", noise: float = 0.2, noise_scale: float = 1e-3,
                  distribution: str = "normal") -> optimize.StyleResult:
  """A batch of (content, style) pairs in one call: vmapped targets, init and loop.

  Args:
    contents: ``[batch, ...]`` content representations (equal shapes).
    styles: ``[batch, ...]`` one style representation per pair (equal shapes).
    keys: ``[batch]`` PRNG keys (init noise).
    Others: as :func:`optimize.run_style_transfer` and :func:`optimize.initial_value`
      (all static except the arrays).

  Returns:
    a :class:`optimize.StyleResult` with a leading batch axis.
  """

  def one(content, style, key):
    targets = optimize.make_targets(features_fn, params, content, [style], config)
    x0 = optimize.initial_value(key, content, init=init, noise=noise, noise_scale=noise_scale,
                                distribution=distribution)
    return optimize.run_style_transfer(params, x0, targets, features_fn=features_fn,
                                       config=config, optimizer=optimizer, n_iter=n_iter,
                                       learning_rate=learning_rate)

  return jax.vmap(one)(contents, styles, keys)


STATIC = ("features_fn", "config", "optimizer", "n_iter", "learning_rate", "init", "noise",
          "noise_scale", "distribution")


def sharded_stylize_batch(params: Any, contents: jax.Array, styles: jax.Array, keys: jax.Array,
                          *, devices: Sequence[jax.Device] | None = None, **static
                          ) -> optimize.StyleResult:
  """:func:`stylize_batch` with the pairs' batch axis sharded over ``devices``.

  Uses ``NamedSharding(Mesh(devices, ("batch",)), P("batch"))`` for the inputs
  (parameters replicated); the batch size must divide by the device count.
  """
  devices = list(jax.devices() if devices is None else devices)
  if contents.shape[0] % len(devices):
    raise ValueError(f"batch {contents.shape[0]} does not divide over {len(devices)} devices")
  mesh = Mesh(np.asarray(devices), ("batch",))
  batch = NamedSharding(mesh, P("batch"))
  replicated = NamedSharding(mesh, P())
  fn = jax.jit(functools.partial(stylize_batch, **static),
               in_shardings=(replicated, batch, batch, batch), out_shardings=batch)
  return fn(params, contents, styles, keys)
