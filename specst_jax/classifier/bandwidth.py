"""What a 16 kHz copy of a sound loses: energy above 8 kHz and the change in the net's input.

The shared ESC-50 copy is 16 kHz (8 kHz bandwidth); the data set's native rate is 44.1 kHz and
the paper's 22.05 kHz (11.025 kHz bandwidth). Two measures on clips at their own rates:

* :func:`band_energy_fractions`: the fraction of a signal's energy in frequency bands (e.g.
  above 8 kHz, 8-11.025 kHz), from its one-sided periodogram (numpy ``rfft`` of the whole
  signal, Parseval: the fractions of all bands sum to 1);
* :func:`feature_change`: a clip at ``sr`` (22.05 kHz) against the same clip band-limited to
  ``cutoff_sr / 2`` by resampling down to ``cutoff_sr`` and back (soxr HQ, what a 16 kHz copy
  looks like on the paper's grid), both encoded by the same representation
  (:mod:`specst_jax.representations`) on the same STFT: the fraction of channels centred above
  the cutoff, the fraction of all values (frames x channels) that move by more than
  ``threshold_db``, and the mean dB change in the channels above and below the cutoff.

Host-side numpy plus the project's jitted features; no training.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from specst_jax import audio, features, representations, spectral

# Representations measured in dB (value -> dB re the clip maximum or re 1).
DB_SCALE = {"unit_db": lambda x, top_db: (np.asarray(x) - 1.0) * top_db,
            "log_mel": lambda x, top_db: np.asarray(x),
            "logfreq": lambda x, top_db: np.asarray(x)}


def band_energy_fractions(x: np.ndarray, sr: float, bands: Sequence[tuple[float, float]]
                          ) -> np.ndarray:
  """Fraction of the energy of ``x [samples]`` in each ``[low, high)`` Hz band.

  The one-sided periodogram ``|rfft(x)|^2`` (DC and Nyquist counted once, the other bins twice,
  so the bins sum to the signal's energy by Parseval), summed over the bins in each band,
  divided by the total. Bands may overlap; a band above Nyquist holds 0. A silent signal: NaN.
  """
  x = np.asarray(x, np.float64)
  if x.ndim != 1 or x.size < 2:
    raise ValueError(f"x must be a 1-D signal of >= 2 samples, got shape {x.shape}")
  if not sr > 0:
    raise ValueError(f"sr must be positive, got {sr}")
  p = np.abs(np.fft.rfft(x)) ** 2
  p[1:(x.size + 1) // 2] *= 2.0  # one-sided: every bin but DC (and Nyquist for even n) twice
  f = np.fft.rfftfreq(x.size, 1.0 / sr)
  total = p.sum()
  out = []
  for low, high in bands:
    if not 0 <= low < high:
      raise ValueError(f"band ({low}, {high}): need 0 <= low < high")
    out.append(p[(f >= low) & (f < high)].sum() / total if total > 0 else np.nan)
  return np.asarray(out)


def band_limit(x: np.ndarray, sr: int, cutoff_sr: int = 16000) -> np.ndarray:
  """``x`` at ``sr`` resampled to ``cutoff_sr`` and back (soxr HQ): the band above
  ``cutoff_sr / 2`` removed, same length."""
  if not 0 < cutoff_sr < sr:
    raise ValueError(f"cutoff_sr {cutoff_sr} must lie in (0, sr={sr})")
  y = audio.resample(audio.resample(np.asarray(x, np.float32), sr, cutoff_sr), cutoff_sr, sr)
  return np.asarray(y[:len(x)], np.float32)


def channel_frequencies(representation: str, stft: representations.Stft,
                        options: representations.Options) -> np.ndarray:
  """Centre frequency (Hz) of each channel of a dB representation."""
  if representation == "unit_db":
    return spectral.fft_frequencies(sr=stft.sr, n_fft=stft.n_fft)
  if representation == "log_mel":
    return features.mel_frequencies(options.n_mels + 2, fmax=stft.sr / 2)[1:-1]
  if representation == "logfreq":
    n = representations.get("logfreq").n_channels(stft, options)
    return features.logfreq_frequencies(n_bins=n)
  raise ValueError(f"representation must be one of {tuple(DB_SCALE)}, got {representation!r}")


@dataclasses.dataclass(frozen=True)
class FeatureChange:
  """How band-limiting changes one clip's input (see :func:`feature_change`).

  Attributes:
    channels_above: fraction of channels centred at or above the cutoff frequency.
    values_changed: fraction of all values (frames x channels) moved by more than the threshold.
    values_changed_below: the same over the channels below the cutoff only.
    mean_change_above: mean of (full - limited) in dB over the channels above the cutoff.
    mean_abs_change_below: mean |full - limited| in dB over the channels below it.
    level_above: mean level (dB re the clip maximum) of the full band's channels above the
      cutoff (how far above the floor ``-top_db`` the lost band sat).
  """

  channels_above: float
  values_changed: float
  values_changed_below: float
  mean_change_above: float
  mean_abs_change_below: float
  level_above: float


def feature_change(x: np.ndarray, sr: int, representation: str, stft: representations.Stft,
                   options: representations.Options | None = None, *,
                   cutoff_sr: int = 16000, threshold_db: float = 3.0) -> FeatureChange:
  """One clip's representation at ``sr``, full band against band-limited to ``cutoff_sr / 2``.

  Args:
    x: ``[samples]`` at ``sr`` (``stft.sr`` must equal it).
    representation: ``"unit_db"``, ``"log_mel"`` or ``"logfreq"`` (dB scales, :data:`DB_SCALE`).
    options: mel bands and the dB floor (default :class:`representations.Options`).
  """
  options = options or representations.Options()
  if stft.sr != sr:
    raise ValueError(f"stft.sr {stft.sr} must equal the clip's sr {sr}")
  to_db = DB_SCALE.get(representation)
  if to_db is None:
    raise ValueError(f"representation must be one of {tuple(DB_SCALE)}, got {representation!r}")
  pair = np.stack([np.asarray(x, np.float32), band_limit(x, sr, cutoff_sr)])
  enc = np.asarray(representations.encode(representation, stft.magnitude(pair), stft, options))
  full, limited = (to_db(e, options.top_db) for e in enc)
  above = channel_frequencies(representation, stft, options) >= cutoff_sr / 2
  diff = full - limited
  changed = np.abs(diff) > threshold_db
  # Levels re the clip maximum (log_mel is re 1: shift by its maximum).
  level = full - full.max()
  return FeatureChange(
      channels_above=float(above.mean()), values_changed=float(changed.mean()),
      values_changed_below=float(changed[:, ~above].mean()),
      mean_change_above=float(diff[:, above].mean()) if above.any() else 0.0,
      mean_abs_change_below=float(np.abs(diff[:, ~above]).mean()),
      level_above=float(level[:, above].mean()) if above.any() else float("nan"))


def segments(x: np.ndarray, sr: int, seconds: float = 5.0) -> list[np.ndarray]:
  """Consecutive non-overlapping ``seconds``-long pieces of ``x`` (an ESC-50 clip's length);
  a signal shorter than that is one piece, a shorter tail is dropped."""
  n = int(round(seconds * sr))
  if len(x) <= n:
    return [x]
  return [x[i:i + n] for i in range(0, len(x) - n + 1, n)]


# The inputs measured: the paper's unit_db STFT, the study's log-mel / logfreq STFT, at 22.05 kHz.
SETTINGS = (("unit_db", representations.Stft(22050, 512, 128, center=False)),
            ("log_mel", representations.Stft(22050, 1024, 512, center=False)),
            ("logfreq", representations.Stft(22050, 1024, 512, center=False)))
ENERGY_BANDS = {"above 8 kHz": (8000.0, np.inf), "8-11.025 kHz": (8000.0, 11025.0),
                "above 11.025 kHz": (11025.0, np.inf)}


def _stats(values) -> dict:
  v = np.asarray(values, np.float64)
  return {"mean": float(v.mean()), "median": float(np.median(v)), "min": float(v.min()),
          "max": float(v.max())}


def measure_corpus(paths: Sequence, *, full_sr: int = 22050, cutoff_sr: int = 16000,
                   settings=SETTINGS, threshold_db: float = 3.0) -> dict:
  """Energy fractions (at each file's own rate) and feature changes (at ``full_sr``) over the
  5 s segments of ``paths``; files whose rate is below ``full_sr`` are skipped and listed.

  Returns ``{"files", "skipped", "segments", "rates", "energy": {band: stats}, "features":
  {representation: {field of FeatureChange: stats}}}`` (stats: mean, median, min, max over
  segments).
  """
  energy = {k: [] for k in ENERGY_BANDS}
  change = {rep: [] for rep, _ in settings}
  used, skipped, rates, n_segments = [], [], set(), 0
  for path in paths:
    x, sr = audio.load_audio(path)
    if sr < full_sr:
      skipped.append(f"{path} ({sr} Hz)")
      continue
    used.append(str(path))
    rates.add(int(sr))
    x_full = audio.resample(x, sr, full_sr) if sr != full_sr else x
    for seg in segments(x, sr):
      for k, frac in zip(ENERGY_BANDS, band_energy_fractions(seg, sr, ENERGY_BANDS.values()),
                         strict=True):
        energy[k].append(frac)
    for seg in segments(x_full, full_sr):
      n_segments += 1
      for rep, stft in settings:
        change[rep].append(feature_change(seg, full_sr, rep, stft, cutoff_sr=cutoff_sr,
                                          threshold_db=threshold_db))
  if not used:
    raise ValueError(f"no file at >= {full_sr} Hz among {len(skipped)}: {skipped}")
  fields = [f.name for f in dataclasses.fields(FeatureChange)]
  return {"files": used, "skipped": skipped, "segments": n_segments, "rates": sorted(rates),
          "energy": {k: _stats(v) for k, v in energy.items()},
          "features": {rep: {f: _stats([getattr(c, f) for c in cs]) for f in fields}
                       for rep, cs in change.items()}}


def markdown(results: dict[str, dict], settings=SETTINGS) -> str:
  """Two tables over corpora: energy fractions, then feature changes (means over segments;
  energy also as median)."""
  lines = ["| corpus | files (segments of 5 s) | native rate | energy above 8 kHz: mean "
           "(median) | 8-11.025 kHz | above 11.025 kHz |", "|---|---|---|---|---|---|"]
  for name, r in results.items():
    e = r["energy"]
    cells = [f"{100 * e[k]['mean']:.2f} % ({100 * e[k]['median']:.2f} %)" for k in ENERGY_BANDS]
    lines.append(f"| {name} | {len(r['files'])} ({r['segments']}) | "
                 f"{', '.join(str(s) for s in r['rates'])} Hz | " + " | ".join(cells) + " |")
  lines += ["", "| corpus | input (STFT at 22.05 kHz) | channels above 8 kHz | values moved "
            "> 3 dB (all / below 8 kHz) | mean change above 8 kHz (dB) | full-band level "
            "there (dB re max) | mean abs change below 8 kHz (dB) |",
            "|---|---|---|---|---|---|---|"]
  for name, r in results.items():
    for rep, stft in settings:
      f = r["features"][rep]
      lines.append(
          f"| {name} | {rep} (n_fft {stft.n_fft}, hop {stft.hop_length}) | "
          f"{100 * f['channels_above']['mean']:.1f} % | "
          f"{100 * f['values_changed']['mean']:.1f} % / "
          f"{100 * f['values_changed_below']['mean']:.2f} % | "
          f"{f['mean_change_above']['mean']:.1f} | {f['level_above']['mean']:.1f} | "
          f"{f['mean_abs_change_below']['mean']:.2f} |")
  return "\n".join(lines) + "\n"
