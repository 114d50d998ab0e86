"""Tests of the feed-forward style generator: shapes, causality and receptive field, streaming,
the training loss against the optimisation's own (a reference twin), a training step,
checkpoint resume, model files and the content corpus. Tiny sizes (8 kHz, n_fft 64, 33 bins)."""

import dataclasses
import json
import tempfile
import time
from pathlib import Path
from unittest import mock

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import soundfile as sf
from absl.testing import absltest, parameterized
from conftest import DATA, rel_err

from specst_jax import signals
from specst_jax.style import feedforward as ff
from specst_jax.style import transfer

SR, N_FFT, HOP = 8000, 64, 16
BINS = N_FFT // 2 + 1
TINY = dict(channels=8, kernel_width=3, dilations=(1, 2))  # R = 1 + 2 (1 + 2 * 3) = 15
_generate = jax.jit(ff.generate, static_argnums=0)  # eager op-by-op is slow to run here


def _settings(net="ulyanov", **kw):
  base = dict(sr=SR, n_fft=N_FFT, hop_length=HOP)
  if net == "ulyanov":
    base["filters"] = 32
  else:
    base["weights"] = "random"
  return transfer.Settings.for_net(net, {**base, **kw})


def _random_params(generator, key, scale=0.1):
  """Every weight drawn N(0, scale^2) (the zero-initialised output layer too)."""
  params = ff.init_params(generator, key, BINS)
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.fold_in(key, 1), len(leaves))
  return jax.tree.unflatten(tree, [scale * jax.random.normal(k, a.shape)
                                   for k, a in zip(keys, leaves, strict=True)])


def _content(x_frames=40, seed=0, low=0.0, high=3.0, lead=(1,)):
  return jax.random.uniform(jax.random.key(seed), lead + (x_frames, BINS), jnp.float32, low, high)


def _clips(seconds=0.1):
  names = ("vowel_glide", "harmonic_mix", "noise_bursts")
  return [signals.make_signal(n, sr=SR, duration=seconds) for n in names], list(names)


def _model(generator, params, net="ulyanov"):
  s = _settings(net)
  return ff.StyleModel(generator, params, s, "log1p" if net == "ulyanov" else "unit_db")


