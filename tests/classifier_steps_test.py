"""Tests for specst_jax/classifier/steps.py: loss against numpy, augmentation, sharded steps."""

import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import run_on_host_devices

from specst_jax.classifier import steps
from specst_jax.models.wyse import WyseClassifier

JIT = pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])


def _log_softmax_ce(logits, labels):
  z = logits - logits.max(-1, keepdims=True)
  return np.log(np.exp(z).sum(-1)) - z[np.arange(len(labels)), labels]


@JIT
def test_loss_matches_numpy_cross_entropy(jit):
  model = WyseClassifier(n_classes=5, n_aux_classes=3, conv_features=(4, 2), dense_features=4)
  x = jax.random.normal(jax.random.key(0), (6, 12, 7))
  params = model.init(jax.random.key(1), x)["params"]
  batch = {"x": x, "y": jnp.array([0, 1, 2, 3, 4, 0]), "aux": jnp.array([0, 1, 2, 0, 1, 2]),
           "w": jnp.array([1, 1, 1, 1, 0, 0], jnp.float32)}
  fn = lambda p, b: steps.loss_and_metrics(p, b, None, model=model, aux_weight=0.5,  # noqa
                                              train=False)
  loss, m = (jax.jit(fn) if jit else fn)(params, batch)
  logits, acts = model.apply({"params": params}, x)
  logits, aux = np.asarray(logits, np.float64), np.asarray(acts["aux_logits"], np.float64)
  y, a, w = (np.asarray(batch[k]) for k in ("y", "aux", "w"))
  ce, ce_aux = _log_softmax_ce(logits, y), _log_softmax_ce(aux, a)
  np.testing.assert_allclose(loss, np.sum(w * (ce + 0.5 * ce_aux)) / 4, rtol=1e-5)
  np.testing.assert_allclose(m["loss"], np.sum(w * ce), rtol=1e-5)
  assert m["count"] == 4
  assert m["correct"] == np.sum(w * (logits.argmax(-1) == y))


@JIT
def test_mixup_loss_mixes_inputs_and_both_cross_entropies(jit):
  model = WyseClassifier(n_classes=5, n_aux_classes=3, conv_features=(4, 2), dense_features=4,
                         head_input="meanmax")
  x = jax.random.normal(jax.random.key(0), (4, 12, 7))
  params = model.init(jax.random.key(1), x)["params"]
  batch = {"x": x, "y": jnp.array([0, 1, 2, 3]), "aux": jnp.array([0, 1, 2, 0]),
           "w": jnp.ones(4, jnp.float32)}
  lam, perm = jnp.float32(0.3), jnp.array([2, 3, 1, 0])
  fn = lambda p, b: steps.loss_and_metrics(p, b, None, model=model, aux_weight=1.0,  # noqa
                                              train=False, mixup=(lam, perm))
  loss, _ = (jax.jit(fn) if jit else fn)(params, batch)
  mixed = 0.3 * x + 0.7 * x[np.asarray(perm)]
  logits, acts = model.apply({"params": params}, mixed)
  logits, aux = np.asarray(logits, np.float64), np.asarray(acts["aux_logits"], np.float64)
  y, a, p = np.asarray(batch["y"]), np.asarray(batch["aux"]), np.asarray(perm)
  expected = (0.3 * (_log_softmax_ce(logits, y) + _log_softmax_ce(aux, a))
              + 0.7 * (_log_softmax_ce(logits, y[p]) + _log_softmax_ce(aux, a[p])))
  np.testing.assert_allclose(loss, expected.mean(), rtol=1e-5)


