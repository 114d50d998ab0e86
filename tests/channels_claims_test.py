"""Tests of the resumable channel-count claims study (``experiments/claims_study.py
--study=channels``): the design and unit order, the report's statistics on hand-made items
against scipy and a hand Holm (never training), and a tiny real run: ``max_minutes=0`` starts
nothing, a second run trains nothing, a design change is refused, one pair per call, the command
line."""

import dataclasses
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats

from specst_jax import files
from specst_jax.studies import channels_claims, channels_resume, stats
from specst_jax.studies import channels_units as cu
from specst_jax.studies import figure1_units as fu
from specst_jax.style import transfer

ROOT = Path(__file__).resolve().parents[1]


def _preset(name: str, **over) -> cu.Config:
  spec = importlib.util.spec_from_file_location("c", ROOT / "experiments/configs/channels.py")
  m = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(m)
  return cu.config_from_dict(dict(m.get_config(name).to_dict(), **over))


def _tiny(**over) -> cu.Config:
  """The ``quick`` preset (C in (8, 16), 2 pairs, 1 seed, 0.5 s, 3 / 2 L-BFGS iterations) on
  the built-in signals."""
  return _preset("quick", data_dir="/nonexistent", **over)


def _forbid_engine(monkeypatch):
  """Any engine call (network build or optimisation) fails the test."""
  def boom(*a, **k):
    raise AssertionError("the engine was called")
  monkeypatch.setattr(transfer, "stylize_batch", boom)
  monkeypatch.setattr(transfer.nets, "build", boom)
  monkeypatch.setattr(transfer.nets, "wyse_net", boom)


# ------------------------------------------------------------------------ design and units


def test_claims_preset_is_the_preregistered_design():
  cfg = _preset("claims")
  assert cfg.channels == (256, 512, 1024, 2048, 4096) and cfg.nets == ("wyse", "ulyanov")
  assert (cfg.n_pairs, cfg.seeds, cfg.duration, cfg.sr) == (8, 2, 2.0, 16000)
  assert (cfg.optimizer, cfg.wyse_iter, cfg.ulyanov_iter) == ("lbfgs", 1000, 300)
  assert cfg.converge_rel == 0.005 and (cfg.phase_method, cfg.phase_iter) == ("fgla", 100)
  assert (cfg.init, cfg.noise) == ("mix", 0.2)
  for net, n_iter in (("wyse", 1000), ("ulyanov", 300)):
    s = cu.unit_settings(cfg, net, 1024, 1, None)
    assert (s.optimizer, s.n_iter, s.seed, s.stft.sr) == ("lbfgs", n_iter, 1, 16000)
  assert cu.unit_settings(cfg, "ulyanov", 1024, 0, None).filters == 1024
  assert len(cu.units(cfg)) == 2 * 5 * 2
  with pytest.raises(ValueError, match="unknown fields.*noise_levels"):
    cu.config_from_dict(dict(dataclasses.asdict(cfg), noise_levels=(0.0,)))
  with pytest.raises(ValueError, match="optimizer"):
    _tiny(optimizer="sgd")


def test_units_are_seed_major_with_cheap_ones_first():
  cfg = _tiny(seeds=2, channels=(16, 8))
  got = [u.id for u in cu.units(cfg)]
  assert got == ["wyse_c8__s0", "ulyanov_c8__s0", "wyse_c16__s0", "ulyanov_c16__s0",
                 "wyse_c8__s1", "ulyanov_c8__s1", "wyse_c16__s1", "ulyanov_c16__s1"]
  unit = fu.Unit(cu.condition("ulyanov", 1024), 0, (0,))
  assert unit.item_id(3) == "ulyanov_c1024__s0__p03"
  assert cu.parse_condition("ulyanov_c1024") == ("ulyanov", 1024)
  with pytest.raises(ValueError, match="<net>_c<C>"):
    cu.parse_condition("trained_r0.2")


# ---------------------------------------------------------- the report on hand-made items

N_PAIRS, SEEDS, CHANNELS = 8, 2, (256, 1024, 4096)
# Per net and measure: the slope per doubling of C the items are made with.
SLOPES = {("wyse", "style_distance_db"): -1.0, ("wyse", "modulation_distance_db"): 0.0,
          ("ulyanov", "style_distance_db"): -0.5, ("ulyanov", "modulation_distance_db"): 0.8}
UNCONVERGED = "ulyanov_c4096"  # its loss still falls over the last 20 %


