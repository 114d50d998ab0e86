"""Distillation targets: a teacher ensemble's class probabilities on a student's training clips.

A student trained with ``config.distill`` learns from soft targets
``(1 - weight) * onehot(label) + weight * mean_t softmax(teacher_t(clip))`` (Hinton, Vinyals
and Dean 2015, "Distilling the knowledge in a neural network", at temperature 1; the teachers
are an ensemble, as in Bucila, Caruana and Niculescu-Mizil 2006, "Model compression"). Each
teacher is a finished cross-validation run (``foldK_seedS``, see
:mod:`specst_jax.classifier.crossval`) with its own input representation.

The protocol (:data:`specst_jax.classifier.crossval.PROTOCOL`) holds for the student because
:func:`check_teacher` refuses any teacher that has seen what the student is judged on: each
teacher must be trained on exactly the student's training folds (so it never saw the test
fold) with the same validation rule and seed (so it never saw the student's validation clips,
which are drawn by the same seeded, recording-grouped split). Teachers are only evaluated on
the student's training clips.

:func:`teacher_targets` computes the ensemble's probabilities once per run; the training loop
keeps them beside the run (``teacher_targets.npz``: clip names and probabilities) so a
resumed or re-scored run never needs the teachers' weights again.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import ml_collections
import numpy as np

from specst_jax import files, pretrained
from specst_jax.classifier import evaluate, splits
from specst_jax.classifier.features import FeatureConfig, load_dataset

TARGETS = "teacher_targets.npz"
# Config keys a teacher must share with its student (beyond folds): the validation split.
SPLIT_KEYS = ("seed", "val_fraction", "val_by_source", "clips_per_fold")


def teacher_dirs(config: ml_collections.ConfigDict) -> list[Path]:
  """The teacher runs of ``config.distill.teachers``: templates filled with the config's test
  fold and seed (``{fold}``, ``{seed}``)."""
  fold, = config.test_folds
  return [Path(t.format(fold=fold, seed=config.seed)) for t in config.distill.teachers]


def check_teacher(provenance: Mapping, config: ml_collections.ConfigDict, where: str) -> None:
  """Raises ``ValueError`` (naming ``where``) unless the teacher was trained on exactly the
  student's training folds, tested on its test folds, with the same validation split."""
  teacher = provenance["config"]
  same = {"train_folds": list(provenance["train_folds"]) == list(config.train_folds),
          "test_folds": list(provenance["test_folds"]) == list(config.test_folds),
          **{k: teacher.get(k) == config.get(k) for k in SPLIT_KEYS}}
  wrong = [k for k, ok in same.items() if not ok]
  if wrong:
    raise ValueError(f"{where}: not a teacher for this student: {', '.join(wrong)} differ "
                     "(a teacher must share the student's training folds and validation "
                     "split, so it has seen neither the student's validation nor test clips)")


def teacher_targets(config: ml_collections.ConfigDict,
                    log: Callable[[str], None] = print) -> dict[str, np.ndarray]:
  """The teacher ensemble's mean softmax on every clip of the student's training folds.

  Returns ``{"stems": [clips] str, "probabilities": [clips, classes] float32}``.

  Raises:
    FileNotFoundError: a teacher's ``best.msgpack`` is missing.
    ValueError: a teacher fails :func:`check_teacher`, or the teachers disagree on the clips.
  """
  stems, probs = None, []
  for run in teacher_dirs(config):
    module, params, prov = pretrained.load_wyse(run / "best.msgpack")
    check_teacher(prov, config, str(run))
    ds = load_dataset(config.data_dir, FeatureConfig.from_provenance(prov),
                      config.get("cache_dir") or None, folds=list(config.train_folds),
                      limit=config.get("clips_per_fold") or None)
    x = splits.normalise(ds.features, prov.get("mean"), prov.get("std"))
    run_stems = np.asarray([c.stem for c in ds.clips])
    if stems is not None and not np.array_equal(stems, run_stems):
      raise ValueError(f"{run}: its clips differ from the first teacher's")
    stems = run_stems
    probs.append(evaluate.predict_probabilities(module, params, x,
                                                config.get("eval_batch_size", 50)))
    log(f"teacher {run}: {len(x)} training clips, accuracy "
        f"{np.mean(probs[-1].argmax(-1) == ds.targets):.4f}")
  return {"stems": stems, "probabilities": np.mean(probs, axis=0).astype(np.float32)}


def soft_targets(probabilities_by_stem: Mapping[str, np.ndarray], stems: Sequence[str],
                 labels: np.ndarray, weight: float) -> np.ndarray:
  """``(1 - weight) * onehot(labels) + weight * teacher`` for the clips ``stems``
  ``[clips, classes]``.

  Raises:
    ValueError: ``weight`` outside [0, 1], or a clip without teacher probabilities.
  """
  if not 0.0 <= weight <= 1.0:
    raise ValueError(f"distill.weight must be in [0, 1], got {weight}")
  missing = [s for s in stems if s not in probabilities_by_stem]
  if missing:
    raise ValueError(f"no teacher probabilities for {len(missing)} training clips, e.g. "
                     f"{missing[0]}")
  teacher = np.stack([probabilities_by_stem[s] for s in stems]).astype(np.float32)
  onehot = np.eye(teacher.shape[1], dtype=np.float32)[labels]
  return (1.0 - weight) * onehot + weight * teacher


def load_or_compute(workdir: Path, config: ml_collections.ConfigDict,
                    log: Callable[[str], None] = print) -> dict[str, np.ndarray]:
  """``workdir/teacher_targets.npz``, computed (:func:`teacher_targets`) and written on the
  first call."""
  path = Path(workdir) / TARGETS
  if not path.exists():
    targets = teacher_targets(config, log)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **targets,
                        teachers=np.asarray([str(t) for t in teacher_dirs(config)]))
    files.write_bytes(path, buffer.getvalue())
  with np.load(path) as z:
    return {"stems": z["stems"], "probabilities": z["probabilities"]}


def train_soft_targets(workdir: Path, config: ml_collections.ConfigDict,
                       data: splits.Splits, log: Callable[[str], None] = print) -> np.ndarray:
  """The soft targets of ``data``'s training clips under ``config.distill``."""
  targets = load_or_compute(workdir, config, log)
  by_stem = dict(zip(targets["stems"].tolist(), targets["probabilities"], strict=True))
  return soft_targets(by_stem, data.stems["train"], data.arrays["train"][1],
                      config.distill.weight)