@JIT
def test_soft_target_loss_is_cross_entropy_against_the_mixed_targets(jit):
  """Distillation: CE(p, softmax(logits)) in numpy, mixup mixing the targets as it mixes the
  labels; one-hot targets give exactly the label loss."""
  model = WyseClassifier(n_classes=5, n_aux_classes=0, conv_features=(4, 2), dense_features=4,
                         head_input="meanmax")
  x = jax.random.normal(jax.random.key(0), (4, 12, 7))
  params = model.init(jax.random.key(1), x)["params"]
  y = np.array([0, 1, 2, 3])
  p = np.asarray(jax.nn.softmax(jax.random.normal(jax.random.key(2), (4, 5))), np.float32)
  batch = {"x": x, "y": jnp.asarray(y), "aux": jnp.zeros(4, jnp.int32),
           "w": jnp.array([1, 1, 1, 0], jnp.float32), "p": jnp.asarray(p)}
  lam, perm = jnp.float32(0.3), jnp.array([2, 3, 1, 0])
  fn = lambda b, mix: steps.loss_and_metrics(params, b, None, model=model,  # noqa
                                                aux_weight=0.0, train=False, mixup=mix)
  run = jax.jit(fn) if jit else fn
  loss, m = run(batch, (lam, perm))
  logits = np.asarray(model.apply({"params": params}, 0.3 * x + 0.7 * x[np.asarray(perm)])[0],
                      np.float64)
  log_q = logits - logits.max(-1, keepdims=True)
  log_q -= np.log(np.exp(log_q).sum(-1, keepdims=True))
  target = 0.3 * p + 0.7 * p[np.asarray(perm)]
  ce = -(target * log_q).sum(-1)
  w = np.array([1, 1, 1, 0])
  np.testing.assert_allclose(loss, np.sum(w * ce) / 3, rtol=1e-5)
  assert m["correct"] == np.sum(w * (logits.argmax(-1) == y))
  onehot = dict(batch, p=jnp.asarray(np.eye(5, dtype=np.float32)[y]))
  labels = {k: v for k, v in batch.items() if k != "p"}
  np.testing.assert_allclose(run(onehot, None)[0], run(labels, None)[0], rtol=1e-6)


@JIT
def test_augment_rolls_each_example_and_masks_bands(jit):
  x = jnp.arange(3 * 10 * 6, dtype=jnp.float32).reshape(3, 10, 6) + 1.0
  key = jax.random.key(3)
  roll = steps.Augmentation(time_roll=True)
  fn = lambda x, k, a: steps.augment(x, k, a)  # noqa: E731
  if jit:
    fn = jax.jit(fn, static_argnums=2)
  rolled = np.asarray(fn(x, key, roll))
  for b in range(3):  # each example is a circular shift of itself along frames
    shifts = [s for s in range(10) if np.array_equal(np.roll(np.asarray(x[b]), s, 0), rolled[b])]
    assert len(shifts) == 1
  masked = np.asarray(fn(x, key, steps.Augmentation(freq_mask=3, time_mask=4)))
  for b in range(3):
    zero_channels = np.all(masked[b] == 0, axis=0).sum()
    zero_frames = np.all(masked[b] == 0, axis=1).sum()
    assert zero_channels <= 3 and zero_frames <= 4
    keep = masked[b] != 0  # everything not masked is untouched
    np.testing.assert_array_equal(masked[b][keep], np.asarray(x[b])[keep])
  np.testing.assert_array_equal(fn(x, key, steps.Augmentation()), x)


@JIT
def test_augment_crops_a_random_window_of_each_example(jit):
  x = jnp.arange(4 * 12 * 3, dtype=jnp.float32).reshape(4, 12, 3)
  fn = lambda x, k, a: steps.augment(x, k, a)  # noqa: E731
  if jit:
    fn = jax.jit(fn, static_argnums=2)
  starts = set()
  for seed in range(5):
    cropped = np.asarray(fn(x, jax.random.key(seed), steps.Augmentation(crop_frames=5)))
    assert cropped.shape == (4, 5, 3)
    for b in range(4):  # a contiguous window of the example's own frames (numpy twin)
      match = [s for s in range(8) if np.array_equal(np.asarray(x[b, s:s + 5]), cropped[b])]
      assert len(match) == 1
      starts.add(match[0])
  assert len(starts) > 3  # windows start anywhere, not always at 0
  # After a roll the window may wrap around; masks then act on the window.
  both = np.asarray(fn(x, jax.random.key(0), steps.Augmentation(time_roll=True, crop_frames=5,
                                                                 time_mask=2)))
  assert both.shape == (4, 5, 3)
  # The crop leaves the other draws as they were: roll and masks alone are unchanged by it.
  key, plain = jax.random.key(7), steps.Augmentation(time_roll=True, freq_mask=2, time_mask=3)
  ref = np.asarray(fn(x, key, plain))
  np.testing.assert_array_equal(ref, steps.augment(x, key, plain))
  with pytest.raises(ValueError, match=r"crop_frames must be in \[1, 12\]"):
    steps.augment(x, key, steps.Augmentation(crop_frames=13))


