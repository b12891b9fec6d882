"""E3 connectivity axis: at a target's peak depth, C, IIA, the compositional fraction and test R^2 against
sparsity for every pruning method (means with 95% bootstrap intervals over seeds, and over the fit networks
only); each method against its shuffled control (same per-layer density, wiring permuted) at the sparsities where
both fit, paired by seed; and each method against random, paired by seed.

    python -m sweetspot report runs/e3_* --out report
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sweetspot.analysis import base, stats  # noqa: E402

TITLE = "E3 connectivity axis"
PANELS = (
    ("C", "mean C"),
    ("IIA", "mean IIA"),
    ("compositional", "fraction compositional"),
    ("test_r2", "test $R^2$"),
)
# A point's coordinates other than method and sparsity: two methods' networks with equal ones share their init,
# minibatch order and random-mask scores (docs/method.md, "Keys"), so comparisons between methods are paired.
PAIR_AXES = ("depth", "seed", "lr", "weight_decay")
FIT_HALF = 0.5  # a cell "fits" when at least half its networks fit (the rule of E2's peak depth)
CONTROLLED = ("sp", "imp")  # methods with a shuffled control, shuffled:METHOD
NAN3 = (float("nan"),) * 3 + (0,)


def select(runs):
    return [r for r in runs if r.experiment.startswith("e3/")]


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


def _method_row(rows, m, s) -> list:
    """One HEADER row: the (method, sparsity) cell's means, intervals and fit-only means."""
    cell = cell_rows(rows, m, s)
    c, comp, fit, r2, rs = (
        stats.mean_std(stats.column(cell, k)) for k in ("C", "compositional", "fit", "test_r2", "realised_sparsity")
    )
    n_div = sum(r["method"] == m and float(r["sparsity"]) == s and r.get("diverged") == "True" for r in rows)
    row = [m, s, rs[0], c[2], c[0], c[1], comp[0], fit[0], r2[0], n_div]
    for metric, new_mean in CI_METRICS:
        m_ci = stats.mean_ci(stats.column(cell, metric))
        row += list(m_ci[:3] if new_mean else m_ci[1:3])
    fit_cell = [r for r in cell if r.get("fit") == "True"]
    row.append(len(fit_cell))
    for metric in FIT_METRICS:
        row += list(stats.mean_ci(stats.column(fit_cell, metric))[:3])
    return row


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


SHUFFLED_HEADER = ["method", "control", "sparsity", "fit_method", "fit_control", "compared"]
SHUFFLED_HEADER += _diff_columns(("IIA", "C"))
SHUFFLED_HEADER += ["dcompositional", "dcompositional_lo", "dcompositional_hi"]


def shuffled_table(rows, methods, sparsities) -> list[list]:
    """One SHUFFLED_HEADER row per (METHOD in CONTROLLED with its shuffled:METHOD in the run, sparsity):
    METHOD minus shuffled:METHOD, paired by seed (paired_diff), on IIA, C and the compositional label, at the
    sparsities where both cells fit (fit_fraction >= FIT_HALF on each side); elsewhere compared is False and the
    differences are NaN."""
    table = []
    for m in CONTROLLED:
        ctrl = f"shuffled:{m}"
        if m not in methods or ctrl not in methods:
            continue
        for s in sparsities:
            fa, fb = fit_fraction(rows, m, s), fit_fraction(rows, ctrl, s)
            ok = bool(fa >= FIT_HALF and fb >= FIT_HALF)
            iia, c, comp = (paired_diff(rows, m, ctrl, s, k) if ok else NAN3 for k in ("IIA", "C", "compositional"))
            table.append([m, ctrl, s, fa, fb, ok, iia[3], *iia[:3], c[3], *c[:3], *comp[:3]])
    return table


VS_RANDOM_HEADER = ["method", "sparsity", "fit_method", "fit_random", *_diff_columns(("IIA", "C"))]


def vs_random_table(rows, methods, sparsities) -> list[list]:
    """One VS_RANDOM_HEADER row per (method other than random, sparsity): METHOD minus random, paired by seed
    (paired_diff), on IIA and C, at every sparsity (the fit fractions of both sides beside it)."""
    if "random" not in methods:
        return []
    table = []
    for m in (m for m in methods if m != "random"):
        for s in sparsities:
            iia, c = (paired_diff(rows, m, "random", s, k) for k in ("IIA", "C"))
            fits = [fit_fraction(rows, x, s) for x in (m, "random")]
            table.append([m, s, *fits, iia[3], *iia[:3], c[3], *c[:3]])
    return table


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
                f"at {d['sparsity']:g}: IIA {ci('dIIA')}, C {ci('dC')}, compositional {ci('dcompositional')} "
                f"({d['n_C']} pairs)"
            )
        lines.append(
            f"{m} minus shuffled:{m} (paired by seed; per-layer density mismatch max "
            f"{density_mismatch(run.rows, m):.2g}): " + "; ".join(parts) + "."
        )
    return lines


