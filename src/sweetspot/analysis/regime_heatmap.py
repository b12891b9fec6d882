"""Regime heatmaps of a saved run: metrics over depth x sparsity, averaged over seeds, one panel per method.

    python analysis/regime_heatmap.py RUN_DIR [--out DIR]

Reads RUN_DIR/results.csv only (no retraining) and writes PNG and PDF figures next to it (or to --out):
regime_IIA_das.*    the distributed causal score IIA_das (first; when the run has it; docs/method.md)
regime_IIA.*        the local-unit IIA beside it (blind to directions over mixed units: dense scores ~0 on it)
regime_compositional.*  fraction of compositional seeds (the label on the distributed score)
regime_C.*          mean C
regime_test_loss.*  final test loss (mean over seeds; each cell also prints mean +- std over seeds)
regime_test_r2.*    test R^2 likewise
Sparsity 0 is the dense network (both methods' sparsity-0 cells are dense): its column is labelled "0 (dense)"
and set off from the sparse ones by a line, at every depth.
"""

from __future__ import annotations

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sweetspot.analysis import base  # noqa: E402

PANELS = {  # drawn in this order: the distributed score first
    "IIA_das": ("mean distributed interchange score IIA_das", "magma", (0.0, 1.0)),
    "IIA": ("mean local-unit interchange-intervention accuracy IIA", "magma", (0.0, 1.0)),
    "compositional": ("fraction of compositional seeds (distributed label)", "magma", (0.0, 1.0)),
    "C": ("mean compositionality score C", "magma", (0.0, 1.0)),
    "test_loss": ("final test loss (MSE)", "viridis_r", None),
    "test_r2": ("test $R^2$", "viridis", (0.0, 1.0)),
}


def cell_stats(rows, metric, methods, depths, sparsities):
    """(method, depth, sparsity) arrays of mean, std and count over every other axis (seeds, lr, ...)."""
    shape = (len(methods), len(depths), len(sparsities))
    mean, std, count = np.full(shape, np.nan), np.full(shape, np.nan), np.zeros(shape, int)
    for i, m in enumerate(methods):
        for j, d in enumerate(depths):
            for k, s in enumerate(sparsities):
                vals = [
                    _num(r[metric])
                    for r in rows
                    if r["method"] == m
                    and int(r["depth"]) == d
                    and float(r["sparsity"]) == s
                    and r.get("diverged") != "True"
                ]
                vals = np.array([v for v in vals if np.isfinite(v)])
                count[i, j, k] = len(vals)
                if len(vals):
                    mean[i, j, k], std[i, j, k] = vals.mean(), vals.std()
    return mean, std, count


def _num(v):
    return 1.0 if v == "True" else 0.0 if v == "False" else float(v)


def sparsity_label(s: float) -> str:
    """A sparsity's tick label: 0 is the dense network."""
    return "0 (dense)" if s == 0.0 else f"{s:g}"


def heatmap(rows, metric, out_base):
    """Draws `metric` (a PANELS key) over depth x sparsity, one panel per method; writes out_base.png and .pdf."""
    fig = figure(rows, metric)
    title = PANELS[metric][0].replace("$", "")
    base.savefig(
        fig,
        out_base,
        f"{title} over depth (rows) and sparsity (columns), one panel per method: each cell "
        "is the mean over its seeds, with the standard deviation under it; diverged networks left out. Sparsity 0 "
        "(the first column, set off by a line) is the dense network.",
    )
    plt.close(fig)
    return f"{out_base}.png"


def figure(rows, metric):
    """The heatmap figure. Constrained layout places the figure title above the panel titles and the colour bar
    beside the panels at every grid size (a one-depth grid's title used to overlap the panel titles)."""
    title, cmap, lims = PANELS[metric]
    methods = sorted({r["method"] for r in rows})
    depths = sorted({int(r["depth"]) for r in rows})
    sparsities = sorted({float(r["sparsity"]) for r in rows})
    mean, std, count = cell_stats(rows, metric, methods, depths, sparsities)
    size = (1.3 + 1.25 * len(sparsities) * len(methods), 1.4 + 0.55 * len(depths))
    fig, axes = plt.subplots(1, len(methods), figsize=size, squeeze=False, layout="constrained")
    vmin, vmax = lims if lims else (np.nanmin(mean), np.nanmax(mean))
    for i, (ax, m) in enumerate(zip(axes[0], methods, strict=True)):
        im = ax.imshow(mean[i], origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
        for j in range(len(depths)):
            for k in range(len(sparsities)):
                if count[i, j, k]:
                    r, g, b, _ = im.cmap(im.norm(mean[i, j, k]))
                    ax.text(
                        k,
                        j,
                        f"{mean[i, j, k]:.2f}\n±{std[i, j, k]:.2f}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="k" if 0.3 * r + 0.6 * g + 0.1 * b > 0.5 else "w",
                    )
        ax.set_xticks(range(len(sparsities)), [sparsity_label(s) for s in sparsities])
        if sparsities[0] == 0.0 and len(sparsities) > 1:  # the dense column, set off from the sparse ones
            ax.axvline(0.5, color="w", lw=2.5)
        ax.set_yticks(range(len(depths)), depths)
        ax.set_xlabel("sparsity")
        ax.set_ylabel("depth (hidden layers)")
        ax.set_title(f"{m} (n={int(count[i].max())} seeds/cell)", fontsize=9)
    fig.colorbar(im, ax=axes[0].tolist(), label=title, shrink=0.9)
    fig.suptitle(f"{title}: mean ± std over seeds", fontsize=10)
    return fig


@base.one_line_errors
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--out", default=None, help="figure directory (default: RUN_DIR)")
    args = p.parse_args(argv)
    rows = base.load_run(args.run_dir).rows  # one `error:` line for a missing, unfinished or damaged run
    out = args.out or args.run_dir
    os.makedirs(out, exist_ok=True)
    for metric in PANELS:
        if metric in rows[0]:
            print(heatmap(rows, metric, os.path.join(out, f"regime_{metric}")))


if __name__ == "__main__":
    main()
