"""Figure 1 study, its scoring and outputs: claims, tables, the markdown, audio, figures, the page.

Part of :mod:`specst_jax.studies.figure1`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from jax.typing import ArrayLike

from specst_jax import listener, listening
from specst_jax.representations import Stft
from specst_jax.studies import outputs, panels, stats
from specst_jax.studies import pairs as pairs_lib
from specst_jax.studies.figure1_design import Config


def mean_std(values: ArrayLike) -> tuple[float, float, int]:
  """``(mean, std, count)`` of the finite entries of ``values`` (NaNs if there are none).

  Host-side summary (numpy); ``std`` is the population standard deviation (ddof 0).
  """
  v = np.asarray(values, np.float64).ravel()
  v = v[np.isfinite(v)]
  if v.size == 0:
    return float("nan"), float("nan"), 0
  return float(v.mean()), float(v.std()), int(v.size)


def style_progress(distance: np.ndarray, reference: np.ndarray) -> np.ndarray:
  """How far toward the style a result went: ``1 - d(result, style) / d(content, style)``
  (0: as far as the content, 1: the style's own statistics)."""
  return 1.0 - np.asarray(distance) / np.asarray(reference)


def claims(rows: dict, cfg: Config, pair_names: list[str]) -> list[tuple[str, str,
                                                                          stats.Comparison]]:
  """Every claim x measure as a paired comparison over pairs (seeds averaged).

  ``rows``: condition key -> ``{"pairs": [pair name per item], measure: [values]}`` (with the
  derived ``style_progress``).
  """
  out = []
  r_max = max(cfg.noise_levels)

  def cmp(a, b, m, sign):
    return stats.compare(rows[a][m], rows[b][m], rows[a]["pairs"], b_pairs=rows[b]["pairs"],
                         predicted_sign=sign)

  for r in cfg.noise_levels:
    t, rnd = f"trained_r{r:g}", f"random_r{r:g}"
    for m, more in (("style_distance_db", -1), ("modulation_distance_db", -1),
                    ("p_style_class", 1), ("content_correlation", 1),
                    ("envelope_correlation", 1), ("p_content_class", 1)):
      out.append((f"trained > random weights (r={r:g})", f"{m}: trained - random",
                  cmp(t, rnd, m, more)))
  def suffer(a, b):
    d = suffer_differences(rows, a, b, pair_names)
    return stats.summarize(d[np.isfinite(d)], predicted_sign=1)

  for w in ("trained", "random"):
    if r_max > 0:
      out.append((f"noise hurts style more than content ({w}, r=0 vs {r_max:g})",
                  "style-progress drop - content-corr drop",
                  suffer(f"{w}_r0", f"{w}_r{r_max:g}") if 0.0 in cfg.noise_levels else
                  suffer(f"{w}_r{min(cfg.noise_levels):g}", f"{w}_r{r_max:g}")))
  for r in cfg.noise_levels:
    out.append((f"random weights hurt style more than content (r={r:g})",
                "style-progress drop - content-corr drop",
                suffer(f"trained_r{r:g}", f"random_r{r:g}")))
  return out


def pair_differences(rows: dict, a: str, b: str, m: str, pair_names: list[str]) -> np.ndarray:
  """Measure ``m`` of condition ``a`` minus that of ``b``, per pair (seeds averaged within a
  pair first): ``[len(pair_names)]``, NaN where a pair has no finite value in either."""
  return np.asarray([_pair_mean(rows[a], p, m) - _pair_mean(rows[b], p, m)
                     for p in pair_names])


def suffer_differences(rows: dict, a: str, b: str, pair_names: list[str]) -> np.ndarray:
  """Style suffers more than content going from condition ``a`` to ``b`` (from noise, or from
  random weights): drops on [0, 1] scales, ``(style-progress drop) - (content-correlation
  drop)`` per pair (seeds averaged), ``[len(pair_names)]``; > 0 when style suffers more."""
  return (pair_differences(rows, a, b, "style_progress", pair_names)
          - pair_differences(rows, a, b, "content_correlation", pair_names))


def _pair_mean(row: dict, pair: str, m: str) -> float:
  v = np.asarray([x for x, p in zip(row[m], row["pairs"], strict=True) if p == pair], np.float64)
  v = v[np.isfinite(v)]
  return float(v.mean()) if v.size else float("nan")


# ---------------------------------------------------------------------------------- tables


def _interval_cell(values, pairs) -> str:
  _, m = stats.pair_means(values, pairs)
  m = m[np.isfinite(m)]
  if not m.size:
    return "n/a"
  lo, hi = stats.bootstrap_interval(m) if m.size >= 2 else (float("nan"), float("nan"))
  return f"{m.mean():.3g} [{lo:.3g}, {hi:.3g}]"


def markdown_table(rows: dict, labels: dict) -> str:
  """Mean over pairs (seeds averaged) [bootstrap 95 % interval] of every measure per row."""
  cols = ("style_distance_db", "modulation_distance_db", "style_progress", "content_correlation",
          "envelope_correlation", "p_style_class", "p_content_class", "sc_db")
  lines = ["| condition | weights | items | " + " | ".join(cols) + " |",
           "|---|---|---|" + "---|" * len(cols)]
  for key, row in rows.items():
    lines.append(f"| {labels[key]} | {row['weights']} | {len(row['pairs'])} | " + " | ".join(
        _interval_cell(row[c], row["pairs"]) for c in cols) + " |")
  return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------ report


def markdown(cfg, ps, rows, labels, verdicts, metrics) -> str:
  head = (f"Figure 1 study, configuration `{cfg.name}`: {len(ps.pairs)} pairs x {cfg.seeds} "
          f"seed(s) ({ps.source}), {cfg.duration:g} s at {metrics['sr']} Hz; Wyse: "
          f"{_optimizer_text(cfg)}, r in {list(cfg.noise_levels)}; phase "
          f"{cfg.phase_method} ({cfg.phase_iter} it); input: {metrics['input_pipeline']}; "
          f"second judge: {metrics['judge']}; wall time {metrics.get('wall_time_s', 0):.0f} s."
          "\n\nMean over pairs (seeds averaged first) [95 % bootstrap interval]:\n\n")
  return (head + markdown_table(rows, labels) + "\nClaims (A - B per pair, seeds averaged; "
          "verdict from the interval):\n\n" + stats.markdown_table(verdicts))


def _optimizer_text(cfg: Config) -> str:
  if cfg.optimizer == "lbfgs":
    return f"L-BFGS {cfg.n_iter} iterations (at most)"
  return f"Adam {cfg.n_iter} steps, lr {cfg.learning_rate:g}"


def _class_label(p: pairs_lib.Pair, which: str) -> str:
  cls, path = ((p.content_class, p.content_file) if which == "content" else
               (p.style_class, p.style_file))
  if cls:
    return cls
  return "speech" if ("ljspeech" in path or "BeingRural" in path) else "built-in signal"


def write(out: Path, cfg: Config, ps: pairs_lib.PairSet, rows: dict, labels: dict,
          results: dict, wyse_stft: Stft, verdicts: list, metrics: dict) -> dict[str, dict]:
  """Audio + thumbnails (seed 0), figure1.png (pair 0), loss curves, the listening page.

  Returns:
    each written clip's listener check, by its path relative to ``out``.
  """
  out.mkdir(parents=True, exist_ok=True)
  sr = ps.sr
  cells, columns, checks = {}, ["content", "style"] + [labels[k] for k in results], {}
  for i, p in enumerate(ps.pairs):
    stem = f"pair{i:02d}"
    for which, y in (("content", p.content), ("style", p.style)):
      clip = f"audio/{stem}_{which}.wav"
      _, checks[clip] = outputs.save_clip(out / clip, y, sr)
      outputs.thumbnail(out / "img" / f"{stem}_{which}.png",
                        np.asarray(wyse_stft.magnitude(y)), wyse_stft, which)
      cells[(p.name, which)] = listening.Cell(
          clip, f"img/{stem}_{which}.png", {"class": _class_label(p, which)})
    for key, res in results.items():
      sel = [j for j, (q, k) in enumerate(res["items"]) if q == i and k == 0]
      if not sel:
        continue
      j, stft, clip = sel[0], res["settings"].stft, f"audio/{stem}_{key}.wav"
      written, checks[clip] = outputs.save_clip(out / clip, res["audio"][j], sr,
                                                magnitude=res["S"][j], stft=stft)
      outputs.result_thumbnail(out / "img" / f"{stem}_{key}.png", res["S"][j], written, stft,
                               key)
      row = rows[key]
      cells[(p.name, labels[key])] = listening.Cell(
          clip, f"img/{stem}_{key}.png",
          {**{m: float(row[m][j]) for m in ("style_distance_db", "modulation_distance_db",
                                            "content_correlation", "p_style_class",
                                            "p_content_class", "sc_db")},
           **listener.page_measures(checks[clip])})
  figure = [(f"content: {ps.pairs[0].name.split(' / ')[0]}",
             np.asarray(wyse_stft.magnitude(ps.pairs[0].content)), wyse_stft),
            (f"style: {ps.pairs[0].style_class or 'style'}",
             np.asarray(wyse_stft.magnitude(ps.pairs[0].style)), wyse_stft)]
  for key, res in results.items():
    figure.append((labels[key], res["S"][0], res["settings"].stft))
  panels.plot_magnitudes(out / "figure1.png", figure, columns=2, panel_size=(6.5, 3.3),
                         colorbar_label="dB re max")
  outputs.loss_curves(out / "loss_curves.png",
                      {k: r["loss_curve"] for k, r in results.items()},
                      title=f"Figure 1 study ({cfg.name}): loss / initial loss")
  listening.write_page(
      out, f"Figure 1 (Wyse 2017), configuration {cfg.name}", rows=ps.names, columns=columns,
      cells=cells, settings={k: json.dumps(v) for k, v in metrics["config"].items()},
      notes=("Seed 0 of each pair and condition. Input pipeline: " + metrics["input_pipeline"]
             + ". Every seed, the intervals and the verdicts: "
             "metrics.md; the optimisation: loss_curves.png; the paper's layout: figure1.png. "
             "A result's image: its target magnitude above the clip as written, re-analysed."),
      figures={"figure1.png": "The paper's layout, first pair (target magnitudes)."})
  return checks
