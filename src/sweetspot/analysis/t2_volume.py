"""Theory check 2, volume ratio: does p_comp(depth, mask) track the log basin-volume ratio of compositional to
fractured minima, and does that ratio shrink outside the sweet spot?

    python -m sweetspot sweep sweeps/t2_volume.py --out runs/t2
    python analysis/t2_volume.py runs/t2 --out /tmp/t2

Definitions (fixed before any result was looked at):
- p_comp of a (method, depth) cell: the fraction of its seeds whose strict `compositional` label (results.csv,
  docs/method.md "Compositionality score and labels") is True; the sensitivity variant p_(C>=0.8) is the fraction
  that fit with C >= 0.8. The primary verdict uses the strict label. Since issue 30 that label is on the
  distributed causal score IIA_das (and `fractured` = fit and not it), so the compositional / fractured classes
  below are too; beside it, p_comp_local = the fraction with the old local-unit label `compositional_local`,
  and the cell's mean IIA_das and local-unit IIA (not used in any class or correlation but the one of the ratio
  against mean IIA_das).
- theta*: a saved network's live parameters: the unmasked weights and every bias of its active layers (h0 ..
  h{depth-1} and the readout); pruned weights and padded layers are not in theta (they stay at their saved
  values, pruned weights exactly 0 through the mask).
- loss(theta): the training loss of the run (losses.make_loss: mse here) on a fixed subsample of N_TRAIN
  training points (the same points for every network: numpy default_rng(0), without replacement).
- threshold: loss(theta*) + max(loss(theta*), 1e-3), i.e. the loss doubles (with an absolute floor of 1e-3 for
  near-zero minima). Relative, so that the radius measures how flat the minimum is at its own loss scale rather
  than how far its loss sits below an arbitrary common level (fit networks reach train losses that differ by a
  factor ~5 across depths); doubling moves well above float32 noise yet stays local.
- radii: theory.basin_radii along N_DIRECTIONS uniform unit directions in R^P (key fold_in(PRNGKey(0), point
  index)), geometric grid from R_MAX / 300 to R_MAX then bisection; directions that never cross are censored at
  R_MAX (reported; the volume is then a lower bound).
- log V: theory.log_volume, log V = log vol(B_P) + log mean_d r_d^P (the star-body identity), delta-method se.
  For P in the hundreds the mean is dominated by the largest radius, so the Jensen lower bound P mean_d log r_d
  is reported beside it.
- the cell's log-volume ratio: mean over its compositional networks of log V minus the mean over its fractured
  networks (P is the same for every network of a cell, so the unit-ball terms cancel and the ratio is
  dimensionless); se = sqrt(s_c^2 / n_c + s_f^2 / n_f) from the between-network spread (ddof 1; a class with one
  network uses its estimator se). NaN when a class is empty. The raw ratio is what "p proportional to V"
  predicts (log p_c / p_f = log V_c / V_f), so the rank correlation uses it; since P differs across cells
  (dense vs sparse, depth), the per-P ratio (1/P) log V_c / V_f = log of the ratio of geometric-mean radius
  scales is reported as well, and its rank correlation as a secondary number.
- Networks: per cell, the first PER_CLASS networks by seed of each of: compositional, fractured, fit & C >= 0.8,
  fit & C < 0.8 (the union is estimated once; unfit networks are not estimated).
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from sweetspot import experiments, losses, rundir, targets, theory
from sweetspot.analysis import base, stats, t2_figures

TITLE = "T2 volume ratio"
N_TRAIN = 1024
N_DIRECTIONS = 128
R_MAX = 30.0
R_MIN_FRAC = 1.0 / 300.0
N_GRID = 20
N_BISECT = 12
PER_CLASS = 32  # every fit network of the 32-seed CPU run; the 64-seed ',full' run is subsampled to 32
FLOOR = 1e-3
THRESHOLD = "double"  # primary rule; "additive" (loss* + DELTA, one absolute increment for every network) is a
DELTA = 0.01  # sensitivity check added after the primary results were seen (loss* differs between the classes)
METHODS = ("oracle", "sp", "random", "dense")


def select(runs):
    return [r for r in runs if experiments.BY_NAME["T2"].owns(r.experiment) and r.has("C")]


def threshold_of(loss0):
    """The sub-threshold level: loss* + max(loss*, FLOOR) (the loss doubles; absolute floor FLOOR), or with
    THRESHOLD = "additive" loss* + DELTA."""
    if THRESHOLD == "additive":
        return loss0 + DELTA
    return loss0 + jnp.maximum(loss0, FLOOR)


# ------------------------------------------------------------------------------------------- estimation
def radii_of(loss_fn, theta, key, n_directions: int = N_DIRECTIONS):
    """(loss*, threshold, radii (n,), censored (n,)) of the minimum theta of loss_fn with this module's rule
    and search settings (threshold_of; theory.basin_radii with R_MAX, R_MAX * R_MIN_FRAC, N_GRID, N_BISECT)."""
    loss0 = loss_fn(theta)
    thr = threshold_of(loss0)
    radii, cens = theory.basin_radii(
        loss_fn, theta, key, n_directions, thr, R_MAX, n_bisect=N_BISECT, r_min=R_MAX * R_MIN_FRAC, n_grid=N_GRID
    )
    return loss0, thr, radii, cens


def train_subsample(cfg):
    """(x, y): the fixed N_TRAIN-point subsample of the run's training split (rng 0, no replacement)."""
    data = targets.make_splits(targets.make_target(cfg.target), cfg.target)
    x, y = np.asarray(data["x_train"], np.float32), np.asarray(data["y_train"], np.float32)
    pick = np.sort(np.random.default_rng(0).choice(len(x), size=min(N_TRAIN, len(x)), replace=False))
    return jnp.asarray(x[pick]), jnp.asarray(y[pick])


