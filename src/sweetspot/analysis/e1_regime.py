"""E1 regime map, judged on the distributed causal score IIA_das (docs/method.md) with the local-unit IIA and C
beside it. The E1 runs (one per target instance, `target.seed`) are pooled when their training, model, pruning and
metrics settings agree; an untagged run (e.g. `make demo`) is a group of its own, named after its directory. Per
group:

- `NAME_cells.csv`: per (method, depth, sparsity) cell, over every network of every instance pooled, the mean and
  95% percentile-bootstrap interval (stats.mean_ci) of METRICS (IIA_das, IIA, C, C_gain, IIA_das on the start
  weights and its random-subspace control, the labels compositional (distributed), compositional_local and
  modular as fractions, fit, converged (docs/method.md, "Training") and test R^2); IIA_das, IIA and C over the
  fit networks only beside them;
  `instances`, `networks` and the counts of fit, compositional, compositional_local and modular networks. A
  diverged network counts as unfit and not compositional and carries no score. Sparsity 0 is the dense network.
- `NAME_peaks.csv`: per instance (and pooled) and method, the peak cell: the argmax of mean IIA_das (primary;
  and, beside it, of mean IIA and of mean C) among the cells where at least half the networks fit (ties: the
  shallower, then the denser cell); `*_ungated`: every cell competes. Its fit share and converged share beside.
- `NAME_sweet_spot_tests.csv`: per method, the IIA_das peak of the pooled cells minus four other cells, as the
  difference of means with an unpaired bootstrap interval over networks (stats.diff_ci): the shallowest depth at
  the peak's sparsity, the deepest depth at the peak's sparsity, the densest sparsity (0, dense) at the peak's
  depth and the sparsest at the peak's depth; on IIA_das, IIA and C; then the same from the IIA peak on IIA and
  C and from the C peak on C. Last, per method, the connectivity window (`comparison` = window): at the IIA_das
  peak depth, the best fit sparse cell by IIA_das minus the dense cell, on IIA_das, IIA and C.
- heatmaps of IIA_das, IIA, compositional, C and test R^2 over the pooled rows (regime_heatmap).

    python -m sweetspot report runs/e1_i0 runs/e1_i1 runs/e1_i2 --out report
    python analysis/e1_regime.py runs/e1_i0 runs/e1_i1 runs/e1_i2 --out report   (this analysis alone)
"""

from __future__ import annotations

import json
import os

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from sweetspot import experiments  # noqa: E402
from sweetspot.analysis import base, regime_heatmap, stats  # noqa: E402

TITLE = "E1 regime map"
PRIMARY = "IIA_das"  # the distributed causal score (docs/method.md): the primary peak and test; IIA and C beside it
SCORES = ("IIA_das", "IIA", "C")  # the scores shown at a peak, primary first
HEATMAPS = ("IIA_das", "IIA", "compositional", "C", "test_r2")
METRICS = ("IIA_das", "IIA", "C", "C_gain", "IIA_das_init", "IIA_das_control", "compositional", "compositional_local",
           "modular", "fit", "converged", "test_r2")  # fmt: skip
LABELS = ("compositional", "compositional_local", "modular", "fit", "converged")  # 0/1 per network; NaN counts as 0
COUNTED = ("compositional", "compositional_local", "modular")  # counted per cell as NAME_networks
FIT_METRICS = SCORES  # also averaged over the fit networks only
FIT_SHARE = 0.5  # a cell competes for the peak when at least this share of its networks fit
SHARES = ("fit", "converged")  # the shares of a peak cell's networks (NaN converged: a run from before the label)
POOL_BLOCKS = ("model", "train", "pruning", "metrics")  # with target minus its seed: runs that may be pooled
ROW_AXES = ("method", "depth", "sparsity", "lr", "weight_decay", "seed")
# (name, question, which axis moves, where it goes): the cells the peak is compared with
COMPARISONS = (
    ("shallowest", "does the shallowest depth fail?", "depth", min),
    ("deepest", "does the deepest depth fail?", "depth", max),
    ("dense", "does the dense network fail?", "sparsity", min),
    ("sparsest", "does the sparsest network fail?", "sparsity", max),
)
PEAK_RULES = {
    "IIA_das": ("IIA_das", FIT_SHARE),
    "IIA": ("IIA", FIT_SHARE),
    "C": ("C", FIT_SHARE),
    "IIA_das_ungated": ("IIA_das", 0.0),
    "IIA_ungated": ("IIA", 0.0),
}
# (peak rule, metric) of the sweet-spot tests, in the table's order: the distributed score's peak first
TEST_PLAN = (("IIA_das", "IIA_das"), ("IIA_das", "IIA"), ("IIA_das", "C"), ("IIA", "IIA"), ("IIA", "C"), ("C", "C"))
WINDOW = ("window", "at the IIA_das peak depth, does the best sparse cell beat the dense one?")
TEST_HEADER = [
    "method", "peak_by", "metric", "comparison", "question", "peak_depth", "peak_sparsity", "other_depth",
    "other_sparsity", "peak_mean", "other_mean", "diff", "diff_lo", "diff_hi", "n_peak", "n_other", "resolved",
]  # fmt: skip


