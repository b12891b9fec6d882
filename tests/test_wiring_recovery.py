"""Wiring recovery (docs/method.md, "Wiring recovery"): precision and recall of a masked network's wiring against
the target's structure, from the masks alone."""

import jax
import numpy as np
import pytest

from conftest import oracle_masks
from sweetspot import config as config_lib
from sweetspot import mlp, pruning, targets
from sweetspot import wiring_recovery as wr


def _structure(**kw):
    c = config_lib.default_config().target
    for k, v in kw.items():
        c[k] = v
    return targets.make_target(c).structure


def _mixing_net():
    """Tree n = 4, k = 2, L = 2 (nodes 4 = (x0, x1), 5 = (x2, x3), 6 = root), depth 2, width 4, plus a padded
    all-ones slot h2. Layer 1: u0 reads x0, x1; u1 mixes x0, x2; u2 reads x3; u3 reads nothing (dead).
    Layer 2: v0 reads u0, u2; v1 reads u1; v2 reads u3 (empty support: dead); v3 reads u0 but feeds no output
    (dead). Readout: v0, v1, v2."""
    h0 = np.zeros((4, 4), np.float32)
    h0[[0, 1], 0] = h0[[0, 2], 1] = h0[3, 2] = 1
    h1 = np.zeros((4, 4), np.float32)
    h1[[0, 2], 0] = h1[1, 1] = h1[3, 2] = h1[0, 3] = 1
    out = np.array([[1], [1], [1], [0]], np.float32)
    return {"h0": h0, "h1": h1, "h2": np.ones((4, 4), np.float32), "out": out}


def test_hand_built_mixing_network():
    s, m = _structure(levels=2), _mixing_net()
    np.testing.assert_array_equal(wr.live_units(m, 2)[0], [1, 1, 1, 0])
    np.testing.assert_array_equal(wr.live_units(m, 2)[1], [1, 1, 0, 0])
    np.testing.assert_array_equal(wr.unit_supports(m, 2)[1][1], [1, 0, 1, 0])
    r = wr.wiring_recovery(m, 2, s)
    # live edges: h0 x0,x1->u0, x0,x2->u1, x3->u2 (5); h1 u0,u2->v0, u1->v1 (3); out v0, v1 (2).
    # Not allowed: the two edges into the mixing u1 and its edge out to v1 (u1 fits no level-1 node).
    assert (r["live_edges"], r["allowed_edges"]) == (10, 7)
    assert r["precision"] == 0.7
    np.testing.assert_array_equal(r["recall_nodes"], [4, 5])  # the root's support is every input: vacuous
    np.testing.assert_array_equal(r["realised"], [True, False])  # u0 realises (x0, x1); nothing has (x2, x3)
    assert r["recall"] == 0.5
    tables = wr.edge_tables(m, 2, s)
    np.testing.assert_array_equal(tables[0][0] & ~tables[0][1], (np.arange(4)[:, None] % 2 == 0) & (np.arange(4) == 1))


def test_invariant_to_permuting_units_within_layers():
    s, m = _structure(levels=2), _mixing_net()
    p0, p1 = np.array([2, 0, 3, 1]), np.array([3, 1, 0, 2])
    perm = {"h0": m["h0"][:, p0], "h1": m["h1"][p0][:, p1], "h2": m["h2"], "out": m["out"][p1]}
    a, b = wr.wiring_recovery(m, 2, s), wr.wiring_recovery(perm, 2, s)
    assert (a["precision"], a["recall"], a["live_edges"]) == (b["precision"], b["recall"], b["live_edges"])


@pytest.mark.parametrize("width", (8, 16))
def test_dense_masks_score_low_precision_and_no_recall(width):
    s = _structure(levels=2)
    m = {"h0": np.ones((4, width)), "h1": np.ones((width, width)), "out": np.ones((width, 1))}
    r = wr.wiring_recovery(m, 2, s)
    # every layer-1 unit mixes all four inputs: only the readout edges are allowed
    assert r["precision"] == pytest.approx(width / (4 * width + width * width + width))
    assert r["precision"] < 0.1 and r["recall"] == 0.0


@pytest.mark.parametrize(
    "kw",
    [
        {"levels": 3, "permute_leaves": True},
        {"levels": 3, "reuse": True},
        {"family": "modular", "modular_spec": (4, 2, 4)},
        {"family": "modular", "modular_spec": (6, 3, 3, 3)},
        {"family": "boolean", "levels": 2, "n_distractors": 2},
    ],
)
def test_oracle_wiring_has_precision_one_at_every_depth(kw):
    s, width = _structure(**kw), 12
    rng = np.random.default_rng(0)
    for depth in (1, 2, 3, 4):
        allowed = pruning.oracle_allowed(s, width, depth)
        thinned = {k: a * (rng.random(a.shape) < 0.5) for k, a in allowed.items()}  # an oracle subset
        for m in (allowed, thinned):
            r = wr.wiring_recovery(m, depth, s)
            assert r["live_edges"] == 0 or r["precision"] == 1.0, (kw, depth)
        recall = wr.wiring_recovery(allowed, depth, s)["recall"]
        if depth >= s.depth:  # every level has a layer: each non-vacuous node is some block's exact support
            assert recall == 1.0 or np.isnan(recall), (kw, depth)


def test_oracle_method_masks_score_precision_one():
    s = _structure(levels=3, permute_leaves=True)
    table = pruning.oracle_table(s, 16, 3)
    params = mlp.init(jax.random.PRNGKey(0), s.n_inputs, 16, 3)
    m = oracle_masks(jax.random.PRNGKey(1), table, params, 0.5, 3)
    r = wr.wiring_recovery(m, 3, s)
    assert r["precision"] == 1.0 and r["recall"] == 1.0 and r["live_edges"] > 0
    dense = wr.wiring_recovery(mlp.ones_masks(params), 3, s)
    assert dense["precision"] < 0.1


def test_distractor_inputs_are_never_allowed():
    s = _structure(family="boolean", levels=2, n_distractors=1)  # x4 is read by no node
    m = {k: a.copy() for k, a in pruning.oracle_allowed(s, 6, 2).items()}
    m["h0"][4, 0] = 1  # x4 into a unit of the first block
    r = wr.wiring_recovery(m, 2, s)
    assert r["precision"] < 1.0
    assert r["realised"][list(r["recall_nodes"]).index(s.root)] == 0  # the root's support excludes x4


def test_recovery_rows_of_a_saved_run(tmp_path):
    from conftest import tiny_config
    from sweetspot import sweep
    from sweetspot.analysis import recovery

    cfg = tiny_config()
    cfg.grid.method, cfg.grid.depth, cfg.grid.sparsity, cfg.grid.seed = ("oracle", "dense"), (2,), (0.5,), (0, 1)
    cfg.train.steps, cfg.train.eval_every = 2, 1
    sweep.run_sweep(cfg, str(tmp_path / "run"), progress=lambda m: None)
    rows = recovery.recovery_rows(str(tmp_path / "run"))
    assert [r["point"] for r in rows] == [0, 1, 2, 3]
    assert [r["method"] for r in rows] == ["oracle", "oracle", "dense", "dense"]
    assert all(r["precision"] == 1.0 for r in rows[:2])
    w = cfg.model.width
    assert all(r["precision"] == pytest.approx(w / (4 * w + w * w + w)) for r in rows[2:])
    cells = recovery.summarise(rows, by=("method",))
    assert [(c["method"], c["networks"], c["precision_mean"]) for c in cells][0] == ("oracle", 2, 1.0)
    assert "precision_mean" in recovery.format_table(cells)
