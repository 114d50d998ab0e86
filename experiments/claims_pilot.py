r"""The pilot that sizes the paper's claims study (issue 28), on pairs that are not in the study.

  python -m experiments.claims_pilot --output=experiments/results/figure1/pilot.json

Two pilot pairs (LJSpeech LJ001-0030 and LJ001-0031 as content, ESC-50 *fold 1* rooster and
siren clips as style: the study uses LJ001-0001..0008 and fold 5 only), 5 s at the trained Wyse
weights' 16 kHz STFT, the study's engine and conditions (``figure1_design``). For each condition
in ``--conditions`` and each optimiser, one batched run of both pairs:

* Adam, learning rate ``--adam_lr`` constant (the study's schedule so far), ``--adam_steps``;
* L-BFGS (the engine's optax L-BFGS, exact loss, memory 30), ``--lbfgs_iter`` iterations at most.

Recorded per run: wall seconds per loss-and-gradient evaluation *per item* (the batch's
optimisation time / evaluations / pairs), each item's loss curve, and the first step count at
which the convergence criterion holds: the loss fell by less than ``--converge_rel`` (0.5 %) of
its value over the last 20 % of the steps so far. The load average is recorded before and after.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from specst_jax import audio, files, provenance
from specst_jax.classifier import esc50
from specst_jax.studies import figure1_design as design
from specst_jax.studies import figure1_runner as runner
from specst_jax.studies import pairs as pairs_lib
from specst_jax.style import nets, transfer

_DATA = flags.DEFINE_string("data_dir", "../shared/data", "shared data root")
_OUTPUT = flags.DEFINE_string("output", "experiments/results/figure1/pilot.json", "pilot JSON")
_CONDITIONS = flags.DEFINE_list("conditions", ["trained_r0.2", "random_r0.2"],
                                "conditions (keys of figure1_design.conditions)")
_OPTIMIZERS = flags.DEFINE_list("optimizers", ["lbfgs", "adam"], "optimisers to run")
_ADAM_STEPS = flags.DEFINE_integer("adam_steps", 800, "Adam steps")
_ADAM_LR = flags.DEFINE_float("adam_lr", 0.01, "Adam learning rate (constant)")
_LBFGS_ITER = flags.DEFINE_integer("lbfgs_iter", 300, "L-BFGS iterations at most")
_DURATION = flags.DEFINE_float("duration", 5.0, "clip length (s)")
_CONVERGE_REL = flags.DEFINE_float("converge_rel", 0.005, "convergence criterion (see above)")

PILOT_SPEECH = ("LJ001-0030", "LJ001-0031")
PILOT_STYLES = ("rooster", "siren")
PILOT_FOLD = 1


def pilot_pairs(data_dir: str, sr: int, duration: float) -> pairs_lib.PairSet:
  """Two pairs disjoint from the study's (other speech clips, ESC-50 fold 1)."""
  data = Path(data_dir)
  n = int(round(duration * sr))
  clips = [c for c in esc50.read_metadata(data / pairs_lib.ESC50) if c.fold == PILOT_FOLD]
  out = []
  for speech, style_class in zip(PILOT_SPEECH, PILOT_STYLES, strict=True):
    style_clip = sorted((c for c in clips if c.category == style_class), key=lambda c: c.stem)[0]
    style_path = esc50.resolve_paths(data / pairs_lib.ESC50, [style_clip])[0]
    content_path = data / pairs_lib.LJSPEECH / f"{speech}.flac"
    content = audio.load_audio(content_path, sr=sr)[0]
    style = audio.load_audio(style_path, sr=sr)[0]
    out.append(pairs_lib.Pair(f"{speech} / {style_class} {style_clip.stem}",
                              pairs_lib.fit(content, n), pairs_lib.fit(style, n), "",
                              style_class, str(content_path), str(style_path)))
  return pairs_lib.PairSet(tuple(out), sr, "pilot: LJSpeech + ESC-50 fold 1")


