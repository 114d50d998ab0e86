"""K-fold cross-validation of a training recipe: every test fold x seed, and each fold's ensemble.

For each test fold K and seed S, :func:`crossvalidate` trains on the other four folds into
``workdir/foldK_seedS`` (resumed when interrupted, skipped when finished; the config's own
``train_folds`` / ``test_folds`` / ``seed`` are replaced). As soon as a run finishes, its
selected epoch (``best.msgpack``, chosen on validation) is scored on fold K, once, and the
class probabilities are kept in ``foldK_seedS/test_scores.npz`` (:func:`score_run`). Each fold's
members and mean-softmax ensembles are computed from those files, so a run whose score file
exists is finished: its checkpoints and weights may be deleted, and a study's small files
(``best.json``, ``metrics.jsonl``, ``test_scores.npz``) can be kept in git and continued on
another machine. ESC-50's folds hold 400 clips each, so the 5-fold accuracy is the mean over
folds. :func:`table` formats the result as markdown.

The protocol (:data:`PROTOCOL`) is enforced here, not only written down: every choice (the
epoch of each run, the members of an ensemble) is made on validation data drawn from the
training folds (whole source recordings), and the test fold is scored once, after training,
on each run's selected epoch. :func:`check_selection` refuses any rule that would rank or
select by test accuracy (:class:`ProtocolError`), :func:`check_config` refuses a validation
split that shares recordings with the training clips, and an existing run trained with another
recipe is refused rather than scored. The rule, recipe, config, seeds, folds and git commit
are recorded in the result (``crossval.json``).
"""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path

import ml_collections
import numpy as np

from specst_jax import files, provenance
from specst_jax.classifier import esc50, evaluate, train

ALL_FOLDS = (1, 2, 3, 4, 5)

PROTOCOL = (
    "Every choice (recipe, epoch, ensemble member) is made on validation data drawn from the "
    "training folds only (whole source recordings, `srcval`); the test fold of each "
    "cross-validation split is scored once, at the end, on the epoch each run selected. No "
    "number is ranked or selected by test accuracy.")
# Epoch rules the training loop implements (train.train_and_evaluate exports this epoch).
EPOCH_RULES = ("val_accuracy",)
# Config keys that may differ between a finished run and the requested recipe (paths, logging).
IGNORED_KEYS = ("data_dir", "cache_dir", "log_every", "eval_batch_size")
# A finished run's test-fold class probabilities (written once, by score_run).
SCORES = "test_scores.npz"


class ProtocolError(ValueError):
  """A request that would break :data:`PROTOCOL`."""


def _refuse(what: str, why: str):
  raise ProtocolError(f"{what}: {why}. Protocol: {PROTOCOL}")


def check_selection(epoch: str = "val_accuracy", members: str = "all") -> dict:
  """The selection rule as a record; ProtocolError for any rule that uses the test fold.

  Args:
    epoch: which epoch of each run is scored: ``"val_accuracy"`` (the epoch with the best
      validation accuracy, the one ``train_and_evaluate`` exports).
    members: which seeds of a fold form its ensemble: ``"all"``, or ``"val_top:N"`` (the
      ``N`` runs with the best validation accuracy at their selected epoch).
  """
  for name, value in (("epoch", epoch), ("members", members)):
    if "test" in str(value).lower():
      _refuse(f"selection {name}={value!r}", "choosing by test accuracy is not allowed")
  if epoch not in EPOCH_RULES:
    raise ValueError(f"selection epoch={epoch!r}: must be one of {EPOCH_RULES}")
  if members != "all":
    head, _, n = str(members).partition(":")
    if head != "val_top" or not n.isdigit() or int(n) < 1:
      raise ValueError(f"selection members={members!r}: must be 'all' or 'val_top:N' (N >= 1)")
  return {"epoch": epoch, "members": members,
          "epoch_rule": "the epoch with the best validation accuracy of each run",
          "member_rule": ("every seed" if members == "all" else
                          f"the {members.partition(':')[2]} seeds with the best validation "
                          "accuracy at their selected epoch"),
          "test": "scored once per run after training, on the selected epoch; never used to "
                  "choose"}


