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

from sweetspot import causal, das, mlp
from sweetspot.probe_data import make_probe  # noqa: F401  (the probe data's home is probe_data.py)

STD_EPS = 1e-6  # a unit whose probe-train std is <= this is a constant: its standardised value is 0
CHANCE_EPS = 1e-6  # beyond_chance: a control within this of 1 leaves nothing to beat


def r2(pred, y, eps: float = 0.0):
    """R^2 = 1 - mean((pred - y)^2) / max(Var(y), eps), over every sample and output."""
    return 1.0 - jnp.mean((pred - y) ** 2) / jnp.maximum(jnp.var(y), eps)


def signatures_with_output(params, masks, depth, activation, x):
    """(mean |d a_u / d x_i| of every hidden unit (n_slots, width, n), mean |d y_j / d x_i| of every output
    (n_outputs, n)) over x. One forward-mode pass per input direction."""

    def per_input(e):
        tangent = jnp.broadcast_to(e, x.shape)
        _, (dy, dh) = jax.jvp(lambda z: mlp.apply(params, masks, depth, z, activation, True), (x,), (tangent,))
        dy_mean = jnp.abs(dy).mean()[None] if dy.ndim == 1 else jnp.abs(dy).mean(0)  # (n_outputs,)
        return jnp.abs(dh).mean(1), dy_mean  # (n_slots, width), (n_outputs,)

    hidden, out = jax.lax.map(per_input, jnp.eye(x.shape[1], dtype=x.dtype))
    return jnp.moveaxis(hidden, 0, -1), out.T


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


def balanced_j(pred, y):
    """Chance-corrected accuracy of a +-1 classifier: sensitivity + specificity - 1 (Youden's J) of sign(pred)
    against y > 0; 0 for a constant guess, 1 for a perfect one; NaN when y holds one class only."""
    pos, hit = y > 0, (pred > 0) == (y > 0)
    n_pos, n_neg = pos.sum(), (~pos).sum()
    j = (hit & pos).sum() / jnp.maximum(n_pos, 1) + (hit & ~pos).sum() / jnp.maximum(n_neg, 1) - 1.0
    return jnp.where((n_pos > 0) & (n_neg > 0), j, jnp.nan)


def ridge_r2(z_tr, z_te, y_tr, y_te, sel, ridge, binary: bool = False):
    """Held-out R^2 and weights of y ~ b + z[:, sel] w, minimising mean sq. error + ridge |w|^2 (b free);
    `sel` (width,) is a 0/1 selection applied inside the solve, so shapes are fixed. 0 when sel is empty.
    Uses (z*s)^T (z*s) = (z^T z) * outer(s, s), so under a vmap over nodes z^T z is computed once per layer.
    `binary` (+-1 node values): the same least-squares discriminant, scored by classification (`balanced_j` of
    its sign) in place of R^2."""
    n = z_tr.shape[0]
    y_mean = y_tr.mean()
    gram = (z_tr.T @ z_tr / n) * jnp.outer(sel, sel) + ridge * jnp.eye(z_tr.shape[1], dtype=z_tr.dtype)
    w = spd_solve(gram, (z_tr.T @ (y_tr - y_mean) / n) * sel)
    pred = y_mean + z_te @ (sel * w)
    r2 = balanced_j(pred, y_te) if binary else 1.0 - jnp.sum((y_te - pred) ** 2) / jnp.sum((y_te - y_te.mean()) ** 2)
    return jnp.where(sel.sum() > 0, r2, 0.0), w


def _masked_max(x, valid, axis):
    """Max of x over `axis` where valid; NaN where nothing is valid."""
    valid = jnp.broadcast_to(valid, x.shape)
    return jnp.where(valid.any(axis), jnp.max(jnp.where(valid, x, -jnp.inf), axis=axis), jnp.nan)


def _layer_probes(params, masks, depth, activation, probe):
    """Standardised hidden activations on probe-train and probe-test (L, B, W) and the probe nodes' values."""
    nodes = probe["probe_nodes"]
    _, h_tr = mlp.apply(params, masks, depth, probe["x_train"], activation, True)
    _, h_te = mlp.apply(params, masks, depth, probe["x_test"], activation, True)
    z_tr, z_te = standardise(h_tr, h_te)  # (L, B, W)
    return (z_tr, z_te, probe["h_train"][:, nodes], probe["h_test"][:, nodes]), h_tr.std(-2)


