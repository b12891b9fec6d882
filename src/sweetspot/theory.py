"""Estimators for three theory checks, as pure functions (docs/theory.md).

1. Basin volume: `basin_radii` (jittable ray search of the sub-threshold region along random directions),
   `log_volume` / `log_volume_ratio` (the star-body volume identity V = vol(B_P) * E_u[r(u)^P]), and the
   live-parameter coordinates of a masked network (`live_theta`, `live_loss_fn`, `flatten_params`,
   `unflatten_params`) in which the basin is measured.
2. Scaling exponents: `fit_power_law` (log-log least squares with a bootstrap interval).
3. Feature interference vs restricted probes: `gap_decomposition` (the exact OLS identity
   R2_any - R2_restricted = w_O' Sigma_{O|S} w_O / Var y), `interference_bound` (the lower bound on R2_restricted
   it implies), `cos2_bound` (locality forces near-orthogonal readouts) and `welch_bound` (constituents per
   dimension force interference).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import gammaln, logsumexp


# ------------------------------------------------------------------------------------------- basin volume
def unit_ball_log_volume(p: int) -> float:
    """log vol of the unit ball in R^p: (p/2) log pi - log Gamma(p/2 + 1)."""
    return 0.5 * p * np.log(np.pi) - float(gammaln(0.5 * p + 1.0))


@functools.partial(jax.jit, static_argnames=("loss_fn", "n_directions", "n_bisect", "n_grid", "batch_size"))
def basin_radii(
    loss_fn,
    theta,
    key,
    n_directions: int,
    threshold,
    r_max,
    n_bisect: int = 24,
    r_min=None,
    n_grid: int = 32,
    batch_size: int | None = None,
):
    """Radius at which loss_fn first exceeds `threshold` along n_directions uniform unit directions.

    theta (P,) holds only the live parameters; loss_fn(theta) -> scalar. Directions are u = g / |g| with
    g = jax.random.normal(key, (n_directions, P), theta.dtype) (uniform on S^{P-1}). Along u the coarse grid
    r_k = r_min (r_max / r_min)^(k / (n_grid - 1)) is walked (lax.while_loop) to the first k with
    loss(theta + r_k u) > threshold; the bracket [r_{k-1}, r_k] ([0, r_0] when k = 0) is then bisected n_bisect
    times and its midpoint returned (error <= bracket / 2^(n_bisect + 1)).
    A crossing between two grid points that the loss leaves again before the next one is missed: the grid
    resolves the first exit only up to its ratio. Directions that never exceed up to r_max get r_max and
    censored = True (report censored.mean(); a volume computed from censored radii is a lower bound).
    threshold is absolute (e.g. loss_fn(theta) + delta). r_min defaults to 1e-4 r_max. Directions are vmapped,
    or lax.map'ed in batches of batch_size to bound memory. Returns (radii (n,), censored (n,) bool).
    Jitted with loss_fn static (hashed by identity: reuse one loss_fn object to reuse the compilation).
    """
    theta = jnp.asarray(theta)
    r_max = jnp.asarray(r_max, theta.dtype)
    r_min = r_max * 1e-4 if r_min is None else jnp.asarray(r_min, theta.dtype)
    grid = r_min * (r_max / r_min) ** (jnp.arange(n_grid, dtype=theta.dtype) / (n_grid - 1))
    u = jax.random.normal(key, (n_directions, theta.shape[0]), theta.dtype)
    u = u / jnp.linalg.norm(u, axis=1, keepdims=True)
    above = lambda d, r: loss_fn(theta + r * d) > threshold

    def one(d):
        below = lambda k: (k < n_grid) & ~above(d, grid[jnp.minimum(k, n_grid - 1)])
        k = jax.lax.while_loop(below, lambda k: k + 1, 0)  # first grid index above threshold (n_grid: none)
        lo = jnp.where(k == 0, 0.0, grid[jnp.maximum(k - 1, 0)])
        hi = grid[jnp.minimum(k, n_grid - 1)]

        def bisect(_, b):
            mid = 0.5 * (b[0] + b[1])
            up = above(d, mid)
            return jnp.where(up, b[0], mid), jnp.where(up, mid, b[1])

        lo, hi = jax.lax.fori_loop(0, n_bisect, bisect, (lo, hi))
        censored = k >= n_grid
        return jnp.where(censored, r_max, 0.5 * (lo + hi)), censored

    if batch_size is None:
        return jax.vmap(one)(u)
    return jax.lax.map(one, u, batch_size=batch_size)


def log_volume(radii, p: int, include_ball: bool = True) -> tuple[float, float]:
    """(log V_hat, its standard error) from radii r_d along n i.i.d. uniform directions in R^p.

    Estimator: a star-shaped body K = {theta + r u : 0 <= r < r(u)} has vol K = vol(B_p) E_u[r(u)^p] exactly
    (polar coordinates), so V_hat = vol(B_p) (1/n) sum_d r_d^p is unbiased for V, and
    log V_hat = log vol(B_p) + logsumexp_d(p log r_d) - log n (computed in log space: r^p overflows).
    Variance (delta method): Var(log V_hat) ~= Var(r^p) / (n E[r^p]^2), estimated by the sample variance of
    x_d = r_d^p / mean(r^p), i.e. se = std(x, ddof=1) / sqrt(n). For large p the mean is dominated by the few
    largest radii and the se itself is unreliable (heavy tail); p E[log r] <= log E[r^p] (Jensen) is a stable
    lower bound. include_ball=False drops log vol(B_p), which cancels in ratios of equal-p bodies.
    """
    lr = p * np.log(np.asarray(radii, np.float64))
    n = lr.shape[0]
    lse = float(logsumexp(lr))
    x = np.exp(lr - lse) * n
    se = float(np.std(x, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return (unit_ball_log_volume(p) if include_ball else 0.0) + lse - np.log(n), se


def log_volume_ratio(radii_a, p_a: int, radii_b, p_b: int) -> tuple[float, float]:
    """log(V_a / V_b) and its se (independent direction samples). The unit-ball terms cancel when p_a = p_b and
    are kept otherwise (then the ratio compares volumes of different dimension, in units of length^(p_a - p_b))."""
    same = p_a == p_b
    la, sa = log_volume(radii_a, p_a, include_ball=not same)
    lb, sb = log_volume(radii_b, p_b, include_ball=not same)
    return la - lb, float(np.hypot(sa, sb))


# --------------------------------------------------------------------------------------- scaling exponents
class PowerLaw(NamedTuple):
    exponent: float  # errors ~ exp(intercept) * n_params^exponent
    intercept: float  # in log space (natural log)
    ci: tuple[float, float]  # bootstrap 95% percentile interval of the exponent


def fit_power_law(n_params, errors, n_boot: int = 1000, seed: int = 0) -> PowerLaw:
    """Ordinary least squares of log(error) on log(n_params); the exponent's 95% interval is the 2.5/97.5
    percentiles over n_boot bootstrap resamples of the points (resamples with a single distinct n are
    skipped). Every n_params and error must be finite and > 0."""
    x, y = np.asarray(n_params, np.float64), np.asarray(errors, np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError("n_params and errors must be 1-D of equal length >= 2")
    if not (np.all(np.isfinite(x) & np.isfinite(y)) and np.all(x > 0) and np.all(y > 0)):
        raise ValueError("n_params and errors must be finite and positive (log-log fit)")
    lx, ly = np.log(x), np.log(y)

    def slope(a, b):
        a0 = a - a.mean()
        s = a0 @ (b - b.mean()) / (a0 @ a0)
        return s, b.mean() - s * a.mean()

    exponent, intercept = slope(lx, ly)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    ok = np.ptp(lx[idx], axis=1) > 0
    boots = np.array([slope(lx[i], ly[i])[0] for i in idx[ok]])
    lo, hi = np.percentile(boots, [2.5, 97.5]) if len(boots) else (np.nan, np.nan)
    return PowerLaw(float(exponent), float(intercept), (float(lo), float(hi)))


# ------------------------------------------------------------------------ interference vs restricted probes
def _ols_r2(z, y):
    """In-sample R^2 and min-norm OLS weights of centred y on centred z (B, k); (0, []) when k = 0."""
    if z.shape[1] == 0:
        return 0.0, np.zeros(0)
    w = np.linalg.lstsq(z, y, rcond=None)[0]
    return float(1.0 - np.sum((y - z @ w) ** 2) / np.sum(y**2)), w


def gap_decomposition(z, y, sel_local, sel_live) -> dict[str, np.ndarray]:
    """Per node v, the exact OLS decomposition of the fracture gap (float64, in-sample, ridge -> 0).

    z (B, W) unit activations (standardised in metrics; columns are centred here), y (B,) or (B, P) node targets
    (centred here), sel_local (W,) or (P, W) the units local to each node, sel_live (W,) the live units. With
    L = live, S = L & local, O = L \\ S, w the min-norm OLS readout of y on Z_L, Sigma_{O|S} =
    Z_O' (I - P_S) Z_O / B (covariance of the outside units after regressing out the local ones):
        r2_any - r2_restricted = w_O' Sigma_{O|S} w_O / Var(y)   (exact; docs/theory.md).
    Returns (P,) arrays: r2_any, r2_restricted, gap, quad (the right side), rho = |w_O|^2 / |w|^2, w_norm2 =
    |w|^2, var_y, lam_min / lam_max (extreme eigenvalues of Sigma_{O|S}; 0 when O is empty), and the (P, W)
    readouts w.
    """
    z = np.asarray(z, np.float64)
    z = z - z.mean(0)
    y = np.asarray(y, np.float64)
    y = (y[:, None] if y.ndim == 1 else y) - y.mean(0)
    n, width = z.shape
    n_nodes = y.shape[1]
    live = np.asarray(sel_live, bool)
    local = np.broadcast_to(np.asarray(sel_local, bool), (n_nodes, width)) & live
    keys = ("r2_any", "r2_restricted", "gap", "quad", "rho", "w_norm2", "var_y", "lam_min", "lam_max")
    out = {k: np.zeros(n_nodes) for k in keys}
    out["w"] = np.zeros((n_nodes, width))
    for v in range(n_nodes):
        s, o = local[v], live & ~local[v]
        r2_any, w_l = _ols_r2(z[:, live], y[:, v])
        r2_res, _ = _ols_r2(z[:, s], y[:, v])
        w = np.zeros(width)
        w[live] = w_l
        zo = z[:, o]
        if s.any() and o.any():
            zo = zo - z[:, s] @ np.linalg.lstsq(z[:, s], zo, rcond=None)[0]
        cov = zo.T @ zo / n
        lam = np.linalg.eigvalsh(cov) if o.any() else np.zeros(1)
        var_y = float(y[:, v] @ y[:, v] / n)
        w_norm2 = float(w @ w)
        vals = (
            r2_any,
            r2_res,
            r2_any - r2_res,
            float(w[o] @ cov @ w[o]) / var_y,
            float(w[o] @ w[o]) / max(w_norm2, 1e-300),
            w_norm2,
            var_y,
            lam[0],
            lam[-1],
        )
        for k, val in zip(keys, vals, strict=True):
            out[k][v] = val
        out["w"][v] = w
    return out


def interference_bound(z, y, sel_local, sel_live) -> tuple[np.ndarray, np.ndarray]:
    """(bound, attained) per node, with attained >= bound always (docs/theory.md, theorem 1):
        attained = r2_restricted (in-sample OLS from the live units local to v),
        bound    = r2_any - lam_max(Sigma_{O|S}) rho |w|^2 / Var(y)
    where rho is the fraction of the squared norm of the all-units OLS readout w on units outside the local set.
    Equality holds when w_O is a top eigenvector of Sigma_{O|S}: always when at most one live unit lies
    outside the local set. Arguments as in `gap_decomposition`."""
    d = gap_decomposition(z, y, sel_local, sel_live)
    bound = d["r2_any"] - d["lam_max"] * d["rho"] * d["w_norm2"] / d["var_y"]
    return bound, d["r2_restricted"]


def cos2_bound(w, sel_local) -> tuple[np.ndarray, np.ndarray]:
    """(bound, attained) (P, P) for readouts w (P, W) and local sets sel_local (P, W): attained = cos^2(w_v, w_v'),
    bound = min(1, (sqrt rho_v + sqrt rho_v')^2) with rho_v = |w_v outside S_v|^2 / |w_v|^2. The claim
    attained <= bound holds for pairs v != v' with disjoint local sets (theorem 2); other entries read NaN."""
    w = np.asarray(w, np.float64)
    sel = np.asarray(sel_local, bool)
    norm2 = np.maximum((w**2).sum(1), 1e-300)
    rho = (w**2 * ~sel).sum(1) / norm2
    cos2 = (w @ w.T) ** 2 / np.outer(norm2, norm2)
    bound = np.minimum(1.0, (np.sqrt(rho)[:, None] + np.sqrt(rho)[None, :]) ** 2)
    disjoint = ((sel.astype(int) @ sel.T.astype(int)) == 0) & ~np.eye(len(w), dtype=bool)
    return np.where(disjoint, bound, np.nan), np.where(disjoint, cos2, np.nan)


def welch_bound(k: int, d: int) -> float:
    """Lower bound on the mean of cos^2 over ordered pairs of k nonzero vectors spanning <= d dimensions:
    max(0, (k - d) / (d (k - 1))) (Welch 1974; tight for equiangular tight frames, e.g. a simplex, k = d + 1)."""
    return max(0.0, (k - d) / (d * (k - 1))) if k > 1 else float("nan")


# ---------------------------------------------------------------- live parameters of a masked network (basin volume)
def param_layout(params: dict, depth: int) -> list[tuple[str, str, tuple, int]]:
    """(layer, 'w' | 'b', shape, offset) of every array of the active layers h0 .. h{depth-1} and out (padded
    slots excluded), in the order of the flat parameter vector."""
    out, off = [], 0
    for name in [f"h{l}" for l in range(depth)] + ["out"]:
        for part in ("w", "b"):
            shape = tuple(np.shape(params[name][part]))
            out.append((name, part, shape, off))
            off += int(np.prod(shape))
    return out


def flatten_params(params: dict, lay) -> np.ndarray:
    """The active layers' weights and biases as one flat float32 vector (layout order)."""
    return np.concatenate([np.ravel(np.asarray(params[n][p], np.float32)) for n, p, _, _ in lay])


def unflatten_params(flat, params: dict, lay) -> dict:
    """params with the active layers' arrays read from `flat` (layout order); other (padded) layers unchanged."""
    out = {k: dict(v) for k, v in params.items()}
    for n, p, shape, off in lay:
        out[n][p] = flat[off : off + int(np.prod(shape))].reshape(shape)
    return out


def live_index(masks: dict, lay) -> np.ndarray:
    """Flat indices (into the layout vector) of the live parameters: weights whose mask is 1 and all biases."""
    idx = []
    for n, p, shape, off in lay:
        keep = np.ravel(np.asarray(masks[n]) > 0.5) if p == "w" else np.ones(int(np.prod(shape)), bool)
        idx.append(off + np.flatnonzero(keep))
    return np.concatenate(idx).astype(np.int32)


def live_theta(params: dict, masks: dict, depth: int):
    """(theta (P,), base flat vector, live index, layout) of one network: theta holds its live parameters (the
    unmasked weights and every bias of the active layers); pruned weights and padded layers stay in `base`."""
    lay = param_layout(params, depth)
    base = flatten_params(params, lay)
    idx = live_index(masks, lay)
    return base[idx], base, idx, lay


def live_loss_fn(loss, params, masks, depth, base, idx, lay, x, y, activation):
    """loss_fn(theta) = loss(params, masks, depth, x, y, activation) of the network whose live parameters are
    theta (the rest read from `base`); `loss` is e.g. losses.mse. Pruned weights stay 0 through the mask."""

    def loss_fn(theta):
        flat = jnp.asarray(base).at[idx].set(theta)
        return loss(unflatten_params(flat, params, lay), masks, depth, x, y, activation)

    return loss_fn
