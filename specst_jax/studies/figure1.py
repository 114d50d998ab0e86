"""The paper's Figure 1 (Wyse 2017), reproduced and measured: conditions, runner and scoring.

Content = speech, style = a crowing rooster. Four conditions of the paper's classifier net:
(a) trained weights, init = content; (b) random U(-0.1, 0.1) weights, init = content;
(c) trained, init = r U(-1, 1) + (1 - r) content; (d) random + that noise; plus Ulyanov's random
1-D net (its own settings) and VGG-19 (random weights unless ImageNet weights are given).
(a) and (b) (and (c) and (d)) share everything but the weights: the STFT, representation, loss,
initial value and optimiser; trained weights bring their input standardisation with them.

Pairs: the paper's own (speech = the author's ``BeingRural5.0.tif`` turned back into audio by
phase reconstruction; style = ``rooster/rooster_wyse2017.wav``) and extra pairs (LJSpeech clips x
ESC-50 fold-5 rooster clips, fold 5 being the classifier's test fold); without the data the
built-in signals stand in. Every net runs at one sample rate (the trained weights': 16 kHz),
each with its own STFT (:data:`specst_jax.style.nets.NETS` at that rate). All (pair, seed)
items of a condition go through one compiled, vmapped loop (:class:`transfer.Optimizer`);
random-weight conditions: one call per seed, since each seed draws its own weights.

Scoring (:class:`Judge`): network-free measures (:mod:`specst_jax.measures`: style distance,
content and envelope correlation on log-mel dB), the shipped classifier's P(rooster), and the
spectral convergence after phase reconstruction. :func:`run` writes the outputs as one set.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from jax.typing import ArrayLike

from specst_jax import audio, files, measures, phase, representations, signals
from specst_jax.representations import Stft
from specst_jax.studies import panels
from specst_jax.style import nets, transfer

CONDITION_KEYS = ("a", "b", "c", "d", "ulyanov", "vgg19")
QUICK = dict(pairs=1, seeds=1, duration=1.0, n_iter=4, vgg_iter=1, extra_pairs=1,
             ulyanov_iter=3, ulyanov_filters=64, phase_method="fgla", phase_iter=4)
SR = 16000  # the run's rate without trained weights (the shipped weights' rate)
PAPER_CONTENT = Path("wyse_audioST") / "BeingRural5.0.tif"
PAPER_STYLE = Path("rooster") / "rooster_wyse2017.wav"
LJSPEECH = Path("speech") / "ljspeech"
ESC50 = "esc50_16k"
WAV_NAMES = {"a": "a_trained.wav", "b": "b_random.wav", "c": "c_trained_noise.wav",
             "d": "d_random_noise.wav", "ulyanov": "ulyanov.wav", "vgg19": "vgg19.wav"}
MEASURES = ("style_distance_db", "content_correlation", "envelope_correlation",
            "p_rooster", "sc_db")
SCALED_PEAK = 0.9  # inputs and written WAVs


@dataclasses.dataclass
class Pair:
  """One content/style pair of equal-length mono clips at the run's sample rate."""

  name: str
  content: np.ndarray  # [samples]
  style: np.ndarray


@dataclasses.dataclass(frozen=True)
class Condition:
  """One row: ``net`` a key of NETS; ``init`` content / mix / noise."""

  key: str
  label: str
  net: str
  trained: bool = False
  init: str = "content"


def conditions(noise: float) -> list[Condition]:
  r = noise
  return [Condition("a", "(a) Wyse, trained weights, init = content", "wyse", True),
          Condition("b", "(b) Wyse, random weights, init = content", "wyse", False),
          Condition("c", f"(c) Wyse, trained weights, init = {r:g} noise", "wyse", True, "mix"),
          Condition("d", f"(d) Wyse, random weights, init = {r:g} noise", "wyse", False, "mix"),
          Condition("ulyanov", "Ulyanov 1-D net (random weights)", "ulyanov", False, "noise"),
          Condition("vgg19", "VGG-19", "vgg19", False)]


