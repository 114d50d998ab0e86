"""The paper's classifier: frequency bins as channels, two 1-D convolutions over time.

Wyse (2017), footnote 1: conv(bins -> 2048, width 5) + ReLU +
max-pool 2/2, conv(2048 -> 64, width 5) + ReLU + max-pool 2/2, flatten, dense 32 + ReLU
(+ dropout), and two heads: the 50 ESC-50 classes and 16 spectral-centroid classes.

Input is a spectrogram ``[batch, frames, bins]`` (Flax's ``[batch, length, channels]``).
The convolutional part accepts any number of frames; the dense head is tied to the
frame count it was initialised with. Style transfer calls it with ``heads=False``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

CONV_LAYERS = ("conv1", "conv2")


class WyseClassifier(nn.Module):
  """Two-conv-layer classifier with an auxiliary spectral-centroid head.

  Attributes:
    n_classes: classes of the main head (50 for ESC-50).
    n_aux_classes: classes of the auxiliary head (16 centroid bins); 0 drops the head.
    conv_features: output channels of the two convolutions.
    kernel_width: width (frames) of both convolutions.
    dense_features: width of the hidden dense layer.
    dropout_rate: dropout before the heads, active only when ``train=True``.
    dtype: computation dtype (parameters stay float32).
    head_input: how the last pooled conv map ``[batch, frames', channels]`` feeds the
      dense layer: ``"flatten"`` (the paper's; ties the heads to one frame count) or
      global pooling over frames, ``"max"``, ``"mean"`` or ``"meanmax"`` (mean and max
      concatenated; any frame count, invariant to time shifts).
  """

  n_classes: int = 50
  n_aux_classes: int = 16
  conv_features: tuple[int, int] = (2048, 64)
  kernel_width: int = 5
  dense_features: int = 32
  dropout_rate: float = 0.5
  dtype: jnp.dtype = jnp.float32
  head_input: str = "flatten"

  @nn.compact
  def __call__(
      self, x: jax.Array, *, train: bool = False, heads: bool = True
  ) -> tuple[jax.Array | None, dict[str, jax.Array]]:
    """Runs the network.

    Args:
      x: spectrogram ``[batch, frames, bins]``.
      train: enables dropout (needs a ``"dropout"`` rng).
      heads: when False, stops after the convolutions (any frame count) and
        returns ``None`` as the output.

    Returns:
      ``(class_logits [batch, n_classes] or None, activations)`` where
      activations holds ``conv1``, ``conv2`` (after ReLU, before pooling,
      ``[batch, frames', channels]``), ``pool1``, ``pool2`` and, with heads,
      ``dense`` and ``aux_logits``.
    """
    if x.ndim != 3:
      raise ValueError(f"WyseClassifier expects [batch, frames, bins], got shape {x.shape}")
    activations = {}
    h = x.astype(self.dtype)
    for i, features in enumerate(self.conv_features, start=1):
      h = nn.Conv(features, (self.kernel_width,), padding="SAME", dtype=self.dtype,
                  name=f"conv{i}")(h)
      h = nn.relu(h)
      activations[f"conv{i}"] = h
      h = nn.max_pool(h, (2,), strides=(2,))
      activations[f"pool{i}"] = h
    if not heads:
      return None, activations
    return dense_heads(self, _head_input(h, self.head_input), activations, train=train)


def dense_heads(module: nn.Module, h: jax.Array, activations: dict[str, jax.Array], *,
                train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
  """The classifiers' shared top, called inside ``module``'s compact ``__call__`` (so its layers
  are ``module``'s own ``dense``, ``class_head`` and ``aux_head``): dense + ReLU, dropout, then
  the class head and, when ``module.n_aux_classes``, the auxiliary head.

  Returns ``(class logits, activations)`` with ``dense`` and ``aux_logits`` added.
  """
  h = nn.relu(nn.Dense(module.dense_features, dtype=module.dtype, name="dense")(h))
  activations["dense"] = h
  h = nn.Dropout(module.dropout_rate, deterministic=not train)(h)
  logits = nn.Dense(module.n_classes, dtype=module.dtype, name="class_head")(h)
  if module.n_aux_classes:
    activations["aux_logits"] = nn.Dense(module.n_aux_classes, dtype=module.dtype,
                                         name="aux_head")(h)
  return logits, activations


def from_model_config(m: Mapping[str, Any], *, aux: bool) -> WyseClassifier:
  """The classifier a config's ``model`` section describes (a ConfigDict or the dict in
  a provenance record); ``aux=False`` drops the auxiliary head."""
  return WyseClassifier(
      n_classes=m["n_classes"], n_aux_classes=m["n_aux_classes"] if aux else 0,
      conv_features=tuple(m["conv_features"]), kernel_width=m["kernel_width"],
      dense_features=m["dense_features"], dropout_rate=m["dropout_rate"],
      dtype=jnp.dtype(m.get("dtype", "float32")), head_input=m.get("head_input", "flatten"))


def _head_input(h: jax.Array, kind: str) -> jax.Array:
  """``[batch, frames, channels]`` -> ``[batch, features]`` for the dense layer."""
  if kind == "flatten":
    return h.reshape(h.shape[0], -1)
  if kind == "max":
    return jnp.max(h, axis=1)
  if kind == "mean":
    return jnp.mean(h, axis=1)
  if kind == "meanmax":
    return jnp.concatenate([jnp.mean(h, axis=1), jnp.max(h, axis=1)], axis=-1)
  raise ValueError(f"head_input must be 'flatten', 'max', 'mean' or 'meanmax', got {kind!r}")
