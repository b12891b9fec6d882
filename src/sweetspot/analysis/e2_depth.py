"""E2 depth axis, judged on the distributed causal score IIA_das (docs/method.md "Distributed causal score"),
with the local-unit IIA and C beside it. Per target (the runs of one experiment `e2/NAME` pooled: its target
instances), at its best sparsity (on IIA_das): mean IIA_das, IIA, C, C_gain and the compositional (distributed
label), modular and fit fractions against depth with 95% bootstrap intervals; the peak depth (argmax over depth of
mean IIA_das among the depths where at least half the networks fit), its seed-bootstrap range and the share of
resamples at its mode, and the peaks of IIA and C beside it; whether IIA_das (IIA, C, fit beside) falls beyond the
IIA_das peak; whether the peak moves with the target's own depth (Spearman rho over targets; tree L = 2, 3, 4,
each pair compared only when both targets were run: tree_L4 runs only at its `:full` size). Definitions:
docs/method.md (E2).

    python -m sweetspot report runs/e2_* --out report
    python analysis/e2_depth.py --peak runs/e2_tree_L3 [runs/e2_tree_L3_i1 ...]
        (prints the pooled IIA_das peak depth, 3 when undefined: E3 runs there; --metric C for E7)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import zlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sweetspot import experiments  # noqa: E402
from sweetspot.analysis import base, stats  # noqa: E402

TITLE = "E2 depth axis"
METHOD = "sp"  # E2 is an SP experiment: rows of other methods are ignored
METRICS = ("IIA_das", "IIA", "C", "fit", "compositional", "C_gain", "IIA_gain", "modular", "converged")
# 0/1 per network; NaN (e.g. a diverged network) counts as 0, but a label no row has (converged, in a run from
# before it) stays NaN
LABELS = ("fit", "compositional", "modular", "converged")
PEAK_METRICS = ("IIA_das", "IIA", "C")  # IIA_das: the primary peak (docs/method.md); the local-unit IIA and C beside it
FIT_SHARE = 0.5  # a depth competes for the peak when at least this share of its networks fit
N_BOOT = 10000
SEED = 0
TREE_PAIRS = (("tree_L2", "tree_L3"), ("tree_L3", "tree_L4"), ("tree_L2", "tree_L4"))
_M = {m: i for i, m in enumerate(METRICS)}


def select(runs):
    return [r for r in runs if experiments.BY_NAME["E2"].owns(r.experiment)]


def network_values(rows) -> np.ndarray:
    """(networks, METRICS) array of the rows' cells. LABELS are 0/1 with NaN read as 0 (a label no row has: NaN
    throughout); a diverged network has fit = compositional = converged = 0 and NaN in every other metric (it fits
    nothing and carries no score)."""
    if not rows:
        return np.zeros((0, len(METRICS)))
    v = np.stack([stats.column(rows, m) for m in METRICS], 1)
    labels = [_M[m] for m in LABELS if any(m in r for r in rows)]
    v[:, labels] = np.nan_to_num(v[:, labels], nan=0.0)
    diverged = stats.column(rows, "diverged") == 1
    v[diverged] = np.nan
    v[np.ix_(diverged, labels)] = 0.0
    return v


@dataclasses.dataclass
class Curves:
    """One target's networks at one sparsity: cells[i][depth] = network_values of runs[i] (an instance)."""

    name: str
    sparsity: float
    depths: list
    cells: list
    runs: list

    def pooled(self, depth) -> np.ndarray:
        """The networks of every instance at `depth`, (networks, METRICS)."""
        return np.concatenate([c.get(depth, np.zeros((0, len(METRICS)))) for c in self.cells])


def _cells(run, sparsity) -> dict:
    rows = [r for r in run.rows if r.get("method", METHOD) == METHOD and float(r["sparsity"]) == sparsity]
    depths = sorted({int(r["depth"]) for r in rows})
    return {d: network_values([r for r in rows if int(r["depth"]) == d]) for d in depths}


