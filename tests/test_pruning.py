import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from conftest import random_masks
from sweetspot import mlp, pruning


@pytest.mark.parametrize("density", [0.05, 0.3, 0.5, 0.999])
def test_topk_mask_exact_count(density):
    scores = jax.random.normal(jax.random.PRNGKey(0), (13, 11))
    m = pruning.topk_mask(scores, density)
    assert int(m.sum()) == max(1, round(density * 143))
    # the kept ones are the highest scores
    kept_min = jnp.where(m > 0, scores, jnp.inf).min()
    dropped_max = jnp.where(m > 0, -jnp.inf, scores).max()
    assert kept_min >= dropped_max


def test_topk_ties_go_to_lower_index():
    m = pruning.topk_mask(jnp.zeros((2, 3)), 0.5)
    assert m.ravel().tolist() == [1, 1, 1, 0, 0, 0]


def test_topk_traced_density_under_vmap():
    scores = jax.random.normal(jax.random.PRNGKey(0), (20,))
    ms = jax.jit(jax.vmap(pruning.topk_mask, in_axes=(None, 0)))(scores, jnp.array([0.1, 0.5, 0.9]))
    assert ms.sum(1).tolist() == [2, 10, 18]


def test_random_masks_nested_across_densities():
    p = mlp.init(jax.random.PRNGKey(0), 4, 6, 3)
    k = jax.random.PRNGKey(3)
    lo, hi = random_masks(k, p, 0.2, 3), random_masks(k, p, 0.6, 3)
    for name in lo:
        assert np.all(lo[name] <= hi[name])


def test_mask_updates_keeps_pruned_weights_at_zero_under_adamw():
    p = mlp.init(jax.random.PRNGKey(0), 4, 6, 2)
    m = random_masks(jax.random.PRNGKey(1), p, 0.3, 2)
    p = mlp.mask_params(p, m)
    opt = optax.chain(optax.adamw(0.1, weight_decay=0.5), pruning.mask_updates(m))
    s = opt.init(p)
    x = jax.random.normal(jax.random.PRNGKey(2), (32, 4))
    for _ in range(20):
        # a gradient that is nonzero everywhere (not just on live weights) stresses the mask
        g = jax.tree.map(jnp.ones_like, p)
        u, s = opt.update(g, s, p)
        p = optax.apply_updates(p, u)
    for k in m:
        assert np.all(np.asarray(p[k]["w"])[np.asarray(m[k]) == 0] == 0)
        assert np.any(np.asarray(p[k]["w"])[np.asarray(m[k]) == 1] != 0)
    assert mlp.apply(p, m, 2, x).shape == (32,)


@pytest.mark.parametrize("kind", ["normal", "ties", "negative", "zeros_signed", "nan", "inf"])
def test_rank_mask_bisection_equals_sorted_reference(kind):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(17, 13)).astype(np.float32)
    if kind == "ties":
        x = np.round(x * 2) / 2
    elif kind == "negative":
        x = -np.abs(x)
    elif kind == "zeros_signed":
        x[::2] = 0.0
        x[1::2] = -0.0
    elif kind == "nan":
        x[rng.random(x.shape) < 0.2] = np.nan
    elif kind == "inf":
        x[rng.random(x.shape) < 0.2] = -np.inf
    for k in (1, 7, 100, 221):
        np.testing.assert_array_equal(pruning.rank_mask(jnp.asarray(x), k), _rank_mask_sorted(jnp.asarray(x), k))


def _rank_mask_sorted(scores, k):
    """Reference for rank_mask by a stable argsort."""
    flat = scores.ravel()
    order = jnp.argsort(-flat, stable=True)
    rank = jnp.zeros(flat.shape, jnp.int32).at[order].set(jnp.arange(flat.size, dtype=jnp.int32))
    return (rank < k).astype(jnp.float32).reshape(scores.shape)
