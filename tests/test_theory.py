import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sweetspot import metrics, theory


def _ellipsoid(p, seed):
    """A = R diag(a) R^T with a in [0.5, 2] and a random rotation R: loss 0.5 theta' A theta."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, p)
    q, _ = np.linalg.qr(rng.normal(size=(p, p)))
    return a, (q * a) @ q.T


def _exact_log_volume(a, t):
    """log vol {0.5 theta' A theta <= t} = log vol(B_p) + sum_i 0.5 log(2 t / a_i)."""
    return theory.unit_ball_log_volume(len(a)) + 0.5 * np.sum(np.log(2 * t / a))


def _directions(key, n, p):
    """The directions basin_radii draws (its documented contract)."""
    u = np.asarray(jax.random.normal(key, (n, p), jnp.float32), np.float64)
    return u / np.linalg.norm(u, axis=1, keepdims=True)


@pytest.mark.parametrize("p", [2, 3, 4, 5, 6])
def test_basin_radii_recover_quadratic_radii_and_volume(p):
    a, mat = _ellipsoid(p, p)
    t, n = 0.3, 3000
    amat = jnp.asarray(mat, jnp.float32)
    loss = lambda th: 0.5 * th @ amat @ th
    key = jax.random.PRNGKey(p)
    radii, censored = theory.basin_radii(loss, jnp.zeros(p), key, n, t, 10.0, n_bisect=30)
    u = _directions(key, n, p)
    exact = np.sqrt(2 * t / np.einsum("di,ij,dj->d", u, mat, u))
    assert not np.any(censored)
    np.testing.assert_allclose(np.asarray(radii), exact, rtol=1e-5)
    log_v, se = theory.log_volume(np.asarray(radii, np.float64), p)
    truth = _exact_log_volume(a, t)
    assert se < 0.03
    assert abs(log_v - truth) < 4 * se


@pytest.mark.parametrize("p", [2, 3, 4, 5, 6])
def test_volume_identity_with_exact_radii_many_directions(p):
    """vol(K) = vol(B_p) E_u[r(u)^p] is exact for star bodies: with exact radii only Monte Carlo error remains."""
    a, mat = _ellipsoid(p, 10 + p)
    t = 0.7
    rng = np.random.default_rng(p)
    u = rng.normal(size=(200_000, p))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    r = np.sqrt(2 * t / np.einsum("di,ij,dj->d", u, mat, u))
    log_v, se = theory.log_volume(r, p)
    assert se < 0.005
    assert abs(log_v - _exact_log_volume(a, t)) < 4 * se


def test_volume_identity_is_exact_in_two_dimensions():
    """Equally spaced angles integrate the periodic r(phi)^2 to machine precision: the identity, not an estimate."""
    a, mat = _ellipsoid(2, 0)
    t = 0.4
    phi = 2 * np.pi * np.arange(512) / 512
    u = np.stack([np.cos(phi), np.sin(phi)], 1)
    r = np.sqrt(2 * t / np.einsum("di,ij,dj->d", u, mat, u))
    log_v, _ = theory.log_volume(r, 2)
    assert abs(log_v - _exact_log_volume(a, t)) < 1e-10
    no_ball, _ = theory.log_volume(r, 2, include_ball=False)
    assert abs(log_v - no_ball - np.log(np.pi)) < 1e-12


def test_log_volume_ratio_cancels_ball_only_for_equal_dimension():
    rng = np.random.default_rng(0)
    ra, rb = rng.uniform(0.5, 1.0, 100), rng.uniform(0.5, 1.0, 100)
    same, _ = theory.log_volume_ratio(ra, 3, rb, 3)
    assert abs(same - (theory.log_volume(ra, 3)[0] - theory.log_volume(rb, 3)[0])) < 1e-12
    diff, se = theory.log_volume_ratio(ra, 3, rb, 4)
    assert abs(diff - (theory.log_volume(ra, 3)[0] - theory.log_volume(rb, 4)[0])) < 1e-12
    assert se > 0
    # Scaling every radius by c multiplies the volume by c^p.
    scaled, _ = theory.log_volume_ratio(2.0 * ra, 3, ra, 3)
    assert abs(scaled - 3 * np.log(2.0)) < 1e-12


def test_basin_radii_censoring_and_small_radii():
    # loss = 0.5 * 4 * theta_0^2: flat in the other directions, so near-orthogonal directions never exceed.
    p, t, r_max, n = 3, 0.02, 1.0, 2000
    loss = lambda th: 2.0 * th[0] ** 2
    key = jax.random.PRNGKey(1)
    radii, censored = theory.basin_radii(loss, jnp.zeros(p), key, n, t, r_max, n_bisect=30)
    radii, censored = np.asarray(radii), np.asarray(censored)
    u = _directions(key, n, p)
    exact = np.sqrt(2 * t / (4.0 * u[:, 0] ** 2))
    clear = np.abs(exact - r_max) > 1e-3  # away from the censoring boundary
    np.testing.assert_array_equal(censored[clear], exact[clear] > r_max)
    assert np.all(radii[censored] == r_max)
    np.testing.assert_allclose(radii[~censored & clear], exact[~censored & clear], rtol=1e-5)
    # P(|u_0| < 0.1) on S^2 is 0.1 (uniform u_0 in dimension 3).
    assert abs(censored.mean() - 0.1) < 0.03
    # A flat loss is censored everywhere; a threshold crossed before r_min is bracketed in [0, r_min].
    r_flat, c_flat = theory.basin_radii(lambda th: 0.0 * th.sum(), jnp.zeros(p), key, 16, 1.0, r_max)
    assert np.all(np.asarray(c_flat)) and np.all(np.asarray(r_flat) == r_max)
    r_tiny, c_tiny = theory.basin_radii(lambda th: th @ th, jnp.zeros(p), key, 16, 1e-12, r_max, n_bisect=30)
    assert not np.any(np.asarray(c_tiny))
    np.testing.assert_allclose(np.asarray(r_tiny), 1e-6, rtol=1e-4)


def test_fit_power_law_recovers_exponent():
    rng = np.random.default_rng(0)
    n = np.logspace(2, 6, 30)
    err = 3.0 * n**-0.7 * np.exp(0.1 * rng.normal(size=n.shape))
    fit = theory.fit_power_law(n, err, n_boot=500, seed=1)
    assert abs(fit.exponent + 0.7) < 0.05
    assert fit.ci[0] < -0.7 < fit.ci[1] and fit.ci[1] - fit.ci[0] < 0.15
    exact = theory.fit_power_law(n, 3.0 * n**-0.7, n_boot=50)
    assert abs(exact.exponent + 0.7) < 1e-12 and abs(exact.intercept - np.log(3.0)) < 1e-10
    with pytest.raises(ValueError):
        theory.fit_power_law(n, np.where(n > 1e5, 0.0, err))


def _random_layer(rng):
    """Standardised activations (possibly collinear, possibly W > B), targets, live and local masks."""
    b, w = int(rng.integers(4, 60)), int(rng.integers(1, 12))
    z = rng.normal(size=(b, w)) @ rng.normal(size=(w, w))
    if w > 2 and rng.random() < 0.3:
        z[:, -1] = z[:, 0] - 2 * z[:, 1]  # exact collinearity
    sd = z.std(0)
    z = np.where(sd > 1e-9, (z - z.mean(0)) / np.maximum(sd, 1e-9), 0.0)
    n_nodes = 3
    y = z @ rng.normal(size=(w, n_nodes)) + rng.uniform(0, 2) * rng.normal(size=(b, n_nodes))
    live = rng.random(w) < 0.85
    local = rng.random((n_nodes, w)) < rng.uniform(0.1, 0.9)
    return z, y, local, live


def test_gap_identity_and_bounds_hold_on_random_layers():
    rng = np.random.default_rng(0)
    for _ in range(400):
        z, y, local, live = _random_layer(rng)
        d = theory.gap_decomposition(z, y, local, live)
        np.testing.assert_allclose(d["gap"], d["quad"], atol=1e-9)
        bound, attained = theory.interference_bound(z, y, local, live)
        assert np.all(attained >= bound - 1e-9)
        upper = d["r2_any"] - d["lam_min"] * d["rho"] * d["w_norm2"] / d["var_y"]
        assert np.all(attained <= upper + 1e-9)
        n_out = (live & ~local).sum(1)
        assert np.all(d["lam_max"] <= n_out + 1e-9)  # standardised units: lam_max <= trace <= |O|


def test_interference_bound_is_tight_with_one_outside_unit_or_none():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6))
    y = z @ rng.normal(size=6) + rng.normal(size=200)
    live = np.ones(6, bool)
    one_out = np.array([True, True, True, True, True, False])
    bound, attained = theory.interference_bound(z, y, one_out, live)
    assert (
        abs(bound[0] - attained[0]) < 1e-10
        and attained[0] < theory.gap_decomposition(z, y, live, live)["r2_any"][0] - 1e-3
    )
    bound, attained = theory.interference_bound(z, y, live, live)  # everything local: r2_restricted = r2_any
    assert abs(bound[0] - attained[0]) < 1e-12


