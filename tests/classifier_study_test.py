"""Tests for specst_jax/classifier/study.py and experiments/representation_study.py: the whole
study (rows x folds x seeds through crossval, paired intervals, per-class differences, curves,
tables, resumption, the CLI) on a fake ESC-50 tree with a tiny config."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from esc50_fake import tiny_config  # noqa: E402

from experiments.configs import conv2d, distilled, single_net  # noqa: E402
from experiments.configs import representation_study as recipe_config  # noqa: E402
from specst_jax import features as features_lib  # noqa: E402
from specst_jax import provenance  # noqa: E402
from specst_jax.classifier import crossval, study  # noqa: E402
from specst_jax.classifier.features import FeatureConfig, load_dataset  # noqa: E402
from specst_jax.studies import stats  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def test_plan_rows_differ_only_in_the_input(fake):
  recipe = tiny_config(fake, val_by_source=True)
  rows, comps = study.plan(recipe, ["unit_db", "mfcc", "logfreq"])
  assert [r.name for r in rows] == ["unit_db", "mfcc", "logfreq"]
  assert comps == [("mfcc", "unit_db"), ("logfreq", "unit_db")]
  for r in rows:
    d = r.config.to_dict()
    assert d["features"].pop("representation") == r.name
    want = recipe.to_dict()
    want["features"].pop("representation")
    assert d == want
  rows, comps = study.plan(recipe, ["log_mel"], centre="both")
  assert [(r.name, r.config.features.center) for r in rows] == [("log_mel", False),
                                                                ("log_mel_centred", True)]
  assert comps == [("log_mel_centred", "log_mel")]
  rows, _ = study.plan(recipe, ["unit_db"], centre="true")
  assert rows[0].config.features.center is True
  for reps, kw, match in ((["unit_db", "cqt"], {}, "representations"),
                          (["unit_db", "unit_db"], {}, "representations"),
                          (["mfcc"], {}, "baseline"),
                          (["unit_db"], {"centre": "maybe"}, "centre")):
    with pytest.raises(ValueError, match=match):
      study.plan(recipe, reps, **kw)


def test_study_recipe_is_the_fixed_one():
  c = recipe_config.get_config("mfcc")
  assert c.features.representation == "mfcc" and (c.features.n_fft, c.features.hop_length) == (
      1024, 512)
  assert c.features.center is False and c.num_epochs == 60 and c.test_every_epoch is False
  assert c.model.conv_features == (512, 64) and c.model.dense_features == 256
  assert c.aux_weight == 0.0 and c.val_by_source and c.augment.mixup == 0.4
  crossval.check_config(c)  # the protocol's validation split
  for rep, channels in (("unit_db", 513), ("log_mel", 128), ("logfreq", 95), ("mfcc", 120),
                        ("log_mel_deltas", 256)):
    cfg = FeatureConfig.from_config(recipe_config.get_config(rep))
    assert (cfg.n_frames, cfg.n_channels) == (155, channels)


@pytest.mark.parametrize("arg", ["unit_db", "log_mel_deltas,centred"])
def test_the_preregistered_single_net_is_the_study_recipe_plus_three_changes(arg):
  """conv1 2048, weight averaging 0.999, 80 epochs (and centring when asked): nothing else."""
  got = single_net.get_config(arg).to_dict()
  want = recipe_config.get_config(arg.split(",")[0]).to_dict()
  assert got["model"].pop("conv_features") == (2048, 64)
  assert want["model"].pop("conv_features") == (512, 64)
  assert got.pop("ema_decay") == 0.999 and "ema_decay" not in want
  assert (got.pop("num_epochs"), want.pop("num_epochs")) == (80, 60)
  assert got["features"].pop("center") is arg.endswith(",centred")
  want["features"].pop("center")
  assert got == want
  crossval.check_config(single_net.get_config(arg))
  with pytest.raises(ValueError, match="REP,centred"):
    single_net.get_config("unit_db,wide")


@pytest.mark.parametrize("rep", ["log_mel_deltas", "unit_db"])
def test_the_preregistered_distilled_net_is_the_study_recipe_plus_teachers(rep):
  """One change: soft targets from the study's three best-validated inputs, same fold and seed."""
  got = distilled.get_config(rep).to_dict()
  want = recipe_config.get_config(rep).to_dict()
  teach = got.pop("distill")
  assert got == want and teach["weight"] == 0.7
  assert [t.format(fold=3, seed=0) for t in teach["teachers"]] == [
      f"experiments/results/representation_study/{r}/fold3_seed0"
      for r in ("log_mel_deltas", "logfreq", "log_mel")]
  crossval.check_config(distilled.get_config(rep))