def _probe_r2(z_tr, z_te, y_tr, y_te, sel, ridge, binary: bool = False):
    """Held-out R^2 (L, P) and weights (L, P, W) of every probe node from the units sel (L, P, W) of each layer
    (`binary`: chance-corrected classification accuracy in place of R^2, `ridge_r2`)."""
    probe = lambda *a: ridge_r2(*a, binary)
    per_node = jax.vmap(probe, in_axes=(None, None, 1, 1, 0, None))  # over P
    per_layer = jax.vmap(per_node, in_axes=(0, 0, None, None, 0, None))  # over L
    return per_layer(z_tr, z_te, y_tr, y_te, sel.astype(z_tr.dtype), ridge)


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


def _purity_layers(home, live, probe, active):
    """Per layer: fraction of live units whose home (smallest local node; ties: lowest id) is not an output."""
    non_output = (home >= 0) & (home < probe["first_output"]) & live
    n_live = live.sum(1)
    return jnp.where(active & (n_live > 0), non_output.sum(1) / jnp.maximum(n_live, 1), jnp.nan), n_live


def node_mean(v, keep):
    """Mean of per-node values v (P,) over the kept nodes whose value is finite; NaN when there is none."""
    ok = keep & jnp.isfinite(v)
    return jnp.where(ok.any(), jnp.where(ok, v, 0.0).sum() / jnp.maximum(ok.sum(), 1), jnp.nan)


def node_min(v, keep):
    """Min of v (P,) over the kept nodes (NaN if a kept node is NaN, or when none is kept)."""
    return jnp.where(keep.any(), jnp.min(jnp.where(keep, v, jnp.inf), initial=jnp.inf), jnp.nan)


def _over_layers(per_layer, active):
    """(L, P) -> (P,): max over the active layers of the finite values (NaN where there is none)."""
    return _masked_max(per_layer, active[:, None] & jnp.isfinite(per_layer), 0)


def _das_start(w, sd):
    """(L, P, W) a probe's weights (L, P, W) on standardised units as a direction of the raw activations."""
    return w / jnp.maximum(sd, STD_EPS)[:, None, :]


def core(params, masks, depth, activation, probe, mcfg, binary: bool = False) -> dict:
    """What a network's compositionality rests on, and all the null calibration needs: signatures and locality,
    restricted and unrestricted probes, interventions on the local units (C, IIA), and the inputs of the
    distributed search (`searches`): the pairs, the units it may use and its starts."""
    active = jnp.arange(len(params) - 1) < depth
    sig = signatures(params, masks, depth, activation, probe["x_sig"])  # (L, W, n)
    live, local = locality(sig, masks, depth, probe["support"], mcfg)  # (L, W), (L, W, n_nodes)
    home = home_nodes(local, probe["support"])  # (L, W)
    sel_local, sel_home = causal.alignments(local, home, probe["probe_nodes"])  # (L, P, W)
    sel_live = jnp.broadcast_to(live[:, None, :], sel_local.shape).astype(jnp.float32)
    z, sd = _layer_probes(params, masks, depth, activation, probe)
    r2_res_l, w_res = _probe_r2(*z, sel_local, mcfg.ridge, binary)  # (L, P), (L, P, W)
    r2_any_l, w_any = _probe_r2(*z, sel_live, mcfg.ridge, binary)
    iia_l = causal.intervention_scores(params, masks, depth, activation, probe, sel_local, binary)  # (L, P)
    read = das.output_sensitivity(params, masks, depth, activation, probe["x_sig"]) >= mcfg.dead_eps  # (L, W)
    keep = ~probe["vacuous"]
    r2_restricted, iia = _masked_max(r2_res_l, active[:, None], 0), _over_layers(iia_l, active)
    return {
        "active": active,
        "live": live,
        "local": local,
        "home": home,
        "sel_local": sel_local,
        "sel_home": sel_home,
        "r2_res_l": r2_res_l,
        "r2_any_l": r2_any_l,
        "w_any": w_any,
        "iia_l": iia_l,
        "keep": keep,
        "r2_restricted": r2_restricted,
        "iia": iia,
        "params": params,
        "pairs": das.split_pairs(params, masks, depth, activation, probe),
        "das_live": sel_live * read[:, None, :],
        "das_local": sel_local * read[:, None, :],
        "start_any": _das_start(w_any, sd),
        "start_res": _das_start(w_res, sd),
        "C": node_mean(jnp.clip(r2_restricted, 0.0, 1.0), keep),
        "IIA": node_mean(iia, keep),
    }