def cell_means(cells, depths) -> np.ndarray:
    """(depths, METRICS): per depth, the mean over the finite values of the networks of all instances pooled."""
    out = np.full((len(depths), len(METRICS)), np.nan)
    for j, d in enumerate(depths):
        v = np.concatenate([c[d] for c in cells if d in c] or [np.zeros((0, len(METRICS)))])
        ok = np.isfinite(v)
        n = ok.sum(0)
        out[j] = np.where(n > 0, np.where(ok, v, 0.0).sum(0) / np.maximum(n, 1), np.nan)
    return out


def peaks_of(means, depths, metric="IIA_das") -> np.ndarray:
    """Peak depth per leading index of `means` (..., depths, METRICS): the argmax over the depths whose fit
    fraction is >= FIT_SHARE of the metric's mean (ties: the shallowest); NaN where no such depth has one."""
    means = np.asarray(means, float)
    m = means[..., _M[metric]]
    ok = (np.nan_to_num(means[..., _M["fit"]], nan=0.0) >= FIT_SHARE) & np.isfinite(m)
    idx = np.argmax(np.where(ok, m, -np.inf), axis=-1)
    return np.where(ok.any(-1), np.asarray(depths, float)[idx], np.nan)


def _int(p):
    return None if not np.isfinite(p) else int(p)


def _instance(run) -> int:
    return int(run.meta["config"].get("target", {}).get("seed", 0))


def best_sparsity(runs, metric="IIA_das") -> float:
    """The sparsity with the highest fit-gated (peaks_of's gate) mean of `metric` at any depth, runs pooled; when
    no depth fits at any sparsity, the highest mean at any depth; ties: the lower sparsity."""
    sparsities = sorted({float(r["sparsity"]) for run in runs for r in run.rows})
    if len(sparsities) == 1:
        return sparsities[0]

    def score(s, gate):
        cells = [_cells(run, s) for run in runs]
        means = cell_means(cells, sorted({d for c in cells for d in c}))
        m = means[:, _M[metric]]
        m = np.where(np.nan_to_num(means[:, _M["fit"]]) >= FIT_SHARE, m, np.nan) if gate else m
        return np.nanmax(m) if np.isfinite(m).any() else -np.inf

    gate = any(np.isfinite(score(s, True)) for s in sparsities)
    return sparsities[int(np.argmax([score(s, gate) for s in sparsities]))]


def make_curves(runs, sparsity=None) -> Curves:
    """Curves of one target's runs (a Run or a list of runs of ONE experiment, pooled) at `sparsity` (default:
    best_sparsity on IIA_das), instances in target.seed order."""
    runs = sorted([runs] if isinstance(runs, base.Run) else list(runs), key=_instance)
    names = sorted({r.experiment for r in runs})
    if len(names) != 1:
        raise ValueError(f"runs of experiments {names} cannot be pooled: give the runs of one target (experiment)")
    s = best_sparsity(runs) if sparsity is None else sparsity
    cells = [_cells(run, s) for run in runs]
    name = names[0].split("/", 1)[-1] or runs[0].name
    return Curves(name, s, sorted({d for c in cells for d in c}), cells, runs)


def peak_depth(runs, metric="IIA_das") -> int | None:
    """The peak depth of one target's runs pooled (a Run or a list of them): peaks_of on the pooled means at the
    best sparsity. None when no depth has at least half its networks fit or the metric is undefined there."""
    c = make_curves(runs)
    return _int(peaks_of(cell_means(c.cells, c.depths), c.depths, metric))


def curves(run):
    """(best sparsity, depths, {metric: (mean, std) over networks per depth}, fit_ok per depth) of one run."""
    c = make_curves(run)
    ms = {m: np.array([stats.mean_std(c.pooled(d)[:, i])[:2] for d in c.depths]).T for m, i in _M.items()}
    return c.sparsity, c.depths, {m: (v[0], v[1]) for m, v in ms.items()}, np.nan_to_num(ms["fit"][0]) >= FIT_SHARE


