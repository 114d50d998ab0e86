"""Tests of specst_jax/device_check.py (the work of experiments/device_check.py).

Nothing real runs on a device: ``run_child`` is replaced by a fake that records each command
and its environment and writes what the step would (the probes' lines, a benchmark's JSON), on
a fake clock. One test runs the real ``run_child`` on a sleeping child to check the kill at
its limit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from specst_jax import device_check as dc

ROOT = Path(__file__).resolve().parents[1]
ALL = {m: True for m in dc.OPTIONAL}

FAKE_JSON = {
    "bench_batch": {"single": {"devices": 1, "first_s": 3.0, "median_s": 0.25,
                               "method": "pghi+fgla", "shape": [8, 249, 257],
                               "platform": "gpu"},
                    "sharded": None, "ratio": None, "max_abs_difference": None, "batch": 8},
    "bench_style": {"settings": {"seconds": 10.0, "filters": 4096, "n_iter": 300, "seeds": [0]},
                    "ratios": {"time_to_reference_loss": [None]},
                    "kernels": [{"roofline": {"xla_f32_gflops": 5e4, "xla_bf16_gflops": 9e4,
                                              "ours_per_eval_over_bound_xla_f32": 2.5},
                                 "implementations": {
                                     "ours": {"per_eval_s": 0.004, "end_to_end_s": 9.5,
                                              "final_loss": 1.5, "n_iter": 300},
                                     "torch": {"per_eval_s": 0.3, "end_to_end_s": 99.0,
                                               "final_loss": 1.6, "n_iter": 300}}}]},
    "bench_spectral": {"rows": [{"op": "stft", "n_fft": 1024, "case": "1 clip", "ours": 0.001,
                                 "librosa": 0.004, "compile": 0.5}]},
    "bench_phase": {"device": "cuda:0", "results": {"tuning 1024:256": [
        {"method": "librosa fgla 100 it", "sc_median": -20.0, "s_per_clip_batch": 0.5},
        {"method": "ours pghi+fgla 60 it (default)", "sc_median": -25.0,
         "s_per_clip_batch": 0.01}]}},
}


def _flag(command, name):
  values = [a.split("=", 1)[1] for a in command if a.startswith(f"--{name}=")]
  return values[-1] if values else None


class FakeChildren:
  """Stands in for ``dc.run_child``: each step passes in ``seconds[name]`` (default 1 s of the
  fake clock) unless ``rc`` or ``timed_out`` name it."""

  def __init__(self, *, backend="gpu", n_devices=1, packages=None, rc=None, timed_out=(),
               seconds=None):
    self.clock = 0.0
    self.calls = []
    self.backend, self.n_devices = backend, n_devices
    self.packages = ALL if packages is None else packages
    self.rc, self.timed_out, self.seconds = rc or {}, set(timed_out), seconds or {}

  def __call__(self, command, *, env, limit_s, log, cwd=dc.ROOT):
    name = Path(log).stem
    self.calls.append(dict(name=name, command=list(command), env=dict(env), limit_s=limit_s))
    text = ""
    if name == "backend":
      platform = self.backend
      text = "device_check backend " + json.dumps(dict(
          backend=platform, jax="0.0", device_count=self.n_devices, computed=True,
          devices=[dict(id=i, platform=platform, kind="Fake H100")
                   for i in range(self.n_devices)]))
    elif name == "packages":
      text = "device_check packages " + json.dumps(self.packages)
    Path(log).write_text(f"some output\n{text}\n")
    output = _flag(command, "output")
    if output and name in FAKE_JSON:
      Path(output).write_text(json.dumps(FAKE_JSON[name]))
    if name in self.timed_out:
      self.clock += limit_s + dc.KILL_GRACE_S
      return dc.ChildResult(dc.TIMEOUT_RC, limit_s + dc.KILL_GRACE_S, True)
    seconds = self.seconds.get(name, 1.0)
    seconds = limit_s if seconds == "all" else seconds
    self.clock += seconds
    return dc.ChildResult(self.rc.get(name, 0), seconds, False)

  def step(self, name):
    return next(c for c in self.calls if c["name"] == name)


@pytest.fixture
def data_dir(tmp_path):
  """A data folder with bench_phase's subfolders (their files are never read here)."""
  d = tmp_path / "data"
  for sub in dc.PHASE_DATA:
    (d / sub).mkdir(parents=True)
  return d


