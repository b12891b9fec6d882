"""Masks: score -> top-k mask -> per-layer density -> schedule. docs/method.md, section "Masks and pruning".

Every function is pure and jittable with a traced density, so one compile serves all sparsities. Padded layers
(see mlp.layer_active) get an all-ones mask and are never ranked or counted. Methods are named by strings
(`METHODS`, plus `shuffled:<method>`); train.py runs their schedules (at init, or train-prune-rewind rounds).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from sweetspot import metrics, mlp

AT_INIT = ("dense", "random", "snip", "synflow", "oracle")  # the mask is fixed before training
REWIND = ("magnitude", "imp", "sp")  # train, prune, rewind to step k, retrain (R rounds)
METHODS = AT_INIT + REWIND
SHUFFLED = "shuffled:"


def parse_method(method: str) -> tuple[str, bool]:
    """'shuffled:imp' -> ('imp', True); 'sp' -> ('sp', False). Raises ValueError naming the allowed values."""
    shuffled = method.startswith(SHUFFLED)
    base = method[len(SHUFFLED) :] if shuffled else method
    if base not in METHODS or (shuffled and base == "dense"):
        allowed = list(METHODS) + [SHUFFLED + m for m in METHODS if m != "dense"]
        raise ValueError(f"method={method!r}: allowed values are {allowed}")
    return base, shuffled


def keep_count(n: int, density: jax.Array) -> jax.Array:
    """Number of weights kept in a layer of n weights: round(density * n), at least 1."""
    return jnp.clip(jnp.round(density * n), 1, n).astype(jnp.int32)


def rank_mask(scores: jax.Array, k: jax.Array) -> jax.Array:
    """0/1 mask (float32, shaped like scores) keeping the k highest scores; ties go to the lower flat index
    (NaN ranks last, -0.0 ties with 0.0). No sort: the k-th highest score is found by a 32-step bisection on the
    order-preserving integer image of the float32 scores (XLA's CPU sort was the cost; 11x faster, same masks)."""
    flat = scores.ravel().astype(jnp.float32)
    flat = jnp.where(flat == 0, 0.0, flat)
    bits = jax.lax.bitcast_convert_type(flat, jnp.uint32)
    u = jnp.where(bits >> 31 == 1, ~bits, bits | jnp.uint32(1 << 31))  # monotone in the float order
    u = jnp.where(jnp.isnan(flat), jnp.uint32(0), u)

    def bit(i, t):
        cand = t | (jnp.uint32(1) << (31 - i).astype(jnp.uint32))
        return jnp.where((u >= cand).sum() >= k, cand, t)

    thr = jax.lax.fori_loop(0, 32, bit, jnp.uint32(0))  # the largest t with at least k scores >= t
    above, tied = u > thr, u == thr
    keep = above | (tied & (jnp.cumsum(tied) <= k - above.sum()))
    return keep.astype(jnp.float32).reshape(scores.shape)


def rank_mask_sorted(scores: jax.Array, k: jax.Array) -> jax.Array:
    """Reference for rank_mask by a stable argsort (kept for tests)."""
    flat = scores.ravel()
    order = jnp.argsort(-flat, stable=True)
    rank = jnp.zeros(flat.shape, jnp.int32).at[order].set(jnp.arange(flat.size, dtype=jnp.int32))
    return (rank < k).astype(jnp.float32).reshape(scores.shape)


def topk_mask(scores: jax.Array, density: jax.Array) -> jax.Array:
    """rank_mask at keep_count(size, density): the realised density is exact and deterministic."""
    return rank_mask(scores, keep_count(scores.size, density))


def layer_masks(scores: dict, density: jax.Array, active: jax.Array) -> dict:
    """Per-layer top-k at `density` for every active layer; inactive (padded) layers stay all ones."""
    names = mlp.layer_names(len(scores) - 1)
    return {k: jnp.where(active[i], topk_mask(scores[k], density), 1.0) for i, k in enumerate(names)}


def prune(scores: dict, masks: dict, density: jax.Array, depth: jax.Array, scope: str = "layer") -> dict:
    """New masks at `density` of each active layer (scope 'layer') or of all active layers together ('global'),
    keeping the highest scores among the live weights (pruned weights never return)."""
    names = mlp.layer_names(len(scores) - 1)
    active = mlp.layer_active(depth, len(names) - 1)
    live = {k: jnp.where(masks[k] > 0, scores[k], -jnp.inf) for k in names}
    if scope == "layer":
        return layer_masks(live, density, active)
    if scope != "global":
        raise ValueError(f"config.pruning.scope={scope!r}: allowed values are ('layer', 'global')")
    flat = jnp.concatenate([jnp.where(active[i], live[k], -jnp.inf).ravel() for i, k in enumerate(names)])
    n_active = sum(jnp.where(active[i], live[k].size, 0) for i, k in enumerate(names))
    kept = rank_mask(flat, jnp.clip(jnp.round(density * n_active), 1, n_active).astype(jnp.int32))
    out, start = {}, 0
    for i, k in enumerate(names):
        size = live[k].size
        out[k] = jnp.where(active[i], kept[start : start + size].reshape(live[k].shape), 1.0)
        start += size
    return out


def shuffle_masks(key: jax.Array, masks: dict, depth: jax.Array) -> dict:
    """Each active layer's mask permuted uniformly (same per-layer density, different wiring)."""
    names = mlp.layer_names(len(masks) - 1)
    active = mlp.layer_active(depth, len(names) - 1)
    out = {}
    for i, k in enumerate(names):
        perm = jax.random.permutation(mlp.layer_key(key, k), masks[k].ravel())
        out[k] = jnp.where(active[i], perm.reshape(masks[k].shape), masks[k])
    return out


# ------------------------------------------------------------------------------------------------- scores
def magnitude_scores(params: dict) -> dict:
    """|w| (magnitude and IMP)."""
    return {k: jnp.abs(p["w"]) for k, p in params.items()}


def snip_scores(params: dict, masks: dict, depth, x, y, activation, loss_fn=None) -> dict:
    """SNIP: |dL/dw * w| at initialisation on one batch (x, y); L = loss_fn(params, masks, depth, x, y,
    activation), the training loss (mean squared error when None)."""
    if loss_fn is None:
        loss = lambda p: jnp.mean((mlp.apply(p, masks, depth, x, activation) - y) ** 2)
    else:
        loss = lambda p: loss_fn(p, masks, depth, x, y, activation)
    g = jax.grad(loss)(params)
    return {k: jnp.abs(g[k]["w"] * params[k]["w"]) for k in params}


def synflow_masks(params: dict, density, depth, rounds: int, scope: str = "layer") -> dict:
    """SynFlow (data-free, iterative): `rounds` times, score |dR/dw * w| with R = 1^T (prod_l |W_l| * M_l) 1 on
    the linearised network (no biases, no activation) and prune to density^((r+1)/rounds)."""
    names = mlp.layer_names(len(params) - 1)
    n_slots = len(names) - 1
    absw = {k: jnp.abs(params[k]["w"]) for k in names}

    def flow(w, masks):
        h = jnp.ones((1, w["h0"].shape[0]))
        for l in range(n_slots):
            new = h @ (w[f"h{l}"] * masks[f"h{l}"])
            h = new if l == 0 else jnp.where(l < depth, new, h)
        return (h @ (w["out"] * masks["out"])).sum()

    def body(r, masks):
        g = jax.grad(flow)(absw, masks)
        scores = {k: g[k] * absw[k] for k in names}
        return prune(scores, masks, density ** ((r + 1.0) / rounds), depth, scope)

    return jax.lax.fori_loop(0, rounds, body, mlp.ones_masks(params))


def sp_scores(params: dict, masks: dict, depth, x, activation, similarity: str = "overlap", gamma: float = 1.0) -> dict:
    """Similarity-based pruning: s_uv = |w_uv| * sim(g_u, g_v)^gamma for the edge from unit u to unit v, where g is
    a unit's input signature E_x |d a / d x| normalised to sum 1 (inputs: one-hot; the readout: E |dy/dx|).
    sim: 'overlap' = sum_i min(g_u,i, g_v,i); 'cosine'; 'correlation' = |corr(a_u, a_v)| over x."""
    names = mlp.layer_names(len(params) - 1)
    n = x.shape[1]
    sig, sig_out = metrics.signatures_with_output(params, masks, depth, activation, x)
    norm = lambda s: s / jnp.maximum(s.sum(-1, keepdims=True), 1e-30)
    sigs = [jnp.eye(n)] + list(norm(sig)) + [norm(sig_out)[None]]  # per layer of units, input to output
    y, hidden = mlp.apply(params, masks, depth, x, activation, True)
    acts = [x] + list(hidden) + [y[:, None]]
    scores = {}
    for i, k in enumerate(names):
        if similarity == "overlap":
            sim = jnp.minimum(sigs[i][:, None, :], sigs[i + 1][None, :, :]).sum(-1)
        elif similarity == "cosine":
            unit = lambda g: g / jnp.maximum(jnp.linalg.norm(g, axis=-1, keepdims=True), 1e-30)
            sim = unit(sigs[i]) @ unit(sigs[i + 1]).T
        elif similarity == "correlation":
            za, zb = (acts[i] - acts[i].mean(0)), (acts[i + 1] - acts[i + 1].mean(0))
            za = za / jnp.maximum(jnp.linalg.norm(za, axis=0), 1e-30)
            zb = zb / jnp.maximum(jnp.linalg.norm(zb, axis=0), 1e-30)
            sim = jnp.abs(za.T @ zb)
        else:
            raise ValueError(
                f"config.pruning.sp_similarity={similarity!r}: allowed values are ('overlap', 'cosine', 'correlation')"
            )
        scores[k] = jnp.abs(params[k]["w"]) * sim**gamma
    return scores


# ------------------------------------------------------------------------------------------------- oracle
def oracle_levels(target_depth: int, depth: int) -> list[int]:
    """Structure level hosted by hidden layers 1..depth: ceil(l * L / depth), so the last layer hosts the root."""
    return [max(1, math.ceil(l * target_depth / depth)) for l in range(1, depth + 1)]


def alive_nodes(structure, level: int) -> list[int]:
    """Nodes alive at `level`: nodes with level <= `level` < a parent's level; outputs stay alive from their own
    level on (the root alone at the top for single-output targets)."""
    outputs = set(structure.outputs)
    return [
        v
        for v in range(structure.n_nodes)
        if structure.level[v] <= level
        and (v in outputs or level < max((structure.level[p] for p in structure.parents(v)), default=-1))
    ]


def oracle_allowed(structure, width: int, depth: int) -> dict[str, np.ndarray]:
    """The target-implied wiring of a depth-`depth` network: each hidden layer's units split into contiguous
    blocks (np.array_split), one per node alive at its level; an edge is allowed from block u (or input i) to
    block v when u is v or a descendant of v (i in S_v). The readout reads every unit of the last layer."""
    desc = [{v} for v in range(structure.n_nodes)]
    for v in range(structure.n_nodes):  # topological order: children first
        for c in structure.children[v]:
            desc[v] |= desc[c]
    prev_blocks = [[i] for i in range(structure.n_inputs)]  # inputs as units
    prev_nodes = list(range(structure.n_inputs))
    out = {}
    for l, lam in enumerate(oracle_levels(structure.depth, depth)):
        nodes = alive_nodes(structure, lam)
        blocks = np.array_split(np.arange(width), len(nodes))
        allowed = np.zeros((sum(len(b) for b in prev_blocks), width), np.float32)
        for u, ub in zip(prev_nodes, prev_blocks, strict=True):
            for v, vb in zip(nodes, blocks, strict=True):
                if u in desc[v]:
                    allowed[np.ix_(ub, vb)] = 1.0
        out[f"h{l}"] = allowed
        prev_nodes, prev_blocks = nodes, blocks
    readout = np.zeros((width, structure.n_outputs), np.float32)
    for j, o in enumerate(structure.outputs):
        for u, ub in zip(prev_nodes, prev_blocks, strict=True):
            readout[ub, j] = float(u in desc[o])
    out["out"] = readout
    return out


def oracle_table(structure, width: int, max_depth: int) -> dict[str, np.ndarray]:
    """oracle_allowed for every depth 1..max_depth, stacked: {layer: (max_depth, fan_in, fan_out)}; layers a depth
    does not use are all ones (they are padding)."""
    n = structure.n_inputs
    shapes = {f"h{l}": (n if l == 0 else width, width) for l in range(max_depth)} | {
        "out": (width, structure.n_outputs)
    }
    table = {k: np.ones((max_depth, *s), np.float32) for k, s in shapes.items()}
    for d in range(1, max_depth + 1):
        for k, a in oracle_allowed(structure, width, d).items():
            table[k][d - 1] = a
    return table


def oracle_masks(key, table: dict, params: dict, density, depth) -> dict:
    """A uniformly random subset of the allowed edges at `density` per layer; when the structure allows fewer
    edges than asked for, all of them (never a disallowed edge). Realised sparsity is reported by the caller."""
    names = mlp.layer_names(len(params) - 1)
    active = mlp.layer_active(depth, len(names) - 1)
    out = {}
    for i, k in enumerate(names):
        allowed = table[k][depth - 1]
        u = jax.random.uniform(mlp.layer_key(key, k), allowed.shape)
        out[k] = jnp.where(active[i], topk_mask(jnp.where(allowed > 0, u, -1.0), density) * allowed, 1.0)
    return out


def disconnected_inputs(masks: dict, depth) -> jax.Array:
    """Number of inputs with no live path to the output."""
    names = mlp.layer_names(len(masks) - 1)
    reach = jnp.eye(masks["h0"].shape[0])
    for l in range(len(names) - 1):
        new = (reach @ masks[f"h{l}"] > 0).astype(jnp.float32)
        reach = new if l == 0 else jnp.where(l < depth, new, reach)
    return ((reach @ masks["out"]).sum(1) == 0).sum()


def random_masks(key: jax.Array, params: dict, density: jax.Array, depth: jax.Array) -> dict:
    """Uniformly random wiring at `density` per active layer. Scores use mlp.layer_key, so the masks of one key
    are nested across densities and equal across slot counts."""
    names = mlp.layer_names(len(params) - 1)
    scores = {k: jax.random.uniform(mlp.layer_key(key, k), params[k]["w"].shape) for k in names}
    return layer_masks(scores, density, mlp.layer_active(depth, len(names) - 1))


class MaskedState(NamedTuple):
    """No state: the masks are closed over."""


def mask_updates(masks: dict) -> optax.GradientTransformation:
    """optax transform zeroing the updates of pruned weights (chain it after the optimizer), so neither Adam
    momentum nor weight decay can bring a pruned weight back."""

    def init_fn(params):
        del params
        return MaskedState()

    def update_fn(updates, state, params=None):
        del params
        return mlp.mask_params(updates, masks), state

    return optax.GradientTransformation(init_fn, update_fn)
