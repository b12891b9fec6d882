"""E6 Neural Sculpting protocol: their module detection (sweetspot.sculpting) on the pruned wiring of every saved
network of the E6 runs, their success indicator and a graded score, next to our fit and C.

    python -m sweetspot report runs/e6_* --out report
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sweetspot import rundir, sculpting, targets  # noqa: E402
from sweetspot.analysis import base, stats  # noqa: E402

TITLE = "E6 Neural Sculpting protocol"


def select(runs):
    return [r for r in runs if r.experiment.startswith("e6/")]


def detect_all(run):
    """{point index: sculpting.success(...) dict} for every saved network of the run."""
    target = targets.make_target(rundir.config_from_meta(run.meta).target)
    s = target.structure
    out = {}
    for i, _, masks, depth in rundir.iter_networks(run.path):
        found = sculpting.detect_modules(masks, depth, s.n_inputs, s.n_outputs)
        out[i] = sculpting.success(found, s)
    return out


def make(runs, out):
    runs = sorted(runs, key=lambda r: r.experiment)
    table = []
    for run in runs:
        found = detect_all(run)
        task = "[" + ",".join(map(str, run.meta["config"]["target"]["modular_spec"])) + "]"
        keys = sorted({(r["method"], int(r["depth"])) for r in run.rows})
        for m, d in keys:
            idx = [int(r["point"]) for r in run.rows if (r["method"], int(r["depth"])) == (m, d)]
            rows = [run.rows[i] for i in idx]
            succ = np.array([found[i]["success"] for i in idx], float)
            score = np.array([found[i]["score"] for i in idx], float)
            fit = stats.column(rows, "fit")
            c = stats.column(rows, "C")
            table.append(
                [
                    task,
                    m,
                    d,
                    len(idx),
                    succ.mean(),
                    score.mean(),
                    fit.mean(),
                    stats.mean_std(c)[0],
                    stats.mean_std(stats.column(rows, "test_acc"))[0],
                ]
            )
    methods = sorted({t[1] for t in table})
    tasks = list(dict.fromkeys(t[0] for t in table))
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.6 * len(tasks), 3.4), squeeze=False, sharey=True)
    for ax, task in zip(axes[0], tasks, strict=True):
        for j, m in enumerate(methods):
            mine = [t for t in table if t[0] == task and t[1] == m]
            depths = [t[2] for t in mine]
            ax.plot(depths, [t[4] for t in mine], "o-", color=f"C{j}", label=f"{m}: success")
            ax.plot(depths, [t[7] for t in mine], "s--", color=f"C{j}", alpha=0.6, label=f"{m}: mean C")
            ax.plot(depths, [t[6] for t in mine], "^:", color=f"C{j}", alpha=0.4, label=f"{m}: frac. fit")
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("hidden layers")
        ax.set_xticks(sorted({t[2] for t in table}))
        ax.set_ylim(-0.05, 1.05)
    axes[0][0].legend(fontsize=6)
    fig.suptitle(
        "E6: Neural Sculpting success rate (their module detection) vs our C\n"
        "per task and depth, over all sparsities and seeds",
        fontsize=9,
    )
    fig.tight_layout()
    figure = base.save_figure(fig, out, "e6_sculpting")
    header = ["task", "method", "depth", "networks", "success_rate", "mean_score", "frac_fit", "C_mean", "test_acc"]
    name = base.write_table(out, "e6_sculpting", header, table)
    best = {task: max((t for t in table if t[0] == task), key=lambda t: t[4]) for task in tasks}
    text = (
        "Success = their detected modules partition inputs and outputs as the task's sub-functions do "
        "(docs/method.md, Neural Sculpting module detection). Best per task: "
        + "; ".join(f"{k}: {v[4]:.2f} ({v[1]}, {v[2]} hidden layers; mean C {v[7]:.2f})" for k, v in best.items())
        + "."
    )
    return base.Section(TITLE, text, [figure], [name])


def main(argv=None) -> None:
    base.analysis_main(__doc__, select, make, argv)


if __name__ == "__main__":
    main()