def target_depth_of(run) -> int:
    """The target's own depth: the number of constituent levels of its DAG (Structure.depth)."""
    from sweetspot import rundir, targets  # imported when called: the peak CLI needs neither (nor jax)

    return targets.make_target(rundir.config_from_meta(run.meta).target).structure.depth


def boot_means(curves, n_boot, rng) -> np.ndarray:
    """(n_boot, depths, METRICS) pooled means of resamples: the networks of each (instance, depth) cell drawn
    with replacement (as many as the cell holds), cells independently."""
    sums = np.zeros((n_boot, len(curves.depths), len(METRICS)))
    counts = np.zeros_like(sums)
    for cells in curves.cells:
        for j, d in enumerate(curves.depths):
            v = cells.get(d, np.zeros((0, len(METRICS))))
            if not len(v):
                continue
            s = v[rng.integers(0, len(v), (n_boot, len(v)))]
            ok = np.isfinite(s)
            sums[:, j] += np.where(ok, s, 0.0).sum(1)
            counts[:, j] += ok.sum(1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def analyse(curves, n_boot=N_BOOT, seed=SEED, label=None) -> dict:
    """{"means": cell_means, "peak": {metric: depth or None}, "boot": {metric: (n_boot,) peak depths of the
    resamples of boot_means, NaN where one has no peak}} for PEAK_METRICS. Random numbers: numpy
    default_rng([seed, crc32(label or curves.name)]), so a target's bootstrap does not depend on the others."""
    rng = np.random.default_rng([seed, zlib.crc32((label or curves.name).encode())])
    means = cell_means(curves.cells, curves.depths)
    boot = boot_means(curves, n_boot, rng)
    return {
        "means": means,
        "peak": {m: _int(peaks_of(means, curves.depths, m)) for m in PEAK_METRICS},
        "boot": {m: peaks_of(boot, curves.depths, m) for m in PEAK_METRICS},
    }


def peak_range(boot) -> tuple[float, float, float, float]:
    """(2.5% and 97.5% quantiles (inverted CDF: depths that occur) of the bootstrap peaks that exist, their mode
    (ties: the shallowest), the share of ALL resamples whose peak is the mode); NaNs when no resample has one."""
    b = np.asarray(boot, float)
    f = b[np.isfinite(b)]
    if not len(f):
        return (float("nan"),) * 4
    vals, counts = np.unique(f, return_counts=True)
    lo, hi = np.quantile(f, [0.025, 0.975], method="inverted_cdf")
    return float(lo), float(hi), float(vals[np.argmax(counts)]), float(counts.max() / len(b))


def study(runs, own_depth=None, n_boot=N_BOOT) -> list[dict]:
    """One dict per target (runs grouped by experiment; by name): name, family, own_depth (own_depth(run), default
    target_depth_of), curves, analyse's keys, and instances: [(target.seed, Curves, analyse dict)] per run at the
    pooled sparsity when the target has more than one run."""
    own_depth = own_depth or target_depth_of
    groups = {}
    for r in runs:
        groups.setdefault(r.experiment, []).append(r)
    out = []
    for exp in sorted(groups):
        c = make_curves(groups[exp])
        res = {"name": c.name, "family": c.runs[0].family, "own_depth": own_depth(c.runs[0]), "curves": c}
        res |= analyse(c, n_boot)
        res["instances"] = []
        for run in c.runs if len(c.runs) > 1 else ():
            ic = Curves(c.name, c.sparsity, c.depths, [_cells(run, c.sparsity)], [run])
            res["instances"].append((_instance(run), ic, analyse(ic, n_boot, label=f"{c.name}/{_instance(run)}")))
        out.append(res)
    return out


def _interval(boot, method="linear") -> tuple[float, float, float, float]:
    """(2.5%, 97.5% quantiles over the finite resamples, share of those > 0, share of all that are NaN)."""
    b = np.asarray(boot, float)
    f = b[np.isfinite(b)]
    if not len(f):
        return float("nan"), float("nan"), float("nan"), 1.0
    lo, hi = np.quantile(f, [0.025, 0.975], method=method)
    return float(lo), float(hi), float(np.mean(f > 0)), float(1 - len(f) / len(b))


TREND_HEADER = ["quantity", "resampled", "estimate", "lo", "hi", "n_targets", "p", "share_positive", "share_undefined"]


def depth_trend(results, metric="IIA_das", seed=SEED) -> list[list]:
    """TREND_HEADER rows: Spearman rho of (own depth, peak depth) over the targets with a peak, its interval with
    the seeds resampled (each target's analyse bootstrap, resample b of every target together) and with targets
    AND seeds resampled (targets drawn with replacement, default_rng([seed, 1])); then `pair_rows`."""
    have = [r for r in results if r["peak"][metric] is not None]
    if not have:  # one row that says so (a table always has a row)
        rows = [[f"spearman(own_depth, peak_{metric})", "no target with a peak", *[float("nan")] * 3, 0, "", "", 1.0]]
        return rows + pair_rows(results, metric)
    own = np.array([r["own_depth"] for r in have], float)
    pk = np.array([r["peak"][metric] for r in have], float)
    boot = np.array([r["boot"][metric] for r in have])  # (targets, n_boot)
    n_boot = boot.shape[1]
    rho, p, n = stats.spearman(own, pk)
    idx = np.random.default_rng([seed, 1]).integers(0, len(have), (n_boot, len(have)))
    both = stats.spearman_rows(own[idx], boot[idx, np.arange(n_boot)[:, None]])
    rows = []
    seeds = stats.spearman_rows(np.broadcast_to(own, boot.T.shape), boot.T)
    for how, r_b in (("seeds", seeds), ("targets and seeds", both)):
        lo, hi, pos, und = _interval(r_b)
        rows.append([f"spearman(own_depth, peak_{metric})", how, rho, lo, hi, n, p, pos, und])
    return rows + pair_rows(results, metric)


NOT_COMPARED = "not compared: "


def pair_rows(results, metric) -> list[list]:
    """For TREE_PAIRS (a, b) with both targets among the results: the peak difference b - a with its
    seed-bootstrap interval (inverted CDF); a pair with a target absent (not run at this scale: tree_L4 runs only
    at its `:full` size) or without a peak gets a row whose `resampled` says so (NOT_COMPARED), NaN numbers; a
    pair with neither target gets no row."""
    by = {r["name"]: r for r in results}
    rows = []
    for a, b in TREE_PAIRS:
        q = f"peak_{metric}({b}) - peak_{metric}({a})"
        absent = [t for t in (a, b) if t not in by]
        if len(absent) == 2:  # no tree target of this pair at all: nothing to say
            continue
        none = [t for t in (a, b) if t in by and by[t]["peak"][metric] is None]
        if absent or none:
            why = [f"{t} not run" for t in absent] + [f"{t} has no {metric} peak" for t in none]
            rows.append([q, NOT_COMPARED + ", ".join(why), *[float("nan")] * 3, 2 - len(why), "", "", 1.0])
            continue
        d = by[b]["boot"][metric] - by[a]["boot"][metric]
        est = by[b]["peak"][metric] - by[a]["peak"][metric]
        lo, hi, pos, und = _interval(d, "inverted_cdf")
        rows.append([q, "seeds", est, lo, hi, 2, "", pos, und])
    return rows


FALLOFF_METRICS = ("IIA_das", "IIA", "C", "fit")
FALLOFF_HEADER = ["target", "peak_IIA_das", "deepest"]
FALLOFF_HEADER += [f"{m}_drop{s}" for m in FALLOFF_METRICS for s in ("", "_lo", "_hi")]
FALLOFF_HEADER += ["fit_deepest", "fit_deepest_lo", "fit_deepest_hi", "deepest_fits"]
FALLOFF_HEADER += ["converged_deepest", "converged_deepest_lo", "converged_deepest_hi", "n_peak", "n_deepest"]
FALLOFF_HEADER += ["IIA_das_verdict"]


def falloff(res) -> list:
    """FALLOFF_HEADER row: X_drop = mean X of the networks at the IIA_das peak - at the deepest depth, unpaired
    stats.diff_ci (fit: the fit fraction; IIA and C beside IIA_das, at the same two depths); fit_deepest = the
    fit fraction at the deepest depth (mean_ci) and whether it is >= FIT_SHARE, and beside it the converged
    fraction there; verdict on the IIA_das drop: falls (interval above 0), rises (below), no resolved change, or
    the peak is the deepest depth."""
    c, pk = res["curves"], res["peak"]["IIA_das"]
    deep = max(c.depths)
    n_nan = 3 * len(FALLOFF_METRICS) + 3
    if pk is None:
        return [c.name, "", deep] + [float("nan")] * n_nan + ["", *[float("nan")] * 3, 0, len(c.pooled(deep)),
                                                              "no peak"]
    a, b = c.pooled(pk), c.pooled(deep)
    row = [c.name, pk, deep]
    for m in FALLOFF_METRICS:
        row += list(stats.diff_ci(a[:, _M[m]], b[:, _M[m]]))[:3]
    fm, flo, fhi, _ = stats.mean_ci(b[:, _M["fit"]])
    lo, hi = row[4], row[5]
    verdict = "peak is the deepest depth" if pk == deep else "falls" if lo > 0 else "rises" if hi < 0 else ""
    conv = list(stats.mean_ci(b[:, _M["converged"]])[:3])
    return row + [fm, flo, fhi, bool(fm >= FIT_SHARE), *conv, len(a), len(b), verdict or "no resolved change"]


AT_PEAK = ("IIA_das", "IIA", "C", "C_gain", "compositional", "modular", "fit", "converged")  # at the IIA_das peak
PEAKS_HEADER = ["target", "scope", "family", "own_depth", "sparsity", "networks"]
PEAKS_HEADER += [f"peak_{m}{s}" for m in PEAK_METRICS for s in ("", "_lo", "_hi", "_mode", "_mode_share")]
PEAKS_HEADER += ["peak_compositional"] + [f"{m}_at_IIA_das_peak{s}" for m in AT_PEAK for s in ("", "_lo", "_hi")]


def _peak_row(res, scope, c, an) -> list:
    """PEAKS_HEADER row of one Curves `c` and its analyse dict `an` (res gives the target's name and depth):
    per PEAK_METRICS m, peak_m, its seed-bootstrap range, mode and mode share (the share of resamples whose m
    peak is the mode); the depth of the highest compositional fraction; AT_PEAK at the IIA_das peak."""
    row = [res["name"], scope, res["family"], res["own_depth"], c.sparsity]
    row.append(sum(len(c.pooled(d)) for d in c.depths))
    for m in PEAK_METRICS:
        row += ["" if an["peak"][m] is None else an["peak"][m], *peak_range(an["boot"][m])]
    comp = _int(peaks_of(an["means"], c.depths, "compositional"))
    has_comp = comp is not None and an["means"][c.depths.index(comp), _M["compositional"]] > 0
    row.append(comp if has_comp else "")
    pk = an["peak"]["IIA_das"]
    for m in AT_PEAK:
        row += list(stats.mean_ci(c.pooled(pk)[:, _M[m]])[:3]) if pk is not None else [float("nan")] * 3
    return row


def _peak_rows(res) -> list[list]:
    rows = [_peak_row(res, "pooled" if res["instances"] else "all", res["curves"], res)]
    return rows + [_peak_row(res, f"target.seed={s}", ic, an) for s, ic, an in res["instances"]]


CURVES = (("IIA_das", "C0", "-"), ("IIA", "C4", "-."), ("C", "C1", ":"))  # (metric, colour, peak line style)


def _panel(ax, res) -> None:
    c = res["curves"]
    for m, colour, _ in CURVES:
        ci = np.array([stats.mean_ci(c.pooled(d)[:, _M[m]])[:3] for d in c.depths])
        lw = 1.8 if m == "IIA_das" else 1.0
        ax.plot(c.depths, ci[:, 0], color=colour, marker="o", ms=3, lw=lw, label=m)
        ax.fill_between(c.depths, ci[:, 1], ci[:, 2], color=colour, alpha=0.2 if m == "IIA_das" else 0.1, lw=0)
    for m, colour, label in (("fit", "C2", "frac. fit"), ("compositional", "C3", "frac. compositional")):
        ax.plot(c.depths, res["means"][:, _M[m]], color=colour, ls="--", marker=".", ms=4, label=label)
    for _, ic, an in res["instances"]:
        ax.plot(ic.depths, an["means"][:, _M["IIA_das"]], color="C0", lw=0.6, alpha=0.5)
    pk = res["peak"]["IIA_das"]
    if pk is not None:
        lo, hi, _, _ = peak_range(res["boot"]["IIA_das"])
        ax.axvspan(lo - 0.15, hi + 0.15, color="grey", alpha=0.15, lw=0)
    for m, colour, ls in CURVES:
        if res["peak"][m] is not None:
            ax.axvline(res["peak"][m], color=colour, ls=ls, lw=1.2)
    inst = f", {len(c.runs)} instances" if len(c.runs) > 1 else ""
    fits = "" if pk is not None else ", no depth fits"
    ax.set_title(f"{c.name} (own depth {res['own_depth']}), s={c.sparsity:g}{inst}{fits}")
    ax.set_xlabel("depth (hidden layers)")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xticks(c.depths)


def _figure(results, out) -> str:
    n = len(results)
    cols = min(n, 2)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False)
    for ax, res in zip(axes.flat, results, strict=False):
        _panel(ax, res)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(loc="best")
    fig.suptitle("E2: IIA_das, local IIA and C against depth")
    fig.tight_layout()
    caption = (
        "E2: IIA_das (distributed score, primary), local-unit IIA and C against depth (bands: 95% bootstrap over "
        "networks), with the fit and compositional fractions. Blue line: the IIA_das peak (grey: its 95% "
        "seed-bootstrap range); purple dash-dot: the IIA peak; orange dotted: the C peak; thin: IIA_das per instance."
    )
    return base.save_figure(fig, out, "e2_depth_axis", caption)


