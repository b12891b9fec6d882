"""E1 regime map: heatmaps over depth x sparsity of the fraction of compositional seeds, mean C and test R^2
(fit), one panel per method, and a table of every cell. Reads results.csv only.

    python -m sweetspot report runs/e1 --out report        (as part of the report)
    python analysis/e1_regime.py runs/e1 --out report       (this analysis alone)
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from sweetspot.analysis import base, regime_heatmap, stats  # noqa: E402

TITLE = "E1 regime map"
METRICS = ("compositional", "C", "test_r2")


def select(runs):
    """E1 runs, and untagged regime maps (e.g. `make demo`), that have the metrics."""
    return [r for r in runs if r.experiment in ("e1", "") and r.has("C")]


def cells(run):
    """[(method, depth, sparsity, {metric: (mean, std, n)})] over every (method, depth, sparsity) cell."""
    out = []
    keys = sorted({(r["method"], int(r["depth"]), float(r["sparsity"])) for r in run.rows})
    for m, d, s in keys:
        rows = [
            r
            for r in run.rows
            if (r["method"], int(r["depth"]), float(r["sparsity"])) == (m, d, s) and r.get("diverged") != "True"
        ]
        cell = {k: stats.mean_std(stats.column(rows, k)) for k in ("compositional", "C", "fit", "test_r2")}
        out.append((m, d, s, cell))
    return out


def make(runs, out):
    figures, tables, lines = [], [], []
    for run in runs:
        tag = run.name.replace("/", "_")
        for metric in METRICS:
            figures.append(
                os.path.basename(regime_heatmap.heatmap(run.rows, metric, os.path.join(out, f"{tag}_{metric}")))
            )
        table = []
        for m, d, s, st in cells(run):
            table.append(
                [m, d, s, st["C"][2], st["compositional"][0], st["C"][0], st["C"][1], st["fit"][0], st["test_r2"][0]]
            )
        tables.append(
            base.write_table(
                out,
                f"{tag}_cells",
                [
                    "method",
                    "depth",
                    "sparsity",
                    "seeds",
                    "frac_compositional",
                    "C_mean",
                    "C_std",
                    "frac_fit",
                    "test_r2",
                ],
                table,
            )
        )
        for m in sorted({t[0] for t in table}):
            mine = [t for t in table if t[0] == m and np.isfinite(t[5])]
            best = max(mine, key=lambda t: t[5])
            lines.append(
                f"{run.name} {m}: peak mean C {best[5]:.2f} at depth {best[1]}, sparsity {best[2]:g} "
                f"(compositional {best[4]:.2f} of seeds; {sum(t[4] > 0 for t in mine)} of {len(mine)} cells have any)."
            )
    text = (
        "Mean over seeds of the compositional label, of C and of test R^2 per (depth, sparsity) cell; each cell "
        "prints mean ± std. " + " ".join(lines)
    )
    return base.Section(TITLE, text, figures, tables)


def main(argv=None) -> None:
    base.analysis_main(__doc__, select, make, argv)


if __name__ == "__main__":
    main()
