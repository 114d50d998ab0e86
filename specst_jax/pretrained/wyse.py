"""Trained Wyse-classifier weights: the file format, its provenance schema, export and load.

A weights file is a ``.msgpack`` (flax.serialization) holding ``params``, the spectral-centroid
class edges fitted on the training clips (``centroid_edges``, Hz) and, for standardised inputs,
the per-channel ``mean``/``std``; the ``.json`` beside it is its provenance: classes, folds,
selected epoch and accuracies, the training ``config`` (the command, date and machine too).

Provenance schema: the feature settings (representation, ``sr``, ``n_fft``, ``hop_length``,
``center``, ``n_mels``, ``n_mfcc``, ``deltas``, ``top_db``) are stored ONCE, in
``config["features"]``, and every caller reads them through :func:`feature_settings`. Files
written before this schema (the shipped ones) also carry top-level copies of ``sr``, ``n_fft``,
``hop_length``, ``center`` and ``representation``; :func:`feature_settings` accepts them and
checks that they agree with ``config["features"]``.

Six files ship (:data:`SHIPPED`): ``unit_db`` (the paper's net on its [0, 1] dB image; the
default, and what style transfer optimises), ``log_mel`` (the paper's net on the most accurate
input measured), ``log_mel_wide`` (the most accurate single model: log-mel, 512 first-layer
filters and a 256-unit hidden layer instead of the paper's 32) and three more seeds of that
recipe, ``log_mel_wide_s1`` ... ``_s3``. Together the four are the ensemble ``log_mel_wide_x4``
(:data:`ENSEMBLES`; mean softmax, see :mod:`specst_jax.classifier.evaluate`).
Host-side I/O module.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import flax.serialization
import numpy as np

from specst_jax import files, models, representations
from specst_jax.models.wyse import WyseClassifier

SHIPPED = {"unit_db": "wyse_esc50.msgpack", "log_mel": "wyse_esc50_log_mel.msgpack",
           "log_mel_wide": "wyse_esc50_log_mel_wide.msgpack",
           **{f"log_mel_wide_s{s}": f"wyse_esc50_log_mel_wide_s{s}.msgpack" for s in (1, 2, 3)}}
# Named ensembles of shipped files (seeds 0-3 of one recipe, each selected on its own
# validation split of folds 1-4).
ENSEMBLES = {"log_mel_wide_x4": ("log_mel_wide", "log_mel_wide_s1", "log_mel_wide_s2",
                                 "log_mel_wide_s3")}
# The feature settings a provenance records (in ``config["features"]``), with the defaults of
# files that predate a setting.
FEATURE_KEYS = ("representation", "sr", "n_fft", "hop_length", "center", "n_mels", "n_mfcc",
                "deltas", "top_db")
# Top-level copies that files written before the one-schema provenance also carry.
_LEGACY_COPIES = ("representation", "sr", "n_fft", "hop_length", "center")
RANDOM = "random"


def expand_ensembles(names) -> list:
  """``names`` with each :data:`ENSEMBLES` name replaced by its members (others kept)."""
  return [m for n in names for m in ENSEMBLES.get(str(n), (n,))]


def default_weights_path(name: str = "unit_db") -> Path:
  """The file shipped inside the package under ``name`` (a key of :data:`SHIPPED`)."""
  if name not in SHIPPED:
    raise ValueError(f"shipped weights are {sorted(SHIPPED)}, got {name!r}")
  return Path(str(importlib.resources.files("specst_jax") / "weights" / SHIPPED[name]))


def feature_settings(provenance: Mapping[str, Any]) -> dict[str, Any]:
  """The feature settings of a weights file: the one reader of the provenance schema.

  Returns:
    ``{key: value for key in FEATURE_KEYS}`` from ``provenance["config"]["features"]``.

  Raises:
    ValueError: no ``config.features`` section, a missing setting, or (files of the older
      schema) a top-level copy that disagrees with it.
  """
  features = (provenance.get("config") or {}).get("features")
  if not isinstance(features, Mapping):
    raise ValueError("weights provenance has no config.features section")
  missing = [k for k in FEATURE_KEYS if k not in features]
  if missing:
    raise ValueError(f"weights provenance config.features lacks {missing}")
  out = {k: features[k] for k in FEATURE_KEYS}
  for k in _LEGACY_COPIES:
    if k in provenance and provenance[k] != out[k]:
      raise ValueError(f"weights provenance: {k}={provenance[k]!r} at the top level but "
                       f"{out[k]!r} in config.features")
  return out


def model_from_provenance(provenance: Mapping[str, Any]
                          ) -> WyseClassifier | models.Conv2DClassifier:
  """The module a provenance record's ``config`` describes (``model.architecture``)."""
  config = provenance["config"]
  return models.classifier_from_config(config["model"], aux=config.get("aux_weight", 1.0) > 0)


def export_wyse(path: str | os.PathLike, params, provenance: Mapping[str, Any], *,
                centroid_edges: np.ndarray, mean: np.ndarray | None = None,
                std: np.ndarray | None = None) -> Path:
  """Writes ``path`` (msgpack: params, centroid edges, normaliser) and its ``.json``
  provenance, each atomically (:mod:`specst_jax.files`).

  Raises:
    ValueError: the provenance's feature settings are incomplete (:func:`feature_settings`).
  """
  feature_settings(provenance)
  payload = {"params": params, "centroid_edges": np.asarray(centroid_edges, np.float32)}
  if mean is not None:
    payload["mean"], payload["std"] = np.asarray(mean), np.asarray(std)
  path = Path(path)
  files.write_bytes(path, flax.serialization.msgpack_serialize(payload))
  files.write_text(path.with_suffix(".json"), json.dumps(provenance, indent=2, default=str) + "\n")
  return path


