"""Flax networks; each returns ``(output, dict of named activations)``."""

from specst_jax.models.wyse import WyseClassifier
