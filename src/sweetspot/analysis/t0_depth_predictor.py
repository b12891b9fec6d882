"""Depth predictor validation (claim 3b): the structural and data-only predicted depths (sweetspot.depth_predictor)
against every E2 target's IIA_das peak depth (e2_depth: argmax over depth of mean IIA_das, the distributed causal
score, among the depths where at least half the networks fit, target instances pooled; the local-unit IIA peak and
the C peak are listed beside it, not validated), next to the best constant prediction: the integer depth with the
least mean |error| on the main (not held-out) targets, evaluated everywhere. Per set (main, held out, all) and
predictor: mean |error| with a 95% bootstrap interval over targets and seeds, exact hits, Spearman rho, and the
difference in mean |error| from the constant.

Nothing in the predictors was fitted to E2 (tolerances and training settings are fixed in depth_predictor.FIT);
HELD_OUT targets were also never looked at while the predictor was written, so they are the cleanest test. The
predictors train small networks (the data-only one a depth-8 network per target; the structural one every node
whose cost is neither closed-form nor cached in OUT/depth_cache).
    python -m sweetspot report runs/e2_* --out report
"""

from __future__ import annotations

import os
import zlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sweetspot import (  # noqa: E402
    depth_predictor,
    experiments,  # noqa: E402
    rundir,
)
from sweetspot.analysis import base, e2_depth, stats  # noqa: E402

TITLE = "Depth predictor against the E2 peaks"
# The targets of own depth 4-5 were added after the predictor was written (issue 12), so they are held out too.
HELD_OUT = ("expr", "modular", "expr_d4", "expr_d5", "boolean_L4", "expr_d5_pl", "boolean_L5")
SEED = 0


def select(runs):
    return [r for r in runs if experiments.BY_NAME["E2"].owns(r.experiment)]


PEAK = "IIA_das"  # the measured peak the predictors are validated against (e2_depth.PEAK_METRICS[0])
HEADER = ["target", "set", "own_depth", "peak_IIA_das", "peak_IIA_das_lo", "peak_IIA_das_hi", "peak_IIA", "peak_C"]
HEADER += ["d_hat", "d_hat_low", "d_hat_high", "d_hat_data", "data_fit", "constant"]
PREDICTORS = (("structural", "d_hat"), ("data-only", "d_hat_data"), ("constant", "constant"))
SUMMARY_HEADER = ["set", "predictor", "targets", "mean_abs_error", "mae_lo", "mae_hi", "exact"]
SUMMARY_HEADER += ["spearman_rho", "rho_lo", "rho_hi", "p", "minus_constant", "minus_constant_lo", "minus_constant_hi"]


def _predict(res, cache) -> dict:
    """Both predictors for the target's first instance (lowest target.seed): depth_predictor.predict."""
    cfg = rundir.config_from_meta(res["curves"].runs[0].meta)
    return depth_predictor.predict(
        cfg.target, int(cfg.model.width), cfg.model.activation, cache_dir=cache, data_only_kw={}
    )


def best_constant(peaks) -> int | None:
    """The integer c minimising mean |c - peak| over the finite peaks (ties: the smallest c); None without one."""
    p = np.asarray([x for x in peaks if x is not None], float)
    p = p[np.isfinite(p)]
    if not len(p):
        return None
    cs = np.arange(int(p.min()), int(p.max()) + 1)
    return int(cs[int(np.argmin([np.mean(np.abs(c - p)) for c in cs]))])


def _row(res, pred, constant) -> list:
    """One HEADER row: the target, its IIA_das peak (seed-bootstrap range), the IIA and C peaks, both predictors
    and the constant."""
    nan = float("nan")
    pk = res["peak"][PEAK]
    lo, hi, _, _ = e2_depth.peak_range(res["boot"][PEAK])
    peak = lambda m: nan if res["peak"][m] is None else res["peak"][m]
    data = pred["data_only"] or {}
    return [res["name"], "held out" if res["name"] in HELD_OUT else "main", res["own_depth"], nan if pk is None else pk,
            lo, hi, peak("IIA"), peak("C"), pred["d_hat"], pred["d_hat_low"], pred["d_hat_high"],
            data.get("d_hat", nan), bool(data.get("fit", False)), nan if constant is None else constant]  # fmt: skip


