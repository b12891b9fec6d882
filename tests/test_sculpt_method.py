"""The `sculpt` method (Neural Sculpting's pruning protocol, src/sweetspot/pruning/sculpt.py). Tiny networks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sweetspot import config as config_lib
from sweetspot import grid, losses, mlp, pruning, sculpting, sweep, targets
from sweetspot.pruning import sculpt
from sweetspot.validation import validate


def _their_loop(limit, p0, p_min, iters):
    """Their accept / halve / stop loop (run/prune.py) in plain Python, accepting a fraction iff it is <= limit."""
    frac, p, n = 0.0, p0, 0
    while n < iters:
        n += 1
        cand = frac + p
        if cand < 1.0 and cand <= limit:
            frac = cand
        elif p > p_min:
            p = max(p / 2, p_min)
        else:
            break
    return frac


@pytest.mark.parametrize("limit", [0.0, 0.33, 0.7, 0.9, 0.99])
def test_advance_matches_their_loop(limit):
    p_min, iters = 1 / 48, 30
    frac, p, done = jnp.float32(0.0), jnp.float32(0.7), jnp.array(False)
    for _ in range(iters):
        frac, p, done, _ = sculpt.advance(frac, p, done, ((frac + p) < 1) & ((frac + p) <= limit + 1e-6), p_min)
    assert bool(done)
    assert float(frac) == pytest.approx(_their_loop(limit + 1e-6, 0.7, p_min, iters), abs=1e-5)
    assert float(frac) <= limit + 1e-5 and limit - float(frac) < 2 * p_min  # converged to within one unit step


def _net(depth=2, n_slots=3, width=4):
    params = mlp.init(jax.random.PRNGKey(0), 3, width, n_slots, "relu", 2)
    return params, mlp.ones_masks(params), jnp.int32(depth)


def test_prune_units_cuts_columns_and_rows_as_their_percentile():
    _, masks, depth = _net()
    scores = jnp.array([[4.0, 3.0, 0.0, 8.0], [1.0, 7.0, 6.0, 2.0], [-jnp.inf] * 4])  # slot 2 is padding
    # N = 8 active units, frac 0.4: floor(0.4 * 7) + 1 = 3 lowest go (plus the zero score): keep 8, 7, 6, 4 and 3
    out = sculpt.prune_units(scores, masks, 0.4, depth)
    keep0, keep1 = np.array([1, 1, 0, 1.0]), np.array([0, 1, 1, 0.0])
    np.testing.assert_array_equal(out["h0"], np.ones((3, 4)) * keep0[None])
    np.testing.assert_array_equal(out["h1"], keep0[:, None] * keep1[None])
    np.testing.assert_array_equal(out["out"], np.ones((4, 2)) * keep1[:, None])
    np.testing.assert_array_equal(out["h2"], np.ones((4, 4)))  # padding stays all ones


def test_unit_scores_are_their_activation_gradient_product():
    params, masks, depth = _net()
    x = jnp.asarray(targets.truth_table(3))
    y = jnp.where(x[:, :2] > 0, 1.0, -1.0)
    pc = config_lib.default_config().pruning
    inp = pruning.ScoreInputs(None, {"depth": depth}, {"x_test": x, "y_test": y}, "relu", pc, losses.bce)
    got = sculpt.unit_scores(inp, params, masks)

    def per_sample(xi, yi):  # d loss / d a on one sample, by an additive patch on the activations
        def f(eps):
            logit = mlp.apply(params, masks, depth, xi[None], "relu", patch=lambda l, a: a + eps[l])
            return jnp.mean(jax.nn.softplus(logit) - logit * (yi[None] + 1) / 2)

        _, hidden = mlp.apply(params, masks, depth, xi[None], "relu", return_hidden=True)
        return jnp.abs(jax.grad(f)(jnp.zeros((3, 1, 4))) * hidden)[:, 0]

    want = jax.vmap(per_sample)(x, y).mean(0)
    np.testing.assert_allclose(got[:2], want[:2], rtol=1e-4, atol=1e-7)
    assert np.all(np.isneginf(got[2]))


def test_check_config_names_the_field():
    pc = config_lib.default_config().pruning
    sculpt.check_config(pc)
    for field, value in (("sculpt_unit_step", 1.5), ("sculpt_accuracy", 0.0), ("sculpt_edge_iters", -1)):
        bad = config_lib.default_config().pruning
        bad[field] = value
        with pytest.raises(config_lib.ConfigError, match=field):
            sculpt.check_config(bad)


@pytest.fixture(scope="module")
def sculpted():
    from conftest import tiny_config

    cfg = tiny_config()
    cfg.target.family, cfg.target.modular_spec = "modular", (4, 2, 4)
    cfg.target.input_noise, cfg.target.heldout_q = 0.1, 1.0
    cfg.train.steps, cfg.train.eval_every, cfg.train.batch_size = 40, 20, 8
    cfg.grid.method, cfg.grid.depth, cfg.grid.sparsity, cfg.grid.seed = ("sculpt",), (1, 2), (0.0,), (0, 1)
    cfg.grid.lr = (0.05,)
    cfg.model.width = 12
    cfg.pruning.sculpt_unit_iters, cfg.pruning.sculpt_edge_iters = 5, 4
    validate(cfg)
    _, data = sweep.make_data(cfg)
    eng = grid.Engine(cfg, data)
    return cfg, eng, eng.run_chunk(0)


def test_sculpt_runs_in_one_compile_and_prunes_units_and_edges(sculpted):
    cfg, eng, out = sculpted
    assert eng.compile_count == 1
    target = targets.make_target(cfg.target)
    s = target.structure
    pruned = []
    depth = eng.grid.coords["depth"]
    for idx, valid, res, state in out.values():  # any depth_mode: each point's depth from its grid index
        for i in np.flatnonzero(valid):
            d = int(depth[idx[i]])
            pruned.append(float(res["realised_sparsity"][i]) > 0.3)
            if not pruned[-1]:  # no candidate met 100% accuracy at width 8 in 40 steps: the dense net is kept
                continue
            m = {k: np.asarray(v[i]) for k, v in state["masks"].items()}
            assert set(np.unique(m["h0"])) <= {0.0, 1.0}
            for k, w in state["params"].items():
                assert np.all(np.asarray(w["w"][i])[m[k] == 0] == 0)
            dead = [(m[f"h{l}"].sum(0) == 0).sum() for l in range(d)]
            assert sum(dead) > 0, "unit pruning removed no unit"
            sculpting.success(sculpting.detect_modules(m, d, s.n_inputs, s.n_outputs), s)
    assert sum(pruned) >= len(pruned) // 2, pruned


def test_sculpt_is_registered_with_its_own_schedule():
    m = pruning.METHODS["sculpt"]
    assert m.schedule == pruning.SCULPT and pruning.SCHEDULES[pruning.SCULPT] is pruning.sculpt_masks
    assert pruning.METHODS["sculpt"].schedule == pruning.SCULPT and "shuffled:sculpt" in pruning.method_names()


def test_e6_sweep_configs_validate_for_every_task():
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "sweeps"))
    import e6_sculpting

    assert set(e6_sculpting.TASKS) >= {"424", "414", "41216", "6333", "4122", "82124", "821216"}
    for task in e6_sculpting.TASKS:
        cfg = validate(e6_sculpting.get_config(task))
        assert cfg.grid.method == ("sculpt",) and cfg.target.input_noise == 0.1 and cfg.grid.weight_decay == (1e-4,)
    full = validate(e6_sculpting.get_config("424,full,width=48"))
    assert len(full.grid.seed) == 12 and full.model.width == 48
    assert validate(e6_sculpting.get_config("424,method=fixed")).grid.method == ("imp", "sp")
    with pytest.raises(ValueError, match="allowed values"):
        e6_sculpting.get_config("999")
