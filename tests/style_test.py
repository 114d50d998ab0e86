"""Tests of the Gram / content losses, the compiled optimisation loop, the net registry, the
transfer engine (single, batched, sharded, live progress) and the style tool."""

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import warnings
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import absltest, parameterized
from conftest import run_on_host_devices

from specst_jax import listener, representations
from specst_jax.style import losses, nets, optimize, transfer

ROOT = Path(__file__).resolve().parents[1]


def _np_gram_loss(f, styles, norm, t_in=None, t_styles=None):
  """Numpy twin (float64): E = ||a F^T F - G_t||^2 with G_t the frame-weighted mean style Gram."""
  f = np.asarray(f, np.float64)
  styles = [np.asarray(s, np.float64) for s in styles]
  m, n = f.shape
  g_sum = sum(s.T @ s for s in styles)
  if norm == "input_frames":
    g, g_t = f.T @ f / t_in, g_sum / sum(t_styles)
    return np.sum((g - g_t) ** 2)
  if norm == "output_frames":
    return np.sum((f.T @ f / m - g_sum / sum(s.shape[0] for s in styles)) ** 2)
  g_s = g_sum * m / sum(s.shape[0] for s in styles)  # style Gram rescaled to M positions
  return np.sum((f.T @ f - g_s) ** 2) / (4.0 * n**2 * m**2)


