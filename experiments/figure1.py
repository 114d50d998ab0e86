r"""The paper's Figure 1, reproduced and measured.

  python -m experiments.figure1 --output_dir=out/figure1            # full run (see WORKSPACE.md)
  python -m experiments.figure1 --output_dir=/tmp/f1 --quick        # tiny, for tests

Content = speech, style = a crowing rooster. Four conditions of the paper's classifier net
(Wyse 2017): (a) trained weights, init = content; (b) random U(-0.1, 0.1) weights, init = content;
(c) trained, init = r U(-1, 1) + (1 - r) content; (d) random + that noise; plus two more rows:
Ulyanov's random 1-D net (its own settings) and VGG-19 (random weights unless --vgg_weights).

Pairs: the paper's own (speech = the author's ``BeingRural5.0.tif`` turned back into audio by the
project's phase reconstruction; style = ``rooster/rooster_wyse2017.wav``) and extra pairs
(LJSpeech clips x ESC-50 fold-5 rooster clips, fold 5 being the classifier's test fold); without
``--data_dir`` the built-in signals stand in. Every net runs at one sample rate (the trained
weights': 16 kHz), each with its own STFT. All (pair, seed) items of a condition go through one
compiled, vmapped ``stylize_batch`` call (random-weight conditions: one call per seed, since
each seed draws its own weights).

Writes (atomically) to ``--output_dir``: ``content.wav``, ``style.wav``, one WAV per condition
(paper pair, seed 0), ``figure1.png`` (content, style, then (a)-(d) as 2 x 2, then the Ulyanov
and VGG-19 rows), ``metrics.json`` (per item and summary) and ``metrics.md`` (mean +- std over
pairs x seeds of network-free measures: style distance (dB), content and envelope correlation,
the shipped classifier's P(rooster), SC (dB) after phase reconstruction; plus reference rows for
the content and the style themselves).
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags, logging

from specst_jax import audio, files, measures, phase, signals, spectral
from specst_jax import figure1 as f1
from specst_jax.classifier import esc50
from specst_jax.classifier import evaluate as classifier_evaluate
from specst_jax.classifier import features as classifier_features
from specst_jax.style import pipeline as pl

_OUT = flags.DEFINE_string("output_dir", "out/figure1", "output folder")
_QUICK = flags.DEFINE_bool("quick", False, "tiny configuration for tests (1 pair, 1 seed, 1 s)")
_SEEDS = flags.DEFINE_integer("seeds", 2, "seeds per pair (init noise, random weights)")
_PAIRS = flags.DEFINE_integer("pairs", 3, "content/style pairs (the paper's first)")
_N_ITER = flags.DEFINE_integer("n_iter", 100, "Adam iterations of the Wyse conditions "
                               "(paper 600-3000; 100 fits the 2-core CPU budget)")
_LR = flags.DEFINE_float("learning_rate", 0.01, "Adam step size of the Wyse conditions (the "
                          "paper: 2.0, which destroys the content here: WORKSPACE.md)")
_NOISE = flags.DEFINE_float("noise", 0.7, "r of the noise conditions: r U(-1,1) + (1-r) content")
_DURATION = flags.DEFINE_float("duration", 5.0, "clip length in seconds (crop / zero-pad)")
_DATA = flags.DEFINE_string("data_dir", "../shared/data", "shared data root; missing: built-in "
                            "signals stand in")
_WEIGHTS = flags.DEFINE_string("weights", None, "trained Wyse weights .msgpack (default: shipped); "
                               "'random': none (conditions a and c then use a random stand-in)")
_VGG_WEIGHTS = flags.DEFINE_string("vgg_weights", None, "VGG-19 ImageNet weights (default: random)")
_VGG_ITER = flags.DEFINE_integer("vgg_iter", 5, "L-BFGS iterations of the VGG-19 row")
_EXTRA_PAIRS = flags.DEFINE_integer("extra_pairs", 1, "pairs of the Ulyanov and VGG-19 rows "
                                    "(seed 0 only: they are the costly rows on this CPU)")
_ULY_ITER = flags.DEFINE_integer("ulyanov_iter", 60, "L-BFGS iterations of the Ulyanov row")
_ULY_FILTERS = flags.DEFINE_integer("ulyanov_filters", 1024, "filters of the Ulyanov net "
                                    "(Ulyanov's 4096: about 5 s per L-BFGS iteration here)")
_PHASE = flags.DEFINE_string("phase_method", "rtpghi+fgla", "phase reconstruction method")
_PHASE_ITER = flags.DEFINE_integer("phase_iter", 100, "phase reconstruction GLA iterations")
_CONDITIONS = flags.DEFINE_list("conditions", "a,b,c,d,ulyanov,vgg19", "conditions to run")

QUICK = dict(pairs=1, seeds=1, duration=1.0, n_iter=4, vgg_iter=1, extra_pairs=1,
             ulyanov_iter=3, ulyanov_filters=64, phase_method="fgla", phase_iter=4)
CONDITION_KEYS = ("a", "b", "c", "d", "ulyanov", "vgg19")
DEFAULT_STFT = dict(sr=16000, n_fft=512, hop_length=128, center=False)  # without trained weights
ULYANOV_STFT = dict(n_fft=2048, hop_length=512, center=True)
VGG_STFT = dict(n_fft=512, hop_length=128, center=True)
PAPER_CONTENT = Path("wyse_audioST") / "BeingRural5.0.tif"
PAPER_STYLE = Path("rooster") / "rooster_wyse2017.wav"
LJSPEECH = Path("speech") / "ljspeech"
ESC50 = "esc50_16k"
WAV_NAMES = {"a": "a_trained.wav", "b": "b_random.wav", "c": "c_trained_noise.wav",
             "d": "d_random_noise.wav", "ulyanov": "ulyanov.wav", "vgg19": "vgg19.wav"}
MEASURES = ("style_distance_db", "content_correlation", "envelope_correlation",
            "p_rooster", "sc_db")


@dataclasses.dataclass
class Pair:
  """One content/style pair of equal-length mono clips at the run's sample rate."""

  name: str
  content: np.ndarray  # [samples] at the run's sr
  style: np.ndarray


