"""Neural Sculpting module detection (src/sweetspot/sculpting.py) on hand-built masks."""

import types

import numpy as np
import pytest

from sweetspot import sculpting

W = 8


def _two_blocks(pad_slot=None):
    """Depth-2 network: x0,x1 -> units 0-3 -> units 0-3 -> y0,y1; x2,x3 -> units 4-7 -> units 4-7 -> y2,y3."""
    h0 = np.zeros((4, W))
    h0[:2, :4] = h0[2:, 4:] = 1
    h1 = np.zeros((W, W))
    h1[:4, :4] = h1[4:, 4:] = 1
    out = np.zeros((W, 4))
    out[:4, :2] = out[4:, 2:] = 1
    masks = {"h0": h0, "h1": h1, "out": out}
    if pad_slot is not None:
        masks = {"h0": h0, "h1": h1, "h2": pad_slot, "out": out}
    return masks


def _structure_424():
    """Stub of targets.Structure for [4,2,4]: f1(x0,x1), f2(x2,x3); y0,y1 read f1; y2,y3 read f2."""
    children = [(), (), (), (), (0, 1), (2, 3), (4,), (4,), (5,), (5,)]
    return types.SimpleNamespace(
        n_inputs=4, n_outputs=4, outputs=(6, 7, 8, 9), children=children,
        parents=lambda v: tuple(p for p in range(10) if v in children[p]),
    )


def test_two_disjoint_blocks_are_two_modules_and_succeed():
    d = sculpting.detect_modules(_two_blocks(), depth=2, n_inputs=4, n_outputs=4)
    assert len(d["modules"]) == 2
    assert sorted((m["inputs"], m["outputs"]) for m in d["modules"]) == [((0, 1), (0, 1)), ((2, 3), (2, 3))]
    assert all(len(m["units"]) == 2 + 4 + 4 + 2 for m in d["modules"])
    assert d["labels"][1].tolist() == [d["labels"][0][0]] * 4 + [d["labels"][0][2]] * 4
    s = sculpting.success(d, _structure_424())
    assert s["success"] and s["inputs_match"] and s["outputs_match"] and s["score"] == 1.0


def test_dense_network_is_one_module_and_fails():
    dense = {"h0": np.ones((4, W)), "h1": np.ones((W, W)), "out": np.ones((W, 4))}
    d = sculpting.detect_modules(dense, depth=2, n_inputs=4, n_outputs=4)
    assert len(d["modules"]) == 1 and d["n_clusters"] == [1, 1, 1, 4]
    s = sculpting.success(d, _structure_424())
    assert not s["success"] and not s["inputs_match"] and not s["outputs_match"]
    # 6 input pairs + 6 output pairs; only (0,1) and (2,3) on each side agree (same module in both)
    assert s["score"] == pytest.approx(4 / 12)


@pytest.mark.parametrize("pad", [np.zeros((W, W)), np.eye(W)[::-1], np.ones((W, W))])
def test_padded_layers_are_ignored(pad):
    ref = sculpting.detect_modules(_two_blocks(), 2, 4, 4)
    got = sculpting.detect_modules(_two_blocks(pad_slot=pad), 2, 4, 4)
    assert [a.tolist() for a in got["labels"]] == [a.tolist() for a in ref["labels"]]


def test_dead_units_and_disconnected_inputs_are_condensed_away():
    masks = _two_blocks()
    masks["out"][7] = 0  # unit 7 of h1 has no outgoing edge
    masks["h0"][3] = 0  # input 3 reaches nothing
    d = sculpting.detect_modules(masks, 2, 4, 4)
    assert d["labels"][2][7] == -1 and d["labels"][0][3] == -1
    assert not d["alive"][0][3] and d["alive"][0][:3].all()
    s = sculpting.success(d, _structure_424())
    assert not s["success"] and s["outputs_match"] and not s["inputs_match"]