def select(runs):
    """E1 runs, and untagged regime maps (e.g. `make demo`), that have the metrics."""
    return [r for r in runs if experiments.BY_NAME["E1"].owns(r.experiment) and r.has("C")]


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


def coord(v) -> str:
    """A grid coordinate as text that two runs write alike ('3' and '3.0' are one depth)."""
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
                k = (inst,) + tuple(coord(r.get(a)) for a in ROW_AXES)
                if k not in seen:
                    seen.add(k)
                    rows.append(dict(r, _instance=inst))
        out.append((name.replace("/", "_"), rows))
    return out


def values(rows, metric) -> np.ndarray:
    """One value per row: LABELS as 0/1 with NaN read as 0; a diverged row has 0 for the labels and NaN for
    every other metric (it fits nothing and carries no score). A column no row has is NaN throughout, labels
    included (a run from before a measure has no value for it, not a 0)."""
    v = stats.column(rows, metric)
    if not any(metric in r for r in rows):
        return v
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


def peak(cells, method, metric=PRIMARY, fit_share=FIT_SHARE):
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
    header = ["method", "depth", "sparsity", "instances", "networks", "fit_networks"]
    header += [f"{q}_networks" for q in COUNTED]
    header += [f"{m}_{s}" for m in METRICS for s in ("mean", "lo", "hi")]
    header += [f"{m}_fit_{s}" for m in FIT_METRICS for s in ("mean", "lo", "hi")]
    out = []
    for (m, d, s), rs in cell_rows(rows).items():
        fit = values(rs, "fit") == 1
        row = [m, d, s, len({r["_instance"] for r in rs}), len(rs), int(fit.sum())]
        row += [int((values(rs, q) == 1).sum()) for q in COUNTED]
        row += [x for q in METRICS for x in stats.mean_ci(values(rs, q))[:3]]
        row += [x for q in FIT_METRICS for x in stats.mean_ci(values(rs, q)[fit])[:3]]
        out.append(row)
    return header, out


PEAK_HEADER = ["instance", "method", "peak_by", "depth", "sparsity", "networks", "fit_share", "converged_share"]
PEAK_HEADER += [f"{m}_{s}" for m in SCORES for s in ("mean", "lo", "hi")]


def peaks_table(rows) -> tuple[list[str], list[list]]:
    """(header, rows) of NAME_peaks.csv: per instance, then pooled ("all"), per method and peak rule (PEAK_RULES:
    IIA_das, the primary; IIA; C; IIA_das and IIA with every cell competing, for instances where no cell fits),
    the peak cell with its fit and converged shares and the mean and interval of IIA_das, IIA and C there."""
    instances = sorted({r["_instance"] for r in rows}, key=instance_order)
    out = []
    for inst in instances + ["all"]:
        cells = cell_rows([r for r in rows if inst in ("all", r["_instance"])])
        for method in sorted({k[0] for k in cells}):
            for by, (metric, share) in PEAK_RULES.items():
                k = peak(cells, method, metric, share)
                if k is None:
                    out.append([inst, method, by, "", ""] + [float("nan")] * (len(PEAK_HEADER) - 5))
                    continue
                rs = cells[k]
                row = [inst, method, by, k[1], k[2], len(rs), *(float(np.mean(values(rs, q))) for q in SHARES)]
                out.append(row + [x for q in SCORES for x in stats.mean_ci(values(rs, q))[:3]])
    return list(PEAK_HEADER), out


def _resolved(lo, hi, higher="peak higher", lower="peak lower") -> str:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "undefined"
    return higher if lo > 0 else lower if hi < 0 else "interval covers 0"


def comparison_cells(cells, peak_key) -> list[tuple]:
    """[(name, question, other key or None, why none)] for COMPARISONS: the peak's method and other coordinate, the
    moving one at its smallest or largest value among that method's cells there; "dense" is sparsity 0 exactly.
    None when that is the peak itself, or when the method has no dense cell at the peak's depth."""
    m, d, s = peak_key
    out = []
    for name, question, axis, pick in COMPARISONS:
        if axis == "depth":
            other = (m, pick(k[1] for k in cells if k[0] == m and k[2] == s), s)
        else:
            other = (m, d, pick(k[2] for k in cells if k[0] == m and k[1] == d))
        why = "the peak is this cell" if other == peak_key else ""
        if name == "dense" and other[2] != 0.0:
            why = "no dense cell at the peak depth"
        out.append((name, question, None if why else other, why))
    return out