def _run(monkeypatch, tmp_path, fake, data_dir, **kw):
  monkeypatch.setattr(dc, "run_child", fake)
  monkeypatch.setattr(dc, "now", lambda: fake.clock)
  code = dc.run(tmp_path / "out", data_dir=data_dir, **kw)
  report = json.loads((tmp_path / "out" / dc.REPORT).read_text())
  return code, report


def test_wrong_backend_one_line_json_and_nothing_else(monkeypatch, tmp_path, data_dir, capsys):
  fake = FakeChildren(backend="cpu")
  code, report = _run(monkeypatch, tmp_path, fake, data_dir, backend="gpu")
  assert code != 0
  captured = capsys.readouterr()
  lines = (captured.out + captured.err).strip().splitlines()
  assert len(lines) == 1, lines
  assert "backend gpu" in lines[0] and "default backend is cpu" in lines[0]
  assert 'pip install -e ".[cuda12]"' in lines[0] and "README.md" in lines[0]
  assert [c["name"] for c in fake.calls] == ["backend"]
  assert report["ok"] is False and [s["name"] for s in report["steps"]] == ["backend"]
  assert report["devices"][0]["platform"] == "cpu" and "error" in report


def test_probe_that_crashes_is_one_line_too(monkeypatch, tmp_path, data_dir, capsys):
  fake = FakeChildren(rc={"backend": 1})
  code, report = _run(monkeypatch, tmp_path, fake, data_dir, backend="tpu")
  captured = capsys.readouterr()
  lines = (captured.out + captured.err).strip().splitlines()
  assert code == 1 and len(lines) == 1
  assert "probe failed (exit 1" in lines[0] and 'pip install -e ".[tpu]"' in lines[0]
  assert len(fake.calls) == 1 and report["ok"] is False


