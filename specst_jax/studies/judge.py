"""Judges of a style-transfer result that the optimisation never sees.

* Network-free measures on a fixed log-mel dB (:mod:`specst_jax.measures`): style distance
  (per-band mean/spread, dB), modulation distance (band-envelope modulation spectrum, dB: the
  long-timescale style), content correlation and envelope correlation.
* A second classifier: a shipped ESC-50 model on *another representation* than the net that
  was optimised (default ``log_mel_wide``: log-mel input, trained on folds 1-4; every ESC-50
  clip of the studies is from fold 5). Reported: P(style class) and P(content class) (NaN
  where the clip has no ESC-50 class, e.g. speech).

Host side: audio (numpy) in, numpy out; the JAX parts are jitted once per :class:`Judge`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from specst_jax import measures

DEFAULT_CLASSIFIER = "log_mel_wide"
LOGMEL_HOP = 256
MEASURES = ("style_distance_db", "modulation_distance_db", "content_correlation",
            "envelope_correlation", "p_style_class", "p_content_class")
# Direction of "more style" / "more content" for each measure (+1: higher is more).
MORE_STYLE = {"style_distance_db": -1, "modulation_distance_db": -1, "p_style_class": 1}
MORE_CONTENT = {"content_correlation": 1, "envelope_correlation": 1, "p_content_class": 1}


class Judge:
  """Scores results against their content and style clips.

  Args:
    sr: the audio's sample rate (Hz).
    classifier: a shipped classifier name or weights path for P(class); None: no classifier
      (the P columns are NaN). A missing default file only warns.
  """

  def __init__(self, sr: int, classifier: str | None = DEFAULT_CLASSIFIER):
    self.sr = int(sr)
    self.frame_rate = self.sr / LOGMEL_HOP
    self._lm = jax.jit(functools.partial(measures.logmel_db, sr=self.sr, hop_length=LOGMEL_HOP))
    self.classes: list[str] = []
    self.classifier = None
    self._probs = None
    if classifier:
      self._load(classifier)

  def _load(self, name: str) -> None:
    from specst_jax import pretrained
    from specst_jax.classifier import features as classifier_features
    try:
      module, params, prov = pretrained.load_wyse(name)
    except FileNotFoundError as e:
      from absl import logging
      logging.warning("judge: no classifier %s (%s): P(class) columns are NaN", name, e)
      return
    cfg = classifier_features.FeatureConfig.from_provenance(prov)
    if cfg.sr != self.sr:
      raise ValueError(f"judge: classifier {name} expects {cfg.sr} Hz audio, the study runs at "
                       f"{self.sr} Hz")
    feat = classifier_features.feature_fn(cfg)
    mean, std = prov.get("mean"), prov.get("std")
    n = cfg.n_samples

    @jax.jit
    def probs(y):
      y = y[..., :n]
      y = jnp.pad(y, [(0, 0), (0, n - y.shape[-1])])
      x = feat(y)
      if mean is not None:
        x = (x - jnp.asarray(mean, jnp.float32)) / jnp.asarray(std, jnp.float32)
      return jax.nn.softmax(module.apply({"params": params}, x, train=False)[0], axis=-1)

    self._probs = probs
    self.classes = list(prov["classes"])
    self.classifier = dict(name=name, representation=cfg.representation,
                           train_folds=prov.get("train_folds"),
                           test_accuracy=prov.get("test_accuracy"))

  def logmel(self, y: np.ndarray) -> np.ndarray:
    return np.asarray(self._lm(jnp.asarray(y, jnp.float32)))

  def class_probability(self, y: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """P(``classes[i]``) of clip ``y[i]`` (``[batch, samples]``); NaN for ``""`` / unknown."""
    out = np.full(len(y), np.nan)
    if self._probs is None:
      return out
    p = np.asarray(self._probs(jnp.asarray(y, jnp.float32)))
    for i, c in enumerate(classes):
      if c in self.classes:
        out[i] = p[i, self.classes.index(c)]
    return out

  def score(self, y: np.ndarray, contents: np.ndarray, styles: np.ndarray,
            content_classes: Sequence[str], style_classes: Sequence[str]) -> dict:
    """Every measure of results ``y [batch, samples]`` against their own content / style
    clips ``[batch, samples]`` (same rate): ``{measure: [batch]}``."""
    y = np.asarray(y, np.float32)
    lm, lm_c, lm_s = self.logmel(y), self.logmel(contents), self.logmel(styles)
    return dict(
        style_distance_db=np.asarray(measures.style_distance(lm, lm_s)),
        modulation_distance_db=np.asarray(
            measures.modulation_distance(lm, lm_s, frame_rate=self.frame_rate)),
        content_correlation=np.asarray(measures.content_correlation(lm, lm_c)),
        envelope_correlation=np.asarray(measures.envelope_correlation(lm, lm_c)),
        p_style_class=self.class_probability(y, style_classes),
        p_content_class=self.class_probability(y, content_classes))
