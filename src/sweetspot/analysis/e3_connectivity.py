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
    "method",
    "sparsity",
    "realised_sparsity",
    "seeds",
    "C_mean",
    "C_std",
    "frac_compositional",
    "frac_fit",
    "frac_converged",
    "test_r2",
    "diverged",
    "C_lo",
    "C_hi",
    "IIA_mean",
    "IIA_lo",
    "IIA_hi",
    "C_gain_mean",
    "C_gain_lo",
    "C_gain_hi",
    "frac_compositional_lo",
    "frac_compositional_hi",
    "n_fit",
    *[f"{m}_fit_{s}" for m in FIT_METRICS for s in ("mean", "lo", "hi")],
]
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
    """The panels (C, IIA, compositional fraction, test R^2 against sparsity) of one run; returns the PNG."""
    rows = run.rows
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.6 * len(PANELS), 3.8))
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
    axes[-1].legend(fontsize=7, ncol=2)
    fig.suptitle(
        f"E3 {run.experiment[3:]} at depth {depth}: mean ± std over seeds (dashed: shuffled wiring)", fontsize=10
    )
    fig.tight_layout()
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


def _shuffled_lines(run, shuffled) -> list[str]:
    """Per controlled method, its paired differences with the shuffled control per sparsity, or why not."""
    lines = []
    for m in dict.fromkeys(t[0] for t in shuffled):
        parts = []
        for t in (t for t in shuffled if t[0] == m):
            d = dict(zip(SHUFFLED_HEADER, t, strict=True))
            if not d["compared"]:
                parts.append(
                    f"at {d['sparsity']:g} not compared (fit fraction {d['fit_method']:.2f} / {d['fit_control']:.2f})"
                )
                continue
            ci = lambda k, d=d: stats.fmt_ci(d[k], d[f"{k}_lo"], d[f"{k}_hi"])
            parts.append(
                f"at {d['sparsity']:g}: IIA_das {ci('dIIA_das')} ({d['n_IIA_das']} pairs), IIA {ci('dIIA')}, "
                f"C {ci('dC')}, compositional {ci('dcompositional')}, modular {ci('dmodular')} ({d['n_C']} pairs)"
            )
        lines.append(
            f"{m} minus shuffled:{m} (paired by seed; per-layer density mismatch max "
            f"{density_mismatch(run.rows, m):.2g}): " + "; ".join(parts) + "."
        )
    return lines


def _sides(table, header, metric) -> dict[str, dict[str, list[str]]]:
    """{"below": {method: [sparsity, ...]}, "above": ...}: the rows whose d{metric} interval lies wholly below or
    above 0."""
    side = {"below": {}, "above": {}}
    for t in table:
        d = dict(zip(header, t, strict=True))
        where = "below" if d[f"d{metric}_hi"] < 0 else "above" if d[f"d{metric}_lo"] > 0 else None
        if where:
            side[where].setdefault(d["method"], []).append(f"{d['sparsity']:g}")
    return side


def _vs_line(table, header, metric, ref) -> str:
    """The (method, sparsity) cells whose METRIC interval against REF lies wholly below or above 0."""
    if not table:
        return ""
    side = _sides(table, header, metric)
    say = lambda w: "; ".join(f"{m} ({', '.join(s)})" for m, s in side[w].items()) or "none"
    return (
        f"{metric} minus {ref}'s (paired by seed), 95% interval wholly below 0: {say('below')}; wholly above 0: "
        f"{say('above')}; every other (method, sparsity) interval contains 0 or has no pairs."
    )


def _vs_lines(vs_random, vs_dense) -> list[str]:
    """_vs_line against random (IIA_das, IIA) and against dense (IIA_das, IIA, C, the labels), the empty left out."""
    lines = [_vs_line(vs_random, VS_RANDOM_HEADER, k, "random") for k in ("IIA_das", "IIA")]
    lines += [_vs_line(vs_dense, VS_DENSE_HEADER, k, DENSE) for k in (*DIFF_METRICS, *LABEL_DIFFS)]
    return [x for x in lines if x]


def _means(methods, table, metric) -> dict[str, float]:
    """{method: mean over sparsities of its METRIC_mean column in the methods table}."""
    col = HEADER.index(f"{metric}_mean")
    return {m: np.nanmean([t[col] for t in table if t[0] == m]) for m in methods}


def _lines(run, methods, depth, table) -> list[str]:
    """The methods ranked by mean IIA_das, by mean IIA and by mean C over sparsities."""
    lines = []
    for metric in ("IIA_das", "IIA", "C"):
        mean = _means(methods, table, metric)
        order = sorted(methods, key=lambda m: -mean[m] if np.isfinite(mean[m]) else np.inf)
        lines.append(
            f"{run.experiment[3:]} (depth {depth}): methods by mean {metric} over sparsities: "
            + ", ".join(f"{m} {mean[m]:.2f}" for m in order)
            + "."
        )
    return lines


