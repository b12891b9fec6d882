"""SP (similarity-based pruning): the similarity variants run end to end, bad SP settings are refused before any
compute, and readout edges are scored against each output's own signature (docs/method.md, "Masks and
pruning", `sp`)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import random_masks
from sweetspot import config as config_lib
from sweetspot import grid, mlp, pruning, sweep
from sweetspot.validation import validate


def _pooled_sp_scores(params, masks, depth, x, activation, similarity="overlap", gamma=1.0):
    """SP as it was before per-output readout signatures (kept verbatim as the reference): the readout's
    signature is E_x |dy/dx| pooled over the outputs, one signature for every readout column."""

    def per_input(e):
        tangent = jnp.broadcast_to(e, x.shape)
        _, (dy, dh) = jax.jvp(lambda z: mlp.apply(params, masks, depth, z, activation, True), (x,), (tangent,))
        return jnp.abs(dh).mean(1), jnp.abs(dy).mean()

    hidden, out = jax.lax.map(per_input, jnp.eye(x.shape[1], dtype=x.dtype))
    sig, sig_out = jnp.moveaxis(hidden, 0, -1), out
    sim_fn = pruning.SP_SIMILARITIES[similarity]
    names = mlp.layer_names(len(params) - 1)
    norm = lambda s: s / jnp.maximum(s.sum(-1, keepdims=True), 1e-30)
    sigs = [jnp.eye(x.shape[1])] + list(norm(sig)) + [norm(sig_out)[None]]
    y, hidden = mlp.apply(params, masks, depth, x, activation, True)
    acts = [x] + list(hidden) + [y.reshape(y.shape[0], -1)]
    return {
        k: jnp.abs(params[k]["w"]) * sim_fn(sigs[i], sigs[i + 1], acts[i], acts[i + 1]) ** gamma
        for i, k in enumerate(names)
    }


def _sp_run(cfg, similarity):
    cfg.grid.method, cfg.grid.depth, cfg.grid.sparsity, cfg.grid.seed = ("sp",), (2,), (0.7,), (0,)
    cfg.pruning.sp_similarity, cfg.pruning.rounds = similarity, 2
    validate(cfg)
    _, data = sweep.make_data(cfg)
    return grid.run_grid(cfg, data)


def test_sp_correlation_runs_end_to_end_at_the_requested_density(cfg):
    res = _sp_run(cfg, "correlation")
    w = cfg.model.width
    want = [1 - max(1, round(0.3 * n)) / n for n in (4 * w, w * w, w)]
    got = [res["layer_sparsity"][0][0], res["layer_sparsity"][0][1], res["layer_sparsity"][0][-1]]
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert np.isfinite(res["test_loss"]).all() and not res["diverged"].any()


def test_sp_scores_finite_and_masks_exact_for_every_similarity():
    params = mlp.init(jax.random.PRNGKey(0), 4, 6, 3, "relu", 3)
    masks = random_masks(jax.random.PRNGKey(1), params, 0.5, 2)  # h2 is padding at depth 2
    x = jax.random.uniform(jax.random.PRNGKey(2), (64, 4), minval=-1, maxval=1)
    for similarity in pruning.SP_SIMILARITIES:
        scores = pruning.sp_scores(params, masks, 2, x, "relu", similarity, 2.0)
        assert all(bool(jnp.isfinite(s).all()) for s in scores.values()), similarity
        new = pruning.prune(scores, masks, 0.25, 2)
        for k in ("h0", "h1", "out"):
            assert float(new[k].sum()) == pruning.keep_count(new[k].size, 0.25)
            assert float((new[k] * (1 - masks[k])).sum()) == 0  # a pruned weight never returns
        np.testing.assert_array_equal(new["h2"], 1.0)


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("sp_similarity", "l2", r"pruning.sp_similarity='l2'.*overlap.*correlation"),
        ("sp_gamma", -1.0, r"pruning.sp_gamma=-1.0.*finite number >= 0"),
        ("sp_gamma", math.nan, r"pruning.sp_gamma=nan.*finite numbers \(not nan or inf\)"),
        ("sp_gamma", math.inf, r"pruning.sp_gamma=inf.*finite numbers \(not nan or inf\)"),
        ("sp_inputs", 0, r"pruning.sp_inputs=0.*integer >= 1"),
    ],
)
def test_bad_sp_settings_are_refused_naming_the_field(cfg, field, value, match):
    cfg.pruning[field] = value
    with pytest.raises(config_lib.ConfigError, match=match):
        validate(cfg)


def test_correlation_needs_two_sp_inputs(cfg):
    cfg.pruning.sp_similarity, cfg.pruning.sp_inputs = "correlation", 1
    with pytest.raises(config_lib.ConfigError, match=r"pruning.sp_inputs=1.*integer >= 2.*correlation"):
        validate(cfg)
    cfg.pruning.sp_inputs = 2
    validate(cfg)
    cfg.pruning.sp_similarity, cfg.pruning.sp_inputs, cfg.pruning.sp_gamma = "overlap", 1, 0.0
    validate(cfg)  # one input is enough for signatures; gamma = 0 is plain magnitude


@pytest.mark.parametrize(
    "similarity,activation,depth", [(s, "relu", 2) for s in pruning.SP_SIMILARITIES] + [("overlap", "tanh", 3)]
)
def test_single_output_scores_are_bit_identical_to_the_pooled_definition(similarity, activation, depth):
    params = mlp.init(jax.random.PRNGKey(3), 5, 7, 3, activation)
    masks = random_masks(jax.random.PRNGKey(4), params, 0.6, depth)
    x = jax.random.uniform(jax.random.PRNGKey(5), (64, 5), minval=-1, maxval=1)
    new = pruning.sp_scores(params, masks, depth, x, activation, similarity, 1.5)
    old = _pooled_sp_scores(params, masks, depth, x, activation, similarity, 1.5)
    for k in new:
        np.testing.assert_array_equal(np.asarray(new[k]), np.asarray(old[k]), err_msg=k)


def _two_output_net():
    """Depth 1, 4 inputs, 4 relu units (bias 3: always active). Units 0, 1 read x0, x1 and serve output 0
    (readout weight 1); units 2, 3 read x2, x3 and serve output 1 (weight 10). Cross edges: units 2, 3 -> output
    0 weigh 0.8, units 0, 1 -> output 1 weigh 0.1. Output 1's gradient is 10x output 0's, so the pooled readout
    signature sits on x2, x3 and makes output 0 look like a reader of units 2, 3."""
    w0 = np.zeros((4, 4), np.float32)
    w0[0, 0], w0[1, 0], w0[0, 1], w0[1, 1] = 1.0, 0.7, 0.6, -1.0
    w0[2, 2], w0[3, 2], w0[2, 3], w0[3, 3] = 1.0, 0.7, 0.6, -1.0
    w_out = np.array([[1.0, 0.1], [1.0, 0.1], [0.8, 10.0], [0.8, 10.0]], np.float32)
    params = {
        "h0": {"w": jnp.asarray(w0), "b": jnp.full((4,), 3.0)},
        "out": {"w": jnp.asarray(w_out), "b": jnp.zeros((2,))},
    }
    return params, mlp.ones_masks(params)


@pytest.mark.parametrize("similarity", ("overlap", "cosine"))
def test_two_outputs_each_readout_column_uses_its_own_output_signature(similarity):
    params, ones = _two_output_net()
    x = jax.random.uniform(jax.random.PRNGKey(0), (256, 4), minval=-1, maxval=1)
    new = pruning.sp_scores(params, ones, 1, x, "relu", similarity)
    old = _pooled_sp_scores(params, ones, 1, x, "relu", similarity)
    np.testing.assert_array_equal(np.asarray(new["h0"]), np.asarray(old["h0"]))  # hidden edges: unchanged
    sim_new = np.asarray(new["out"]) / np.abs(np.asarray(params["out"]["w"]))
    sim_old = np.asarray(old["out"]) / np.abs(np.asarray(params["out"]["w"]))
    np.testing.assert_allclose(sim_old[:, 0], sim_old[:, 1], rtol=1e-6)  # pooled: one similarity per unit
    assert sim_new[0, 0] > sim_new[2, 0] and sim_new[2, 1] > sim_new[0, 1]  # each output prefers its own units
    assert sim_new[0, 0] > sim_old[0, 0] and sim_new[2, 0] < sim_old[2, 0]
    block = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], np.float32)
    np.testing.assert_array_equal(pruning.topk_mask(new["out"], 0.5), block)  # per output: the block diagonal
    pooled = np.asarray(pruning.topk_mask(old["out"], 0.5))
    np.testing.assert_array_equal(pooled[:, 0], [0, 0, 1, 1])  # pooled: output 0 keeps output 1's units only
