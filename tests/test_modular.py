"""Modular Boolean targets in the Neural Sculpting format (src/sweetspot/modular.py)."""

import numpy as np
import pytest

from sweetspot import config as config_lib
from sweetspot import sculpting, targets
from sweetspot.targets import modular


def _cfg(spec, seed=0):
    c = config_lib.default_config().target
    c.family, c.modular_spec, c.seed = "modular", tuple(spec), seed
    return c


def _depends_on_all(table):
    k = int(np.log2(len(table)))
    rows = np.arange(2**k)
    return all(np.any(table != table[rows ^ (1 << (k - 1 - j))]) for j in range(k))


def test_truth_table_rows():
    t = targets.truth_table(2)
    assert t.dtype == np.float32 and t.tolist() == [[-1, -1], [-1, 1], [1, -1], [1, 1]]
    assert targets.truth_table(4).shape == (16, 4)


def test_424_is_xor_xnor_pairs_by_hand():
    t = targets.make_target(_cfg((4, 2, 4)))
    assert t.domain == "bits" and t.binary and t.structure.n_outputs == 4
    y = np.asarray(t(targets.truth_table(4)))
    assert y.shape == (16, 4)
    xor01 = [-1] * 4 + [1] * 4 + [1] * 4 + [-1] * 4  # x0 x1 = bits 3, 2 of the row index
    xor23 = [-1, 1, 1, -1] * 4  # x2 x3 = bits 1, 0
    assert y[:, 0].tolist() == xor01 and y[:, 1].tolist() == [-v for v in xor01]
    assert y[:, 2].tolist() == xor23 and y[:, 3].tolist() == [-v for v in xor23]
    s = t.structure
    assert s.children[4:] == ((0, 1), (2, 3), (4,), (4,), (5,), (5,))
    assert s.probe_nodes == (4, 5) and s.outputs == (6, 7, 8, 9)
    assert s.support[6].tolist() == [True, True, False, False] and s.support[9].tolist() == [False, False, True, True]


def test_6333_by_hand():
    """f_i = AND of input pair i, g_j = f_j OR f_{j+1} (mod 3), y_j = g_j: each output depends on two input pairs,
    as in their pruned networks."""
    x = targets.truth_table(6)
    t = targets.make_target(_cfg((6, 3, 3, 3), seed=3))
    h = np.asarray(t.node_values(x))
    b = x > 0
    f = [b[:, 2 * i] & b[:, 2 * i + 1] for i in range(3)]
    for i in range(3):
        np.testing.assert_array_equal(h[:, 6 + i], np.where(f[i], 1.0, -1.0))
    s, _, _ = modular.build((6, 3, 3, 3), seed=3)
    assert s.children[9:] == ((6, 7), (7, 8), (6, 8), (9,), (10,), (11,))
    y = np.asarray(t(x))
    for j, (a, c) in enumerate(((0, 1), (1, 2), (0, 2))):
        np.testing.assert_array_equal(y[:, j], np.where(f[a] | f[c], 1.0, -1.0))
        assert s.support[12 + j].sum() == 4  # two input pairs
    assert (y > 0).mean() == 7 / 16


def test_414_reuses_one_subfunction_and_41216_two():
    x = targets.truth_table(4)
    h4 = np.asarray(targets.make_target(_cfg((4, 1, 4))).node_values(x))
    sub = h4[:, 4]
    assert sub.sum() == 0 and _depends_on_all(sub)
    np.testing.assert_array_equal(h4[:, 5:], np.stack([sub, -sub, sub, -sub], 1))
    t = targets.make_target(_cfg((4, 1, 2, 16)))
    h = np.asarray(t.node_values(x))
    g1, g2 = h[:, 6], h[:, 7]  # the "2" level: two different functions of the one 4-input module (4, 5)
    for g in (g1, g2):
        assert g.sum() == 0 and _depends_on_all(g)
    assert not np.array_equal(g1, g2) and not np.array_equal(g1, -g2)
    signs = np.array([1, -1] * 8)  # odd-ranked readers negate
    np.testing.assert_array_equal(
        np.asarray(t(x)), np.concatenate([g1[:, None] * signs[None, :8], g2[:, None] * signs[None, 8:]], 1)
    )


