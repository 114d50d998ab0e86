"""Tests of specst_jax/batch and experiments/batch_style.py.

Fast parts use a numpy fake engine (tests/batch_helpers.py); the end-to-end parts run the real
transfer engine with tiny clips and nets in subprocesses: 4 fake CPU devices, two real
processes joined through jax.distributed on localhost, and a SIGKILL + resume.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from specst_jax import audio
from specst_jax.batch import buckets, manifest, runner, shards, store
from specst_jax.representations import Stft
from tests import batch_helpers as bh
from tests import browser

OVERRIDES = {"net": str, "seed": int, "n_iter": int, "learning_rate": float, "figures": bool}


# ----------------------------------------------------------------------------- manifest


def test_manifest_csv_resolves_paths_and_overrides(tmp_path):
  (tmp_path / "sub").mkdir()
  path = tmp_path / "sub" / "m.csv"
  path.write_text("id,content,style,seed,n_iter\n"
                  "a,c.wav,s1.wav;../s2.wav,3,\n"
                  "b,/abs/c.wav, s.wav ,,20\n")
  items = manifest.read_manifest(path, OVERRIDES)
  assert [it.id for it in items] == ["a", "b"]
  assert items[0].content == str(tmp_path / "sub" / "c.wav")
  assert items[0].styles == (str(tmp_path / "sub" / "s1.wav"), str(tmp_path / "sub/../s2.wav"))
  assert items[0].overrides_dict() == {"seed": 3}
  assert items[1].content == "/abs/c.wav"
  assert items[1].styles == (str(tmp_path / "sub" / "s.wav"),)
  assert items[1].overrides_dict() == {"n_iter": 20}
  assert (items[0].line, items[1].line) == (2, 3)


def test_manifest_jsonl_lists_and_types(tmp_path):
  path = bh.write_jsonl(tmp_path / "m.jsonl", [
      dict(id="x", content="c.wav", style=["a.wav", "b.wav"], net="wyse", learning_rate=0.5),
      dict(id="y", content="c.wav", style="a.wav", seed=None, figures="true")])
  items = manifest.read_manifest(path, OVERRIDES)
  assert items[0].styles == (str(tmp_path / "a.wav"), str(tmp_path / "b.wav"))
  assert items[0].overrides_dict() == {"net": "wyse", "learning_rate": 0.5}
  assert items[1].overrides_dict() == {"figures": True}


@pytest.mark.parametrize("text, suffix, message", [
    ("id,content\na,c.wav\n", ".csv", r"lacks column\(s\) \['style'\]"),
    ("id,content,style\na,c.wav,s.wav\na,d.wav,s.wav\n", ".csv", "duplicate id 'a'"),
    ("id,content,style,colour\na,c.wav,s.wav,red\n", ".csv", r"unknown column\(s\) \['colour'\]"),
    ("id,content,style,seed\na,c.wav,s.wav,x\n", ".csv", "'seed' must be int"),
    ("id,content,style\na/b,c.wav,s.wav\n", ".csv", "id 'a/b' must be"),
    ("id,content,style\na,c.wav,\n", ".csv", r"missing value\(s\) for \['style'\]"),
    ("id,content,style\na,c.wav\n", ".csv", "2 cells but the header has 3"),
    ("id,content,style\n", ".csv", "header but no rows"),
    ("", ".csv", "empty manifest"),
    ('{"id": "a", "content": "c.wav"}\n', ".jsonl", r"missing value\(s\) for \['style'\]"),
    ('{"id": "a", "content": "c.wav", "style": "s.wav"\n', ".jsonl", "not valid JSON"),
    ("id,content,style\n", ".txt", "unknown manifest format"),
])
def test_manifest_errors_are_one_line(tmp_path, text, suffix, message):
  path = tmp_path / f"m{suffix}"
  path.write_text(text)
  with pytest.raises(manifest.ManifestError, match=message) as e:
    manifest.read_manifest(path, OVERRIDES)
  assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_manifest_unreadable(tmp_path):
  with pytest.raises(manifest.ManifestError, match="no such manifest file"):
    manifest.read_manifest(tmp_path / "none.csv", OVERRIDES)
  with pytest.raises(manifest.ManifestError, match="is a directory"):
    manifest.read_manifest(tmp_path, OVERRIDES)
  bad = tmp_path / "latin.csv"
  bad.write_bytes(b"id,content,style\n\xff\xfe,c,s\n")
  with pytest.raises(manifest.ManifestError, match="cannot read the manifest"):
    manifest.read_manifest(bad, OVERRIDES)


# ----------------------------------------------------------------------------- shards, buckets


def test_shards_disjoint_complete_and_stable():
  items = [manifest.Item(f"id{i}", "c", ("s",)) for i in range(200)]
  for n in (1, 2, 3, 8):
    parts = [shards.share(items, p, n) for p in range(n)]
    ids = [it.id for part in parts for it in part]
    assert sorted(ids) == sorted(it.id for it in items)  # every item exactly once
    if n > 1:
      assert min(len(p) for p in parts) > 200 / n / 2  # no share starved
  import hashlib
  want = int.from_bytes(hashlib.sha256(b"pair07").digest()[:8], "big") % 5
  assert shards.owner("pair07", 5) == want
  with pytest.raises(ValueError, match="process_id"):
    shards.share(items, 2, 2)


def test_buckets_choose_and_fit():
  lengths = buckets.bucket_lengths([1.0, 0.5, 1.0], 100)
  assert lengths == (50, 100)
  assert buckets.choose(30, lengths) == buckets.Fit(30, 50, "pad")
  assert buckets.choose(50, lengths) == buckets.Fit(50, 50, "none")
  assert buckets.choose(70, lengths) == buckets.Fit(70, 100, "pad")
  assert buckets.choose(170, lengths) == buckets.Fit(170, 100, "crop")
  x = np.arange(1, 8, dtype=np.float32)
  np.testing.assert_array_equal(buckets.fit_content(x, 10), np.r_[x, 0, 0, 0])
  np.testing.assert_array_equal(buckets.fit_content(x, 4), x[:4])
  y, fit = buckets.fit_style(x, 17)
  np.testing.assert_array_equal(y, np.r_[x, x, x[:3]])
  assert fit == buckets.Fit(7, 17, "loop")
  y, fit = buckets.fit_style(x, 5)
  np.testing.assert_array_equal(y, x[:5])
  assert fit.action == "crop"
  with pytest.raises(ValueError, match="bucket_seconds"):
    buckets.bucket_lengths([1.0, 0.0], 100)


# ----------------------------------------------------------------------------- runner (fake engine)


def _fake_run(tmp_path, rows, *, batch_size=4, n_devices=2, **kw):
  path = bh.write_csv(tmp_path / "m.csv", rows,
                      columns=("id", "content", "style") + tuple(kw.pop("columns", ())))
  items = manifest.read_manifest(path, {"gain": float, "seed": int})
  engine = bh.FakeEngine()
  cfg = runner.RunConfig(str(tmp_path / "out"), batch_size=batch_size, n_devices=n_devices,
                         bucket_seconds=(0.5, 1.0), min_seconds=0.05, **kw)
  return items, engine, cfg, runner.run(items, engine, cfg)


@pytest.mark.parametrize("refuse", [False, True])
def test_crops_are_reported_or_refused(tmp_path, refuse, caplog):
  # A 1.5 s content against buckets of at most 1 s: cropped and said so (log, metrics,
  # summary), or, with refuse_crop, a failed item naming the file.
  rows = bh.write_clips(tmp_path, 2, seconds=(1.5, 0.6))
  with caplog.at_level("WARNING"):
    items, engine, cfg, stats = _fake_run(tmp_path, rows, batch_size=2, refuse_crop=refuse)
  out = Path(cfg.output_dir)
  summary = store.merge(out, [it.id for it in items])
  if refuse:
    assert (stats.ok, stats.failed) == (1, 1)
    reason = json.loads((out / "items" / "pair00" / "error.json").read_text())["reason"]
    assert "c0.wav" in reason and "cropping refused" in reason
  else:
    assert (stats.ok, stats.failed) == (2, 0)
    m = json.loads((out / "items" / "pair00" / "metrics.json").read_text())
    assert m["content_fit"]["action"] == "crop" and m["result_samples"] == 8000
    assert any("content cropped" in r.getMessage() and "pair00" in r.getMessage()
               for r in caplog.records)
    with open(out / "summary.csv") as f:
      fits = {row["id"]: row["content_fit"] for row in csv.DictReader(f)}
    assert fits["pair00"] == "crop"
  assert summary["n_items"] == 2


def test_runner_writes_good_items_records_bad_ones(tmp_path):
  rows = bh.write_clips(tmp_path, 7) + bh.write_bad(tmp_path)
  rows.append(dict(id="missing", content="nope.wav", style="s0.wav"))
  items, engine, cfg, stats = _fake_run(tmp_path, rows, batch_size=3)
  assert (stats.ok, stats.failed, stats.total) == (7, 3, 10)
  assert sorted(stats.written) == sorted(r["id"] for r in rows[:7])
  assert all(shape[0] == 4 for shape in engine.calls)  # batch 3 rounded up to 2 devices
  # 0.4 s -> 0.5 s bucket (padded), 0.6 and 0.75 s -> 1 s bucket: two programs' shapes.
  assert {shape[1] for shape in engine.calls} == {4000, 8000}
  out = Path(cfg.output_dir)
  for r, it in zip(rows[:7], items[:7], strict=True):
    m = json.loads((out / "items" / r["id"] / "metrics.json").read_text())
    y, sr = audio.load_audio(out / "items" / r["id"] / "result.wav")
    c, _ = audio.load_audio(it.content)
    assert len(y) == len(c) == m["result_samples"] and sr == bh.SR  # padding trimmed off
    assert m["content_fit"]["action"] == "pad" and m["bucket"]["samples"] in (4000, 8000)
  errors = {r: json.loads((out / "items" / r / "error.json").read_text())
            for r in ("bad_corrupt", "bad_short", "missing")}
  assert "shorter than" in errors["bad_short"]["reason"]
  assert "no such file" in errors["missing"]["reason"]
  assert all(e["stage"] == "load" for e in errors.values())
  # Padding pairs of the partial batches were never written: exactly the 7 good folders + 3 bad.
  assert sorted(p.name for p in (out / "items").iterdir()) == sorted(r["id"] for r in rows)
  summary = store.merge(out, [it.id for it in items])
  assert (summary["n_ok"], summary["n_failed"], summary["n_missing"]) == (7, 3, 0)
  lines = (out / "errors.jsonl").read_text().splitlines()
  assert sorted(json.loads(x)["id"] for x in lines) == ["bad_corrupt", "bad_short", "missing"]
  with open(out / "summary.csv") as f:
    table = list(csv.DictReader(f))
  assert [t["id"] for t in table] == [it.id for it in items]
  assert {t["status"] for t in table[:7]} == {"ok"}
  # The listener's check of each written result (no STFT from the fake engine: no SC).
  checks = [json.loads((out / "items" / r["id"] / "metrics.json").read_text())["listener"]
            for r in rows[:7]]
  assert all("sc_db" not in c and c["clipped_samples"] == 0 for c in checks)
  assert [t["listener"] for t in table[:7]] == [
      "passed" if c["passed"] else "; ".join(c["warnings"]) for c in checks]
  # The listening page: one player per finished item, none for the failed ones.
  page = (out / "index.html").read_text()
  assert page.count("<audio controls") == 7
  assert all(f'items/{r["id"]}/result.wav' in page for r in rows[:7])
  assert "bad_corrupt" not in page and "7 of 10 items finished" in page
  if browser.skip_reason() is None:
    report = browser.page_report(out / "index.html")
    assert report["console_errors"] == []
    assert len(report["audio"]) == 7
    assert all(np.isfinite(a["duration"]) and a["duration"] > 0 for a in report["audio"])


class _ClickEngine(bh.FakeEngine):
  """The fake engine plus its STFT and result magnitudes; pair00's result starts with a click."""

  STFT = Stft(sr=bh.SR, n_fft=256, hop_length=64)

  def run(self, settings, contents, styles, seeds):
    res = super().run(settings, contents, styles, seeds)
    target = np.asarray(self.STFT.magnitude(res.audio))
    res.audio[0] *= 0.1 / np.max(np.abs(res.audio[0]))  # SC is level-invariant
    res.audio[0, 1] = 0.99
    return dataclasses.replace(res, stft=self.STFT, magnitudes=dict(
        content=np.asarray(self.STFT.magnitude(contents)), result=target))


