"""The device check: JAX's backend, then the accelerator-relevant tests and benchmarks, each a
child process under its own time limit, one at a time, and one JSON report.

:func:`run` is the work of ``experiments/device_check.py`` (its docstring lists the steps and
the files). The steps, in order:

  backend         JAX's ``default_backend()`` and ``local_devices()`` in a child, and one small
                  computation; not the backend asked: one error line, nothing else runs;
  packages        which optional packages import (``OPTIONAL``): librosa and scipy for the
                  benchmarks, pytest for the tests, the TensorFlow / PyTorch twins;
  bench_batch     the batch engine's phase stage sharded over all local devices
                  (``experiments.bench_batch --mode=phase``, small);
  tests           ``TESTS`` in one pytest process (the CPU is not forced);
  bench_spectral  ``experiments.bench_spectral`` without the CPU-only memory part;
  bench_phase     ``experiments.bench_phase`` on the tuning clips at n_fft 1024; it reads real
                  recordings only, so it is skipped when they are absent;
  bench_style     ``experiments.bench_style`` at its full size (one kernel seed), with the
                  implementations whose packages import; last, so that it gets whatever time
                  the steps before it left unused (its CPU twins are the slowest part).

Every child gets ``XLA_PYTHON_CLIENT_PREALLOCATE=false`` (several JAX processes meet one GPU:
the check's and the ones the benchmarks and tests start); ``XLA_PYTHON_CLIENT_MEM_FRACTION`` is
left as it is. ``--backend=cpu`` also sets ``JAX_PLATFORMS=cpu`` (a dry run on a machine with an
accelerator stays on the CPU); otherwise nothing forces a platform.

Time: each step's limit is its share (``SHARES``) of the budget still left, over the shares of
the steps still to run, so the limits of steps that use all their time sum to the budget and
time a step leaves unused goes to the later ones. A step over its limit is killed (its whole
process group) and fails. A step is not started with less than ``MIN_START_S`` of the budget
left; it is recorded as skipped.

``ok`` (exit status 0) needs every step that ran to pass (exit 0, within its limit, its JSON
written) and no step skipped for a missing package, missing test files or the budget; a
benchmark whose data is absent (bench_phase without ``--data_dir``'s clips) may be skipped.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from specst_jax import files, provenance

ROOT = Path(__file__).resolve().parents[1]  # the clone: experiments/ and tests/
REPORT = "device_check.json"
TIMEOUT_RC = 124  # the exit status of a step killed at its limit, as timeout(1) gives
KILL_GRACE_S = 5.0  # SIGTERM, then SIGKILL this much later
MIN_START_S = 15.0
SHARES = {"backend": 40, "packages": 30, "bench_batch": 50, "tests": 150, "bench_spectral": 40,
          "bench_phase": 60, "bench_style": 200}  # seconds of the default 570 s budget
INSTALL = {"gpu": 'pip install -e ".[cuda12]"', "tpu": 'pip install -e ".[tpu]"',
           "cpu": "pip install -e ."}
OPTIONAL = ("librosa", "scipy", "pytest", "xdist", "pghipy", "tensorflow", "torch")
PIP = {"xdist": "pytest-xdist"}  # import name -> pip name, where they differ
TESTS = ("tests/lowering_test.py", "tests/style_test.py", "tests/phase_test.py",
         "tests/batch_test.py::test_one_compiled_program_per_bucket_across_seeds")
QUICK_TESTS = ("tests/lowering_test.py",)
PHASE_DATA = ("speech/ljspeech", "rooster", "music/world", "esc50_16k/audio")  # bench_phase's

_PROBE = r"""
import json
import jax
import jax.numpy as jnp
devices = jax.local_devices()
total = float(jnp.sum(jax.device_put(jnp.arange(4.0), devices[0])))
print("device_check backend " + json.dumps({
    "backend": jax.default_backend(), "jax": jax.__version__, "device_count": jax.device_count(),
    "devices": [{"id": d.id, "platform": d.platform, "kind": d.device_kind} for d in devices],
    "computed": total == 6.0}), flush=True)
"""
_PACKAGES = r"""
import importlib, json, sys
found = {}
for name in sys.argv[1:]:
  try:
    importlib.import_module(name)
    found[name] = True
  except Exception as e:  # a broken install counts as missing
    found[name] = f"{type(e).__name__}: {e}"[:200]
