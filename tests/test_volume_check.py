"""Theory check 2 (sweetspot.analysis.t2_volume, with the live-parameter coordinates in sweetspot.theory):
live-parameter flattening, the radius/volume pipeline on a loss with a closed-form basin, and the per-cell ratio
bookkeeping."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sweetspot import losses, mlp, theory
from sweetspot.analysis import t2_volume as T


def _network(depth=2, n_slots=3, seed=0):
    """A masked relu network with one padded slot (n_slots > depth), saved as the sweep saves it (W * M)."""
    key = jax.random.PRNGKey(seed)
    params = mlp.init(key, 4, 6, n_slots)
    rng = np.random.default_rng(seed)
    masks = {k: (rng.random(p["w"].shape) < 0.6).astype(np.float32) for k, p in params.items()}
    for l in range(depth, n_slots):  # padded layers keep all-ones masks
        masks[f"h{l}"] = np.ones_like(masks[f"h{l}"])
    params = {k: {"w": np.asarray(p["w"] * masks[k]), "b": np.asarray(rng.normal(size=p["b"].shape), np.float32)}
              for k, p in params.items()}  # fmt: skip
    x = jnp.asarray(rng.uniform(-1, 1, (64, 4)), jnp.float32)
    y = jnp.asarray(rng.normal(size=64), jnp.float32)
    return params, masks, depth, x, y


def test_theta_counts_only_live_weights_and_active_biases():
    params, masks, depth, _, _ = _network()
    theta, base, idx, lay = theory.live_theta(params, masks, depth)
    active = [f"h{l}" for l in range(depth)] + ["out"]
    expected = sum(int(masks[k].sum()) + params[k]["b"].size for k in active)
    assert theta.shape == (expected,)
    assert {n for n, _, _, _ in lay} == set(active)  # the padded slot h2 is not in the layout
    assert len(set(idx.tolist())) == len(idx)


def test_flatten_round_trip_and_loss_equals_network_loss():
    params, masks, depth, x, y = _network()
    theta, base, idx, lay = theory.live_theta(params, masks, depth)
    back = theory.unflatten_params(jnp.asarray(base).at[idx].set(theta), params, lay)
    for k in params:
        for p in ("w", "b"):
            np.testing.assert_array_equal(np.asarray(back[k][p]), params[k][p])
    f = theory.live_loss_fn(losses.mse, params, masks, depth, base, idx, lay, x, y, "relu")
    np.testing.assert_allclose(float(f(jnp.asarray(theta))), float(losses.mse(params, masks, depth, x, y, "relu")),
                               rtol=1e-6)  # fmt: skip


def test_perturbing_theta_leaves_pruned_and_padded_weights_alone():
    params, masks, depth, x, y = _network(seed=1)
    theta, base, idx, lay = theory.live_theta(params, masks, depth)
    new = theory.unflatten_params(jnp.asarray(base).at[idx].set(theta + 1.0), params, lay)
    for k in [f"h{l}" for l in range(depth)] + ["out"]:
        w = np.asarray(new[k]["w"])
        np.testing.assert_array_equal(w[masks[k] == 0], 0.0)  # pruned weights stay exactly zero
        np.testing.assert_allclose(w[masks[k] == 1], params[k]["w"][masks[k] == 1] + 1.0, rtol=1e-6)
        np.testing.assert_allclose(np.asarray(new[k]["b"]), params[k]["b"] + 1.0, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(new["h2"]["w"]), params["h2"]["w"])  # padded slot untouched
    # and the live coordinates are exactly the ones the network's loss depends on through W * M:
    f = theory.live_loss_fn(losses.mse, params, masks, depth, base, idx, lay, x, y, "relu")
    g = jax.grad(f)(jnp.asarray(theta))
    full = jax.grad(lambda p: losses.mse(p, masks, depth, x, y, "relu"))(jax.tree.map(jnp.asarray, params))
    want = theory.flatten_params(jax.tree.map(np.asarray, full), lay)[idx]
    np.testing.assert_allclose(np.asarray(g), want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("p", [3, 5])
def test_radius_and_volume_recover_the_closed_form_quadratic_basin(p):
    """loss = c + 0.5 (theta - t0)' A (theta - t0): threshold c + max(c, floor), so the sub-threshold set is the
    ellipsoid {0.5 d' A d <= delta}, radii sqrt(2 delta / u'Au) and log V = log vol(B_p) + sum 0.5 log(2 delta / a)."""
    rng = np.random.default_rng(p)
    a = rng.uniform(0.5, 2.0, p)
    q, _ = np.linalg.qr(rng.normal(size=(p, p)))
    mat = jnp.asarray((q * a) @ q.T, jnp.float32)
    t0 = jnp.asarray(rng.normal(size=p), jnp.float32)
    c = 0.02
    f = lambda th: c + 0.5 * (th - t0) @ mat @ (th - t0)
    key, n = jax.random.PRNGKey(p), 4000
    loss0, thr, radii, cens = jax.jit(lambda th, k: T.radii_of(f, th, k, n))(t0, key)
    delta = max(c, T.FLOOR)
    assert float(thr) == pytest.approx(c + delta, rel=1e-6)
    u = np.asarray(jax.random.normal(key, (n, p), jnp.float32), np.float64)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    exact_r = np.sqrt(2 * delta / np.einsum("di,ij,dj->d", u, np.asarray(mat, np.float64), u))
    assert not np.any(cens)
    np.testing.assert_allclose(np.asarray(radii), exact_r, rtol=2e-3)  # N_BISECT bisections of a x1.33 bracket
    log_v, se = theory.log_volume(np.asarray(radii, np.float64), p)
    truth = theory.unit_ball_log_volume(p) + 0.5 * np.sum(np.log(2 * delta / a))
    assert abs(log_v - truth) < 4 * se + 0.01


def test_censored_directions_read_r_max():
    f = lambda th: 0.0 * th.sum() + 1.0  # flat: never crosses
    _, _, radii, cens = T.radii_of(f, jnp.zeros(4), jax.random.PRNGKey(0), 8)
    assert np.all(np.asarray(cens)) and np.allclose(np.asarray(radii), T.R_MAX)


def test_cell_ratio_is_difference_of_class_means():
    rows = []
    est = {}
    for s in range(6):
        comp = s < 2
        rows.append(dict(point=str(s), method="oracle", depth="2", seed=str(s), fit="True", diverged="False",
                         compositional=str(comp), fractured=str(not comp), C="0.95" if comp else "0.5",
                         compositional_local=str(s >= 3), IIA_das=str(0.1 * s), IIA="0.05",
                         live_params="10"))  # fmt: skip
        est[s] = dict(P=10, log_v=float(10 + s), log_v_se=1.0, jensen=float(s), censored=np.zeros(4, bool), loss0=0.01)
    run = type("R", (), {"rows": rows})()
    (cell,) = T.cells(run, est)
    assert cell["p_comp"] == pytest.approx(2 / 6) and cell["p_c08"] == pytest.approx(2 / 6)
    # the distributed label sets the classes; the local one (seeds 3-5) and the scores are only reported beside it
    assert cell["p_comp_local"] == pytest.approx(3 / 6)
    assert (cell["mean_iia_das"], cell["mean_iia"]) == pytest.approx((0.25, 0.05))
    assert len(T.HEADER) == len(T.KEYS) and T.HEADER[T.KEYS.index("mean_iia_das")] == "mean_IIA_das"
    assert cell["ratio"] == pytest.approx(np.mean([10, 11]) - np.mean([12, 13, 14, 15]))
    se = np.hypot(np.std([10, 11], ddof=1) / np.sqrt(2), np.std([12, 13, 14, 15], ddof=1) / 2)
    assert cell["ratio_se"] == pytest.approx(se)
    assert cell["ratio_per_p"] == pytest.approx(cell["ratio"] / 10)
    assert T.chosen_points(rows) == set(range(6))
