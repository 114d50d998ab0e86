r"""Benchmarks of batch style transfer: FLOPs per evaluation, and items per second.

  python -m experiments.bench_batch --mode=flops --seconds=4          # per net, XLA's count
  python -m experiments.bench_batch --mode=throughput --pairs=48 --output_dir=/tmp/bench_batch
  python -m experiments.bench_batch --mode=pairs --pairs=200 --output_dir=/tmp/b200   # a manifest

``flops``: for each network at its default settings (random weights; Wyse at its trained
16 kHz STFT, n_fft 512, hop 128), a ``--seconds`` content and style clip: the FLOPs of one
loss-and-gradient evaluation as XLA's cost analysis counts them (``compiled.cost_analysis()``),
next to the hand count of the convolutions (forward + input gradient; no weight gradients),
and the measured seconds per evaluation on this machine (median of 5 after a warm-up).

``throughput``: writes ``--pairs`` tiny pairs (built-in signals, 8 kHz, 0.4-1.6 s) and a
manifest, then runs ``experiments.batch_style`` (the ``cpu`` preset) as fresh subprocesses for
each case: batch size 1 / 4 / 8 with one bucket, batch 8 with 1 vs 3 buckets, and 2 processes
(jax.distributed on localhost) vs 1 at batch 8. Items per second = items / wall time of the
whole command (start-up and compilation included), and items / the engine-call seconds less
compilation. Compile / optimise / phase seconds are per process (summed over its calls, from
the items' metrics.json). No persistent compilation cache, so every case compiles.

``phase``: the batch engine's phase stage (``transfer.to_audio`` of a whole batch with one key
per pair, as ``batch.engine.StyleEngine.run`` calls it) on one device and with the pair axis
sharded over ``--devices`` devices (on a CPU simulated host devices,
``XLA_FLAGS=--xla_force_host_platform_device_count``; on an accelerator its own chips), each in
a fresh subprocess: seconds per batch (median of 3 after a warm-up call), the ratio, and the
largest difference between the two results (they must agree: the same keys, the same pairs).
``--devices=1`` runs the one-device case alone (no ratio). ``--output``: the result as JSON.

``pairs``: writes ``--output_dir/pairs.csv``, a realistic manifest of ``--pairs`` rows for a
test run of the tool: contents are the 32 LJSpeech clips, ESC-50 clips and generated signals
of 0.5-1.9 s (written to ``--output_dir/signals``); styles are ESC-50 clips (every 20th row two
of them, ``a;b``); every 25th row has its own ``seed``. Deterministic (numpy seed 0).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from absl import app, flags

_MODE = flags.DEFINE_enum("mode", "flops", ["flops", "throughput", "phase", "pairs"],
                          "what to do")
_SECONDS = flags.DEFINE_float("seconds", 4.0, "flops: clip length (s)")
_PAIRS = flags.DEFINE_integer("pairs", 48, "throughput: pairs in the manifest")
_OUT = flags.DEFINE_string("output_dir", "/tmp/bench_batch", "throughput: work folder")
_CASES = flags.DEFINE_list("cases", None, "throughput: run only these case names")
_DATA = flags.DEFINE_string("data_dir", "../shared/data", "pairs: the shared data folder")
_DEVICES = flags.DEFINE_integer("devices", 8, "phase: devices of the sharded case (simulated "
                                "on a CPU; 1: the one-device case only)")
_BATCH = flags.DEFINE_integer("batch", 8, "phase: pairs per batch")
_NET = flags.DEFINE_string("net", "wyse", "phase: the net whose settings (STFT, phase method) "
                           "are used")
_JSON = flags.DEFINE_string("output", "", "phase: also write the result as JSON here")
_CHILD_DEVICES = flags.DEFINE_integer("child_devices", 0, "internal: run one phase case")
_CHILD_OUT = flags.DEFINE_string("child_out", "", "internal: the phase case's .npz")


def _flops(seconds: float) -> list[dict]:
  import jax
  import jax.numpy as jnp

  from specst_jax import representations, signals
  from specst_jax.style import nets, optimize, transfer
  rows = []
  for name in nets.NETS:
    s = transfer.Settings.for_net(name, {"weights": "random"} if name != "ulyanov" else {})
    if name == "wyse":  # the shipped weights' STFT
      s = transfer.Settings.for_net(name, dict(weights="random", sr=16000, n_fft=512,
                                               hop_length=128, center=False))
    sr = s.stft.sr
    c = signals.make_signal("vowel_glide", sr=sr, duration=seconds)
    st = signals.make_signal("chirps", sr=sr, duration=seconds)
    net = nets.build(name, jax.random.key(0), s.stft.n_bins, None,
                     content_weight=s.content_weight, style_weight=s.style_weight,
                     filters=s.filters)
    x_c = representations.encode(net.representation, s.stft.magnitude(jnp.asarray(c)), s.stft)
    x_s = representations.encode(net.representation, s.stft.magnitude(jnp.asarray(st)), s.stft)
    targets = optimize.make_targets(net.features_fn, net.params, x_c, [x_s], net.config)

    def loss(x, params, targets, net=net):
      return optimize.loss_terms(x, params, targets, features_fn=net.features_fn,
                                 config=net.config)["total"]

    fn = jax.jit(jax.value_and_grad(loss))
    compiled = fn.lower(x_c, net.params, targets).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    jax.block_until_ready(compiled(x_c, net.params, targets))
    times = []
    for _ in range(5):
      t0 = time.perf_counter()
      jax.block_until_ready(compiled(x_c, net.params, targets))
      times.append(time.perf_counter() - t0)
    rows.append(dict(net=name, seconds=seconds, sr=sr, n_fft=s.stft.n_fft,
                     hop=s.stft.hop_length, x_shape=list(x_c.shape),
                     xla_gflop=float(cost.get("flops", float("nan"))) / 1e9,
                     hand_gflop=_hand_gflop(name, x_c.shape, s) / 1e9,
                     s_per_eval=statistics.median(times)))
  return rows


def _hand_gflop(name: str, shape, s) -> float:
  """2 x multiply-adds of the convolutions, forward and input gradient (no weight grads)."""
  if name == "ulyanov":
    frames, bins = shape
    out = frames - 11 + 1
    return 2 * (2.0 * out * 11 * bins * s.filters)
  if name == "wyse":  # conv1 [5, bins -> 2048], pool 2, conv2 [5, 2048 -> 64] (VALID)
    frames, bins = shape
    f1 = frames - 4
    f2 = f1 // 2 - 4
    return 2 * (2.0 * f1 * 5 * bins * 2048 + 2.0 * f2 * 5 * 2048 * 64)
  h, w, _ = shape  # VGG-19 up to conv5_1: 3x3 SAME convs, a 2x2 pool before each block
  from specst_jax.models import vgg19
  channels = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}
  total, c_in = 0.0, 3
  for layer in vgg19.CONV_LAYERS[:vgg19.CONV_LAYERS.index("conv5_1") + 1]:
    block = int(layer[4])
    scale, c_out = 2 ** (block - 1), channels[block]
    total += 2.0 * (h // scale) * (w // scale) * 9 * c_in * c_out
    c_in = c_out
  return 2 * total


def _write_pairs(folder: Path, n: int) -> Path:
  from specst_jax import audio, signals
  folder.mkdir(parents=True, exist_ok=True)
  names = list(signals.SIGNALS)
  lengths = (0.4, 0.7, 1.0, 1.3, 1.6)
  lines = ["id,content,style"]
  for i in range(n):
    c = signals.make_signal(names[i % 4], sr=8000, duration=lengths[i % 5])
    s = signals.make_signal(names[(i + 1) % 4], sr=8000, duration=lengths[(i + 2) % 5])
    audio.save_audio(folder / f"c{i}.wav", c, 8000)
    audio.save_audio(folder / f"s{i}.wav", s, 8000)
    lines.append(f"p{i:04d},c{i}.wav,s{i}.wav")
  (folder / "pairs.csv").write_text("\n".join(lines) + "\n")
  return folder / "pairs.csv"


def _realistic_pairs(n: int, out: Path, data: Path) -> Path:
  from specst_jax import audio, signals
  rng = np.random.default_rng(0)
  data = data.resolve()
  speech = sorted((data / "speech" / "ljspeech").glob("*.flac"))
  esc = sorted((data / "esc50_16k" / "audio").glob("*.flac"))
  if not speech or not esc:
    raise app.UsageError(f"--data_dir={data}: no LJSpeech / ESC-50 clips found")
  (out / "signals").mkdir(parents=True, exist_ok=True)
  names = list(signals.SIGNALS)
  lines = ["id,content,style,seed"]
  for i in range(n):
    kind = i % 4
    if kind == 0:
      content = speech[(i // 4) % len(speech)]
    elif kind == 1:
      content = esc[rng.integers(len(esc))]
    else:  # generated, 0.5 - 1.9 s (padded into the 1 s and 2 s buckets)
      content = out / "signals" / f"g{i:04d}.wav"
      audio.save_audio(content, signals.make_signal(
          names[i % len(names)], sr=8000, duration=float(rng.uniform(0.5, 1.9))), 8000)
    styles = [esc[rng.integers(len(esc))] for _ in range(2 if i % 20 == 19 else 1)]
    seed = "1" if i % 25 == 24 else ""
    lines.append(f"r{i:04d},{content},{';'.join(map(str, styles))},{seed}")
  (out / "pairs.csv").write_text("\n".join(lines) + "\n")
  return out / "pairs.csv"


CASES = {  # name -> (batch size, bucket seconds, processes)
    "b1_1bucket": (1, "1.6", 1), "b4_1bucket": (4, "1.6", 1), "b8_1bucket": (8, "1.6", 1),
    "b8_3buckets": (8, "0.5,1.0,1.6", 1), "b8_1bucket_2proc": (8, "1.6", 2),
}


def _throughput(n_pairs: int, out: Path, only) -> list[dict]:
  manifest = _write_pairs(out / "data", n_pairs)
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  rows = []
  for name, (batch, buckets, nproc) in CASES.items():
    if only and name not in only:
      continue
    run_dir = out / name
    cmd = [sys.executable, "-m", "experiments.batch_style", f"--manifest={manifest}",
           f"--output_dir={run_dir}", "--config=experiments/configs/batch.py:cpu",
           f"--batch_size={batch}", f"--config.bucket_seconds=({buckets},)",
           "--noauto_distributed"]
    with socket.socket() as sock:
      sock.bind(("localhost", 0))
      port = sock.getsockname()[1]
    extra = [[]] if nproc == 1 else [
        [f"--coordinator_address=localhost:{port}", f"--num_processes={nproc}",
         f"--process_id={k}"] for k in range(nproc)]
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    procs = [subprocess.Popen(cmd + e, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for e in extra]
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - t0
    summary = json.loads((run_dir / "summary.json").read_text())
    batches = {}
    for it in summary["items"]:
      m = json.loads((run_dir / "items" / it["id"] / "metrics.json").read_text())
      batches[(m["process"], m["batch"]["seconds"])] = m["batch"]  # one per engine call
    per_proc = {k: sum(b.get(f"{k}_s", 0.0) for b in batches.values()) / nproc
                for k in ("compile", "optimize", "phase")}
    busy = sum(b["seconds"] for b in batches.values()) / nproc - per_proc["compile"]
    rows.append(dict(case=name, batch=batch, buckets=buckets, processes=nproc,
                     ok=summary["n_ok"], codes=codes, wall_s=wall, calls=len(batches),
                     partial=sum(b["real_items"] < b["size"] for b in batches.values()),
                     items_per_s=summary["n_ok"] / wall, **{f"{k}_s": v for k, v in
                                                            per_proc.items()},
                     steady_items_per_s=summary["n_ok"] / max(busy, 1e-9),
                     load_start=load0, load_end=os.getloadavg()[0]))
    print(json.dumps(rows[-1]), flush=True)
  return rows


def _phase_settings(net: str):
  from specst_jax.style import transfer
  if net == "wyse":  # the shipped weights' STFT and the engine's phase defaults
    return transfer.Settings.for_net(net, dict(weights="random", sr=16000, n_fft=512,
                                               hop_length=128, center=False))
  return transfer.Settings.for_net(net, {})


def _phase_child(n_devices: int, batch: int, seconds: float, net: str, out: Path) -> None:
  """One case: the phase stage of a ``[batch, frames, bins]`` batch over ``n_devices``."""
  import jax
  import jax.numpy as jnp
  from jax.sharding import Mesh, NamedSharding, PartitionSpec

  from specst_jax import representations, signals
  from specst_jax.style import transfer
  settings = _phase_settings(net)
  stft, rep = settings.stft, transfer.nets.get(net).representation
  names = list(signals.SIGNALS)
  audio = np.stack([signals.make_signal(names[i % len(names)], sr=stft.sr, duration=seconds)
                    for i in range(batch)])
  S = transfer.magnitudes(stft, audio, "signals")
  x = representations.encode(rep, S, stft)
  ref = jnp.max(S, axis=(-2, -1), keepdims=True) if rep != "log1p" else jnp.ones((batch, 1, 1))
  keys = jnp.stack([jax.random.split(jax.random.key(i), 3)[2] for i in range(batch)])
  devices = jax.devices()[:n_devices]
  if len(devices) != n_devices:
    raise RuntimeError(f"{n_devices} devices asked, {len(jax.devices())} present")
  if n_devices > 1:
    pairs = NamedSharding(Mesh(np.asarray(devices), ("pairs",)), PartitionSpec("pairs"))
    x, ref, keys = (jax.device_put(a, pairs) for a in (x, ref, keys))
  run = lambda: transfer.to_audio(settings, rep, x, ref, keys, audio.shape[-1],  # noqa: E731
                                  devices=devices)
  t0 = time.perf_counter()
  _, y, _ = run()
  first = time.perf_counter() - t0
  times = []
  for _ in range(3):
    t0 = time.perf_counter()
    _, y, _ = run()
    times.append(time.perf_counter() - t0)
  np.savez(out, audio=y, first_s=first, times=np.asarray(times),
           method=settings.phase_method, n_iter=settings.phase_iter,
           shape=np.asarray(x.shape), platform=devices[0].platform)


def _phase(batch: int, n_devices: int, net: str, seconds: float) -> dict:
  """The phase stage on one device and sharded over ``n_devices``, each in its own process
  (``n_devices == 1``: the one-device case alone; ``sharded``, ``ratio`` and the difference are
  then None)."""
  import tempfile
  rows = {}
  with tempfile.TemporaryDirectory() as tmp:
    for n in sorted({1, n_devices}):
      out = Path(tmp) / f"phase_{n}.npz"
      env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n}")
      load = os.getloadavg()[0]
      subprocess.run([sys.executable, "-m", "experiments.bench_batch", "--mode=phase",
                      f"--child_devices={n}", f"--child_out={out}", f"--batch={batch}",
                      f"--net={net}", f"--seconds={seconds}"], check=True, env=env)
      r = np.load(out)
      if not np.all(np.isfinite(r["audio"])):
        raise FloatingPointError(f"phase stage on {n} device(s): non-finite audio")
      rows[n] = dict(devices=n, first_s=float(r["first_s"]),
                     median_s=float(np.median(r["times"])), times_s=r["times"].tolist(),
                     method=str(r["method"]), n_iter=int(r["n_iter"]),
                     shape=r["shape"].tolist(), platform=str(r["platform"]), load_start=load,
                     load_end=os.getloadavg()[0], audio=r["audio"])
  one, many = rows[1], rows[n_devices]
  if n_devices == 1:
    one.pop("audio")
    return dict(single=one, sharded=None, ratio=None, max_abs_difference=None)
  diff = float(np.max(np.abs(one.pop("audio") - many.pop("audio"))))
  return dict(single=one, sharded=many, ratio=many["median_s"] / one["median_s"],
              max_abs_difference=diff)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}")
  if _MODE.value == "phase" and _CHILD_DEVICES.value:
    _phase_child(_CHILD_DEVICES.value, _BATCH.value, _SECONDS.value, _NET.value,
                 Path(_CHILD_OUT.value))
    return
  if _MODE.value == "phase":
    r = _phase(_BATCH.value, _DEVICES.value, _NET.value, _SECONDS.value)
    print(json.dumps(r, indent=1))
    one = r["single"]
    line = (f"phase stage per batch of {_BATCH.value} ({one['method']}, {one['n_iter']} "
            f"iterations, x {one['shape']}, {one['platform']}): one device "
            f"{one['median_s']:.3f} s")
    if r["sharded"] is not None:
      line += (f", {_DEVICES.value} devices {r['sharded']['median_s']:.3f} s ({r['ratio']:.2f}x);"
               f" results differ by at most {r['max_abs_difference']:.2e}")
    print(line)
    if _JSON.value:
      from specst_jax import files, provenance
      files.write_json(_JSON.value, dict(r, batch=_BATCH.value, seconds=_SECONDS.value,
                                         net=_NET.value, provenance=provenance.record()))
    return
  if _MODE.value == "pairs":
    print(_realistic_pairs(_PAIRS.value, Path(_OUT.value), Path(_DATA.value)))
    return
  if _MODE.value == "flops":
    rows = _flops(_SECONDS.value)
    print("| net | clip | x shape | XLA GFLOP / eval | hand count (convs) | s / eval (this CPU) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
      print(f"| {r['net']} | {r['seconds']:g} s at {r['sr']} Hz, n_fft {r['n_fft']}, hop "
            f"{r['hop']} | {r['x_shape']} | {r['xla_gflop']:.1f} | {r['hand_gflop']:.1f} | "
            f"{r['s_per_eval']:.3f} |")
    return
  rows = _throughput(_PAIRS.value, Path(_OUT.value), _CASES.value)
  print("| case | pairs per call | buckets (s) | processes | items | calls (partial) | wall s | "
        "items/s | compile s | optimise s | phase s | items/s without compile | load start-end |")
  print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
  for r in rows:
    print(f"| {r['case']} | {r['batch']} | {r['buckets']} | {r['processes']} | {r['ok']} | "
          f"{r['calls']} ({r['partial']}) | {r['wall_s']:.0f} | {r['items_per_s']:.2f} | "
          f"{r['compile_s']:.0f} | {r['optimize_s']:.0f} | {r['phase_s']:.1f} | "
          f"{r['steady_items_per_s']:.2f} | {r['load_start']:.1f}-{r['load_end']:.1f} |")


if __name__ == "__main__":
  app.run(main)
