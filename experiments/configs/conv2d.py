"""The single-net attempt 4 (issue 18), pre-registered before any of its runs (WORKSPACE.md).

Goal: one net >= 64.5 % in 5-fold cross-validation (Piczak's single CNN) under the protocol
(choices on validation data from the training folds; each test fold scored once, at the end).

``--config=experiments/configs/conv2d.py[:REP]`` (default ``log_mel_deltas``): the
representation study's recipe (``experiments/configs/representation_study.py``: 60 epochs,
Adam 1e-3 with one warm-up epoch and cosine decay, batch 16, clip-by-norm 1, time roll, mixup 0.4,
one frequency and one time mask up to 16, no auxiliary head, whole-recording validation, no test
during training) with the net and its training window changed, fixed in advance:

* the net: :class:`specst_jax.models.conv2d.Conv2DClassifier`, Salamon & Bello's (2017) SB-CNN
  layers (conv 24, 48, 48 of 5x5 over time x frequency, max-pool 4x2 after the first two) with
  a pooling head (max over bands, mean over time) and the study's 256-unit hidden layer: a stated
  deviation from the paper's 1-D layers, so not a style-transfer net;
* each training step sees a random 64-frame window (2.05 s) of each clip (``crop_frames``;
  Piczak's long segments are 2.3 s, SB-CNN's 3 s); validation and test score whole clips;
* no per-layer fan-in step scaling (built for the 1-D net's 16x fan-in gap; here conv2's fan-in
  is 12x conv1's and plain Adam is the usual recipe for such nets).

  python -m experiments.crossval_classifier --config=experiments/configs/conv2d.py \\
      --seeds=0 --workdir=experiments/results/conv2d/log_mel_deltas
"""

import ml_collections

from experiments.configs import representation_study

CONV_FEATURES = (24, 48, 48)
KERNEL_SIZE = (5, 5)
POOL = (4, 2)  # (frames, bands)
CROP_FRAMES = 64


def planes(representation: str) -> int:
  """Equal blocks of bands in a representation's channels (log-mel and its delta: 2)."""
  if "+" in representation:
    raise ValueError(f"conv2d config: {representation!r}: a stack's parts have unequal bands; "
                     "use one representation")
  return 2 if representation == "log_mel_deltas" else 1


def get_config(arg: str = "log_mel_deltas") -> ml_collections.ConfigDict:
  rep = arg or "log_mel_deltas"
  c = representation_study.get_config(rep)
  c.model = ml_collections.ConfigDict(dict(
      architecture="conv2d", n_classes=50, n_aux_classes=16, planes=planes(rep),
      conv_features=CONV_FEATURES, kernel_size=KERNEL_SIZE, pool=POOL,
      dense_features=c.model.dense_features, dropout_rate=c.model.dropout_rate,
      dtype=c.model.dtype))
  c.lr_fan_in_scaling = False
  c.augment.crop_frames = CROP_FRAMES
  return c
