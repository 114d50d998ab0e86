"""Tests for specst_jax/classifier/distill.py: soft targets, the teacher rule that keeps the
protocol, and a distilled cross-validation run on the fake ESC-50 tree."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from esc50_fake import tiny_config  # noqa: E402

from specst_jax import pretrained  # noqa: E402
from specst_jax.classifier import crossval as cv  # noqa: E402
from specst_jax.classifier import distill, evaluate, splits  # noqa: E402


def test_soft_targets_mix_labels_and_teacher():
  teacher = {"a": np.array([0.5, 0.25, 0.25]), "b": np.array([0.0, 0.0, 1.0])}
  got = distill.soft_targets(teacher, ["b", "a"], np.array([1, 0]), 0.7)
  np.testing.assert_allclose(got, [[0.0, 0.3, 0.7], [0.3 + 0.35, 0.175, 0.175]], rtol=1e-6)
  np.testing.assert_allclose(got.sum(-1), 1.0, rtol=1e-6)
  np.testing.assert_array_equal(distill.soft_targets(teacher, ["a"], np.array([2]), 0.0),
                                [[0, 0, 1]])
  with pytest.raises(ValueError, match="distill.weight must be in"):
    distill.soft_targets(teacher, ["a"], np.array([0]), 1.5)
  with pytest.raises(ValueError, match="no teacher probabilities for 1 training clips, e.g. c"):
    distill.soft_targets(teacher, ["a", "c"], np.array([0, 0]), 0.5)


def test_a_distilled_run_learns_from_teachers_that_saw_neither_its_validation_nor_test(
    fake, tmp_path):
  teacher_cfg = tiny_config(fake, aux_weight=0.0, num_epochs=1, val_by_source=True)
  cv.crossvalidate(teacher_cfg, tmp_path / "teacher", folds=[5], seeds=[0, 1],
                   log=lambda s: None)
  student = tiny_config(fake, aux_weight=0.0, num_epochs=1, val_by_source=True)
  template = str(tmp_path / "teacher" / "fold{fold}_seed{seed}")
  student.distill = {"teachers": (template,), "weight": 0.7}
  result = cv.crossvalidate(student, tmp_path / "student", folds=[5], seeds=[0],
                            log=lambda s: None)
  run = cv.run_dir(tmp_path / "student", 5, 0)
  assert result["folds"][0]["clips"] == 8 and (run / "best.msgpack").exists()
  # The kept targets are the teacher's softmax on every clip of the training folds
  # (validation clips included: they are simply not trained on).
  with np.load(run / distill.TARGETS) as z:
    stems, probs = z["stems"], z["probabilities"]
    assert z["teachers"].tolist() == [template.format(fold=5, seed=0)]
  _, want, _ = evaluate.evaluate_members([cv.run_dir(tmp_path / "teacher", 5, 0) /
                                          "best.msgpack"], fake[0], [1, 2, 3, 4], fake[1], 8)
  np.testing.assert_allclose(probs, want[0], rtol=1e-5, atol=1e-7)
  # The student's training targets: 0.3 one-hot + 0.7 teacher, per training clip.
  c = cv.fold_config(student, 5, 0)
  data = splits.prepare_splits(c, log=lambda s: None)
  soft = distill.train_soft_targets(run, c, data)
  row = {s: i for i, s in enumerate(stems.tolist())}
  i = [row[s] for s in data.stems["train"]]
  labels = data.arrays["train"][1]
  np.testing.assert_allclose(soft, 0.3 * np.eye(probs.shape[1])[labels] + 0.7 * probs[i],
                             rtol=1e-6)
  assert not set(data.stems["train"]) & set(data.stems["val"])
  assert pretrained.load_wyse(run / "best.msgpack")[2]["config"]["distill"]["weight"] == 0.7


def test_teachers_that_saw_the_students_validation_or_test_clips_are_refused(fake, tmp_path):
  teacher_cfg = tiny_config(fake, aux_weight=0.0, num_epochs=1, val_by_source=True)
  cv.crossvalidate(teacher_cfg, tmp_path / "t", folds=[4], seeds=[1], log=lambda s: None)
  # Seed 1's validation clips differ from seed 0's; fold 4's teacher trained on fold 5.
  student = cv.fold_config(tiny_config(fake, aux_weight=0.0, num_epochs=1, val_by_source=True),
                           4, 0)
  student.distill = {"teachers": (str(tmp_path / "t" / "fold4_seed1"),), "weight": 0.5}
  with pytest.raises(ValueError, match="fold4_seed1: not a teacher for this student: seed"):
    distill.teacher_targets(student, log=lambda s: None)
  student = cv.fold_config(student, 5, 1)
  student.distill = {"teachers": (str(tmp_path / "t" / "fold4_seed1"),), "weight": 0.5}
  with pytest.raises(ValueError, match="train_folds, test_folds differ"):
    distill.teacher_targets(student, log=lambda s: None)
  student.distill = {"teachers": (str(tmp_path / "t" / "fold5_seed1"),), "weight": 0.5}
  with pytest.raises(FileNotFoundError, match="fold5_seed1/best.msgpack"):
    distill.teacher_targets(student, log=lambda s: None)
