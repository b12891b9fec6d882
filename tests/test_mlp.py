import jax
import jax.numpy as jnp
import numpy as np

from conftest import random_masks
from sweetspot import mlp


def _net(n_slots, key=0, density=0.6, depth=None):
    params = mlp.init(jax.random.PRNGKey(key), 5, 7, n_slots)
    depth = n_slots if depth is None else depth
    masks = random_masks(jax.random.PRNGKey(9), params, density, depth)
    return params, masks


def test_padded_network_equals_standalone_in_outputs_and_gradients():
    x = jax.random.normal(jax.random.PRNGKey(1), (16, 5))
    y = jnp.sin(x.sum(1))
    big, big_masks = _net(5, depth=2)  # 5 slots, depth 2: layers h2..h4 are padding
    small = {k: big[k] for k in ("h0", "h1", "out")}
    small_masks = {k: big_masks[k] for k in ("h0", "h1", "out")}
    for k in ("h2", "h3", "h4"):
        np.testing.assert_array_equal(big_masks[k], 1.0)  # padded layers are never pruned

    def loss(p, m, depth):
        return jnp.mean((mlp.apply(p, m, depth, x) - y) ** 2)

    np.testing.assert_allclose(mlp.apply(big, big_masks, 2, x), mlp.apply(small, small_masks, 2, x), rtol=1e-6)
    g_big = jax.grad(loss)(big, big_masks, 2)
    g_small = jax.grad(loss)(small, small_masks, 2)
    for k in ("h0", "h1", "out"):
        np.testing.assert_allclose(g_big[k]["w"], g_small[k]["w"], rtol=1e-5, atol=1e-7)
    for k in ("h2", "h3", "h4"):
        assert not np.any(g_big[k]["w"]) and not np.any(g_big[k]["b"])


def test_return_hidden_repeats_last_active_layer():
    p, m = _net(4, depth=2)
    x = jnp.ones((3, 5))
    y, hidden = mlp.apply(p, m, 2, x, return_hidden=True)
    assert hidden.shape == (4, 3, 7)
    np.testing.assert_array_equal(hidden[2], hidden[1])
    np.testing.assert_array_equal(hidden[3], hidden[1])


def test_layer_counts_ignore_padding():
    p, m = _net(4, density=0.5, depth=2)
    live, total = mlp.layer_counts(m, 2)
    assert total.tolist() == [35.0, 49.0, 0.0, 0.0, 7.0]
    assert live[2] == 0 and live[3] == 0


def test_activations():
    p, m = _net(2)
    x = jnp.ones((2, 5))
    outs = {a: mlp.apply(p, m, 2, x, a) for a in mlp.ACTIVATIONS}
    assert len({float(o[0]) for o in outs.values()}) == 3


def _sorted_batch():
    """(layout, depths, nets, stacked params, stacked masks, x, y) of 4 networks sorted by depth; depth 3 has no
    point, so h2 and h3 both run on the last one."""
    layout, depths = ((1, 1), (2, 2), (4, 1)), [1, 2, 2, 4]
    nets = [_net(4, key=i, depth=d) for i, d in enumerate(depths)]
    params = jax.tree.map(lambda *a: jnp.stack(a), *[p for p, _ in nets])
    masks = jax.tree.map(lambda *a: jnp.stack(a), *[m for _, m in nets])
    x = jax.random.normal(jax.random.PRNGKey(1), (4, 16, 5))
    return layout, depths, nets, params, masks, x, jnp.sin(x.sum(-1))


def _assert_each_network(out, grad_w, nets, depths, x, y):
    """out[i] and grad_w(layer, i) (None: the batch holds no slot of point i there) are network i's own output
    and weight gradient of its mean squared error against y[i]."""
    for i, ((p, m), d) in enumerate(zip(nets, depths, strict=True)):
        np.testing.assert_allclose(out[i], mlp.apply(p, m, d, x[i]), rtol=1e-5, atol=1e-6)
        gi = jax.grad(lambda q, m=m, d=d, i=i: ((mlp.apply(q, m, d, x[i]) - y[i]) ** 2).mean())(p)
        for k in gi:
            if (got := grad_w(k, i)) is not None:
                np.testing.assert_allclose(got, gi[k]["w"], rtol=1e-4, atol=1e-6, err_msg=f"{i} {k}")


def test_segmented_batch_on_live_slices_equals_each_network():
    """apply_segmented takes each layer's live slice only (hidden layer l: the points deeper than l; the readout:
    every point) and gives each point its own network's output and gradient."""
    layout, depths, nets, params, masks, x, y = _sorted_batch()
    starts = mlp.depth_starts(layout, 4)
    assert starts == (0, 1, 3, 3)
    live_p, live_m = mlp.live_slices(params, starts), mlp.live_slices(masks, starts)
    assert [live_p[f"h{l}"]["w"].shape[0] for l in range(4)] == [4, 3, 1, 1] and live_p["out"]["w"].shape[0] == 4
    loss = lambda p: ((mlp.apply_segmented(p, live_m, starts, x) - y) ** 2).mean(1).sum()
    out = mlp.apply_segmented(live_p, live_m, starts, x)
    g = jax.grad(loss)(live_p)
    first = lambda k: mlp.first_point(k, starts)
    _assert_each_network(out, lambda k, i: g[k]["w"][i - first(k)] if i >= first(k) else None, nets, depths, x, y)
