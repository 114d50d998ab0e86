"""Tests for experiments/configs/paper.py (the training recipes) and tiny.py."""

import pytest

from experiments.configs import paper


def test_paper_config_options():
  c = paper.get_config("log_mel,study,fold2")
  assert c.train_folds == (1, 3, 4, 5) and c.test_folds == (2,)
  assert c.model.conv_features == (512, 64) and c.model.head_input == "meanmax"
  assert c.standardize and c.lr_fan_in_scaling and c.augment.time_roll
  old = paper.get_config("unit_db,paper_recipe")
  assert old.model.head_input == "flatten" and not old.standardize and not old.augment.time_roll
  assert paper.get_config("flatten,noaux").aux_weight == 0.0
  coarse = paper.get_config("log_mel,hop512,aug")
  assert (coarse.features.n_fft, coarse.features.hop_length) == (1024, 512)
  assert coarse.augment.mixup == paper.AUG["mixup"] and coarse.augment.freq_mask > 0
  assert paper.get_config("hop256").features.hop_length == 256
  assert paper.get_config("wide").model.dense_features == 256 and c.model.dense_features == 32
  assert paper.get_config("srcval").val_by_source and not c.val_by_source
  assert paper.get_config("log_mel_deltas").features.representation == "log_mel_deltas"
  assert paper.get_config("log_mel_deltas+logfreq,study").features.representation == (
      "log_mel_deltas+logfreq")
  assert c.augment.mixup == 0.0 and c.features.hop_length == 128
  for bad in ("fold1,fold2", "log_mel,mfcc", "fold6", "hop256,hop512", "log_mel+log_mel"):
    with pytest.raises(ValueError, match="config arguments"):
      paper.get_config(bad)

