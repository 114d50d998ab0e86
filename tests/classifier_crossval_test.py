"""Tests for specst_jax/classifier/crossval.py: K folds x seeds on a fake ESC-50 tree, and the
protocol it enforces (no selection by test accuracy, whole-recording validation, one recipe per
work directory, the rule recorded)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from esc50_fake import tiny_config  # noqa: E402

from specst_jax import files, pretrained, provenance  # noqa: E402
from specst_jax.classifier import crossval as cv  # noqa: E402
from specst_jax.classifier import splits, train  # noqa: E402


def test_crossval_trains_each_fold_and_seed_once_and_scores_ensembles(fake, tmp_path):
  c = tiny_config(fake, aux_weight=0.0, num_epochs=1, val_by_source=True)
  result = cv.crossvalidate(c, tmp_path, folds=["2", "5"], seeds=["0", "1"], log=lambda s: None,
                            recipe="tiny")
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
  # What was chosen, how, and from which code is recorded; each clip's prediction too.
  assert result["protocol"] == cv.PROTOCOL and result["recipe"] == "tiny"
  assert result["selection"]["epoch"] == "val_accuracy" and result["selection"]["members"] == "all"
  assert result["validation"] == "whole source recordings"
  assert result["seeds"] == [0, 1] and result["folds_run"] == [2, 5]
  assert result["config"]["model"] == c.model.to_dict()
  assert result["git_commit"] is None or len(result["git_commit"].split("+")[0]) == 40
  assert result["commit"] == result["git_commit"] and result["machine"]
  assert result["data_sha256"] == provenance.data_hash(cv.data_files(c))  # CSV + all folds
  assert len(cv.data_files(c)) == 1 + 5 * c.clips_per_fold
  written = json.loads(files.write_json(tmp_path / "crossval.json", result).read_text())
  assert written["selection"] == result["selection"] and written["folds"][1]["members"] == \
      pytest.approx(result["folds"][1]["members"])
  for r in result["folds"]:
    t = np.asarray(r["targets"])
    assert [float(np.mean(np.asarray(p) == t)) for p in r["predictions"]] == pytest.approx(
        r["members"])
    assert [run["seed"] for run in r["runs"]] == [0, 1] and r["ensemble_seeds"] == [0, 1]
    assert all(run["epochs"] == 1 and run["total_seconds"] > 0 for run in r["runs"])
    assert not any("test" in k for run in r["runs"] for k in run)
  # A finished run is scored only under the recipe it was trained with.
  other = tiny_config(fake, aux_weight=0.0, num_epochs=1, val_by_source=True, learning_rate=0.1)
  with pytest.raises(cv.ProtocolError, match="learning_rate.*another workdir"):
    cv.crossvalidate(other, tmp_path, folds=[5], seeds=[1], log=lambda s: None)
  # Members chosen on validation: the best seed by its validation accuracy alone.
  top = cv.crossvalidate(c, tmp_path, folds=[2, 5], seeds=[0, 1], members="val_top:1",
                         log=lambda s: None)
  for r in top["folds"]:
    vals = [run["val_accuracy"] for run in r["runs"]]
    best = int(np.argmax(vals))  # argmax takes the first of ties, as choose_members does
    assert r["ensemble_seeds"] == [best]
    assert r["ensemble"] == pytest.approx(r["members"][best])


@pytest.mark.parametrize("epoch, members", [("test_accuracy", "all"),
                                            ("val_accuracy", "test_top:2"),
                                            ("val_accuracy", "best_TEST")])
def test_selection_by_test_accuracy_is_refused_naming_the_rule(epoch, members):
  with pytest.raises(cv.ProtocolError, match="test accuracy is not allowed.*Protocol: Every "
                     "choice"):
    cv.check_selection(epoch, members)


def test_selection_rules():
  assert cv.check_selection()["members"] == "all"
  assert "2 seeds" in cv.check_selection(members="val_top:2")["member_rule"]
  for members in ("val_top:0", "val_top", "best:2"):
    with pytest.raises(ValueError, match="members"):
      cv.check_selection(members=members)
  with pytest.raises(ValueError, match="epoch"):
    cv.check_selection(epoch="last")
  runs = [{"val_accuracy": v} for v in (0.5, 0.7, 0.7, 0.1)]
  assert cv.choose_members(runs, "val_top:2") == [1, 2]
  assert cv.choose_members(runs, "all") == [0, 1, 2, 3]


def test_leaky_or_missing_validation_is_refused(fake):
  with pytest.raises(cv.ProtocolError, match="val_by_source=False.*source recordings"):
    cv.check_config(tiny_config(fake, val_by_source=False))
  cv.check_config(tiny_config(fake, val_by_source=False), allow_clip_validation=True)
  with pytest.raises(cv.ProtocolError, match="val_fraction=0"):
    cv.check_config(tiny_config(fake, val_by_source=True, val_fraction=0.0))
  with pytest.raises(cv.ProtocolError, match="val_by_source"):
    cv.crossvalidate(tiny_config(fake), "/nonexistent", folds=[5], seeds=[0])


def test_cli_refuses_test_selection_before_training(fake, tmp_path):
  repo = Path(__file__).resolve().parents[1]
  out = subprocess.run(
      [sys.executable, "-m", "experiments.crossval_classifier",
       "--config=experiments/configs/tiny.py", f"--config.data_dir={fake[0]}",
       "--config.val_by_source=True", f"--workdir={tmp_path / 'cv'}", "--members=test_top:1"],
      cwd=repo, capture_output=True, text=True, timeout=300,
      env={**os.environ, "JAX_PLATFORMS": "cpu"})
  assert out.returncode == 1
  assert "test accuracy is not allowed" in out.stderr and "Protocol:" in out.stderr
  assert not (tmp_path / "cv").exists()


def test_cli_report_only_never_trains(fake, tmp_path):
  repo = Path(__file__).resolve().parents[1]
  out = subprocess.run(
      [sys.executable, "-m", "experiments.crossval_classifier",
       "--config=experiments/configs/tiny.py", f"--config.data_dir={fake[0]}",
       "--config.val_by_source=True", f"--workdir={tmp_path / 'cv'}", "--folds=5",
       "--report_only"],
      cwd=repo, capture_output=True, text=True, timeout=300,
      env={**os.environ, "JAX_PLATFORMS": "cpu"})
  assert out.returncode == 1 and "fold 5 seed 0: not finished" in out.stderr
  assert not cv.run_dir(tmp_path / "cv", 5, 0).exists()
  assert not (tmp_path / "cv" / "crossval.json").exists()


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


def test_a_scored_run_needs_only_its_small_files(fake, tmp_path, monkeypatch):
  """What a study keeps in git (best.json, metrics.jsonl, test_scores.npz) reproduces the
  result without the weights or checkpoints, and trains nothing."""
  c = tiny_config(fake, aux_weight=0.0, num_epochs=1, val_by_source=True)
  full = cv.crossvalidate(c, tmp_path / "a", folds=[5], seeds=[0, 1], log=lambda s: None)
  for s in (0, 1):
    run = cv.run_dir(tmp_path / "a", 5, s)
    kept = tmp_path / "b" / run.name
    kept.mkdir(parents=True)
    for name in ("best.json", "metrics.jsonl", cv.SCORES):
      shutil.copy(run / name, kept / name)
  monkeypatch.setattr(train, "train_and_evaluate",
                      lambda *a, **k: pytest.fail("a scored run was trained again"))
  again = cv.crossvalidate(c, tmp_path / "b", folds=[5], seeds=[0, 1], log=lambda s: None)
  for key in ("members", "ensemble", "ensemble_by_size", "targets", "predictions", "runs"):
    assert again["folds"][0][key] == full["folds"][0][key], key
  # A report of finished runs only gives the same result and refuses an unfinished run
  # before anything is trained or written.
  report = cv.crossvalidate(c, tmp_path / "b", folds=[5], seeds=[0, 1], log=lambda s: None,
                            train_missing=False)
  assert report["folds"][0]["members"] == full["folds"][0]["members"]
  with pytest.raises(ValueError, match=r"fold 5 seed 2: not finished .*test_scores.npz"):
    cv.crossvalidate(c, tmp_path / "b", folds=[5], seeds=[0, 1, 2], log=lambda s: None,
                     train_missing=False)
  assert not cv.run_dir(tmp_path / "b", 5, 2).exists()
  # The score file is the run's selected epoch on its test fold, as evaluate_classifier has it.
  with np.load(cv.run_dir(tmp_path / "a", 5, 0) / cv.SCORES) as z:
    assert int(z["fold"]) == 5 and z["probabilities"].shape[0] == 8
    np.testing.assert_allclose(z["probabilities"].sum(-1), 1.0, atol=1e-5)
  single = evaluate_classifier_ensemble([cv.run_dir(tmp_path / "a", 5, 0) / "best.msgpack"], c, 5)
  assert full["folds"][0]["members"][0] == pytest.approx(single)
  with pytest.raises(ValueError, match="scores fold 5, not test fold 4"):
    cv.score_run(cv.run_dir(tmp_path / "b", 5, 0), c.data_dir, 4, None, 8)


def test_ship_a_cross_validated_run(fake, tmp_path):
  """experiments.ship_classifier copies fold 5's selected epoch unchanged, with the fold-5
  accuracy of its score file and the 5-fold result; a partial study is refused, nothing written."""
  c = tiny_config(fake, aux_weight=0.0, num_epochs=1, val_by_source=True)
  work, weights = tmp_path / "work", tmp_path / "weights"

  def ship():
    return subprocess.run([sys.executable, "-m", "experiments.ship_classifier",
                           f"--workdir={work}", "--name=single", f"--weights_dir={weights}"],
                          capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[1],
                          env={**os.environ, "JAX_PLATFORMS": "cpu"})

  partial = cv.crossvalidate(c, work, folds=[5], seeds=[0], log=lambda s: None)
  files.write_json(work / "crossval.json", partial)
  r = ship()
  assert r.returncode == 1 and "covers folds [5]; shipping needs all of [1, 2, 3, 4, 5]" in r.stderr
  assert not weights.exists()
  result = cv.crossvalidate(c, work, folds=cv.ALL_FOLDS, seeds=[0], log=lambda s: None)
  files.write_json(work / "crossval.json", result)
  r = ship()
  assert r.returncode == 0, r.stderr[-2000:]
  assert sorted(p.name for p in weights.iterdir()) == ["single.json", "single.msgpack"]
  run = cv.run_dir(work, 5, 0)
  assert (weights / "single.msgpack").read_bytes() == (run / "best.msgpack").read_bytes()
  _, _, prov = pretrained.load_wyse(weights / "single.msgpack")
  assert prov["test_folds"] == [5] and prov["train_folds"] == [1, 2, 3, 4]
  assert prov["test_accuracy"] == pytest.approx(
      evaluate_classifier_ensemble([weights / "single.msgpack"], c, 5))
  shipped = prov["crossval"]
  assert shipped["accuracy_per_fold"] == [f["members"][0] for f in result["folds"]]
  assert shipped["accuracy"] == pytest.approx(result["member_accuracy"])
  assert shipped["selection"] == result["selection"] and shipped["run"] == "fold5_seed0"
  assert shipped["data_sha256"] == result["data_sha256"]
  best = json.loads((run / "best.json").read_text())  # the training run's own provenance
  assert best["data_sha256"] == provenance.data_hash(splits.recipe_files(cv.fold_config(c, 5, 0)))
  assert prov["data_sha256"] == best["data_sha256"] and "commit" in prov
  assert prov["shipped"]["data_sha256"] == provenance.data_hash(
      [run / "best.json", run / "best.msgpack", run / cv.SCORES, work / "crossval.json"])
  assert prov["shipped"]["command"].startswith("python -m experiments.ship_classifier")
  assert f"fold 5 {100 * prov['test_accuracy']:.2f} %" in r.stdout
  # A crossval.json that disagrees with the run's score file is refused.
  result["folds"][4]["members"][0] += 0.5
  files.write_json(work / "crossval.json", result)
  r = ship()
  assert r.returncode == 1 and "report it again" in r.stderr


def test_compare_crossval_pairs_folds_and_averages_seeds(tmp_path):
  """experiments.compare_crossval: per-fold means over seeds, A - B with stats.compare's
  interval over the shared folds; a missing seed or file is one error line."""
  from specst_jax.studies import stats

  def write(name, folds):
    d = tmp_path / name
    d.mkdir()
    files.write_json(d / "crossval.json", {"folds": [
        {"fold": k, "members": accs, "runs": [{"seed": s} for s in range(len(accs))]}
        for k, accs in folds.items()]})
    return str(d)

  a = write("a", {1: [0.6, 0.7], 2: [0.5, 0.5], 3: [0.8, 0.6], 4: [0.9, 0.9]})
  b = write("b", {1: [0.55], 2: [0.45], 3: [0.6], 5: [0.1]})
  assert cv.fold_accuracies(a) == pytest.approx({1: 0.65, 2: 0.5, 3: 0.7, 4: 0.9})
  assert cv.fold_accuracies(a, ["1"]) == pytest.approx(
      {1: 0.7, 2: 0.5, 3: 0.6, 4: 0.9})
  want = stats.compare([0.65, 0.5, 0.7], [0.55, 0.45, 0.6], [1, 2, 3], predicted_sign=1)
  run = lambda *args: subprocess.run(  # noqa: E731
      [sys.executable, "-m", "experiments.compare_crossval", *args], capture_output=True,
      text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
  r = run(f"--a={a}", f"--b={b}")
  assert r.returncode == 0, r.stderr
  assert "| 1 | 65.00 | 55.00 | +10.00 |" in r.stdout and "| 4 |" not in r.stdout
  assert (f"| mean | 61.67 | 53.33 | {100 * want.mean:+.2f} [{100 * want.low:+.2f}, "
          f"{100 * want.high:+.2f}] |") in r.stdout and "3 folds" in r.stdout
  r = run(f"--a={a}", f"--b={b}", "--seeds=0,1")
  assert r.returncode == 1 and "fold 1 has no seed 1" in r.stderr
  r = run(f"--a={tmp_path / 'none'}", f"--b={b}")
  assert r.returncode == 1 and "none/crossval.json: missing" in r.stderr