def chosen_points(rows) -> dict:
    """{point index: rows index} of the networks to estimate: per cell the first PER_CLASS by seed of each of
    compositional, fractured, fit & C >= 0.8, fit & C < 0.8."""
    cells = {}
    for r in rows:
        cells.setdefault((r["method"], int(r["depth"])), []).append(r)
    out = set()
    for rs in cells.values():
        rs = sorted(rs, key=lambda r: int(r["seed"]))
        fit = [r for r in rs if r["fit"] == "True" and r.get("diverged") != "True"]
        c = lambda r: stats.num(r["C"])
        for cls in (
            [r for r in fit if r["compositional"] == "True"],
            [r for r in fit if r["fractured"] == "True"],
            [r for r in fit if c(r) >= 0.8],
            [r for r in fit if c(r) < 0.8],
        ):
            out.update(int(r["point"]) for r in cls[:PER_CLASS])
    return out


def _run_cell(items, depth, x, y, act, loss):
    """One jitted program for networks with the same depth and P: (loss*, threshold, radii, censored) stacked."""
    params0, lay = items[0][1], items[0][6]
    stack = lambda k: jnp.asarray(np.stack([t[k] for t in items]))
    thetas, bases, idxs = stack(3), stack(4), stack(5)
    masks = jax.tree.map(lambda *a: jnp.asarray(np.stack(a)), *[t[2] for t in items])
    keys = jnp.stack([jax.random.fold_in(jax.random.PRNGKey(0), t[0]) for t in items])

    @jax.jit
    def run_cell(thetas, bases, idxs, masks, keys):
        def one(args):
            theta, flat0, idx, m, key = args
            return radii_of(theory.live_loss_fn(loss, params0, m, depth, flat0, idx, lay, x, y, act), theta, key)

        return jax.lax.map(one, (thetas, bases, idxs, masks, keys))

    return jax.device_get(run_cell(thetas, bases, idxs, masks, keys))


