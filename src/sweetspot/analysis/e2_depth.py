"""E2 depth axis: for every target, C, the compositional fraction and the fit fraction against depth at the
target's best sparsity (the sparsity with the highest mean C over depths), mean ± std over seeds.

    python -m sweetspot report runs/e2_* --out report
    python analysis/e2_depth.py --peak runs/e2_tree_L3      (prints the peak depth: E3 runs there)
"""

from __future__ import annotations

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sweetspot import rundir, targets  # noqa: E402
from sweetspot.analysis import base, stats  # noqa: E402

TITLE = "E2 depth axis"


def select(runs):
    return [r for r in runs if r.experiment.startswith("e2/")]


def curves(run):
    """(best sparsity, depths, {metric: (mean, std) arrays over depths}, fit_ok (bool per depth)) at the run's best
    sparsity: the one with the highest mean C over the depths where at least half the seeds fit (a C of networks
    that do not fit the target says little); when nothing fits anywhere, the highest mean C over all depths."""
    rows = [r for r in run.rows if r.get("diverged") != "True"]
    depths = sorted({int(r["depth"]) for r in rows})
    sparsities = sorted({float(r["sparsity"]) for r in rows})

    def cell_stats(s, metric):
        sel = lambda d: [r for r in rows if int(r["depth"]) == d and float(r["sparsity"]) == s]
        ms = [stats.mean_std(stats.column(sel(d), metric)) for d in depths]
        return np.array([m[0] for m in ms]), np.array([m[1] for m in ms])

    def score(s, need_fit):
        c, ok = cell_stats(s, "C")[0], cell_stats(s, "fit")[0] >= 0.5
        c = np.where(ok, c, np.nan) if need_fit else c
        return np.nanmax(c) if np.isfinite(c).any() else -np.inf

    need_fit = any(np.isfinite(score(s, True)) for s in sparsities)
    best = sparsities[int(np.argmax([score(s, need_fit) for s in sparsities]))]
    out = {k: cell_stats(best, k) for k in ("C", "compositional", "fit", "test_r2")}
    fit_ok = out["fit"][0] >= 0.5 if need_fit else np.ones(len(depths), bool)
    return best, depths, out, fit_ok


def target_depth_of(run) -> int:
    """The number of constituent levels of the run's target (its structure's depth)."""
    return targets.make_target(rundir.config_from_meta(run.meta).target).structure.depth


def peak_depth(run) -> int | None:
    """argmax over depth of mean C at the best sparsity, among the depths where at least half the seeds fit. None
    when no cell fits (no empirical peak) or C is undefined (e.g. dense_teacher)."""
    if not any_fit(run):
        return None
    _, depths, c, fit_ok = curves(run)
    mean = np.where(fit_ok, c["C"][0], np.nan)
    return int(depths[int(np.nanargmax(mean))]) if np.isfinite(mean).any() else None


def any_fit(run) -> bool:
    """Whether at least half the seeds fit at some (depth, sparsity) cell."""
    cells = {}
    for r in run.rows:
        cells.setdefault((r["depth"], r["sparsity"]), []).append(stats.num(r["fit"]))
    return any(np.mean(v) >= 0.5 for v in cells.values())


HEADER = [
    "target",
    "family",
    "target_depth",
    "best_sparsity",
    "peak_depth_C",
    "C_at_peak",
    "frac_comp_at_peak",
    "frac_fit_at_peak",
    "peak_depth_compositional",
]


def _panel(ax, run) -> list:
    """Draws one run's curves on ax; returns its e2_peaks row."""
    best, depths, c, _ = curves(run)
    for key, colour, label in (
        ("C", "C0", "mean C"),
        ("compositional", "C3", "frac. compositional"),
        ("fit", "C2", "frac. fit"),
    ):
        mean, std = c[key]
        ax.errorbar(depths, mean, yerr=std, color=colour, marker="o", ms=3, capsize=2, label=label)
    target_depth = target_depth_of(run)
    pk = peak_depth(run)
    if pk is not None:
        ax.axvline(pk, color="grey", ls=":", lw=1)
    fits = "" if any_fit(run) else ", NO cell fits"
    ax.set_title(f"{run.experiment[3:]} (target depth {target_depth}), sparsity {best:g}{fits}", fontsize=9)
    ax.set_xlabel("depth (hidden layers)")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xticks(depths)
    i = depths.index(pk) if pk is not None else None
    at_peak = lambda key: c[key][0][i] if i is not None else float("nan")
    comp = c["compositional"][0]
    return [
        run.experiment[3:],
        run.meta["config"]["target"]["family"],
        target_depth,
        best,
        pk if pk is not None else "",
        at_peak("C"),
        at_peak("compositional"),
        at_peak("fit"),
        int(np.nanargmax(comp) + 1) if np.isfinite(comp).any() and np.nanmax(comp) > 0 else "",
    ]


def make(runs, out):
    runs = sorted(runs, key=lambda r: r.experiment)
    n = len(runs)
    cols = min(n, 3)
    fig, axes = plt.subplots(
        (n + cols - 1) // cols, cols, figsize=(4.2 * cols, 3.2 * ((n + cols - 1) // cols)), squeeze=False
    )
    table = [_panel(ax, run) for ax, run in zip(axes.flat, runs, strict=False)]
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(
        "E2: C, compositional and fit fractions against depth at each target's best sparsity\n"
        "(mean ± std over seeds; dotted line: peak depth of mean C)",
        fontsize=10,
    )
    fig.tight_layout()
    figure = base.save_figure(fig, out, "e2_depth_axis")
    table_name = base.write_table(out, "e2_peaks", HEADER, table)
    moved = sorted({t[4] for t in table if t[4] != ""})
    text = (
        "Peak depth = argmax over depth of mean C at the target's best sparsity, among depths where at least half "
        "the seeds fit (a target that fits nowhere has none). Peak depths seen across targets: "
        f"{moved}. " + "; ".join(f"{t[0]}: peak {t[4] or 'n/a'} (target depth {t[2]})" for t in table) + "."
    )
    return base.Section(TITLE, text, [figure], [table_name])


def main(argv=None) -> None:
    """`RUN_DIR [RUN_DIR ...] --out DIR` (the section), or `--peak RUN_DIR ...` (each run's peak depth, 3 when
    undefined: E3 runs there)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--out")
    p.add_argument("--peak", action="store_true", help="print each run's peak depth (3 when undefined) and exit")
    a = p.parse_args(argv)
    runs = [base.load_run(d) for d in a.run_dirs]
    if a.peak:
        for r in runs:
            pk = peak_depth(r)
            print(pk if pk is not None else 3)
    else:
        if not a.out:
            p.error("--out is required without --peak")
        os.makedirs(a.out, exist_ok=True)
        print(make(select(runs), a.out).text)


if __name__ == "__main__":
    main()
