"""E3 connectivity axis: at a target's peak depth, the distributed score IIA_das (docs/method.md, "Distributed
causal score"; the primary measure), the local-unit IIA and C beside it, the compositional (distributed) and
modular (wiring) fractions and test R^2 against sparsity for every method, dense included (its sparsity
coordinate is ignored); means with 95% bootstrap intervals over seeds, and over the fit networks only. Each
method against its shuffled control (same per-layer density, wiring permuted) at the sparsities where both fit,
and each method against random and each pruned method against dense at every sparsity, paired by seed: does the
specific sparse wiring matter?

    python -m sweetspot report runs/e3_* --out report
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sweetspot import experiments  # noqa: E402
from sweetspot.analysis import base, stats  # noqa: E402

TITLE = "E3 connectivity axis"
PANELS = (
    ("IIA_das", "mean IIA_das (distributed)"),
    ("IIA", "mean IIA (local units)"),
    ("C", "mean C"),
    ("compositional", "fraction compositional"),
    ("modular", "fraction modular"),
    ("test_r2", "test $R^2$"),
)
# A point's coordinates other than method and sparsity: two methods' networks with equal ones share their init,
# minibatch order and random-mask scores (docs/method.md, "Keys"), so comparisons between methods are paired.
PAIR_AXES = ("depth", "seed", "lr", "weight_decay")
FIT_HALF = 0.5  # a cell "fits" when at least half its networks fit (the rule of E2's peak depth)
CONTROLLED = ("sp", "imp")  # methods with a shuffled control, shuffled:METHOD
DENSE = "dense"  # the unpruned reference; its sparsity coordinate is ignored (docs/method.md, methods)
DIFF_METRICS = ("IIA_das", "IIA", "C")  # the paired differences of every comparison table, IIA_das first
LABEL_DIFFS = ("compositional", "modular")  # label fractions differenced beside them
NAN3 = (float("nan"),) * 3 + (0,)


def select(runs):
    return [r for r in runs if experiments.BY_NAME["E3"].owns(r.experiment)]


def cell_rows(rows, method, sparsity):
    """The networks of one (method, sparsity) cell, diverged points excluded."""
    return [
        r for r in rows if r["method"] == method and float(r["sparsity"]) == sparsity and r.get("diverged") != "True"
    ]


def cell_stats(rows, method, sparsity, metric):
    return stats.mean_std(stats.column(cell_rows(rows, method, sparsity), metric))


def fit_fraction(rows, method, sparsity) -> float:
    """The fraction of the cell's networks (diverged excluded) that fit; NaN for an empty cell."""
    return cell_stats(rows, method, sparsity, "fit")[0]


def converged_fraction(rows, method, sparsity) -> float:
    """The fraction of the cell's networks (diverged excluded) whose training converged (docs/method.md,
    "Training"); NaN for an empty cell or a run from before the label."""
    return cell_stats(rows, method, sparsity, "converged")[0]


def paired_diff(rows, method, other, sparsity, metric) -> tuple[float, float, float, int]:
    """stats.diff_ci(paired=True) of METRIC, METHOD minus OTHER, over their networks of one sparsity aligned by
    PAIR_AXES (the seed): a point missing, diverged or NaN on either side drops its pair."""
    a, b = ({tuple(r.get(k) for k in PAIR_AXES): r for r in cell_rows(rows, m, sparsity)} for m in (method, other))
    keys = sorted(set(a) | set(b), key=str)
    va = [stats.num(a[k].get(metric)) if k in a else np.nan for k in keys]
    vb = [stats.num(b[k].get(metric)) if k in b else np.nan for k in keys]
    return stats.diff_ci(va, vb, paired=True) if keys else NAN3


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


# Means with a 95% bootstrap interval (stats.mean_ci) over a cell's networks: (metric, whether its mean is a new
# column; C's and the label's means are the earlier C_mean and frac_compositional); *_fit: over fit networks only.
CI_METRICS = (("C", False), ("IIA", True), ("C_gain", True), ("compositional", False))
FIT_METRICS = ("C", "IIA")
HEADER = [
    "method", "sparsity", "realised_sparsity", "seeds", "C_mean", "C_std", "frac_compositional", "frac_fit",
    "frac_converged", "test_r2", "diverged", "C_lo", "C_hi", "IIA_mean", "IIA_lo", "IIA_hi", "C_gain_mean",
    "C_gain_lo", "C_gain_hi", "frac_compositional_lo", "frac_compositional_hi", "n_fit",
    *[f"{m}_fit_{s}" for m in FIT_METRICS for s in ("mean", "lo", "hi")],
]  # fmt: skip
# Columns appended since the distributed score (issue 30): its mean and interval over all and over fit networks,
# and the fractions (with intervals) of the modular (wiring) label and of the old local-unit label.
EXTRA_CI = ("IIA_das", "modular", "compositional_local")
HEADER += ["IIA_das_mean", "IIA_das_lo", "IIA_das_hi", "frac_modular", "frac_modular_lo", "frac_modular_hi"]
HEADER += ["frac_compositional_local", "frac_compositional_local_lo", "frac_compositional_local_hi"]
HEADER += ["IIA_das_fit_mean", "IIA_das_fit_lo", "IIA_das_fit_hi"]


