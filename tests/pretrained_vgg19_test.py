"""Tests of specst_jax/pretrained/vgg19.py: VGG-19 weight files of every supported format.

Each converter reads a file built here in its format from known arrays and must return those
arrays in the project's layout (HWIO kernels). h5py, torch and scipy are test requirements;
the error for an absent reader library is checked by hiding the installed one.
"""

import sys
import tempfile

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.io as sio
from absl.testing import absltest

from specst_jax.models import vgg19 as vgg
from specst_jax.pretrained import vgg19 as vw


def _fake_layers(seed=0, skip=None, wrong=None):
  rng = np.random.default_rng(seed)
  layers = {}
  for name, (k, b) in vgg.layer_shapes().items():
    if name == skip:
      continue
    if name == wrong:
      k = k[:2] + (k[2] + 1, k[3])
    layers[name] = {"kernel": rng.normal(size=k).astype(np.float32) * 0.01,
                    "bias": rng.normal(size=b).astype(np.float32)}
  return layers


class WeightsFileTest(absltest.TestCase):

  def test_npz_round_trip(self):
    path = tempfile.mkdtemp() + "/vgg19.npz"
    layers = _fake_layers()
    vw.save_npz(path, layers, preprocessing="caffe_rgb")
    variables, prep = vw.load_vgg19_weights(path)
    self.assertEqual(prep, "caffe_rgb")
    for name in vgg.CONV_LAYERS:
      np.testing.assert_array_equal(variables["params"][name]["kernel"], layers[name]["kernel"])
      np.testing.assert_array_equal(variables["params"][name]["bias"], layers[name]["bias"])
    # The loaded weights run in the module.
    _, acts = vgg.VGG19(preprocessing=prep, last_layer="conv2_1").apply(
        variables, jnp.zeros((1, 8, 8)))
    self.assertIn("conv2_1", acts)

  def test_wrong_architecture(self):
    d = tempfile.mkdtemp()
    # A VGG-16-like file: conv3_4 missing.
    arrays = {f"{n}/{p}": a for n, d in _fake_layers(skip="conv3_4").items() for p, a in d.items()}
    np.savez(d + "/vgg16.npz", **arrays)
    with self.assertRaisesRegex(vw.WeightsError, r"vgg16\.npz.*missing layers \['conv3_4'\]"):
      vw.load_vgg19_weights(d + "/vgg16.npz")
    arrays = {f"{n}/{p}": a for n, d in _fake_layers(wrong="conv2_1").items() for p, a in d.items()}
    np.savez(d + "/bad.npz", **arrays)
    with self.assertRaisesRegex(vw.WeightsError, r"conv2_1/kernel has shape \(3, 3, 65, 128\)"):
      vw.load_vgg19_weights(d + "/bad.npz")
    with self.assertRaisesRegex(vw.WeightsError, "not found"):
      vw.load_vgg19_weights(d + "/absent.npz")
    open(d + "/w.onnx", "w").close()
    with self.assertRaisesRegex(vw.WeightsError, "unknown weights format"):
      vw.load_vgg19_weights(d + "/w.onnx")

  def test_matconvnet_reader(self):
    layers = _fake_layers(seed=3)
    dtype = [("name", object), ("type", object), ("weights", object)]
    entries = []
    for b, n, _ in vgg.BLOCKS:
      for i in range(1, n + 1):
        name = f"conv{b}_{i}"
        w = np.empty((2,), dtype=object)
        w[0], w[1] = layers[name]["kernel"], layers[name]["bias"].reshape(-1, 1)
        entries.append((name, "conv", w))
        entries.append((f"relu{b}_{i}", "relu", np.empty((0,), dtype=object)))
    cell = np.empty((1, len(entries)), dtype=object)
    for j, e in enumerate(entries):
      cell[0, j] = np.array([e], dtype=dtype)
    path = tempfile.mkdtemp() + "/imagenet-vgg-verydeep-19.mat"
    sio.savemat(path, {"layers": cell})
    variables, prep = vw.load_vgg19_weights(path)
    self.assertEqual(prep, "caffe_rgb")
    np.testing.assert_allclose(variables["params"]["conv4_2"]["kernel"],
                               layers["conv4_2"]["kernel"], rtol=1e-6)
    np.testing.assert_allclose(variables["params"]["conv1_1"]["bias"], layers["conv1_1"]["bias"])


def _assert_same_layers(variables, layers):
  assert set(variables["params"]) == set(vgg.CONV_LAYERS)
  for name in vgg.CONV_LAYERS:
    np.testing.assert_array_equal(variables["params"][name]["kernel"], layers[name]["kernel"])
    np.testing.assert_array_equal(variables["params"][name]["bias"], layers[name]["bias"])


def test_keras_h5_reader(tmp_path):
  import h5py
  layers = _fake_layers(seed=5)
  path = tmp_path / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
  with h5py.File(path, "w") as f:  # Keras 2 layout: model_weights/<layer>/<layer>/kernel:0
    root = f.create_group("model_weights")
    for b, n, _ in vgg.BLOCKS:
      for i in range(1, n + 1):
        g = root.create_group(f"block{b}_conv{i}").create_group(f"block{b}_conv{i}")
        g["kernel:0"] = layers[f"conv{b}_{i}"]["kernel"]
        g["bias:0"] = layers[f"conv{b}_{i}"]["bias"]
    root.create_group("block1_pool")  # non-conv groups are ignored
  variables, prep = vw.load_vgg19_weights(path)
  assert prep == "caffe_bgr"
  _assert_same_layers(variables, layers)
  with h5py.File(tmp_path / "vgg16.h5", "w") as f:  # a file without block3_conv4
    for b, n, _ in vgg.BLOCKS:
      for i in range(1, n + 1):
        if (b, i) != (3, 4):
          g = f.create_group(f"block{b}_conv{i}")
          g["kernel:0"], g["bias:0"] = (layers[f"conv{b}_{i}"][k] for k in ("kernel", "bias"))
  with pytest.raises(vw.WeightsError, match=r"vgg16\.h5.*missing layers \['conv3_4'\]"):
    vw.load_vgg19_weights(tmp_path / "vgg16.h5")


def test_torch_pth_reader(tmp_path):
  import torch
  layers = _fake_layers(seed=6)
  state = {}
  for name, idx in zip(vgg.CONV_LAYERS, vw._TORCH_INDICES, strict=True):
    # torchvision stores OIHW kernels.
    state[f"features.{idx}.weight"] = torch.from_numpy(
        np.ascontiguousarray(layers[name]["kernel"].transpose(3, 2, 0, 1)))
    state[f"features.{idx}.bias"] = torch.from_numpy(layers[name]["bias"])
  state["classifier.0.weight"] = torch.zeros(4, 3)  # ignored
  torch.save(state, tmp_path / "vgg19-dcbbb3c5.pth")
  variables, prep = vw.load_vgg19_weights(tmp_path / "vgg19-dcbbb3c5.pth")
  assert prep == "torch"
  _assert_same_layers(variables, layers)


@pytest.mark.parametrize("suffix,module", [(".h5", "h5py"), (".pth", "torch")])
def test_missing_reader_library_is_named(tmp_path, monkeypatch, suffix, module):
  monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
  (tmp_path / f"w{suffix}").write_bytes(b"")
  with pytest.raises(vw.WeightsError, match=f"needs the '{module}' package"):
    vw.load_vgg19_weights(tmp_path / f"w{suffix}")


if __name__ == "__main__":
  absltest.main()
