"""THE audio -> audio style-transfer engine, single and batched.

The one place where style transfer meets phase reconstruction::

  settings = transfer.Settings.for_net("wyse", {"n_iter": 40})      # net defaults + overrides
  weights = nets.load_weights(settings.net, settings.weights)       # None: random weights
  settings = settings.adopt(weights)                                # trained weights' own STFT
  result = transfer.stylize(settings, content, [style], weights=weights)
  batch = transfer.stylize_batch(settings, contents, styles, weights=weights, devices=devs)

Per run: magnitudes by the settings' STFT; the network's representation
(:mod:`specst_jax.representations`); the optimisation as one compiled loop
(:func:`specst_jax.style.optimize.run_style_transfer`) that reports live progress from inside
(``jax.debug.callback`` every ``progress_every`` steps); back to a magnitude (dB ones re the
content's maximum) and to audio by :func:`specst_jax.phase.reconstruct`; spectral convergence
of the result. Keys: ``jax.random.key(settings.seed)`` splits into (net weights, initial
noise, phase), as the original demo did.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from jax.typing import ArrayLike

from specst_jax import listener, phase, representations, signals
from specst_jax.representations import Stft
from specst_jax.style import nets, optimize

STFT_KEYS = ("sr", "n_fft", "hop_length", "center")
OPTIMIZERS = ("lbfgs", "adam")
INITS = ("noise", "content", "mix")
# The README demo: built-in signals and small, fast settings (a value the net does not use,
# such as ``filters`` for Wyse, is left alone).
DEMO = dict(duration=2.5, filters=1024, n_iter=60, phase_iter=60)
DEMO_SIGNALS = ("vowel_glide", "chirps")  # (content, style)
# The command-line face of Settings, for every main that takes them (name -> (absl flag kind,
# enum values or None, help)); unset flags take the net's defaults.
SETTING_FLAGS = dict(
    optimizer=("enum", OPTIMIZERS, "optimiser"),
    n_iter=("integer", None, "optimiser iterations"),
    learning_rate=("float", None, "Adam step size (wyse 0.01, the paper said 2.0)"),
    init=("enum", INITS, "initialisation"),
    noise=("float", None, "r of init=mix: r * U(-1, 1) + (1 - r) * content"),
    sr=("integer", None, "sample rate of the run (inputs are resampled)"),
    n_fft=("integer", None, "FFT size"),
    hop_length=("integer", None, "STFT hop in samples"),
    content_weight=("float", None, "content loss weight (ulyanov alpha 1e-2)"),
    style_weight=("float", None, "style loss weight"),
    filters=("integer", None, "ulyanov only: filters (4096)"),
    phase_method=("enum", phase.METHODS, "phase reconstruction method"),
    phase_iter=("integer", None, "phase reconstruction iterations"))


@dataclasses.dataclass(frozen=True)
class Settings(nets.Defaults):
  """Everything a transfer run is (frozen, hashable: it keys compiled programs and metrics).

  Attributes:
    optimizer, n_iter, learning_rate, init, noise, content_weight, style_weight, filters,
      phase_method, phase_iter: see :class:`nets.Defaults`.
    net: a key of :data:`nets.NETS`.
    stft: the STFT of the run (audio is expected at ``stft.sr``).
    weights: ``None`` (the net's default weights), ``"random"``, a shipped name or a file.
    seed: PRNG seed: ``key(seed)`` splits into (net weights, initial noise, phase).
    vgg_layers: VGG-19's ``(style_layers, content_layer)``; None: conv1_1..conv5_1 / conv4_2.
    stft_given: the STFT fields set by the user (kept when trained weights bring their own).
  """

  net: str
  stft: Stft
  weights: str | None = None
  seed: int = 0
  vgg_layers: tuple[tuple[str, ...], str] | None = None
  stft_given: tuple[str, ...] = dataclasses.field(default=(), compare=False)

  def __post_init__(self):
    nets.get(self.net)
    if self.optimizer not in OPTIMIZERS:
      raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
    if self.init not in INITS:
      raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
    if int(self.n_iter) < 1:
      raise ValueError(f"n_iter must be >= 1, got {self.n_iter}")
    if not 0.0 <= self.noise <= 1.0:
      raise ValueError(f"noise must be in [0, 1], got {self.noise}")
    if self.filters is not None and self.net != "ulyanov":
      raise ValueError("filters applies to the ulyanov net only")
    if self.net == "ulyanov" and (self.filters is None or self.filters < 1):
      raise ValueError(f"filters must be >= 1, got {self.filters}")
    if self.phase_method not in phase.METHODS:
      raise ValueError(f"phase_method must be one of {phase.METHODS}, got {self.phase_method!r}")
    if int(self.phase_iter) < 0:
      raise ValueError(f"phase_iter must be >= 0, got {self.phase_iter}")

  @classmethod
  def for_net(cls, net: str, overrides: Mapping[str, Any] | None = None, *, demo: bool = False
              ) -> Settings:
    """The net's defaults (:data:`nets.NETS`), the demo's small sizes when ``demo``, then
    ``overrides`` (flag-like keys: ``sr``, ``n_fft``, ``hop_length``, ``center``, any field;
    ``None`` values are ignored)."""
    spec = nets.get(net)
    s = dict(dataclasses.asdict(spec.defaults), **spec.stft.as_dict())
    if demo:
      s.update({k: v for k, v in DEMO.items() if k in s and s[k] is not None})
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = set(given) - set(s) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
      raise ValueError(f"unknown settings {sorted(unknown)}")
    s.update(given)
    stft = Stft(**{k: s.pop(k) for k in STFT_KEYS})
    s.pop("stft", None)
    return cls(net=net, stft=stft, stft_given=tuple(k for k in STFT_KEYS if k in given), **s)

  def adopt(self, weights: nets.Weights | None) -> Settings:
    """Runs at the STFT trained weights were trained with: a field the user left unset is
    taken from the weights, one set to another value is an error."""
    if weights is None or weights.stft is None:
      return self
    new = {}
    for k in STFT_KEYS:
      want, have = getattr(weights.stft, k), getattr(self.stft, k)
      if want == have:
        continue
      if k in self.stft_given:
        raise ValueError(f"the {self.net} weights were trained with {k}={want}, the run asks "
                         f"for {k}={have} (leave it unset or use random weights)")
      new[k] = want
    return dataclasses.replace(self, stft=dataclasses.replace(self.stft, **new)) if new else self

  @property
  def distribution(self) -> str:
    """Initial noise: N(0, 1) x 1e-3 from noise (Ulyanov), U(-1, 1) for the mix (Wyse)."""
    return "normal" if self.init == "noise" else "uniform"

  @property
  def noise_scale(self) -> float:
    return 1e-3 if self.init == "noise" else 1.0

  def as_dict(self) -> dict:
    """Flat, JSON-ready (the keys of the original ``metrics.json`` settings)."""
    d = dict(self.stft.as_dict())
    for f in dataclasses.fields(self):
      if f.name not in ("stft", "weights", "stft_given", "vgg_layers"):
        d[f.name] = getattr(self, f.name)
    d.update(weights_flag=self.weights, stft_given=list(self.stft_given))
    if self.vgg_layers is not None:
      d["vgg_layers"] = [list(self.vgg_layers[0]), self.vgg_layers[1]]
    return d


# ---------------------------------------------------------------------------- progress


class ProgressLog:
  """Live progress from inside the compiled loop: step, loss, rate and time left.

  Called (through ``jax.debug.callback``) as ``log(step, loss)``; steps already reported
  (several devices, repeated calls) are skipped. ``write`` defaults to absl's info log.
  """

  def __init__(self, n_iter: int, *, label: str = "", write: Callable[[str], None] | None = None):
    self.n_iter, self.label = int(n_iter), label
    if write is None:
      from absl import logging
      write = logging.info
    self.write = write
    self.start()

  def start(self) -> None:
    """Restarts the clock (before each run of the compiled loop)."""
    self._t0 = self._last = None

  def __call__(self, step, loss) -> None:
    step, now = int(step), time.perf_counter()
    if self._t0 is None:
      self._t0 = now - 1e-9
    if self._last is not None and step <= self._last:
      return
    self._last = step
    rate = step / (now - self._t0)
    left = f"{(self.n_iter - step) / rate:.0f} s left" if rate > 0 else "rate next time"
    self.write(f"{self.label}step {step}/{self.n_iter}: loss {float(np.mean(loss)):.6g}, "
               f"{rate:.2f} it/s, {left}")


def _progress(progress, n_iter: int, label: str):
  if progress == "log":
    return ProgressLog(n_iter, label=label), max(1, n_iter // 10)
  if progress is None:
    return None, 0
  if isinstance(progress, tuple):
    return progress
  return progress, max(1, n_iter // 10)


# ---------------------------------------------------------------------------- optimiser


class Optimizer:
  """The compiled style loop for one network structure and settings; reusable over params.

  ``opt(params, x_c, x_s, keys)``: ``x_c`` content representation, ``x_s`` a tuple of style
  representations, ``keys`` the initial-noise key(s). With ``batched`` every array has a
  leading pair axis (equal shapes within it) and the loop is vmapped; with ``devices`` the
  pair axis is sharded over them (``NamedSharding``, params replicated; the batch must divide
  by the device count). Compiles on the first call: ``compile_s`` and ``optimize_s``
  (summed over calls) are kept.

  Args:
    progress: ``"log"`` (:class:`ProgressLog` every ``n_iter // 10`` steps), None, a callable
      ``(step, loss)`` or a pair ``(callable, every)``. Batched: ``loss`` is the pairs' mean.
  """

  def __init__(self, net: nets.Net, settings: Settings, *, batched: bool = False,
               devices: Sequence[jax.Device] | None = None, progress: Any = "log"):
    self.net, self.settings, self.batched = net, settings, batched
    self.devices = None if devices is None else list(devices)
    callback, every = _progress(progress, settings.n_iter, f"{settings.net}: ")
    self.progress = callback
    job = functools.partial(
        _job, features_fn=net.features_fn, config=net.config, settings=settings,
        progress=callback, every=every, axis_name="pairs" if batched else None)
    if batched:
      job = jax.vmap(job, in_axes=(None, 0, 0, 0), axis_name="pairs")
    if self.devices is not None:
      mesh = Mesh(np.asarray(self.devices), ("pairs",))
      pairs, rep = NamedSharding(mesh, P("pairs")), NamedSharding(mesh, P())
      self._fn = jax.jit(job, in_shardings=(rep, pairs, pairs, pairs), out_shardings=pairs)
    else:
      self._fn = jax.jit(job)
    self._compiled = None
    self.compile_s = self.optimize_s = 0.0

  def __call__(self, params: Any, x_c: jax.Array, x_s: Sequence[jax.Array], keys: jax.Array
               ) -> optimize.StyleResult:
    x_s = tuple(x_s)
    if self.devices is not None and x_c.shape[0] % len(self.devices):
      raise ValueError(f"batch {x_c.shape[0]} does not divide over {len(self.devices)} devices")
    if self._compiled is None:
      t0 = time.perf_counter()
      self._compiled = self._fn.lower(params, x_c, x_s, keys).compile()
      self.compile_s = time.perf_counter() - t0
    if isinstance(self.progress, ProgressLog):
      self.progress.start()
    t0 = time.perf_counter()
    out = jax.block_until_ready(self._compiled(params, x_c, x_s, keys))
    self.optimize_s += time.perf_counter() - t0
    return out


def _job(params, x_c, x_s, key, *, features_fn, config, settings, progress, every, axis_name):
  s = settings
  targets = optimize.make_targets(features_fn, params, x_c, list(x_s), config)
  x0 = optimize.initial_value(key, x_c, init=s.init, noise=s.noise, noise_scale=s.noise_scale,
                              distribution=s.distribution)
  return optimize.run_style_transfer(params, x0, targets, features_fn=features_fn, config=config,
                                     optimizer=s.optimizer, n_iter=s.n_iter,
                                     learning_rate=s.learning_rate, progress=progress,
                                     progress_every=every, axis_name=axis_name)


# ---------------------------------------------------------------------------- pieces


def peak_normalize(y: ArrayLike, *, peak: float = 0.9, only_above: float | None = None
                   ) -> np.ndarray:
  """THE peak normalisation: each clip ``[..., samples]`` scaled to ``peak`` (float32).

  The level is set by the clip's *body*: all but the first and last :func:`listener.edge_length`
  samples (the listener check's edges), where a phase reconstruction is least constrained. A few
  edge samples must never set the level of a clip (one loud edge sample scaled to ``peak`` leaves a
  click and a near-silent clip). If an edge is still louder than ``peak`` after the body's gain,
  that edge alone fades in (out) over its samples with a raised cosine, and if a sample there still
  exceeds ``peak`` the whole clip is scaled down to it: the result never exceeds
  ``peak``.

  ``only_above``: leave clips whose peak is at most this alone (e.g. 1.0: only fix clipping).
  A silent clip (or body) is returned as is.
  """
  y = np.array(y, np.float32)
  if y.size == 0:
    return y
  n = y.shape[-1]
  e = listener.edge_length(n)
  flat = y.reshape(-1, n)
  for clip in flat:  # in place, one clip at a time
    top = float(np.max(np.abs(clip)))
    if top <= (0.0 if only_above is None else only_above):
      continue
    body = float(np.max(np.abs(clip[e:n - e]))) if n > 2 * e else top
    if body <= 0.0:
      continue
    clip *= np.float32(peak / body)
    if e and np.max(np.abs(clip)) > peak:
      ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(e) + 0.5) / e)).astype(np.float32)
      for edge, fade in ((slice(0, e), ramp), (slice(n - e, n), ramp[::-1])):
        if np.max(np.abs(clip[edge])) > peak:
          clip[edge] *= fade
      over = float(np.max(np.abs(clip)))
      if over > peak:
        clip *= np.float32(peak / over)
  return flat.reshape(y.shape)


def magnitudes(stft: Stft, audio: ArrayLike, name: str) -> jax.Array:
  """``|STFT|`` ``[..., frames, bins]``; a bad input's error names it (``"content"``)."""
  try:
    return stft.magnitude(jnp.asarray(audio, jnp.float32))
  except ValueError as e:
    raise ValueError(f"{name}: {e}") from e


def to_audio(settings: Settings, representation: str, x: ArrayLike, ref: ArrayLike,
             key: jax.Array, length: int, *, devices: Sequence[jax.Device] | None = None
             ) -> tuple[jax.Array, np.ndarray, np.ndarray]:
  """Optimised ``x`` -> ``(magnitude, audio [..., length], SC dB)`` by the settings' phase method.

  ``x`` is one ``[frames, bins]`` or a batch ``[..., frames, bins]`` (reconstructed in one
  compiled call, on the devices ``x`` lives on). ``ref``: the linear maximum of the dB
  representations (the content's, one per item ``[..., 1, 1]``; ignored by log1p). ``key``: one
  key, or one per item ``[...]``, so that each item equals its own single call. ``devices``:
  with a key per item of a batch ``[items, frames, bins]``, the items are split over these
  devices (:func:`phase.reconstruct_sharded`; the batch must divide by their count).
  Raises FloatingPointError if any audio is not finite.
  """
  stft = settings.stft
  S = representations.decode(representation, x, ref=ref)
  kw = dict(n_fft=stft.n_fft, hop_length=stft.hop_length, method=settings.phase_method,
            n_iter=settings.phase_iter, length=length, center=stft.center)
  per_item = jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) and key.ndim == 1
  if devices is not None and len(devices) > 1 and per_item:
    y = phase.reconstruct_sharded(S, devices, key=key, **kw)
  else:
    y = phase.reconstruct(S, key=key, **kw)
  y = np.asarray(y)
  if not np.all(np.isfinite(y)):
    raise FloatingPointError("the reconstructed audio is not finite")
  sc = np.asarray(phase.spectral_convergence(S, y, n_fft=stft.n_fft, hop_length=stft.hop_length,
                                             center=stft.center))
  return S, y, sc


def demo_inputs(sr: int) -> tuple[np.ndarray, list[np.ndarray]]:
  """The demo's built-in content and style signals at ``sr``."""
  return (signals.make_signal(DEMO_SIGNALS[0], sr=sr, duration=DEMO["duration"]),
          [signals.make_signal(DEMO_SIGNALS[1], sr=sr, duration=DEMO["duration"])])


@dataclasses.dataclass(frozen=True)
class TransferResult:
  """A transfer's outputs (numpy; batched ones have a leading pair axis on every array).

  Attributes:
    audio: the result ``[..., samples]`` at ``settings.stft.sr`` (not normalised).
    magnitude: its target magnitude ``[..., frames, bins]`` (before phase reconstruction).
    content_magnitude, style_magnitudes: the inputs' ``|STFT|`` (a list, one per style).
    loss_curve: ``[..., n_iter]`` total loss per iteration.
    final_losses: ``{"style", "content", "range", "total"}`` at the result.
    n_evals, n_iter_done: loss evaluations and iterations done (L-BFGS may stop early).
    stop_reason: why the optimisation stopped (codes of :data:`optimize.STOP_REASONS`).
    sc_db: spectral convergence of the audio against ``magnitude`` (dB; lower is better).
    weights: description of the network's weights.
    timings: ``compile_s``, ``optimize_s``, ``phase_s`` (seconds).
  """

  audio: np.ndarray
  magnitude: np.ndarray
  content_magnitude: np.ndarray
  style_magnitudes: list
  loss_curve: np.ndarray
  final_losses: dict
  n_evals: np.ndarray
  n_iter_done: np.ndarray
  stop_reason: np.ndarray
  sc_db: np.ndarray
  weights: str
  timings: dict

  def summary(self) -> dict:
    """JSON-ready metrics of a single run (the keys of the style-transfer ``metrics.json``)."""
    return dict(
        weights=self.weights, random_weights=self.weights.lower().startswith("random"),
        loss_curve=[float(v) for v in self.loss_curve],
        final_losses={k: float(v) for k, v in self.final_losses.items()},
        n_evaluations=int(self.n_evals), n_iterations_done=int(self.n_iter_done),
        stop_reason=optimize.stop_reason_name(self.stop_reason),
        compile_time_s=self.timings["compile_s"], optimize_time_s=self.timings["optimize_s"],
        phase_time_s=self.timings["phase_s"], content_frames=int(self.content_magnitude.shape[-2]),
        style_frames=[int(S.shape[-2]) for S in self.style_magnitudes])


def _keys(settings: Settings):
  return jax.random.split(jax.random.key(settings.seed), 3)  # net, init, phase


def _finish(settings, net, opt, res, S_c, S_s, ref, key, length) -> TransferResult:
  t0 = time.perf_counter()
  S_r, y, sc = to_audio(settings, net.representation, res.x, ref, key, length)
  phase_s = time.perf_counter() - t0
  return TransferResult(
      audio=y, magnitude=np.asarray(S_r), content_magnitude=np.asarray(S_c),
      style_magnitudes=[np.asarray(S) for S in S_s], loss_curve=np.asarray(res.losses),
      final_losses={k: np.asarray(v) for k, v in res.final.items()},
      n_evals=np.asarray(res.n_evals), n_iter_done=np.asarray(res.n_iter),
      stop_reason=np.asarray(res.stop_reason), sc_db=sc,
      weights=net.weights,
      timings=dict(compile_s=opt.compile_s, optimize_s=opt.optimize_s, phase_s=phase_s))


def stylize(settings: Settings, content: ArrayLike, styles: Sequence[ArrayLike], *,
            weights: nets.Weights | None = None, progress: Any = "log") -> TransferResult:
  """One content ``[samples]`` and one or more styles (any lengths) at ``settings.stft.sr``.

  Args:
    weights: from :func:`nets.load_weights` (None: random weights drawn from the seed).
    progress: see :class:`Optimizer`.
  """
  if not len(styles):
    raise ValueError("at least one style is needed")
  S_c = magnitudes(settings.stft, content, "content")
  S_s = [magnitudes(settings.stft, a, f"style {i}") for i, a in enumerate(styles)]
  k_net, k_init, k_phase = _keys(settings)
  net = _build(settings, k_net, S_c.shape[-1], weights)
  x_c = _encode(net, settings, S_c, "content")
  x_s = [_encode(net, settings, S, f"style {i}") for i, S in enumerate(S_s)]
  opt = Optimizer(net, settings, progress=progress)
  res = opt(net.params, x_c, x_s, k_init)
  ref = jnp.max(S_c) if net.representation != "log1p" else 1.0
  return _finish(settings, net, opt, res, S_c, S_s, ref, k_phase, np.shape(content)[-1])


def stylize_batch(settings: Settings, contents: ArrayLike, styles: ArrayLike, *,
                  weights: nets.Weights | None = None, net: nets.Net | None = None,
                  keys: jax.Array | None = None, phase_key: jax.Array | None = None,
                  devices: Sequence[jax.Device] | None = None, progress: Any = "log"
                  ) -> TransferResult:
  """Pairs of equal shape in one compiled, vmapped (optionally sharded) call.

  Args:
    contents: ``[batch, samples]``.
    styles: ``[batch, samples']`` (one style per pair) or ``[batch, n_styles, samples']``.
    weights: as :func:`stylize`; or ``net``: a network already built (its params are used).
    keys: ``[batch]`` initial-noise keys (default: the seed's init key split ``batch`` ways).
    phase_key: the phase reconstruction's key (default: the seed's phase key), or one per pair
      ``[batch]`` (each pair's audio then equals its own call's, whatever the batch).
    devices: shard the pair axis over these devices (the batch must divide by their count).

  Returns:
    a :class:`TransferResult` with a leading pair axis (``style_magnitudes``: one
    ``[batch, frames, bins]`` per style).
  """
  contents = np.asarray(contents, np.float32)
  styles = np.asarray(styles, np.float32)
  if contents.ndim != 2 or styles.ndim not in (2, 3) or styles.shape[0] != contents.shape[0]:
    raise ValueError(f"contents must be [batch, samples] and styles [batch, (n_styles,) "
                     f"samples] of the same batch, got {contents.shape} and {styles.shape}")
  if styles.ndim == 2:
    styles = styles[:, None]
  S_c = magnitudes(settings.stft, contents, "contents")
  S_s = [magnitudes(settings.stft, styles[:, j], f"styles[:, {j}]")
         for j in range(styles.shape[1])]
  k_net, k_init, k_phase = _keys(settings)
  net = _build(settings, k_net, S_c.shape[-1], weights) if net is None else net
  x_c = _encode(net, settings, S_c, "contents")
  x_s = [_encode(net, settings, S, f"styles[:, {j}]") for j, S in enumerate(S_s)]
  keys = jax.random.split(k_init, len(contents)) if keys is None else keys
  opt = Optimizer(net, settings, batched=True, devices=devices, progress=progress)
  res = opt(net.params, x_c, x_s, keys)
  ref = (jnp.max(S_c, axis=(-2, -1), keepdims=True) if net.representation != "log1p" else 1.0)
  return _finish(settings, net, opt, res, S_c, S_s, ref,
                 k_phase if phase_key is None else phase_key, contents.shape[-1])


def _build(settings: Settings, key: jax.Array, n_bins: int, weights) -> nets.Net:
  return nets.build(settings.net, key, n_bins, weights, content_weight=settings.content_weight,
                    style_weight=settings.style_weight, filters=settings.filters,
                    vgg_layers=settings.vgg_layers)


def _encode(net: nets.Net, settings: Settings, S: jax.Array, name: str) -> jax.Array:
  x = representations.encode(net.representation, S, settings.stft)
  net.check_frames(x, name)
  return x


# ---------------------------------------------------------------------------- audio -> audio


@dataclasses.dataclass(frozen=True)
class Stylized:
  """What :func:`stylize_audio` returns.

  Attributes:
    audio: the result ``[samples]`` at ``sr``, at the level the command-line tool writes (the
      body sets it, peak at most 0.99: :func:`peak_normalize`).
    sr: its sample rate (the net's STFT rate).
    listener: the listener check of ``audio`` (:func:`specst_jax.listener.check_audio`).
    result: the engine's :class:`TransferResult` (losses, magnitudes, timings).
    settings: the :class:`Settings` of the run.
  """

  audio: np.ndarray
  sr: int
  listener: dict
  result: TransferResult
  settings: Settings


def stylize_audio(content, style, *, sr: int | None = None, net: str = "ulyanov",
                  progress: Any = None, **settings: Any) -> Stylized:
  """Audio -> audio style transfer with the command-line tool's defaults.

  Args:
    content: a file path, or audio ``[samples]`` at ``sr``.
    style: the same, or a list of them (their Grams are combined).
    sr: the rate of array inputs (needed for arrays; files carry theirs).
    net: ``"ulyanov"``, ``"wyse"`` (the shipped trained weights unless ``weights="random"``)
      or ``"vgg19"``.
    progress: see :class:`Optimizer` (None: quiet; ``"log"``: live progress).
    **settings: any :class:`Settings` field or STFT key (``n_iter=300``, ``weights=...``).

  Example::

    import specst_jax
    out = specst_jax.stylize("speech.wav", "rooster.wav", net="ulyanov", n_iter=100)
    specst_jax.save_audio("result.wav", out.audio, out.sr)
  """
  s = Settings.for_net(net, settings)
  weights = nets.load_weights(s.net, s.weights)
  s = s.adopt(weights)
  run_sr = s.stft.sr
  content_audio = _audio_at(content, sr, run_sr, "content", s.stft.n_fft)
  styles = style if isinstance(style, (list, tuple)) else [style]
  style_audio = [_audio_at(x, sr, run_sr, f"style {i}", s.stft.n_fft)
                 for i, x in enumerate(styles)]
  r = stylize(s, content_audio, style_audio, weights=weights, progress=progress)
  y = peak_normalize(r.audio, peak=0.99, only_above=1.0)
  check = listener.check_audio(y, sr=run_sr, magnitude=r.magnitude, stft=s.stft)
  return Stylized(audio=y, sr=run_sr, listener=check, result=r, settings=s)


def _audio_at(x, sr: int | None, run_sr: int, name: str, n_fft: int) -> np.ndarray:
  """A path or an array as mono float32 at ``run_sr``."""
  from specst_jax import audio
  if isinstance(x, (str, bytes)) or hasattr(x, "__fspath__"):
    return audio.load_audio(x, sr=run_sr, min_samples=n_fft)[0]
  if sr is None:
    raise ValueError(f"{name}: an array needs sr= (its sample rate)")
  y = audio.validate_audio(x, name=name, min_samples=1)
  return audio.resample(y, int(sr), run_sr) if int(sr) != run_sr else y
