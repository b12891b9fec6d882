"""The analysis statistics on samples whose answer is known (no training)."""

import numpy as np
import pytest

from sweetspot.analysis import stats


def test_mean_ci_covers_the_mean_and_ignores_nan():
    m, lo, hi, n = stats.mean_ci([0.0, 1.0, 0.0, 1.0, np.nan])
    assert (m, n) == (0.5, 4)
    assert 0.0 <= lo < 0.5 < hi <= 1.0


def test_paired_diff_sees_a_constant_shift_that_unpaired_cannot_separate():
    rng = np.random.default_rng(1)
    b = rng.normal(0, 1, 8)
    a = b + 0.1  # same seeds, shifted: the paired interval is a point at 0.1
    d, lo, hi, n = stats.diff_ci(a, b, paired=True)
    assert n == 8 and np.isclose(d, 0.1) and np.isclose(lo, 0.1) and np.isclose(hi, 0.1)
    d, lo, hi, _ = stats.diff_ci(a, b)
    assert np.isclose(d, 0.1) and lo < 0 < hi  # seed spread swamps the shift without pairing


def test_paired_diff_drops_pairs_with_a_nan_and_checks_shapes():
    assert stats.diff_ci([1.0, np.nan, 3.0], [0.0, 1.0, np.nan], paired=True)[3] == 1
    assert np.isnan(stats.diff_ci([np.nan], [1.0])[0])
    with pytest.raises(ValueError, match="shape"):
        stats.diff_ci([1.0, 2.0], [1.0], paired=True)


def test_bootstrap_is_deterministic():
    x = np.arange(10.0)
    assert stats.diff_ci(x, x[::-1] * 0.5) == stats.diff_ci(x, x[::-1] * 0.5)
    assert stats.fmt_ci(0.934, 0.9, 0.951) == "0.93 [0.90, 0.95]"


def test_wilson_interval_by_hand_and_at_the_edges():
    lo, hi = stats.wilson_ci(5, 10)  # p = 0.5, n = 10: 0.5 -+ 0.2634... (textbook value [0.2366, 0.7634])
    assert abs(lo - 0.2366) < 1e-3 and abs(hi - 0.7634) < 1e-3
    lo, hi = stats.wilson_ci(4, 4)  # all successes: the upper end is 1, the lower end stays well below it
    assert hi == 1.0 and 0.45 < lo < 0.55
    lo, hi = stats.wilson_ci(0, 4)
    assert lo == 0.0 and 0.45 < hi < 0.55
    assert all(np.isnan(stats.wilson_ci(0, 0)))


def test_counts_read_as_counts():
    """T3 printed "holds in 1.000000 of 5040 cases", which reads as one case of 5,040."""
    from sweetspot.analysis.stats import plural, share

    assert share(5040, 5040, "case") == "5,040 of 5,040 cases (100%)"
    assert share(5039, 5040) == "5,039 of 5,040 (99.9%)" and share(1, 5040) == "1 of 5,040 (0.02%)"
    assert share(3, 8, "pair") == "3 of 8 pairs (38%)" and share(0, 0, "case") == "0 of 0 cases"
    assert (plural(1, "run"), plural(2, "run")) == ("1 run", "2 runs")
    assert plural(2, "sparsity", "sparsities") == "2 sparsities"