def check_config(config: ml_collections.ConfigDict, allow_clip_validation: bool = False) -> None:
  """ProtocolError unless the config validates on whole source recordings of the training
  folds (``val_by_source``, ``val_fraction > 0``); ``allow_clip_validation`` lets old
  clip-level splits be scored (the result records it)."""
  if not config.get("val_fraction", 0.0) > 0:
    _refuse(f"config val_fraction={config.get('val_fraction')}",
            "without a validation split the epoch cannot be chosen on training folds")
  if not config.get("val_by_source", False) and not allow_clip_validation:
    _refuse("config val_by_source=False",
            "validation clips would share source recordings with training clips (about 40 % "
            "of them; use the `srcval` option, or allow_clip_validation to score old runs)")


def _plain(d) -> dict:
  return json.loads(json.dumps(d))


def check_existing_run(path: Path, config: ml_collections.ConfigDict) -> None:
  """ProtocolError when ``path`` holds a run trained with another recipe than ``config``
  (keys in :data:`IGNORED_KEYS` and keys only one side has are not compared)."""
  best = path / "best.json"
  if not best.exists():
    return
  recorded = json.loads(best.read_text()).get("config", {})
  wanted = _plain(config.to_dict())

  def diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(a) & set(b)):
      if not prefix and k in IGNORED_KEYS:
        continue
      if isinstance(a[k], dict) and isinstance(b[k], dict):
        out += diff(a[k], b[k], f"{prefix}{k}.")
      elif a[k] != b[k]:
        out.append(f"{prefix}{k}: run {a[k]!r}, requested {b[k]!r}")
    return out

  differences = diff(recorded, wanted)
  if differences:
    _refuse(f"{path} was trained with another recipe ({'; '.join(differences)})",
            "a run is scored only under the recipe it was trained with; use another workdir")


def run_dir(workdir: str | Path, fold: int, seed: int) -> Path:
  return Path(workdir) / f"fold{fold}_seed{seed}"


def fold_config(config: ml_collections.ConfigDict, fold: int, seed: int
                ) -> ml_collections.ConfigDict:
  """``config`` testing on ``fold``, training on the other four, with ``seed``."""
  if fold not in ALL_FOLDS:
    raise ValueError(f"folds: {fold} is not an ESC-50 fold (1-5)")
  c = config.copy_and_resolve_references()
  c.train_folds = tuple(k for k in ALL_FOLDS if k != fold)
  c.test_folds = (fold,)
  c.seed = seed
  return c


def check_finished(workdir: str | Path, folds, seeds) -> None:
  """Raises ``ValueError`` naming the first run of ``folds x seeds`` in ``workdir`` that is not
  finished (has no score file)."""
  for k in folds:
    for s in seeds:
      path = run_dir(workdir, int(k), int(s))
      if not (path / SCORES).exists():
        raise ValueError(f"fold {k} seed {s}: not finished ({path} has no {SCORES}); train it "
                         "first, or leave it out of the folds and seeds")


