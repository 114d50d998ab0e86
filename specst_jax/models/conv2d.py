"""A small 2-D convolutional classifier on stacked log-frequency planes (not the paper's net).

The paper's net convolves over time only, with the frequency bins as channels. This one convolves
over time *and* frequency, as the environmental-sound nets of its time did: Piczak (2015) and
Salamon & Bello (2017, "SB-CNN": conv 24 5x5, max-pool 4x2 over time x frequency, conv 48 5x5,
max-pool 4x2, conv 48 5x5, ReLU after each). The layers here are SB-CNN's; the head differs: it
reads the mean over time of the max over frequency of the last map (any clip length; SB-CNN
flattens a fixed 3 s segment), so a net trained on short crops scores whole clips in one pass.

Input is ``[batch, frames, channels]`` like :class:`~specst_jax.models.wyse.WyseClassifier`, with
the channels ``planes`` equal blocks of bands side by side (``log_mel_deltas``: 128 mel bands,
then their 128 deltas); the net sees them as ``[batch, frames, bands, planes]``. It is a
classifier only: style transfer uses the paper's 1-D net.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from specst_jax.models import wyse


def as_planes(x: jax.Array, planes: int) -> jax.Array:
  """``[..., frames, planes * bands]`` -> ``[..., frames, bands, planes]``."""
  *lead, frames, channels = x.shape
  if channels % planes:
    raise ValueError(f"{channels} input channels do not split into {planes} equal planes")
  x = x.reshape(*lead, frames, planes, channels // planes)
  return jnp.swapaxes(x, -1, -2)


class Conv2DClassifier(nn.Module):
  """SB-CNN's three 2-D convolutions, a length-free pooling head and a hidden dense layer.

  Attributes:
    n_classes: classes of the main head (50 for ESC-50).
    n_aux_classes: classes of an auxiliary head (0: none).
    planes: how many equal blocks of bands the input channels hold (2 for log-mel + deltas).
    conv_features: output channels of the convolutions.
    kernel_size: (frames, bands) of every convolution.
    pool: (frames, bands) window and stride of the max-pool after each convolution but the last.
    dense_features: width of the hidden dense layer.
    dropout_rate: dropout before the heads, active only when ``train=True``.
    dtype: computation dtype (parameters stay float32).
  """

  n_classes: int = 50
  n_aux_classes: int = 0
  planes: int = 2
  conv_features: tuple[int, ...] = (24, 48, 48)
  kernel_size: tuple[int, int] = (5, 5)
  pool: tuple[int, int] = (4, 2)
  dense_features: int = 256
  dropout_rate: float = 0.0
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(
      self, x: jax.Array, *, train: bool = False, heads: bool = True
  ) -> tuple[jax.Array | None, dict[str, jax.Array]]:
    """Runs the network on ``x [batch, frames, channels]``.

    Returns:
      ``(class_logits [batch, n_classes] or None when heads=False, activations)`` with
      ``conv1`` ... (after ReLU, ``[batch, frames', bands', features]``), ``pooled``
      ``[batch, features]``, ``dense`` and (with an auxiliary head) ``aux_logits``.
    """
    if x.ndim != 3:
      raise ValueError(f"Conv2DClassifier expects [batch, frames, channels], got shape {x.shape}")
    activations = {}
    h = as_planes(x.astype(self.dtype), self.planes)
    last = len(self.conv_features)
    for i, features in enumerate(self.conv_features, start=1):
      h = nn.Conv(features, self.kernel_size, padding="SAME", dtype=self.dtype,
                  name=f"conv{i}")(h)
      h = nn.relu(h)
      activations[f"conv{i}"] = h
      if i < last:
        h = nn.max_pool(h, self.pool, strides=self.pool)
    if not heads:
      return None, activations
    h = jnp.mean(jnp.max(h, axis=2), axis=1)  # max over bands, then mean over frames
    activations["pooled"] = h
    return wyse.dense_heads(self, h, activations, train=train)


def from_model_config(m: Mapping[str, Any], *, aux: bool) -> Conv2DClassifier:
  """The classifier a config's ``model`` section describes (``architecture="conv2d"``)."""
  return Conv2DClassifier(
      n_classes=m["n_classes"], n_aux_classes=m["n_aux_classes"] if aux else 0,
      planes=m["planes"], conv_features=tuple(m["conv_features"]),
      kernel_size=tuple(m["kernel_size"]), pool=tuple(m["pool"]),
      dense_features=m["dense_features"], dropout_rate=m["dropout_rate"],
      dtype=jnp.dtype(m.get("dtype", "float32")))
