"""Batch style transfer over a manifest: buckets, device batches, processes, resume.

:func:`run` is the whole job of one process: it takes its share of the items (a stable hash
of the id, :mod:`specst_jax.batch.shards`), skips the ones already done on disk, groups the rest by
(settings, bucket length, number of styles) so that each group is one compiled program, runs each
group in batches of ``batch_size`` pairs through the engine (the pair axis sharded over the
process's local devices; a partial batch is padded with copies of its last pair, whose outputs are
dropped; a call that runs out of device memory is halved and retried, recorded in each item's
``batch.backed_off_from`` and the summary) and writes each item as it finishes
(:mod:`specst_jax.batch.store`). Bad items are recorded and skipped. When every process has finished
(a barrier of the JAX coordination service), process 0 merges the summary.

The engine (the audio -> audio style transfer) is passed in: see :class:`Engine` and
:mod:`specst_jax.batch.engine`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime
import math
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from absl import logging

from specst_jax import audio, listener
from specst_jax.batch import buckets, shards, store
from specst_jax.batch.manifest import Item, ManifestError
from specst_jax.representations import Stft


@dataclasses.dataclass
class BucketResult:
  """What the engine returns for a batch of ``B`` equal-length pairs.

  Attributes:
    audio: ``[B, samples]`` stylised audio (the bucket's length).
    final: loss terms at the result, name -> ``[B]`` (``"total"`` among them).
    n_iter: ``[B]`` iterations done.
    n_evals: ``[B]`` loss-and-gradient evaluations.
    loss_curve: ``[B, n_iter]`` or ``None``.
    times: seconds for the whole call, e.g. ``compile``, ``optimize``, ``phase``.
    info: run-level facts for the metrics (weights in use, device kind, ...).
    per_item: more per-pair metrics, name -> ``[B]`` (e.g. the spectral convergence).
    magnitudes: name -> ``[B, frames, bins]`` (``content``, ``style``, ``result``) for figures.
    stft: the :class:`specst_jax.representations.Stft` of ``magnitudes``, or None; with it the
      listener's check of each written result adds its spectral convergence against
      ``magnitudes["result"]`` and the figure adds the written audio's spectrogram.
  """

  audio: np.ndarray
  final: dict[str, np.ndarray]
  n_iter: np.ndarray
  n_evals: np.ndarray
  loss_curve: np.ndarray | None = None
  times: dict[str, float] = dataclasses.field(default_factory=dict)
  info: dict[str, Any] = dataclasses.field(default_factory=dict)
  per_item: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
  magnitudes: dict[str, np.ndarray] | None = None
  stft: Stft | None = None


class Engine(Protocol):
  """The audio -> audio transfer as the batch runner sees it."""

  def resolve(self, overrides: Mapping[str, Any]) -> Hashable:
    """Settings (hashable) from overrides of the defaults; ValueError if bad."""

  def group_key(self, settings: Hashable) -> Hashable:
    """Items whose settings give equal keys share engine calls (e.g. settings less the seed
    when the seed does not draw the network's weights)."""

  def describe(self, settings: Hashable) -> dict[str, Any]:
    """The settings as a JSON-able dict (for metrics.json)."""

  def sample_rate(self, settings: Hashable) -> int:
    """The rate (Hz) audio is read at for ``settings``."""

  def min_samples(self, settings: Hashable) -> int:
    """The fewest samples a clip may have at that rate."""

  def run(self, settings: Hashable, contents: np.ndarray, styles: np.ndarray,
          seeds: np.ndarray) -> BucketResult:
    """``contents [B, n]``, ``styles [B, S, n]``, ``seeds [B]`` -> :class:`BucketResult`.

    ``settings`` are the first pair's; the others' differ at most in their seed (same
    :meth:`group_key`)."""


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """How a batch run is cut up (the style settings themselves come from the engine).

  Attributes:
    output_dir: the run's folder.
    batch_size: pairs per engine call per process; rounded up to a multiple of the local
      device count (``n_devices``).
    bucket_seconds: content lengths compiled for (see :mod:`specst_jax.batch.buckets`).
    min_seconds: shorter content or style files are bad items ("too short").
    seed: the seed of rows without a ``seed`` column (unless the base settings hold one).
    process_id, num_processes: this process's share (see :mod:`shards`).
    n_devices: local devices the engine shards a batch over.
    loader_threads: threads reading the next batch's audio while a batch runs.
    refuse_crop: a content longer than the largest bucket fails its item instead of being
      cropped (every crop is logged and recorded either way: ``content_fit`` in the item's
      metrics and the summary).
  """

  output_dir: str
  batch_size: int = 8
  bucket_seconds: tuple[float, ...] = (2.0, 4.0, 8.0)
  min_seconds: float = 0.1
  seed: int = 0
  process_id: int = 0
  num_processes: int = 1
  n_devices: int = 1
  loader_threads: int = 2
  refuse_crop: bool = False

  def __post_init__(self):
    if self.batch_size < 1:
      raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
    if self.n_devices < 1:
      raise ValueError(f"n_devices must be >= 1, got {self.n_devices}")
    if not self.min_seconds >= 0:
      raise ValueError(f"min_seconds must be >= 0, got {self.min_seconds}")
    buckets.bucket_lengths(self.bucket_seconds, 1000)  # raises naming bucket_seconds
    if not 0 <= self.process_id < self.num_processes:
      raise ValueError(f"process_id must lie in [0, {self.num_processes}), got {self.process_id}")

  @property
  def padded_batch(self) -> int:
    return -(-max(self.batch_size, 1) // self.n_devices) * self.n_devices


@dataclasses.dataclass
class Work:
  """One pending item with its resolved settings, seed and bucket."""

  item: Item
  settings: Hashable
  seed: int
  sr: int
  fit: buckets.Fit | None = None


@dataclasses.dataclass
class Stats:
  """What one process did."""

  total: int = 0        # items in this process's share
  skipped: int = 0      # already done on disk
  ok: int = 0
  failed: int = 0
  batches: int = 0
  backoffs: int = 0     # calls halved after running out of memory
  compiled_programs: int | None = None  # the engine's count, when it keeps one
  seconds: float = 0.0
  written: list[str] = dataclasses.field(default_factory=list)


def resolve_items(items: Sequence[Item], engine: Engine, base: Mapping[str, Any],
                  seed: int) -> list[Work]:
  """Settings of every row (the base overrides, then the row's own), checked before anything
  runs: a bad value raises :class:`ManifestError` naming the row."""
  cache: dict[tuple, Hashable] = {}
  work = []
  for it in items:
    given = {"seed": seed, **base, **it.overrides_dict()}
    item_seed = int(given["seed"])
    key = tuple(sorted(given.items()))
    if key not in cache:
      try:
        cache[key] = engine.resolve(dict(key))
      except ValueError as e:
        raise ManifestError(f"line {it.line} (id {it.id}): {e}") from None
    work.append(Work(it, cache[key], item_seed, int(engine.sample_rate(cache[key]))))
  return work


def _content_samples(path: str, sr: int) -> int:
  """Samples of ``path`` after resampling to ``sr`` (from the header); AudioError if bad."""
  info = audio.info(path)
  if info.frames <= 0:
    raise audio.AudioError(f"{path}: audio has zero samples")
  return (2 * info.frames * sr + info.sr) // (2 * info.sr)


def plan(work: Sequence[Work], cfg: RunConfig, engine: Engine,
         on_error: Callable[[Work, str, str], None]) -> list[list[Work]]:
  """Buckets the pending items and cuts each group into batches of ``cfg.padded_batch``."""
  groups: dict[tuple, list[Work]] = {}
  for w in work:
    try:
      n = _content_samples(w.item.content, w.sr)
    except audio.AudioError as e:
      on_error(w, str(e), "load")
      continue
    w.fit = buckets.choose(n, buckets.bucket_lengths(cfg.bucket_seconds, w.sr))
    key = (engine.group_key(w.settings), w.fit.bucket, len(w.item.styles))
    groups.setdefault(key, []).append(w)
  size = cfg.padded_batch
  return [g[i:i + size] for g in groups.values() for i in range(0, len(g), size)]


def _min_samples(w: Work, cfg: RunConfig, engine: Engine) -> int:
  return max(engine.min_samples(w.settings), math.ceil(cfg.min_seconds * w.sr))


def load_pair(w: Work, cfg: RunConfig, engine: Engine) -> tuple[np.ndarray, np.ndarray, list]:
  """The content fitted to its bucket and the styles fitted to it ``[S, n]``; AudioError."""
  sr, n = w.sr, w.fit.bucket
  least = _min_samples(w, cfg, engine)
  content, _ = audio.load_audio(w.item.content, sr=sr, min_samples=least)
  w.fit = buckets.choose(len(content), [n]) if len(content) <= n else \
      buckets.Fit(len(content), n, "crop")
  if w.fit.action == "crop":
    what = (f"{w.item.content}: {len(content) / sr:.2f} s is longer than the largest bucket "
            f"({n / sr:.2f} s)")
    if cfg.refuse_crop:
      raise audio.AudioError(f"{what}; cropping refused (--refuse_crop)")
    logging.warning("item %s: content cropped: %s; only its first %.2f s are stylised "
                    "(--refuse_crop fails such items instead)", w.item.id, what, n / sr)
  styles, fits = [], []
  for p in w.item.styles:
    x, _ = audio.load_audio(p, sr=sr, min_samples=least)
    x, fit = buckets.fit_style(x, n)
    styles.append(x)
    fits.append(fit)
  return buckets.fit_content(content, n), np.stack(styles), fits


def _now() -> str:
  return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _metrics(w: Work, res: BucketResult, j: int, style_fits: list, engine: Engine,
             cfg: RunConfig, n_real: int, seconds: float, call: dict[str, Any]
             ) -> dict[str, Any]:
  sr = w.sr
  return dict(
      id=w.item.id, status="ok", content=w.item.content, styles=list(w.item.styles),
      seed=w.seed, settings=engine.describe(w.settings), overrides=w.item.overrides_dict(),
      final_losses={k: float(v[j]) for k, v in res.final.items()},
      n_iterations_done=int(res.n_iter[j]), n_evaluations=int(res.n_evals[j]),
      loss_curve=None if res.loss_curve is None else [float(v) for v in res.loss_curve[j]],
      bucket=dict(samples=w.fit.bucket, seconds=w.fit.bucket / sr),
      content_fit=w.fit.as_dict(), style_fits=[f.as_dict() for f in style_fits],
      result_samples=min(w.fit.original, w.fit.bucket),
      batch=dict(call, real_items=n_real, n_devices=cfg.n_devices,
                 seconds=seconds, **{f"{k}_s": v for k, v in res.times.items()}),
      item_seconds=seconds / n_real, process=cfg.process_id, written_at=_now(), **res.info,
      **{k: float(v[j]) for k, v in res.per_item.items()})


def _written_magnitudes(res: BucketResult, j: int, y: np.ndarray) -> dict[str, np.ndarray]:
  """Pair ``j``'s magnitudes cut to the written result's frames, plus the written result's own
  ``|STFT|`` (``"result.wav as written"``) when the engine says its STFT."""
  if res.magnitudes is None:
    return {}
  frames = None if res.stft is None else res.stft.n_frames(len(y))
  mags = {k: np.asarray(v[j])[:frames] for k, v in res.magnitudes.items()}
  if res.stft is not None:
    mags[f"{store.RESULT} as written"] = np.asarray(res.stft.magnitude(y))
  return mags


def _write_item(w: Work, res: BucketResult, j: int, style_fits: list, engine: Engine,
                cfg: RunConfig, n_real: int, seconds: float,
                figure: Callable | None, call: dict[str, Any]) -> None:
  folder = store.item_dir(cfg.output_dir, w.item.id)
  y = np.asarray(res.audio[j][:min(w.fit.original, w.fit.bucket)], np.float32)
  audio.save_audio(folder / store.RESULT, y, w.sr)
  mags = _written_magnitudes(res, j, y)
  measured = res.stft is not None and "result" in mags  # the SC needs the magnitude's STFT
  check = listener.check_audio(y, sr=w.sr, magnitude=mags["result"] if measured else None,
                               stft=res.stft if measured else None)
  listener.warn(folder / store.RESULT, check)
  if figure is not None and mags:
    figure(folder / store.FIGURE, w.settings, mags, len(y))
  store.finish_item(cfg.output_dir, w.item.id,
                    dict(_metrics(w, res, j, style_fits, engine, cfg, n_real, seconds, call),
                         listener=check))


def _fmt_time(s: float) -> str:
  if not math.isfinite(s):
    return "?"
  return f"{s / 3600:.1f} h" if s >= 5400 else f"{s / 60:.1f} min" if s >= 90 else f"{s:.0f} s"


def run(items: Sequence[Item], engine: Engine, cfg: RunConfig, *,
        base: Mapping[str, Any] | None = None, figure: Callable | None = None) -> Stats:
  """Runs this process's share of ``items`` (see the module docstring); returns its stats.

  Args:
    items: the whole manifest (every process passes the same list).
    engine: the transfer (:class:`Engine`).
    cfg: :class:`RunConfig`.
    base: settings overrides for every row (the tool's flags); a row's columns win.
    figure: ``figure(path, settings, {name: magnitude [frames, bins]}, n_samples)`` writes
      an item's PNG (content, style, result; ``n_samples``: the written result's length), or
      None.

  Raises:
    ManifestError: a row's settings are invalid (before anything runs).
  """
  t0 = time.perf_counter()
  stats = Stats()
  mine = shards.share(items, cfg.process_id, cfg.num_processes)
  work = resolve_items(mine, engine, dict(base or {}), cfg.seed)
  stats.total = len(work)
  pending = []
  for w in work:
    if store.is_done(cfg.output_dir, w.item.id):
      stats.skipped += 1
    else:
      store.clean_temps(cfg.output_dir, w.item.id)
      pending.append(w)

  def fail(w: Work, reason: str, stage: str) -> None:
    store.write_error(cfg.output_dir, w.item.id, reason, stage=stage, process=cfg.process_id)
    stats.failed += 1
    logging.warning("item %s failed (%s): %s", w.item.id, stage, reason)

  batches = plan(pending, cfg, engine, fail)
  logging.info("process %d/%d: %d items in its share, %d already done, %d to run in %d "
               "batch(es) of %d over %d device(s)", cfg.process_id, cfg.num_processes,
               stats.total, stats.skipped, len(pending), len(batches), cfg.padded_batch,
               cfg.n_devices)
  pool = concurrent.futures.ThreadPoolExecutor(max(cfg.loader_threads, 1))

  def submit(batch):
    return [pool.submit(load_pair, w, cfg, engine) for w in batch]

  t_run = time.perf_counter()
  futures = submit(batches[0]) if batches else []
  for b, batch in enumerate(batches):
    loaded = []
    for w, f in zip(batch, futures, strict=True):
      try:
        loaded.append((w, *f.result()))
      except audio.AudioError as e:
        fail(w, str(e), "load")
    futures = submit(batches[b + 1]) if b + 1 < len(batches) else []
    if loaded:
      _run_batch(loaded, engine, cfg, stats, fail, figure)
    stats.batches += 1
    done = stats.ok + stats.failed
    rate = done / max(time.perf_counter() - t_run, 1e-9)
    left = len(pending) - done
    logging.info("process %d: batch %d/%d (%.2f s x %d): %d/%d items done (%d failed, %d done "
                 "before), %.2f items/s, ~%s left", cfg.process_id, b + 1, len(batches),
                 batch[0].fit.bucket / batch[0].sr, len(batch), stats.skipped + done,
                 stats.total, stats.failed, stats.skipped, rate,
                 _fmt_time(left / rate if rate > 0 else math.inf))
  pool.shutdown()
  stats.compiled_programs = getattr(engine, "compiled_programs", None)
  stats.seconds = time.perf_counter() - t0
  return stats


def is_out_of_memory(error: BaseException) -> bool:
  """True for XLA's out-of-memory errors (``RESOURCE_EXHAUSTED``, on any backend)."""
  text = str(error)
  return "RESOURCE_EXHAUSTED" in text or "Out of memory" in text or "out of memory" in text


def smaller_batch(size: int, n_devices: int) -> int | None:
  """Half of ``size``, still a multiple of ``n_devices``; None when it cannot shrink."""
  half = (size // 2) // n_devices * n_devices
  return half if half >= n_devices and half < size else None


def _run_batch(loaded: list, engine: Engine, cfg: RunConfig, stats: Stats,
               fail: Callable, figure: Callable | None, size: int | None = None,
               backed_off_from: list[int] = ()) -> None:
  """Runs ``loaded`` as one engine call of ``size`` pairs (default ``cfg.padded_batch``),
  padded with copies of the last; out of memory, halves the call and runs each half (recorded
  in each item's ``batch.backed_off_from``), down to one pair per device."""
  size = cfg.padded_batch if size is None else size
  n_real = len(loaded)
  pad = size - n_real
  rows = loaded + [loaded[-1]] * pad  # padding pairs: computed, never written
  contents = np.stack([r[1] for r in rows])
  styles = np.stack([r[2] for r in rows])
  seeds = np.asarray([r[0].seed for r in rows], np.int64)
  t = time.perf_counter()
  try:
    res = engine.run(rows[0][0].settings, contents, styles, seeds)
  except (ValueError, FloatingPointError, RuntimeError) as e:
    half = smaller_batch(size, cfg.n_devices) if is_out_of_memory(e) else None
    if half is not None:
      stats.backoffs += 1
      logging.warning("out of memory at %d pairs per call: retrying %d item(s) at %d",
                      size, n_real, half)
      for i in range(0, n_real, half):
        _run_batch(loaded[i:i + half], engine, cfg, stats, fail, figure, half,
                   [*backed_off_from, size])
      return
    for w, *_ in loaded:
      fail(w, f"{type(e).__name__}: {e}", "transfer")
    return
  seconds = time.perf_counter() - t
  for j, (w, _, _, style_fits) in enumerate(loaded):
    total = float(res.final["total"][j])
    if not math.isfinite(total) or not np.all(np.isfinite(res.audio[j])):
      fail(w, f"non-finite result (total loss {total})", "transfer")
      continue
    _write_item(w, res, j, style_fits, engine, cfg, n_real, seconds, figure,
                dict(size=size, backed_off_from=list(backed_off_from)))
    stats.ok += 1
    stats.written.append(w.item.id)
    logging.info("wrote item %s", w.item.id)