def steps_to_converge(curve: np.ndarray, rel: float) -> int | None:
  """The first ``n`` at which ``curve[int(0.8 n)] - curve[n - 1] < rel * |curve[n - 1]|``.

  ``curve[i]`` is the loss before step ``i``; ``n`` counts steps done (at least 10).
  """
  curve = np.asarray(curve, np.float64)
  for n in range(10, curve.size + 1):
    last = curve[n - 1]
    if curve[int(0.8 * n)] - last < rel * abs(last):
      return n
  return None


def run_one(cond: design.Condition, optimizer: str, cfg: design.Config, trained, ps, stft):
  """Both pairs of one condition with one optimiser: timings and curves."""
  settings = design.condition_settings(cond, cfg, stft)
  steps = _ADAM_STEPS.value if optimizer == "adam" else _LBFGS_ITER.value
  settings = dataclasses.replace(settings, optimizer=optimizer, n_iter=steps,
                                 learning_rate=_ADAM_LR.value)
  net = runner.wyse_nets(cond, settings, trained, settings.stft.n_bins, [0])[0]
  keys = jnp.stack([jax.random.fold_in(jax.random.key(0), 100 + p) for p in range(2)])
  load = os.getloadavg()[0]
  r = transfer.stylize_batch(settings, ps.contents, ps.styles, net=net, keys=keys,
                             phase_key=jax.random.key(5), progress="log")
  evals = int(np.max(r.n_evals))
  per_eval_item = r.timings["optimize_s"] / max(evals, 1) / len(ps.pairs)
  curves = np.asarray(r.loss_curve)
  items = []
  for j, name in enumerate(ps.names):
    n_done = int(r.n_iter_done[j])
    curve = curves[j][:n_done]
    items.append(dict(pair=name, final_loss=float(r.final_losses["total"][j]),
                      n_iterations=n_done, n_evaluations=int(r.n_evals[j]),
                      stop_reason=transfer.optimize.stop_reason_name(r.stop_reason[j]),
                      steps_to_converge=steps_to_converge(curve, _CONVERGE_REL.value),
                      curve=[float(v) for v in curve[:: max(1, n_done // 100)]]))
  return dict(condition=cond.key, optimizer=optimizer, steps=steps,
              learning_rate=_ADAM_LR.value if optimizer == "adam" else None,
              compile_s=r.timings["compile_s"], optimize_s=r.timings["optimize_s"],
              evaluations=evals, seconds_per_eval_per_item=per_eval_item,
              load_before=load, load_after=os.getloadavg()[0], items=items)


def main(argv):
  del argv
  out_path = Path(_OUTPUT.value)
  cfg = design.Config(name="pilot", duration=_DURATION.value, data_dir=_DATA.value)
  trained = nets.load_weights("wyse", None, warn=lambda line: None)
  stft = transfer.Settings.for_net("wyse").adopt(trained).stft
  ps = pilot_pairs(_DATA.value, stft.sr, _DURATION.value)
  conds = {c.key: c for c in design.conditions(cfg)}
  runs = []
  for key in _CONDITIONS.value:
    for optimizer in _OPTIMIZERS.value:
      t0 = time.perf_counter()
      run = run_one(conds[key], optimizer, cfg, trained, ps, stft)
      run["wall_s"] = time.perf_counter() - t0
      runs.append(run)
      print(json.dumps({k: v for k, v in run.items() if k != "items"}), flush=True)
      for item in run["items"]:
        print(f"  {item['pair']}: final {item['final_loss']:.5g}, {item['n_iterations']} it, "
              f"{item['stop_reason']}, converged (0.5 %/20 %) at step "
              f"{item['steps_to_converge']}", flush=True)
  record = dict(pairs=ps.describe(), duration_s=_DURATION.value, converge_rel=_CONVERGE_REL.value,
                stft=stft.as_dict(), runs=runs,
                provenance=provenance.record(data=ps.files()))
  out_path.parent.mkdir(parents=True, exist_ok=True)
  files.write_json(out_path, record, indent=1)
  print(f"claims_pilot: wrote {out_path}")


if __name__ == "__main__":
  app.run(main)