def check_settings(s: dict) -> dict:
  """Validates the run's settings (the main's flags, ``quick`` already applied)."""
  bad = [c for c in s["conditions"] if c not in CONDITION_KEYS]
  if bad or not s["conditions"]:
    raise ValueError(f"--conditions must name some of {CONDITION_KEYS}, got {s['conditions']}")
  for k in ("seeds", "pairs", "n_iter", "extra_pairs", "ulyanov_iter", "ulyanov_filters"):
    if s[k] < 1:
      raise ValueError(f"--{k} must be >= 1, got {s[k]}")
  if s["vgg_iter"] < 0 or s["phase_iter"] < 0:
    raise ValueError("--vgg_iter and --phase_iter must be >= 0")
  if not 0.0 <= s["noise"] <= 1.0:
    raise ValueError(f"--noise must be in [0, 1], got {s['noise']}")
  if not s["duration"] > 0:
    raise ValueError(f"--duration must be positive, got {s['duration']}")
  if s["phase_method"] not in phase.METHODS:
    raise ValueError(f"--phase_method must be one of {phase.METHODS}, got {s['phase_method']!r}")
  return s


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


def _clip(x: np.ndarray, n: int) -> np.ndarray:
  return transfer.peak_normalize(np.asarray(fit_length(x, n)), peak=SCALED_PEAK)


def _paper_content(data: Path, sr: int, s: dict) -> np.ndarray:
  """The author's speech spectrogram back to audio (its own STFT), resampled to ``sr``."""
  from specst_jax import spectrogram_files
  img = spectrogram_files.load_wyse_tiff(data / PAPER_CONTENT)
  y = phase.reconstruct(img.magnitude(), n_fft=img.n_fft, hop_length=img.hop_length,
                        method=s["phase_method"], n_iter=max(s["phase_iter"], 1),
                        key=jax.random.key(1234), center=img.center)
  return audio.resample(np.asarray(y), img.sr, sr)


def load_pairs(s: dict, sr: int) -> tuple[list[Pair], str]:
  """The content/style pairs at ``sr`` and a description of where they came from."""
  n = int(round(s["duration"] * sr))
  data = Path(s["data_dir"])
  if not data.is_dir():
    logging.warning("%s missing: built-in signals stand in for speech and rooster", data)
    contents = ["vowel_glide", "harmonic_mix", "noise_bursts"]
    pairs = [Pair(f"builtin:{contents[i % 3]}/chirps",
                  _clip(signals.make_signal(contents[i % 3], sr=sr, duration=s["duration"]), n),
                  _clip(signals.make_signal("chirps", sr=sr, duration=s["duration"] * (1 + i / 7)),
                        n)) for i in range(s["pairs"])]
    return pairs, "built-in signals (no data)"
  pairs = [Pair("paper: BeingRural5.0.tif / rooster_wyse2017.wav",
                _clip(_paper_content(data, sr, s), n),
                _clip(audio.load_audio(data / PAPER_STYLE, sr=sr)[0], n))]
  if s["pairs"] > 1:
    from specst_jax.classifier import esc50
    clips = esc50.read_metadata(data / ESC50)
    roosters = [c for c in clips if c.category == "rooster" and c.fold == 5]
    paths = esc50.resolve_paths(data / ESC50, roosters)
    speech = sorted((data / LJSPEECH).glob("LJ*.flac"))
    if len(speech) < s["pairs"] - 1 or len(paths) < s["pairs"] - 1:
      raise ValueError(f"--pairs={s['pairs']}: only {len(speech)} LJSpeech clips and "
                       f"{len(paths)} fold-5 rooster clips under {data}")
    for i in range(s["pairs"] - 1):
      pairs.append(Pair(f"{speech[i].stem} / {paths[i].stem}",
                        _clip(audio.load_audio(speech[i], sr=sr)[0], n),
                        _clip(audio.load_audio(paths[i], sr=sr)[0], n)))
  return pairs, f"shared data at {data}"


# ------------------------------------------------------------------------------- conditions


