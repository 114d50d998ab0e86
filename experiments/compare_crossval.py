"""Two cross-validated recipes side by side: per-fold test accuracy and the paired difference.

  python -m experiments.compare_crossval \
      --a=experiments/results/distilled/log_mel_deltas \
      --b=experiments/results/representation_study/log_mel_deltas [--seeds=0]

Reads each work directory's ``crossval.json`` (written by ``crossval_classifier``, also with
``--report_only``), takes each fold's mean single-model accuracy over the chosen seeds (default:
all the file has), and prints a markdown table: per fold A, B and A - B, then the mean
difference with its 95 % percentile bootstrap interval over the folds both have
(:func:`specst_jax.studies.stats.compare`). It reads scores already made; it trains and selects
nothing.
"""

import sys

from absl import app, flags

from specst_jax.classifier import crossval
from specst_jax.studies import stats

_A = flags.DEFINE_string("a", None, "Work directory of recipe A.", required=True)
_B = flags.DEFINE_string("b", None, "Work directory of recipe B (the baseline).", required=True)
_SEEDS = flags.DEFINE_list("seeds", None, "Seeds to use (default: every seed in each file).")


def table(a: dict[int, float], b: dict[int, float]) -> str:
  folds = sorted(set(a) & set(b))
  c = stats.compare([a[k] for k in folds], [b[k] for k in folds], folds, predicted_sign=1)
  rows = ["| fold | A | B | A - B |", "|---|---|---|---|"]
  rows += [f"| {k} | {100 * a[k]:.2f} | {100 * b[k]:.2f} | {100 * (a[k] - b[k]):+.2f} |"
           for k in folds]
  rows.append(f"| mean | {100 * sum(a[k] for k in folds) / len(folds):.2f} | "
              f"{100 * sum(b[k] for k in folds) / len(folds):.2f} | {100 * c.mean:+.2f} "
              f"[{100 * c.low:+.2f}, {100 * c.high:+.2f}] |")
  return "\n".join(rows) + (f"\n\n{len(folds)} folds; interval: 95 % percentile bootstrap of "
                            "the mean difference over folds.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  try:
    a = crossval.fold_accuracies(_A.value, _SEEDS.value)
    b = crossval.fold_accuracies(_B.value, _SEEDS.value)
  except (OSError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  if not set(a) & set(b):
    print(f"error: {_A.value} and {_B.value} share no fold", file=sys.stderr)
    sys.exit(1)
  print(f"A = {_A.value}\nB = {_B.value}\n\n{table(a, b)}")


if __name__ == "__main__":
  app.run(main)