def test_runner_checks_each_written_result_and_warns_on_a_click(tmp_path, caplog):
  rows = bh.write_clips(tmp_path, 2, seconds=(0.75,))
  items = manifest.read_manifest(bh.write_csv(tmp_path / "m.csv", rows), {})
  cfg = runner.RunConfig(str(tmp_path / "out"), batch_size=2, n_devices=1,
                         bucket_seconds=(1.0,), min_seconds=0.05)
  figures = {}
  with caplog.at_level(logging.WARNING):
    runner.run(items, _ClickEngine(), cfg,
               figure=lambda path, settings, mags, n: figures.update({path.parent.name: mags}))
  out = Path(cfg.output_dir)
  m = {i: json.loads((out / "items" / i / "metrics.json").read_text())["listener"]
       for i in ("pair00", "pair01")}
  assert not m["pair00"]["passed"] and m["pair01"]["passed"]
  assert m["pair00"]["edge_to_body_peak"] > 2
  assert m["pair01"]["sc_db"] < -60  # the written clip realises its (cut) magnitude
  assert m["pair00"]["sc_db"] > m["pair01"]["sc_db"] + 20  # the click is in the SC too
  lines = [r.getMessage() for r in caplog.records if "listener check" in r.getMessage()]
  assert lines == [f"listener check: {out / 'items' / 'pair00' / 'result.wav'}: "
                   f"{m['pair00']['warnings'][0]}"]
  # The figure gets the magnitudes cut to the written frames and the written clip's own.
  n = len(audio.load_audio(out / "items" / "pair01" / "result.wav")[0])
  assert {k: v.shape[0] for k, v in figures["pair01"].items()} == {
      "content": _ClickEngine.STFT.n_frames(n), "result": _ClickEngine.STFT.n_frames(n),
      "result.wav as written": _ClickEngine.STFT.n_frames(n)}