def searches(masks, depth, activation, probe, cores, mcfg, binary) -> list[dict]:
    """The distributed search over each layer's live units and over each node's local units of the network of
    cores[0], and over the live units of every further core's network (the untrained null), all in one vmapped
    `das.search`, so the program holds one copy of it. Returns one result per search, in that order."""
    key = jax.random.PRNGKey(probe["control_seed"])
    both = lambda k, first, second: jnp.stack([k[first], k[second]])  # the two probe directions, (2, L, P, W)
    fold = lambda i: jax.random.fold_in(key, i)
    live = lambda k: (k["params"], k["pairs"], k["das_live"], both(k, "start_any", "start_res"), fold(1))
    local = lambda k: (k["params"], k["pairs"], k["das_local"], both(k, "start_res", "start_any"), fold(3))
    jobs = [live(cores[0]), local(cores[0])] + [live(k) for k in cores[1:]]
    args = jax.tree.map(lambda *a: jnp.stack(a), *jobs)
    run = lambda p, pairs, allowed, start, kk: das.search(p, masks, depth, activation, pairs, allowed, start, kk,
                                                          mcfg, binary)
    res = jax.vmap(run)(*args)
    return [jax.tree.map(lambda a, i=i: a[i], res) for i in range(len(jobs))]


def _das_extras(params, masks, depth, activation, probe, k, found, local, mcfg, binary) -> dict:
    """The controls of the live search: a random subspace at the chosen layer, the crosstalk against nodes of
    disjoint support (in excess of what an exact implementation scores there), the input-substitution ceiling
    (docs/method.md, "Distributed causal score")."""
    pairs, key = k["pairs"], jax.random.PRNGKey(probe["control_seed"])
    run = lambda f, *a: f(params, masks, depth, activation, pairs, *a)
    control = run(das.random_control, found["layer"], k["das_live"], jax.random.fold_in(key, 2), mcfg.das_dim, binary)
    excess = run(das.cross_scores, found["layer"], found["u"], binary) - das.target_cross_scores(pairs, binary)
    nodes = probe["probe_nodes"]
    pairs_ok = das.disjoint(probe["support"], nodes) & k["keep"][None, :]
    crosstalk = jnp.max(jnp.where(pairs_ok & jnp.isfinite(excess), excess, 0.0), axis=1, initial=0.0)
    return {
        "iia_das_local": local["iia"],
        "iia_das_local_layer": local["layer"].astype(jnp.float32),
        "iia_das_control": control,
        "das_crosstalk": crosstalk,
        "iia_subst": run(das.substitution, probe["support"], nodes, binary),
    }


def _causal_extras(params, masks, depth, activation, probe, k, binary):
    """Interventions on the units whose home is each node, and on as many random live units (the control,
    read at the layer where the local intervention scores best), in one pass over the layers."""
    active, n_probe = k["active"], k["sel_local"].shape[1]
    key = jax.random.PRNGKey(probe["control_seed"])
    sel_ctrl = causal.random_units_like(key, k["sel_local"], k["live"])
    twice = lambda a: jnp.concatenate([a, a], 0)
    both = causal.intervention_scores(
        params,
        masks,
        depth,
        activation,
        probe,
        jnp.concatenate([k["sel_home"], sel_ctrl], 1),
        binary,
        twice(probe["iia_cf"]),
        twice(probe["iia_dy"]),
    )
    iia_home = _over_layers(both[:, :n_probe], active)
    best = jnp.argmax(jnp.where(active[:, None] & jnp.isfinite(k["iia_l"]), k["iia_l"], -1.0), axis=0)  # (P,)
    iia_control = jnp.take_along_axis(both[:, n_probe:], best[None], 0)[0]
    return iia_home, iia_control


