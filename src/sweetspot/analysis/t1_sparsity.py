"""T1 compositional sparsity: test loss (MSE) against live parameters for the oracle wiring, SP and the dense
network on binary trees with n = 4, 8, 16, 32 inputs (one run per n, sweeps/t1_sparsity.py).

Claim under test: with a wiring that follows the target (oracle, or SP if it finds it) the loss-vs-parameters
curve is governed by the constituents' arity k = 2 (similar across n), while the dense network needs far more
parameters for the same error. Measured here, per (method, n):
  - theory.fit_power_law of test loss on live_params over every non-diverged point (both seeds; dense uses
    only its sparsity-0 points, its one live count per n, so it has no exponent), with the 95% bootstrap
    interval and the R^2 of the log-log line (curves that bend are not power laws);
  - the live parameters needed to reach a fixed test loss: (a) LOSS_LEVEL (targets are unit-variance, so
    loss 0.1 ~ R^2 0.9) and (b) the loss the dense network reaches (mean over seeds), from the curve of the
    geometric mean over seeds per grid point sorted by live_params: the first crossing, interpolated linearly in
    log-log between the two grid points around it ("<= min" when the sparsest point already reaches it,
    "not reached" when no point does).

    python -m sweetspot sweep sweeps/t1_sparsity.py:L2 --out runs/t1_L2    (L2..L5)
    python analysis/t1_sparsity.py runs/t1_L2 runs/t1_L3 runs/t1_L4 runs/t1_L5 --out /tmp/t1
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from sweetspot import (
    experiments,  # noqa: E402
    theory,  # noqa: E402
)
from sweetspot.analysis import base, stats  # noqa: E402

TITLE = "T1 compositional sparsity: loss against live parameters"
METHODS = ("oracle", "sp", "dense")
COLOURS = {"oracle": "C2", "sp": "C0", "dense": "C3"}
SCORE_NOTE = (
    "T1 reads no causal score: neither the distributed IIA_das nor the local-unit IIA, C or the compositional "
    "label enter it, only test loss and live parameters."
)
LOSS_LEVEL = 0.1  # fixed test loss for the parameters-needed comparison (unit-variance targets: R^2 ~ 0.9)


def select(runs):
    return [r for r in runs if experiments.BY_NAME["T1"].owns(r.experiment)]


def n_inputs(run) -> int:
    t = run.meta["config"]["target"]
    return int(t["arity"]) ** int(t["levels"])


def points(rows, method, connected: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(live_params, test_loss, sparsity) of a method's non-diverged points; dense: sparsity-0 points only
    (its other points repeat the same network). connected: only points with no disconnected input."""
    rows = [r for r in rows if r["method"] == method and r.get("diverged") != "True"]
    if connected:
        rows = [r for r in rows if stats.num(r.get("disconnected_inputs", "0")) == 0]
    if method == "dense":
        rows = [r for r in rows if float(r["sparsity"]) == 0.0]
    x, y = stats.column(rows, "live_params"), stats.column(rows, "test_loss")
    s = stats.column(rows, "sparsity")
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    return x[ok], y[ok], s[ok]