def test_runner_result_values_and_non_finite_loss(tmp_path):
  rows = bh.write_clips(tmp_path, 3)
  rows[1]["gain"] = 20.0  # the fake engine's loss is NaN above gain 10
  rows[2]["seed"] = 5
  items, engine, cfg, stats = _fake_run(tmp_path, rows, columns=("gain", "seed"))
  assert (stats.ok, stats.failed) == (2, 1)
  out = Path(cfg.output_dir)
  e = json.loads((out / "items" / "pair01" / "error.json").read_text())
  assert e["stage"] == "transfer" and "non-finite" in e["reason"]
  c, _ = audio.load_audio(items[0].content)
  s, _ = audio.load_audio(items[0].styles[0])
  y, _ = audio.load_audio(out / "items" / "pair00" / "result.wav")
  s_fit, _ = buckets.fit_style(s, 4000)
  np.testing.assert_allclose(y, 0.5 * c + 0.1 * s_fit[:len(c)], atol=1e-6)
  m2 = json.loads((out / "items" / "pair02" / "metrics.json").read_text())
  assert m2["seed"] == 5 and m2["overrides"] == {"seed": 5}


@pytest.mark.parametrize("field, value, message", [
    ("batch_size", 0, "batch_size must be >= 1"), ("bucket_seconds", (1.0, -2.0), "bucket_seconds"),
    ("bucket_seconds", (), "bucket_seconds"), ("min_seconds", -1.0, "min_seconds"),
    ("process_id", 2, "process_id"),
])
def test_run_config_checks(field, value, message):
  with pytest.raises(ValueError, match=message):
    runner.RunConfig("out", num_processes=2, **{field: value})