@pytest.mark.parametrize("rep, planes", [("log_mel_deltas", 2), ("log_mel", 1)])
def test_the_preregistered_conv2d_net_is_the_study_recipe_with_its_net_and_window(rep, planes):
  """Attempt 4: SB-CNN's layers, 64-frame training windows, no fan-in scaling: nothing else."""
  got = conv2d.get_config(rep).to_dict()
  want = recipe_config.get_config(rep).to_dict()
  net = got.pop("model")
  assert net == dict(architecture="conv2d", n_classes=50, n_aux_classes=16, planes=planes,
                     conv_features=(24, 48, 48), kernel_size=(5, 5), pool=(4, 2),
                     dense_features=256, dropout_rate=0.0, dtype="float32")
  want.pop("model")
  assert got["augment"].pop("crop_frames") == 64 and "crop_frames" not in want["augment"]
  assert (got.pop("lr_fan_in_scaling"), want.pop("lr_fan_in_scaling")) == (False, True)
  assert got == want
  crossval.check_config(conv2d.get_config(rep))
  with pytest.raises(ValueError, match="unequal bands"):
    conv2d.get_config("log_mel_deltas+logfreq")


def test_logfreq_features_match_a_numpy_twin(fake):
  cfg = FeatureConfig(representation="logfreq", sr=4000, n_fft=64, hop_length=32)
  ds = load_dataset(fake[0], cfg, fake[1], limit=1, folds=[1])
  import soundfile as sf
  x, sr = sf.read(fake[0] / "audio" / f"{ds.clips[0].stem}.flac", dtype="float64")
  assert sr == 4000
  # numpy twin: Hann frames (not centred), |rfft|, the filterbank, dB re max, 80 dB floor.
  win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(64) / 64)
  frames = np.lib.stride_tricks.sliding_window_view(x, 64)[::32] * win
  L = np.abs(np.fft.rfft(frames, axis=-1)) @ features_lib.logfreq_filterbank(
      sr=4000, n_fft=64, dtype=np.float64)
  db = 20 * np.log10(np.maximum(L, 1e-10) / L.max())
  want = np.maximum(db, -80.0)
  assert ds.features.shape == (1, cfg.n_frames, cfg.n_channels) == (1,) + want.shape
  np.testing.assert_allclose(ds.features[0], want, atol=2e-3)  # float32, dB