def test_in_sample_r2_matches_the_metrics_probe_as_ridge_vanishes():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(256, 5))
    z = (z - z.mean(0)) / z.std(0)
    y = z @ rng.normal(size=5) + 0.5 * rng.normal(size=256)
    sel = np.array([1, 1, 0, 1, 0], np.float32)
    d = theory.gap_decomposition(z, y, sel.astype(bool), np.ones(5, bool))
    zj, yj = jnp.asarray(z, jnp.float32), jnp.asarray(y, jnp.float32)
    r2_res, _ = metrics.ridge_r2(zj, zj, yj, yj, jnp.asarray(sel), 1e-7)
    r2_any, _ = metrics.ridge_r2(zj, zj, yj, yj, jnp.ones(5), 1e-7)
    assert abs(float(r2_res) - d["r2_restricted"][0]) < 1e-4
    assert abs(float(r2_any) - d["r2_any"][0]) < 1e-4


def test_cos2_bound_for_disjoint_local_sets():
    rng = np.random.default_rng(3)
    for _ in range(300):
        p, w = int(rng.integers(2, 6)), int(rng.integers(2, 15))
        home = rng.integers(-1, p, size=w)  # disjoint local sets: each unit local to at most one node
        sel = home[None, :] == np.arange(p)[:, None]
        readouts = rng.normal(size=(p, w)) * np.where(sel, 1.0, rng.uniform(0, 1))
        bound, attained = theory.cos2_bound(readouts, sel)
        off = ~np.eye(p, dtype=bool)
        assert np.all(np.isfinite(bound[off])) and np.all(attained[off] <= bound[off] + 1e-12)
    rho = 0.3  # tight: w_v' is one local unit, w_v leaks exactly onto it
    readouts = np.array([[np.sqrt(1 - rho), np.sqrt(rho), 0.0], [0.0, 1.0, 0.0]])
    sel = np.array([[1, 0, 0], [0, 1, 0]], bool)
    bound, attained = theory.cos2_bound(readouts, sel)
    assert abs(bound[0, 1] - rho) < 1e-12 and abs(attained[0, 1] - rho) < 1e-12
    overlap = np.array([[1, 1, 0], [0, 1, 0]], bool)
    assert np.isnan(theory.cos2_bound(readouts, overlap)[0][0, 1])


def test_welch_bound():
    rng = np.random.default_rng(4)
    for k, d in [(5, 3), (10, 4), (3, 3), (20, 2)]:
        v = rng.normal(size=(k, d))
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        cos2 = (v @ v.T) ** 2
        assert cos2[~np.eye(k, dtype=bool)].mean() >= theory.welch_bound(k, d) - 1e-12
    d = 4  # a regular simplex (k = d + 1) attains the bound: every cos^2 = 1 / d^2
    simplex = np.eye(d + 1) - 1.0 / (d + 1)
    simplex /= np.linalg.norm(simplex, axis=1, keepdims=True)
    cos2 = (simplex @ simplex.T) ** 2
    assert abs(cos2[~np.eye(d + 1, dtype=bool)].mean() - theory.welch_bound(d + 1, d)) < 1e-12
    assert theory.welch_bound(3, 5) == 0.0
