import numpy as np
import pytest

from sweetspot import config as config_lib
from sweetspot import targets
from sweetspot.validation import validate


def _tree(levels=3, arity=2, **kw):
    c = config_lib.default_config().target
    c.levels, c.arity = levels, arity
    for k, v in kw.items():
        c[k] = v
    return targets.make_target(c)


def test_tree_structure_binary():
    t = _tree(levels=3)
    s = t.structure
    assert s.n_inputs == 8 and s.n_nodes == 8 + 4 + 2 + 1
    assert s.children[8] == (0, 1) and s.children[12] == (8, 9) and s.children[14] == (12, 13)
    assert s.support[12].tolist() == [True] * 4 + [False] * 4
    assert s.support[s.root].all()
    assert [s.level[v] for v in s.internal] == [1, 1, 1, 1, 2, 2, 3]
    assert s.probe_nodes == tuple(range(8, 14))


def test_tree_nodes_normalised_and_depend_only_on_support():
    t = _tree(levels=3)
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, (20000, 8)).astype(np.float32)
    h = np.asarray(t.node_values(x))
    internal = h[:, 8:]
    np.testing.assert_allclose(internal.mean(0), 0, atol=0.05)
    np.testing.assert_allclose(internal.std(0), 1, atol=0.05)
    # changing inputs outside a node's support leaves it unchanged
    x2 = x.copy()
    x2[:, 4:] = rng.uniform(-1, 1, (20000, 4))
    h2 = np.asarray(t.node_values(x2))
    np.testing.assert_allclose(h2[:, [8, 9, 12]], h[:, [8, 9, 12]], atol=1e-6)
    assert np.abs(h2[:, 13] - h[:, 13]).max() > 0.1


def test_tree_arity3_and_permuted_leaves():
    t = _tree(levels=2, arity=3, permute_leaves=True)
    assert t.structure.n_inputs == 9 and len(t.structure.internal) == 4
    assert t.input_perm is not None and sorted(t.input_perm.tolist()) == list(range(9))


def test_tree_is_deterministic_in_seed():
    x = np.random.default_rng(0).uniform(-1, 1, (64, 8)).astype(np.float32)
    np.testing.assert_array_equal(_tree(seed=3)(x), _tree(seed=3)(x))
    assert np.abs(np.asarray(_tree(seed=3)(x)) - np.asarray(_tree(seed=4)(x))).max() > 0.1


def test_splits_exclude_the_heldout_combination(cfg):
    t = targets.make_target(cfg.target)
    d = targets.make_splits(t, cfg.target)
    a, b = targets.heldout_pair(t.structure)
    q = cfg.target.heldout_q
    for split, inside in (("train", False), ("test", False), ("heldout", True)):
        h = np.asarray(t.node_values(d[f"x_{split}"]))
        joint = (h[:, a] > q) & (h[:, b] > q)
        assert joint.all() if inside else not joint.any()
        assert d[f"x_{split}"].dtype == np.float32
    h = np.asarray(t.node_values(d["x_train"]))
    assert ((h[:, a] > q) & (h[:, b] <= q)).any() and ((h[:, b] > q) & (h[:, a] <= q)).any()


def test_unknown_family_is_a_clear_error(cfg):
    cfg.target.family = "nope"
    with pytest.raises(ValueError, match="target.family.*allowed"):
        targets.make_target(cfg.target)


def test_make_structure_rejects_non_topological():
    with pytest.raises(ValueError, match="topological"):
        targets.make_structure(2, [(0, 3), (2, 1)])


def test_permuted_leaves_support_is_over_inputs():
    t = _tree(levels=2, arity=2, permute_leaves=True)
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (512, 4)).astype(np.float32)
    h = np.asarray(t.node_values(x))
    for v in t.structure.internal:
        outside = ~t.structure.support[v]
        x2 = x.copy()
        x2[:, outside] = rng.uniform(-1, 1, (512, int(outside.sum())))
        np.testing.assert_allclose(np.asarray(t.node_values(x2))[:, v], h[:, v], atol=1e-6)


def test_expr_family_registered_and_validated(cfg):
    cfg.target.family = "expr"
    t = targets.make_target(cfg.target)
    assert t.structure.n_inputs == 4 and len(t.structure.probe_nodes) == 2
    cfg.target.expr = "sum(absdiff(x0, x1), nosuch(x2))"
    with pytest.raises(config_lib.ConfigError, match="target.expr.*nosuch"):
        validate(cfg)


# ------------------------------------------------------------------ held-out regions of Boolean targets
def _bits_target(family, **fields):
    c = config_lib.default_config().target
    c.family = family
    for k, v in fields.items():
        c[k] = v
    return targets.make_target(c), c


@pytest.mark.parametrize(
    "family, fields",
    [
        ("boolean", {}),
        ("parity", {}),
        ("modular", {}),
        ("boolean", {"gates": ("and", "or")}),
        ("boolean", {"levels": 2}),
    ],
)
def test_bits_training_rows_leave_every_node_identifiable(family, fields):
    t, c = _bits_target(family, **fields)
    split = targets.make_splits(t, c)
    assert targets.unidentifiable(t, split["x_train"]) == []
    assert 0 < len(split["x_heldout"]) < len(split["x_train"])  # a region is still held out


def test_sibling_region_of_the_xor_and_tree_switches_a_gate_off():
    """The region the split used before (nodes 8 and 9 both true) is exactly {node 12 true}: on the training
    rows node 12 is constant and the root ignores x0-x3. It is refused; the split moves to a region that keeps
    every gate's table."""
    t, c = _bits_target("boolean")
    rows = targets.core.truth_table(t.structure.n_inputs)
    h = np.asarray(t.node_values(rows))
    problems = targets.unidentifiable(t, rows[~((h[:, 8] > 0) & (h[:, 9] > 0))])
    assert "node 12 is constant on the training rows" in problems
    assert targets.heldout_region(t, c.heldout_q) != (8, 9)


def test_a_target_with_no_identifiable_region_is_refused_by_name():
    t, c = _bits_target("boolean", levels=1)  # one gate: every region removes a row of its table
    with pytest.raises(ValueError, match=r"target\.heldout_q=0\.5.*heldout_q >= 1"):
        targets.make_splits(t, c)
    c.heldout_q = 2.0
    assert len(targets.make_splits(t, c)["x_train"]) == 2 ** t.structure.n_inputs