def crossvalidate(config: ml_collections.ConfigDict, workdir: str | Path, folds, seeds,
                  log=print, command: str | None = None, *, members: str = "all",
                  epoch: str = "val_accuracy", recipe: str | None = None,
                  allow_clip_validation: bool = False, train_missing: bool = True) -> dict:
  """Trains the missing runs, then scores each fold's members and ensemble (once, at the end).

  Args:
    config: the recipe; its folds and seed are replaced per run (:func:`fold_config`).
    members, epoch: the selection rule (:func:`check_selection`; never by test accuracy).
    recipe: how the config was named (e.g. ``experiments/configs/paper.py:log_mel,...``),
      recorded with the result.
    allow_clip_validation: score a config whose validation clips are not whole source
      recordings (:func:`check_config`; recorded).
    train_missing: ``False`` reports finished runs only: an unfinished run (no score file) is
      an error, raised before anything is computed, instead of being trained (a report made
      beside a running study cannot start a second training of the same run).

  Returns ``{"folds": [{"fold", "members", "member_mean", "ensemble", "ensemble_by_size",
  "ensemble_seeds", "runs", "targets", "predictions"}, ...], "member_accuracy": [mean, sd over
  folds], "ensemble_accuracy": [mean, sd], "ensemble_by_size": [mean over folds, per ensemble
  size], "protocol", "selection", "recipe", "config", "seeds", "folds_run", "git_commit",
  "command"}`` and :func:`specst_jax.provenance.record`'s keys (``commit`` = ``git_commit``,
  ``machine``, ``date``, ``data_sha256`` over :func:`data_files`, ``python``, ``jax``):
  accuracies on the test fold of the epoch each run selected on its validation split; ``runs``
  holds each run's selected epoch, validation accuracy and compute.

  Raises:
    ProtocolError: a selection by test accuracy, a leaky validation split, or an existing run
      with another recipe.
    ValueError: bad folds or seeds, or an unfinished run with ``train_missing=False``.
  """
  selection = check_selection(epoch, members)
  check_config(config, allow_clip_validation)
  folds, seeds = [int(k) for k in folds], [int(s) for s in seeds]
  if not folds or not seeds or len(set(seeds)) != len(seeds):
    raise ValueError(f"folds {folds} and seeds {seeds}: need at least one of each, "
                     "seeds distinct")
  configs = {(k, s): fold_config(config, k, s) for k in folds for s in seeds}
  for (k, s), c in configs.items():
    check_existing_run(run_dir(workdir, k, s), c)
  if not train_missing:
    check_finished(workdir, folds, seeds)
  cache_dir = config.get("cache_dir") or None
  batch_size = config.get("eval_batch_size", 50)
  for (k, s), c in configs.items():
    path = run_dir(workdir, k, s)
    if (path / SCORES).exists():
      log(f"fold {k} seed {s}: finished and scored ({path / SCORES})")
      continue
    log(f"fold {k} seed {s}: {path}")
    train.train_and_evaluate(c, path, log=log,
                             command=command and f"{command} (fold {k}, seed {s})")
    score_run(path, config.data_dir, k, cache_dir, batch_size)
  rows = []
  for k in folds:
    runs = [run_record(run_dir(workdir, k, s), s) for s in seeds]
    chosen = choose_members(runs, members)
    scores = [score_run(run_dir(workdir, k, s), config.data_dir, k, cache_dir, batch_size)
              for s in seeds]
    rows.append(score_fold(scores, k, ensemble=chosen))
    rows[-1]["runs"] = runs
    rows[-1]["ensemble_seeds"] = [seeds[i] for i in chosen]
  by_size = np.mean([r["ensemble_by_size"] for r in rows], axis=0)
  record = provenance.record(data=data_files(config))
  return {"folds": rows, "seeds": seeds, "folds_run": folds,
          "member_accuracy": mean_and_sd([r["member_mean"] for r in rows]),
          "ensemble_accuracy": mean_and_sd([r["ensemble"] for r in rows]),
          "ensemble_by_size": [float(a) for a in by_size],
          "protocol": PROTOCOL, "selection": selection,
          "validation": ("whole source recordings" if config.get("val_by_source", False) else
                         "clips (shares recordings with training: allowed for old runs)"),
          "recipe": recipe, "config": config.to_dict(), **record,
          "git_commit": record["commit"], "command": command or record["command"]}


def data_files(config: ml_collections.ConfigDict) -> list[Path]:
  """The files a cross-validation of ``config`` reads, what its ``data_sha256`` covers: the
  ESC-50 CSV and the clips of all five folds (every run trains on four and tests on the
  fifth; the first ``clips_per_fold`` of each when the config sets it)."""
  return esc50.data_files(config.data_dir, ALL_FOLDS, config.get("clips_per_fold") or None)


def run_record(path: Path, seed: int) -> dict:
  """A finished run's selected epoch and its validation accuracy, and its compute
  (``metrics.jsonl``: epochs run, seconds per epoch, total seconds). No test numbers."""
  best = json.loads((path / "best.json").read_text())
  history = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()
             if line.strip()]
  seconds = [h["epoch_seconds"] for h in history if "epoch_seconds" in h]
  return {"seed": int(seed), "selected_epoch": best.get("selected_epoch"),
          "val_accuracy": best.get("val_accuracy"), "epochs": len(history),
          "epoch_seconds_median": float(np.median(seconds)) if seconds else None,
          "total_seconds": float(np.sum(seconds)) if seconds else None,
          "devices": best.get("devices")}


def choose_members(runs: list[dict], members: str) -> list[int]:
  """Indices of ``runs`` forming the ensemble: all, or the ``N`` best by validation accuracy
  (ties: the earlier seed)."""
  if members == "all":
    return list(range(len(runs)))
  n = int(members.partition(":")[2])
  order = sorted(range(len(runs)), key=lambda i: (-(runs[i]["val_accuracy"] or 0.0), i))
  return sorted(order[:n])


