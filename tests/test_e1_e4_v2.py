"""E1 (pooled cells, peaks, sweet-spot tests) and E4 (sweet spot chosen on even seeds, measured on odd seeds) on
hand-built rows whose answer is known. No network is trained; each test runs in well under a second or two."""

import copy
import csv
import os

import numpy as np
import pytest

from sweetspot.analysis import base, e1_regime, e4_fractured, stats


def _row(method, depth, sparsity, seed, iia, c, fit=True, test_r2=0.99, diverged=False, das=None, comp=False):
    return {
        "method": method,
        "depth": str(depth),
        "sparsity": str(sparsity),
        "lr": "0.003",
        "weight_decay": "0.0",
        "seed": str(seed),
        "IIA_das": str(iia if das is None else das),
        "IIA": str(iia),
        "C": str(c),
        "C_gain": str(c - 0.1),
        "fit": str(bool(fit)),
        "compositional": str(bool(comp and fit)),
        "compositional_local": "False",
        "fractured": str(bool(fit and not comp)),
        "test_r2": str(test_r2),
        "diverged": str(bool(diverged)),
    }


def _run(rows, instance=0, experiment="e1", path=None, width=32):
    meta = {
        "config": {"experiment": experiment, "target": {"family": "tree", "seed": instance}, "model": {"width": width}}
    }
    return base.Run(path or f"/runs/e1_i{instance}", meta, rows)


# (depth, sparsity) -> (IIA_das mean, IIA mean, C mean, fit). As in the real maps, the dense cells (sparsity 0)
# score ~0 on the local-unit IIA but high on the distributed IIA_das: the IIA_das peak is the dense (2, 0), the
# local IIA peak is (2, 0.8), whose IIA_das is 0.05 lower (the window: best sparse - dense < 0 on IIA_das, > 0 on
# IIA). (3, 0.9) has the highest scores of all but does not fit, so it cannot be a peak.
PLANT = {
    (1, 0.0): (0.30, 0.05, 0.05, True),
    (1, 0.8): (0.40, 0.10, 0.20, True),
    (1, 0.9): (0.35, 0.10, 0.20, True),
    (2, 0.0): (0.85, 0.02, 0.03, True),
    (2, 0.8): (0.80, 0.90, 0.92, True),
    (2, 0.9): (0.60, 0.60, 0.70, True),
    (3, 0.0): (0.70, 0.02, 0.03, True),
    (3, 0.8): (0.50, 0.50, 0.60, True),
    (3, 0.9): (0.99, 0.97, 0.97, False),
}