def _top(methods, table, metric) -> str:
    """'METHOD MEAN' of the method with the highest mean METRIC over sparsities, or 'none'."""
    mean = _means(methods, table, metric)
    ranked = [m for m in methods if np.isfinite(mean[m])]
    return f"{(top := max(ranked, key=lambda m: mean[m]))} {mean[top]:.2f}" if ranked else "none"


def verdict_part(name, methods, depth, table, shuffled, vs_dense=()) -> str:
    """One run's clause of the section's one-line result: the method with the highest mean IIA_das over
    sparsities (as `_lines` ranks them; the local IIA's and C's beside it); per controlled method, at how many of
    the compared sparsities its IIA_das minus its shuffled control's has a 95% interval wholly above 0; per pruned
    method, at how many sparsities its IIA_das minus dense's lies wholly above and wholly below 0."""
    depths = ", ".join(str(d) for d in depth)
    if _top(methods, table, "IIA_das") == "none" and _top(methods, table, "IIA") == "none":
        return f"{name} (depth {depths}): no method has an IIA_das or an IIA"
    out = f"{name} (depth {depths}): top mean IIA_das {_top(methods, table, 'IIA_das')}"
    out += f" (local IIA {_top(methods, table, 'IIA')}; C {_top(methods, table, 'C')})"
    counts = []
    compared = [dict(zip(SHUFFLED_HEADER, t, strict=True)) for t in shuffled]
    for m in dict.fromkeys(t[0] for t in shuffled):
        done = [d for d in compared if d["method"] == m and d["compared"]]
        counts.append(f"{m} {sum(x['dIIA_das_lo'] > 0 for x in done)}/{len(done)}")
    if counts:
        out += "; IIA_das above the shuffled control at " + ", ".join(counts) + " compared sparsities"
    if vs_dense:
        side, n = _sides(vs_dense, VS_DENSE_HEADER, "IIA_das"), len({t[1] for t in vs_dense})
        pruned = [m for m in dict.fromkeys(t[0] for t in vs_dense) if not m.startswith("shuffled")]
        count = lambda m: f"{m} {len(side['above'].get(m, []))}/{len(side['below'].get(m, []))}"
        out += f"; IIA_das minus dense's above/below 0 (of {n} sparsities): " + ", ".join(map(count, pruned))
    return out


def make(runs, out):
    figures, tables, lines, verdicts = [], [], [], []
    for run in sorted(runs, key=lambda r: r.experiment):
        rows, tag = run.rows, run.name.replace("/", "_")
        methods = list(dict.fromkeys(r["method"] for r in rows))
        sparsities = sorted({float(r["sparsity"]) for r in rows})
        depth = sorted({int(r["depth"]) for r in rows})
        figures.append(_figure(run, methods, sparsities, depth, out, tag))
        with np.errstate(all="ignore"):
            table = [_method_row(rows, m, s) for m in methods for s in sparsities]
            shuffled = shuffled_table(rows, methods, sparsities)
            vs_random = vs_random_table(rows, methods, sparsities)
            vs_dense = vs_dense_table(rows, methods, sparsities)
        tables.append(base.write_table(out, f"{tag}_methods", HEADER, table))
        tables.append(base.write_table(out, f"{tag}_shuffled", SHUFFLED_HEADER, shuffled))
        if vs_random:
            tables.append(base.write_table(out, f"{tag}_vs_random", VS_RANDOM_HEADER, vs_random))
        if vs_dense:
            tables.append(base.write_table(out, f"{tag}_vs_dense", VS_DENSE_HEADER, vs_dense))
        lines += _lines(run, methods, depth, table) + _shuffled_lines(run, shuffled) + _vs_lines(vs_random, vs_dense)
        verdicts.append(verdict_part(run.experiment[3:], methods, depth, table, shuffled, vs_dense))
    text = (
        "IIA_das (the distributed score), the local-unit IIA and C against sparsity at the target's peak depth "
        "(from E2), dense beside the pruned methods; intervals are 95% percentile bootstraps over seeds, differences "
        "between methods are paired by seed, and a method is compared with its shuffled control only at sparsities "
        "where at least half of each side's networks fit. " + " ".join(lines)
    )
    verdict = "; ".join(verdicts) + "." if verdicts else "No E3 run."
    return base.Section(TITLE, text, figures, tables, verdict=verdict)


def main(argv=None) -> None:
    base.analysis_main(__doc__, select, make, argv)


if __name__ == "__main__":
    main()
