"""The style-transfer objective and its optimisation as one compiled loop.

The optimised variable ``x`` is the spectrogram in the representation the
network expects: ``[frames, bins]`` for the 1-D nets, an image ``[H, W, 3]`` for
VGG-19. A *feature function* ``features_fn(params, x) -> {layer: [positions, channels]}``
(see :class:`NetFeatures`) maps one example to its named activations.

Entry points are pure and unjitted; jit them with the static arguments named
in their docstrings (:mod:`specst_jax.style.transfer` does), and ``jax.vmap``
:func:`run_style_transfer` over ``(x0, targets)`` for a batch of pairs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct
from jax.typing import ArrayLike

from specst_jax.style import losses

FeaturesFn = Callable[[Any, jax.Array], dict[str, jax.Array]]


@dataclasses.dataclass(frozen=True)
class NetFeatures:
  """Hashable feature function: applies a Flax module to one example.

  Attributes:
    module: a Flax module returning ``(output, activations)``; called on ``x[None]``.
    layers: names of the activations to return.
    call_kwargs: extra keyword arguments of the module call, as a tuple of pairs.
  """

  module: nn.Module
  layers: tuple[str, ...]
  call_kwargs: tuple[tuple[str, Any], ...] = ()

  def __call__(self, params: Any, x: jax.Array) -> dict[str, jax.Array]:
    _, acts = self.module.apply(params, x[None], **dict(self.call_kwargs))
    missing = [name for name in self.layers if name not in acts]
    if missing:
      raise ValueError(f"layers {missing} not among the network's activations {sorted(acts)}")
    out = {}
    for name in self.layers:
      a = acts[name][0]
      out[name] = losses.flatten_positions(a) if a.ndim == 3 else a
    return out


@dataclasses.dataclass(frozen=True)
class StandardizedNetFeatures(NetFeatures):
  """:class:`NetFeatures` on ``(x - mean) / std`` per channel (bins).

  Its params are ``{"variables": module variables, "mean": [bins], "std": [bins]}``
  (a classifier trained on standardised inputs).
  """

  def __call__(self, params: Any, x: jax.Array) -> dict[str, jax.Array]:
    x = (x - params["mean"]) / params["std"]
    return super().__call__(params["variables"], x)


@dataclasses.dataclass(frozen=True)
class LossConfig:
  """Which layers enter the loss and how (hashable; a static jit argument).

  Attributes:
    style_layers: ``((layer, weight), ...)``: weighted Gram losses.
    content_layers: ``((layer, weight), ...)``: the weight is the content
      weight (Ulyanov's alpha = 1e-2).
    style_normalization: ``"input_frames"``, ``"output_frames"`` or ``"gatys"``.
    content_normalization: ``"sum"`` (Ulyanov) or ``"wyse"`` (``/ (4 numel)``).
    range_weight: weight of :func:`losses.range_penalty` on ``x`` (0 disables).
    value_range: the valid ``(low, high)`` of ``x``.
    gram_method: ``"auto"``, ``"frames"`` or ``"gram"`` (see :func:`losses.style_target`).
  """

  style_layers: tuple[tuple[str, float], ...]
  content_layers: tuple[tuple[str, float], ...] = ()
  style_normalization: str = "input_frames"
  content_normalization: str = "sum"
  range_weight: float = 0.0
  value_range: tuple[float, float] = (0.0, 1.0)
  gram_method: str = "auto"


class Targets(struct.PyTreeNode):
  """Content activations ``{layer: [M, C]}`` and style targets ``{layer: StyleTarget}``."""

  content: dict[str, jax.Array]
  style: dict[str, losses.StyleTarget]


def _layers(config: LossConfig) -> tuple[str, ...]:
  names = [n for n, _ in config.style_layers] + [n for n, _ in config.content_layers]
  return tuple(dict.fromkeys(names))


def make_targets(features_fn: FeaturesFn, params: Any, content: ArrayLike,
                 styles: Sequence[ArrayLike], config: LossConfig) -> Targets:
  """Computes the targets for one content (``x``-shaped) and one or more styles.

  The styles may have other lengths than the content; the generated result has
  the content's shape. ``"input_frames"`` counts the input frames (axis -2:
  ``x [frames, bins]``, or the image columns ``W`` of ``x [H, W, 3]``).
  """
  content = jnp.asarray(content)
  if not styles:
    raise ValueError("at least one style is needed")
  c_feats = features_fn(params, content)
  s_feats = [features_fn(params, jnp.asarray(s)) for s in styles]
  n_in = _input_frames(content)
  style = {}
  for name, _ in config.style_layers:
    style[name] = losses.style_target(
        [f[name] for f in s_feats], normalization=config.style_normalization,
        n_positions=c_feats[name].shape[0], n_input_frames=n_in,
        style_input_frames=[_input_frames(jnp.asarray(s)) for s in styles],
        method=config.gram_method)
  content_t = {name: c_feats[name] for name, _ in config.content_layers}
  return Targets(content_t, style)


def _input_frames(x: jax.Array) -> int:
  return x.shape[-2]


def loss_terms(x: jax.Array, params: Any, targets: Targets, *, features_fn: FeaturesFn,
               config: LossConfig) -> dict[str, jax.Array]:
  """The weighted loss terms ``{"style", "content", "range", "total"}`` (scalars)."""
  feats = features_fn(params, x)
  style = sum((w * losses.style_loss(feats[n], targets.style[n])
               for n, w in config.style_layers), jnp.float32(0.0))
  content = sum((w * losses.content_loss(feats[n], targets.content[n],
                                         normalization=config.content_normalization)
                 for n, w in config.content_layers), jnp.float32(0.0))
  low, high = config.value_range
  rng = (config.range_weight * losses.range_penalty(x, low=low, high=high)
         if config.range_weight else jnp.float32(0.0))
  return {"style": style, "content": content, "range": rng, "total": style + content + rng}


def initial_value(key: jax.Array, content: ArrayLike, *, init: str = "noise", noise: float = 0.2,
                  noise_scale: float = 1e-3, distribution: str = "normal") -> jax.Array:
  """The starting ``x``.

  Args:
    key: PRNG key.
    content: content representation (gives shape and dtype).
    init: ``"noise"``: ``noise_scale * n``; ``"content"``: the content;
      ``"mix"``: ``noise * n + (1 - noise) * content`` ("noise in the initial image").
    noise: ``r`` of the mix.
    noise_scale: scale of ``n``.
    distribution: ``n`` is ``"normal"`` N(0, 1) (Ulyanov) or ``"uniform"`` U(-1, 1) (Wyse).
  """
  content = jnp.asarray(content)
  if distribution == "normal":
    n = jax.random.normal(key, content.shape, content.dtype)
  elif distribution == "uniform":
    n = jax.random.uniform(key, content.shape, content.dtype, -1.0, 1.0)
  else:
    raise ValueError(f"distribution must be 'normal' or 'uniform', got {distribution!r}")
  n = noise_scale * n
  if init == "noise":
    return n
  if init == "content":
    return content
  if init == "mix":
    if not 0.0 <= noise <= 1.0:
      raise ValueError(f"noise (r) must be in [0, 1], got {noise}")
    return noise * n + (1.0 - noise) * content
  raise ValueError(f"init must be 'noise', 'content' or 'mix', got {init!r}")


def _report(progress, every: int, axis_name: str | None, step: jax.Array, loss: jax.Array
            ) -> None:
  """``progress(step, loss)`` on the host every ``every`` steps, from inside a compiled loop."""
  if progress is None or every <= 0:
    return
  if axis_name is not None:  # one report per step for a vmapped batch of pairs
    step, loss = jax.lax.pmax(step, axis_name), jax.lax.pmean(loss, axis_name)
  jax.lax.cond(step % every == 0, lambda: jax.debug.callback(progress, step, loss),
               lambda: None)


# Why an optimisation stopped (``StyleResult.stop_reason`` indexes this).
STOP_REASONS = ("max_iter", "converged", "line_search_failed")
MAX_ITER, CONVERGED, LINE_SEARCH_FAILED = range(3)


class StyleResult(NamedTuple):
  """Output of :func:`run_style_transfer`.

  Attributes:
    x: the best iterate (the lowest loss seen; ``x0``'s shape).
    losses: ``[n_iter]`` total loss before each iteration's update (L-BFGS:
      the value at each accepted iterate, starting with ``x0``).
    n_evals: loss-and-gradient evaluations (int32).
    final: the weighted terms at ``x`` (see :func:`loss_terms`).
    n_iter: iterations done (int32; fewer than asked after an L-BFGS early stop).
    stop_reason: int32 index into :data:`STOP_REASONS`.
  """

  x: jax.Array
  losses: jax.Array
  n_evals: jax.Array
  final: dict[str, jax.Array]
  n_iter: jax.Array
  stop_reason: jax.Array


def stop_reason_name(code: ArrayLike) -> str:
  """The name of a :attr:`StyleResult.stop_reason` code."""
  return STOP_REASONS[int(code)]


def _lbfgs(objective, value_and_grad, x0, *, n_iter, memory_size, ftol, report, gtol=1e-5):
  """optax L-BFGS (zoom line search) in one ``lax.while_loop``; see :func:`run_style_transfer`.

  Returns ``(best x, curve, n_done, evals, stop_reason)``.
  """
  opt = optax.lbfgs(memory_size=memory_size)
  value, grad = value_and_grad(x0)
  curve = jnp.zeros((n_iter,), jnp.float32)

  def cond(carry):
    return (carry["i"] < n_iter) & (carry["stop"] == MAX_ITER)

  def body(c):
    report(c["i"], c["value"])
    curve = c["curve"].at[c["i"]].set(c["value"])
    updates, state = opt.update(c["grad"], c["state"], c["x"], value=c["value"], grad=c["grad"],
                                value_fn=objective)
    x = optax.apply_updates(c["x"], updates)
    new_value = optax.tree.get(state, "value")
    # Failed: no step with sufficient decrease, or (optax's zoom then returns a zero step with
    # only its curvature error set) no decrease at all.
    failed = (optax.tree.get(state, "decrease_error") > 0) | (new_value >= c["value"])
    scale = jnp.maximum(jnp.maximum(jnp.abs(c["value"]), jnp.abs(new_value)), 1.0)
    small = (c["value"] - new_value) <= ftol * scale if ftol > 0 else jnp.bool_(False)
    new_grad = optax.tree.get(state, "grad")
    evals = c["evals"] + optax.tree.get(state, "num_linesearch_steps")
    better = new_value < c["best_value"]
    best_x = jnp.where(better, x, c["best_x"])
    best_value = jnp.where(better, new_value, c["best_value"])
    best_grad = jnp.where(better, new_grad, c["best_grad"])
    # A failed line search restarts L-BFGS from the best iterate with an empty memory once;
    # a second failure in a row stops the run.
    restart = failed & ~c["failed_before"]
    flat = jnp.max(jnp.abs(best_grad)) <= gtol  # scipy's pgtol rule, at the best iterate
    stop = jnp.where(flat, CONVERGED,
                     jnp.where(failed & c["failed_before"], LINE_SEARCH_FAILED,
                               jnp.where(~failed & small, CONVERGED, MAX_ITER)))
    # A conditional, not a select: the select would rebuild the whole history (2 x memory_size
    # copies of x) on every iteration to use it only on the rare restart.
    state = jax.lax.cond(restart, lambda: opt.init(best_x), lambda: state)
    return dict(i=c["i"] + 1, x=jnp.where(restart, best_x, x), state=state,
                value=jnp.where(restart, best_value, new_value),
                grad=jnp.where(restart, best_grad, new_grad), curve=curve, evals=evals,
                stop=stop.astype(jnp.int32), failed_before=failed, best_x=best_x,
                best_value=best_value, best_grad=best_grad)

  carry = dict(i=jnp.int32(0), x=x0, state=opt.init(x0), value=value, grad=grad, curve=curve,
               evals=jnp.int32(1), stop=jnp.int32(MAX_ITER), failed_before=jnp.bool_(False),
               best_x=x0, best_value=value, best_grad=grad)
  c = jax.lax.while_loop(cond, body, carry)
  curve = jnp.where(jnp.arange(n_iter) < c["i"], c["curve"], c["best_value"])
  return c["best_x"], curve, c["i"], c["evals"], c["stop"]


def _adam(value_and_grad, x0, *, n_iter, learning_rate, report):
  """Adam for ``n_iter`` steps; returns ``(best x, curve, n_done, evals, stop_reason)``."""
  opt = optax.adam(learning_rate)

  def body(i, carry):
    x, state, curve, best_x, best_value = carry
    value, grad = value_and_grad(x)
    report(i, value)
    curve = curve.at[i].set(value)
    better = value < best_value
    best_x, best_value = jnp.where(better, x, best_x), jnp.where(better, value, best_value)
    updates, state = opt.update(grad, state, x)
    return optax.apply_updates(x, updates), state, curve, best_x, best_value

  curve = jnp.zeros((n_iter,), jnp.float32)
  x, _, curve, best_x, best_value = jax.lax.fori_loop(
      0, n_iter, body, (x0, opt.init(x0), curve, x0, jnp.float32(jnp.inf)))
  last = value_and_grad(x)[0]  # the last update's result, never evaluated inside the loop
  best_x = jnp.where(last < best_value, x, best_x)
  return best_x, curve, jnp.int32(n_iter), jnp.int32(n_iter + 1), jnp.int32(MAX_ITER)


def run_style_transfer(params: Any, x0: jax.Array, targets: Targets, *, features_fn: FeaturesFn,
                       config: LossConfig, optimizer: str = "lbfgs", n_iter: int = 300,
                       learning_rate: float = 2.0, memory_size: int = 30,
                       ftol: float = 1e-6,
                       progress: Callable[[jax.Array, jax.Array], None] | None = None,
                       progress_every: int = 0, axis_name: str | None = None) -> StyleResult:
  """Minimises the style loss from ``x0`` in one compiled ``lax.while_loop``.

  Static arguments (for ``jax.jit``): ``features_fn``, ``config``, ``optimizer``,
  ``n_iter``, ``learning_rate``, ``memory_size``, ``ftol``. vmap over ``(x0, targets)`` for a batch.

  The best iterate (the lowest loss seen) is returned, and why the run stopped
  (:data:`STOP_REASONS`): ``"max_iter"``; ``"converged"``: an L-BFGS iteration whose line search
  succeeded lowered the loss by at most ``ftol * max(|f_prev|, |f|, 1)``, or the gradient's largest
  entry at the best iterate is at most 1e-5 (scipy L-BFGS-B's ``ftol`` and ``pgtol`` rules);
  ``"line_search_failed"``: the zoom line search found no step that lowers the loss (with sufficient
  decrease) twice in a row (after the first failure L-BFGS restarts from the best iterate with an
  empty memory). The loss is exact near the optimum (:mod:`specst_jax.style.losses`), so a failure
  is a real one, not a float32 tie.

  Args:
    params: network parameters (not optimised).
    x0: initial representation.
    targets: from :func:`make_targets`.
    optimizer: ``"lbfgs"`` (optax L-BFGS, zoom linesearch) or ``"adam"``.
    n_iter: iterations (at most).
    learning_rate: Adam's step size (ignored by L-BFGS).
    memory_size: L-BFGS history. 30, not scipy's 10: on the Ulyanov workload (3 s, 1024
      filters, experiments/bench_style.py) it reached the TF twin's final loss after 157
      iterations against 440 with 10 (100: 145), for 9 % more time per iteration.
    ftol: L-BFGS's relative-decrease tolerance (0 disables). The loss curve is padded with
      the best value after a stop.
    progress: called on the host as ``progress(step, loss)`` from inside the loop
      (``jax.debug.callback``) every ``progress_every`` iterations (0: never); live progress
      of long runs.
    axis_name: the ``jax.vmap`` axis name when vmapped over pairs: the report is then one
      call per step with the pairs' mean loss (and the furthest step), not one per pair.
  """
  if n_iter < 1:
    raise ValueError(f"n_iter must be >= 1, got {n_iter}")

  def objective(x):
    return loss_terms(x, params, targets, features_fn=features_fn, config=config)["total"]

  def report(step, value):
    _report(progress, progress_every, axis_name, step, value)

  value_and_grad = jax.value_and_grad(objective)
  if optimizer == "lbfgs":
    x, curve, n_done, evals, stop = _lbfgs(objective, value_and_grad, x0, n_iter=n_iter,
                                           memory_size=memory_size, ftol=ftol, report=report)
  elif optimizer == "adam":
    x, curve, n_done, evals, stop = _adam(value_and_grad, x0, n_iter=n_iter,
                                          learning_rate=learning_rate, report=report)
  else:
    raise ValueError(f"optimizer must be 'lbfgs' or 'adam', got {optimizer!r}")
  final = loss_terms(x, params, targets, features_fn=features_fn, config=config)
  return StyleResult(x, curve, jnp.asarray(evals, jnp.int32), final, n_done, stop)