def _grid(method="sp", plant=PLANT, seeds=range(8), noise=0.02, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    rows = []
    for (d, s), (das, iia, c, fit) in plant.items():
        for seed in seeds:
            e = rng.normal(0, noise, 3)
            rows.append(_row(method, d, s, seed, iia + e[0], c + e[1], fit, das=das + e[2]))
    return rows


def _tests_by(tests):
    return {(t[0], t[1], t[2], t[3]): t for t in tests}


def test_planted_peak_and_sweet_spot_differences():
    runs = [_run(_grid(rng_seed=i), instance=i) for i in range(3)]
    ((name, rows),) = e1_regime.pooled(runs)
    assert name == "e1" and len(rows) == 3 * 9 * 8
    cells = e1_regime.cell_rows(rows)
    assert e1_regime.peak(cells, "sp") == ("sp", 2, 0.0)  # the default: IIA_das; (3, 0.9) is higher but unfit
    assert e1_regime.peak(cells, "sp", "IIA") == ("sp", 2, 0.8)
    assert e1_regime.peak(cells, "sp", fit_share=0.0) == ("sp", 3, 0.9)
    t = _tests_by(e1_regime.sweet_spot_tests(rows))
    # the IIA_das peak (2, 0) against the other cells, on IIA_das
    shallow, deeper = t[("sp", "IIA_das", "IIA_das", "shallowest")], t[("sp", "IIA_das", "IIA_das", "deepest")]
    assert (shallow[5], shallow[6], shallow[7], shallow[8]) == (2, 0.0, 1, 0.0)
    assert shallow[11] == pytest.approx(0.55, abs=0.02) and shallow[16] == "peak higher"
    assert (deeper[7], deeper[8]) == (3, 0.0) and deeper[11] == pytest.approx(0.15, abs=0.02)
    assert 0 < deeper[12] < deeper[11] < deeper[13] and deeper[14] == deeper[15] == 24  # three instances
    assert t[("sp", "IIA_das", "IIA_das", "dense")][16] == "the peak is this cell"  # the peak is dense
    sparse = t[("sp", "IIA_das", "IIA_das", "sparsest")]
    assert (sparse[7], sparse[8]) == (2, 0.9) and sparse[11] == pytest.approx(0.25, abs=0.02)
    # the same IIA_das peak on the local IIA: dense scores ~0 there, so the peak is lower than its neighbours
    assert t[("sp", "IIA_das", "IIA", "sparsest")][16] == "peak lower"
    # the local-unit IIA peak (2, 0.8) beside it, as before
    deeper = t[("sp", "IIA", "IIA", "deepest")]
    assert (deeper[7], deeper[8]) == (3, 0.8) and deeper[11] == pytest.approx(0.4, abs=0.03)
    assert 0 < deeper[12] < deeper[11] < deeper[13] and deeper[16] == "peak higher"
    shallow = t[("sp", "IIA", "C", "shallowest")]
    assert (shallow[7], shallow[8]) == (1, 0.8) and shallow[11] == pytest.approx(0.72, abs=0.03)
    dense, sparse = t[("sp", "IIA", "IIA", "dense")], t[("sp", "IIA", "IIA", "sparsest")]
    assert (dense[7], dense[8], sparse[7], sparse[8]) == (2, 0.0, 2, 0.9)
    assert dense[12] > 0 and sparse[11] == pytest.approx(0.3, abs=0.03) and sparse[12] > 0


def test_the_window_compares_the_best_sparse_cell_with_dense_at_the_iia_das_peak_depth():
    rows = e1_regime.pooled([_run(_grid(rng_seed=i), instance=i) for i in range(3)])[0][1]
    t = _tests_by(e1_regime.sweet_spot_tests(rows))
    das, iia = t[("sp", "IIA_das", "IIA_das", "window")], t[("sp", "IIA_das", "IIA", "window")]
    assert (das[5], das[6], das[7], das[8]) == (2, 0.8, 2, 0.0)  # best sparse at depth 2 by IIA_das: 0.8
    assert das[11] == pytest.approx(-0.05, abs=0.02) and das[13] < 0 and das[16] == "dense higher"
    # the local-unit IIA says the opposite, by construction: dense scores ~0 on it
    assert iia[11] == pytest.approx(0.88, abs=0.03) and iia[12] > 0 and iia[16] == "sparse higher"
    # the sparse cell is chosen on IIA_das among the fit ones: make (2, 0.9) the best sparse cell at depth 2
    plant = dict(PLANT)
    plant[(2, 0.9)] = (0.84, 0.60, 0.70, True)
    plant[(2, 0.5)] = (0.95, 0.60, 0.70, False)  # higher still, but unfit: not the window's sparse cell
    rows = e1_regime.pooled([_run(_grid(plant=plant, noise=0.05))])[0][1]
    das = _tests_by(e1_regime.sweet_spot_tests(rows))[("sp", "IIA_das", "IIA_das", "window")]
    assert (das[5], das[6]) == (2, 0.9) and das[12] < 0 < das[13] and das[16] == "interval covers 0"
    # no dense cell at the peak depth: undefined, and says why
    rows = [r for r in rows if r["sparsity"] != "0.0"]
    t = _tests_by(e1_regime.sweet_spot_tests(rows))
    das = t[("sp", "IIA_das", "IIA_das", "window")]
    assert das[16] == "no dense cell at the peak depth" and np.isnan(das[11])
    # and the "dense" comparison is sparsity 0 only, not the least sparse cell there is
    assert t[("sp", "IIA_das", "IIA_das", "dense")][16] == "no dense cell at the peak depth"


def test_a_difference_that_is_not_there_covers_zero_and_the_peak_itself_is_no_comparison():
    plant = dict(PLANT)
    plant[(3, 0.9)] = (0.2, 0.2, 0.2, True)
    rows = e1_regime.pooled([_run(_grid(plant=plant, noise=0.1))])[0][1]
    same = {(r["depth"], r["sparsity"], r["seed"]): r for r in rows if r["depth"] == "2"}
    for r in rows:  # deeper is as good: the depth-3 cells at sparsity 0 (IIA_das peak) and 0.8 (IIA peak) copy depth 2
        if r["depth"] == "3" and r["sparsity"] in ("0.0", "0.8"):
            r.update({k: same[("2", r["sparsity"], r["seed"])][k] for k in ("IIA_das", "IIA", "C")})
    t = _tests_by(e1_regime.sweet_spot_tests(rows))
    for by in ("IIA_das", "IIA"):
        deeper = t[("sp", by, by, "deepest")]
        assert deeper[12] < 0 < deeper[13] and deeper[16] == "interval covers 0"
    # only one depth: the shallowest and the deepest cell are the peak itself
    one = [r for r in rows if r["depth"] == "2"]
    t = _tests_by(e1_regime.sweet_spot_tests(one))
    assert t[("sp", "IIA_das", "IIA_das", "deepest")][16] == "the peak is this cell"
    assert np.isnan(t[("sp", "IIA_das", "IIA_das", "deepest")][11])
    # nothing fits: no peak, and every comparison says so
    for r in one:
        r["fit"] = "False"
    assert {x[16] for x in e1_regime.sweet_spot_tests(one)} == {"no peak"}


def test_cells_table_pools_instances_and_shows_fit_only_means():
    rows0 = [_row("sp", 2, 0.8, s, 0.9 if s < 4 else 0.1, 0.8, fit=s < 4, das=0.7, comp=s < 2) for s in range(8)]
    rows1 = [_row("sp", 2, 0.8, s, 0.5, 0.4, fit=False, das=0.3) for s in range(7)]
    rows1.append(_row("sp", 2, 0.8, 7, 0.5, 0.4, fit=True, diverged=True, comp=True))  # diverged: unfit, no score
    rows = e1_regime.pooled([_run(rows0, 0), _run(rows1, 1)])[0][1]
    header, table = e1_regime.cells_table(rows)
    (row,) = table
    got = dict(zip(header, row, strict=True))
    assert got["instances"] == 2 and got["networks"] == 16 and got["fit_networks"] == 4
    assert got["fit_mean"] == pytest.approx(4 / 16)
    assert got["IIA_mean"] == pytest.approx((4 * 0.9 + 4 * 0.1 + 7 * 0.5) / 15)  # the diverged one has no IIA
    assert got["IIA_das_mean"] == pytest.approx((8 * 0.7 + 7 * 0.3) / 15)
    assert got["IIA_das_fit_mean"] == pytest.approx(0.7) and got["IIA_das_lo"] <= got["IIA_das_mean"]
    assert got["IIA_fit_mean"] == pytest.approx(0.9) and got["C_fit_mean"] == pytest.approx(0.8)
    assert got["IIA_lo"] <= got["IIA_mean"] <= got["IIA_hi"]
    assert got["compositional_networks"] == 2 and got["compositional_mean"] == pytest.approx(2 / 16)
    assert got["compositional_local_networks"] == 0
    assert np.isnan(got["modular_mean"])  # no row has the column: undefined, not 0


def test_per_instance_peaks_show_where_each_tree_peaks():
    moved = {k: v for k, v in PLANT.items()}
    moved[(2, 0.0)], moved[(3, 0.0)] = PLANT[(3, 0.0)], PLANT[(2, 0.0)]  # instance 1 peaks one layer deeper
    moved[(2, 0.8)], moved[(3, 0.8)] = PLANT[(3, 0.8)], PLANT[(2, 0.8)]
    rows = e1_regime.pooled([_run(_grid(), 0), _run(_grid(plant=moved), 1)])[0][1]
    header, peaks = e1_regime.peaks_table(rows)
    got = {(p[0], p[2]): (p[3], p[4]) for p in peaks}
    assert got[("0", "IIA_das")] == (2, 0.0) and got[("1", "IIA_das")] == (3, 0.0)
    assert got[("0", "IIA")] == (2, 0.8) and got[("1", "IIA")] == (3, 0.8)
    assert got[("0", "IIA_das_ungated")] == got[("0", "IIA_ungated")] == (3, 0.9)
    assert ("all", "IIA_das") in got and ("all", "C") in got
    row = dict(zip(header, next(p for p in peaks if (p[0], p[2]) == ("0", "IIA_das")), strict=True))
    assert row["IIA_das_mean"] == pytest.approx(0.85, abs=0.02) and row["IIA_mean"] == pytest.approx(0.02, abs=0.02)
    assert row["IIA_das_lo"] < row["IIA_das_mean"] < row["IIA_das_hi"]


def test_pooling_groups_by_setting_and_drops_repeated_networks():
    a, b = _run(_grid(), 0), _run(_grid(), 1)
    wide = _run(_grid(), 2, path="/runs/e1_wide", width=64)
    demo = _run(_grid(), 0, experiment="", path="/runs/demo")
    groups = dict(e1_regime.pooled([a, b, a, wide, demo]))
    assert set(groups) == {"e1_e1_i0", "e1_e1_wide", "demo"}
    assert len(groups["e1_e1_i0"]) == 2 * 72  # run a given twice counts once
    assert {r["_instance"] for r in groups["e1_e1_i0"]} == {"0", "1"}
    assert len(groups["demo"]) == 72


def _e4_rows():
    """Three instances; seeds 0-7; nine cells that fit, so the top quartile is the best three: by IIA_das (2, 0),
    (2, 0.8) and (3, 0); by IIA and by C (2, 0.8), (2, 0.9) and (3, 0.8)."""
    plant = dict(PLANT)
    plant[(3, 0.9)] = (0.3, 0.3, 0.3, True)
    return [r for i in range(3) for r in e1_regime.pooled([_run(_grid(plant=plant, rng_seed=i), i)])[0][1]]


SPOT = {
    "IIA_das": {("sp", 2, 0.0), ("sp", 2, 0.8), ("sp", 3, 0.0)},
    "IIA": {("sp", 2, 0.8), ("sp", 2, 0.9), ("sp", 3, 0.8)},
    "C": {("sp", 2, 0.8), ("sp", 2, 0.9), ("sp", 3, 0.8)},
}


def test_e4_selection_reads_only_even_seeds():
    rows = _e4_rows()
    assert e4_fractured.SELECT_BY[0] == "IIA_das"
    for by in e4_fractured.SELECT_BY:
        spot = e4_fractured.sweet_spot(rows, by)
        assert {k for k, v in spot.items() if v[0]} == SPOT[by]
        changed = copy.deepcopy(rows)
        rng = np.random.default_rng(1)
        for r in changed:
            if int(r["seed"]) % 2:  # scramble every odd-seed value the selection could read
                r["IIA_das"], r["IIA"], r["C"] = (str(x) for x in rng.uniform(size=3))
                r["fit"], r["compositional"] = (str(bool(x)) for x in rng.integers(2, size=2))
                r["diverged"] = str(bool(rng.integers(2)))
        assert e4_fractured.sweet_spot(changed, by) == spot
        inside, outside, _ = e4_fractured.split(rows, by)
        assert inside and outside
        assert all(int(r["seed"]) % 2 == 1 for r in inside + outside)
        assert all(r["fit"] == "True" for r in inside + outside)
        assert {e1_regime.cell_key(r) for r in inside} == SPOT[by]
    # and the even seeds do decide it: lower the even seeds of (3, 0) and it drops out of the IIA_das spot
    for r in rows:
        if (r["depth"], r["sparsity"]) == ("3", "0.0") and int(r["seed"]) % 2 == 0:
            r["IIA_das"] = "0.0"
    assert not e4_fractured.sweet_spot(rows, "IIA_das")[("sp", 3, 0.0)][0]
    assert e4_fractured.sweet_spot(rows, "IIA") == e4_fractured.sweet_spot(_e4_rows(), "IIA")  # IIA: unmoved


def test_e4_report_tables(tmp_path):
    runs = [_run(_grid(rng_seed=i), i) for i in range(2)]
    for run in runs:
        for r in run.rows:  # the dense networks are compositional on the distributed label, none on the local one
            r["compositional"] = str(r["sparsity"] == "0.0")
    out = tmp_path / "out"
    out.mkdir()
    section = e4_fractured.make(runs, str(out))
    assert "e1_fractured_tests.csv" in section.tables and "e1_fractured.png" in section.figures
    with open(out / "e1_fractured_tests.csv") as f:
        tests = {(r["selection"], r["measure"]): r for r in csv.DictReader(f)}
    num = lambda r: (float(r["value"]), float(r["lo"]), float(r["hi"]))
    # chosen on IIA_das over the eight fit cells: p75 0.725, so inside (2, 0) and (2, 0.8); outside the other six
    das = num(tests[("IIA_das", "IIA_das inside - outside")])
    assert 0 < das[1] < das[0] < das[2]
    iia = num(tests[("IIA_das", "IIA inside - outside")])  # one of the two inside cells is dense: IIA ~0 there
    assert iia[0] == pytest.approx((0.02 + 0.9) / 2 - (0.05 + 0.1 + 0.1 + 0.6 + 0.02 + 0.5) / 6, abs=0.02)
    comp = num(tests[("IIA_das", "compositional inside - outside")])
    assert comp[0] == pytest.approx(1 / 2 - 2 / 6, abs=1e-3)  # the CSV keeps 4 digits
    # outside and fit as well (every test R^2 is 0.99): the dense (1, 0) and (3, 0) are compositional, 4 of 6 not
    share = num(tests[("IIA_das", "matched outside: share fractured")])
    local = num(tests[("IIA_das", "matched outside: share fractured (local label)")])
    assert share[0] == pytest.approx(4 / 6, abs=1e-3) and local[0] == pytest.approx(1.0)
    assert ("C", "C inside - outside") in tests and ("IIA", "IIA inside - outside") in tests
    assert section.headline.startswith(
        "Of the 48 networks outside the sweet spot that fit as well as those inside, 0.67 ["
    ) and f"; inside minus outside, IIA_das {stats.fmt_ci(*das)}." in section.headline
    col = dict(zip((r[0] for r in section.numbers), (r[1] for r in section.numbers), strict=True))
    assert section.numbers[0][1:] == ["chosen on IIA_das", "chosen on IIA", "chosen on C"]
    assert col["cells inside the sweet spot, of the eligible ones"] == "2 of 8"
    assert col["share of them fractured (distributed label)"][0] == pytest.approx(4 / 6)
    e1 = e1_regime.make(runs, str(out))
    assert "e1_sweet_spot_tests.csv" in e1.tables and "e1_IIA_das.png" in e1.figures
    assert e1.figures.index("e1_IIA_das.png") < e1.figures.index("e1_IIA.png")
    assert os.path.getsize(out / "e1_IIA_das.png") > 1000


def test_e1_verdict_states_the_iia_das_peak_and_window_first(tmp_path):
    runs = [_run(_grid(rng_seed=i), i) for i in range(2)]
    section = e1_regime.make(runs, str(tmp_path))
    with open(tmp_path / "e1_peaks.csv") as f:
        p = next(r for r in csv.DictReader(f) if (r["instance"], r["peak_by"]) == ("all", "IIA_das"))
    with open(tmp_path / "e1_sweet_spot_tests.csv") as f:
        w = next(r for r in csv.DictReader(f) if (r["comparison"], r["metric"]) == ("window", "IIA_das"))
    ci = lambda r, k, lo, hi: stats.fmt_ci(float(r[k]), float(r[lo]), float(r[hi]))
    # the peak is the dense cell at depth 2: the headline gives the best sparse cell there against it
    diff = tuple(-float(w[k]) for k in ("diff", "diff_hi", "diff_lo"))
    assert section.headline == (
        f"sp's sweet spot is depth 2, the dense network: IIA_das {ci(p, 'IIA_das_mean', 'IIA_das_lo', 'IIA_das_hi')}; "
        f"the best sparse cell there (sparsity 0.8) is {stats.fmt_ci(*diff)} below it."
    )
    col = {r[0]: r[1] for r in section.numbers}
    assert col[e1_regime.NUMBER_ROWS[0][0]] == "(2, 0)"
    assert np.isnan(col["peak minus the dense cell, IIA_das"][0])  # the peak is that cell: an empty cell
    window = col["best sparse cell minus dense, IIA_das, at the peak depth"]
    assert stats.fmt_ci(*window) == ci(w, "diff", "diff_lo", "diff_hi")
    assert float(w["diff_hi"]) < 0  # dense is higher on IIA_das


def test_an_untagged_run_without_iia_still_draws(tmp_path):
    """`make demo`'s run: untagged, one group named after its directory; a run from before the causal measures
    (no IIA_das, IIA or compositional_local column) gets the C heatmap and C peaks, and undefined IIA_das and IIA
    rows instead of an error."""
    rows = [{k: v for k, v in r.items() if k not in ("IIA_das", "IIA", "compositional_local")} for r in _grid()]
    section = e1_regime.make([_run(rows, experiment="", path=str(tmp_path / "demo"))], str(tmp_path))
    assert "demo_C.png" in section.figures and "demo_IIA.png" not in section.figures
    assert "demo_IIA_das.png" not in section.figures
    assert section.headline == "sp has no sweet spot: no cell has an IIA_das value."  # cells fit; IIA_das undefined
    _, peaks = e1_regime.peaks_table(e1_regime.pooled([_run(rows)])[0][1])
    got = {(p[0], p[2]): (p[3], p[4]) for p in peaks}
    assert got[("all", "C")] == (2, 0.8) and got[("all", "IIA")] == got[("all", "IIA_das")] == ("", "")
    e4 = e4_fractured.make([_run(rows, experiment="", path=str(tmp_path / "demo"))], str(tmp_path))
    assert e4.headline == "Too few fit cells with an IIA_das value to split inside from outside the sweet spot."
