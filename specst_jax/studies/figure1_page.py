"""Figure 1 claims study, what a person looks at and listens to: the paper's four panels and a page.

Both are made from the kept files of a claims-study work directory (:mod:`figure1_resume`),
never from a network: the audio each item wrote (``items/audio/*.flac``: pairs 0 and 1 at seed
0) is read back and re-analysed with the study's STFT, so a panel shows what a listener hears,
not the magnitude the optimiser reached.

* ``figure1.png``: the paper's layout for its own pair (pair 0: the author's speech spectrogram
  and the rooster): content and style, then a) trained weights, no noise; b) random weights;
  c) trained weights, initial image with noise; d) random weights with noise (the study's
  largest noise level ``r``).
* ``index.html``: one column per kept pair, one row per condition after the content and style
  clips (written once into ``items/audio/``); each result with its spectrogram as written, its
  measures, whether it converged and its listener check.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from specst_jax import audio, listener, listening
from specst_jax.representations import Stft
from specst_jax.studies import figure1_units as fu
from specst_jax.studies import outputs, panels

PAGE = "index.html"
FIGURE = "figure1.png"
AUDIO = Path(fu.ITEMS) / "audio"
IMAGES = Path(fu.ITEMS) / "img"
SHOWN = ("style_distance_db", "modulation_distance_db", "content_correlation",
         "envelope_correlation")


def paper_panels(noise_levels: Sequence[float]) -> list[tuple[str, str]]:
  """The paper's panels a-d as ``(condition key, caption)``; noise at the largest level."""
  r = max(noise_levels)
  return [("trained_r0", "a) trained weights, no noise"),
          ("random_r0", "b) random weights, no noise"),
          (f"trained_r{r:g}", f"c) trained weights, noise r = {r:g}"),
          (f"random_r{r:g}", f"d) random weights, noise r = {r:g}")]


def conditions(noise_levels: Sequence[float]) -> list[str]:
  """Every condition key of the design, trained first, in noise order."""
  return [f"{w}_r{r:g}" for w in ("trained", "random") for r in sorted(noise_levels)]


def source_clips(workdir: Path, pairs: Sequence, sr: int, indices: Sequence[int]) -> None:
  """Writes ``items/audio/pairNN_{content,style}.flac`` for ``indices`` where absent (the study's
  content and style, as the optimisation saw them; peak-normalised as every written clip)."""
  for i in indices:
    for which in ("content", "style"):
      path = workdir / AUDIO / f"pair{i:02d}_{which}.flac"
      if not path.is_file():
        outputs.save_clip(path, np.asarray(getattr(pairs[i], which)), sr)


def _read(path: Path, sr: int) -> np.ndarray:
  y, got = audio.load_audio(path)
  if got != sr:
    raise ValueError(f"{path}: {got} Hz, the study runs at {sr} Hz")
  return np.asarray(y, np.float32)


