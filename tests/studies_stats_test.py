"""Paired statistics of the studies against scipy and hand-made cases that must decide."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from specst_jax.studies import stats


def test_bootstrap_interval_matches_scipy_percentile():
  """Same data, percentile method: endpoints within 10 % of the mean's standard error (the
  two Monte Carlo draws differ; 20000 resamples each)."""
  rng = np.random.default_rng(3)
  for n, loc in ((12, 0.4), (30, -1.0)):
    x = rng.normal(loc, 1.0, n)
    low, high = stats.bootstrap_interval(x, n_resamples=20000, seed=1)
    ref = scipy_stats.bootstrap((x,), np.mean, method="percentile", n_resamples=20000,
                                confidence_level=0.95, random_state=np.random.default_rng(2))
    se = x.std(ddof=1) / np.sqrt(n)
    assert abs(low - ref.confidence_interval.low) < 0.1 * se
    assert abs(high - ref.confidence_interval.high) < 0.1 * se
    assert low < x.mean() < high


def test_seeded_and_deterministic():
  x = np.random.default_rng(0).normal(size=9)
  assert stats.bootstrap_interval(x, seed=5) == stats.bootstrap_interval(x, seed=5)
  assert stats.bootstrap_interval(x, seed=5) != stats.bootstrap_interval(x, seed=6)


def test_seeds_are_averaged_within_a_pair_first():
  # Pair p0 has 3 seeds, p1 one: the pair means are 2 and 10, not the item means.
  a = [1.0, 2.0, 3.0, 10.0]
  ids, means = stats.pair_means(a, ["p0", "p0", "p0", "p1"])
  assert ids == ["p0", "p1"]
  np.testing.assert_allclose(means, [2.0, 10.0])
  # B ran once per pair (deterministic condition), A three times: differences per pair.
  c = stats.compare(a, [0.0, 4.0], ["p0", "p0", "p0", "p1"], b_pairs=["p0", "p1"],
                    predicted_sign=1)
  np.testing.assert_allclose(c.differences, [2.0, 6.0])
  assert c.n_pairs == 2 and c.mean == 4.0
  np.testing.assert_allclose(c.effect_size, 4.0 / np.std([2.0, 6.0], ddof=1))


def _pairs(n, seeds=3):
  return [f"p{i}" for i in range(n) for _ in range(seeds)]


def test_verdicts_supported_contradicted_undecided():
  rng = np.random.default_rng(0)
  ids = _pairs(12)
  b = rng.normal(0, 1, 36)
  clear = b + 1.0 + rng.normal(0, 0.2, 36)      # A > B for every pair
  assert stats.compare(clear, b, ids, predicted_sign=1).verdict == "supported"
  assert stats.compare(clear, b, ids, predicted_sign=-1).verdict == "contradicted"
  noise = b + rng.normal(0, 1.0, 36)              # no effect: the interval straddles 0
  c = stats.compare(noise, b, ids, predicted_sign=1)
  assert c.low < 0 < c.high and c.verdict == "undecided"
  # Too few pairs to decide anything.
  one = stats.compare([5.0, 6.0], [0.0, 0.0], ["p0", "p0"], predicted_sign=1)
  assert one.n_pairs == 1 and one.verdict == "undecided" and np.isnan(one.low)
  few = stats.summarize([5.0, 6.0, 5.5, 6.2, 5.1], predicted_sign=1)  # 5 < MIN_PAIRS
  assert few.low > 0 and few.verdict == "undecided"
  assert stats.summarize([5.0, 6.0, 5.5, 6.2, 5.1, 5.7], predicted_sign=1).verdict == "supported"


def test_missing_values_are_dropped_per_pair():
  c = stats.compare([1.0, np.nan, 3.0, 3.0], [0.0, 0.0, 0.0, 0.0], ["a", "a", "b", "b"],
                    predicted_sign=1)
  np.testing.assert_allclose(c.differences, [1.0, 3.0])


def test_verdict_rule():
  assert stats.verdict(0.1, 0.5, 1) == "supported"
  assert stats.verdict(-0.5, -0.1, 1) == "contradicted"
  assert stats.verdict(-0.5, -0.1, -1) == "supported"
  assert stats.verdict(-0.1, 0.5, 1) == "undecided"
  assert stats.verdict(0.0, 0.5, 1) == "undecided"   # touching 0 is not excluding it
  assert stats.verdict(float("nan"), 1.0, 1) == "undecided"
  with pytest.raises(ValueError, match="predicted_sign"):
    stats.verdict(0.1, 0.2, 0)


def test_slopes_match_numpy_polyfit():
  rng = np.random.default_rng(4)
  x = np.log2([256, 512, 1024, 2048, 4096])
  v = rng.normal(0, 1, (6, 5)) + 0.3 * x
  want = [np.polyfit(x, row, 1)[0] for row in v]
  np.testing.assert_allclose(stats.slopes(x, v), want, rtol=1e-10)
  with pytest.raises(ValueError, match="slopes"):
    stats.slopes(x, v[:, :3])


def test_bad_input_is_named():
  with pytest.raises(ValueError, match="pair ids"):
    stats.pair_means([1.0, 2.0], ["a"])
  with pytest.raises(ValueError, match="confidence"):
    stats.bootstrap_interval([1.0, 2.0], confidence=1.5)
  with pytest.raises(ValueError, match="finite"):
    stats.bootstrap_interval([1.0, np.inf])


def test_markdown_table():
  c = stats.summarize([1.0, 2.0, 3.0, 1.0, 2.0, 3.0], predicted_sign=1)
  md = stats.markdown_table([("trained > random", "style distance", c)])
  assert "| trained > random | style distance | 6 | 2 |" in md and "**supported**" in md


# ------------------------------------------------------------------- t test and Holm (twins)

DFS = (1, 2, 3, 5, 12, 30, 1000)
T_VALUES = (-40.0, -3.0, -1.0, -0.1, 0.0, 0.5, 2.179, 4.0, 100.0)


@pytest.mark.parametrize("df", DFS)
def test_t_cdf_and_p_match_scipy(df):
  """CDF within 1e-12 absolute; two-sided p within 1e-9 relative (down to p ~ 1e-300)."""
  for t in T_VALUES:
    assert abs(stats.t_cdf(t, df) - scipy_stats.t.cdf(t, df)) < 1e-12, t
    want = 2 * scipy_stats.t.sf(abs(t), df)
    np.testing.assert_allclose(stats.t_two_sided_p(t, df), want, rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize("df", DFS)
def test_t_quantile_matches_scipy(df):
  """Within 1e-9 relative (bisection to 1e-13 of the bracket)."""
  for q in (1e-6, 0.025, 0.3, 0.5, 0.9, 0.975, 0.999999):
    np.testing.assert_allclose(stats.t_quantile(q, df), scipy_stats.t.ppf(q, df), rtol=1e-9,
                               atol=1e-12)


def test_betainc_matches_scipy():
  from scipy import special
  for a, b, x in ((0.5, 0.5, 0.3), (6.0, 0.5, 0.9), (500.0, 0.5, 0.999), (2.0, 3.0, 0.01),
                  (0.5, 6.0, 0.99)):
    np.testing.assert_allclose(stats.betainc(a, b, x), special.betainc(a, b, x), rtol=1e-12)


@pytest.mark.parametrize("n,loc", [(3, 0.0), (6, 0.5), (13, -0.3), (13, 2.0)])
def test_t_test_matches_scipy_ttest_1samp(n, loc):
  """p within 1e-9 relative, interval endpoints within 1e-9 of scipy's."""
  x = np.random.default_rng(n).normal(loc, 1.0, n)
  got = stats.t_test(np.r_[x, np.nan])  # NaNs are left out
  ref = scipy_stats.ttest_1samp(x, 0.0)
  ci = ref.confidence_interval(0.95)
  assert got.n == n and got.df == n - 1
  np.testing.assert_allclose(got.p, ref.pvalue, rtol=1e-9)
  np.testing.assert_allclose([got.low, got.high], [ci.low, ci.high], rtol=1e-9, atol=1e-12)
  np.testing.assert_allclose(got.t, ref.statistic, rtol=1e-12)


