"""Helpers shared by the test modules (imported as ``from conftest import ...``).

``rel_err`` is the suite's error measure (max |error| relative to the reference's peak);
``db_err`` and ``band_rel_err`` make errors in quiet bands visible, which a peak-relative
measure hides; ``noise`` is the seeded white-noise test signal; ``clip`` loads a real
recording from the shared data folder or skips the test when it is absent.

Fixture ``fake``: a fake ESC-50 tree and a feature cache directory, made once per test module
(``(data_root, cache_dir)``; see ``esc50_fake.make_fake_esc50``).

Compiled programs are kept in JAX's persistent cache for the session (one fresh folder per
xdist worker, inherited by the tools the tests start as subprocesses unless a test names its
own): the many tiny training runs, studies and CLI runs compile the same programs again and
again, and a cache hit loads the very executable a compile would build, so no result changes.
``SPECST_TEST_COMPILATION_CACHE=0`` turns it off (to time the suite without it).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from esc50_fake import make_fake_esc50

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def _session_compilation_cache() -> str | None:
  if os.environ.get("SPECST_TEST_COMPILATION_CACHE", "1") == "0":
    return None
  worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
  path = tempfile.mkdtemp(prefix=f"specst_jax_cache_{worker}_")
  atexit.register(shutil.rmtree, path, ignore_errors=True)
  os.environ["JAX_COMPILATION_CACHE_DIR"] = path
  os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
  import jax
  jax.config.update("jax_compilation_cache_dir", path)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  return path


_CACHE_DIR = _session_compilation_cache()


def pytest_unconfigure(config):
  if _CACHE_DIR:
    shutil.rmtree(_CACHE_DIR, ignore_errors=True)


def run_on_host_devices(code: str, n_devices: int) -> subprocess.CompletedProcess:
  """Runs ``code`` in a fresh Python process (from the repository root) that sees
  ``n_devices`` simulated CPU devices; the caller asserts on the result."""
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n_devices}",
             JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
  return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                        timeout=300, cwd=ROOT)


def rel_err(actual, expected) -> float:
  """``max |actual - expected| / max |expected|`` (shapes must match)."""
  actual, expected = np.asarray(actual), np.asarray(expected)
  assert actual.shape == expected.shape, (actual.shape, expected.shape)
  return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def db_err(actual, expected, *, floor_db: float = -100.0, power: bool = True) -> float:
  """Max |dB difference| over the entries within ``-floor_db`` dB of the reference's peak.

  Quiet entries count as much as loud ones (down to the floor, below which float32
  round-off of the loud bins dominates any implementation).
  """
  actual = np.abs(np.asarray(actual, np.float64))
  expected = np.abs(np.asarray(expected, np.float64))
  assert actual.shape == expected.shape, (actual.shape, expected.shape)
  scale = 10.0 if power else 20.0
  peak = expected.max()
  keep = expected > peak * 10.0 ** (floor_db / scale)
  tiny = np.finfo(np.float64).tiny
  diff = scale * np.abs(np.log10(np.maximum(actual[keep], tiny) / expected[keep]))
  return float(diff.max())


def band_rel_err(actual, expected) -> np.ndarray:
  """Per band (last axis): max |error| / max |reference| within that band."""
  actual, expected = np.asarray(actual), np.asarray(expected)
  assert actual.shape == expected.shape, (actual.shape, expected.shape)
  axes = tuple(range(actual.ndim - 1))
  return np.max(np.abs(actual - expected), axis=axes) / np.max(np.abs(expected), axis=axes)


def noise(n: int, seed: int = 0, shape: tuple[int, ...] = ()) -> np.ndarray:
  """Seeded white noise ``[*shape, n]`` float32."""
  return np.random.default_rng(seed).standard_normal((*shape, n)).astype(np.float32)


def clip(path: Path, seconds: float = 2.0) -> tuple[np.ndarray, int]:
  """The first ``seconds`` of a real recording (mono float32) and its rate; skips if absent."""
  if not Path(path).exists():
    pytest.skip(f"data not present: {path}")
  y, sr = sf.read(path, dtype="float32", always_2d=False)
  if y.ndim > 1:
    y = y.mean(axis=1)
  return y[: int(seconds * sr)], sr


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
  """``(root of a fake ESC-50 tree, cache dir)``, once per test module."""
  d = tmp_path_factory.mktemp("esc50")
  return make_fake_esc50(d / "data"), d / "cache"
