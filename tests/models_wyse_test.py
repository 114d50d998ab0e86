"""Tests of specst_jax/models/wyse.py: the Wyse classifier against a numpy twin of its forward."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import absltest, parameterized

from specst_jax.models import wyse
from specst_jax.models.wyse import WyseClassifier


def _np_conv_same(x, kernel, bias):
  """Numpy twin of a 1-D 'SAME' convolution: x [B, T, C], kernel [W, C, F] -> [B, T, F]."""
  w = kernel.shape[0]
  lo = (w - 1) // 2
  xp = np.pad(x, ((0, 0), (lo, w - 1 - lo), (0, 0)))
  return sum(xp[:, i:i + x.shape[1]] @ kernel[i] for i in range(w)) + bias


def _np_max_pool2(h):
  """Max over non-overlapping pairs of frames (an odd last frame is dropped)."""
  b, t, f = h.shape
  return h[:, :2 * (t // 2)].reshape(b, t // 2, 2, f).max(axis=2)


def _np_forward(params, x, head_input):
  """The classifier in float64 numpy: (class logits, activations)."""
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
  acts, h = {}, np.asarray(x, np.float64)
  for name in ("conv1", "conv2"):
    h = np.maximum(_np_conv_same(h, p[name]["kernel"], p[name]["bias"]), 0.0)
    acts[name] = h
    h = _np_max_pool2(h)
    acts[name.replace("conv", "pool")] = h
  h = {"flatten": h.reshape(h.shape[0], -1), "max": h.max(1), "mean": h.mean(1),
       "meanmax": np.concatenate([h.mean(1), h.max(1)], -1)}[head_input]
  h = np.maximum(h @ p["dense"]["kernel"] + p["dense"]["bias"], 0.0)
  acts["dense"] = h
  acts["aux_logits"] = h @ p["aux_head"]["kernel"] + p["aux_head"]["bias"]
  return h @ p["class_head"]["kernel"] + p["class_head"]["bias"], acts


class WyseForwardTest(chex.TestCase, parameterized.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters("flatten", "meanmax", "max", "mean")
  def test_matches_numpy_twin(self, head_input):
    # 17 frames: odd, so the first pooling drops a frame; 7 bins as channels.
    model = WyseClassifier(n_classes=5, n_aux_classes=3, conv_features=(6, 4), kernel_width=5,
                           dense_features=8, head_input=head_input)
    x = jax.random.normal(jax.random.key(0), (3, 17, 7))
    params = model.init(jax.random.key(1), x)["params"]
    # Flax's init leaves biases at zero: give them values so the twin checks them too.
    params = jax.tree.map(lambda a: a + 0.1 * jax.random.normal(jax.random.key(2), a.shape),
                          params)
    logits, acts = self.variant(lambda p, x: model.apply({"params": p}, x))(params, x)
    want, want_acts = _np_forward(params, x, head_input)
    tol = dict(rtol=1e-4, atol=1e-5)  # float32 sums of ~10^2 terms against float64
    np.testing.assert_allclose(logits, want, **tol)
    for name in ("conv1", "pool1", "conv2", "pool2", "dense", "aux_logits"):
      np.testing.assert_allclose(acts[name], want_acts[name], **tol, err_msg=name)
    self.assertEqual(acts["pool1"].shape, (3, 8, 6))

  def test_dropout_only_in_training(self):
    model = WyseClassifier(n_classes=5, n_aux_classes=0, conv_features=(4, 4), dense_features=16,
                           dropout_rate=0.5, head_input="mean")
    x = jax.random.normal(jax.random.key(0), (2, 12, 5))
    variables = model.init(jax.random.key(1), x)
    a, _ = model.apply(variables, x)
    b, _ = model.apply(variables, x, train=False)
    np.testing.assert_array_equal(a, b)
    c, _ = model.apply(variables, x, train=True, rngs={"dropout": jax.random.key(3)})
    self.assertFalse(np.allclose(a, c))

  def test_no_heads_any_length_and_bad_input(self):
    (_, acts), _ = jax.eval_shape(
        lambda k, x: WyseClassifier(conv_features=(8, 4)).init_with_output(k, x, heads=False),
        jax.random.key(0), jnp.zeros((1, 16, 9)))
    self.assertEqual({k: v.shape for k, v in acts.items()},
                     {"conv1": (1, 16, 8), "pool1": (1, 8, 8), "conv2": (1, 8, 4),
                      "pool2": (1, 4, 4)})
    with self.assertRaisesRegex(ValueError, r"\[batch, frames, bins\]"):
      WyseClassifier(conv_features=(2, 2)).init(jax.random.key(0), jnp.zeros((16, 9)))


@pytest.mark.parametrize("head_input", ["max", "mean", "meanmax"])
def test_pooled_heads_accept_any_length(head_input):
  model = WyseClassifier(n_classes=5, n_aux_classes=0, conv_features=(4, 3), dense_features=4,
                         head_input=head_input)
  params = model.init(jax.random.key(0), jnp.zeros((1, 16, 7)))
  x = jax.random.normal(jax.random.key(1), (2, 40, 7))
  logits, acts = model.apply(params, x)
  pooled = np.asarray(acts["pool2"])
  expected_in = {"max": pooled.max(1), "mean": pooled.mean(1),
                 "meanmax": np.concatenate([pooled.mean(1), pooled.max(1)], -1)}[head_input]
  dense = params["params"]["dense"]
  np.testing.assert_allclose(
      acts["dense"], np.maximum(expected_in @ dense["kernel"] + dense["bias"], 0), rtol=1e-5,
      atol=1e-6)
  assert logits.shape == (2, 5)
  with pytest.raises(ValueError, match="head_input"):
    WyseClassifier(conv_features=(2, 2), head_input="sum").init(jax.random.key(0), x)


def test_from_model_config_reads_a_provenance_model_section():
  m = {"n_classes": 50, "n_aux_classes": 16, "conv_features": [512, 64], "kernel_width": 5,
       "dense_features": 256, "dropout_rate": 0.0, "dtype": "float32", "head_input": "meanmax"}
  net = wyse.from_model_config(m, aux=False)
  assert net.conv_features == (512, 64) and net.n_aux_classes == 0
  assert net.head_input == "meanmax" and net.dense_features == 256
  assert wyse.from_model_config(m, aux=True).n_aux_classes == 16


if __name__ == "__main__":
  absltest.main()
