"""Real-time style transfer: a feed-forward generator per style, trained on the engine's loss.

The optimisation (:mod:`specst_jax.style.transfer`) spends hundreds of loss-network
evaluations on every clip. Here the same loss trains a small generator once per style
(Ulyanov et al.'s texture networks and Johnson et al.'s perceptual losses, 2016, on
spectrograms): afterwards one forward pass stylises any content, whole file or stream::

  settings = transfer.Settings.for_net("ulyanov", {"filters": 1024})
  settings, net = loss_net(settings)                       # the engine's loss net, same seed
  paths = content_files("../shared/data", exclude=[style_file])
  train_files, heldout_files = split_files(paths)
  corpus = load_corpus(train_files, sr=settings.stft.sr, crop_seconds=2.0)
  heldout = load_corpus(heldout_files, sr=settings.stft.sr, crop_seconds=2.0)
  result = train(workdir, settings, make_generator(net.representation), style_audio, corpus,
                 TrainConfig(steps=2000), heldout=heldout)
  out = stylize_fast(result.model, content_audio)   # or load_model(workdir / "model.msgpack")

**The generator** (:class:`FeedForwardGenerator`) maps a content spectrogram in the loss net's
representation ``[..., frames, bins]`` to a stylised one of the same shape: 1-D convolutions
over time with the bins as channels (like :class:`~specst_jax.models.ulyanov.UlyanovNet`), an
input layer, residual blocks of dilated convolutions and a per-frame output layer added to the
content (zero-initialised: training starts from the content, as ``init="content"`` does). Every
convolution is VALID and causal: output frame ``t`` depends on input frames
``t - R + 1 .. t`` only, ``R`` = :func:`receptive_field`. A whole clip is left-padded with
``R - 1`` frames of silence (:data:`PAD_VALUE`); a stream keeps the last ``R - 1`` input
frames as context (:func:`stream_step`), so block-by-block output equals the whole-clip
output, and the only latency the generator adds is the block itself. The output is kept in
the representation's valid range (:data:`VALUE_RANGES`) by a smooth clamp.

**The loss** is the engine's, unchanged: for each content clip ``x_c``,
``optimize.loss_terms(G(x_c), params, Targets(content of x_c, style))`` with the style target of
:func:`optimize.make_targets` (the net, its weights and loss weights from
:func:`nets.build` exactly as :func:`transfer.stylize` draws them from ``settings.seed``),
averaged over a batch of content crops (:func:`batch_loss_terms`; tested against
:func:`engine_loss_terms`, the optimisation's own call).

**Training** (:func:`train`) is a Python loop over one jitted, pure Adam step
(:func:`train_step`), resumable from orbax checkpoints (the classifier's helpers), with live
progress and a held-out loss; a ``deadline`` stops it after a checkpoint, so it can run in
chunks. Batch ``s`` is drawn from ``(seed, s)`` alone, so a resumed run takes the same steps
as an uninterrupted one. A workdir (or a shipped model folder under :data:`SHIPPED_DIR`)
holds ``model.msgpack``, ``model.json`` and the style clip ``style.wav`` (:func:`load_style`).

**The corpus** (host side, numpy): :func:`content_files` lists the shared LJSpeech, ESC-50
and music clips, :func:`split_files` holds some out by a hash of the file name, and
:class:`Corpus` serves fixed-length crops of the active parts of each clip, each with the
receptive field's left context of its clip (:func:`context_samples`; silence before the clip's
start): the loss scores only the frames after it, each of which saw real audio (or a stream's
opening silence) in its receptive field, as every frame of a long clip does. (Without it, a
2 s crop has silence in the receptive field of most frames, and a generator trained so fades
out after ``R`` frames of a long clip.)
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from specst_jax import files, representations
from specst_jax.style import losses, nets, optimize, transfer

# The valid range of each representation the generator can produce: ``(low, high)``,
# ``high=None`` for no upper bound (``log(1 + |S|) >= 0``; the paper's dB in [0, 1]).
VALUE_RANGES: Mapping[str, tuple[float, float | None]] = MappingProxyType(
    {"log1p": (0.0, None), "unit_db": (0.0, 1.0)})
# The frames before a clip or a stream starts: silence in both representations.
PAD_VALUE = 0.0
FORMAT = "specst_jax.feedforward/1"
MODEL_FILE = "model.msgpack"  # in a training workdir or a shipped model folder, with its .json
STYLE_CLIP = "style.wav"  # beside it: the style clip as trained on (float, the model's rate)
# Shipped models: one folder per style (model.msgpack, model.json, style.wav).
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "weights" / "feedforward"
DEFAULT_MODEL = "rooster"  # the shipped model the demo runs (the paper's style example)
GENERATOR_FIELDS = ("channels", "kernel_width", "dilations", "value_range", "sharpness")


# ---------------------------------------------------------------------------- generator


def receptive_field(generator: FeedForwardGenerator) -> int:
  """Input frames each output frame depends on: frame ``t`` sees ``t - R + 1 .. t``.

  ``R = 1 + (kernel_width - 1) (1 + 2 sum(dilations))`` (the input layer, then two dilated
  convolutions per residual block). ``R - 1`` is the left context a stream must keep.
  """
  k, dilations = int(generator.kernel_width), tuple(generator.dilations)
  if k < 1 or int(generator.channels) < 1 or any(int(d) < 1 for d in dilations):
    raise ValueError(f"kernel_width, channels and dilations must be >= 1, got {k}, "
                     f"{generator.channels}, {dilations}")
  return 1 + (k - 1) * (1 + 2 * sum(int(d) for d in dilations))


def context_samples(generator: FeedForwardGenerator, stft: representations.Stft) -> int:
  """The audio before a crop that gives each of its frames a full receptive field:
  ``(R - 1)`` hops, so a crop of ``n`` frames encodes, with it, to ``n + R - 1`` frames
  (either centre setting: a frame count grows by one per hop)."""
  return (receptive_field(generator) - 1) * int(stft.hop_length)


def bound(y: jax.Array, value_range: tuple[float, float | None], sharpness: float) -> jax.Array:
  """A smooth clamp into ``[low, high]``: ``y`` itself well inside, ``low``/``high`` far out.

  ``low + softplus(k (y - low)) / k``, then the mirror image below ``high``; ``k`` =
  ``sharpness`` (per unit of the representation). At the bound the output is ``ln 2 / k``
  inside it (0.014 for k = 50), and the gradient never vanishes abruptly as a hard clip's does.
  """
  low, high = value_range
  k = float(sharpness)
  y = low + jax.nn.softplus(k * (y - low)) / k
  if high is not None:
    y = high - jax.nn.softplus(k * (high - y)) / k
  return jnp.clip(y, low, high)  # exact bounds whatever the rounding


def _unfold(h: jax.Array, width: int, dilation: int) -> jax.Array:
  """``[b, frames, c]`` -> ``[b, frames - (width - 1) dilation, width c]`` (a VALID conv's
  windows, oldest frame first; a Dense on them is the convolution, one matmul on CPU)."""
  n = h.shape[-2] - (width - 1) * dilation
  return jnp.concatenate([h[..., j * dilation:j * dilation + n, :] for j in range(width)],
                         axis=-1)


class FeedForwardGenerator(nn.Module):
  """Causal, fully convolutional spectrogram-to-spectrogram generator (bins as channels).

  ``input`` (width ``kernel_width``, bins -> channels), then per dilation ``d`` a residual
  block ``h + conv_d(gelu(conv_d(gelu(h))))`` (two convolutions of width ``kernel_width``,
  dilation ``d``), then ``output`` (per frame, channels -> bins, zero-initialised) added to the
  content frame and passed through :func:`bound`. Unlike the loss nets it returns only its
  output: no loss ever looks at its layers.

  Attributes:
    channels: hidden channels.
    kernel_width: frames per convolution.
    dilations: one residual block per entry.
    value_range: the representation's valid range (:data:`VALUE_RANGES`).
    sharpness: of the smooth clamp (:func:`bound`).
  """

  channels: int = 256
  kernel_width: int = 3
  dilations: tuple[int, ...] = (1, 2, 4, 8)
  value_range: tuple[float, float | None] = (0.0, None)
  sharpness: float = 50.0

  @nn.compact
  def __call__(self, x: jax.Array, *, with_context: bool = False) -> jax.Array:
    """Runs the generator.

    Args:
      x: content ``[batch, frames, bins]`` in the loss net's representation.
      with_context: ``x`` already starts with ``R - 1`` frames of left context (a stream's);
        otherwise ``R - 1`` frames of :data:`PAD_VALUE` are put before it.

    Returns:
      the stylised ``[batch, frames, bins]`` (``frames - R + 1`` with context).
    """
    if x.ndim != 3:
      raise ValueError(f"FeedForwardGenerator expects [batch, frames, bins], got {x.shape}")
    r = receptive_field(self)
    if not with_context:
      x = jnp.pad(x, ((0, 0), (r - 1, 0), (0, 0)), constant_values=PAD_VALUE)
    if x.shape[1] < r:
      raise ValueError(f"{x.shape[1]} frames with context is shorter than the receptive "
                       f"field ({r} frames)")
    k = self.kernel_width
    h = nn.Dense(self.channels, name="input")(_unfold(x, k, 1))
    for i, d in enumerate(self.dilations):
      u = nn.Dense(self.channels, name=f"block{i}_a")(_unfold(nn.gelu(h), k, d))
      u = nn.Dense(self.channels, name=f"block{i}_b")(_unfold(nn.gelu(u), k, d))
      h = h[:, h.shape[1] - u.shape[1]:] + u
    delta = nn.Dense(x.shape[-1], kernel_init=nn.initializers.zeros, name="output")(nn.gelu(h))
    return bound(x[:, x.shape[1] - h.shape[1]:] + delta, self.value_range, self.sharpness)


def make_generator(representation: str, **fields: Any) -> FeedForwardGenerator:
  """A generator for the loss net's ``representation`` (``"log1p"`` or ``"unit_db"``)."""
  if representation not in VALUE_RANGES:
    raise ValueError(f"the feed-forward generator produces {tuple(VALUE_RANGES)} frames "
                     f"([frames, bins]), not {representation!r}")
  return FeedForwardGenerator(value_range=VALUE_RANGES[representation], **fields)


def init_params(generator: FeedForwardGenerator, key: jax.Array, n_bins: int) -> Any:
  """The generator's variables for spectrograms of ``n_bins`` bins."""
  return jax.jit(generator.init)(key, jnp.zeros((1, 1, int(n_bins)), jnp.float32))


def param_count(params: Any) -> int:
  return int(sum(np.size(a) for a in jax.tree.leaves(params)))


def _apply(generator, params, x, with_context):
  x = jnp.asarray(x, jnp.float32)
  if x.ndim < 2:
    raise ValueError(f"expected a spectrogram [..., frames, bins], got shape {x.shape}")
  y = generator.apply(params, x.reshape((-1,) + x.shape[-2:]), with_context=with_context)
  return y.reshape(x.shape[:-2] + y.shape[-2:])


def generate(generator: FeedForwardGenerator, params: Any, x: ArrayLike) -> jax.Array:
  """Stylises a whole clip: ``[..., frames, bins]`` -> ``[..., frames, bins]`` (unjitted)."""
  return _apply(generator, params, x, False)


# ---------------------------------------------------------------------------- streaming


class StreamState(NamedTuple):
  """The last ``R - 1`` input frames ``[..., R - 1, bins]`` (silence before the start)."""

  context: jax.Array


def stream_init(generator: FeedForwardGenerator, n_bins: int, batch_shape: tuple[int, ...] = ()
                ) -> StreamState:
  """The state before the first block: ``R - 1`` frames of :data:`PAD_VALUE`."""
  r = receptive_field(generator)
  return StreamState(jnp.full(tuple(batch_shape) + (r - 1, int(n_bins)), PAD_VALUE, jnp.float32))


def stream_step(generator: FeedForwardGenerator, params: Any, state: StreamState,
                block: ArrayLike) -> tuple[StreamState, jax.Array]:
  """One block ``[..., frames, bins]`` in, its stylised frames out (pure; jit it).

  The output of a frame is final as soon as the frame is in: the generator is causal, so a
  stream's spectrogram latency is the block length. Equal to :func:`generate` on the
  concatenated blocks (the same operations per frame; float rounding may differ).
  """
  x = jnp.concatenate([state.context, jnp.asarray(block, jnp.float32)], axis=-2)
  y = _apply(generator, params, x, True)
  keep = state.context.shape[-2]
  return StreamState(x[..., x.shape[-2] - keep:, :]), y


@functools.cache
def _generate_fn(generator: FeedForwardGenerator):
  return jax.jit(functools.partial(generate, generator))


@functools.cache
def _stream_fn(generator: FeedForwardGenerator):
  return jax.jit(functools.partial(stream_step, generator))


# ---------------------------------------------------------------------------- models


@dataclasses.dataclass(frozen=True)
class StyleModel:
  """A trained generator and what it runs with.

  Attributes:
    generator: the module.
    params: its variables.
    settings: the engine settings of the training run (STFT, net, loss weights, phase
      defaults): content must be at ``settings.stft.sr``.
    representation: the loss net's representation (the generator's input and output).
    style: a description of the style it was trained on (file name).
    info: what the model file's JSON holds besides (training record, provenance).
  """

  generator: FeedForwardGenerator
  params: Any = dataclasses.field(compare=False, hash=False, repr=False)
  settings: transfer.Settings
  representation: str
  style: str = ""
  info: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False, hash=False,
                                              repr=False)

  @property
  def receptive_field(self) -> int:
    return receptive_field(self.generator)

  @property
  def n_bins(self) -> int:
    return self.settings.stft.n_bins

  def generator_fn(self) -> Callable[[Any, jax.Array], jax.Array]:
    """The jitted ``(params, x [..., frames, bins]) -> y`` (for timing steady-state calls)."""
    return _generate_fn(self.generator)


