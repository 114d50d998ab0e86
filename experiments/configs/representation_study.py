"""The representation study's recipe, fixed before the study (issue 18; WORKSPACE.md).

``--config=experiments/configs/representation_study.py[:REP]``: the recipe of
``experiments/configs/paper.py:REP,study,hop512,aug,noaux,wide,srcval`` at 60 epochs, the
best cross-validated single-model recipe of session 5 (58.6-60.35 % on log-mel over four
seeds), and nothing tuned for this study:

* net: the 512-filter study net (conv 512 w5, pool 2; conv 64 w5, pool 2; mean+max over time;
  dense 256 (``wide``, a stated deviation from the paper's 32) + ReLU; 50 classes), no
  auxiliary head, no dropout;
* input: 16 kHz (the shared ESC-50 copy's rate: 8 kHz bandwidth), n_fft 1024, hop 512
  (32 ms frames, 155 per clip) for every representation, Hann, not centred (the paper's
  ``center=False``; ``representation_study --centre=both`` measures centred against it),
  standardised per channel on the training clips;
* training: Adam 1e-3 with per-layer fan-in step scaling, one warm-up epoch then cosine decay,
  batch 16, clip-by-norm 1, time roll + mixup (Beta 0.4) + one frequency and one time mask
  (up to 16), 60 epochs;
* protocol: the epoch with the best validation accuracy on 10 % of the training folds held
  out as whole source recordings (``srcval``); the test fold is not evaluated during training
  (``test_every_epoch=False``) and is scored once per run at the end by ``crossval``.

The representation ARG only sets the default input; ``representation_study`` replaces it per
row. Every representation keeps its defaults (128 Slaney mel bands; 40 MFCC + deltas and
delta-deltas, 120 channels; log-mel + first delta, 256; semitone ``logfreq`` bands from C1,
95 at 16 kHz; unit_db: 513 linear bins; 80 dB floors).
"""

import ml_collections

from experiments.configs import paper

RECIPE = "study,hop512,aug,noaux,wide,srcval"
NUM_EPOCHS = 60


def get_config(arg: str = "unit_db") -> ml_collections.ConfigDict:
  c = paper.get_config(f"{arg or 'unit_db'},{RECIPE}")
  c.num_epochs = NUM_EPOCHS
  c.test_every_epoch = False
  return c
