"""Each report section opens with its one-line result (base.Section.verdict): E2, E3, E6, E7, T0, T1 and T2 build it
from numbers the section already computes, and it holds the key number as the section's table or text gives it.
E2, E3, T0 and E7 (its saved-mask reader stubbed) are built with make from the hand-made rows of their own tests;
E6 needs saved networks, T1's figure run axes and T2 a volume estimate, so their verdict helpers are fed the
values those sections compute. Nothing trains."""

import csv

import numpy as np
import pytest

import test_e2_v2 as e2t
import test_e3_e5_v2 as e3t
import test_sp_recovery as e7t
import test_theory_checks as t1t
from sweetspot.analysis import base, e2_depth, e6_sculpting, stats, t0_depth_predictor, t1_sparsity, t2_volume
from sweetspot.analysis import e3_connectivity as e3
from sweetspot.analysis import e7_sp_recovery as e7


def one_line(verdict: str) -> str:
    assert verdict and "\n" not in verdict and len(verdict) <= 200, verdict
    return verdict


def test_e2_verdict_names_the_peaks_or_the_trend(tmp_path):
    plant = e2t.make_run("plant", e2t.make_rows(e2t.PLANT_IIA, e2t.PLANT_FIT, e2t.PLANT_C))
    (tmp_path / "one").mkdir()
    section = e2_depth.make([plant], str(tmp_path / "one"), own_depth=lambda r: 3)
    v = one_line(section.verdict)
    # e2_peaks.csv: peak_IIA_das 4, seed-bootstrap range [4, 6] (the local IIA peaks at 2); e2_falloff.csv:
    # IIA_das_verdict "falls"
    assert "1 of 1 targets have an IIA_das peak" in v and "plant 4 [4, 6]" in v
    assert "IIA_das falls beyond the peak on 1" in v

    runs, own = e2t._trend_runs()
    own_depth = lambda r: 3 if r.experiment == "e2/plant" else own(r)
    section = e2_depth.make(runs + [plant], str(tmp_path), own_depth=own_depth)
    v = one_line(section.verdict)
    trend = next(
        t for t in csv.DictReader(open(tmp_path / "e2_depth_trend.csv"))
        if (t["quantity"], t["resampled"]) == ("spearman(own_depth, peak_IIA_das)", "seeds")
    )  # fmt: skip
    rho = f"{float(trend['estimate']):.2f} [{float(trend['lo']):.2f}, {float(trend['hi']):.2f}]"
    assert f"5 of 5 targets have an IIA_das peak; Spearman rho(own depth, peak) {rho}" in v
    assert f"{trend['quantity']} = {rho}" in section.text  # the same numbers as the text

    iia, _ = e2t.peaked(4)
    none = e2t.make_run("none", e2t.make_rows(iia, {d: 3 for d in iia}))  # 3 of 8 fit everywhere
    (tmp_path / "none").mkdir()
    section = e2_depth.make([none], str(tmp_path / "none"), own_depth=lambda r: 3)
    assert one_line(section.verdict).startswith("No target fits at any depth (1 targets)")


def test_e3_verdict_gives_the_top_method_and_the_shuffled_comparisons(tmp_path):
    run = base.Run("fake", {"config": {"experiment": "e3/fake"}}, e3t._e3_rows())
    section = e3.make([run], str(tmp_path))
    v = one_line(section.verdict)
    rows = list(csv.DictReader(open(tmp_path / "e3_fake_methods.csv")))
    sp, sp_das = (np.mean([float(r[k]) for r in rows if r["method"] == "sp"]) for k in ("IIA_mean", "IIA_das_mean"))
    assert v.startswith(f"fake (depth 3): top mean IIA_das sp {sp_das:.2f} (local IIA sp {sp:.2f}; C sp ")
    assert f"methods by mean IIA over sparsities: sp {sp:.2f}" in section.text
    assert f"methods by mean IIA_das over sparsities: sp {sp_das:.2f}" in section.text
    # sp minus shuffled:sp compared at 0.5 only (0.9: shuffled fits 2 of 8), interval 0.30 [0.30, 0.30] above 0
    assert "IIA_das above the shuffled control at sp 1/1 compared sparsities" in v
    assert "dense" not in v  # no dense in the run