def stylize_stream(model: StyleModel, x: ArrayLike, block_frames: int) -> jax.Array:
  """Runs ``x [..., frames, bins]`` through the generator ``block_frames`` frames at a time.

  Each block is one call of the jitted :func:`stream_step` (the last one is padded with
  silence at its end and trimmed: padding after a frame never changes it, the generator being
  causal). Returns the concatenated output ``[..., frames, bins]``.

  Latency: the generator adds none beyond the block (``block_frames * hop_length / sr``
  seconds); the STFT's window and the phase method add their own. ``log1p`` frames can be
  encoded as they arrive; ``unit_db`` frames are dB re the clip's maximum, so a stream needs
  a reference level fixed in advance.
  """
  block_frames = int(block_frames)
  if block_frames < 1:
    raise ValueError(f"block_frames must be >= 1, got {block_frames}")
  x = jnp.asarray(x, jnp.float32)
  step = _stream_fn(model.generator)
  state = stream_init(model.generator, x.shape[-1], x.shape[:-2])
  outs = []
  for start in range(0, x.shape[-2], block_frames):
    block = x[..., start:start + block_frames, :]
    n = block.shape[-2]
    pad = [(0, 0)] * (x.ndim - 2) + [(0, block_frames - n), (0, 0)]
    state, y = step(model.params, state, jnp.pad(block, pad, constant_values=PAD_VALUE))
    outs.append(y[..., :n, :])
  return jnp.concatenate(outs, axis=-2)


