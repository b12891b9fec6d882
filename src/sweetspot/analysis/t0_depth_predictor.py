"""Depth predictor validation: the structural and data-only predicted depths (sweetspot.depth_predictor)
against every E2 run's empirical peak depth (argmax over depth of mean C at the best sparsity): table, absolute
error, Spearman rank correlation, with the held-out targets (HELD_OUT) reported separately.

Nothing in the predictors was fitted to E2 (tolerances and training settings are fixed in depth_predictor.FIT);
HELD_OUT targets were also never looked at while the predictor was written, so they are the cleanest test.
    python -m sweetspot report runs/e2_* --out report
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sweetspot import depth_predictor, rundir  # noqa: E402
from sweetspot.analysis import base, e2_depth, stats  # noqa: E402

TITLE = "Depth predictor against the E2 peaks"
HELD_OUT = ("expr", "modular")


def select(runs):
    return [r for r in runs if r.experiment.startswith("e2/")]


HEADER = ["target", "set", "target_depth", "peak_depth", "d_hat", "d_hat_low", "d_hat_high", "d_hat_data", "data_fit"]


def _row(run, cache) -> list:
    """One HEADER row: the run's target, its empirical peak depth and both predictors' depths."""
    cfg = rundir.config_from_meta(run.meta)
    name = run.experiment[3:]
    pred = depth_predictor.predict(
        cfg.target, int(cfg.model.width), cfg.model.activation, cache_dir=cache, data_only_kw={}
    )
    peak = e2_depth.peak_depth(run)
    data = pred["data_only"] or {}
    return [
        name,
        "held out" if name in HELD_OUT else "main",
        e2_depth.target_depth_of(run),
        peak if peak is not None else float("nan"),
        pred["d_hat"],
        pred["d_hat_low"],
        pred["d_hat_high"],
        data.get("d_hat", float("nan")),
        bool(data.get("fit", False)),
    ]


def _summary(table) -> tuple[list[list], list[str]]:
    """(depth_predictor_summary rows, sentences): error and rank correlation per (set, predictor)."""
    lines, summary = [], []
    for group in ("main", "held out"):
        rows = [t for t in table if t[1] == group and np.isfinite(t[3])]
        if not rows:
            if group == "main":  # no target with an empirical peak: say so in the table
                summary += [
                    [group, label, 0, float("nan"), 0, float("nan"), float("nan")]
                    for label in ("structural", "data-only")
                ]
                lines.append("no main target has an empirical peak (none fits at any depth)")
            continue
        peak = [t[3] for t in rows]
        for label, col in (("structural", 4), ("data-only", 7)):
            pred = [t[col] for t in rows]
            err = np.abs(np.array(pred, float) - np.array(peak, float))
            rho, p, _ = stats.spearman(pred, peak)
            summary.append([group, label, len(rows), float(np.nanmean(err)), int(np.sum(err == 0)), rho, p])
            lines.append(
                f"{group}, {label}: mean |D_hat - peak| = {np.nanmean(err):.2f} over {len(rows)} targets "
                f"({int(np.sum(err == 0))} exact), Spearman rho = {rho:.2f} (p = {p:.2g})"
            )
    return summary, lines


def _figure(table, out) -> str:
    fig, ax = plt.subplots(figsize=(5, 4.2))
    for t in table:
        marker = "s" if t[1] == "held out" else "o"
        ax.scatter(t[3], t[4], marker=marker, color="C0", s=40, label="structural" if t is table[0] else None)
        ax.scatter(t[3], t[7], marker=marker, color="C1", s=40, label="data-only" if t is table[0] else None)
        ax.annotate(t[0], (t[3], t[4]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    lim = [0.5, max(8.5, np.nanmax([t[7] for t in table] + [t[4] for t in table]) + 0.5)]
    ax.plot(lim, lim, "k:", lw=1)
    ax.set_xlabel("empirical peak depth (E2: argmax mean C)")
    ax.set_ylabel("predicted depth")
    ax.set_title("squares: held-out targets", fontsize=9)
    ax.legend(fontsize=7)
    return base.save_figure(fig, out, "depth_predictor")


def make(runs, out):
    cache = os.path.join(out, "depth_cache")
    table = [_row(run, cache) for run in sorted(runs, key=lambda r: r.experiment)]
    name = base.write_table(out, "depth_predictor", HEADER, table)
    summary, lines = _summary(table)
    s_name = base.write_table(
        out,
        "depth_predictor_summary",
        ["set", "predictor", "targets", "mean_abs_error", "exact", "spearman_rho", "p"],
        summary,
    )
    figure = _figure(table, out)
    return base.Section(TITLE, "; ".join(lines) + ".", [figure], [name, s_name])


def main(argv=None) -> None:
    base.analysis_main(__doc__, select, make, argv)


if __name__ == "__main__":
    main()
