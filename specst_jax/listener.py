"""A listener's check of audio exactly as written: what a person would hear before any figure.

:func:`check_audio` takes the samples a tool wrote (after its gain or peak normalisation) and
returns JSON-ready measures, the failed checks as short ``warnings`` and ``passed``:

======================  =============================================  ===========================
measure                 definition                                     passes when
======================  =============================================  ===========================
``sc_db``               spectral convergence (dB) of the written       no threshold (recorded
                        audio re-analysed with the run's STFT against  only; lower is better)
                        the magnitude it was made from, whole clip,
                        edges included, after the least-squares gain
                        (only when a magnitude is given)
``edge_to_body_peak``   max |y| over the first and last edge samples   ``<= MAX_EDGE_TO_BODY_PEAK``
                        / max |y| of the rest (the body)               (2: no click at an edge)
``clipped_samples``     samples with ``|y| >= CLIP_LEVEL`` (0.999);    ``<= MAX_CLIPPED_SAMPLES``
                        ``clipped_fraction`` = that / samples          (0)
``dc_offset``           ``mean(y)``                                    ``|dc| <= MAX_DC_OFFSET``
                                                                       (0.01)
``body_rms_dbfs``       ``20 log10 RMS`` of the body (dB re full       ``>= MIN_BODY_RMS_DBFS``
                        scale 1.0; floored at ``FLOOR_DBFS``, -200)    (-50 dBFS)
``silent_fraction``     fraction of ``SILENCE_FRAME_S`` (20 ms)        ``<= MAX_SILENT_FRACTION``
                        frames whose RMS is below ``SILENCE_DBFS``     (0.5)
                        (-60 dBFS)
======================  =============================================  ===========================

Edges: ``edge_samples`` (default :data:`EDGE_SAMPLES`, 1024) at each end; a clip shorter than
``3 * edge_samples`` uses ``len // 8`` instead, so the body is always at least three quarters of
the clip (a clip of fewer than 8 samples has no edges: ratio 0). A silent body under a sounding
edge gives ``inf`` (flagged); an all-silent clip gives 0 (no spike; the loudness checks flag it).

Level invariance of ``sc_db``: the written file is gain-scaled (peak normalisation), so the
written magnitude ``X = |STFT(y)|`` is compared after the least-squares gain
``g = <S, X> / <X, X>`` (``g = 0`` for a silent clip): ``SC = 20 log10(||S - g X||_F / ||S||_F)``,
computed by :func:`specst_jax.phase.spectral_convergence` on ``g y``. Scaling the file by any
``c > 0`` leaves it unchanged.

Silence frames: consecutive, non-overlapping frames of ``round(SILENCE_FRAME_S * sr)`` samples;
a last partial frame is dropped unless the clip is shorter than one frame (then the whole clip
is one frame).

:func:`warn` logs one line naming the file when a check failed (absl ``logging.warning``), e.g.
``listener check: out/result.wav: edge-to-body peak 31.2 > 2 (a click at the clip edge)``;
:func:`warn_each` does so for a run's ``{relative path: check}`` once its files are in place.
A failed check never stops a run.
Host side except :func:`gain_matched_sc_db` (pure JAX, jittable with ``stft`` static).
"""

from __future__ import annotations

import math
import os

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from jax.typing import ArrayLike

from specst_jax import phase
from specst_jax.representations import Stft

EDGE_SAMPLES = 1024  # samples at each end that count as the edge
MAX_EDGE_TO_BODY_PEAK = 2.0  # edge peak / body peak above this: a click at the clip edge
CLIP_LEVEL = 0.999  # |y| at or above this counts as clipped
MAX_CLIPPED_SAMPLES = 0
MAX_DC_OFFSET = 0.01  # |mean(y)|
MIN_BODY_RMS_DBFS = -50.0  # a quieter body is near-silence
SILENCE_FRAME_S = 0.02  # seconds per silence frame
SILENCE_DBFS = -60.0  # a frame with a lower RMS is silent
MAX_SILENT_FRACTION = 0.5  # of the frames
FLOOR_DBFS = -200.0  # dBFS of digital silence (keeps the JSON finite)