@dataclasses.dataclass(frozen=True)
class FastResult:
  """What :func:`stylize_fast` returns (numpy).

  Attributes:
    x: the generated representation ``[..., frames, bins]``.
    content_magnitude: ``|STFT|`` of the content ``[..., frames, bins]``.
    magnitude: the decoded target magnitude (None without phase).
    audio: the reconstructed audio ``[..., samples]`` (not normalised; None without phase).
    sc_db: its spectral convergence against ``magnitude`` (None without phase).
    timings: ``analysis_s`` (STFT and encoding), ``compile_s``, ``generator_s`` (one
      compiled call), ``phase_s`` (seconds).
  """

  x: np.ndarray
  content_magnitude: np.ndarray
  magnitude: np.ndarray | None
  audio: np.ndarray | None
  sc_db: np.ndarray | None
  timings: dict


def stylize_fast(model: StyleModel, content_audio: ArrayLike, *, phase: bool = True,
                 phase_method: str | None = None, phase_iter: int | None = None,
                 key: jax.Array | None = None) -> FastResult:
  """Stylises a whole clip ``[..., samples]`` at ``model.settings.stft.sr`` in one pass.

  Args:
    phase: reconstruct the audio (:func:`transfer.to_audio`, the engine's one path).
    phase_method, phase_iter: override the settings' phase reconstruction (the Ulyanov
      default, 500 Griffin-Lim iterations, is far from real time; ``"rtpghi"`` is).
    key: the phase key (default: the engine's phase key of ``settings.seed``).
  """
  s = model.settings
  changes = {k: v for k, v in (("phase_method", phase_method), ("phase_iter", phase_iter))
             if v is not None}
  s = dataclasses.replace(s, **changes) if changes else s
  t0 = time.perf_counter()
  S_c = transfer.magnitudes(s.stft, content_audio, "content")
  x_c = jax.block_until_ready(representations.encode(model.representation, S_c, s.stft))
  t1 = time.perf_counter()
  compiled = model.generator_fn().lower(model.params, x_c).compile()
  t2 = time.perf_counter()
  y = jax.block_until_ready(compiled(model.params, x_c))
  t3 = time.perf_counter()
  timings = dict(analysis_s=t1 - t0, compile_s=t2 - t1, generator_s=t3 - t2, phase_s=0.0)
  if not phase:
    return FastResult(np.asarray(y), np.asarray(S_c), None, None, None, timings)
  ref = (jnp.max(S_c, axis=(-2, -1), keepdims=True) if model.representation != "log1p"
         else 1.0)
  key = transfer._keys(s)[2] if key is None else key
  S, audio, sc = transfer.to_audio(s, model.representation, y, ref, key,
                                   np.shape(content_audio)[-1])
  timings["phase_s"] = time.perf_counter() - t3
  return FastResult(np.asarray(y), np.asarray(S_c), np.asarray(S), audio, sc, timings)