def _range(res, m="IIA_das") -> str:
    """'4 [3, 5]': the target's m peak depth and its seed-bootstrap range; 'none' without a peak."""
    if res["peak"][m] is None:
        return "none"
    lo, hi, _, _ = peak_range(res["boot"][m])
    return f"{res['peak'][m]} [{lo:g}, {hi:g}]"


NUMBERS_HEADER = ["target (own depth)", "sparsity", "IIA_das peak depth [seed-bootstrap range]", "at the mode",
                  "IIA_das at the peak", "peak minus deepest depth, IIA_das", "beyond the peak", "local IIA peak",
                  "C peak"]  # fmt: skip


def numbers(results, falls) -> list[list]:
    """The section's numbers table: per target the IIA_das peak and its range, the score there and the drop to
    the deepest depth (the local IIA and C peaks beside)."""
    rows = [NUMBERS_HEADER]
    for r, f in zip(results, falls, strict=True):
        at = lambda k, f=f: tuple(f[FALLOFF_HEADER.index(k) + i] for i in range(3))
        pk, share = r["peak"]["IIA_das"], peak_range(r["boot"]["IIA_das"])[3]
        score = stats.mean_ci(r["curves"].pooled(pk)[:, _M["IIA_das"]])[:3] if pk is not None else float("nan")
        rows.append([f"{r['name']} ({r['own_depth']})", r["curves"].sparsity, _range(r), share, score,
                     at("IIA_das_drop"), f[-1], _range(r, "IIA"), _range(r, "C")])  # fmt: skip
    return rows


