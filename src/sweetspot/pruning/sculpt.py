"""The Neural Sculpting pruning protocol as a schedule. docs/method.md, "Neural Sculpting pruning (`sculpt`)".

Source: Patil, Michael & Dovrolis, NeurIPS 2023 (arXiv 2305.18402), their code
(github.com/ShreyasMalakarjunPatil/Neural-Sculpting: run/prune.py, utils/prune_units.py, utils/prune.py); read, not
copied. Their loop, per phase (units, then edges), from a trained network:
  candidate fraction f = f_prev + p; prune to f (cumulative, global over all hidden units / all weights); retrain;
  accept when the retrained network's accuracy on the noiseless truth table is >= the threshold (100%), else keep
  the previous network and halve p (never below p_min = one unit / one weight); stop at a rejection with p <= p_min.
Here each phase is a `lax.scan` of a fixed number of such iterations (`pruning.sculpt_unit_iters`,
`sculpt_edge_iters`); once stopped, the remaining iterations keep the accepted state (computed, then discarded).
Unit score (their `activation_gradient_product`): mean over the inputs of |dL(x)/da_u(x) * a_u(x)|, L the
per-sample training loss; computed as the row sum of w * dL/dw over u's outgoing weights (a gate on u).
Unit pruning zeroes the unit's incoming column and outgoing row; edge pruning is global |w| over every layer.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from sweetspot import mlp
from sweetspot.config import fail
from sweetspot.pruning.masks import prune
from sweetspot.pruning.scores import magnitude_scores

SCULPT = "sculpt"


def check_config(pcfg) -> None:
    """ConfigError (config.fail) naming the field when a sculpt setting of config.pruning is out of range."""
    bad = lambda field, allowed: fail(f"pruning.{field}", pcfg[field], allowed)

    for f in ("sculpt_unit_step", "sculpt_edge_step"):
        v = pcfg[f]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 < v < 1.0:
            bad(f, "a number in (0, 1)")
    v = pcfg.sculpt_accuracy
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 < v <= 1.0:
        bad("sculpt_accuracy", "a number in (0, 1]")
    for f in ("sculpt_unit_iters", "sculpt_edge_iters", "sculpt_score_inputs"):
        v = pcfg[f]
        if isinstance(v, bool) or not isinstance(v, int) or v < (1 if f == "sculpt_score_inputs" else 0):
            bad(f, "an integer >= 0" if f != "sculpt_score_inputs" else "an integer >= 1")


def accuracy(params, masks, depth, x, y, activation) -> jax.Array:
    """Fraction of (sample, output) labels whose logit has the label's sign (their test accuracy)."""
    return jnp.mean((mlp.apply(params, masks, depth, x, activation) > 0) == (y > 0))


def _next_layer(l: int, depth, n_slots: int):
    """(name of the weight layer reading hidden layer l when it is not the last active one, is it the last)."""
    return (f"h{l + 1}" if l + 1 < n_slots else "out"), (l == depth - 1)


def unit_scores(inp, params, masks) -> jax.Array:
    """(n_slots, width) activation-gradient product of every hidden unit; -inf for units of padded layers and
    0 for pruned units. inp.data's x_test (their noiseless validation set), at most pcfg.sculpt_score_inputs rows."""
    depth, n = inp.point["depth"], int(inp.pcfg.sculpt_score_inputs)
    x, y = inp.data["x_test"][:n], inp.data["y_test"][:n]
    p = mlp.mask_params(params, masks)
    one = lambda xi, yi: jax.grad(inp.loss)(p, masks, depth, xi[None], yi[None], inp.activation)
    g = jax.vmap(one)(x, y)  # per-sample gradients, leading axis = samples
    gate = {k: jnp.abs((p[k]["w"][None] * g[k]["w"]).sum(-1)).mean(0) for k in p}  # per unit of the row's layer
    n_slots = len(params) - 1
    rows = []
    for l in range(n_slots):
        nxt, last = _next_layer(l, depth, n_slots)
        s = jnp.where(last, gate["out"], gate[nxt])
        rows.append(jnp.where(l < depth, s, -jnp.inf))
    return jnp.stack(rows)


def unit_masks(masks: dict, keep: jax.Array, depth) -> dict:
    """masks with every unit u of hidden layer l where keep[l, u] == 0 cut out: column u of h{l} and row u of the
    layer reading it (h{l+1}, or the readout for the last active layer). Padded layers keep all ones."""
    n_slots = len(masks) - 1
    out = dict(masks)
    for l in range(n_slots):
        k = jnp.where(l < depth, keep[l], 1.0)
        out[f"h{l}"] = out[f"h{l}"] * k[None, :]
        if l + 1 < n_slots:
            out[f"h{l + 1}"] = out[f"h{l + 1}"] * jnp.where(l + 1 < depth, k, 1.0)[:, None]
    last = keep[jnp.clip(depth - 1, 0, n_slots - 1)]
    out["out"] = out["out"] * last[:, None]
    return out


