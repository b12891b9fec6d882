"""E1 regime map, judged on the causal measures with C beside them. The E1 runs (one per target instance,
`target.seed`) are pooled when their training, model, pruning and metrics settings agree; an untagged run (e.g.
`make demo`) is a group of its own, named after its directory. Per group:

- `NAME_cells.csv`: per (method, depth, sparsity) cell, over every network of every instance pooled, the mean and
  95% percentile-bootstrap interval (stats.mean_ci) of IIA, C_gain, compositional (fraction), C, fit (fraction)
  and test R^2; IIA and C over the fit networks only beside them; `instances`, `networks` and the counts of fit
  and compositional networks. A diverged network counts as unfit and not compositional and carries no score.
- `NAME_peaks.csv`: per instance (and pooled) and method, the peak cell: the argmax of mean IIA (and, beside it,
  of mean C) among the cells where at least half the networks fit (ties: the shallower, then the denser cell).
- `NAME_sweet_spot_tests.csv`: per method, the IIA peak of the pooled cells minus four other cells, as the
  difference of means with an unpaired bootstrap interval over networks (stats.diff_ci): the shallowest depth at
  the peak's sparsity, the deepest depth at the peak's sparsity, the densest sparsity (0) at the peak's depth and
  the sparsest at the peak's depth; on IIA and on C, and on C from the C peak.
- heatmaps of IIA, compositional, C and test R^2 over the pooled rows (regime_heatmap).

    python -m sweetspot report runs/e1_i0 runs/e1_i1 runs/e1_i2 --out report
    python analysis/e1_regime.py runs/e1_i0 runs/e1_i1 runs/e1_i2 --out report   (this analysis alone)
"""

from __future__ import annotations

import json
import os

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from sweetspot.analysis import base, regime_heatmap, stats  # noqa: E402

TITLE = "E1 regime map"
HEATMAPS = ("IIA", "compositional", "C", "test_r2")
METRICS = ("IIA", "C_gain", "compositional", "C", "fit", "test_r2")
LABELS = ("compositional", "fit")  # 0/1 per network; NaN (e.g. a diverged network) counts as 0
FIT_METRICS = ("IIA", "C")  # also averaged over the fit networks only
FIT_SHARE = 0.5  # a cell competes for the peak when at least this share of its networks fit
POOL_BLOCKS = ("model", "train", "pruning", "metrics")  # with target minus its seed: runs that may be pooled
ROW_AXES = ("method", "depth", "sparsity", "lr", "weight_decay", "seed")
# (name, question, which axis moves, where it goes): the cells the peak is compared with
COMPARISONS = (
    ("shallowest", "does the shallowest depth fail?", "depth", min),
    ("deepest", "does the deepest depth fail?", "depth", max),
    ("dense", "does the dense network fail?", "sparsity", min),
    ("sparsest", "does the sparsest network fail?", "sparsity", max),
)
PEAK_RULES = {"IIA": ("IIA", FIT_SHARE), "C": ("C", FIT_SHARE), "IIA_ungated": ("IIA", 0.0)}
TEST_HEADER = [
    "method", "peak_by", "metric", "comparison", "question", "peak_depth", "peak_sparsity", "other_depth",
    "other_sparsity", "peak_mean", "other_mean", "diff", "diff_lo", "diff_hi", "n_peak", "n_other", "resolved",
]  # fmt: skip


def select(runs):
    """E1 runs, and untagged regime maps (e.g. `make demo`), that have the metrics."""
    return [r for r in runs if r.experiment in ("e1", "") and r.has("C")]


def instance_of(run) -> str:
    """The target instance of a run: its target.seed (the run's name when the config has none)."""
    seed = run.meta.get("config", {}).get("target", {}).get("seed")
    return run.name if seed is None else str(seed)


def instance_order(instance: str) -> tuple:
    """Sort key of instances: numeric target seeds in numeric order, then names."""
    return (0, int(instance), "") if instance.isdigit() else (1, 0, instance)


def _pool_key(run) -> str:
    cfg = run.meta.get("config", {})
    fixed = {k: cfg.get(k) for k in POOL_BLOCKS}
    fixed["target"] = {k: v for k, v in cfg.get("target", {}).items() if k != "seed"}
    return json.dumps([run.experiment, fixed], sort_keys=True, default=str)