def load_wyse(path: str | os.PathLike | None = None
              ) -> tuple[WyseClassifier, dict[str, Any], dict[str, Any]]:
  """Loads trained Wyse-classifier weights.

  Args:
    path: a ``.msgpack`` written by :func:`export_wyse`, with its ``.json`` provenance beside
      it, or the name of a shipped file (a key of :data:`SHIPPED`); ``None`` loads the
      shipped ``unit_db`` file.

  Returns:
    ``(module, params, provenance)``: apply with ``module.apply({"params": params}, x)`` on
    ``x [batch, frames, channels]`` in the representation :func:`feature_settings` names.
    The provenance dict also carries ``centroid_edges`` (Hz) and, when the input is
    standardised, ``mean`` and ``std`` (``[channels]`` numpy arrays).

  Raises:
    FileNotFoundError: the weights or provenance file is missing.
    ValueError: the file is not a weights file of this format.
  """
  if path is None or str(path) in SHIPPED:
    path = default_weights_path(str(path or "unit_db"))
  path = Path(path)
  meta_path = path.with_suffix(".json")
  for p in (path, meta_path):
    if not p.is_file():
      raise FileNotFoundError(f"{p}: no such weights file")
  try:
    payload = flax.serialization.msgpack_restore(path.read_bytes())
    provenance = json.loads(meta_path.read_text())
  except (ValueError, TypeError) as e:
    raise ValueError(f"{path}: not a specst-jax weights file ({e})") from None
  if not isinstance(payload, dict) or "params" not in payload or "config" not in provenance:
    raise ValueError(f"{path}: not a specst-jax weights file (no params or config)")
  try:
    feature_settings(provenance)
  except ValueError as e:
    raise ValueError(f"{meta_path}: {e}") from None
  provenance["centroid_edges"] = np.asarray(payload.get("centroid_edges", []))
  if "mean" in payload:
    provenance["mean"], provenance["std"] = np.asarray(payload["mean"]), np.asarray(payload["std"])
  return model_from_provenance(provenance), payload["params"], provenance


@dataclasses.dataclass(frozen=True)
class WyseBundle:
  """Trained Wyse weights, ready to use on spectrograms (style transfer, scoring).

  Attributes:
    module: the classifier (``module.apply({"params": params}, x, heads=False)`` for features).
    params: its ``params`` collection.
    provenance: the weights' provenance (with ``centroid_edges``, ``mean``, ``std``).
    mean, std: per-channel standardisation ``[channels]`` of the input, or None.
    stft: the STFT the weights were trained with (:class:`specst_jax.representations.Stft`).
    representation: the input's name in :data:`specst_jax.representations.REPRESENTATIONS`.
    options: the representation's options (:class:`specst_jax.representations.Options`).
    label: a short description for logs and reports, e.g. ``"trained (log_mel)"``.
  """

  module: WyseClassifier
  params: Any
  provenance: dict[str, Any]
  mean: np.ndarray | None
  std: np.ndarray | None
  stft: representations.Stft
  representation: str
  options: representations.Options
  label: str


def bundle_from_loaded(loaded: tuple[WyseClassifier, Any, dict[str, Any]], label: str
                       ) -> WyseBundle:
  """A :class:`WyseBundle` of :func:`load_wyse`'s result."""
  module, params, prov = loaded
  settings = feature_settings(prov)
  options = representations.Options(**{f.name: settings[f.name]
                                        for f in dataclasses.fields(representations.Options)})
  return WyseBundle(module=module, params=params, provenance=prov, mean=prov.get("mean"),
                    std=prov.get("std"), stft=representations.Stft.from_dict(settings),
                    representation=settings["representation"], options=options, label=label)


def load_wyse_bundle(name_or_path: str | os.PathLike | None = None, *,
                     warn: Callable[[str], None] | None = None) -> WyseBundle | None:
  """Trained Wyse weights for a ``--weights``-style argument, with the one fallback rule.

  Args:
    name_or_path: ``"random"`` (returns None: the caller draws random weights), a shipped
      name (:data:`SHIPPED`) or a ``.msgpack`` path (errors raise), or ``None`` / ``""``: the
      shipped ``unit_db`` file, and None (after ``warn``) when it is not installed.
    warn: called with one line when the default file is missing (default: absl's warning).

  Raises:
    FileNotFoundError: an explicitly named file is missing.
    ValueError: an explicitly named file is not a weights file, or holds another net than the
      paper's (a :class:`~specst_jax.models.conv2d.Conv2DClassifier` classifies but has no
      frequency-as-channels layers for style transfer or Figure 1).
  """
  if str(name_or_path) == RANDOM:
    return None
  if name_or_path:
    loaded = load_wyse(name_or_path)
    if not isinstance(loaded[0], WyseClassifier):
      raise ValueError(f"{name_or_path}: holds a {type(loaded[0]).__name__}, not the paper's "
                       "1-D net (WyseClassifier) that style transfer and Figure 1 use")
    return bundle_from_loaded(loaded, f"trained ({name_or_path})")
  try:
    loaded = load_wyse()
  except FileNotFoundError as e:
    if warn is None:
      from absl import logging
      warn = logging.warning
    warn(f"no shipped Wyse weights ({e}): using RANDOM Wyse weights")
    return None
  return bundle_from_loaded(loaded, "trained (shipped)")
