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
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from jax.typing import ArrayLike

from specst_jax import audio, files, listening, phase
from specst_jax.representations import Stft
from specst_jax.studies import judge as judge_lib
from specst_jax.studies import outputs, panels, stats
from specst_jax.studies import pairs as pairs_lib
from specst_jax.style import nets, transfer

EXTRAS = ("ulyanov", "vgg19")
SR = 16000  # the run's rate without trained weights (the shipped weights' rate)
PAPER_CONTENT = Path("wyse_audioST") / "BeingRural5.0.tif"
PAPER_STYLE = Path("rooster") / "rooster_wyse2017.wav"
MEASURES = judge_lib.MEASURES + ("sc_db",)


@dataclasses.dataclass(frozen=True)
class Config:
  """The study's design (``experiments/configs/figure1.py`` names the presets).

  Attributes:
    name: the preset's name (``"ours"``, ``"paper"``, ...), for the outputs.
    n_pairs: content/style pairs from :mod:`pairs` (the paper's pair comes on top).
    paper_pair: put the paper's own speech/rooster pair first.
    seeds: seeds per pair (initial noise; random weights are re-drawn per seed).
    duration: clip length (s).
    noise_levels: the r values.
    n_iter, learning_rate: Adam steps and step size of the Wyse conditions.
    phase_method, phase_iter: phase reconstruction of every condition.
    weights: trained Wyse weights (None: the shipped ones).
    classifier: the second judge (a shipped classifier; "" for none).
    extras: extra rows, some of :data:`EXTRAS` (seed 0, the first ``extra_pairs`` pairs).
    ulyanov_iter, ulyanov_filters, vgg_iter, vgg_weights: the extra rows' settings.
    shard: shard each call's batch over all local devices (when it divides).
    data_dir: shared data root (missing: built-in signals; the paper pair needs it).
  """

  name: str = "ours"
  n_pairs: int = 12
  paper_pair: bool = True
  seeds: int = 3
  duration: float = 5.0
  noise_levels: tuple[float, ...] = (0.0, 0.2, 0.7)
  n_iter: int = 600
  learning_rate: float = 0.01
  phase_method: str = "rtpghi+fgla"
  phase_iter: int = 100
  weights: str | None = None
  classifier: str = judge_lib.DEFAULT_CLASSIFIER
  extras: tuple[str, ...] = ()
  extra_pairs: int = 1
  ulyanov_iter: int = 100
  ulyanov_filters: int = 4096
  vgg_iter: int = 20
  vgg_weights: str | None = None
  shard: bool = False
  data_dir: str = "../shared/data"

  def __post_init__(self):
    for k in ("n_pairs", "seeds", "n_iter", "extra_pairs", "ulyanov_iter", "ulyanov_filters",
              "vgg_iter"):
      if getattr(self, k) < 1:
        raise ValueError(f"figure1 config: {k} must be >= 1, got {getattr(self, k)}")
    if not self.noise_levels or any(not 0.0 <= r <= 1.0 for r in self.noise_levels):
      raise ValueError(f"figure1 config: noise_levels must be in [0, 1], got "
                       f"{self.noise_levels}")
    if len(set(self.noise_levels)) != len(self.noise_levels):
      raise ValueError(f"figure1 config: noise_levels repeat: {self.noise_levels}")
    bad = [e for e in self.extras if e not in EXTRAS]
    if bad:
      raise ValueError(f"figure1 config: extras must be some of {EXTRAS}, got {self.extras}")
    if not self.duration > 0:
      raise ValueError(f"figure1 config: duration must be positive, got {self.duration}")
    if self.phase_method not in phase.METHODS:
      raise ValueError(f"figure1 config: phase_method must be one of {phase.METHODS}, got "
                       f"{self.phase_method!r}")
    if self.phase_iter < 0:
      raise ValueError(f"figure1 config: phase_iter must be >= 0, got {self.phase_iter}")


