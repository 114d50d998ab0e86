"""The compiled cores lower for CUDA and TPU (``jax.export``), so a change that breaks accelerator
lowering fails here, on a CPU-only machine.

Cross-platform lowering checks what XLA is handed (StableHLO for each platform, shapes, no host
callbacks), not that a device runs it fast or at all: no accelerator has run this code. The
entry points are the callback-free ones: the style optimisation loop (L-BFGS and Adam, with
the exact frame-product loss), the Wyse net's loop, the phase methods that run on the device
(GLA / fast GLA, RTISI-LA, SPSI) and the classifier's training step. PGHI walks its phase on the
host (``pure_callback``) and is left out on purpose.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import pytest

from specst_jax import phase
from specst_jax.style import nets, optimize

PLATFORMS = ("cuda", "tpu")


def _lower(fn, *args):
  """``jax.export`` of ``jit(fn)`` for :data:`PLATFORMS`; returns its StableHLO text."""
  exported = jax.export.export(jax.jit(fn), platforms=PLATFORMS)(*args)
  assert tuple(exported.platforms) == PLATFORMS
  return exported.mlir_module()


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
@pytest.mark.parametrize("net_name", ["ulyanov", "wyse"])
def test_style_loop_lowers(optimizer, net_name):
  n_bins = 33
  if net_name == "ulyanov":
    net = nets.ulyanov_net(jax.random.key(0), n_bins, filters=64, kernel_width=3)
  else:
    net = nets.wyse_net(jax.random.key(0), n_bins, content_weight=1.0, style_weight=1.0)
  content = jax.random.uniform(jax.random.key(1), (24, n_bins))
  style = jax.random.uniform(jax.random.key(2), (24, n_bins))

  def run(params, content, style):
    targets = optimize.make_targets(net.features_fn, params, content, [style], net.config)
    return optimize.run_style_transfer(params, content, targets, features_fn=net.features_fn,
                                       config=net.config, optimizer=optimizer, n_iter=3).x

  text = _lower(jax.vmap(run, in_axes=(None, 0, 0)), net.params, content[None], style[None])
  assert "callback" not in text  # nothing calls back to the host


@pytest.mark.parametrize("method", ["fgla", "gla", "spsi", "rtisi_la", "spsi+fgla"])
def test_phase_method_lowers(method):
  S = jax.random.uniform(jax.random.key(0), (2, 21, 33))  # 320 samples, centred: 21 frames
  run = functools.partial(phase.reconstruct, n_fft=64, hop_length=16, method=method, n_iter=2,
                          key=jax.random.key(1), length=320)
  text = _lower(run, S)
  assert "callback" not in text


def test_classifier_train_step_lowers():
  import optax

  from specst_jax.classifier import steps
  from specst_jax.models.wyse import WyseClassifier

  model = WyseClassifier(n_classes=5, n_aux_classes=3, conv_features=(4, 2), dense_features=4)
  x = jax.random.normal(jax.random.key(0), (6, 12, 7))
  params = model.init(jax.random.key(1), x)["params"]
  state = steps.TrainState.create(apply_fn=model.apply, params=params, tx=optax.adam(1e-3))
  batch = {"x": x, "y": jnp.array([0, 1, 2, 3, 4, 0]), "aux": jnp.array([0, 1, 2, 0, 1, 2]),
           "w": jnp.ones(6, jnp.float32)}
  step = functools.partial(steps.train_step, model=model, aux_weight=0.5)
  text = _lower(lambda s, b, k: step(s, b, k)[1]["loss"], state, batch, jax.random.key(2))
  assert "callback" not in text
