"""Figure 1 study, its design: the configuration, the conditions, the pairs, the engine settings.

Part of :mod:`specst_jax.studies.figure1` (the study's entry point; the design is described there).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from jax.typing import ArrayLike

from specst_jax import audio, phase
from specst_jax.representations import Stft
from specst_jax.studies import judge as judge_lib
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
    optimizer: ``"adam"`` or ``"lbfgs"`` (the engine's ``Settings.optimizer``) for the Wyse
      conditions.
    n_iter, learning_rate: steps (L-BFGS: iterations, at most) and Adam's step size (ignored
      by L-BFGS) of the Wyse conditions.
    phase_method, phase_iter: phase reconstruction of every condition.
    weights: trained Wyse weights (None: the shipped ones).
    classifier: the second judge (a shipped classifier; "" for none).
    extras: extra rows, some of :data:`EXTRAS` (seed 0, the first ``extra_pairs`` pairs).
    ulyanov_iter, ulyanov_filters, vgg_iter, vgg_weights: the extra rows' settings.
    shard: shard each call's batch over all local devices (when it divides).
    converge_rel: the convergence rule's threshold (:mod:`specst_jax.studies.convergence`):
      converged when the best loss fell by less than this fraction over the last 20 % of steps.
    data_dir: shared data root (missing: built-in signals; the paper pair needs it).
  """

  name: str = "ours"
  n_pairs: int = 12
  paper_pair: bool = True
  seeds: int = 3
  duration: float = 5.0
  noise_levels: tuple[float, ...] = (0.0, 0.2, 0.7)
  optimizer: str = "adam"
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
  converge_rel: float = 0.005

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
    if self.optimizer not in transfer.OPTIMIZERS:
      raise ValueError(f"figure1 config: optimizer must be one of {transfer.OPTIMIZERS}, got "
                       f"{self.optimizer!r}")
    if not 0.0 < self.converge_rel < 1.0:
      raise ValueError(f"figure1 config: converge_rel must be in (0, 1), got "
                       f"{self.converge_rel}")
    if self.phase_iter < 0:
      raise ValueError(f"figure1 config: phase_iter must be >= 0, got {self.phase_iter}")


def config_from_dict(d) -> Config:
  """A :class:`Config` from a config file's fields (``ml_collections.ConfigDict.to_dict()``):
  sequences become tuples, ``""`` weights become None (the shipped / random defaults)."""
  d = dict(d)
  d["noise_levels"] = tuple(float(r) for r in d["noise_levels"])
  d["extras"] = tuple(d["extras"])
  d["weights"] = d["weights"] or None
  d["vgg_weights"] = d["vgg_weights"] or None
  return Config(**d)


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
    over.update(optimizer=cfg.optimizer, n_iter=cfg.n_iter, learning_rate=cfg.learning_rate,
                init="mix", noise=cond.noise, weights="random")
  elif cond.net == "ulyanov":
    over.update(n_iter=cfg.ulyanov_iter, filters=cfg.ulyanov_filters)
  else:
    over.update(n_iter=cfg.vgg_iter, weights=cfg.vgg_weights or "random")
  return transfer.Settings.for_net(cond.net, over)