# ---------------------------------------------------------------------------- the loss


def loss_net(settings: transfer.Settings) -> tuple[transfer.Settings, nets.Net]:
  """The engine's loss net for ``settings``: weights loaded (trained ones' STFT adopted),
  random ones drawn from ``settings.seed`` exactly as :func:`transfer.stylize` draws them."""
  weights = nets.load_weights(settings.net, settings.weights)
  settings = settings.adopt(weights)
  net = transfer._build(settings, transfer._keys(settings)[0], settings.stft.n_bins, weights)
  make_generator(net.representation)  # raises for a net the generator cannot serve
  return settings, net


def encode_audio(stft: representations.Stft, representation: str, audio: ArrayLike
                 ) -> jax.Array:
  """Audio ``[..., samples]`` -> the representation ``[..., frames, bins]`` (per clip)."""
  return representations.encode(representation, stft.magnitude(jnp.asarray(audio, jnp.float32)),
                                stft)


@functools.cache
def _encode_fn(stft: representations.Stft, representation: str):
  return jax.jit(functools.partial(encode_audio, stft, representation))


def style_targets(net: nets.Net, x_style: ArrayLike, n_frames: int
                  ) -> dict[str, losses.StyleTarget]:
  """:func:`optimize.make_targets`'s style targets for contents of ``n_frames`` frames (they
  depend on the content only through its length)."""
  x_style = jnp.asarray(x_style, jnp.float32)
  template = jax.ShapeDtypeStruct((int(n_frames), x_style.shape[-1]), jnp.float32)

  def style(params, x_s):
    content = jnp.zeros(template.shape, template.dtype)
    return optimize.make_targets(net.features_fn, params, content, [x_s], net.config).style

  return jax.jit(style)(net.params, x_style)


def batch_loss_terms(gen_params: Any, x: jax.Array, net_params: Any,
                     style: dict[str, losses.StyleTarget], *, generator: FeedForwardGenerator,
                     features_fn: optimize.FeaturesFn, config: optimize.LossConfig,
                     context: bool = False) -> dict[str, jax.Array]:
  """The engine's loss terms at ``G(x_c)``, averaged over content clips ``x [batch, frames,
  bins]`` (``{"style", "content", "range", "total"}``; each clip's content target is its own
  activations, as :func:`optimize.make_targets` makes them).

  With ``context``, each clip starts with ``R - 1`` frames of left context
  (:func:`context_samples`): the generator consumes them (``with_context``) and the loss sees
  only the frames after them, so every frame it scores had real audio in its receptive field
  (or the silence before a clip, as a stream has), as on a long clip.
  """
  y = generator.apply(gen_params, x, with_context=context)
  x = x[:, x.shape[1] - y.shape[1]:]

  def one(x_c, y_c):
    feats = features_fn(net_params, x_c)
    targets = optimize.Targets({n: feats[n] for n, _ in config.content_layers}, style)
    return optimize.loss_terms(y_c, net_params, targets, features_fn=features_fn, config=config)

  return jax.tree.map(jnp.mean, jax.vmap(one)(x, y))


def engine_loss_terms(net: nets.Net, y: ArrayLike, x_content: ArrayLike,
                      x_styles: Sequence[ArrayLike]) -> dict[str, jax.Array]:
  """The optimisation's own loss terms at a result ``y`` of one content ``[frames, bins]``:
  :func:`optimize.make_targets` then :func:`optimize.loss_terms`, as the engine calls them
  (for comparing a generator's output with an optimised one on any clip length)."""
  targets = optimize.make_targets(net.features_fn, net.params, x_content, list(x_styles),
                                  net.config)
  return optimize.loss_terms(jnp.asarray(y), net.params, targets, features_fn=net.features_fn,
                             config=net.config)


# ---------------------------------------------------------------------------- training


@functools.cache
def _adam(learning_rate: float, clip_norm: float = 0.0) -> optax.GradientTransformation:
  """Adam, after clipping the gradient's global norm to ``clip_norm`` (0: no clipping). One
  object per setting: the state's static ``tx`` is part of the compiled step's cache key, so a
  second run in the process (a resume) reuses the compiled step."""
  adam = optax.adam(learning_rate)
  return optax.chain(optax.clip_by_global_norm(clip_norm), adam) if clip_norm > 0 else adam


def init_state(generator: FeedForwardGenerator, key: jax.Array, n_bins: int,
               learning_rate: float, clip_norm: float = 0.0):
  """The train state (step, params, optimiser state): the classifier's
  :class:`~specst_jax.classifier.steps.TrainState`, whose orbax checkpoints are reused."""
  from specst_jax.classifier import steps  # the shared train state, on use
  params = init_params(generator, key, n_bins)
  tx = _adam(float(learning_rate), float(clip_norm))
  # No apply_fn: the generator is bound into the compiled step. (A bound method compares by
  # identity, and the state's static fields key the compiled step.)
  return steps.TrainState(step=jnp.zeros((), jnp.int32), apply_fn=None, params=params, tx=tx,
                          opt_state=tx.init(params))