def _trend(trend) -> str:
    """'rises with ...: Spearman rho 0.80 [0.50, 1.00]' from the IIA_das trend row (seeds resampled)."""
    t = next(t for t in trend if t[0] == "spearman(own_depth, peak_IIA_das)")
    if not (np.isfinite(t[2]) and np.isfinite(t[3])):
        return "has no defined rank correlation with the target's own depth"
    word = "rises" if t[3] > 0 else "falls" if t[4] < 0 else "shows no resolved trend"
    return f"{word} with the target's own depth: Spearman rho {stats.fmt_ci(*t[2:5])} ({t[1]} resampled)"


def headline(results, falls, trend) -> str:
    """One sentence: with up to three targets, each one's IIA_das peak depth and range; with more, how the peak
    follows the target's own depth; and on how many targets IIA_das falls beyond its peak."""
    have = [r for r in results if r["peak"]["IIA_das"] is not None]
    if not have:
        return f"No target fits at any depth ({stats.plural(len(results), 'target')}), so there is no IIA_das peak."
    falls_n = sum(f[-1] == "falls" for f in falls)
    tail = f"it falls beyond the peak on {falls_n} of {stats.plural(len(have), 'target')}"
    if len(results) <= 3:
        at = lambda r: f"{'depth ' if r['peak']['IIA_das'] is not None else ''}{_range(r)} on {r['name']}"
        return f"IIA_das peaks at {', '.join(map(at, results))} (seed-bootstrap range); {tail}."
    return f"The IIA_das peak depth {_trend(trend)} over {stats.plural(len(have), 'target')}; {tail}."