class GeneratorTest(chex.TestCase, parameterized.TestCase):

  def test_shapes_range_and_size(self):
    g = ff.make_generator("log1p", **TINY)
    params = _random_params(g, jax.random.key(0), scale=0.5)
    x = _content(23, lead=(2, 3))
    y = _generate(g, params, x)
    chex.assert_shape(y, (2, 3, 23, BINS))
    self.assertGreaterEqual(float(jnp.min(y)), 0.0)
    self.assertEqual(ff.receptive_field(g), 15)
    # input 3 * 33 * 8 + 8, two blocks of two 3 * 8 * 8 + 8, output 8 * 33 + 33
    self.assertEqual(ff.param_count(params), 800 + 4 * 200 + 297)
    # unit_db output stays in [0, 1], also for far-out inputs
    g01 = ff.make_generator("unit_db", **TINY)
    y01 = _generate(g01, _random_params(g01, jax.random.key(1), scale=2.0), x)
    self.assertGreaterEqual(float(jnp.min(y01)), 0.0)
    self.assertLessEqual(float(jnp.max(y01)), 1.0)
    with self.assertRaisesRegex(ValueError, "unit_db_image"):
      ff.make_generator("unit_db_image")

  def test_starts_from_the_content(self):
    g = ff.make_generator("log1p", **TINY)
    x = _content(30, low=0.5, high=3.0)
    y = _generate(g, ff.init_params(g, jax.random.key(0), BINS), x)
    np.testing.assert_allclose(y, x, atol=1e-4)  # zero output layer: the smooth clamp alone
    np.testing.assert_allclose(ff.bound(jnp.array([-5.0, 0.0, 0.5]), (0.0, 1.0), 50.0),
                               [0.0, np.log(2) / 50, 0.5], atol=1e-6)

  def test_receptive_field_is_exact(self):
    g = ff.make_generator("log1p", **TINY)
    r = ff.receptive_field(g)
    params = _random_params(g, jax.random.key(2))
    x = _content(60, low=2.0, high=4.0)
    j = 25
    y = _generate(g, params, x)
    y2 = _generate(g, params, x.at[:, j].add(1.0))
    change = np.max(np.abs(np.asarray(y2 - y)), axis=(0, 2))
    np.testing.assert_array_equal(change[:j], 0.0)  # causal: nothing before the change moves
    np.testing.assert_array_equal(change[j + r:], 0.0)  # nothing R or more frames after it
    self.assertGreater(change[j], 1e-3)
    self.assertGreater(change[j + r - 1], 1e-4)  # the last frame that sees it does move

  @chex.variants(with_jit=True, without_jit=True)
  def test_jit_equals_eager(self):
    g = ff.make_generator("unit_db", **TINY)
    params = _random_params(g, jax.random.key(3))
    x = _content(20, high=1.0)
    want = ff.generate(g, params, x)
    got = self.variant(lambda p, x: ff.generate(g, p, x))(params, x)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)

  @parameterized.parameters(1, 4, 16, 57, 80)
  def test_streaming_equals_whole_clip(self, block):
    g = ff.make_generator("log1p", **TINY)
    model = _model(g, _random_params(g, jax.random.key(4)))
    x = _content(57, lead=(2,))
    want = _generate(g, model.params, x)
    got = ff.stylize_stream(model, x, block)
    chex.assert_equal_shape([got, want])
    self.assertLess(rel_err(got, want), 1e-5)  # everywhere, the first R frames included

  def test_stream_state(self):
    g = ff.make_generator("log1p", **TINY)
    params = _random_params(g, jax.random.key(5))
    state = ff.stream_init(g, BINS, (2,))
    chex.assert_shape(state.context, (2, 14, BINS))
    x = _content(20, lead=(2,))
    state, y = ff.stream_step(g, params, state, x[:, :6])
    chex.assert_shape(y, (2, 6, BINS))
    np.testing.assert_array_equal(state.context[:, -6:], x[:, :6])
    np.testing.assert_array_equal(state.context[:, :8], 0.0)


