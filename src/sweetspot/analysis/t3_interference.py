"""T3 feature interference bounds (src/sweetspot/theory.py, theorems 1-3) checked on every saved network.

For each saved network of a run with metrics, each active hidden layer l and each probe node v, on the
probe-train inputs (metrics.make_probe(target, cfg.metrics, seed=cfg.target.data_seed)):
  z = the layer's activations in float64, standardised as metrics.standardise does (probe-train mean and
      population std; a unit with std <= 1e-6 reads 0);
  live units and units local to v selected exactly as metrics.compute does (float32 jax signatures on x_sig,
      metrics.live_units, sum_{i in S_v} g_{u,i} >= local_tau);
  theorem 1: theory.gap_decomposition -> attained = in-sample OLS r2_restricted, bound = r2_any -
      lam_max(Sigma_{O|S}) rho |w|^2 / Var(v) (theory.interference_bound's formula); must hold attained >= bound;
      the Rayleigh factor q = quad / (lam_max rho |w|^2 / Var) in [0, 1] measures how tight it is;
  theorem 2: theory.cos2_bound on the OLS readouts w of same-level probe-node pairs with disjoint local sets:
      cos^2(w_v, w_v') <= min(1, (sqrt rho_v + sqrt rho_v')^2);
  theorem 3: per layer and level with k >= 2 probe nodes of nonzero readout: mean over ordered pairs of
      cos^2 >= theory.welch_bound(k, d), with d = the layer's live units (and, tighter, d = rank of the k
      readouts).
Each layer is first reduced exactly to 2 (W + P) rows (interference.reduce_rows, ~30x cheaper); the per-network
numerics live in sweetspot.analysis.interference.

    python -m sweetspot report runs/e1_i* runs/e2_* --out report
    python analysis/t3_interference.py runs/e1_i* runs/e2_* --out /tmp/t3 [--max-networks N]
"""

from __future__ import annotations

import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sweetspot import metrics, rundir, targets  # noqa: E402
from sweetspot.analysis import base, interference, stats  # noqa: E402

TITLE = "T3 feature interference bounds (theorems 1-3)"
TOL = 1e-6  # an inequality holds when it holds up to this float tolerance
SCORE_NOTE = (
    "The theorems bound probe-side quantities (r2_restricted, r2_any, the probes' readout cosines), so T3 reads no "
    "causal score: neither the distributed IIA_das nor the local-unit IIA nor the compositional label (now on "
    "IIA_das) enters it; networks are split only by fit."
)
MAX_NETWORKS_PER_RUN = 400  # evenly spaced over the run's point indices when a run saved more (work cap)
VIOLATIONS = ("t1_violations", "t2_violations", "t3_violations")


def select(runs):
    return [r for r in runs if r.has("C") and os.path.isdir(os.path.join(r.path, "params"))]


# ------------------------------------------------------------------------------------------ per run
CASE_KEYS = ("r2_any", "attained", "bound", "gap", "quad", "q", "n_local", "n_out")
PAIR_KEYS = ("cos2_bound", "cos2", "cos2_undefined")
WELCH_KEYS = ("welch_k", "welch_d_live", "welch_d_rank", "welch_attained", "welch_bound_live", "welch_bound_rank")


def run_checks(run, max_networks: int = MAX_NETWORKS_PER_RUN) -> dict:
    """Every check on (at most max_networks evenly spaced) saved networks of one run: flat arrays over cases,
    with point index, layer and fit label per case, plus counts."""
    cfg = rundir.config_from_meta(run.meta)
    target = targets.make_target(cfg.target)
    probe = metrics.make_probe(target, cfg.metrics, seed=int(cfg.target.data_seed))
    n_points = len(run.rows)
    keep = set(np.unique(np.linspace(0, n_points - 1, min(max_networks, n_points)).round().astype(int)).tolist())
    acc = {k: [] for k in CASE_KEYS + PAIR_KEYS + WELCH_KEYS + ("point", "layer", "fit", "pair_point")}
    n_done = 0
    if len(probe["probe_nodes"]) == 0:
        return {"networks": 0, "saved": n_points, "skipped": "no probe nodes"} | {k: np.zeros(0) for k in acc}
    for i, params, masks, depth in rundir.iter_networks(run.path):
        if i not in keep or run.rows[i].get("diverged") == "True":
            continue
        fit = stats.num(run.rows[i].get("fit", "nan"))
        layers = interference.network_checks(params, masks, depth, cfg.model.activation, probe, cfg.metrics)
        for l, c in enumerate(layers):
            for k in CASE_KEYS + PAIR_KEYS + WELCH_KEYS:
                acc[k].append(c[k])
            m = len(c["attained"])
            acc["point"].append(np.full(m, i))
            acc["layer"].append(np.full(m, l))
            acc["fit"].append(np.full(m, fit))
            acc["pair_point"].append(np.full(len(c["cos2"]), i))
        n_done += 1
    out = {k: np.concatenate(v) if v else np.zeros(0) for k, v in acc.items()}
    out.update(networks=n_done, saved=n_points, skipped="")
    return out


