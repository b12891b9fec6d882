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
    cells = {}
    for r in (r for r in rows if r.get("diverged") != "True"):
        cells.setdefault((r["method"], int(r["depth"]), float(r["sparsity"])), []).append(_num(r[metric]))
    for i, j, k in np.ndindex(shape):
        vals = np.array(cells.get((methods[i], depths[j], sparsities[k]), []), float)
        vals = vals[np.isfinite(vals)]
        count[i, j, k] = len(vals)
        if len(vals):
            mean[i, j, k], std[i, j, k] = vals.mean(), vals.std()
    return mean, std, count


def _num(v):
    return 1.0 if v == "True" else 0.0 if v == "False" else float(v)


def sparsity_label(s: float) -> str:
    """A sparsity's tick label: 0 is the dense network."""
    return "0 (dense)" if s == 0.0 else f"{s:g}"


def _axes_values(rows):
    return (sorted({r["method"] for r in rows}), sorted({int(r["depth"]) for r in rows}),
            sorted({float(r["sparsity"]) for r in rows}))  # fmt: skip


def flat(mean) -> str:
    """Why a panel's cells carry no picture ('no cell has a value', 'every cell is 0'), or '' when they do."""
    if not np.isfinite(mean).any():
        return "no cell has a value"
    lo, hi = np.nanmin(mean), np.nanmax(mean)
    return f"every cell is {hi:.2g}" if hi - lo < 1e-12 else ""


def heatmap(rows, metric, out_base) -> str:
    """Draws `metric` (a PANELS key) over depth x sparsity, one panel per method; writes out_base.png and .pdf
    and returns the PNG's path. When every panel is flat (flat: no value, or one value in every cell), draws
    nothing and returns the sentence that says so instead."""
    title = PANELS[metric][0].replace("$", "")
    methods, depths, sparsities = _axes_values(rows)
    mean, _, count = cell_stats(rows, metric, methods, depths, sparsities)
    why = {flat(m) for m in mean}
    if "" not in why:
        n = int(sum(r.get("diverged") != "True" for r in rows))
        return f"No map of the {title}: {' or '.join(sorted(why))} for every method, over {n:,} networks."
    fig = figure(rows, metric)
    cells = "each cell is the mean over its seeds" + (", with the standard deviation under it" if _numbers(
        depths, sparsities) else " (the numbers: the cells CSV)")
    base.savefig(
        fig,
        out_base,
        f"{title} over depth (rows) and sparsity (columns), one panel per method: {cells}; diverged networks left "
        "out. Sparsity 0 (the first column, set off by a line) is the dense network.",
    )
    plt.close(fig)
    return f"{out_base}.png"


def _numbers(depths, sparsities) -> bool:
    """Whether the cells print their mean and std (small grids); larger ones leave it to the colour bar."""
    return len(sparsities) <= 7 and len(depths) <= 10


def _panel(ax, fig_im, mean, std, count, depths, sparsities, numbers):
    """One method's cells; a flat panel says why instead (flat)."""
    why = flat(mean)
    if why:
        ax.text(0.5, 0.5, why, transform=ax.transAxes, ha="center", va="center")
        ax.set_xticks([])
        ax.set_yticks([])
        return
    im = ax.imshow(mean, origin="lower", aspect="auto", **fig_im)
    for j, k in np.ndindex(mean.shape):
        if numbers and count[j, k]:
            r, g, b, _ = im.cmap(im.norm(mean[j, k]))
            ax.text(k, j, f"{mean[j, k]:.2f}\n±{std[j, k]:.2f}", ha="center", va="center", fontsize=base.MIN_FONT_PT,
                    color="k" if 0.3 * r + 0.6 * g + 0.1 * b > 0.5 else "w")  # fmt: skip
    ax.set_xticks(range(len(sparsities)), [sparsity_label(s) for s in sparsities])
    if sparsities[0] == 0.0 and len(sparsities) > 1:  # the dense column, set off from the sparse ones
        ax.axvline(0.5, color="w", lw=2.5)
    ax.set_yticks(range(len(depths)), depths)
    ax.set_xlabel("sparsity")
    ax.set_ylabel("depth")


def figure(rows, metric):
    """The heatmap figure: one panel per method, as many side by side as fit in 8.8 in (the page's width at 800
    px). Constrained layout places the figure title above the panel titles and the colour bar beside the panels
    at every grid size (a one-depth grid's title used to overlap the panel titles)."""
    title, cmap, lims = PANELS[metric]
    methods, depths, sparsities = _axes_values(rows)
    mean, std, count = cell_stats(rows, metric, methods, depths, sparsities)
    numbers = _numbers(depths, sparsities)
    panel_w = 0.8 + (0.85 if numbers else 0.4) * len(sparsities)
    cols = max(1, min(len(methods), int(7.6 // panel_w)))
    rows_n = -(-len(methods) // cols)
    size = (1.2 + cols * panel_w, rows_n * (1.0 + (0.42 if numbers else 0.3) * len(depths)) + 0.4)
    fig, axes = plt.subplots(rows_n, cols, figsize=size, squeeze=False, layout="constrained")
    vmin, vmax = lims if lims else (np.nanmin(mean), np.nanmax(mean))
    im_kw = dict(cmap=cmap, vmin=vmin, vmax=vmax)
    for i, (ax, m) in enumerate(zip(axes.flat, methods, strict=False)):
        _panel(ax, im_kw, mean[i], std[i], count[i], depths, sparsities, numbers)
        ax.set_title(f"{m} (n = {int(count[i].max())} seeds per cell)")
    for ax in list(axes.flat)[len(methods) :]:
        ax.set_visible(False)
    fig.colorbar(plt.cm.ScalarMappable(plt.Normalize(vmin, vmax), cmap), ax=axes.ravel().tolist(), label=metric)
    fig.suptitle(f"{title}: mean ± std over seeds" if numbers else f"{title}: mean over seeds")
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
            print(heatmap(rows, metric, os.path.join(out, f"regime_{metric}")))  # a PNG's path, or why none


if __name__ == "__main__":
    main()
