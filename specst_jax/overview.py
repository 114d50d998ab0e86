r"""The representation overview of one clip: waveform, linear STFT (dB), mel (dB), MFCCs, deltas.

:func:`run` writes, into one output folder (as one set, :func:`specst_jax.files.output_set`: a
temp folder renamed into place, so a failed or killed run never leaves a mix of old and new
files; the folder is checked before any work):

  representations.png   the five panels, time in seconds on every x axis
  waveform.npy          ``[samples]`` float32 audio at ``sr`` Hz
  linear_db.npy         ``[frames, n_fft // 2 + 1]`` magnitude in dB re the max, floored at -80 dB
  mel_db.npy            ``[frames, n_mels]`` mel power in dB re the max, floored at -80 dB
  mfcc.npy              ``[frames, n_mfcc]`` MFCCs (DCT-II ortho of the mel power in dB re 1)
  mfcc_delta.npy        ``[frames, n_mfcc]`` first-order deltas of the MFCCs
  representations.json  the settings, the source, the shapes and ``provenance``

Long audio (:func:`stream`): frames are computed in chunks of :data:`CHUNK_FRAMES` and the
``[frames, bins]`` arrays are written to disk as they come (two passes: the clip's maxima, then
the dB arrays re them); the figure (:func:`figure`) shows at most :data:`DISPLAY_FRAMES` columns
(max of the dB over the frames each column covers; mean for MFCCs) and a min/max envelope of the
waveform. The audio itself is held in memory, so inputs longer than ``max_seconds`` (default
:data:`MAX_SECONDS`, 2 h) are refused before decoding. The numbers equal librosa's whole-clip
ones (tests/representations_test.py).

Error messages name the command-line flags of experiments/representations.py (``--sr``, ...).
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from specst_jax import audio, features, files, plotting, provenance, scaling, signals, spectral

TOP_DB = 80.0
CHUNK_FRAMES = 8192  # frames per computed chunk (about 17 MB of linear magnitudes)
DISPLAY_FRAMES = 2000  # the figure shows at most this many columns (decimated beyond)
MAX_SECONDS = 7200.0  # the audio itself stays in memory: 318 MB per hour at 22.05 kHz


def check_settings(*, sr: int, n_fft: int, hop_length: int, n_mels: int, n_mfcc: int) -> None:
  """Raises ValueError (naming the flag) for settings that cannot work together."""
  audio.check_sample_rate(sr, name="--sr")
  if n_fft < 16:
    raise ValueError(f"--n_fft must be >= 16, got {n_fft}")
  if not 1 <= hop_length <= n_fft:
    raise ValueError(f"--hop_length must be in [1, n_fft={n_fft}], got {hop_length}")
  if n_mels < 1:
    raise ValueError(f"--n_mels must be >= 1, got {n_mels}")
  if not 1 <= n_mfcc <= n_mels:
    raise ValueError(f"--n_mfcc must be in [1, n_mels={n_mels}], got {n_mfcc}")


def delta_width(n_frames: int) -> int:
  """librosa's default delta width (9), shrunk to the largest odd width <= n_frames (>= 3)."""
  width = min(9, n_frames if n_frames % 2 else n_frames - 1)
  if width < 3:
    raise ValueError(f"need at least 3 frames for deltas, got {n_frames}")
  return width


