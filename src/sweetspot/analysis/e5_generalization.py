"""E5 generalization: held-out-combination generalization against IIA_das (the distributed causal score, first),
the local-unit IIA and C over every point of every run with metrics: the loss ratio (held-out loss / test loss)
and the held-out loss for real-valued targets, held-out accuracy for Boolean ones; Spearman rank correlations
with 95% bootstrap intervals over networks, all points and fit points only, per run and pooled. A network that
several runs share (the same training config and grid point, e.g. E1 and E3 at the same depth, sparsity and
seed) counts once in the pooled rows.

    python -m sweetspot report runs/e1_* runs/e2_* runs/e3_* --out report
"""

from __future__ import annotations

import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sweetspot import experiments  # noqa: E402
from sweetspot.analysis import base, e1_regime, stats  # noqa: E402

TITLE = "E5 generalization to held-out combinations"
KINDS = (("real", ("gen_ratio", "heldout_loss")), ("boolean", ("heldout_acc",)))
PREDICTORS = ("IIA_das", "IIA", "C")  # the distributed score first; the local-unit IIA and C beside it
# The config blocks that, with the top-level scalars (the base seed) and the grid point, determine a trained
# network; the grid (which points a run has), experiment name, metrics and engine blocks do not.
TRAINING_BLOCKS = ("target", "model", "train", "pruning")
AXES = ("method", "depth", "sparsity", "lr", "weight_decay", "seed")  # when meta.json has no "axes"
N_BOOT = 2000
LABEL = {"gen_ratio": "held-out / test loss", "heldout_loss": "held-out loss", "heldout_acc": "held-out accuracy"}


def select(runs):
    """The runs of the experiments E5 reads (sweetspot/experiments.py) that have the metrics and a held-out split."""
    return [r for r in runs if r.has("C") and r.has("gen_ratio") and experiments.pools("E5", r.experiment)]


def network_key(run, row) -> str:
    """What identifies a trained network across runs: the run config's TRAINING_BLOCKS and top-level scalars
    (config.seed, not the experiment name) and the row's grid coordinates (meta.json's axes)."""
    cfg = run.meta["config"]
    fixed = {k: cfg.get(k) for k in TRAINING_BLOCKS}
    fixed |= {k: v for k, v in cfg.items() if k != "experiment" and not isinstance(v, dict)}
    coords = {a: e1_regime.coord(row.get(a)) for a in run.meta.get("axes") or AXES}
    return json.dumps([fixed, coords], sort_keys=True, default=str)


def dedupe(runs) -> tuple[list[list[dict]], list[int]]:
    """(rows kept per run, rows dropped per run), runs in the given order: a row whose network_key an earlier
    row (of this or an earlier run) has is dropped, so the first occurrence is kept."""
    seen, kept, dropped = set(), [], []
    for run in runs:
        keep = []
        for row in run.rows:
            k = network_key(run, row)
            if k not in seen:
                seen.add(k)
                keep.append(row)
        kept.append(keep)
        dropped.append(len(run.rows) - len(keep))
    return kept, dropped


def spearman_ci(a, b, n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, float, float, float, int]:
    """(rho, 95% low, high, p, n): stats.spearman over the pairs where both are finite, and a percentile
    bootstrap interval from n_boot resamples of those pairs (networks) with replacement drawn from
    numpy.random.default_rng(seed) (250 at a time), rho recomputed on each resample (stats.spearman_rows;
    a resample in which one side is constant is skipped). NaN interval when rho is NaN (fewer than 3 pairs, or one
    side constant)."""
    rho, p, n = stats.spearman(a, b)
    if not np.isfinite(rho):
        return rho, float("nan"), float("nan"), p, n
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    rng = np.random.default_rng(seed)
    rhos = np.concatenate(
        [
            stats.spearman_rows(a[i], b[i])
            for i in (rng.integers(0, n, (min(250, n_boot - k), n)) for k in range(0, n_boot, 250))
        ]
    )
    rhos = rhos[np.isfinite(rhos)]
    if not len(rhos):
        return rho, float("nan"), float("nan"), p, n
    return rho, float(np.quantile(rhos, 0.025)), float(np.quantile(rhos, 0.975)), p, n


HEADER = [
    "run", "kind", "measure", "predictor", "n", "spearman_rho", "rho_lo", "rho_hi", "p", "n_fit",
    "spearman_rho_fit", "rho_fit_lo", "rho_fit_hi", "p_fit", "duplicates_dropped",
]  # fmt: skip


def _rows_for(label, kind, rows, dropped) -> list[list]:
    """HEADER rows of one set of points: per held-out measure of KIND and per predictor, all points and fit."""
    fit = stats.column(rows, "fit") == 1
    out = []
    for measure in dict(KINDS)[kind]:
        g = stats.column(rows, measure)
        for pred in PREDICTORS:
            x = stats.column(rows, pred)
            rho, lo, hi, p, n = spearman_ci(x, g)
            rho_f, lo_f, hi_f, p_f, n_f = spearman_ci(x[fit], g[fit])
            out.append([label, kind, measure, pred, n, rho, lo, hi, p, n_f, rho_f, lo_f, hi_f, p_f, dropped])
    return out