def condition_settings(cond: Condition, s: dict, wyse_stft: Stft) -> transfer.Settings:
  """The transfer settings of a condition (every net at the run's rate, its own STFT)."""
  stft = (wyse_stft if cond.net == "wyse" else
          dataclasses.replace(nets.NETS[cond.net].stft, sr=wyse_stft.sr))
  over = dict(sr=stft.sr, n_fft=stft.n_fft, hop_length=stft.hop_length, center=stft.center,
              init=cond.init, phase_method=s["phase_method"], phase_iter=s["phase_iter"])
  if cond.net == "wyse":
    over.update(optimizer="adam", n_iter=s["n_iter"], learning_rate=s["learning_rate"],
                noise=s["noise"])
  elif cond.net == "ulyanov":
    over.update(optimizer="lbfgs", n_iter=s["ulyanov_iter"], filters=s["ulyanov_filters"],
                noise=0.2)
  else:
    over.update(optimizer="lbfgs", n_iter=max(s["vgg_iter"], 1), noise=0.2,
                weights=s["vgg_weights"])
    if s["quick"]:  # shallow layers only: a cheap check of the path, labelled
      over["vgg_layers"] = (("conv1_1",), "conv1_1")
  return transfer.Settings.for_net(cond.net, over)


def condition_nets(cond: Condition, settings: transfer.Settings, trained: nets.Weights | None,
                   vgg: nets.Weights | None, n_bins: int, seeds: list[int], weights_name: str
                   ) -> list[nets.Net]:
  """One Net per weight draw: ``[net]`` (fixed weights) or one per seed (random ones).

  Random Wyse weights use the trained module's architecture when there is one; a trained
  condition without trained weights gets a random stand-in, labelled so.
  """
  if cond.net == "wyse" and cond.trained and trained is not None:
    acc = (trained.provenance or {}).get("test_accuracy", float("nan"))
    label = f"trained ({weights_name or 'shipped'}, fold-5 acc {acc:.3f})"
    return [nets.build("wyse", jax.random.key(0), n_bins, dataclasses.replace(trained, label=label),
                       content_weight=settings.content_weight,
                       style_weight=settings.style_weight)]
  if cond.net == "vgg19" and vgg is not None:
    return [_build(settings, jax.random.key(0), n_bins, vgg)]
  out = []
  for seed in seeds:
    base = jax.random.key(seed)
    if cond.net == "wyse":
      stand_in = cond.trained  # a trained condition without trained weights
      net = nets.wyse_net(jax.random.fold_in(base, 7 + stand_in), n_bins,
                          module=None if trained is None else trained.module,
                          content_weight=settings.content_weight,
                          style_weight=settings.style_weight)
      if stand_in:
        net = dataclasses.replace(net, weights="RANDOM STAND-IN (no trained weights found)")
    else:
      net = _build(settings, jax.random.fold_in(base, 11 if cond.net == "ulyanov" else 13),
                   n_bins, None)
    out.append(net)
  return out


def _build(settings: transfer.Settings, key, n_bins: int, weights) -> nets.Net:
  return nets.build(settings.net, key, n_bins, weights, content_weight=settings.content_weight,
                    style_weight=settings.style_weight, filters=settings.filters,
                    vgg_layers=settings.vgg_layers)