def test_all_steps_pass_with_figures_env_and_full_sizes(monkeypatch, tmp_path, data_dir, capsys):
  monkeypatch.setenv("XLA_PYTHON_CLIENT_MEM_FRACTION", "0.4")
  monkeypatch.setenv("XLA_PYTHON_CLIENT_PREALLOCATE", "true")
  monkeypatch.delenv("JAX_PLATFORMS", raising=False)
  packages = dict(ALL, tensorflow="ImportError: no module named tensorflow")
  fake = FakeChildren(n_devices=4, packages=packages)
  code, report = _run(monkeypatch, tmp_path, fake, data_dir, backend="gpu")
  assert code == 0, capsys.readouterr()
  assert report["ok"] is True and report["complete"] is True
  names = ["backend", "packages", "bench_batch", "tests", "bench_spectral", "bench_phase",
           "bench_style"]
  assert [c["name"] for c in fake.calls] == names
  assert [s["name"] for s in report["steps"]] == names
  assert all(s["passed"] and s["skipped"] is None for s in report["steps"])
  for s in report["steps"]:
    assert (tmp_path / "out" / s["log"]).is_file()
    assert set(s) >= {"name", "command", "rc", "seconds", "limit_s", "log", "skipped"}
  for c in fake.calls:  # one at a time, each with preallocation off; the fraction untouched
    assert c["env"]["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert c["env"]["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.4"
    assert "JAX_PLATFORMS" not in c["env"]  # nothing forces a platform
  batch = fake.step("bench_batch")["command"]
  assert _flag(batch, "mode") == "phase" and _flag(batch, "devices") == "4"
  assert int(_flag(batch, "batch")) % 4 == 0
  style = fake.step("bench_style")["command"]
  assert _flag(style, "seconds") is None and _flag(style, "filters") is None  # its defaults
  assert _flag(style, "impls").split(",") == ["ours", "ours_bf16", "ours_early_stop",
                                              "ours_scipy", "torch"]  # no TF: it did not import
  assert "--parallel" not in style
  tests = fake.step("tests")["command"]
  assert tests[1:3] == ["-m", "pytest"] and "-x" in tests and tests[tests.index("-n") + 1] == "0"
  assert all((ROOT / t.split("::")[0]).is_file() for t in dc.TESTS)
  assert set(dc.TESTS) <= set(tests)
  for name in ("bench_batch", "bench_style", "bench_spectral", "bench_phase"):
    output = Path(_flag(fake.step(name)["command"], "output"))
    assert output.is_absolute() and output.parent == (tmp_path / "out").resolve()
  assert report["devices"] == [dict(id=i, platform="gpu", kind="Fake H100") for i in range(4)]
  f = report["figures"]
  assert f["bench_batch"]["median_s"] == 0.25 and f["bench_batch"]["devices"] == 1
  assert f["bench_style"]["ratios"] == {"time_to_reference_loss": [None]}
  assert f["bench_style"]["implementations"]["ours"]["per_eval_s"] == 0.004
  assert f["bench_style"]["roofline"]["ours_per_eval_over_bound_xla_f32"] == 2.5
  assert f["bench_spectral"]["stft 1024 1 clip"]["librosa_over_ours"] == pytest.approx(4.0)
  assert f["bench_phase"]["tuning 1024:256"]["ours pghi+fgla 60 it (default)"] == {
      "sc_db": -25.0, "s_per_clip": 0.01}
  assert report["provenance"]["commit"] is None or len(report["provenance"]["commit"]) >= 40
  assert "device check passed" in capsys.readouterr().out


def test_step_over_its_limit_fails_and_later_steps_run(monkeypatch, tmp_path, data_dir, capsys):
  fake = FakeChildren(timed_out={"bench_spectral"})  # not the last step
  code, report = _run(monkeypatch, tmp_path, fake, data_dir)
  steps = {s["name"]: s for s in report["steps"]}
  assert code == 1 and report["ok"] is False
  s = steps["bench_spectral"]
  assert s["timed_out"] and not s["passed"] and s["rc"] == dc.TIMEOUT_RC
  assert steps["bench_phase"]["passed"] and steps["bench_style"]["passed"]  # room left
  assert "bench_spectral: FAILED (over its limit)" in capsys.readouterr().out


def test_exit_zero_without_the_output_json_fails(monkeypatch, tmp_path, data_dir):
  fake = FakeChildren()
  saved = FAKE_JSON.pop("bench_spectral")
  try:
    code, report = _run(monkeypatch, tmp_path, fake, data_dir)
  finally:
    FAKE_JSON["bench_spectral"] = saved
  steps = {s["name"]: s for s in report["steps"]}
  assert code == 1 and steps["bench_spectral"]["rc"] == 0 and not steps["bench_spectral"]["passed"]
  assert "bench_spectral" not in report["figures"]


def test_budget_spent_skips_later_steps_with_a_reason(monkeypatch, tmp_path, data_dir):
  fake = FakeChildren(seconds={"tests": 560.0})  # a step that ran far past its share
  code, report = _run(monkeypatch, tmp_path, fake, data_dir, budget_s=570.0)
  steps = {s["name"]: s for s in report["steps"]}
  assert [c["name"] for c in fake.calls] == ["backend", "packages", "bench_batch", "tests"]
  for name in ("bench_style", "bench_spectral", "bench_phase"):
    assert steps[name]["skipped"].startswith("budget spent"), steps[name]
    assert steps[name]["rc"] is None
  assert code == 1 and report["ok"] is False


def test_limits_sum_within_the_budget_when_every_step_uses_all_of_it(monkeypatch, tmp_path,
                                                                     data_dir):
  fake = FakeChildren(seconds={n: "all" for n in dc.SHARES})
  code, report = _run(monkeypatch, tmp_path, fake, data_dir, budget_s=300.0)
  limits = [c["limit_s"] for c in fake.calls]
  assert len(limits) == len(dc.SHARES) and sum(limits) <= 300.0 + 1e-6
  assert code == 0  # each step ended within its limit
  shares = [dc.SHARES[c["name"]] for c in fake.calls]  # in proportion to the shares
  assert limits == pytest.approx([300.0 * s / sum(shares) for s in shares])


def test_unused_time_goes_to_later_steps(monkeypatch, tmp_path, data_dir):
  fake = FakeChildren()  # every step takes 1 s of its limit
  _run(monkeypatch, tmp_path, fake, data_dir, budget_s=570.0)
  assert fake.step("bench_style")["limit_s"] > dc.SHARES["bench_style"]
  assert fake.step("bench_style")["limit_s"] == pytest.approx(570.0 - 6.0)  # all that is left


def test_quick_passes_the_small_flags_and_cpu_is_forced_only_when_asked(monkeypatch, tmp_path,
                                                                         data_dir):
  fake = FakeChildren(backend="cpu")
  code, report = _run(monkeypatch, tmp_path, fake, data_dir, backend="cpu", quick=True)
  assert code == 0 and report["quick"] is True
  assert all(c["env"]["JAX_PLATFORMS"] == "cpu" for c in fake.calls)
  style = fake.step("bench_style")["command"]
  assert (_flag(style, "seconds"), _flag(style, "filters"), _flag(style, "seeds")) == (
      "3", "1024", "0")
  spectral = fake.step("bench_spectral")["command"]
  assert _flag(spectral, "n_ffts") == "1024" and _flag(spectral, "long_minutes") == "0"
  assert _flag(fake.step("bench_batch")["command"], "seconds") == "0.5"
  assert _flag(fake.step("bench_phase")["command"], "clips") == "2"
  tests = fake.step("tests")["command"]
  assert [a for a in tests if a.startswith("tests/")] == list(dc.QUICK_TESTS)


def test_without_the_recordings_bench_phase_is_skipped_and_the_check_passes(monkeypatch,
                                                                          tmp_path):
  fake = FakeChildren()
  code, report = _run(monkeypatch, tmp_path, fake, tmp_path / "absent")
  steps = {s["name"]: s for s in report["steps"]}
  assert "no built-in signals" in steps["bench_phase"]["skipped"]
  assert "bench_phase" not in [c["name"] for c in fake.calls]
  assert _flag(fake.step("bench_style")["command"], "data_dir") == str(tmp_path / "absent")
  assert code == 0 and report["ok"] is True


def test_missing_packages_skip_their_steps_and_fail_the_check(monkeypatch, tmp_path, data_dir):
  packages = dict(ALL, librosa="ModuleNotFoundError: No module named 'librosa'", torch=False)
  fake = FakeChildren(packages=packages)
  code, report = _run(monkeypatch, tmp_path, fake, data_dir)
  steps = {s["name"]: s for s in report["steps"]}
  for name in ("tests", "bench_style", "bench_spectral", "bench_phase"):
    assert steps[name]["skipped"] == "missing librosa (pip install librosa)"
  assert [c["name"] for c in fake.calls] == ["backend", "packages", "bench_batch"]
  assert code == 1 and report["ok"] is False


def test_stale_bench_json_is_not_reported(monkeypatch, tmp_path, data_dir):
  out = tmp_path / "out"
  out.mkdir()
  (out / "bench_phase.json").write_text(json.dumps(FAKE_JSON["bench_phase"]))
  fake = FakeChildren(rc={"bench_phase": 1})
  saved = FAKE_JSON.pop("bench_phase")  # the failing run writes nothing
  try:
    code, report = _run(monkeypatch, tmp_path, fake, data_dir)
  finally:
    FAKE_JSON["bench_phase"] = saved
  assert code == 1 and "bench_phase" not in report["figures"]
  assert not (out / "bench_phase.json").exists()


def test_partial_bench_style_figures():
  partial = {"ours": {"per_eval_s": 0.01, "end_to_end_s": 5.0}}
  f = dc.style_figures(partial)
  assert f["partial"] is True and f["implementations"]["ours"]["per_eval_s"] == 0.01


def test_run_child_kills_the_whole_group_at_its_limit(tmp_path):
  pid_file = tmp_path / "grandchild.pid"
  code = ("import subprocess, sys, time; "
          "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
          f"open({str(pid_file)!r}, 'w').write(str(p.pid)); print('started', flush=True); "
          "time.sleep(60)")
  log = tmp_path / "child.log"
  t0 = time.monotonic()
  result = dc.run_child([sys.executable, "-c", code], env=dc.child_env("cpu"), limit_s=3.0,
                        log=log, cwd=tmp_path)
  assert result.timed_out and result.rc == dc.TIMEOUT_RC
  assert time.monotonic() - t0 < 3.0 + dc.KILL_GRACE_S + 5.0
  assert "started" in log.read_text() and "# limit 3 s" in log.read_text()
  grandchild = int(pid_file.read_text())
  for _ in range(50):
    if not _alive(grandchild):
      break
    time.sleep(0.1)
  else:
    pytest.fail(f"grandchild {grandchild} survived")


def _alive(pid: int) -> bool:
  """Running (a killed process that nobody reaped yet is a zombie: not alive)."""
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  stat = Path(f"/proc/{pid}/stat")
  try:
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
  except (OSError, IndexError):
    return False


def test_child_env_keeps_the_rest():
  env = dc.child_env("gpu", {"PATH": "/bin", "XLA_PYTHON_CLIENT_MEM_FRACTION": ".5"})
  assert env == {"PATH": "/bin", "XLA_PYTHON_CLIENT_MEM_FRACTION": ".5",
                 "XLA_PYTHON_CLIENT_PREALLOCATE": "false", "PYTHONUNBUFFERED": "1"}


def test_tool_without_output_dir_is_one_error_line():
  r = subprocess.run([sys.executable, "-m", "experiments.device_check"], cwd=ROOT,
                     capture_output=True, text=True, timeout=120)
  assert r.returncode == 1
  assert r.stderr.strip().splitlines() == ["device_check: error: --output_dir is required"]