def write(workdir: str | Path, *, stft: Stft, pair_names: Sequence[str],
          noise_levels: Sequence[float], items: dict[str, dict], title: str) -> Path:
  """Writes ``figure1.png`` and ``index.html`` (with thumbnails in ``items/img``) in ``workdir``.

  Args:
    stft: the study's analysis (its rate is the clips' rate).
    pair_names: the study's pairs in order (``pairs.json``).
    noise_levels: the design's ``r`` values.
    items: item id -> item record (:func:`figure1_units.read_items`); only seed-0 items with kept
      audio are shown.
    title: the page's title.

  Returns:
    the page's path.

  Raises:
    FileNotFoundError: a pair shown has no content or style clip in ``items/audio``.
  """
  workdir = Path(workdir)
  keys = conditions(noise_levels)
  kept = sorted({it["pair_index"] for it in items.values()
                 if it["seed"] == 0 and it.get("audio")})
  cells, columns = {}, []
  for i in kept:
    name, stem = pair_names[i], f"pair{i:02d}"
    columns.append(name)
    for which in ("content", "style"):
      clip = AUDIO / f"{stem}_{which}.flac"
      if not (workdir / clip).is_file():
        raise FileNotFoundError(f"{workdir / clip}: the {which} clip of pair {i} is missing")
      image = IMAGES / f"{stem}_{which}.png"
      outputs.thumbnail(workdir / image, np.asarray(stft.magnitude(_read(workdir / clip,
                                                                         stft.sr))), stft, which)
      cells[(which, name)] = listening.Cell(clip.as_posix(), image.as_posix())
    for key in keys:
      item = items.get(f"{key}__s0__p{i:02d}")
      if item is None or not item.get("audio"):
        continue
      clip = Path(fu.ITEMS) / item["audio"]
      image = IMAGES / f"{stem}_{key}.png"
      written = np.asarray(stft.magnitude(_read(workdir / clip, stft.sr)))
      outputs.thumbnail(workdir / image, written, stft, f"{key} (as written)")
      shown = {m: item["measures"][m] for m in SHOWN if item["measures"].get(m) is not None}
      shown["converged"] = "yes" if item["converged"] else (
          f"no (last 20 %: -{100 * item['convergence']['relative_drop']:.2f} %)")
      cells[(key, name)] = listening.Cell(clip.as_posix(), image.as_posix(),
                                          {**shown, **listener.page_measures(item["listener"])})
  figures = {}
  if 0 in kept:
    stem = "pair00"
    figure = [(f"content: {pair_names[0].split(' / ')[0].removeprefix('paper: ')}",
               AUDIO / f"{stem}_content.flac"),
              (f"style: {pair_names[0].split(' / ')[-1]}", AUDIO / f"{stem}_style.flac")]
    figure += [(caption, Path(fu.ITEMS) / items[f"{key}__s0__p00"]["audio"])
               for key, caption in paper_panels(noise_levels) if f"{key}__s0__p00" in items]
    panels.plot_magnitudes(
        workdir / FIGURE,
        [(t, np.asarray(stft.magnitude(_read(workdir / p, stft.sr))), stft) for t, p in figure],
        columns=2, panel_size=(6.5, 3.3), colorbar_label="dB re max")
    figures[FIGURE] = ("The paper's Figure 1 layout for its own pair, seed 0: every panel is "
                       "the audio as written, re-analysed.")
  return listening.write_page(
      workdir, title, rows=["content", "style", *keys], columns=columns, cells=cells,
      figures=figures, page_name=PAGE,
      notes=("Seed 0 of the pairs whose audio the study keeps. Each image is the clip as "
             "written, re-analysed with the study's STFT (display dB re its own max). "
             "Measures are against the pair's content and style (claims.json has every seed, "
             "the intervals and the verdicts); 'converged' is the pre-registered rule."))


def page(workdir: str | Path, cfg) -> Path | None:
  """The figure and page of a claims-study work directory from its kept files (``cfg``: its
  design, :class:`specst_jax.studies.figure1_design.Config`); None when no item kept audio.

  The content and style clips are written first where absent (from ``cfg.data_dir``; a missing
  data folder is a FileNotFoundError naming it). Reads weights files for the study's STFT;
  builds no network and trains nothing.
  """
  from specst_jax.studies import figure1_design, figure1_runner

  workdir = Path(workdir)
  plan, pairs_record = fu.read_json(workdir, fu.PLAN), fu.read_json(workdir, fu.PAIRS)
  names = [p["name"] for p in pairs_record["pairs"]]
  items = fu.read_items(workdir)
  kept = sorted({it["pair_index"] for it in items.values() if it["seed"] == 0
                 and it.get("audio")})
  if not kept:
    return None
  stft = figure1_runner.run_stft(figure1_runner._weights(cfg)[0])
  absent = [i for i in kept for w in ("content", "style")
            if not (workdir / AUDIO / f"pair{i:02d}_{w}.flac").is_file()]
  if absent:
    if not Path(cfg.data_dir).is_dir():
      raise FileNotFoundError(f"{cfg.data_dir}: the shared data folder is missing (the page "
                              f"needs the content and style clips of pairs {sorted(set(absent))})")
    source_clips(workdir, figure1_design.load_pairs(cfg, stft.sr).pairs, stft.sr,
                 sorted(set(absent)))
  return write(workdir, stft=stft, pair_names=names,
               noise_levels=plan["design"]["noise_levels"], items=items,
               title="Figure 1 (Wyse 2017): the claims study, converged, as written")