def _test_row(head, cells, k, other, metric, why, words=("peak higher", "peak lower")) -> list:
    """One TEST_HEADER row: cell k minus cell other on `metric` (stats.diff_ci, unpaired); when either is None, an
    undefined row that says `why`."""
    where = [k[1], k[2]] if k else ["", ""]
    where += [other[1], other[2]] if other else ["", ""]
    if k is None or other is None:
        return head + where + [float("nan")] * 5 + [0, 0, why]
    a, b = values(cells[k], metric), values(cells[other], metric)
    diff, lo, hi, _ = stats.diff_ci(a, b)
    means = [stats.mean_std(a)[0], stats.mean_std(b)[0], diff, lo, hi]
    counts = [int(np.isfinite(a).sum()), int(np.isfinite(b).sum())]
    return head + where + means + counts + [_resolved(lo, hi, *words)]


def sweet_spot_tests(rows) -> list[list]:
    """The rows of NAME_sweet_spot_tests.csv (TEST_HEADER), pooled over instances: per method and TEST_PLAN entry
    (the IIA_das peak minus each comparison cell on IIA_das, IIA and C; the IIA peak on IIA and C; the C peak on
    C), then the connectivity window (window_tests); diff and interval: stats.diff_ci (unpaired, networks of each
    cell resampled on their own, seed 0)."""
    cells = cell_rows(rows)
    out = []
    for method in sorted({k[0] for k in cells}):
        for by, metric in TEST_PLAN:
            k = peak(cells, method, by)
            others = comparison_cells(cells, k) if k else [(c[0], c[1], None, "no peak") for c in COMPARISONS]
            for name, question, other, why in others:
                out.append(_test_row([method, by, metric, name, question], cells, k, other, metric, why))
        out += window_tests(cells, method)
    return out


def best_sparse(cells, method, depth):
    """The key of `method`'s best sparse cell (sparsity > 0) at `depth`: the highest mean IIA_das among those where
    at least FIT_SHARE of the networks fit (peak's rule and ties); None when none qualifies."""
    here = {k: v for k, v in cells.items() if k[0] == method and k[1] == depth and k[2] > 0}
    return peak(here, method, PRIMARY)


def window_tests(cells, method) -> list[list]:
    """The connectivity window at the IIA_das peak depth d*: the best sparse cell at d* (best_sparse) minus the
    dense cell (sparsity 0) at d*, on IIA_das, IIA and C. Both cells are chosen on the networks they are then
    compared on, so the sparse side is biased upward."""
    k = peak(cells, method, PRIMARY)
    sparse = best_sparse(cells, method, k[1]) if k else None
    dense = (method, k[1], 0.0) if k and (method, k[1], 0.0) in cells else None
    why = "no peak" if k is None else "no dense cell at the peak depth" if dense is None else "no sparse cell fits"
    words = ("sparse higher", "dense higher")
    return [_test_row([method, PRIMARY, q, *WINDOW], cells, sparse, dense, q, why, words) for q in SCORES]


def _dicts(header, rows) -> list[dict]:
    return [dict(zip(header, r, strict=True)) for r in rows]


def _ci(d: dict, m: str, lo: str, hi: str) -> tuple:
    return d[m], d[lo], d[hi]


# The rows of the section's numbers table (one column per method): (label, what the cell holds)
NUMBER_ROWS = (
    ("peak cell (depth, sparsity): the highest mean IIA_das where at least half the networks fit", "peak"),
    ("IIA_das at the peak, 95% interval over its networks", "IIA_das"),
    ("share of the peak's networks that fit", "fit_share"),
    *((f"peak minus the {c[0]} cell, IIA_das", c[0]) for c in COMPARISONS),
    ("best sparse cell minus dense, IIA_das, at the peak depth", WINDOW[0]),
    ("local-unit IIA at the peak", "IIA"),
    ("C at the peak", "C"),
    ("compositional networks (distributed label), all cells", "compositional"),
)