def test_runner_bad_row_setting_stops_before_anything_runs(tmp_path):
  rows = bh.write_clips(tmp_path, 2)
  rows[1]["gain"] = -1.0
  with pytest.raises(manifest.ManifestError, match=r"line 3 \(id pair01\): gain must be"):
    _fake_run(tmp_path, rows, columns=("gain",))
  assert not (tmp_path / "out").exists()


def test_runner_resume_skips_done_redoes_partial_cleans_temps(tmp_path):
  rows = bh.write_clips(tmp_path, 5)
  items, engine, cfg, stats = _fake_run(tmp_path, rows)
  out = Path(cfg.output_dir)
  done = out / "items" / "pair00" / "metrics.json"
  before = done.stat().st_mtime_ns
  # pair01: killed after result.wav, before metrics.json; a stranded temp file beside it.
  (out / "items" / "pair01" / "metrics.json").unlink()
  (out / "items" / "pair01" / ".result.wav.999999.abc.tmp").write_bytes(b"half")
  # pair02: had failed before (error.json), now runs fine.
  store.write_error(out, "pair02", "old failure", stage="load", process=0)
  (out / "items" / "pair02" / "metrics.json").unlink()
  stats2 = runner.run(items, engine, cfg)
  assert (stats2.skipped, stats2.ok, stats2.failed) == (3, 2, 0)
  assert sorted(stats2.written) == ["pair01", "pair02"]
  assert done.stat().st_mtime_ns == before
  assert not list(out.rglob(".*"))
  assert not (out / "items" / "pair02" / "error.json").exists()


