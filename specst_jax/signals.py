"""Deterministic demo signals the package makes itself (no third-party audio needed).

Host-side numpy. Every function takes the sample rate ``sr`` (Hz) and a
``duration`` (seconds) and returns float32 audio ``[samples]`` with
``samples = round(sr * duration)``, peak-normalised to ``peak`` (0.9 by
default, so values lie in [-1, 1]). The same arguments always give the same
samples (random parts use a fixed-seed generator).

- :func:`vowel_glide`: speech-like; a harmonic voice source whose pitch glides,
  shaped by moving formants (/a/ -> /i/ -> /u/) and a syllable envelope.
- :func:`chirps`: bird/rooster-like calls; repeated harmonic chirps whose
  pitch rises and falls.
- :func:`noise_bursts`: decaying band-limited noise bursts (claps, knocks).
- :func:`harmonic_mix`: a sequence of three-note chords of harmonic tones.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# Formant centre frequencies (Hz) and bandwidths (Hz) of three vowels (Peterson & Barney means).
_VOWELS = {
    "a": ((730.0, 1090.0, 2440.0), (90.0, 110.0, 170.0)),
    "i": ((270.0, 2290.0, 3010.0), (60.0, 100.0, 170.0)),
    "u": ((300.0, 870.0, 2240.0), (60.0, 90.0, 170.0)),
}


def _check(sr: float, duration: float) -> int:
  if not np.isfinite(sr) or sr <= 0:
    raise ValueError(f"sr must be a positive number of Hz, got {sr!r}")
  if not np.isfinite(duration) or duration <= 0:
    raise ValueError(f"duration must be a positive number of seconds, got {duration!r}")
  n = int(round(sr * duration))
  if n < 1:
    raise ValueError(f"sr * duration must give at least one sample, got {sr} * {duration}")
  return n


def _normalise(x: np.ndarray, peak: float) -> np.ndarray:
  if not 0 < peak <= 1:
    raise ValueError(f"peak must be in (0, 1], got {peak}")
  largest = np.max(np.abs(x))
  if largest > 0:
    x = x * (peak / largest)
  return x.astype(np.float32)


def _phase(freq: np.ndarray, sr: float) -> np.ndarray:
  """Instantaneous phase (radians) of an instantaneous frequency track in Hz."""
  return 2.0 * np.pi * np.cumsum(freq) / sr


def _resonance(freq: np.ndarray, centre: np.ndarray, bandwidth: np.ndarray) -> np.ndarray:
  """Magnitude response of a second-order resonance (unit gain at its centre)."""
  return 1.0 / np.sqrt(1.0 + ((freq**2 - centre**2) / (freq * bandwidth + 1e-9)) ** 2)


def _harmonics(f0: np.ndarray, sr: float, gain: Callable[[np.ndarray, int], np.ndarray],
               max_harmonics: int = 60) -> np.ndarray:
  """Additive synthesis: sum of harmonics k * f0 below Nyquist, each scaled by gain(freq, k)."""
  base = _phase(f0, sr)
  out = np.zeros_like(f0)
  for k in range(1, max_harmonics + 1):
    freq = k * f0
    below = freq < 0.45 * sr
    if not below.any():
      break
    out += np.where(below, gain(freq, k), 0.0) * np.sin(k * base)
  return out


def vowel_glide(sr: int = 22050, duration: float = 3.0, *, peak: float = 0.9) -> np.ndarray:
  """Speech-like vowels: gliding pitch (about 100-190 Hz), moving formants, syllables.

  Returns:
    float32 ``[samples]`` in [-peak, peak].
  """
  n = _check(sr, duration)
  t = np.arange(n) / sr
  f0 = 140.0 + 45.0 * np.sin(2 * np.pi * 0.35 * t) + 12.0 * np.sin(2 * np.pi * 2.1 * t)
  # Formants move smoothly a -> i -> u -> a ..., one vowel per ~0.5 s.
  order = ["a", "i", "u"]
  position = (t / 0.5) % len(order)
  index = np.floor(position).astype(int)
  frac = 0.5 - 0.5 * np.cos(np.pi * (position - index))
  centres = np.array([_VOWELS[v][0] for v in order])
  widths = np.array([_VOWELS[v][1] for v in order])
  nxt = (index + 1) % len(order)
  formants = centres[index] * (1 - frac[:, None]) + centres[nxt] * frac[:, None]
  bandwidths = widths[index] * (1 - frac[:, None]) + widths[nxt] * frac[:, None]

  def gain(freq, k):
    envelope = sum(
        _resonance(freq, formants[:, j], bandwidths[:, j]) * (0.5**j) for j in range(3)
    )
    return envelope / k  # glottal source tilt, about -6 dB/octave

  voice = _harmonics(f0, sr, gain)
  noise = np.random.default_rng(0).standard_normal(n) * 0.002  # breath
  # Syllables at ~3.5 per second: raised-cosine bumps with short gaps.
  syllable = np.clip(np.sin(np.pi * 3.5 * t), 0.0, None) ** 0.6
  return _normalise((voice + noise) * syllable, peak)


def chirps(sr: int = 22050, duration: float = 3.0, *, period: float = 0.5,
           peak: float = 0.9) -> np.ndarray:
  """Bird/rooster-like calls: a harmonic chirp every ``period`` seconds.

  Each call lasts 60% of the period; its pitch rises from 700 Hz to 1500 Hz and
  falls back to 900 Hz, with five harmonics of decreasing strength.

  Returns:
    float32 ``[samples]`` in [-peak, peak].
  """
  n = _check(sr, duration)
  if not period > 0:
    raise ValueError(f"period must be positive, got {period}")
  t = np.arange(n) / sr
  local = (t % period) / (0.6 * period)  # 0..1 within a call, >1 in the gap
  inside = local < 1.0
  u = np.clip(local, 0.0, 1.0)
  f0 = np.where(u < 0.4, 700.0 + 800.0 * (u / 0.4), 1500.0 - 600.0 * ((u - 0.4) / 0.6))
  envelope = np.where(inside, np.sin(np.pi * u) ** 2, 0.0)
  tone = _harmonics(f0, sr, lambda freq, k: 0.6 ** (k - 1), max_harmonics=5)
  return _normalise(tone * envelope, peak)


def noise_bursts(sr: int = 22050, duration: float = 3.0, *, rate: float = 3.0,
                 seed: int = 0, peak: float = 0.9) -> np.ndarray:
  """Decaying band-limited noise bursts, ``rate`` per second (claps, knocks).

  Each burst is white noise band-passed (by FFT masking) to a band whose centre
  cycles through 500 Hz, 1.5 kHz and 4 kHz, with a 40 ms exponential decay.

  Returns:
    float32 ``[samples]`` in [-peak, peak].
  """
  n = _check(sr, duration)
  if not rate > 0:
    raise ValueError(f"rate must be positive, got {rate}")
  rng = np.random.default_rng(seed)
  out = np.zeros(n)
  burst_len = max(1, int(0.25 * sr))
  ramp = np.arange(burst_len) / sr
  # 3 ms attack, 40 ms exponential decay, 20 ms fade-out: no clicks at either end.
  decay = (np.minimum(ramp / 0.003, 1.0) * np.exp(-ramp / 0.04)
           * np.minimum((burst_len / sr - ramp) / 0.02, 1.0))
  freqs = np.fft.rfftfreq(burst_len, 1.0 / sr)
  for i, start in enumerate(np.arange(0.05, duration, 1.0 / rate)):
    first = int(start * sr)
    centre = (500.0, 1500.0, 4000.0)[i % 3]
    band = np.exp(-0.5 * (np.log2(np.maximum(freqs, 1.0) / centre) / 0.5) ** 2)
    burst = np.fft.irfft(np.fft.rfft(rng.standard_normal(burst_len)) * band, n=burst_len)
    stop = min(n, first + burst_len)
    out[first:stop] += (burst * decay)[: stop - first]
  return _normalise(out, peak)


def harmonic_mix(sr: int = 22050, duration: float = 3.0, *, peak: float = 0.9) -> np.ndarray:
  """Three-note chords of harmonic tones (A minor, F major, C major, G major), 0.75 s each.

  Returns:
    float32 ``[samples]`` in [-peak, peak].
  """
  n = _check(sr, duration)
  t = np.arange(n) / sr
  chords = ((220.0, 261.63, 329.63), (174.61, 220.0, 261.63),
            (261.63, 329.63, 392.0), (196.0, 246.94, 293.66))
  step = np.floor(t / 0.75).astype(int) % len(chords)
  within = t % 0.75
  envelope = (np.minimum(within / 0.02, 1.0) * np.exp(-within / 0.5)
              * np.minimum((0.75 - within) / 0.03, 1.0))
  out = np.zeros(n)
  for voice in range(3):
    f0 = np.array([c[voice] for c in chords])[step]
    out += _harmonics(f0, sr, lambda freq, k: 0.7 ** (k - 1), max_harmonics=8)
  return _normalise(out * envelope, peak)


SIGNALS: dict[str, Callable[..., np.ndarray]] = {
    "vowel_glide": vowel_glide,
    "chirps": chirps,
    "noise_bursts": noise_bursts,
    "harmonic_mix": harmonic_mix,
}


def make_signal(name: str, *, sr: int = 22050, duration: float = 3.0) -> np.ndarray:
  """The built-in signal called ``name`` (a key of :data:`SIGNALS`) as float32 ``[samples]``."""
  if name not in SIGNALS:
    raise ValueError(f"signal: unknown name {name!r}; choose one of {sorted(SIGNALS)}")
  return SIGNALS[name](sr, duration)
