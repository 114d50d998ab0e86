r"""Trains a feed-forward style generator for one style clip (resumes from the work directory).

  python -m experiments.train_feedforward --style=../shared/data/rooster/rooster_wyse2017.wav \
      --workdir=out/feedforward/rooster --filters=1024 --phase_method=rtpghi --max_minutes=38

(the shipped ``specst_jax/weights/feedforward/rooster`` model's command: its defaults are that
recipe, 256 channels, Adam 3e-4 on gradients clipped to a global norm of 1e5, 6000 steps of 8
crops of 2 s with their left context; it stopped at step 5789 after 38 minutes on this CPU)

The engine's settings come from the net's defaults and the setting flags, as in
``experiments/style_transfer.py`` (``transfer.Settings.for_net``; ``--seed`` draws the loss
net's random weights exactly as the optimisation does, and the generator's first weights and
the batches). Content: the shared LJSpeech, music and ESC-50 clips under ``--data_dir``
(``feedforward.content_files``, the style file left out), split by a hash of each file name
into training and held-out clips (``feedforward.split_files``); crops of ``--crop_seconds``,
each with the generator's receptive field of its clip before it (``--context``).
Training: ``feedforward.train`` (the engine's own loss, Adam, orbax checkpoints): it resumes
from the last checkpoint in ``--workdir`` (a checkpoint of other settings is refused), and
with ``--max_minutes`` it stops at the first step past the limit, after a checkpoint; run the
same command again to go on. Writes into ``--workdir``: ``checkpoints/``, ``history.jsonl``,
``model.msgpack`` + ``model.json`` (settings, generator, training record, held-out files,
``provenance`` with the SHA-256 of the style and content files) and ``style.wav`` (the style
as trained on): what ``experiments/stylize_fast.py`` and ``experiments/bench_feedforward.py``
take as ``--model``.
"""

import time
from pathlib import Path

from absl import app, flags

from specst_jax import audio, cli, files, provenance
from specst_jax.style import feedforward, transfer

# The setting flags that matter to training (the optimiser's own ones do not); phase_method
# and phase_iter are stored with the model: the optimisation's phase in bench_feedforward.
SETTINGS = ("sr", "n_fft", "hop_length", "content_weight", "style_weight", "filters",
            "phase_method", "phase_iter")
DEFAULT_GENERATOR = feedforward.FeedForwardGenerator()
DEFAULT_CONFIG = feedforward.TrainConfig()  # the shipped rooster model's recipe

_STYLE = flags.DEFINE_string("style", None, "the style audio file (its whole length)")
_WORKDIR = flags.DEFINE_string("workdir", None, "work directory: checkpoints and the model")
_NET = flags.DEFINE_enum("net", "ulyanov", ["ulyanov", "wyse"], "the loss net")
_WEIGHTS = flags.DEFINE_string(
    "weights", None, "wyse: trained weights (default: the shipped ones) or 'random'; "
    "ulyanov: unused (always random)")
_DATA = flags.DEFINE_string("data_dir", "../shared/data", "the shared data folder (content: "
                            "speech/ljspeech/*.flac, music/**/*.ogg, esc50_16k)")
_ESC50 = flags.DEFINE_integer("esc50_per_class", 2, "ESC-50 content clips per class")
_HELDOUT = flags.DEFINE_float("heldout_fraction", 0.15, "fraction of the content files held out "
                              "(by a hash of the file name)")
_CROP = flags.DEFINE_float("crop_seconds", 2.0, "seconds per training crop (the frames the "
                           "loss sees; the left context comes on top)")
_CONTEXT = flags.DEFINE_bool("context", True, "give each crop the receptive field's left "
                             "context of its clip (silence before the clip's start); the loss "
                             "sees only the frames after it")
_STEPS = flags.DEFINE_integer("steps", DEFAULT_CONFIG.steps,
                              "training steps (a resumed run may raise it)")
_BATCH = flags.DEFINE_integer("batch_size", DEFAULT_CONFIG.batch_size, "crops per step")
_LR = flags.DEFINE_float("learning_rate", DEFAULT_CONFIG.learning_rate, "Adam's step size")
_CLIP = flags.DEFINE_float("clip_norm", DEFAULT_CONFIG.clip_norm,
                           "clip the gradient's global norm to this before Adam (0: no clipping)")
_GAIN = flags.DEFINE_float("gain_db", DEFAULT_CONFIG.gain_db,
                           "each crop is lowered by a uniform [0, gain_db] dB")
_SEED = flags.DEFINE_integer("seed", 0, "PRNG seed: the loss net's random weights (as the "
                             "optimisation's), the generator's first weights and the batches")
_CHANNELS = flags.DEFINE_integer("channels", DEFAULT_GENERATOR.channels,
                                 "the generator's hidden channels")
_KERNEL = flags.DEFINE_integer("kernel_width", DEFAULT_GENERATOR.kernel_width,
                               "the generator's frames per convolution")
_DILATIONS = flags.DEFINE_list("dilations", [str(d) for d in DEFAULT_GENERATOR.dilations],
                               "the generator's residual blocks, one dilation each")
_LOG_EVERY = flags.DEFINE_integer("log_every", 10, "steps between progress lines")
_EVAL_EVERY = flags.DEFINE_integer("eval_every", 100, "steps between held-out losses")
_CKPT_EVERY = flags.DEFINE_integer("checkpoint_every", 100, "steps between checkpoints")
_MAX_MINUTES = flags.DEFINE_float("max_minutes", 0.0, "stop at the first step past this many "
                                  "minutes of this process, after a checkpoint (0: no limit)")