def _coord(v) -> str:
    try:
        return repr(float(v))
    except (TypeError, ValueError):
        return str(v)


def pooled(runs) -> list[tuple[str, list[dict]]]:
    """[(name, rows)]: the rows of the runs that may be pooled (same experiment and settings but the target's
    seed; an untagged run stays alone), each row a copy with `_instance` (instance_of) added. A row whose
    (instance, grid point) an earlier row has is dropped (a run given twice counts once). Name: the experiment,
    or the first run's directory when the experiment has several groups or is untagged."""
    groups = {}
    for run in runs:
        key = _pool_key(run) if run.experiment else f"untagged:{run.path}"
        groups.setdefault(key, []).append(run)
    per_exp = {}
    for g in groups.values():
        per_exp[g[0].experiment] = per_exp.get(g[0].experiment, 0) + 1
    out = []
    for g in groups.values():
        exp = g[0].experiment
        base_name = os.path.basename(os.path.normpath(g[0].path))
        name = exp if exp and per_exp[exp] == 1 else base_name if not exp else f"{exp}_{base_name}"
        seen, rows = set(), []
        for run in sorted(g, key=lambda r: instance_order(instance_of(r))):
            inst = instance_of(run)
            for r in run.rows:
                k = (inst,) + tuple(_coord(r.get(a)) for a in ROW_AXES)
                if k not in seen:
                    seen.add(k)
                    rows.append(dict(r, _instance=inst))
        out.append((name.replace("/", "_"), rows))
    return out


def values(rows, metric) -> np.ndarray:
    """One value per row: LABELS as 0/1 with NaN read as 0; a diverged row has 0 for the labels and NaN for
    every other metric (it fits nothing and carries no score)."""
    v = stats.column(rows, metric)
    diverged = stats.column(rows, "diverged") == 1
    if metric in LABELS:
        v = np.nan_to_num(v, nan=0.0)
        v[diverged] = 0.0
    else:
        v[diverged] = np.nan
    return v


def cell_key(r) -> tuple:
    return r["method"], int(r["depth"]), float(r["sparsity"])


def cell_rows(rows) -> dict:
    """{(method, depth, sparsity): rows}, keys sorted (method, then shallow to deep, then dense to sparse)."""
    cells = {}
    for r in rows:
        cells.setdefault(cell_key(r), []).append(r)
    return dict(sorted(cells.items()))


def peak(cells, method, metric="IIA", fit_share=FIT_SHARE):
    """The key of `method`'s peak cell in `cells` (cell_rows): the highest mean `metric` among the cells where at
    least `fit_share` of the networks fit and the metric has a finite value (ties: the first in key order, i.e.
    shallower, then denser); None when no cell qualifies. fit_share=0: every cell competes."""
    best, best_v = None, -np.inf
    for k, rs in cells.items():
        if k[0] != method or np.mean(values(rs, "fit")) < fit_share:
            continue
        m = stats.mean_std(values(rs, metric))[0]
        if np.isfinite(m) and m > best_v:
            best, best_v = k, m
    return best


def cells_table(rows) -> tuple[list[str], list[list]]:
    """(header, rows) of NAME_cells.csv."""
    header = ["method", "depth", "sparsity", "instances", "networks", "fit_networks", "compositional_networks"]
    header += [f"{m}_{s}" for m in METRICS for s in ("mean", "lo", "hi")]
    header += [f"{m}_fit_{s}" for m in FIT_METRICS for s in ("mean", "lo", "hi")]
    out = []
    for (m, d, s), rs in cell_rows(rows).items():
        fit = values(rs, "fit") == 1
        row = [m, d, s, len({r["_instance"] for r in rs}), len(rs), int(fit.sum())]
        row.append(int((values(rs, "compositional") == 1).sum()))
        row += [x for q in METRICS for x in stats.mean_ci(values(rs, q))[:3]]
        row += [x for q in FIT_METRICS for x in stats.mean_ci(values(rs, q)[fit])[:3]]
        out.append(row)
    return header, out