def _settings() -> dict:
  s = dict(quick=_QUICK.value, seeds=_SEEDS.value, pairs=_PAIRS.value, n_iter=_N_ITER.value,
           learning_rate=_LR.value, noise=_NOISE.value, duration=_DURATION.value,
           data_dir=_DATA.value, weights=_WEIGHTS.value, vgg_weights=_VGG_WEIGHTS.value,
           vgg_iter=_VGG_ITER.value, extra_pairs=_EXTRA_PAIRS.value,
           ulyanov_iter=_ULY_ITER.value, ulyanov_filters=_ULY_FILTERS.value,
           phase_method=_PHASE.value, phase_iter=_PHASE_ITER.value,
           conditions=list(_CONDITIONS.value))
  bad = [c for c in s["conditions"] if c not in CONDITION_KEYS]
  if bad or not s["conditions"]:
    raise ValueError(f"--conditions must name some of {CONDITION_KEYS}, got {s['conditions']}")
  if s["quick"]:  # tiny defaults; flags given explicitly still win
    s.update({k: v for k, v in QUICK.items() if not flags.FLAGS[k].present})
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


def _trained(s: dict):
  """``(module, params, provenance)`` of the trained weights, or ``None`` (random stand-in)."""
  if s["weights"] == "random":
    return None
  from specst_jax import pretrained
  if s["weights"]:
    return pretrained.load_wyse(s["weights"])
  try:
    return pretrained.load_wyse()
  except FileNotFoundError as e:
    logging.warning("no shipped Wyse weights (%s): conditions a and c use a RANDOM stand-in", e)
    return None


def _normalise(x: np.ndarray) -> np.ndarray:
  peak = float(np.max(np.abs(x))) if x.size else 0.0
  return (x / peak * 0.9 if peak > 0 else x).astype(np.float32)


def _clip(x: np.ndarray, n: int) -> np.ndarray:
  return _normalise(np.asarray(f1.fit_length(x, n)))


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


@dataclasses.dataclass(frozen=True)
class Condition:
  """One row: ``net`` in wyse / ulyanov / vgg19; ``init`` content / mix / noise."""

  key: str
  label: str
  net: str
  trained: bool = False
  init: str = "content"


