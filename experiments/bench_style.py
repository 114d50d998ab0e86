r"""Benchmark: the Ulyanov style-transfer workload, ours next to a TensorFlow and a PyTorch twin.

  python -m experiments.bench_style --output=bench_style.json            # full: 10 s, 4096 filters
  python -m experiments.bench_style --seconds=3 --filters=1024 --output=/tmp/q.json   # quick

One run, on the same two clips (LJSpeech content, world-music style from ``--data_dir``;
synthetic signals when absent), cut to ``--seconds`` at 22050 Hz, n_fft 2048, hop 512.
The parent computes the ``log(1 + |STFT|)`` inputs (librosa's STFT, as the reference did),
draws the kernel ``[11, 1025, filters]`` and the start ``x0 = 1e-3 N(0, 1)`` once (numpy,
seeded) and hands the same arrays to every implementation, each run in its own subprocess:

  * ``tf``: the reference workload as a TF1 graph (``experiments/peers/tf_ulyanov.py``),
    scipy L-BFGS-B ``maxiter=300`` with scipy's default tolerances, librosa Griffin-Lim 500;
  * ``torch``: the same in PyTorch (``experiments/peers/torch_ulyanov.py``);
  * ``ours``: ``specst_jax`` (``UlyanovNet`` + ``style.optimize.run_style_transfer``, optax
    L-BFGS in one compiled loop, ``phase.reconstruct(method="gla", n_iter=500)``), at the
    reference's stopping rule: 300 iterations and a relative-decrease tolerance equal to
    scipy's default ``ftol = 1e7 * eps = 2.2e-9``;
  * ``ours_early_stop``: ours with ``--early_stop_rel_decrease`` (the library's default 1e-6),
    to show what the early stop costs in loss;
  * ``ours_scipy``: our jitted loss and gradient driven by the twins' optimiser (scipy
    L-BFGS-B on float64 copies), which separates the optimiser from the evaluation.

Per implementation: set-up (graph/compile, content features and style Gram), seconds per
loss-and-gradient evaluation (median of ``--eval_repeats`` after a warm-up, not part of
end to end), evaluations, iterations, initial and final loss, optimisation, phase and end-to-end
seconds (imports and loading the arrays excluded), peak resident memory (ru_maxrss of the
child). Ratios are to the TF twin (< 1: less time or memory). *Time to reference loss*:
set-up plus the optimisation time until the loss first reaches the TF twin's final loss; for
the twins and ``ours_scipy`` from their per-evaluation trace, for ours by a second run of ours
stopped after the first iteration that reaches it (its own set-up and compile included).
Where a run never reaches it, ``time_to_near_reference_loss`` (within ``--loss_tolerance``
of it, measured the same way) is reported too. The curve of ours in
``loss_vs_time.png`` spaces its iterations evenly over the measured optimisation time (the
compiled loop has no clock inside); the twins' curves are timed per evaluation.

Roofline: the FLOPs of one evaluation in our frame-product form (forward conv, its input
gradient, the ``F F^T`` and ``F S^T`` terms and their gradients) divided by the measured
throughput of a float32 ``[frames', width * bins] x [width * bins, filters]`` matmul (XLA and
numpy's BLAS) gives a lower bound; our per-evaluation time is reported as a multiple of it.
The same matmul with bfloat16 operands (float32 accumulation) through XLA shows whether
bfloat16 reaches faster units; ``lscpu`` says whether the CPU has AMX.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from absl import app, flags

from experiments.peers import machine
from experiments.peers import ulyanov_common as common
from specst_jax import provenance

SCIPY_FTOL = 1e7 * float(np.finfo(np.float64).eps)  # scipy L-BFGS-B's default ftol (factr=1e7)
IMPLS = ("tf", "torch", "ours", "ours_early_stop", "ours_scipy", "ours_bf16")

_DATA = flags.DEFINE_string("data_dir", "../shared/data", "shared data folder")
_SECONDS = flags.DEFINE_float("seconds", 10.0, "content and style duration (s)")
_FILTERS = flags.DEFINE_integer("filters", 4096, "filters")
_N_ITER = flags.DEFINE_integer("n_iter", 300, "L-BFGS iterations (the reference's maxiter)")
_PHASE_ITER = flags.DEFINE_integer("phase_iter", 500, "Griffin-Lim iterations")
_EARLY = flags.DEFINE_float(
    "early_stop_rel_decrease", 1e-6,
    "ours_early_stop: stop once an iteration lowers the loss by at most this fraction of "
    "max(|f_prev|, |f|, 1) (scipy's ftol rule; the reference rule uses scipy's 2.2e-9)")
_IMPLS = flags.DEFINE_list("impls", ["tf", "ours", "torch", "ours_early_stop", "ours_scipy",
                                     "ours_bf16"],
                           f"implementations to run, in this order, of {IMPLS}")
_TOL = flags.DEFINE_float("loss_tolerance", 0.01, "relative margin of the 'near' reference loss")
_REPEATS = flags.DEFINE_integer("eval_repeats", 5, "timed loss-and-gradient evaluations (median)")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"],
                           "seeds of the kernels (and x0, phases): one full comparison each")
_OUTPUT = flags.DEFINE_string("output", "", "JSON results (e.g. bench_style.json)")
_FIGURE = flags.DEFINE_string("figure", "loss_vs_time.png",
                              "loss against time (next to --output when relative); '' skips")
_PARALLEL = flags.DEFINE_bool(
    "parallel", False, "run the implementations concurrently (each in its own process): for a "
    "machine other jobs already load, where running one after another would take too long; "
    "compare the CPU-second columns then")
_RERUNS = flags.DEFINE_bool("reruns", True, "time ours to the TF twin's loss by reruns")
_JOBS = flags.DEFINE_integer("jobs", 3, "with --parallel: implementations running at once")
_CHILD = flags.DEFINE_string("child", "", "internal: run one implementation")
_WORKLOAD = flags.DEFINE_string("workload", "", "internal: the .npz the parent wrote")
_CHILD_OUT = flags.DEFINE_string("child_out", "", "internal: where the child writes its JSON")
_CHILD_FTOL = flags.DEFINE_float("child_ftol", SCIPY_FTOL, "internal: ours' tolerance")
_CHILD_N_ITER = flags.DEFINE_integer("child_n_iter", 0, "internal: ours' iterations (0: --n_iter)")
_CHILD_PHASE = flags.DEFINE_bool("child_phase", True, "internal: run phase reconstruction")
_CHILD_SCIPY = flags.DEFINE_bool("child_scipy", False, "internal: ours with scipy L-BFGS-B")
_CHILD_BF16 = flags.DEFINE_bool("child_bf16", False,
                                "internal: ours with bfloat16 conv operands (float32 accumulation)")

SR, N_FFT, HOP, WIDTH = 22050, 2048, 512, 11


# ----------------------------------------------------------------------------- workload

def _clips(pattern: str, seconds: float) -> tuple[np.ndarray | None, list[str]]:
  """``seconds`` of the files matching ``pattern`` in name order, and the files read."""
  from specst_jax import audio

  files = sorted(glob.glob(pattern))
  if not files:
    return None, []
  need, parts = int(round(seconds * SR)), []
  for i, f in enumerate(files):
    parts.append(audio.load_audio(f, sr=SR)[0])
    if sum(len(p) for p in parts) >= need:
      return np.concatenate(parts)[:need], files[:i + 1]
  return np.resize(np.concatenate(parts), need), files


def make_workload(data_dir: str, seconds: float, filters: int, seed: int) -> dict:
  """The shared arrays: ``content``, ``style`` (log1p ``[frames, bins]``), ``kernel``, ``x0``;
  ``files``: the audio files read (none for the synthetic signals)."""
  import librosa

  from specst_jax import signals

  d = Path(data_dir)
  content, content_files = _clips(str(d / "speech/ljspeech/*.flac"), seconds)
  style, style_files = _clips(str(d / "music/world/*.ogg"), seconds)
  source = "LJSpeech (concatenated from LJ001-0001) + world music (africa.ogg onwards)"
  read = content_files + style_files
  if content is None or style is None:
    content = signals.make_signal("vowel_glide", sr=SR, duration=seconds)
    style = signals.make_signal("harmonic_mix", sr=SR, duration=seconds)
    source, read = "synthetic (vowel_glide + harmonic_mix)", []

  def rep(y):
    return np.log1p(np.abs(librosa.stft(np.asarray(y, np.float32), n_fft=N_FFT,
                                        hop_length=HOP))).T.astype(np.float32)

  c, s = rep(content), rep(style)
  kernel = common.random_kernel(seed, c.shape[1], filters, WIDTH)
  return {"content": c, "style": s, "kernel": kernel,
          "x0": common.initial_x(seed, *c.shape), "length": np.int64(len(content)),
          "seed": np.int64(seed), "source": np.str_(source), "files": read}


# ----------------------------------------------------------------------------- children

def _peer_child(kind: str, w: dict, n_iter: int, phase_iter: int, repeats: int,
                run_phase: bool) -> dict:
  if kind == "tf":
    from experiments.peers import tf_ulyanov as peer
    build = peer.UlyanovTF
  else:
    from experiments.peers import torch_ulyanov as peer
    build = peer.UlyanovTorch
  t0, c0 = time.perf_counter(), time.process_time()
  model = build(w["kernel"], w["content"], w["style"])
  setup_s, setup_cpu = time.perf_counter() - t0, time.process_time() - c0
  opt = common.lbfgs(model.value_and_grad, w["x0"], n_iter)
  t1, c1 = time.perf_counter(), time.process_time()
  if run_phase:
    x = opt["x"].reshape(w["content"].shape).astype(np.float32)
    mag = np.expm1(np.maximum(x, 0.0)).T  # [bins, frames], as the reference's exp(x) - 1
    y = peer.griffin_lim(mag, n_fft=N_FFT, hop_length=HOP, n_iter=phase_iter,
                         length=int(w["length"]), seed=int(w["seed"]))
    if not np.all(np.isfinite(y)):
      raise FloatingPointError(f"{kind}: non-finite audio")
  phase_s, phase_cpu = time.perf_counter() - t1, time.process_time() - c1
  end_to_end, end_to_end_cpu = time.perf_counter() - t0, time.process_time() - c0
  x0 = np.asarray(w["x0"], np.float64).ravel()
  initial = model.value_and_grad(x0)[0]
  per_eval, per_eval_cpu = common.median_eval_seconds(lambda: model.value_and_grad(x0), repeats)
  return dict(setup_s=setup_s, per_eval_s=per_eval, n_evals=opt["n_evals"], n_iter=opt["n_iter"],
              initial_loss=initial, final_loss=opt["final_loss"], opt_s=opt["opt_s"],
              phase_s=phase_s, end_to_end_s=end_to_end, trace=opt["trace"], trace_timed=True,
              stop=opt["message"], peak_rss_mb=common.peak_rss_mb(), setup_cpu_s=setup_cpu,
              opt_cpu_s=opt["opt_cpu_s"], phase_cpu_s=phase_cpu, end_to_end_cpu_s=end_to_end_cpu,
              per_eval_cpu_s=per_eval_cpu)


def ours_setup(kernel: np.ndarray, bf16: bool = False):
  """Our Ulyanov net and loss on a given kernel: ``(features_fn, params, LossConfig)``.

  The same module and loss as ``specst_jax.style.nets.ulyanov_net`` (a test checks it),
  without drawing its random kernel. ``bf16``: the convolution's operands in bfloat16
  (accumulation, the loss and the optimiser in float32).
  """
  import jax.numpy as jnp

  from specst_jax.models.ulyanov import UlyanovNet
  from specst_jax.style import optimize

  dtype = jnp.bfloat16 if bf16 else jnp.float32
  fn = optimize.NetFeatures(UlyanovNet(filters=kernel.shape[-1], kernel_width=kernel.shape[0],
                                       compute_dtype=dtype), ("conv",))
  cfg = optimize.LossConfig(style_layers=(("conv", 1.0),),
                            content_layers=(("conv", common.ALPHA),),
                            style_normalization="input_frames", content_normalization="sum")
  return fn, {"params": {"kernel": jnp.asarray(kernel)}}, cfg


def _ours_child(w: dict, n_iter: int, ftol: float, phase_iter: int, repeats: int,
                run_phase: bool, use_scipy: bool = False, bf16: bool = False) -> dict:
  import jax
  import jax.numpy as jnp

  from specst_jax import phase, scaling
  from specst_jax.style import optimize

  t0, c0 = time.perf_counter(), time.process_time()
  fn, params, cfg = ours_setup(w["kernel"], bf16)
  x_c, x_s, x0 = (jnp.asarray(w[k]) for k in ("content", "style", "x0"))
  make_targets = jax.jit(lambda p, c, s: optimize.make_targets(fn, p, c, [s], cfg))
  vg = jax.jit(jax.value_and_grad(lambda x, p, t: optimize.loss_terms(
      x, p, t, features_fn=fn, config=cfg)["total"]))
  if use_scipy:
    targets = jax.block_until_ready(make_targets(params, x_c, x_s))
    vg_c = vg.lower(x0, params, targets).compile()
    setup_s, setup_cpu = time.perf_counter() - t0, time.process_time() - c0

    def value_and_grad(v):
      f, g = vg_c(jnp.asarray(v.reshape(x0.shape), jnp.float32), params, targets)
      return float(f), np.asarray(g, np.float64).ravel()

    opt = common.lbfgs(value_and_grad, np.asarray(x0), n_iter)
    x_opt = jnp.asarray(opt["x"].reshape(x0.shape), jnp.float32)
    opt_s, opt_cpu = opt["opt_s"], opt["opt_cpu_s"]
  else:
    # As the library's style loop (transfer.Optimizer): the targets and the optimisation in
    # one compiled program.
    run = jax.jit(lambda p, c, s, x: optimize.run_style_transfer(
        p, x, optimize.make_targets(fn, p, c, [s], cfg), features_fn=fn, config=cfg,
        optimizer="lbfgs", n_iter=n_iter, ftol=ftol))
    compiled = run.lower(params, x_c, x_s, x0).compile()
    setup_s, setup_cpu = time.perf_counter() - t0, time.process_time() - c0
    t1, c1 = time.perf_counter(), time.process_time()
    result = jax.block_until_ready(compiled(params, x_c, x_s, x0))
    opt_s, opt_cpu = time.perf_counter() - t1, time.process_time() - c1
    x_opt = result.x
    targets = jax.block_until_ready(make_targets(params, x_c, x_s))  # for the timings below
  t2, c2 = time.perf_counter(), time.process_time()
  if run_phase:
    S_r = scaling.expm1_magnitude(x_opt)
    y = jax.block_until_ready(phase.reconstruct(
        S_r, n_fft=N_FFT, hop_length=HOP, method="gla", n_iter=phase_iter,
        key=jax.random.key(int(w["seed"])), length=int(w["length"])))
    if not np.all(np.isfinite(np.asarray(y))):
      raise FloatingPointError("ours: non-finite audio")
  phase_s, phase_cpu = time.perf_counter() - t2, time.process_time() - c2
  end_to_end, end_to_end_cpu = time.perf_counter() - t0, time.process_time() - c0
  initial = float(vg(x0, params, targets)[0])
  per_eval, per_eval_cpu = common.median_eval_seconds(
      lambda: jax.block_until_ready(vg(x0, params, targets)), repeats)
  cpu = dict(setup_cpu_s=setup_cpu, opt_cpu_s=opt_cpu, phase_cpu_s=phase_cpu,
             end_to_end_cpu_s=end_to_end_cpu, per_eval_cpu_s=per_eval_cpu)
  if use_scipy:
    return dict(setup_s=setup_s, per_eval_s=per_eval, n_evals=opt["n_evals"],
                n_iter=opt["n_iter"], initial_loss=initial, final_loss=opt["final_loss"],
                opt_s=opt_s, phase_s=phase_s, end_to_end_s=end_to_end, trace=opt["trace"],
                trace_timed=True, stop=opt["message"], peak_rss_mb=common.peak_rss_mb(), **cpu)
  n_done = int(result.n_iter)
  stop = optimize.stop_reason_name(result.stop_reason)
  curve = [float(v) for v in np.asarray(result.losses)[:n_done]] + [float(result.final["total"])]
  trace = [(opt_s * i / max(n_done, 1), f, opt_cpu * i / max(n_done, 1))
           for i, f in enumerate(curve)]
  return dict(setup_s=setup_s, per_eval_s=per_eval, n_evals=int(result.n_evals), n_iter=n_done,
              initial_loss=initial, final_loss=float(result.final["total"]), opt_s=opt_s,
              phase_s=phase_s, end_to_end_s=end_to_end, trace=trace, trace_timed=False,
              stop=f"{stop} (relative decrease <= {ftol:.3g}, pgtol 1e-5 or {n_iter} iterations)",
              rel_decrease_tol=ftol, peak_rss_mb=common.peak_rss_mb(), **cpu)


def child_main() -> None:
  with np.load(_WORKLOAD.value) as f:
    w = {k: f[k] for k in f.files}
  n_iter = _CHILD_N_ITER.value or _N_ITER.value
  if _CHILD.value in ("tf", "torch"):
    out = _peer_child(_CHILD.value, w, n_iter, _PHASE_ITER.value, _REPEATS.value,
                      _CHILD_PHASE.value)
  else:
    out = _ours_child(w, n_iter, _CHILD_FTOL.value, _PHASE_ITER.value, _REPEATS.value,
                      _CHILD_PHASE.value, _CHILD_SCIPY.value, _CHILD_BF16.value)
  Path(_CHILD_OUT.value).write_text(json.dumps(out))


def _spawn(name: str, workload: Path, tmp: Path, extra: list[str]) -> dict:
  return _finish(_start(name, workload, tmp, extra))


def _start(name: str, workload: Path, tmp: Path, extra: list[str]):
  out = tmp / f"{name}.json"
  child = "ours" if name.startswith("ours") else name
  cmd = [sys.executable, "-m", "experiments.bench_style", f"--child={child}",
         f"--workload={workload}", f"--child_out={out}", f"--n_iter={_N_ITER.value}",
         f"--phase_iter={_PHASE_ITER.value}", f"--eval_repeats={_REPEATS.value}", *extra]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  err = open(tmp / f"{name}.stderr", "w")  # noqa: SIM115 (closed in _finish)
  proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
  return name, proc, out, err, time.perf_counter()


def _finish(handle) -> dict:
  name, proc, out, err, t0 = handle
  proc.wait()
  err.close()
  if proc.returncode != 0 or not out.exists():
    tail = "\n".join(Path(err.name).read_text().strip().splitlines()[-15:])
    raise RuntimeError(f"{name} failed (exit {proc.returncode}):\n{tail}")
  result = json.loads(out.read_text())
  result["process_s"] = time.perf_counter() - t0
  return result


def _record(results: dict, name: str, r: dict) -> None:
  results[name] = r
  print(f"{name}: end to end {r['end_to_end_s']:.1f} s ({r['end_to_end_cpu_s']:.0f} CPU s), "
        f"{r['per_eval_s']:.3g} s/eval ({r['per_eval_cpu_s']:.3g} CPU s), {r['n_evals']} evals, "
        f"{r['n_iter']} iterations, final loss {r['final_loss']:.6g}, "
        f"load {os.getloadavg()[0]:.2f}", flush=True)
  if _OUTPUT.value:  # completed children survive a later failure
    partial = Path(_OUTPUT.value + ".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_text(json.dumps(results) + "\n")


def _ours_to_loss(r: dict, goals: dict[str, float], workload: Path, tmp: Path,
                  name: str = "ours", extra: list[str] | None = None) -> None:
  """Times reruns of ``name`` (ours or a variant, with its child flags ``extra``; one at a time:
  the machine is the rerun's alone) stopped after the first iteration reaching each goal."""
  for key, goal in goals.items():
    k = iterations_to_loss([p[1] for p in r["trace"]], goal)
    r[f"time_to_{key}_loss_s"] = None if k is None else r["setup_s"]
    r[f"time_to_{key}_loss_cpu_s"] = None if k is None else r["setup_cpu_s"]
    if not k:
      continue
    rerun = _spawn(f"{name}_to_{key}", workload, tmp, [
        *(extra or []), f"--child_n_iter={k}", f"--child_ftol={r['rel_decrease_tol']}",
        "--nochild_phase", "--eval_repeats=1"])
    r[f"time_to_{key}_loss_s"] = rerun["setup_s"] + rerun["opt_s"]
    r[f"time_to_{key}_loss_cpu_s"] = rerun["setup_cpu_s"] + rerun["opt_cpu_s"]
    r[f"time_to_{key}_loss_run"] = {"n_iter": k, "final_loss": rerun["final_loss"],
                                    "setup_s": rerun["setup_s"], "opt_s": rerun["opt_s"],
                                    "setup_cpu_s": rerun["setup_cpu_s"],
                                    "opt_cpu_s": rerun["opt_cpu_s"]}
    print(f"{name}: loss <= {goal:.6g} after {k} iterations; a rerun stopped there took "
          f"{rerun['setup_s'] + rerun['opt_s']:.1f} s (set-up included), loss "
          f"{rerun['final_loss']:.6g}", flush=True)


# ----------------------------------------------------------------------------- analysis

def iterations_to_loss(curve: list[float], target: float) -> int | None:
  """First ``i`` with ``curve[i] <= target`` (``curve[i]``: the loss after ``i`` iterations)."""
  for i, f in enumerate(curve):
    if f <= target:
      return i
  return None


def eval_flops(frames: int, style_frames: int, n_bins: int, filters: int, width: int) -> dict:
  """FLOPs of one loss-and-gradient evaluation (multiply-add = 2), by term.

  ``conv``: the forward convolution and its input gradient (two ``[T', W B] x [W B, F]``
  products); ``frame_products``: ``F F^T``, ``F S^T`` and their gradients (ours);
  ``explicit_gram``: ``F^T F`` and its gradient (the twins' form).
  """
  t, ts = frames - width + 1, style_frames - width + 1
  conv = 2 * (2 * t * width * n_bins * filters)
  frame_products = 2 * (2 * t * t * filters + 2 * t * ts * filters)
  explicit = 2 * (2 * t * filters * filters)
  return {"conv": conv, "frame_products": frame_products, "explicit_gram": explicit,
          "ours": conv + frame_products, "twins": conv + explicit}


def _median_time(fn, repeats: int = 7) -> float:
  fn()
  ts = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    fn()
    ts.append(time.perf_counter() - t0)
  return float(np.median(ts))


def roofline(frames: int, n_bins: int, filters: int, width: int) -> dict:
  """Measured GFLOP/s of the conv's matmul shape: XLA float32, XLA bfloat16, numpy float32."""
  import jax
  import jax.numpy as jnp

  t, k = frames - width + 1, width * n_bins
  rng = np.random.default_rng(0)
  a = rng.standard_normal((t, k), dtype=np.float32)
  b = rng.standard_normal((k, filters), dtype=np.float32)
  flops = 2.0 * t * k * filters
  f32 = jax.jit(lambda x, y: jnp.dot(x, y))
  bf16 = jax.jit(lambda x, y: jnp.dot(x, y, preferred_element_type=jnp.float32))
  a32, b32 = jnp.asarray(a), jnp.asarray(b)
  a16, b16 = a32.astype(jnp.bfloat16), b32.astype(jnp.bfloat16)
  out = {
      "shape": [t, k, filters],
      "xla_f32_gflops": flops / _median_time(lambda: f32(a32, b32).block_until_ready()) / 1e9,
      "xla_bf16_gflops": flops / _median_time(lambda: bf16(a16, b16).block_until_ready()) / 1e9,
      "numpy_f32_gflops": flops / _median_time(lambda: a @ b) / 1e9,
  }
  return out


# ----------------------------------------------------------------------------- report

def _ratio(a, b):
  return None if a is None or b is None or b == 0 else a / b


def summarize(results: dict, reference: str = "tf", tolerance: float = 0.01) -> None:
  """Adds the times to the reference loss (exact and near) and ``ratios`` to each result."""
  ref = results.get(reference)
  for r in results.values():
    for key, scale in (("reference", 1.0), ("near_reference", 1.0 + tolerance)):
      if ref is not None and r.get("trace_timed"):
        t = common.time_to_loss(r["trace"], ref["final_loss"] * scale)
        r[f"time_to_{key}_loss_s"] = None if t is None else r["setup_s"] + t
        if "setup_cpu_s" in r and len(r["trace"][0]) > 2:
          t = common.time_to_loss(r["trace"], ref["final_loss"] * scale, column=2)
          r[f"time_to_{key}_loss_cpu_s"] = None if t is None else r["setup_cpu_s"] + t
      r.setdefault(f"time_to_{key}_loss_s", None)
      r.setdefault(f"time_to_{key}_loss_cpu_s", None)
  for r in results.values():
    r["ratios"] = {
        "per_eval": _ratio(r["per_eval_s"], ref and ref["per_eval_s"]),
        "end_to_end": _ratio(r["end_to_end_s"], ref and ref["end_to_end_s"]),
        "time_to_reference_loss": _ratio(r["time_to_reference_loss_s"],
                                         ref and ref["time_to_reference_loss_s"]),
        "time_to_near_reference_loss": _ratio(r["time_to_near_reference_loss_s"],
                                              ref and ref["time_to_near_reference_loss_s"]),
        "peak_rss": _ratio(r["peak_rss_mb"], ref and ref["peak_rss_mb"]),
    }
    r["ratios_cpu"] = {
        key: _ratio(r.get(f"{col}_cpu_s"), ref and ref.get(f"{col}_cpu_s"))
        for key, col in (("per_eval", "per_eval"), ("end_to_end", "end_to_end"),
                         ("time_to_reference_loss", "time_to_reference_loss"),
                         ("time_to_near_reference_loss", "time_to_near_reference_loss"))}


def _fmt(v, spec=".3g"):
  return "-" if v is None else format(v, spec)


def table(results: dict) -> str:
  rows = [("set-up (s)", "setup_s", ".3g"), ("s per loss-and-gradient eval", "per_eval_s", ".3g"),
          ("evaluations", "n_evals", "d"), ("iterations", "n_iter", "d"),
          ("initial loss", "initial_loss", ".7g"), ("final loss", "final_loss", ".6g"),
          ("optimisation (s)", "opt_s", ".4g"), ("phase, Griffin-Lim (s)", "phase_s", ".3g"),
          ("end to end (s)", "end_to_end_s", ".4g"),
          ("time to TF twin's final loss (s)", "time_to_reference_loss_s", ".4g"),
          ("time to within tolerance of it (s)", "time_to_near_reference_loss_s", ".4g"),
          ("CPU s per eval", "per_eval_cpu_s", ".3g"),
          ("CPU s end to end", "end_to_end_cpu_s", ".4g"),
          ("CPU s to TF twin's final loss", "time_to_reference_loss_cpu_s", ".4g"),
          ("CPU s to within tolerance", "time_to_near_reference_loss_cpu_s", ".4g"),
          ("peak RSS (MiB)", "peak_rss_mb", ".0f")]
  names = list(results)
  lines = ["| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
  for label, key, spec in rows:
    cells = " | ".join(_fmt(results[n].get(key), spec) for n in names)
    lines.append(f"| {label} | {cells} |")
  for key in ("per_eval", "end_to_end", "time_to_reference_loss", "time_to_near_reference_loss",
              "peak_rss"):
    lines.append(f"| ratio to TF: {key} | " + " | ".join(
        _fmt(results[n]["ratios"][key], ".3f") for n in names) + " |")
  for key in ("per_eval", "end_to_end", "time_to_reference_loss", "time_to_near_reference_loss"):
    lines.append(f"| CPU-time ratio to TF: {key} | " + " | ".join(
        _fmt(results[n]["ratios_cpu"][key], ".3f") for n in names) + " |")
  return "\n".join(lines)


def plot(results: dict, path: Path) -> None:
  """Best loss so far against wall seconds (left) and process CPU seconds (right)."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  from specst_jax import plotting

  fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
  for name, r in results.items():
    trace = np.array(r["trace"], dtype=float)
    f = np.minimum.accumulate(trace[:, 1])
    label = name + ("" if r["trace_timed"] else " (iterations spaced evenly)")
    axes[0].plot(trace[:, 0] + r["setup_s"], f, label=label)
    if trace.shape[1] > 2 and "setup_cpu_s" in r:
      axes[1].plot(trace[:, 2] + r["setup_cpu_s"], f, label=label)
  axes[0].set_yscale("log")
  axes[0].set_xlabel("wall seconds since the start of set-up")
  axes[1].set_xlabel("process CPU seconds since the start of set-up")
  axes[0].set_ylabel("best loss so far")
  for ax in axes:
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
  plotting.save_figure(fig, path)


def run_kernel(seed: int) -> dict:
  """One full side-by-side comparison on the kernel, x0 and phases of ``seed``."""
  info_start = machine.describe()
  t_all = time.perf_counter()
  w = make_workload(_DATA.value, _SECONDS.value, _FILTERS.value, seed)
  data_files = w.pop("files")  # recorded by the provenance (not an array for the children)
  frames, n_bins = w["content"].shape
  print(machine.header(info_start))
  print(f"kernel seed {seed}; workload: {w['source']}; {_SECONDS.value:g} s at {SR} Hz, n_fft "
        f"{N_FFT}, hop {HOP}: {frames} frames x {n_bins} bins; {_FILTERS.value} filters x "
        f"{WIDTH}; L-BFGS {_N_ITER.value} iterations; GLA {_PHASE_ITER.value}", flush=True)
  results = {}
  with tempfile.TemporaryDirectory(prefix="bench_style_") as tmp:
    tmp = Path(tmp)
    workload = tmp / "workload.npz"
    np.savez(workload, **w)
    names = [n for n in dict.fromkeys(_IMPLS.value)
             if not (n == "ours_early_stop" and _EARLY.value <= 0)]
    extras = {"ours_early_stop": [f"--child_ftol={_EARLY.value}"],
              "ours_scipy": ["--child_scipy"], "ours_bf16": ["--child_bf16"]}
    jobs = max(1, _JOBS.value) if _PARALLEL.value else 1
    running, queue = [], list(names)  # in the order given, at most `jobs` at a time
    while queue or running:
      while queue and len(running) < jobs:
        name = queue.pop(0)
        running.append(_start(name, workload, tmp, extras.get(name, [])))
      done = next((h for h in running if h[1].poll() is not None), None)
      if done is None:
        time.sleep(1.0)
        continue
      running.remove(done)
      _record(results, done[0], _finish(done))
    results = {n: results[n] for n in names}
    if _RERUNS.value and "tf" in results and "ours" in results:
      target = results["tf"]["final_loss"]
      goals = {"reference": target, "near_reference": target * (1 + _TOL.value)}
      for name in ("ours", "ours_bf16"):
        if name in results:
          _ours_to_loss(results[name], goals, workload, tmp, name, extras.get(name))
  summarize(results, tolerance=_TOL.value)
  flops = eval_flops(frames, w["style"].shape[0], n_bins, _FILTERS.value, WIDTH)
  roof = roofline(frames, n_bins, _FILTERS.value, WIDTH)
  for key in ("xla_f32", "numpy_f32"):
    bound = flops["ours"] / (roof[f"{key}_gflops"] * 1e9)
    roof[f"ours_bound_s_{key}"] = bound
    if "ours" in results:
      roof[f"ours_per_eval_over_bound_{key}"] = results["ours"]["per_eval_s"] / bound
  info_end = machine.describe()
  initial = {n: r["initial_loss"] for n, r in results.items()}
  spread = (max(initial.values()) - min(initial.values())) / max(abs(min(initial.values())), 1e-30)

  print()
  print(table(results))
  print("\ninitial loss at the shared x0: "
        + ", ".join(f"{n} {v:.7g}" for n, v in initial.items())
        + f" (relative spread {spread:.1e})")
  print(f"FLOPs per evaluation: ours (frame products) {flops['ours'] / 1e9:.2f} G, the twins "
        f"(explicit {_FILTERS.value}^2 Gram) {flops['twins'] / 1e9:.2f} G")
  print(f"matmul {roof['shape']}: XLA f32 {roof['xla_f32_gflops']:.1f} GFLOP/s, XLA bf16 "
        f"{roof['xla_bf16_gflops']:.1f}, numpy f32 {roof['numpy_f32_gflops']:.1f}; bound per "
        f"eval {roof['ours_bound_s_xla_f32']:.3g} s (XLA), "
        f"{roof['ours_bound_s_numpy_f32']:.3g} s (numpy)"
        + (f"; ours per eval = {roof['ours_per_eval_over_bound_xla_f32']:.2f}x the XLA bound"
           if "ours_per_eval_over_bound_xla_f32" in roof else ""))
  amx = info_start["amx"]
  print(f"AMX: {', '.join(amx) if amx else 'not reported by lscpu (no AMX on this CPU)'}; "
        f"avx512_bf16: {'yes' if info_start['avx512_bf16'] else 'no'}; bf16/f32 XLA matmul speed "
        f"{roof['xla_bf16_gflops'] / roof['xla_f32_gflops']:.2f}x")
  print(machine.header(info_end) + f"; kernel {seed}: {time.perf_counter() - t_all:.0f} s",
        flush=True)
  return dict(seed=seed, machine_start=info_start, machine_end=info_end,
              source=str(w["source"]), data_files=data_files, frames=int(frames),
              bins=int(n_bins),
              initial_loss_relative_spread=spread, flops=flops, roofline=roof,
              implementations={n: {k: v for k, v in r.items() if k != "trace"}
                               for n, r in results.items()},
              traces={n: r["trace"][:: max(1, len(r["trace"]) // 400)] + r["trace"][-1:]
                      for n, r in results.items()},
              results=results)


def headline(kernels: list[dict]) -> dict:
  """Per kernel: ours' time to the TF twin's final loss over the TF twin's time to it
  (``time_to_reference_loss``) and over the TF twin's end-to-end time (optimisation and phase),
  whether ours ends at or below the TF twin's final loss, and the bfloat16 variant's figures."""
  def impl(k, name):
    return k["implementations"].get(name, {})

  ratios = [impl(k, "ours").get("ratios", {}).get("time_to_reference_loss") for k in kernels]
  at_or_below = [impl(k, "ours").get("final_loss", np.inf) <= impl(k, "tf").get("final_loss",
                                                                               -np.inf)
                 for k in kernels]
  known = [r for r in ratios if r is not None]
  over_end_to_end = [_ratio(impl(k, "ours").get("time_to_reference_loss_s"),
                            impl(k, "tf").get("end_to_end_s")) for k in kernels]
  return {"seeds": [k["seed"] for k in kernels], "time_to_reference_loss": ratios,
          "time_to_reference_loss_over_tf_end_to_end": over_end_to_end,
          "time_to_reference_loss_worst": max(known) if len(known) == len(ratios) else None,
          "ours_final_at_or_below_tf": at_or_below,
          "bf16_per_eval": [impl(k, "ours_bf16").get("ratios", {}).get("per_eval")
                            for k in kernels],
          "bf16_time_to_reference_loss": [
              impl(k, "ours_bf16").get("ratios", {}).get("time_to_reference_loss")
              for k in kernels],
          "bf16_final_loss_over_ours": [
              _ratio(impl(k, "ours_bf16").get("final_loss"), impl(k, "ours").get("final_loss"))
              for k in kernels]}


def main(argv):
  del argv
  if _CHILD.value:
    child_main()
    return 0
  unknown = set(_IMPLS.value) - set(IMPLS)
  if unknown:
    raise app.UsageError(f"--impls: unknown {sorted(unknown)}; choose from {IMPLS}")
  seeds = [int(v) for v in _SEEDS.value]
  kernels = []
  for seed in seeds:
    kernels.append(run_kernel(seed))
    _write(kernels, final=False)
  out = _write(kernels, final=True)
  print("\nheadline: " + json.dumps(out["ratios"]))
  return 0


def _write(kernels: list[dict], *, final: bool) -> dict:
  """The JSON (``--output``; ``.partial`` beside it until every kernel is done) and figure."""
  settings = dict(seconds=_SECONDS.value, sr=SR, n_fft=N_FFT, hop=HOP, filters=_FILTERS.value,
                  width=WIDTH, n_iter=_N_ITER.value, phase_iter=_PHASE_ITER.value,
                  early_stop_rel_decrease=_EARLY.value, scipy_ftol=SCIPY_FTOL,
                  seeds=[k["seed"] for k in kernels],
                  source=kernels[0]["source"] if kernels else None)
  data = sorted({f for kernel in kernels for f in kernel["data_files"]})
  out = dict(settings=settings, provenance=provenance.record(argv=sys.argv, data=data),
             ratios=headline(kernels),
             kernels=[{k: v for k, v in kernel.items() if k not in ("results", "data_files")}
                      for kernel in kernels])
  if _OUTPUT.value:
    path = Path(_OUTPUT.value + ("" if final else ".partial"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
  if final and _FIGURE.value and kernels:
    fig = Path(_FIGURE.value)
    if not fig.is_absolute() and _OUTPUT.value:
      fig = Path(_OUTPUT.value).parent / fig
    plot(kernels[0]["results"], fig)
  return out


if __name__ == "__main__":
  app.run(main)
