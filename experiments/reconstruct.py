"""Throws away an audio file's phase and reconstructs it from the STFT magnitude.

  python -m experiments.reconstruct --input=FILE --output=OUT.wav --method=pghi+fgla --n_iter=60

Writes OUT.wav and OUT.json beside it (the spectral convergence in dB, lower is better; the
reconstruction's wall time, a second, compiled run; the compile time, first run minus second;
the output gain) as one set: both appear together or neither changes.

Level: the reconstruction keeps the input's level (phase.reconstruct is level-invariant); if
its peak exceeds 1 (a new phase can raise the peak) it is scaled down to a peak of 0.99 so no
output format clips, and the factor is recorded as ``output_gain`` (the same rule as
style_transfer). The spectral convergence is measured before that scaling.

Length: the whole magnitude and the reconstruction state live in memory; PGHI's spanning-tree
walk dominates (peak about 0.2 GB + 11.5 MB per second of input at the default 22.05 kHz,
n_fft 1024, hop 256, pghi+fgla on CPU: 1.6 GB for 2 minutes, 2.3 GB for 3, 6.2 GB for 10; the
"fgla" method needs about a third). Inputs longer than ``--max_seconds`` (default 120 s, under
2 GB) are refused from the file's header, before decoding; raise it for longer inputs.

Errors (a bad input file, an output location that cannot be written, an output that would
replace the input) give one line on stderr and exit status 1, before any computation;
nothing is written.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import jax
import numpy as np
from absl import app, flags

from specst_jax import audio, files, listening, phase, spectral

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
_MAX_SECONDS = flags.DEFINE_float(
    "max_seconds", 120.0, "Refuse inputs longer than this many seconds, before decoding (peak "
    "memory grows by about 11.5 MB per second with pghi+fgla: 1.6 GB at 120 s); <= 0 removes "
    "the limit.")

MAX_PEAK = 0.99


def check_outputs(input_path: str, output_path: str) -> tuple[Path, Path]:
  """The output audio and JSON paths, checked before any work (OutputError / AudioError)."""
  output = Path(output_path)
  metrics = output.with_suffix(".json")
  files.check_output_file(output, inputs=[input_path],
                          sidecars=[metrics, output.with_suffix(".html")])
  audio.check_format(output)
  return output, metrics


def run(*, input_path: str, output_path: str, method: str, n_iter: int | None, n_fft: int,
        hop_length: int, sr: int, seed: int, max_seconds: float | None = 120.0) -> dict:
  """Reconstructs ``input_path`` and writes the audio and its metrics; returns the metrics.

  Raises:
    AudioError: a bad or too long input (nothing written).
    OutputError: an output location that cannot be used or would replace the input.
    ValueError: bad settings.
  """
  output, metrics_path = check_outputs(input_path, output_path)
  x, sr = audio.load_audio(input_path, sr=sr, min_samples=n_fft, max_seconds=max_seconds,
                           max_seconds_flag="--max_seconds")
  S = np.abs(np.asarray(spectral.stft(x, n_fft=n_fft, hop_length=hop_length)))
  key = jax.random.key(seed)

  def once():
    start = time.perf_counter()
    y = phase.reconstruct(S, n_fft=n_fft, hop_length=hop_length, method=method, n_iter=n_iter,
                          key=key, length=x.shape[-1])
    y = np.asarray(jax.block_until_ready(y))
    return y, time.perf_counter() - start

  _, first = once()
  y, wall = once()
  if not np.all(np.isfinite(y)):
    raise audio.AudioError(f"{input_path}: phase reconstruction ({method}) gave non-finite "
                           "samples")
  sc = float(phase.spectral_convergence(S, y, n_fft=n_fft, hop_length=hop_length))
  peak = float(np.max(np.abs(y)))
  gain = MAX_PEAK / peak if peak > 1.0 else 1.0
  metrics = dict(
      input=str(input_path), output=str(output), method=method,
      n_iter=phase.DEFAULT_N_ITER if n_iter is None else n_iter, n_fft=n_fft,
      hop_length=hop_length, sr=sr, samples=int(x.shape[-1]), frames=int(S.shape[0]),
      spectral_convergence_db=round(sc, 3), wall_s=round(wall, 4),
      compile_s=round(max(first - wall, 0.0), 3), device=str(jax.devices()[0]),
      output_gain=gain, output_peak=round(peak * gain, 6),
  )
  with files.output_set(output.parent, inputs=[input_path]) as tmp:
    audio.save_audio(tmp / output.name, (y * gain).astype(np.float32), sr)
    files.write_json(tmp / metrics_path.name, metrics)
    files.write_text(tmp / output.with_suffix(".html").name, listening.render_page(
        f"reconstruct: {Path(input_path).name}", rows=[method], columns=["reconstruction"],
        cells={(method, "reconstruction"): listening.Cell(
            output.name, None, {"SC (dB)": round(sc, 3), "wall (s)": round(wall, 4)})},
        settings=metrics))  # the listening page, OUT.html beside OUT.wav
  return metrics


def main(argv):
  logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)  # no TPU-probe line
  audio.show_warnings_as_lines()
  if len(argv) > 1:
    print(f"error: unexpected arguments {argv[1:]}", file=sys.stderr)
    return 1
  if not _INPUT.value or not _OUTPUT.value:
    print("error: --input and --output are required", file=sys.stderr)
    return 1
  try:
    metrics = run(input_path=_INPUT.value, output_path=_OUTPUT.value, method=_METHOD.value,
                  n_iter=_N_ITER.value, n_fft=_N_FFT.value, hop_length=_HOP_LENGTH.value,
                  sr=_SR.value, seed=_SEED.value, max_seconds=_MAX_SECONDS.value)
  except (audio.AudioError, files.OutputError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 1
  print(f"wrote {metrics['output']}: SC {metrics['spectral_convergence_db']:.2f} dB, "
        f"{metrics['wall_s']:.3f} s (+{metrics['compile_s']:.1f} s compile)")
  return 0


if __name__ == "__main__":
  app.run(main)