class GramTest(chex.TestCase, parameterized.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_gram_normalisations(self):
    f = jax.random.normal(jax.random.key(0), (7, 5))
    g = np.asarray(f, np.float64).T @ np.asarray(f, np.float64)
    np.testing.assert_allclose(
        self.variant(lambda f: losses.gram(f, normalization="input_frames", n_input_frames=17))(f),
        g / 17, rtol=1e-5)
    np.testing.assert_allclose(
        self.variant(lambda f: losses.gram(f, normalization="output_frames"))(f), g / 7, rtol=1e-5)
    np.testing.assert_allclose(
        self.variant(lambda f: losses.gram(f, normalization="gatys"))(f), g, rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_direct_gatys_formula(self):
    f = jax.random.normal(jax.random.key(0), (6, 4))
    s = jax.random.normal(jax.random.key(1), (6, 4))
    want = np.sum((np.asarray(f).T @ np.asarray(f) - np.asarray(s).T @ np.asarray(s)) ** 2) / (
        4 * 4**2 * 6**2)
    got = self.variant(lambda f, s: losses.gram_loss_direct(f, s, normalization="gatys"))(f, s)
    np.testing.assert_allclose(got, want, rtol=1e-5)

  @parameterized.product(norm=losses.NORMALIZATIONS, method=("frames", "gram"),
                         n_styles=(1, 2), jit=(True, False))
  def test_frame_products_equal_direct(self, norm, method, n_styles, jit):
    # C = 48 channels, M = 9 positions, styles of 11 and 6 positions: the frame path is taken.
    f = jax.nn.relu(jax.random.normal(jax.random.key(0), (9, 48)))
    styles = [jax.nn.relu(jax.random.normal(jax.random.key(i + 1), (m, 48)))
              for i, m in enumerate((11, 6)[:n_styles])]
    t_styles = [m + 4 for m in (11, 6)[:n_styles]]
    target = losses.style_target(styles, normalization=norm, n_positions=9, n_input_frames=13,
                                 style_input_frames=t_styles, method=method)
    self.assertEqual(target.frame_products, method == "frames")
    if method == "frames":
      self.assertEqual(target.value.shape, (sum(s.shape[0] for s in styles), 48))
    fn = jax.jit(losses.style_loss) if jit else losses.style_loss
    got = fn(f, target)
    want = _np_gram_loss(f, styles, norm, 13, t_styles)
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-6 * abs(want))
    # ... and the gradients agree between the two paths.
    other = losses.style_target(styles, normalization=norm, n_positions=9, n_input_frames=13,
                                style_input_frames=t_styles,
                                method="gram" if method == "frames" else "frames")
    np.testing.assert_allclose(jax.grad(losses.style_loss)(f, target),
                               jax.grad(losses.style_loss)(f, other), rtol=1e-3, atol=1e-5)

  @parameterized.parameters(True, False)
  def test_frame_products_exact_near_the_optimum(self, jit):
    # Near the optimum a F^T F ~ S^T S: the loss is ~1e-6 of ||S S^T||^2, where the float32
    # frame-product form loses every digit. Ours (float64 products, custom VJP) must match a
    # float64 numpy twin of the explicit-Gram form to float32 rounding of the result.
    rng = np.random.default_rng(0)
    m, c = 40, 512
    style = np.maximum(rng.standard_normal((m, c)), 0).astype(np.float32)
    target = losses.style_target(jnp.asarray(style), normalization="input_frames",
                                 n_positions=m, n_input_frames=m, style_input_frames=m,
                                 method="frames")
    f = (style + 1e-3 * rng.standard_normal((m, c))).astype(np.float32)
    value_and_grad = jax.value_and_grad(losses.style_loss)
    value_and_grad = jax.jit(value_and_grad) if jit else value_and_grad
    got, grad = value_and_grad(jnp.asarray(f), target)
    a, f64, s64 = 1.0 / m, f.astype(np.float64), np.asarray(target.value, np.float64)
    difference = a * f64.T @ f64 - s64.T @ s64
    want = np.sum(difference ** 2)
    want_grad = 4.0 * a * f64 @ difference
    self.assertLess(want, 1e-5 * float(target.const[0]))  # a point near the optimum
    self.assertLessEqual(abs(float(got) - want), 1e-6 * want)  # measured 2e-8
    np.testing.assert_allclose(grad, want_grad, rtol=0, atol=1e-6 * np.abs(want_grad).max())
    # The float32 frame-product form at the same point: its error is orders above the bound.
    ff, fs = f @ f.T, f @ np.asarray(target.value).T
    f32_form = (np.float32(a * a) * np.sum(ff * ff) - np.float32(2 * a) * np.sum(fs * fs)
                + np.float32(target.const[0]))
    self.assertGreater(abs(float(f32_form) - want), 100 * 1e-6 * want)

  @parameterized.parameters("fori", "while")
  def test_exact_loss_under_vmap_of_a_loop(self, loop):
    # The engine vmaps a compiled loop around the loss's value and gradient: the float64
    # island must survive that (it once failed: "lax.mul ... float64, float32"), truncate
    # nothing (warnings are errors here) and equal the unbatched loop.
    f = jax.random.normal(jax.random.key(0), (2, 20, 300))
    s = jax.random.normal(jax.random.key(1), (2, 20, 300))

    def job(f, s):
      t = losses.style_target(s, normalization="gatys", n_positions=20, method="frames")
      value_and_grad = jax.value_and_grad(lambda x: losses.style_loss(x, t))
      if loop == "fori":
        return jax.lax.fori_loop(0, 3, lambda i, x: x - 0.1 * value_and_grad(x)[1], f)
      return jax.lax.while_loop(lambda c: c[0] < 3,
                                lambda c: (c[0] + 1, c[1] - 0.1 * value_and_grad(c[1])[1]),
                                (0, f))[1]

    with warnings.catch_warnings():
      warnings.simplefilter("error")
      batched = jax.jit(jax.vmap(job))(f, s)
      one = jax.jit(job)(f[1], s[1])
    np.testing.assert_allclose(batched[1], one, rtol=1e-6, atol=1e-6)

  def test_style_target_const_is_a_float64_pair(self):
    s = jax.random.normal(jax.random.key(0), (30, 64))
    t = losses.style_target(s, normalization="output_frames", n_positions=5, method="frames")
    s64 = np.asarray(t.value, np.float64)
    want = np.sum((s64 @ s64.T) ** 2)
    self.assertEqual(t.const.shape, (2,))
    self.assertLessEqual(abs(float(t.const[0]) + float(t.const[1]) - want), 1e-12 * want)

  def test_auto_method(self):
    s = jnp.ones((5, 64))
    target = losses.style_target(s, normalization="output_frames", n_positions=5)
    self.assertTrue(target.frame_products)
    s = jnp.ones((50, 64))
    target = losses.style_target(s, normalization="output_frames", n_positions=50)
    self.assertFalse(target.frame_products)

  def test_direct_equals_target_form_for_one_style(self):
    f = jax.random.normal(jax.random.key(0), (8, 6))
    s = jax.random.normal(jax.random.key(1), (8, 6))
    for norm in losses.NORMALIZATIONS:
      t = losses.style_target(s, normalization=norm, n_positions=8, n_input_frames=12,
                              style_input_frames=12)
      np.testing.assert_allclose(
          losses.style_loss(f, t),
          losses.gram_loss_direct(f, s, normalization=norm, n_input_frames=12,
                                  style_input_frames=12), rtol=1e-4)

  @chex.variants(with_jit=True, without_jit=True)
  def test_content_and_range(self):
    f = jax.random.normal(jax.random.key(0), (5, 3))
    c = jax.random.normal(jax.random.key(1), (5, 3))
    d = np.sum((np.asarray(f) - np.asarray(c)) ** 2)
    np.testing.assert_allclose(self.variant(losses.content_loss)(f, c), d, rtol=1e-5)
    np.testing.assert_allclose(
        self.variant(lambda f, c: losses.content_loss(f, c, normalization="wyse"))(f, c),
        d / (4 * 15), rtol=1e-5)
    x = jnp.array([-0.5, 0.0, 0.3, 1.0, 1.25])
    np.testing.assert_allclose(self.variant(losses.range_penalty)(x), 0.25 + 0.0625, rtol=1e-6)

  def test_bad_arguments(self):
    with self.assertRaisesRegex(ValueError, "normalization"):
      losses.gram(jnp.ones((3, 2)), normalization="bad")
    with self.assertRaisesRegex(ValueError, "n_input_frames"):
      losses.gram_scale("input_frames", n_positions=3, n_channels=2)
    with self.assertRaisesRegex(ValueError, "content normalization"):
      losses.content_loss(jnp.ones(3), jnp.ones(3), normalization="x")


def _tiny_setup(n_bins=16, filters=32, width=3):
  return nets.ulyanov_net(jax.random.key(0), n_bins, filters=filters, kernel_width=width)


def _tiny_settings(**over):
  base = dict(n_fft=32, hop_length=8, sr=8000, filters=32, n_iter=6, phase_iter=2,
              phase_method="fgla")
  return transfer.Settings.for_net(over.pop("net", "ulyanov"), dict(base, **over))


class OptimizeTest(chex.TestCase, parameterized.TestCase):

  def test_initial_value(self):
    key = jax.random.key(3)
    c = jnp.linspace(0, 1, 20).reshape(4, 5)
    n = jax.random.uniform(key, c.shape, minval=-1.0, maxval=1.0)
    np.testing.assert_allclose(
        optimize.initial_value(key, c, init="mix", noise=0.7, noise_scale=1.0,
                               distribution="uniform"), 0.7 * n + 0.3 * c, rtol=1e-6)
    np.testing.assert_allclose(optimize.initial_value(key, c, init="noise"),
                               1e-3 * jax.random.normal(key, c.shape), rtol=1e-6)
    np.testing.assert_array_equal(optimize.initial_value(key, c, init="content"), c)
    with self.assertRaisesRegex(ValueError, "init"):
      optimize.initial_value(key, c, init="zeros")

  @parameterized.parameters("lbfgs", "adam")
  def test_loss_decreases_in_compiled_loop(self, optimizer):
    setup = _tiny_setup()
    c = jax.random.uniform(jax.random.key(1), (24, 16))
    s = jax.random.uniform(jax.random.key(2), (30, 16))
    targets = optimize.make_targets(setup.features_fn, setup.params, c, [s], setup.config)
    x0 = optimize.initial_value(jax.random.key(3), c)
    run = jax.jit(optimize.run_style_transfer,
                  static_argnames=("features_fn", "config", "optimizer", "n_iter", "learning_rate",
                                   "ftol"))
    r = run(setup.params, x0, targets, features_fn=setup.features_fn, config=setup.config,
            optimizer=optimizer, n_iter=15, learning_rate=0.05)
    curve = np.asarray(r.losses)
    self.assertEqual(curve.shape, (15,))
    self.assertLess(float(r.final["total"]), 0.5 * curve[0])
    if optimizer == "lbfgs":
      self.assertTrue(np.all(np.diff(curve) <= 1e-6 * curve[0]))  # monotone (line search)
      self.assertGreaterEqual(int(r.n_evals), int(r.n_iter) + 1)
      # A loose ftol stops early; the curve is padded with the final value.
      r2 = run(setup.params, x0, targets, features_fn=setup.features_fn, config=setup.config,
               optimizer=optimizer, n_iter=15, ftol=0.5)
      self.assertLess(int(r2.n_iter), 15)
      np.testing.assert_allclose(r2.losses[int(r2.n_iter):], r2.final["total"], rtol=1e-5)
    np.testing.assert_allclose(
        r.final["total"],
        optimize.loss_terms(r.x, setup.params, targets, features_fn=setup.features_fn,
                            config=setup.config)["total"], rtol=1e-5)

  def test_stop_reasons_and_best_iterate(self):
    x0 = jnp.asarray([3.0, -2.0])

    def quadratic(x):
      return jnp.sum((x - 1.0) ** 2)

    x, curve, n_done, _, stop = optimize._lbfgs(  # noqa: SLF001
        quadratic, jax.value_and_grad(quadratic), x0, n_iter=50, memory_size=5, ftol=1e-6,
        report=lambda *_: None)
    self.assertEqual(optimize.stop_reason_name(stop), "converged")
    self.assertLess(int(n_done), 50)
    np.testing.assert_allclose(x, [1.0, 1.0], atol=1e-3)

    @jax.custom_jvp
    def misleading(x):  # the gradient points uphill: no step can decrease the loss
      return jnp.sum(x ** 2)

    misleading.defjvp(lambda primals, tangents: (
        misleading(primals[0]), -2.0 * jnp.sum(primals[0] * tangents[0])))
    x, curve, n_done, _, stop = optimize._lbfgs(  # noqa: SLF001
        misleading, jax.value_and_grad(misleading), x0, n_iter=50, memory_size=5, ftol=1e-6,
        report=lambda *_: None)
    self.assertEqual(optimize.stop_reason_name(stop), "line_search_failed")
    self.assertEqual(int(n_done), 2)  # one restart, then the second failure stops it
    np.testing.assert_allclose(x, x0)  # the best iterate: nothing was better than the start
    np.testing.assert_allclose(curve[int(n_done):], 13.0)

  def test_batch_equals_per_example(self):
    setup = _tiny_setup()
    settings = _tiny_settings()
    cs = jax.random.uniform(jax.random.key(1), (2, 20, 16))
    ss = jax.random.uniform(jax.random.key(2), (2, 26, 16))
    keys = jax.random.split(jax.random.key(5), 2)
    batched = transfer.Optimizer(setup, settings, batched=True, progress=None)(
        setup.params, cs, (ss,), keys)
    single = transfer.Optimizer(setup, settings, progress=None)
    for i in range(2):
      one = single(setup.params, cs[i], (ss[i],), keys[i])
      np.testing.assert_allclose(batched.x[i], one.x, rtol=1e-4, atol=1e-5)
      np.testing.assert_allclose(batched.losses[i], one.losses, rtol=1e-4)

  @parameterized.parameters("ulyanov", "wyse")
  def test_silent_input_is_finite(self, net):
    n_bins = 17
    S = jnp.zeros((12, n_bins))
    setup = (_tiny_setup(n_bins) if net == "ulyanov"
             else nets.wyse_net(jax.random.key(0), n_bins))
    stft = representations.Stft(n_fft=32)
    x = representations.encode(setup.representation, S, stft)
    self.assertTrue(bool(jnp.all(jnp.isfinite(x))))
    settings = _tiny_settings(optimizer="adam", n_iter=3, learning_rate=0.1, init="mix",
                              filters=None if net == "wyse" else 32, net=net)
    r = transfer.Optimizer(setup, settings, progress=None)(setup.params, x, (x,),
                                                           jax.random.key(0))
    self.assertTrue(bool(jnp.all(jnp.isfinite(r.x))))
    self.assertTrue(bool(jnp.all(jnp.isfinite(r.losses))))
    S_out = representations.decode(setup.representation, r.x)
    self.assertTrue(bool(jnp.all(jnp.isfinite(S_out))) and bool(jnp.all(S_out >= 0)))

  def test_style_shorter_than_receptive_field(self):
    setup = _tiny_setup(width=5)
    with self.assertRaisesRegex(ValueError, "style 0: 4 frames .* receptive field"):
      setup.check_frames(jnp.zeros((4, 16)), "style 0")

  @parameterized.parameters("adam", "lbfgs")
  def test_progress_is_reported_from_inside_the_loop(self, optimizer):
    # Every 2 steps, in order, with the loss the curve records at that step (so the report
    # comes from the running loop, not from a log written after it).
    setup = _tiny_setup()
    settings = _tiny_settings(optimizer=optimizer, learning_rate=0.05)
    seen = []
    c = jax.random.uniform(jax.random.key(1), (20, 16))
    opt = transfer.Optimizer(setup, settings,
                             progress=(lambda i, v: seen.append((int(i), float(v))), 2))
    r = opt(setup.params, c, (c[::-1],), jax.random.key(3))
    steps = [i for i, _ in seen]
    self.assertEqual(steps, list(range(0, int(r.n_iter), 2)))
    np.testing.assert_allclose([v for _, v in seen], np.asarray(r.losses)[steps], rtol=1e-6)

  def test_batched_progress_is_one_report_per_step_with_the_mean_loss(self):
    setup = _tiny_setup()
    settings = _tiny_settings(optimizer="adam", learning_rate=0.05)
    seen = []
    cs = jax.random.uniform(jax.random.key(1), (3, 20, 16))
    opt = transfer.Optimizer(setup, settings, batched=True,
                             progress=(lambda i, v: seen.append((int(i), float(v))), 3))
    r = opt(setup.params, cs, (cs[:, ::-1],), jax.random.split(jax.random.key(3), 3))
    self.assertEqual([i for i, _ in seen], [0, 3])
    np.testing.assert_allclose([v for _, v in seen], np.asarray(r.losses).mean(0)[[0, 3]],
                               rtol=1e-5)

  def test_progress_log_line(self):
    lines = []
    log = transfer.ProgressLog(100, label="wyse: ", write=lines.append)
    log(0, 2.0)
    log(0, 2.0)  # a second device reporting the same step: skipped
    log(50, np.array([1.0, 3.0]))
    self.assertEqual(len(lines), 2)
    self.assertRegex(lines[1], r"^wyse: step 50/100: loss 2, [0-9.e+]+ it/s, \d+ s left$")


class TransferTest(chex.TestCase, parameterized.TestCase):

  def test_settings_resolve_adopt_and_validate(self):
    s = transfer.Settings.for_net("wyse", {"n_iter": 7, "sr": None, "n_fft": 512})
    self.assertEqual((s.n_iter, s.optimizer, s.learning_rate, s.init), (7, "adam", 0.01, "content"))
    self.assertEqual(s.stft, nets.NETS["wyse"].stft)
    self.assertEqual(s.stft_given, ("n_fft",))
    self.assertEqual(hash(s), hash(transfer.Settings.for_net("wyse", {"n_iter": 7})))
    demo = transfer.Settings.for_net("ulyanov", demo=True)
    self.assertEqual((demo.n_iter, demo.filters, demo.phase_iter), (60, 1024, 60))
    self.assertIsNone(transfer.Settings.for_net("wyse", demo=True).filters)
    trained = nets.Weights("trained (x)", None, stft=representations.Stft(16000, 512, 128, False))
    self.assertEqual(s.adopt(trained).stft.sr, 16000)
    with self.assertRaisesRegex(ValueError, "trained with n_fft=512, the run asks for n_fft=1024"):
      transfer.Settings.for_net("wyse", {"n_fft": 1024}).adopt(trained)
    for bad, msg in (({"filters": 8}, "filters applies to the ulyanov net only"),
                     ({"optimizer": "sgd"}, "optimizer must be one of"),
                     ({"noise": 2.0}, "noise must be in"), ({"bogus": 1}, "unknown settings"),
                     ({"phase_method": "x"}, "phase_method must be one of")):
      with self.assertRaisesRegex(ValueError, msg):
        transfer.Settings.for_net("wyse", bad)
    with self.assertRaisesRegex(ValueError, "net must be one of"):
      transfer.Settings.for_net("resnet")
    d = s.as_dict()
    for k in ("sr", "n_fft", "hop_length", "center", "net", "n_iter", "weights_flag", "seed",
              "stft_given", "filters", "phase_method"):
      self.assertIn(k, d)

  def test_registry_is_consistent(self):
    for name, spec in nets.NETS.items():
      self.assertEqual(spec.name, name)
      self.assertIn(spec.representation, representations.REPRESENTATIONS)
      self.assertTrue(representations.get(spec.representation).invertible)
      s = transfer.Settings.for_net(name)  # the defaults are valid settings
      self.assertEqual(s.stft, spec.stft)
    with self.assertRaisesRegex(ValueError, "always uses random weights"):
      nets.load_weights("ulyanov", "weights.npz")
    self.assertIsNone(nets.load_weights("wyse", "random"))
    with self.assertRaises(FileNotFoundError):
      nets.load_weights("wyse", "/nonexistent/w.msgpack")
    warned = []
    self.assertIsNone(nets.load_weights("vgg19", None, warn=warned.append))
    self.assertIn("RANDOM", warned[0])

  def test_peak_normalize_twin(self):
    y = np.array([[0.0, 0.5, -2.0], [0.1, -0.2, 0.05], [0.0, 0.0, 0.0]], np.float32)
    np.testing.assert_allclose(transfer.peak_normalize(y),
                               [[0, 0.225, -0.9], [0.45, -0.9, 0.225], [0, 0, 0]], rtol=1e-6)
    np.testing.assert_allclose(transfer.peak_normalize(y, peak=0.99, only_above=1.0),
                               [[0, 0.2475, -0.99], [0.1, -0.2, 0.05], [0, 0, 0]], rtol=1e-6)

  def test_peak_normalize_body_sets_the_level(self):
    # A 1 s clip whose first sample is a click 100x its body: the body is scaled to the peak,
    # the click faded away with the edge, nothing exceeds the peak.
    rng = np.random.default_rng(0)
    body = (0.01 * rng.standard_normal(16000)).astype(np.float32)
    clip = body.copy()
    clip[1] = 1.0
    out = transfer.peak_normalize(clip, peak=0.9)
    e = listener.edge_length(clip.size)
    self.assertEqual(e, 1024)
    gain = 0.9 / np.abs(body[e:-e]).max()
    np.testing.assert_allclose(out[e:-e], body[e:-e] * gain, rtol=1e-6)  # the body: one gain
    self.assertLessEqual(np.abs(out).max(), 0.9 + 1e-6)
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(e) + 0.5) / e)
    np.testing.assert_allclose(out[:e], clip[:e] * gain * ramp, rtol=1e-5)  # the faded edge
    np.testing.assert_allclose(out[-e:], body[-e:] * gain, rtol=1e-6)  # a quiet edge: untouched
    # The old rule (the global peak) would have left the body 40 dB down.
    self.assertGreater(np.abs(out[e:-e]).max(), 0.89)

  def test_stylize_and_batch_agree(self):
    # One pair through the batched engine equals the single engine with the same keys.
    s = _tiny_settings(n_iter=4)
    t = np.arange(800) / 8000.0
    c = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    st = np.sign(np.sin(2 * np.pi * 97 * t)).astype(np.float32) * 0.3
    single = transfer.stylize(s, c, [st], progress=None)
    _, k_init, k_phase = jax.random.split(jax.random.key(s.seed), 3)
    batch = transfer.stylize_batch(s, np.stack([c, c]), np.stack([st, st]), progress=None,
                                   keys=jnp.stack([k_init, k_init]), phase_key=k_phase)
    self.assertEqual(batch.audio.shape, (2, 800))
    for i in range(2):
      np.testing.assert_allclose(batch.loss_curve[i], single.loss_curve, rtol=1e-4)
      np.testing.assert_allclose(batch.magnitude[i], single.magnitude, rtol=1e-3, atol=1e-5)
    self.assertLess(float(single.final_losses["total"]), float(single.loss_curve[0]))
    self.assertTrue(np.isfinite(single.sc_db) and np.all(np.isfinite(single.audio)))
    m = single.summary()
    self.assertEqual(len(m["loss_curve"]), 4)
    self.assertTrue(m["random_weights"])
    with self.assertRaisesRegex(ValueError, "contents must be"):
      transfer.stylize_batch(s, c, st)


