"""E7 SP on judging targets (issue 13; sweeps/sp_judging.py): for every judging target, every method at SP's
selected sparsity: the causal `compositional` fraction (the distributed label) and mean IIA_das (the distributed
score, docs/method.md "Distributed causal score") with 95% bootstrap intervals, the local-unit IIA (with its
interval) and C beside them, the `modular` (wiring) fraction, the old local label's fraction, wiring recovery
precision and recall (docs/method.md, "Wiring recovery") and the fit fraction; SP minus each other method, paired
by seed, on IIA_das, IIA, C, the labels and precision and recall (95% bootstrap intervals); and one verdict per
goal clause, computed from the numbers.

Selection rule (fixed before any measurement was looked at): SP's sparsity is the one with the highest fraction of
compositional SP networks on the selection seeds, ties to the higher fit fraction, then the higher mean IIA, then
the higher mean C, then the lower sparsity. (The first version had no fit step: on judge_tree_perm, where no
selection network was compositional, it picked 0.9, at which none of them fits; the fit step was added then, before
any judge run had finished. docs/results.md, E7.) The rule is kept as fixed (issue 30): its `compositional` is the
results' label, since the distributed score the distributed one, and its IIA the local-unit IIA the protocol
named; the peak stage's depth stays the C peak. The selection seeds are those of the target's `e7select/` run
(seeds 100-103, SP only, at the peak depth); the measurement seeds are those of its `e7/` run (seeds 0-7, every
method), so the selection does not bias the measured numbers. (A judge run with several sparsities and no select
run is split instead: the first third of its sorted seeds select, the rest measure.) Diverged points are left out
(cell statistics).

Goal clauses, per target (docs/results.md, claim 3a): `seeds` (>= 8 measured networks per method); `2x`
(SP's compositional fraction > 0 and >= 2x IMP's and >= 2x magnitude's); `half` (tree-family targets only:
SP's fraction >= 0.5); `iia` (re-judged on the distributed score, issue 30: SP's mean IIA_das >= the oracle's -
0.05; the local-unit IIA's comparison quoted beside, not judged); `wiring` (SP's mean precision and mean
recall >= those of every other pruning method, imp, magnitude and random; the oracle is the reference, not a rival).

    python -m sweetspot report runs/e7_* runs/e7select_* --out report
    python analysis/e7_sp_recovery.py runs/e7_* runs/e7select_* --out report
    python analysis/e7_sp_recovery.py --sparsity runs/e7select_judge_tree_perm     (prints SP's sparsity)
"""

from __future__ import annotations

import os

import numpy as np

from sweetspot.analysis import base, recovery, stats

TITLE = "E7 SP on judging targets"
RIVALS = ("imp", "magnitude", "random")  # the pruning baselines SP must lead on wiring recovery
BASELINES_2X = ("imp", "magnitude")
METHOD_ORDER = ("sp", "imp", "magnitude", "random", "oracle")
METRICS = ("compositional", "IIA_das", "IIA", "C", "fit", "precision", "recall", "modular", "compositional_local")
RESULT_COLUMNS = ("compositional", "IIA_das", "IIA", "C", "fit", "modular", "compositional_local")  # results.csv
CI_KEYS = {"comp_ci": "compositional", "IIA_ci": "IIA", "IIA_das_ci": "IIA_das", "modular_ci": "modular"}
VERSUS = ("IIA_das", "IIA", "C", "compositional", "modular", "precision", "recall")  # SP minus each rival
RANKING = ("compositional", "fit", "IIA", "C")  # SP's sparsity: the max of these, in this order
HEADER = [
    "target", "family", "depth", "sparsity", "method", "n", "frac_compositional", "comp_ci_lo", "comp_ci_hi",
    "IIA_mean", "IIA_ci_lo", "IIA_ci_hi", "C_mean", "precision_mean", "recall_mean", "frac_fit",
    # appended since the distributed score (issue 30)
    "IIA_das_mean", "IIA_das_ci_lo", "IIA_das_ci_hi", "frac_modular", "modular_ci_lo", "modular_ci_hi",
    "frac_compositional_local",
]
SELECTION_HEADER = ["target", "sparsity", "n", "frac_compositional", "frac_fit", "IIA_mean", "C_mean", "selected"]
SELECTION_HEADER += ["IIA_das_mean", "frac_modular"]  # beside the rule's columns, not read by it
VERSUS_HEADER = ["target", "depth", "sparsity", "method", "versus"]
VERSUS_HEADER += [c for k in VERSUS for c in (f"n_{k}", f"d{k}", f"d{k}_lo", f"d{k}_hi")]


def select(runs):
    return [r for r in runs if r.experiment.startswith(("e7/", "e7select/"))]


def target_of(run) -> str:
    return run.experiment.split("/", 1)[1]