def test_two_styles_per_row_form_their_own_group(tmp_path):
  rows = bh.write_clips(tmp_path, 3)
  rows[1]["style"] = "s1.wav;s2.wav"
  items, engine, cfg, stats = _fake_run(tmp_path, rows)
  # pair00 -> 0.5 s bucket; pair01 (two styles) and pair02 share the 1 s bucket, not a call.
  assert stats.ok == 3 and sorted(engine.calls) == [(4, 4000), (4, 8000), (4, 8000)]
  c, _ = audio.load_audio(items[1].content)
  styles = [buckets.fit_style(audio.load_audio(p)[0], 8000)[0] for p in items[1].styles]
  y, _ = audio.load_audio(Path(cfg.output_dir) / "items" / "pair01" / "result.wav")
  np.testing.assert_allclose(y, 0.5 * c + 0.1 * np.mean(styles, axis=0)[:len(c)], atol=1e-6)


class _SmallMemoryEngine(bh.FakeEngine):
  """Runs out of device memory on calls of more than ``limit`` pairs, as XLA reports it."""

  limit = 2

  def run(self, settings, contents, styles, seeds):
    if len(contents) > self.limit:
      self.calls.append(("oom", len(contents)))
      raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 16.0GiB")
    return super().run(settings, contents, styles, seeds)


def test_out_of_memory_halves_the_call_and_says_so(tmp_path):
  from specst_jax.batch import job, processes
  rows = bh.write_clips(tmp_path, 5, seconds=(0.8,))
  path = bh.write_csv(tmp_path / "m.csv", rows)
  cfg = runner.RunConfig(str(tmp_path / "out"), batch_size=8, bucket_seconds=(1.0,),
                         min_seconds=0.05, n_devices=1)
  engine = _SmallMemoryEngine()
  outcome = job.run_job(str(path), engine, cfg, base={}, overrides={"gain": float, "seed": int},
                        info=processes.ProcessInfo(0, 1, False))
  # 8 -> two calls of 4 (4 items, 1 item padded) -> each halved again to 2.
  assert outcome.stats.ok == 5 and outcome.stats.backoffs == 3
  assert [c for c in engine.calls if c[0] == "oom"] == [("oom", 8), ("oom", 4), ("oom", 4)]
  assert [c[0] for c in engine.calls if c[0] != "oom"] == [2, 2, 2]  # 2 + 2 + 1 padded
  m = json.loads((tmp_path / "out" / "items" / "pair00" / "metrics.json").read_text())
  assert m["batch"]["size"] == 2 and m["batch"]["backed_off_from"] == [8, 4]
  assert outcome.summary["items"][4]["backed_off_from"] == "8;4"
  assert "backed_off_from" in (tmp_path / "out" / "summary.csv").read_text().splitlines()[0]
  # Not out of memory: the items fail at once, no back-off.
  assert runner.smaller_batch(1, 1) is None and runner.smaller_batch(8, 4) == 4
  assert runner.smaller_batch(4, 4) is None
  assert not runner.is_out_of_memory(ValueError("bad shapes"))


def test_one_compiled_program_per_bucket_across_seeds(tmp_path):
  """3 seeds x 2 buckets through the real engine (random Ulyanov weights, one draw per seed):
  the style loop compiles once per bucket, not per seed or call."""
  from specst_jax.batch import engine as style_engine
  rows = bh.write_clips(tmp_path, 6, seconds=(0.4, 0.8))
  for i, r in enumerate(rows):
    r["seed"] = i % 3
  path = bh.write_csv(tmp_path / "m.csv", rows, columns=("id", "content", "style", "seed"))
  items = manifest.read_manifest(path, style_engine.OVERRIDES)
  cfg = runner.RunConfig(str(tmp_path / "out"), batch_size=1, bucket_seconds=(0.5, 1.0),
                         min_seconds=0.05, loader_threads=1)
  stats = runner.run(items, style_engine.StyleEngine(), cfg, base=bh.TINY)
  assert stats.ok == 6 and stats.batches == 6
  assert stats.compiled_programs == 2