print("device_check packages " + json.dumps(found), flush=True)
"""


@dataclasses.dataclass
class Step:
  """One child: ``command`` run from the clone; ``output`` the JSON it writes (a file name in
  the output folder; its figures go into the report); ``skipped``: why it will not run;
  ``benign``: that skip does not fail the check."""
  name: str
  command: list[str]
  output: str | None = None
  skipped: str | None = None
  benign: bool = False


@dataclasses.dataclass(frozen=True)
class ChildResult:
  rc: int
  seconds: float
  timed_out: bool


def now() -> float:
  """The clock of the budget (monotonic seconds)."""
  return time.monotonic()


def child_env(backend: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
  """The environment of every child: ``base`` (default ``os.environ``) with JAX's GPU memory
  preallocation off and unbuffered output; ``backend == "cpu"`` also sets ``JAX_PLATFORMS``."""
  env = dict(os.environ if base is None else base)
  env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
  env["PYTHONUNBUFFERED"] = "1"
  if backend == "cpu":
    env["JAX_PLATFORMS"] = "cpu"
  return env


def _kill_group(proc: subprocess.Popen) -> None:
  """SIGTERM to the child's process group (its own children too), SIGKILL if still there."""
  for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, None)):
    try:
      os.killpg(proc.pid, sig)
    except ProcessLookupError:
      return
    try:
      proc.wait(timeout=wait)
      if sig == signal.SIGTERM:  # the leader is gone; its children may not be
        os.killpg(proc.pid, signal.SIGKILL)
      return
    except subprocess.TimeoutExpired:
      continue
    except ProcessLookupError:
      return


def run_child(command: Sequence[str], *, env: Mapping[str, str], limit_s: float, log: Path,
              cwd: Path = ROOT) -> ChildResult:
  """Runs ``command`` in its own process group, stdout and stderr to ``log``; at ``limit_s``
  seconds kills the group and returns exit status :data:`TIMEOUT_RC`, ``timed_out=True``."""
  start = time.monotonic()
  with open(log, "w") as f:
    f.write(f"$ {shlex.join(command)}\n# limit {limit_s:.0f} s\n")
    f.flush()
    proc = subprocess.Popen(list(command), stdout=f, stderr=subprocess.STDOUT, env=dict(env),
                            cwd=cwd, start_new_session=True)
    try:
      rc, timed_out = proc.wait(timeout=limit_s), False
    except subprocess.TimeoutExpired:
      _kill_group(proc)
      rc, timed_out = TIMEOUT_RC, True
    except BaseException:
      _kill_group(proc)
      raise
  return ChildResult(rc, time.monotonic() - start, timed_out)


def marker_json(text: str, marker: str) -> dict | None:
  """The JSON after ``marker`` on the last line that starts with it, or None."""
  lines = [line for line in text.splitlines() if line.startswith(marker + " ")]
  if not lines:
    return None
  try:
    return json.loads(lines[-1][len(marker) + 1:])
  except json.JSONDecodeError:
    return None


def backend_problem(probe: dict | None, result: ChildResult, backend: str, log: Path,
                    env: Mapping[str, str]) -> str | None:
  """One line saying why the machine is not on ``backend`` (None when it is)."""
  hint = f"install JAX's build for it: {INSTALL[backend]} (README.md, \"On a GPU or a TPU VM\")"
  if env.get("JAX_PLATFORMS") and backend != "cpu":
    hint += f"; JAX_PLATFORMS={env['JAX_PLATFORMS']} is set"
  if probe is None or result.rc != 0:
    text = log.read_text() if log.is_file() else ""
    tail = [line for line in text.splitlines() if line.strip()][-1:] or [""]
    why = "timed out" if result.timed_out else f"exit {result.rc}"
    return (f"asked for backend {backend}, but the JAX probe failed ({why}: {tail[0][:200]}; "
            f"see {log}); {hint}")
  found = sorted({probe["backend"], *(d["platform"] for d in probe["devices"])})
  if found != [backend] or not probe["computed"]:
    devices = ", ".join(f"{d['platform']}:{d['id']} {d['kind']}" for d in probe["devices"])
    return (f"asked for backend {backend}, but JAX's default backend is {probe['backend']} "
            f"(devices: {devices}; computed: {probe['computed']}); {hint}")
  return None


def _missing(packages: Mapping[str, object], needed: Sequence[str]) -> str | None:
  gone = [m for m in needed if packages.get(m) is not True]
  if not gone:
    return None
  return f"missing {', '.join(gone)} (pip install {' '.join(PIP.get(m, m) for m in gone)})"