@dataclasses.dataclass(frozen=True)
class Condition:
  """One row. ``net``: a key of NETS; ``trained``: Wyse trained weights; ``noise``: r."""

  key: str
  label: str
  net: str
  trained: bool = False
  noise: float = 0.0


def conditions(cfg: Config) -> list[Condition]:
  """Trained/random x r, then the extras; keys like ``trained_r0.2``."""
  out = []
  for r in cfg.noise_levels:
    for trained in (True, False):
      w = "trained" if trained else "random"
      out.append(Condition(f"{w}_r{r:g}", f"Wyse, {w} weights, r = {r:g}", "wyse", trained, r))
  if "ulyanov" in cfg.extras:
    out.append(Condition("ulyanov", "Ulyanov 1-D net (random weights)", "ulyanov"))
  if "vgg19" in cfg.extras:
    out.append(Condition("vgg19", "VGG-19", "vgg19"))
  return out


# ------------------------------------------------------------------------------------ inputs


def fit_length(x: ArrayLike, n: int) -> jax.Array:
  """Crops or zero-pads ``x [..., samples]`` at the end to ``n`` samples (``n`` static, >= 1)."""
  if int(n) < 1:
    raise ValueError(f"n must be a positive number of samples, got {n}")
  x = jnp.asarray(x)
  if x.ndim < 1:
    raise ValueError(f"x must have a samples axis, got shape {x.shape}")
  x = x[..., :n]
  pad = n - x.shape[-1]
  if pad:
    x = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, pad)])
  return x


def _paper_pair(data: Path, sr: int, n: int, cfg: Config) -> pairs_lib.Pair:
  """The author's speech spectrogram back to audio (its own STFT) and the paper's rooster."""
  from specst_jax import spectrogram_files
  img = spectrogram_files.load_wyse_tiff(data / PAPER_CONTENT)
  y = phase.reconstruct(img.magnitude(), n_fft=img.n_fft, hop_length=img.hop_length,
                        method=cfg.phase_method, n_iter=max(cfg.phase_iter, 1),
                        key=jax.random.key(1234), center=img.center)
  content = audio.resample(np.asarray(y), img.sr, sr)
  style = audio.load_audio(data / PAPER_STYLE, sr=sr)[0]
  return pairs_lib.Pair("paper: BeingRural5.0.tif / rooster_wyse2017", pairs_lib.fit(content, n),
                        pairs_lib.fit(style, n), "", "rooster", str(data / PAPER_CONTENT),
                        str(data / PAPER_STYLE))


def load_pairs(cfg: Config, sr: int) -> pairs_lib.PairSet:
  """The study's pairs at ``sr``: the paper's first (when asked and present), then
  :func:`pairs.load_pairs`."""
  ps = pairs_lib.load_pairs(cfg.data_dir, n_pairs=cfg.n_pairs, sr=sr, duration=cfg.duration)
  if not cfg.paper_pair:
    return ps
  data = Path(cfg.data_dir)
  if not data.is_dir():
    logging.warning("%s missing: no paper pair (built-in signals only)", data)
    return ps
  first = _paper_pair(data, sr, int(round(cfg.duration * sr)), cfg)
  return pairs_lib.PairSet((first, *ps.pairs), sr, ps.source + " + the paper's pair")


# ------------------------------------------------------------------------------- conditions