def test_study_end_to_end_resumes_and_the_cli_reproduces_it(fake, tmp_path):
  recipe = tiny_config(fake, val_by_source=True, num_epochs=2, aux_weight=0.0)
  recipe.test_every_epoch = False
  rows, comps = study.plan(recipe, ["unit_db", "logfreq"])
  folds, seeds = [5], [0, 1]  # (crossval_test covers several folds; this keeps it short)
  res = study.run_study(rows, comps, tmp_path, folds, seeds, log=lambda s: None,
                        n_resamples=2000)
  assert [r["name"] for r in res["rows"]] == ["unit_db", "logfreq"]
  per_row = {}
  for r in res["rows"]:
    cv = json.loads((tmp_path / r["name"] / "crossval.json").read_text())
    per_row[r["name"]] = cv
    assert r["fold_accuracy"] == pytest.approx([f["member_mean"] for f in cv["folds"]])
    m = np.mean(r["fold_accuracy"])
    assert r["accuracy"] == pytest.approx([m, 0.0])  # one fold: sd 0 (crossval.mean_and_sd)
    assert r["runs"] == 2 and r["epochs"] == [2] * 2 and r["seconds_per_epoch"] > 0
    assert r["val_accuracy"] == pytest.approx(np.mean(
        [json.loads((crossval.run_dir(tmp_path / r["name"], k, s) / "best.json").read_text())
         ["val_accuracy"] for k in folds for s in seeds]))
    assert r["channels"] == (71 if r["name"] == "logfreq" else 33)
    assert (tmp_path / f"curves_{r['name']}.png").stat().st_size > 0
    for f in cv["folds"]:
      for s in seeds:
        history = (crossval.run_dir(tmp_path / r["name"], f["fold"], s) / "metrics.jsonl")
        # The test fold was not looked at during training.
        assert not any(k.startswith("test_") for line in history.read_text().splitlines()
                       for k in json.loads(line))
  # The paired difference: per fold x seed, by hand, and its bootstrap interval.
  (c,) = res["comparisons"]
  a = [acc for f in per_row["logfreq"]["folds"] for acc in f["members"]]
  b = [acc for f in per_row["unit_db"]["folds"] for acc in f["members"]]
  d = np.subtract(a, b)
  assert c["by_run"]["differences"] == pytest.approx(d) and c["by_run"]["n_pairs"] == 2
  assert (c["by_run"]["low"], c["by_run"]["high"]) == pytest.approx(
      stats.bootstrap_interval(d, n_resamples=2000))
  by_fold = d.reshape(len(folds), len(seeds)).mean(1)
  assert c["by_fold"]["differences"] == pytest.approx(by_fold)
  assert c["by_fold_t"]["mean"] == pytest.approx(by_fold.mean()) and c["by_fold_t"]["n"] == 1
  assert c["verdict"] == "undecided"  # one fold: no t test
  assert c["verdict_by_run"] == "undecided"  # 2 pairs < stats.MIN_PAIRS
  # Per class: balanced classes, so the mean of the class accuracies is the mean accuracy.
  (pc,) = res["per_class"]
  assert len(pc["classes"]) == 4
  assert np.mean([x["a"] for x in pc["classes"]]) == pytest.approx(np.mean(a))
  assert np.mean([x["difference"] for x in pc["classes"]]) == pytest.approx(np.mean(d))
  assert [x["difference"] for x in pc["classes"]] == sorted(x["difference"]
                                                             for x in pc["classes"])
  text = study.markdown(res)
  assert "| unit_db | " in text and "(baseline)" in text and "vs unit_db" in text
  assert f"| {100 * res['rows'][0]['val_accuracy']:.2f} | (baseline) |" in text
  assert "Per-class accuracy (%), logfreq against unit_db" in text

  # Rerunning (here through the CLI, the recipe given as flags) trains nothing and gives the
  # same numbers; a changed recipe in the same workdir is refused.
  stamps = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/fold*_seed*/best.msgpack")}
  assert len(stamps) == 4
  base = [sys.executable, "-m", "experiments.representation_study",
          "--config=experiments/configs/tiny.py", f"--config.data_dir={fake[0]}",
          f"--config.cache_dir={fake[1]}", "--config.val_by_source=True",
          "--config.aux_weight=0.0", f"--workdir={tmp_path}", "--representations=unit_db,logfreq",
          "--folds=5", "--seeds=0,1"]
  env = {**os.environ, "JAX_PLATFORMS": "cpu"}
  out = subprocess.run(base + ["--config.num_epochs=2"], cwd=REPO, capture_output=True,
                       text=True, timeout=600, env=env)
  assert out.returncode == 0, out.stderr[-3000:]
  assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
  written = json.loads((tmp_path / "study.json").read_text())
  np.testing.assert_allclose([r["fold_accuracy"] for r in written["rows"]],
                             [r["fold_accuracy"] for r in res["rows"]])
  assert written["comparisons"][0]["by_run"]["differences"] == pytest.approx(d)
  assert "representation_study" in written["command"] and written["recipe"].endswith("tiny.py")
  assert written["data_sha256"] == res["data_sha256"] == provenance.data_hash(
      crossval.data_files(recipe))
  assert written["commit"] == written["git_commit"] and written["machine"]
  assert (tmp_path / "study.md").read_text().strip() == out.stdout.strip()
  out = subprocess.run(base + ["--config.num_epochs=3"], cwd=REPO, capture_output=True,
                       text=True, timeout=600, env=env)
  assert out.returncode == 1 and "num_epochs" in out.stderr and "Protocol:" in out.stderr
  # --report_only never trains: a seed that has not run is named, and nothing is written.
  out = subprocess.run(base[:-1] + ["--seeds=0,1,2", "--config.num_epochs=2", "--report_only",
                                    "--report=partial"],
                       cwd=REPO, capture_output=True, text=True, timeout=600, env=env)
  assert out.returncode == 1 and "fold 5 seed 2: not finished" in out.stderr
  assert not (tmp_path / "partial.json").exists()
  assert not crossval.run_dir(tmp_path / "unit_db", 5, 2).exists()
  # A report is written as a set: with the second row unfinished, not even the first row's
  # crossval.json or curves are rewritten.
  (crossval.run_dir(tmp_path / "logfreq", 5, 1) / crossval.SCORES).unlink()
  kept = {p: p.stat().st_mtime_ns for p in tmp_path.glob("unit_db/crossval.json")}
  kept |= {p: p.stat().st_mtime_ns for p in tmp_path.glob("curves_*.png")}
  with pytest.raises(ValueError, match="row logfreq: fold 5 seed 1: not finished"):
    study.run_study(rows, comps, tmp_path, folds, seeds, log=lambda s: None, train_missing=False)
  assert len(kept) == 3 and {p: p.stat().st_mtime_ns for p in kept} == kept


