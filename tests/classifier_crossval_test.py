"""Tests for specst_jax/classifier/crossval.py: K folds x seeds on a fake ESC-50 tree."""

import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from esc50_fake import make_fake_esc50, tiny_config  # noqa: E402

from specst_jax import pretrained  # noqa: E402
from specst_jax.classifier import crossval as cv  # noqa: E402
from specst_jax.classifier import splits  # noqa: E402


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
  d = tmp_path_factory.mktemp("esc50")
  return make_fake_esc50(d / "data"), d / "cache"


def test_crossval_trains_each_fold_and_seed_once_and_scores_ensembles(fake, tmp_path):
  c = tiny_config(fake, aux_weight=0.0, num_epochs=1)
  result = cv.crossvalidate(c, tmp_path, folds=["2", "5"], seeds=["0", "1"], log=lambda s: None)
  assert [r["fold"] for r in result["folds"]] == [2, 5]
  for r in result["folds"]:
    paths = [cv.run_dir(tmp_path, r["fold"], s) / "best.msgpack" for s in (0, 1)]
    provs = [pretrained.load_wyse(p)[2] for p in paths]
    assert [p["test_folds"] for p in provs] == [[r["fold"]]] * 2
    assert [p["config"]["seed"] for p in provs] == [0, 1]
    assert r["fold"] not in provs[0]["train_folds"] and len(provs[0]["train_folds"]) == 4
    # Members are the runs' own selected-epoch test accuracies; the ensemble is
    # evaluate_classifier's mean-softmax vote over the same files.
    assert r["members"] == pytest.approx([p["test_accuracy"] for p in provs])
    want = evaluate_classifier_ensemble(paths, c, r["fold"])
    assert r["ensemble"] == pytest.approx(want) and r["clips"] == 8
    assert r["ensemble_by_size"][-1] == r["ensemble"]
    singles = [evaluate_classifier_ensemble([q], c, r["fold"]) for q in paths]
    assert r["ensemble_by_size"][0] == pytest.approx(np.mean(singles))
  means = [r["member_mean"] for r in result["folds"]]
  assert result["member_accuracy"] == pytest.approx([np.mean(means), np.std(means, ddof=1)])
  assert result["ensemble_by_size"] == pytest.approx(
      np.mean([r["ensemble_by_size"] for r in result["folds"]], axis=0))
  assert "| 5 |" in cv.table(result) and "ensemble of 2" in cv.table(result)
  # A second call finds every run finished and trains nothing.
  stamp = cv.run_dir(tmp_path, 5, 1) / "best.msgpack"
  before = stamp.stat().st_mtime_ns
  again = cv.crossvalidate(c, tmp_path, folds=[5], seeds=[1], log=lambda s: None)
  assert stamp.stat().st_mtime_ns == before
  assert again["folds"][0]["members"] == pytest.approx(result["folds"][1]["members"][1:])
  with pytest.raises(ValueError, match="fold"):
    cv.crossvalidate(c, tmp_path, folds=[6], seeds=[0], log=lambda s: None)


def evaluate_classifier_ensemble(paths, config, fold) -> float:
  """Mean-softmax ensemble accuracy, computed here with numpy from each file's logits."""
  probs, targets = [], None
  for p in paths:
    module, params, prov = pretrained.load_wyse(p)
    c = config.copy_and_resolve_references()
    c.train_folds, c.test_folds = tuple(prov["train_folds"]), (fold,)
    c.seed = prov["config"]["seed"]  # the seed picks the val split, hence the normaliser
    x, targets, _ = splits.prepare_splits(c, log=lambda s: None).arrays["test"]
    logits = np.asarray(module.apply({"params": params}, jnp.asarray(x))[0], np.float64)
    z = np.exp(logits - logits.max(-1, keepdims=True))
    probs.append(z / z.sum(-1, keepdims=True))
  return float(np.mean(np.mean(probs, axis=0).argmax(-1) == targets))