def score_run(path: Path, data_dir, fold: int, cache_dir, batch_size: int) -> dict:
  """A finished run's class probabilities on test ``fold`` at its selected epoch.

  The first call scores ``path/best.msgpack`` and writes ``path/test_scores.npz``
  (``probabilities`` [clips, classes], ``targets`` [clips], ``fold``); later calls read that
  file, so the test fold is scored once per run and the weights are not needed again.

  Returns ``{"probabilities", "targets"}``.

  Raises:
    ValueError: the score file belongs to another fold.
  """
  scores = Path(path) / SCORES
  if not scores.exists():
    _, probs, targets = evaluate.evaluate_members([str(Path(path) / "best.msgpack")], data_dir,
                                                  [fold], cache_dir, batch_size)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, probabilities=np.asarray(probs[0], np.float32),
                        targets=np.asarray(targets, np.int32), fold=np.int32(fold))
    files.write_bytes(scores, buffer.getvalue())
  with np.load(scores) as z:
    if int(z["fold"]) != fold:
      raise ValueError(f"{scores}: scores fold {int(z['fold'])}, not test fold {fold}")
    return {"probabilities": z["probabilities"], "targets": z["targets"]}


def score_fold(scores: list[dict], fold: int, ensemble: list[int] | None = None) -> dict:
  """Test-fold accuracy of each run's :func:`score_run` probabilities, of the ``ensemble``
  members (indices, chosen without the test fold; default all) averaged in softmax, and
  (``ensemble_by_size[n - 1]``) the mean accuracy over every ensemble of ``n`` of them. Also
  each clip's target and each member's predicted class (``targets``, ``predictions``) for
  per-class analyses.

  Raises:
    ValueError: the runs were scored on different clips.
  """
  probs = [s["probabilities"] for s in scores]
  targets = scores[0]["targets"]
  if any(not np.array_equal(s["targets"], targets) for s in scores):
    raise ValueError(f"fold {fold}: the runs' test scores are on different clips or labels")
  ensemble = list(range(len(probs))) if ensemble is None else list(ensemble)

  def mean_over_ensembles_of(n: int) -> float:
    subsets = itertools.combinations(range(len(probs)), n)
    return float(np.mean([evaluate.ensemble_accuracy([probs[i] for i in c], targets)
                          for c in subsets]))

  by_size = [mean_over_ensembles_of(n) for n in range(1, len(probs) + 1)]
  members = [float(np.mean(p.argmax(-1) == targets)) for p in probs]
  return {"fold": fold, "clips": int(len(targets)), "members": members,
          "member_mean": float(np.mean(members)),
          "ensemble": evaluate.ensemble_accuracy([probs[i] for i in ensemble], targets),
          "ensemble_by_size": by_size, "targets": [int(t) for t in targets],
          "predictions": [[int(c) for c in p.argmax(-1)] for p in probs]}


def seed_accuracies(fold_result: dict) -> dict[int, float]:
  """``{seed: test accuracy}`` of one fold of :func:`crossvalidate`'s result (or of a
  ``crossval.json``)."""
  return {run["seed"]: acc
          for run, acc in zip(fold_result["runs"], fold_result["members"], strict=True)}


def fold_accuracies(workdir: str, seeds=None) -> dict[int, float]:
  """``{fold: mean test accuracy over the chosen seeds}`` from ``workdir/crossval.json``.

  Raises:
    ValueError: the file is missing, or a fold lacks one of ``seeds``.
  """
  path = Path(workdir) / "crossval.json"
  if not path.is_file():
    raise ValueError(f"{path}: missing (run crossval_classifier --report_only first)")
  out = {}
  for f in json.loads(path.read_text())["folds"]:
    by_seed = seed_accuracies(f)
    want = by_seed if seeds is None else [int(s) for s in seeds]
    missing = [s for s in want if s not in by_seed]
    if missing:
      raise ValueError(f"{path}: fold {f['fold']} has no seed {missing[0]}")
    out[f["fold"]] = sum(by_seed[s] for s in want) / len(want)
  return out


def mean_and_sd(values) -> list[float]:
  """Mean and sample standard deviation (0 for one value) over folds."""
  return [float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0]