def peaks_table(rows) -> tuple[list[str], list[list]]:
    """(header, rows) of NAME_peaks.csv: per instance, then pooled ("all"), per method and peak rule (PEAK_RULES:
    IIA; C; IIA with every cell competing, for instances where no cell fits), the peak cell with its fit share
    and the mean and interval of IIA and C there."""
    header = ["instance", "method", "peak_by", "depth", "sparsity", "networks", "fit_share"]
    header += [f"{m}_{s}" for m in ("IIA", "C") for s in ("mean", "lo", "hi")]
    instances = sorted({r["_instance"] for r in rows}, key=instance_order)
    out = []
    for inst in instances + ["all"]:
        cells = cell_rows([r for r in rows if inst in ("all", r["_instance"])])
        for method in sorted({k[0] for k in cells}):
            for by, (metric, share) in PEAK_RULES.items():
                k = peak(cells, method, metric, share)
                if k is None:
                    out.append([inst, method, by, "", ""] + [float("nan")] * 8)
                    continue
                rs = cells[k]
                row = [inst, method, by, k[1], k[2], len(rs), float(np.mean(values(rs, "fit")))]
                out.append(row + [x for q in ("IIA", "C") for x in stats.mean_ci(values(rs, q))[:3]])
    return header, out


def _resolved(lo, hi) -> str:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "undefined"
    return "peak higher" if lo > 0 else "peak lower" if hi < 0 else "interval covers 0"


def comparison_cells(cells, peak_key) -> list[tuple]:
    """[(name, question, other key or None)] for COMPARISONS: the peak's method and other coordinate, the moving
    one at its smallest or largest value among that method's cells there; None when that is the peak itself."""
    m, d, s = peak_key
    out = []
    for name, question, axis, pick in COMPARISONS:
        if axis == "depth":
            other = (m, pick(k[1] for k in cells if k[0] == m and k[2] == s), s)
        else:
            other = (m, d, pick(k[2] for k in cells if k[0] == m and k[1] == d))
        out.append((name, question, None if other == peak_key else other))
    return out


def sweet_spot_tests(rows) -> list[list]:
    """The rows of NAME_sweet_spot_tests.csv (TEST_HEADER), pooled over instances: per method, the IIA peak minus
    each comparison cell on IIA and on C, then the C peak minus each on C; diff and interval: stats.diff_ci
    (unpaired, networks of each cell resampled on their own, seed 0)."""
    cells = cell_rows(rows)
    out = []
    for method in sorted({k[0] for k in cells}):
        for by, metric in (("IIA", "IIA"), ("IIA", "C"), ("C", "C")):
            k = peak(cells, method, by)
            for name, question, other in comparison_cells(cells, k) if k else [(c[0], c[1], None) for c in COMPARISONS]:
                head = [method, by, metric, name, question]
                where = [k[1], k[2]] if k else ["", ""]
                where += [other[1], other[2]] if other else ["", ""]
                if other is None:
                    why = "the peak is this cell" if k else "no peak"
                    out.append(head + where + [float("nan")] * 5 + [0, 0, why])
                    continue
                a, b = values(cells[k], metric), values(cells[other], metric)
                diff, lo, hi, _ = stats.diff_ci(a, b)
                means = [stats.mean_std(a)[0], stats.mean_std(b)[0], diff, lo, hi]
                counts = [int(np.isfinite(a).sum()), int(np.isfinite(b).sum())]
                out.append(head + where + means + counts + [_resolved(lo, hi)])
    return out


def _ci(m, lo, hi) -> str:
    return stats.fmt_ci(m, lo, hi) if np.isfinite(m) and np.isfinite(lo) else "undefined"


def _where(depth, sparsity) -> str:
    return f"({depth}, {sparsity:g})" if depth != "" else "none"


def _peak_line(method, peaks) -> str:
    """A method's pooled IIA peak in one clause (the section's one-line result joins them)."""
    p = next(p for p in peaks if p[1] == method and (p[0], p[2]) == ("all", "IIA"))
    return (
        f"{method}: IIA peak (depth, sparsity) {_where(p[3], p[4])}: IIA {_ci(*p[7:10])}, C {_ci(*p[10:13])}, "
        f"fit share {p[6]:.2f}"
        if p[3] != ""
        else f"{method}: no cell where at least half the networks fit, so no peak"
    )


