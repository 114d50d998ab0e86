"""Phase reconstruction benchmark: every method's SC and time next to librosa and pghipy.

  python -m experiments.bench_phase [--data_dir=../shared/data] [--configs=1024:256,2048:512]
  python -m experiments.bench_phase --methods=pghi,pghipy,"pghi+fgla 60" --clips=4  # a quick look
  python -m experiments.bench_phase --sweep_only --sweep_method=pghi+fgla --sweep=30,40,60

Two sets of eight real clips cropped to 5 s at 22050 Hz (``--clip_set``): ``tuning``,
the clips the default ``reconstruct`` settings (method pghi+fgla, 60 iterations) were
chosen on (2 LJSpeech, the rooster, 2 music excerpts, 3 ESC-50 classes), and
``held_out``, clips that played no part in that choice (2 other LJSpeech sentences,
2 other music excerpts, 4 fold-5 ESC-50 clips of other classes); ``both`` (default)
prints a table for each. For each STFT setting: spectral convergence (dB, median over
clips of the median over seeds for random starts) and time per clip for a batch of 8
clips (all methods, ours and librosa's, get the same batch) and for one clip. Every
time, for every side alike, is the median of ``--repeats`` timed runs after one
untimed warm-up run (which for ours also compiles; compile time is printed apart).
The machine (CPU model, cores, load average at start and end) is printed and stored, with
``provenance`` (commit, command, ``data_sha256`` of the clips read: :mod:`specst_jax.provenance`).
pghipy (numba) runs per clip on the same magnitudes, with the Hann window's
gamma, after a warm-up call; "ours pghi heap" is pghi(integration="heap"), the
exact heap walk (pghipy's order). librosa and pghipy are bench-only dependencies.
"""

from __future__ import annotations

import functools
import json
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from experiments.peers import machine
from specst_jax import audio, phase, provenance, spectral

_DATA_DIR = flags.DEFINE_string("data_dir", "../shared/data", "Root of the shared data folder.")
_CONFIGS = flags.DEFINE_string("configs", "1024:256,2048:512", "Comma-separated n_fft:hop pairs.")
_SEEDS = flags.DEFINE_integer("seeds", 3, "Seeds for the random-start methods (median taken).")
_SECONDS = flags.DEFINE_float("seconds", 5.0, "Clip length in seconds (crop or zero-pad).")
_OUTPUT = flags.DEFINE_string("output", "", "If set, also write the results as JSON here.")
_SWEEP = flags.DEFINE_string("sweep", "", "Comma-separated n_iter values: extra rows for the "
                             "default method (to find where it reaches librosa's FGLA-100 SC).")
_SWEEP_ONLY = flags.DEFINE_bool("sweep_only", False, "Run only librosa FGLA 100 it and the "
                                "--sweep rows (a quick look at the default's speed/quality).")
_SWEEP_METHOD = flags.DEFINE_string("sweep_method", "", "Method of the --sweep rows (default: "
                                    "the default method of phase.reconstruct).")
_METHODS = flags.DEFINE_string("methods", "", "Comma-separated labels of our rows to run (e.g. "
                               "'pghi,pghi heap,fgla 100'; a label is the method, plus ' N' for "
                               "its n_iter); empty: all. librosa FGLA 100 it always runs.")
_CLIPS = flags.DEFINE_integer("clips", 0, "Use only the first N clips (0: all 8), for quick looks.")
_CLIP_SET = flags.DEFINE_enum("clip_set", "both", ["tuning", "held_out", "both"],
                              "tuning: the clips the defaults were chosen on; held_out: others.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed runs per measurement (median), every side.")

SR = 22050
# (label, path under data_dir, offset in seconds)
CLIPS = (
    ("speech LJ001-0001", "speech/ljspeech/LJ001-0001.flac", 0.0),
    ("speech LJ001-0003", "speech/ljspeech/LJ001-0003.flac", 0.0),
    ("rooster", "rooster/rooster_wyse2017.wav", 0.0),
    ("music africa", "music/world/africa.ogg", 2.0),
    ("music beethoven", "music/world/beethoven.ogg", 10.0),
    ("esc50 dog", "esc50_16k/audio/1-100032-A-0.flac", 0.0),
    ("esc50 rain", "esc50_16k/audio/1-17367-A-10.flac", 0.0),
    ("esc50 church_bells", "esc50_16k/audio/1-13571-A-46.flac", 0.0),
)
# Clips no default was tuned on (same kinds of sound, other recordings).
HELD_OUT = (
    ("speech LJ001-0010", "speech/ljspeech/LJ001-0010.flac", 0.0),
    ("speech LJ001-0020", "speech/ljspeech/LJ001-0020.flac", 0.0),
    ("music japan", "music/world/japan.ogg", 5.0),
    ("music ireland", "music/world/ireland.ogg", 5.0),
    ("esc50 crow", "esc50_16k/audio/5-213836-A-9.flac", 0.0),
    ("esc50 crackling_fire", "esc50_16k/audio/5-186924-A-12.flac", 0.0),
    ("esc50 keyboard_typing", "esc50_16k/audio/5-205090-A-32.flac", 0.0),
    ("esc50 clock_tick", "esc50_16k/audio/5-201194-A-38.flac", 0.0),
)
CLIP_SETS = {"tuning": CLIPS, "held_out": HELD_OUT}
OURS = (  # (method, n_iter, random start); "pghi heap": pghi(integration="heap"), the exact walk
    ("gla", 100, True), ("fgla", 32, True), ("fgla", 100, True), ("pghi", 0, False),
    ("pghi heap", 0, False), ("rtpghi", 0, False), ("spsi", 0, False), ("rtisi_la", 0, False),
    ("pghi+fgla", 32, False), ("rtpghi+fgla", 32, False), ("spsi+fgla", 32, False),
    ("rtisi_la+fgla", 32, False),
    (phase.DEFAULT_METHOD, phase.DEFAULT_N_ITER, False),
)