def test_distance_modularity_and_layer_clustering():
    d = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [1, 1, 0, 0], [1, 1, 0, 0]], float)
    assert sculpting.distance_modularity(d, np.array([0, 0, 1, 1])) == pytest.approx(-0.5)
    assert sculpting.distance_modularity(d, np.array([0, 1, 0, 1])) == pytest.approx(0.0)  # no better than chance
    assert sculpting.cluster_layer(np.ones((5, 3), bool)).tolist() == [0] * 5
    assert len(set(sculpting.cluster_layer(np.eye(4, dtype=bool)).tolist())) == 4
    labels = sculpting.cluster_layer(np.array([[1, 1, 0, 0]] * 3 + [[0, 0, 1, 1]] * 3, bool))
    assert len(set(labels[:3])) == len(set(labels[3:])) == 1 and labels[0] != labels[3]


def test_partial_overlap_does_not_merge_across_layers():
    """h1 unit block reading 50/50 from two input modules starts a module of its own (merge threshold 0.9)."""
    h0 = np.zeros((4, W))
    h0[:2, :4] = h0[2:, 4:] = 1
    out = np.ones((W, 1))
    d = sculpting.detect_modules({"h0": h0, "out": out}, 1, 4, 1)
    assert d["labels"][0].tolist() == [0, 0, 1, 1]
    assert d["labels"][1][0] not in (0, 1) and d["labels"][2][0] == d["labels"][1][0]


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="n_inputs"):
        sculpting.detect_modules(_two_blocks(), 2, 5, 4)
    with pytest.raises(ValueError, match="n_outputs"):
        sculpting.detect_modules(_two_blocks(), 2, 4, 3)


def test_e6_table_compares_theirs_on_the_balanced_reading_and_reports_the_diagnostic_apart():
    from sweetspot.analysis import e6_sculpting

    def rows_found(successes):
        rows = [{"point": i, "compositional": float(i < 2), "fit": 1.0, "IIA": 1.0, "C": 0.5, "test_acc": 1.0,
                 "realised_sparsity": 0.9, "IIA_das": 0.5 + 0.1 * i, "compositional_local": 0.0}
                for i in range(len(successes))]
        found = {i: {"success": s, "score": 0.5, "units_alive": 0.2, "inputs_match": 1.0, "outputs_match": float(s),
                     "hidden_module_found": i == 0, "outputs_one_module": i < 2, "shared_last_unit": i % 2 == 0}
                 for i, s in enumerate(successes)}
        return rows, found

    # theirs on [4,1,2,4] at 2 hidden layers is 11/12: 0/4 is outside 0.25, 3/4 within
    bal = e6_sculpting.cell("[4,1,2,4]", "sculpt", 2, *rows_found([0, 0, 0, 0]))
    thr = e6_sculpting.cell("[4,1,2,4]", "sculpt", 2, *rows_found([1, 1, 1, 0]), kind="threshold")
    assert len(bal) == len(thr) == len(e6_sculpting.HEADER)
    assert (bal[23], bal[24], thr[23], thr[24]) == (0, "balanced", 1, "threshold")
    # hidden module 1 of 4; outputs one module 2 of 4, of which 1 with a shared last unit; shared 2 of 4
    assert bal[25:29] == [0.25, 0.5, 0.25, 0.5] and e6_sculpting.HEADER[25:29] == [
        "hidden_module", "outputs_one_module", "merged_by_sharing", "shared_last_unit"]
    # the distributed score and label next to their indicator, the local ones beside: IIA_das 0.5-0.8 (mean 0.65),
    # compositional on networks 0 and 1, the local IIA 1.0 everywhere
    d = dict(zip(e6_sculpting.HEADER, bal, strict=True))
    assert np.isclose(d["IIA_das_mean"], 0.65) and 0.5 <= d["IIA_das_lo"] < 0.65 < d["IIA_das_hi"] <= 0.8
    assert (d["compositional"], d["IIA_mean"], d["compositional_local"]) == (0.5, 1.0, 0.0)
    assert d["compositional_lo"] < 0.5 < d["compositional_hi"] and (d["both"], d["compositional_only"]) == (0, 2)
    assert e6_sculpting.headline([bal, thr]) == (
        "Their published success rate is within 0.25 of ours in 0 of 1 (task, depth) cells; their success indicator "
        "and our compositional label agree on 2 of 4 networks (50%)."
    )
    row = dict(zip(*e6_sculpting.numbers([bal, thr]), strict=True))  # the balanced reading only
    assert row["IIA_das"] == (d["IIA_das_mean"], d["IIA_das_lo"], d["IIA_das_hi"]) and row["within 0.25"] == "no"
    assert row["compositional"][0] == 0.5
    assert "threshold drawn tables: within 0.25 of theirs in 1 of 1 cells" in e6_sculpting.details([bal, thr])