def _chunk(segment, ref_amp, ref_mel, *, sr: int, n_fft: int, hop_length: int, n_mels: int,
           n_mfcc: int, maxima: bool):
  """Frames of one segment (already centre-padded): the maxima (pass 1) or the dB arrays."""
  X = spectral.stft(segment, n_fft=n_fft, hop_length=hop_length, center=False)
  magnitude = spectral.magnitude(X)
  mel = features.melspectrogram(S=spectral.magnitude(X, power=2.0), sr=sr, n_fft=n_fft,
                                n_mels=n_mels)
  if maxima:
    return magnitude, mel
  # dB re the whole clip's maxima, floored TOP_DB below them (as scaling.*_to_db with
  # ref="max" on the whole clip), and librosa's MFCC of the mel power in dB re 1, floored
  # TOP_DB below the clip's maximum.
  # (ref_amp >= amin and ref_mel >= amin, so each clip's peak is 0 dB and the floor -TOP_DB.)
  ref_amp, ref_mel = jnp.asarray(ref_amp, jnp.float32), jnp.asarray(ref_mel, jnp.float32)
  linear_db = (scaling.amplitude_to_db(magnitude, top_db=None)
               - scaling.amplitude_to_db(ref_amp, top_db=None))
  linear_db = jnp.maximum(linear_db, -TOP_DB)
  mel_db = scaling.power_to_db(mel, top_db=None) - scaling.power_to_db(ref_mel, top_db=None)
  mel_db = jnp.maximum(mel_db, -TOP_DB)
  mel_abs = scaling.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
  floor = scaling.power_to_db(ref_mel, ref=1.0, amin=1e-10, top_db=None) - TOP_DB
  mfcc = features.mfcc(S=jnp.maximum(mel_abs, floor), sr=sr, n_mfcc=n_mfcc)
  return linear_db, mel_db, mfcc


_jitted_chunk = jax.jit(_chunk, static_argnames=("sr", "n_fft", "hop_length", "n_mels", "n_mfcc",
                                                 "maxima"))


class _NpyWriter:
  """Writes a float32 ``.npy`` of a known shape block by block (rows), never all in memory."""

  def __init__(self, path: Path, shape: tuple[int, ...]):
    self.file = open(path, "wb")  # noqa: SIM115
    np.lib.format.write_array_header_1_0(
        self.file, {"descr": "<f4", "fortran_order": False, "shape": tuple(shape)})

  def add(self, rows: np.ndarray) -> None:
    self.file.write(np.ascontiguousarray(rows, "<f4").tobytes())

  def close(self) -> None:
    self.file.close()


def _decimate(rows: np.ndarray, group: int, how) -> np.ndarray:
  """Rows ``[n, bins]`` reduced over consecutive groups of ``group`` rows (last one partial)."""
  if group == 1:
    return rows
  n = rows.shape[0]
  full = n // group * group
  parts = [how(rows[:full].reshape(-1, group, rows.shape[1]), axis=1)] if full else []
  if full < n:
    parts.append(how(rows[full:], axis=0, keepdims=True))
  return np.concatenate(parts)