def prune_units(scores: jax.Array, masks: dict, frac, depth) -> dict:
    """Their global unit pruning at cumulative fraction frac of the N active hidden units: as numpy's percentile
    threshold, the floor(frac (N - 1)) + 1 lowest scores go (and every unit scoring 0: pruned or dead)."""
    n = (depth * scores.shape[1]).astype(jnp.float32)
    n_keep = jnp.clip(n - jnp.floor(frac * (n - 1)) - 1, 0, n).astype(jnp.int32)
    flat = scores.ravel()
    order = jnp.argsort(-flat, stable=True)
    rank = jnp.zeros(flat.shape, jnp.int32).at[order].set(jnp.arange(flat.size, dtype=jnp.int32))
    keep = ((rank < n_keep) & (flat > 0)).astype(jnp.float32).reshape(scores.shape)
    return unit_masks(masks, keep, depth)


def _times(a: dict, b: dict) -> dict:
    return {k: a[k] * b[k] for k in a}


def advance(frac, p, done, good, p_min):
    """One step of their loop: the candidate frac + p was `good` (below 1 and accurate enough). Returns
    (frac, p, done, accepted): accepted moves frac to the candidate; a rejection halves p (never below p_min), or
    stops the phase when p was already p_min. Once done, nothing changes."""
    ok = good & ~done
    rejected = ~good & ~done
    frac = jnp.where(ok, frac + p, frac)
    done = done | (rejected & (p <= p_min))
    p = jnp.where(rejected & (p > p_min), jnp.maximum(p / 2, p_min), p)
    return frac, p, done, ok


class _Phase:
    """One phase of their loop: `cut(params, masks, frac) -> masks` prunes to cumulative fraction frac;
    p0 is the first step, p_min the smallest, iters the fixed number of prune -> retrain -> accept iterations."""

    def __init__(self, cut, p0, p_min, iters):
        self.cut, self.p0, self.p_min, self.iters = cut, p0, p_min, iters


def _run_phase(ph: _Phase, inp, state, frac0, fit, fit_key, key_offset: int):
    """The accept / halve / stop loop as a lax.scan. state = (params, masks) of a trained, accepted network.
    Returns the last accepted (params, masks) and the number of accepted steps."""
    depth, thr = inp.point["depth"], float(inp.pcfg.sculpt_accuracy)
    x, y = inp.data["x_test"], inp.data["y_test"]

    def step(carry, r):
        params, masks, frac, p, done, n_ok = carry
        cand = frac + p
        new_masks = ph.cut(params, masks, jnp.minimum(cand, 1.0))
        new_params = fit(mlp.mask_params(params, new_masks), new_masks, inp.point, inp.data, fit_key(key_offset + r))[0]
        acc = accuracy(new_params, new_masks, depth, x, y, inp.activation)
        frac, p, done, ok = advance(frac, p, done, (cand < 1.0) & (acc >= thr), ph.p_min)
        keep = lambda a, b: jax.tree.map(lambda u, v: jnp.where(ok, u, v), a, b)
        params, masks = keep(new_params, params), keep(new_masks, masks)
        return (params, masks, frac, p, done, n_ok + ok), None

    params, masks = state
    init = (params, masks, jnp.asarray(frac0, jnp.float32), jnp.asarray(ph.p0, jnp.float32), jnp.array(False),
            jnp.array(0, jnp.int32))
    if ph.iters == 0:
        return params, masks, init[-1]
    (params, masks, _, _, _, n_ok), _ = jax.lax.scan(step, init, jnp.arange(ph.iters))
    return params, masks, n_ok


def sculpt_masks(m, inp, params, density, fit, fit_capture, fit_key):
    """The SCULPT schedule (module doc): train dense, prune units, then edges, each candidate retrained and kept only
    if it still meets config.pruning.sculpt_accuracy. `density` is ignored (the accuracy rule sets the sparsity).
    Returns (masks, the accepted network's trained params): the caller's final fit continues from them."""
    del m, density, fit_capture
    pc = inp.pcfg
    check_config(pc)
    depth = inp.point["depth"]
    ones = mlp.ones_masks(params)
    trained = fit(params, ones, inp.point, inp.data, fit_key(0))[0]
    width = params["h0"]["w"].shape[1]
    units = _Phase(
        lambda p, mk, f: prune_units(unit_scores(inp, p, mk), mk, f, depth),
        pc.sculpt_unit_step, 1.0 / (depth * width), int(pc.sculpt_unit_iters),
    )
    trained, masks, _ = _run_phase(units, inp, (trained, ones), 0.0, fit, fit_key, 1)
    live, total = mlp.layer_counts(masks, depth)
    edges = _Phase(
        lambda p, mk, f: _times(prune(magnitude_scores(mlp.mask_params(p, mk)), mk, 1.0 - f, depth, "global"), mk),
        pc.sculpt_edge_step, 1.0 / total.sum(), int(pc.sculpt_edge_iters),
    )
    frac0 = 1.0 - live.sum() / total.sum()
    trained, masks, _ = _run_phase(edges, inp, (trained, masks), frac0, fit, fit_key, 1 + int(pc.sculpt_unit_iters))
    return masks, trained