def estimate(run, progress=print) -> dict:
    """{point index: dict(P, loss0, threshold, radii, censored, log_v, log_v_se, jensen)} for the chosen
    networks of the run. One jitted program per (method, depth, P) group (P is fixed within a cell of the t2
    grid, whose top-k densities are exact): networks run sequentially (lax.map), directions vmapped."""
    cfg = rundir.config_from_meta(run.meta)
    act = cfg.model.activation
    loss = losses.make_loss(targets.family(cfg.target.family).binary)
    x, y = train_subsample(cfg)
    want = chosen_points(run.rows)
    method_of = {int(r["point"]): r["method"] for r in run.rows}
    groups = {}
    for i, params, masks, depth in rundir.iter_networks(run.path):
        if i in want:
            groups.setdefault((method_of[i], depth), []).append((i, params, masks))
    out = {}
    cellwise = {}
    for (method, depth), nets in sorted(groups.items()):
        for i, params, masks in nets:
            t = (i, params, masks, *theory.live_theta(params, masks, depth))
            cellwise.setdefault((method, depth, len(t[3])), []).append(t)
    for (method, depth, _), items in sorted(cellwise.items()):
        t0 = time.time()
        thetas = np.stack([t[3] for t in items])
        loss0, thr, radii, cens = _run_cell(items, depth, x, y, act, loss)
        n_p = int(thetas.shape[1])
        for k, t in enumerate(items):
            r = np.asarray(radii[k], np.float64)
            log_v, se = theory.log_volume(r, n_p)
            out[t[0]] = dict(
                P=n_p,
                loss0=float(loss0[k]),
                threshold=float(thr[k]),
                radii=r,
                censored=np.asarray(cens[k]),
                log_v=log_v,
                log_v_se=se,
                jensen=theory.unit_ball_log_volume(n_p) + n_p * float(np.mean(np.log(r))),
            )
        progress(f"  {method} depth {depth}: {len(items)} networks, P = {n_p}, {time.time() - t0:.1f}s")
    return out


# ------------------------------------------------------------------------------------------- per cell
def class_mean(values, ses):
    """(mean, se, n) of per-network log volumes; se from the between-network spread (the estimator se when n=1)."""
    v = np.asarray(values, float)
    if len(v) == 0:
        return float("nan"), float("nan"), 0
    if len(v) == 1:
        return float(v[0]), float(ses[0]), 1
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v))), len(v)


def ratio(est, pos, neg, key="log_v"):
    """(log V_pos - log V_neg, se, n_pos, n_neg) from the per-network estimates of two lists of point indices."""
    a = class_mean([est[i][key] for i in pos], [est[i]["log_v_se"] for i in pos])
    b = class_mean([est[i][key] for i in neg], [est[i]["log_v_se"] for i in neg])
    return a[0] - b[0], float(np.hypot(a[1], b[1])), a[2], b[2]


def _cell(rs, method, depth, est) -> dict:
    """One (method, depth) cell's rows rs: p_comp, p_C08, C stats and the volume ratios."""
    comp = stats.column(rs, "compositional")
    fit = stats.column(rs, "fit") * (stats.column(rs, "diverged") != 1)
    c = stats.column(rs, "C")
    pts = lambda sel: [int(r["point"]) for r, s in zip(rs, sel, strict=True) if s and int(r["point"]) in est]
    is_comp = comp == 1
    is_frac = stats.column(rs, "fractured") == 1
    hi, lo = (fit == 1) & (c >= 0.8), (fit == 1) & (c < 0.8)
    rat, se, nc, nf = ratio(est, pts(is_comp), pts(is_frac))
    jr, _, _, _ = ratio(est, pts(is_comp), pts(is_frac), key="jensen")
    r08, se08, nh, nl = ratio(est, pts(hi), pts(lo))
    used = [est[i] for i in pts(fit == 1)]
    n_p = used[0]["P"] if used else int(round(np.nanmean(stats.column(rs, "live_params")))) or 0
    local = float(np.mean(stats.column(rs, "compositional_local") == 1))
    mean = lambda k: stats.mean_std(stats.column(rs, k))[0]
    per_p, over_used = (lambda r: r / n_p if used else float("nan")), lambda f: f() if used else float("nan")
    return dict(
        method=method, depth=depth, n=len(rs), n_fit=int(np.nansum(fit)), n_comp=int(is_comp.sum()),
        n_frac=int(is_frac.sum()), p_comp=float(np.mean(is_comp)), p_c08=float(np.mean(hi)), mean_c=mean("C"),
        std_c=stats.mean_std(c)[1], p_comp_local=local, mean_iia_das=mean("IIA_das"), mean_iia=mean("IIA"),
        P=n_p if used else float("nan"), n_comp_est=nc, n_frac_est=nf, ratio=rat, ratio_se=se, ratio_per_p=per_p(rat),
        ratio_jensen=jr, ratio08=r08, ratio08_se=se08, ratio08_per_p=per_p(r08), n_hi_est=nh, n_lo_est=nl,
        censored=over_used(lambda: float(np.mean([e["censored"].mean() for e in used]))),
        loss0=over_used(lambda: float(np.mean([e["loss0"] for e in used]))),
    )  # fmt: skip