def beyond_chance(score, control):
    """The distributed score corrected for chance at the layer's size, (score - control) / (1 - control): the
    share of what a random subspace of the same size and layer (the control) leaves unexplained that the learned
    subspace explains, as Cohen's kappa corrects an agreement. 1 for an exact subspace however few units the layer
    has, 0 when the learned subspace does no better than a random one; 0 where the control is (within
    CHANCE_EPS of) 1, a layer in which every subspace of that size does as well (docs/method.md, "Labels")."""
    room = 1.0 - control
    return jnp.where(room > CHANCE_EPS, (score - control) / jnp.maximum(room, CHANCE_EPS), 0.0)


def _labels(fit, k, iia_home, extras, mcfg) -> dict:
    """`compositional` on the distributed score, corrected for chance by its random-subspace control, with the
    crosstalk control; `modular` the same on the search restricted to local units; `compositional_local` (the
    local-unit IIA with the probe condition), `compositional_probe` and `compositional_home` for comparison
    (docs/method.md, "Labels")."""
    keep, thr = k["keep"], mcfg.compositional_iia
    any_node = fit & keep.any()
    crosstalk_ok = extras["das_crosstalk_max"] < mcfg.das_control_max
    # every node's score >= thr, and >= thr again once chance at its layer (the random control) is taken out
    passes = lambda s: (node_min(s, keep) >= thr) & (node_min(beyond_chance(s, extras["iia_das_control"]), keep) >= thr)
    compositional = any_node & passes(extras["iia_das"]) & crosstalk_ok
    probe_ok = any_node & (node_min(k["r2_restricted"], keep) >= mcfg.compositional_r2)
    return {
        "fit": fit,
        "unfit": ~fit,
        "compositional": compositional,
        "fractured": fit & ~compositional,
        "modular": any_node & passes(extras["iia_das_local"]) & crosstalk_ok,
        "compositional_local": probe_ok & (node_min(k["iia"], keep) >= thr),
        "compositional_probe": probe_ok,
        "compositional_home": probe_ok & (node_min(iia_home, keep) >= thr),
    }


def _das_results(k, found, extras) -> dict:
    """The distributed score's result keys (result_keys.py) from the live search and `_das_extras`."""
    keep = k["keep"]
    return extras | {
        "IIA_das": node_mean(found["iia"], keep),
        "iia_das_min": node_min(found["iia"], keep),
        "IIA_das_local": node_mean(extras["iia_das_local"], keep),
        "IIA_das_control": node_mean(extras["iia_das_control"], keep),
        "IIA_subst": node_mean(extras["iia_subst"], keep),
        "das_crosstalk_max": jnp.max(jnp.where(keep, extras["das_crosstalk"], 0.0), initial=0.0),
        "iia_das": found["iia"],
        "iia_das_layer": found["layer"].astype(jnp.float32),
        "iia_das_layers": found["layers"],
    }


def _null(k, k0, found0) -> dict:
    """C, IIA and IIA_das of the same wiring on the weights training started from, and the gains over them."""
    iia_das_init = node_mean(found0["iia"], k0["keep"])
    return {"C_init": k0["C"], "IIA_init": k0["IIA"], "IIA_das_init": iia_das_init, "C_gain": k["C"] - k0["C"],
            "IIA_gain": k["IIA"] - k0["IIA"]}


