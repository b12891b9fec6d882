"""Statistics over results.csv rows for the analyses: cells as numbers, per-node means, mean ± std,
Spearman rank correlations and percentile-bootstrap intervals over the finite values."""

from __future__ import annotations

import numpy as np


def num(v) -> float:
    """A CSV cell as a float: True/False -> 1/0, '' or 'nan' -> NaN."""
    if v in ("True", "False"):
        return float(v == "True")
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def column(rows, name) -> np.ndarray:
    return np.array([num(r.get(name, "nan")) for r in rows])


def node_mean(rows, prefix) -> np.ndarray:
    """Per-row mean over the per-node columns PREFIX_v{id} (NaN when there are none)."""
    cols = [c for c in (rows[0] if rows else {}) if c.startswith(prefix + "_v")]
    if not cols:
        return np.full(len(rows), np.nan)
    with np.errstate(all="ignore"):
        return np.nanmean(np.array([[num(r[c]) for c in cols] for r in rows]), axis=1)


def mean_std(values) -> tuple[float, float, int]:
    """(mean, std, count) over the finite values."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return (float(v.mean()), float(v.std()), len(v)) if len(v) else (float("nan"), float("nan"), 0)


def spearman(a, b) -> tuple[float, float, int]:
    """(Spearman rho, p-value, n) over the pairs where both are finite; NaN when fewer than 3 or one is constant."""
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan"), float("nan"), int(ok.sum())
    res = stats.spearmanr(a[ok], b[ok])
    return float(res.statistic), float(res.pvalue), int(ok.sum())


def bootstrap_ci(values, n_boot: int = 10000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean over the finite values: n_boot resamples with replacement drawn
    from numpy.random.default_rng(seed); (NaN, NaN) without a finite value. A sample of identical values (e.g. a
    fraction of 0/8) gives a zero-width interval: the bootstrap cannot see beyond the sample."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if not len(v):
        return float("nan"), float("nan")
    means = v[np.random.default_rng(seed).integers(0, len(v), (n_boot, len(v)))].mean(1)
    a = (1 - level) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def mean_ci(values, n_boot: int = 10000, seed: int = 0) -> tuple[float, float, float, int]:
    """(mean, 95% bootstrap low, high, count) over the finite values (bootstrap_ci's interval)."""
    m, _, n = mean_std(values)
    lo, hi = bootstrap_ci(values, n_boot=n_boot, seed=seed)
    return m, lo, hi, n


def diff_ci(a, b, paired: bool = False, n_boot: int = 10000, seed: int = 0) -> tuple[float, float, float, int]:
    """(mean(a) - mean(b), 95% percentile-bootstrap low, high, n) over the finite values.

    paired=True: a and b are aligned (e.g. the same seeds); the pairs where both are finite are resampled together
    and n is their count. Unpaired: each sample is resampled on its own and n is the smaller count. NaNs
    throughout when either side has no finite value."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    rng = np.random.default_rng(seed)
    if paired:
        if a.shape != b.shape:
            raise ValueError(f"diff_ci(paired=True): a has shape {a.shape}, b has {b.shape}; they must match")
        d = (a - b)[np.isfinite(a) & np.isfinite(b)]
        if not len(d):
            return (float("nan"),) * 3 + (0,)
        means = d[rng.integers(0, len(d), (n_boot, len(d)))].mean(1)
        return float(d.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975)), len(d)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if not len(a) or not len(b):
        return (float("nan"),) * 3 + (0,)
    means = a[rng.integers(0, len(a), (n_boot, len(a)))].mean(1)
    means = means - b[rng.integers(0, len(b), (n_boot, len(b)))].mean(1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(a.mean() - b.mean()), float(lo), float(hi), min(len(a), len(b))


def wilson_ci(k, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k / n (k successes in n trials); (NaN, NaN) when n == 0. Unlike
    the bootstrap it does not collapse at 0/n or n/n, which matters for cells of a few networks."""
    if n <= 0:
        return float("nan"), float("nan")
    p, z2 = k / n, z * z
    centre, half = (p + z2 / (2 * n)) / (1 + z2 / n), z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    lo, hi = (0.0 if k == 0 else max(0.0, centre - half)), (1.0 if k == n else min(1.0, centre + half))
    return float(lo), float(hi)


def fmt_ci(m: float, lo: float, hi: float, digits: int = 2) -> str:
    """'m [lo, hi]' for verdict text, e.g. '0.93 [0.91, 0.95]'."""
    return f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def spearman_rows(a, b) -> np.ndarray:
    """Spearman rho per row of a and b ((rows, n) arrays; average ranks for ties) over the columns where both are
    finite; NaN for a row with fewer than 3 such columns or a constant side (as spearman)."""
    from scipy.stats import rankdata

    a, b = np.atleast_2d(np.asarray(a, float)), np.atleast_2d(np.asarray(b, float))
    out = np.full(len(a), np.nan)
    full = (np.isfinite(a) & np.isfinite(b)).all(1)
    if full.any() and a.shape[1] >= 3:
        ra, rb = rankdata(a[full], axis=1), rankdata(b[full], axis=1)
        ra, rb = ra - ra.mean(1, keepdims=True), rb - rb.mean(1, keepdims=True)
        den = np.sqrt((ra**2).sum(1) * (rb**2).sum(1))
        out[full] = np.where(den > 1e-12, (ra * rb).sum(1) / np.where(den > 1e-12, den, 1.0), np.nan)
    for i in np.flatnonzero(~full):
        out[i] = spearman(a[i], b[i])[0]
    return out


def plural(n: int, word: str, words: str | None = None) -> str:
    """'1 run', '2 runs', '5,040 cases': a count with its noun."""
    return f"{n:,} {word if n == 1 else words or word + 's'}"


def share(k: int, n: int, word: str = "") -> str:
    """'5,040 of 5,040 cases (100%)': a count out of a total (word: the total's noun), with a percentage that reads
    100% or 0% only when it is exact."""
    if n <= 0:
        return f"0 of {plural(0, word) if word else 0}"
    pct = 100 * k / n
    text = f"{pct:.0f}%" if k in (0, n) or 1 <= pct <= 99 else f"{pct:.2g}%" if pct < 1 else f"{min(pct, 99.9):.1f}%"
    return f"{k:,} of {plural(n, word) if word else f'{n:,}'} ({text})"