def cells(run, est) -> list[dict]:
    """One dict per (method, depth) cell (`_cell`), methods in METHODS order, depths ascending."""
    methods = [m for m in METHODS if any(r["method"] == m for r in run.rows)]
    depths = sorted({int(r["depth"]) for r in run.rows})
    return [
        _cell([r for r in run.rows if r["method"] == m and int(r["depth"]) == d], m, d, est)
        for m in methods
        for d in depths
    ]


HEADER = [
    "method", "depth", "n_seeds", "n_fit", "n_comp", "n_frac", "p_comp", "p_C08", "mean_C", "std_C",
    "p_comp_local", "mean_IIA_das", "mean_IIA", "P",
    "n_comp_est", "n_frac_est", "logV_ratio", "logV_ratio_se", "logV_ratio_per_P", "jensen_ratio",
    "n_C08_est", "n_Clt08_est", "logV_ratio_C08", "logV_ratio_C08_se", "censored_frac", "mean_loss0",
]  # fmt: skip
KEYS = [
    "method", "depth", "n", "n_fit", "n_comp", "n_frac", "p_comp", "p_c08", "mean_c", "std_c",
    "p_comp_local", "mean_iia_das", "mean_iia", "P",
    "n_comp_est", "n_frac_est", "ratio", "ratio_se", "ratio_per_p", "ratio_jensen",
    "n_hi_est", "n_lo_est", "ratio08", "ratio08_se", "censored", "loss0",
]  # fmt: skip


def correlations(table) -> dict:
    col = lambda k: [t[k] for t in table]
    return {
        "strict": stats.spearman(col("p_comp"), col("ratio")),
        "strict_per_p": stats.spearman(col("p_comp"), col("ratio_per_p")),
        "c08": stats.spearman(col("p_c08"), col("ratio08")),
        "c08_per_p": stats.spearman(col("p_c08"), col("ratio08_per_p")),
        # "shrinks outside the sweet spot": the ratio should rise with the cell's mean C
        "meanC_strict": stats.spearman(col("mean_c"), col("ratio")),
        "meanC_c08": stats.spearman(col("mean_c"), col("ratio08")),
        "meanIIAdas_strict": stats.spearman(col("mean_iia_das"), col("ratio")),
    }


def _network_rows(run, est) -> list[list]:
    """One t2_networks row per estimated network."""
    by_point = {int(r["point"]): r for r in run.rows}
    per_net = []
    for i, e in sorted(est.items()):
        r = by_point[i]
        label = "compositional" if r["compositional"] == "True" else "fractured"
        local = "compositional" if r.get("compositional_local") == "True" else "fractured"
        scores = [stats.num(r.get(k, "nan")) for k in ("IIA_das", "IIA", "C")]
        per_net.append([i, r["method"], int(r["depth"]), int(r["seed"]), label, local, *scores, e["P"], e["loss0"],
                        e["log_v"], e["log_v_se"], e["jensen"], float(np.median(e["radii"])), float(e["radii"].max()),
                        float(e["censored"].mean())])  # fmt: skip
    return per_net