def edge_length(n_samples: int, edge_samples: int = EDGE_SAMPLES) -> int:
  """Samples at each end that count as the edge: ``edge_samples``, or ``n // 8`` for a clip
  shorter than ``3 * edge_samples``."""
  if edge_samples < 0:
    raise ValueError(f"edge_samples must be >= 0, got {edge_samples}")
  return edge_samples if n_samples >= 3 * edge_samples else n_samples // 8


def edge_to_body_peak(y: np.ndarray, edge: int) -> float:
  """``max |y|`` of the first and last ``edge`` samples over ``max |y|`` of the rest.

  ``inf`` for a silent body under a sounding edge; 0 without edges or for an all-silent clip.
  """
  a = np.abs(np.asarray(y, np.float64))
  if edge == 0:
    return 0.0
  edge_peak = max(a[:edge].max(), a[-edge:].max())
  body_peak = a[edge:-edge].max(initial=0.0)
  if body_peak == 0.0:
    return math.inf if edge_peak > 0.0 else 0.0
  return float(edge_peak / body_peak)


def rms_dbfs(y: np.ndarray) -> float:
  """``20 log10`` of the RMS of ``y`` (dB re full scale 1.0), at least :data:`FLOOR_DBFS`."""
  y = np.asarray(y, np.float64)
  rms = math.sqrt(float(np.mean(y ** 2))) if y.size else 0.0
  return max(20.0 * math.log10(max(rms, 1e-300)), FLOOR_DBFS)