def run_condition(cond: Condition, s: dict, trained: nets.Weights | None,
                  vgg: nets.Weights | None, pairs: list[Pair], wyse_stft: Stft) -> dict:
  """Style transfer of every (pair, seed) item; returns magnitudes, audio, SC and timings."""
  settings = condition_settings(cond, s, wyse_stft)
  extra = cond.net != "wyse"
  n_pairs = min(len(pairs), s["extra_pairs"]) if extra else len(pairs)
  # Trained weights from the content have no randomness: one seed (the others would repeat it).
  deterministic = cond.trained and cond.init == "content" and trained is not None
  seeds = [0] if extra or deterministic else list(range(s["seeds"]))
  S_c = transfer.magnitudes(settings.stft, np.stack([p.content for p in pairs[:n_pairs]]),
                            "contents")
  S_s = transfer.magnitudes(settings.stft, np.stack([p.style for p in pairs[:n_pairs]]),
                            "styles")
  draws = condition_nets(cond, settings, trained, vgg, S_c.shape[-1], seeds, s["weights"])
  rep = draws[0].representation
  x_c = representations.encode(rep, S_c, settings.stft)
  x_s = representations.encode(rep, S_s, settings.stft)
  for i in range(n_pairs):
    draws[0].check_frames(x_c[i], f"content {i}")
  items = [(p, k) for k in seeds for p in range(n_pairs)]  # seed-major
  keys = jnp.stack([jax.random.fold_in(jax.random.key(k), 100 + p) for p, k in items])
  idx = np.asarray([p for p, _ in items])
  calls = ([(draws[0], np.arange(len(items)))] if len(draws) == 1 else
           [(draws[j], np.arange(j * n_pairs, (j + 1) * n_pairs)) for j in range(len(seeds))])
  opt = transfer.Optimizer(draws[0], settings, batched=True)
  results = [opt(net.params, x_c[idx[sel]], (x_s[idx[sel]],), keys[sel]) for net, sel in calls]
  logging.info("%s: compiled in %.1f s; %d item(s) in %d call(s), %s %d iterations", cond.key,
               opt.compile_s, len(items), len(calls), settings.optimizer, settings.n_iter)
  x = jnp.concatenate([r.x for r in results])
  ref = 1.0 if rep == "log1p" else jnp.max(S_c, axis=(-2, -1), keepdims=True)[idx]
  t0 = time.perf_counter()
  S_r, y, sc = transfer.to_audio(settings, rep, x, ref, jax.random.key(5),
                                 pairs[0].content.shape[-1])
  phase_s = time.perf_counter() - t0
  final = [float(v) for r in results for v in np.ravel(r.final["total"])]
  logging.info("%s: optimised in %.1f s, phase in %.1f s; mean final loss %.6g", cond.key,
               opt.optimize_s, phase_s, float(np.mean(final)))
  labels = sorted({net.weights for net in draws})
  static = dict(optimizer=settings.optimizer, n_iter=settings.n_iter, init=settings.init,
                noise_scale=settings.noise_scale, distribution=settings.distribution)
  if cond.net == "wyse":
    static.update(learning_rate=settings.learning_rate, noise=settings.noise)
  return dict(items=items, pair_index=idx, S=np.asarray(S_r), audio=y, sc=sc,
              stft=settings.stft, settings=settings, static=static,
              weights=labels[0] if len(labels) == 1 else f"{labels[0]} (one draw per seed)",
              compile_s=opt.compile_s, optimize_s=opt.optimize_s, phase_s=phase_s,
              final_loss=final)


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


class Judge:
  """Network-free measures and the trained classifier's P(rooster), on audio at ``sr``."""

  def __init__(self, trained: nets.Weights | None, sr: int):
    self.sr = sr
    self._lm = jax.jit(functools.partial(measures.logmel_db, sr=sr))
    self._post = None
    if trained is not None:
      from specst_jax.classifier import evaluate
      post, cfg = evaluate.posterior_fn((trained.module, trained.params, trained.provenance),
                                        "rooster")
      if cfg.sr != sr:
        raise ValueError(f"the classifier expects {cfg.sr} Hz audio, the run is at {sr} Hz")
      self._post = lambda y: np.asarray(post(fit_length(y, cfg.n_samples)))

  def logmel(self, y: ArrayLike) -> jax.Array:
    return self._lm(jnp.asarray(y))

  def posterior(self, y: ArrayLike) -> np.ndarray:
    if self._post is None:
      return np.full(len(y), np.nan)
    return self._post(jnp.asarray(y))

  def score(self, y: ArrayLike, content_lm: jax.Array, style_lm: jax.Array) -> dict:
    lm = self.logmel(y)
    return dict(style_distance_db=np.asarray(measures.style_distance(lm, style_lm)),
                content_correlation=np.asarray(measures.content_correlation(lm, content_lm)),
                envelope_correlation=np.asarray(measures.envelope_correlation(lm, content_lm)),
                p_rooster=self.posterior(y))


