"""The paper's classifier (Wyse 2017) on ESC-50 (Piczak 2015): data, features, training, scoring.

* :mod:`~specst_jax.classifier.esc50`: host data (metadata, folds, splits, waveforms, centroid
  classes); numpy only.
* :mod:`~specst_jax.classifier.features`: :class:`FeatureConfig`, the pure feature maps
  (audio -> ``[batch, frames, channels]``, clip centroid) and the on-disk feature cache.
* :mod:`~specst_jax.classifier.splits`: train / validation / test arrays of a config, the
  standardisation (fitted on training clips only), host batches.
* :mod:`~specst_jax.classifier.steps`: model and optimiser, augmentation, loss, jitted
  data-parallel train / eval steps.
* :mod:`~specst_jax.classifier.train`: :func:`train_and_evaluate`, orbax checkpoints, export.
* :mod:`~specst_jax.classifier.evaluate`: accuracy, ensembles, test-time averaging over crops,
  :func:`class_posterior`.
* :mod:`~specst_jax.classifier.crossval`: K folds x seeds.

The network is :class:`specst_jax.models.wyse.WyseClassifier` (or, with ``model.architecture =
"conv2d"``, the 2-D :class:`specst_jax.models.conv2d.Conv2DClassifier`); trained weights are
loaded and written by :mod:`specst_jax.pretrained`. Submodules are imported on use (``train``
pulls in orbax).
"""