class LossTest(chex.TestCase, parameterized.TestCase):

  @parameterized.parameters(("ulyanov", 32, False), ("ulyanov", 256, True), ("wyse", None, True))
  def test_training_loss_and_gradient_are_the_engines(self, net_name, filters, frame_products):
    """The reference twin: per clip, the optimisation's own make_targets + loss_terms."""
    extra = {"filters": filters} if filters else {}
    settings, net = ff.loss_net(_settings(net_name, **extra))
    g = ff.make_generator(net.representation, **TINY)
    params = _random_params(g, jax.random.key(6), scale=0.05)
    clips = _clips()[0][:2]
    encode = lambda a: ff.encode_audio(settings.stft, net.representation, a)  # noqa: E731
    x = encode(np.stack(clips))
    x_s = encode(signals.make_signal("chirps", sr=SR, duration=0.3))
    style = ff.style_targets(net, x_s, x.shape[1])
    # 256 filters or Wyse's conv1 (2048): the float64 frame-product path, under vmap and grad
    self.assertEqual(any(t.frame_products for t in style.values()), frame_products)

    def ours(p):
      terms = ff.batch_loss_terms(p, x, net.params, style, generator=g,
                                  features_fn=net.features_fn, config=net.config)
      return terms["total"], terms

    def engines(p):
      y = ff.generate(g, p, x)
      terms = [ff.engine_loss_terms(net, y[i], x[i], [x_s]) for i in range(len(x))]
      terms = {k: sum(t[k] for t in terms) / len(terms) for k in terms[0]}
      return terms["total"], terms

    (_, got), grad = jax.jit(jax.value_and_grad(ours, has_aux=True))(params)
    (_, want), want_grad = jax.jit(jax.value_and_grad(engines, has_aux=True))(params)
    for k in ("style", "content", "range", "total"):
      np.testing.assert_allclose(float(got[k]), float(want[k]), rtol=1e-5, atol=1e-9, err_msg=k)
    self.assertGreater(float(got["style"]), 0.0)
    self.assertGreater(float(got["content"]), 0.0)
    flat, flat_want = jax.tree.leaves(grad), jax.tree.leaves(want_grad)
    for a, b in zip(flat, flat_want, strict=True):
      self.assertLess(rel_err(a, b), 1e-4)

  def test_context_loss_is_the_engines_on_the_frames_after_the_context(self):
    """With context, the loss is the optimisation's on the frames a long clip would give:
    the whole clip's output (silence before it) from frame R - 1 on."""
    settings, net = ff.loss_net(_settings("ulyanov"))
    g = ff.make_generator("log1p", **TINY)
    r = ff.receptive_field(g)
    params = _random_params(g, jax.random.key(8), scale=0.05)
    clips = _clips(0.2)[0][:2]
    x = ff.encode_audio(settings.stft, "log1p", np.stack(clips))
    x_s = ff.encode_audio(settings.stft, "log1p", signals.make_signal("chirps", sr=SR,
                                                                        duration=0.3))
    n = x.shape[1] - (r - 1)
    style = ff.style_targets(net, x_s, n)
    got = jax.jit(lambda p: ff.batch_loss_terms(
        p, x, net.params, style, generator=g, features_fn=net.features_fn,
        config=net.config, context=True))(params)
    y = _generate(g, params, x)
    want = [ff.engine_loss_terms(net, y[i, r - 1:], x[i, r - 1:], [x_s]) for i in range(2)]
    for k in ("style", "content", "total"):
      np.testing.assert_allclose(float(got[k]), float(sum(w[k] for w in want) / 2), rtol=1e-5,
                                 err_msg=k)
    # Without context the first frames (silence in their receptive field) count too.
    plain = ff.batch_loss_terms(params, x, net.params, ff.style_targets(net, x_s, x.shape[1]),
                                generator=g, features_fn=net.features_fn, config=net.config)
    self.assertNotAlmostEqual(float(plain["total"]), float(got["total"]), places=3)

  def test_the_engine_net_is_the_optimisations(self):
    settings = _settings("ulyanov", seed=3)
    _, net = ff.loss_net(settings)
    engine = transfer._build(settings, transfer._keys(settings)[0], BINS, None)
    np.testing.assert_array_equal(net.params["params"]["kernel"],
                                  engine.params["params"]["kernel"])
    self.assertEqual(net.config, engine.config)

  def test_one_step_lowers_the_loss(self):
    settings, net = ff.loss_net(_settings())
    g = ff.make_generator("log1p", **TINY)
    clips, _ = _clips()
    x = ff.encode_audio(settings.stft, "log1p", np.stack(clips))
    x_s = ff.encode_audio(settings.stft, "log1p", signals.make_signal("chirps", sr=SR,
                                                                        duration=0.3))
    style = ff.style_targets(net, x_s, x.shape[1])
    kw = dict(generator=g, features_fn=net.features_fn, config=net.config)
    step = jax.jit(lambda s, x: ff.train_step(s, x, net.params, style, **kw))
    state = ff.init_state(g, jax.random.key(0), BINS, 1e-3)
    losses = []
    for _ in range(3):
      state, terms = step(state, x)
      losses.append(float(terms["total"]))
    self.assertEqual(int(state.step), 3)
    self.assertLess(losses[1], losses[0])
    self.assertLess(losses[2], losses[1])
    # The reported gradient norm is the global norm of the loss's gradient at the step's start.
    _, terms = step(state, x)
    grad = jax.grad(lambda p: ff.batch_loss_terms(p, x, net.params, style, **kw)["total"])(
        state.params)
    np.testing.assert_allclose(float(terms["grad_norm"]), float(optax.global_norm(grad)),
                               rtol=1e-4)

  def test_clipping_is_adam_on_the_clipped_gradient(self):
    params = {"w": jnp.array([0.5, -1.0, 2.0])}
    grads = [{"w": jnp.array([0.3, 0.1, -0.2])}, {"w": jnp.array([60.0, -80.0, 0.0])}]
    clipped = [grads[0], {"w": grads[1]["w"] / 100.0}]  # norms 0.37 (kept) and 100 -> 1
    want = got = params
    tx, adam = ff._adam(1e-2, 1.0), optax.adam(1e-2)
    s_tx, s_adam = tx.init(params), adam.init(params)
    for g, g_clipped in zip(grads, clipped, strict=True):
      u, s_tx = tx.update(g, s_tx, got)
      got = optax.apply_updates(got, u)
      u, s_adam = adam.update(g_clipped, s_adam, want)
      want = optax.apply_updates(want, u)
    np.testing.assert_allclose(got["w"], want["w"], rtol=1e-6)
    plain = ff._adam(1e-2, 0.0)  # 0: no clipping, Adam itself
    u, _ = plain.update(grads[1], plain.init(params), params)
    u_adam, _ = adam.update(grads[1], adam.init(params), params)
    np.testing.assert_array_equal(u["w"], u_adam["w"])
    self.assertIs(ff._adam(1e-2, 1.0), tx)  # one object per setting (the compiled step's key)