def split_seeds(seeds) -> tuple[list[int], list[int]]:
    """(selection seeds, measurement seeds): the first third of the sorted distinct seeds (at least one) select."""
    s = sorted(set(int(x) for x in seeds))
    k = max(1, len(s) // 3)
    return s[:k], s[k:]


def network_rows(run, wiring: bool = True) -> list[dict]:
    """One dict per non-diverged point: method, sparsity, seed and METRICS as floats (precision and recall from the
    saved masks, `recovery.recovery_rows`; NaN when `wiring` is False)."""
    rec = {r["point"]: r for r in recovery.recovery_rows(run.path)} if wiring else {}
    out = []
    for r in run.rows:
        if r.get("diverged") == "True":
            continue
        w = rec.get(int(r["point"]), {"precision": float("nan"), "recall": float("nan")})
        row = {"method": r["method"], "sparsity": float(r["sparsity"]), "seed": int(r["seed"])}
        row |= {k: stats.num(r.get(k, "nan")) for k in RESULT_COLUMNS}
        out.append(row | {"precision": float(w["precision"]), "recall": float(w["recall"])})
    return out


def selected_sparsity(select_run) -> float:
    """SP's sparsity by the module's rule over every seed of an `e7select/` run."""
    rows = network_rows(select_run, wiring=False)
    return select_sparsity(rows, {r["seed"] for r in rows})[0]


def _mean(rows, key) -> float:
    return stats.mean_std([r.get(key, np.nan) for r in rows])[0]


def select_sparsity(rows, seeds) -> tuple[float, list[dict]]:
    """(SP's selected sparsity, per-sparsity scores) over SP's rows with seed in `seeds` (the module's rule:
    max compositional fraction, then fit fraction, then mean IIA, then mean C, then the lower sparsity; NaN ranks
    lowest)."""
    sp = [r for r in rows if r["method"] == "sp" and r["seed"] in set(seeds)]
    scores = []
    for s in sorted({r["sparsity"] for r in sp}):
        cell = [r for r in sp if r["sparsity"] == s]
        scores.append({"sparsity": s, "n": len(cell), **{k: _mean(cell, k) for k in (*RANKING, "IIA_das", "modular")}})
    if not scores:
        raise ValueError("no SP network on the selection seeds: the run has no method 'sp'")
    key = lambda c: tuple(-np.inf if not np.isfinite(c[k]) else c[k] for k in RANKING)
    best = max(scores, key=lambda c: (key(c), -c["sparsity"]))
    return best["sparsity"], scores


def summarise(rows) -> dict:
    """n, the mean of every METRIC, and 95% bootstrap intervals (CI_KEYS) of the compositional and modular
    fractions and the mean IIA_das and IIA."""
    out = {"n": len(rows), **{k: _mean(rows, k) for k in METRICS}}
    return out | {ci: stats.bootstrap_ci([r.get(k, np.nan) for r in rows]) for ci, k in CI_KEYS.items()}


def measure(rows, sparsity, seeds) -> dict[str, dict]:
    """{method: summarise(...)} at `sparsity` over the rows with seed in `seeds`, methods in METHOD_ORDER first."""
    keep = [r for r in rows if r["sparsity"] == sparsity and r["seed"] in set(seeds)]
    methods = sorted({r["method"] for r in keep}, key=lambda m: (METHOD_ORDER + (m,)).index(m))
    return {m: summarise([r for r in keep if r["method"] == m]) for m in methods}


def clauses(cells: dict[str, dict], tree: bool, min_seeds: int = 8) -> dict[str, tuple[bool | None, str]]:
    """{clause: (met, the numbers)} for one target's measured `cells` ({method: summarise}); met is None when
    the clause does not apply (`half` off the tree family) or a method it needs is missing."""
    sp, get = cells.get("sp"), lambda m, k: cells.get(m, {}).get(k, float("nan"))
    if sp is None:
        return {c: (None, "no sp") for c in ("seeds", "2x", "half", "iia", "wiring")}
    f = lambda m: get(m, "compositional")
    out = {"seeds": (min(c["n"] for c in cells.values()) >= min_seeds,
                     "n = " + ", ".join(f"{m} {c['n']}" for m, c in cells.items()))}
    base2 = [m for m in BASELINES_2X if m in cells]
    out["2x"] = (
        (f("sp") > 0 and all(f("sp") >= 2 * f(m) for m in base2)) if len(base2) == len(BASELINES_2X) else None,
        f"sp {f('sp'):.2f} vs " + ", ".join(f"{m} {f(m):.2f}" for m in BASELINES_2X),
    )
    out["half"] = (f("sp") >= 0.5 if tree else None, f"sp {f('sp'):.2f}" + ("" if tree else " (not a tree target)"))
    das, o = get("sp", "IIA_das"), get("oracle", "IIA_das")
    out["iia"] = (bool(das >= o - 0.05) if np.isfinite(o) and np.isfinite(das) else None,
                  f"IIA_das sp {das:.3f} vs oracle {o:.3f}; local IIA sp {get('sp', 'IIA'):.3f} vs oracle "
                  f"{get('oracle', 'IIA'):.3f}")
    rivals = [m for m in RIVALS if m in cells]
    lead = all(sp[k] >= cells[m][k] for m in rivals for k in ("precision", "recall")) if rivals else None
    out["wiring"] = (lead, "; ".join(
        f"{k} sp {sp[k]:.3f} vs " + ", ".join(f"{m} {cells[m][k]:.3f}" for m in rivals) for k in ("precision", "recall")
    ))
    return out


CLAUSES = ("seeds", "2x", "half", "iia", "wiring")


def _tally(per_target: dict[str, dict]) -> tuple[list[tuple[str, int, dict]], bool]:
    """([(clause, targets where it is met, {target: (met, numbers)} where it applies)], whether the goal is met:
    every clause on every target)."""
    out, all_met = [], True
    for c in CLAUSES:
        res = {t: per_target[t][c] for t in per_target if per_target[t][c][0] is not None}
        met = sum(bool(v[0]) for v in res.values())
        all_met &= bool(res) and met == len(res)
        out.append((c, met, res))
    return out, all_met


def verdict_lines(per_target: dict[str, dict]) -> list[str]:
    """One line per goal clause over every target ({target: clauses(...)}): met on k of the n targets where it
    applies, and the numbers; the last line says whether the goal is met (every clause on every target)."""
    lines = []
    tally, all_met = _tally(per_target)
    for c, met, res in tally:
        detail = "; ".join(f"{t}: {'met' if v[0] else 'NOT met'} ({v[1]})" for t, v in res.items())
        word = "met" if res and met == len(res) else "not met"
        lines.append(f"{c}: {word} on {met} of {stats.plural(len(res), 'target')}. {detail}")
    lines.append(f"goal: {'MET' if all_met else 'NOT MET'}")
    return lines


CLAUSE_WORDS = {"seeds": "8+ networks per method", "2x": "2x IMP's and magnitude's compositional share",
                "half": "half compositional (tree targets)", "iia": "IIA_das within 0.05 of the oracle's",
                "wiring": "best wiring recovery"}  # fmt: skip


def headline(per_target: dict[str, dict]) -> str:
    """Whether SP meets the goal and, per clause, on how many of the targets where it applies."""
    if not per_target:
        return "No E7 run to judge: the goal is not met."
    tally, all_met = _tally(per_target)
    verb = "meets" if all_met else "does not meet"
    return (
        f"SP {verb} the goal on {stats.plural(len(per_target), 'judging target')}: "
        + "; ".join(f"{CLAUSE_WORDS[c]} on {met} of {len(res)}" for c, met, res in tally)
        + "."
    )


def _ci(d, m, lo, hi) -> tuple:
    return d[m], d[lo], d[hi]


NUMBERS_HEADER = ["target (depth, SP sparsity)", "method", "networks", "compositional", "IIA_das", "local IIA",
                  "precision", "recall", "fit"]  # fmt: skip


def numbers(table_rows: list[list]) -> list[list]:
    """The goal's table, method by judging target, from the rows of HEADER (e7_sp_recovery.md has it too)."""
    out = [NUMBERS_HEADER]
    for r in table_rows:
        d = dict(zip(HEADER, r, strict=True))
        out.append([f"{d['target']} ({d['depth']}, {d['sparsity']:g})", d["method"], d["n"],
                    _ci(d, "frac_compositional", "comp_ci_lo", "comp_ci_hi"),
                    _ci(d, "IIA_das_mean", "IIA_das_ci_lo", "IIA_das_ci_hi"),
                    _ci(d, "IIA_mean", "IIA_ci_lo", "IIA_ci_hi"),
                    d["precision_mean"], d["recall_mean"], d["frac_fit"]])  # fmt: skip
    return out


def markdown(table_rows: list[list]) -> str:
    """The goal's table as Markdown (numbers' columns)."""
    from sweetspot.analysis import page

    head, *rows = numbers(table_rows)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(page.cell(v) for v in r) + " |" for r in rows])