def conditions(s: dict) -> list[Condition]:
  r = s["noise"]
  return [Condition("a", "(a) Wyse, trained weights, init = content", "wyse", True),
          Condition("b", "(b) Wyse, random weights, init = content", "wyse", False),
          Condition("c", f"(c) Wyse, trained weights, init = {r:g} noise", "wyse", True, "mix"),
          Condition("d", f"(d) Wyse, random weights, init = {r:g} noise", "wyse", False, "mix"),
          Condition("ulyanov", "Ulyanov 1-D net (random weights)", "ulyanov", False, "noise"),
          Condition("vgg19", "VGG-19", "vgg19", False)]


def _stft(cond: Condition, wyse_stft: dict) -> dict:
  if cond.net == "wyse":
    return dict(wyse_stft)
  return dict(ULYANOV_STFT if cond.net == "ulyanov" else VGG_STFT)


def _setups(cond: Condition, s: dict, trained, n_bins: int, seeds: list[int]) -> list:
  """One NetSetup per weight draw: ``[setup]`` (fixed weights) or one per seed (random ones)."""
  if cond.net == "wyse":
    if cond.trained and trained is not None:
      module, params, prov = trained
      return [pl.wyse_setup(jax.random.key(0), n_bins, module=module, params={"params": params},
                            mean=prov.get("mean"), std=prov.get("std"),
                            weights=f"trained ({s['weights'] or 'shipped'}, "
                                    f"fold-5 acc {prov.get('test_accuracy', float('nan')):.3f})")]
    module = trained[0] if trained is not None else None
    stand_in = cond.trained  # a trained condition without trained weights
    out = []
    for seed in seeds:
      setup = pl.wyse_setup(jax.random.fold_in(jax.random.key(seed), 7 + stand_in), n_bins,
                            module=module)
      if stand_in:
        setup = dataclasses.replace(setup, weights="RANDOM STAND-IN (no trained weights found)")
      out.append(setup)
    return out
  if cond.net == "ulyanov":
    return [pl.ulyanov_setup(jax.random.fold_in(jax.random.key(seed), 11), n_bins,
                             filters=s["ulyanov_filters"]) for seed in seeds]
  kw = {}
  if s["quick"]:  # shallow layers only: a cheap check of the path, labelled
    kw = dict(style_layers=("conv1_1",), content_layer="conv1_1")
  if s["vgg_weights"]:
    from specst_jax.pretrained import vgg19 as vgg19_weights
    params, prep = vgg19_weights.load_vgg19_weights(s["vgg_weights"])
    return [pl.vgg19_setup(jax.random.key(0), params=params, preprocessing=prep,
                           weights=f"ImageNet ({s['vgg_weights']})", **kw)]
  return [pl.vgg19_setup(jax.random.fold_in(jax.random.key(seed), 13), **kw) for seed in seeds]


def _static(cond: Condition, s: dict) -> dict:
  """The static arguments of ``stylize_batch`` for a condition."""
  if cond.net == "wyse":
    return dict(optimizer="adam", n_iter=s["n_iter"], learning_rate=s["learning_rate"],
                init=cond.init, noise=s["noise"], noise_scale=1.0, distribution="uniform")
  if cond.net == "ulyanov":
    return dict(optimizer="lbfgs", n_iter=s["ulyanov_iter"], init="noise", noise_scale=1e-3,
                distribution="normal")
  return dict(optimizer="lbfgs", n_iter=max(s["vgg_iter"], 1), init="content",
              distribution="uniform")


def _magnitudes(x: np.ndarray, stft: dict) -> jax.Array:
  return spectral.magnitude(spectral.stft(jnp.asarray(x), n_fft=stft["n_fft"],
                                          hop_length=stft["hop_length"], center=stft["center"]))


