"""Flax networks; each returns ``(output, dict of named activations)``."""

from collections.abc import Mapping
from typing import Any

from specst_jax.models import conv2d, wyse
from specst_jax.models.conv2d import Conv2DClassifier
from specst_jax.models.ulyanov import UlyanovNet, ulyanov_params
from specst_jax.models.vgg19 import VGG19
from specst_jax.models.wyse import WyseClassifier

# ``model.architecture`` in a classifier config -> the builder of its module.
CLASSIFIERS = {"wyse": wyse.from_model_config, "conv2d": conv2d.from_model_config}


def classifier_from_config(m: Mapping[str, Any], *, aux: bool):
  """The ESC-50 classifier a config's ``model`` section describes (``architecture``: a key of
  :data:`CLASSIFIERS`; absent means ``"wyse"``, as in every file written before it existed)."""
  architecture = m.get("architecture", "wyse")
  if architecture not in CLASSIFIERS:
    raise ValueError(f"model.architecture must be one of {sorted(CLASSIFIERS)}, "
                     f"got {architecture!r}")
  return CLASSIFIERS[architecture](m, aux=aux)