def test_job_refuses_other_settings_and_merge_only_rebuilds(tmp_path):
  from specst_jax import files
  from specst_jax.batch import job, processes
  rows = bh.write_clips(tmp_path, 4) + bh.write_bad(tmp_path)
  path = bh.write_csv(tmp_path / "m.csv", rows)
  cfg = runner.RunConfig(str(tmp_path / "out"), batch_size=2, bucket_seconds=(1.0,),
                         min_seconds=0.05)
  one = processes.ProcessInfo(0, 1, False)
  kw = dict(overrides={"gain": float, "seed": int}, info=one)
  outcome = job.run_job(str(path), bh.FakeEngine(), cfg, base={"gain": 0.5}, **kw)
  assert outcome.exit_status == 2 and outcome.summary["n_ok"] == 4
  # summary.json records where it came from: the manifest and every audio file it names.
  from specst_jax import provenance
  named = [tmp_path / "m.csv", *(tmp_path / f"{k}{i}.wav" for k in "cs" for i in range(4)),
           tmp_path / "corrupt.wav", tmp_path / "short.wav"]
  written = json.loads((tmp_path / "out" / "summary.json").read_text())
  assert written["provenance"]["data_sha256"] == provenance.data_hash(named)
  assert written["provenance"]["machine"] and "commit" in written["provenance"]
  with pytest.raises(ValueError, match="^settings: gain must be >= 0"):
    job.run_job(str(path), bh.FakeEngine(), cfg, base={"gain": -1.0}, **kw)
  with pytest.raises(files.OutputError, match=r"other settings \(base"):
    job.run_job(str(path), bh.FakeEngine(), cfg, base={"gain": 0.7}, **kw)
  (tmp_path / "out" / "summary.json").unlink()
  (tmp_path / "out" / "items" / "pair03" / "metrics.json").unlink()  # as if killed
  merged = job.merge_only(str(path), str(tmp_path / "out"), {"gain": float, "seed": int})
  assert merged.exit_status == 3  # 2 failed + 1 missing
  assert (merged.summary["n_ok"], merged.summary["n_missing"]) == (3, 1)
  assert merged.summary["provenance"]["data_sha256"] == provenance.data_hash(named)
  again = job.run_job(str(path), bh.FakeEngine(), cfg, base={"gain": 0.5}, **kw)
  assert again.stats.written == ["pair03"] and again.summary["n_missing"] == 0


def test_shares_of_two_processes_cover_the_manifest(tmp_path):
  rows = bh.write_clips(tmp_path, 9)
  path = bh.write_csv(tmp_path / "m.csv", rows)
  items = manifest.read_manifest(path, {})
  written = []
  for p in (0, 1):
    cfg = runner.RunConfig(str(tmp_path / "out"), batch_size=2, bucket_seconds=(1.0,),
                           process_id=p, num_processes=2)
    written += runner.run(items, bh.FakeEngine(), cfg).written
  assert sorted(written) == sorted(r["id"] for r in rows)  # each exactly once


# ------------------------------------------------------------------ real engine, end to end

REPO = Path(__file__).resolve().parents[1]
TOOL = [sys.executable, "-m", "experiments.batch_style",
        "--config=experiments/configs/batch.py:tiny"]


def _env(cache: Path, **extra) -> dict:
  """Subprocess environment: CPU, the repo importable, one persistent compilation cache."""
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(REPO),
             JAX_COMPILATION_CACHE_DIR=str(cache),
             JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
  env.pop("XLA_FLAGS", None)
  env.update(extra)
  return env


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  """12 rows (10 good pairs of 0.4-0.75 s at 8 kHz, a corrupt and a too-short file)."""
  root = tmp_path_factory.mktemp("batch_data")
  rows = bh.write_clips(root, 10) + bh.write_bad(root)
  return dict(root=root, manifest=bh.write_csv(root / "pairs.csv", rows),
              good=sorted(r["id"] for r in rows[:10]), bad=["bad_corrupt", "bad_short"],
              cache=root / "jax_cache")


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _written(log: str) -> list[str]:
  return re.findall(r"wrote item (\S+)", log)


def _item_outputs(out: Path, ids) -> dict:
  res = {}
  for i in ids:
    m = json.loads((out / "items" / i / "metrics.json").read_text())
    y, _ = audio.load_audio(out / "items" / i / "result.wav")
    res[i] = (y, m)
  return res