def load_clips(data_dir: Path, seconds: float, clips=CLIPS) -> np.ndarray:
  """``[clips, samples]`` float32 at 22050 Hz."""
  n = int(round(seconds * SR))
  out = []
  for _, rel, offset in clips:
    x, _ = audio.load_audio(data_dir / rel, sr=SR)
    x = x[int(offset * SR):][:n]
    out.append(np.pad(x, (0, n - x.shape[0])))
  return np.stack(out).astype(np.float32)


_TIMED_REPEATS = [3]  # set from --repeats in main


def _timed(fn):
  """``(result, seconds)``: one untimed warm-up run, then the median of ``--repeats`` runs."""
  result = jax.block_until_ready(fn())
  times = []
  for _ in range(_TIMED_REPEATS[0]):
    start = time.perf_counter()
    result = jax.block_until_ready(fn())
    times.append(time.perf_counter() - start)
  return result, float(np.median(times))


def _sc(S, y, n_fft, hop):
  return np.asarray(phase.spectral_convergence(S, np.asarray(y, np.float32), n_fft=n_fft,
                                               hop_length=hop))


def _ours(S, key, *, n_fft, hop, method, n_iter):
  if method == "pghi heap":
    ph = phase.pghi(S, n_fft=n_fft, hop_length=hop, integration="heap", key=key)
    return spectral.istft(S * jnp.exp(1j * ph), n_fft=n_fft, hop_length=hop)
  return phase.reconstruct(S, n_fft=n_fft, hop_length=hop, method=method, n_iter=n_iter, key=key)


def _selected(rows, methods: str):
  """The rows of ``OURS`` whose label (``method`` or ``method n_iter``) is in ``methods``."""
  wanted = {m.strip() for m in methods.split(",") if m.strip()}
  if not wanted:
    return rows
  return tuple(r for r in rows if r[0] in wanted or f"{r[0]} {r[1]}" in wanted)


def bench_config(x: np.ndarray, n_fft: int, hop: int, seeds: int, sweep: tuple[int, ...] = (),
                 sweep_only: bool = False, methods: str = "",
                 sweep_method: str = phase.DEFAULT_METHOD) -> list[dict]:
  import librosa  # bench-only

  S = np.abs(np.asarray(spectral.stft(x, n_fft=n_fft, hop_length=hop)))  # [clips, frames, bins]
  S_lib = np.ascontiguousarray(np.swapaxes(S, -1, -2))  # librosa: [..., bins, frames]
  rows = []

  def add(name, sc_per_clip, t_batch, t_single, compile_s=0.0):
    rows.append(dict(method=name, sc_median=float(np.median(sc_per_clip)),
                     sc_per_clip=[round(float(v), 2) for v in sc_per_clip],
                     s_per_clip_batch=t_batch, s_single=t_single, compile_s=compile_s))

  librosa_runs = (("librosa gla m=0", 0.0, 100), ("librosa fgla", 0.99, 32),
                  ("librosa fgla", 0.99, 100))
  for name, momentum, n_iter in librosa_runs[2:] if sweep_only or methods else librosa_runs:
    scs, times = [], []
    for seed in range(seeds):
      y, t = _timed(functools.partial(librosa.griffinlim, S_lib, n_iter=n_iter, n_fft=n_fft,
                                      hop_length=hop, momentum=momentum, random_state=seed))
      scs.append(_sc(S, y, n_fft, hop))
      times.append(t / len(x))
    _, t1 = _timed(functools.partial(librosa.griffinlim, S_lib[0], n_iter=n_iter, n_fft=n_fft,
                                     hop_length=hop, momentum=momentum, random_state=0))
    add(f"{name} {n_iter} it", np.median(scs, axis=0), statistics.median(times), t1)

  try:
    if sweep_only or methods and "pghipy" not in methods:
      raise ImportError
    import pghipy  # bench-only

    gamma = phase.window_gamma("hann", n_fft)
    pghipy.pghi(S[0].astype(np.float64), n_fft, hop, gamma=gamma, tol=1e-5)  # numba warm-up
    scs, times = [], []
    for i in range(len(x)):
      ph, t = _timed(lambda i=i: pghipy.pghi(S[i].astype(np.float64), n_fft, hop, gamma=gamma,
                                             tol=1e-5))
      y = spectral.istft(S[i] * np.exp(1j * ph), n_fft=n_fft, hop_length=hop)
      scs.append(float(_sc(S[i], y, n_fft, hop)))
      times.append(t)
    add("pghipy (numba)", np.array(scs), float(np.mean(times)), times[0])
  except ImportError:
    if not sweep_only and not methods:
      print("pghipy not installed: skipping it", file=sys.stderr)

  ours = () if sweep_only else _selected(OURS, methods)
  ours += tuple((sweep_method, n, sweep_method in ("gla", "fgla")) for n in sweep)
  for method, n_iter, random_start in ours:
    run = functools.partial(_ours, n_fft=n_fft, hop=hop, method=method, n_iter=n_iter)
    start = time.perf_counter()
    jax.block_until_ready(run(S, jax.random.key(0)))
    first = time.perf_counter() - start
    scs, times = [], []
    for seed in range(seeds if random_start else 1):
      y, t = _timed(functools.partial(run, S, jax.random.key(seed)))
      scs.append(_sc(S, y, n_fft, hop))
      times.append(t / len(x))
    _, t1 = _timed(functools.partial(run, S[0], jax.random.key(0)))  # warm-up compiles
    label = f"ours {method}" + (f" {n_iter} it" if "gla" in method else "")
    if method == phase.DEFAULT_METHOD and n_iter == phase.DEFAULT_N_ITER:
      label += " (default)"
    add(label, np.median(scs, axis=0), statistics.median(times), t1,
        compile_s=max(first - min(times) * len(x), 0.0))
  return rows