def train_step(state, x: jax.Array, net_params: Any, style: dict[str, losses.StyleTarget], *,
               generator: FeedForwardGenerator, features_fn: optimize.FeaturesFn,
               config: optimize.LossConfig, context: bool = False):
  """One Adam step on a batch ``x [batch, frames, bins]`` (pure; jit it with the keyword
  arguments bound; ``context`` as in :func:`batch_loss_terms`). Returns ``(state, terms)``,
  the terms at the parameters before the step and ``grad_norm``, the gradient's global norm
  (before any clipping)."""
  def objective(params):
    terms = batch_loss_terms(params, x, net_params, style, generator=generator,
                             features_fn=features_fn, config=config, context=context)
    return terms["total"], terms

  (_, terms), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
  return state.apply_gradients(grads=grads), dict(terms, grad_norm=optax.global_norm(grads))


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """A training run (every field but the budget and reporting ones fixes its trajectory).

  Attributes:
    steps: the step budget (a resumed run may raise it).
    batch_size: content crops per step.
    learning_rate: Adam's step size.
    clip_norm: the gradient's global norm is clipped to this before Adam (0: no clipping).
      The Gram losses have rare steps whose gradient is orders of magnitude above the usual;
      unclipped, one such run of steps can push every output below the representation's
      floor, where the smooth clamp's gradient vanishes and training never recovers.
    gain_db: each crop's level is lowered by a uniform ``[0, gain_db]`` dB (the generator
      sees the levels it will meet; ``log1p`` depends on the level).
    context: each crop comes with the receptive field's left context of its clip
      (:func:`context_samples`; silence before the clip's start) and the loss sees only the
      frames after it (:func:`batch_loss_terms`). Without it every crop starts from silence,
      and most frames of a short crop see that silence: the generator then learns a regime
      a long clip never has.
    seed: the generator's initial weights and the batches (the loss net's weights come from
      ``settings.seed``, as the engine's).
    log_every, eval_every, checkpoint_every: steps between progress lines, held-out losses
      and checkpoints (0: only at the end).
  """

  steps: int = 6000
  batch_size: int = 8
  learning_rate: float = 3e-4
  clip_norm: float = 1e5
  gain_db: float = 12.0
  context: bool = True
  seed: int = 0
  log_every: int = 10
  eval_every: int = 100
  checkpoint_every: int = 100

  def trajectory(self) -> dict:
    return {k: v for k, v in dataclasses.asdict(self).items()
            if k in ("batch_size", "learning_rate", "clip_norm", "gain_db", "context", "seed")}


@dataclasses.dataclass(frozen=True)
class TrainResult:
  """:func:`train`'s result: the model (also exported to ``path``), the history (one record
  per report: ``step``, the mean terms ``total``, ``style``, ``content``, ``range`` over the
  steps since the last report, ``heldout_loss`` when evaluated, ``seconds`` since the first
  step of this process) and the steps done."""

  model: StyleModel
  history: list
  step: int
  path: Path


def train(workdir: str | Path, settings: transfer.Settings, generator: FeedForwardGenerator,
          style_audio: ArrayLike, corpus: Corpus, config: TrainConfig, *,
          heldout: Corpus | None = None, style_name: str = "",
          provenance: Mapping[str, Any] | None = None, log: Callable[[str], None] = print,
          stop_after_step: int | None = None, deadline: float | None = None) -> TrainResult:
  """Trains ``generator`` against one style, resuming from ``workdir``'s last checkpoint.

  Writes ``workdir/checkpoints/`` (orbax: params, Adam state, step, history; the last two
  kept), ``history.jsonl``, the model ``model.msgpack`` + ``model.json`` (at every
  checkpoint and at the end; :func:`load_model`) and :data:`STYLE_CLIP` (the style clip
  as trained on, float: :func:`load_style`). A checkpoint of another run (settings,
  generator, style, corpus or trajectory fields differ) is refused, never resumed.

  Args:
    settings: the engine's settings (net, STFT, loss weights, filters, seed).
    style_audio: the style clip ``[samples]`` at ``settings.stft.sr`` (its whole length).
    corpus: training crops at the same rate (:func:`load_corpus`; ``config.context`` sets
      its context).
    heldout: crops for the held-out loss (each clip's loudest crop; :meth:`Corpus.fixed`),
      described (file names) under ``heldout`` in ``model.json``.
    provenance: recorded in ``model.json`` (e.g. :func:`specst_jax.provenance.record`).
    log: one line per progress report: ``feedforward step S/N: loss L[, held-out H], grad
      norm G, R steps/s, T s left`` (means since the last report; the rate is measured from
      the first step done, after compiling).
    stop_after_step: stop once this many steps are done (simulates an interruption).
    deadline: a :func:`time.monotonic` time: the first step that ends after it is reported,
      evaluated and checkpointed like a scheduled one, and the run stops there (resume it
      later with the same call); None: no time limit.
  """
  from specst_jax.classifier import train as checkpoints  # orbax helpers, on use

  workdir = Path(workdir)
  settings, net = loss_net(settings)
  if generator.value_range != VALUE_RANGES[net.representation]:
    raise ValueError(f"the generator's value_range {generator.value_range} is not the "
                     f"{net.representation} range {VALUE_RANGES[net.representation]}")
  if corpus.sr != settings.stft.sr or (heldout is not None and heldout.sr != corpus.sr):
    raise ValueError(f"the corpus must be at the net's rate {settings.stft.sr} Hz")
  encode = _encode_fn(settings.stft, net.representation)
  style_audio = np.asarray(style_audio, np.float32)
  x_s = encode(style_audio)
  net.check_frames(x_s, "style")
  n_frames = settings.stft.n_frames(corpus.crop_samples)  # the frames a loss sees
  net.check_frames(jnp.zeros((n_frames, 1)), "a crop")
  context = context_samples(generator, settings.stft) if config.context else 0
  corpus = corpus.with_context(context)
  heldout = None if heldout is None else heldout.with_context(context)
  run = json.loads(json.dumps(dict(
      settings=settings.as_dict(), generator=generator_dict(generator),
      style_sha256=hashlib.sha256(style_audio.tobytes()).hexdigest(),
      corpus=corpus.describe(), **config.trajectory())))
  state = init_state(generator, jax.random.key(config.seed), settings.stft.n_bins,
                     config.learning_rate, config.clip_norm)
  job = _Job(net, style_targets(net, x_s, n_frames), encode, corpus, config,
             None if heldout is None else encode(heldout.fixed()))

  def save(state, meta):
    checkpoints.save_checkpoint(mgr, meta["step"], state, meta)
    files.write_text(workdir / "history.jsonl",
                     "".join(json.dumps(h) + "\n" for h in meta["history"]))
    export_model(workdir / "model.msgpack", _model(state, meta))

  def _model(state, meta):
    return StyleModel(generator, jax.device_get(state.params), settings, net.representation,
                      style_name, _info(meta, net, provenance, heldout))

  workdir.mkdir(parents=True, exist_ok=True)
  if not (workdir / STYLE_CLIP).is_file():
    from specst_jax import audio  # host-side writing, on use
    audio.save_audio(workdir / STYLE_CLIP, style_audio, settings.stft.sr)
  mgr = checkpoints.checkpoint_manager(workdir)
  try:
    meta = {"step": 0, "history": [], "run": run}
    restored = checkpoints.restore_checkpoint(mgr, state)
    if restored is not None:
      state, meta = restored
      if meta["run"] != run:
        diff = sorted(k for k in run if meta["run"].get(k) != run[k])
        raise ValueError(f"{workdir}: its checkpoint is of another run ({', '.join(diff)} "
                         "differ); use a new workdir")
      log(f"resumed from step {meta['step']}")
    last = config.steps if stop_after_step is None else min(config.steps, int(stop_after_step))
    state = _loop(job, generator, state, meta, last, save, log, deadline)
    if int(state.step) != meta["step"] or not (workdir / "model.msgpack").exists():
      meta["step"] = int(state.step)
      save(state, meta)
  finally:
    mgr.close()
  return TrainResult(_model(state, meta), list(meta["history"]), int(state.step),
                     workdir / "model.msgpack")


