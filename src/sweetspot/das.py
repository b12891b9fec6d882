"""Distributed alignment search: find each constituent wherever a layer keeps it. docs/method.md, "Distributed
causal score".

The local-unit score (causal.py) patches the units wired to a constituent; a network that keeps the constituent
as a *direction* over mixed units scores 0 there. Here, for probe node v and hidden layer l, a k-dimensional
orthonormal subspace U (W, k) of the layer's allowed units (live units, or v's local units) is patched between
the pair inputs, h_l <- h_l(x) + U U^T (h_l(x') - h_l(x)), and U is learned by Adam on the first half of the
intervention pairs to make the network's change match the target's (Geiger et al. 2023, distributed alignment
search; pyvene's RotatedSpaceIntervention). The layer and the start are chosen on that training half; the
score is `causal.change_score` on the other half. Every function is pure and vmaps over nodes, layers, starts
and grid points; shapes depend only on (n_slots, P, W, pairs, k, starts).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from sweetspot import causal, mlp

NORM_EPS = 1e-12
CONTROL_DRAWS = 8  # random subspaces averaged in the control


def output_sensitivity(params, masks, depth, activation, x) -> jax.Array:
    """(L, W) mean over x and the outputs of |d y / d a_u|: how much each hidden unit's activation moves the
    output. A unit the output never reads (0 here) is dormant: a subspace that reads a constituent from it and
    writes into used units is the interpretability illusion of Makelov et al. (2023), so the search leaves such
    units out. Padded layers read 0."""
    delta = jnp.zeros((len(params) - 1, x.shape[0], params["h0"]["w"].shape[1]), x.dtype)
    forward = lambda d: mlp.apply(params, masks, depth, x, activation, patch=lambda k, h: h + d[k])
    y, vjp = jax.vjp(lambda d: forward(d).reshape(x.shape[0], -1), delta)
    per_output = lambda j: jnp.abs(vjp(jnp.zeros_like(y).at[:, j].set(1.0))[0]).mean(1)
    return jax.lax.map(per_output, jnp.arange(y.shape[1])).mean(0)


def orthonormal(a, allowed) -> jax.Array:
    """(W, k) orthonormal columns spanning a's columns restricted to the allowed units (0/1 (W,)), by
    Gram-Schmidt in plain XLA ops (k is static). A column with nothing left reads 0, with a finite gradient (the
    norm is sqrt(|c|^2 + eps^2): the plain norm's gradient at 0 is NaN, which would poison Adam's state)."""
    a = a * allowed[:, None]
    cols = []
    for j in range(a.shape[1]):
        c = a[:, j]
        for q in cols:
            c = c - (q @ c) * q
        norm = jnp.sqrt(jnp.sum(c**2) + NORM_EPS**2)
        cols.append(jnp.where(norm > 2 * NORM_EPS, c / norm, 0.0))
    return jnp.stack(cols, 1)


def patched_outputs(params, masks, depth, activation, h_x, layer, u, h_xp) -> jax.Array:
    """(N, m) outputs of the network whose hidden layer `layer` (traced), with activations h_x (N, W) on x, is
    patched along the orthonormal columns of u (W, k) towards its activations h_xp (N, W) on the paired inputs.
    Only the layers after `layer` run (`mlp.apply_from`): the layers before it do not depend on u."""
    y = mlp.apply_from(params, masks, depth, h_x + ((h_xp - h_x) @ u) @ u.T, layer, activation)
    return y.reshape(h_x.shape[0], -1)


def _objective(out, y0, cf, dy, binary: bool) -> jax.Array:
    """What the search minimises: binary cross-entropy of the patched logits against the counterfactual labels;
    real-valued: 1 - R^2 of the network's change against the target's (unclipped, so it has a gradient)."""
    if binary:
        return optax.sigmoid_binary_cross_entropy(out, (cf > 0).astype(out.dtype)).mean()
    total = jnp.maximum(jnp.sum((dy - dy.mean(0)) ** 2), causal.DENOM_EPS)
    return jnp.sum(((out - y0) - dy) ** 2) / total


def split_pairs(params, masks, depth, activation, probe) -> dict:
    """The intervention pairs split into a training half and a scoring half, with the network's outputs on x
    and its hidden activations on x and on x' (L, N, W): {"train": {...}, "test": {...}}."""
    x, xp, cf, dy = probe["iia_x"], probe["iia_xp"], probe["iia_cf"], probe["iia_dy"]
    y0, h_x = mlp.apply(params, masks, depth, x, activation, return_hidden=True)
    y0 = y0.reshape(x.shape[0], -1)
    _, h_xp = mlp.apply(params, masks, depth, xp, activation, return_hidden=True)
    half = x.shape[0] // 2
    part = lambda s: {"x": x[s], "xp": xp[s], "y0": y0[s], "h_x": h_x[:, s], "h_xp": h_xp[:, s], "cf": cf[:, s],
                      "dy": dy[:, s]}
    return {"train": part(slice(0, half)), "test": part(slice(half, None))}