def format_table(rows: list[dict], n_fft: int, hop: int, n_clips: int = len(CLIPS),
                 clip_set: str = "tuning") -> str:
  ref = next(r for r in rows if r["method"] == "librosa fgla 100 it")
  lines = [f"n_fft {n_fft}, hop {hop} ({n_clips} {clip_set} clips)",
           f"| method | SC median (dB) | s/clip, batch of {n_clips} | x librosa FGLA100 time | "
           "s, one clip | compile s |", "|---|---|---|---|---|---|"]
  for r in rows:
    lines.append(f"| {r['method']} | {r['sc_median']:.2f} | {r['s_per_clip_batch']:.4f} | "
                 f"{r['s_per_clip_batch'] / ref['s_per_clip_batch']:.3f} | {r['s_single']:.4f} | "
                 f"{r['compile_s']:.1f} |")
  return "\n".join(lines)


def main(argv):
  if len(argv) > 1:
    print(f"error: unexpected arguments {argv[1:]}", file=sys.stderr)
    return 1
  _TIMED_REPEATS[0] = max(1, _REPEATS.value)
  sets = ("tuning", "held_out") if _CLIP_SET.value == "both" else (_CLIP_SET.value,)
  try:
    configs = [tuple(int(v) for v in c.split(":")) for c in _CONFIGS.value.split(",")]
    clips = {name: load_clips(Path(_DATA_DIR.value), _SECONDS.value, CLIP_SETS[name])
             for name in sets}
    if _CLIPS.value:
      clips = {name: x[: _CLIPS.value] for name, x in clips.items()}
  except (audio.AudioError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 1
  info_start = machine.describe()
  print(machine.header(info_start))
  print(f"every time: median of {_TIMED_REPEATS[0]} timed runs after one warm-up, all sides",
        flush=True)
  results = {}
  for set_name, x in clips.items():
    for n_fft, hop in configs:
      sweep = tuple(int(v) for v in _SWEEP.value.split(",") if v)
      rows = bench_config(x, n_fft, hop, _SEEDS.value, sweep, _SWEEP_ONLY.value, _METHODS.value,
                          _SWEEP_METHOD.value or phase.DEFAULT_METHOD)
      print(format_table(rows, n_fft, hop, len(x), set_name), flush=True)
      print(f"{set_name} clips:", ", ".join(label for label, _, _ in CLIP_SETS[set_name][: len(x)]),
            flush=True)
      results[f"{set_name} {n_fft}:{hop}"] = rows
  info_end = machine.describe()
  print(machine.header(info_end) + " (end)")
  if _OUTPUT.value:
    Path(_OUTPUT.value).parent.mkdir(parents=True, exist_ok=True)
    record = provenance.record(data=[Path(_DATA_DIR.value) / rel for name in sets
                                     for _, rel, _ in CLIP_SETS[name]])
    Path(_OUTPUT.value).write_text(json.dumps(dict(
        device=str(jax.devices()[0]), machine_start=info_start, machine_end=info_end,
        command=record["command"], provenance=record, repeats=_TIMED_REPEATS[0],
        clip_sets={k: [label for label, _, _ in CLIP_SETS[k]] for k in sets},
        results=results), indent=2) + "\n")
  return 0


if __name__ == "__main__":
  app.run(main)
