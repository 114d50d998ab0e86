"""Throws away an audio file's phase and reconstructs it from the STFT magnitude.

  python -m experiments.reconstruct --input=FILE --output=OUT.wav --method=pghi+fgla --n_iter=60

Writes OUT.wav (atomically) and OUT.json beside it with the spectral convergence
(dB, lower is better), the reconstruction's wall time (a second, compiled run)
and the compile time (first run minus second). A bad input file gives a one-line
error, exit status 1, and nothing is written.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jax
import numpy as np
from absl import app, flags

from specst_jax import audio, files, phase, spectral

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




def run(*, input_path: str, output_path: str, method: str, n_iter: int | None, n_fft: int,
        hop_length: int, sr: int, seed: int) -> dict:
  """Reconstructs ``input_path`` and writes the audio and its metrics; returns the metrics."""
  output = Path(output_path)
  x, sr = audio.load_audio(input_path, sr=sr, min_samples=n_fft)
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
  sc = float(phase.spectral_convergence(S, y, n_fft=n_fft, hop_length=hop_length))
  metrics = dict(
      input=str(input_path), output=str(output), method=method,
      n_iter=phase.DEFAULT_N_ITER if n_iter is None else n_iter, n_fft=n_fft,
      hop_length=hop_length, sr=sr, samples=int(x.shape[-1]), frames=int(S.shape[0]),
      spectral_convergence_db=round(sc, 3), wall_s=round(wall, 4),
      compile_s=round(max(first - wall, 0.0), 3), device=str(jax.devices()[0]),
  )
  output.parent.mkdir(parents=True, exist_ok=True)
  audio.save_audio(output, y, sr)
  files.write_json(output.with_suffix(".json"), metrics)
  return metrics


def main(argv):
  if len(argv) > 1:
    print(f"error: unexpected arguments {argv[1:]}", file=sys.stderr)
    return 1
  if not _INPUT.value or not _OUTPUT.value:
    print("error: --input and --output are required", file=sys.stderr)
    return 1
  try:
    metrics = run(input_path=_INPUT.value, output_path=_OUTPUT.value, method=_METHOD.value,
                  n_iter=_N_ITER.value, n_fft=_N_FFT.value, hop_length=_HOP_LENGTH.value,
                  sr=_SR.value, seed=_SEED.value)
  except (audio.AudioError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 1
  print(f"wrote {metrics['output']}: SC {metrics['spectral_convergence_db']:.2f} dB, "
        f"{metrics['wall_s']:.3f} s (+{metrics['compile_s']:.1f} s compile)")
  return 0


if __name__ == "__main__":
  app.run(main)
