"""Each report section opens with its headline (base.Section.headline): one sentence with the number and interval it
rests on, as the section's numbers table (Section.numbers) and CSVs give it. E2, E3, T0 and E7 (its saved-mask
reader stubbed) are built with make from the hand-made rows of their own tests; E6 needs saved networks, T1's figure
run axes and T2 a volume estimate, so their headline helpers are fed the values those sections compute. Nothing
trains."""

import csv

import numpy as np
import pytest

import test_e2_v2 as e2t
import test_e3_e5_v2 as e3t
import test_sp_recovery as e7t
import test_theory_checks as t1t
from sweetspot.analysis import base, e2_depth, e6_sculpting, page, stats, t0_depth_predictor, t1_sparsity, t2_volume
from sweetspot.analysis import e3_connectivity as e3
from sweetspot.analysis import e7_sp_recovery as e7


def one_line(headline: str) -> str:
    assert headline and "\n" not in headline and len(headline) <= 300, headline
    return headline


def test_e2_headline_names_the_peaks_or_the_trend(tmp_path):
    plant = e2t.make_run("plant", e2t.make_rows(e2t.PLANT_IIA, e2t.PLANT_FIT, e2t.PLANT_C))
    (tmp_path / "one").mkdir()
    section = e2_depth.make([plant], str(tmp_path / "one"), own_depth=lambda r: 3)
    # e2_peaks.csv: peak_IIA_das 4, seed-bootstrap range [4, 6] (the local IIA peaks at 2); e2_falloff.csv:
    # IIA_das_verdict "falls"
    assert one_line(section.headline) == (
        "IIA_das peaks at depth 4 [4, 6] on plant (seed-bootstrap range); it falls beyond the peak on 1 of 1 target."
    )
    row = dict(zip(section.numbers[0], section.numbers[1], strict=True))
    assert row["IIA_das peak depth [seed-bootstrap range]"] == "4 [4, 6]" and row["beyond the peak"] == "falls"
    assert page.cell(row["peak minus deepest depth, IIA_das"]) == "0.40 [0.39, 0.41]"
    assert (row["local IIA peak"], row["C peak"]) == ("2 [2, 8]", "3 [3, 3]")

    runs, own = e2t._trend_runs()
    own_depth = lambda r: 3 if r.experiment == "e2/plant" else own(r)
    section = e2_depth.make(runs + [plant], str(tmp_path), own_depth=own_depth)
    trend = next(
        t for t in csv.DictReader(open(tmp_path / "e2_depth_trend.csv"))
        if (t["quantity"], t["resampled"]) == ("spearman(own_depth, peak_IIA_das)", "seeds")
    )  # fmt: skip
    rho = f"{float(trend['estimate']):.2f} [{float(trend['lo']):.2f}, {float(trend['hi']):.2f}]"
    assert one_line(section.headline) == (
        f"The IIA_das peak depth rises with the target's own depth: Spearman rho {rho} (seeds resampled) over 5 "
        "targets; it falls beyond the peak on 5 of 5 targets."
    )

    iia, _ = e2t.peaked(4)
    none = e2t.make_run("none", e2t.make_rows(iia, {d: 3 for d in iia}))  # 3 of 8 fit everywhere
    (tmp_path / "none").mkdir()
    section = e2_depth.make([none], str(tmp_path / "none"), own_depth=lambda r: 3)
    assert one_line(section.headline) == "No target fits at any depth (1 target), so there is no IIA_das peak."
    assert page.cell(section.numbers[1][4]) == ""  # no peak: an empty cell, which the legend explains
    assert "no depth where half the networks fit" in section.empty


def test_e3_headline_gives_the_best_cell_and_the_shuffled_comparisons(tmp_path):
    run = base.Run("fake", {"config": {"experiment": "e3/fake"}}, e3t._e3_rows())
    section = e3.make([run], str(tmp_path))
    rows = list(csv.DictReader(open(tmp_path / "e3_fake_methods.csv")))
    best = max((r for r in rows if r["method"] == "sp"), key=lambda r: float(r["IIA_das_mean"]))
    ci = stats.fmt_ci(*(float(best[k]) for k in ("IIA_das_mean", "IIA_das_lo", "IIA_das_hi")))
    # sp minus shuffled:sp compared at 0.5 only (0.9: shuffled fits 2 of 8), interval 0.30 [0.30, 0.30] above 0
    assert one_line(section.headline) == (
        f"fake (depth 3): the best cell is sp at sparsity {float(best['sparsity']):g}, IIA_das {ci}; sp is above its "
        "shuffled control at 1 of 1 compared sparsity."
    )
    sp = dict(zip(section.numbers[0], section.numbers[1], strict=True))
    assert sp["method"] == "sp" and sp["IIA_das above its shuffled control"] == "1 of 1"
    want = np.mean([float(r["IIA_das_mean"]) for r in rows[:2]])  # the CSV keeps 4 digits
    assert sp["mean IIA_das over sparsities"] == pytest.approx(want, abs=1e-3)
    assert sp["IIA_das above / below dense"] == ""  # no dense in the run

    run = base.Run("fake", {"config": {"experiment": "e3/fake"}}, e3t._e3_rows(dense=True))
    numbers = e3.make([run], str(tmp_path)).numbers
    dense = {r[1]: r[-1] for r in numbers[1:]}
    assert dense == {"sp": "2 / 0 of 2", "shuffled:sp": "0 / 2 of 2", "random": "0 / 2 of 2", "snip": "2 / 0 of 2",
                     "dense": ""}  # fmt: skip


