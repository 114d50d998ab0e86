"""The channel-count claims study (``experiments/claims_study.py --study=channels``): presets.

Usage: ``--config=experiments/configs/channels.py[:PRESET]``; any field can be changed on the
command line (``--config.seeds=1``). Fields: ``specst_jax.studies.channels_units.Config`` (the
channel study's ``specst_jax.studies.channels.Config`` plus ``name``, ``optimizer`` and
``converge_rel``). PRESET:

* ``claims`` (default): the pre-registered design. Random-weight nets whose first layer has C
  channels, C in (256, 512, 1024, 2048, 4096): ``wyse`` (the paper's classifier shape, conv C ->
  conv 64 width 5, every weight U(-0.1, 0.1), input standardised with the shipped trained
  weights' per-bin statistics, at their STFT: 16 kHz, n_fft 512, hop 128, not centred; start
  ``0.2 U(-1, 1) + 0.8 content``) and ``ulyanov`` (C filters of width 11 on log(1 + |S|), from
  small noise). 8 content/style pairs (``specst_jax.studies.pairs``: LJSpeech and ESC-50 fold-5
  contents, styles from 6 ESC-50 classes; no paper pair), 2 seeds (each seed: new weights, new
  start), 2.0 s clips at 16 kHz. L-BFGS for both nets: 1000 iterations (wyse), 300 (ulyanov).
  Convergence rule: an item has converged when its best loss fell by less than 0.5 %
  (``converge_rel`` 0.005) over the last 20 % of its iterations. Phase: fast Griffin-Lim, 100
  iterations (as ``experiments/channels.py``). Judges: style distance and modulation distance
  (band-envelope modulation spectrum, 0.5-16 Hz) on a fixed log-mel, and the ``log_mel_wide``
  classifier. Claims (Holm over the four): per net, the per-pair slope of
  ``modulation_distance_db`` against log2 C is negative (a), and that of ``style_distance_db``
  (b); the pair is the unit (seeds averaged), two-sided t test with its 95 % t interval. Audio
  kept for pairs 0 and 1 at seed 0 (FLAC). 2 nets x 5 C x 2 seeds = 20 units, 160 items.
* ``quick``: the tests' design (built-in signals when ``data_dir`` is missing): C in (8, 16), 2
  pairs, 1 seed, 0.5 s, 3 / 2 L-BFGS iterations, 2 phase iterations, no classifier.
"""

import ml_collections

PRESETS = ("claims", "quick")


def get_config(arg: str = "claims") -> ml_collections.ConfigDict:
  preset = arg or "claims"
  if preset not in PRESETS:
    raise ValueError(f"channels config: unknown preset {preset!r}; known: {PRESETS}")
  c = ml_collections.ConfigDict()
  c.name = preset
  c.channels = (256, 512, 1024, 2048, 4096)  # first-layer channels C
  c.nets = ("wyse", "ulyanov")
  c.n_pairs = 8
  c.seeds = 2
  c.duration = 2.0            # s
  c.sr = 16000                # Hz (the shipped trained weights' rate)
  c.optimizer = "lbfgs"       # both nets; or "adam" (then wyse_lr is the Wyse net's step size)
  c.wyse_iter = 1000
  c.ulyanov_iter = 300
  c.wyse_lr = 0.01            # unused by L-BFGS
  c.init = "mix"              # the Wyse net's start: noise U(-1, 1) x r + content x (1 - r)
  c.noise = 0.2               # r
  c.phase_method = "fgla"
  c.phase_iter = 100
  c.classifier = "log_mel_wide"  # the second judge ("" for none)
  c.data_dir = "../shared/data"  # missing: built-in signals
  c.converge_rel = 0.005      # convergence rule: best loss falls < 0.5 % over the last 20 %
  if preset == "quick":
    c.channels = (8, 16)
    c.n_pairs = 2
    c.seeds = 1
    c.duration = 0.5             # the Ulyanov net needs 11 frames (hop 512: 0.35 s)
    c.wyse_iter = 3
    c.ulyanov_iter = 2
    c.phase_iter = 2
    c.classifier = ""
  return c
