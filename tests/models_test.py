"""Tests of the style-transfer networks (Ulyanov, VGG-19, the Wyse net's use in style transfer)."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import absltest

from specst_jax.models import vgg19 as vgg
from specst_jax.models.ulyanov import UlyanovNet, ulyanov_params, ulyanov_std, unfold_frames
from specst_jax.style import nets


def _np_conv1d_valid(x, k):
  """Numpy twin: x [T, B], k [W, B, F] -> [T - W + 1, F] (cross-correlation)."""
  w = k.shape[0]
  return np.stack([sum(x[t + i] @ k[i] for i in range(w)) for t in range(x.shape[0] - w + 1)])


class UlyanovTest(chex.TestCase):

  def test_std_formula(self):
    # Ulyanov & Lebedev's code: std = sqrt(2) * sqrt(2 / ((1025 + 4096) * 11)).
    self.assertAlmostEqual(ulyanov_std(1025, 4096, 11),
                           math.sqrt(2) * math.sqrt(2 / ((1025 + 4096) * 11)), places=12)
    k = ulyanov_params(jax.random.key(0), 100, 200, 7)["params"]["kernel"]
    self.assertEqual(k.shape, (7, 100, 200))
    np.testing.assert_allclose(np.std(k), ulyanov_std(100, 200, 7), rtol=0.02)
    with self.assertRaisesRegex(ValueError, "filters"):
      ulyanov_std(10, 0, 3)

  @chex.variants(with_jit=True, without_jit=True)
  def test_conv_matches_numpy_both_impls(self):
    params = ulyanov_params(jax.random.key(1), 12, 16, 5)
    x = jax.random.normal(jax.random.key(2), (2, 30, 12))
    want = np.maximum(np.stack([_np_conv1d_valid(np.asarray(xi, np.float64),
                                                 np.asarray(params["params"]["kernel"], np.float64))
                                for xi in x]), 0)
    for impl in ("conv", "matmul"):
      net = UlyanovNet(filters=16, kernel_width=5, impl=impl)
      out, acts = self.variant(net.apply)(params, x)
      self.assertEqual(set(acts), {"conv"})
      self.assertEqual(out.shape, (2, 26, 16))
      np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4)

  def test_bfloat16_close(self):
    params = ulyanov_params(jax.random.key(1), 12, 16, 5)
    x = jax.random.normal(jax.random.key(2), (1, 30, 12))
    f32, _ = UlyanovNet(16, 5).apply(params, x)
    bf16, _ = UlyanovNet(16, 5, compute_dtype=jnp.bfloat16).apply(params, x)
    self.assertEqual(bf16.dtype, jnp.float32)
    np.testing.assert_allclose(bf16, f32, atol=0.05)

  def test_bfloat16_gradient_close(self):
    # The bfloat16 path's backward (low_precision_matmul's VJP) against float32 autodiff: a
    # bfloat16 operand carries 8 bits, so agreement to a few 1e-2 of the largest entry.
    params = ulyanov_params(jax.random.key(1), 12, 16, 5)
    x = jax.random.normal(jax.random.key(2), (1, 30, 12))

    def total(net, x):
      return jnp.sum(net.apply(params, x)[0] ** 2)

    want = jax.grad(lambda x: total(UlyanovNet(16, 5), x))(x)
    got = jax.jit(jax.grad(lambda x: total(UlyanovNet(16, 5, compute_dtype=jnp.bfloat16), x)))(x)
    self.assertEqual(got.dtype, jnp.float32)
    np.testing.assert_allclose(got, want, rtol=0, atol=3e-2 * np.abs(want).max())

  def test_unfold(self):
    x = jnp.arange(12.0).reshape(4, 3)
    np.testing.assert_array_equal(unfold_frames(x, 2), [[0, 1, 2, 3, 4, 5], [3, 4, 5, 6, 7, 8],
                                                        [6, 7, 8, 9, 10, 11]])

  def test_too_short_and_bad_shape(self):
    net = UlyanovNet(8, 11)
    params = ulyanov_params(jax.random.key(0), 5, 8, 11)
    with self.assertRaisesRegex(ValueError, "receptive field"):
      net.apply(params, jnp.zeros((1, 10, 5)))
    with self.assertRaisesRegex(ValueError, r"\[batch, frames, bins\]"):
      net.apply(params, jnp.zeros((10, 5)))


class WyseUseTest(absltest.TestCase):

  def test_features_any_length_and_random_condition(self):
    setup = nets.wyse_net(jax.random.key(0), 33)
    leaves = jax.tree.leaves(setup.params)
    self.assertTrue(all(float(jnp.max(jnp.abs(a))) <= 0.1 for a in leaves))
    self.assertGreater(float(jnp.std(leaves[0])), 0.05)  # U(-0.1, 0.1) has std 0.0577
    feats = setup.features_fn(setup.params, jnp.full((21, 33), 0.5))
    self.assertEqual(feats["conv1"].shape, (21, 2048))
    self.assertEqual(feats["conv2"].shape, (10, 64))
    with self.assertRaisesRegex(ValueError, "bins"):
      nets.wyse_net(jax.random.key(0), 40, params=setup.params)


class VGG19Test(chex.TestCase):

  def test_activation_names_and_shapes(self):
    net = vgg.VGG19(last_layer="conv5_1")
    x = jnp.full((1, 40, 32), 0.5)  # spectrogram [batch, frames, bins] -> image H=32, W=40
    (_, acts), _ = jax.eval_shape(net.init_with_output, jax.random.key(0), x)
    self.assertEqual(acts["conv1_1"].shape, (1, 32, 40, 64))
    self.assertEqual(acts["conv3_4"].shape, (1, 8, 10, 256))
    self.assertEqual(acts["conv5_1"].shape, (1, 2, 2, 512))
    self.assertEqual(acts["pool4"].shape, (1, 2, 2, 512))
    self.assertEqual(list(vgg.layer_shapes()), list(vgg.CONV_LAYERS))
    self.assertEqual(len(vgg.CONV_LAYERS), 16)

  @chex.variants(with_jit=True, without_jit=True)
  def test_luminosity_and_image_round_trip(self):
    img = jax.random.uniform(jax.random.key(0), (4, 5, 3))
    lum = self.variant(vgg.luminosity)(img)
    np.testing.assert_allclose(
        lum, 0.299 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2], rtol=1e-6)
    spec = jax.random.uniform(jax.random.key(1), (7, 6))
    image = self.variant(vgg.spectrogram_to_image)(spec)
    self.assertEqual(image.shape, (6, 7, 3))
    np.testing.assert_allclose(self.variant(vgg.image_to_spectrogram)(image), spec, rtol=1e-6)

  def test_preprocess(self):
    img = jnp.full((1, 2, 2, 3), 0.5)
    np.testing.assert_allclose(vgg.preprocess(img, "torch")[0, 0, 0],
                               (0.5 - np.array(vgg.IMAGENET_MEAN)) / np.array(vgg.IMAGENET_STD),
                               rtol=1e-6)
    np.testing.assert_allclose(vgg.preprocess(img, "caffe_bgr")[0, 0, 0],
                               127.5 - np.array(vgg.CAFFE_MEAN_RGB)[::-1], rtol=1e-6)
    with self.assertRaisesRegex(ValueError, "preprocessing"):
      vgg.preprocess(img, "bad")


if __name__ == "__main__":
  absltest.main()