class ShardingTest(absltest.TestCase):

  def test_sharded_batch_matches_unsharded(self):
    code = textwrap.dedent("""
        import jax, numpy as np
        from specst_jax.style import nets, transfer
        assert len(jax.devices()) == 4, jax.devices()
        setup = nets.ulyanov_net(jax.random.key(0), 8, filters=16, kernel_width=3)
        s = transfer.Settings.for_net("ulyanov", dict(n_iter=4, optimizer="adam",
                                                      learning_rate=0.05, filters=16))
        cs = jax.random.uniform(jax.random.key(1), (4, 12, 8))
        ss = jax.random.uniform(jax.random.key(2), (4, 10, 8))
        keys = jax.random.split(jax.random.key(3), 4)
        a = transfer.Optimizer(setup, s, batched=True, devices=jax.devices(), progress=None)(
            setup.params, cs, (ss,), keys)
        assert len(a.x.sharding.device_set) == 4, a.x.sharding
        b = transfer.Optimizer(setup, s, batched=True, progress=None)(setup.params, cs, (ss,), keys)
        np.testing.assert_allclose(a.x, b.x, rtol=1e-4, atol=1e-4)
        try:
          transfer.Optimizer(setup, s, batched=True, devices=jax.devices()[:3], progress=None)(
              setup.params, cs, (ss,), keys)
          raise AssertionError("4 pairs over 3 devices did not raise")
        except ValueError as e:
          assert "does not divide" in str(e), e
        print("OK")
    """)
    out = run_on_host_devices(code, 4)
    self.assertEqual(out.returncode, 0, out.stderr[-3000:])
    self.assertIn("OK", out.stdout)


