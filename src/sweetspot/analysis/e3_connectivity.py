"""E3 connectivity axis: at a target's peak depth, C, the compositional fraction and test R^2 against sparsity
for every pruning method (mean ± std over seeds), and the matched-density check of the shuffled controls.

    python -m sweetspot report runs/e3_* --out report
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sweetspot.analysis import base, stats  # noqa: E402

TITLE = "E3 connectivity axis"
PANELS = (("C", "mean C"), ("compositional", "fraction compositional"), ("test_r2", "test $R^2$"))


def select(runs):
    return [r for r in runs if r.experiment.startswith("e3/")]


def cell_stats(rows, method, sparsity, metric):
    sel = [
        r for r in rows if r["method"] == method and float(r["sparsity"]) == sparsity and r.get("diverged") != "True"
    ]
    return stats.mean_std(stats.column(sel, metric))


def density_mismatch(rows, method):
    """Max |per-layer sparsity of shuffled:METHOD - of METHOD| over matching (sparsity, seed) points."""
    layers = [c for c in rows[0] if c.startswith("layer_sparsity_")]
    key = lambda r: (r["sparsity"], r["seed"], r["lr"], r["weight_decay"])
    ref = {key(r): r for r in rows if r["method"] == method}
    diffs = [
        abs(stats.num(r[c]) - stats.num(ref[key(r)][c]))
        for r in rows
        if r["method"] == f"shuffled:{method}" and key(r) in ref
        for c in layers
        if np.isfinite(stats.num(r[c]))
    ]
    return max(diffs) if diffs else float("nan")


HEADER = [
    "method",
    "sparsity",
    "realised_sparsity",
    "seeds",
    "C_mean",
    "C_std",
    "frac_compositional",
    "frac_fit",
    "test_r2",
]


def _figure(run, methods, sparsities, depth, out, tag) -> str:
    """The three panels (C, compositional fraction, test R^2 against sparsity) of one run; returns the PNG."""
    rows = run.rows
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for j, m in enumerate(methods):
        style = dict(color=f"C{j % 10}", ls="--" if m.startswith("shuffled") else "-", marker="o", ms=3, capsize=2)
        for ax, (metric, label) in zip(axes, PANELS, strict=True):
            ms = np.array([cell_stats(rows, m, s, metric)[:2] for s in sparsities])
            ax.errorbar(
                np.arange(len(sparsities)) + 0.03 * (j - len(methods) / 2),
                ms[:, 0],
                yerr=ms[:, 1],
                label=m,
                **style,
            )
            ax.set_ylabel(label)
    for ax in axes:
        ax.set_xticks(range(len(sparsities)), [f"{s:g}" for s in sparsities])
        ax.set_xlabel("sparsity")
    axes[2].legend(fontsize=7, ncol=2)
    fig.suptitle(
        f"E3 {run.experiment[3:]} at depth {depth}: mean ± std over seeds (dashed: shuffled wiring)", fontsize=10
    )
    fig.tight_layout()
    return base.save_figure(fig, out, f"{tag}_connectivity")


def _table(rows, methods, sparsities) -> list[list]:
    """One HEADER row per (method, sparsity)."""
    table = []
    for m in methods:
        for s in sparsities:
            c, comp, fit, r2 = (cell_stats(rows, m, s, k) for k in ("C", "compositional", "fit", "test_r2"))
            rs = cell_stats(rows, m, s, "realised_sparsity")[0]
            table.append([m, s, rs, c[2], c[0], c[1], comp[0], fit[0], r2[0]])
    return table


def _lines(run, methods, depth, table) -> list[str]:
    """The methods ranked by mean C, and the shuffled controls against their methods."""
    mean_c = {m: np.nanmean([t[4] for t in table if t[0] == m]) for m in methods}
    order = sorted(methods, key=lambda m: -mean_c[m] if np.isfinite(mean_c[m]) else np.inf)
    lines = [
        f"{run.experiment[3:]} (depth {depth}): methods by mean C over sparsities: "
        + ", ".join(f"{m} {mean_c[m]:.2f}" for m in order)
        + "."
    ]
    for m in ("sp", "imp"):
        if f"shuffled:{m}" in methods and m in methods:
            lines.append(
                f"shuffled:{m} vs {m}: mean C {mean_c[f'shuffled:{m}']:.2f} vs {mean_c[m]:.2f}; per-layer density "
                f"mismatch max {density_mismatch(run.rows, m):.2g}."
            )
    return lines


def make(runs, out):
    figures, tables, lines = [], [], []
    for run in sorted(runs, key=lambda r: r.experiment):
        rows, tag = run.rows, run.name.replace("/", "_")
        methods = list(dict.fromkeys(r["method"] for r in rows))
        sparsities = sorted({float(r["sparsity"]) for r in rows})
        depth = sorted({int(r["depth"]) for r in rows})
        figures.append(_figure(run, methods, sparsities, depth, out, tag))
        table = _table(rows, methods, sparsities)
        tables.append(base.write_table(out, f"{tag}_methods", HEADER, table))
        lines += _lines(run, methods, depth, table)
    text = "C against sparsity at the target's peak depth (from E2). " + " ".join(lines)
    return base.Section(TITLE, text, figures, tables)


def main(argv=None) -> None:
    base.analysis_main(__doc__, select, make, argv)


if __name__ == "__main__":
    main()