def compute(params, masks, depth, activation, probe, fit_r2, mcfg, fit=None, binary=False, start=None) -> dict:
    """Every metric of one network (definitions in docs/method.md, "Metrics" and "Causal score"). Shapes depend
    only on (n_slots, P): scalars, (P,), (n_slots,) and (P, n_slots); padded layers read NaN. `fit` (bool),
    when given, replaces `fit_r2 >= mcfg.fit_r2` (Boolean targets: accuracy >= mcfg.fit_accuracy); `binary`
    scores interventions chance-corrected on labels and probes binary nodes by classification. `start` (the
    weights training started from) adds the null: C_init, IIA_init, IIA_das_init and the gains."""
    of = lambda p: core(p, masks, depth, activation, probe, mcfg, binary)
    if start is None:
        k, k0 = of(params), None
    else:  # the trained network and the null side by side: one traced copy of `core`
        both = jax.vmap(of)(jax.tree.map(lambda a, b: jnp.stack([a, b]), params, start))
        k, k0 = (jax.tree.map(lambda a, i=i: a[i], both) for i in range(2))
    found, local, *init = searches(masks, depth, activation, probe, [k] + ([k0] if k0 else []), mcfg, binary)
    active, live, nodes = k["active"], k["live"], probe["probe_nodes"]
    r2_any = _masked_max(k["r2_any_l"], active[:, None], 0)
    fit = fit_r2 >= mcfg.fit_r2 if fit is None else jnp.asarray(fit, bool)
    iia_home, iia_control = _causal_extras(params, masks, depth, activation, probe, k, binary)
    extras = _das_extras(params, masks, depth, activation, probe, k, found, local, mcfg, binary)
    das_res = _das_results(k, found, extras)
    interference_layers, has_pairs = _interference_layers(k["w_any"], probe, active)
    purity_layers, n_live = _purity_layers(k["home"], live, probe, active)
    nan_pad = lambda x: jnp.where(active, x, jnp.nan)
    return _labels(fit, k, iia_home, das_res, mcfg) | das_res | (_null(k, k0, init[0]) if k0 else {}) | {
        "C": k["C"],
        "IIA": k["IIA"],
        "IIA_home": node_mean(iia_home, k["keep"]),
        "IIA_control": node_mean(iia_control, k["keep"]),
        "iia_min": node_min(k["iia"], k["keep"]),
        "vacuous_nodes": probe["vacuous"].sum(),
        "r2_restricted": k["r2_restricted"],
        "r2_any": r2_any,
        "fracture_gap": r2_any - k["r2_restricted"],
        "iia": k["iia"],
        "iia_home": iia_home,
        "iia_control": iia_control,
        "r2_restricted_layers": nan_pad(k["r2_res_l"].T),  # (P, L)
        "r2_any_layers": nan_pad(k["r2_any_l"].T),
        "iia_layers": nan_pad(k["iia_l"].T),
        "n_local": nan_pad(k["local"][:, :, nodes].sum(1).T.astype(jnp.float32)),
        "interference": _masked_max(interference_layers, has_pairs, 0),
        "interference_layers": interference_layers,
        "purity_layers": purity_layers,
        "live_units_layers": nan_pad(n_live.astype(jnp.float32)),
        "dead_units": (~live & active[:, None]).sum(),
    }


# ------------------------------------------------------------------------------------- numpy reference
def _np_outputs(params, masks, depth, activation, x, layer=None, units=(), values=None):
    """Float64 outputs (B, m) of the network on x, with hidden layer `layer`'s `units` set to `values`."""
    h = x
    for l in range(depth):
        w = params[f"h{l}"]["w"] * masks[f"h{l}"]
        h, _ = mlp.np_act(activation, h @ w + params[f"h{l}"]["b"])
        if l == layer:
            h = h.copy()
            h[:, units] = values[:, units]
    return h @ (params["out"]["w"] * masks["out"]) + params["out"]["b"]


def _np_change_score(out, y0, cf, dy, binary):
    """causal.change_score in float64."""
    if binary:
        flipped, hit = (cf > 0) != ((cf - dy) > 0), (out > 0) == (cf > 0)
        if not flipped.any():
            return float("nan")
        tnr = hit[~flipped].mean() if (~flipped).any() else 1.0
        return float(np.clip(hit[flipped].mean() + tnr - 1.0, 0.0, 1.0))
    r2 = 1 - np.sum((out - y0 - dy) ** 2) / max(np.sum((dy - dy.mean(0)) ** 2), 1e-12)
    return float(np.clip(r2, 0.0, 1.0))


def _np_balanced_j(pred, y):
    """metrics.balanced_j in float64."""
    pos, hit = y > 0, (pred > 0) == (y > 0)
    return float(hit[pos].mean() + hit[~pos].mean() - 1) if pos.any() and (~pos).any() else float("nan")


