"""E4 fractured solutions: fit networks inside and outside the sweet spot of the E1 map, with the sweet spot chosen
on one half of the seeds and the networks measured on the other half, so that the cells are not chosen on the
networks they are then compared on.

Rows: the E1 runs pooled as in e1_regime.pooled (the target instances of one E1 setting together; an untagged run
alone). A cell is (method, depth, sparsity) with the networks of every instance pooled: the sweet spot is a
region of the regime map, shared by the instances.
- Selection half: the networks with an even seed (0, 2, 4, 6). A cell is eligible when at least half of its
  selection networks fit (a diverged network counts as unfit) and the selection metric has a finite mean there;
  the sweet spot is the eligible cells whose mean selection metric over the selection networks is at least the
  75th percentile (numpy linear interpolation) of those means over the eligible cells of every method; outside
  = the other eligible cells. Selection metric: IIA_das, the distributed causal score (primary), and, beside it,
  the local-unit IIA and C (the earlier rules).
- Measurement half: the fit networks with an odd seed (1, 3, 5, 7) in the sweet spot (inside) and in the
  outside cells. No odd-seed value enters the choice of cells.
- Reported with 95% percentile-bootstrap intervals (seed 0): means inside and outside (stats.mean_ci) and
  inside minus outside (stats.diff_ci, unpaired, over networks) of IIA_das, IIA, C, test R^2, the labels and the
  probe quantities; the equally good fits outside = the outside networks with test R^2 >= the median of the
  inside ones; among them the share fractured (fit and not `compositional`, the label on the distributed score;
  beside it, not `compositional_local`, the local-unit label), and the share that is fractured and has IIA_das
  (IIA, C) below the 25th percentile of the inside networks' IIA_das (IIA, C). The median and percentiles are
  computed once on the measurement half and held fixed; the bootstrap resamples the networks. A label a run does
  not have (a run from before it) is undefined, not 0.
    python -m sweetspot report runs/e1_i0 runs/e1_i1 runs/e1_i2 --out report
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sweetspot import experiments  # noqa: E402
from sweetspot.analysis import base, e1_regime, stats  # noqa: E402

TITLE = "E4 fractured solutions"
QUANTITIES = ("test_r2", "IIA_das", "IIA", "C", "compositional", "compositional_local", "IIA_das_control", "r2_any",
              "r2_restricted", "fracture_gap", "interference")  # fmt: skip
SCORES = ("IIA_das", "IIA", "C")  # the scores compared inside vs outside, the distributed one first
LABEL_COLUMNS = ("compositional", "compositional_local")  # 0/1 per network: the distributed label, the local one
SELECT_BY = SCORES  # the sweet spot chosen on mean IIA_das (primary), and on mean IIA and mean C beside it
TOP_PERCENTILE = 75  # the sweet spot: eligible cells with a mean at or above this percentile of the cells' means
LOW_PERCENTILE = 25  # "low IIA (C)": below this percentile of the inside networks'
FIT_SHARE = e1_regime.FIT_SHARE
GROUPS = ("sweet spot", "outside", "outside, test R^2 >= inside median")
CELL_HEADER = [
    "selection", "method", "depth", "sparsity", "selection_networks", "selection_fit_share", "selection_mean",
    "inside", "measured_fit_networks",
]  # fmt: skip
TEST_HEADER = ["selection", "measure", "value", "lo", "hi", "n", "reference"]


def select(runs):
    return [r for r in runs if experiments.BY_NAME["E1"].owns(r.experiment) and r.has("C")]


def is_selection(row) -> bool:
    """Whether a network is in the selection half: an even seed."""
    return int(float(row["seed"])) % 2 == 0


def sweet_spot(rows, metric="IIA_das") -> dict:
    """{cell key: (inside, selection networks, fit share, mean metric)} over the eligible cells, computed from the
    selection half (even seeds) of `rows` only."""
    cells = e1_regime.cell_rows([r for r in rows if is_selection(r)])
    ok = {}
    for k, rs in cells.items():
        share = float(np.mean(e1_regime.values(rs, "fit")))
        mean = stats.mean_std(e1_regime.values(rs, metric))[0]
        if share >= FIT_SHARE and np.isfinite(mean):
            ok[k] = (len(rs), share, mean)
    if not ok:
        return {}
    cut = np.percentile([v[2] for v in ok.values()], TOP_PERCENTILE)
    return {k: (bool(v[2] >= cut),) + v for k, v in ok.items()}


def split(rows, metric="IIA_das") -> tuple[list, list, dict]:
    """(inside, outside, sweet_spot(rows, metric)): the fit networks of the measurement half (odd seeds) in the
    sweet-spot cells and in the other eligible cells."""
    spot = sweet_spot(rows, metric)
    measured = [r for r in rows if not is_selection(r) and cell_key(r) in spot]
    fit = e1_regime.values(measured, "fit") == 1 if measured else np.zeros(0, bool)
    measured = [r for r, f in zip(measured, fit, strict=True) if f]
    inside = [r for r in measured if spot[cell_key(r)][0]]
    outside = [r for r in measured if not spot[cell_key(r)][0]]
    return inside, outside, spot


def cell_key(r) -> tuple:
    return e1_regime.cell_key(r)


def label(rows, name) -> np.ndarray:
    """A 0/1 label per row (NaN read as 0); NaN throughout when no row has the column (a run from before it)."""
    v = stats.column(rows, name)
    return np.nan_to_num(v, nan=0.0) if any(name in r for r in rows) else v


def values(rows) -> dict:
    return {
        "test_r2": stats.column(rows, "test_r2"),
        **{q: stats.column(rows, q) for q in (*SCORES, "IIA_das_control")},
        **{q: label(rows, q) for q in LABEL_COLUMNS},
        "r2_any": stats.node_mean(rows, "r2_any"),
        "r2_restricted": stats.node_mean(rows, "r2_restricted"),
        "fracture_gap": stats.node_mean(rows, "fracture_gap"),
        "interference": stats.column(rows, "interference"),
    }


def _fractured(v) -> np.ndarray:
    """1 - label over fit networks (fractured = fit and not compositional); NaN stays NaN."""
    return 1.0 - v


def compare(inside, outside, by) -> tuple[list[list], list[list], np.ndarray]:
    """(group rows of NAME_fractured.csv, test rows of NAME_fractured_tests.csv, the matched mask over outside)."""
    vi, vo = values(inside), values(outside)
    med = float(np.nanmedian(vi["test_r2"]))
    matched = vo["test_r2"] >= med
    vm = {q: x[matched] for q, x in vo.items()}
    sizes = (len(inside), len(outside), int(matched.sum()))
    groups = [
        [by, name, n] + [x for q in QUANTITIES for x in stats.mean_ci(v[q])[:3]]
        for name, v, n in zip(GROUPS, (vi, vo, vm), sizes, strict=True)
    ]
    compared = (*SCORES, "test_r2", *LABEL_COLUMNS)
    tests = [[by, f"{q} inside - outside", *stats.diff_ci(vi[q], vo[q]), ""] for q in compared]
    fractured = _fractured(vo["compositional"])
    tests.append([by, "matched outside: share fractured", *stats.mean_ci(fractured[matched]), med])
    local = _fractured(vo["compositional_local"])[matched]
    tests.append([by, "matched outside: share fractured (local label)", *stats.mean_ci(local), med])
    for q in SCORES:
        low = np.nanpercentile(vi[q], LOW_PERCENTILE) if np.isfinite(vi[q]).any() else float("nan")
        ok = np.isfinite(fractured) & np.isfinite(low)  # no percentile (no score inside): undefined, not 0
        share = np.where(ok, (fractured == 1) & (vo[q] < low), np.nan)[matched]
        tests.append([by, f"matched outside: share fractured with {q} < inside p{LOW_PERCENTILE}",
                      *stats.mean_ci(share), low])  # fmt: skip
    return groups, tests, matched


def figure(inside, outside, name, out) -> str:
    vi, vo = values(inside), values(outside)
    fig, axes = plt.subplots(2, 3, figsize=(8.7, 5.8))
    axes = axes.flat
    for v, colour, label in ((vo, "C1", f"outside ({len(outside)})"), (vi, "C0", f"sweet spot ({len(inside)})")):
        axes[0].scatter(v["r2_any"], v["r2_restricted"], s=9, alpha=0.6, color=colour, label=label)
    axes[0].plot([0, 1], [0, 1], "k:", lw=1)
    axes[0].set_xlabel("$r2_{any}$ (mean over nodes)")
    axes[0].set_ylabel("$r2_{restricted}$ (mean over nodes)")
    axes[0].legend()
    for ax, q in zip(axes[1:5], ("IIA_das", "IIA", "interference", "test_r2"), strict=True):
        data = [vi[q][np.isfinite(vi[q])], vo[q][np.isfinite(vo[q])]]
        ax.boxplot(data, tick_labels=["sweet spot", "outside"], showmeans=True)
        ax.set_title(q)
    axes[5].set_visible(False)
    fig.suptitle(f"E4 {name}: fit networks inside vs outside the sweet spot")
    fig.tight_layout()
    caption = (
        f"E4 {name}: fit odd-seed networks inside and outside the sweet spot chosen on the even seeds by mean "
        f"{SELECT_BY[0]}: the probe R^2 of each node restricted to its local units against any units, and IIA_das, "
        "IIA, interference and test R^2 inside and outside (boxes: quartiles; triangles: means)."
    )
    return base.save_figure(fig, out, f"{name}_fractured", caption)


NUMBER_ROWS = (
    ("cells inside the sweet spot, of the eligible ones", "cells"),
    ("fit networks measured inside / outside", "networks"),
    *((f"{q} inside minus outside", f"{q} inside - outside") for q in (*SCORES, "test_r2", "compositional")),
    ("outside networks with test R^2 >= the inside median", "matched"),
    ("share of them fractured (distributed label)", "matched outside: share fractured"),
    ("share of them fractured (local-unit label)", "matched outside: share fractured (local label)"),
)


def _column(spot, groups, tests) -> list:
    """One selection rule's cells of the numbers table (NUMBER_ROWS)."""
    g = {row[1]: row for row in groups}
    col = {row[1]: tuple(row[2:5]) for row in tests}
    col["cells"] = f"{sum(v[0] for v in spot.values())} of {len(spot)}"
    col["networks"] = f"{g[GROUPS[0]][2]:,} / {g[GROUPS[1]][2]:,}"
    col["matched"] = g[GROUPS[2]][2]
    return [col.get(key, float("nan")) for _, key in NUMBER_ROWS]