def run_condition(cond: Condition, s: dict, trained, pairs: list[Pair], wyse_stft: dict,
                  sr: int) -> dict:
  """Style transfer of every (pair, seed) item; returns magnitudes, audio and timings."""
  stft = _stft(cond, wyse_stft)
  extra = cond.net != "wyse"
  n_pairs = min(len(pairs), s["extra_pairs"]) if extra else len(pairs)
  # Trained weights from the content have no randomness: one seed (the others would repeat it).
  deterministic = cond.trained and cond.init == "content" and trained is not None
  seeds = [0] if extra or deterministic else list(range(s["seeds"]))
  S_c = _magnitudes(np.stack([p.content for p in pairs[:n_pairs]]), stft)
  S_s = _magnitudes(np.stack([p.style for p in pairs[:n_pairs]]), stft)
  setups = _setups(cond, s, trained, S_c.shape[-1], seeds)
  rep = setups[0].representation
  x_c, x_s = pl.to_representation(S_c, rep), pl.to_representation(S_s, rep)
  for i in range(n_pairs):
    pl.check_frames(setups[0], x_c[i], f"content {i}")
  static = _static(cond, s)
  fn = jax.jit(functools.partial(pl.stylize_batch, features_fn=setups[0].features_fn,
                                 config=setups[0].config, **static))
  items = [(p, k) for k in seeds for p in range(n_pairs)]  # seed-major
  keys = jnp.stack([jax.random.fold_in(jax.random.key(k), 100 + p) for p, k in items])
  idx = np.asarray([p for p, _ in items])
  calls = ([(setups[0], np.arange(len(items)))] if len(setups) == 1 else
           [(setups[j], np.arange(j * n_pairs, (j + 1) * n_pairs)) for j in range(len(seeds))])
  t0 = time.perf_counter()
  compiled = fn.lower(calls[0][0].params, x_c[idx[calls[0][1]]], x_s[idx[calls[0][1]]],
                      keys[calls[0][1]]).compile()
  compile_s = time.perf_counter() - t0
  logging.info("%s: compiled in %.1f s; %d item(s) in %d call(s), %s %d iterations", cond.key,
               compile_s, len(items), len(calls), static["optimizer"], static["n_iter"])
  t0 = time.perf_counter()
  xs, finals = [], []
  for setup, sel in calls:
    res = jax.block_until_ready(compiled(setup.params, x_c[idx[sel]], x_s[idx[sel]], keys[sel]))
    xs.append(res.x)
    finals.append({k: np.asarray(v) for k, v in res.final.items()})
  optimize_s = time.perf_counter() - t0
  x = jnp.concatenate(xs)
  if rep == "log1p":
    ref = 1.0
  else:
    ref = jnp.max(S_c, axis=(-2, -1), keepdims=True)[idx]
  S_r = pl.from_representation(x, rep, ref=ref)
  t0 = time.perf_counter()
  n = pairs[0].content.shape[-1]
  y = np.asarray(phase.reconstruct(S_r, n_fft=stft["n_fft"], hop_length=stft["hop_length"],
                                   method=s["phase_method"], n_iter=s["phase_iter"],
                                   key=jax.random.key(5), length=n, center=stft["center"]))
  sc = np.asarray(phase.spectral_convergence(S_r, y, n_fft=stft["n_fft"],
                                             hop_length=stft["hop_length"],
                                             center=stft["center"]))
  phase_s = time.perf_counter() - t0
  if not np.all(np.isfinite(y)):
    raise FloatingPointError(f"condition {cond.key}: the reconstructed audio is not finite")
  logging.info("%s: optimised in %.1f s, phase in %.1f s; final loss %s", cond.key, optimize_s,
               phase_s, {k: float(np.mean(np.concatenate([np.ravel(f[k]) for f in finals])))
                         for k in finals[0]})
  weights = sorted({st.weights for st in setups})
  return dict(items=items, pair_index=idx, S=np.asarray(S_r), audio=y, sc=sc, stft=stft,
              weights=weights[0] if len(weights) == 1 else f"{weights[0]} (one draw per seed)",
              compile_s=compile_s, optimize_s=optimize_s, phase_s=phase_s, static=static,
              final_loss=[float(v) for f in finals for v in np.ravel(f["total"])])


# --------------------------------------------------------------------------------- measures