def _python(*args: str) -> list[str]:
  return [sys.executable, *args]


def batch_step(out: Path, devices: int, quick: bool) -> Step:
  """The phase stage of a batch sharded over ``devices`` (a multiple of them per batch)."""
  per_batch = 2 if quick else 8
  batch = devices * math.ceil(per_batch / devices)
  return Step("bench_batch", _python(
      "-m", "experiments.bench_batch", "--mode=phase", f"--devices={devices}",
      f"--batch={batch}", f"--seconds={0.5 if quick else 2.0:g}",
      f"--output={out / 'bench_batch.json'}"), output="bench_batch.json")


def tests_step(packages: Mapping[str, object], quick: bool, root: Path) -> Step:
  tests = QUICK_TESTS if quick else TESTS
  step = Step("tests", _python("-m", "pytest", "-q", "-x", "-n", "0", *tests))
  absent = [t for t in tests if not (root / t.split("::")[0]).is_file()]
  needed = ("pytest", "xdist") if quick else ("pytest", "xdist", "librosa")  # phase_test's
  step.skipped = (f"missing test files {', '.join(absent)} (not a clone?)" if absent else
                  _missing(packages, needed))
  return step


def style_impls(packages: Mapping[str, object]) -> list[str]:
  """bench_style's implementations that can run: ours always, the twins where they import."""
  have = {m for m, v in packages.items() if v is True}
  impls = ["tf"] if {"tensorflow", "scipy"} <= have else []
  impls += ["ours", "ours_bf16", "ours_early_stop"]
  impls += ["ours_scipy"] if "scipy" in have else []
  return impls + (["torch"] if {"torch", "scipy"} <= have else [])


def style_step(out: Path, packages: Mapping[str, object], quick: bool, data_dir: Path) -> Step:
  size = ["--seconds=3", "--filters=1024", "--n_iter=30", "--phase_iter=30",
          "--eval_repeats=2"] if quick else []  # else its defaults: 10 s, 4096 filters
  return Step("bench_style", _python(
      "-m", "experiments.bench_style", f"--data_dir={data_dir}", *size, "--seeds=0",
      f"--impls={','.join(style_impls(packages))}", f"--output={out / 'bench_style.json'}"),
      output="bench_style.json", skipped=_missing(packages, ("librosa",)))


def spectral_step(out: Path, packages: Mapping[str, object], quick: bool) -> Step:
  size = ["--n_ffts=1024", "--repeats=3", "--rounds=1", "--duration=2", "--batch=4"] if quick \
      else []
  return Step("bench_spectral", _python(
      "-m", "experiments.bench_spectral", *size, "--long_minutes=0",
      f"--output={out / 'bench_spectral.json'}"), output="bench_spectral.json",
      skipped=_missing(packages, ("librosa",)))


def phase_step(out: Path, packages: Mapping[str, object], quick: bool, data_dir: Path) -> Step:
  size = ["--clips=2", "--repeats=1", "--methods=pghi,fgla 32"] if quick else []
  step = Step("bench_phase", _python(
      "-m", "experiments.bench_phase", f"--data_dir={data_dir}", "--clip_set=tuning",
      "--configs=1024:256", "--seeds=1", *size, f"--output={out / 'bench_phase.json'}"),
      output="bench_phase.json", skipped=_missing(packages, ("librosa",)))
  absent = [d for d in PHASE_DATA if not (data_dir / d).is_dir()]
  if absent and not step.skipped:
    step.skipped = (f"no {', '.join(absent)} under {data_dir}: bench_phase reads real "
                    "recordings only (it has no built-in signals)")
    step.benign = True
  return step


def plan(out: Path, *, devices: int, packages: Mapping[str, object], quick: bool,
         data_dir: Path, root: Path = ROOT) -> list[Step]:
  """The steps after ``backend`` and ``packages``, in the order they run; the benchmarks write
  their JSONs into ``out`` (absolute: the children run from ``root``)."""
  return [batch_step(out, devices, quick), tests_step(packages, quick, root),
          spectral_step(out, packages, quick), phase_step(out, packages, quick, data_dir),
          style_step(out, packages, quick, data_dir)]


# ----------------------------------------------------------------------------- figures

