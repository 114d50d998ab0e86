r"""The representations side by side: waveform, linear STFT (dB), mel (dB), MFCCs and their deltas.

Writes, into ``--output_dir``:
  representations.png   the five panels, time in seconds on every x axis
  waveform.npy          ``[samples]`` float32 audio at ``--sr`` Hz
  linear_db.npy         ``[frames, n_fft // 2 + 1]`` magnitude in dB re the max, floored at -80 dB
  mel_db.npy            ``[frames, n_mels]`` mel power in dB re the max, floored at -80 dB
  mfcc.npy              ``[frames, n_mfcc]`` MFCCs (DCT-II ortho of the mel power in dB re 1)
  mfcc_delta.npy        ``[frames, n_mfcc]`` first-order deltas of the MFCCs
  representations.json  the settings, the source and the shapes

Every file is written atomically (temp file in the folder, then rename). A bad
input file gives a one-line error on stderr, exit status 1, and nothing written.

  python -m experiments.representations --output_dir=out/representations
  python -m experiments.representations --input=../shared/data/rooster/rooster_wyse2017.wav \
      --output_dir=out/rooster
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import jax
import numpy as np
from absl import app, flags

from specst_jax import audio, features, files, plotting, scaling, signals, spectral

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

TOP_DB = 80.0


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


def compute(y, *, sr: int, n_fft: int, hop_length: int, n_mels: int, n_mfcc: int, width: int):
  """All representations of audio ``y[samples]``; every array is ``[frames, ...]``."""
  magnitude = spectral.magnitude(spectral.stft(y, n_fft=n_fft, hop_length=hop_length))
  mel = features.melspectrogram(y, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
  mfcc = features.mfcc(y, sr=sr, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop_length,
                       n_mels=n_mels)
  return {
      "linear_db": scaling.amplitude_to_db(magnitude, ref="max", top_db=TOP_DB),
      "mel_db": scaling.power_to_db(mel, ref="max", top_db=TOP_DB),
      "mfcc": mfcc,
      "mfcc_delta": features.deltas(mfcc, width=width, order=1, axis=-2),
  }


def figure(y, arrays, *, sr: int, n_fft: int, hop_length: int, n_mels: int, title: str):
  """The five-panel matplotlib figure (waveform, linear dB, mel dB, MFCC, delta-MFCC)."""
  import matplotlib.pyplot as plt

  fig, axes = plt.subplots(5, 1, figsize=(10, 14), constrained_layout=True)
  plotting.plot_waveform(axes[0], y, sr=sr, title=f"waveform: {title}")
  plotting.plot_spectrogram(
      axes[1], arrays["linear_db"], sr=sr, hop_length=hop_length, n_fft=n_fft, y_axis="linear",
      title=f"linear-frequency magnitude (n_fft={n_fft}, hop={hop_length})",
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




def _npy_bytes(array: np.ndarray) -> bytes:
  buffer = io.BytesIO()
  np.save(buffer, array, allow_pickle=False)
  return buffer.getvalue()


def run(*, input_path: str | None, output_dir: str, sr: int = 22050, n_fft: int = 1024,
        hop_length: int = 256, n_mels: int = 128, n_mfcc: int = 20,
        signal: str = "vowel_glide", duration: float = 3.0) -> dict[str, Path]:
  """Computes and writes everything; returns ``{name: path}``.

  Raises:
    AudioError: a bad input file (nothing is written).
    ValueError: bad settings (nothing is written).
  """
  check_settings(sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, n_mfcc=n_mfcc)
  if input_path:
    y, _ = audio.load_audio(input_path, sr=sr, min_samples=n_fft)
    source = str(input_path)
  else:
    y = audio.validate_audio(signals.make_signal(signal, sr=sr, duration=duration),
                             name=f"signal {signal}", min_samples=n_fft)
    source = f"built-in signal {signal!r} ({duration} s)"
  n_frames = spectral.num_frames(y.size, n_fft=n_fft, hop_length=hop_length)
  width = delta_width(n_frames)
  jitted = jax.jit(compute, static_argnames=("sr", "n_fft", "hop_length", "n_mels", "n_mfcc",
                                              "width"))
  arrays = jitted(y, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, n_mfcc=n_mfcc,
                   width=width)
  arrays = {"waveform": y, **{k: np.asarray(v, np.float32) for k, v in arrays.items()}}

  out = Path(output_dir)
  out.mkdir(parents=True, exist_ok=True)
  paths = {}
  for name, array in arrays.items():
    paths[name] = out / f"{name}.npy"
    files.write_bytes(paths[name], _npy_bytes(array))
  fig = figure(y, arrays, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
               title=Path(source).name if input_path else source)
  paths["png"] = plotting.save_figure(fig, out / "representations.png")
  meta = {
      "source": source, "sr": sr, "n_fft": n_fft, "hop_length": hop_length, "n_mels": n_mels,
      "n_mfcc": n_mfcc, "delta_width": width, "top_db": TOP_DB, "window": "hann",
      "center": True, "duration_s": y.size / sr,
      "shapes": {k: list(v.shape) for k, v in arrays.items()},
  }
  paths["json"] = out / "representations.json"
  files.write_json(paths["json"], meta)
  return paths


def main(argv):
  if len(argv) > 1:
    print(f"error: unexpected arguments {argv[1:]}", file=sys.stderr)
    return 1
  try:
    paths = run(input_path=_INPUT.value, output_dir=_OUTPUT_DIR.value, sr=_SR.value,
                n_fft=_N_FFT.value, hop_length=_HOP_LENGTH.value, n_mels=_N_MELS.value,
                n_mfcc=_N_MFCC.value, signal=_SIGNAL.value, duration=_DURATION.value)
  except (audio.AudioError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 1
  print(f"wrote {paths['png']} and {len(paths) - 1} more files to {paths['png'].parent}")
  return 0


if __name__ == "__main__":
  app.run(main)
