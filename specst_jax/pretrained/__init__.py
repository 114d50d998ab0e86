"""Pretrained weights: the shipped Wyse classifiers (export, load, provenance) and the VGG-19
weight-file converters.

* :mod:`specst_jax.pretrained.wyse`: :func:`load_wyse`, :func:`load_wyse_bundle` (weights with
  their STFT, representation and normaliser, and the one fallback rule for ``--weights``),
  :func:`export_wyse`, :func:`feature_settings` (the one reader of the provenance schema),
  :data:`SHIPPED`, :data:`ENSEMBLES`.
* :mod:`specst_jax.pretrained.vgg19`: user-supplied ImageNet VGG-19 files (``.npz``, Keras
  ``.h5``, torchvision ``.pth``, MatConvNet ``.mat``) -> Flax variables.

Host-side I/O; the networks themselves are in :mod:`specst_jax.models`.
"""

from specst_jax.pretrained.wyse import (
    ENSEMBLES,
    SHIPPED,
    WyseBundle,
    default_weights_path,
    expand_ensembles,
    export_wyse,
    feature_settings,
    load_wyse,
    load_wyse_bundle,
    model_from_provenance,
)
