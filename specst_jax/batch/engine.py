"""The batch tool's one adapter to the style-transfer engine (:mod:`specst_jax.style.transfer`).

:class:`StyleEngine` implements :class:`specst_jax.batch.runner.Engine`: settings are
``transfer.Settings.for_net`` of the row's overrides (the mapping of the ``style_transfer``
tool's flags), weights come from ``nets.load_weights`` (loaded once per (net, weights)), and a
batch of equal-length pairs goes through the engine's pieces as its own batched callers do:
``transfer.magnitudes`` -> the net's representation -> one ``transfer.Optimizer`` (vmapped,
the pair axis sharded over the process's local devices, kept per bucket so a run compiles
once per bucket) -> ``transfer.to_audio`` of the whole batch in one call, each pair with its own
phase key, the pairs split over the same devices (``phase.reconstruct_sharded``).

Keys, as for one ``style_transfer --seed=S`` run: ``key(S)`` splits into (net weights,
initial noise, phase), and every pair starts from its own seed's init and phase keys. So pair
``j`` of a batch equals ``transfer.stylize(settings, content_j, styles_j)`` of the same
(fitted) clips to float tolerance, whatever the batch size, device count or position in the
batch. Pairs with different seeds share a call when the weights are trained (the seed then
draws no weights); with random weights (Ulyanov always, Wyse / VGG-19 without a file) each
seed is its own group, since a call's pairs share one set of weights.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from specst_jax import representations
from specst_jax.batch.runner import BucketResult
from specst_jax.style import nets, transfer

# Settings a manifest row (or the tool's flags) may set: the style_transfer tool's flags.
OVERRIDES: Mapping[str, type] = {
    "net": str, "weights": str, "seed": int, "optimizer": str, "n_iter": int,
    "learning_rate": float, "init": str, "noise": float, "sr": int, "n_fft": int,
    "hop_length": int, "center": bool, "content_weight": float, "style_weight": float,
    "filters": int, "phase_method": str, "phase_iter": int,
}
DEFAULT_NET = "ulyanov"
NETS_KEPT = 2  # built networks kept (a 4096-filter Ulyanov net at n_fft 2048 is ~190 MB)


class StyleEngine:
  """:class:`specst_jax.batch.runner.Engine` over :mod:`specst_jax.style.transfer`.

  Args:
    devices: the devices a batch is sharded over (default: this process's local devices).
  """

  def __init__(self, devices: Sequence[jax.Device] | None = None):
    self.devices = list(jax.local_devices() if devices is None else devices)
    self._weights: dict[tuple, nets.Weights | None] = {}
    self._nets: collections.OrderedDict = collections.OrderedDict()
    self._fields: dict[transfer.Settings, int] = {}
    self._optimizers: dict[tuple, transfer.Optimizer] = {}

  @property
  def compiled_programs(self) -> int:
    """Style loops compiled so far in this process: one per (bucket shapes, settings other
    than the seed), whatever the seeds or the number of calls."""
    return sum(opt.compile_s > 0 for opt in self._optimizers.values())

  def weights(self, net: str, weights: str | None) -> nets.Weights | None:
    key = (net, weights)
    if key not in self._weights:
      try:
        self._weights[key] = nets.load_weights(net, weights)
      except FileNotFoundError as e:
        raise ValueError(f"weights {weights!r}: {e}") from e
    return self._weights[key]

  def resolve(self, overrides: Mapping[str, Any]) -> transfer.Settings:
    given = dict(overrides)
    settings = transfer.Settings.for_net(given.pop("net", None) or DEFAULT_NET, given)
    return settings.adopt(self.weights(settings.net, settings.weights))

  def group_key(self, settings: transfer.Settings) -> transfer.Settings:
    if self.weights(settings.net, settings.weights) is None:
      return settings  # random weights: drawn from the seed
    return dataclasses.replace(settings, seed=0)

  def describe(self, settings: transfer.Settings) -> dict[str, Any]:
    return settings.as_dict()

  def net(self, settings: transfer.Settings) -> nets.Net:
    """The network of ``settings`` (weights drawn from its seed when random); kept a while."""
    key = self.group_key(settings)
    if key not in self._nets:
      k_net = jax.random.split(jax.random.key(settings.seed), 3)[0]
      self._nets[key] = nets.build(
          settings.net, k_net, settings.stft.n_bins, self.weights(settings.net, settings.weights),
          content_weight=settings.content_weight, style_weight=settings.style_weight,
          filters=settings.filters, vgg_layers=settings.vgg_layers)
      while len(self._nets) > NETS_KEPT:
        self._nets.popitem(last=False)
    self._nets.move_to_end(key)
    return self._nets[key]

  def sample_rate(self, settings: transfer.Settings) -> int:
    return settings.stft.sr

  def min_samples(self, settings: transfer.Settings) -> int:
    """One STFT frame more than the network's receptive field needs."""
    stft, key = settings.stft, dataclasses.replace(settings, seed=0)
    if key not in self._fields:  # the same for every seed
      self._fields[key] = self.net(settings).receptive_field
    return stft.n_fft + (self._fields[key] - 1) * stft.hop_length

  def optimizer(self, net: nets.Net, settings: transfer.Settings, shapes: tuple
                ) -> transfer.Optimizer:
    """The compiled loop for ``settings`` (seed 0: the seed is not part of the program) and
    input ``shapes``; kept, so a run compiles once per bucket."""
    key = (dataclasses.replace(settings, seed=0), shapes)
    if key not in self._optimizers:
      self._optimizers[key] = transfer.Optimizer(net, key[0], batched=True,
                                                 devices=self.devices, progress=None)
    return self._optimizers[key]

  def run(self, settings: transfer.Settings, contents: np.ndarray, styles: np.ndarray,
          seeds: np.ndarray) -> BucketResult:
    stft, net = settings.stft, self.net(settings)
    rep = net.representation
    S_c = transfer.magnitudes(stft, contents, "contents")
    S_s = [transfer.magnitudes(stft, styles[:, j], f"styles {j}") for j in range(styles.shape[1])]
    x_c = representations.encode(rep, S_c, stft)
    x_s = tuple(representations.encode(rep, S, stft) for S in S_s)
    for x, name in ((x_c, "content"), *((x, f"style {j}") for j, x in enumerate(x_s))):
      net.check_frames(x[0], name)
    split = [jax.random.split(jax.random.key(int(k)), 3) for k in seeds]  # net, init, phase
    opt = self.optimizer(net, settings, (x_c.shape, tuple(x.shape for x in x_s)))
    first, before = opt.optimize_s == 0.0, opt.optimize_s
    res = opt(net.params, x_c, x_s, jax.numpy.stack([k[1] for k in split]))
    ref = (jax.numpy.max(S_c, axis=(-2, -1), keepdims=True) if rep != "log1p"
           else jax.numpy.ones((len(seeds), 1, 1)))
    t0 = time.perf_counter()
    S_r, y, sc = _to_audio(settings, rep, res.x, ref, jax.numpy.stack([k[2] for k in split]),
                           S_c.shape[1:], contents.shape[-1], self.devices)
    phase_s = time.perf_counter() - t0
    y = transfer.peak_normalize(y, peak=0.99, only_above=1.0)
    mags = dict(content=np.asarray(S_c), style=np.asarray(S_s[0]), result=S_r)
    return BucketResult(
        audio=y, final={k: np.asarray(v) for k, v in res.final.items()},
        n_iter=np.asarray(res.n_iter), n_evals=np.asarray(res.n_evals),
        loss_curve=np.asarray(res.losses), magnitudes=mags, stft=stft,
        per_item=dict(sc_db=sc),
        times=dict(compile=opt.compile_s if first else 0.0, optimize=opt.optimize_s - before,
                   phase=phase_s),
        info=dict(weights=net.weights, device=self.devices[0].device_kind))


def _to_audio(settings, rep, x, ref, keys, magnitude_shape, length, devices):
  """``transfer.to_audio`` of a batch ``[pairs, frames, bins]`` in one call, each pair with its own
  phase key, the pairs split over ``devices``; if any audio is not finite, pair by pair, so that
  only those pairs get NaNs (they fail; the batch's others are written)."""
  try:
    S, y, sc = transfer.to_audio(settings, rep, x, ref, keys, length, devices=devices)
    return np.asarray(S), y, np.asarray(sc)
  except FloatingPointError:
    out = [_pair_to_audio(settings, rep, x[j], ref[j], keys[j], magnitude_shape, length)
           for j in range(len(x))]
    return (np.stack([np.asarray(o[0]) for o in out]), np.stack([o[1] for o in out]),
            np.asarray([o[2] for o in out]))


def _pair_to_audio(settings, rep, x, ref, key, magnitude_shape, length):
  try:
    return transfer.to_audio(settings, rep, x, ref, key, length)
  except FloatingPointError:
    return (np.full(magnitude_shape, np.nan, np.float32), np.full(length, np.nan, np.float32),
            np.nan)


FIGURE_TITLES = {"result": "target magnitude (optimised)"}


def figure(path: Path, settings: transfer.Settings, mags: Mapping[str, np.ndarray],
           n_samples: int) -> None:
  """Content, style, the optimised target and (when given) the written result re-analysed, as
  one PNG of two columns (dB re each one's maximum), cut to the frames of the written result
  (``n_samples``: bucket padding is not shown)."""
  from specst_jax.studies import panels
  frames = settings.stft.n_frames(n_samples)
  panels.plot_magnitudes(path, [(FIGURE_TITLES.get(name, name), np.asarray(S)[:frames],
                                 settings.stft) for name, S in mags.items()],
                         columns=2, panel_size=(6.0, 3.4))