class CliTest(absltest.TestCase):

  def _run(self, *args):
    return subprocess.run([sys.executable, "-m", "experiments.style_transfer", *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)

  def test_demo_end_to_end(self):
    out_dir = tempfile.mkdtemp()
    r = self._run(f"--output_dir={out_dir}", "--filters=32", "--n_iter=5", "--phase_iter=5",
                  "--n_fft=512", "--hop_length=128")
    self.assertEqual(r.returncode, 0, r.stderr[-3000:])
    files = sorted(os.listdir(out_dir))
    self.assertEqual([f for f in files if not f.startswith(".")],
                     ["content.wav", "index.html", "metrics.json", "result.wav",
                      "spectrograms.png", "style.wav"])
    import soundfile as sf
    y, sr = sf.read(os.path.join(out_dir, "result.wav"))
    self.assertEqual(sr, 22050)
    self.assertTrue(np.all(np.isfinite(y)) and np.max(np.abs(y)) > 0)
    m = json.load(open(os.path.join(out_dir, "metrics.json")))
    self.assertEqual(len(m["loss_curve"]), 5)
    self.assertTrue(m["random_weights"])
    self.assertEqual(m["settings"]["filters"], 32)
    self.assertLess(m["final_losses"]["total"], m["loss_curve"][0])
    for k in ("compile_time_s", "optimize_time_s", "wall_time_s", "n_evaluations"):
      self.assertIn(k, m)
    # The listener's check of the result as written: its SC against the target magnitude.
    self.assertEqual(sorted(m["listener"]), ["content.wav", "result.wav", "style.wav"])
    self.assertLess(m["listener"]["result.wav"]["sc_db"], 0.0)
    self.assertEqual(m["listener"]["result.wav"]["edge_samples"], 1024)

  def test_wyse_runs_at_the_shipped_weights_settings(self):
    # --net=wyse with no STFT flags adopts the shipped weights' sr/n_fft/hop (16 kHz), so
    # the default command works on a fresh machine; a conflicting flag is a clear error.
    weights = nets.load_weights("wyse", None, warn=lambda line: None)
    if weights is None:
      self.skipTest("no shipped Wyse weights")
    meta = weights.stft.as_dict()
    out_dir = tempfile.mkdtemp()
    r = self._run("--net=wyse", f"--output_dir={out_dir}", "--n_iter=3", "--phase_iter=3")
    self.assertEqual(r.returncode, 0, r.stderr[-3000:])
    m = json.load(open(os.path.join(out_dir, "metrics.json")))
    self.assertFalse(m["random_weights"])
    for k in ("sr", "n_fft", "hop_length", "center"):
      self.assertEqual(m["settings"][k], meta[k], k)
    other = 22050 if meta["sr"] != 22050 else 16000
    r = self._run("--net=wyse", f"--sr={other}", f"--output_dir={out_dir}/bad")
    self.assertEqual(r.returncode, 1)
    self.assertIn(f"trained with sr={meta['sr']}", r.stderr.strip().splitlines()[-1])
    self.assertFalse(os.path.exists(f"{out_dir}/bad"))  # nothing written for a refused run

  def test_bad_input_file(self):
    d = tempfile.mkdtemp()
    bad = os.path.join(d, "not_audio.wav")
    Path(bad).write_text("hello")
    r = self._run(f"--content={bad}", f"--style={bad}", f"--output_dir={d}/out")
    self.assertEqual(r.returncode, 1)
    self.assertIn("not_audio.wav", r.stderr.strip().splitlines()[-1])
    self.assertTrue(r.stderr.strip().splitlines()[-1].startswith("style_transfer: error:"))

  def _inputs(self, d, **lengths):
    """Quiet 8 kHz noise WAVs ``name -> samples`` in ``d``; returns their paths."""
    import soundfile as sf
    rng = np.random.default_rng(0)
    paths = {}
    for name, n in lengths.items():
      paths[name] = os.path.join(d, f"{name}.wav")
      sf.write(paths[name], 0.05 * rng.standard_normal(n), 8000, subtype="PCM_16")
    return paths

  def _assert_one_line_error(self, r, *expected):
    self.assertEqual(r.returncode, 1, r.stderr[-3000:])
    lines = r.stderr.strip().splitlines()
    self.assertLen(lines, 1, r.stderr[-3000:])  # no XLA backend line, no traceback
    self.assertTrue(lines[0].startswith("style_transfer: error:"), lines[0])
    for text in expected:
      self.assertIn(text, lines[0])
    self.assertEqual(r.stdout, "")

  def test_too_long_style_refused_before_decoding(self):
    # A 1-hour WAV of zeros as a sparse file (a header and a hole): refused from its header by
    # the default --max_seconds, before the content is loaded or a net is built.
    d = tempfile.mkdtemp()
    p = self._inputs(d, content=8000, style=8000)
    long = os.path.join(d, "hour.wav")
    import soundfile as sf
    with sf.SoundFile(long, "w", 8000, 1, "PCM_16") as f:
      f.write(np.zeros(8000, np.int16))
    n = 3600 * 8000
    with open(long, "r+b") as f:  # patch the RIFF / data sizes to one hour and extend sparsely
      f.seek(4)
      f.write((36 + 2 * n).to_bytes(4, "little"))
      f.seek(40)
      f.write((2 * n).to_bytes(4, "little"))
      f.truncate(44 + 2 * n)
    r = self._run(f"--content={p['content']}", f"--style={p['style']}", f"--style={long}",
                  f"--output_dir={d}/out")
    self._assert_one_line_error(r, "hour.wav", "3600.0 s", "--max_seconds")
    self.assertFalse(os.path.exists(f"{d}/out"))
    r = self._run(f"--content={long}", f"--style={p['style']}", "--max_seconds=600",
                  f"--output_dir={d}/out")
    self._assert_one_line_error(r, "hour.wav", "limit of 600 s", "--max_seconds")

  def test_clip_shorter_than_a_frame_names_the_file(self):
    d = tempfile.mkdtemp()
    p = self._inputs(d, content=8000, tiny=10)
    r = self._run(f"--content={p['content']}", f"--style={p['tiny']}", f"--output_dir={d}/out")
    self._assert_one_line_error(r, p["tiny"], "shorter than one frame")
    self.assertFalse(os.path.exists(f"{d}/out"))

  def test_output_dir_that_is_a_file(self):
    d = tempfile.mkdtemp()
    p = self._inputs(d, content=8000, style=8000)
    Path(f"{d}/taken").write_text("a file")
    r = self._run(f"--content={p['content']}", f"--style={p['style']}", f"--output_dir={d}/taken")
    self._assert_one_line_error(r, f"{d}/taken")
    self.assertEqual(Path(f"{d}/taken").read_text(), "a file")
    self.assertEqual(sorted(os.listdir(d)), ["content.wav", "style.wav", "taken"])


if __name__ == "__main__":
  absltest.main()