def _fold_comparison(name: str, fold_differences) -> dict:
  """A comparison record as :func:`study.compare_rows` makes it, from per-fold differences."""
  return {"a": name, "b": "unit_db",
          "by_fold_t": dataclasses.asdict(stats.t_test(fold_differences))}


def test_fold_verdicts_are_t_tests_over_folds_holm_adjusted():
  import scipy.stats

  clear_gain = [0.08, 0.10, 0.09, 0.11, 0.07]  # 5 folds, every fold up
  noisy = [0.05, -0.04, 0.06, -0.02, 0.01]
  clear_loss = [-0.05, -0.06, -0.04, -0.07, -0.05]
  comps = study.fold_verdicts([_fold_comparison("a", clear_gain), _fold_comparison("b", noisy),
                               _fold_comparison("c", clear_loss)])
  raw = [scipy.stats.ttest_1samp(d, 0.0).pvalue for d in (clear_gain, noisy, clear_loss)]
  for c, d, p in zip(comps, (clear_gain, noisy, clear_loss), raw, strict=True):
    t = c["by_fold_t"]
    assert t["p"] == pytest.approx(p, rel=1e-6)  # reference twin: scipy's one-sample t test
    lo, hi = scipy.stats.t.interval(0.95, len(d) - 1, loc=np.mean(d),
                                    scale=scipy.stats.sem(d))
    assert (t["low"], t["high"]) == pytest.approx((lo, hi), rel=1e-6)
  # Holm over the family of three, by hand: sorted p times 3, 2, 1, running maximum.
  order = np.argsort(raw)
  steps = np.maximum.accumulate(np.minimum(1, (3 - np.arange(3)) * np.asarray(raw)[order]))
  want = np.empty(3)
  want[order] = steps
  assert [c["p_adjusted"] for c in comps] == pytest.approx(want)
  assert [c["verdict"] for c in comps] == ["higher", "undecided", "lower"]
  # Holm, not raw p: a gain that passes alone at p < 0.05 can fail in a larger family.
  borderline = [0.02, 0.05, 0.0, 0.04, 0.03]  # p = 0.031 alone
  alone = study.fold_verdicts([_fold_comparison("d", borderline)])[0]
  crowd = study.fold_verdicts([_fold_comparison("d", borderline)]
                              + [_fold_comparison(f"n{i}", noisy) for i in range(4)])[0]
  assert alone["p_adjusted"] < 0.05 < crowd["p_adjusted"]
  assert (alone["verdict"], crowd["verdict"]) == ("higher", "undecided")