class Judge:
  """Network-free measures and the shipped classifier's P(rooster), on audio at ``sr``."""

  def __init__(self, trained, sr: int):
    self.sr = sr
    self._lm = jax.jit(functools.partial(measures.logmel_db, sr=sr))
    self._post = None
    if trained is not None:
      module, params, prov = trained
      cfg = classifier_features.FeatureConfig.from_provenance(prov)
      index = list(prov["classes"]).index("rooster")
      post = jax.jit(functools.partial(classifier_evaluate.class_posterior, model=module,
                                       features_fn=classifier_features.feature_fn(cfg),
                                       class_index=index,
                                       mean=prov.get("mean"), std=prov.get("std")))
      if cfg.sr != sr:
        raise ValueError(f"the classifier expects {cfg.sr} Hz audio, the run is at {sr} Hz")
      self._post = lambda y: np.asarray(post(params, f1.fit_length(y, cfg.n_samples)))

  def logmel(self, y: np.ndarray) -> jax.Array:
    return self._lm(jnp.asarray(y))

  def posterior(self, y: np.ndarray) -> np.ndarray:
    if self._post is None:
      return np.full(len(y), np.nan)
    return self._post(jnp.asarray(y))

  def score(self, y: np.ndarray, content_lm: jax.Array, style_lm: jax.Array) -> dict:
    lm = self.logmel(y)
    return dict(style_distance_db=np.asarray(measures.style_distance(lm, style_lm)),
                content_correlation=np.asarray(measures.content_correlation(lm, content_lm)),
                envelope_correlation=np.asarray(measures.envelope_correlation(lm, content_lm)),
                p_rooster=self.posterior(y))


def _summary(per_item: dict) -> dict:
  out = {}
  for k in MEASURES:
    m, sd, n = f1.mean_std(per_item[k])
    out[k] = dict(mean=m, std=sd, n=n)
  return out


def _reference_sc(pairs: list[Pair], which: str, stft: dict, s: dict) -> np.ndarray:
  x = np.stack([getattr(p, which) for p in pairs])
  S = _magnitudes(x, stft)
  y = phase.reconstruct(S, n_fft=stft["n_fft"], hop_length=stft["hop_length"],
                        method=s["phase_method"], n_iter=s["phase_iter"], key=jax.random.key(6),
                        length=x.shape[-1], center=stft["center"])
  return np.asarray(phase.spectral_convergence(S, y, n_fft=stft["n_fft"],
                                               hop_length=stft["hop_length"],
                                               center=stft["center"]))


# ---------------------------------------------------------------------------------- outputs




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


def _db(S: np.ndarray) -> np.ndarray:
  S = np.asarray(S, np.float64)
  top = max(float(S.max()), 1e-10)
  return 20 * np.log10(np.maximum(S, top * 1e-4) / top)


