"""Flax networks; each returns ``(output, dict of named activations)``."""

from specst_jax.models.ulyanov import UlyanovNet, ulyanov_params
from specst_jax.models.vgg19 import VGG19
from specst_jax.models.wyse import WyseClassifier