def condition_settings(cond: Condition, cfg: Config, wyse_stft: Stft) -> transfer.Settings:
  """The engine settings of a condition (every net at the run's rate, its own STFT).

  The Wyse conditions at one r are equal whatever the weights (the weights come as a net).
  """
  stft = (wyse_stft if cond.net == "wyse" else
          dataclasses.replace(nets.NETS[cond.net].stft, sr=wyse_stft.sr))
  over = dict(sr=stft.sr, n_fft=stft.n_fft, hop_length=stft.hop_length, center=stft.center,
              phase_method=cfg.phase_method, phase_iter=cfg.phase_iter)
  if cond.net == "wyse":
    over.update(optimizer="adam", n_iter=cfg.n_iter, learning_rate=cfg.learning_rate,
                init="mix", noise=cond.noise, weights="random")
  elif cond.net == "ulyanov":
    over.update(n_iter=cfg.ulyanov_iter, filters=cfg.ulyanov_filters)
  else:
    over.update(n_iter=cfg.vgg_iter, weights=cfg.vgg_weights or "random")
  return transfer.Settings.for_net(cond.net, over)


def wyse_nets(cond: Condition, settings: transfer.Settings, trained: nets.Weights | None,
              n_bins: int, seeds: list[int]) -> list[nets.Net]:
  """The condition's Wyse net(s): ``[trained]`` or one random draw per seed.

  Every draw uses the trained module's architecture and the trained weights' input
  standardisation (when there are trained weights); random weights U(-0.1, 0.1) from
  ``split(key(seed), 3)[0]`` (the engine's net key). A trained condition without trained
  weights gets a random stand-in, labelled so.
  """
  kw = dict(content_weight=settings.content_weight, style_weight=settings.style_weight)
  if cond.trained and trained is not None:
    acc = (trained.provenance or {}).get("test_accuracy", float("nan"))
    w = dataclasses.replace(trained, label=f"{trained.label}, fold-5 acc {acc:.3f}")
    return [nets.build("wyse", jax.random.key(0), n_bins, w, **kw)]
  module = None if trained is None else trained.module
  mean, std = (None, None) if trained is None else (trained.mean, trained.std)
  out = []
  for seed in seeds:
    key = jax.random.split(jax.random.key(seed), 3)[0]
    net = nets.wyse_net(key, n_bins, module=module, mean=mean, std=std, **kw)
    label = "random U(-0.1, 0.1)" + (", trained input standardisation" if mean is not None
                                     else ", raw input (no trained weights)")
    if cond.trained:
      label = "RANDOM STAND-IN (no trained weights found)"
    out.append(dataclasses.replace(net, weights=label))
  return out


def _devices(cfg: Config, batch: int):
  devs = jax.local_devices()
  return devs if cfg.shard and len(devs) > 1 and batch % len(devs) == 0 else None


def run_condition(cond: Condition, cfg: Config, trained: nets.Weights | None,
                  vgg: nets.Weights | None, ps: pairs_lib.PairSet, wyse_stft: Stft, *,
                  progress="log") -> dict:
  """Every (pair, seed) item of one condition through :func:`transfer.stylize_batch`."""
  settings = condition_settings(cond, cfg, wyse_stft)
  n_pairs = min(len(ps.pairs), cfg.extra_pairs) if cond.net != "wyse" else len(ps.pairs)
  deterministic = cond.trained and cond.noise == 0.0 and trained is not None
  seeds = [0] if cond.net != "wyse" or deterministic else list(range(cfg.seeds))
  contents, styles = ps.contents[:n_pairs], ps.styles[:n_pairs]
  n_bins = settings.stft.n_bins
  if cond.net == "wyse":
    draws = wyse_nets(cond, settings, trained, n_bins, seeds)
  else:
    w = vgg if cond.net == "vgg19" else None
    draws = [nets.build(cond.net, jax.random.split(jax.random.key(0), 3)[0], n_bins, w,
                        content_weight=settings.content_weight,
                        style_weight=settings.style_weight, filters=settings.filters,
                        vgg_layers=settings.vgg_layers)]
  # Random draws: one call per seed (its own weights). Fixed weights: one call for all.
  calls = [(draws[j], [seed]) for j, seed in enumerate(seeds)] if len(draws) > 1 else [
      (draws[0], seeds)]
  results, items = [], []
  for net, call_seeds in calls:
    it = [(p, k) for k in call_seeds for p in range(n_pairs)]  # seed-major
    keys = jnp.stack([jax.random.fold_in(jax.random.key(k), 100 + p) for p, k in it])
    idx = [p for p, _ in it]
    r = transfer.stylize_batch(settings, contents[idx], styles[idx], net=net, keys=keys,
                               phase_key=jax.random.key(5), devices=_devices(cfg, len(it)),
                               progress=progress)
    results.append(r)
    items += it
  cat = lambda f: np.concatenate([f(r) for r in results])  # noqa: E731
  timings = {k: float(sum(r.timings[k] for r in results)) for k in results[0].timings}
  logging.info("%s: %d item(s) in %d call(s); %s", cond.key, len(items), len(calls), timings)
  labels = sorted({net.weights for net in draws})
  return dict(items=items, pair_index=np.asarray([p for p, _ in items]),
              S=cat(lambda r: r.magnitude), audio=cat(lambda r: r.audio),
              sc=cat(lambda r: r.sc_db), loss_curve=cat(lambda r: r.loss_curve),
              final_loss=cat(lambda r: r.final_losses["total"]), settings=settings,
              weights=labels[0] if len(labels) == 1 else f"{labels[0]} (one draw per seed)",
              timings=timings)


