"""Length buckets (host side, numpy): a run compiles one program per bucket, not per file.

Every content clip is fitted to a bucket length: the shortest bucket at least as long as the
clip (zero-padded at the end; the result is trimmed back to the clip's length), or, for a clip
longer than every bucket, the longest bucket (cropped: the first ``bucket`` samples). Style
clips are fitted to their content's bucket: cropped, or repeated end to end (a Gram is a
time average, so looping a short style keeps its statistics; zero padding would add silence
to them). What was done is returned as a :class:`Fit` and written into each item's metrics.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Fit:
  """How a clip of ``original`` samples was fitted to a bucket of ``bucket`` samples.

  ``action`` is ``"none"`` (equal), ``"pad"`` (zeros at the end), ``"crop"`` (first samples
  kept) or ``"loop"`` (repeated end to end, then cropped; styles only).
  """

  original: int
  bucket: int
  action: str

  def as_dict(self) -> dict:
    return dataclasses.asdict(self)


def bucket_lengths(seconds: Sequence[float], sr: int) -> tuple[int, ...]:
  """Bucket lengths in samples at ``sr`` Hz (sorted, distinct); each must be > 0."""
  if not seconds:
    raise ValueError("bucket_seconds: give at least one bucket length")
  if any(not np.isfinite(s) or s <= 0 for s in seconds):
    raise ValueError(f"bucket_seconds: every length must be > 0 s, got {list(seconds)}")
  return tuple(sorted({int(round(s * sr)) for s in seconds}))


def choose(n_samples: int, lengths: Sequence[int]) -> Fit:
  """The bucket of a content clip of ``n_samples`` (see the module docstring)."""
  if n_samples < 1:
    raise ValueError(f"n_samples must be >= 1, got {n_samples}")
  for length in sorted(lengths):
    if length >= n_samples:
      return Fit(n_samples, length, "none" if length == n_samples else "pad")
  return Fit(n_samples, max(lengths), "crop")


def fit_content(x: np.ndarray, length: int) -> np.ndarray:
  """``x [samples]`` cropped or zero-padded at the end to ``length`` samples (float32)."""
  x = np.asarray(x, np.float32)
  if x.shape[-1] >= length:
    return x[..., :length]
  return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, length - x.shape[-1])])


def fit_style(x: np.ndarray, length: int) -> tuple[np.ndarray, Fit]:
  """``x [samples]`` cropped or looped to ``length`` samples (float32), and what was done."""
  x = np.asarray(x, np.float32)
  n = x.shape[-1]
  if n >= length:
    return x[..., :length], Fit(n, length, "none" if n == length else "crop")
  reps = -(-length // n)
  return np.tile(x, reps)[..., :length], Fit(n, length, "loop")
