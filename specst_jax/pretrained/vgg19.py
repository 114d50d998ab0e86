"""VGG-19 weights from a user-supplied file (host-side I/O; the net is in models/vgg19.py).

ImageNet weights cannot be downloaded here: the user supplies them.

The standard format of specst-jax is an ``.npz`` with, for each of the 16 layers
``conv1_1 ... conv5_4``, the arrays ``<layer>/kernel`` ``[3, 3, in, out]`` (HWIO)
and ``<layer>/bias`` ``[out]``, plus an optional 0-d string ``preprocessing``
(``"torch"``, ``"caffe_bgr"`` or ``"caffe_rgb"``; see :mod:`specst_jax.models.vgg19`).

Converters for the common published files (each imports its library only when called):
  * Keras ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` (needs ``h5py``), caffe BGR;
  * torchvision ``vgg19-dcbbb3c5.pth`` state dict (needs ``torch``), ImageNet mean/std;
  * MatConvNet ``imagenet-vgg-verydeep-19.mat`` (needs ``scipy``), caffe RGB.
:func:`load_vgg19_weights` picks the reader from the file extension.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from specst_jax import files
from specst_jax.models.vgg19 import BLOCKS, CONV_LAYERS, PREPROCESSINGS, layer_shapes

# Indices of the convolutions in torchvision's ``vgg19().features``.
_TORCH_INDICES = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)


class WeightsError(ValueError):
  """A weights file that is missing, unreadable or of the wrong architecture."""


def validate(layers: dict[str, dict[str, np.ndarray]], source: str) -> None:
  """Checks the 16 VGG-19 layers are present with the right shapes; raises :class:`WeightsError`."""
  shapes = layer_shapes()
  missing = [n for n in CONV_LAYERS if n not in layers]
  if missing:
    raise WeightsError(f"{source}: not VGG-19 weights: missing layers {missing}")
  extra = [n for n in layers if n not in shapes]
  if extra:
    raise WeightsError(f"{source}: not VGG-19 weights: unexpected layers {extra}")
  for name, (k_shape, b_shape) in shapes.items():
    for part, want in (("kernel", k_shape), ("bias", b_shape)):
      got = np.shape(layers[name].get(part))
      if got != want:
        raise WeightsError(f"{source}: {name}/{part} has shape {got}, VGG-19 needs {want}")


def to_flax(layers: dict[str, dict[str, np.ndarray]]) -> dict:
  """``{layer: {kernel, bias}}`` -> Flax variables ``{"params": ...}`` (float32)."""
  return {"params": {n: {p: np.asarray(a, np.float32) for p, a in layers[n].items()}
                     for n in CONV_LAYERS}}


def save_npz(path: str | os.PathLike, layers: dict[str, dict[str, np.ndarray]],
             preprocessing: str = "torch") -> None:
  """Writes the standard ``.npz`` atomically (after :func:`validate`)."""
  validate(layers, str(path))
  if preprocessing not in PREPROCESSINGS:
    raise WeightsError(f"preprocessing must be one of {PREPROCESSINGS}, got {preprocessing!r}")
  arrays = {f"{n}/{p}": np.asarray(a, np.float32) for n, d in layers.items() for p, a in d.items()}
  arrays["preprocessing"] = np.asarray(preprocessing)
  path = Path(path)
  buf = io.BytesIO()
  np.savez(buf, **arrays)
  files.write_bytes(path, buf.getvalue())


def read_npz(path: str | os.PathLike) -> tuple[dict[str, dict[str, np.ndarray]], str]:
  """Reads the standard ``.npz``; returns ``(layers, preprocessing)``."""
  try:
    with np.load(path, allow_pickle=False) as data:
      arrays = {k: data[k] for k in data.files}
  except (OSError, ValueError) as e:
    raise WeightsError(f"{path}: cannot read as .npz: {e}") from e
  preprocessing = str(arrays.pop("preprocessing", "torch"))
  layers: dict[str, dict[str, np.ndarray]] = {}
  for key, a in arrays.items():
    if "/" not in key:
      raise WeightsError(
          f"{path}: unexpected array {key!r} (want '<layer>/kernel', '<layer>/bias')")
    name, part = key.split("/", 1)
    layers.setdefault(name, {})[part] = a
  return layers, preprocessing


def _require(module: str, what: str):
  import importlib
  try:
    return importlib.import_module(module)
  except ImportError as e:
    raise WeightsError(f"reading {what} needs the '{module}' package, which is not installed "
                       f"(pip install {module}), or convert the file to .npz elsewhere") from e


def read_keras_h5(path: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
  """Keras ``vgg19_weights_tf_dim_ordering_tf_kernels(_notop).h5`` (layers ``blockB_convI``)."""
  h5py = _require("h5py", "Keras .h5 weights")
  layers = {}
  with h5py.File(path, "r") as f:
    root = f["model_weights"] if "model_weights" in f else f
    for b, n, _ in BLOCKS:
      for i in range(1, n + 1):
        group_name = f"block{b}_conv{i}"
        if group_name not in root:
          continue
        group = root[group_name]
        names: list[str] = []
        group.visit(names.append)
        arrays = [group[k] for k in names if hasattr(group[k], "shape")]
        kernel = [np.asarray(d) for d in arrays if d.ndim == 4]
        bias = [np.asarray(d) for d in arrays if d.ndim == 1]
        if kernel and bias:
          layers[f"conv{b}_{i}"] = {"kernel": kernel[0], "bias": bias[0]}
  return layers


def read_torch_pth(path: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
  """torchvision ``vgg19-*.pth`` state dict (``features.K.weight [out, in, 3, 3]``)."""
  torch = _require("torch", "torchvision .pth weights")
  state = torch.load(path, map_location="cpu", weights_only=True)
  layers = {}
  for name, idx in zip(CONV_LAYERS, _TORCH_INDICES, strict=True):
    w, b = state.get(f"features.{idx}.weight"), state.get(f"features.{idx}.bias")
    if w is not None and b is not None:
      layers[name] = {"kernel": np.asarray(w.numpy()).transpose(2, 3, 1, 0),
                      "bias": np.asarray(b.numpy())}
  return layers


def read_matconvnet(path: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
  """MatConvNet ``imagenet-vgg-verydeep-19.mat`` (layers named ``convB_I``, kernels HWIO)."""
  sio = _require("scipy.io", "MatConvNet .mat weights")
  data = sio.loadmat(path, squeeze_me=True, struct_as_record=False)
  if "layers" not in data:
    raise WeightsError(f"{path}: no 'layers' entry (not a MatConvNet model)")
  layers = {}
  for layer in np.atleast_1d(data["layers"]):
    name = str(getattr(layer, "name", ""))
    if name in CONV_LAYERS:
      kernel, bias = layer.weights
      shape = np.shape(kernel)[:2] + (-1, np.size(bias))
      layers[name] = {"kernel": np.asarray(kernel).reshape(shape),
                      "bias": np.asarray(bias).reshape(-1)}
  return layers


def load_vgg19_weights(path: str | os.PathLike) -> tuple[dict, str]:
  """Loads VGG-19 weights from ``.npz`` / ``.h5`` / ``.pth`` / ``.mat``.

  Returns:
    ``(variables, preprocessing)``: Flax variables for :class:`VGG19` and the
    input normalisation these weights expect.

  Raises:
    WeightsError: missing file, unknown extension, missing reader library, or
      not VGG-19 (names the file and the first mismatch).
  """
  path = Path(path)
  if not path.is_file():
    raise WeightsError(f"{path}: weights file not found")
  suffix = path.suffix.lower()
  if suffix == ".npz":
    layers, preprocessing = read_npz(path)
  elif suffix in (".h5", ".hdf5"):
    layers, preprocessing = read_keras_h5(path), "caffe_bgr"
  elif suffix in (".pth", ".pt"):
    layers, preprocessing = read_torch_pth(path), "torch"
  elif suffix == ".mat":
    layers, preprocessing = read_matconvnet(path), "caffe_rgb"
  else:
    raise WeightsError(f"{path}: unknown weights format {suffix!r} (want .npz, .h5, .pth or .mat)")
  validate(layers, str(path))
  if preprocessing not in PREPROCESSINGS:
    raise WeightsError(f"{path}: preprocessing {preprocessing!r} not one of {PREPROCESSINGS}")
  return to_flax(layers), preprocessing
