r"""The representations side by side: waveform, linear STFT (dB), mel (dB), MFCCs and their deltas.

Writes, into ``--output_dir``:
  representations.png   the five panels, time in seconds on every x axis
  waveform.npy          ``[samples]`` float32 audio at ``--sr`` Hz
  linear_db.npy         ``[frames, n_fft // 2 + 1]`` magnitude in dB re the max, floored at -80 dB
  mel_db.npy            ``[frames, n_mels]`` mel power in dB re the max, floored at -80 dB
  mfcc.npy              ``[frames, n_mfcc]`` MFCCs (DCT-II ortho of the mel power in dB re 1)
  mfcc_delta.npy        ``[frames, n_mfcc]`` first-order deltas of the MFCCs
  representations.json  the settings, the source and the shapes

The work is specst_jax.overview.run (one output set, streamed in chunks of frames; the
module's docstring says how). A bad input file or output location gives a one-line error on
stderr, exit status 1, and nothing written.

  python -m experiments.representations --output_dir=out/representations
  python -m experiments.representations --input=../shared/data/rooster/rooster_wyse2017.wav \
      --output_dir=out/rooster
"""

from __future__ import annotations

import sys

from absl import flags

from specst_jax import cli, overview, signals

_INPUT = flags.DEFINE_string(
    "input", None, "Audio file (wav, flac, ogg, mp3). Default: the built-in --signal.")
_SIGNAL = flags.DEFINE_enum(
    "signal", "vowel_glide", sorted(signals.SIGNALS),
    "Built-in signal used when --input is not given.")
_DURATION = flags.DEFINE_float(
    "duration", 3.0, "Seconds of the built-in signal (ignored with --input).")
_OUTPUT_DIR = flags.DEFINE_string(
    "output_dir", "out/representations", "Folder for the PNG, .npy arrays and JSON.")
_SR = flags.DEFINE_integer("sr", 22050, "Sample rate in Hz; the input is resampled to it.")
_N_FFT = flags.DEFINE_integer("n_fft", 1024, "FFT size (samples).")
_HOP_LENGTH = flags.DEFINE_integer("hop_length", 256, "Samples between frames.")
_N_MELS = flags.DEFINE_integer("n_mels", 128, "Number of mel bands.")
_N_MFCC = flags.DEFINE_integer("n_mfcc", 20, "Number of MFCCs (at most n_mels).")
_MAX_SECONDS = flags.DEFINE_float(
    "max_seconds", 7200.0, "Refuse inputs longer than this many seconds (the audio is held in "
    "memory, 318 MB per hour at 22.05 kHz; everything else is streamed); <= 0: no limit.")


def main(argv):
  cli.quiet()  # no XLA TPU-probe line; AudioWarnings as one line each
  if len(argv) > 1:
    print(f"error: unexpected arguments {argv[1:]}", file=sys.stderr)
    return 1
  try:
    paths = overview.run(
        input_path=_INPUT.value, output_dir=_OUTPUT_DIR.value, sr=_SR.value, n_fft=_N_FFT.value,
        hop_length=_HOP_LENGTH.value, n_mels=_N_MELS.value, n_mfcc=_N_MFCC.value,
        signal=_SIGNAL.value, duration=_DURATION.value, max_seconds=_MAX_SECONDS.value)
  except cli.USER_ERRORS as e:
    print(f"error: {e}", file=sys.stderr)
    return 1
  print(f"wrote {paths['png']} and {len(paths) - 1} more files to {paths['png'].parent}")
  return 0


def console() -> None:
  """The installed command's entry point (setup.cfg ``console_scripts``)."""
  cli.console(main, __name__)


if __name__ == "__main__":
  console()
