"""E2 v2 (issue 12; on IIA_das since issue 30) on hand-built rows and run directories whose answers are known: the
IIA_das peak and its seed
bootstrap, the fit gate, pooled target instances, the drop beyond the peak, the own-depth trend, the `--peak`
command line and the depth-predictor validation against the best constant. Reads and writes CSV only: nothing
trains, nothing runs JAX."""

import csv
import json
import os

import numpy as np
import pytest

from sweetspot import results as res_lib
from sweetspot.analysis import base, e2_depth, page, t0_depth_predictor

# A target planted to peak at depth 4: IIA_das rises to 0.9 at depth 4 and falls by 0.1 per layer beyond it; depth
# 1 fits nowhere; depth 6 has the highest IIA_das (0.95) but only 3 of 8 seeds fit there, so the gate excludes it;
# depth 8 fits 3 of 8. C peaks at depth 3. The local-unit IIA is 1 - IIA_das (make_rows' default): it peaks at
# depth 2 among the fit depths (2 and 7 tie at 0.4: the shallowest), so every peak below follows IIA_das, not IIA.
PLANT_IIA = {1: 0.2, 2: 0.6, 3: 0.8, 4: 0.9, 5: 0.8, 6: 0.95, 7: 0.6, 8: 0.5}
PLANT_FIT = {1: 0, 2: 8, 3: 8, 4: 8, 5: 8, 6: 3, 7: 8, 8: 3}
PLANT_C = {1: 0.3, 2: 0.7, 3: 0.95, 4: 0.9, 5: 0.85, 6: 0.85, 7: 0.8, 8: 0.8}


def make_rows(iia, fit, c=None, seeds=8, noise=0.01, sparsity=0.8, comp=None, local=None):
    """One sp row per (depth, seed): IIA_das = iia[d] + a seed offset in [-noise, noise]; the local-unit IIA =
    local[d] (default 1 - iia[d]) + the same offset; the first fit[d] seeds fit; C = c[d] (default iia[d]); the
    first comp[d] seeds (default none) are compositional (and modular)."""
    rows = []
    for d in iia:
        for s in range(seeds):
            off = noise * (2 * s / (seeds - 1) - 1)
            rows.append(
                {
                    "method": "sp",
                    "depth": str(d),
                    "sparsity": str(sparsity),
                    "seed": str(s),
                    "IIA_das": str(iia[d] + off),
                    "IIA": str((local or {}).get(d, 1 - iia[d]) + off),
                    "C": str((c or iia)[d] + off),
                    "C_gain": str(0.5 + off),
                    "IIA_gain": str(0.4 + off),
                    "fit": str(s < fit[d]),
                    "compositional": str(s < (comp or {}).get(d, 0)),
                    "modular": str(s < (comp or {}).get(d, 0)),
                    "diverged": "False",
                }
            )
    return rows


def make_run(name, rows, instance=0, family="tree"):
    meta = {"config": {"experiment": f"e2/{name}", "target": {"family": family, "seed": instance}}}
    return base.Run(f"runs/e2_{name}_i{instance}", meta, rows)


