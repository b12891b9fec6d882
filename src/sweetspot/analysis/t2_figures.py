"""T2's figures (sweetspot.analysis.t2_volume): the compositional fraction (the `compositional` label, on the
distributed score IIA_das; the local-unit label beside it) and C and IIA_das against depth, and the basin
log-volume ratio of compositional to fractured minima against depth and against p_comp."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sweetspot.analysis import base  # noqa: E402

COLOURS = {"oracle": "C2", "sp": "C0", "random": "C1", "dense": "C7"}


def _binom_se(p, n):
    return np.sqrt(np.maximum(p * (1 - p), 0) / np.maximum(n, 1))


def figure_p_comp(table, out):
    fig, axes = plt.subplots(1, 2, figsize=(8.6, 5.6))
    for m in dict.fromkeys(t["method"] for t in table):
        rows = [t for t in table if t["method"] == m]
        d = np.array([t["depth"] for t in rows])
        p = np.array([t["p_comp"] for t in rows])
        p8 = np.array([t["p_c08"] for t in rows])
        n = np.array([t["n"] for t in rows])
        col = COLOURS.get(m)
        axes[0].errorbar(d, p, yerr=_binom_se(p, n), color=col, marker="o", ms=4, capsize=2, label=f"{m}: strict")
        axes[0].plot(d, p8, color=col, ls="--", marker="x", ms=4, label=f"{m}: C>=0.8 (sens.)")
        pl = np.array([t.get("p_comp_local", np.nan) for t in rows])
        axes[0].plot(d, pl, color=col, ls=":", marker=".", ms=4, label=f"{m}: local-unit label")
        mc, sc = np.array([t["mean_c"] for t in rows]), np.array([t["std_c"] for t in rows])
        axes[1].errorbar(d, mc, yerr=sc, color=col, marker="o", ms=4, capsize=2, label=f"{m}: C")
        mi = np.array([t.get("mean_iia_das", np.nan) for t in rows])
        axes[1].plot(d, mi, color=col, ls="--", marker="x", ms=4, label=f"{m}: IIA_das")
    axes[0].set_ylabel("fraction of seeds")
    axes[0].set_title("p_comp (IIA_das label; solid, ± binomial se),\np_(C>=0.8) (dashed), local label (dotted)")
    axes[1].set_ylabel("C, IIA_das")
    axes[1].set_title("mean C ± std over seeds (solid);\nmean IIA_das (dashed)")
    for ax in axes:
        ax.set_xlabel("depth (hidden layers)")
        ax.set_ylim(-0.05, 1.05)
        ax.set_xticks(sorted({t["depth"] for t in table}))
    for ax in axes:  # under the panel: a legend inside covered the curves
        ax.legend(ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    fig.suptitle("T2: compositional fraction, C and IIA_das against depth")
    fig.tight_layout()
    caption = (
        "T2: compositional fraction (IIA_das label), C and IIA_das against depth (tree k=2 L=3, sparsity 0.8, "
        "dense at 0)"
    )
    return base.save_figure(fig, out, "t2_p_comp", caption)


def _ratio_panels(axes, rows, col) -> None:
    """One method's log-volume ratios against depth (axes[0]) and per live parameter (axes[1])."""
    d = np.array([t["depth"] for t in rows], float)
    m = rows[0]["method"]
    for key, se_key, ls, lab, off in (
        ("ratio", "ratio_se", "-", "strict", -0.06),
        ("ratio08", "ratio08_se", "--", "C>=0.8 (sens.)", 0.06),
    ):
        v, s = np.array([t[key] for t in rows]), np.array([t[se_key] for t in rows])
        if np.isfinite(v).any():
            axes[0].errorbar(d + off, v, yerr=s, color=col, ls=ls, marker="o", ms=4, capsize=2, label=f"{m}: {lab}")
        vp = np.array([t[key + "_per_p"] for t in rows])
        if np.isfinite(vp).any():
            axes[1].errorbar(
                d + off, vp, yerr=s / np.array([t["P"] for t in rows], float), color=col, ls=ls, marker="o", ms=4
            )


def _ratio_scatter(ax, rows, col) -> None:
    """One method's p_comp against its ratio (and the sensitivity pair), labelled by depth."""
    for t in rows:
        if np.isfinite(t["ratio"]):
            ax.scatter(t["ratio"], t["p_comp"], color=col, marker="o", s=30)
            ax.annotate(f"{t['depth']}", (t["ratio"], t["p_comp"]), xytext=(3, 2), textcoords="offset points")
        if np.isfinite(t["ratio08"]):
            ax.scatter(t["ratio08"], t["p_c08"], facecolor="none", edgecolor=col, marker="s", s=30)
            kw = dict(xytext=(3, -8), textcoords="offset points", color="grey")
            ax.annotate(f"{t['depth']}", (t["ratio08"], t["p_c08"]), **kw)


def figure_ratio(table, corr, out):
    fig, axes = plt.subplots(1, 3, figsize=(8.7, 3.9))
    for m in dict.fromkeys(t["method"] for t in table):
        rows = [t for t in table if t["method"] == m]
        _ratio_panels(axes, rows, COLOURS.get(m))
        _ratio_scatter(axes[2], rows, COLOURS.get(m))
    axes[2].scatter([], [], color="k", marker="o", label="strict: p_comp vs ratio")
    axes[2].scatter([], [], facecolor="none", edgecolor="k", marker="s", label="sens.: p_(C>=0.8) vs its ratio")
    for ax in axes:
        ax.axhline(0, color="grey", lw=0.6) if ax is not axes[2] else ax.axvline(0, color="grey", lw=0.6)
    axes[0].set_title("log V_comp - log V_frac\n(mean over nets ± se)")
    axes[1].set_title("per live parameter:\n(1/P) log V_comp / V_frac")
    rho, p, n = corr["strict"]
    r8, p8, n8 = corr["c08"]
    axes[2].set_title(
        f"strict: rho={rho:.2f} (p={p:.2g}, {n} cells)\nsens.: rho={r8:.2f} (p={p8:.2g}, {n8} cells)"
    )
    for ax in axes[:2]:
        ax.set_xlabel("depth (hidden layers)")
        ax.set_xticks(sorted({t["depth"] for t in table}))
    axes[0].set_ylabel("log volume ratio (nats)")
    axes[1].set_ylabel("nats per parameter")
    axes[2].set_xlabel("log V_comp - log V_frac\n(labels: depth)")
    axes[2].set_ylabel("p_comp (or p_(C>=0.8))")
    axes[0].legend()
    axes[2].legend(loc="best")
    fig.suptitle("T2: basin log-volume ratio of compositional to fractured minima")
    fig.tight_layout()
    return base.save_figure(fig, out, "t2_volume_ratio")