def _vs_random_line(vs_random) -> str:
    """The (method, sparsity) cells whose IIA interval against random lies wholly below or above 0."""
    if not vs_random:
        return ""
    side = {"below": {}, "above": {}}
    for t in vs_random:
        d = dict(zip(VS_RANDOM_HEADER, t, strict=True))
        where = "below" if d["dIIA_hi"] < 0 else "above" if d["dIIA_lo"] > 0 else None
        if where:
            side[where].setdefault(d["method"], []).append(f"{d['sparsity']:g}")
    say = lambda w: "; ".join(f"{m} ({', '.join(s)})" for m, s in side[w].items()) or "none"
    return (
        f"IIA minus random's (paired by seed), 95% interval wholly below 0: {say('below')}; wholly above 0: "
        f"{say('above')}; every other (method, sparsity) interval contains 0 or has no pairs."
    )


def _lines(run, methods, depth, table) -> list[str]:
    """The methods ranked by mean C and by mean IIA over sparsities."""
    lines = []
    for metric in ("C", "IIA"):
        col = HEADER.index(f"{metric}_mean")
        mean = {m: np.nanmean([t[col] for t in table if t[0] == m]) for m in methods}
        order = sorted(methods, key=lambda m: -mean[m] if np.isfinite(mean[m]) else np.inf)
        lines.append(
            f"{run.experiment[3:]} (depth {depth}): methods by mean {metric} over sparsities: "
            + ", ".join(f"{m} {mean[m]:.2f}" for m in order)
            + "."
        )
    return lines


def verdict_part(name, methods, depth, table, shuffled) -> str:
    """One run's clause of the section's one-line result: the method with the highest mean IIA over sparsities
    (as `_lines` ranks them) and, per controlled method, at how many of the compared sparsities its IIA minus its
    shuffled control's has a 95% interval wholly above 0."""
    col = HEADER.index("IIA_mean")
    mean = {m: np.nanmean([t[col] for t in table if t[0] == m]) for m in methods}
    ranked = [m for m in methods if np.isfinite(mean[m])]
    depths = ", ".join(str(d) for d in depth)
    if not ranked:
        return f"{name} (depth {depths}): no method has an IIA"
    top = max(ranked, key=lambda m: mean[m])
    out = f"{name} (depth {depths}): top mean IIA {top} {mean[top]:.2f}"
    counts = []
    for m in dict.fromkeys(t[0] for t in shuffled):
        done = [dict(zip(SHUFFLED_HEADER, t, strict=True)) for t in shuffled if t[0] == m and t[5]]
        counts.append(f"{m} {sum(x['dIIA_lo'] > 0 for x in done)}/{len(done)}")
    if counts:
        out += "; IIA above the shuffled control at " + ", ".join(counts) + " compared sparsities"
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
        tables.append(base.write_table(out, f"{tag}_methods", HEADER, table))
        tables.append(base.write_table(out, f"{tag}_shuffled", SHUFFLED_HEADER, shuffled))
        if vs_random:
            tables.append(base.write_table(out, f"{tag}_vs_random", VS_RANDOM_HEADER, vs_random))
        lines += _lines(run, methods, depth, table) + _shuffled_lines(run, shuffled)
        verdicts.append(verdict_part(run.experiment[3:], methods, depth, table, shuffled))
        lines += [x for x in [_vs_random_line(vs_random)] if x]
    text = (
        "C and IIA against sparsity at the target's peak depth (from E2); intervals are 95% percentile bootstraps "
        "over seeds, differences between methods are paired by seed, and a method is compared with its shuffled "
        "control only at sparsities where at least half of each side's networks fit. " + " ".join(lines)
    )
    verdict = "; ".join(verdicts) + "." if verdicts else "No E3 run."
    return base.Section(TITLE, text, figures, tables, verdict=verdict)


def main(argv=None) -> None:
    base.analysis_main(__doc__, select, make, argv)


if __name__ == "__main__":
    main()