class _Job(NamedTuple):
  """What every step of one run uses besides the state."""

  net: nets.Net
  style: dict[str, losses.StyleTarget]
  encode: Callable[[np.ndarray], jax.Array]
  corpus: Corpus
  config: TrainConfig
  heldout: jax.Array | None


def _every(step: int, every: int, last: int) -> bool:
  return step == last or (every > 0 and step % every == 0)


@functools.cache
def _step_fns(generator, features_fn, config, context):
  """The jitted train step (state donated) and batch loss (compiled once per process)."""
  kw = dict(generator=generator, features_fn=features_fn, config=config, context=context)
  return (jax.jit(functools.partial(train_step, **kw), donate_argnums=0),
          jax.jit(functools.partial(batch_loss_terms, **kw)))


def _loop(job: _Job, generator, state, meta: dict, last: int, save, log, deadline=None):
  """Steps ``state.step + 1 .. last``: report, evaluate and ``save(state, meta)`` on schedule
  (and at the first step past ``deadline``, where it stops); ``meta["history"]`` and
  ``meta["step"]`` follow the reports."""
  c, net = job.config, job.net
  step_fn, eval_fn = _step_fns(generator, net.features_fn, net.config, c.context)
  sums: dict[str, float] = {}
  t_start = first = None
  for step in range(int(state.step) + 1, last + 1):
    audio = job.corpus.batch(step, c.batch_size, seed=c.seed, gain_db=c.gain_db)
    state, terms = step_fn(state, job.encode(audio), net.params, job.style)
    for k, v in jax.device_get(terms).items():
      sums[k] = sums.get(k, 0.0) + float(v)
    sums["n"] = sums.get("n", 0) + 1
    now = time.perf_counter()
    if t_start is None:
      t_start, first = now, step  # the clock starts after the first (compiling) step
    overdue = deadline is not None and time.monotonic() >= deadline
    evaluate = job.heldout is not None and (overdue or _every(step, c.eval_every, last))
    checkpoint = overdue or _every(step, c.checkpoint_every, last)
    if not (evaluate or checkpoint or _every(step, c.log_every, last)):
      continue
    n = sums.pop("n")
    record = {"step": step, **{k: v / n for k, v in sums.items()},
              "seconds": round(now - t_start, 2)}
    sums = {}
    if evaluate:
      record["heldout_loss"] = float(eval_fn(state.params, job.heldout, net.params,
                                             job.style)["total"])
    meta["history"].append(record)
    meta["step"] = step
    rate = (step - first) / (now - t_start) if step > first else 0.0
    left = f"{(c.steps - step) / rate:.0f} s left" if rate > 0 else "rate next time"
    held = f", held-out {record['heldout_loss']:.6g}" if evaluate else ""
    log(f"feedforward step {step}/{c.steps}: loss {record['total']:.6g}{held}, grad norm "
        f"{record['grad_norm']:.3g}, "
        f"{rate:.2f} steps/s, {left}")
    if checkpoint:
      save(state, meta)
    if overdue:
      log(f"feedforward: stopped at step {step}/{c.steps} (time limit), checkpoint saved")
      break
  return state


def _info(meta, net, provenance, heldout) -> dict:
  return {"train": {"step": meta["step"], "run": meta["run"],
                    "last": meta["history"][-1] if meta["history"] else None},
          "heldout": None if heldout is None else heldout.describe(),
          "loss_net": net.weights, "provenance": dict(provenance or {})}


# ---------------------------------------------------------------------------- model files


def generator_dict(generator: FeedForwardGenerator) -> dict:
  return {k: getattr(generator, k) for k in GENERATOR_FIELDS}


def _settings_from_dict(d: Mapping[str, Any]) -> transfer.Settings:
  """The inverse of :meth:`transfer.Settings.as_dict`."""
  keys = set(transfer.STFT_KEYS) | {f.name for f in dataclasses.fields(nets.Defaults)} | {"seed"}
  overrides = {k: d[k] for k in keys if k in d}
  overrides["weights"] = d.get("weights_flag")
  if d.get("vgg_layers") is not None:
    overrides["vgg_layers"] = (tuple(d["vgg_layers"][0]), d["vgg_layers"][1])
  return transfer.Settings.for_net(d["net"], overrides)