def _fake_workdir(wd: Path, drop: tuple[str, ...] = ()) -> dict:
  """plan.json, pairs.json and every item of an 8-pair, 2-seed, 3-C design with SLOPES plus
  noise; returns ``{(net, measure): [pairs, seeds, C]}``."""
  cfg = _tiny(channels=CHANNELS, n_pairs=N_PAIRS, seeds=SEEDS)
  units = cu.units(cfg)
  names = [f"pair {i}" for i in range(N_PAIRS)]
  files.write_json(wd / fu.PLAN, cu.plan_record(cfg, units, names, "fake"))
  files.write_json(wd / fu.PAIRS, {"pairs": [dict(name=n) for n in names]})
  rng = np.random.default_rng(0)
  base = rng.normal(20.0, 3.0, N_PAIRS)
  values = {k: np.zeros((N_PAIRS, SEEDS, len(CHANNELS))) for k in SLOPES}
  for u in units:
    net, c = cu.parse_condition(u.condition)
    j = CHANNELS.index(c)
    for p in range(N_PAIRS):
      m = {k: 0.0 for k in cu.ITEM_MEASURES}
      for measure in ("style_distance_db", "modulation_distance_db"):
        v = base[p] + SLOPES[net, measure] * np.log2(c) + rng.normal(0, 0.5)
        values[net, measure][p, u.seed, j] = v
        m[measure] = v
      m["p_style_class"] = np.nan
      if u.item_id(p) in drop:
        continue
      curve = (np.linspace(10, 1, 10) if u.condition == UNCONVERGED else
               np.r_[np.linspace(10, 1, 8), np.ones(2)])
      rec = cu.item_record(unit=u, pair=p, pair_name=names[p], measures=m, curve=curve,
                           n_done=10, n_evals=11, stop_reason="max_iter",
                           final_losses={"total": 1.0}, cfg=cfg, listener_check={},
                           audio=None, weights="fake", provenance={"commit": "abc"})
      fu.write_item(wd, rec)
  fu.append_unit_log(wd, dict(unit="x", items=8, seconds=1800.0, cores=2, cpu_seconds=3000.0))
  fu.append_unit_log(wd, dict(unit="y", items=8, seconds=900.0, cores=2, cpu_seconds=1500.0))
  return values


def _hand_holm(p):
  order = np.argsort(p)
  out, running = np.empty(len(p)), 0.0
  for rank, i in enumerate(order):
    running = max(running, min(1.0, (len(p) - rank) * p[i]))
    out[i] = running
  return out


def test_report_statistics_against_scipy_and_a_hand_holm(tmp_path, monkeypatch):
  _forbid_engine(monkeypatch)
  values = _fake_workdir(tmp_path)
  rep = channels_claims.report(tmp_path)
  assert json.loads((tmp_path / fu.CLAIMS).read_text()) == rep
  assert set(rep) >= {"design", "converged", "claims", "provenance", "complete", "items"}
  assert set(rep["design"]) >= {"pairs", "seeds", "channels", "nets", "duration_s",
                                "optimizer", "steps"}
  assert rep["design"]["steps"] == {"wyse": 3, "ulyanov": 2}
  assert rep["design"]["channels"] == list(CHANNELS) and rep["design"]["seeds"] == SEEDS
  assert set(rep["provenance"]) >= {"commit", "command", "machine", "cpu_hours"}
  np.testing.assert_allclose(rep["provenance"]["cpu_hours"], 2700 * 2 / 3600)
  n_items = 2 * len(CHANNELS) * SEEDS * N_PAIRS
  assert rep["complete"] and rep["items"] == {"found": n_items, "expected": n_items,
                                              "missing": []}
  assert rep["converged"] == {cu.condition(n, c): cu.condition(n, c) != UNCONVERGED
                              for n in ("wyse", "ulyanov") for c in CHANNELS}
  claims = rep["claims"]
  assert [(c["net"], c["measure"].split(":")[0]) for c in claims] == [
      ("wyse", "modulation_distance_db"), ("ulyanov", "modulation_distance_db"),
      ("wyse", "style_distance_db"), ("ulyanov", "style_distance_db")]
  x = np.log2(CHANNELS)
  p_twin = []
  for c in claims:
    assert set(c) >= {"claim", "measure", "mean", "ci95", "p_adjusted", "verdict"}
    # Twin: seeds averaged per pair and C, one slope per pair (numpy's polyfit), scipy's t.
    m = values[c["net"], c["measure"].split(":")[0]].mean(axis=1)
    slopes = np.asarray([np.polyfit(x, row, 1)[0] for row in m])
    np.testing.assert_allclose(list(c["slopes"].values()), slopes, rtol=1e-9, atol=1e-12)
    ref = scipy_stats.ttest_1samp(slopes, 0.0)
    np.testing.assert_allclose(c["mean"], slopes.mean(), rtol=1e-9)
    np.testing.assert_allclose(c["ci95"], list(ref.confidence_interval()), rtol=1e-7)
    np.testing.assert_allclose(c["p"], ref.pvalue, rtol=1e-6, atol=1e-300)
    np.testing.assert_allclose([e["mean"] for e in c["per_channels"]], m.mean(axis=0))
    p_twin.append(ref.pvalue)
  np.testing.assert_allclose([c["p_adjusted"] for c in claims], _hand_holm(np.asarray(p_twin)),
                             rtol=1e-6, atol=1e-300)
  verdicts = {(c["net"], c["measure"].split(":")[0]): c["verdict"] for c in claims}
  assert verdicts == {("wyse", "style_distance_db"): "supported",
                      ("ulyanov", "style_distance_db"): "supported",
                      ("ulyanov", "modulation_distance_db"): "contradicted",
                      ("wyse", "modulation_distance_db"): "undecided"}
  for c in claims:
    assert c["verdict"] == stats.decide(c["mean"], c["p_adjusted"], -1)


