"""The representation study: one fixed recipe, several inputs, 5-fold cross-validation each.

:func:`plan` turns one recipe (a training config fixed before any result) into rows that differ
only in the input (``features.representation``, or ``features.center`` for the centring
variant) and the paired comparisons to make. :func:`run_study` cross-validates every row through
:func:`specst_jax.classifier.crossval.crossvalidate` (same folds, seeds and epochs; resumable,
finished runs skipped; the protocol enforced there), then summarises:

* per row: each fold's single-model accuracy (mean over seeds), the mean and sd over folds, the
  seeds' ensemble, the input's shape, seconds per epoch and total training compute;
* per comparison (row A against row B, e.g. ``mfcc`` against ``unit_db``): the paired
  difference of test accuracies. **The verdict takes the test fold as the unit**: seeds share
  their fold's test clips, so fold x seed "pairs" are not independent (a percentile bootstrap over
  them covered the true difference in about 77 % of simulated studies, not 95 %). Per fold the
  seeds are averaged; a t interval and two-sided t test over the folds, Holm-adjusted over the
  study's comparisons (one family), give the verdict (:func:`fold_verdicts`). The fold x seed
  bootstrap interval (:func:`specst_jax.studies.stats.compare`) is kept beside it, as
  ``by_run``, for comparison with earlier reports;
* per comparison: per-class accuracy differences over all test clips (where does A lose?);
* per row: one figure of the train and validation curves of all its runs (no test curves).

:func:`markdown` formats the result; nothing here picks a winner by test accuracy.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import ml_collections
import numpy as np

from specst_jax import files, provenance
from specst_jax.classifier import crossval, esc50
from specst_jax.classifier.features import REPRESENTATIONS, FeatureConfig, is_input
from specst_jax.studies import stats

CENTRE_CHOICES = ("config", "false", "true", "both")


@dataclasses.dataclass(frozen=True)
class Row:
  """One input of the study: its name (also its sub-directory) and its config."""

  name: str
  config: ml_collections.ConfigDict


def plan(recipe: ml_collections.ConfigDict, representations: Sequence[str], *,
         centre: str = "config", baseline: str = "unit_db"
         ) -> tuple[list[Row], list[tuple[str, str]]]:
  """Rows and comparisons of a study.

  Args:
    recipe: the fixed training config; only ``features.representation`` (and
      ``features.center``) change between rows.
    representations: inputs, keys of :data:`specst_jax.classifier.features.REPRESENTATIONS`.
    centre: ``"config"`` (the recipe's ``center``), ``"false"`` / ``"true"`` (all rows), or
      ``"both"``: each representation uncentred (``REP``) and centred (``REP_centred``),
      compared with each other.
    baseline: with ``centre != "both"``, every other row is compared against this one (it
      must be among ``representations``).

  Returns:
    ``(rows, comparisons)``; a comparison ``(a, b)`` is row ``a`` minus row ``b``.
  """
  reps = list(representations)
  bad = [r for r in reps if not is_input(r)]
  if not reps or bad or len(set(reps)) != len(reps):
    raise ValueError(f"representations {reps}: need distinct names from {REPRESENTATIONS}")
  if centre not in CENTRE_CHOICES:
    raise ValueError(f"centre={centre!r}: must be one of {CENTRE_CHOICES}")

  def row(name: str, rep: str, center: bool | None) -> Row:
    c = recipe.copy_and_resolve_references()
    c.features.representation = rep
    if center is not None:
      c.features.center = center
    FeatureConfig.from_config(c)  # validates
    return Row(name, c)

  if centre == "both":
    rows = [r for rep in reps for r in (row(rep, rep, False), row(f"{rep}_centred", rep, True))]
    return rows, [(f"{rep}_centred", rep) for rep in reps]
  if baseline not in reps:
    raise ValueError(f"baseline {baseline!r} is not among representations {reps}")
  center = {"config": None, "false": False, "true": True}[centre]
  rows = [row(rep, rep, center) for rep in reps]
  return rows, [(rep, baseline) for rep in reps if rep != baseline]


def run_study(rows: Sequence[Row], comparisons: Sequence[tuple[str, str]], workdir: str | Path,
              folds: Sequence[int], seeds: Sequence[int], *, log: Callable[[str], None] = print,
              command: str | None = None, recipe: str | None = None,
              n_resamples: int = stats.DEFAULT_RESAMPLES, train_missing: bool = True) -> dict:
  """Cross-validates every row (missing runs only) and summarises them.

  With ``train_missing=False`` it reports finished runs only (an unfinished one is a
  ``ValueError``, see :func:`specst_jax.classifier.crossval.crossvalidate`).

  Each row lives in ``workdir/<row name>/`` (runs ``foldK_seedS``, its ``crossval.json``) and
  gets ``workdir/curves_<row name>.png``. Returns the study record (see :func:`markdown`):
  ``{"rows": [...], "comparisons": [...], "per_class": [...], "protocol", "recipe", "folds",
  "seeds", "git_commit", "command"}`` and :func:`specst_jax.provenance.record`'s keys
  (``commit``, ``machine``, ``date``, ``data_sha256`` of
  :func:`specst_jax.classifier.crossval.data_files`, ``python``, ``jax``).
  """
  workdir = Path(workdir)
  names = [r.name for r in rows]
  for a, b in comparisons:
    if a not in names or b not in names:
      raise ValueError(f"comparison {a} - {b}: both must be rows ({names})")
  epochs = {r.config.num_epochs for r in rows}
  if len(epochs) != 1:
    raise ValueError(f"rows must train for equal epochs, got {sorted(epochs)}")
  if not train_missing:  # every row checked before any row's files are written
    for r in rows:
      try:
        crossval.check_finished(workdir / r.name, folds, seeds)
      except ValueError as e:
        raise ValueError(f"row {r.name}: {e}") from None
  results = {}
  for r in rows:
    log(f"study row {r.name}: {workdir / r.name}")
    res = crossval.crossvalidate(r.config, workdir / r.name, folds, seeds, log=log,
                                 command=command and f"{command} (row {r.name})",
                                 recipe=recipe, train_missing=train_missing)
    files.write_json(workdir / r.name / "crossval.json", res)
    results[r.name] = res
    plot_curves(workdir / r.name, res, workdir / f"curves_{r.name}.png", title=r.name)
  class_names = _class_names(rows[0].config)
  summary = [summarise_row(r, results[r.name]) for r in rows]
  comps = fold_verdicts([compare_rows(results[a], results[b], a, b, n_resamples=n_resamples)
                         for a, b in comparisons])
  per_class = [per_class_difference(results[a], results[b], a, b, class_names)
               for a, b in comparisons]
  first = results[rows[0].name]
  record = provenance.record(data=crossval.data_files(rows[0].config))
  return {"rows": summary, "comparisons": comps, "per_class": per_class,
          "protocol": crossval.PROTOCOL, "selection": first["selection"], "recipe": recipe,
          "num_epochs": epochs.pop(), "folds": first["folds_run"], "seeds": first["seeds"],
          **record, "git_commit": first["git_commit"], "command": command or record["command"]}


def _class_names(config) -> list[str]:
  return esc50.class_names(esc50.read_metadata(config.data_dir))


def run_accuracies(result: dict) -> tuple[list[float], list[str]]:
  """Each run's test accuracy and its pair id ``"fold/seed"``, in fold then seed order."""
  values, pairs = [], []
  for f in result["folds"]:
    for seed, acc in zip(result["seeds"], f["members"], strict=True):
      values.append(acc)
      pairs.append(f"{f['fold']}/{seed}")
  return values, pairs


def summarise_row(row: Row, result: dict) -> dict:
  """A row's accuracies (single model per fold, mean +- sd over folds, ensemble), the mean
  validation accuracy of its runs' selected epochs (``val_accuracy``: what a later choice
  between inputs may use; never the test accuracy) and compute."""
  fcfg = FeatureConfig.from_config(row.config)
  runs = [run for f in result["folds"] for run in f["runs"]]
  per_epoch = [r["epoch_seconds_median"] for r in runs if r["epoch_seconds_median"] is not None]
  total = [r["total_seconds"] for r in runs if r["total_seconds"] is not None]
  return {"name": row.name, "representation": fcfg.representation, "center": fcfg.center,
          "frames": fcfg.n_frames, "channels": fcfg.n_channels,
          "folds": [f["fold"] for f in result["folds"]],
          "fold_accuracy": [f["member_mean"] for f in result["folds"]],
          "fold_ensemble": [f["ensemble"] for f in result["folds"]],
          "accuracy": result["member_accuracy"], "ensemble_accuracy": result["ensemble_accuracy"],
          "val_accuracy": float(np.mean([r["val_accuracy"] for r in runs])) if runs else None,
          "runs": len(runs), "epochs": [r["epochs"] for r in runs],
          "selected_epochs": [r["selected_epoch"] for r in runs],
          "seconds_per_epoch": float(np.median(per_epoch)) if per_epoch else None,
          "total_seconds": float(np.sum(total)) if total else None,
          "devices": runs[0]["devices"] if runs else None}


def compare_rows(a: dict, b: dict, name_a: str, name_b: str, *,
                 n_resamples: int = stats.DEFAULT_RESAMPLES) -> dict:
  """Paired test-accuracy difference ``a - b``, the test fold as the unit (seeds averaged):
  ``by_fold_t`` (t interval and p value over folds; the verdict comes from it, Holm-adjusted
  over the family, in :func:`fold_verdicts`) and ``by_fold`` (percentile bootstrap over folds);
  also ``by_run`` (bootstrap over fold x seed, whose seeds share a test set: too narrow) and its
  ``verdict_by_run``.
  """
  va, pa = run_accuracies(a)
  vb, pb = run_accuracies(b)
  if sorted(pa) != sorted(pb):
    raise ValueError(f"{name_a} and {name_b} ran different folds x seeds ({pa} vs {pb})")
  by_run = stats.compare(va, vb, pa, b_pairs=pb, predicted_sign=1, n_resamples=n_resamples)
  fold_of = lambda pairs: [p.split("/")[0] for p in pairs]  # noqa: E731
  by_fold = stats.compare(va, vb, fold_of(pa), b_pairs=fold_of(pb), predicted_sign=1,
                          n_resamples=n_resamples)
  fold_t = stats.t_test(by_fold.differences)
  return {"a": name_a, "b": name_b, "unit": "test fold (seeds averaged)",
          "by_run": by_run.as_dict(), "by_fold": by_fold.as_dict(),
          "by_fold_t": dataclasses.asdict(fold_t), "verdict_by_run": _WORD[by_run.verdict]}


_WORD = {"supported": "higher", "contradicted": "lower", "undecided": "undecided"}


def fold_verdicts(comparisons: Sequence[dict], *, alpha: float = stats.ALPHA) -> list[dict]:
  """The comparisons with their fold-unit verdicts: each ``by_fold_t`` p value Holm-adjusted
  over all of ``comparisons`` (one family) as ``p_adjusted``, and ``verdict`` ``"higher"`` /
  ``"lower"`` (A - B above / below 0 at ``p_adjusted < alpha``) or ``"undecided"``."""
  adjusted = stats.holm([c["by_fold_t"]["p"] for c in comparisons]) if comparisons else []
  return [{**c, "p_adjusted": float(p),
           "verdict": _WORD[stats.decide(c["by_fold_t"]["mean"], float(p), 1, alpha=alpha)]}
          for c, p in zip(comparisons, adjusted, strict=True)]


def class_accuracy(result: dict, n_classes: int) -> np.ndarray:
  """Per-class test accuracy ``[n_classes]`` of a row, over all its test clips, averaged over
  seeds (each seed's runs cover every clip once)."""
  correct = np.zeros((len(result["seeds"]), n_classes))
  count = np.zeros(n_classes)
  for f in result["folds"]:
    t = np.asarray(f["targets"])
    count += np.bincount(t, minlength=n_classes)
    for i, p in enumerate(f["predictions"]):
      correct[i] += np.bincount(t, weights=np.asarray(p) == t, minlength=n_classes)
  return (correct / np.maximum(count, 1)).mean(0)


def per_class_difference(a: dict, b: dict, name_a: str, name_b: str,
                         class_names: Sequence[str]) -> dict:
  """Per-class accuracy of ``a`` and ``b`` and ``a - b``, classes sorted by the difference
  (largest loss of ``a`` first)."""
  n = len(class_names)
  acc_a, acc_b = class_accuracy(a, n), class_accuracy(b, n)
  order = np.argsort(acc_a - acc_b, kind="stable")
  return {"a": name_a, "b": name_b,
          "classes": [{"class": class_names[i], "a": float(acc_a[i]), "b": float(acc_b[i]),
                       "difference": float(acc_a[i] - acc_b[i])} for i in order]}


def plot_curves(row_dir: Path, result: dict, path: Path, title: str) -> None:
  """Train and validation loss / accuracy of every run of a row on one figure (thin lines per
  run, the mean over runs bold). The test fold is not drawn: it is scored once, at the end."""
  import matplotlib.pyplot as plt

  from specst_jax import plotting  # (sets the Agg backend)

  fig, axes = plt.subplots(1, 2, figsize=(11, 4))
  for split, colour in (("train", "tab:blue"), ("val", "tab:orange")):
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
      curves = []
      for f in result["folds"]:
        for seed in result["seeds"]:
          h = [json.loads(line) for line in
               (crossval.run_dir(row_dir, f["fold"], seed) / "metrics.jsonl").read_text()
               .splitlines() if line.strip()]
          y = [e.get(f"{split}_{metric}", np.nan) for e in h]
          ax.plot(range(1, len(y) + 1), y, color=colour, alpha=0.25, lw=0.8)
          curves.append(y)
      n = min(len(c) for c in curves)
      ax.plot(range(1, n + 1), np.mean([c[:n] for c in curves], axis=0), color=colour, lw=2,
              label=f"{split} (mean of {len(curves)} runs)")
  axes[0].set(xlabel="epoch", ylabel="class cross-entropy", title=title)
  axes[1].set(xlabel="epoch", ylabel="accuracy",
              title="train: its (augmented) training batches; val: held-out source recordings "
              "of the training folds")
  axes[1].title.set_fontsize(8)
  for ax in axes:
    ax.legend()
  fig.tight_layout()
  plotting.save_figure(fig, path, dpi=100)


def _pct(v: float) -> str:
  return f"{100 * v:.2f}"


def _interval(low: float, high: float) -> str:
  """``[low, high]`` in signed points, or ``[n/a]`` (fewer than 2 pairs)."""
  if not (np.isfinite(low) and np.isfinite(high)):
    return "[n/a]"
  return f"[{100 * low:+.2f}, {100 * high:+.2f}]"


def markdown(study: dict, top_classes: int = 8) -> str:
  """The study's tables: accuracy per row with paired intervals and compute, then per-class
  differences (the ``top_classes`` largest losses and gains of each comparison)."""
  folds = study["folds"]
  comp_of = {c["a"]: c for c in study["comparisons"]}
  base = {c["b"] for c in study["comparisons"]}
  head = ["input", "frames x channels", *(f"fold {k}" for k in folds), "**mean ± sd**",
          f"ensemble of {len(study['seeds'])}", "validation",
          "A - B over folds [95 % t CI], Holm p", "verdict", "s / epoch", "compute (h)"]
  lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  for r in study["rows"]:
    c = comp_of.get(r["name"])
    if c:
      d = c["by_fold_t"]
      diff = (f"{100 * d['mean']:+.2f} vs {c['b']} {_interval(d['low'], d['high'])}, "
              f"p = {c['p_adjusted']:.2g}")
      verdict = c["verdict"]
    else:
      diff, verdict = ("(baseline)" if r["name"] in base else ""), ""
    spe = "" if r["seconds_per_epoch"] is None else f"{r['seconds_per_epoch']:.1f}"
    tot = "" if r["total_seconds"] is None else f"{r['total_seconds'] / 3600:.2f}"
    (m, sd), (e, esd) = r["accuracy"], r["ensemble_accuracy"]
    val = "" if r.get("val_accuracy") is None else _pct(r["val_accuracy"])
    cells = [r["name"], f"{r['frames']} x {r['channels']}", *map(_pct, r["fold_accuracy"]),
             f"**{_pct(m)} ± {_pct(sd)}**", f"{_pct(e)} ± {_pct(esd)}", val, diff, verdict,
             spe, tot]
    lines.append("| " + " | ".join(cells) + " |")
  lines += ["", f"{study['num_epochs']} epochs per run, folds {folds}, seeds {study['seeds']}; "
            "fold columns: single-model test accuracy (%), mean over seeds; sd over folds. "
            "Validation: mean validation accuracy (%) of each run's selected epoch (held-out "
            "recordings of the training folds; the only column a later choice may use). "
            "The unit is the test fold (the seeds share its test clips; seeds averaged): "
            f"t interval over {len(folds)} folds, p values Holm-adjusted over the "
            f"{len(study['comparisons'])} comparisons, verdict at p < {stats.ALPHA}. "
            "For comparison, the percentile bootstrap over fold x seed (too narrow: not "
            "independent) and its verdict: "
            + "; ".join(f"{c['a']} - {c['b']} "
                        + _interval(c["by_run"]["low"], c["by_run"]["high"])
                        + f" {c.get('verdict_by_run', '')}"
                        for c in study["comparisons"])
            + f". Selection: {study['selection']['epoch_rule']}; test scored once at the end. "
            f"Commit {study['git_commit']}."]
  for pc in study["per_class"]:
    cls = pc["classes"]
    shown = cls[:top_classes] + [c for c in cls[-top_classes:] if c not in cls[:top_classes]]
    lines += ["", f"Per-class accuracy (%), {pc['a']} against {pc['b']}: the {top_classes} "
              f"largest losses and gains of {pc['a']}", "",
              f"| class | {pc['a']} | {pc['b']} | difference |", "|---|---|---|---|"]
    lines += [f"| {c['class']} | {_pct(c['a'])} | {_pct(c['b'])} | "
              f"{100 * c['difference']:+.1f} |" for c in shown]
  return "\n".join(lines) + "\n"