class TrainTest(chex.TestCase):

  def _run(self, workdir, config, **kw):
    clips, names = _clips(0.15)
    corpus = ff.make_corpus(clips, names, sr=SR, crop_seconds=0.1)
    heldout = ff.make_corpus(clips[:1], names[:1], sr=SR, crop_seconds=0.1)
    style = signals.make_signal("chirps", sr=SR, duration=0.3)
    lines = []
    out = ff.train(workdir, _settings(), ff.make_generator("log1p", **TINY), style, corpus,
                   config, heldout=heldout, style_name="chirps", log=lines.append, **kw)
    return out, lines

  def test_resume_reaches_the_same_parameters(self):
    tmp = Path(tempfile.mkdtemp())
    config = ff.TrainConfig(steps=4, batch_size=2, learning_rate=1e-2, log_every=1,
                            eval_every=2, checkpoint_every=2)
    straight, lines = self._run(tmp / "a", config)
    self.assertEqual(straight.step, 4)
    self.assertRegex(lines[-1], r"feedforward step 4/4: loss [\d.e+-]+, held-out .*steps/s")
    half, _ = self._run(tmp / "b", config, stop_after_step=2)
    self.assertEqual(half.step, 2)
    resumed, lines = self._run(tmp / "b", config)
    self.assertEqual(lines[0], "resumed from step 2")
    self.assertEqual(resumed.step, 4)
    jax.tree.map(lambda p, q: np.testing.assert_array_equal(np.asarray(p), np.asarray(q)),
                 straight.model.params, resumed.model.params)
    self.assertEqual([h["step"] for h in resumed.history], [1, 2, 3, 4])
    untimed = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    self.assertEqual(untimed(resumed.history), untimed(straight.history))
    self.assertIn("heldout_loss", resumed.history[-1])
    # The exported model loads back and stylises as the trained one.
    loaded = ff.load_model(tmp / "b")
    self.assertEqual(loaded.generator, straight.model.generator)
    self.assertEqual(loaded.settings, straight.model.settings)
    self.assertEqual(loaded.info["train"]["step"], 4)
    x = _content(30, high=2.0)
    np.testing.assert_array_equal(_generate(loaded.generator, loaded.params, x),
                                  _generate(straight.model.generator, straight.model.params, x))
    # A checkpoint of another run is refused.
    with self.assertRaisesRegex(ValueError, "another run .*learning_rate"):
      self._run(tmp / "b", dataclasses.replace(config, learning_rate=5e-3))

  def test_deadline_stops_after_a_checkpoint_and_the_model_keeps_its_style(self):
    tmp = Path(tempfile.mkdtemp())
    config = ff.TrainConfig(steps=3, batch_size=2, learning_rate=1e-2, log_every=0,
                            eval_every=0, checkpoint_every=0)
    stopped, lines = self._run(tmp, config, deadline=time.monotonic())  # already past
    self.assertEqual(stopped.step, 1)
    self.assertEqual(lines[-1], "feedforward: stopped at step 1/3 (time limit), checkpoint saved")
    self.assertEqual([h["step"] for h in stopped.history], [1])
    self.assertIn("heldout_loss", stopped.history[-1])  # the stop reports like a checkpoint
    meta = json.loads((tmp / "model.json").read_text())
    self.assertEqual(meta["train"]["step"], 1)
    self.assertEqual(meta["heldout"]["names"], ["vowel_glide"])
    # Crops came with the receptive field's left context (config.context, the default).
    corpus = meta["train"]["run"]["corpus"]
    self.assertEqual(corpus["context_samples"], (ff.receptive_field(stopped.model.generator) - 1)
                     * HOP)
    self.assertTrue(meta["train"]["run"]["context"])
    resumed, lines = self._run(tmp, config, deadline=time.monotonic() + 3600)
    self.assertEqual((lines[0], resumed.step), ("resumed from step 1", 3))
    # The style clip is kept beside the model, checked against the recorded SHA-256.
    model = ff.load_model(tmp / ff.MODEL_FILE)
    style, path = ff.load_style(model, tmp)
    self.assertEqual(path, tmp / ff.STYLE_CLIP)
    np.testing.assert_array_equal(style, signals.make_signal("chirps", sr=SR, duration=0.3))
    other = tmp / "other.wav"
    sf.write(other, 0.5 * style, SR, subtype="FLOAT")
    with self.assertRaisesRegex(ValueError, "other.wav: not the style clip"):
      ff.load_style(model, tmp, other)
    self.assertIsNone(ff.load_style(model, tmp / "elsewhere" / ff.MODEL_FILE))

  def test_shipped_models_are_the_folders_with_a_model(self):
    tmp = Path(tempfile.mkdtemp())
    for name in ("b_style", "a_style", "empty"):
      (tmp / name).mkdir()
    for name in ("b_style", "a_style"):
      (tmp / name / ff.MODEL_FILE).write_bytes(b"")
    with mock.patch.object(ff, "SHIPPED_DIR", tmp):
      self.assertEqual(ff.shipped_models(), [tmp / "a_style", tmp / "b_style"])
      self.assertEqual(ff.default_model(), tmp / "a_style")  # no rooster: the first by name
      with mock.patch.object(ff, "DEFAULT_MODEL", "b_style"):
        self.assertEqual(ff.default_model(), tmp / "b_style")
    with mock.patch.object(ff, "SHIPPED_DIR", tmp / "none"):
      self.assertEqual(ff.shipped_models(), [])
      self.assertIsNone(ff.default_model())
    self.assertEqual(ff.model_file(tmp / "a_style"), tmp / "a_style" / ff.MODEL_FILE)

  def test_stylize_fast(self):
    g = ff.make_generator("log1p", **TINY)
    model = _model(g, _random_params(g, jax.random.key(7), scale=0.02))
    audio = signals.make_signal("vowel_glide", sr=SR, duration=0.25)
    out = ff.stylize_fast(model, audio, phase_method="rtpghi", phase_iter=0)
    frames = model.settings.stft.n_frames(audio.size)
    chex.assert_shape([out.x, out.content_magnitude, out.magnitude], (frames, BINS))
    chex.assert_shape(out.audio, audio.shape)
    self.assertTrue(np.all(np.isfinite(out.audio)))
    self.assertEqual(set(out.timings), {"analysis_s", "compile_s", "generator_s", "phase_s"})
    quick = ff.stylize_fast(model, audio, phase=False)
    self.assertIsNone(quick.audio)
    np.testing.assert_allclose(quick.x, out.x, rtol=1e-6)
    x_c = ff.encode_audio(model.settings.stft, "log1p", audio)
    np.testing.assert_allclose(out.x, _generate(g, model.params, x_c), rtol=1e-5, atol=1e-6)


