"""The style benchmark's pure parts: the TF and PyTorch twins compute our loss on the same x.

The three implementations (ours, ``experiments/peers/tf_ulyanov.py``,
``experiments/peers/torch_ulyanov.py``) must give the same loss and gradient at one ``x``
for the benchmark's "time to the TF twin's loss" to mean anything; the float64 numpy loss
(explicit Grams) is the independent reference. Tiny shapes. tensorflow, torch (and scipy) are
test requirements (setup.cfg's ``test`` extra), so a missing peer fails here rather than skips;
each peer is imported inside its own test, so TensorFlow's import (~5 s) is paid only there.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import bench_style
from experiments.peers import ulyanov_common as common
from specst_jax.style import nets, optimize

FRAMES, BINS, FILTERS, WIDTH = 24, 9, 16, 3
# float32 losses (~75 here) against each other and the float64 numpy loss: measured <= 2.3e-7.
LOSS_RTOL = 1e-5
# gradients, relative to their largest entry: measured 2.2e-7 (TF and torch vs ours).
GRAD_RTOL = 1e-5


@pytest.fixture(scope="module")
def problem():
  rng = np.random.default_rng(3)
  content = np.log1p(np.abs(rng.standard_normal((FRAMES, BINS)))).astype(np.float32)
  style = np.log1p(np.abs(2 * rng.standard_normal((FRAMES + 4, BINS)))).astype(np.float32)
  kernel = common.random_kernel(0, BINS, FILTERS, WIDTH)
  x = (0.3 * rng.standard_normal((FRAMES, BINS))).astype(np.float32)
  return kernel, content, style, x


def _ours(kernel, content, style, x):
  fn, params, cfg = bench_style.ours_setup(kernel)
  targets = optimize.make_targets(fn, params, jnp.asarray(content), [jnp.asarray(style)], cfg)
  f, g = jax.jit(jax.value_and_grad(lambda v: optimize.loss_terms(
      v, params, targets, features_fn=fn, config=cfg)["total"]))(jnp.asarray(x))
  return float(f), np.asarray(g, np.float64).ravel()


def _numpy_grad(kernel, content, style, x, eps=1e-4, n=12):
  """Central differences of the float64 numpy loss at ``n`` random coordinates."""
  rng = np.random.default_rng(0)
  idx = rng.choice(x.size, n, replace=False)
  x64 = x.astype(np.float64)
  out = []
  for i in idx:
    d = np.zeros(x.size)
    d[i] = eps
    d = d.reshape(x.shape)
    out.append((common.numpy_loss(kernel, content, style, x64 + d)
                - common.numpy_loss(kernel, content, style, x64 - d)) / (2 * eps))
  return idx, np.array(out)


def test_ours_matches_numpy_loss_and_finite_differences(problem):
  kernel, content, style, x = problem
  f, g = _ours(*problem)
  ref = common.numpy_loss(kernel, content, style, x)
  np.testing.assert_allclose(f, ref, rtol=LOSS_RTOL)
  idx, fd = _numpy_grad(*problem)
  np.testing.assert_allclose(g[idx], fd, rtol=1e-3, atol=1e-3 * np.abs(g).max())


def _twin(peer, kernel, content, style):
  """The peer's model; the import happens here so only these tests pay for it."""
  if peer == "tf":
    from experiments.peers import tf_ulyanov
    return tf_ulyanov.UlyanovTF(kernel, content, style)
  from experiments.peers import torch_ulyanov
  return torch_ulyanov.UlyanovTorch(kernel, content, style)


@pytest.mark.parametrize("peer", ["tf", "torch"])
def test_twin_matches_ours(problem, peer):
  kernel, content, style, x = problem
  model = _twin(peer, kernel, content, style)
  try:
    f_peer, g_peer = model.value_and_grad(x.astype(np.float64).ravel())
  finally:
    model.close()
  f_ours, g_ours = _ours(*problem)
  np.testing.assert_allclose(f_peer, f_ours, rtol=LOSS_RTOL)
  np.testing.assert_allclose(f_peer, common.numpy_loss(kernel, content, style, x), rtol=LOSS_RTOL)
  np.testing.assert_allclose(g_peer, g_ours, rtol=0, atol=GRAD_RTOL * np.abs(g_ours).max())


def test_lbfgs_trace_and_time_to_loss():
  calls = []

  def quad(v):
    calls.append(v.copy())
    return float(np.sum((v - 3.0) ** 2)), 2 * (v - 3.0)

  out = common.lbfgs(quad, np.zeros(4), maxiter=50)
  assert out["n_evals"] == len(out["trace"]) == len(calls)
  np.testing.assert_allclose(out["x"], 3.0, atol=1e-5)
  losses = [point[1] for point in out["trace"]]
  assert losses[0] == 36.0
  t = common.time_to_loss(out["trace"], 1e-3)
  first = next(i for i, f in enumerate(losses) if f <= 1e-3)
  assert t == out["trace"][first][0]
  assert common.time_to_loss(out["trace"], -1.0) is None
  assert common.time_to_loss(out["trace"], 1e-3, column=2) == out["trace"][first][2]


def test_iterations_to_loss():
  curve = [10.0, 5.0, 2.0, 2.0, 1.0]
  assert bench_style.iterations_to_loss(curve, 2.0) == 2
  assert bench_style.iterations_to_loss(curve, 10.0) == 0
  assert bench_style.iterations_to_loss(curve, 0.5) is None


def test_eval_flops_counts_the_conv_as_two_matmuls():
  f = bench_style.eval_flops(frames=20, style_frames=30, n_bins=5, filters=8, width=3)
  t, ts = 18, 28
  assert f["conv"] == 2 * 2 * t * 15 * 8
  assert f["frame_products"] == 2 * (2 * t * t * 8 + 2 * t * ts * 8)
  assert f["ours"] == f["conv"] + f["frame_products"]
  assert f["twins"] == f["conv"] + 2 * 2 * t * 8 * 8


def test_summarize_ratios_to_tf():
  results = {
      "tf": dict(per_eval_s=2.0, end_to_end_s=100.0, peak_rss_mb=800.0, setup_s=5.0,
                 final_loss=10.0, trace=[(0.0, 50.0), (80.0, 10.0)], trace_timed=True),
      "ours": dict(per_eval_s=0.5, end_to_end_s=20.0, peak_rss_mb=200.0, setup_s=2.0,
                   final_loss=10.05, trace=[(0.0, 50.0), (10.0, 10.05)], trace_timed=True),
  }
  bench_style.summarize(results, tolerance=0.01)
  assert results["tf"]["time_to_reference_loss_s"] == 85.0
  assert results["ours"]["time_to_reference_loss_s"] is None
  assert results["ours"]["time_to_near_reference_loss_s"] == 12.0
  r = results["ours"]["ratios"]
  assert r["per_eval"] == 0.25 and r["end_to_end"] == 0.2 and r["peak_rss"] == 0.25
  assert r["time_to_reference_loss"] is None
  assert r["time_to_near_reference_loss"] == pytest.approx(12.0 / 85.0)


def test_ours_is_the_library_ulyanov_net():
  """The benchmark's 'ours' is the library's Ulyanov net and loss (only the kernel is shared)."""
  kernel = common.random_kernel(0, BINS, FILTERS, WIDTH)
  fn, params, cfg = bench_style.ours_setup(kernel)
  net = nets.ulyanov_net(jax.random.key(0), BINS, filters=FILTERS, kernel_width=WIDTH)
  assert fn == net.features_fn
  assert cfg == net.config
  assert jax.tree.map(jnp.shape, params) == jax.tree.map(jnp.shape, net.params)
