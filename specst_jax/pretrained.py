"""The shipped ESC-50-trained Wyse classifiers (``specst_jax/weights/wyse_esc50*``).

Six files ship (:data:`SHIPPED`): ``unit_db`` (the paper's net on its [0, 1] dB image;
the default, and what style transfer optimises), ``log_mel`` (the paper's net on the most
accurate input measured), ``log_mel_wide`` (the most accurate single model: log-mel, 512
first-layer filters and a 256-unit hidden layer instead of the paper's 32) and three more
seeds of that recipe, ``log_mel_wide_s1`` ... ``_s3``. Together the four are the ensemble
``log_mel_wide_x4`` (:data:`ENSEMBLES`; mean softmax, see ``experiments.evaluate_classifier``). Each
``.msgpack`` (flax.serialization) holds ``params``, the spectral-centroid
class edges fitted on the training folds, and, for standardised representations,
the per-channel ``mean``/``std``; the ``.json`` beside it is its provenance (sample rate,
STFT settings, representation, classes, fold-5 accuracy, config, command, date).
Host-side I/O module.
"""

from __future__ import annotations

import importlib.resources
import json
import os
from pathlib import Path
from typing import Any

import flax.serialization
import numpy as np

from specst_jax.models import wyse
from specst_jax.models.wyse import WyseClassifier

SHIPPED = {"unit_db": "wyse_esc50.msgpack", "log_mel": "wyse_esc50_log_mel.msgpack",
           "log_mel_wide": "wyse_esc50_log_mel_wide.msgpack",
           **{f"log_mel_wide_s{s}": f"wyse_esc50_log_mel_wide_s{s}.msgpack" for s in (1, 2, 3)}}
# Named ensembles of shipped files (seeds 0-3 of one recipe, each selected on its own
# validation split of folds 1-4).
ENSEMBLES = {"log_mel_wide_x4": ("log_mel_wide", "log_mel_wide_s1", "log_mel_wide_s2",
                                 "log_mel_wide_s3")}


def expand_ensembles(names) -> list:
  """``names`` with each :data:`ENSEMBLES` name replaced by its members (others kept)."""
  return [m for n in names for m in ENSEMBLES.get(str(n), (n,))]


def default_weights_path(name: str = "unit_db") -> Path:
  """The file shipped inside the package under ``name`` (a key of :data:`SHIPPED`)."""
  if name not in SHIPPED:
    raise ValueError(f"shipped weights are {sorted(SHIPPED)}, got {name!r}")
  return Path(str(importlib.resources.files("specst_jax") / "weights" / SHIPPED[name]))


def model_from_provenance(provenance: dict[str, Any]) -> WyseClassifier:
  """The module a provenance record's ``config`` describes."""
  config = provenance["config"]
  return wyse.from_model_config(config["model"], aux=config.get("aux_weight", 1.0) > 0)


def load_wyse(path: str | os.PathLike | None = None
              ) -> tuple[WyseClassifier, dict[str, Any], dict[str, Any]]:
  """Loads trained Wyse-classifier weights.

  Args:
    path: a ``.msgpack`` written by :func:`specst_jax.training.export_model`, with
      its ``.json`` provenance beside it, or the name of a shipped file (a key of
      :data:`SHIPPED`); ``None`` loads the shipped ``unit_db`` file.

  Returns:
    ``(module, params, provenance)``: apply with
    ``module.apply({"params": params}, x)`` on ``x [batch, frames, bins]`` in the
    provenance's ``representation`` (for ``unit_db``: dB re the clip max / 80 + 1,
    STFT at ``sr`` with ``n_fft``, ``hop_length``, ``center``). The provenance dict
    also carries ``centroid_edges`` (Hz) and, when the input is standardised,
    ``mean`` and ``std`` (``[channels]`` numpy arrays).

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
  provenance["centroid_edges"] = np.asarray(payload.get("centroid_edges", []))
  if "mean" in payload:
    provenance["mean"], provenance["std"] = np.asarray(payload["mean"]), np.asarray(payload["std"])
  return model_from_provenance(provenance), payload["params"], provenance
