"""E7 (sweetspot.analysis.e7_sp_recovery): the seed split, SP's sparsity selection and the goal's verdicts on
hand-built tables, no training. The `iia` clause and the SP-versus table read the distributed score IIA_das;
the rows set the local IIA apart from it so that reading the wrong column fails."""

import numpy as np
import pytest

from sweetspot.analysis import e7_sp_recovery as e7
from sweetspot.analysis import stats


def _row(method, sparsity, seed, comp, iia=0.9, c=0.9, fit=1.0, precision=0.8, recall=0.5, das=0.5, mod=0.0):
    return {
        "method": method, "sparsity": sparsity, "seed": seed, "compositional": float(comp), "IIA": iia, "C": c,
        "fit": fit, "precision": precision, "recall": recall, "IIA_das": das, "modular": float(mod),
        "compositional_local": 0.0,
    }


def test_split_seeds_first_third_selects():
    assert e7.split_seeds(range(12)) == ([0, 1, 2, 3], [4, 5, 6, 7, 8, 9, 10, 11])
    assert e7.split_seeds([5, 3, 3, 4]) == ([3], [4, 5])
    assert e7.split_seeds(range(24))[0] == list(range(8))


def test_selection_reads_only_the_selection_seeds():
    # selection seeds 0-3: 0.8 is compositional in 3/4, 0.9 in 1/4; measurement seeds 4-11: 0.9 always, 0.8 never
    rows = [_row("sp", 0.8, s, s < 3) for s in range(4)] + [_row("sp", 0.9, s, s == 0) for s in range(4)]
    rows += [_row("sp", 0.8, s, 0) for s in range(4, 12)] + [_row("sp", 0.9, s, 1) for s in range(4, 12)]
    rows += [_row("imp", 0.9, s, 1) for s in range(12)]  # other methods never choose
    sel, meas = e7.split_seeds(range(12))
    best, scores = e7.select_sparsity(rows, sel)
    assert best == 0.8
    assert [(s["sparsity"], s["n"], s["compositional"]) for s in scores] == [(0.8, 4, 0.75), (0.9, 4, 0.25)]
    cells = e7.measure(rows, best, meas)
    assert list(cells) == ["sp"] and cells["sp"]["n"] == 8 and cells["sp"]["compositional"] == 0.0


def test_selection_ties_go_to_fit_then_iia_then_c_then_the_lower_sparsity():
    rows = [_row("sp", 0.7, s, 0, iia=0.5) for s in range(2)] + [_row("sp", 0.8, s, 0, iia=0.6) for s in range(2)]
    assert e7.select_sparsity(rows, [0, 1])[0] == 0.8
    # no network compositional: a sparsity where they fit beats a higher IIA where none fits (judge_tree_perm)
    rows = [_row("sp", 0.8, s, 0, iia=0.69) for s in range(2)] + [_row("sp", 0.9, s, 0, iia=0.72, fit=0.0) for s in
                                                                   range(2)]
    assert e7.select_sparsity(rows, [0, 1])[0] == 0.8
    rows = [_row("sp", 0.7, s, 0, c=0.7) for s in range(2)] + [_row("sp", 0.8, s, 0, c=0.6) for s in range(2)]
    assert e7.select_sparsity(rows, [0, 1])[0] == 0.7
    rows = [_row("sp", s_, 0, 0, iia=float("nan")) for s_ in (0.9, 0.8)]
    assert e7.select_sparsity(rows, [0])[0] == 0.8  # all tied (NaN IIA ranks equal): the lower sparsity
    with pytest.raises(ValueError, match="sp"):
        e7.select_sparsity([_row("imp", 0.8, 0, 1)], [0])


def _cells(sp=0.75, imp=0.25, mag=0.0, sp_iia=0.9, oracle_iia=0.94, n=8, random_recall=0.5):
    """sp_iia, oracle_iia: IIA_das; the local IIA is IIA_das - 0.5 on sp and IIA_das on the others (so the
    local comparison always fails)."""
    mk = lambda comp, iia, prec, rec: {"n": n, "compositional": comp, "IIA_das": iia, "IIA": iia, "precision": prec,
                                       "recall": rec}  # fmt: skip
    return {
        "sp": mk(sp, sp_iia, 0.8, 0.6) | {"IIA": sp_iia - 0.5},
        "imp": mk(imp, 0.8, 0.7, 0.5),
        "magnitude": mk(mag, 0.7, 0.6, 0.4),
        "random": mk(0.0, 0.3, 0.3, random_recall),
        "oracle": mk(1.0, oracle_iia, 1.0, 1.0),
    }