def summarise(c) -> dict:
    """Hold fractions, violations and tightness of the three inequalities."""
    slack1 = c["attained"] - c["bound"]
    slack2 = c["cos2_bound"] - c["cos2"]
    slack3 = c["welch_attained"] - c["welch_bound_live"]
    slack3r = c["welch_attained"] - c["welch_bound_rank"]
    q = c["q"][np.isfinite(c["q"])]
    pct = lambda x, p: float(np.percentile(x, p)) if len(x) else float("nan")
    frac = lambda s: float(np.mean(s >= -TOL)) if len(s) else float("nan")
    return {
        "t1_cases": len(slack1),
        "t1_hold": frac(slack1),
        "t1_held": int(np.sum(slack1 >= -TOL)),
        "t1_violations": slack1[slack1 < -TOL],
        "t1_min_slack": float(slack1.min()) if len(slack1) else float("nan"),
        "t1_slack_q": [pct(slack1, p) for p in (25, 50, 75)],
        "t1_trivial": int(np.sum(c["n_out"] == 0)),
        "t1_nonvacuous": int(np.sum(c["bound"] > 0)),
        "t1_identity_err": float(np.max(np.abs(c["gap"] - c["quad"]))) if len(slack1) else float("nan"),
        "t1_identity_bad": int(np.sum(np.abs(c["gap"] - c["quad"]) > TOL)),
        "q_n": len(q),
        "q_q": [pct(q, p) for p in (25, 50, 75)],
        "t2_pairs": len(slack2),
        "t2_hold": frac(slack2),
        "t2_held": int(np.sum(slack2 >= -TOL)),
        "t2_violations": slack2[slack2 < -TOL],
        "t2_slack_q": [pct(slack2, p) for p in (25, 50, 75)],
        "t2_vacuous": int(np.sum(c["cos2_bound"] >= 1.0)),
        "t2_hold_nonvacuous": frac(slack2[c["cos2_bound"] < 1.0]),
        "t2_undefined": int(c["cos2_undefined"].sum()),
        "t3_cases": len(slack3),
        "t3_hold": frac(slack3),
        "t3_held": int(np.sum(slack3 >= -TOL)),
        "t3_hold_rank": frac(slack3r),
        "t3_violations": np.concatenate([slack3[slack3 < -TOL], slack3r[slack3r < -TOL]]),
        "t3_nonvacuous_live": int(np.sum(c["welch_bound_live"] > 0)),
        "t3_nonvacuous_rank": int(np.sum(c["welch_bound_rank"] > 0)),
    }


def _merge(checks: list[dict]) -> dict:
    keys = CASE_KEYS + PAIR_KEYS + WELCH_KEYS + ("point", "layer", "fit", "pair_point")
    return {k: np.concatenate([c[k] for c in checks]) for k in keys}


