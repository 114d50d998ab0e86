"""The second single-net attempt (issue 18): the study's recipe, distilled from an ensemble.

Pre-registered before any of its runs (WORKSPACE.md).
``--config=experiments/configs/distilled.py[:REP]``: the representation study's recipe
(``experiments/configs/representation_study.py``: the 512-filter net, hop 512, mixup + masks,
no auxiliary head, 256-unit hidden layer, 60 epochs, whole-recording validation, no test during
training) with one change: the training targets are ``0.3 * onehot(label) + 0.7 * teacher``,
where ``teacher`` is the mean softmax of three of the study's finished runs on the same split
(same training folds and seed, so the same validation clips, which no teacher has seen): its
three inputs with the highest mean validation accuracy (log_mel_deltas 63.78 %, logfreq
62.84 %, log_mel 62.16 %). See :mod:`specst_jax.classifier.distill`.

  python -m experiments.crossval_classifier \
      --config=experiments/configs/distilled.py:log_mel_deltas --seeds=0 \
      --workdir=experiments/results/distilled/log_mel_deltas

The teachers' weights (``best.msgpack``) are kept only on the machine that trained them;
each student run keeps its ``teacher_targets.npz``, so it can be resumed or re-scored anywhere.
"""

import ml_collections

from experiments.configs import representation_study

STUDY = "experiments/results/representation_study"
TEACHERS = tuple(f"{STUDY}/{rep}/fold{{fold}}_seed{{seed}}"
                 for rep in ("log_mel_deltas", "logfreq", "log_mel"))
TEACHER_WEIGHT = 0.7


def get_config(arg: str = "log_mel_deltas") -> ml_collections.ConfigDict:
  c = representation_study.get_config(arg or "log_mel_deltas")
  c.distill = ml_collections.ConfigDict(dict(teachers=TEACHERS, weight=TEACHER_WEIGHT))
  return c