def summary(per_item: dict) -> dict:
  out = {}
  for k in MEASURES:
    m, sd, n = mean_std(per_item[k])
    out[k] = dict(mean=m, std=sd, n=n)
  return out


def reference_sc(x: np.ndarray, stft: Stft, s: dict) -> np.ndarray:
  """SC (dB) of phase reconstruction from the clips' own magnitudes ``x [batch, samples]``."""
  S = transfer.magnitudes(stft, x, "reference")
  y = phase.reconstruct(S, n_fft=stft.n_fft, hop_length=stft.hop_length,
                        method=s["phase_method"], n_iter=s["phase_iter"], key=jax.random.key(6),
                        length=x.shape[-1], center=stft.center)
  return np.asarray(phase.spectral_convergence(S, y, n_fft=stft.n_fft,
                                               hop_length=stft.hop_length, center=stft.center))


# ---------------------------------------------------------------------------------- tables


def _fmt(d: dict, digits: int = 2) -> str:
  if not d["n"]:
    return "n/a"
  return f"{d['mean']:.{digits}f} ± {d['std']:.{digits}f}"


def markdown_table(rows: list[dict]) -> str:
  head = ("| condition | weights | n | style dist. (dB, lower = more style) | content corr. "
          "(higher = more content) | envelope corr. | P(rooster) | SC after phase (dB) |\n"
          "|---|---|---|---|---|---|---|---|\n")
  lines = []
  for r in rows:
    m = r["summary"]
    lines.append(f"| {r['label']} | {r['weights']} | {m['style_distance_db']['n']} | "
                 f"{_fmt(m['style_distance_db'])} | {_fmt(m['content_correlation'], 3)} | "
                 f"{_fmt(m['envelope_correlation'], 3)} | {_fmt(m['p_rooster'], 3)} | "
                 f"{_fmt(m['sc_db'], 1)} |")
  return head + "\n".join(lines) + "\n"


def per_pair_table(rows: list[dict], pair_names: list[str]) -> str:
  """Style distance / content correlation per pair (mean over that pair's seeds)."""
  head = ("| condition | " + " | ".join(pair_names) + " |\n"
          "|---|" + "---|" * len(pair_names) + "\n")
  lines = []
  for r in rows:
    pairs = ([it["pair"] for it in r["items"]] if "items" in r else pair_names)
    cells = []
    for name in pair_names:
      sel = [i for i, p in enumerate(pairs) if p == name]
      if not sel:
        cells.append("-")
        continue
      sd = np.mean([r["per_item"]["style_distance_db"][i] for i in sel])
      cc = np.mean([r["per_item"]["content_correlation"][i] for i in sel])
      cells.append(f"{sd:.1f} dB / {cc:.3f}")
    lines.append(f"| {r['label']} | " + " | ".join(cells) + " |")
  return head + "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------- run


def _weights(s: dict) -> tuple[nets.Weights | None, nets.Weights | None]:
  def stand_in(line):
    logging.warning("%s; conditions a and c use a RANDOM stand-in", line)
  trained = nets.load_weights("wyse", s["weights"], warn=stand_in)
  vgg = nets.load_weights("vgg19", s["vgg_weights"], warn=lambda line: None)
  return trained, vgg