def table(result: dict) -> str:
  """The markdown table of :func:`crossvalidate`'s result (accuracies in %)."""
  seeds = result["seeds"]
  members = result.get("selection", {}).get("members", "all")
  head = ["fold", *(f"seed {s}" for s in seeds), "member mean",
          f"ensemble of {len(seeds)}" if members == "all" else f"ensemble ({members})"]
  lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  for r in result["folds"]:
    cells = [str(r["fold"]), *(f"{100 * a:.2f}" for a in r["members"]),
             f"{100 * r['member_mean']:.2f}", f"{100 * r['ensemble']:.2f}"]
    lines.append("| " + " | ".join(cells) + " |")
  (m, m_sd), (e, e_sd) = result["member_accuracy"], result["ensemble_accuracy"]
  summary = [f"**{100 * m:.2f} ± {100 * m_sd:.2f}**", f"**{100 * e:.2f} ± {100 * e_sd:.2f}**"]
  per_seed = [f"{100 * np.mean([r['members'][i] for r in result['folds']]):.2f}"
              for i in range(len(seeds))]
  lines.append("| " + " | ".join(["mean ± sd", *per_seed, *summary]) + " |")
  sizes = range(1, len(seeds) + 1)
  lines += ["", "| seeds in the ensemble | " + " | ".join(map(str, sizes)) + " |",
            "|" + "---|" * (len(seeds) + 1),
            "| mean over folds and seed subsets | "
            + " | ".join(f"{100 * a:.2f}" for a in result["ensemble_by_size"]) + " |"]
  if "selection" in result:
    lines += ["", f"Selection: {result['selection']['epoch_rule']}; ensemble: "
              f"{result['selection']['member_rule']}; test: {result['selection']['test']}. "
              f"Validation: {result.get('validation')}. Commit {result.get('git_commit')}."]
  return "\n".join(lines)


def shipped_provenance(workdir: str | Path, seed: int = 0, fold: int = 5) -> dict:
  """The provenance of a cross-validated run shipped as weights: its ``best.json`` with the
  test accuracy it scored once (``test_scores.npz``) and the cross-validation it belongs to.

  The shipped file is the run whose test fold is ``fold`` (the other shipped files are all
  trained on folds 1-4 and tested on 5); ``crossval`` records the 5-fold result of its recipe
  (every fold's accuracy for ``seed``, their mean and sd), the selection rule and git commit
  of ``workdir/crossval.json``, and where the run lives. ``shipped`` is the shipping step's
  :func:`specst_jax.provenance.record`: its commit, command and machine, and ``data_sha256``
  over the files it read (the run's ``best.json``, ``best.msgpack`` and score file, and
  ``crossval.json``). The training run's own commit and data hash are ``best.json``'s
  (``commit``, ``data_sha256``; absent from runs trained before they were recorded).

  Raises:
    ValueError: the run is unfinished, ``crossval.json`` is missing, does not cover every
      fold for ``seed``, or disagrees with the run's own score file.
  """
  workdir = Path(workdir)
  path = run_dir(workdir, fold, seed)
  check_finished(workdir, [fold], [seed])
  summary_path = workdir / "crossval.json"
  if not summary_path.is_file():
    raise ValueError(f"{summary_path}: missing; report the cross-validation first "
                     "(crossval_classifier --report_only)")
  summary = json.loads(summary_path.read_text())
  by_fold = {r["fold"]: seed_accuracies(r) for r in summary["folds"]}
  if sorted(by_fold) != list(ALL_FOLDS) or any(seed not in r for r in by_fold.values()):
    raise ValueError(f"{summary_path}: covers folds {sorted(by_fold)}; shipping needs all of "
                     f"{list(ALL_FOLDS)} for seed {seed}")
  with np.load(path / SCORES) as z:
    accuracy = float(np.mean(z["probabilities"].argmax(-1) == z["targets"]))
  per_fold = [by_fold[k][seed] for k in ALL_FOLDS]
  if abs(per_fold[fold - 1] - accuracy) > 1e-9:
    raise ValueError(f"{summary_path}: fold {fold} seed {seed} records {per_fold[fold - 1]}, "
                     f"but {path / SCORES} scores {accuracy}; report it again")
  prov = json.loads((path / "best.json").read_text())
  prov["test_accuracy"] = accuracy
  prov["crossval"] = {
      "folds": list(ALL_FOLDS), "seed": seed, "accuracy_per_fold": per_fold,
      "accuracy": mean_and_sd(per_fold), "selection": summary["selection"],
      "protocol": summary["protocol"], "recipe": summary["recipe"],
      "git_commit": summary["git_commit"], "data_sha256": summary.get("data_sha256"),
      "workdir": str(workdir), "run": path.name}
  shipped_from = [path / "best.json", path / "best.msgpack", path / SCORES, summary_path]
  prov["shipped"] = provenance.record(data=[p for p in shipped_from if p.is_file()])
  return prov