def _method_row(rows, m, s) -> list:
    """One HEADER row: the (method, sparsity) cell's means, intervals and fit-only means."""
    cell = cell_rows(rows, m, s)
    c, comp, fit, conv, r2, rs = (
        stats.mean_std(stats.column(cell, k))
        for k in ("C", "compositional", "fit", "converged", "test_r2", "realised_sparsity")
    )
    n_div = sum(r["method"] == m and float(r["sparsity"]) == s and r.get("diverged") == "True" for r in rows)
    row = [m, s, rs[0], c[2], c[0], c[1], comp[0], fit[0], conv[0], r2[0], n_div]
    for metric, new_mean in CI_METRICS:
        m_ci = stats.mean_ci(stats.column(cell, metric))
        row += list(m_ci[:3] if new_mean else m_ci[1:3])
    fit_cell = [r for r in cell if r.get("fit") == "True"]
    row.append(len(fit_cell))
    for metric in FIT_METRICS:
        row += list(stats.mean_ci(stats.column(fit_cell, metric))[:3])
    for metric in EXTRA_CI:
        row += list(stats.mean_ci(stats.column(cell, metric))[:3])
    return row + list(stats.mean_ci(stats.column(fit_cell, "IIA_das"))[:3])


def _figure(run, methods, sparsities, depth, out, tag) -> str:
    """The panels (PANELS against sparsity, three to a row) of one run; returns the PNG."""
    rows = run.rows
    fig, axes = plt.subplots(2, 3, figsize=(8.7, 5.8))
    for j, m in enumerate(methods):
        style = dict(color=f"C{j % 10}", ls="--" if m.startswith("shuffled") else "-", marker="o", ms=3, capsize=2)
        for ax, (metric, label) in zip(axes.flat, PANELS, strict=True):
            ms = np.array([cell_stats(rows, m, s, metric)[:2] for s in sparsities])
            x = np.arange(len(sparsities)) + 0.03 * (j - len(methods) / 2)
            ax.errorbar(x, ms[:, 0], yerr=ms[:, 1], label=m, **style)
            ax.set_title(label)
    for ax in axes.flat:
        ax.set_xticks(range(len(sparsities)), [f"{s:g}" for s in sparsities])
        ax.set_xlabel("sparsity")
    fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="lower center", ncol=min(len(methods), 5))
    fig.suptitle(f"E3 {run.experiment[3:]} at depth {depth}: mean ± std over seeds (dashed: shuffled wiring)")
    fig.tight_layout(rect=(0, 0.04 * (1 + (len(methods) - 1) // 5), 1, 1))
    return base.save_figure(fig, out, f"{tag}_connectivity")


def _diff_columns(metrics) -> list[str]:
    """n, difference and interval columns per metric: n_IIA, dIIA, dIIA_lo, dIIA_hi, ..."""
    return [c for m in metrics for c in (f"n_{m}", f"d{m}", f"d{m}_lo", f"d{m}_hi")]


def _label_columns(labels) -> list[str]:
    """Difference and interval columns per label (a difference of fractions): dmodular, dmodular_lo, ..."""
    return [c for m in labels for c in (f"d{m}", f"d{m}_lo", f"d{m}_hi")]


def _diffs(rows, method, other, sparsity, metrics, labels, ok=True) -> list:
    """The cells of _diff_columns(metrics) + _label_columns(labels): METHOD minus OTHER at one sparsity, paired by
    seed (paired_diff); NaN (and n 0) when not `ok`."""
    out = []
    for k in (*metrics, *labels):
        d = paired_diff(rows, method, other, sparsity, k) if ok else NAN3
        out += [d[3], *d[:3]] if k in metrics else list(d[:3])
    return out


# Column order kept from before the distributed score; its columns (and the modular label's) are appended.
SHUFFLED_HEADER = ["method", "control", "sparsity", "fit_method", "fit_control", "converged_method",
                   "converged_control", "compared"]
SHUFFLED_HEADER += _diff_columns(("IIA", "C")) + _label_columns(("compositional",))
SHUFFLED_HEADER += _diff_columns(("IIA_das",)) + _label_columns(("modular",))


def shuffled_table(rows, methods, sparsities) -> list[list]:
    """One SHUFFLED_HEADER row per (METHOD in CONTROLLED with its shuffled:METHOD in the run, sparsity):
    METHOD minus shuffled:METHOD, paired by seed (paired_diff), on IIA_das, IIA, C and the compositional and
    modular labels, at the sparsities where both cells fit (fit_fraction >= FIT_HALF on each side); elsewhere
    compared is False and the differences are NaN. The fit and converged fractions of both sides beside."""
    table = []
    for m in CONTROLLED:
        ctrl = f"shuffled:{m}"
        if m not in methods or ctrl not in methods:
            continue
        for s in sparsities:
            fa, fb = fit_fraction(rows, m, s), fit_fraction(rows, ctrl, s)
            ok = bool(fa >= FIT_HALF and fb >= FIT_HALF)
            old = _diffs(rows, m, ctrl, s, ("IIA", "C"), ("compositional",), ok)
            conv = [converged_fraction(rows, x, s) for x in (m, ctrl)]
            new = _diffs(rows, m, ctrl, s, ("IIA_das",), ("modular",), ok)
            table.append([m, ctrl, s, fa, fb, *conv, ok, *old, *new])
    return table


VS_RANDOM_HEADER = ["method", "sparsity", "fit_method", "fit_random", "converged_method", "converged_random"]
VS_RANDOM_HEADER += _diff_columns(("IIA", "C")) + _diff_columns(("IIA_das",)) + _label_columns(LABEL_DIFFS)
VS_DENSE_HEADER = ["method", "sparsity", "fit_method", "fit_dense", "converged_method", "converged_dense"]
VS_DENSE_HEADER += _diff_columns(DIFF_METRICS)
VS_DENSE_HEADER += _label_columns(LABEL_DIFFS)


def vs_table(rows, methods, sparsities, ref) -> list[list]:
    """One row per (method other than REF, sparsity): METHOD minus REF, paired by seed (paired_diff), at every
    sparsity, the fit and then the converged fractions of both sides beside it. REF "random": VS_RANDOM_HEADER's
    rows (IIA and C, then IIA_das and the labels); REF DENSE: VS_DENSE_HEADER's (IIA_das, IIA, C, the labels). []
    without REF."""
    if ref not in methods:
        return []
    table = []
    for m in (m for m in methods if m != ref):
        for s in sparsities:
            fits = [f(rows, x, s) for f in (fit_fraction, converged_fraction) for x in (m, ref)]
            if ref == DENSE:
                table.append([m, s, *fits, *_diffs(rows, m, ref, s, DIFF_METRICS, LABEL_DIFFS)])
                continue
            old = _diffs(rows, m, ref, s, ("IIA", "C"), ())
            table.append([m, s, *fits, *old, *_diffs(rows, m, ref, s, ("IIA_das",), LABEL_DIFFS)])
    return table


def vs_random_table(rows, methods, sparsities) -> list[list]:
    return vs_table(rows, methods, sparsities, "random")


def vs_dense_table(rows, methods, sparsities) -> list[list]:
    return vs_table(rows, methods, sparsities, DENSE)


def _sides(table, header, metric) -> dict[str, dict[str, list[float]]]:
    """{"below": {method: [sparsity, ...]}, "above": ...}: the rows whose d{metric} interval lies wholly below or
    above 0."""
    side = {"below": {}, "above": {}}
    for t in table:
        d = dict(zip(header, t, strict=True))
        where = "below" if d[f"d{metric}_hi"] < 0 else "above" if d[f"d{metric}_lo"] > 0 else None
        if where:
            side[where].setdefault(d["method"], []).append(d["sparsity"])
    return side


NUMBERS_HEADER = ["target (depth)", "method", "best sparsity", "IIA_das there", "mean IIA_das over sparsities",
                  "IIA_das above its shuffled control", "IIA_das above / below dense"]  # fmt: skip


def _best(table, method) -> tuple:
    """(sparsity, (IIA_das mean, lo, hi)) of the method's cell with the highest mean IIA_das; NaN without one."""
    rows = [dict(zip(HEADER, t, strict=True)) for t in table if t[0] == method]
    rows = [r for r in rows if np.isfinite(r["IIA_das_mean"])]
    if not rows:
        return float("nan"), float("nan")
    r = max(rows, key=lambda r: r["IIA_das_mean"])
    return r["sparsity"], (r["IIA_das_mean"], r["IIA_das_lo"], r["IIA_das_hi"])


def numbers(name, depth, methods, table, shuffled, vs_dense) -> list[list]:
    """One numbers row per method of one run: its best cell on IIA_das, its mean over sparsities, and at how many
    sparsities its IIA_das lies above its shuffled control's and above or below dense's (95% intervals, paired)."""
    rows = []
    side, n_dense = _sides(vs_dense, VS_DENSE_HEADER, "IIA_das"), len({t[1] for t in vs_dense})
    for m in methods:
        done = [d for d in (dict(zip(SHUFFLED_HEADER, t, strict=True)) for t in shuffled)
                if d["method"] == m and d["compared"]]
        ctrl = f"{sum(x['dIIA_das_lo'] > 0 for x in done)} of {len(done)}" if m in CONTROLLED and done else ""
        dense = f"{len(side['above'].get(m, []))} / {len(side['below'].get(m, []))} of {n_dense}" if n_dense else ""
        mean = np.nanmean([t[HEADER.index("IIA_das_mean")] for t in table if t[0] == m] or [np.nan])
        rows.append([f"{name} ({depth})", m, *_best(table, m), mean, ctrl, dense if m != DENSE else ""])
    return rows


def headline(name, depth, methods, table, shuffled) -> str:
    """One clause per run: the method and sparsity with the highest mean IIA_das, its value and interval, and at
    how many compared sparsities SP's IIA_das lies above its shuffled control's."""
    best = {m: _best(table, m) for m in methods}
    have = [m for m in methods if np.isfinite(best[m][0])]
    if not have:
        return f"{name} (depth {depth}): no method has an IIA_das"
    top = max(have, key=lambda m: best[m][1][0])
    out = f"{name} (depth {depth}): the best cell is {top} at sparsity {best[top][0]:g}, IIA_das "
    out += stats.fmt_ci(*best[top][1])
    for m in (m for m in CONTROLLED if m in methods and f"shuffled:{m}" in methods):
        done = [d for d in (dict(zip(SHUFFLED_HEADER, t, strict=True)) for t in shuffled)
                if d["method"] == m and d["compared"]]
        above = sum(d["dIIA_das_lo"] > 0 for d in done)
        n = stats.plural(len(done), "compared sparsity", "compared sparsities")
        out += f"; {m} is above its shuffled control at {above} of {n}"
    return out


def make(runs, out):
    figures, tables, rows, heads, details = [], [], [NUMBERS_HEADER], [], []
    for run in sorted(runs, key=lambda r: r.experiment):
        rows_, tag = run.rows, run.name.replace("/", "_")
        methods = list(dict.fromkeys(r["method"] for r in rows_))
        sparsities = sorted({float(r["sparsity"]) for r in rows_})
        depth = ", ".join(str(d) for d in sorted({int(r["depth"]) for r in rows_}))
        figures.append(_figure(run, methods, sparsities, depth, out, tag))
        with np.errstate(all="ignore"):
            table = [_method_row(rows_, m, s) for m in methods for s in sparsities]
            shuffled = shuffled_table(rows_, methods, sparsities)
            vs_random = vs_random_table(rows_, methods, sparsities)
            vs_dense = vs_dense_table(rows_, methods, sparsities)
        tables.append(base.write_table(out, f"{tag}_methods", HEADER, table))
        tables.append(base.write_table(out, f"{tag}_shuffled", SHUFFLED_HEADER, shuffled))
        if vs_random:
            tables.append(base.write_table(out, f"{tag}_vs_random", VS_RANDOM_HEADER, vs_random))
        if vs_dense:
            tables.append(base.write_table(out, f"{tag}_vs_dense", VS_DENSE_HEADER, vs_dense))
        name = run.experiment[3:] or run.name
        rows += numbers(name, depth, methods, table, shuffled, vs_dense)
        heads.append(headline(name, depth, methods, table, shuffled))
        mismatch = [f"{m} {density_mismatch(rows_, m):.2g}" for m in CONTROLLED if f"shuffled:{m}" in methods]
        details += [f"{name}: per-layer density of the shuffled control minus its method's, largest: "
                    + ", ".join(mismatch) + "."] if mismatch else []  # fmt: skip
    head = "; ".join(heads) + "." if heads else "No E3 run."
    return base.Section(TITLE, head, figures, tables, rows, details=" ".join(details),
                        empty="no value, or nothing to compare with (no control, no dense, nothing fits)")  # fmt: skip


def main(argv=None) -> None:
    base.analysis_main(__doc__, select, make, argv)


if __name__ == "__main__":
    main()