def _col(table, name) -> np.ndarray:
    i = HEADER.index(name)
    return np.array([np.nan if t[i] is None else t[i] for t in table], float)


def score(pred, peak, boot, idx) -> dict:
    """Errors of predictions `pred` against `peak` (targets,): mae (mean |pred - peak| over the finite pairs),
    n, exact, rho and p (stats.spearman), and per resample (rows of idx, targets drawn with replacement, paired
    with column b of `boot`, (targets, n_boot) bootstrap peaks) the mean |error| `mae_b` and rho `rho_b`."""
    pred, peak = np.asarray(pred, float), np.asarray(peak, float)
    err = np.abs(pred - peak)
    ok = np.isfinite(err)
    rho, p, _ = stats.spearman(pred, peak)
    b = boot[idx, np.arange(len(idx))[:, None]]
    e_b = np.abs(pred[idx] - b)
    n_b = np.isfinite(e_b).sum(1)
    mae_b = np.where(n_b > 0, np.nansum(e_b, 1) / np.maximum(n_b, 1), np.nan)
    return {
        "mae": float(err[ok].mean()) if ok.any() else float("nan"),
        "n": int(ok.sum()),
        "exact": int(np.sum(err[ok] == 0)),
        "rho": rho,
        "p": p,
        "mae_b": mae_b,
        "rho_b": stats.spearman_rows(pred[idx], b),
    }


def _ci(v) -> tuple[float, float]:
    v = np.asarray(v, float)
    v = v[np.isfinite(v)]
    return tuple(np.quantile(v, [0.025, 0.975])) if len(v) else (float("nan"), float("nan"))


def validate(table, boot, n_boot=e2_depth.N_BOOT, seed=SEED) -> list[list]:
    """SUMMARY_HEADER rows over the table's targets with an IIA_das peak, per set (main, held out, all) and
    predictor. Intervals: 95% percentile bootstrap, n_boot resamples; each draws the set's targets with
    replacement (default_rng([seed, crc32(set)])) and takes for every drawn target its b-th seed-bootstrap peak
    (`boot`: {target: (n_boot,) peaks}); all predictors of a set share the resamples, so minus_constant (mean
    |error| minus the constant's) is paired."""
    rows = []
    for group in ("main", "held out", "all"):
        t = [r for r in table if (group == "all" or r[1] == group) and np.isfinite(r[HEADER.index("peak_IIA_das")])]
        if not t:  # a row that says so (a table always has a row)
            rows.append([group, "none", 0, *[float("nan")] * 3, 0, *[float("nan")] * 4, "", "", ""])
            continue
        b = np.array([np.asarray(boot[r[0]], float)[:n_boot] for r in t])
        rng = np.random.default_rng([seed, zlib.crc32(group.encode())])
        idx = rng.integers(0, len(t), (b.shape[1], len(t)))
        peak = _col(t, "peak_IIA_das")
        s = {label: score(_col(t, col), peak, b, idx) for label, col in PREDICTORS}
        const = s["constant"]
        for label, _ in PREDICTORS:
            x = s[label]
            d = (x["mae"] - const["mae"], *_ci(x["mae_b"] - const["mae_b"]))
            d = d if label != "constant" else ("", "", "")
            rows.append([group, label, x["n"], x["mae"], *_ci(x["mae_b"]), x["exact"], x["rho"], *_ci(x["rho_b"])])
            rows[-1] += [x["p"], *d]
    return rows