def batch_figures(d: dict) -> dict:
  """Seconds per batch of the phase stage: one device and sharded over all of them."""
  one, many = d["single"], d["sharded"]
  return {"platform": one.get("platform"), "batch": d.get("batch"), "shape": one["shape"],
          "method": one["method"], "first_s": one["first_s"], "median_s": one["median_s"],
          "devices": many["devices"] if many else 1,
          "sharded_median_s": many["median_s"] if many else None, "ratio": d["ratio"],
          "max_abs_difference": d["max_abs_difference"]}


def style_figures(d: dict) -> dict:
  """bench_style's headline ``ratios`` and, per implementation, its seconds and final loss
  (a ``.partial`` file of a run stopped early holds the implementations done so far)."""
  if "kernels" not in d:  # bench_style.json.partial, written after each implementation
    impls, out = d, {"partial": True}
  else:
    kernel = d["kernels"][0] if d["kernels"] else {}
    impls = kernel.get("implementations", {})
    roof = kernel.get("roofline", {})
    out = {"ratios": d["ratios"], "settings": {k: d["settings"].get(k) for k in
                                               ("seconds", "filters", "n_iter", "seeds")},
           "roofline": {k: roof.get(k) for k in ("xla_f32_gflops", "xla_bf16_gflops",
                                                 "ours_per_eval_over_bound_xla_f32")}}
  keys = ("per_eval_s", "setup_s", "opt_s", "phase_s", "end_to_end_s", "n_iter", "final_loss",
          "time_to_reference_loss_s")
  out["implementations"] = {n: {k: r.get(k) for k in keys} for n, r in impls.items()}
  return out


def spectral_figures(d: dict) -> dict:
  """Per op, n_fft and case: our and librosa's milliseconds, librosa / ours, compile s."""
  return {f"{r['op']} {r['n_fft']} {r['case']}": {
      "ours_ms": 1e3 * r["ours"], "librosa_ms": 1e3 * r["librosa"],
      "librosa_over_ours": r["librosa"] / r["ours"], "compile_s": r["compile"]}
      for r in d["rows"]}


def phase_figures(d: dict) -> dict:
  """Per clip set and STFT: each method's median SC (dB) and seconds per clip in a batch."""
  out = {"device": d.get("device")}
  for key, rows in d["results"].items():
    out[key] = {r["method"]: {"sc_db": r["sc_median"], "s_per_clip": r["s_per_clip_batch"]}
                for r in rows}
  return out


FIGURES = {"bench_batch": batch_figures, "bench_style": style_figures,
           "bench_spectral": spectral_figures, "bench_phase": phase_figures}


def figures_of(step: Step, out: Path, passed: bool) -> dict | None:
  """The figures of ``step``'s JSON (its ``.partial`` when it failed), or None."""
  if step.output is None or step.name not in FIGURES:
    return None
  path = out / step.output
  if not passed and (out / (step.output + ".partial")).is_file():
    path = out / (step.output + ".partial")
  if not path.is_file():
    return None
  try:
    return FIGURES[step.name](json.loads(path.read_text()))
  except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError) as e:
    return {"error": f"{path.name}: {type(e).__name__}: {e}"}


# ----------------------------------------------------------------------------- running

class _Runner:
  """Runs steps one at a time under the budget and keeps the report up to date on disk."""

  def __init__(self, out: Path, env: dict, budget_s: float, report: dict):
    self.out, self.env, self.budget_s, self.report = out, env, budget_s, report
    self.start = now()

  def remaining(self) -> float:
    return self.budget_s - (now() - self.start)

  def write(self) -> None:
    files.write_json(self.out / REPORT, self.report)

  def skip(self, step: Step, reason: str) -> dict:
    record = dict(name=step.name, command=shlex.join(step.command), rc=None, seconds=0.0,
                  limit_s=None, log=None, skipped=reason, timed_out=False, passed=False,
                  benign=step.benign)
    self.report["steps"].append(record)
    self.write()
    return record

  def step(self, step: Step, shares_left: float) -> dict:
    """Runs ``step`` (or records why not) with its share of the budget left."""
    left = self.remaining()
    if step.skipped:
      return self.skip(step, step.skipped)
    if left < MIN_START_S:
      return self.skip(step, f"budget spent: {max(left, 0.0):.0f} s of {self.budget_s:.0f} s "
                             "left")
    limit = left * SHARES[step.name] / shares_left
    if step.output:  # no stale figures from an earlier run
      for name in (step.output, step.output + ".partial"):
        (self.out / name).unlink(missing_ok=True)
    log = self.out / f"{step.name}.log"
    result = run_child(step.command, env=self.env, limit_s=limit, log=log)
    timed_out = result.timed_out or result.seconds > limit + 1.0  # + Popen's start
    wrote = step.output is None or (self.out / step.output).is_file()
    record = dict(name=step.name, command=shlex.join(step.command), rc=result.rc,
                  seconds=round(result.seconds, 2), limit_s=round(limit, 1), log=log.name,
                  skipped=None, timed_out=timed_out,
                  passed=result.rc == 0 and not timed_out and wrote, benign=False)
    self.report["steps"].append(record)
    figures = figures_of(step, self.out, record["passed"])
    if figures is not None:
      self.report["figures"][step.name] = figures
    self.write()
    return record