def _headline(name, groups, tests) -> str:
    """The share fractured among the outside networks that fit as well, and inside minus outside on IIA_das."""
    t, n = {row[1]: row for row in tests}, next(g[2] for g in groups if g[1] == GROUPS[2])
    share, das = t["matched outside: share fractured"], t["IIA_das inside - outside"]
    ci = lambda row: stats.fmt_ci(*row[2:5]) if np.isfinite(row[3]) else f"{row[2]:.2f}"
    return (
        f"{name + ': ' if name else ''}of the {stats.plural(n, 'network')} outside the sweet spot that fit as well as "
        f"those inside, {ci(share)} are fractured; inside minus outside, IIA_das {ci(das)}"
    )


def make(runs, out):
    figures, tables, columns, heads = [], [], [], []
    groups_in = e1_regime.pooled(runs)
    for name, rows in groups_in:
        label = name if len(groups_in) > 1 else ""
        cells, groups, tests = [], [], []
        for by in SELECT_BY:
            inside, outside, spot = split(rows, by)
            n_fit = {}
            for r in inside + outside:
                n_fit[cell_key(r)] = n_fit.get(cell_key(r), 0) + 1
            cells += [[by, *k, v[1], v[2], v[3], v[0], n_fit.get(k, 0)] for k, v in spot.items()]
            if not inside or not outside:
                if by == SELECT_BY[0]:
                    heads.append(f"{label + ': ' if label else ''}too few fit cells with an {by} value to split "
                                 "inside from outside the sweet spot")  # fmt: skip
                continue
            g, t, _ = compare(inside, outside, by)
            groups, tests = groups + g, tests + t
            columns.append((f"{label + ': ' if label else ''}chosen on {by}", _column(spot, g, t)))
            if by == SELECT_BY[0]:
                figures.append(figure(inside, outside, name, out))
                heads.append(_headline(label, g, t))
        if cells:
            tables.append(base.write_table(out, f"{name}_fractured_cells", CELL_HEADER, cells))
        if groups:
            header = ["selection", "group", "n"] + [f"{q}_{s}" for q in QUANTITIES for s in ("mean", "lo", "hi")]
            tables.append(base.write_table(out, f"{name}_fractured", header, groups))
            tables.append(base.write_table(out, f"{name}_fractured_tests", TEST_HEADER, tests))
    numbers = [["", *(c[0] for c in columns)]] + [
        [label, *(c[1][i] for c in columns)] for i, (label, _) in enumerate(NUMBER_ROWS)
    ] if columns else []  # fmt: skip
    head = "; ".join(heads) + "." if heads else "Too few fit cells to split inside from outside."
    return base.Section(TITLE, head[0].upper() + head[1:], figures, tables, numbers)


def main(argv=None) -> None:
    base.analysis_main(__doc__, select, make, argv)


if __name__ == "__main__":
    main()
