"""Batch style transfer (``experiments/batch_style.py``): how a run is cut, plus style presets.

Usage: ``--config=experiments/configs/batch.py[:PRESET]``; any field can be changed on the
command line (``--config.batch_size=32``). PRESET:

* ``default``: 8 pairs per call, buckets of 2, 4 and 8 s, the networks' own settings.
* ``tpu``: 64 pairs per call (8 per chip of a v5e-8 / 16 per host of a v4-32 slice; rounded up
  to a multiple of the local devices), buckets 2, 4, 8 and 16 s, 4 loader threads.
* ``cpu``: the 200-pair run of the lab notebook on the 2-core work VM: Ulyanov with 256
  filters, 8 kHz, n_fft 512, 30 L-BFGS iterations, 30 fast Griffin-Lim iterations, buckets of 1
  and 2 s.
* ``tiny``: the tests' settings (8 kHz, n_fft 128, 16 Ulyanov filters, 4 Adam iterations, one
  1 s bucket).

``style`` holds settings overrides for every row (any key of the style-transfer settings,
e.g. ``net``, ``n_iter``, ``filters``, ``sr``); the tool's own flags (``--n_iter`` ...) win over
it, and a manifest row's columns win over both.
"""

import ml_collections

PRESETS = ("default", "tpu", "cpu", "tiny")


def get_config(arg: str = "default") -> ml_collections.ConfigDict:
  preset = arg or "default"
  if preset not in PRESETS:
    raise ValueError(f"batch config: unknown preset {preset!r}; known: {PRESETS}")
  c = ml_collections.ConfigDict()
  c.batch_size = 8             # pairs per engine call per process (rounded up to the devices)
  c.bucket_seconds = (2.0, 4.0, 8.0)
  c.min_seconds = 0.1          # shorter content / style files are bad items
  c.loader_threads = 2         # threads reading the next batch's audio
  c.figures = False            # items/<id>/spectrograms.png
  c.barrier_timeout_s = 7 * 86400.0  # process 0 waits this long for the slowest process
  c.compilation_cache_dir = ""  # JAX's persistent cache of compiled programs ("" = off)
  c.style = ml_collections.ConfigDict()
  if preset == "tpu":
    c.batch_size = 64
    c.bucket_seconds = (2.0, 4.0, 8.0, 16.0)
    c.loader_threads = 4
    c.compilation_cache_dir = "~/.cache/specst_jax/xla"  # per host; survives a preemption
  elif preset == "cpu":
    c.batch_size = 8
    c.bucket_seconds = (1.0, 2.0)
    c.style = ml_collections.ConfigDict(dict(
        net="ulyanov", sr=8000, n_fft=512, hop_length=128, filters=256, n_iter=30,
        phase_method="fgla", phase_iter=30))
  elif preset == "tiny":
    c.batch_size = 4
    c.bucket_seconds = (1.0,)
    c.min_seconds = 0.05
    c.loader_threads = 1
    c.style = ml_collections.ConfigDict(dict(
        net="ulyanov", sr=8000, n_fft=128, hop_length=64, filters=16, n_iter=4,
        optimizer="adam", learning_rate=0.05, phase_method="fgla", phase_iter=4))
  return c
