"""Reconstruct one audio file from its STFT magnitude: the job behind experiments/reconstruct.py.

:func:`reconstruct_file` loads the input (refusing, from the file's header, inputs longer than
``max_seconds``), throws its phase away, reconstructs one from the magnitude
(:func:`specst_jax.phase.reconstruct`, run twice: the second run's wall time is reported, the
difference is the compile time) and writes, as one set (both appear together or nothing changes):

  OUT.wav (or the ``output_path``'s format)  the reconstruction
  OUT.original.wav  the input at the run's rate (16-bit), to hear beside the reconstruction
  OUT.png    the input's magnitude beside the reconstruction's as written (re-analysed)
  OUT.json   the metrics: spectral convergence in dB (lower is better), wall and compile time,
             the output gain, ``listener``: the listener's check of both written files
             (:mod:`specst_jax.listener`; the reconstruction's SC against the input's magnitude),
             and ``provenance`` (:func:`specst_jax.provenance.record`: commit, command,
             machine, ``data_sha256`` of the input file)
  OUT.html   the listening page (:func:`specst_jax.listening.write_page`): both players and
             the figure

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

from specst_jax import audio, files, listener, listening, phase, provenance, spectral
from specst_jax.representations import Stft
from specst_jax.studies import panels

MAX_PEAK = 0.99  # a reconstruction peaking above 1 is scaled to this peak
MAX_SECONDS = 120.0  # default length limit (about 1.6 GB peak with pghi+fgla)


def sidecars(output: Path) -> dict[str, Path]:
  """The files written beside ``output``: ``metrics``, ``page``, ``original``, ``figure``."""
  return dict(metrics=output.with_suffix(".json"), page=output.with_suffix(".html"),
              original=output.with_suffix(".original.wav"), figure=output.with_suffix(".png"))


def check_outputs(input_path: str, output_path: str) -> tuple[Path, Path]:
  """The output audio and JSON paths, checked before any work (OutputError / AudioError)."""
  output = Path(output_path)
  files.check_output_file(output, inputs=[input_path], sidecars=sidecars(output).values())
  audio.check_format(output)
  return output, sidecars(output)["metrics"]


def output_gain(peak: float) -> float:
  """The gain applied before writing: 1, or ``MAX_PEAK / peak`` for a peak above 1."""
  return MAX_PEAK / peak if peak > 1.0 else 1.0


def timed_reconstruct(S: np.ndarray, *, n_fft: int, hop_length: int, method: str,
                      n_iter: int | None, key: jax.Array, length: int, center: bool = True,
                      warm: bool = False) -> tuple[np.ndarray, float, float]:
  """``(y, wall_s, compile_s)``: one run and its time (compilation included, ``compile_s`` 0);
  with ``warm`` a second, compiled run is timed too (``wall_s`` its time, ``compile_s`` the
  first's extra time): a benchmark's figure, at twice the user's wait."""

  def once():
    start = time.perf_counter()
    y = phase.reconstruct(S, n_fft=n_fft, hop_length=hop_length, method=method, n_iter=n_iter,
                          key=key, length=length, center=center)
    y = np.asarray(jax.block_until_ready(y))
    return y, time.perf_counter() - start

  y, first = once()
  if not warm:
    return y, first, 0.0
  y, wall = once()
  return y, wall, max(first - wall, 0.0)


def write_figure(path: Path, S: np.ndarray, written: np.ndarray, stft: Stft, name: str) -> Path:
  """The input's magnitude ``[frames, bins]`` beside the written reconstruction's."""
  return panels.plot_magnitudes(path, [("original (input)", S, stft),
                                       (f"{name} as written (re-analysed)",
                                        stft.magnitude(written), stft)],
                                columns=2, panel_size=(6.0, 3.4))


def write_page(folder: Path, input_path: str, output: Path, method: str, sc: float, wall: float,
               metrics: dict) -> Path:
  """The listening page of one reconstruction (OUT.html beside OUT.wav): the original and the
  reconstruction players, their listener checks, and the figure."""
  side = sidecars(output)
  checks = metrics["listener"]
  cells = {
      ("audio", "original"): listening.Cell(
          side["original"].name, None, listener.page_measures(checks[side["original"].name])),
      ("audio", f"reconstruction ({method})"): listening.Cell(
          output.name, None, {"SC (dB)": round(sc, 3), "wall (s)": round(wall, 4),
                              **listener.page_measures(checks[output.name])})}
  return listening.write_page(
      folder, f"reconstruct: {Path(input_path).name}", rows=["audio"],
      columns=["original", f"reconstruction ({method})"], cells=cells,
      figures={side["figure"].name: "Spectrograms, dB re each one's maximum: the input's "
               f"magnitude (what {method} was given) and the reconstruction as written, "
               "re-analysed with the same STFT (what you hear)."},
      settings={k: v for k, v in metrics.items() if k not in ("listener", "provenance")},
      page_name=side["page"].name)


def write_audio(folder: Path, output: Path, x: np.ndarray, y: np.ndarray, S: np.ndarray,
                stft: Stft) -> tuple[np.ndarray, dict[str, dict]]:
  """OUT.wav (``y`` as scaled, in the output's format) and OUT.original.wav (``x``, 16-bit).

  Returns:
    the reconstruction read back from its file (what a listener hears, lossy formats
    included) and file name -> listener check (the reconstruction's against ``S``).
  """
  original = sidecars(output)["original"].name
  x = (x * output_gain(float(np.max(np.abs(x))))).astype(np.float32)  # the same level rule
  audio.save_audio(folder / output.name, y, stft.sr)
  audio.save_audio(folder / original, x, stft.sr, subtype="PCM_16")
  written = audio.load_audio(folder / output.name, sr=stft.sr)[0]
  return written, {output.name: listener.check_audio(written, sr=stft.sr, magnitude=S, stft=stft),
                   original: listener.check_audio(x, sr=stft.sr)}


def reconstruct_file(*, input_path: str, output_path: str, method: str, n_iter: int | None,
                     n_fft: int, hop_length: int, sr: int, seed: int,
                     max_seconds: float | None = MAX_SECONDS, center: bool = True,
                     warm_timing: bool = False) -> dict:
  """Reconstructs ``input_path`` and writes the audio, metrics and page; returns the metrics.

  ``center``: the STFT whose magnitude is reconstructed (and re-analysed). ``warm_timing``:
  run the reconstruction a second time to report a compiled wall time (see
  :func:`timed_reconstruct`).

  Raises:
    AudioError: a bad or too long input (nothing written).
    OutputError: an output location that cannot be used or would replace the input.
    ValueError: bad settings.
  """
  output, metrics_path = check_outputs(input_path, output_path)
  x, sr = audio.load_audio(input_path, sr=sr, min_samples=n_fft, max_seconds=max_seconds,
                           max_seconds_flag="--max_seconds")
  S = np.abs(np.asarray(spectral.stft(x, n_fft=n_fft, hop_length=hop_length, center=center)))
  y, wall, compile_s = timed_reconstruct(S, n_fft=n_fft, hop_length=hop_length, method=method,
                                         n_iter=n_iter, key=jax.random.key(seed),
                                         length=x.shape[-1], center=center, warm=warm_timing)
  if not np.all(np.isfinite(y)):
    raise audio.AudioError(f"{input_path}: phase reconstruction ({method}) gave non-finite "
                           "samples")
  sc = float(phase.spectral_convergence(S, y, n_fft=n_fft, hop_length=hop_length, center=center))
  peak = float(np.max(np.abs(y)))
  gain = output_gain(peak)
  metrics = dict(
      input=str(input_path), output=str(output), method=method,
      n_iter=phase.DEFAULT_N_ITER if n_iter is None else n_iter, n_fft=n_fft,
      hop_length=hop_length, center=center, sr=sr, samples=int(x.shape[-1]),
      frames=int(S.shape[0]), spectral_convergence_db=round(sc, 3), wall_s=round(wall, 4),
      wall_includes_compile=not warm_timing, compile_s=round(compile_s, 3),
      device=str(jax.devices()[0]),
      output_gain=gain, output_peak=round(peak * gain, 6),
      provenance=provenance.record(data=[input_path]),
  )
  stft = Stft(sr=sr, n_fft=n_fft, hop_length=hop_length, center=center)
  with files.output_set(output.parent, inputs=[input_path]) as tmp:
    written, metrics["listener"] = write_audio(tmp, output, x, (y * gain).astype(np.float32), S,
                                               stft)
    write_figure(tmp / sidecars(output)["figure"].name, S, written, stft, output.name)
    files.write_json(tmp / metrics_path.name, metrics)
    write_page(tmp, input_path, output, method, sc, wall, metrics)
  listener.warn_each(output.parent, metrics["listener"])
  return metrics