def test_their_depth_dependent_criterion_outputs_together_and_a_hidden_module():
    def module(ins, outs, hidden=()):
        units = {(0, i) for i in ins} | {(3, k) for k in outs} | {(1, u) for u in hidden}
        return {"units": frozenset(units), "inputs": tuple(ins), "outputs": tuple(outs)}

    # inputs in their two task groups, all four outputs in one module (their [8,2,1,2,X] at 2 hidden layers)
    mods = [module((0, 1), (), (0,)), module((2, 3), (), (1,)), module((), (0, 1, 2, 3), (2,))]
    det = {"labels": [np.array([0, 0, 1, 1]), np.zeros(3, int), np.zeros(3, int), np.array([2, 2, 2, 2])],
           "modules": mods}
    s = _structure_424()
    assert not sculpting.success(det, s)["success"]  # the task graph splits the outputs in two
    together = sculpting.success(det, s, outputs_together=True)
    assert together["success"] and together["outputs_match"] and not together["hidden_module_found"]
    assert not sculpting.success(det, s, outputs_together=True, hidden_module=True)["success"]
    det["modules"] = mods + [module((), (), (3, 4))]  # a module of hidden units only
    assert sculpting.success(det, s, outputs_together=True, hidden_module=True)["success"]
    # split outputs fail when their criterion expects one output module
    det["labels"][-1] = np.array([2, 2, 3, 3])
    assert not sculpting.success(det, s, outputs_together=True)["success"]
    assert sculpting.success(det, s)["success"]


def test_e6_applies_their_criterion_by_task_and_depth():
    from sweetspot.analysis import e6_sculpting

    assert e6_sculpting.criterion("[8,2,1,2,4]", 2) == {"outputs_together": True, "hidden_module": False}
    assert e6_sculpting.criterion("[8,2,1,2,16]", 3) == {"outputs_together": False, "hidden_module": True}
    assert e6_sculpting.criterion("[8,2,1,2,8]", 4) == {"outputs_together": False, "hidden_module": True}
    assert e6_sculpting.criterion("[8,2,1,2,8]", 1) == {"outputs_together": False, "hidden_module": False}
    assert e6_sculpting.criterion("[4,1,2,4]", 2) == e6_sculpting.criterion("[4,2,4]", 1) == {}


def test_shares_last_unit_finds_a_unit_feeding_two_output_groups():
    from sweetspot.analysis import e6_sculpting

    masks = _two_blocks()
    s = _structure_424()
    assert not e6_sculpting.shares_last_unit(masks, sculpting.detect_modules(masks, 2, 4, 4), s)
    masks["out"] = masks["out"].copy()
    masks["out"][0, 2] = 1  # unit 0 of the last hidden layer (f1's block) now also feeds y2 (f2's group)
    assert e6_sculpting.shares_last_unit(masks, sculpting.detect_modules(masks, 2, 4, 4), s)
    # the same unit, dead (nothing reaches it from the first hidden layer), is condensed away and does not count
    masks["h1"] = masks["h1"].copy()
    masks["h1"][:, 0] = 0
    assert not e6_sculpting.shares_last_unit(masks, sculpting.detect_modules(masks, 2, 4, 4), s)
