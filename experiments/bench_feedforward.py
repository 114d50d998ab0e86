r"""Benchmark: feed-forward style transfer next to the optimisation, same clips, same loss.

  python -m experiments.bench_feedforward --quick --output=/tmp/ff_quick.json   # a few minutes
  python -m experiments.bench_feedforward --model=A --model=B --model=C --output=bench_ff.json

For each model (``--model``, repeatable: one per style; default: every shipped model under
``specst_jax/weights/feedforward/``, ``--quick``: the first) and each held-out content clip
(the model's recorded held-out files, found under ``--data_dir``, speech first; else
``feedforward.split_files`` of ``--data_dir``; or ``--content``), cut to its loudest
``--seconds`` (``feedforward.Corpus.fixed``, as the training's held-out loss), one after the
other in this process:

  * ``feedforward``: ``feedforward.stylize_fast`` with ``--phase_method`` (default rtpghi). A
    first call compiles; the second is timed (steady state). ``rtf_spectrogram`` = generator
    seconds / audio seconds; ``rtf_no_phase`` adds the analysis (STFT, encoding);
    ``rtf_total`` adds the phase.
  * ``optimisation``: ``transfer.stylize`` with the model's own settings (net, seed, loss
    weights: the loss function the generator was trained on) for ``--n_iter`` L-BFGS
    iterations (default the settings' own), phase by the settings' method.
    ``rtf_no_phase`` = optimisation seconds / audio seconds, ``rtf_total`` adds the phase
    (compilation excluded, as for the feed-forward path; ``rtf_wall`` includes everything).

Both results are scored with the engine's loss (``feedforward.engine_loss_terms`` at the
generated frames; the optimisation's own ``final_losses`` at its result, the same function),
the network-free measures (``specst_jax.studies.judge``: style distance, modulation
distance, content and envelope correlation, on the audio) and the listener check of the audio
as written. ``loss_ratio`` = feed-forward loss / optimisation loss per clip (< 1: the generator
is better). Writes ``--output`` (JSON: ``feedforward``, ``optimisation`` (means over clips,
``*_max`` the worst), ``loss_ratio``, ``clips`` (one row each), ``machine`` and load average
before and after, ``provenance``), the audio and an ``index.html`` to listen to both
(``--listen_dir``), and prints a markdown table.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import jax
import numpy as np
from absl import app, flags

from experiments.peers import machine
from specst_jax import cli, files, listening, phase, provenance
from specst_jax.studies import judge
from specst_jax.style import feedforward, nets, output_files, transfer

QUICK = dict(clips=1, seconds=3.0, n_iter=30)  # --quick's sizes (flags given explicitly win)
MEASURES = ("style_distance_db", "modulation_distance_db", "content_correlation",
            "envelope_correlation")

_MODELS = flags.DEFINE_multi_string(
    "model", None, "model folder (model.msgpack, model.json, style.wav) or .msgpack file, "
    "repeatable (one per style); default: the shipped models (--quick: the first)")
_CONTENT = flags.DEFINE_list("content", None, "content files (default: the model's held-out "
                             "clips under --data_dir)")
_DATA = flags.DEFINE_string("data_dir", "../shared/data", "the shared data folder")
_CLIPS = flags.DEFINE_integer("clips", 3, "held-out clips per model (--quick: 1)")
_SECONDS = flags.DEFINE_float("seconds", 5.0, "each clip's loudest crop, seconds (--quick: 3)")
_N_ITER = flags.DEFINE_integer("n_iter", None, "the optimisation's iterations (default: the "
                               "model settings' n_iter; --quick: 30)")
_PHASE = flags.DEFINE_enum("phase_method", "rtpghi", list(phase.METHODS),
                           "the feed-forward path's phase reconstruction (one pass: rtpghi)")
_QUICK = flags.DEFINE_bool("quick", False, "one model, one clip, few iterations: minutes")
_OUTPUT = flags.DEFINE_string("output", None, "the JSON results file")
_LISTEN = flags.DEFINE_string("listen_dir", None, "folder for the audio and index.html "
                              "(default: beside --output, <its name>_listen)")
flags.mark_flags_as_required(["output"])


def sizes() -> dict:
  """``clips``, ``seconds``, ``n_iter`` (None: the settings'): the flags, or ``--quick``'s."""
  out = {"clips": _CLIPS.value, "seconds": _SECONDS.value, "n_iter": _N_ITER.value}
  if _QUICK.value:
    out.update({k: v for k, v in QUICK.items() if not flags.FLAGS[k].present})
  if out["clips"] < 1 or not out["seconds"] > 0 or (out["n_iter"] is not None and
                                                     out["n_iter"] < 1):
    raise ValueError(f"--clips and --n_iter must be >= 1 and --seconds > 0, got {out}")
  return out


def model_paths() -> list[Path]:
  """``--model``, or the shipped models (``--quick``: the default one, the demo's)."""
  if _MODELS.value:
    return [feedforward.model_file(p) for p in _MODELS.value]
  shipped = feedforward.shipped_models()
  if not shipped:
    raise ValueError(f"--model: no shipped feed-forward model in {feedforward.SHIPPED_DIR} yet; "
                     "train one (python -m experiments.train_feedforward --style=FILE "
                     "--workdir=DIR) and pass --model=DIR")
  if _QUICK.value:
    return [feedforward.model_file(feedforward.default_model())]
  return [feedforward.model_file(p) for p in shipped]


def load_model(path: Path) -> tuple[feedforward.StyleModel, np.ndarray, Path]:
  """The model and its style clip (the one it was trained on)."""
  try:
    model = feedforward.load_model(path)
  except (FileNotFoundError, ValueError) as e:
    raise ValueError(f"--model={path}: {e}") from e
  style = feedforward.load_style(model, path)
  if style is None:
    raise ValueError(f"--model={path}: no {feedforward.STYLE_CLIP} beside it (the style clip "
                     "it was trained on; experiments/train_feedforward.py writes it)")
  return model, *style


def heldout_files(model: feedforward.StyleModel, n: int) -> list[Path]:
  """``--content``, or the model's held-out files under ``--data_dir`` (speech first)."""
  if _CONTENT.value:
    return [Path(p) for p in _CONTENT.value]
  data = Path(_DATA.value)
  names = (model.info.get("heldout") or {}).get("names")
  if names:
    found = {name: next(data.rglob(name), None) for name in names}
    missing = [name for name, p in found.items() if p is None]
    if missing:
      raise FileNotFoundError(f"--data_dir={data}: the model's held-out clips {missing[:3]} "
                              "are not there")
    paths = list(found.values())
  else:  # a model without its held-out record: the same name-hash split
    paths = feedforward.split_files(feedforward.content_files(data, exclude=[model.style]))[1]
  if not paths:
    raise ValueError(f"--data_dir={data}: no held-out content clips for the model; pass "
                     "--content=FILES")
  paths.sort(key=lambda p: (p.parent.name != "ljspeech", p.name))
  return paths[:n]


def timed_feedforward(model, clip: np.ndarray) -> dict:
  """The steady-state feed-forward path (a compiling call, then the timed one)."""
  feedforward.stylize_fast(model, clip, phase_method=_PHASE.value, phase_iter=0)
  r = feedforward.stylize_fast(model, clip, phase_method=_PHASE.value, phase_iter=0)
  t, seconds = r.timings, clip.size / model.settings.stft.sr
  no_phase = t["analysis_s"] + t["generator_s"]
  return dict(result=r, timings=t, rtf_spectrogram=t["generator_s"] / seconds,
              rtf_no_phase=no_phase / seconds, rtf_total=(no_phase + t["phase_s"]) / seconds)


def timed_optimisation(settings, weights, clip, style) -> dict:
  """``transfer.stylize`` with live progress; its timings and real-time factors."""
  every = max(1, settings.n_iter // 10)
  log = transfer.ProgressLog(settings.n_iter, label="optimisation: ",
                             write=lambda line: print(line, flush=True))
  t0 = time.perf_counter()
  r = transfer.stylize(settings, clip, [style], weights=weights, progress=(log, every))
  wall = time.perf_counter() - t0
  t, seconds = r.timings, clip.size / settings.stft.sr
  return dict(result=r, timings=dict(t, wall_s=wall), rtf_no_phase=t["optimize_s"] / seconds,
              rtf_total=(t["optimize_s"] + t["phase_s"]) / seconds, rtf_wall=wall / seconds,
              n_iterations_done=int(r.n_iter_done), n_evaluations=int(r.n_evals))


def scores(j: judge.Judge, y, content, style) -> dict:
  """The network-free measures of audio ``y`` (level-invariant: dB re each clip's maximum)."""
  got = j.score(np.asarray(y)[None], np.asarray(content)[None], np.asarray(style)[None],
                [""], [""])
  return {k: _finite(got[k][0]) for k in MEASURES}


def _finite(v):
  v = float(v)
  return v if np.isfinite(v) else None


def score(name: str, path_r, model, j: judge.Judge, clip, style, tmp: Path, tag: str) -> dict:
  """Writes one path's result ``tmp/<tag>_<name>.wav``; its measures and listener check."""
  s = model.settings
  check = output_files.write_checked(tmp / f"{tag}_{name}.wav", path_r.audio, s, path_r.magnitude)
  return dict(measures=scores(j, path_r.audio, clip, style), listener=check,
              file=f"{tag}_{name}.wav", sc_db=float(path_r.sc_db))


def bench_clip(model, net, weights, s_opt, j, clip, style, tmp: Path, tag: str) -> dict:
  """One clip, both paths one after the other: the row (WAVs ``tmp/<tag>_*.wav``)."""
  stft, rep = model.settings.stft, model.representation
  ff = timed_feedforward(model, clip)
  opt = timed_optimisation(s_opt, weights, clip, style)
  r_ff, r_opt = ff.pop("result"), opt.pop("result")
  terms = feedforward.engine_loss_terms(net, r_ff.x, feedforward.encode_audio(stft, rep, clip),
                                        [feedforward.encode_audio(stft, rep, style)])
  ff.update(loss=float(terms["total"]), losses={k: float(v) for k, v in terms.items()},
            phase_method=_PHASE.value,
            **score("feedforward", r_ff, model, j, clip, style, tmp, tag))
  opt.update(loss=float(r_opt.final_losses["total"]),
             losses={k: float(v) for k, v in r_opt.final_losses.items()},
             n_iter=s_opt.n_iter, optimizer=s_opt.optimizer, phase_method=s_opt.phase_method,
             **score("optimisation", r_opt, model, j, clip, style, tmp, tag))
  for name, y in (("content", clip), ("style", style)):
    output_files.write_checked(tmp / f"{tag}_{name}.wav", y, model.settings, subtype="PCM_16")
  return dict(seconds=clip.size / stft.sr, feedforward=ff, optimisation=opt,
              loss_ratio=ff["loss"] / opt["loss"])


def run_model(path: Path, size: dict, tmp: Path, rows: list, data: list) -> None:
  """Every clip of one model: appends its rows and the files it read."""
  model, style, style_file = load_model(path)
  s = model.settings
  _, net = feedforward.loss_net(s)
  weights = nets.load_weights(s.net, s.weights)
  s_opt = dataclasses.replace(s, n_iter=size["n_iter"] or s.n_iter)
  paths = heldout_files(model, size["clips"])
  corpus = feedforward.load_corpus(paths, sr=s.stft.sr, crop_seconds=size["seconds"])
  j = judge.Judge(s.stft.sr, classifier=None)
  data += [path, style_file, *paths]
  for name, clip in zip(corpus.names, corpus.fixed(), strict=True):
    tag = f"{len(rows):02d}"
    print(f"bench_feedforward: {model.style} / {name}: {clip.size / s.stft.sr:.2f} s; load "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    row = dict(model=provenance.relative_path(path), style=model.style, clip=name,
               **bench_clip(model, net, weights, s_opt, j, clip, style, tmp, tag))
    rows.append(row)
    print(f"bench_feedforward: loss {row['feedforward']['loss']:.6g} (feed-forward) vs "
          f"{row['optimisation']['loss']:.6g} (optimisation): ratio {row['loss_ratio']:.3g}",
          flush=True)


# ----------------------------------------------------------------------------- summary

SUMMARY = {"feedforward": ("rtf_spectrogram", "rtf_no_phase", "rtf_total", "loss"),
           "optimisation": ("rtf_no_phase", "rtf_total", "rtf_wall", "loss")}


def summarize(rows: list[dict]) -> dict:
  """Means over the clips (``*_max``: the worst clip) of each path's headline numbers."""
  out = {}
  for path, keys in SUMMARY.items():
    out[path] = {}
    for k in keys:
      values = [r[path][k] for r in rows]
      out[path][k] = float(np.mean(values))
      out[path][f"{k}_max"] = float(np.max(values))
    out[path]["listener_passed"] = all(r[path]["listener"]["passed"] for r in rows)
    for m in MEASURES:
      values = [r[path]["measures"][m] for r in rows if r[path]["measures"][m] is not None]
      out[path][m] = float(np.mean(values)) if values else None
  ratios = [r["loss_ratio"] for r in rows]
  out.update(loss_ratio=float(np.mean(ratios)), loss_ratio_max=float(np.max(ratios)),
             speedup_total=out["optimisation"]["rtf_total"] / out["feedforward"]["rtf_total"])
  return out


def _fmt(v, spec=".3g") -> str:
  return "-" if v is None else format(v, spec)


def table(rows: list[dict]) -> str:
  """A markdown table: one row per clip, the two paths side by side."""
  head = ("| style | clip | s | FF RTF spec. | FF RTF total | opt. RTF total | FF loss | "
          "opt. loss | ratio | style dist. FF / opt. (dB) | content corr. FF / opt. | "
          "envelope corr. FF / opt. | listener FF / opt. |")
  lines = [head, "|" + "---|" * (head.count("|") - 1)]
  for r in rows:
    ff, opt = r["feedforward"], r["optimisation"]
    pair = {m: f"{_fmt(ff['measures'][m])} / {_fmt(opt['measures'][m])}" for m in MEASURES}
    ok = "/".join("pass" if p["listener"]["passed"] else "FAIL" for p in (ff, opt))
    lines.append(
        f"| {r['style']} | {r['clip']} | {r['seconds']:.1f} | {ff['rtf_spectrogram']:.2g} | "
        f"{ff['rtf_total']:.2g} | {opt['rtf_total']:.3g} | {ff['loss']:.4g} | "
        f"{opt['loss']:.4g} | {r['loss_ratio']:.3g} | {pair['style_distance_db']} | "
        f"{pair['content_correlation']} | {pair['envelope_correlation']} | {ok} |")
  return "\n".join(lines)


def write_page(folder: Path, rows: list[dict], settings: dict) -> Path:
  """``index.html``: per clip, content, style and the two results with their measures."""
  columns = ["content", "style", "feed-forward", "optimisation"]
  cells, names = {}, []
  for i, r in enumerate(rows):
    row = f"{i:02d} {r['style']}: {r['clip']}"
    names.append(row)
    for col, key in (("content", None), ("style", None), ("feed-forward", "feedforward"),
                     ("optimisation", "optimisation")):
      if key is None:
        cells[(row, col)] = listening.Cell(f"{i:02d}_{col}.wav")
        continue
      p = r[key]
      shown = {"loss": p["loss"], "real-time factor (total)": p["rtf_total"],
               **{m.replace("_", " "): v for m, v in p["measures"].items() if v is not None}}
      cells[(row, col)] = listening.Cell(p["file"], None, shown)
  return listening.write_page(folder, "feed-forward vs optimisation", rows=names,
                              columns=columns, cells=cells, settings=settings)


def main(argv):
  cli.quiet()  # no XLA TPU-probe line; AudioWarnings as one line each
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}")
  with cli.one_line_errors("bench_feedforward"):
    out = run(_OUTPUT.value)
  s = out
  print("\n" + table(out["clips"]))
  print(f"\nfeed-forward: RTF {s['feedforward']['rtf_spectrogram']:.2g} (spectrogram), "
        f"{s['feedforward']['rtf_total']:.2g} (total); optimisation RTF "
        f"{s['optimisation']['rtf_total']:.3g}; loss ratio {s['loss_ratio']:.3g} (worst "
        f"{s['loss_ratio_max']:.3g}); wrote {_OUTPUT.value} and {out['settings']['listen_dir']}")


def run(output: str) -> dict:
  """The whole benchmark from the flags; writes the JSON and the listening folder."""
  t0 = time.perf_counter()
  size = sizes()
  listen = _LISTEN.value or str(Path(output).with_suffix("")) + "_listen"
  paths = model_paths()
  files.check_output_file(output, inputs=paths)
  files.check_output_dir(listen, inputs=paths)
  info_before, load_before = machine.describe(), os.getloadavg()
  rows, data = [], []
  with files.output_set(listen, inputs=paths) as tmp:
    for path in paths:
      run_model(path, size, tmp, rows, data)
    settings = dict(size, quick=_QUICK.value, ff_phase_method=_PHASE.value, listen_dir=listen,
                    models=[str(p) for p in paths], data_dir=_DATA.value,
                    device=str(jax.devices()[0]))
    write_page(tmp, rows, settings)
  load_after = os.getloadavg()
  out = dict(**summarize(rows), settings=settings, clips=rows,
             machine=dict(before=info_before, after=machine.describe()),
             load_before=list(load_before), load_after=list(load_after),
             uptime_s=_uptime(), wall_time_s=time.perf_counter() - t0,
             provenance=provenance.record(data=sorted(set(map(str, data)))))
  files.write_json(output, out, indent=1)
  return out


def _uptime() -> float | None:
  try:
    return float(Path("/proc/uptime").read_text().split()[0])
  except (OSError, ValueError, IndexError):
    return None


def console() -> None:
  """The installed command's entry point (setup.cfg ``console_scripts``)."""
  cli.console(main, __name__)


if __name__ == "__main__":
  console()
