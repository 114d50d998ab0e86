"""The channel-count claim (Wyse 2017, end of section 2), tested.

"To compensate for the reduction of parameters in the network when arranging frequency bins as
channels, it is necessary to dramatically increase the number of channels in the network
layer(s) in order for longer timescale style features to appear in the synthesis."

Design: two random-weight networks whose first layer has C channels, C in 256 ... 4096:

* ``"wyse"``: the paper's classifier shape (conv C -> conv 64, width 5, max-pool 2/2), every
  weight U(-0.1, 0.1) as the paper's random condition; input: the dB image in [0, 1] with the
  shipped trained weights' per-bin standardisation (the same input pipeline as Figure 1's
  conditions; raw [0, 1] when no trained weights are installed), at their STFT;
* ``"ulyanov"``: Ulyanov's random 1-D net (C filters, width 11) on log(1 + |S|).

Every (pair, seed) at every C runs through :func:`transfer.stylize_batch` (one call per net, C
and seed: the seed draws the weights; the pairs are the batch). Judged by the network-free
style distance and the *modulation distance* (band-envelope modulation spectrum, 0.5-16 Hz:
the long-timescale style), plus the second classifier (:mod:`specst_jax.studies.judge`).
The claim predicts the distances fall as C grows: per pair (seeds averaged), the slope of the
distance against log2 C is negative, and distance(C_min) - distance(C_max) > 0; both get
bootstrap intervals and verdicts (:mod:`specst_jax.studies.stats`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import jax
import numpy as np

from specst_jax import files, listener, listening, provenance
from specst_jax.models.wyse import WyseClassifier
from specst_jax.studies import judge as judge_lib
from specst_jax.studies import outputs, pairs, stats
from specst_jax.style import nets, transfer

NETS = ("wyse", "ulyanov")
DISTANCES = ("style_distance_db", "modulation_distance_db")


@dataclasses.dataclass(frozen=True)
class Config:
  """The study's design (the full one by default; :data:`QUICK` for tests).

  Attributes:
    channels: first-layer channel counts C.
    nets: which of :data:`NETS`.
    n_pairs, seeds: content/style pairs and seeds per pair (each seed: new weights + noise).
    duration: clip length (s) at ``sr``.
    wyse_iter, wyse_lr: Adam steps and step size of the Wyse-shape net.
    init, noise: the Wyse net's start, ``r U(-1, 1) + (1 - r) content`` (the paper's r 0.2).
    ulyanov_iter: L-BFGS iterations of the Ulyanov net (from small noise, its own default).
    phase_method, phase_iter: phase reconstruction.
    data_dir: shared data root (missing: built-in signals).
    classifier: the second judge (a shipped classifier name, or "" for none).
  """

  channels: tuple[int, ...] = (256, 512, 1024, 2048, 4096)
  nets: tuple[str, ...] = NETS
  n_pairs: int = 12
  seeds: int = 3
  duration: float = 5.0
  sr: int = 16000
  wyse_iter: int = 600
  wyse_lr: float = 0.01
  init: str = "mix"
  noise: float = 0.2
  ulyanov_iter: int = 300
  phase_method: str = "fgla"
  phase_iter: int = 100
  data_dir: str = "../shared/data"
  classifier: str = judge_lib.DEFAULT_CLASSIFIER

  def __post_init__(self):
    if not self.channels or min(self.channels) < 1 or len(set(self.channels)) != len(
        self.channels):
      raise ValueError(f"channels must be distinct positive counts, got {self.channels}")
    bad = [n for n in self.nets if n not in NETS]
    if bad or not self.nets:
      raise ValueError(f"nets must be some of {NETS}, got {self.nets}")
    for k in ("n_pairs", "seeds", "wyse_iter", "ulyanov_iter"):
      if getattr(self, k) < 1:
        raise ValueError(f"{k} must be >= 1, got {getattr(self, k)}")


QUICK = dict(channels=(8, 16), n_pairs=2, seeds=1, duration=1.0, wyse_iter=3, ulyanov_iter=2,
             phase_iter=2)


def settings_for(cfg: Config, net: str, channels: int, seed: int,
                 weights: nets.Weights | None) -> transfer.Settings:
  """The engine settings of one (net, C, seed) cell."""
  common = dict(sr=cfg.sr, seed=seed, phase_method=cfg.phase_method, phase_iter=cfg.phase_iter)
  if net == "ulyanov":
    return transfer.Settings.for_net("ulyanov", dict(common, filters=channels,
                                                     n_iter=cfg.ulyanov_iter))
  s = transfer.Settings.for_net("wyse", dict(common, n_iter=cfg.wyse_iter,
                                             learning_rate=cfg.wyse_lr, init=cfg.init,
                                             noise=cfg.noise, weights="random"))
  return s.adopt(weights)


def wyse_shape_net(settings: transfer.Settings, channels: int,
                   trained: nets.Weights | None) -> nets.Net:
  """The paper's classifier shape with C first-layer channels, random U(-0.1, 0.1) weights
  drawn from the settings' seed, and the trained weights' input standardisation."""
  key = jax.random.split(jax.random.key(settings.seed), 3)[0]  # the engine's net key
  module = WyseClassifier(conv_features=(channels, 64))
  mean, std = (None, None) if trained is None else (trained.mean, trained.std)
  return nets.wyse_net(key, settings.stft.n_bins, module=module, mean=mean, std=std,
                       content_weight=settings.content_weight,
                       style_weight=settings.style_weight)


def run(cfg: Config, out: Path, *, progress="log", log=print) -> dict:
  """Runs the study, writes every output into ``out``; returns the results dict."""
  t0 = time.perf_counter()
  out = Path(out)
  trained = nets.load_weights("wyse", None)
  ps = pairs.load_pairs(cfg.data_dir, n_pairs=cfg.n_pairs, sr=cfg.sr, duration=cfg.duration)
  judge = judge_lib.Judge(cfg.sr, cfg.classifier or None)
  c_cls = [p.content_class for p in ps.pairs]
  s_cls = [p.style_class for p in ps.pairs]
  cells, rows, curves, timings = {}, [], {}, {}
  for net in cfg.nets:
    for C in cfg.channels:
      label = f"{net} C={C}"
      cc = []
      for seed in range(cfg.seeds):
        s = settings_for(cfg, net, C, seed, trained)
        built = wyse_shape_net(s, C, trained) if net == "wyse" else None
        keys = jax.random.split(jax.random.fold_in(jax.random.key(seed), 7), len(ps.pairs))
        r = transfer.stylize_batch(s, ps.contents, ps.styles, net=built, keys=keys,
                                   progress=progress)
        sc = judge.score(r.audio, ps.contents, ps.styles, c_cls, s_cls)
        for i, p in enumerate(ps.pairs):
          rows.append(dict(net=net, channels=C, seed=seed, pair=p.name, sc_db=float(r.sc_db[i]),
                           final_loss=float(r.final_losses["total"][i]),
                           **{k: float(v[i]) for k, v in sc.items()}))
        cc.append(r.loss_curve)
        timings[f"{label} seed {seed}"] = dict(r.timings)
        if seed == 0:
          cells[label] = (s, r)
        log(f"{label} seed {seed}: {r.timings['optimize_s']:.1f} s; style distance "
            f"{np.mean(sc['style_distance_db']):.2f} dB, modulation "
            f"{np.nanmean(sc['modulation_distance_db']):.2f} dB")
      curves[label] = np.concatenate(cc)
  analysis = analyse(rows, cfg)
  results = dict(config=dataclasses.asdict(cfg), pairs=ps.describe(), source=ps.source,
                 weights_input=("trained weights' per-bin standardisation"
                                if trained is not None else "raw [0, 1] (no trained weights)"),
                 judge=judge.classifier, rows=rows, analysis=analysis, timings=timings,
                 wall_time_s=time.perf_counter() - t0, device=str(jax.devices()[0]),
                 provenance=provenance.record(data=ps.files()))
  results["listener"] = write(out, cfg, ps, cells, curves, results)
  results["wall_time_s"] = time.perf_counter() - t0
  files.write_json(out / "results.json", results, indent=1)
  return results


def _matrix(rows: list[dict], cfg: Config, net: str, measure: str) -> tuple[list, np.ndarray]:
  """Seeds averaged: pair names and ``[n_pairs, len(channels)]`` of ``measure``."""
  names = list(dict.fromkeys(r["pair"] for r in rows))
  m = np.full((len(names), len(cfg.channels)), np.nan)
  for i, p in enumerate(names):
    for j, C in enumerate(cfg.channels):
      v = [r[measure] for r in rows if r["net"] == net and r["channels"] == C and r["pair"] == p]
      v = np.asarray(v, np.float64)
      if np.isfinite(v).any():
        m[i, j] = np.nanmean(v)
  return names, m


def analyse(rows: list[dict], cfg: Config) -> dict:
  """Per net and measure: mean and interval at each C, the slope and the C_min - C_max test."""
  out = {}
  x = np.log2(np.asarray(cfg.channels, np.float64))
  for net in cfg.nets:
    for measure in DISTANCES + ("content_correlation", "p_style_class"):
      _, m = _matrix(rows, cfg, net, measure)
      ok = np.all(np.isfinite(m), axis=1)
      per_c = []
      for j in range(len(cfg.channels)):
        v = m[ok, j]
        lo, hi = stats.bootstrap_interval(v) if len(v) >= 2 else (np.nan, np.nan)
        per_c.append(dict(channels=cfg.channels[j], mean=float(np.mean(v)) if len(v) else np.nan,
                          low=lo, high=hi, n=int(len(v))))
      entry = dict(per_channels=per_c)
      if len(cfg.channels) >= 2 and measure in DISTANCES:
        sign = -1  # the claim: distances fall as channels grow
        entry["slope_per_doubling"] = stats.summarize(stats.slopes(x, m[ok]),
                                                      predicted_sign=sign).as_dict()
        entry["min_minus_max"] = stats.summarize(m[ok, 0] - m[ok, -1],
                                                 predicted_sign=1).as_dict()
      out[f"{net}/{measure}"] = entry
  return out


def markdown(results: dict) -> str:
  cfg = results["config"]
  lines = [f"Channel-count study: {len(results['pairs'])} pairs x {cfg['seeds']} seed(s), "
           f"{cfg['duration']:g} s at {cfg['sr']} Hz; Wyse shape: Adam {cfg['wyse_iter']} steps "
           f"lr {cfg['wyse_lr']:g}, init {cfg['init']} r={cfg['noise']:g}; Ulyanov: L-BFGS "
           f"{cfg['ulyanov_iter']}; phase {cfg['phase_method']} {cfg['phase_iter']}; wall "
           f"{results['wall_time_s']:.0f} s.\n", "Mean over pairs (seeds averaged) [95 % "
           "bootstrap interval]:\n",
           "| net / measure | " + " | ".join(f"C={c}" for c in cfg["channels"]) + " |",
           "|---|" + "---|" * len(cfg["channels"])]
  verdicts = []
  for key, e in results["analysis"].items():
    lines.append(f"| {key} | " + " | ".join(
        f"{c['mean']:.3g} [{c['low']:.3g}, {c['high']:.3g}]" for c in e["per_channels"]) + " |")
    for name, what in (("slope_per_doubling", "slope per doubling of C (predicted < 0)"),
                       ("min_minus_max", f"C={cfg['channels'][0]} minus C={cfg['channels'][-1]}"
                        " (predicted > 0)")):
      if name in e:
        verdicts.append((f"more channels -> closer to the style ({key.split('/')[0]})",
                         f"{key.split('/')[1]}: {what}", stats.Comparison(
                             **dict(e[name], differences=tuple(e[name]["differences"])))))
  return "\n".join(lines) + "\n\n" + stats.markdown_table(verdicts)


def write(out: Path, cfg: Config, ps: pairs.PairSet, cells: dict, curves: dict,
          results: dict) -> dict[str, dict]:
  """Audio (seed 0), thumbnails, the listening page, curves, the distance plot, tables.

  Returns:
    each written clip's listener check, by its path relative to ``out``.
  """
  out.mkdir(parents=True, exist_ok=True)
  page_cells, columns, checks = {}, ["content", "style"] + list(cells), {}
  for i, p in enumerate(ps.pairs):
    stem = f"pair{i:02d}"
    any_s = next(iter(cells.values()))[0]
    for which, y in (("content", p.content), ("style", p.style)):
      clip = f"audio/{stem}_{which}.wav"
      _, checks[clip] = outputs.save_clip(out / clip, y, ps.sr)
      outputs.thumbnail(out / "img" / f"{stem}_{which}.png",
                        np.asarray(any_s.stft.magnitude(y)), any_s.stft, which)
      page_cells[(p.name, which)] = listening.Cell(clip, f"img/{stem}_{which}.png")
    for label, (s, r) in cells.items():
      tag = label.replace(" ", "_").replace("=", "")
      clip = f"audio/{stem}_{tag}.wav"
      written, checks[clip] = outputs.save_clip(out / clip, r.audio[i], ps.sr,
                                                magnitude=r.magnitude[i], stft=s.stft)
      outputs.result_thumbnail(out / "img" / f"{stem}_{tag}.png", r.magnitude[i], written,
                               s.stft, label)
      row = next(x for x in results["rows"] if x["pair"] == p.name and x["seed"] == 0
                 and f"{x['net']} C={x['channels']}" == label)
      page_cells[(p.name, label)] = listening.Cell(
          clip, f"img/{stem}_{tag}.png",
          {"style dist dB": row["style_distance_db"],
           "modulation dist dB": row["modulation_distance_db"],
           "content corr": row["content_correlation"], "P(style)": row["p_style_class"],
           **listener.page_measures(checks[clip])})
  outputs.loss_curves(out / "loss_curves.png", curves, title="channel study: loss curves")
  x = list(cfg.channels)
  for measure in DISTANCES:
    series = {}
    for net in cfg.nets:
      pc = results["analysis"][f"{net}/{measure}"]["per_channels"]
      series[net] = np.asarray([[c["mean"] for c in pc], [c["low"] for c in pc],
                                [c["high"] for c in pc]])
    outputs.interval_plot(out / f"{measure}.png", x, series, xlabel="first-layer channels C",
                          ylabel=measure.replace("_", " "), title="distance to the style")
  md = markdown(results)
  files.write_text(out / "channels.md", md)
  listening.write_page(out, "Channel-count study (Wyse 2017, section 2)", rows=ps.names,
                       columns=columns, cells=page_cells,
                       settings={k: json.dumps(v) for k, v in results["config"].items()},
                       notes="Seed 0 of each pair; the tables over all seeds are in channels.md "
                             "(see also loss_curves.png, style_distance_db.png, "
                             "modulation_distance_db.png). A result's image: its target "
                             "magnitude above the clip as written, re-analysed.")
  return checks
