"""Target families beyond the plain tree: DAG reuse, additive and dense-teacher controls, Boolean gate trees,
compositional sparse parity, and the Boolean training path (BCE, accuracy, multi-output oracle)."""

import itertools

import numpy as np
import pytest

from sweetspot import config, pruning, sweep, targets
from sweetspot.targets import boolean
from sweetspot.validation import validate


def _target(family, **kw):
    c = config.default_config().target
    c.family = family
    for k, v in kw.items():
        c[k] = v
    return targets.make_target(c)


def test_tree_reuse_is_a_dag_with_shared_children():
    t = _target("tree", levels=3, reuse=True)
    s = t.structure
    # level 2: node 12 reads (8, 9) and node 10, node 13 reads (10, 11) and node 8
    assert s.children[12] == (8, 9, 10) and s.children[13] == (10, 11, 8)
    assert set(s.parents(8)) == {12, 13} and set(s.parents(10)) == {12, 13}
    assert s.support[12].tolist() == [True] * 6 + [False] * 2
    plain = _target("tree", levels=3)
    x = np.random.default_rng(0).uniform(-1, 1, (256, 8)).astype(np.float32)
    assert not np.allclose(t(x), plain(x))  # a different function


def test_additive_is_a_sum_of_disjoint_constituents():
    t = _target("additive", levels=3)
    s = t.structure
    assert s.n_inputs == 8 and s.probe_nodes == (8, 9, 10, 11) and s.children[12] == (8, 9, 10, 11)
    x = np.random.default_rng(1).uniform(-1, 1, (512, 8)).astype(np.float32)
    h = np.asarray(t.node_values(x))
    # the root is an affine function of the constituents
    a = np.c_[h[:, 8:12], np.ones(len(x))]
    resid = h[:, 12] - a @ np.linalg.lstsq(a, h[:, 12], rcond=None)[0]
    assert np.abs(resid).max() < 1e-4


def test_dense_teacher_has_no_constituents_and_uses_every_input():
    t = _target("dense_teacher", levels=3)
    assert t.structure.probe_nodes == () and t.structure.support[-1].all()
    x = np.random.default_rng(2).uniform(-1, 1, (4096, 8)).astype(np.float32)
    y = np.asarray(t(x))
    assert abs(y.mean()) < 0.1 and abs(y.std() - 1) < 0.1
    for i in range(8):  # every input matters
        x2 = x.copy()
        x2[:, i] = -x2[:, i]
        assert np.abs(np.asarray(t(x2)) - y).mean() > 1e-3


@pytest.mark.parametrize("gate", sorted(boolean.GATES))
def test_gates_match_their_truth_tables(gate):
    expected = {
        "and": lambda b: all(b),
        "or": lambda b: any(b),
        "nand": lambda b: not all(b),
        "nor": lambda b: not any(b),
        "xor": lambda b: sum(b) % 2 == 1,
        "xnor": lambda b: sum(b) % 2 == 0,
        "maj": lambda b: 2 * sum(b) > len(b),
    }[gate]
    for k in (2, 3):
        rows = np.array(list(itertools.product([-1.0, 1.0], repeat=k)), np.float32)
        got = np.asarray(boolean.GATES[gate](rows))
        want = np.array([1.0 if expected([v > 0 for v in r]) else -1.0 for r in rows])
        np.testing.assert_array_equal(got, want)


def test_boolean_tree_values_and_truth_table_splits():
    t = _target("boolean", levels=2, gates=("xor", "and"))
    x = targets.truth_table(4)
    assert x.shape == (16, 4) and set(np.unique(x)) == {-1.0, 1.0}
    y = np.asarray(t(x))
    bits = x > 0
    want = np.where((bits[:, 0] ^ bits[:, 1]) & (bits[:, 2] ^ bits[:, 3]), 1.0, -1.0)
    np.testing.assert_array_equal(y, want)
    c = config.default_config().target
    c.family, c.levels, c.gates = "boolean", 2, ("xor", "and")
    d = targets.make_splits(t, c)
    # held out: inputs 0 and 2 both true (4 of 16 rows): both level-1 xors true, the sibling region tried first,
    # would leave the and gate constant on the training rows; train = test = the other 12 rows
    assert d["x_train"].shape == (12, 4) and d["x_heldout"].shape == (4, 4)
    np.testing.assert_array_equal(d["x_train"], d["x_test"])
    assert (d["x_heldout"][:, [0, 2]] > 0).all() and not (d["x_train"][:, [0, 2]] > 0).all(1).any()
    assert targets.unidentifiable(t, d["x_train"]) == []


def test_parity_ignores_distractors_and_is_the_parity_of_the_relevant_bits():
    t = _target("parity", levels=2, n_distractors=3)
    s = t.structure
    assert s.n_inputs == 7 and not s.support[-1][4:].any() and s.support[-1][:4].all()
    x = targets.truth_table(7)
    want = np.where((x[:, :4] > 0).sum(1) % 2 == 1, 1.0, -1.0)
    np.testing.assert_array_equal(np.asarray(t(x)), want)
    # the oracle never wires a distractor
    allowed = pruning.oracle_allowed(s, 8, 2)
    assert allowed["h0"][4:].sum() == 0


def test_multi_output_structure_and_oracle_readout():
    # two outputs: o0 = f(x0, x1) at level 1, o1 = g(o0, x2) at level 2
    s = targets.make_structure(3, [(0, 1), (3, 2)], n_outputs=2)
    assert s.outputs == (3, 4) and s.probe_nodes == () and s.depth == 2
    allowed = pruning.oracle_allowed(s, 4, 2)
    # layer 0 hosts the level-1 nodes alive: node 3 (output) and input 2 passed through
    assert allowed["out"].shape == (4, 2)
    assert allowed["out"][:, 1].all()  # o1 reads everything alive (both are its descendants)
    assert 0 < allowed["out"][:, 0].sum() < 4  # o0 reads only its own block
    with pytest.raises(ValueError, match="feed no parent"):
        targets.make_structure(3, [(0, 1), (1, 2), (3, 2)], n_outputs=1)


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("gates", ("xor", "nope"), "target.gates"),
        ("family", "boolan", "target.family"),
        ("input_noise", -1.0, "input_noise"),
    ],
)
def test_bad_family_fields_are_rejected(field, value, match):
    c = config.default_config()
    c.target.family = "boolean"
    c.target[field] = value
    with pytest.raises(config.ConfigError, match=match):
        validate(c)


def test_boolean_sweep_reports_accuracy_and_trains_with_bce(tmp_path, cfg):
    cfg.target.family, cfg.target.levels, cfg.target.gates = "boolean", 2, ("xor", "and")
    cfg.train.steps, cfg.train.eval_every = 600, 100
    cfg.grid.method, cfg.grid.depth, cfg.grid.sparsity, cfg.grid.seed = ("dense",), (2,), (0.0,), (0,)
    validate(cfg)
    _, res = sweep.run_sweep(cfg, str(tmp_path / "run"))
    assert float(res["test_acc"][0]) == 1.0  # 12 rows of a 4-bit function: a dense net fits them
    assert float(res["test_loss"][0]) < 0.1  # BCE, not MSE against +-1 labels
    assert 0.0 <= float(res["heldout_acc"][0]) <= 1.0