def _e6_rows(successes):
    rows = [{"point": i, "compositional": 0.0, "fit": 1.0, "IIA": 1.0, "C": 0.5, "test_acc": 1.0,
             "realised_sparsity": 0.9, "IIA_das": 0.7, "compositional_local": 0.0}
            for i in range(len(successes))]  # fmt: skip
    found = {i: {"success": s, "score": 0.5, "units_alive": 0.2, "inputs_match": 1.0, "outputs_match": float(s),
                 "hidden_module_found": i == 0, "outputs_one_module": i < 2, "shared_last_unit": i % 2 == 0}
             for i, s in enumerate(successes)}  # fmt: skip
    return rows, found


def test_e6_verdict_is_the_summary_opening():
    bal = e6_sculpting.cell("[4,1,2,4]", "sculpt", 2, *_e6_rows([0, 0, 0, 0]))
    thr = e6_sculpting.cell("[4,1,2,4]", "sculpt", 2, *_e6_rows([1, 1, 1, 0]), kind="threshold")
    v = one_line(e6_sculpting.verdict([bal, thr]))
    assert v.startswith("Their published rate within 0.25 of ours in 0 of 1 (task, depth) cells")
    # no network succeeds and none is compositional: the two agree on all 4 ("neither")
    assert "over 4 networks success 0.00, compositional 0.00, agreeing on 4 (1.00); mean IIA_das 0.70, local IIA " \
        "1.00, old local label 0.00." in v
    text = e6_sculpting.summary([bal, thr])
    assert "Over 4 networks: success 0.00, compositional 0.00; the two agree on 4 (1.00)" in text
    assert one_line(e6_sculpting.verdict([thr])) == "No network of a balanced-table task to judge."


def test_e7_verdict_counts_the_clauses_as_the_lines_do():
    good = {"a": e7.clauses(e7t._cells(), tree=True), "b": e7.clauses(e7t._cells(), tree=False)}
    assert one_line(e7.verdict_line(good)) == (
        "Goal MET over 2 targets; clauses met on (of applicable): seeds 2/2, 2x 2/2, half 1/1, iia 2/2, wiring 2/2."
    )
    bad = good | {"c": e7.clauses(e7t._cells(imp=0.5), tree=True)}
    v = one_line(e7.verdict_line(bad))
    assert v.startswith("Goal NOT MET over 3 targets") and "2x 2/3" in v
    assert e7.verdict_lines(bad)[1].startswith("2x: not met on 2 of 3 targets")
    assert one_line(e7.verdict_line({})) == "No E7 run to judge: goal not met."


def test_e7_section_opens_with_the_verdict(tmp_path, monkeypatch):
    comp = {"sp": lambda s: s % 4 != 0, "imp": lambda s: s % 4 == 0, "magnitude": lambda s: False}
    comp |= {"random": lambda s: False, "oracle": lambda s: True}
    rows = [e7t._row(m, 0.8, s, f(s)) | {"depth": "3"} for m, f in comp.items() for s in range(12)]
    monkeypatch.setattr(e7, "network_rows", lambda run, wiring=True: run.rows)  # no saved masks to read
    run = base.Run("runs/e7_tree", {"config": {"experiment": "e7/tree", "target": {"family": "tree"}}}, rows)
    section = e7.make([run], str(tmp_path))
    v = one_line(section.verdict)
    # measured on seeds 4-11: sp compositional 6 of 8 (0.75), imp 2 of 8 (0.25): 2x met; only 8 seeds: seeds met
    assert v == (
        "Goal MET over 1 targets; clauses met on (of applicable): seeds 1/1, 2x 1/1, half 1/1, iia 1/1, wiring 1/1."
    )
    assert "2x: met on 1 of 1 targets. tree: met (sp 0.75 vs imp 0.25, magnitude 0.00)" in section.text
    assert "iia: met on 1 of 1 targets. tree: met (IIA_das sp 0.500 vs oracle 0.500; local IIA" in section.text
    assert "tree: SP minus each method, paired by seed, on IIA_das: imp 0.00 [0.00, 0.00]" in section.text
    assert "e7_sp_versus.csv" in section.tables