def _line(record: dict) -> str:
  name = record["name"]
  if record["skipped"]:
    return f"{name}: skipped: {record['skipped']}"
  if record["passed"]:
    status = "passed"
  elif record["timed_out"]:
    status = "FAILED (over its limit)"
  elif record["rc"] == 0:
    status = "FAILED (exit 0 but no JSON written)"
  else:
    status = f"FAILED (exit {record['rc']})"
  return (f"{name}: {status} in {record['seconds']:.0f} s (limit {record['limit_s']:.0f} s), "
          f"log {record['log']}")


def verdict(steps: Sequence[dict]) -> bool:
  """Every step that ran passed, and every skip was a benign one."""
  return all(s["passed"] or (s["skipped"] and s["benign"]) for s in steps)


def run(out: str | Path, *, backend: str = "gpu", budget_s: float = 570.0, quick: bool = False,
        data_dir: str | Path = "../shared/data", root: Path = ROOT) -> int:
  """The device check into the folder ``out``; returns the exit status (0: ok).

  A machine not on ``backend`` prints one error line to stderr, writes the report with
  ``ok: false`` and runs nothing else; otherwise one line per step and a summary go to stdout.
  """
  if budget_s < 4 * MIN_START_S:
    raise ValueError(f"--budget_s={budget_s:g}: at least {4 * MIN_START_S:g} s are needed")
  out, data_dir = Path(out).resolve(), Path(data_dir).resolve()
  out.mkdir(parents=True, exist_ok=True)
  env = child_env(backend)
  report = {"backend": backend, "devices": [], "ok": False, "complete": False,
            "budget_s": budget_s, "quick": quick, "steps": [], "figures": {},
            "provenance": provenance.record(argv=sys.argv)}
  runner = _Runner(out, env, budget_s, report)
  probe_step = Step("backend", _python("-c", _PROBE))
  record = runner.step(probe_step, sum(SHARES.values()))
  log = out / "backend.log"
  probe = marker_json(log.read_text(), "device_check backend") if log.is_file() else None
  result = ChildResult(record["rc"], record["seconds"], record["timed_out"])
  problem = backend_problem(probe, result, backend, log, env)
  report["devices"] = probe["devices"] if probe else []
  if problem:
    record["passed"] = False
    report.update(complete=True, error=problem)
    runner.write()
    print(f"device_check: error: {problem}", file=sys.stderr)
    return 1
  kinds = sorted({d["kind"] for d in probe["devices"]})
  print(f"backend {probe['backend']}: {len(probe['devices'])} local device(s) "
        f"({', '.join(kinds)}), jax {probe['jax']}", flush=True)
  later = sum(v for k, v in SHARES.items() if k != "backend")
  record = runner.step(Step("packages", _python("-c", _PACKAGES, *OPTIONAL)), later)
  print(_line(record), flush=True)
  log = out / "packages.log"
  packages = (marker_json(log.read_text(), "device_check packages") if log.is_file() else None)
  report["packages"] = packages or {}
  steps = plan(out, devices=len(probe["devices"]), packages=report["packages"], quick=quick,
               data_dir=data_dir, root=root)
  for i, step in enumerate(steps):
    shares_left = sum(SHARES[s.name] for s in steps[i:] if not s.skipped)
    print(_line(runner.step(step, shares_left)), flush=True)
  report.update(ok=verdict(report["steps"]), complete=True)
  runner.write()
  ran = [s for s in report["steps"] if not s["skipped"]]
  skipped = [s["name"] for s in report["steps"] if s["skipped"]]
  print(f"device check {'passed' if report['ok'] else 'FAILED'}: "
        f"{sum(s['passed'] for s in ran)} of {len(ran)} steps passed"
        + (f", skipped: {', '.join(skipped)}" if skipped else "")
        + f"; report {out / REPORT}", flush=True)
  return 0 if report["ok"] else 1
