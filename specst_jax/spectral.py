"""Short-time Fourier transform and its inverse, time-major.

Audio is ``[..., samples]``; spectrograms are ``[..., frames, bins]`` with
``bins = n_fft // 2 + 1``. Keyword names follow librosa so its users feel at
home, and results match ``librosa.stft`` / ``librosa.istft`` up to the axis
order (librosa returns ``[..., bins, frames]``).

All integer sizes are static: wrap calls in ``jax.jit`` with
``static_argnames`` or close over them. Windows are computed on the host with
numpy (they are constants of the compiled program).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

WindowSpec = str | tuple | np.ndarray


# ----------------------------------------------------------------------------
# Windows (host-side constants)
# ----------------------------------------------------------------------------


def _cosine_sum_window(coefficients: tuple[float, ...], length: int) -> np.ndarray:
  """Periodic ("fftbins") generalised cosine window, as scipy.signal.get_window."""
  n = np.arange(length)
  phase = 2.0 * np.pi * n / length
  return sum(
      (-1) ** k * a * np.cos(k * phase) for k, a in enumerate(coefficients)
  ).astype(np.float64)


def get_window(window: WindowSpec, win_length: int) -> np.ndarray:
  """Returns a periodic analysis window of ``win_length`` samples (float64).

  Args:
    window: ``"hann"``, ``"hamming"``, ``"blackman"``, ``"boxcar"``/``"rectangular"``,
      ``("gaussian", std)`` with ``std`` in samples, or an explicit 1-D array
      of length ``win_length``.
    win_length: the window length in samples.

  Raises:
    ValueError: for an unknown name, a bad parameter or an array of the wrong length.
  """
  if win_length < 1:
    raise ValueError(f"win_length must be >= 1, got {win_length}")
  if isinstance(window, str):
    name, args = window.lower(), ()
  elif isinstance(window, tuple):
    name, args = str(window[0]).lower(), tuple(window[1:])
  else:
    array = np.asarray(window, dtype=np.float64)
    if array.shape != (win_length,):
      raise ValueError(
          f"window: an explicit window must have shape ({win_length},), got {array.shape}"
      )
    if not np.all(np.isfinite(array)):
      raise ValueError("window: an explicit window must be finite")
    return array

  if name in ("hann", "hanning"):
    return _cosine_sum_window((0.5, 0.5), win_length)
  if name == "hamming":
    return _cosine_sum_window((0.54, 0.46), win_length)
  if name == "blackman":
    return _cosine_sum_window((0.42, 0.50, 0.08), win_length)
  if name in ("boxcar", "rectangular", "ones"):
    return np.ones(win_length)
  if name == "gaussian":
    if len(args) != 1 or not float(args[0]) > 0:
      raise ValueError(f"window: ('gaussian', std) needs one positive std, got {window!r}")
    n = np.arange(win_length) - win_length / 2.0  # periodic: centre at L/2
    return np.exp(-0.5 * (n / float(args[0])) ** 2)
  raise ValueError(f"window: unknown window {window!r}")


def _padded_window(window: WindowSpec, win_length: int, n_fft: int) -> np.ndarray:
  """The window centred inside ``n_fft`` samples (librosa.util.pad_center)."""
  w = get_window(window, win_length)
  left = (n_fft - win_length) // 2
  return np.pad(w, (left, n_fft - win_length - left))


def _check_sizes(n_fft: int, hop_length: int | None, win_length: int | None) -> tuple[int, int]:
  if not isinstance(n_fft, int | np.integer) or n_fft < 2:
    raise ValueError(f"n_fft must be an integer >= 2, got {n_fft!r}")
  win_length = n_fft if win_length is None else win_length
  hop_length = win_length // 4 if hop_length is None else hop_length
  if not 1 <= win_length <= n_fft:
    raise ValueError(f"win_length must be in [1, n_fft={n_fft}], got {win_length}")
  if hop_length < 1:
    raise ValueError(f"hop_length must be >= 1, got {hop_length}")
  return int(hop_length), int(win_length)


# ----------------------------------------------------------------------------
# Framing and overlap-add
# ----------------------------------------------------------------------------


def num_frames(n_samples: int, *, n_fft: int, hop_length: int, center: bool = True) -> int:
  """Number of STFT frames for a signal of ``n_samples`` samples."""
  padded = n_samples + 2 * (n_fft // 2) if center else n_samples
  if padded < n_fft:
    return 0
  return 1 + (padded - n_fft) // hop_length


def frame(x: ArrayLike, *, frame_length: int, hop_length: int) -> jax.Array:
  """Slices ``x[..., samples]`` into ``[..., frames, frame_length]`` (no padding).

  When ``hop_length`` divides ``frame_length`` the frames are assembled from
  ``frame_length // hop_length`` shifted views of the hop-sized blocks, which
  is much cheaper than a gather on CPU; otherwise a gather is used.
  """
  x = jnp.asarray(x)
  n_samples = x.shape[-1]
  n = 1 + (n_samples - frame_length) // hop_length
  if n_samples < frame_length:
    raise ValueError(
        f"signal of {n_samples} samples is shorter than one frame ({frame_length} samples)"
    )
  if frame_length % hop_length == 0:
    ratio = frame_length // hop_length
    n_blocks = n + ratio - 1
    blocks = x[..., : n_blocks * hop_length].reshape(*x.shape[:-1], n_blocks, hop_length)
    shifted = [blocks[..., r : r + n, :] for r in range(ratio)]
    return jnp.concatenate(shifted, axis=-1)
  index = hop_length * np.arange(n)[:, None] + np.arange(frame_length)[None, :]
  return x[..., index]


def overlap_add(frames: ArrayLike, *, hop_length: int) -> jax.Array:
  """Overlap-adds ``[..., frames, frame_length]`` into ``[..., samples]``.

  The output has ``frame_length + hop_length * (frames - 1)`` samples.
  """
  frames = jnp.asarray(frames)
  n, frame_length = frames.shape[-2:]
  batch = frames.shape[:-2]
  ratio = -(-frame_length // hop_length)
  pad = ratio * hop_length - frame_length
  if pad:
    frames = jnp.pad(frames, [(0, 0)] * (frames.ndim - 1) + [(0, pad)])
  chunks = frames.reshape(*batch, n, ratio, hop_length)
  out = jnp.zeros((*batch, n + ratio - 1, hop_length), frames.dtype)
  for r in range(ratio):
    out = out.at[..., r : r + n, :].add(chunks[..., :, r, :])
  out = out.reshape(*batch, (n + ratio - 1) * hop_length)
  return out[..., : frame_length + hop_length * (n - 1)]


def window_sumsquare(
    window: WindowSpec, n_frames: int, *, n_fft: int, hop_length: int, win_length: int | None = None
) -> np.ndarray:
  """Sum of squared, overlapped windows (host-side), as librosa.filters.window_sumsquare."""
  win_length = n_fft if win_length is None else win_length
  w2 = _padded_window(window, win_length, n_fft) ** 2
  out = np.zeros(n_fft + hop_length * (n_frames - 1))
  for i in range(n_frames):
    out[i * hop_length : i * hop_length + n_fft] += w2
  return out


# The overlap-add gain is capped where fewer frames cover a sample than in the middle of the
# signal: 1 / max(wss, WSS_FLOOR * max(wss)).
WSS_FLOOR = 0.15


def overlap_add_gain(wss: np.ndarray) -> np.ndarray:
  """THE overlap-add normalisation rule: ``1 / max(wss, WSS_FLOOR * max(wss))`` (host-side).

  Dividing by the window-sum-square ``wss`` inverts a *consistent* STFT exactly, but where
  the window envelope vanishes (the first and last ``n_fft - hop_length`` samples of a
  signal analysed with ``center=False``) it amplifies by up to ``1 / min(wss)`` (about 1e8
  for a periodic Hann window): any energy a magnitude without a consistent phase leaves in
  the edge frames becomes a click that is orders of magnitude louder than the clip, and a
  peak normalisation then turns the clip into that click (librosa.istft behaves so). Here
  the gain never exceeds ``1 / (WSS_FLOOR * max(wss))``: samples with ``wss >= WSS_FLOOR *
  max(wss)`` are inverted exactly, the few below it fade in (out) with the window envelope, as
  TensorFlow's ``inverse_stft`` does at every edge.

  Why 0.15: it is the largest floor under which a centred inverse stays exact at 75 % overlap
  or more whatever the signal's length (the smallest ``wss`` of a centred Hann STFT's output
  is 0.169-0.183 of the maximum at n_fft/hop 256/64 ... 2048/512, reached in the last
  samples when the length is not a multiple of the hop; at 50 % overlap the last hop can
  be left uncovered, and fades). With random phases in every frame (the worst case of an
  inconsistent magnitude) and ``center=False``, the edge-to-body peak ratio of the output
  (first and last 1024 samples against the rest) was 1.3-1.8 on average over eight draws
  (at most 2.4) for Hann at 512/128, 1024/256, 2048/512, 256/64 and 512/256, against 100-700
  with librosa's rule. A consistent STFT loses only the samples where a single window's
  square is below the floor (the first and last 124 samples at 512/128).
  """
  wss = np.asarray(wss, np.float64)
  floor = WSS_FLOOR * float(np.max(wss)) if wss.size else 0.0
  floor = max(floor, float(np.finfo(np.float32).tiny))
  return 1.0 / np.maximum(wss, floor)


# ----------------------------------------------------------------------------
# Batch chunking (speed on CPU)
# ----------------------------------------------------------------------------

# Working-set budget (bytes of float32 frames) per chunk when a batch is mapped on CPU.
_CHUNK_BYTES = 4 << 20


def _map_leading(fn, x: jax.Array, *, core_ndim: int, bytes_per_item: int) -> jax.Array:
  """Applies ``fn`` (written for one item of ``core_ndim`` axes) over the leading axes of ``x``.

  On CPU a batch is processed a few items at a time (``lax.map`` with a
  ``batch_size`` that keeps about :data:`_CHUNK_BYTES` of frames in flight), so
  each chunk's framing / FFT intermediates stay in cache instead of streaming
  the whole batch through memory several times (measured: the mel spectrogram of
  16 five-second clips about 3x faster; see experiments/bench_spectral.py).
  Elsewhere (GPU/TPU) the batch is vectorised as is. Results are identical
  either way; jit, vmap and grad work through both.
  """
  lead = x.shape[: x.ndim - core_ndim]
  n_items = math.prod(lead)
  chunk = max(1, _CHUNK_BYTES // max(bytes_per_item, 1))
  if not lead or n_items <= chunk or jax.default_backend() != "cpu":
    return fn(x)
  flat = x.reshape(n_items, *x.shape[len(lead) :])
  y = jax.lax.map(fn, flat, batch_size=chunk)
  return y.reshape(*lead, *y.shape[1:])


def _in_time_chunks(fn, signal: jax.Array, *, n_frames: int, chunk_frames: int, n_fft: int,
                    hop_length: int) -> jax.Array:
  """``fn(signal)`` (``[samples] -> [n_frames, bins]``) computed ``chunk_frames`` frames at a time.

  Each step frames one segment of ``signal`` and writes its rows into the output
  with ``dynamic_update_slice`` (in place inside the loop), so the frames of the
  whole signal never exist at once: the peak memory is the output plus one chunk.
  The last chunk is shifted back to end at the last frame (it rewrites a few rows
  with identical values), so every chunk has the same static shape.
  """
  n_chunks = -(-n_frames // chunk_frames)
  segment = (chunk_frames - 1) * hop_length + n_fft
  first = fn(jax.lax.slice_in_dim(signal, 0, segment))
  out = jnp.zeros((n_frames, *first.shape[1:]), first.dtype)
  out = jax.lax.dynamic_update_slice_in_dim(out, first, 0, axis=0)

  def body(c, out):
    start = jnp.minimum(c * chunk_frames, n_frames - chunk_frames)
    piece = jax.lax.dynamic_slice_in_dim(signal, start * hop_length, segment)
    return jax.lax.dynamic_update_slice_in_dim(out, fn(piece), start, axis=0)

  return jax.lax.fori_loop(1, n_chunks, body, out)


def _windowed_frames(x: jax.Array, window: jax.Array, *, n_fft: int, hop_length: int) -> jax.Array:
  """``frame(x) * window`` with the window applied per hop-sized block (fuses into the slices)."""
  if n_fft % hop_length:
    return frame(x, frame_length=n_fft, hop_length=hop_length) * window
  n = 1 + (x.shape[-1] - n_fft) // hop_length
  ratio = n_fft // hop_length
  blocks = x[..., : (n + ratio - 1) * hop_length].reshape(*x.shape[:-1], n + ratio - 1, hop_length)
  return jnp.concatenate(
      [blocks[..., r : r + n, :] * window[r * hop_length : (r + 1) * hop_length]
       for r in range(ratio)],
      axis=-1,
  )


# ----------------------------------------------------------------------------
# STFT / ISTFT
# ----------------------------------------------------------------------------


def stft(
    x: ArrayLike,
    *,
    n_fft: int,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: WindowSpec = "hann",
    center: bool = True,
    pad_mode: str = "constant",
) -> jax.Array:
  """Short-time Fourier transform.

  Args:
    x: real audio ``[..., samples]``.
    n_fft: FFT size; the output has ``n_fft // 2 + 1`` bins.
    hop_length: samples between frames (default ``win_length // 4``).
    win_length: window length, at most ``n_fft`` (default ``n_fft``); the
      window is zero-padded to ``n_fft`` symmetrically.
    window: see :func:`get_window`.
    center: pad ``n_fft // 2`` samples on both sides so frame ``t`` is centred
      on sample ``t * hop_length``.
    pad_mode: ``jnp.pad`` mode used when ``center`` ("constant" or "reflect").

  Returns:
    Complex ``[..., frames, n_fft // 2 + 1]``; frame phase is referenced to the
    frame start (librosa/scipy convention).

  Raises:
    ValueError: bad sizes, or a signal shorter than one frame.
  """
  hop_length, win_length = _check_sizes(n_fft, hop_length, win_length)
  x = jnp.asarray(x)
  if not jnp.issubdtype(x.dtype, jnp.floating):
    x = x.astype(jnp.float32)
  if x.ndim < 1:
    raise ValueError(f"x must have a samples axis, got shape {x.shape}")
  if center:
    if pad_mode == "reflect" and x.shape[-1] <= n_fft // 2:
      raise ValueError(
          f"x: {x.shape[-1]} samples is too short to reflect-pad by {n_fft // 2}"
      )
    x = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(n_fft // 2, n_fft // 2)], mode=pad_mode)
  if x.shape[-1] < n_fft:
    raise ValueError(
        f"x: {x.shape[-1]} samples (after padding) is shorter than one frame (n_fft={n_fft})"
    )
  window_array = jnp.asarray(_padded_window(window, win_length, n_fft), x.dtype)

  def one(signal):
    frames = _windowed_frames(signal, window_array, n_fft=n_fft, hop_length=hop_length)
    return jnp.fft.rfft(frames, n=n_fft, axis=-1)

  n_frames = 1 + (x.shape[-1] - n_fft) // hop_length
  chunk_frames = max(1, _CHUNK_BYTES // (4 * n_fft))
  if n_frames > 2 * chunk_frames and jax.default_backend() == "cpu":
    # Long audio: a few thousand frames at a time, written into the output in place.
    def long_one(signal):
      return _in_time_chunks(one, signal, n_frames=n_frames, chunk_frames=chunk_frames,
                             n_fft=n_fft, hop_length=hop_length)

    if x.ndim == 1:
      return long_one(x)
    flat = x.reshape(-1, x.shape[-1])
    return jax.lax.map(long_one, flat).reshape(*x.shape[:-1], n_frames, n_fft // 2 + 1)
  return _map_leading(one, x, core_ndim=1, bytes_per_item=4 * n_frames * n_fft)


def istft(
    stft_matrix: ArrayLike,
    *,
    n_fft: int | None = None,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: WindowSpec = "hann",
    center: bool = True,
    length: int | None = None,
) -> jax.Array:
  """Inverse STFT by weighted overlap-add with window-sum-square normalisation.

  The normalisation follows :func:`overlap_add_gain`: exact wherever the window envelope
  is at least :data:`WSS_FLOOR` of its maximum; below that (the first and last
  ``n_fft - hop_length`` samples with ``center=False``) it fades instead of amplifying.

  Args:
    stft_matrix: complex ``[..., frames, n_fft // 2 + 1]``.
    n_fft: FFT size (default ``2 * (bins - 1)``).
    hop_length, win_length, window, center: as in :func:`stft`.
    length: if given, the output is trimmed or zero-padded to exactly this
      many samples.

  Returns:
    Real audio ``[..., samples]``.
  """
  stft_matrix = jnp.asarray(stft_matrix)
  bins = stft_matrix.shape[-1]
  n_fft = 2 * (bins - 1) if n_fft is None else n_fft
  if bins != n_fft // 2 + 1:
    raise ValueError(f"stft_matrix has {bins} bins but n_fft={n_fft} needs {n_fft // 2 + 1}")
  hop_length, win_length = _check_sizes(n_fft, hop_length, win_length)
  n_frames = stft_matrix.shape[-2]
  if length is not None:
    padded_length = length + 2 * (n_fft // 2) if center else length
    n_frames = min(n_frames, math.ceil(padded_length / hop_length))
    stft_matrix = stft_matrix[..., :n_frames, :]
  if n_frames < 1:
    raise ValueError("stft_matrix has no frames")

  window_np = _padded_window(window, win_length, n_fft)

  def one(spectrogram):
    frames = jnp.fft.irfft(spectrogram, n=n_fft, axis=-1)
    return overlap_add(frames * jnp.asarray(window_np, frames.dtype), hop_length=hop_length)

  y = _map_leading(one, stft_matrix, core_ndim=2, bytes_per_item=4 * n_frames * n_fft)

  wss = window_sumsquare(
      window, n_frames, n_fft=n_fft, hop_length=hop_length, win_length=win_length
  )
  y = y * jnp.asarray(overlap_add_gain(wss), y.dtype)

  start = n_fft // 2 if center else 0
  if length is None:
    stop = y.shape[-1] - (n_fft // 2 if center else 0)
    return y[..., start:stop]
  y = y[..., start : start + length]
  missing = length - y.shape[-1]
  if missing > 0:
    y = jnp.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, missing)])
  return y


def magnitude(stft_matrix: ArrayLike, *, power: float = 1.0) -> jax.Array:
  """``|X| ** power``; with a gradient that stays finite at zero."""
  stft_matrix = jnp.asarray(stft_matrix)
  squared = jnp.real(stft_matrix) ** 2 + jnp.imag(stft_matrix) ** 2
  if power == 2.0:
    return squared
  safe = jnp.where(squared > 0, squared, 1.0)
  return jnp.where(squared > 0, safe ** (power / 2.0), 0.0)


def fft_frequencies(*, sr: float, n_fft: int) -> np.ndarray:
  """Centre frequency in Hz of each of the ``n_fft // 2 + 1`` bins."""
  return np.fft.rfftfreq(n_fft, d=1.0 / sr)


def frames_to_time(n_frames: int, *, sr: float, hop_length: int) -> np.ndarray:
  """Time in seconds of each frame (its centre when the STFT is centred)."""
  return np.arange(n_frames) * hop_length / float(sr)