# --------------------------------------------------------------------------------- scoring


def mean_std(values: ArrayLike) -> tuple[float, float, int]:
  """``(mean, std, count)`` of the finite entries of ``values`` (NaNs if there are none).

  Host-side summary (numpy); ``std`` is the population standard deviation (ddof 0).
  """
  v = np.asarray(values, np.float64).ravel()
  v = v[np.isfinite(v)]
  if v.size == 0:
    return float("nan"), float("nan"), 0
  return float(v.mean()), float(v.std()), int(v.size)


def reference_sc(x: np.ndarray, stft: Stft, cfg: Config) -> np.ndarray:
  """SC (dB) of phase reconstruction from the clips' own magnitudes ``x [batch, samples]``."""
  S = transfer.magnitudes(stft, x, "reference")
  y = phase.reconstruct(S, n_fft=stft.n_fft, hop_length=stft.hop_length,
                        method=cfg.phase_method, n_iter=cfg.phase_iter, key=jax.random.key(6),
                        length=x.shape[-1], center=stft.center)
  return np.asarray(phase.spectral_convergence(S, y, n_fft=stft.n_fft,
                                               hop_length=stft.hop_length, center=stft.center))


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
  # Style suffers more than content, from noise and from random weights: drops on [0, 1] scales
  # (style progress, content correlation), style drop minus content drop > 0.
  def suffer(a, b):
    d = []
    for p in pair_names:
      va = {m: _pair_mean(rows[a], p, m) for m in ("style_progress", "content_correlation")}
      vb = {m: _pair_mean(rows[b], p, m) for m in ("style_progress", "content_correlation")}
      d.append((va["style_progress"] - vb["style_progress"])
               - (va["content_correlation"] - vb["content_correlation"]))
    d = np.asarray(d)
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


# ------------------------------------------------------------------------------------- run


def _weights(cfg: Config):
  def stand_in(line):
    logging.warning("%s; the trained conditions use a RANDOM stand-in", line)
  trained = nets.load_weights("wyse", cfg.weights, warn=stand_in)
  vgg = (nets.load_weights("vgg19", cfg.vgg_weights, warn=lambda line: None)
         if "vgg19" in cfg.extras else None)
  return trained, vgg