class CorpusTest(absltest.TestCase):

  def test_crops_are_active_deterministic_and_quieter_by_the_gain(self):
    tone = np.sin(2 * np.pi * 440 * np.arange(SR) / SR).astype(np.float32)
    half_silent = np.concatenate([np.zeros(SR, np.float32), tone])
    c = ff.make_corpus([tone, half_silent, np.zeros(SR)], ["a", "b", "silent"], sr=SR,
                       crop_seconds=0.25, hop_seconds=0.125)
    self.assertEqual(c.names, ("a", "b"))  # the silent clip is left out
    self.assertTrue(np.all(c.starts[1] >= SR - 0.125 * SR))  # only the active half
    b1 = c.batch(7, 5, seed=1, gain_db=12.0)
    chex.assert_shape(b1, (5, 2000))
    np.testing.assert_array_equal(b1, c.batch(7, 5, seed=1, gain_db=12.0))
    self.assertFalse(np.array_equal(b1, c.batch(8, 5, seed=1, gain_db=12.0)))
    peaks = np.max(np.abs(b1), axis=1)
    self.assertTrue(np.all(peaks <= 0.9 + 1e-6) and np.all(peaks >= 0.9 * 10 ** (-12 / 20) - 1e-6))
    chex.assert_shape(c.fixed(), (2, 2000))

  def test_context_is_the_audio_before_each_crop_and_silence_before_the_clip(self):
    ramp = np.arange(1, 4001, dtype=np.float32) / 4000
    c = ff.make_corpus([ramp], ["ramp"], sr=SR, crop_seconds=0.1, hop_seconds=0.05)
    wide = c.with_context(300)
    self.assertEqual((wide.crop_samples, wide.context_samples), (800, 300))
    self.assertEqual(wide.describe()["context_samples"], 300)
    clip = wide.clips[0]
    for crop in wide.batch(3, 16, seed=2):
      start = int(np.flatnonzero(np.isin(clip, crop[300:]))[0])
      np.testing.assert_array_equal(crop[300:], clip[start:start + 800])
      before = clip[max(start - 300, 0):start]
      np.testing.assert_array_equal(crop[300 - before.size:300], before)
      np.testing.assert_array_equal(crop[:300 - before.size], 0.0)
    np.testing.assert_array_equal(c.batch(3, 16, seed=2), wide.batch(3, 16, seed=2)[:, 300:])
    fixed = wide.fixed()
    chex.assert_shape(fixed, (1, 1100))
    np.testing.assert_array_equal(fixed[:, 300:], c.fixed())  # the same loudest crop
    with self.assertRaisesRegex(ValueError, "context samples must be >= 0"):
      c.with_context(-1)

  def test_split_is_by_name_hash(self):
    paths = [Path(f"dir{i % 3}") / f"clip{i}.flac" for i in range(200)]
    train, held = ff.split_files(paths, 0.2)
    self.assertEqual(sorted(map(str, train + held)), sorted(map(str, paths)))
    self.assertTrue(20 <= len(held) <= 60)
    moved = [Path("elsewhere") / p.name for p in paths[::-1]]
    self.assertEqual({p.name for p in ff.split_files(moved, 0.2)[1]}, {p.name for p in held})

  def test_content_files_of_the_shared_data(self):
    if not (DATA / "speech" / "ljspeech").is_dir() or not (DATA / "esc50_16k").is_dir():
      pytest.skip(f"data not present: {DATA}")
    paths = ff.content_files(DATA, esc50_per_class=1, exclude=["LJ001-0001.flac"])
    names = [p.name for p in paths]
    self.assertNotIn("LJ001-0001.flac", names)
    self.assertEqual(sum(n.startswith("LJ") for n in names), 31)
    self.assertEqual(sum(n.endswith(".ogg") for n in names), 9)
    self.assertEqual(len(names), 31 + 9 + 50)
    self.assertEqual(paths, ff.content_files(DATA, esc50_per_class=1,
                                             exclude=["LJ001-0001.flac"]))
    train, held = ff.split_files(paths)
    self.assertTrue(held and any(n.name.startswith("LJ") for n in held))


if __name__ == "__main__":
  absltest.main()