def versus(row) -> str:
    """A predictor's SUMMARY_HEADER row against the constant: worse than, better than or not resolved from."""
    if not np.isfinite(row[11]):
        return ""
    return "worse than" if row[12] > 0 else "better than" if row[13] < 0 else "not resolved from"


def numbers(summary, const) -> list[list]:
    """The summary as the page's table: per set and predictor, mean |error|, exact hits, rho, minus the constant."""
    out = [["targets", "predictor", "targets with a peak", "mean |error| (depths)", "exact", "Spearman rho",
            "minus the constant's error"]]  # fmt: skip
    for r in summary:
        name = f"constant {const}" if r[1] == "constant" else r[1]
        minus = tuple(r[11:14]) if r[11] != "" else float("nan")
        out.append([r[0], name, r[2], tuple(r[3:6]), r[6], tuple(r[7:10]), minus])
    return out


def headline(summary, const) -> str:
    """The structural predictor's mean |error| over every target with a peak, against the best constant's."""
    by = {r[1]: r for r in summary if r[0] == "all"}
    s, c = by.get("structural"), by.get("constant")
    if s is None or c is None:
        return "No target has an IIA_das peak, so there is nothing to predict."
    side = versus(s)
    return (
        f"Over {stats.plural(s[2], 'target')} with an IIA_das peak, the structural predictor misses the peak depth by "
        f"{stats.fmt_ci(*s[3:6])} on average ({s[6]} exact), the best constant ({const}) by {stats.fmt_ci(*c[3:6])}"
        + (f": {side} the constant." if side else ".")
    )


def _figure(table, out) -> str:
    fig, ax = plt.subplots(figsize=(5, 4.2))
    k = {n: HEADER.index(n) for n in ("peak_IIA_das", "d_hat", "d_hat_data", "constant")}
    for i, t in enumerate(table):
        pk, lo, hi = t[k["peak_IIA_das"] : k["peak_IIA_das"] + 3]
        marker = "s" if t[1] == "held out" else "o"
        xerr = [[pk - lo], [hi - pk]] if np.isfinite(lo) and np.isfinite(pk) else None
        d = t[k["d_hat"]]
        ax.errorbar(pk, d, xerr=xerr, fmt=marker, color="C0", ms=6, label="structural" if i == 0 else None)
        ax.scatter(pk, t[k["d_hat_data"]], marker=marker, color="C1", s=30, label="data-only" if i == 0 else None)
        ax.annotate(t[0], (pk, d), xytext=(3, 3), textcoords="offset points")
    const = table[0][k["constant"]] if table else float("nan")
    if np.isfinite(const):
        ax.axhline(const, color="grey", ls="--", lw=1, label=f"best constant ({const:g})")
    top = np.nanmax([8.0] + [t[k[c]] for t in table for c in ("d_hat", "d_hat_data")]) + 0.5
    ax.plot([0.5, top], [0.5, top], "k:", lw=1)
    ax.set_xlabel("E2 IIA_das peak depth (bars: 95% seed-bootstrap range)")
    ax.set_ylabel("predicted depth")
    ax.set_title("squares: held-out targets")
    ax.legend()
    return base.save_figure(fig, out, "depth_predictor")


def make(runs, out):
    cache = os.path.join(out, "depth_cache")
    results = e2_depth.study(runs)
    const = best_constant([r["peak"][PEAK] for r in results if r["name"] not in HELD_OUT])
    table = [_row(r, _predict(r, cache), const) for r in results]
    summary = validate(table, {r["name"]: r["boot"][PEAK] for r in results})
    name = base.write_table(out, "depth_predictor", HEADER, table)
    s_name = base.write_table(out, "depth_predictor_summary", SUMMARY_HEADER, summary)
    return base.Section(TITLE, headline(summary, const), [_figure(table, out)], [name, s_name],
                        numbers(summary, const), empty="undefined: no target with a peak, or a constant side")


def main(argv=None) -> None:
    base.analysis_main(__doc__, select, make, argv)


if __name__ == "__main__":
    main()
