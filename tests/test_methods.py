"""Pruning methods on the grid (issue: pruning suite). Tiny networks; every method in one jitted grid."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import oracle_masks
from sweetspot import config as config_lib
from sweetspot import grid, mlp, pruning, sweep, targets
from sweetspot.validation import validate

ALL = ("dense", "random", "magnitude", "imp", "snip", "synflow", "sp", "oracle", "shuffled:sp", "shuffled:imp")


@pytest.fixture(scope="module")
def all_methods_run():
    from conftest import tiny_config

    cfg = tiny_config()
    cfg.grid.method = ALL
    cfg.grid.depth = (2, 3)
    cfg.grid.sparsity = (0.3, 0.8)
    cfg.grid.seed = (0,)
    cfg.pruning.synflow_rounds = 5
    cfg.pruning.rounds = 2
    validate(cfg)
    _, data = sweep.make_data(cfg)
    eng = grid.Engine(cfg, data)
    out = eng.run_chunk(0)
    res, _ = grid.run(eng)
    return cfg, eng, out, res


def _expected_layer_sparsity(shape, s):
    n = int(np.prod(shape))
    return 1 - max(1, round((1 - s) * n)) / n


def test_every_method_realises_the_target_sparsity_exactly(all_methods_run):
    cfg, eng, out, res = all_methods_run
    assert eng.compile_count == 1
    co = eng.grid.coords
    w = cfg.model.width
    for i in range(eng.grid.n_points):
        m, s, d = co["method"][i], co["sparsity"][i], co["depth"][i]
        ls = res["layer_sparsity"][i]
        if m == "dense":
            assert res["realised_sparsity"][i] == 0
            continue
        if m == "oracle":  # never more connections than the structure allows: sparsity >= the target
            assert np.all(ls[:d] >= [_expected_layer_sparsity((4 if l == 0 else w, w), s) - 1e-6 for l in range(d)])
            continue
        shapes = [(4 if l == 0 else w, w) for l in range(d)]
        want = [_expected_layer_sparsity(sh, s) for sh in shapes] + [_expected_layer_sparsity((w, 1), s)]
        got = list(ls[:d]) + [ls[-1]]
        np.testing.assert_allclose(got, want, atol=1e-6, err_msg=f"{m} s={s} d={d}")
        assert np.isnan(ls[d:-1]).all()


def test_pruned_weights_stay_zero_through_rewind_and_retraining(all_methods_run):
    _, _, out, _ = all_methods_run
    for name, (_, _, _, state) in out.items():
        for k, m in state["masks"].items():
            w = state["params"][k]["w"]
            assert np.all(w[m == 0] == 0), name
            assert set(np.unique(m)) <= {0.0, 1.0}


def test_shuffled_keeps_per_layer_density_and_changes_wiring(all_methods_run):
    _, eng, out, _ = all_methods_run
    depth = eng.grid.coords["depth"]
    pairs = [(name, "shuffled:" + name) for name in out if name.startswith("sp/")]  # any depth_mode's groups
    assert pairs and all(sh in out for _, sh in pairs)
    seen = set()
    for sp_name, sh_name in pairs:
        idx, valid, _, sp_state = out[sp_name]
        for axis in ("depth", "sparsity", "seed"):  # the same points, in the same order
            np.testing.assert_array_equal(eng.grid.coords[axis][idx], eng.grid.coords[axis][out[sh_name][0]])
        sp_masks, sh_masks = sp_state["masks"], out[sh_name][3]["masks"]
        for k in sp_masks:
            np.testing.assert_array_equal(sp_masks[k].sum((1, 2)), sh_masks[k].sum((1, 2)))
        for d in set(depth[idx[valid]].tolist()):
            sel = valid & (depth[idx] == d)
            assert any(not np.array_equal(sp_masks[k][sel], sh_masks[k][sel]) for k in sp_masks), d
            seen.add(d)
    assert seen == {2, 3}


def test_shuffle_masks_function():
    m = {"h0": (jnp.arange(12).reshape(3, 4) % 3 == 0).astype(jnp.float32), "out": jnp.ones((4, 1))}
    s = pruning.shuffle_masks(jax.random.PRNGKey(0), m, 1)
    assert float(s["h0"].sum()) == float(m["h0"].sum()) and not np.array_equal(s["h0"], m["h0"])


def test_imp_with_one_round_equals_one_shot_magnitude(cfg):
    cfg.grid.method = ("magnitude", "imp")
    cfg.grid.depth = (2,)
    cfg.grid.seed = (0,)
    cfg.pruning.rounds = 1
    _, data = sweep.make_data(cfg)
    res = grid.run_grid(cfg, data)
    n = len(res["test_loss"]) // 2
    for k in ("test_loss", "train_loss", "realised_sparsity", "layer_sparsity"):
        np.testing.assert_array_equal(res[k][:n], res[k][n:], err_msg=k)


def _two_block_net():
    """Hand-set depth-2 net on 4 inputs: h0 units 0,1 read x0,x1 (weights ~1); units 2,3 read x2,x3 (weights 0.1).
    In h1, block A (units 0,1) gets within-block weights 1 and large cross weights 1 from units 2,3; block B gets
    within-block weights 1 and small cross weights 0.05 from units 0,1. Biases keep every relu unit active."""
    w0 = np.zeros((4, 4), np.float32)
    w0[0, 0], w0[1, 0], w0[0, 1], w0[1, 1] = 1.0, 0.7, 0.6, -1.0
    w0[2, 2], w0[3, 2], w0[2, 3], w0[3, 3] = 0.1, 0.07, 0.06, -0.1
    w1 = np.ones((4, 4), np.float32)
    w1[:2, 2:] = 0.05
    params = {
        "h0": {"w": jnp.asarray(w0), "b": jnp.full((4,), 3.0)},
        "h1": {"w": jnp.asarray(w1), "b": jnp.full((4,), 3.0)},
        "out": {"w": jnp.ones((4, 1)), "b": jnp.zeros((1,))},
    }
    return params, mlp.ones_masks(params)


def test_sp_removes_cross_block_edges_first_where_magnitude_does_not():
    params, ones = _two_block_net()
    x = jax.random.uniform(jax.random.PRNGKey(0), (256, 4), minval=-1, maxval=1)
    within = np.zeros((4, 4), bool)
    within[:2, :2] = within[2:, 2:] = True
    sp = pruning.prune(pruning.sp_scores(params, ones, 2, x, "relu"), ones, 0.5, 2)
    np.testing.assert_array_equal(np.asarray(sp["h1"]) > 0, within)
    mag = pruning.prune(pruning.magnitude_scores(params), ones, 0.5, 2)
    assert not np.array_equal(np.asarray(mag["h1"]) > 0, within)
    for sim in ("cosine", "correlation"):  # the variants run and keep the exact density
        m = pruning.prune(pruning.sp_scores(params, ones, 2, x, "relu", sim), ones, 0.5, 2)
        assert float(m["h1"].sum()) == 8


def test_oracle_masks_match_the_structure_n4_k2():
    c = config_lib.default_config().target
    c.levels, c.arity = 2, 2
    s = targets.make_target(c).structure
    a2 = pruning.oracle_allowed(s, 4, 2)
    np.testing.assert_array_equal(a2["h0"], [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]])
    np.testing.assert_array_equal(a2["h1"], np.ones((4, 4)))  # level-1 blocks -> root block
    np.testing.assert_array_equal(a2["out"], np.ones((4, 1)))
    a1 = pruning.oracle_allowed(s, 4, 1)  # depth < levels: the one layer hosts the root, reading every input
    np.testing.assert_array_equal(a1["h0"], np.ones((4, 4)))
    a4 = pruning.oracle_allowed(s, 4, 4)  # levels 1, 1, 2, 2: level-1 blocks refine themselves
    assert pruning.oracle_levels(2, 4) == [1, 1, 2, 2]
    np.testing.assert_array_equal(a4["h1"], a2["h0"])
    np.testing.assert_array_equal(a4["h3"], np.ones((4, 4)))


def test_oracle_never_adds_disallowed_edges_and_reports_its_sparsity():
    c = config_lib.default_config().target
    c.levels = 3
    s = targets.make_target(c).structure
    table = pruning.oracle_table(s, 8, 3)
    params = mlp.init(jax.random.PRNGKey(0), 8, 8, 3)
    for density in (0.1, 0.9):
        m = oracle_masks(jax.random.PRNGKey(1), table, params, density, 3)
        for k in m:
            allowed = table[k][2]
            assert np.all(np.asarray(m[k])[allowed == 0] == 0)
            assert float(m[k].sum()) == min(allowed.sum(), max(1, round(density * allowed.size)))


def test_global_scope_is_exact_in_total():
    params = mlp.init(jax.random.PRNGKey(0), 5, 6, 4)
    ones = mlp.ones_masks(params)
    m = pruning.prune(pruning.magnitude_scores(params), ones, 0.3, 3, "global")
    live, total = mlp.layer_counts(m, 3)
    assert int(live.sum()) == round(0.3 * float(total.sum()))
    np.testing.assert_array_equal(m["h3"], 1.0)  # padding stays all ones


def test_disconnected_inputs():
    m = {"h0": jnp.array([[1.0, 0], [0, 0], [0, 1]]), "h1": jnp.array([[1.0, 0], [0, 0]]), "out": jnp.ones((2, 1))}
    assert int(pruning.disconnected_inputs(m, 2)) == 2  # x1 has no edge; x2's unit feeds nothing in h1
    assert int(pruning.disconnected_inputs(m, 1)) == 1  # at depth 1 h1 is padding


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("pruning.rounds", 0, "pruning.rounds=0"),
        ("pruning.scope", "x", "pruning.scope='x'.*global"),
        ("pruning.rewind_frac", 1.5, r"pruning.rewind_frac=1.5.*\[0, 1\)"),
        ("pruning.sp_similarity", "l2", "sp_similarity='l2'.*overlap"),
        ("grid.method", ("shuffled:dense",), "shuffled:dense"),
        ("grid.method", ("shuffled:nope",), "shuffled:nope"),
    ],
)
def test_invalid_method_or_schedule_is_a_clear_error(cfg, field, value, match):
    section, key = field.split(".")
    cfg[section][key] = value
    with pytest.raises(config_lib.ConfigError, match=match):
        validate(cfg)
    with pytest.raises(ValueError):
        pruning.parse_method("shuffled:dense")
