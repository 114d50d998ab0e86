"""The one registry of style-transfer networks: :data:`NETS`.

Per network: the STFT it runs at, its representation (a key of
:data:`specst_jax.representations.REPRESENTATIONS`), the optimiser, loss-weight and phase
defaults, how its weights load, and how its loss is built (:func:`build`).

* ``"ulyanov"``: Ulyanov & Lebedev's random 1-D convolution over ``log(1 + |S|)``
  (22050 Hz, n_fft 2048, hop 512; L-BFGS from small noise; always random weights).
* ``"wyse"``: the paper's ESC-50 classifier (Wyse 2017) over the dB image in [0, 1]
  (22050 Hz, n_fft 512, hop 128, not centred; with trained weights, the weights' own STFT);
  style = Grams of conv1 (x1) and conv2 (x2), content = conv2. Weights: trained
  (:func:`specst_jax.pretrained.load_wyse_bundle`: the shipped file by default, random with a
  warning when it is not installed) or the paper's random condition, every weight U(-0.1, 0.1).
* ``"vgg19"``: Gatys et al.'s VGG-19 on the dB image as RGB (n_fft 512, hop 128, centred);
  weights from a user's ImageNet file, otherwise random (said so in the weights label).

Networks and losses know nothing of files, flags or phase: weight files are read by the
``pretrained`` package, and :func:`load_weights` only dispatches to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from specst_jax.models import vgg19 as vgg19_lib
from specst_jax.models.ulyanov import UlyanovNet, ulyanov_params
from specst_jax.models.wyse import WyseClassifier
from specst_jax.representations import Stft
from specst_jax.style import optimize

VGG_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
VGG_CONTENT_LAYER = "conv4_2"
RANDOM = "random"


@dataclasses.dataclass(frozen=True)
class Defaults:
  """A network's defaults (every one can be overridden in :class:`transfer.Settings`).

  Attributes:
    optimizer: ``"lbfgs"`` or ``"adam"``.
    n_iter: optimiser iterations.
    learning_rate: Adam's step size (L-BFGS ignores it).
    init: ``"noise"``, ``"content"`` or ``"mix"`` (see :func:`optimize.initial_value`).
    noise: ``r`` of ``init="mix"``: ``r U(-1, 1) + (1 - r) content``.
    content_weight: weight of the content loss (more keeps more of the content's layout).
    style_weight: weight of the Gram (style) loss (more pulls the texture to the style's).
    filters: Ulyanov's filter count (None for the others).
    phase_method: phase reconstruction method (:data:`specst_jax.phase.METHODS`).
    phase_iter: its iterations.
  """

  optimizer: str
  n_iter: int
  learning_rate: float
  init: str
  noise: float
  content_weight: float
  style_weight: float
  filters: int | None
  phase_method: str
  phase_iter: int


@dataclasses.dataclass(frozen=True)
class Weights:
  """Loaded (non-random) weights of a network.

  Attributes:
    label: description for logs and metrics, e.g. ``"trained (shipped)"``.
    params: the network's variables (Wyse: its ``params`` collection; VGG-19: ``{"params": ...}``).
    module: the Flax module the params belong to (Wyse), or None.
    mean, std: per-bin input standardisation the weights were trained with (Wyse), or None.
    preprocessing: VGG-19's input normalisation for these weights.
    stft: the STFT the weights were trained with (Wyse), or None.
    representation: their input representation (Wyse), or None.
    provenance: the weights' provenance dict (Wyse), or None.
  """

  label: str
  params: Any = dataclasses.field(repr=False)
  module: Any = None
  mean: Any = dataclasses.field(default=None, repr=False)
  std: Any = dataclasses.field(default=None, repr=False)
  preprocessing: str = "torch"
  stft: Stft | None = None
  representation: str | None = None
  provenance: Mapping[str, Any] | None = dataclasses.field(default=None, repr=False)


@dataclasses.dataclass(frozen=True)
class Net:
  """Everything the optimisation needs about one network (the weights drawn or loaded).

  Attributes:
    name: a key of :data:`NETS`.
    features_fn: hashable feature function (:class:`optimize.NetFeatures`).
    params: network variables (a pytree; an argument of the compiled loop, never baked in).
    config: the loss (:class:`optimize.LossConfig`).
    representation: the input representation.
    weights: human-readable description of the weights in use (goes into metrics).
    receptive_field: the fewest frames the network accepts.
  """

  name: str
  features_fn: optimize.NetFeatures
  params: Any = dataclasses.field(compare=False, hash=False, repr=False)
  config: optimize.LossConfig
  representation: str
  weights: str
  receptive_field: int = 1

  @property
  def random_weights(self) -> bool:
    return self.weights.lower().startswith("random")

  def check_frames(self, x: ArrayLike, name: str) -> None:
    """Raises if ``x`` (a representation; frames on axis -2 for both layouts) is too short."""
    frames = jnp.shape(x)[-2]
    if frames < self.receptive_field:
      raise ValueError(f"{name}: {frames} frames is shorter than the {self.name} network's "
                       f"receptive field ({self.receptive_field} frames)")


# ------------------------------------------------------------------------------ builders


def random_wyse_params(key: jax.Array, params: Any, *, limit: float = 0.1) -> Any:
  """The paper's random-weights condition: every leaf re-drawn from ``U(-limit, limit)``."""
  leaves, treedef = jax.tree.flatten(params)
  keys = jax.random.split(key, len(leaves))
  new = [jax.random.uniform(k, jnp.shape(a), jnp.float32, -limit, limit)
         for k, a in zip(keys, leaves, strict=True)]
  return jax.tree.unflatten(treedef, new)


def ulyanov_net(key: jax.Array, n_bins: int, *, filters: int = 4096, kernel_width: int = 11,
                content_weight: float = 1e-2, style_weight: float = 1.0,
                normalization: str = "input_frames", impl: str = "matmul",
                compute_dtype=jnp.float32) -> Net:
  """Ulyanov & Lebedev's random 1-D net: style and content on its one conv layer."""
  module = UlyanovNet(filters=filters, kernel_width=kernel_width, impl=impl,
                      compute_dtype=compute_dtype)
  config = optimize.LossConfig(style_layers=(("conv", style_weight),),
                               content_layers=(("conv", content_weight),) if content_weight else (),
                               style_normalization=normalization, content_normalization="sum")
  return Net("ulyanov", optimize.NetFeatures(module, ("conv",)),
             ulyanov_params(key, n_bins, filters, kernel_width), config, "log1p",
             f"random normal (Ulyanov std), {filters} filters x width {kernel_width}",
             kernel_width)


def wyse_net(key: jax.Array, n_bins: int, *, module: WyseClassifier | None = None,
             params: Any | None = None, mean: ArrayLike | None = None,
             std: ArrayLike | None = None, weights: str = "", content_weight: float = 1.0,
             style_weight: float = 1.0, range_weight: float = 1.0) -> Net:
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
  return Net("wyse", features, params, config, "unit_db", weights, 4)


def vgg19_net(key: jax.Array, *, params: Any | None = None, preprocessing: str = "torch",
              weights: str = "", content_weight: float = 1.0, style_weight: float = 1e3,
              style_layers: Sequence[str] = VGG_STYLE_LAYERS,
              content_layer: str = VGG_CONTENT_LAYER) -> Net:
  """VGG-19 (Gatys et al.): style = Grams of ``style_layers`` (equal weights), content one layer.

  ``params=None`` uses random (He-normal-like Flax default) weights, and the label says so.
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
  return Net("vgg19", optimize.NetFeatures(module, layers), params, config,
             "unit_db_image", weights, 2 ** (int(last[4]) - 1))


# ------------------------------------------------------------------------------ weights


def _no_weights(flag: str | None, warn) -> None:
  if flag and flag != RANDOM:
    raise ValueError("the Ulyanov net always uses random weights (got weights "
                     f"{flag!r})")
  return None


def _wyse_weights(flag: str | None, warn) -> Weights | None:
  from specst_jax import pretrained  # host-side file reading, on use
  b = pretrained.load_wyse_bundle(flag, warn=warn)
  if b is None:
    return None
  if b.representation != "unit_db":
    raise ValueError(f"the Wyse weights {flag!r} use representation {b.representation!r}; "
                     "style transfer needs 'unit_db'")
  return Weights(b.label, b.params, module=b.module, mean=b.mean, std=b.std, stft=b.stft,
                 representation=b.representation, provenance=b.provenance)


def _vgg19_weights(flag: str | None, warn) -> Weights | None:
  if not flag or flag == RANDOM:
    if not flag and warn is not None:
      warn("VGG-19 without weights: RANDOM weights (no ImageNet file given)")
    return None
  from specst_jax.pretrained import vgg19 as vgg19_weights  # host-side file reading, on use
  try:
    params, prep = vgg19_weights.load_vgg19_weights(flag)
  except vgg19_weights.WeightsError as e:
    raise ValueError(str(e)) from e
  return Weights(f"ImageNet ({flag})", params, preprocessing=prep)


# ------------------------------------------------------------------------------ registry


def _build_ulyanov(key, n_bins, weights, *, content_weight, style_weight, filters, **_):
  return ulyanov_net(key, n_bins, filters=filters, content_weight=content_weight,
                     style_weight=style_weight)


def _build_wyse(key, n_bins, weights, *, content_weight, style_weight, **_):
  kw = dict(content_weight=content_weight, style_weight=style_weight)
  if weights is None:
    return wyse_net(key, n_bins, **kw)
  return wyse_net(key, n_bins, module=weights.module, params={"params": weights.params},
                  mean=weights.mean, std=weights.std, weights=weights.label, **kw)


def _build_vgg19(key, n_bins, weights, *, content_weight, style_weight, vgg_layers=None, **_):
  kw = dict(content_weight=content_weight, style_weight=style_weight)
  if vgg_layers is not None:
    kw.update(style_layers=tuple(vgg_layers[0]), content_layer=vgg_layers[1])
  if weights is None:
    return vgg19_net(key, **kw)
  return vgg19_net(key, params=weights.params, preprocessing=weights.preprocessing,
                   weights=weights.label, **kw)


@dataclasses.dataclass(frozen=True)
class NetSpec:
  """One entry of :data:`NETS`.

  Attributes:
    name: the key.
    stft: the STFT the network runs at by default.
    representation: its input representation.
    defaults: optimiser, loss-weight and phase defaults.
    load: ``(weights_argument, warn) -> Weights | None`` (None: random weights).
    build: ``(key, n_bins, weights, **loss_options) -> Net``.
    about: one line for ``--help`` and the docs.
  """

  name: str
  stft: Stft
  representation: str
  defaults: Defaults
  load: Callable[[str | None, Any], Weights | None]
  build: Callable[..., Net]
  about: str


NETS: Mapping[str, NetSpec] = MappingProxyType({s.name: s for s in (
    NetSpec("ulyanov", Stft(sr=22050, n_fft=2048, hop_length=512, center=True), "log1p",
            Defaults(optimizer="lbfgs", n_iter=300, learning_rate=0.1, init="noise", noise=0.2,
                     content_weight=1e-2, style_weight=1.0, filters=4096, phase_method="gla",
                     phase_iter=500),
            _no_weights, _build_ulyanov,
            "Ulyanov & Lebedev 2016: random 1-D conv over log(1 + |S|), always random weights"),
    # Wyse 2017: 22050 Hz, n_fft 512, hop 128, not centred. The paper's Adam lr 2.0 does not
    # behave on values in [0, 1] (demo, random weights: the loss jumps from 1.26 to 2.8e5 on
    # the first step and the result is noise, final 0.53 after 100 steps); lr 0.01 gives 0.19.
    NetSpec("wyse", Stft(sr=22050, n_fft=512, hop_length=128, center=False), "unit_db",
            Defaults(optimizer="adam", n_iter=600, learning_rate=0.01, init="content",
                     noise=0.2, content_weight=1.0, style_weight=1.0, filters=None,
                     phase_method="fgla", phase_iter=100),
            _wyse_weights, _build_wyse,
            "Wyse 2017: the ESC-50 classifier over dB in [0, 1]; trained (shipped) or random"),
    # Gatys et al. 2015 on the dB image.
    NetSpec("vgg19", Stft(sr=22050, n_fft=512, hop_length=128, center=True), "unit_db_image",
            Defaults(optimizer="lbfgs", n_iter=200, learning_rate=0.02, init="content",
                     noise=0.2, content_weight=1.0, style_weight=1e3, filters=None,
                     phase_method="fgla", phase_iter=100),
            _vgg19_weights, _build_vgg19,
            "Gatys et al. 2015: VGG-19 on the dB image; ImageNet weights from a file, else random"),
)})


def get(name: str) -> NetSpec:
  """The registry entry ``name``; ValueError naming the known networks."""
  try:
    return NETS[name]
  except (KeyError, TypeError):
    raise ValueError(f"net must be one of {tuple(NETS)}, got {name!r}") from None


def load_weights(name: str, weights: str | None = None, *,
                 warn: Callable[[str], None] | None = None) -> Weights | None:
  """The weights a run asks for: None for random ones.

  Args:
    name: a key of :data:`NETS`.
    weights: ``None`` (the net's default: Wyse's shipped file when installed, random for the
      others), ``"random"``, a shipped Wyse name or a weights file.
    warn: called with one line when falling back to random weights (default: absl's warning).
  """
  if warn is None:
    from absl import logging
    warn = logging.warning
  return get(name).load(weights, warn)


def build(name: str, key: jax.Array, n_bins: int, weights: Weights | None = None, *,
          content_weight: float, style_weight: float, filters: int | None = None,
          vgg_layers: tuple[tuple[str, ...], str] | None = None) -> Net:
  """Builds network ``name`` for spectrograms of ``n_bins`` bins.

  Args:
    key: draws the random weights (when ``weights`` is None).
    weights: from :func:`load_weights`, or None for random weights.
    content_weight, style_weight: the loss weights.
    filters: Ulyanov's filter count.
    vgg_layers: ``(style_layers, content_layer)`` of VGG-19 (default: conv1_1..conv5_1, conv4_2).
  """
  return get(name).build(key, n_bins, weights, content_weight=content_weight,
                         style_weight=style_weight, filters=filters, vgg_layers=vgg_layers)