def _assert_same_outputs(a: dict, b: dict) -> None:
  """Equal to float32 tolerance: losses to 1e-4 relative; audio to 1e-2 of its peak (four Adam
  steps and four Griffin-Lim iterations amplify round-off differences between batch shapes;
  a swapped pair or key differs by order 1)."""
  assert sorted(a) == sorted(b)
  for i in a:
    (ya, ma), (yb, mb) = a[i], b[i]
    assert ya.shape == yb.shape, i
    assert np.max(np.abs(ya - yb)) <= 1e-2 * np.max(np.abs(yb)), i
    for k, v in ma["final_losses"].items():
      np.testing.assert_allclose(v, mb["final_losses"][k], rtol=1e-4, atol=1e-6, err_msg=i)
    for k in ("settings", "seed", "bucket", "content_fit", "style_fits", "n_iterations_done"):
      assert ma[k] == mb[k], (i, k)


def test_sharded_batches_equal_one_pair_at_a_time(data, tmp_path):
  """4 fake CPU devices: batches of 4 pairs (the last one padded) == one pair per call ==
  ``transfer.stylize`` of that pair."""
  rows = bh.write_clips(tmp_path, 6)  # one 1 s bucket
  path = bh.write_csv(tmp_path / "m.csv", rows)
  ref = tmp_path / "stylize.npz"
  code = ("from tests.batch_helpers import sharded_and_single as f; "
          f"f({str(path)!r}, {str(tmp_path / 'sharded')!r}, {str(tmp_path / 'single')!r}, "
          f"{str(ref)!r})")
  env = _env(data["cache"], XLA_FLAGS="--xla_force_host_platform_device_count=4")
  proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True,
                        text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  ids = [r["id"] for r in rows]
  sharded = _item_outputs(tmp_path / "sharded", ids)
  assert {m["batch"]["n_devices"] for _, m in sharded.values()} == {4}
  assert sorted(m["batch"]["real_items"] for _, m in sharded.values()) == [2, 2, 4, 4, 4, 4]
  _assert_same_outputs(sharded, _item_outputs(tmp_path / "single", ids))
  assert sorted(p.name for p in (tmp_path / "sharded" / "items").iterdir()) == sorted(ids)
  # ... and both are the engine's single run (transfer.stylize) of the same fitted clips.
  y, m = sharded[ids[0]]
  single = np.load(ref)
  assert np.max(np.abs(y - single["audio"])) <= 1e-2 * np.max(np.abs(single["audio"]))
  np.testing.assert_allclose(m["final_losses"]["total"], single["total"], rtol=1e-4)


@pytest.fixture(scope="module")
def two_process_run(data, tmp_path_factory):
  """The manifest run by two real processes joined through jax.distributed on localhost."""
  out = tmp_path_factory.mktemp("two_proc") / "out"
  port = _free_port()
  procs = [subprocess.Popen(
      TOOL + [f"--manifest={data['manifest']}", f"--output_dir={out}",
              f"--coordinator_address=localhost:{port}", "--num_processes=2",
              f"--process_id={k}"], env=_env(data["cache"]), cwd=REPO, text=True,
      stdout=subprocess.PIPE, stderr=subprocess.PIPE) for k in (0, 1)]
  logs, codes = [], []
  for p in procs:
    stdout, stderr = p.communicate(timeout=300)
    logs.append(stdout + stderr)
    codes.append(p.returncode)
  return dict(out=out, logs=logs, codes=codes)


def test_two_processes_write_each_item_once(data, two_process_run):
  out, logs, codes = two_process_run["out"], two_process_run["logs"], two_process_run["codes"]
  owners = {i: shards.owner(i, 2) for i in data["good"] + data["bad"]}
  bad_of = [sum(owners[b] == k for b in data["bad"]) for k in (0, 1)]
  assert codes[0] == 2, logs[0][-3000:]  # process 0 reports the whole run's failures
  assert codes[1] == bad_of[1], logs[1][-3000:]
  written = [_written(log) for log in logs]
  assert sorted(written[0] + written[1]) == data["good"]  # every good item exactly once
  for k in (0, 1):
    assert all(owners[i] == k for i in written[k])  # by the process that owns it
  summary = json.loads((out / "summary.json").read_text())
  assert (summary["n_items"], summary["n_ok"], summary["n_failed"], summary["n_missing"]) == \
      (12, 10, 2, 0)
  assert summary["num_processes"] == 2
  errors = [json.loads(x) for x in (out / "errors.jsonl").read_text().splitlines()]
  assert sorted(e["id"] for e in errors) == data["bad"]
  assert all(e["reason"] and "\n" not in e["reason"] for e in errors)
  with open(out / "summary.csv") as f:
    assert len(list(csv.DictReader(f))) == 12
  for i in data["good"]:
    m = json.loads((out / "items" / i / "metrics.json").read_text())
    assert m["process"] == owners[i] and np.isfinite(m["final_losses"]["total"])