def _rho(c) -> str:
    return f"rho = {c[0]:.2f} (p = {c[1]:.2g}, {c[2]} cells)" if np.isfinite(c[0]) else f"undefined ({c[2]} cells)"


CORRELATIONS = (  # (correlations key, what is ranked against what), the primary first
    ("strict", "p_comp (IIA_das label) vs log V_comp / V_frac"),
    ("meanC_strict", "log V_comp / V_frac vs the cell's mean C"),
    ("meanIIAdas_strict", "log V_comp / V_frac vs the cell's mean IIA_das"),
    ("strict_per_p", "p_comp vs (1/P) log V_comp / V_frac"),
    ("c08", "sensitivity: p_(C>=0.8) vs its log-volume ratio"),
    ("c08_per_p", "sensitivity, per live parameter"),
    ("meanC_c08", "sensitivity ratio vs the cell's mean C"),
)


def numbers(corr) -> list[list]:
    """The rank correlations across cells the headline rests on (the per-cell numbers: t2_cells.csv)."""
    return [["Spearman across cells", "rho", "p", "cells"]] + [[what, *corr[k]] for k, what in CORRELATIONS]


def headline(n_est, corr) -> str:
    """The primary rank correlation across cells (p_comp against the log-volume ratio, the IIA_das label) and the
    ratio against the cell's mean C."""
    if not n_est:
        return "No fit network to estimate, so no volume ratio."
    return (
        f"Over {stats.plural(n_est, 'network')}, the compositional fraction (IIA_das label) against the log "
        f"basin-volume ratio of compositional to fractured minima, across cells: {_rho(corr['strict'])}; the ratio "
        f"against the cell's mean C: {_rho(corr['meanC_strict'])}."
    )


def make(runs, out, progress=print):
    run = runs[0]
    t0 = time.time()
    est = estimate(run, progress)
    wall = time.time() - t0
    table = cells(run, est)
    corr = correlations(table)
    figs = [t2_figures.figure_ratio(table, corr, out), t2_figures.figure_p_comp(table, out)]  # the verdict's first
    tname = base.write_table(out, "t2_cells", HEADER, [[t[k] for k in KEYS] for t in table])
    nname = base.write_table(
        out, "t2_networks",
        ["point", "method", "depth", "seed", "label", "label_local", "IIA_das", "IIA", "C",
         "P", "loss0", "logV", "logV_se_delta", "jensen_logV",
         "median_r", "max_r", "censored_frac"], _network_rows(run, est),
    )  # fmt: skip
    cens = float(np.mean(np.concatenate([e["censored"] for e in est.values()]))) if est else float("nan")
    rule = f"loss* + {DELTA:g}" if THRESHOLD == "additive" else f"loss* + max(loss*, {FLOOR:g})"
    details = f"{len(est):,} networks estimated in {wall:.0f} s, threshold {rule}; censored fraction {cens:.4f}."
    return base.Section(TITLE, headline(len(est), corr), figs, [tname, nname], numbers(corr), details=details,
                        empty="undefined: fewer than 3 cells with a ratio, or a constant side")  # fmt: skip


@base.one_line_errors
def main(argv=None) -> None:
    """`RUN_DIR [RUN_DIR ...] --out DIR [--threshold double|additive]`: the section of the first t2 run."""
    global THRESHOLD
    a = base.parse_args(__doc__, argv, [(
        "--threshold",
        dict(
            choices=("double", "additive"),
            default=THRESHOLD,
            help=f"double (primary): loss* + max(loss*, {FLOOR:g}); additive (sensitivity): loss* + {DELTA:g}",
        ),
    )])  # fmt: skip
    THRESHOLD = a.threshold
    chosen = select([base.load_run(d) for d in a.run_dirs])  # every run checked before anything is written
    os.makedirs(a.out, exist_ok=True)
    if not chosen:
        raise SystemExit("no run with experiment 't2' and metrics among the given run directories")
    print(make(chosen, a.out).headline)


if __name__ == "__main__":
    main()