def score(params, masks, depth, activation, half, layer, u, cf, dy, binary: bool) -> jax.Array:
    """`causal.change_score` of the subspace patch (u at `layer`) on one half of the pairs, against the
    counterfactual cf and change dy (N, m); 0 when u is empty."""
    out = patched_outputs(params, masks, depth, activation, half["h_x"][layer], layer, u, half["h_xp"][layer])
    s = causal.change_score(out, half["y0"], cf, dy, binary)
    return jnp.where(jnp.abs(u).sum() > 0, s, 0.0)


def fit_subspace(params, masks, depth, activation, half, layer, a0, allowed, cf, dy, dcfg, binary: bool, steps: int):
    """`steps` Adam steps on the interchange objective from a0 (W, k); returns the raw matrix (its subspace is
    `orthonormal(a, allowed)`)."""
    opt = optax.adam(dcfg.das_lr)

    def loss(a):
        u = orthonormal(a, allowed)
        out = patched_outputs(params, masks, depth, activation, half["h_x"][layer], layer, u, half["h_xp"][layer])
        return _objective(out, half["y0"], cf, dy, binary)

    def step(carry, _):
        a, state = carry
        g = jax.grad(loss)(a)
        upd, state = opt.update(g, state, a)
        return (optax.apply_updates(a, upd), state), None

    (a, _), _ = jax.lax.scan(step, (a0, opt.init(a0)), None, length=steps)
    return a


def starts(key, start_dirs, allowed, n_starts: int, k: int) -> jax.Array:
    """(S, L, P, W, k) starting matrices: the first column of start i < len(start_dirs) is start_dirs[i] (each
    (L, P, W), e.g. the node's ridge-probe directions on each layer) where it is non-zero on the allowed units
    (L, P, W); every other column and start is Gaussian. Every start is made orthonormal on the allowed units
    and scaled by sqrt(W), a Gaussian column's norm, so Adam's steps mean the same for every start."""
    noise = jax.random.normal(key, (n_starts,) + allowed.shape + (k,))
    n = min(n_starts, start_dirs.shape[0])
    usable = (jnp.abs(start_dirs[:n] * allowed).sum(-1, keepdims=True) > 0)[..., None]  # (n, L, P, 1, 1)
    noise = noise.at[:n, ..., :1].set(jnp.where(usable, start_dirs[:n, ..., None], noise[:n, ..., :1]))
    unit = jax.vmap(jax.vmap(jax.vmap(orthonormal)), in_axes=(0, None))(noise, allowed)
    return unit * jnp.sqrt(allowed.shape[-1])


def search(params, masks, depth, activation, pairs, allowed, start_dirs, key, dcfg, binary: bool) -> dict:
    """The subspace search for every probe node (allowed (L, P, W); start_dirs (D, L, P, W), `starts`), in two
    stages on the training half of the pairs: every (layer, start) gets `das_select_steps` Adam steps; per node
    the (layer, start) with the best training score among the active, non-empty layers goes on for the
    remaining steps (to `das_steps` in all). Returns per node: `iia` (P,) the held-out score of the final
    subspace, `layer` (P,), `u` (P, W, k), and `layers` (P, L): each layer's held-out score after the selection
    stage (its best start; NaN where the layer is padding)."""
    n_slots, n_probe = allowed.shape[:2]
    tr, te = pairs["train"], pairs["test"]
    a0 = starts(key, start_dirs, allowed, dcfg.das_starts, dcfg.das_dim)  # (S, L, P, W, k)
    run = lambda f, *a: f(params, masks, depth, activation, *a)
    select = min(dcfg.das_select_steps, dcfg.das_steps)

    def stage1(l, a, allowed, cf_tr, dy_tr, cf_te, dy_te):
        a = run(fit_subspace, tr, l, a, allowed, cf_tr, dy_tr, dcfg, binary, select)
        u = orthonormal(a, allowed)
        return a, run(score, tr, l, u, cf_tr, dy_tr, binary), run(score, te, l, u, cf_te, dy_te, binary)

    per_node = jax.vmap(stage1, in_axes=(None, 0, 0, 0, 0, 0, 0))  # over P
    per_start = jax.vmap(per_node, in_axes=(None, 0, None, None, None, None, None))  # over S

    def per_layer(l, a):  # layers one after another; a padded layer is not searched (its scores read 0)
        work = lambda: per_start(l, a, allowed[l], tr["cf"], tr["dy"], te["cf"], te["dy"])
        skip = lambda: (a, jnp.zeros(a.shape[:2], a.dtype), jnp.zeros(a.shape[:2], a.dtype))
        return jax.lax.cond(l < depth, work, skip)

    a, s_tr, s_te = jax.lax.map(lambda la: per_layer(*la), (jnp.arange(n_slots), jnp.moveaxis(a0, 1, 0)))
    a, s_tr, s_te = jnp.moveaxis(a, 0, 1), jnp.moveaxis(s_tr, 0, 1), jnp.moveaxis(s_te, 0, 1)  # (S, L, ...)
    ok = (jnp.arange(n_slots) < depth)[:, None] & (allowed.sum(-1) > 0)  # (L, P)
    s_tr = jnp.where(jnp.isfinite(s_tr), s_tr, -1.0)
    best_start = jnp.argmax(s_tr, axis=0)  # (L, P)
    take = lambda v: jnp.take_along_axis(v, best_start[None], 0)[0]
    tr_l, te_l = take(s_tr), take(s_te)  # (L, P)
    layer = jnp.argmax(jnp.where(ok, tr_l, -2.0), axis=0)  # (P,)
    a_l = jnp.take_along_axis(a, best_start[None, :, :, None, None], 0)[0]  # (L, P, W, k)
    a_best = jnp.take_along_axis(a_l, layer[None, :, None, None], 0)[0]  # (P, W, k)
    units = allowed[layer, jnp.arange(n_probe)]  # (P, W)

    def stage2(l, a, units, cf_tr, dy_tr, cf_te, dy_te):
        a = run(fit_subspace, tr, l, a, units, cf_tr, dy_tr, dcfg, binary, dcfg.das_steps - select)
        u = orthonormal(a, units)
        return u, run(score, te, l, u, cf_te, dy_te, binary)

    u, final = jax.vmap(stage2)(layer, a_best, units, tr["cf"], tr["dy"], te["cf"], te["dy"])
    return {
        "iia": jnp.where(ok.any(0), final, 0.0),
        "layer": layer,
        "u": u,
        "layers": jnp.where(jnp.arange(n_slots)[None] < depth, jnp.where(ok, te_l, 0.0).T, jnp.nan),
    }