# --------------------------------------------------------------------------------------------- report
def _theorem1_panels(axes, allc, s_all) -> None:
    """Attained against bound (axes[0]) and the histogram of log10 slack (axes[1])."""
    for fitv, colour, label in ((0.0, "C1", "unfit"), (1.0, "C0", "fit")):
        m = allc["fit"] == fitv
        axes[0].scatter(
            allc["bound"][m], allc["attained"][m], s=3, alpha=0.3, color=colour, label=f"{label} ({m.sum()})"
        )
    axes[0].set_xscale("symlog", linthresh=1.0)
    axes[0].set_xlim(min(-1.0, np.percentile(allc["bound"], 1) if len(allc["bound"]) else -1.0), 1.5)
    xs = np.linspace(0, 1, 20)
    axes[0].plot(xs, xs, "k:", lw=1, label="attained = bound")
    axes[0].axvline(0, color="grey", lw=0.6)
    axes[0].set_ylim(-0.05, 1.05)
    axes[0].set_xlabel("theorem 1 bound (symlog x; < 0 is vacuous)")
    axes[0].set_ylabel("attained $r2_{restricted}$ (in-sample OLS)")
    axes[0].set_title(
        f"Thm 1 holds in {stats.share(s_all['t1_held'], s_all['t1_cases'])}\n"
        f"bound > 0 (non-vacuous) in {s_all['t1_nonvacuous']:,}"
    )
    axes[0].legend(markerscale=3, loc="center left")
    slack = allc["attained"] - allc["bound"]
    pos = slack[allc["n_out"] > 0]
    pos = pos[pos > 0]
    if len(pos):
        axes[1].hist(np.log10(pos), bins=60, color="C0")
    axes[1].set_xlabel("log10(attained - bound)\n(cases with live units outside the local set)")
    axes[1].set_ylabel("cases")
    sq = s_all["t1_slack_q"]
    axes[1].set_title(f"Thm 1 slack quartiles\n{sq[0]:.3g} / {sq[1]:.3g} / {sq[2]:.3g}")


def _tightness_panels(axes, allc, s_all) -> None:
    """The Rayleigh factor q (axes[0]) and theorem 2's attained cos^2 against its bound (axes[1])."""
    qv = allc["q"][np.isfinite(allc["q"])]
    axes[0].hist(qv, bins=50, range=(0, 1), color="C2")
    axes[0].set_xlabel("Rayleigh factor q = w_O' Sigma w_O / (lam_max |w_O|^2)")
    axes[0].set_ylabel("cases")
    qq = s_all["q_q"]
    axes[0].set_title(f"Thm 1 tightness (1 = tight):\nq quartiles {qq[0]:.2g} / {qq[1]:.2g} / {qq[2]:.2g}")
    axes[1].scatter(allc["cos2_bound"], allc["cos2"], s=3, alpha=0.3, color="C4")
    axes[1].plot([0, 1], [0, 1], "k:", lw=1)
    axes[1].set_xlabel("theorem 2 bound min(1, (sqrt rho_v + sqrt rho_v')^2)")
    axes[1].set_ylabel("attained cos^2(w_v, w_v'), same-level pairs")
    axes[1].set_title(
        f"Thm 2 holds in {stats.share(s_all['t2_held'], s_all['t2_pairs'])}\n"
        f"bound < 1 in {s_all['t2_pairs'] - s_all['t2_vacuous']:,}"
    )


def _figure(allc, s_all, n_nets, n_runs, out) -> str:
    fig, axes = plt.subplots(2, 2, figsize=(8.6, 7.4))
    _theorem1_panels(axes[0], allc, s_all)
    _tightness_panels(axes[1], allc, s_all)
    fig.suptitle(f"T3: interference bounds on {stats.plural(n_nets, 'saved network')} of {stats.plural(n_runs, 'run')}")
    fig.tight_layout()
    caption = (
        f"T3: interference bounds on {stats.plural(n_nets, 'saved network')} of {stats.plural(n_runs, 'run')} "
        "(every active hidden layer and probe node; in-sample OLS on the probe-train inputs)"
    )
    return base.save_figure(fig, out, "t3_interference", caption)


HEADER = [
    "run", "networks", "saved", "t1_cases", "t1_hold", "t1_min_slack", "t1_slack_q25", "t1_slack_median",
    "t1_slack_q75", "t1_bound_positive", "t1_no_outside_units", "identity_max_err", "identity_err_gt_tol",
    "q_cases", "q_q25", "q_median", "q_q75", "t2_pairs", "t2_hold", "t2_slack_median", "t2_bound_lt_1",
    "t2_hold_bound_lt_1", "t2_zero_readout_pairs", "t3_cases", "t3_hold", "t3_hold_rank",
    "t3_nonvacuous_live", "t3_nonvacuous_rank",
]  # fmt: skip


def _table_rows(checks, s_all, n_nets) -> list[list]:
    """One HEADER row per run, then one for all runs together."""
    rows = []
    for name, c in [*checks.items(), ("all", None)]:
        s = s_all if c is None else summarise(c)
        nets = n_nets if c is None else c["networks"]
        saved = sum(x["saved"] for x in checks.values()) if c is None else c["saved"]
        rows.append(
            [name, nets, saved, s["t1_cases"], s["t1_hold"], s["t1_min_slack"], *s["t1_slack_q"]]
            + [s["t1_nonvacuous"], s["t1_trivial"], s["t1_identity_err"], s["t1_identity_bad"]]
            + [s["q_n"], *s["q_q"], s["t2_pairs"], s["t2_hold"], s["t2_slack_q"][1]]
            + [s["t2_pairs"] - s["t2_vacuous"], s["t2_hold_nonvacuous"], s["t2_undefined"]]
            + [s["t3_cases"], s["t3_hold"], s["t3_hold_rank"], s["t3_nonvacuous_live"], s["t3_nonvacuous_rank"]]
        )
    return rows


