"""The paper's Figure 1 (Wyse 2017) as a study that can decide: conditions, runner, scoring.

Conditions of the paper's classifier net: weights in {trained, random} x initial noise r in
``noise_levels`` (the paper's Figure 1: r = 0 and a noisy start; its text: 0.2, 0.7), start
``r U(-1, 1) + (1 - r) content`` on the dB image in [0, 1]. **Same input pipeline in every
condition**: the trained weights' per-bin standardisation ``(x - mean) / std`` is applied in
the random conditions too (the paper's random condition re-draws the weights of the *same*
network, its input handling included); random weights are U(-0.1, 0.1) in the trained
module's architecture, drawn from ``key(seed)``. Trained and random conditions at one r share
the settings (STFT, loss, optimiser, init, keys), the module and the standardisation; only
the weights differ (tested). Optional extra rows: Ulyanov's random 1-D net and VGG-19.

Pairs (:mod:`specst_jax.studies.pairs`): speech (LJSpeech) and ESC-50 sounds as content,
styles from six ESC-50 classes, all ESC-50 clips from fold 5; optionally the paper's own pair
first (the author's ``BeingRural5.0.tif`` speech back to audio, ``rooster_wyse2017.wav``).

Every condition runs through the engine's batched path, :func:`transfer.stylize_batch` (pairs
x seeds as the batch axis; random weights: one call per seed; ``devices`` shards the batch).
Judges (:mod:`specst_jax.studies.judge`): network-free style / modulation distance, content /
envelope correlation, and a second classifier on log-mel (P(style class), P(content class));
SC after phase. Claims are tested on paired differences over pairs (seeds averaged) with
bootstrap intervals (:mod:`specst_jax.studies.stats`). :func:`run` writes into a folder.

Modules: :mod:`~specst_jax.studies.figure1_design` (configuration, conditions, pairs, engine
settings), :mod:`~specst_jax.studies.figure1_runner` (weights, nets, the engine runs),
:mod:`~specst_jax.studies.figure1_report` (scoring, claims, tables, outputs); their public names
are re-exported here.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import numpy as np
from absl import logging

from specst_jax import files, provenance
from specst_jax.studies import convergence
from specst_jax.studies import judge as judge_lib
from specst_jax.studies.figure1_design import (
    EXTRAS,
    MEASURES,
    PAPER_CONTENT,
    PAPER_STYLE,
    SR,
    Condition,
    Config,
    condition_settings,
    conditions,
    config_from_dict,
    fit_length,
    load_pairs,
)
from specst_jax.studies.figure1_report import (
    claims,
    markdown,
    markdown_table,
    mean_std,
    style_progress,
    write,
)
from specst_jax.studies.figure1_runner import (
    _weights,
    reference_sc,
    run_condition,
    run_stft,
    wyse_nets,
)

__all__ = [
    "EXTRAS",
    "MEASURES",
    "PAPER_CONTENT",
    "PAPER_STYLE",
    "SR",
    "Condition",
    "Config",
    "claims",
    "condition_settings",
    "conditions",
    "config_from_dict",
    "fit_length",
    "load_pairs",
    "markdown",
    "markdown_table",
    "mean_std",
    "reference_sc",
    "run",
    "run_condition",
    "style_progress",
    "write",
    "wyse_nets",
]


def run(cfg: Config, out: str | Path, *, progress="log") -> dict:
  """The whole study; writes every output into the folder ``out`` (the caller's output set)."""
  t_start = time.perf_counter()
  out = Path(out)
  trained, vgg = _weights(cfg)
  wyse_stft = run_stft(trained)
  sr = wyse_stft.sr
  ps = load_pairs(cfg, sr)
  names = ps.names
  logging.info("%d pair(s) x %d seed(s) from %s, %.2f s at %d Hz", len(names), cfg.seeds,
               ps.source, cfg.duration, sr)
  judge = judge_lib.Judge(sr, cfg.classifier or None)
  c_cls = [p.content_class for p in ps.pairs]
  s_cls = [p.style_class for p in ps.pairs]
  contents, styles = ps.contents, ps.styles
  ref_dist = judge.score(contents, contents, styles, c_cls, s_cls)["style_distance_db"]
  rows, labels, results = {}, {}, {}
  for which, x in (("content", contents), ("style", styles)):
    sc = judge.score(x, contents, styles, c_cls, s_cls)
    sc["sc_db"] = reference_sc(x, wyse_stft, cfg)
    sc["style_progress"] = style_progress(sc["style_distance_db"], ref_dist)
    rows[which] = dict(pairs=names, weights="-", **{k: np.asarray(v) for k, v in sc.items()})
    labels[which] = f"reference: the {which} itself"
  for cond in conditions(cfg):
    res = run_condition(cond, cfg, trained, vgg, ps, wyse_stft, progress=progress)
    idx = res["pair_index"]
    sc = judge.score(res["audio"], contents[idx], styles[idx], [c_cls[i] for i in idx],
                     [s_cls[i] for i in idx])
    sc["sc_db"] = res["sc"]
    sc["style_progress"] = style_progress(sc["style_distance_db"], ref_dist[idx])
    rows[cond.key] = dict(pairs=[names[i] for i in idx], weights=res["weights"],
                          **{k: np.asarray(v) for k, v in sc.items()})
    labels[cond.key] = cond.label
    results[cond.key] = res
  verdicts = claims(rows, cfg, names) if len(cfg.noise_levels) and all(
      f"{w}_r{r:g}" in rows for w in ("trained", "random") for r in cfg.noise_levels) else []
  metrics = dict(
      config=dataclasses.asdict(cfg), sr=sr, wyse_stft=wyse_stft.as_dict(),
      pairs=ps.describe(), source=ps.source, judge=judge.classifier,
      trained_weights=None if trained is None else trained.label,
      input_pipeline=("unit_db with the trained weights' per-bin standardisation in every Wyse "
                      "condition" if trained is not None else "unit_db, raw (no trained "
                      "weights)"),
      rows={k: dict(label=labels[k], weights=v["weights"], pairs=v["pairs"],
                    **{m: [float(x) for x in v[m]] for m in MEASURES + ("style_progress",)})
            for k, v in rows.items()},
      conditions={k: dict(settings=r["settings"].as_dict(), items=r["items"],
                          final_loss=[float(x) for x in r["final_loss"]], timings=r["timings"],
                          loss_curve_mean=[float(x) for x in r["loss_curve"].mean(axis=0)],
                          converged=[convergence.converged(c[:n], rel=cfg.converge_rel)
                                     for c, n in zip(r["loss_curve"], r["n_iter_done"],
                                                     strict=True)])
                  for k, r in results.items()},
      claims=[dict(claim=c, measure=m, **v.as_dict()) for c, m, v in verdicts],
      device=str(jax.devices()[0]), provenance=provenance.record(data=ps.files()))
  metrics["listener"] = write(out, cfg, ps, rows, labels, results, wyse_stft, verdicts, metrics)
  metrics["wall_time_s"] = time.perf_counter() - t_start
  metrics["markdown"] = markdown(cfg, ps, rows, labels, verdicts, metrics)
  files.write_json(out / "metrics.json", {k: v for k, v in metrics.items() if k != "markdown"},
                   indent=1)
  files.write_text(out / "metrics.md", metrics["markdown"])
  return metrics