def test_seed_draws_tables_reproducibly():
    x = targets.truth_table(4)
    a = np.asarray(targets.make_target(_cfg((4, 1, 4), seed=0))(x))
    b = np.asarray(targets.make_target(_cfg((4, 1, 4), seed=0))(x))
    others = [np.asarray(targets.make_target(_cfg((4, 1, 4), seed=s))(x)) for s in (1, 2, 3)]
    np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, o) for o in others)


def test_tasks_validate():
    assert set(modular.EXEMPLARS.values()) == {"[4,2,4]", "[4,1,4]", "[4,1,2,16]", "[6,3,3,3]"}
    assert set(modular.TASKS) == {*modular.EXEMPLARS.values(), *modular.REUSE_SERIES, *modular.HIERARCHY_SERIES}
    assert len(modular.TASKS) == 13  # [4,1,2,16] is both an exemplar and in the reuse series
    for spec in modular.TASKS.values():
        assert modular.validate_spec(list(spec)) == spec


@pytest.mark.parametrize(
    "spec", [(4, 3, 4), (4,), (4, 4), (4, 0, 2), "abc", 7, (1, 1, 1), (4, 2.5, 4), (True, 1, 1), (12, 1, 1)]
)
def test_bad_spec_raises(spec):
    with pytest.raises(ValueError, match="target.modular_spec"):
        modular.validate_spec(spec)


def test_ideal_wiring_of_each_task_is_detected():
    """A network wired exactly like the task graph (one hidden layer per sub-function level) succeeds."""
    for spec in modular.TASKS.values():
        s, _, _ = modular.build(spec)
        w = modular.widths(spec)
        masks = {}
        for l, level in enumerate(modular.wiring(spec)):
            m = np.zeros((w[l], w[l + 1]))
            for j, kids in enumerate(level):
                m[list(kids), j] = 1
            masks["out" if l == len(spec) - 2 else f"h{l}"] = m
        d = sculpting.detect_modules(masks, len(spec) - 2, spec[0], spec[-1])
        res = sculpting.success(d, s)
        assert res["success"], (spec, res)
        assert sum(w) == s.n_nodes


def test_modules_read_by_an_internal_fan_out_emit_one_bit_per_reader():
    assert modular.widths((4, 1, 2, 16)) == (4, 2, 2, 16)
    assert modular.widths((8, 2, 1, 2, 8)) == (8, 2, 2, 2, 8)
    assert modular.widths((4, 1, 4)) == (4, 1, 4) and modular.widths((4, 2, 4)) == (4, 2, 4)  # output fan-outs copy
    assert modular.wiring((4, 1, 2, 4)) == [[(0, 1, 2, 3)] * 2, [(0,), (1,)], [(0,), (0,), (1,), (1,)]]
    with pytest.raises(ValueError, match="target.modular_spec.*4 different gates of 2 children"):
        modular.validate_spec((4, 2, 1, 4, 4))  # a 2-input module with 4 bits: only XOR, AND, OR are defined


@pytest.mark.parametrize("x_out", [2, 4, 8, 12, 16])
def test_reuse_series_uses_each_subfunction_x_over_2_times(x_out):
    """Their [4,1,2,X]: one non-separable 4-input module with two bits T1, T2 (different functions), the two
    intermediate nodes g1 = T1, g2 = T2, each read by X/2 outputs (their figure's "number of times used" 1, 2, 4,
    6, 8)."""
    x = targets.truth_table(4)
    t = targets.make_target(_cfg((4, 1, 2, x_out)))
    s, h = t.structure, np.asarray(t.node_values(x))
    assert s.children[4] == s.children[5] == (0, 1, 2, 3) and s.children[6:8] == ((4,), (5,))
    assert _depends_on_all(h[:, 4]) and _depends_on_all(h[:, 5])
    assert not np.array_equal(h[:, 4], h[:, 5]) and not np.array_equal(h[:, 4], -h[:, 5])
    np.testing.assert_array_equal(h[:, 6:8], h[:, 4:6])
    readers = [s.children[v] for v in s.outputs]
    assert readers.count((6,)) == readers.count((7,)) == x_out // 2
    y = np.asarray(t(x))
    for j, (kid,) in enumerate(readers):  # each output is its intermediate node or its negation
        assert np.array_equal(y[:, j], h[:, kid]) or np.array_equal(y[:, j], -h[:, kid])