def details(checks, s_all, n_nets, wall, max_networks) -> str:
    """Violations, the work cap and skipped runs (the tightness numbers: t3_interference.csv and the figure)."""
    viol = [f"{k[:2]}: {len(s_all[k])}, worst {s_all[k].min():.3g}" for k in VIOLATIONS if len(s_all[k])]
    capped = [f"{n} ({c['networks']} of {c['saved']})" for n, c in checks.items() if c["networks"] < c["saved"]]
    skipped = [f"{n} ({c['skipped']})" for n, c in checks.items() if c["skipped"]]
    return (
        f"Checked on {stats.plural(n_nets, 'saved network')} in {wall:.0f} s, tolerance {TOL:g}. "
        + ("Violations: " + "; ".join(viol) + ". " if viol else "No violations beyond the tolerance. ")
        + (f"At most {max_networks} networks per run: " + ", ".join(capped) + ". " if capped else "")
        + ("Skipped: " + ", ".join(skipped) + ". " if skipped else "")
        + SCORE_NOTE
    )


def numbers(s_all) -> list[list]:
    """Per theorem: the cases, how many it holds in, and in how many the bound says anything (non-vacuous)."""
    return [
        ["theorem", "inequality", "holds in", "non-vacuous in"],
        ["1", "r2_restricted >= r2_any - lam_max rho |w|^2 / Var", stats.share(s_all["t1_held"], s_all["t1_cases"],
         "case"), s_all["t1_nonvacuous"]],
        ["2", "same-level cos^2 <= (sqrt rho_v + sqrt rho_v')^2", stats.share(s_all["t2_held"], s_all["t2_pairs"],
         "pair"), s_all["t2_pairs"] - s_all["t2_vacuous"]],
        ["3", "mean same-level cos^2 >= Welch bound (d = live units)", stats.share(s_all["t3_held"],
         s_all["t3_cases"], "case"), s_all["t3_nonvacuous_live"]],
    ]  # fmt: skip


def make(runs, out, max_networks: int = MAX_NETWORKS_PER_RUN):
    t0 = time.time()
    runs = sorted(runs, key=lambda r: r.name)
    with interference.single_threaded_blas():
        checks = {r.name: run_checks(r, max_networks) for r in runs}
    allc = _merge(list(checks.values()))
    s_all = summarise(allc)
    n_nets = sum(c["networks"] for c in checks.values())
    wall = time.time() - t0
    figure = _figure(allc, s_all, n_nets, len(checks), out)
    table = base.write_table(out, "t3_interference", HEADER, _table_rows(checks, s_all, n_nets))
    return base.Section(TITLE, headline(s_all, n_nets), [figure], [table], numbers(s_all),
                        details=details(checks, s_all, n_nets, wall, max_networks))  # fmt: skip


def headline(s_all, n_nets) -> str:
    """How many cases each theorem holds in, over how many networks."""
    held = lambda k, n, word: stats.share(s_all[f"t{k}_held"], s_all[n], word)
    return (
        f"Over {stats.plural(n_nets, 'network')}, theorem 1 holds in {held(1, 't1_cases', 'case')}, theorem 2 in "
        f"{held(2, 't2_pairs', 'pair')} and theorem 3 in {held(3, 't3_cases', 'case')}."
    )


@base.one_line_errors
def main(argv=None) -> None:
    """`RUN_DIR [RUN_DIR ...] --out DIR [--max-networks N]`."""
    a = base.parse_args(__doc__, argv, [
        ("--max-networks", dict(type=int, default=MAX_NETWORKS_PER_RUN, help="per run (evenly spaced)")),
    ])  # fmt: skip
    runs = [base.load_run(d) for d in a.run_dirs]  # every run checked before anything is written
    os.makedirs(a.out, exist_ok=True)
    print(make(select(runs), a.out, a.max_networks).headline)


if __name__ == "__main__":
    main()