def reference_subspace_score(params, masks, depth, activation, half, layer, u, cf, dy, binary=False) -> float:
    """das.score in float64: hidden layer `layer` patched along the orthonormal columns of u (W, k) towards its
    activations on x', on one half of the pairs ({"x", "xp"}), scored against cf, dy (N, m)."""
    to64 = lambda a: np.asarray(a, np.float64)
    params, masks = jax.tree.map(to64, params), jax.tree.map(to64, masks)
    x, xp, u, depth, layer = to64(half["x"]), to64(half["xp"]), to64(u), int(depth), int(layer)
    hs_xp, _ = mlp.np_forward(params, masks, depth, activation, xp)
    hs_x, _ = mlp.np_forward(params, masks, depth, activation, x)
    patched = hs_x[layer] + (hs_xp[layer] - hs_x[layer]) @ u @ u.T
    out = _np_outputs(params, masks, depth, activation, x, layer, list(range(u.shape[0])), patched)
    y0 = _np_outputs(params, masks, depth, activation, x)
    return _np_change_score(out, y0, to64(cf), to64(dy), binary)


def reference_iia(params, masks, depth, activation, probe, aligned, binary=False) -> np.ndarray:
    """(P, L) float64 intervention scores; aligned(l, p) lists the units of layer l aligned to probe node p."""
    x, xp = probe["iia_x"].astype(np.float64), probe["iia_xp"].astype(np.float64)
    y0 = _np_outputs(params, masks, depth, activation, x)
    hs_xp, _ = mlp.np_forward(params, masks, depth, activation, xp)
    n_probe, out = len(probe["probe_nodes"]), np.full((len(probe["probe_nodes"]), len(params) - 1), np.nan)
    for l in range(depth):
        for p in range(n_probe):
            units = aligned(l, p)
            o = _np_outputs(params, masks, depth, activation, x, l, units, hs_xp[l]) if units else None
            cf, dy = probe["iia_cf"][p].astype(np.float64), probe["iia_dy"][p].astype(np.float64)
            out[p, l] = _np_change_score(o, y0, cf, dy, binary) if units else 0.0
    return out


def reference_compute(params, masks, depth, activation, probe, fit_r2, mcfg, binary=False) -> dict[str, np.ndarray]:
    """Slow float64 numpy version of `compute` (loops, exact Jacobians, np.linalg.solve on the selected
    units with an unpenalised intercept column); the control intervention (random units) is not covered."""
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
        pred = x_te @ beta
        r2_of = lambda: 1 - np.sum((y_te - pred) ** 2) / np.sum((y_te - y_te.mean()) ** 2)
        r2 = _np_balanced_j(pred, y_te) if binary else r2_of()
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

    size = support.sum(1)
    home = lambda l, u: min([(size[v], v) for v in range(n_nodes) if local[l, u, v]] or [(0, -1)])[1]
    on_local = lambda l, p: [u for u in range(width) if local[l, u, nodes[p]]]
    on_home = lambda l, p: [u for u in range(width) if live[l, u] and home(l, u) == nodes[p]]
    with np.errstate(all="ignore"):
        iia_l = reference_iia(params, masks, depth, activation, probe, on_local, binary)
        iia_home_l = reference_iia(params, masks, depth, activation, probe, on_home, binary)
        iia = np.array([np.nanmax(r) if np.isfinite(r).any() else nan for r in iia_l])
        iia_home = np.array([np.nanmax(r) if np.isfinite(r).any() else nan for r in iia_home_l])
    keep = ~probe["vacuous"].astype(bool)
    kept = lambda v: v[keep & np.isfinite(v)]
    node_mean = lambda v: float(np.mean(kept(v))) if len(kept(v)) else nan
    node_min = lambda v: float(np.min(v[keep])) if keep.any() else nan

    fit = bool(fit_r2 >= mcfg.fit_r2)
    c_score = node_mean(np.clip(r2_restricted, 0, 1))
    probe_ok = fit and bool(keep.any()) and bool(node_min(r2_restricted) >= mcfg.compositional_r2)
    compositional_local = probe_ok and bool(node_min(iia) >= mcfg.compositional_iia)

    level = probe["node_level"]
    interference_layers = np.full(n_slots, nan)
    purity_layers = np.full(n_slots, nan)
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
        "compositional_local": compositional_local,
        "compositional_probe": probe_ok,
        "compositional_home": probe_ok and bool(node_min(iia_home) >= mcfg.compositional_iia),
        "C": c_score,
        "IIA": node_mean(iia),
        "IIA_home": node_mean(iia_home),
        "iia_min": node_min(iia),
        "vacuous_nodes": int((~keep).sum()),
        "iia": iia,
        "iia_home": iia_home,
        "iia_layers": iia_l,
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