_FLAGS = {k: getattr(flags, f"DEFINE_{kind}")(k, None, *([values] if values else []),
                                              f"{help_} (net default)")
          for k, (kind, values, help_) in transfer.SETTING_FLAGS.items() if k in SETTINGS}
flags.mark_flags_as_required(["style", "workdir"])


def check_flags() -> None:
  """Refuses flags that cannot work, before any work (each error names its flag)."""
  for name, flag, low in (("steps", _STEPS, 1), ("batch_size", _BATCH, 1),
                          ("channels", _CHANNELS, 1), ("kernel_width", _KERNEL, 1)):
    if flag.value < low:
      raise ValueError(f"--{name} must be >= {low}, got {flag.value}")
  for name, flag in (("crop_seconds", _CROP), ("learning_rate", _LR)):
    if not flag.value > 0:
      raise ValueError(f"--{name} must be > 0, got {flag.value}")
  if _CLIP.value < 0:
    raise ValueError(f"--clip_norm must be >= 0, got {_CLIP.value}")
  if _MAX_MINUTES.value < 0:
    raise ValueError(f"--max_minutes must be >= 0, got {_MAX_MINUTES.value}")
  if not _DILATIONS.value or any(not d.isdigit() or int(d) < 1 for d in _DILATIONS.value):
    raise ValueError(f"--dilations must be integers >= 1, got {','.join(_DILATIONS.value)}")
  if not Path(_STYLE.value).is_file():
    raise FileNotFoundError(f"--style={_STYLE.value}: no such file")


def make_settings() -> transfer.Settings:
  """The engine's settings from the net's defaults and the setting flags."""
  given = {k: f.value for k, f in _FLAGS.items()}
  return transfer.Settings.for_net(_NET.value, dict(given, weights=_WEIGHTS.value,
                                                    seed=_SEED.value))


def content_split(style: str) -> tuple[list[Path], list[Path]]:
  """``(training, held-out)`` content files of ``--data_dir``, the style file left out."""
  paths = feedforward.content_files(_DATA.value, esc50_per_class=_ESC50.value, exclude=[style])
  train_files, heldout = feedforward.split_files(paths, _HELDOUT.value)
  if not train_files:
    raise ValueError(f"--data_dir={_DATA.value}: no training clips left after holding out "
                     f"{len(heldout)} (lower --heldout_fraction)")
  return train_files, heldout


def run(deadline: float | None) -> feedforward.TrainResult:
  """One training run (or its next chunk) from the flags; returns its result."""
  check_flags()
  files.check_output_dir(_WORKDIR.value, inputs=[_STYLE.value])
  settings = make_settings()
  settings, net = feedforward.loss_net(settings)  # trained Wyse weights bring their STFT
  representation, weights = net.representation, net.weights
  del net  # train() builds its own (Ulyanov's 4096-filter kernel is 185 MB)
  sr = settings.stft.sr
  style = audio.load_audio(_STYLE.value, sr=sr, min_samples=settings.stft.n_fft)[0]
  train_files, heldout_files = content_split(_STYLE.value)
  print(f"train_feedforward: {len(train_files)} training and {len(heldout_files)} held-out "
        f"content files from {_DATA.value}; loading them at {sr} Hz", flush=True)
  corpus = feedforward.load_corpus(train_files, sr=sr, crop_seconds=_CROP.value)
  heldout = (feedforward.load_corpus(heldout_files, sr=sr, crop_seconds=_CROP.value)
             if heldout_files else None)
  generator = feedforward.make_generator(
      representation, channels=_CHANNELS.value, kernel_width=_KERNEL.value,
      dilations=tuple(int(d) for d in _DILATIONS.value))
  config = feedforward.TrainConfig(
      steps=_STEPS.value, batch_size=_BATCH.value, learning_rate=_LR.value,
      clip_norm=_CLIP.value, gain_db=_GAIN.value, context=_CONTEXT.value, seed=_SEED.value,
      log_every=_LOG_EVERY.value,
      eval_every=_EVAL_EVERY.value, checkpoint_every=_CKPT_EVERY.value)
  print(f"train_feedforward: {settings.net} loss net ({weights}), generator "
        f"{feedforward.generator_dict(generator)}, receptive field "
        f"{feedforward.receptive_field(generator)} frames", flush=True)
  return feedforward.train(
      _WORKDIR.value, settings, generator, style, corpus, config, heldout=heldout,
      style_name=Path(_STYLE.value).name,
      provenance=provenance.record(data=[_STYLE.value, *train_files, *heldout_files]),
      log=lambda line: print(line, flush=True), deadline=deadline)


def main(argv):
  cli.quiet()  # no XLA TPU-probe line; AudioWarnings as one line each
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}")
  start = time.monotonic()
  deadline = start + 60.0 * _MAX_MINUTES.value if _MAX_MINUTES.value > 0 else None
  with cli.one_line_errors("train_feedforward"):
    result = run(deadline)
  last = result.history[-1] if result.history else {}
  done = "done" if result.step >= _STEPS.value else (
      "stopped at the time limit; run the same command again to go on")
  held = f", held-out {last['heldout_loss']:.6g}" if "heldout_loss" in last else ""
  print(f"train_feedforward: step {result.step}/{_STEPS.value} ({done}) in "
        f"{(time.monotonic() - start) / 60:.1f} min; loss {last.get('total', float('nan')):.6g}"
        f"{held}; model {result.path} (+ .json, {feedforward.STYLE_CLIP} beside it)")


def console() -> None:
  """The installed command's entry point (setup.cfg ``console_scripts``)."""
  cli.console(main, __name__)


if __name__ == "__main__":
  console()