def random_control(params, masks, depth, activation, pairs, layer, allowed, key, k: int, binary: bool) -> jax.Array:
    """(P,) mean held-out score of CONTROL_DRAWS random k-dimensional subspaces of each node's allowed units
    (L, P, W) at its chosen layer: what a subspace of that size scores by chance."""
    half = pairs["test"]
    n_probe = layer.shape[0]
    a = jax.random.normal(key, (CONTROL_DRAWS, n_probe, allowed.shape[-1], k))
    units = allowed[layer, jnp.arange(n_probe)]  # (P, W)
    one = lambda a, l, units, cf, dy: score(
        params, masks, depth, activation, half, l, orthonormal(a, units), cf, dy, binary
    )
    per_node = jax.vmap(one)
    return jax.vmap(per_node, in_axes=(0, None, None, None, None))(a, layer, units, half["cf"], half["dy"]).mean(0)


def cross_scores(params, masks, depth, activation, pairs, layer, u, binary: bool) -> jax.Array:
    """(P, P): the subspace learned for node p (at its layer) scored on the held-out half against node q's
    counterfactual."""
    half = pairs["test"]
    one = lambda l, u, cf, dy: score(params, masks, depth, activation, half, l, u, cf, dy, binary)
    against = jax.vmap(one, in_axes=(None, None, 0, 0))  # over q
    return jax.vmap(against, in_axes=(0, 0, None, None))(layer, u, half["cf"], half["dy"])


def target_cross_scores(pairs, binary: bool) -> jax.Array:
    """(P, P): what an exact implementation of node p scores against node q's counterfactual on the held-out
    half (its output moves by p's change dy_p): the crosstalk the pairs themselves carry. It is 0 for
    independent real-valued changes, but not on a few hundred Boolean pairs, whose flips can correlate."""
    half = pairs["test"]
    one = lambda cf_p, dy_p, cf_q, dy_q: causal.change_score(cf_p, cf_p - dy_p, cf_q, dy_q, binary)
    against = jax.vmap(one, in_axes=(None, None, 0, 0))
    return jax.vmap(against, in_axes=(0, 0, None, None))(half["cf"], half["dy"], half["cf"], half["dy"])


def disjoint(support, nodes) -> jax.Array:
    """Bool (P, P): probe nodes p != q whose input supports do not overlap (an ancestor's counterfactual moves
    with its descendants', so only disjoint nodes make a crosstalk control)."""
    s = support[nodes] > 0
    return ~(s[:, None, :] & s[None, :, :]).any(-1)


def substitution(params, masks, depth, activation, pairs, support, nodes, binary: bool) -> jax.Array:
    """(P,) the behavioural ceiling: the network run on x with node v's inputs S_v taken from x', scored against
    v's change on the held-out half. A network that fits scores near 1; a structure limit shows below it."""
    half = pairs["test"]
    x, xp = half["x"], half["xp"]

    def one(sv, cf, dy):
        out = mlp.apply(params, masks, depth, jnp.where(sv > 0, xp, x), activation).reshape(x.shape[0], -1)
        return causal.change_score(out, half["y0"], cf, dy, binary)

    return jax.vmap(one)(support[nodes], half["cf"], half["dy"])