def test_partial_report_is_marked_and_its_claims_undecided(tmp_path, monkeypatch):
  _forbid_engine(monkeypatch)
  _fake_workdir(tmp_path, drop=("wyse_c1024__s1__p03",))
  rep = channels_claims.report(tmp_path)
  assert rep["complete"] is False and rep["items"]["missing"] == ["wyse_c1024__s1__p03"]
  assert rep["converged"]["wyse_c1024"] is False and rep["converged"]["wyse_c256"] is True
  for c in rep["claims"]:
    assert (c["items_missing"] > 0) == (c["net"] == "wyse"), c["claim"]
    if c["net"] == "wyse":
      assert c["verdict"] == "undecided"
      assert c["n_pairs"] == N_PAIRS  # its seed 0 still stands for the pair
  assert {c["verdict"] for c in rep["claims"] if c["net"] == "ulyanov"} == {"supported",
                                                                            "contradicted"}


def test_report_refuses_another_studys_plan(tmp_path):
  with pytest.raises(FileNotFoundError, match="plan.json"):
    channels_claims.report(tmp_path)
  files.write_json(tmp_path / fu.PLAN, {"design": {"noise_levels": [0.0]}})
  with pytest.raises(ValueError, match="not a channel-count study"):
    channels_claims.report(tmp_path)


# ------------------------------------------------------------------------- a tiny real run


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
  """The tiny design run through once (4 units, 2 pairs each); first with max_minutes=0."""
  wd = tmp_path_factory.mktemp("channels_claims")
  cfg = _tiny()
  with pytest.MonkeyPatch.context() as no_engine:
    _forbid_engine(no_engine)
    first = channels_resume.run(cfg, wd, max_minutes=0, progress=None)
  full = channels_resume.run(cfg, wd, progress=None)
  return cfg, wd, first, full


def test_max_minutes_zero_starts_nothing(tiny):
  _, wd, first, _ = tiny
  assert first == dict(first, ran=0, done_before=0, not_started=4, units=4)


def test_items_written_once_per_unit(tiny):
  cfg, wd, _, full = tiny
  assert full["ran"] == 4 and full["not_started"] == 0
  items = fu.read_items(wd)
  assert sorted(items) == sorted(f"{n}_c{c}__s0__p{p:02d}" for n in ("wyse", "ulyanov")
                                 for c in (8, 16) for p in (0, 1))
  for item_id, rec in items.items():
    net = rec["net"]
    assert item_id == f"{net}_c{rec['channels']}__s0__p{rec['pair_index']:02d}"
    assert set(rec["measures"]) == set(cu.ITEM_MEASURES)
    assert rec["measures"]["p_style_class"] is None  # no judge classifier: NaN -> null
    assert np.isfinite(rec["measures"]["style_distance_db"])
    assert np.isfinite(rec["measures"]["modulation_distance_db"])
    assert np.isfinite(rec["final_loss"]) and rec["optimizer"] == "lbfgs"
    assert rec["n_iter"] == cfg.n_iter(net) == (3 if net == "wyse" else 2)
    assert 1 <= rec["loss_curve_length"] <= rec["n_iter"] and rec["stop_reason"]
    assert isinstance(rec["converged"], bool) and "passed" in rec["listener"]
    assert rec["provenance"]["command"] and rec["provenance"]["machine"]
    assert rec["audio"] == f"audio/{item_id}.flac"  # pairs 0 and 1 at seed 0
    assert (wd / fu.ITEMS / rec["audio"]).is_file()
  assert "conv 8 -> conv 64" in items["wyse_c8__s0__p00"]["weights"]
  assert "8 filters" in items["ulyanov_c8__s0__p01"]["weights"]
  log = fu.read_unit_log(wd)
  assert [x["unit"] for x in log] == [u["unit"] for u in fu.read_json(wd, fu.PLAN)["units"]]
  assert all(x["items"] == 2 and x["seconds"] > 0 and x["cores"] >= 1 for x in log)