def run(s: dict, out: str | Path) -> dict:
  """The whole reproduction; writes the output set to ``out``, returns the metrics dict."""
  t_start = time.perf_counter()
  check_settings(s)
  out = files.check_output_dir(out)
  trained, vgg = _weights(s)
  wyse_stft = (trained.stft if trained is not None else
               dataclasses.replace(nets.NETS["wyse"].stft, sr=SR))
  sr = wyse_stft.sr
  if trained is not None:
    logging.info("trained Wyse weights: %s (fold-5 accuracy %s)", s["weights"] or "shipped",
                 (trained.provenance or {}).get("test_accuracy"))
  pairs, source = load_pairs(s, sr)
  n = pairs[0].content.shape[-1]
  logging.info("%d pair(s) x %d seed(s) from %s, %.2f s at %d Hz", len(pairs), s["seeds"], source,
               n / sr, sr)
  judge = Judge(trained, sr)
  contents = np.stack([p.content for p in pairs])
  styles = np.stack([p.style for p in pairs])
  lm_c, lm_s = judge.logmel(contents), judge.logmel(styles)
  rows = []
  figure = [("content (speech)", np.asarray(wyse_stft.magnitude(contents[0])), wyse_stft),
            ("style (rooster)", np.asarray(wyse_stft.magnitude(styles[0])), wyse_stft)]
  wavs = {"content.wav": contents[0], "style.wav": styles[0]}
  for which, label, x in (("content", "reference: the content itself", contents),
                          ("style", "reference: the style itself", styles)):
    per = {k: np.asarray(v) for k, v in judge.score(x, lm_c, lm_s).items()}
    per["sc_db"] = reference_sc(x, wyse_stft, s)
    rows.append(dict(key=which, label=label, weights="-", per_item=per, summary=summary(per)))
  for cond in conditions(s["noise"]):
    if cond.key not in s["conditions"]:
      continue
    if cond.net == "vgg19" and s["vgg_iter"] == 0:
      logging.info("vgg19: skipped (--vgg_iter=0)")
      continue
    res = run_condition(cond, s, trained, vgg, pairs, wyse_stft)
    idx = res["pair_index"]
    per = {k: np.asarray(v) for k, v in judge.score(res["audio"], lm_c[idx], lm_s[idx]).items()}
    per["sc_db"] = res["sc"]
    label = cond.label if cond.net != "vgg19" else f"VGG-19 ({res['weights'].split(' ')[0]})"
    if cond.net == "vgg19" and s["quick"]:
      label += " [quick: conv1_1 only]"
    rows.append(dict(key=cond.key, label=label, weights=res["weights"],
                     items=[dict(pair=pairs[p].name, seed=k) for p, k in res["items"]],
                     per_item=per, summary=summary(per),
                     stft={k: v for k, v in res["stft"].as_dict().items() if k != "sr"},
                     settings=res["static"], final_loss=res["final_loss"],
                     compile_s=res["compile_s"], optimize_s=res["optimize_s"],
                     phase_s=res["phase_s"]))
    wavs[WAV_NAMES[cond.key]] = res["audio"][0]
    figure.append((label, res["S"][0], res["stft"]))
    logging.info("%s: %s", cond.key, {k: _fmt(v, 3) for k, v in rows[-1]["summary"].items()})
  for r in rows:
    r["per_item"] = {k: [float(v) for v in np.ravel(a)] for k, a in r["per_item"].items()}
  metrics = dict(settings=s, sr=sr, wyse_stft={k: v for k, v in wyse_stft.as_dict().items()
                                               if k != "sr"},
                 pairs=[p.name for p in pairs], source=source, duration_s=n / sr, rows=rows,
                 device=str(jax.devices()[0]), trained_weights=trained is not None)
  with files.output_set(out) as tmp:
    for name, y in wavs.items():
      audio.save_audio(tmp / name, transfer.peak_normalize(y, peak=SCALED_PEAK), sr)
    panels.plot_magnitudes(tmp / "figure1.png", figure, columns=2, panel_size=(6.5, 3.3),
                           colorbar_label="dB re max")
    metrics["wall_time_s"] = wall = time.perf_counter() - t_start
    files.write_json(tmp / "metrics.json", metrics, indent=1)
    md = (f"Figure 1 measurements: {len(pairs)} pair(s) x {s['seeds']} seed(s), {n / sr:.2f} s "
          f"at {sr} Hz, Wyse: Adam lr {s['learning_rate']:g}, {s['n_iter']} iterations, "
          f"noise r = {s['noise']:g}; phase {s['phase_method']} ({s['phase_iter']} it); "
          f"wall time {wall:.0f} s.\n\n" + markdown_table(rows) +
          "\nPer pair (mean over seeds): style distance (dB) / content correlation.\n\n" +
          per_pair_table(rows, [p.name for p in pairs]))
    files.write_text(tmp / "metrics.md", md)
  metrics["markdown"] = md
  logging.info("wrote %s in %.1f s", out, wall)
  return metrics
