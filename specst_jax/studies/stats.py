"""Paired comparisons across content/style pairs: bootstrap intervals, effect sizes, verdicts.

A claim such as "trained weights give more style than random ones" is tested on paired
differences: per pair, the measure under condition A minus the measure under condition B,
with the seeds of a pair averaged first (seeds are repeats of one pair, not new pairs). The
mean difference gets a percentile bootstrap 95 % interval over pairs (resampling pairs with
replacement, numpy only, seeded), an effect size ``d_z = mean / sd`` of the differences
(Cohen's d for paired samples), and a verdict that follows mechanically from the interval:

* ``"supported"``: the interval lies entirely on the side of 0 the claim predicts;
* ``"contradicted"``: it lies entirely on the other side;
* ``"undecided"``: it contains 0, or there are fewer than :data:`MIN_PAIRS` pairs (a percentile
  bootstrap over 2-5 values is far too narrow to decide anything), or values are missing.

For the pre-registered claims, which must hold at small n (about 13 pairs), a second route:
:func:`t_test` (two-sided one-sample Student t test on the per-pair differences, with the t
interval), :func:`holm` (Holm's step-down adjustment within a family of claims) and
:func:`decide` (the verdict from the adjusted p and the sign of the mean). The Student t CDF and
quantile are computed here (regularised incomplete beta by its continued fraction, quantile by
bisection): scipy is a test requirement only.

Host-side numpy (no JAX): the numbers come from finished runs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Hashable, Sequence

import numpy as np

VERDICTS = ("supported", "contradicted", "undecided")
DEFAULT_RESAMPLES = 10000
MIN_PAIRS = 6


@dataclasses.dataclass(frozen=True)
class Comparison:
  """A paired comparison of one measure between two conditions.

  Attributes:
    mean: mean over pairs of the per-pair difference (A - B).
    low, high: the bootstrap interval of ``mean`` (``confidence``, percentile method).
    sd: standard deviation (ddof 1) of the per-pair differences.
    effect_size: ``mean / sd`` (paired Cohen's d, ``d_z``); NaN when ``sd`` is 0 or n < 2.
    n_pairs: pairs with a finite difference.
    predicted_sign: +1 if the claim predicts A > B, -1 if A < B.
    verdict: one of :data:`VERDICTS`.
    differences: the per-pair differences (seeds averaged), in pair order.
    confidence: the interval's coverage (0.95).
  """

  mean: float
  low: float
  high: float
  sd: float
  effect_size: float
  n_pairs: int
  predicted_sign: int
  verdict: str
  differences: tuple[float, ...]
  confidence: float = 0.95

  def as_dict(self) -> dict:
    d = dataclasses.asdict(self)
    d["differences"] = list(self.differences)
    return d


def pair_means(values: Sequence[float], pairs: Sequence[Hashable]
               ) -> tuple[list[Hashable], np.ndarray]:
  """Averages the seeds of each pair: ``(pair ids in first-seen order, means [n_pairs])``.

  Non-finite values are left out of their pair's mean (a pair with none left is NaN).
  """
  values = np.asarray(values, np.float64).ravel()
  if len(values) != len(pairs):
    raise ValueError(f"pair_means: {len(values)} values but {len(pairs)} pair ids")
  ids = list(dict.fromkeys(pairs))
  out = np.full(len(ids), np.nan)
  for i, p in enumerate(ids):
    v = values[[j for j, q in enumerate(pairs) if q == p]]
    v = v[np.isfinite(v)]
    if v.size:
      out[i] = v.mean()
  return ids, out


def bootstrap_interval(x: Sequence[float], *, confidence: float = 0.95,
                       n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0
                       ) -> tuple[float, float]:
  """Percentile bootstrap interval of the mean of ``x`` (resampled with replacement).

  Args:
    x: one value per pair ``[n]`` (finite).
    confidence: coverage, in (0, 1).
    n_resamples: bootstrap resamples.
    seed: seed of ``numpy.random.default_rng``.

  Returns:
    ``(low, high)``; ``(nan, nan)`` for fewer than 2 values.
  """
  x = np.asarray(x, np.float64).ravel()
  if not 0.0 < confidence < 1.0:
    raise ValueError(f"confidence must be in (0, 1), got {confidence}")
  if n_resamples < 1:
    raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
  if not np.all(np.isfinite(x)):
    raise ValueError("bootstrap_interval: values must be finite")
  if x.size < 2:
    return float("nan"), float("nan")
  rng = np.random.default_rng(seed)
  means = x[rng.integers(0, x.size, size=(n_resamples, x.size))].mean(axis=1)
  alpha = (1.0 - confidence) / 2
  low, high = np.quantile(means, [alpha, 1.0 - alpha])
  return float(low), float(high)


def verdict(low: float, high: float, predicted_sign: int, n_pairs: int = MIN_PAIRS) -> str:
  """``"supported"`` / ``"contradicted"`` / ``"undecided"`` from an interval and the sign the
  claim predicts (+1: difference > 0, -1: difference < 0); undecided below :data:`MIN_PAIRS`."""
  if predicted_sign not in (1, -1):
    raise ValueError(f"predicted_sign must be +1 or -1, got {predicted_sign}")
  if n_pairs < MIN_PAIRS or not (np.isfinite(low) and np.isfinite(high)):
    return "undecided"
  if predicted_sign * low > 0 and predicted_sign * high > 0:
    return "supported"
  if predicted_sign * low < 0 and predicted_sign * high < 0:
    return "contradicted"
  return "undecided"


def compare(a: Sequence[float], b: Sequence[float], pairs: Sequence[Hashable], *,
            predicted_sign: int, b_pairs: Sequence[Hashable] | None = None,
            confidence: float = 0.95, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0
            ) -> Comparison:
  """Paired comparison of condition A (values ``a``) against B (``b``) over pairs.

  Args:
    a, b: one value per item (pair x seed) of each condition.
    pairs: the pair id of each item of ``a``; ``b_pairs`` those of ``b`` (default ``pairs``).
      Seeds are averaged within a pair before the difference is taken, so the conditions may
      have different seed counts (e.g. a deterministic condition run once).
    predicted_sign: +1 if the claim predicts A > B, -1 if A < B.

  Returns:
    a :class:`Comparison` over the pairs both conditions have (finite values only).
  """
  ids_a, m_a = pair_means(a, pairs)
  ids_b, m_b = pair_means(b, pairs if b_pairs is None else b_pairs)
  b_of = dict(zip(ids_b, m_b, strict=True))
  d = np.asarray([m - b_of[p] for p, m in zip(ids_a, m_a, strict=True) if p in b_of])
  return summarize(d[np.isfinite(d)], predicted_sign=predicted_sign, confidence=confidence,
                   n_resamples=n_resamples, seed=seed)


def summarize(differences: Sequence[float], *, predicted_sign: int, confidence: float = 0.95,
              n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> Comparison:
  """A :class:`Comparison` of per-pair differences already taken (one finite value per pair)."""
  d = np.asarray(differences, np.float64).ravel()
  low, high = bootstrap_interval(d, confidence=confidence, n_resamples=n_resamples, seed=seed)
  n = int(d.size)
  mean = float(d.mean()) if n else float("nan")
  sd = float(d.std(ddof=1)) if n >= 2 else float("nan")
  effect = mean / sd if n >= 2 and sd > 0 else float("nan")
  return Comparison(mean=mean, low=low, high=high, sd=sd, effect_size=effect, n_pairs=n,
                    predicted_sign=int(predicted_sign),
                    verdict=verdict(low, high, predicted_sign, n),
                    differences=tuple(float(v) for v in d), confidence=confidence)


def slopes(x: Sequence[float], values: np.ndarray) -> np.ndarray:
  """Least-squares slope of each row of ``values [n_pairs, len(x)]`` against ``x`` (a trend
  per pair, e.g. a distance against log2 channels); NaN rows give NaN."""
  x = np.asarray(x, np.float64)
  values = np.asarray(values, np.float64)
  if values.ndim != 2 or values.shape[1] != x.size or x.size < 2:
    raise ValueError(f"slopes: values must be [n_pairs, {x.size}] with >= 2 points, "
                     f"got {values.shape}")
  xc = x - x.mean()
  return (values - values.mean(axis=1, keepdims=True)) @ xc / np.sum(xc * xc)


def markdown_table(rows: Sequence[tuple[str, str, Comparison]], *, digits: int = 3) -> str:
  """``(claim, measure, comparison)`` rows as a markdown table (mean, interval, d_z, verdict)."""
  f = f"{{:.{digits}g}}"
  lines = ["| claim | measure (A - B) | n pairs | mean difference | 95 % interval | d_z | "
           "predicted | verdict |", "|---|---|---|---|---|---|---|---|"]
  for claim, measure, c in rows:
    sign = "> 0" if c.predicted_sign > 0 else "< 0"
    lines.append(f"| {claim} | {measure} | {c.n_pairs} | {f.format(c.mean)} | "
                 f"[{f.format(c.low)}, {f.format(c.high)}] | {f.format(c.effect_size)} | "
                 f"{sign} | **{c.verdict}** |")
  return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------ t test and Holm

ALPHA = 0.05


def betainc(a: float, b: float, x: float) -> float:
  """The regularised incomplete beta function ``I_x(a, b)`` (``a, b > 0``, ``x`` in [0, 1]).

  Continued fraction (modified Lentz), on the side of ``x`` where it converges fast (the
  symmetry ``I_x(a, b) = 1 - I_{1-x}(b, a)`` otherwise); relative error ~1e-14.
  """
  if not (a > 0 and b > 0):
    raise ValueError(f"betainc: a and b must be positive, got a={a}, b={b}")
  if not 0.0 <= x <= 1.0:
    raise ValueError(f"betainc: x must be in [0, 1], got {x}")
  if x in (0.0, 1.0):
    return float(x)
  if x > (a + 1.0) / (a + b + 2.0):
    return 1.0 - betainc(b, a, 1.0 - x)
  log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x)
               + b * math.log1p(-x))
  return math.exp(log_front) * _beta_fraction(a, b, x) / a


def _beta_fraction(a: float, b: float, x: float, *, eps: float = 1e-15,
                   max_terms: int = 10000) -> float:
  tiny = 1e-300
  c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
  d = 1.0 / (d if abs(d) > tiny else tiny)
  h = d
  for m in range(1, max_terms + 1):
    for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
      d = 1.0 + num * d
      d = 1.0 / (d if abs(d) > tiny else tiny)
      c = 1.0 + num / c
      c = c if abs(c) > tiny else tiny
      h *= d * c
    if abs(d * c - 1.0) < eps:
      return h
  raise ArithmeticError(f"betainc: no convergence for a={a}, b={b}, x={x}")


def _check_df(df: float) -> None:
  if not df > 0:
    raise ValueError(f"degrees of freedom must be positive, got {df}")


def t_two_sided_p(t: float, df: float) -> float:
  """``P(|T| >= |t|)`` for Student's t with ``df`` degrees of freedom."""
  _check_df(df)
  if math.isinf(t):
    return 0.0
  return betainc(df / 2.0, 0.5, df / (df + t * t))


def t_cdf(t: float, df: float) -> float:
  """``P(T <= t)`` for Student's t with ``df`` degrees of freedom."""
  tail = 0.5 * t_two_sided_p(t, df)
  return 1.0 - tail if t > 0 else tail


def t_quantile(q: float, df: float) -> float:
  """The ``q`` quantile of Student's t (``q`` in (0, 1)): bisection on :func:`t_cdf` to a
  relative width of 1e-13."""
  _check_df(df)
  if not 0.0 < q < 1.0:
    raise ValueError(f"t_quantile: q must be in (0, 1), got {q}")
  if q == 0.5:
    return 0.0
  if q < 0.5:
    return -t_quantile(1.0 - q, df)
  lo, hi = 0.0, 1.0
  while t_cdf(hi, df) < q:
    lo, hi = hi, 2.0 * hi
  while hi - lo > 1e-13 * hi:
    mid = 0.5 * (lo + hi)
    lo, hi = (mid, hi) if t_cdf(mid, df) < q else (lo, mid)
  return 0.5 * (lo + hi)


@dataclasses.dataclass(frozen=True)
class TTest:
  """A two-sided one-sample t test of ``mean == 0`` over per-pair differences.

  Attributes:
    mean: mean of the differences.
    low, high: the t interval of the mean (``confidence``); NaN for n < 2.
    sd: their standard deviation (ddof 1).
    t, df: the statistic ``mean / (sd / sqrt(n))`` and ``n - 1``.
    p: two-sided p value (NaN for n < 2; 0 or 1 when ``sd`` is 0).
    n: finite differences used.
    confidence: the interval's coverage.
  """

  mean: float
  low: float
  high: float
  sd: float
  t: float
  df: int
  p: float
  n: int
  confidence: float = 0.95


def t_test(differences: Sequence[float], *, confidence: float = 0.95) -> TTest:
  """The t test and t interval of the finite entries of ``differences`` (one per pair)."""
  if not 0.0 < confidence < 1.0:
    raise ValueError(f"confidence must be in (0, 1), got {confidence}")
  d = np.asarray(differences, np.float64).ravel()
  d = d[np.isfinite(d)]
  n = int(d.size)
  nan = float("nan")
  if n < 2:
    return TTest(float(d.mean()) if n else nan, nan, nan, nan, nan, max(n - 1, 0), nan, n,
                 confidence)
  mean, sd = float(d.mean()), float(d.std(ddof=1))
  se = sd / math.sqrt(n)
  if se == 0.0:
    t = 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
    return TTest(mean, mean, mean, sd, t, n - 1, 1.0 if mean == 0.0 else 0.0, n, confidence)
  t = mean / se
  half = t_quantile(0.5 + confidence / 2.0, n - 1) * se
  return TTest(mean, mean - half, mean + half, sd, t, n - 1, t_two_sided_p(t, n - 1), n,
               confidence)


def holm(p_values: Sequence[float]) -> np.ndarray:
  """Holm's step-down adjusted p values of one family (same order as given).

  Sorted ascending, ``p_(i)`` becomes ``max_{j <= i} min(1, (m - j) p_(j))`` (``j`` from 0).
  A NaN p (a claim that could not be tested) counts as 1 in the family and stays NaN.
  """
  p = np.asarray(p_values, np.float64).ravel()
  if np.any((p < 0) | (p > 1)):
    raise ValueError(f"holm: p values must be in [0, 1], got {p}")
  filled = np.where(np.isfinite(p), p, 1.0)
  m = filled.size
  order = np.argsort(filled, kind="stable")
  steps = np.minimum(1.0, (m - np.arange(m)) * filled[order])
  out = np.empty(m)
  out[order] = np.maximum.accumulate(steps)
  return np.where(np.isfinite(p), out, np.nan)


def decide(mean: float, p_adjusted: float, predicted_sign: int, *, alpha: float = ALPHA) -> str:
  """The mechanical verdict: ``"supported"`` when ``p_adjusted < alpha`` and ``mean`` has the
  predicted sign (+1: > 0, -1: < 0), ``"contradicted"`` when ``p_adjusted < alpha`` with the
  other sign, else ``"undecided"`` (NaNs included)."""
  if predicted_sign not in (1, -1):
    raise ValueError(f"predicted_sign must be +1 or -1, got {predicted_sign}")
  if not (np.isfinite(mean) and np.isfinite(p_adjusted)) or p_adjusted >= alpha or mean == 0:
    return "undecided"
  return "supported" if predicted_sign * mean > 0 else "contradicted"
