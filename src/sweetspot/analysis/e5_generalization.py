"""E5 generalization: the held-out-combination loss ratio (held-out loss / test loss) and the held-out loss
itself against C over every point of every real-valued run with metrics, with Spearman rank correlations (all
points, and fit points only); Boolean runs plot held-out accuracy against C instead.

    python -m sweetspot report runs/e1 runs/e2_* runs/e3_* --out report
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sweetspot.analysis import base, stats  # noqa: E402

TITLE = "E5 generalization to held-out combinations"


def select(runs):
    return [r for r in runs if r.has("C") and r.has("gen_ratio") and not r.experiment.startswith("e6/")]


def make(runs, out):
    real = [r for r in runs if not r.has("heldout_acc")]
    binary = [r for r in runs if r.has("heldout_acc")]
    panels = [(g, k) for g, k in ((real, "gen_ratio"), (real, "heldout_loss"), (binary, "heldout_acc")) if g]
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.2), squeeze=False)
    table = []
    for ax, (group, key) in zip(axes[0], panels, strict=True):
        for j, run in enumerate(sorted(group, key=lambda r: r.name)):
            c, g, fit = (stats.column(run.rows, k) for k in ("C", key, "fit"))
            ax.scatter(c, g, s=6, alpha=0.5, color=f"C{j % 10}", label=run.name)
            rho, p, n = stats.spearman(c, g)
            rho_f, p_f, n_f = stats.spearman(c[fit == 1], g[fit == 1])
            table.append([run.name, key, n, rho, p, n_f, rho_f, p_f])
        c_all = np.concatenate([stats.column(r.rows, "C") for r in group])
        g_all = np.concatenate([stats.column(r.rows, key) for r in group])
        f_all = np.concatenate([stats.column(r.rows, "fit") for r in group])
        rho, p, n = stats.spearman(c_all, g_all)
        rho_f, p_f, n_f = stats.spearman(c_all[f_all == 1], g_all[f_all == 1])
        table.append(["all", key, n, rho, p, n_f, rho_f, p_f])
        if key != "heldout_acc":
            ax.set_yscale("log")
        if key == "gen_ratio":
            ax.axhline(1.0, color="k", ls=":", lw=1)
        ax.set_xlabel("C")
        ax.set_ylabel(
            {"gen_ratio": "held-out / test loss", "heldout_loss": "held-out loss"}.get(key, "held-out accuracy")
        )
        ax.set_title(f"Spearman rho = {rho:.2f} (all {n}), {rho_f:.2f} (fit {n_f})", fontsize=9)
        ax.legend(fontsize=6, markerscale=2)
    fig.suptitle("E5: generalization to held-out combinations against C, every point", fontsize=10)
    fig.tight_layout()
    figure = base.save_figure(fig, out, "e5_generalization")
    header = ["run", "measure", "n", "spearman_rho", "p", "n_fit", "spearman_rho_fit", "p_fit"]
    name = base.write_table(out, "e5_generalization", header, table)
    text = (
        "Rank correlation of C with the held-out measure (a lower loss ratio or a higher accuracy is better). "
        + "; ".join(
            f"{t[0]} ({t[1]}): rho {t[3]:.2f} over {t[2]} points, {t[6]:.2f} over {t[5]} fit points"
            for t in table
            if t[0] == "all"
        )
        + "."
    )
    return base.Section(TITLE, text, [figure], [name])


def main(argv=None) -> None:
    base.analysis_main(__doc__, select, make, argv)


if __name__ == "__main__":
    main()