def stream(y, out: Path, *, sr: int, n_fft: int, hop_length: int, n_mels: int, n_mfcc: int,
           chunk_frames: int | None = None, display_frames: int | None = None):
  """Computes every representation of ``y[samples]`` in chunks of frames and writes the .npy.

  Memory: the audio, the MFCCs and one chunk; the [frames, bins] arrays go straight to
  ``out`` (two passes: the clip's maxima first, then the dB arrays re those maxima).
  Chunked frames equal the whole-clip STFT's (zero centre padding, as spectral.stft).

  Args:
    chunk_frames: frames per computed chunk (default :data:`CHUNK_FRAMES`).
    display_frames: most columns in the figure (default :data:`DISPLAY_FRAMES`).

  Returns:
    ``(display, shapes, group, width)``: the arrays for the figure, decimated to at most
    ``display_frames`` frames (max over ``group`` frames for dB, mean for MFCCs), their
    full shapes, ``group``, and the delta width.
  """
  chunk_frames = chunk_frames or CHUNK_FRAMES
  display_frames = display_frames or DISPLAY_FRAMES
  n_frames = spectral.num_frames(y.size, n_fft=n_fft, hop_length=hop_length)
  width = delta_width(n_frames)
  group = -(-n_frames // display_frames)
  if n_frames <= chunk_frames:
    size = n_frames
  else:
    size = group * max(1, chunk_frames // group)
  half = n_fft // 2
  segment_len = (size - 1) * hop_length + n_fft
  settings = dict(sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, n_mfcc=n_mfcc)

  def segments():
    for a in range(0, n_frames, size):
      start = a * hop_length - half
      seg = np.zeros(segment_len, np.float32)
      lo, hi = max(start, 0), min(start + segment_len, y.size)
      seg[lo - start:hi - start] = y[lo:hi]
      yield a, min(size, n_frames - a), seg

  ref_amp, ref_mel = 0.0, 0.0
  for _, valid, seg in segments():
    magnitude, mel = _jitted_chunk(seg, 1.0, 1.0, maxima=True, **settings)
    ref_amp = max(ref_amp, float(jnp.max(magnitude[:valid])))
    ref_mel = max(ref_mel, float(jnp.max(mel[:valid])))
  ref_amp, ref_mel = max(ref_amp, 1e-5), max(ref_mel, 1e-10)  # the amin of each scaling

  shapes = {"linear_db": (n_frames, n_fft // 2 + 1), "mel_db": (n_frames, n_mels)}
  writers = {name: _NpyWriter(out / f"{name}.npy", shape) for name, shape in shapes.items()}
  display = {name: [] for name in shapes}
  mfcc = np.empty((n_frames, n_mfcc), np.float32)
  try:
    for a, valid, seg in segments():
      parts = _jitted_chunk(seg, ref_amp, ref_mel, maxima=False, **settings)
      linear_db, mel_db, c = (np.asarray(p[:valid], np.float32) for p in parts)
      for name, rows in (("linear_db", linear_db), ("mel_db", mel_db)):
        writers[name].add(rows)
        display[name].append(_decimate(rows, group, np.max))
      mfcc[a:a + valid] = c
  finally:
    for writer in writers.values():
      writer.close()
  delta = np.asarray(features.deltas(mfcc, width=width, order=1, axis=-2), np.float32)
  np.save(out / "mfcc.npy", mfcc)
  np.save(out / "mfcc_delta.npy", delta)
  np.save(out / "waveform.npy", np.asarray(y, np.float32))
  display = {name: np.concatenate(rows) for name, rows in display.items()}
  display["mfcc"] = _decimate(mfcc, group, np.mean)
  display["mfcc_delta"] = _decimate(delta, group, np.mean)
  shapes.update(mfcc=mfcc.shape, mfcc_delta=delta.shape, waveform=y.shape)
  return display, {k: list(v) for k, v in shapes.items()}, group, width


def figure(y, arrays, *, sr: int, n_fft: int, hop_length: int, n_mels: int, title: str,
           frames_per_column: int = 1):
  """The five-panel matplotlib figure (waveform, linear dB, mel dB, MFCC, delta-MFCC).

  ``arrays`` may be decimated in time: each row then covers ``frames_per_column`` STFT frames
  of hop ``hop_length``.
  """
  stft_hop, hop_length = hop_length, hop_length * frames_per_column
  shown = f", {frames_per_column} frames per column" if frames_per_column > 1 else ""
  import matplotlib.pyplot as plt

  fig, axes = plt.subplots(5, 1, figsize=(10, 14), constrained_layout=True)
  plotting.plot_waveform(axes[0], y, sr=sr, title=f"waveform: {title}")
  plotting.plot_spectrogram(
      axes[1], arrays["linear_db"], sr=sr, hop_length=hop_length, n_fft=n_fft, y_axis="linear",
      title=f"linear-frequency magnitude (n_fft={n_fft}, hop={stft_hop}{shown})",
      colorbar_label="dB re max")
  plotting.plot_spectrogram(
      axes[2], arrays["mel_db"], sr=sr, hop_length=hop_length,
      freqs=plotting.mel_band_frequencies(n_mels, fmax=sr / 2.0), y_axis="mel",
      title=f"mel spectrogram ({n_mels} bands, mel-scaled frequency axis)",
      colorbar_label="dB re max")
  # Coefficient 0 (log energy) is an order of magnitude larger than the rest: scale the
  # colours to coefficients 1.. so the spectral shape stays visible (c0 saturates).
  limit = float(np.max(np.abs(arrays["mfcc"][:, 1:]))) if arrays["mfcc"].shape[1] > 1 else None
  plotting.plot_spectrogram(
      axes[3], arrays["mfcc"], sr=sr, hop_length=hop_length, y_axis="coef",
      title="MFCC (DCT-II of the mel power in dB; colours scaled to c1.., c0 saturates)",
      colorbar_label="value", cmap="coolwarm",
      vmin=-limit if limit else None, vmax=limit)
  limit = float(np.max(np.abs(arrays["mfcc_delta"]))) or None
  plotting.plot_spectrogram(
      axes[4], arrays["mfcc_delta"], sr=sr, hop_length=hop_length, y_axis="coef",
      title="delta MFCC (change per frame)", colorbar_label="value / frame", cmap="coolwarm",
      vmin=-limit if limit else None, vmax=limit)
  # An invisible colour bar keeps the waveform's time axis aligned with the others.
  spacer = fig.colorbar(axes[1].collections[0], ax=axes[0])
  spacer.ax.set_visible(False)
  for ax in axes:
    ax.set_xlim(0, y.size / sr)
  return fig


NAMES = ("waveform", "linear_db", "mel_db", "mfcc", "mfcc_delta", "representations.png",
         "representations.json")


def run(*, input_path: str | None, output_dir: str, sr: int = 22050, n_fft: int = 1024,
        hop_length: int = 256, n_mels: int = 128, n_mfcc: int = 20,
        signal: str = "vowel_glide", duration: float = 3.0,
        max_seconds: float | None = MAX_SECONDS) -> dict[str, Path]:
  """Computes and writes everything as one set of files; returns ``{name: path}``.

  Raises:
    AudioError: a bad or too long input file (nothing is written).
    OutputError: an output folder that cannot be used (checked before any work).
    ValueError: bad settings (nothing is written).
  """
  check_settings(sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, n_mfcc=n_mfcc)
  names = [f"{n}.npy" for n in NAMES[:5]] + list(NAMES[5:])
  out = files.check_output_dir(output_dir, inputs=[input_path], names=names)
  if input_path:
    y, _ = audio.load_audio(input_path, sr=sr, min_samples=n_fft, max_seconds=max_seconds,
                            max_seconds_flag="--max_seconds")
    source = str(input_path)
  else:
    if max_seconds and max_seconds > 0 and duration > max_seconds:
      raise ValueError(f"--duration={duration:g} s is longer than --max_seconds={max_seconds:g}")
    y = audio.validate_audio(signals.make_signal(signal, sr=sr, duration=duration),
                             name=f"signal {signal}", min_samples=n_fft)
    source = f"built-in signal {signal!r} ({duration} s)"
  with files.output_set(out, inputs=[input_path]) as tmp:
    display, shapes, group, width = stream(y, tmp, sr=sr, n_fft=n_fft, hop_length=hop_length,
                                           n_mels=n_mels, n_mfcc=n_mfcc)
    fig = figure(y, display, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
                 title=Path(source).name if input_path else source, frames_per_column=group)
    plotting.save_figure(fig, tmp / "representations.png")
    meta = {
        "source": source, "sr": sr, "n_fft": n_fft, "hop_length": hop_length,
        "n_mels": n_mels, "n_mfcc": n_mfcc, "delta_width": width, "top_db": TOP_DB,
        "window": "hann", "center": True, "duration_s": y.size / sr, "shapes": shapes,
        "figure_frames_per_column": group,
        "provenance": provenance.record(data=[input_path] if input_path else []),
    }
    files.write_json(tmp / "representations.json", meta)
  paths = {n: out / f"{n}.npy" for n in NAMES[:5]}
  paths["png"] = out / "representations.png"
  paths["json"] = out / "representations.json"
  return paths
