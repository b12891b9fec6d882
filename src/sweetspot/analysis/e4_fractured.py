"""E4 fractured solutions: fit networks inside and outside the sweet spot of an E1 map. Shows r2_any against
r2_restricted (mean over constituents) and the interference, and counts the outside networks that fit as well
as the inside ones but have low C.

Sweet spot (this analysis's definition, docs/results.md): per run, the (method, depth, sparsity) cells where at
least half the seeds fit and whose mean C is in the top quartile of those cells; outside = the other such cells.
    python -m sweetspot report runs/e1 --out report
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sweetspot.analysis import base, stats  # noqa: E402

TITLE = "E4 fractured solutions"
QUANTITIES = ("test_r2", "C", "r2_any", "r2_restricted", "fracture_gap", "interference")


def select(runs):
    return [r for r in runs if r.experiment in ("e1", "") and r.has("C")]


def split(run):
    """(inside, outside): lists of fit rows in sweet-spot cells and in other cells where half the seeds fit."""
    key = lambda r: (r["method"], r["depth"], r["sparsity"])
    cells = {}
    for r in run.rows:
        cells.setdefault(key(r), []).append(r)
    ok = {k: v for k, v in cells.items() if np.nanmean(stats.column(v, "fit")) >= 0.5}
    if not ok:
        return [], []
    mean_c = {k: np.nanmean(stats.column(v, "C")) for k, v in ok.items()}
    cut = np.nanpercentile(list(mean_c.values()), 75)
    fit_rows = lambda v: [r for r in v if r["fit"] == "True"]
    inside = [r for k, v in ok.items() if mean_c[k] >= cut for r in fit_rows(v)]
    outside = [r for k, v in ok.items() if mean_c[k] < cut for r in fit_rows(v)]
    return inside, outside


def values(rows):
    return {
        "test_r2": stats.column(rows, "test_r2"),
        "C": stats.column(rows, "C"),
        "r2_any": stats.node_mean(rows, "r2_any"),
        "r2_restricted": stats.node_mean(rows, "r2_restricted"),
        "fracture_gap": stats.node_mean(rows, "fracture_gap"),
        "interference": stats.column(rows, "interference"),
    }


def make(runs, out):
    figures, tables, lines = [], [], []
    for run in runs:
        tag = run.name.replace("/", "_")
        inside, outside = split(run)
        if not inside or not outside:
            lines.append(f"{run.name}: too few fit cells to split.")
            continue
        vi, vo = values(inside), values(outside)
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
        for v, colour, label in ((vo, "C1", f"outside ({len(outside)})"), (vi, "C0", f"sweet spot ({len(inside)})")):
            axes[0].scatter(v["r2_any"], v["r2_restricted"], s=9, alpha=0.6, color=colour, label=label)
        axes[0].plot([0, 1], [0, 1], "k:", lw=1)
        axes[0].set_xlabel("$r2_{any}$ (mean over constituents)")
        axes[0].set_ylabel("$r2_{restricted}$ (mean over constituents)")
        axes[0].legend(fontsize=7)
        for ax, q in zip(axes[1:], ("interference", "test_r2"), strict=True):
            data = [vi[q][np.isfinite(vi[q])], vo[q][np.isfinite(vo[q])]]
            ax.boxplot(data, tick_labels=["sweet spot", "outside"], showmeans=True)
            ax.set_ylabel(q)
        fig.suptitle(f"E4 {run.name}: fit networks inside vs outside the sweet spot", fontsize=10)
        fig.tight_layout()
        figures.append(base.save_figure(fig, out, f"{tag}_fractured"))
        table = []
        for name, v, rows in (("sweet spot", vi, inside), ("outside", vo, outside)):
            row = [name, len(rows)]
            for q in QUANTITIES:
                m, s, _ = stats.mean_std(v[q])
                row += [m, s]
            table.append(row)
        matched = vo["test_r2"] >= np.nanmedian(vi["test_r2"])
        low_c = matched & (vo["C"] < np.nanpercentile(vi["C"], 25))
        table.append(
            ["outside, fit >= inside median", int(matched.sum())]
            + [x for q in QUANTITIES for x in stats.mean_std(vo[q][matched])[:2]]
        )
        header = ["group", "n"] + [f"{q}_{s}" for q in QUANTITIES for s in ("mean", "std")]
        tables.append(base.write_table(out, f"{tag}_fractured", header, table))
        med, q25 = np.nanmedian(vi["test_r2"]), np.nanpercentile(vi["C"], 25)
        mean = lambda v, q: stats.mean_std(v[q])[0]
        lines.append(
            f"{run.name}: {int(matched.sum())} of {len(outside)} fit networks outside the sweet spot fit at least "
            f"as well as the median inside one (test R^2 >= {med:.3f}); {int(low_c.sum())} of them have C below "
            f"the inside 25th percentile ({q25:.2f}). Interference inside {mean(vi, 'interference'):.3f} vs "
            f"outside {mean(vo, 'interference'):.3f}; mean fracture gap {mean(vi, 'fracture_gap'):.3f} vs "
            f"{mean(vo, 'fracture_gap'):.3f}."
        )
    return base.Section(TITLE, " ".join(lines), figures, tables)


def main(argv=None) -> None:
    base.analysis_main(__doc__, select, make, argv)


if __name__ == "__main__":
    main()
