"""The channel-count study: its nets, settings, analysis, and the --quick run end to end (page
checked in headless Chromium when it is installed)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import jax
import numpy as np
import pytest

from specst_jax.studies import channels
from tests import browser


def test_wyse_shape_net_has_C_channels_and_paper_random_weights():
  cfg = channels.Config(**dict(channels.QUICK, data_dir="/nonexistent"))
  s = channels.settings_for(cfg, "wyse", 24, seed=3, weights=None)
  net = channels.wyse_shape_net(s, 24, None)
  k = net.params["params"]["conv1"]["kernel"]
  assert k.shape == (5, s.stft.n_bins, 24)
  leaves = np.concatenate([np.ravel(a) for a in jax.tree.leaves(net.params)])
  assert leaves.min() >= -0.1 and leaves.max() <= 0.1 and leaves.std() > 0.05  # U(-0.1, 0.1)
  # The weights depend on the seed only, and the engine's own random Wyse net draws the same.
  again = channels.wyse_shape_net(s, 24, None)
  np.testing.assert_array_equal(k, again.params["params"]["conv1"]["kernel"])
  other = channels.wyse_shape_net(channels.settings_for(cfg, "wyse", 24, 4, None), 24, None)
  assert not np.array_equal(k, other.params["params"]["conv1"]["kernel"])
  assert channels.settings_for(cfg, "ulyanov", 24, 0, None).filters == 24


def test_standardisation_of_trained_weights_is_kept():
  from specst_jax.style import nets, optimize
  w = nets.load_weights("wyse", None, warn=lambda m: None)
  if w is None:
    pytest.skip("no shipped Wyse weights")
  cfg = channels.Config(**dict(channels.QUICK, data_dir="/nonexistent"))
  net = channels.wyse_shape_net(channels.settings_for(cfg, "wyse", 16, 0, w), 16, w)
  assert isinstance(net.features_fn, optimize.StandardizedNetFeatures)
  np.testing.assert_array_equal(net.params["mean"], np.asarray(w.mean, np.float32))


def test_analysis_detects_a_falling_distance():
  cfg = channels.Config(channels=(256, 1024, 4096), nets=("wyse",), n_pairs=8, seeds=2)
  rng = np.random.default_rng(0)
  rows = [dict(net="wyse", channels=C, seed=k, pair=f"p{i}",
               style_distance_db=20 - 2 * j + rng.normal(0, 0.3),
               modulation_distance_db=10 + rng.normal(0, 1.0),
               content_correlation=0.5, p_style_class=float("nan"))
          for i in range(8) for k in range(2) for j, C in enumerate(cfg.channels)]
  a = channels.analyse(rows, cfg)
  assert a["wyse/style_distance_db"]["slope_per_doubling"]["verdict"] == "supported"
  np.testing.assert_allclose(a["wyse/style_distance_db"]["slope_per_doubling"]["mean"], -1.0,
                             atol=0.15)  # -2 dB per two doublings
  assert a["wyse/style_distance_db"]["min_minus_max"]["verdict"] == "supported"
  assert a["wyse/modulation_distance_db"]["slope_per_doubling"]["verdict"] == "undecided"
  assert a["wyse/p_style_class"]["per_channels"][0]["n"] == 0


def test_bad_config_is_named():
  with pytest.raises(ValueError, match="channels"):
    channels.Config(channels=(256, 256))
  with pytest.raises(ValueError, match="nets"):
    channels.Config(nets=("vgg19",))


def test_quick_run_end_to_end(tmp_path):
  out = tmp_path / "ch"
  cmd = [sys.executable, "-m", "experiments.channels", "--quick", f"--output_dir={out}",
         "--data_dir=/nonexistent", "--classifier=", "--n_pairs=2"]
  r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
  assert r.returncode == 0, r.stderr[-2000:]
  res = json.loads((out / "results.json").read_text())
  assert len(res["rows"]) == 2 * 2 * 2  # nets x channels x pairs (1 seed)
  assert {r["channels"] for r in res["rows"]} == {8, 16}
  assert all(math.isfinite(r["style_distance_db"]) for r in res["rows"])
  assert "built-in" in res["source"]
  assert res["provenance"]["command"].startswith("python -m experiments.channels --quick")
  assert res["provenance"]["data_sha256"] is None and res["provenance"]["machine"]  # no data
  for name in ("channels.md", "loss_curves.png", "modulation_distance_db.png", "index.html"):
    assert (out / name).is_file(), name
  # The listener's check of every clip written; the results' SC against their magnitudes.
  clips = sorted(str(p.relative_to(out)) for p in (out / "audio").iterdir())
  assert sorted(res["listener"]) == clips and len(clips) == 2 * (2 + 4)
  assert sum("sc_db" in c for c in res["listener"].values()) == 2 * 4
  page = (out / "index.html").read_text()
  assert "listener check" in page
  assert page.count("<audio controls") == 2 * (2 + 4)  # pairs x (content, style, 4 results)
  if browser.skip_reason():
    pytest.skip(browser.skip_reason())
  rep = browser.page_report(out / "index.html")
  assert rep["console_errors"] == []
  assert len(rep["audio"]) == 12 and all(math.isfinite(a["duration"]) and a["duration"] > 0
                                         for a in rep["audio"])
  assert all(i["width"] > 0 for i in rep["images"]) and len(rep["images"]) == 12
  assert all(i["link"] == i["src"] for i in rep["images"])