def _method_text(name, method, peaks, tests, cells) -> str:
    """One method's sentences, every number read from the rows of the tables (cells, peaks, tests)."""
    pk = {(p[0], p[2]): p for p in peaks if p[1] == method}
    head = _peak_line(method, peaks)
    per = []
    for inst in sorted({k[0] for k in pk} - {"all"}, key=instance_order):
        q, u = pk[(inst, "IIA")], pk[(inst, "IIA_ungated")]
        per.append(
            f"{inst}: {_where(q[3], q[4])} IIA {_ci(*q[7:10])}"
            if q[3] != ""
            else f"{inst}: none (no cell half fit; ungated {_where(u[3], u[4])} IIA {_ci(*u[7:10])})"
        )
    mine = [c for c in cells if c[0] == method]
    parts = {}
    for t in tests:
        if t[0] == method and t[1] == "IIA":
            if t[7] == "":
                parts[t[3]] = f"vs {t[3]}: {t[16]}"
                continue
            parts.setdefault(t[3], f"vs {t[3]} {_where(t[7], t[8])}:")
            parts[t[3]] += f" {t[2]} {_ci(*t[11:14])}"
    cp = pk[("all", "C")]
    c_tests = [
        f"vs {t[3]} {_ci(*t[11:14])}" if t[7] != "" else f"vs {t[3]}: {t[16]}"
        for t in tests
        if t[0] == method and t[1] == "C"
    ]
    return (
        f"{head}; per target instance: {'; '.join(per)}. Strict compositional networks: {sum(r[6] for r in mine)} of "
        f"{sum(r[4] for r in mine)}. Sweet-spot tests, IIA peak minus other cell (`{name}_sweet_spot_tests.csv`): "
        + "; ".join(parts.values())
        + f". Peak of mean C (same rule) {_where(cp[3], cp[4])}, C minus other cell: {'; '.join(c_tests)}."
    )


def make(runs, out):
    figures, tables, lines, verdicts = [], [], [], []
    for name, rows in pooled(runs):
        for metric in HEATMAPS:
            if metric in rows[0]:
                path = regime_heatmap.heatmap(rows, metric, os.path.join(out, f"{name}_{metric}"))
                figures.append(os.path.basename(path))
        header, cells = cells_table(rows)
        tables.append(base.write_table(out, f"{name}_cells", header, cells))
        p_header, peaks = peaks_table(rows)
        tables.append(base.write_table(out, f"{name}_peaks", p_header, peaks))
        tests = sweet_spot_tests(rows)
        tables.append(base.write_table(out, f"{name}_sweet_spot_tests", TEST_HEADER, tests))
        n_inst = len({r["_instance"] for r in rows})
        lines.append(
            f"{name}: {n_inst} target instance(s), {len(rows)} networks, {len(cells)} (method, depth, sparsity) "
            f"cells pooled over the instances (`{name}_cells.csv`: mean and 95% bootstrap interval over networks; "
            "IIA and C also over the fit networks only). Peak = the cell with the highest mean IIA among those "
            "where at least half the networks fit (`" + name + "_peaks.csv`, per instance and pooled)."
        )
        lines += [_method_text(name, m, peaks, tests, cells) for m in sorted({c[0] for c in cells})]
        verdicts.append(f"{name}: " + "; ".join(_peak_line(m, peaks) for m in sorted({c[0] for c in cells})))
    text = (
        "Heatmaps: mean ± std over the networks of each cell, instances pooled (a panel's n counts the networks "
        "of every instance; diverged networks left out). Tables: a diverged network counts as unfit and not "
        "compositional and carries no score. Differences are unpaired bootstraps over networks. "
    )
    return base.Section(TITLE, text + " ".join(lines), figures, tables, verdict=". ".join(verdicts) + ".")


def main(argv=None) -> None:
    base.analysis_main(__doc__, select, make, argv)


if __name__ == "__main__":
    main()