def make(runs, out, own_depth=None):
    results = study(runs, own_depth)
    figure = _figure(results, out)
    falls = [falloff(r) for r in results]
    trend = [row for m in PEAK_METRICS for row in depth_trend(results, m)]
    tables = [
        base.write_table(out, "e2_peaks", PEAKS_HEADER, [row for r in results for row in _peak_rows(r)]),
        base.write_table(out, "e2_falloff", FALLOFF_HEADER, falls),
        base.write_table(out, "e2_depth_trend", TREND_HEADER, trend),
    ]
    skipped = [f"{t[0]} ({t[1][len(NOT_COMPARED) :]})" for t in trend if str(t[1]).startswith(NOT_COMPARED)]
    details = f"The IIA_das peak depth {_trend(trend)}." + (f" Not compared: {'; '.join(skipped)}." if skipped else "")
    return base.Section(TITLE, headline(results, falls, trend), [figure], tables, numbers(results, falls),
                        details=details, empty="no IIA_das peak: no depth where half the networks fit")  # fmt: skip


@base.one_line_errors
def main(argv=None) -> None:
    """`RUN_DIR [RUN_DIR ...] --out DIR` (the section), or `--peak RUN_DIR [RUN_DIR ...]`: the IIA_das peak depth
    (--metric: another PEAK_METRICS peak; E7 asks for C) of the runs pooled (runs of one experiment: a target's
    instances), 3 when undefined; E3 runs there."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--out")
    p.add_argument("--peak", action="store_true", help="print the runs' pooled peak depth (3 when undefined)")
    p.add_argument("--metric", default="IIA_das", choices=PEAK_METRICS, help="the peak of this metric (E7: C)")
    a = p.parse_args(argv)
    runs = [base.load_run(d) for d in a.run_dirs]
    if a.peak:
        try:
            pk = peak_depth(runs, a.metric)
        except ValueError as e:
            p.error(str(e))
        print(pk if pk is not None else 3)
    else:
        if not a.out:
            p.error("--out is required without --peak")
        os.makedirs(a.out, exist_ok=True)
        print(make(select(runs), a.out).headline)


if __name__ == "__main__":
    main()
