"""VGG-19's convolutional part (Simonyan & Zisserman 2015) applied to spectrogram images.

The image convention: a spectrogram ``[..., frames, bins]`` becomes an image
``[..., H=bins, W=frames, 3]`` with row 0 the *lowest* frequency bin (not flipped:
3x3 convolutions do not care, and flipping is only for display), the single channel
copied to R, G and B. Values are the paper's dB-in-[0, 1] (:func:`specst_jax.scaling.unit_db`).
The network normalises its [0, 1] RGB input for the weights it was given
(``preprocessing``): ``"torch"`` (ImageNet mean/std, torchvision weights),
``"caffe_bgr"`` (0-255 BGR minus the mean pixel, Keras weights) or ``"caffe_rgb"``
(0-255 RGB minus the mean pixel, MatConvNet weights). The optimised image is turned
back into one channel by luminosity ``0.299 R + 0.587 G + 0.114 B``.

Layer names are the standard ``conv1_1 ... conv5_4`` (activations after ReLU)
and ``pool1 ... pool5``. Weights: :mod:`specst_jax.pretrained.vgg19`.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

# (block, convolutions, channels)
BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))
CONV_LAYERS = tuple(f"conv{b}_{i}" for b, n, _ in BLOCKS for i in range(1, n + 1))
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_RGB = (123.68, 116.779, 103.939)
PREPROCESSINGS = ("torch", "caffe_bgr", "caffe_rgb")


def layer_shapes() -> dict[str, tuple[tuple[int, int, int, int], tuple[int]]]:
  """``{layer: (kernel [3, 3, in, out], bias [out])}`` of VGG-19."""
  shapes, c_in = {}, 3
  for b, n, c_out in BLOCKS:
    for i in range(1, n + 1):
      shapes[f"conv{b}_{i}"] = ((3, 3, c_in, c_out), (c_out,))
      c_in = c_out
  return shapes


def spectrogram_to_image(x: ArrayLike) -> jax.Array:
  """``[..., frames, bins]`` -> ``[..., H=bins, W=frames, 3]`` (channel copied 3 times)."""
  x = jnp.asarray(x)
  img = jnp.swapaxes(x, -1, -2)
  return jnp.repeat(img[..., None], 3, axis=-1)


def luminosity(image: ArrayLike) -> jax.Array:
  """``0.299 R + 0.587 G + 0.114 B`` of ``[..., H, W, 3]`` -> ``[..., H, W]``."""
  image = jnp.asarray(image)
  if image.shape[-1] != 3:
    raise ValueError(f"image must have 3 channels last, got shape {image.shape}")
  return image @ jnp.asarray([0.299, 0.587, 0.114], image.dtype)


def image_to_spectrogram(image: ArrayLike) -> jax.Array:
  """``[..., H=bins, W=frames, 3]`` -> ``[..., frames, bins]`` by luminosity."""
  return jnp.swapaxes(luminosity(image), -1, -2)


def preprocess(image: ArrayLike, preprocessing: str = "torch") -> jax.Array:
  """Normalises an RGB image in [0, 1] for the given weights (see module docstring)."""
  image = jnp.asarray(image)
  if preprocessing == "torch":
    return (image - jnp.asarray(IMAGENET_MEAN)) / jnp.asarray(IMAGENET_STD)
  if preprocessing == "caffe_rgb":
    return 255.0 * image - jnp.asarray(CAFFE_MEAN_RGB)
  if preprocessing == "caffe_bgr":
    return 255.0 * image[..., ::-1] - jnp.asarray(CAFFE_MEAN_RGB[::-1])
  raise ValueError(f"preprocessing must be one of {PREPROCESSINGS}, got {preprocessing!r}")


class VGG19(nn.Module):
  """VGG-19 convolutional layers; returns ``(last activation, {name: activation})``.

  Attributes:
    pooling: ``"max"`` (the original) or ``"avg"`` (Gatys et al.'s choice for synthesis).
    preprocessing: input normalisation matching the weights (see module docstring).
    last_layer: stop after this layer (saves work when deeper layers are unused).
  """

  pooling: str = "avg"
  preprocessing: str = "torch"
  last_layer: str = "conv5_4"

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Runs the network.

    Args:
      x: an RGB image ``[batch, H, W, 3]`` in [0, 1], or a spectrogram
        ``[batch, frames, bins]`` in [0, 1] (converted by :func:`spectrogram_to_image`).

    Returns:
      ``(h, activations)``: ``convB_I`` ``[batch, H / 2^(B-1), W / 2^(B-1), C]`` after
      ReLU and ``poolB``.
    """
    if x.ndim == 3:
      x = spectrogram_to_image(x)
    if x.ndim != 4 or x.shape[-1] != 3:
      raise ValueError(f"VGG19 expects [batch, H, W, 3] or [batch, frames, bins], got {x.shape}")
    if self.last_layer not in CONV_LAYERS:
      raise ValueError(f"last_layer must be one of {CONV_LAYERS}, got {self.last_layer!r}")
    if self.pooling not in ("max", "avg"):
      raise ValueError(f"pooling must be 'max' or 'avg', got {self.pooling!r}")
    pool = nn.max_pool if self.pooling == "max" else nn.avg_pool
    h = preprocess(x, self.preprocessing)
    acts = {}
    for b, n, c_out in BLOCKS:
      for i in range(1, n + 1):
        name = f"conv{b}_{i}"
        h = nn.relu(nn.Conv(c_out, (3, 3), padding="SAME", name=name)(h))
        acts[name] = h
        if name == self.last_layer:
          return h, acts
      if min(h.shape[1:3]) < 2:
        raise ValueError(
            f"VGG19: image {x.shape[1:3]} too small to pool after block {b}; "
            f"use a larger image or an earlier last_layer")
      h = pool(h, (2, 2), strides=(2, 2))
      acts[f"pool{b}"] = h
    return h, acts
