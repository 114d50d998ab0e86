"""Content/style pairs for the studies: speech (LJSpeech) and ESC-50 sounds, fold 5 only.

The shipped classifiers were trained on ESC-50 folds 1-4 and their posteriors are used as
judges, so every ESC-50 clip here comes from fold 5 (their test fold). Within a class the
clips are taken in order of *activity* (the fraction of 50 ms frames within 30 dB of the
clip's loudest frame; many ESC-50 clips are mostly silence), ties by name: deterministic.

Pair ``i`` (of ``n``): style class ``STYLE_CLASSES[i % 6]`` (the next clip of that class
each time round); content: LJSpeech clip ``i`` for the first ``n - n_esc_content`` pairs,
then ESC-50 content classes ``CONTENT_CLASSES`` in turn. Without the data the built-in
signals stand in (said so in :attr:`PairSet.source`). Host side: files in, numpy out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from specst_jax import audio, signals

LJSPEECH = Path("speech") / "ljspeech"
ESC50 = "esc50_16k"
FOLD = 5
STYLE_CLASSES = ("rooster", "church_bells", "crow", "siren", "chirping_birds", "crickets")
CONTENT_CLASSES = ("dog", "laughing", "cow", "door_wood_knock")
PEAK = 0.9


@dataclasses.dataclass(frozen=True)
class Pair:
  """One pair of equal-length clips at the set's rate (float32, peak ``PEAK``).

  Attributes:
    name: short label, e.g. ``"LJ001-0001 / rooster 5-200032-A"``.
    content, style: ``[samples]``.
    content_class, style_class: ESC-50 class names (``""`` for speech / built-in signals).
    content_file, style_file: source files (``""`` for built-in signals).
  """

  name: str
  content: np.ndarray = dataclasses.field(repr=False)
  style: np.ndarray = dataclasses.field(repr=False)
  content_class: str = ""
  style_class: str = ""
  content_file: str = ""
  style_file: str = ""


@dataclasses.dataclass(frozen=True)
class PairSet:
  pairs: tuple[Pair, ...]
  sr: int
  source: str

  @property
  def contents(self) -> np.ndarray:
    return np.stack([p.content for p in self.pairs])

  @property
  def styles(self) -> np.ndarray:
    return np.stack([p.style for p in self.pairs])

  @property
  def names(self) -> list[str]:
    return [p.name for p in self.pairs]

  def files(self) -> list[str]:
    """The audio files of the pairs (contents and styles, each once; none for built-in
    signals): what a study's ``data_sha256`` covers. The other fold-5 clips of the style and
    content classes, read to rank them by activity, are not included."""
    return sorted({f for p in self.pairs for f in (p.content_file, p.style_file) if f})

  def describe(self) -> list[dict]:
    return [dict(name=p.name, content_class=p.content_class, style_class=p.style_class,
                 content_file=p.content_file, style_file=p.style_file) for p in self.pairs]


def fit(x: np.ndarray, n: int) -> np.ndarray:
  """Crops or zero-pads ``x [samples]`` to ``n`` and scales its peak to ``PEAK`` (float32)."""
  x = np.asarray(x, np.float32)[:n]
  x = np.pad(x, (0, n - x.shape[-1]))
  peak = float(np.max(np.abs(x))) if x.size else 0.0
  return (x * (PEAK / peak) if peak > 0 else x).astype(np.float32)


def activity(x: np.ndarray, sr: int, *, frame_s: float = 0.05, within_db: float = 30.0) -> float:
  """Fraction of ``frame_s`` frames whose RMS is within ``within_db`` of the loudest one."""
  n = max(1, int(frame_s * sr))
  frames = np.asarray(x, np.float64)[: len(x) // n * n].reshape(-1, n)
  if not frames.size:
    return 0.0
  rms = np.sqrt(np.mean(frames**2, axis=1) + 1e-20)
  return float(np.mean(20 * np.log10(rms / rms.max()) > -within_db))


def _class_clips(data: Path, classes: Sequence[str], sr: int, n: int) -> dict[str, list]:
  """Fold-5 clips of each class, most active first: ``{class: [(stem, path, audio)]}``."""
  from specst_jax.classifier import esc50  # host-side metadata, on use
  clips = [c for c in esc50.read_metadata(data / ESC50)
           if c.fold == FOLD and c.category in classes]
  paths = esc50.resolve_paths(data / ESC50, clips)
  out: dict[str, list] = {c: [] for c in classes}
  for clip, path in zip(clips, paths, strict=True):
    y = audio.load_audio(path, sr=sr)[0][:n]
    out[clip.category].append((clip.stem, path, y))
  for c in classes:
    if not out[c]:
      raise ValueError(f"{data / ESC50}: no fold-{FOLD} clips of class {c!r}")
    out[c].sort(key=lambda t: (-activity(t[2], sr), t[0]))
  return out


def load_pairs(data_dir: str | Path, *, n_pairs: int, sr: int, duration: float,
               n_esc_content: int | None = None) -> PairSet:
  """The study's ``n_pairs`` pairs, ``duration`` seconds at ``sr`` (see the module docstring).

  Args:
    data_dir: the shared data root (LJSpeech under ``speech/ljspeech``, ESC-50 16 kHz under
      ``esc50_16k``); missing: built-in signals stand in.
    n_esc_content: pairs whose content is an ESC-50 sound (default: a third, rounded down).
  """
  if n_pairs < 1:
    raise ValueError(f"n_pairs must be >= 1, got {n_pairs}")
  if not duration > 0:
    raise ValueError(f"duration must be positive, got {duration}")
  n = int(round(duration * sr))
  data = Path(data_dir)
  n_esc = n_pairs // 3 if n_esc_content is None else int(n_esc_content)
  if not 0 <= n_esc <= n_pairs:
    raise ValueError(f"n_esc_content must be in [0, {n_pairs}], got {n_esc}")
  if not (data / LJSPEECH).is_dir() or not (data / ESC50).is_dir():
    return _builtin(n_pairs, sr, duration, n)
  speech = sorted((data / LJSPEECH).glob("LJ*.flac"))
  if len(speech) < n_pairs - n_esc:
    raise ValueError(f"{data / LJSPEECH}: {len(speech)} clips, {n_pairs - n_esc} needed")
  styles = _class_clips(data, STYLE_CLASSES, sr, n)
  contents = _class_clips(data, CONTENT_CLASSES, sr, n) if n_esc else {}
  pairs = []
  for i in range(n_pairs):
    sc = STYLE_CLASSES[i % len(STYLE_CLASSES)]
    s_stem, s_path, s_y = styles[sc][(i // len(STYLE_CLASSES)) % len(styles[sc])]
    if i < n_pairs - n_esc:
      c_path = speech[i]
      c_y, cc, c_stem = audio.load_audio(c_path, sr=sr)[0], "", c_path.stem
    else:
      j = i - (n_pairs - n_esc)
      cc = CONTENT_CLASSES[j % len(CONTENT_CLASSES)]
      c_stem, c_path, c_y = contents[cc][(j // len(CONTENT_CLASSES)) % len(contents[cc])]
      c_stem = f"{cc} {c_stem}"
    pairs.append(Pair(f"{c_stem} / {sc} {s_stem}", fit(c_y, n), fit(s_y, n), cc, sc,
                      str(c_path), str(s_path)))
  return PairSet(tuple(pairs), sr, f"LJSpeech + ESC-50 fold {FOLD} under {data}")


def _builtin(n_pairs: int, sr: int, duration: float, n: int) -> PairSet:
  contents = ("vowel_glide", "harmonic_mix", "noise_bursts")
  pairs = []
  for i in range(n_pairs):
    c = contents[i % len(contents)]
    style = signals.make_signal("chirps", sr=sr, duration=duration * (1 + i / 7))
    pairs.append(Pair(f"builtin:{c}/chirps{i}",
                      fit(signals.make_signal(c, sr=sr, duration=duration), n), fit(style, n)))
  return PairSet(tuple(pairs), sr, "built-in signals (no data)")