def plot_figure(path: Path, panels: list[tuple[str, np.ndarray, dict]], sr: int) -> None:
  """``panels``: (title, magnitude [frames, bins], stft) in reading order, 2 per row."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  from specst_jax import plotting
  rows = (len(panels) + 1) // 2
  fig, axes = plt.subplots(rows, 2, figsize=(13, 3.3 * rows), squeeze=False)
  for ax, (title, S, stft) in zip(axes.ravel(), panels, strict=False):
    plotting.plot_spectrogram(ax, _db(S), sr=sr, hop_length=stft["hop_length"],
                              n_fft=stft["n_fft"], title=title, vmin=-80, vmax=0,
                              colorbar_label="dB re max")
  for ax in axes.ravel()[len(panels):]:
    ax.axis("off")
  fig.tight_layout()
  plotting.save_figure(fig, path)


def _save_wav(path: Path, y: np.ndarray, sr: int) -> None:
  y = np.asarray(y, np.float32)
  peak = float(np.max(np.abs(y))) if y.size else 0.0
  audio.save_audio(path, y / peak * 0.9 if peak > 0 else y, sr)


# ------------------------------------------------------------------------------------- main


def run(s: dict, out: Path) -> dict:
  """The whole reproduction; returns the metrics dict (also written to ``out``)."""
  t_start = time.perf_counter()
  out.mkdir(parents=True, exist_ok=True)
  trained = _trained(s)
  if trained is not None:
    prov = trained[2]
    wyse_stft = {k: prov[k] for k in ("sr", "n_fft", "hop_length", "center")}
    logging.info("trained Wyse weights: %s (fold-5 accuracy %s)", s["weights"] or "shipped",
                 prov.get("test_accuracy"))
  else:
    wyse_stft = dict(DEFAULT_STFT)
    logging.warning("NO trained Wyse weights: conditions a and c use random stand-ins")
  sr = int(wyse_stft.pop("sr"))
  pairs, source = load_pairs(s, sr)
  n = pairs[0].content.shape[-1]
  logging.info("%d pair(s) x %d seed(s) from %s, %.2f s at %d Hz", len(pairs), s["seeds"], source,
               n / sr, sr)
  judge = Judge(trained, sr)
  contents = np.stack([p.content for p in pairs])
  styles = np.stack([p.style for p in pairs])
  lm_c, lm_s = judge.logmel(contents), judge.logmel(styles)
  rows, panels = [], []
  panels.append(("content (speech)", np.asarray(_magnitudes(contents[0], wyse_stft)), wyse_stft))
  panels.append(("style (rooster)", np.asarray(_magnitudes(styles[0], wyse_stft)), wyse_stft))
  for which, label in (("content", "reference: the content itself"),
                       ("style", "reference: the style itself")):
    x = contents if which == "content" else styles
    per = {k: np.asarray(v) for k, v in judge.score(x, lm_c, lm_s).items()}
    per["sc_db"] = _reference_sc(pairs, which, wyse_stft, s)
    rows.append(dict(key=which, label=label, weights="-", per_item=per, summary=_summary(per)))
  _save_wav(out / "content.wav", contents[0], sr)
  _save_wav(out / "style.wav", styles[0], sr)
  for cond in conditions(s):
    if cond.key not in s["conditions"]:
      continue
    if cond.net == "vgg19" and s["vgg_iter"] == 0:
      logging.info("vgg19: skipped (--vgg_iter=0)")
      continue
    res = run_condition(cond, s, trained, pairs, wyse_stft, sr)
    idx = res["pair_index"]
    per = {k: np.asarray(v) for k, v in judge.score(res["audio"], lm_c[idx], lm_s[idx]).items()}
    per["sc_db"] = res["sc"]
    label = cond.label if cond.net != "vgg19" else f"VGG-19 ({res['weights'].split(' ')[0]})"
    if cond.net == "vgg19" and s["quick"]:
      label += " [quick: conv1_1 only]"
    rows.append(dict(key=cond.key, label=label, weights=res["weights"],
                     items=[dict(pair=pairs[p].name, seed=k) for p, k in res["items"]],
                     per_item=per, summary=_summary(per), stft=res["stft"],
                     settings=res["static"], final_loss=res["final_loss"],
                     compile_s=res["compile_s"], optimize_s=res["optimize_s"],
                     phase_s=res["phase_s"]))
    _save_wav(out / WAV_NAMES[cond.key], res["audio"][0], sr)
    panels.append((label, res["S"][0], res["stft"]))
    logging.info("%s: %s", cond.key, {k: _fmt(v, 3) for k, v in rows[-1]["summary"].items()})
  plot_figure(out / "figure1.png", panels, sr)
  wall = time.perf_counter() - t_start
  for r in rows:
    r["per_item"] = {k: [float(v) for v in np.ravel(a)] for k, a in r["per_item"].items()}
  metrics = dict(settings=s, sr=sr, wyse_stft=wyse_stft, pairs=[p.name for p in pairs],
                 source=source, duration_s=n / sr, rows=rows, wall_time_s=wall,
                 device=str(jax.devices()[0]), trained_weights=trained is not None)
  files.write_json(out / "metrics.json", metrics, indent=1)
  md = (f"Figure 1 measurements: {len(pairs)} pair(s) x {s['seeds']} seed(s), {n / sr:.2f} s at "
        f"{sr} Hz, Wyse: Adam lr {s['learning_rate']:g}, {s['n_iter']} iterations, "
        f"noise r = {s['noise']:g}; phase {s['phase_method']} ({s['phase_iter']} it); "
        f"wall time {wall:.0f} s.\n\n" + markdown_table(rows) +
        "\nPer pair (mean over seeds): style distance (dB) / content correlation.\n\n" +
        per_pair_table(rows, [p.name for p in pairs]))
  files.write_text(out / "metrics.md", md)
  logging.info("wrote %s in %.1f s", out, wall)
  print(md)
  print(f"figure1: wall time {wall:.1f} s")
  return metrics


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}")
  try:
    run(_settings(), Path(_OUT.value))
  except (ValueError, audio.AudioError, FileNotFoundError, FloatingPointError) as e:
    print(f"figure1: error: {e}", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
  app.run(main)
