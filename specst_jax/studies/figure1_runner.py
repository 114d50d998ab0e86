"""Figure 1 study, its runs: weights, the conditions' nets, every condition through the engine.

Part of :mod:`specst_jax.studies.figure1`.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from specst_jax import phase
from specst_jax.representations import Stft
from specst_jax.studies import pairs as pairs_lib
from specst_jax.studies.figure1_design import SR, Condition, Config, condition_settings
from specst_jax.style import nets, transfer


def _weights(cfg: Config):
  def stand_in(line):
    logging.warning("%s; the trained conditions use a RANDOM stand-in", line)
  trained = nets.load_weights("wyse", cfg.weights, warn=stand_in)
  vgg = (nets.load_weights("vgg19", cfg.vgg_weights, warn=lambda line: None)
         if "vgg19" in cfg.extras else None)
  return trained, vgg


def run_stft(trained: nets.Weights | None) -> Stft:
  """The Wyse conditions' STFT: the trained weights' own, else the net's default at :data:`SR`."""
  return (trained.stft if trained is not None else
          dataclasses.replace(nets.NETS["wyse"].stft, sr=SR))


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


def deterministic(cond: Condition, trained: nets.Weights | None) -> bool:
  """Whether the condition runs one seed for all: not a Wyse net (fixed weights, seed 0), or
  trained weights (when there are) with no noise in the start."""
  return cond.net != "wyse" or (cond.trained and cond.noise == 0.0 and trained is not None)


def run_condition(cond: Condition, cfg: Config, trained: nets.Weights | None,
                  vgg: nets.Weights | None, ps: pairs_lib.PairSet, wyse_stft: Stft, *,
                  progress="log", seeds: list[int] | None = None,
                  pairs: list[int] | None = None) -> dict:
  """Every (pair, seed) item of one condition through :func:`transfer.stylize_batch`.

  ``seeds``: run only these seeds (default: all of ``cfg.seeds``; a :func:`deterministic`
  condition always runs seed 0 alone). ``pairs``: run only these pair indices (default: all).
  Each item's initial noise, weights draw and phase key depend on its pair and seed only, so a
  seed or a pair run alone gives those items of a full run (up to float rounding of the batch).
  """
  settings = condition_settings(cond, cfg, wyse_stft)
  n_pairs = min(len(ps.pairs), cfg.extra_pairs) if cond.net != "wyse" else len(ps.pairs)
  if deterministic(cond, trained):
    seeds = [0]
  elif seeds is None:
    seeds = list(range(cfg.seeds))
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
    chosen = range(n_pairs) if pairs is None else [p for p in pairs if p < n_pairs]
    it = [(p, k) for k in call_seeds for p in chosen]  # seed-major
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
              final_loss=cat(lambda r: r.final_losses["total"]),
              final_losses={k: cat(lambda r, k=k: r.final_losses[k])
                            for k in results[0].final_losses},
              n_iter_done=cat(lambda r: np.atleast_1d(r.n_iter_done)),
              n_evals=cat(lambda r: np.atleast_1d(r.n_evals)),
              stop_reason=cat(lambda r: np.atleast_1d(r.stop_reason)), settings=settings,
              weights=labels[0] if len(labels) == 1 else f"{labels[0]} (one draw per seed)",
              timings=timings)


def reference_sc(x: np.ndarray, stft: Stft, cfg: Config) -> np.ndarray:
  """SC (dB) of phase reconstruction from the clips' own magnitudes ``x [batch, samples]``."""
  S = transfer.magnitudes(stft, x, "reference")
  y = phase.reconstruct(S, n_fft=stft.n_fft, hop_length=stft.hop_length,
                        method=cfg.phase_method, n_iter=cfg.phase_iter, key=jax.random.key(6),
                        length=x.shape[-1], center=stft.center)
  return np.asarray(phase.spectral_convergence(S, y, n_fft=stft.n_fft,
                                               hop_length=stft.hop_length, center=stft.center))
