r"""Audio style transfer on spectrograms (Ulyanov's random 1-D net, the paper's classifier, VGG-19).

  python -m experiments.style_transfer                      # short demo on built-in signals
  python -m experiments.style_transfer --content=speech.flac --style=rooster.wav \
      --net=ulyanov --n_iter=300 --output_dir=/tmp/st

Writes ``result.wav``, ``spectrograms.png`` (content / style / result) and
``metrics.json`` (loss curve, final losses, timings, settings, weights) to
``--output_dir``. Unset flags take the chosen network's defaults (``NET_DEFAULTS``);
without ``--content`` the demo uses the package's own ``vowel_glide`` (content)
and ``chirps`` (style) signals with small, fast settings.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags, logging

from specst_jax import audio, files, signals, spectral
from specst_jax.style import optimize
from specst_jax.style import pipeline as pl

NET_DEFAULTS = {
    # Ulyanov & Lebedev 2016 (ANCHORS.md section 1).
    "ulyanov": dict(sr=22050, n_fft=2048, hop_length=512, center=True, optimizer="lbfgs",
                    n_iter=300, learning_rate=0.1, init="noise", noise=0.2, content_weight=1e-2,
                    style_weight=1.0, filters=4096, phase_method="gla", phase_iter=500),
    # Wyse 2017: 22050 Hz, n_fft 512, hop 128, not centred. The paper's Adam lr 2.0 does not
    # behave on values in [0, 1] (demo, random weights: the loss jumps from 1.26 to 2.8e5 on the
    # first step and the result is noise, final 0.53 after 100 steps); lr 0.01 gives 0.19.
    "wyse": dict(sr=22050, n_fft=512, hop_length=128, center=False, optimizer="adam",
                 n_iter=600, learning_rate=0.01, init="content", noise=0.2, content_weight=1.0,
                 style_weight=1.0, filters=None, phase_method="fgla", phase_iter=100),
    # Gatys et al. 2015 on the dB image.
    "vgg19": dict(sr=22050, n_fft=512, hop_length=128, center=True, optimizer="lbfgs",
                  n_iter=200, learning_rate=0.02, init="content", noise=0.2, content_weight=1.0,
                  style_weight=1e3, filters=None, phase_method="fgla", phase_iter=100),
}
# With trained Wyse weights, the STFT settings left unset are the weights' own (the shipped
# file: 16 kHz, n_fft 512, hop 128, not centred).
STFT_KEYS = ("sr", "n_fft", "hop_length", "center")
DEMO = dict(duration=2.5, filters=1024, n_iter=60, phase_iter=60)

_CONTENT = flags.DEFINE_string("content", None, "content audio file; unset: built-in demo signal")
_STYLE = flags.DEFINE_multi_string("style", None, "style audio file (repeatable: Grams combined)")
_NET = flags.DEFINE_enum("net", "ulyanov", list(NET_DEFAULTS), "network")
_WEIGHTS = flags.DEFINE_string(
    "weights", None, "vgg19: .npz/.h5/.pth/.mat ImageNet weights; wyse: trained weights "
    "(default: the shipped ones when present) or 'random'; ulyanov: unused (always random)")
_OPTIMIZER = flags.DEFINE_enum("optimizer", None, ["lbfgs", "adam"], "optimiser (net default)")
_N_ITER = flags.DEFINE_integer("n_iter", None, "optimiser iterations (net default)")
_LR = flags.DEFINE_float("learning_rate", None,
                         "Adam step size (net default; wyse 0.01, the paper said 2.0)")
_INIT = flags.DEFINE_enum("init", None, ["noise", "content", "mix"], "initialisation")
_NOISE = flags.DEFINE_float("noise", None, "r of init=mix: r * U(-1, 1) + (1 - r) * content")
_SR = flags.DEFINE_integer("sr", None, "sample rate of the run (inputs are resampled)")
_N_FFT = flags.DEFINE_integer("n_fft", None, "FFT size")
_HOP = flags.DEFINE_integer("hop_length", None, "STFT hop in samples")
_SEED = flags.DEFINE_integer("seed", 0, "PRNG seed (weights, initial noise, phase)")
_OUT = flags.DEFINE_string("output_dir", "/tmp/specst_style", "output folder")
_CW = flags.DEFINE_float("content_weight", None, "content loss weight (ulyanov alpha 1e-2)")
_SW = flags.DEFINE_float("style_weight", None, "style loss weight")
_FILTERS = flags.DEFINE_integer("filters", None, "ulyanov only: filters (4096)")
_PHASE = flags.DEFINE_string("phase_method", None, "phase reconstruction method")
_PHASE_ITER = flags.DEFINE_integer("phase_iter", None, "phase reconstruction iterations")


def _settings() -> dict:
  net = _NET.value
  s = dict(NET_DEFAULTS[net])
  demo = _CONTENT.value is None
  if demo:
    s.update({k: v for k, v in DEMO.items() if k in s and s[k] is not None})
  given = dict(optimizer=_OPTIMIZER.value, n_iter=_N_ITER.value, learning_rate=_LR.value,
               init=_INIT.value, noise=_NOISE.value, sr=_SR.value, n_fft=_N_FFT.value,
               hop_length=_HOP.value, content_weight=_CW.value, style_weight=_SW.value,
               filters=_FILTERS.value, phase_method=_PHASE.value, phase_iter=_PHASE_ITER.value)
  if given["filters"] is not None and net != "ulyanov":
    raise ValueError("--filters applies to --net=ulyanov only")
  s.update({k: v for k, v in given.items() if v is not None})
  s.update(net=net, seed=_SEED.value, demo=demo, content=_CONTENT.value,
           style=list(_STYLE.value or []), weights_flag=_WEIGHTS.value,
           stft_given=[k for k in STFT_KEYS if given.get(k) is not None])
  if demo and s["style"]:
    raise ValueError("--style needs --content (the demo uses built-in signals)")
  if not demo and not s["style"]:
    raise ValueError("--content needs at least one --style")
  return s


def _load(s: dict) -> tuple[np.ndarray, list[np.ndarray]]:
  if s["demo"]:
    d = DEMO["duration"]
    return (signals.make_signal("vowel_glide", sr=s["sr"], duration=d),
            [signals.make_signal("chirps", sr=s["sr"], duration=d)])
  content, _ = audio.load_audio(s["content"], sr=s["sr"])
  styles = [audio.load_audio(p, sr=s["sr"])[0] for p in s["style"]]
  return content, styles


def _magnitude(x: np.ndarray, s: dict, name: str) -> jax.Array:
  try:
    return spectral.magnitude(spectral.stft(jnp.asarray(x), n_fft=s["n_fft"],
                                            hop_length=s["hop_length"], center=s["center"]))
  except ValueError as e:
    raise ValueError(f"{name}: {e}") from e


def _load_wyse_weights(s: dict):
  """``(module, params, provenance)`` of the Wyse weights the run asks for, or ``None``
  (random weights: ``--weights=random``, or no shipped file)."""
  flag = s["weights_flag"]
  if flag == "random":
    return None
  from specst_jax import pretrained
  try:
    return pretrained.load_wyse(flag)
  except FileNotFoundError as e:
    if flag:
      raise ValueError(f"--weights={flag}: {e}") from e
    logging.warning("no shipped Wyse weights (%s): using RANDOM Wyse weights", e)
    return None


def _adopt_weight_settings(s: dict, provenance: dict) -> None:
  """Runs at the STFT settings the weights were trained with: a setting left unset on the
  command line is taken from the provenance, one set to another value is an error."""
  for k in STFT_KEYS:
    if k not in provenance or s[k] == provenance[k]:
      continue
    if k in s["stft_given"]:
      raise ValueError(f"the Wyse weights were trained with {k}={provenance[k]}, the run asks for "
                       f"--{k}={s[k]} (leave it unset or pass --weights=random)")
    s[k] = provenance[k]
  if provenance.get("representation", "unit_db") != "unit_db":
    raise ValueError(f"the Wyse weights use representation {provenance['representation']!r}; "
                     "style transfer needs 'unit_db'")


def _wyse_params(s: dict, key: jax.Array, n_bins: int, loaded) -> pl.NetSetup:
  kw = dict(content_weight=s["content_weight"], style_weight=s["style_weight"])
  if loaded is None:
    return pl.wyse_setup(key, n_bins, **kw)
  module, params, meta = loaded
  return pl.wyse_setup(key, n_bins, module=module, params={"params": params},
                       mean=meta.get("mean"), std=meta.get("std"),
                       weights=f"trained ({s['weights_flag'] or 'shipped'})", **kw)


def _setup(s: dict, key: jax.Array, n_bins: int, wyse_weights=None) -> pl.NetSetup:
  if s["net"] == "ulyanov":
    if s["weights_flag"]:
      raise ValueError("--weights: the Ulyanov net always uses random weights")
    return pl.ulyanov_setup(key, n_bins, filters=s["filters"], content_weight=s["content_weight"],
                            style_weight=s["style_weight"])
  if s["net"] == "wyse":
    return _wyse_params(s, key, n_bins, wyse_weights)
  if s["weights_flag"]:
    from specst_jax.pretrained import vgg19 as vgg19_weights
    params, prep = vgg19_weights.load_vgg19_weights(s["weights_flag"])
    return pl.vgg19_setup(key, params=params, preprocessing=prep,
                          weights=f"ImageNet ({s['weights_flag']})",
                          content_weight=s["content_weight"], style_weight=s["style_weight"])
  logging.warning("VGG-19 without --weights: RANDOM weights (no ImageNet file given)")
  return pl.vgg19_setup(key, content_weight=s["content_weight"], style_weight=s["style_weight"])


def reconstruct_audio(S: jax.Array, s: dict, key: jax.Array, length: int) -> jax.Array:
  """Magnitude ``[frames, bins]`` -> audio through the phase package."""
  from specst_jax import phase
  return phase.reconstruct(S, n_fft=s["n_fft"], hop_length=s["hop_length"],
                           method=s["phase_method"], n_iter=s["phase_iter"], key=key,
                           length=length, center=s["center"])




def _plot(path: Path, mags: list, titles: list, s: dict) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  from specst_jax import plotting
  fig, axes = plt.subplots(1, len(mags), figsize=(5 * len(mags), 4), squeeze=False)
  for ax, S, title in zip(axes[0], mags, titles, strict=True):
    S = np.asarray(S)
    db = 20 * np.log10(np.maximum(S, 1e-5 * max(S.max(), 1e-10)) / max(S.max(), 1e-10))
    plotting.plot_spectrogram(ax, db, sr=s["sr"], hop_length=s["hop_length"], n_fft=s["n_fft"],
                              title=title, vmin=-80, vmax=0)
  fig.tight_layout()
  plotting.save_figure(fig, path)


def run(s: dict) -> dict:
  """Runs one style transfer with the settings ``s``; returns the metrics."""
  t_start = time.perf_counter()
  out = Path(s["output_dir"])
  out.mkdir(parents=True, exist_ok=True)
  wyse_weights = _load_wyse_weights(s) if s["net"] == "wyse" else None
  if wyse_weights is not None:
    _adopt_weight_settings(s, wyse_weights[2])
  content_audio, style_audio = _load(s)
  S_c = _magnitude(content_audio, s, "content")
  S_s = [_magnitude(a, s, f"style {i}") for i, a in enumerate(style_audio)]
  key = jax.random.key(s["seed"])
  k_net, k_init, k_phase = jax.random.split(key, 3)
  setup = _setup(s, k_net, S_c.shape[-1], wyse_weights)
  logging.info("net %s, weights: %s", setup.name, setup.weights)
  x_c = pl.to_representation(S_c, setup.representation)
  x_s = [pl.to_representation(S, setup.representation) for S in S_s]
  pl.check_frames(setup, x_c, "content")
  for i, x in enumerate(x_s):
    pl.check_frames(setup, x, f"style {i}")
  dist = "normal" if s["init"] == "noise" else "uniform"
  scale = 1e-3 if s["init"] == "noise" else 1.0

  def job(params, x_c, x_s, k):
    targets = optimize.make_targets(setup.features_fn, params, x_c, x_s, setup.config)
    x0 = optimize.initial_value(k, x_c, init=s["init"], noise=s["noise"], noise_scale=scale,
                                distribution=dist)
    return optimize.run_style_transfer(params, x0, targets, features_fn=setup.features_fn,
                                       config=setup.config, optimizer=s["optimizer"],
                                       n_iter=s["n_iter"], learning_rate=s["learning_rate"])

  t0 = time.perf_counter()
  compiled = jax.jit(job).lower(setup.params, x_c, x_s, k_init).compile()
  compile_time = time.perf_counter() - t0
  logging.info("compiled in %.1f s; optimising (%s, %d iterations)", compile_time,
               s["optimizer"], s["n_iter"])
  t0 = time.perf_counter()
  result = jax.block_until_ready(compiled(setup.params, x_c, x_s, k_init))
  opt_time = time.perf_counter() - t0
  curve = np.asarray(result.losses)
  for i in range(0, len(curve), max(1, len(curve) // 10)):
    logging.info("iteration %d: loss %.6g", i, curve[i])
  logging.info("final: %s (%d evaluations, %.1f s)",
               {k: float(v) for k, v in result.final.items()}, int(result.n_evals), opt_time)
  ref = jnp.max(S_c) if setup.representation != "log1p" else 1.0
  S_r = pl.from_representation(result.x, setup.representation, ref=ref)
  t0 = time.perf_counter()
  y = np.asarray(reconstruct_audio(S_r, s, k_phase, len(content_audio)))
  phase_time = time.perf_counter() - t0
  if not np.all(np.isfinite(y)):
    raise FloatingPointError("the reconstructed audio is not finite")
  peak = float(np.max(np.abs(y))) if y.size else 0.0
  if peak > 1.0:
    y = y / peak * 0.99
  audio.save_audio(out / "result.wav", y.astype(np.float32), s["sr"])
  _plot(out / "spectrograms.png", [S_c, S_s[0], S_r], ["content", "style", "result"], s)
  metrics = dict(
      settings={k: v for k, v in s.items()}, weights=setup.weights,
      random_weights=setup.weights.lower().startswith("random"),
      loss_curve=[float(v) for v in curve],
      final_losses={k: float(v) for k, v in result.final.items()},
      n_evaluations=int(result.n_evals), n_iterations_done=int(result.n_iter),
      compile_time_s=compile_time,
      optimize_time_s=opt_time, phase_time_s=phase_time,
      wall_time_s=time.perf_counter() - t_start, device=str(jax.devices()[0]),
      content_frames=int(S_c.shape[0]), style_frames=[int(S.shape[0]) for S in S_s])
  files.write_json(out / "metrics.json", metrics, indent=1)
  logging.info("wrote %s (result.wav, spectrograms.png, metrics.json) in %.1f s", out,
               metrics["wall_time_s"])
  return metrics


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}")
  try:
    s = _settings()
    s["output_dir"] = _OUT.value
    run(s)
  except (ValueError, audio.AudioError, FileNotFoundError, FloatingPointError) as e:
    print(f"style_transfer: error: {e}", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
  app.run(main)
