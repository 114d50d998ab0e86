"""Small pure pieces of the paper's Figure 1 reproduction (``experiments/figure1.py``).

* :func:`fit_length`: crop or zero-pad audio ``[..., samples]`` to a fixed length.
* :func:`class_posterior`: a trained classifier's softmax probability of one class for audio
  ``[batch, samples]``, through the same feature map, standardisation and module as training.
* :func:`mean_std`: mean and (population) standard deviation of the finite values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike


def fit_length(x: ArrayLike, n: int) -> jax.Array:
  """Crops or zero-pads ``x [..., samples]`` at the end to ``n`` samples (``n`` static, >= 1)."""
  if int(n) < 1:
    raise ValueError(f"n must be a positive number of samples, got {n}")
  x = jnp.asarray(x)
  if x.ndim < 1:
    raise ValueError(f"x must have a samples axis, got shape {x.shape}")
  x = x[..., :n]
  pad = n - x.shape[-1]
  if pad:
    x = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, pad)])
  return x


def class_posterior(params: Any, audio: ArrayLike, *, model: Any,
                    features_fn: Callable[[jax.Array], jax.Array], class_index: int,
                    mean: ArrayLike | None = None, std: ArrayLike | None = None) -> jax.Array:
  """Softmax probability of class ``class_index`` for each clip.

  Args:
    params: the classifier's ``params`` collection (``model.apply({"params": params}, x)``).
    audio: ``[batch, samples]`` at the classifier's sample rate and clip length.
    model: a module returning ``(logits [batch, classes], activations)``.
    features_fn: audio ``[batch, samples]`` -> features ``[batch, frames, channels]``
      (e.g. :func:`specst_jax.esc50.feature_fn` of the weights' feature config).
    class_index: the class, in ``[0, classes)``.
    mean, std: per-channel standardisation the weights were trained with (``None``: none).

  Returns:
    ``[batch]`` probabilities in [0, 1].
  """
  x = features_fn(jnp.asarray(audio, jnp.float32))
  if mean is not None:
    x = (x - jnp.asarray(mean, jnp.float32)) / jnp.asarray(std, jnp.float32)
  logits = model.apply({"params": params}, x, train=False)[0]
  if not 0 <= class_index < logits.shape[-1]:
    raise ValueError(f"class_index {class_index} outside [0, {logits.shape[-1]})")
  return jax.nn.softmax(logits, axis=-1)[..., class_index]


def mean_std(values: ArrayLike) -> tuple[float, float, int]:
  """``(mean, std, count)`` of the finite entries of ``values`` (NaNs if there are none).

  Host-side summary (numpy); ``std`` is the population standard deviation (ddof 0).
  """
  v = np.asarray(values, np.float64).ravel()
  v = v[np.isfinite(v)]
  if v.size == 0:
    return float("nan"), float("nan"), 0
  return float(v.mean()), float(v.std()), int(v.size)
