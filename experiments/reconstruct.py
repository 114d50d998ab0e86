"""Throws away an audio file's phase and reconstructs it from the STFT magnitude.

  python -m experiments.reconstruct --input=FILE --output=OUT.wav --method=pghi+fgla --n_iter=60

Writes OUT.wav, OUT.original.wav, OUT.png, OUT.json (the spectral convergence in dB, lower is
better; the reconstruction's wall time, compilation included, or with ``--warm_timing`` a second,
compiled run's; the output gain; the listener check of both files) and OUT.html (the listening page)
as one set. ``--nocenter`` reconstructs a non-centred STFT (the Wyse net's). The work is
specst_jax.reconstruct_file.reconstruct_file; its docstring gives the level rule (a peak above 1 is
scaled to 0.99) and the memory per second. Inputs longer than ``--max_seconds`` (default 120 s,
under 2 GB) are refused from the file's header, before decoding.

Errors (a bad input file, an output location that cannot be written, an output that would
replace the input) give one line on stderr and exit status 1, before any computation;
nothing is written.
"""

from __future__ import annotations

import sys

from absl import flags

from specst_jax import cli, phase, reconstruct_file

_INPUT = flags.DEFINE_string("input", None, "Audio file to read (any format libsndfile reads).")
_OUTPUT = flags.DEFINE_string("output", None, "Output audio path (.wav, .flac, ...); a JSON of "
                              "metrics is written next to it with the suffix .json.")
_METHOD = flags.DEFINE_enum("method", phase.DEFAULT_METHOD, list(phase.METHODS),
                            "Phase reconstruction method (see specst_jax.phase.reconstruct).")
_N_ITER = flags.DEFINE_integer("n_iter", None, "Griffin-Lim iterations for the gla/fgla stages "
                               "(default: the library's, specst_jax.phase.DEFAULT_N_ITER).")
_N_FFT = flags.DEFINE_integer("n_fft", 1024, "FFT size in samples.")
_HOP_LENGTH = flags.DEFINE_integer("hop_length", 256, "Hop in samples.")
_SR = flags.DEFINE_integer("sr", 22050, "Sample rate in Hz the input is resampled to.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the jax.random key (random initial phases).")
_CENTER = flags.DEFINE_bool("center", True, "Centred STFT (frames centred on t * hop); "
                            "--nocenter: frames start at t * hop (the Wyse net's STFT).")
_WARM = flags.DEFINE_bool("warm_timing", False, "Run the reconstruction twice and report the "
                          "second, compiled run's time (a benchmark figure; twice the wait).")
_MAX_SECONDS = flags.DEFINE_float(
    "max_seconds", 120.0, "Refuse inputs longer than this many seconds, before decoding (peak "
    "memory grows by about 11.5 MB per second with pghi+fgla: 1.6 GB at 120 s); <= 0 removes "
    "the limit.")


def main(argv):
  cli.quiet()  # no XLA TPU-probe line; AudioWarnings as one line each
  if len(argv) > 1:
    print(f"error: unexpected arguments {argv[1:]}", file=sys.stderr)
    return 1
  if not _INPUT.value or not _OUTPUT.value:
    print("error: --input and --output are required", file=sys.stderr)
    return 1
  try:
    metrics = reconstruct_file.reconstruct_file(
        input_path=_INPUT.value, output_path=_OUTPUT.value, method=_METHOD.value,
        n_iter=_N_ITER.value, n_fft=_N_FFT.value, hop_length=_HOP_LENGTH.value, sr=_SR.value,
        seed=_SEED.value, max_seconds=_MAX_SECONDS.value, center=_CENTER.value,
        warm_timing=_WARM.value)
  except cli.USER_ERRORS as e:
    print(f"error: {e}", file=sys.stderr)
    return 1
  timing = (f"{metrics['wall_s']:.3f} s (+{metrics['compile_s']:.1f} s compile)"
            if _WARM.value else f"{metrics['wall_s']:.2f} s (compilation included)")
  print(f"wrote {metrics['output']} (+ .json, .html): SC {metrics['spectral_convergence_db']:.2f} "
        f"dB, {timing}")
  return 0


def console() -> None:
  """The installed command's entry point (setup.cfg ``console_scripts``)."""
  cli.console(main, __name__)


if __name__ == "__main__":
  console()