def versus(rows, sparsity, seeds) -> list[list]:
    """[rival, then per VERSUS key n, difference, 95% low, high]: SP minus each other method at `sparsity` over
    the rows with seed in `seeds`, paired by seed (stats.diff_ci(paired=True); a seed missing or NaN on either
    side drops its pair); methods in measure's order; [] without SP."""
    keep = [r for r in rows if r["sparsity"] == sparsity and r["seed"] in set(seeds)]
    by = lambda m: {r["seed"]: r for r in keep if r["method"] == m}
    sp, out = by("sp"), []
    if not sp:
        return []
    for m in (m for m in measure(rows, sparsity, seeds) if m != "sp"):
        other = by(m)
        keys = sorted(set(sp) | set(other))
        side = lambda d, k, keys=keys: [d[x].get(k, np.nan) if x in d else np.nan for x in keys]
        diffs = [stats.diff_ci(side(sp, k), side(other, k), paired=True) for k in VERSUS]
        out.append([m, *(v for d in diffs for v in (d[3], *d[:3]))])
    return out


def _choose(rows, select_run):
    """(SP's sparsity, selection scores, measurement seeds, note): from the select run when there is one, else by
    splitting the judge run's seeds. The measured sparsity is the selected one when the judge run has it, else the
    judge run's first sparsity, flagged in the note."""
    if select_run is not None:
        sel = network_rows(select_run, wiring=False)
        best, scores = select_sparsity(sel, {r["seed"] for r in sel})
        meas = sorted({r["seed"] for r in rows})
    else:
        sel_seeds, meas = split_seeds(r["seed"] for r in rows)
        best, scores = select_sparsity(rows, sel_seeds)
    have = sorted({r["sparsity"] for r in rows})
    if best in have:
        return best, scores, meas, ""
    return have[0], scores, meas, f"selected {best:g} but the judge run has only {have}: measured at {have[0]:g}"


