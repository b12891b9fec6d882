"""Causal scores: interchange interventions on the units aligned to a constituent. docs/method.md, "Causal score".
The distributed score, which looks for each constituent as a learned subspace of any layer's units, is das.py.

A probe shows that a constituent is decodable; it does not show that the output is computed through it. For
pairs (x, x') of held-out inputs, the network runs on x with the aligned units' activations replaced by their
values on x', and the *change* of its output is compared with the change of the target when node v is set to
its value on x' (Geiger et al. 2021, interchange intervention accuracy). Every function is pure and jittable;
shapes depend only on (n_slots, P, width, pairs), so they vmap over grid points.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from sweetspot import mlp

DENOM_EPS = 1e-12


def change_score(out, y0, cf, dy, binary: bool) -> jax.Array:
    """Score of one intervention. out: the intervened network outputs (N, m); y0: its outputs without the
    intervention; cf, dy: the target's counterfactual outputs and their change (N, m). Real-valued: R^2 of the
    network's change out - y0 against dy, clipped to [0, 1]. Binary (+-1 labels, logits), chance-corrected over
    every (pair, output) entry: Youden's J = (share of the entries the intervention flips, sign(cf) !=
    sign(cf - dy), whose intervened logit has the counterfactual label) + (the same share among the entries it
    does not flip) - 1, clipped to [0, 1]; a network that ignores the intervention, or flips every output, scores
    0. The second term is 1 when no entry is unflipped; NaN when no entry flips."""
    if binary:
        flipped = (cf > 0) != ((cf - dy) > 0)
        hit = (out > 0) == (cf > 0)
        n_flip, n_keep = flipped.sum(), (~flipped).sum()
        tpr = (hit & flipped).sum() / jnp.maximum(n_flip, 1)
        tnr = jnp.where(n_keep > 0, (hit & ~flipped).sum() / jnp.maximum(n_keep, 1), 1.0)
        return jnp.where(n_flip > 0, jnp.clip(tpr + tnr - 1.0, 0.0, 1.0), jnp.nan)
    resid = jnp.sum(((out - y0) - dy) ** 2)
    total = jnp.sum((dy - dy.mean(0)) ** 2)
    return jnp.clip(1.0 - resid / jnp.maximum(total, DENOM_EPS), 0.0, 1.0)


def _outputs(params, masks, depth, activation, x, patch=None):
    y = mlp.apply(params, masks, depth, x, activation, patch=patch)
    return y.reshape(x.shape[0], -1)


def intervention_scores(params, masks, depth, activation, probe, sel, binary: bool, cf=None, dy=None) -> jax.Array:
    """(L, P) scores of interchanging, at hidden layer l, the units sel[l, p] (0/1, (L, P, W)) between the pair
    inputs, against the counterfactual cf[p] and change dy[p] (default: probe node p's, from the probe data;
    `change_score`); 0 where sel[l, p] is empty or layer l is padding. Layers run one after another (lax.map)
    and selections side by side (vmap), so memory holds one layer's P forwards."""
    x, xp = probe["iia_x"], probe["iia_xp"]
    cf = probe["iia_cf"] if cf is None else cf
    dy = probe["iia_dy"] if dy is None else dy
    y0 = _outputs(params, masks, depth, activation, x)
    _, h_xp = mlp.apply(params, masks, depth, xp, activation, return_hidden=True)  # (L, N, W)

    def per_layer(l):
        def per_node(units, cf, dy):
            patch = lambda k, h: jnp.where((k == l) & (units > 0), h_xp[l], h)
            out = _outputs(params, masks, depth, activation, x, patch)
            return jnp.where(units.sum() > 0, change_score(out, y0, cf, dy, binary), 0.0)

        scores = lambda: jax.vmap(per_node)(sel[l], cf, dy)
        return jax.lax.cond(l < depth, scores, lambda: jnp.zeros(sel.shape[1], x.dtype))  # padding: not computed

    return jax.lax.map(per_layer, jnp.arange(sel.shape[0]))


def random_units_like(key, sel, live) -> jax.Array:
    """For every (layer, node) selection in sel (L, P, W), as many live units of the same layer drawn uniformly
    at random (the specificity control)."""
    n_layers, n_nodes, width = sel.shape
    u = jax.random.uniform(key, sel.shape)
    score = jnp.where(live[:, None, :], u, -1.0)
    rank = jnp.argsort(jnp.argsort(-score, axis=-1), axis=-1)
    return (rank < sel.sum(-1, keepdims=True)).astype(sel.dtype)


def alignments(local, home, nodes) -> tuple[jax.Array, jax.Array]:
    """(units local to each probe node, units whose home is each probe node), both 0/1 (L, P, W)."""
    sel_local = jnp.moveaxis(local[:, :, nodes], -1, 1).astype(jnp.float32)
    sel_home = (home[:, None, :] == nodes[None, :, None]).astype(jnp.float32)
    return sel_local, sel_home