def test_t0_verdict_gives_the_structural_and_constant_errors(tmp_path, monkeypatch):
    runs, own = e2t._trend_runs()
    monkeypatch.setattr(e2_depth, "target_depth_of", own)
    fake = {"d_hat": 3.0, "d_hat_low": 2.0, "d_hat_high": 4.0, "data_only": {"d_hat": 6, "fit": True}}
    monkeypatch.setattr(t0_depth_predictor, "_predict", lambda res, cache: fake)
    section = t0_depth_predictor.make(runs, str(tmp_path))
    v = one_line(section.verdict)
    summary = {
        (s["set"], s["predictor"]): s for s in csv.DictReader(open(tmp_path / "depth_predictor_summary.csv"))
    }
    ci = lambda s: stats.fmt_ci(*(float(s[k]) for k in ("mean_abs_error", "mae_lo", "mae_hi")))
    s, c = summary[("all", "structural")], summary[("all", "constant")]
    assert f"Over 4 targets with an IIA_das peak: structural mean |error| {ci(s)} ({s['exact']} exact)" in v
    assert f"constant 3: {ci(c)}" in v and "the constant." in v
    assert f"all, structural: mean |error| {ci(s)} over 4 targets" in section.text
    assert one_line(t0_depth_predictor.verdict([["all", "none", 0]], None)).startswith("No target has an IIA_das")


def test_t1_verdict_gives_the_parameters_to_reach_the_dense_loss():
    sp = [0.0, 0.5, 0.8, 0.9]
    rows = []
    for seed in (0, 1):
        rows += t1t._rows("oracle", [(s, 1000 * (1 - s), 3.0 * (1000 * (1 - s)) ** -1.5) for s in sp])
        rows += t1t._rows("sp", [(s, 1200 * (1 - s), 2.0 * (1200 * (1 - s)) ** -0.5 * (1 + 0.01 * seed)) for s in sp])
        rows += t1t._rows("dense", [(s, 1200, 3e-4 if s == 0 else 99.0) for s in sp])
    runs = [t1t._run(3, rows)]  # make's figure needs a run's axes: the verdict is built from its tables' rows
    law, reach = t1_sparsity.power_law_rows(runs), t1_sparsity.reach_rows(runs)
    v = one_line(t1_sparsity.verdict(reach))
    # oracle reaches the dense loss 3e-4 at 1e4^(2/3) ~ 464 live parameters; SP never does; dense has 1200
    assert v == "Live parameters to reach the dense loss at n = 8: oracle 464; SP not reached; dense has 1200."
    assert "oracle n=8: 464; sp n=8: not reached" in t1_sparsity._text(law, reach)
    assert one_line(t1_sparsity.verdict([])) == "No dense network, so no dense loss to reach."


def test_t2_verdict_gives_the_primary_rank_correlations():
    table = [
        dict(p_comp=p, ratio=r, ratio_per_p=r / 10, p_c08=p, ratio08=r, ratio08_per_p=r / 10, mean_c=c,
             mean_iia_das=1 - c, method="sp", depth=d, n_comp_est=4, n_frac_est=4)
        for d, (p, r, c) in enumerate([(0.1, -3.0, 0.5), (0.3, -1.0, 0.6), (0.6, 0.5, 0.7), (0.9, 2.0, 0.9)])
    ]  # fmt: skip
    corr = t2_volume.correlations(table)
    assert corr["strict"][0] == pytest.approx(1.0)
    v = one_line(t2_volume.verdict(32, corr))
    want = f"rho = 1.00 (p = {corr['strict'][1]:.2g}, 4 cells)"
    assert v.startswith(f"Over 32 networks, p_comp (IIA_das label) vs log V_comp/V_frac across cells: {want}; ")
    text = t2_volume._text({}, table, corr, 0.0, 0.0)
    assert f"p_comp vs log V_comp/V_frac: {want}" in text and "distributed causal score IIA_das" in text
    assert corr["meanIIAdas_strict"][0] == pytest.approx(-1.0)  # mean IIA_das falls as the ratio rises here
    assert f"ratio vs cell mean IIA_das: rho = -1.00 (p = {corr['meanIIAdas_strict'][1]:.2g}, 4 cells)" in text
    few = t2_volume.correlations(table[:2])
    assert "undefined (2 cells)" in one_line(t2_volume.verdict(8, few))
    assert one_line(t2_volume.verdict(0, corr)) == "No fit network to estimate, so no volume ratio."