def export_model(path: str | Path, model: StyleModel) -> Path:
  """Writes ``path`` (msgpack: the generator's variables) and its ``.json`` (format,
  generator, settings, representation, receptive field, style, ``info``), each atomically."""
  path = Path(path)
  meta = {"format": FORMAT, "generator": generator_dict(model.generator),
          "settings": model.settings.as_dict(), "representation": model.representation,
          "receptive_field": model.receptive_field, "n_bins": model.n_bins,
          "param_count": param_count(model.params), "style": model.style, **model.info}
  files.write_bytes(path, flax.serialization.msgpack_serialize(jax.device_get(model.params)))
  files.write_text(path.with_suffix(".json"), json.dumps(meta, indent=2, default=str) + "\n")
  return path


def load_model(path: str | Path) -> StyleModel:
  """A model written by :func:`export_model` (or a workdir holding ``model.msgpack``).

  Raises:
    FileNotFoundError: the file or its ``.json`` is missing.
    ValueError: not a feed-forward model file.
  """
  path = model_file(path)
  meta_path = path.with_suffix(".json")
  for p in (path, meta_path):
    if not p.is_file():
      raise FileNotFoundError(f"{p}: no such model file")
  meta = json.loads(meta_path.read_text())
  if meta.get("format") != FORMAT:
    raise ValueError(f"{meta_path}: not a feed-forward style model (format "
                     f"{meta.get('format')!r}, expected {FORMAT!r})")
  g = meta["generator"]
  generator = FeedForwardGenerator(
      channels=int(g["channels"]), kernel_width=int(g["kernel_width"]),
      dilations=tuple(int(d) for d in g["dilations"]),
      value_range=(float(g["value_range"][0]),
                   None if g["value_range"][1] is None else float(g["value_range"][1])),
      sharpness=float(g["sharpness"]))
  params = flax.serialization.msgpack_restore(path.read_bytes())
  info = {k: v for k, v in meta.items()
          if k not in ("format", "generator", "settings", "representation", "receptive_field",
                       "n_bins", "param_count", "style")}
  return StyleModel(generator, params, _settings_from_dict(meta["settings"]),
                    meta["representation"], meta.get("style", ""), info)


def model_file(path: str | Path) -> Path:
  """The model file of ``path``: itself, or :data:`MODEL_FILE` in it when it is a folder."""
  path = Path(path)
  return path / MODEL_FILE if path.is_dir() else path


def shipped_models() -> list[Path]:
  """The shipped model folders under :data:`SHIPPED_DIR` (those holding a model), by name."""
  if not SHIPPED_DIR.is_dir():
    return []
  return sorted(p for p in SHIPPED_DIR.iterdir() if (p / MODEL_FILE).is_file())


def default_model() -> Path | None:
  """The demo's model: the shipped :data:`DEFAULT_MODEL` (the paper's rooster), else the first
  shipped model by name; None when none is shipped."""
  shipped = shipped_models()
  named = [p for p in shipped if p.name == DEFAULT_MODEL]
  return (named or shipped or [None])[0]


def load_style(model: StyleModel, path: str | Path, style: str | Path | None = None
               ) -> tuple[np.ndarray, Path] | None:
  """The style clip ``[samples]`` at the model's rate and its file: ``style``, else
  :data:`STYLE_CLIP` beside the model file ``path``; None when neither is given or there.

  Raises:
    ValueError: the clip is not the one the model was trained on (the SHA-256 of its samples
      differs from the one ``model.json`` records).
  """
  from specst_jax import audio  # host-side decoding, on use
  file = Path(style) if style is not None else model_file(path).parent / STYLE_CLIP
  if style is None and not file.is_file():
    return None
  y = audio.load_audio(file, sr=model.settings.stft.sr, min_samples=model.settings.stft.n_fft)[0]
  want = model.info.get("train", {}).get("run", {}).get("style_sha256")
  if want is not None and hashlib.sha256(np.asarray(y, np.float32).tobytes()).hexdigest() != want:
    raise ValueError(f"{file}: not the style clip the model {model_file(path)} was trained on "
                     f"(its samples' SHA-256 at {model.settings.stft.sr} Hz differ)")
  return y, file


# ---------------------------------------------------------------------------- the corpus


def _name_hash(name: str) -> int:
  return int(hashlib.sha256(name.encode()).hexdigest()[:12], 16)


def content_files(data_dir: str | Path, *, esc50_per_class: int = 2,
                  exclude: Sequence[str | Path] = ()) -> list[Path]:
  """The shared content clips: every LJSpeech clip, every music excerpt and
  ``esc50_per_class`` ESC-50 clips of each class (the first by name hash: deterministic).

  Args:
    data_dir: the shared data root (``speech/ljspeech``, ``music``, ``esc50_16k``); a missing
      source is left out.
    exclude: files (paths or names) never to use as content, e.g. the style clip.

  Raises:
    FileNotFoundError: none of the sources is there.
  """
  data = Path(data_dir)
  out = sorted((data / "speech" / "ljspeech").glob("*.flac")) + sorted(
      (data / "music").rglob("*.ogg"))
  if (data / "esc50_16k").is_dir() and esc50_per_class > 0:
    from specst_jax.classifier import esc50  # host-side metadata, on use
    clips = esc50.read_metadata(data / "esc50_16k")
    chosen = []
    for category in sorted({c.category for c in clips}):
      mine = sorted((c for c in clips if c.category == category),
                    key=lambda c: (_name_hash(c.stem), c.stem))
      chosen += mine[:esc50_per_class]
    out += esc50.resolve_paths(data / "esc50_16k", chosen)
  if not out:
    raise FileNotFoundError(f"{data}: no LJSpeech, music or ESC-50 clips")
  skip = {Path(p).name for p in exclude}
  return [p for p in out if p.name not in skip]