def _e6_rows(successes):
    rows = [{"point": i, "compositional": 0.0, "fit": 1.0, "IIA": 1.0, "C": 0.5, "test_acc": 1.0,
             "realised_sparsity": 0.9, "IIA_das": 0.7, "compositional_local": 0.0}
            for i in range(len(successes))]  # fmt: skip
    found = {i: {"success": s, "score": 0.5, "units_alive": 0.2, "inputs_match": 1.0, "outputs_match": float(s),
                 "hidden_module_found": i == 0, "outputs_one_module": i < 2, "shared_last_unit": i % 2 == 0}
             for i, s in enumerate(successes)}  # fmt: skip
    return rows, found


def test_e6_headline_compares_their_rate_and_counts_agreement():
    bal = e6_sculpting.cell("[4,1,2,4]", "sculpt", 2, *_e6_rows([0, 0, 0, 0]))
    thr = e6_sculpting.cell("[4,1,2,4]", "sculpt", 2, *_e6_rows([1, 1, 1, 0]), kind="threshold")
    # no network succeeds and none is compositional: the two agree on all 4 ("neither")
    assert one_line(e6_sculpting.headline([bal, thr])) == (
        "Their published success rate is within 0.25 of ours in 0 of 1 (task, depth) cells; their success indicator "
        "and our compositional label agree on 4 of 4 networks (100%)."
    )
    head, row = e6_sculpting.numbers([bal, thr])  # the balanced reading only
    d = dict(zip(head, row, strict=True))
    assert (d["task"], d["networks"], d["within 0.25"], page.cell(d["theirs"])) == ("[4,1,2,4]", 4, "no", "0.92")
    assert page.cell(d["IIA_das"]) == "0.70 [0.70, 0.70]"
    assert e6_sculpting.details([bal, thr]) == (
        "Diagnostic, the same tasks with threshold drawn tables: within 0.25 of theirs in 1 of 1 cells; on those "
        "cells the balanced reading is within in 0."
    )
    assert one_line(e6_sculpting.headline([thr])) == "No network of a balanced-table task to judge."


def test_e7_headline_counts_the_clauses_as_the_lines_do():
    good = {"a": e7.clauses(e7t._cells(), tree=True), "b": e7.clauses(e7t._cells(), tree=False)}
    assert one_line(e7.headline(good)) == (
        "SP meets the goal on 2 judging targets: 8+ networks per method on 2 of 2; 2x IMP's and magnitude's "
        "compositional share on 2 of 2; half compositional (tree targets) on 1 of 1; IIA_das within 0.05 of the "
        "oracle's on 2 of 2; best wiring recovery on 2 of 2."
    )
    bad = good | {"c": e7.clauses(e7t._cells(imp=0.5), tree=True)}
    v = one_line(e7.headline(bad))
    assert v.startswith("SP does not meet the goal on 3 judging targets") and "share on 2 of 3" in v
    assert e7.verdict_lines(bad)[1].startswith("2x: not met on 2 of 3 targets")
    assert one_line(e7.headline({})) == "No E7 run to judge: the goal is not met."


def test_e7_section_opens_with_the_headline(tmp_path, monkeypatch):
    comp = {"sp": lambda s: s % 4 != 0, "imp": lambda s: s % 4 == 0, "magnitude": lambda s: False}
    comp |= {"random": lambda s: False, "oracle": lambda s: True}
    rows = [e7t._row(m, 0.8, s, f(s)) | {"depth": "3"} for m, f in comp.items() for s in range(12)]
    monkeypatch.setattr(e7, "network_rows", lambda run, wiring=True: run.rows)  # no saved masks to read
    run = base.Run("runs/e7_tree", {"config": {"experiment": "e7/tree", "target": {"family": "tree"}}}, rows)
    section = e7.make([run], str(tmp_path))
    # measured on seeds 4-11: sp compositional 6 of 8 (0.75), imp 2 of 8 (0.25): 2x met; only 8 seeds: seeds met
    assert one_line(section.headline).startswith("SP meets the goal on 1 judging target: ")
    assert "2x: met on 1 of 1 target. tree: met (sp 0.75 vs imp 0.25, magnitude 0.00)" in section.details
    assert "iia: met on 1 of 1 target. tree: met (IIA_das sp 0.500 vs oracle 0.500; local IIA" in section.details
    versus = {r["versus"]: r for r in csv.DictReader(open(tmp_path / "e7_sp_versus.csv"))}
    assert (versus["imp"]["dIIA_das"], versus["imp"]["dIIA_das_lo"], versus["imp"]["dIIA_das_hi"]) == ("0", "0", "0")
    by = {r[1]: dict(zip(section.numbers[0], r, strict=True)) for r in section.numbers[1:]}
    assert by["sp"]["target (depth, SP sparsity)"] == "tree (3, 0.8)" and by["sp"]["networks"] == 8
    assert page.cell(by["sp"]["compositional"]).startswith("0.75 [")
    assert page.cell(by["imp"]["compositional"]).startswith("0.25 [")
    assert "e7_sp_versus.csv" in section.tables
    md = open(tmp_path / "e7_sp_recovery.md").read()
    assert md.startswith("| target (depth, SP sparsity) | method | networks |")
    assert "| tree (3, 0.8) | sp | 8 | 0.75 [" in md