def test_sigkill_and_resume_equal_an_uninterrupted_run(data, two_process_run, tmp_path):
  out = tmp_path / "out"
  cmd = TOOL + [f"--manifest={data['manifest']}", f"--output_dir={out}", "--batch_size=1",
                "--noauto_distributed"]
  env = _env(data["cache"])
  proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  deadline = time.monotonic() + 240
  while len(list(out.glob("items/*/metrics.json"))) < 3 and time.monotonic() < deadline:
    assert proc.poll() is None, "the run ended before it could be killed"
    time.sleep(0.02)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  done = sorted(p.parent.name for p in out.glob("items/*/metrics.json"))
  assert 3 <= len(done) < 10, done
  stamps = {i: [(p.stat().st_ino, p.stat().st_mtime_ns) for p in
                (out / "items" / i / "metrics.json", out / "items" / i / "result.wav")]
            for i in done}
  again = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
  assert again.returncode == 2, again.stderr[-3000:]
  rewritten = _written(again.stderr + again.stdout)
  assert sorted(rewritten + done) == data["good"]  # the rest, and nothing done twice
  for i in done:
    assert stamps[i] == [(p.stat().st_ino, p.stat().st_mtime_ns) for p in
                         (out / "items" / i / "metrics.json", out / "items" / i / "result.wav")]
  assert not [p for p in out.rglob(".*")], "temp files left behind"
  _assert_same_outputs(_item_outputs(out, data["good"]),
                       _item_outputs(two_process_run["out"], data["good"]))
  assert json.loads((out / "summary.json").read_text())["n_ok"] == 10


@pytest.mark.parametrize("text, message", [
    ("id,content,style\na,c.wav,s.wav\na,c.wav,s.wav\n", "duplicate id 'a'"),
    (None, "no such manifest file"),
])
def test_cli_manifest_errors_one_line(data, tmp_path, text, message):
  path = tmp_path / "m.csv"
  if text is not None:
    path.write_text(text)
  out = tmp_path / "out"
  proc = subprocess.run(TOOL + [f"--manifest={path}", f"--output_dir={out}",
                                "--noauto_distributed"], env=_env(data["cache"]), cwd=REPO,
                        capture_output=True, text=True, timeout=120)
  assert proc.returncode == 255
  ours = [x for x in proc.stderr.splitlines() if x.startswith("batch_style:")]
  assert len(ours) == 1 and message in ours[0] and str(path) in ours[0], proc.stderr
  assert not out.exists()


def test_unreachable_coordinator_exits_with_one_line_and_writes_nothing(data, tmp_path):
  out = tmp_path / "out"
  cmd = TOOL + [f"--manifest={data['manifest']}", f"--output_dir={out}",
                "--coordinator_address=127.0.0.1:9", "--num_processes=2", "--process_id=1",
                "--join_timeout_s=5"]
  r = subprocess.run(cmd, env=_env(data["cache"]), cwd=REPO, capture_output=True, text=True,
                     timeout=180)
  assert r.returncode != 0
  errors = [line for line in r.stderr.splitlines() if line.startswith("batch_style: error:")]
  assert len(errors) == 1 and "unreachable" in errors[0], r.stderr[-2000:]
  assert not out.exists() or not any(out.rglob("*"))


def test_a_cluster_that_cannot_be_joined_is_an_error(monkeypatch):
  from specst_jax.batch import processes

  def timeout(**kwargs):
    raise RuntimeError("DEADLINE_EXCEEDED: Barrier timed out")

  monkeypatch.setattr(processes.jax.distributed, "initialize", timeout)
  with pytest.raises(processes.DistributedError, match="--single_host"):
    processes.initialize(auto=True)
  assert processes.initialize(auto=False).num_processes == 1  # single host on purpose

  def no_cluster(**kwargs):
    raise ValueError("coordinator_address should be defined.")

  monkeypatch.setattr(processes.jax.distributed, "initialize", no_cluster)
  assert processes.initialize(auto=True) == processes.ProcessInfo(0, 1, False)