def curve(x, y, s) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per sparsity: (mean live params, geometric-mean loss, min loss, max loss), sorted by live params."""
    keys = sorted(set(s.tolist()))
    cx = np.array([x[s == k].mean() for k in keys])
    gm = np.array([np.exp(np.log(y[s == k]).mean()) for k in keys])
    lo = np.array([y[s == k].min() for k in keys])
    hi = np.array([y[s == k].max() for k in keys])
    order = np.argsort(cx)
    return cx[order], gm[order], lo[order], hi[order]


def params_to_reach(cx, cy, level) -> tuple[float, str]:
    """Live params at which the curve (sorted by cx) first reaches loss <= level, log-log interpolated between
    the grid points around the first crossing; ('<= min' with the smallest count when the sparsest point
    already reaches it, 'not reached' with NaN when none does)."""
    hit = np.flatnonzero(cy <= level)
    if not len(hit):
        return float("nan"), "not reached"
    j = int(hit[0])
    if j == 0:
        return float(cx[0]), "<= min"
    lx0, lx1, ly0, ly1 = np.log(cx[j - 1]), np.log(cx[j]), np.log(cy[j - 1]), np.log(cy[j])
    t = (np.log(level) - ly0) / (ly1 - ly0) if ly1 != ly0 else 1.0
    return float(np.exp(lx0 + t * (lx1 - lx0))), "interpolated"


def _law(x, y) -> list:
    """[exponent, ci_lo, ci_hi, points, loglog_r2, live_min, live_max]; NaN fit with < 2 distinct live counts."""
    if len(np.unique(x)) < 2:
        return [np.nan, np.nan, np.nan, len(x), np.nan, x.min() if len(x) else np.nan, x.max() if len(x) else np.nan]
    fit = theory.fit_power_law(x, y)
    resid = np.log(y) - (fit.intercept + fit.exponent * np.log(x))
    r2 = 1.0 - resid @ resid / np.sum((np.log(y) - np.log(y).mean()) ** 2)
    return [fit.exponent, fit.ci[0], fit.ci[1], len(x), r2, x.min(), x.max()]


def power_law_rows(runs) -> list[list]:
    """Per (method, n): (method, n, exponent, ci_lo, ci_hi, points, loglog_r2, live_min, live_max) over every
    point, then the same seven over the points with every input connected (a robustness fit that drops the
    collapse when pruning cuts inputs off)."""
    out = []
    for run in sorted(runs, key=n_inputs):
        for m in METHODS:
            x, y, _ = points(run.rows, m)
            if not len(x):
                continue
            out.append([m, n_inputs(run), *_law(x, y), *_law(*points(run.rows, m, connected=True)[:2])])
    return out


def reach_rows(runs) -> list[list]:
    """(method, n, level name, level, live params needed, how, dense live params / needed) per (method, n, level)."""
    out = []
    for run in sorted(runs, key=n_inputs):
        xd, yd, _ = points(run.rows, "dense")
        dense_loss = float(np.exp(np.log(yd).mean())) if len(yd) else float("nan")
        dense_live = float(xd.mean()) if len(xd) else float("nan")
        for name, level in ((f"loss {LOSS_LEVEL:g}", LOSS_LEVEL), ("dense loss", dense_loss)):
            for m in METHODS:
                x, y, s = points(run.rows, m)
                if not len(x) or not np.isfinite(level):
                    continue
                need, how = params_to_reach(*curve(x, y, s)[:2], level)
                out.append([m, n_inputs(run), name, level, need, how, dense_live / need if need > 0 else np.nan])
    return out


def _loss_panel(ax, run, law, reach) -> None:
    """Test loss against live parameters of one run (one n): per method the geometric mean over seeds with the
    seed range, the power-law fit, the fixed loss level and the dense network's loss."""
    n = n_inputs(run)
    dense_loss = next((r[3] for r in reach if r[1] == n and r[2] == "dense loss"), np.nan)
    for m in METHODS:
        x, y, s = points(run.rows, m)
        if not len(x):
            continue
        cx, gm, lo, hi = curve(x, y, s)
        ax.errorbar(cx, gm, yerr=[gm - lo, hi - gm], color=COLOURS[m], marker="o", ms=4, capsize=2, label=m)
        row = next(r for r in law if r[0] == m and r[1] == n)
        if np.isfinite(row[2]):
            xs = np.geomspace(x.min(), x.max(), 20)
            fit = theory.fit_power_law(x, y)
            ax.plot(xs, np.exp(fit.intercept) * xs**fit.exponent, color=COLOURS[m], ls="--", lw=0.8)
    ax.axhline(LOSS_LEVEL, color="grey", ls=":", lw=1)
    if np.isfinite(dense_loss):
        ax.axhline(dense_loss, color=COLOURS["dense"], ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_title(
        f"n = {n} (L = {run.meta['config']['target']['levels']}, depth {run.meta['axes']['depth'][0]})"
    )
    ax.set_xlabel("live parameters")
    ax.set_ylabel("test loss (MSE)")


def _exponent_panel(ax, law, ns) -> None:
    """The power-law exponent of oracle and SP against n, with its 95% interval."""
    for k, m in enumerate(("oracle", "sp")):
        rows = [r for r in law if r[0] == m and np.isfinite(r[2])]
        x = np.array([r[1] for r in rows]) * (1 + 0.04 * (2 * k - 1))
        e = np.array([r[2] for r in rows])
        ax.errorbar(
            x,
            e,
            yerr=[e - np.array([r[3] for r in rows]), np.array([r[4] for r in rows]) - e],
            color=COLOURS[m],
            marker="o",
            capsize=3,
            label=m,
        )
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xscale("log", base=2)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel("n (inputs)")
    ax.set_ylabel("exponent of loss ~ live^a (95% CI)")
    ax.set_title("power-law exponent per (method, n)")
    ax.legend()


def _reach_panel(ax, reach, name, ns) -> None:
    """Live parameters each method needs to reach the loss level `name`, against n (x: not reached)."""
    for m in METHODS:
        rows = [r for r in reach if r[0] == m and r[2] == name]
        x = np.array([r[1] for r in rows], float)
        need = np.array([r[4] for r in rows])
        ax.plot(x, need, color=COLOURS[m], marker="o", label=m)
        for xi, ni, r in zip(x, need, rows, strict=True):
            if r[5] == "<= min":
                ax.annotate("<=", (xi, ni), color=COLOURS[m], xytext=(3, -8), textcoords="offset points")
        miss = x[~np.isfinite(need)]
        if len(miss):
            ax.scatter(
                miss, np.full(len(miss), ax.get_ylim()[1] if ax.has_data() else 1e4), marker="x", color=COLOURS[m]
            )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel("n (inputs)")
    ax.set_ylabel("live parameters needed")
    ax.set_title(f"live parameters to reach {name}\n(x: not reached)")
    ax.legend()


def _figure(runs, law, reach, out) -> str:
    ns = [n_inputs(r) for r in runs]
    n_panels = len(runs) + 3
    rows = -(-n_panels // 3)
    fig, axes = plt.subplots(rows, 3, figsize=(8.7, 2.9 * rows), squeeze=False)
    axes = list(axes.flat)
    for ax, run in zip(axes, runs, strict=False):
        _loss_panel(ax, run, law, reach)
    axes[0].legend(title="geo. mean, bars: seed range\n-- power-law fit")
    _exponent_panel(axes[len(runs)], law, ns)
    for ax, name in zip(axes[len(runs) + 1 :], (f"loss {LOSS_LEVEL:g}", "dense loss"), strict=False):
        _reach_panel(ax, reach, name, ns)
    for ax in axes[n_panels:]:
        ax.axis("off")
    fig.suptitle("T1: test loss against live parameters on binary trees (k = 2), depth = levels")
    fig.tight_layout()
    return base.save_figure(fig, out, "t1_sparsity")


def _need(r) -> str:
    """A reach row's live parameters needed, as the page gives them."""
    return "not reached" if r[5] == "not reached" else f"{'<=' if r[5] == '<= min' else ''}{r[4]:,.0f}"


def numbers(law, reach) -> list[list]:
    """Per n: the live parameters oracle and SP need to reach the dense loss, dense's own count, and the
    power-law exponents of oracle and SP with their 95% intervals."""
    out = [["n (inputs)", "oracle needs", "SP needs", "dense has", "dense loss", "oracle exponent", "SP exponent"]]
    for d in (r for r in reach if r[0] == "dense" and r[2] == "dense loss"):
        need = {r[0]: _need(r) for r in reach if r[1] == d[1] and r[2] == "dense loss"}
        exp = {r[0]: tuple(r[2:5]) for r in law if r[1] == d[1]}
        out.append([d[1], need.get("oracle", ""), need.get("sp", ""), int(round(d[4])), d[3],
                    exp.get("oracle", float("nan")), exp.get("sp", float("nan"))])  # fmt: skip
    return out


def headline(reach) -> str:
    """The live parameters oracle and SP need to reach the dense network's own loss at each n, and dense's."""
    dense = [r for r in reach if r[0] == "dense" and r[2] == "dense loss"]
    if not dense:
        return "No dense network, so no dense loss to reach."
    ns = [r[1] for r in dense]

    def needs(m):
        by = {r[1]: r for r in reach if r[0] == m and r[2] == "dense loss"}
        return ", ".join(_need(by[n]) if n in by else "no points" for n in ns)

    return (
        f"Live parameters to reach the dense loss at n = {', '.join(map(str, ns))}: oracle {needs('oracle')}; "
        f"SP {needs('sp')}; dense has {', '.join(f'{r[4]:,.0f}' for r in dense)}."
    )


def make(runs, out):
    runs = sorted(runs, key=n_inputs)
    law = power_law_rows(runs)
    reach = reach_rows(runs)
    figure = _figure(runs, law, reach, out)
    t_law = base.write_table(
        out, "t1_power_law",
        ["method", "n", "exponent", "ci_lo", "ci_hi", "points", "loglog_r2", "live_min", "live_max"]
        + [f"connected_{k}" for k in ("exponent", "ci_lo", "ci_hi", "points", "loglog_r2", "live_min", "live_max")],
        law,
    )  # fmt: skip
    t_reach = base.write_table(
        out, "t1_params_to_reach", ["method", "n", "level", "loss", "live_params_needed", "how", "dense_over_needed"],
        reach,
    )  # fmt: skip
    details = "'<=': already reached at the sparsest grid point, so the true need is at most that. " + SCORE_NOTE
    return base.Section(TITLE, headline(reach), [figure], [t_law, t_reach], numbers(law, reach), details=details,
                        empty="no exponent: fewer than two distinct live counts")  # fmt: skip


def main(argv=None) -> None:
    base.analysis_main(__doc__, select, make, argv)


if __name__ == "__main__":
    main()