def test_second_run_trains_nothing(tiny, monkeypatch):
  cfg, wd, _, _ = tiny
  before = {p: p.stat().st_mtime_ns for p in (wd / fu.ITEMS).glob("*.json")}
  _forbid_engine(monkeypatch)
  again = channels_resume.run(cfg, wd, progress=None)
  assert again["ran"] == 0 and again["done_before"] == 4
  assert {p: p.stat().st_mtime_ns for p in (wd / fu.ITEMS).glob("*.json")} == before


def test_another_design_is_refused(tiny, monkeypatch):
  _, wd, _, _ = tiny
  _forbid_engine(monkeypatch)
  with pytest.raises(ValueError, match="another design.*wyse_iter"):
    channels_resume.run(_tiny(wyse_iter=4), wd, progress=None)
  with pytest.raises(ValueError, match="another design.*channels"):
    channels_claims.report(wd, cfg=_tiny(channels=(8, 32)))


def test_report_only_never_trains(tiny, monkeypatch):
  cfg, wd, _, _ = tiny
  _forbid_engine(monkeypatch)
  rep = channels_claims.report(wd, cfg=cfg)
  assert rep["complete"] and rep["items"]["found"] == 8
  assert len(rep["claims"]) == 4 and all(c["n_pairs"] == 2 for c in rep["claims"])
  assert all(c["verdict"] in stats.VERDICTS for c in rep["claims"])
  assert rep["provenance"]["cpu_hours"] > 0 and set(rep["converged"]) == {
      "wyse_c8", "ulyanov_c8", "wyse_c16", "ulyanov_c16"}


def test_one_pair_per_call_and_an_unfinished_unit(tiny, tmp_path, monkeypatch):
  # Items depend on their seed and pair only: one pair per call gives the batched run's
  # items (float rounding aside); a unit with one item missing runs that pair alone.
  _, wd, _, _ = tiny
  cfg = _tiny(nets=("ulyanov",), channels=(8,))
  done = channels_resume.run(cfg, tmp_path, progress=None, pairs_per_call=1)
  log = fu.read_unit_log(tmp_path)
  assert done["ran"] == 1 and [x["pairs"] for x in log] == [[0], [1]]
  batched, single = fu.read_items(wd), fu.read_items(tmp_path)
  for item_id, rec in single.items():
    np.testing.assert_allclose(rec["final_loss"], batched[item_id]["final_loss"], rtol=1e-3)
    np.testing.assert_allclose(rec["measures"]["style_distance_db"],
                               batched[item_id]["measures"]["style_distance_db"], rtol=1e-2)
  fu.item_path(tmp_path, "ulyanov_c8__s0__p01").unlink()
  again = channels_resume.run(cfg, tmp_path, progress=None)
  assert again["ran"] == 1 and fu.read_unit_log(tmp_path)[-1]["pairs"] == [1]
  assert sorted(fu.read_items(tmp_path)) == sorted(single)


def _cli(args):
  return subprocess.run([sys.executable, "-m", "experiments.claims_study", "--study=channels",
                         *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_command_line(tiny, tmp_path):
  """--report_only on the run above; --max_minutes=0 on a new folder: plan, no items; another
  design refused; without --config the pre-registered claims preset."""
  _, wd, _, _ = tiny
  quick = ["--config=experiments/configs/channels.py:quick",
           f"--config.data_dir={tmp_path / 'none'}"]
  r = _cli([*quick, f"--workdir={wd}", "--report_only"])
  assert r.returncode == 0, r.stderr[-3000:]
  assert "claims_study (channels): 8/8 items, complete: True" in r.stdout
  assert "more channels bring the style closer (wyse)" in r.stdout
  rep = json.loads((wd / fu.CLAIMS).read_text())
  assert rep["provenance"]["command"].startswith("python -m experiments.claims_study")
  new = tmp_path / "new"
  r = _cli([*quick, f"--workdir={new}", "--max_minutes=0"])
  assert r.returncode == 0, r.stderr[-3000:]
  assert "0 unit(s) run" in r.stdout and "0/8 items, complete: False" in r.stdout
  assert (new / fu.PLAN).is_file() and not list((new / fu.ITEMS).glob("*.json"))
  r = _cli([*quick, "--config.wyse_iter=9", f"--workdir={wd}", "--report_only"])
  assert r.returncode == 1 and "another design" in r.stderr.strip().splitlines()[-1]
  r = _cli([f"--workdir={wd}", "--report_only"])  # the claims preset: C 256 ... 4096
  assert r.returncode == 1 and "[256, 512, 1024, 2048, 4096] now" in r.stderr