def _labels(runs) -> list[str]:
    """Run names, with the directory added where two runs share a name (e.g. E1's instances, all 'e1')."""
    names = [r.name for r in runs]
    return [
        n if names.count(n) == 1 else f"{n} ({os.path.basename(os.path.normpath(r.path))})"
        for n, r in zip(names, runs, strict=True)
    ]


def _figure(groups, table, out) -> str:
    """One row per predictor (IIA_das, IIA, C), one column per held-out measure: every pooled (deduplicated)
    point, coloured by run, and the pooled correlation of the table in the title."""
    pooled = {(t[1], t[2], t[3]): t for t in table if t[0] == "all"}
    panels = [(kind, m) for kind, measures in KINDS if groups[kind][0] for m in measures]
    rows = len(PREDICTORS)
    width = min(2.9 * len(panels), 8.7) if len(panels) > 1 else 4.4
    fig, axes = plt.subplots(rows, len(panels), figsize=(width, 2.7 * rows), squeeze=False)
    for j, (kind, measure) in enumerate(panels):
        labels, kept = groups[kind]
        for i, pred in enumerate(PREDICTORS):
            ax = axes[i, j]
            for k, (label, rows) in enumerate(zip(labels, kept, strict=True)):
                x, g = stats.column(rows, pred), stats.column(rows, measure)
                ax.scatter(x, g, s=6, alpha=0.5, color=f"C{k % 10}", label=label)
            n, rho, lo, hi = pooled[kind, measure, pred][4:8]
            if measure != "heldout_acc":
                ax.set_yscale("log")
            if measure == "gen_ratio":
                ax.axhline(1.0, color="k", ls=":", lw=1)
            ax.set_xlabel(pred)
            ax.set_ylabel(LABEL[measure])
            ax.set_title(f"{kind}: rho = {stats.fmt_ci(rho, lo, hi)}\nover {n:,} networks")
    if sum(len(g[0]) for g in groups.values()) <= 6:
        axes[0, 0].legend(markerscale=2)
    fig.suptitle("E5: held-out generalization against IIA_das, IIA and C")
    fig.tight_layout()
    caption = "E5: held-out-combination generalization against IIA_das, IIA and C, every network once (colour: run)"
    return base.save_figure(fig, out, "e5_generalization", caption)


NUMBERS_HEADER = ["held-out measure", "predictor", "networks", "Spearman rho", "fit networks", "rho over fit ones"]


def numbers(table) -> list[list]:
    """The pooled rank correlations: per held-out measure and predictor, over every network and over the fit."""
    pooled = [dict(zip(HEADER, t, strict=True)) for t in table if t[0] == "all"]
    rho = lambda d, s="": (d[f"spearman_rho{s}"], d[f"rho{s}_lo"], d[f"rho{s}_hi"])
    return [NUMBERS_HEADER] + [
        [f"{d['kind']}: {LABEL[d['measure']]}", d["predictor"], d["n"], rho(d), d["n_fit"], rho(d, "_fit")]
        for d in pooled
    ]


def headline(table) -> str:
    """The pooled rank correlation of IIA_das with the first held-out measure, in words and numbers."""
    pooled = [dict(zip(HEADER, t, strict=True)) for t in table if t[0] == "all"]
    if not pooled:
        return "No network to correlate."
    d = pooled[0]
    rho, lo, hi = d["spearman_rho"], d["rho_lo"], d["rho_hi"]
    name, pred = f"Spearman rho({d['predictor']}, {LABEL[d['measure']]})", d["predictor"]
    if not (np.isfinite(rho) and np.isfinite(lo)):
        return f"{name} is undefined over {d['n']:,} networks (fewer than 3, or one side constant)."
    better = (rho < 0) == (d["measure"] != "heldout_acc")  # a lower loss or ratio, a higher accuracy, is better
    lead = f"Networks with a higher {pred} generalize {'better' if better else 'worse'} to held-out combinations"
    if lo <= 0 <= hi:
        lead = f"No resolved rank correlation of {pred} with the {LABEL[d['measure']]}"
    return f"{lead}: {name} {stats.fmt_ci(rho, lo, hi)} over {d['n']:,} networks, every run pooled."


def make(runs, out):
    runs = sorted(runs, key=lambda r: (r.name, r.path))
    labels = _labels(runs)
    kept, dropped = dedupe(runs)
    table, groups = [], {}
    for kind, _ in KINDS:
        idx = [i for i, r in enumerate(runs) if r.has("heldout_acc") == (kind == "boolean")]
        groups[kind] = ([labels[i] for i in idx], [kept[i] for i in idx])
        with np.errstate(all="ignore"):
            for i in idx:
                table += _rows_for(labels[i], kind, runs[i].rows, dropped[i])
            if idx:
                pooled = [r for i in idx for r in kept[i]]
                table += _rows_for("all", kind, pooled, sum(dropped[i] for i in idx))
    figure = _figure(groups, table, out)
    name = base.write_table(out, "e5_generalization", HEADER, table)
    details = (
        f"{stats.share(sum(dropped), sum(len(r.rows) for r in runs), 'point')} dropped as duplicates: a network "
        "several runs share counts once in the pooled rows. Intervals: 95% percentile bootstrap over networks."
    )
    return base.Section(TITLE, headline(table), [figure], [name], numbers(table), details=details,
                        empty="undefined: fewer than 3 networks, or one side constant")  # fmt: skip


def main(argv=None) -> None:
    base.analysis_main(__doc__, select, make, argv)


if __name__ == "__main__":
    main()