@pytest.mark.parametrize("x_out", [2, 4, 8, 12, 16])
def test_hierarchy_series_rows(x_out):
    """Their [8,2,1,2,X]: two input-separable 4-input sub-functions, a module reading both with two bits (XOR,
    AND), the two intermediate nodes, X outputs."""
    x = targets.truth_table(8)
    t = targets.make_target(_cfg((8, 2, 1, 2, x_out)))
    s, h = t.structure, np.asarray(t.node_values(x))
    assert s.children[8:14] == ((0, 1, 2, 3), (4, 5, 6, 7), (8, 9), (8, 9), (10,), (11,))
    np.testing.assert_array_equal(h[:, 10], np.where(h[:, 8] != h[:, 9], 1.0, -1.0))
    np.testing.assert_array_equal(h[:, 11], np.where((h[:, 8] > 0) & (h[:, 9] > 0), 1.0, -1.0))
    np.testing.assert_array_equal(h[:, 12:14], h[:, 10:12])
    readers = [s.children[v] for v in s.outputs]
    assert readers.count((12,)) == readers.count((13,)) == max(1, x_out // 2)
    for row in (0, 37, 200, 255):  # a few truth-table rows by hand: f1 reads x1..x4 only, f2 x5..x8 only
        other = row ^ 0b1111  # flip x5..x8: f1 unchanged
        assert h[row, 8] == h[other, 8]
        assert h[row, 9] == h[row ^ 0b11110000, 9]


def _is_threshold(table):
    """Some integer w with |w_j| <= 3 gives table == sign(truth_table . w) (brute force: 7^k candidates)."""
    k = int(np.log2(len(table)))
    ws = np.stack(np.meshgrid(*[np.arange(-3, 4)] * k, indexing="ij"), -1).reshape(-1, k)
    signs = np.where(targets.truth_table(k) @ ws.T > 0, 1.0, -1.0)
    return bool(np.any(np.all(signs == table[:, None], axis=0)))


@pytest.mark.parametrize("spec", [(4, 1, 4), (4, 1, 2, 4), (8, 2, 1, 2, 8)])
def test_threshold_tables_are_balanced_separable_and_differ_from_the_default(spec):
    for seed in (0, 1, 2):
        _, _, default = modular.build(spec, seed)
        _, _, thr = modular.build(spec, seed, "threshold")
        drawn = [t for t in thr if len(t) >= 8]
        assert drawn and all(t.sum() == 0 and _depends_on_all(t) and _is_threshold(t) for t in drawn)
        # the named gates (k <= 2) are the same; only the drawn tables change
        assert [t.tolist() for t in default if len(t) < 8] == [t.tolist() for t in thr if len(t) < 8]
    # the default reading draws tables no single unit computes (4-input balanced tables: most are not separable)
    assert not all(_is_threshold(t) for s in range(4) for t in modular.build(spec, s)[2] if len(t) >= 8)


def test_threshold_tables_through_the_config_and_a_bad_kind_names_the_field():
    c = _cfg((4, 1, 2, 4))
    c.modular_tables = "threshold"
    x = targets.truth_table(4)
    y = np.asarray(targets.make_target(c)(x))
    _, _, tabs = modular.build((4, 1, 2, 4), 0, "threshold")
    np.testing.assert_array_equal(y[:, 0], tabs[0])  # output 1 = g1 = the first drawn table (identity)
    c.modular_tables = "random"
    with pytest.raises(ValueError, match="target.modular_tables='random': allowed values are"):
        targets.check(c)