def write_run_dir(path, name, rows, instance=0):
    os.makedirs(path, exist_ok=True)
    meta = {"schema": res_lib.SCHEMA, "status": "complete"}
    meta["config"] = {"experiment": f"e2/{name}", "target": {"family": "tree", "seed": instance}}
    with open(os.path.join(path, "meta.json"), "w") as f:
        json.dump(meta, f)
    with open(os.path.join(path, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return str(path)


def peaked(peak, depths=range(1, 9)):
    """IIA_das 0.9 at `peak`, 0.1 less per layer away from it; every depth fits."""
    return {d: 0.9 - 0.1 * abs(d - peak) for d in depths}, {d: 8 for d in depths}


def test_planted_peak_gate_bootstrap_and_c_peak():
    run = make_run("plant", make_rows(PLANT_IIA, PLANT_FIT, PLANT_C))
    assert e2_depth.peak_depth(run) == 4  # depth 6 has more IIA_das but fails the fit gate
    assert e2_depth.peak_depth(run, "C") == 3 and e2_depth.peak_depth(run, "IIA") == 2
    (res,) = e2_depth.study([run], own_depth=lambda r: 3)
    assert res["peak"] == {"IIA_das": 4, "IIA": 2, "C": 3}
    lo, hi, mode, share = e2_depth.peak_range(res["boot"]["IIA_das"])
    # The gate is resampled too: depth 6 (3 of 8 fit) reaches half its networks fitting in P(Bin(8, 3/8) >= 4)
    # = 0.35 of the resamples, and then its IIA wins; every other resample gives 4.
    assert (lo, hi, mode) == (4, 6, 4) and share == pytest.approx(0.651, abs=0.02)
    assert set(np.unique(res["boot"]["IIA_das"])) == {4.0, 6.0}
    (clean,) = e2_depth.study([make_run("clean", make_rows(*peaked(4)))], own_depth=lambda r: 3)
    assert e2_depth.peak_range(clean["boot"]["IIA_das"]) == (4, 4, 4, 1.0)  # gaps of 0.1, seed noise 0.01
    means = res["means"]
    np.testing.assert_allclose(means[:, e2_depth._M["fit"]], [PLANT_FIT[d] / 8 for d in range(1, 9)])
    np.testing.assert_allclose(means[:, e2_depth._M["IIA_das"]], list(PLANT_IIA.values()), atol=1e-9)
    np.testing.assert_allclose(means[:, e2_depth._M["IIA"]], [1 - v for v in PLANT_IIA.values()], atol=1e-9)


def test_peak_is_none_when_nothing_fits_and_ties_go_shallow():
    iia, _ = peaked(4)
    assert e2_depth.peak_depth(make_run("none", make_rows(iia, {d: 3 for d in iia}))) is None  # 3/8 < half
    flat = {d: 0.5 for d in range(1, 5)}
    assert e2_depth.peak_depth(make_run("flat", make_rows(flat, {d: 8 for d in flat}, noise=0.0))) == 1
    half = make_rows(iia, {d: 4 for d in iia})  # exactly half fit: counts
    assert e2_depth.peak_depth(make_run("half", half)) == 4


def test_diverged_networks_count_as_unfit_and_carry_no_score():
    iia, fit = peaked(4)
    rows = make_rows(iia, fit)
    for r in rows:
        if r["depth"] == "4" and int(r["seed"]) < 5:  # 5 of 8 diverge at the planted peak
            r.update(diverged="True", fit="nan", IIA_das="nan", IIA="nan", C="nan")
    assert e2_depth.peak_depth(make_run("div", rows)) in (3, 5)  # depth 4 now fits 3/8: gated out
    v = e2_depth.network_values([r for r in rows if r["depth"] == "4"])
    assert v[:, e2_depth._M["fit"]].tolist() == [0.0] * 5 + [1.0] * 3
    assert np.isnan(v[:5, e2_depth._M["IIA_das"]]).all()


def test_best_sparsity_is_chosen_on_fit_gated_iia_das():
    iia, fit = peaked(4)
    rows = make_rows(iia, fit, sparsity=0.8)
    rows += make_rows({d: 0.99 for d in iia}, {d: 0 for d in iia}, sparsity=0.5)  # more IIA_das, never fits
    rows += make_rows({d: 0.3 for d in iia}, fit, sparsity=0.9)  # the highest local-unit IIA (0.7)
    assert e2_depth.best_sparsity([make_run("s", rows)]) == 0.8
    assert e2_depth.make_curves(make_run("s", rows)).sparsity == 0.8
    assert e2_depth.best_sparsity([make_run("s", rows)], "IIA") == 0.9


def test_instances_are_pooled_and_reported_one_by_one(tmp_path):
    a, fa = peaked(3)
    b, fb = peaked(5)
    b[5] = 1.2  # instance 1 peaks higher at 5 than instance 0 at 3: the pooled curve peaks at 5
    runs = [make_run("tree_L3", make_rows(a, fa), 0), make_run("tree_L3", make_rows(b, fb), 1)]
    assert e2_depth.peak_depth(runs) == 5
    (res,) = e2_depth.study(runs, own_depth=lambda r: 3)
    assert [(s, an["peak"]["IIA_das"]) for s, _, an in res["instances"]] == [(0, 3), (1, 5)]
    rows = e2_depth._peak_rows(res)
    assert [r[1] for r in rows] == ["pooled", "target.seed=0", "target.seed=1"]
    assert [r[e2_depth.PEAKS_HEADER.index("peak_IIA_das")] for r in rows] == [5, 3, 5]
    assert rows[0][e2_depth.PEAKS_HEADER.index("networks")] == 2 * 8 * 8
    with pytest.raises(ValueError, match="one target"):
        e2_depth.peak_depth([runs[0], make_run("tree_L2", make_rows(a, fa))])


def test_falloff_beyond_the_peak():
    (res,) = e2_depth.study([make_run("plant", make_rows(PLANT_IIA, PLANT_FIT, PLANT_C))], own_depth=lambda r: 3)
    row = dict(zip(e2_depth.FALLOFF_HEADER, e2_depth.falloff(res), strict=True))
    assert (row["peak_IIA_das"], row["deepest"]) == (4, 8)
    assert row["IIA_das_drop"] == pytest.approx(0.4) and row["IIA_das_drop_lo"] > 0.35
    assert row["IIA_drop"] == pytest.approx(-0.4) and row["IIA_drop_hi"] < -0.35  # the local IIA rises there
    assert row["C_drop"] == pytest.approx(0.1) and row["C_drop_lo"] > 0.05
    assert row["fit_drop"] == pytest.approx(5 / 8) and row["fit_deepest"] == pytest.approx(3 / 8)
    assert row["deepest_fits"] is False and row["IIA_das_verdict"] == "falls"
    iia, fit = peaked(8)
    (res,) = e2_depth.study([make_run("deep", make_rows(iia, fit))], own_depth=lambda r: 3)
    assert e2_depth.falloff(res)[-1] == "peak is the deepest depth"
    flat = {d: 0.8 for d in range(1, 9)}
    flat[4] = 0.81  # a peak no bigger than the seed noise: no resolved drop
    (res,) = e2_depth.study([make_run("flat", make_rows(flat, {d: 8 for d in flat}, noise=0.05))], lambda r: 3)
    assert e2_depth.falloff(res)[-1] == "no resolved change"


def _trend_runs():
    own = {"tree_L2": 2, "tree_L3": 3, "tree_L4": 4, "deep5": 5}
    return [make_run(n, make_rows(*peaked(d))) for n, d in own.items()], lambda r: own[r.experiment[3:]]


def test_peak_equal_to_own_depth_gives_rho_one():
    runs, own = _trend_runs()
    results = e2_depth.study(runs, own_depth=own)
    assert [r["peak"]["IIA_das"] for r in results] == [5, 2, 3, 4]  # sorted by experiment name
    rows = {(t[0], t[1]): t for t in e2_depth.depth_trend(results)}
    seeds = rows[("spearman(own_depth, peak_IIA_das)", "seeds")]
    assert seeds[2] == pytest.approx(1.0) and (seeds[3], seeds[4]) == pytest.approx((1.0, 1.0))
    assert seeds[5] == 4 and seeds[8] == 0.0
    both = rows[("spearman(own_depth, peak_IIA_das)", "targets and seeds")]
    assert both[2] == pytest.approx(1.0) and both[3] == pytest.approx(1.0) and 0 < both[8] < 0.2  # ties: undefined
    for (a, b), diff in {("tree_L2", "tree_L3"): 1, ("tree_L3", "tree_L4"): 1, ("tree_L2", "tree_L4"): 2}.items():
        t = rows[(f"peak_IIA_das({b}) - peak_IIA_das({a})", "seeds")]
        assert (t[2], t[3], t[4], t[7]) == (diff, diff, diff, 1.0)


def test_tree_pairs_with_an_absent_target_say_so():
    runs, own = _trend_runs()
    runs = [r for r in runs if r.experiment != "e2/tree_L4"]  # tree_L4 runs only at its :full size
    flat = make_run("tree_L2", make_rows(*peaked(2)))
    results = e2_depth.study(runs, own_depth=own)
    rows = {t[0]: t for t in e2_depth.depth_trend(results)}
    assert rows["peak_IIA_das(tree_L3) - peak_IIA_das(tree_L2)"][1:3] == ["seeds", 1]
    for q in ("peak_IIA_das(tree_L4) - peak_IIA_das(tree_L3)", "peak_IIA_das(tree_L4) - peak_IIA_das(tree_L2)"):
        assert rows[q][1] == "not compared: tree_L4 not run" and np.isnan(rows[q][2])
    nofit = make_run("tree_L3", make_rows(*peaked(3)[:1], {d: 0 for d in range(1, 9)}))
    results = e2_depth.study([flat, nofit], own_depth=lambda r: 2)
    rows = {t[0]: t for t in e2_depth.depth_trend(results)}
    assert rows["peak_IIA_das(tree_L3) - peak_IIA_das(tree_L2)"][1] == "not compared: tree_L3 has no IIA_das peak"
    assert not [t for t in e2_depth.depth_trend(e2_depth.study([make_run("x", make_rows(*peaked(2)))], lambda r: 2))
                if t[0].startswith("peak_")]  # fmt: skip


def test_rank_corr_matches_stats_spearman():
    rng = np.random.default_rng(3)
    a = rng.integers(1, 5, (50, 6)).astype(float)
    b = rng.integers(1, 5, (50, 6)).astype(float)
    a[0, 2] = np.nan
    b[1] = 2.0  # constant: undefined
    from sweetspot.analysis import stats

    want = [stats.spearman(x, y)[0] for x, y in zip(a, b, strict=True)]
    np.testing.assert_allclose(stats.spearman_rows(a, b), want, equal_nan=True)


def test_make_writes_the_tables_and_figure(tmp_path):
    runs, own = _trend_runs()
    runs.append(make_run("plant", make_rows(PLANT_IIA, PLANT_FIT, PLANT_C)))
    section = e2_depth.make(runs, str(tmp_path), own_depth=lambda r: 3 if r.experiment == "e2/plant" else own(r))
    assert section.tables == ["e2_peaks.csv", "e2_falloff.csv", "e2_depth_trend.csv"]
    assert os.path.getsize(tmp_path / "e2_depth_axis.png") > 1000
    peaks = list(csv.DictReader(open(tmp_path / "e2_peaks.csv")))
    assert list(peaks[0]) == e2_depth.PEAKS_HEADER
    plant = next(r for r in peaks if r["target"] == "plant")
    got = [plant[f"peak_IIA_das{s}"] for s in ("", "_lo", "_hi", "_mode")] + [plant["peak_IIA"], plant["peak_C"]]
    assert got == ["4", "4", "6", "4", "2", "3"]
    assert float(plant["peak_IIA_das_mode_share"]) == pytest.approx(0.651, abs=0.02)
    assert float(plant["IIA_das_at_IIA_das_peak"]) == pytest.approx(0.9)
    assert float(plant["IIA_at_IIA_das_peak"]) == pytest.approx(0.1) and float(plant["fit_at_IIA_das_peak"]) == 1.0
    falls = {r["target"]: r for r in csv.DictReader(open(tmp_path / "e2_falloff.csv"))}
    assert falls["plant"]["IIA_das_verdict"] == "falls" and falls["plant"]["deepest_fits"] == "False"
    trend = list(csv.DictReader(open(tmp_path / "e2_depth_trend.csv")))
    want = {f"spearman(own_depth, peak_{m})" for m in ("IIA_das", "IIA", "C")}
    assert {t["quantity"] for t in trend} >= want and trend[0]["quantity"] == "spearman(own_depth, peak_IIA_das)"
    plant = dict(zip(section.numbers[0], next(r for r in section.numbers if r[0] == "plant (3)"), strict=True))
    assert plant["IIA_das peak depth [seed-bootstrap range]"] == "4 [4, 6]"
    assert plant["at the mode"] == pytest.approx(0.651, abs=0.02)
    # the local IIA: 2 and 7 tie at 0.4 (each wins about half the resamples), 8 wins when it fits
    assert (plant["local IIA peak"], plant["C peak"], plant["beyond the peak"]) == ("2 [2, 8]", "3 [3, 3]", "falls")
    assert page.cell(plant["peak minus deepest depth, IIA_das"]) == "0.40 [0.39, 0.41]"
    assert "Not compared" not in section.details  # every tree pair was run


def test_peak_command_line_pools_run_dirs(tmp_path, capsys):
    a, fa = peaked(3)
    b, fb = peaked(5)
    b[5] = 1.2
    d0 = write_run_dir(tmp_path / "e2_tree_L3", "tree_L3", make_rows(a, fa), 0)
    d1 = write_run_dir(tmp_path / "e2_tree_L3_i1", "tree_L3", make_rows(b, fb), 1)
    for dirs, want in (([d0], "3"), ([d0, d1], "5")):
        e2_depth.main(["--peak", *dirs])
        assert capsys.readouterr().out.split()[0] == want
    e2_depth.main(["--peak", d0, "--metric", "IIA"])  # the local IIA (1 - IIA_das) peaks at the deepest depth
    assert capsys.readouterr().out.split()[0] == "8"
    d2 = write_run_dir(tmp_path / "e2_none", "none", make_rows(a, {d: 0 for d in a}))
    e2_depth.main(["--peak", d2])
    assert capsys.readouterr().out.split() == ["3"]  # no depth fits: E3's default depth
    with pytest.raises(SystemExit):
        e2_depth.main(["--peak", d0, d2])  # two targets cannot be pooled


def _table(peaks, preds, held_out=("expr", "modular")):
    """HEADER rows: target i has IIA_das peak peaks[i] (range [peak, peak]), IIA peak 1 (ignored) and structural
    prediction preds[i]."""
    names = [f"t{i}" for i in range(len(peaks) - len(held_out))] + list(held_out)
    const = t0_depth_predictor.best_constant([p for n, p in zip(names, peaks, strict=True) if n not in held_out])
    rows = []
    for n, p, d in zip(names, peaks, preds, strict=True):
        s = "held out" if n in held_out else "main"
        rows.append([n, s, p, p, p, p, 1, p, d, d, d, d + 1, True, const])
    return rows, {n: np.full(1000, float(p)) for n, p in zip(names, peaks, strict=True)}


def test_best_constant():
    assert t0_depth_predictor.best_constant([2, 3, 3, 5]) == 3
    assert t0_depth_predictor.best_constant([2, 4]) == 2  # ties: the smallest
    assert t0_depth_predictor.best_constant([None]) is None


def test_validation_exact_predictor_beats_the_constant():
    peaks = [2, 3, 4, 3, 3, 2, 5, 3]
    table, boot = _table(peaks, peaks)
    rows = t0_depth_predictor.validate(table, boot, n_boot=1000)
    by = {(r[0], r[1]): dict(zip(t0_depth_predictor.SUMMARY_HEADER, r, strict=True)) for r in rows}
    s = by[("all", "structural")]
    assert (s["targets"], s["mean_abs_error"], s["mae_lo"], s["mae_hi"], s["exact"]) == (8, 0, 0, 0, 8)
    assert s["spearman_rho"] == pytest.approx(1.0) and s["rho_lo"] == pytest.approx(1.0)
    c = by[("all", "constant")]
    assert table[0][-1] == 3 and c["mean_abs_error"] == pytest.approx(np.mean(np.abs(np.array(peaks) - 3)))
    assert s["minus_constant"] < 0 and s["minus_constant_hi"] < 0
    assert by[("held out", "structural")]["targets"] == 2 and np.isnan(by[("held out", "structural")]["spearman_rho"])
    assert t0_depth_predictor.versus(next(r for r in rows if r[:2] == ["all", "structural"])) == "better than"


def test_validation_says_when_the_constant_wins():
    peaks = [3, 3, 3, 3, 4, 3, 3, 3]
    table, boot = _table(peaks, [1, 5, 1, 5, 2, 5, 1, 5])  # off by 2 everywhere
    rows = t0_depth_predictor.validate(table, boot, n_boot=1000)
    s = next(r for r in rows if r[:2] == ["all", "structural"])
    h = t0_depth_predictor.SUMMARY_HEADER
    assert s[h.index("mean_abs_error")] == 2 and s[h.index("minus_constant_lo")] > 0
    assert t0_depth_predictor.versus(s) == "worse than"


def test_predictor_section_with_a_stub_predictor(tmp_path, monkeypatch):
    runs, own = _trend_runs()
    monkeypatch.setattr(e2_depth, "target_depth_of", own)
    fake = {"d_hat": 3.0, "d_hat_low": 2.0, "d_hat_high": 4.0, "data_only": {"d_hat": 6, "fit": True}}
    monkeypatch.setattr(t0_depth_predictor, "_predict", lambda res, cache: fake)
    section = t0_depth_predictor.make(runs, str(tmp_path))
    table = list(csv.DictReader(open(tmp_path / "depth_predictor.csv")))
    assert [(t["target"], t["peak_IIA_das"], t["constant"]) for t in table] == [
        ("deep5", "5", "3"), ("tree_L2", "2", "3"), ("tree_L3", "3", "3"), ("tree_L4", "4", "3"),
    ]  # fmt: skip
    assert [t["peak_IIA"] for t in table] == ["1", "8", "8", "8"]  # beside it: 1 - IIA_das, farthest from its peak
    summary = list(csv.DictReader(open(tmp_path / "depth_predictor_summary.csv")))
    assert [(s["set"], s["predictor"]) for s in summary] == [
        ("main", "structural"), ("main", "data-only"), ("main", "constant"), ("held out", "none"),
        ("all", "structural"), ("all", "data-only"), ("all", "constant"),
    ]  # fmt: skip
    assert float(summary[0]["mean_abs_error"]) == pytest.approx(1.0)  # |3 - (5, 2, 3, 4)|
    assert next(r for r in section.numbers if r[0] == "held out")[1:3] == ["none", 0]  # no held-out target with a peak
    assert os.path.getsize(tmp_path / "depth_predictor.png") > 1000