def test_t_test_degenerate_cases():
  assert np.isnan(stats.t_test([1.0]).p) and stats.t_test([]).n == 0
  same = stats.t_test([2.0, 2.0, 2.0])
  assert same.p == 0.0 and same.low == same.high == 2.0
  assert stats.t_test([0.0, 0.0]).p == 1.0


def _holm_reference(p):
  """Holm step-down written out as in Holm (1979): reject H_(i) while p_(i) <= alpha / (m - i);
  the adjusted p is the smallest alpha at which H_(i) is rejected. statsmodels is not
  installed here, so this loop is the twin."""
  p = np.asarray(p, np.float64)
  m = p.size
  order = np.argsort(p)
  adj = np.empty(m)
  running = 0.0
  for rank, i in enumerate(order):
    running = max(running, min(1.0, (m - rank) * p[i]))
    adj[i] = running
  return adj


def test_holm_matches_reference_and_known_values():
  rng = np.random.default_rng(7)
  for m in (1, 2, 5, 11, 30):
    p = rng.uniform(0, 0.2, m) ** 2
    np.testing.assert_allclose(stats.holm(p), _holm_reference(p), rtol=1e-15)
  # By hand: sorted 0.01, 0.02, 0.04 -> 3 x 0.01, max(0.03, 2 x 0.02), max(0.04, 0.04).
  np.testing.assert_allclose(stats.holm([0.04, 0.01, 0.02]), [0.04, 0.03, 0.04])
  np.testing.assert_allclose(stats.holm([0.5, 0.6]), [1.0, 1.0])


def test_holm_nan_counts_in_the_family_and_stays_nan():
  got = stats.holm([0.01, np.nan, 0.02])
  assert np.isnan(got[1])
  np.testing.assert_allclose(got[[0, 2]], [0.03, 0.04])  # m = 3, the NaN ranked last


def test_decide_is_mechanical():
  assert stats.decide(-1.0, 0.01, -1) == "supported"
  assert stats.decide(1.0, 0.01, -1) == "contradicted"
  assert stats.decide(-1.0, 0.05, -1) == "undecided"  # not below alpha
  assert stats.decide(np.nan, 0.01, 1) == "undecided"
  assert stats.decide(1.0, np.nan, 1) == "undecided"
  with pytest.raises(ValueError, match="predicted_sign"):
    stats.decide(1.0, 0.01, 0)