def test_scale_by_fan_in_divides_by_the_fan_in_ratio():
  updates = {"conv1": {"kernel": jnp.ones((5, 8, 16)), "bias": jnp.ones(16)},
             "conv2": {"kernel": jnp.ones((5, 16, 4)), "bias": jnp.ones(4)},
             "head": {"kernel": jnp.ones((4, 3)), "bias": jnp.ones(3)}}
  tx = steps.scale_by_fan_in("conv1")
  out, _ = jax.jit(tx.update)(updates, tx.init(updates))
  np.testing.assert_allclose(out["conv1"]["kernel"], 1.0)
  np.testing.assert_allclose(out["conv2"]["kernel"], 40 / 80)  # fan-ins 5*8 and 5*16
  np.testing.assert_allclose(out["conv2"]["bias"], 40 / 80)
  np.testing.assert_allclose(out["head"]["bias"], 1.0)  # fan-in 4 < 40: never scaled up


def test_data_parallel_matches_single_device():
  """Two fake CPU devices (own process): the sharded step equals the unsharded one."""
  code = textwrap.dedent("""
    import jax, numpy as np
    from experiments.configs import tiny
    from specst_jax.classifier import steps
    assert len(jax.devices()) == 2, jax.devices()
    c = tiny.get_config()
    model = steps.make_model(c)
    tx = steps.make_optimizer(c, 10)
    rng = np.random.default_rng(0)
    b = {"x": rng.random((4, 40, 9), np.float32), "y": np.arange(4, dtype=np.int32),
         "aux": np.arange(4, dtype=np.int32) % 4, "w": np.ones(4, np.float32)}
    out = []
    for devices in (jax.devices()[:1], jax.devices()):
      mesh = steps.data_mesh(devices)
      state = steps.init_state(model, tx, jax.random.key(0), (40, 9))
      state = jax.device_put(state, steps.replicated_sharding(mesh))
      step, _ = steps.jit_steps(model, 1.0, mesh)
      for _ in range(2):
        state, m = step(state, b, jax.random.key(1))
      out.append(jax.device_get(state.params))
    jax.tree.map(lambda p, q: np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6), *out)
    print("OK")
  """)
  r = run_on_host_devices(code, 2)
  assert r.returncode == 0 and "OK" in r.stdout, r.stderr[-2000:]



@JIT
def test_weight_average_matches_a_numpy_twin(jit):
  """``ema_decay``: after step t the average moves by min(decay, (1 + t) / (10 + t))."""
  model = WyseClassifier(n_classes=3, n_aux_classes=0, conv_features=(4, 2), dense_features=4)
  tx = optax.sgd(0.1)
  state = steps.init_state(model, tx, jax.random.key(0), (12, 5), ema_decay=0.9)
  grads = [jax.tree.map(lambda p, k=k: jnp.full_like(p, np.sin(k + 1.0)), state.params)
           for k in range(20)]
  apply = jax.jit(lambda s, g: s.apply_gradients(grads=g)) if jit else (
      lambda s, g: s.apply_gradients(grads=g))
  leaf = np.asarray(state.params["conv1"]["kernel"], np.float64)
  params, average = leaf.copy(), leaf.copy()
  for t, g in enumerate(grads, start=1):
    state = apply(state, g)
    params = params - 0.1 * np.sin(t)
    d = min(0.9, (1 + t) / (10 + t))
    average = d * average + (1 - d) * params
  np.testing.assert_allclose(state.params["conv1"]["kernel"], params, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(state.average["conv1"]["kernel"], average, rtol=1e-5, atol=1e-6)
  assert state.eval_params is state.average


def test_weight_average_off_by_default_and_checked():
  model = WyseClassifier(n_classes=3, n_aux_classes=0, conv_features=(4, 2), dense_features=4)
  state = steps.init_state(model, optax.sgd(0.1), jax.random.key(0), (12, 5))
  assert state.average is None and state.eval_params is state.params
  with pytest.raises(ValueError, match="ema_decay must be in"):
    steps.init_state(model, optax.sgd(0.1), jax.random.key(0), (12, 5), ema_decay=1.0)