def _column(method, peaks, tests, cells) -> list:
    """One method's cells of the numbers table (NUMBER_ROWS), from the rows of its tables."""
    p = next(p for p in peaks if (p["instance"], p["method"], p["peak_by"]) == ("all", method, PRIMARY))
    t = {x["comparison"]: x for x in tests if (x["method"], x["peak_by"], x["metric"]) == (method, PRIMARY, PRIMARY)}
    mine = [c for c in cells if c["method"] == method]
    comp = sum(c["compositional_networks"] for c in mine)
    col = {
        "peak": f"({p['depth']}, {p['sparsity']:g})" if p["depth"] != "" else "none",
        "fit_share": p["fit_share"],
        "compositional": stats.share(comp, sum(c["networks"] for c in mine)),
        **{q: _ci(p, f"{q}_mean", f"{q}_lo", f"{q}_hi") for q in SCORES},
        **{k: _ci(v, "diff", "diff_lo", "diff_hi") for k, v in t.items()},
    }
    return [col.get(key, float("nan")) for _, key in NUMBER_ROWS]


def _above(d: dict, what: str) -> str:
    """'0.18 [0.14, 0.23] above WHAT' (or below, its interval turned round), '(not resolved)' when it covers 0."""
    m, lo, hi = d["diff"], d["diff_lo"], d["diff_hi"]
    if not np.isfinite(m):
        return ""
    word, (m, lo, hi) = ("above", (m, lo, hi)) if m >= 0 else ("below", (-m, -hi, -lo))
    resolved = "" if lo > 0 else " (its interval covers 0)"
    return f", {stats.fmt_ci(m, lo, hi)} {word} {what}{resolved}"


def headline(name, peaks, tests) -> str:
    """One sentence: SP's (else the best method's) IIA_das peak cell with its value and interval, and how far the
    best sparse cell at that depth lies from the dense one."""
    pk = {(p["method"], p["peak_by"]): p for p in peaks if p["instance"] == "all"}
    score = lambda m: np.nan_to_num(pk[m, PRIMARY]["IIA_das_mean"], nan=-np.inf)
    m = sorted({k[0] for k in pk}, key=lambda m: (m != "sp", -score(m)))[0]
    p, who = pk[m, PRIMARY], f"{name}: {m}" if name else m
    if p["depth"] == "":
        none = pk[m, PRIMARY + "_ungated"]["depth"] == ""
        return f"{who} has no sweet spot: no cell {'has an IIA_das value' if none else 'where half the networks fit'}."
    w = next(t for t in tests if (t["method"], t["comparison"], t["metric"]) == (m, WINDOW[0], PRIMARY))
    where = "the dense network" if p["sparsity"] == 0 else f"sparsity {p['sparsity']:g}"
    window = _above(w, "the dense network at that depth") if p["sparsity"] != 0 else ""
    if p["sparsity"] == 0 and np.isfinite(w["diff"]):
        window = f"; the best sparse cell there (sparsity {w['peak_sparsity']:g}) is{_above(w, 'it')[1:]}"
    score = stats.fmt_ci(p["IIA_das_mean"], p["IIA_das_lo"], p["IIA_das_hi"])
    return f"{who}'s sweet spot is depth {p['depth']}, {where}: IIA_das {score}{window}."


def make(runs, out):
    figures, tables, columns, headlines = [], [], [], []
    groups = pooled(runs)
    for name, rows in groups:
        for metric in HEATMAPS:
            if metric in rows[0]:
                drawn = regime_heatmap.heatmap(rows, metric, os.path.join(out, f"{name}_{metric}"))
                figures.append(os.path.basename(drawn) if drawn.endswith(".png") else drawn)
        header, cells = cells_table(rows)
        tables.append(base.write_table(out, f"{name}_cells", header, cells))
        p_header, peaks = peaks_table(rows)
        tables.append(base.write_table(out, f"{name}_peaks", p_header, peaks))
        tests = sweet_spot_tests(rows)
        tables.append(base.write_table(out, f"{name}_sweet_spot_tests", TEST_HEADER, tests))
        cells, peaks, tests = _dicts(header, cells), _dicts(p_header, peaks), _dicts(TEST_HEADER, tests)
        for m in sorted({c["method"] for c in cells}):
            columns.append((f"{name}: {m}" if len(groups) > 1 else m, _column(m, peaks, tests, cells)))
        headlines.append(headline(name if len(groups) > 1 else "", peaks, tests))
    numbers = [["", *(c[0] for c in columns)]]
    numbers += [[label, *(c[1][i] for c in columns)] for i, (label, _) in enumerate(NUMBER_ROWS)]
    details = (
        f"{stats.plural(len(groups), 'group')} of runs ({', '.join(n for n, _ in groups)}), each pooled over its "
        "target instances. The peak (and the window's sparse cell) is chosen on the networks it is then compared on, "
        "so its differences lean upward. Sparsity 0 is the dense network."
    )
    return base.Section(TITLE, " ".join(headlines), figures, tables, numbers, details=details,
                        empty="no such cell (the peak is that cell, or no cell qualifies)")  # fmt: skip


def main(argv=None) -> None:
    base.analysis_main(__doc__, select, make, argv)


if __name__ == "__main__":
    main()