def analyse(run, select_run=None) -> tuple[list[list], list[list], dict, list[list], str, list[list]]:
    """(goal-table rows, selection rows, clauses, every cell's rows on the measurement seeds, note, SP-versus rows
    at SP's sparsity) of one e7 run and its e7select run (None: split the judge run's seeds)."""
    target, family = target_of(run), run.family
    depth = int(run.rows[0]["depth"])
    rows = network_rows(run)
    best, scores, meas_seeds, note = _choose(rows, select_run)
    cells = measure(rows, best, meas_seeds)
    line = lambda s, m, c: [
        target, family, depth, s, m, c["n"], c["compositional"], *c["comp_ci"], c["IIA"], *c["IIA_ci"], c["C"],
        c["precision"], c["recall"], c["fit"], c["IIA_das"], *c["IIA_das_ci"], c["modular"], *c["modular_ci"],
        c["compositional_local"],
    ]
    goal = [line(best, m, c) for m, c in cells.items()]
    sel = [[target, sc["sparsity"], sc["n"], sc["compositional"], sc["fit"], sc["IIA"], sc["C"], sc["sparsity"] == best,
            sc["IIA_das"], sc["modular"]] for sc in scores]
    every = [
        line(s, m, c) for s in sorted({r["sparsity"] for r in rows}) for m, c in measure(rows, s, meas_seeds).items()
    ]
    vs = [[target, depth, best, "sp", *t] for t in versus(rows, best, meas_seeds)]
    return goal, sel, clauses(cells, tree=family == "tree"), every, note, vs


def make(runs, out) -> base.Section:
    goal, sel, per_target, every, notes, vs = [], [], {}, [], [], []
    selects = {target_of(r): r for r in runs if r.experiment.startswith("e7select/")}
    for run in sorted((r for r in runs if r.experiment.startswith("e7/")), key=lambda r: r.experiment):
        g, s, c, e, note, v = analyse(run, selects.get(target_of(run)))
        goal, sel, every, vs = goal + g, sel + s, every + e, vs + v
        per_target[target_of(run)] = c
        notes += [f"{target_of(run)}: {note}."] if note else []
    tables = [
        base.write_table(out, "e7_sp_recovery", HEADER, goal),
        base.write_table(out, "e7_sp_selection", SELECTION_HEADER, sel),
        base.write_table(out, "e7_all_cells", HEADER, every),
        base.write_table(out, "e7_sp_versus", VERSUS_HEADER, vs),
    ]
    lines = verdict_lines(per_target)
    with open(os.path.join(out, "e7_sp_recovery.md"), "w") as f:
        f.write(markdown(goal) + "\n\n" + "\n".join(f"- {v}" for v in lines) + "\n")
    details = " ".join(notes + lines) + " SP minus each method, paired by seed: e7_sp_versus.csv."
    return base.Section(TITLE, headline(per_target), [], tables, numbers(goal), details=details)


@base.one_line_errors
def main(argv=None) -> None:
    """`RUN_DIR [RUN_DIR ...] --out DIR` (the section), or `--sparsity SELECT_RUN` (SP's selected sparsity)."""
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--sparsity"]:
        for d in argv[1:]:
            print(f"{selected_sparsity(base.load_run(d)):g}")
        return
    base.analysis_main(__doc__, select, make, argv)


if __name__ == "__main__":
    main()
