"""Reconstruct one audio file from its STFT magnitude: the job behind experiments/reconstruct.py.

:func:`reconstruct_file` loads the input (refusing, from the file's header, inputs longer than
``max_seconds``), throws its phase away, reconstructs one from the magnitude
(:func:`specst_jax.phase.reconstruct`, run twice: the second run's wall time is reported, the
difference is the compile time) and writes, as one set (both appear together or nothing changes):

  OUT.wav (or the ``output_path``'s format)  the reconstruction
  OUT.json   the metrics: spectral convergence in dB (lower is better), wall and compile time,
             the output gain
  OUT.html   the listening page (:func:`specst_jax.listening.render_page`)

Level (:func:`output_gain`): the reconstruction keeps the input's level (phase.reconstruct is
level-invariant); if its peak exceeds 1 (a new phase can raise the peak) it is scaled down to a
peak of :data:`MAX_PEAK` so no output format clips, and the factor is recorded as
``output_gain`` (the same rule as style_transfer). The spectral convergence is measured before
that scaling.

Memory: the whole magnitude and the reconstruction state live in memory; PGHI's spanning-tree
walk dominates (peak about 0.2 GB + 11.5 MB per second of input at 22.05 kHz, n_fft 1024,
hop 256, pghi+fgla on CPU: 1.6 GB for 2 minutes, 2.3 GB for 3, 6.2 GB for 10; "fgla" needs
about a third). Not chunked: a phase consistent across chunk borders is not implemented.

Error messages name the command-line flags of experiments/reconstruct.py (``--max_seconds``).
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import numpy as np

from specst_jax import audio, files, listening, phase, spectral

MAX_PEAK = 0.99  # a reconstruction peaking above 1 is scaled to this peak
MAX_SECONDS = 120.0  # default length limit (about 1.6 GB peak with pghi+fgla)


def check_outputs(input_path: str, output_path: str) -> tuple[Path, Path]:
  """The output audio and JSON paths, checked before any work (OutputError / AudioError)."""
  output = Path(output_path)
  metrics = output.with_suffix(".json")
  files.check_output_file(output, inputs=[input_path],
                          sidecars=[metrics, output.with_suffix(".html")])
  audio.check_format(output)
  return output, metrics


def output_gain(peak: float) -> float:
  """The gain applied before writing: 1, or ``MAX_PEAK / peak`` for a peak above 1."""
  return MAX_PEAK / peak if peak > 1.0 else 1.0


def reconstruct_twice(S: np.ndarray, *, n_fft: int, hop_length: int, method: str,
                      n_iter: int | None, key: jax.Array, length: int
                      ) -> tuple[np.ndarray, float, float]:
  """``(y, wall_s, compile_s)``: the second of two identical runs, its time, first minus it."""

  def once():
    start = time.perf_counter()
    y = phase.reconstruct(S, n_fft=n_fft, hop_length=hop_length, method=method, n_iter=n_iter,
                          key=key, length=length)
    y = np.asarray(jax.block_until_ready(y))
    return y, time.perf_counter() - start

  _, first = once()
  y, wall = once()
  return y, wall, max(first - wall, 0.0)


def listening_page(input_path: str, output: Path, method: str, sc: float, wall: float,
                   metrics: dict) -> str:
  """The HTML listening page of one reconstruction (OUT.html beside OUT.wav)."""
  return listening.render_page(
      f"reconstruct: {Path(input_path).name}", rows=[method], columns=["reconstruction"],
      cells={(method, "reconstruction"): listening.Cell(
          output.name, None, {"SC (dB)": round(sc, 3), "wall (s)": round(wall, 4)})},
      settings=metrics)


def reconstruct_file(*, input_path: str, output_path: str, method: str, n_iter: int | None,
                     n_fft: int, hop_length: int, sr: int, seed: int,
                     max_seconds: float | None = MAX_SECONDS) -> dict:
  """Reconstructs ``input_path`` and writes the audio, metrics and page; returns the metrics.

  Raises:
    AudioError: a bad or too long input (nothing written).
    OutputError: an output location that cannot be used or would replace the input.
    ValueError: bad settings.
  """
  output, metrics_path = check_outputs(input_path, output_path)
  x, sr = audio.load_audio(input_path, sr=sr, min_samples=n_fft, max_seconds=max_seconds,
                           max_seconds_flag="--max_seconds")
  S = np.abs(np.asarray(spectral.stft(x, n_fft=n_fft, hop_length=hop_length)))
  y, wall, compile_s = reconstruct_twice(S, n_fft=n_fft, hop_length=hop_length, method=method,
                                         n_iter=n_iter, key=jax.random.key(seed),
                                         length=x.shape[-1])
  if not np.all(np.isfinite(y)):
    raise audio.AudioError(f"{input_path}: phase reconstruction ({method}) gave non-finite "
                           "samples")
  sc = float(phase.spectral_convergence(S, y, n_fft=n_fft, hop_length=hop_length))
  peak = float(np.max(np.abs(y)))
  gain = output_gain(peak)
  metrics = dict(
      input=str(input_path), output=str(output), method=method,
      n_iter=phase.DEFAULT_N_ITER if n_iter is None else n_iter, n_fft=n_fft,
      hop_length=hop_length, sr=sr, samples=int(x.shape[-1]), frames=int(S.shape[0]),
      spectral_convergence_db=round(sc, 3), wall_s=round(wall, 4),
      compile_s=round(compile_s, 3), device=str(jax.devices()[0]),
      output_gain=gain, output_peak=round(peak * gain, 6),
  )
  with files.output_set(output.parent, inputs=[input_path]) as tmp:
    audio.save_audio(tmp / output.name, (y * gain).astype(np.float32), sr)
    files.write_json(tmp / metrics_path.name, metrics)
    files.write_text(tmp / output.with_suffix(".html").name,
                     listening_page(input_path, output, method, sc, wall, metrics))
  return metrics