def silent_fraction(y: np.ndarray, sr: int) -> float:
  """Fraction of ``SILENCE_FRAME_S`` frames (see the module docstring) below ``SILENCE_DBFS``."""
  y = np.asarray(y, np.float64)
  n = max(int(round(SILENCE_FRAME_S * sr)), 1)
  frames = y[None, :] if y.size < n else y[: y.size // n * n].reshape(-1, n)
  rms = np.sqrt(np.mean(frames ** 2, axis=-1))
  return float(np.mean(rms < 10.0 ** (SILENCE_DBFS / 20.0)))


def gain_matched_sc_db(magnitude: ArrayLike, y: ArrayLike, stft: Stft) -> jax.Array:
  """SC (dB) of ``y [..., samples]`` against ``magnitude [..., frames, bins]`` after the
  least-squares gain ``g = <S, X> / <X, X>`` on ``X = |STFT(y)|`` (``stft``'s settings; frames
  beyond ``S``'s dropped, as :func:`specst_jax.phase.spectral_convergence` does).

  Level-invariant: ``y`` and ``c y`` (``c > 0``) give the same value. Returns ``[...]``.
  """
  S = jnp.asarray(magnitude, jnp.float32)
  y = jnp.asarray(y, jnp.float32)
  X = stft.magnitude(y)[..., : S.shape[-2], :]
  S_overlap = S[..., : X.shape[-2], :]
  power = jnp.sum(X * X, axis=(-2, -1))
  gain = jnp.where(power > 0, jnp.sum(S_overlap * X, axis=(-2, -1)) / jnp.where(
      power > 0, power, 1.0), 0.0)
  return phase.spectral_convergence(S, gain[..., None] * y, n_fft=stft.n_fft,
                                    hop_length=stft.hop_length, center=stft.center)


def _warnings(m: dict) -> list[str]:
  """The failed checks of the measures ``m``, one short phrase each."""
  out = []
  if m["edge_to_body_peak"] > MAX_EDGE_TO_BODY_PEAK:
    out.append(f"edge-to-body peak {m['edge_to_body_peak']:.3g} > {MAX_EDGE_TO_BODY_PEAK:g} "
               "(a click at the clip edge)")
  if m["clipped_samples"] > MAX_CLIPPED_SAMPLES:
    out.append(f"{m['clipped_samples']} clipped samples (|y| >= {CLIP_LEVEL:g})")
  if abs(m["dc_offset"]) > MAX_DC_OFFSET:
    out.append(f"DC offset {m['dc_offset']:.3g} (|dc| > {MAX_DC_OFFSET:g})")
  if m["body_rms_dbfs"] < MIN_BODY_RMS_DBFS:
    out.append(f"body RMS {m['body_rms_dbfs']:.1f} dBFS < {MIN_BODY_RMS_DBFS:g} dBFS "
               "(near-silence)")
  if m["silent_fraction"] > MAX_SILENT_FRACTION:
    out.append(f"{100 * m['silent_fraction']:.0f}% of {1000 * SILENCE_FRAME_S:g} ms frames "
               f"below {SILENCE_DBFS:g} dBFS (> {100 * MAX_SILENT_FRACTION:g}%)")
  return out


def check_audio(y: ArrayLike, *, sr: int, magnitude: ArrayLike | None = None,
                stft: Stft | None = None, edge_samples: int = EDGE_SAMPLES) -> dict:
  """The listener's check of one clip as written (see the module docstring for each measure).

  Args:
    y: the written samples ``[samples]`` (after any gain), full scale 1.0.
    sr: its sample rate in Hz.
    magnitude: the magnitude ``[frames, bins]`` it was made from (adds ``sc_db``), or None.
    stft: the STFT ``magnitude`` was made with (needed with ``magnitude``; ``stft.sr == sr``).
    edge_samples: samples at each end that count as the edge.

  Returns:
    JSON-ready ``{"sc_db"?, "edge_to_body_peak", "edge_samples", "clipped_samples",
    "clipped_fraction", "dc_offset", "body_rms_dbfs", "silent_fraction", "warnings",
    "passed"}``.

  Raises:
    ValueError: ``y`` is not a non-empty 1-D array, a magnitude without its STFT, or an STFT
      at another rate.
  """
  y = np.asarray(y, np.float32)
  if y.ndim != 1 or y.size == 0:
    raise ValueError(f"check_audio: expected audio [samples], got shape {y.shape}")
  edge = edge_length(y.size, edge_samples)
  m = {}
  if magnitude is not None:
    if stft is None or stft.sr != sr:
      raise ValueError(f"check_audio: a magnitude needs the STFT it was made with at sr={sr}, "
                       f"got {stft}")
    m["sc_db"] = float(gain_matched_sc_db(magnitude, y, stft))
  clipped = int(np.sum(np.abs(y) >= CLIP_LEVEL))
  m.update(edge_to_body_peak=edge_to_body_peak(y, edge), edge_samples=edge,
           clipped_samples=clipped, clipped_fraction=clipped / y.size,
           dc_offset=float(np.mean(y, dtype=np.float64)),
           body_rms_dbfs=rms_dbfs(y[edge: y.size - edge]), silent_fraction=silent_fraction(y, sr))
  m["warnings"] = _warnings(m)
  m["passed"] = not m["warnings"]
  return m


def page_measures(check: dict) -> dict[str, float | str]:
  """A check as a listening page shows it: the SC of the written audio (when measured), the
  edge-to-body peak, the body RMS and the verdict (``passed`` or the failed checks)."""
  shown = {"written SC (dB)": check["sc_db"]} if "sc_db" in check else {}
  shown.update({"edge/body peak": check["edge_to_body_peak"],
                "body RMS (dBFS)": check["body_rms_dbfs"],
                "listener check": "passed" if check["passed"] else "; ".join(check["warnings"])})
  return shown


def warning_line(path: str | os.PathLike, check: dict) -> str | None:
  """``listener check: PATH: <failed checks joined by '; '>``, or None when it passed."""
  if check["passed"]:
    return None
  return f"listener check: {os.fspath(path)}: " + "; ".join(check["warnings"])


def warn(path: str | os.PathLike, check: dict) -> bool:
  """Logs :func:`warning_line` (one line) when ``check`` failed; returns whether it did."""
  line = warning_line(path, check)
  if line is not None:
    logging.warning("%s", line)
  return line is not None


def warn_each(folder: str | os.PathLike, checks: dict[str, dict]) -> int:
  """:func:`warn` for each ``relative path -> check`` of files in ``folder``; returns how many
  failed. Call it once the files are in their final place, so each line names that place."""
  return sum(warn(os.path.join(folder, rel), c) for rel, c in checks.items())
