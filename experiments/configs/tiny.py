"""A tiny configuration for tests: few clips, 4 kHz audio, a few filters, 2 epochs.

``data_dir`` must be overridden (tests write a small fake ESC-50 tree).
"""

import ml_collections

from experiments.configs import paper


def get_config(arg: str = "unit_db") -> ml_collections.ConfigDict:
  c = paper.get_config(arg)
  c.data_dir = ""
  c.clips_per_fold = 8
  c.features.update(dict(sr=4000, n_fft=64, hop_length=32, n_mels=16, n_mfcc=8))
  c.model.update(dict(n_aux_classes=4, conv_features=(8, 4), dense_features=8,
                      dropout_rate=0.5))
  c.val_fraction = 0.25
  c.batch_size = 4
  c.eval_batch_size = 8
  c.learning_rate = 3e-3
  c.num_epochs = 2
  return c
