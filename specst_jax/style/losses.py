"""Gram matrices, style and content losses (pure functions).

Features are ``[..., positions, channels]``: positions are the output frames of
a 1-D net, or the flattened ``H * W`` pixels of a 2-D net (see :func:`flatten_positions`).

Gram normalisations (``normalization``):
  * ``"input_frames"``: ``G = F^T F / T`` with ``T`` the *input* frames (Ulyanov's TF notebook);
  * ``"output_frames"``: ``G = F^T F / M`` with ``M`` the feature positions (Torch/Lasagne);
  * ``"gatys"``: ``G = F^T F`` unnormalised and ``E = sum((G - G_s)^2) / (4 N^2 M^2)``
    (Gatys et al. 2015, Wyse 2017), ``N`` channels, ``M`` positions.
All three are written as ``E = sum((a F^T F - G_t)^2)`` with a scale ``a``
(:func:`gram_scale`; for Gatys ``a = 1 / (2 N M)``) and a target ``G_t``.

When ``positions + style positions < channels`` the loss is computed through
frame-by-frame products, never forming the ``C x C`` Gram:
``||a F^T F - S^T S||^2 = a^2 ||F F^T||^2 - 2 a ||F S^T||^2 + ||S S^T||^2``
where ``S`` stacks the (scaled) style features so that ``G_t = S^T S``.

Precision near the optimum: there the three terms are large and nearly cancel (at the end of
a 2 s, 1024-filter Ulyanov run the loss is 17.8 while ``||S S^T||^2`` is 16,809), so in float32
the difference has an error of about ``6e-8 * 16,809 = 1e-3``: the last L-BFGS steps, which
lower the loss by 1e-4 to 1e-2, become ties and the line search fails. The frame products, the
three sums and their combination are therefore computed in float64 (inputs and the result
stay float32; the matrices are only ``M x M`` and ``M x R``), and ``||S S^T||^2`` is kept as a
float32 pair (hi, lo) whose sum is its float64 value. The explicit-Gram form needs no such
care (its differences are taken entry by entry).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import struct
from jax.typing import ArrayLike

NORMALIZATIONS = ("input_frames", "output_frames", "gatys")
_HI = jax.lax.Precision.HIGHEST


def _check_norm(normalization: str) -> None:
  if normalization not in NORMALIZATIONS:
    raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")


def flatten_positions(features: ArrayLike) -> jax.Array:
  """2-D features ``[..., H, W, C]`` -> ``[..., H * W, C]``."""
  features = jnp.asarray(features)
  return features.reshape(features.shape[:-3] + (-1, features.shape[-1]))


def gram_scale(normalization: str, *, n_positions: int, n_channels: int,
               n_input_frames: int | None = None) -> float:
  """The scale ``a`` with ``E = sum((a F^T F - a_s F_s^T F_s)^2)`` for each normalisation."""
  _check_norm(normalization)
  if normalization == "input_frames":
    if n_input_frames is None or n_input_frames < 1:
      raise ValueError("normalization='input_frames' needs n_input_frames >= 1")
    return 1.0 / n_input_frames
  if normalization == "output_frames":
    return 1.0 / max(n_positions, 1)
  return 1.0 / (2.0 * n_channels * max(n_positions, 1))


def gram(features: ArrayLike, *, normalization: str = "output_frames",
         n_input_frames: int | None = None) -> jax.Array:
  """Gram matrix ``[..., C, C]`` of features ``[..., M, C]``.

  ``"input_frames"`` divides by ``n_input_frames``, ``"output_frames"`` by ``M``,
  ``"gatys"`` returns ``F^T F`` unnormalised (its ``1 / (4 N^2 M^2)`` is in the loss).
  """
  _check_norm(normalization)
  features = jnp.asarray(features)
  g = jnp.einsum("...mc,...md->...cd", features, features, precision=_HI)
  if normalization == "gatys":
    return g
  m = features.shape[-2]
  return g * gram_scale(normalization, n_positions=m, n_channels=features.shape[-1],
                        n_input_frames=n_input_frames)


def gram_loss_direct(features: ArrayLike, style_features: ArrayLike, *,
                     normalization: str = "output_frames", n_input_frames: int | None = None,
                     style_input_frames: int | None = None) -> jax.Array:
  """Style loss from explicit ``C x C`` Grams (the reference form; slow for large ``C``).

  ``features [..., M, C]`` and ``style_features [..., M_s, C]``. For ``"gatys"``
  ``E = sum((G - G_s)^2) / (4 N^2 M^2)`` (both unnormalised, equal lengths as in the paper).
  """
  g = gram(features, normalization=normalization, n_input_frames=n_input_frames)
  g_s = gram(style_features, normalization=normalization, n_input_frames=style_input_frames)
  e = jnp.sum((g - g_s) ** 2, axis=(-2, -1))
  if normalization == "gatys":
    n, m = features.shape[-1], features.shape[-2]
    e = e / (4.0 * n**2 * m**2)
  return e


class StyleTarget(struct.PyTreeNode):
  """Precomputed style statistics of one layer (a pytree; vmappable over a batch).

  ``value`` is either a stack ``S [R, C]`` (``G_t = S^T S``, the frame-product
  path) or the target Gram ``G_t [C, C]``; ``const = ||G_t||^2`` as a float32 pair
  ``[hi, lo]`` whose float64 sum is its value (see the module docstring). ``scale`` is
  the ``a`` of the generated features (static).
  """

  value: jax.Array
  const: jax.Array
  scale: float = struct.field(pytree_node=False)
  frame_products: bool = struct.field(pytree_node=False)


def _float64(x: jax.Array) -> jax.Array:
  """``x`` as float64; call inside ``jax.enable_x64(True)``."""
  return jnp.asarray(x).astype(jnp.float64)


def _split_pair(x64: jax.Array) -> jax.Array:
  """A float64 scalar as a float32 pair ``[hi, lo]`` with ``hi + lo == x64`` to ~1e-14."""
  hi = x64.astype(jnp.float32)
  lo = (x64 - hi.astype(jnp.float64)).astype(jnp.float32)
  return jnp.stack([hi, lo])


def _products(a: jax.Array, b: jax.Array) -> jax.Array:
  """``a b^T`` for ``a [M, C]``, ``b [R, C]`` in float64 (inside ``enable_x64``)."""
  return jnp.einsum("mc,rc->mr", _float64(a), _float64(b), precision=_HI)


def _sum_of_squared_products(a: jax.Array, b: jax.Array) -> jax.Array:
  """``||a b^T||^2`` in float64 (inside ``enable_x64``)."""
  k = _products(a, b)
  return jnp.sum(k * k)


def _float64_island(fn):
  """``fn(*arrays)`` traced with float64 enabled, also when it is vmapped later.

  ``jax.enable_x64`` around a traced function is not enough on its own: a ``vmap`` of a loop
  around it re-batches the traced body after the context has closed, and float64 ops would
  meet float32 ones. A ``custom_vmap`` rule re-enters the context for the batched call.
  ``fn`` takes and returns float32 arrays; its float64 stays inside.
  """
  @jax.custom_batching.custom_vmap
  def island(*args):
    with jax.enable_x64(True):
      return fn(*args)

  @island.def_vmap
  def _batched(axis_size, in_batched, *args):
    del axis_size
    in_axes = tuple(0 if batched else None for batched in in_batched)
    with jax.enable_x64(True):
      out = jax.vmap(fn, in_axes=in_axes)(*args)
    return out, jax.tree.map(lambda _: True, out)

  return island


def _loss_value(f, s, const, *, a):
  e = (a * a * _sum_of_squared_products(f, f) - 2.0 * a * _sum_of_squared_products(f, s)
       + jnp.sum(_float64(const)))
  return e.astype(jnp.float32)


def _loss_gradients(f, s, cotangent, *, a):
  f64, s64, g = _float64(f), _float64(s), _float64(cotangent)
  ff, fs = _products(f, f), _products(f, s)
  d_f = 4.0 * g * (a * a * (ff @ f64) - a * (fs @ s64))
  d_s = -4.0 * g * a * (fs.T @ f64)
  return d_f.astype(f.dtype), d_s.astype(s.dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _frame_product_loss(f: jax.Array, s: jax.Array, const: jax.Array, a: float) -> jax.Array:
  """``a^2 ||F F^T||^2 - 2a ||F S^T||^2 + ||S S^T||^2`` in float64, returned as float32.

  A custom VJP, so that the gradient (a difference of two nearly equal terms as well) is
  also formed in float64: JAX's own transpose would run outside ``enable_x64``.
  """
  return _frame_product_forward(f, s, const, a)[0]


def _frame_product_forward(f, s, const, a):
  value = _float64_island(functools.partial(_loss_value, a=a))(f, s, const)
  return value, (f, s, const)


def _frame_product_backward(a, residuals, cotangent):
  f, s, const = residuals
  d_f, d_s = _float64_island(functools.partial(_loss_gradients, a=a))(f, s, cotangent)
  return d_f, d_s, jnp.broadcast_to(cotangent, const.shape).astype(const.dtype)


_frame_product_loss.defvjp(_frame_product_forward, _frame_product_backward)


def style_target(style_features: ArrayLike | Sequence[ArrayLike], *, normalization: str,
                 n_positions: int, n_input_frames: int | None = None,
                 style_input_frames: Sequence[int] | int | None = None,
                 method: str = "auto") -> StyleTarget:
  """Builds the target of one layer from one or several style clips.

  Several clips are combined into the frame-weighted mean Gram
  ``sum_k F_k^T F_k / sum_k M_k`` (``sum_k T_k`` for ``"input_frames"``); for
  ``"gatys"`` that mean is rescaled to the generated length (``* M``), which is
  the paper's unnormalised Gram when the lengths are equal.

  Args:
    style_features: ``[M_k, C]`` or a sequence of them (different ``M_k`` allowed).
    normalization: see module docstring.
    n_positions: ``M``, positions of the generated features.
    n_input_frames: ``T``, input frames of the generated spectrogram ("input_frames").
    style_input_frames: ``T_k`` of each style clip ("input_frames").
    method: ``"frames"`` (frame products), ``"gram"`` (C x C) or ``"auto"``.

  Returns:
    a :class:`StyleTarget`.
  """
  _check_norm(normalization)
  feats = [jnp.asarray(style_features)] if not isinstance(style_features, (list, tuple)) else [
      jnp.asarray(f) for f in style_features]
  if any(f.ndim != 2 for f in feats):
    raise ValueError(
        f"style features must be [positions, channels], got {[f.shape for f in feats]}")
  n_channels = feats[0].shape[-1]
  if any(f.shape[-1] != n_channels for f in feats):
    raise ValueError("style clips give different channel counts")
  a = gram_scale(normalization, n_positions=n_positions, n_channels=n_channels,
                 n_input_frames=n_input_frames)
  if normalization == "input_frames":
    if style_input_frames is None:
      raise ValueError("normalization='input_frames' needs style_input_frames")
    frames = ([style_input_frames] if isinstance(style_input_frames, int)
              else list(style_input_frames))
    c = 1.0 / sum(frames)
  else:
    c = a * n_positions / sum(f.shape[0] for f in feats)
  stack = jnp.concatenate(feats, axis=0) * jnp.sqrt(jnp.float32(c))
  if method not in ("auto", "frames", "gram"):
    raise ValueError(f"method must be 'auto', 'frames' or 'gram', got {method!r}")
  use_frames = method == "frames" or (
      method == "auto" and n_positions + stack.shape[0] < n_channels)
  if use_frames:
    const = _float64_island(lambda x: _split_pair(_sum_of_squared_products(x, x)))(stack)
    return StyleTarget(stack, const, a, True)
  g_t = jnp.einsum("rc,rd->cd", stack, stack, precision=_HI)
  const = _float64_island(lambda g: _split_pair(jnp.sum(_float64(g) ** 2)))(g_t)
  return StyleTarget(g_t, const, a, False)


def style_loss(features: ArrayLike, target: StyleTarget) -> jax.Array:
  """``sum((a F^T F - G_t)^2)`` for features ``[M, C]`` against a :class:`StyleTarget` (float32).

  The frame-product form is exact to float32 rounding of its result near the optimum (its
  products and sums are float64; see the module docstring).
  """
  f = jnp.asarray(features)
  a = target.scale
  if target.frame_products:
    return _frame_product_loss(f, target.value, target.const, a)
  g = jnp.einsum("mc,md->cd", f, f, precision=_HI) * a
  return jnp.sum((g - target.value) ** 2)


def content_loss(features: ArrayLike, content_features: ArrayLike, *,
                 normalization: str = "sum") -> jax.Array:
  """``sum((F - F_c)^2)`` (Ulyanov; ``"sum"``) or that ``/ (4 * numel)`` (Wyse; ``"wyse"``)."""
  d = jnp.sum((jnp.asarray(features) - jnp.asarray(content_features)) ** 2)
  if normalization == "sum":
    return d
  if normalization == "wyse":
    return d / (4.0 * jnp.size(jnp.asarray(features)))
  raise ValueError(f"content normalization must be 'sum' or 'wyse', got {normalization!r}")


def range_penalty(x: ArrayLike, *, low: float = 0.0, high: float = 1.0) -> jax.Array:
  """``sum(relu(low - x)^2 + relu(x - high)^2)``: zero inside ``[low, high]``."""
  x = jnp.asarray(x)
  return jnp.sum(jnp.maximum(low - x, 0.0) ** 2 + jnp.maximum(x - high, 0.0) ** 2)
