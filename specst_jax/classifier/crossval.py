"""K-fold cross-validation of a training recipe: every test fold x seed, and each fold's ensemble.

For each test fold K and seed S, :func:`crossvalidate` trains on the other four folds into
``workdir/foldK_seedS`` (resumed when interrupted, skipped when finished; the config's own
``train_folds`` / ``test_folds`` / ``seed`` are replaced). Then each fold's selected epochs
(``best.msgpack``, chosen on validation) are scored on fold K alone and as mean-softmax
ensembles (:mod:`specst_jax.classifier.evaluate`). ESC-50's folds hold 400 clips each, so the
5-fold accuracy is the mean over folds. :func:`table` formats the result as markdown.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import ml_collections
import numpy as np

from specst_jax.classifier import evaluate, train

ALL_FOLDS = (1, 2, 3, 4, 5)


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


def crossvalidate(config: ml_collections.ConfigDict, workdir: str | Path, folds, seeds,
                  log=print, command: str | None = None) -> dict:
  """Trains the missing runs, then scores each fold's members and ensemble.

  Returns ``{"folds": [{"fold", "members", "member_mean", "ensemble", "ensemble_by_size"},
  ...], "member_accuracy": [mean, sd over folds], "ensemble_accuracy": [mean, sd],
  "ensemble_by_size": [mean over folds, per ensemble size], ...}``: accuracies on the test
  fold of the epoch each run selected on its validation split.
  """
  folds, seeds = [int(k) for k in folds], [int(s) for s in seeds]
  if not folds or not seeds or len(set(seeds)) != len(seeds):
    raise ValueError(f"folds {folds} and seeds {seeds}: need at least one of each, "
                     "seeds distinct")
  configs = {(k, s): fold_config(config, k, s) for k in folds for s in seeds}
  for (k, s), c in configs.items():
    log(f"fold {k} seed {s}: {run_dir(workdir, k, s)}")
    train.train_and_evaluate(c, run_dir(workdir, k, s), log=log,
                                command=command and f"{command} (fold {k}, seed {s})")
  cache_dir = config.get("cache_dir") or None
  batch_size = config.get("eval_batch_size", 50)
  rows = [score_fold([run_dir(workdir, k, s) / "best.msgpack" for s in seeds], config.data_dir, k,
                     cache_dir, batch_size) for k in folds]
  by_size = np.mean([r["ensemble_by_size"] for r in rows], axis=0)
  return {"folds": rows, "seeds": seeds,
          "member_accuracy": mean_and_sd([r["member_mean"] for r in rows]),
          "ensemble_accuracy": mean_and_sd([r["ensemble"] for r in rows]),
          "ensemble_by_size": [float(a) for a in by_size],
          "config": config.to_dict(), "command": command}


def score_fold(paths, data_dir, fold: int, cache_dir, batch_size: int) -> dict:
  """Test-fold accuracy of each weights file, of all of them averaged in softmax, and
  (``ensemble_by_size[n - 1]``) the mean accuracy over every ensemble of ``n`` of them."""
  metrics, probs, targets = evaluate.evaluate_members(
      [str(p) for p in paths], data_dir, [fold], cache_dir, batch_size)

  def mean_over_ensembles_of(n: int) -> float:
    subsets = itertools.combinations(range(len(probs)), n)
    return float(np.mean([evaluate.ensemble_accuracy([probs[i] for i in c], targets)
                          for c in subsets]))

  by_size = [mean_over_ensembles_of(n) for n in range(1, len(probs) + 1)]
  members = [m["accuracy"] for m in metrics]
  return {"fold": fold, "clips": int(len(targets)), "members": members,
          "member_mean": float(np.mean(members)), "ensemble": by_size[-1],
          "ensemble_by_size": by_size}


def mean_and_sd(values) -> list[float]:
  """Mean and sample standard deviation (0 for one value) over folds."""
  return [float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0]


def table(result: dict) -> str:
  """The markdown table of :func:`crossvalidate`'s result (accuracies in %)."""
  seeds = result["seeds"]
  head = ["fold", *(f"seed {s}" for s in seeds), "member mean", f"ensemble of {len(seeds)}"]
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
  return "\n".join(lines)
