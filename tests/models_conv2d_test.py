"""Tests of specst_jax/models/conv2d.py: the 2-D classifier against a numpy twin of its forward."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import absltest, parameterized

from specst_jax import models
from specst_jax.models import conv2d
from specst_jax.models.conv2d import Conv2DClassifier
from specst_jax.models.wyse import WyseClassifier


def _np_conv2d_same(x, kernel, bias):
  """Numpy twin of a 2-D 'SAME' convolution: x [B, T, F, C], kernel [KT, KF, C, O]."""
  kt, kf = kernel.shape[:2]
  lo_t, lo_f = (kt - 1) // 2, (kf - 1) // 2
  xp = np.pad(x, ((0, 0), (lo_t, kt - 1 - lo_t), (lo_f, kf - 1 - lo_f), (0, 0)))
  t, f = x.shape[1:3]
  return sum(xp[:, i:i + t, j:j + f] @ kernel[i, j] for i in range(kt) for j in range(kf)) + bias


def _np_max_pool(h, pool):
  """Max over non-overlapping (pool_t, pool_f) windows; a ragged edge is dropped (VALID)."""
  (pt, pf), (b, t, f, c) = pool, h.shape
  h = h[:, :pt * (t // pt), :pf * (f // pf)]
  return h.reshape(b, t // pt, pt, f // pf, pf, c).max(axis=(2, 4))


def _np_forward(params, x, planes, pool):
  """The classifier in float64 numpy: (class logits, activations)."""
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
  b, t, c = x.shape
  # Channels are plane-major: [plane 0's bands | plane 1's bands | ...].
  h = np.stack(np.split(np.asarray(x, np.float64), planes, axis=-1), axis=-1)
  acts = {}
  n = len([k for k in p if k.startswith("conv")])
  for i in range(1, n + 1):
    h = np.maximum(_np_conv2d_same(h, p[f"conv{i}"]["kernel"], p[f"conv{i}"]["bias"]), 0.0)
    acts[f"conv{i}"] = h
    if i < n:
      h = _np_max_pool(h, pool)
  h = h.max(axis=2).mean(axis=1)
  acts["pooled"] = h
  h = np.maximum(h @ p["dense"]["kernel"] + p["dense"]["bias"], 0.0)
  acts["dense"] = h
  acts["aux_logits"] = h @ p["aux_head"]["kernel"] + p["aux_head"]["bias"]
  return h @ p["class_head"]["kernel"] + p["class_head"]["bias"], acts


class Conv2DForwardTest(chex.TestCase, parameterized.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(1, 2)
  def test_matches_numpy_twin(self, planes):
    # 19 frames x 7 bands: the pools drop a ragged edge on both axes.
    model = Conv2DClassifier(n_classes=5, n_aux_classes=3, planes=planes, conv_features=(4, 6, 3),
                             kernel_size=(3, 5), pool=(2, 2), dense_features=8)
    x = jax.random.normal(jax.random.key(0), (3, 19, 7 * planes))
    params = model.init(jax.random.key(1), x)["params"]
    # Flax's init leaves biases at zero: give them values so the twin checks them too.
    params = jax.tree.map(lambda a: a + 0.1 * jax.random.normal(jax.random.key(2), a.shape),
                          params)
    logits, acts = self.variant(lambda p, x: model.apply({"params": p}, x))(params, x)
    want, want_acts = _np_forward(params, x, planes, (2, 2))
    tol = dict(rtol=1e-4, atol=1e-5)  # float32 sums of ~10^2 terms against float64
    np.testing.assert_allclose(logits, want, **tol)
    for name in ("conv1", "conv2", "conv3", "pooled", "dense", "aux_logits"):
      np.testing.assert_allclose(acts[name], want_acts[name], **tol, err_msg=name)
    self.assertEqual(acts["conv3"].shape, (3, 4, 1, 3))

  def test_planes_are_plane_major_blocks_of_channels(self):
    mel, delta = np.arange(12.0).reshape(1, 2, 6), -np.arange(12.0).reshape(1, 2, 6)
    planes = conv2d.as_planes(jnp.concatenate([mel, delta], -1), 2)
    np.testing.assert_array_equal(planes[..., 0], mel)
    np.testing.assert_array_equal(planes[..., 1], delta)
    with pytest.raises(ValueError, match="13 input channels do not split into 2"):
      conv2d.as_planes(jnp.zeros((1, 2, 13)), 2)

  def test_any_clip_length_no_heads_and_bad_input(self):
    model = Conv2DClassifier(n_classes=5, planes=1, conv_features=(2, 2), dense_features=4)
    params = model.init(jax.random.key(0), jnp.zeros((1, 16, 8)))
    # Trained on short windows, scored on whole clips: the head pools over any length.
    for frames in (16, 40):
      self.assertEqual(model.apply(params, jnp.ones((2, frames, 8)))[0].shape, (2, 5))
    out, acts = model.apply(params, jnp.ones((2, 16, 8)), heads=False)
    self.assertIsNone(out)
    self.assertEqual(set(acts), {"conv1", "conv2"})
    with self.assertRaisesRegex(ValueError, r"\[batch, frames, channels\]"):
      model.apply(params, jnp.ones((16, 8)))


class ClassifierFromConfigTest(absltest.TestCase):

  def test_dispatches_on_architecture(self):
    wyse = dict(n_classes=50, n_aux_classes=16, conv_features=(8, 4), kernel_width=5,
                dense_features=8, dropout_rate=0.0, head_input="meanmax")
    # Files written before ``architecture`` existed are Wyse nets.
    self.assertIsInstance(models.classifier_from_config(wyse, aux=True), WyseClassifier)
    two_d = dict(architecture="conv2d", n_classes=50, n_aux_classes=16, planes=2,
                 conv_features=(24, 48, 48), kernel_size=(5, 5), pool=(4, 2),
                 dense_features=256, dropout_rate=0.0)
    net = models.classifier_from_config(two_d, aux=False)
    self.assertIsInstance(net, Conv2DClassifier)
    self.assertEqual((net.n_aux_classes, net.planes, net.pool), (0, 2, (4, 2)))
    with self.assertRaisesRegex(ValueError, "architecture must be one of .*'resnet'"):
      models.classifier_from_config(dict(wyse, architecture="resnet"), aux=True)


if __name__ == "__main__":
  absltest.main()
