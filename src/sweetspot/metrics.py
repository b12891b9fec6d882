"""Compositionality metrics of one network, as pure jittable functions. docs/method.md, section "Metrics".

`compute(params, masks, depth, activation, probe, fit_r2, mcfg)` returns a dict of fixed-shape arrays given
(n_slots, P): it vmaps over grid points. `probe` holds evaluation data from `make_probe`; `mcfg` is the static
`config.metrics` block. Hidden layers with index >= depth (identity padding) read NaN in every per-layer vector
and count nowhere. `reference_compute` is a slow float64 numpy implementation of the same definitions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from sweetspot import mlp

STD_EPS = 1e-6  # a unit whose probe-train std is <= this is a constant: its standardised value is 0


def r2(pred, y, eps: float = 0.0):
    """R^2 = 1 - mean((pred - y)^2) / max(Var(y), eps), over every sample and output."""
    return 1.0 - jnp.mean((pred - y) ** 2) / jnp.maximum(jnp.var(y), eps)


def make_probe(target, mcfg, seed: int = 0) -> dict[str, np.ndarray]:
    """Probe data for `compute`: x from the target's domain for signatures, probe-train and probe-test (seed),
    their node values, and the target structure as arrays."""
    s = target.structure
    rng = np.random.default_rng([int(seed), 7])
    draw = lambda m: target.sample(rng, int(m))
    x_sig, x_train, x_test = draw(mcfg.n_signature), draw(mcfg.n_probe_train), draw(mcfg.n_probe_test)
    return {
        "x_sig": x_sig,
        "x_train": x_train,
        "h_train": np.asarray(target.node_values(x_train), np.float32),
        "x_test": x_test,
        "h_test": np.asarray(target.node_values(x_test), np.float32),
        "support": s.support.astype(np.float32),
        "probe_nodes": np.asarray(s.probe_nodes, np.int32),
        "node_level": np.asarray(s.level, np.int32),
        "first_output": np.asarray(s.n_nodes - s.n_outputs, np.int32),
    }


def signatures_with_output(params, masks, depth, activation, x):
    """(mean |d a_u / d x_i| of every hidden unit (n_slots, width, n), mean |d y / d x_i| (n,)) over x.
    One forward-mode pass per input direction."""

    def per_input(e):
        tangent = jnp.broadcast_to(e, x.shape)
        _, (dy, dh) = jax.jvp(lambda z: mlp.apply(params, masks, depth, z, activation, True), (x,), (tangent,))
        return jnp.abs(dh).mean(1), jnp.abs(dy).mean()  # (n_slots, width), ()

    hidden, out = jax.lax.map(per_input, jnp.eye(x.shape[1], dtype=x.dtype))
    return jnp.moveaxis(hidden, 0, -1), out


def signatures(params, masks, depth, activation, x):
    """Mean |d a_u / d x_i| over x: (n_slots, width, n). One forward-mode pass per input direction."""
    return signatures_with_output(params, masks, depth, activation, x)[0]


def live_units(masks, depth, sig_total, dead_eps):
    """Bool (n_slots, width): active layer, >= 1 live input and output weight, and total signal >= dead_eps."""
    n_slots = len(masks) - 1
    rows = []
    for l in range(n_slots):
        has_in = masks[f"h{l}"].sum(0) > 0
        out_next = (
            (masks["out"].sum(1) > 0)
            if l == n_slots - 1
            else jnp.where(l + 1 < depth, masks[f"h{l + 1}"].sum(1) > 0, masks["out"].sum(1) > 0)
        )
        rows.append(has_in & out_next & (l < depth))
    return jnp.stack(rows) & (sig_total >= dead_eps)


def locality(sig, masks, depth, support, mcfg):
    """(live (n_slots, W), local (n_slots, W, n_nodes)) bools from signatures `sig` (n_slots, W, n): live units
    (`live_units`), and unit u local to node v when >= mcfg.local_tau of its normalised signature lies in S_v."""
    total = sig.sum(-1)
    live = live_units(masks, depth, total, mcfg.dead_eps)
    g = sig / jnp.maximum(total, 1e-30)[..., None]
    return live, (g @ support.T >= mcfg.local_tau) & live[..., None]


def home_nodes(local, support):
    """Int (n_slots, W): each unit's home, the node it is local to with the smallest support (ties: lowest id);
    -1 for units local to no node (dead and padded units included)."""
    n_nodes = support.shape[0]
    rank = support.sum(1) * n_nodes + jnp.arange(n_nodes)
    home = jnp.argmin(jnp.where(local, rank, jnp.inf), axis=-1)
    return jnp.where(local.any(-1), home, -1)


def standardise(a_train, a_test):
    """Per-unit z-scores with probe-train mean and std; units with std <= STD_EPS read 0."""
    mu, sd = a_train.mean(-2, keepdims=True), a_train.std(-2, keepdims=True)
    z = lambda a: jnp.where(sd > STD_EPS, (a - mu) / jnp.maximum(sd, STD_EPS), 0.0)
    return z(a_train), z(a_test)


def spd_solve(a, b):
    """Solves a x = b for symmetric positive-definite a (k, k) by a Cholesky factorisation written in plain XLA
    ops. jnp.linalg.solve calls LAPACK through a custom call whose batched CPU kernel deadlocks inside large
    vmapped programs (jaxlib 0.10, seen here); this keeps every metric LAPACK-free."""
    k = a.shape[0]
    idx = jnp.arange(k)

    def factor(j, low):
        row = jnp.where(idx < j, low[j], 0.0)
        d = jnp.sqrt(jnp.maximum(a[j, j] - row @ row, 1e-30))
        col = (a[:, j] - low @ row) / d
        return low.at[:, j].set(jnp.where(idx > j, col, jnp.where(idx == j, d, 0.0)))

    low = jax.lax.fori_loop(0, k, factor, jnp.zeros_like(a))

    def forward(i, y):  # low y = b
        return y.at[i].set((b[i] - jnp.where(idx < i, low[i], 0.0) @ y) / low[i, i])

    def backward(t, x):  # low^T x = y
        i = k - 1 - t
        return x.at[i].set((y[i] - jnp.where(idx > i, low[:, i], 0.0) @ x) / low[i, i])

    y = jax.lax.fori_loop(0, k, forward, jnp.zeros_like(b))
    return jax.lax.fori_loop(0, k, backward, jnp.zeros_like(b))


def ridge_r2(z_tr, z_te, y_tr, y_te, sel, ridge):
    """Held-out R^2 and weights of y ~ b + z[:, sel] w, minimising mean sq. error + ridge |w|^2 (b free);
    `sel` (width,) is a 0/1 selection applied inside the solve, so shapes are fixed. 0 when sel is empty.
    Uses (z*s)^T (z*s) = (z^T z) * outer(s, s), so under a vmap over nodes z^T z is computed once per layer."""
    n = z_tr.shape[0]
    y_mean = y_tr.mean()
    gram = (z_tr.T @ z_tr / n) * jnp.outer(sel, sel) + ridge * jnp.eye(z_tr.shape[1], dtype=z_tr.dtype)
    w = spd_solve(gram, (z_tr.T @ (y_tr - y_mean) / n) * sel)
    resid = y_te - (y_mean + z_te @ (sel * w))
    r2 = 1.0 - jnp.sum(resid**2) / jnp.sum((y_te - y_te.mean()) ** 2)
    return jnp.where(sel.sum() > 0, r2, 0.0), w


def _masked_max(x, valid, axis):
    """Max of x over `axis` where valid; NaN where nothing is valid."""
    valid = jnp.broadcast_to(valid, x.shape)
    return jnp.where(valid.any(axis), jnp.max(jnp.where(valid, x, -jnp.inf), axis=axis), jnp.nan)


def _probes(params, masks, depth, activation, probe, live, local, ridge):
    """Held-out R^2 (L, P) of every probe node from every layer's local units and from all its live units, and
    the unrestricted probe weights (L, P, W)."""
    nodes = probe["probe_nodes"]
    _, h_tr = mlp.apply(params, masks, depth, probe["x_train"], activation, True)
    _, h_te = mlp.apply(params, masks, depth, probe["x_test"], activation, True)
    z_tr, z_te = standardise(h_tr, h_te)  # (L, B, W)
    y_tr, y_te = probe["h_train"][:, nodes], probe["h_test"][:, nodes]  # (B, P)
    sel_restricted = jnp.moveaxis(local[:, :, nodes], -1, 1).astype(z_tr.dtype)  # (L, P, W)
    sel_any = jnp.broadcast_to(live[:, None, :], sel_restricted.shape).astype(z_tr.dtype)
    per_node = jax.vmap(ridge_r2, in_axes=(None, None, 1, 1, 0, None))  # over P
    per_layer = jax.vmap(per_node, in_axes=(0, 0, None, None, 0, None))  # over L
    r2_res_l, _ = per_layer(z_tr, z_te, y_tr, y_te, sel_restricted, ridge)  # (L, P)
    r2_any_l, w_any = per_layer(z_tr, z_te, y_tr, y_te, sel_any, ridge)  # (L, P), (L, P, W)
    return r2_res_l, r2_any_l, w_any


def _interference_layers(w_any, probe, active):
    """Per layer: mean squared cosine between the unrestricted probe directions of same-level nodes (NaN where
    no such pair exists or the layer is padding)."""
    nodes = probe["probe_nodes"]
    level = probe["node_level"][nodes]
    pairs = (level[:, None] == level[None, :]) & ~jnp.eye(nodes.shape[0], dtype=bool)
    unit = w_any / jnp.maximum(jnp.linalg.norm(w_any, axis=-1, keepdims=True), 1e-30)
    cos2 = jnp.einsum("lpw,lqw->lpq", unit, unit) ** 2
    n_pairs = pairs.sum()
    mean_cos2 = (cos2 * pairs).sum((1, 2)) / jnp.maximum(n_pairs, 1)
    return jnp.where(active & (n_pairs > 0), mean_cos2, jnp.nan), active & (n_pairs > 0)


def _purity_layers(local, live, probe, active):
    """Per layer: fraction of live units whose home (smallest local node; ties: lowest id) is not an output."""
    home = home_nodes(local, probe["support"])  # (L, W)
    non_output = (home >= 0) & (home < probe["first_output"]) & live
    n_live = live.sum(1)
    return jnp.where(active & (n_live > 0), non_output.sum(1) / jnp.maximum(n_live, 1), jnp.nan), n_live


def compute(params, masks, depth, activation, probe, fit_r2, mcfg, fit=None) -> dict[str, jax.Array]:
    """Every metric of one network (definitions in docs/method.md, "Metrics"). Shapes depend only on
    (n_slots, P): scalars, (P,), (n_slots,) and (P, n_slots); padded layers read NaN. `fit` (bool), when given,
    replaces `fit_r2 >= mcfg.fit_r2` (Boolean targets: accuracy >= mcfg.fit_accuracy)."""
    n_slots = len(params) - 1
    active = jnp.arange(n_slots) < depth
    nodes = probe["probe_nodes"]
    sig = signatures(params, masks, depth, activation, probe["x_sig"])  # (L, W, n)
    live, local = locality(sig, masks, depth, probe["support"], mcfg)  # (L, W), (L, W, n_nodes)
    r2_res_l, r2_any_l, w_any = _probes(params, masks, depth, activation, probe, live, local, mcfg.ridge)
    r2_restricted = _masked_max(r2_res_l, active[:, None], 0)
    r2_any = _masked_max(r2_any_l, active[:, None], 0)
    fit = fit_r2 >= mcfg.fit_r2 if fit is None else jnp.asarray(fit, bool)
    if nodes.shape[0]:
        c_score = jnp.clip(r2_restricted, 0.0, 1.0).mean()
        compositional = fit & (r2_restricted.min() >= mcfg.compositional_r2)
    else:  # a target without constituents (one node reads every input) has nothing to be compositional about
        c_score, compositional = jnp.array(jnp.nan, jnp.float32), jnp.zeros((), bool)
    interference_layers, has_pairs = _interference_layers(w_any, probe, active)
    purity_layers, n_live = _purity_layers(local, live, probe, active)
    nan_pad = lambda x: jnp.where(active, x, jnp.nan)
    return {
        "fit": fit,
        "unfit": ~fit,
        "compositional": compositional,
        "fractured": fit & ~compositional,
        "C": c_score,
        "r2_restricted": r2_restricted,
        "r2_any": r2_any,
        "fracture_gap": r2_any - r2_restricted,
        "r2_restricted_layers": nan_pad(r2_res_l.T),  # (P, L)
        "r2_any_layers": nan_pad(r2_any_l.T),
        "n_local": nan_pad(local[:, :, nodes].sum(1).T.astype(jnp.float32)),
        "interference": _masked_max(interference_layers, has_pairs, 0),
        "interference_layers": interference_layers,
        "purity_layers": purity_layers,
        "live_units_layers": nan_pad(n_live.astype(jnp.float32)),
        "dead_units": (~live & active[:, None]).sum(),
    }


# ------------------------------------------------------------------------------------- numpy reference
def reference_compute(params, masks, depth, activation, probe, fit_r2, mcfg) -> dict[str, np.ndarray]:
    """Slow float64 numpy version of `compute` (loops, exact Jacobians, np.linalg.solve on the selected
    units with an unpenalised intercept column)."""
    params = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    masks = jax.tree.map(lambda a: np.asarray(a, np.float64), masks)
    probe = {k: np.asarray(v) for k, v in probe.items()}
    depth = int(depth)
    n_slots = len(params) - 1
    support = probe["support"].astype(bool)
    nodes = [int(v) for v in probe["probe_nodes"]]
    n_nodes, n_probe = support.shape[0], len(nodes)
    nan = float("nan")

    _, jac = mlp.np_forward(params, masks, depth, activation, probe["x_sig"].astype(np.float64))
    h_tr, _ = mlp.np_forward(params, masks, depth, activation, probe["x_train"].astype(np.float64))
    h_te, _ = mlp.np_forward(params, masks, depth, activation, probe["x_test"].astype(np.float64))
    width = h_tr.shape[-1]
    live = np.zeros((n_slots, width), bool)
    local = np.zeros((n_slots, width, n_nodes), bool)
    for l in range(depth):
        nxt = masks[f"h{l + 1}"] if l + 1 < depth else masks["out"]
        for u in range(width):
            sig = np.abs(jac[l, :, u, :]).mean(0)
            live[l, u] = masks[f"h{l}"][:, u].any() and nxt[u].any() and sig.sum() >= mcfg.dead_eps
            if live[l, u]:
                for v in range(n_nodes):
                    local[l, u, v] = sig[support[v]].sum() / sig.sum() >= mcfg.local_tau

    def probe_r2(l, units, col):
        if not units:
            return 0.0, np.zeros(width)
        a_tr, a_te = h_tr[l][:, units], h_te[l][:, units]
        mu, sd = a_tr.mean(0), a_tr.std(0)
        ok = sd > STD_EPS
        z_tr = np.where(ok, (a_tr - mu) / np.where(ok, sd, 1.0), 0.0)
        z_te = np.where(ok, (a_te - mu) / np.where(ok, sd, 1.0), 0.0)
        y_tr, y_te = probe["h_train"][:, col].astype(float), probe["h_test"][:, col].astype(float)
        x_tr = np.concatenate([np.ones((len(z_tr), 1)), z_tr], 1)
        x_te = np.concatenate([np.ones((len(z_te), 1)), z_te], 1)
        pen = np.diag([0.0] + [mcfg.ridge] * len(units))
        beta = np.linalg.solve(x_tr.T @ x_tr / len(x_tr) + pen, x_tr.T @ y_tr / len(x_tr))
        r2 = 1 - np.sum((y_te - x_te @ beta) ** 2) / np.sum((y_te - y_te.mean()) ** 2)
        w = np.zeros(width)
        w[units] = beta[1:]
        return r2, w

    r2_res_l = np.full((n_probe, n_slots), nan)
    r2_any_l = np.full((n_probe, n_slots), nan)
    n_local = np.full((n_probe, n_slots), nan)
    w_any = np.zeros((n_slots, n_probe, width))
    for l in range(depth):
        for p, v in enumerate(nodes):
            loc = [u for u in range(width) if local[l, u, v]]
            n_local[p, l] = len(loc)
            r2_res_l[p, l], _ = probe_r2(l, loc, v)
            r2_any_l[p, l], w_any[l, p] = probe_r2(l, [u for u in range(width) if live[l, u]], v)
    r2_restricted = np.nanmax(r2_res_l, 1) if n_probe else np.zeros(0)
    r2_any = np.nanmax(r2_any_l, 1) if n_probe else np.zeros(0)

    fit = bool(fit_r2 >= mcfg.fit_r2)
    c_score = float(np.mean(np.clip(r2_restricted, 0, 1))) if n_probe else nan
    compositional = fit and bool(n_probe) and bool(r2_restricted.min() >= mcfg.compositional_r2)

    level = probe["node_level"]
    interference_layers = np.full(n_slots, nan)
    purity_layers = np.full(n_slots, nan)
    size = support.sum(1)
    for l in range(depth):
        cos2 = [
            (w_any[l, p] @ w_any[l, q]) ** 2 / max(np.sum(w_any[l, p] ** 2) * np.sum(w_any[l, q] ** 2), 1e-300)
            for p in range(n_probe)
            for q in range(n_probe)
            if p != q and level[nodes[p]] == level[nodes[q]]
        ]
        if cos2:
            interference_layers[l] = np.mean(cos2)
        # A live unit local to no node (possible only if the root misses inputs) is not counted as pure.
        homes = [
            min([(size[v], v) for v in range(n_nodes) if local[l, u, v]] or [(0, n_nodes - 1)])[1]
            for u in range(width)
            if live[l, u]
        ]
        if homes:
            purity_layers[l] = np.mean([h < int(probe["first_output"]) for h in homes])
    with np.errstate(all="ignore"):
        interference = np.nanmax(interference_layers) if np.isfinite(interference_layers).any() else nan
    return {
        "fit": fit,
        "unfit": not fit,
        "compositional": compositional,
        "fractured": fit and not compositional,
        "C": c_score,
        "r2_restricted": r2_restricted,
        "r2_any": r2_any,
        "fracture_gap": r2_any - r2_restricted,
        "r2_restricted_layers": r2_res_l,
        "r2_any_layers": r2_any_l,
        "n_local": n_local,
        "interference": interference,
        "interference_layers": interference_layers,
        "purity_layers": purity_layers,
        "live_units_layers": np.where(np.arange(n_slots) < depth, live.sum(1), nan),
        "dead_units": int(sum((~live[l]).sum() for l in range(depth))),
    }