def test_t0_headline_gives_the_structural_and_constant_errors(tmp_path, monkeypatch):
    runs, own = e2t._trend_runs()
    monkeypatch.setattr(e2_depth, "target_depth_of", own)
    fake = {"d_hat": 3.0, "d_hat_low": 2.0, "d_hat_high": 4.0, "data_only": {"d_hat": 6, "fit": True}}
    monkeypatch.setattr(t0_depth_predictor, "_predict", lambda res, cache: fake)
    section = t0_depth_predictor.make(runs, str(tmp_path))
    summary = {
        (s["set"], s["predictor"]): s for s in csv.DictReader(open(tmp_path / "depth_predictor_summary.csv"))
    }
    ci = lambda s: stats.fmt_ci(*(float(s[k]) for k in ("mean_abs_error", "mae_lo", "mae_hi")))
    s, c = summary[("all", "structural")], summary[("all", "constant")]
    assert one_line(section.headline).startswith(
        f"Over 4 targets with an IIA_das peak, the structural predictor misses the peak depth by {ci(s)} on average "
        f"({s['exact']} exact), the best constant (3) by {ci(c)}: "
    )
    rows = {(r[0], r[1]): r for r in section.numbers[1:]}
    assert page.cell(rows[("all", "structural")][3]) == ci(s) and ("all", "constant 3") in rows
    assert rows[("held out", "none")][2] == 0  # no held-out target with a peak: a row that says so
    assert one_line(t0_depth_predictor.headline([["all", "none", 0]], None)).startswith("No target has an IIA_das")


def test_t1_headline_gives_the_parameters_to_reach_the_dense_loss():
    sp = [0.0, 0.5, 0.8, 0.9]
    rows = []
    for seed in (0, 1):
        rows += t1t._rows("oracle", [(s, 1000 * (1 - s), 3.0 * (1000 * (1 - s)) ** -1.5) for s in sp])
        rows += t1t._rows("sp", [(s, 1200 * (1 - s), 2.0 * (1200 * (1 - s)) ** -0.5 * (1 + 0.01 * seed)) for s in sp])
        rows += t1t._rows("dense", [(s, 1200, 3e-4 if s == 0 else 99.0) for s in sp])
    runs = [t1t._run(3, rows)]  # make's figure needs a run's axes: the headline is built from its tables' rows
    law, reach = t1_sparsity.power_law_rows(runs), t1_sparsity.reach_rows(runs)
    # oracle reaches the dense loss 3e-4 at 1e4^(2/3) ~ 464 live parameters; SP never does; dense has 1200
    assert one_line(t1_sparsity.headline(reach)) == (
        "Live parameters to reach the dense loss at n = 8: oracle 464; SP not reached; dense has 1,200."
    )
    head, row = t1_sparsity.numbers(law, reach)
    assert row[:4] == [8, "464", "not reached", 1200] and page.cell(row[5]) == "-1.50 [-1.50, -1.50]"
    assert one_line(t1_sparsity.headline([])) == "No dense network, so no dense loss to reach."


def test_t2_headline_gives_the_primary_rank_correlations():
    table = [
        dict(p_comp=p, ratio=r, ratio_per_p=r / 10, p_c08=p, ratio08=r, ratio08_per_p=r / 10, mean_c=c,
             mean_iia_das=1 - c, method="sp", depth=d, n_comp_est=4, n_frac_est=4)
        for d, (p, r, c) in enumerate([(0.1, -3.0, 0.5), (0.3, -1.0, 0.6), (0.6, 0.5, 0.7), (0.9, 2.0, 0.9)])
    ]  # fmt: skip
    corr = t2_volume.correlations(table)
    assert corr["strict"][0] == pytest.approx(1.0)
    want = f"rho = 1.00 (p = {corr['strict'][1]:.2g}, 4 cells)"
    assert one_line(t2_volume.headline(32, corr)).startswith(
        "Over 32 networks, the compositional fraction (IIA_das label) against the log basin-volume ratio of "
        f"compositional to fractured minima, across cells: {want}; "
    )
    numbers = {r[0]: r[1:] for r in t2_volume.numbers(corr)[1:]}
    assert numbers["log V_comp / V_frac vs the cell's mean IIA_das"][0] == pytest.approx(-1.0)  # mean IIA_das falls
    few = t2_volume.correlations(table[:2])
    assert "undefined (2 cells)" in one_line(t2_volume.headline(8, few))
    assert one_line(t2_volume.headline(0, corr)) == "No fit network to estimate, so no volume ratio."