def run(cfg: Config, out: str | Path, *, progress="log") -> dict:
  """The whole study; writes every output into the folder ``out`` (the caller's output set)."""
  t_start = time.perf_counter()
  out = Path(out)
  trained, vgg = _weights(cfg)
  wyse_stft = (trained.stft if trained is not None else
               dataclasses.replace(nets.NETS["wyse"].stft, sr=SR))
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
                          loss_curve_mean=[float(x) for x in r["loss_curve"].mean(axis=0)])
                  for k, r in results.items()},
      claims=[dict(claim=c, measure=m, **v.as_dict()) for c, m, v in verdicts],
      device=str(jax.devices()[0]))
  write(out, cfg, ps, rows, labels, results, wyse_stft, verdicts, metrics)
  metrics["wall_time_s"] = time.perf_counter() - t_start
  metrics["markdown"] = markdown(cfg, ps, rows, labels, verdicts, metrics)
  files.write_json(out / "metrics.json", {k: v for k, v in metrics.items() if k != "markdown"},
                   indent=1)
  files.write_text(out / "metrics.md", metrics["markdown"])
  return metrics


def markdown(cfg, ps, rows, labels, verdicts, metrics) -> str:
  head = (f"Figure 1 study, configuration `{cfg.name}`: {len(ps.pairs)} pairs x {cfg.seeds} "
          f"seed(s) ({ps.source}), {cfg.duration:g} s at {metrics['sr']} Hz; Wyse: Adam "
          f"{cfg.n_iter} steps, lr {cfg.learning_rate:g}, r in {list(cfg.noise_levels)}; phase "
          f"{cfg.phase_method} ({cfg.phase_iter} it); input: {metrics['input_pipeline']}; "
          f"second judge: {metrics['judge']}; wall time {metrics.get('wall_time_s', 0):.0f} s."
          "\n\nMean over pairs (seeds averaged first) [95 % bootstrap interval]:\n\n")
  return (head + markdown_table(rows, labels) + "\nClaims (A - B per pair, seeds averaged; "
          "verdict from the interval):\n\n" + stats.markdown_table(verdicts))


def _class_label(p: pairs_lib.Pair, which: str) -> str:
  cls, path = ((p.content_class, p.content_file) if which == "content" else
               (p.style_class, p.style_file))
  if cls:
    return cls
  return "speech" if ("ljspeech" in path or "BeingRural" in path) else "built-in signal"


def write(out: Path, cfg: Config, ps: pairs_lib.PairSet, rows: dict, labels: dict,
          results: dict, wyse_stft: Stft, verdicts: list, metrics: dict) -> None:
  """Audio + thumbnails (seed 0), figure1.png (pair 0), loss curves, the listening page."""
  out.mkdir(parents=True, exist_ok=True)
  sr = ps.sr
  cells, columns = {}, ["content", "style"] + [labels[k] for k in results]
  for i, p in enumerate(ps.pairs):
    stem = f"pair{i:02d}"
    for which, y in (("content", p.content), ("style", p.style)):
      outputs.save_clip(out / "audio" / f"{stem}_{which}.wav", y, sr)
      outputs.thumbnail(out / "img" / f"{stem}_{which}.png",
                        np.asarray(wyse_stft.magnitude(y)), wyse_stft, which)
      cells[(p.name, which)] = listening.Cell(
          f"audio/{stem}_{which}.wav", f"img/{stem}_{which}.png",
          {"class": _class_label(p, which)})
    for key, res in results.items():
      sel = [j for j, (q, k) in enumerate(res["items"]) if q == i and k == 0]
      if not sel:
        continue
      j = sel[0]
      outputs.save_clip(out / "audio" / f"{stem}_{key}.wav", res["audio"][j], sr)
      outputs.thumbnail(out / "img" / f"{stem}_{key}.png", res["S"][j], res["settings"].stft,
                        key)
      row = rows[key]
      cells[(p.name, labels[key])] = listening.Cell(
          f"audio/{stem}_{key}.wav", f"img/{stem}_{key}.png",
          {m: float(row[m][j]) for m in ("style_distance_db", "modulation_distance_db",
                                         "content_correlation", "p_style_class",
                                         "p_content_class", "sc_db")})
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
             "metrics.md; the optimisation: loss_curves.png; the paper's layout: figure1.png."))
