"""The single-net attempt (issue 18), pre-registered before any of its runs (WORKSPACE.md).

Goal: one net >= 64.5 % in 5-fold cross-validation (Piczak's single CNN) under the protocol
(choices on validation data from the training folds; each test fold scored once, at the end).

``--config=experiments/configs/single_net.py[:REP[,centred]]``: the representation study's
recipe (``experiments/configs/representation_study.py``: hop 512, mixup + masks, no auxiliary
head, the 256-unit hidden layer, whole-recording validation, no test during training) with
three changes, fixed in advance:

* the paper's 2048-filter first layer (the form style transfer uses; the study uses 512);
* a moving average of the weights (``ema_decay=0.999``), which is validated, selected and
  exported;
* 80 epochs instead of 60.

Inputs, also fixed in advance: ``unit_db`` (the paper's input and the style-transfer default)
and the input with the highest mean *validation* accuracy over the study's runs (never its test
accuracy). ``centred`` sets ``features.center=True`` if the study's centring run says so.

  python -m experiments.crossval_classifier \
      --config=experiments/configs/single_net.py:unit_db --seeds=0 \
      --workdir=experiments/results/single_net/unit_db
"""

import ml_collections

from experiments.configs import representation_study

CONV_FEATURES = (2048, 64)
EMA_DECAY = 0.999
NUM_EPOCHS = 80


def get_config(arg: str = "unit_db") -> ml_collections.ConfigDict:
  rep, *options = (arg or "unit_db").split(",")
  if any(o != "centred" for o in options):
    raise ValueError(f"single_net config: {arg!r}: expected REP or REP,centred")
  c = representation_study.get_config(rep)
  c.model.conv_features = CONV_FEATURES
  c.ema_decay = EMA_DECAY
  c.num_epochs = NUM_EPOCHS
  c.features.center = "centred" in options
  return c