def split_files(paths: Sequence[str | Path], heldout_fraction: float = 0.15
                ) -> tuple[list[Path], list[Path]]:
  """``(train, held out)``: a file is held out when a hash of its name falls in the first
  ``heldout_fraction`` of the range (deterministic, independent of the other files)."""
  if not 0.0 <= heldout_fraction < 1.0:
    raise ValueError(f"heldout_fraction must be in [0, 1), got {heldout_fraction}")
  held = [Path(p) for p in paths if _name_hash(Path(p).name) % 10000 < heldout_fraction * 10000]
  names = {p.name for p in held}
  return [Path(p) for p in paths if Path(p).name not in names], held


@dataclasses.dataclass(frozen=True)
class Corpus:
  """Content clips and the crops drawn from them (host side, numpy).

  Attributes:
    clips: waveforms ``[samples]`` at ``sr``, each scaled to a peak of 0.9 (shorter than a
      crop: zero-padded).
    names: their file names.
    starts: per clip, the crop starts (every ``hop_seconds``) whose RMS is within
      ``within_db`` of the clip's loudest crop (not silence).
    sr: sample rate in Hz.
    crop_samples: samples per crop (the part a loss sees).
    context_samples: samples of each clip before a crop's start that come with it (zeros
      before the clip's start, as a stream begins): a crop is ``context_samples +
      crop_samples`` long (:meth:`with_context`).
  """

  clips: tuple[np.ndarray, ...] = dataclasses.field(repr=False)
  names: tuple[str, ...]
  starts: tuple[np.ndarray, ...] = dataclasses.field(repr=False)
  sr: int
  crop_samples: int
  context_samples: int = 0

  def describe(self) -> dict:
    return {"names": list(self.names), "sr": self.sr, "crop_samples": self.crop_samples,
            "context_samples": self.context_samples,
            "crops": int(sum(len(s) for s in self.starts))}

  def with_context(self, samples: int) -> Corpus:
    """The same crops, each preceded by ``samples`` samples of its clip (0: none)."""
    if int(samples) < 0:
      raise ValueError(f"context samples must be >= 0, got {samples}")
    return dataclasses.replace(self, context_samples=int(samples))

  def _crop(self, clip: np.ndarray, start: int) -> np.ndarray:
    """``clip[start - context_samples:start + crop_samples]``, zeros before the clip."""
    low = int(start) - self.context_samples
    return np.pad(clip[max(low, 0):int(start) + self.crop_samples], (max(-low, 0), 0))

  def batch(self, step: int, batch_size: int, *, seed: int = 0, gain_db: float = 0.0
            ) -> np.ndarray:
    """Crops ``[batch_size, context_samples + crop_samples]`` for ``step``, drawn from
    ``(seed, step)`` alone: uniformly over all valid crops (every active second of audio
    equally likely), each lowered by a uniform ``[0, gain_db]`` dB."""
    rng = np.random.default_rng([int(seed), int(step)])
    counts = np.array([len(s) for s in self.starts])
    picks = rng.integers(0, counts.sum(), int(batch_size))
    which = np.searchsorted(np.cumsum(counts), picks, side="right")
    gains = 10.0 ** (-rng.uniform(0.0, float(gain_db), int(batch_size)) / 20.0)
    out = np.empty((int(batch_size), self.context_samples + self.crop_samples), np.float32)
    for i, (c, p) in enumerate(zip(which, picks, strict=True)):
      out[i] = self._crop(self.clips[c], self.starts[c][p - (counts[:c].sum())]) * gains[i]
    return out

  def fixed(self) -> np.ndarray:
    """Each clip's loudest crop ``[clips, context_samples + crop_samples]`` (the held-out
    set's crops; loudest by the ``crop_samples`` a loss sees)."""
    out = []
    for clip, starts in zip(self.clips, self.starts, strict=True):
      rms = [float(np.mean(clip[s:s + self.crop_samples] ** 2)) for s in starts]
      out.append(self._crop(clip, starts[int(np.argmax(rms))]))
    return np.stack(out).astype(np.float32)


def make_corpus(clips: Sequence[ArrayLike], names: Sequence[str], *, sr: int,
                crop_seconds: float, hop_seconds: float = 0.25, within_db: float = 20.0
                ) -> Corpus:
  """A :class:`Corpus` from waveforms at ``sr`` (silent clips are left out)."""
  from specst_jax.studies.pairs import PEAK  # the studies' clip level
  n = int(round(crop_seconds * sr))
  hop = max(1, int(round(hop_seconds * sr)))
  if n < 1:
    raise ValueError(f"crop_seconds must give at least one sample, got {crop_seconds}")
  kept, kept_names, kept_starts = [], [], []
  for y, name in zip(clips, names, strict=True):
    y = np.asarray(y, np.float32)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak <= 0.0:
      continue
    y = np.pad(y * np.float32(PEAK / peak), (0, max(0, n - y.size)))
    starts = np.arange(0, y.size - n + 1, hop)
    power = np.concatenate([[0.0], np.cumsum(y.astype(np.float64) ** 2)])
    rms = np.sqrt((power[starts + n] - power[starts]) / n)
    active = starts[(rms >= rms.max() * 10.0 ** (-within_db / 20.0)) & (rms > 1e-5)]
    if active.size:
      kept.append(y)
      kept_names.append(str(name))
      kept_starts.append(active)
  if not kept:
    raise ValueError("no clip of the corpus has an active crop")
  return Corpus(tuple(kept), tuple(kept_names), tuple(kept_starts), int(sr), n)


def load_corpus(paths: Sequence[str | Path], *, sr: int, crop_seconds: float,
                max_seconds: float = 120.0, **kw: Any) -> Corpus:
  """:func:`make_corpus` of files, each loaded mono at ``sr`` (at most ``max_seconds``)."""
  from specst_jax import audio  # host-side decoding, on use
  clips = [audio.load_audio(p, sr=sr, max_seconds=max_seconds)[0] for p in paths]
  return make_corpus(clips, [Path(p).name for p in paths], sr=sr, crop_seconds=crop_seconds,
                     **kw)