def test_clauses_met_and_each_failure():
    ok = e7.clauses(_cells(), tree=True)
    assert {k: v[0] for k, v in ok.items()} == {"seeds": True, "2x": True, "half": True, "iia": True, "wiring": True}
    assert e7.clauses(_cells(imp=0.4), tree=True)["2x"][0] is False  # 0.75 < 2 x 0.4
    assert e7.clauses(_cells(sp=0.0, imp=0.0, mag=0.0), tree=True)["2x"][0] is False  # 0 >= 2 x 0 is no win
    assert e7.clauses(_cells(sp=0.4, imp=0.0, mag=0.0), tree=True)["half"][0] is False
    assert e7.clauses(_cells(sp=0.4), tree=False)["half"][0] is None  # not a tree target: does not apply
    assert e7.clauses(_cells(sp_iia=0.88, oracle_iia=0.94), tree=True)["iia"][0] is False  # 0.06 below
    assert e7.clauses(_cells(sp_iia=0.99, oracle_iia=0.94), tree=True)["iia"][0] is True  # above is within
    assert ok["iia"] == (True, "IIA_das sp 0.900 vs oracle 0.940; local IIA sp 0.400 vs oracle 0.940")
    assert e7.clauses(_cells(random_recall=0.61), tree=True)["wiring"][0] is False  # random leads on recall
    assert e7.clauses(_cells(n=7), tree=True)["seeds"][0] is False
    missing = _cells()
    del missing["imp"]
    assert e7.clauses(missing, tree=True)["2x"][0] is None


def test_verdict_needs_every_clause_on_every_target():
    good = {"a": e7.clauses(_cells(), tree=True), "b": e7.clauses(_cells(), tree=False)}
    lines = e7.verdict_lines(good)
    assert lines[-1] == "goal: MET"
    assert lines[2].startswith("half: met on 1 of 1 target")  # b is not a tree target
    bad = good | {"c": e7.clauses(_cells(imp=0.5), tree=True)}
    lines = e7.verdict_lines(bad)
    assert lines[-1] == "goal: NOT MET" and lines[1].startswith("2x: not met on 2 of 3 targets")
    assert "c: NOT met (sp 0.75 vs imp 0.50, magnitude 0.00)" in lines[1]


def test_sp_versus_each_method_is_paired_by_seed_on_iia_das():
    # sp = imp + 0.2 in IIA_das on every seed (a wide per-seed spread), - 0.1 in the local IIA; modular on 3 of 4
    level = [0.1, 0.6, 0.3, 0.8]
    rows = [_row("sp", 0.8, s, 1, iia=level[s] - 0.1, das=level[s] + 0.2, mod=s < 3) for s in range(4)]
    rows += [_row("imp", 0.8, s, 0, iia=level[s], das=level[s]) for s in range(4)]
    rows += [_row("oracle", 0.8, s, 1, das=1.0) for s in (1, 2)]  # two seeds only: two pairs
    rows += [_row("imp", 0.9, s, 0, das=9.0) for s in range(4)]  # another sparsity: never read
    table = {t[0]: dict(zip(e7.VERSUS_HEADER[4:], t, strict=True)) for t in e7.versus(rows, 0.8, range(4))}
    assert list(table) == ["imp", "oracle"]
    imp = table["imp"]
    assert imp["n_IIA_das"] == 4 and np.allclose([imp["dIIA_das"], imp["dIIA_das_lo"], imp["dIIA_das_hi"]], 0.2)
    assert np.allclose([imp["dIIA"], imp["dIIA_hi"]], -0.1) and np.isclose(imp["dmodular"], 0.75)
    assert np.isclose(imp["dcompositional"], 1.0) and imp["dprecision"] == 0
    assert table["oracle"]["n_IIA_das"] == 2 and np.isclose(table["oracle"]["dIIA_das"], (0.8 + 0.5) / 2 - 1.0)
    assert e7.versus([r for r in rows if r["method"] != "sp"], 0.8, range(4)) == []
    cell = e7.summarise([r for r in rows if r["method"] == "sp" and r["sparsity"] == 0.8])
    assert np.isclose(cell["IIA_das"], np.mean(level) + 0.2) and cell["modular"] == 0.75
    assert cell["IIA_das_ci"][0] < cell["IIA_das"] < cell["IIA_das_ci"][1] and cell["modular_ci"][1] == 1.0


def test_bootstrap_interval():
    lo, hi = stats.bootstrap_ci(np.zeros(8))
    assert lo == hi == 0.0
    v = np.array([0, 0, 0, 1, 1, 1, 1, 1, np.nan], float)
    lo, hi = stats.bootstrap_ci(v)
    assert 0.1 < lo < 0.625 < hi <= 1.0
    assert stats.bootstrap_ci(v) == (lo, hi)  # fixed seed
    assert np.isnan(stats.bootstrap_ci([np.nan])[0])
