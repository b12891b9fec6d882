"""Masks from scores: top-k per layer (or globally), shuffled controls, reachability and the optax transform
that keeps pruned weights at zero. docs/method.md, section "Masks and pruning".

Every function is pure and jittable with a traced density, so one compile serves all sparsities. Padded layers
(see mlp.layer_active) get an all-ones mask and are never ranked or counted.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from sweetspot import mlp

SCOPES = ("layer", "global")  # top-k within each layer, or over all active layers together


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
    names, active = mlp.active_layers(scores, depth)
    live = {k: jnp.where(masks[k] > 0, scores[k], -jnp.inf) for k in names}
    if scope == "layer":
        return layer_masks(live, density, active)
    if scope != "global":
        raise ValueError(f"config.pruning.scope={scope!r}: allowed values are {SCOPES}")
    flat = jnp.concatenate([jnp.where(active[i], live[k], -jnp.inf).ravel() for i, k in enumerate(names)])
    n_active = sum(jnp.where(active[i], live[k].size, 0) for i, k in enumerate(names))
    kept = rank_mask(flat, jnp.clip(jnp.round(density * n_active), 1, n_active).astype(jnp.int32))
    out, start = {}, 0
    for i, k in enumerate(names):
        size = live[k].size
        out[k] = jnp.where(active[i], kept[start : start + size].reshape(live[k].shape), 1.0)
        start += size
    return out


def round_density(density: jax.Array, r, rounds: int) -> jax.Array:
    """The density after round r (0-based) of `rounds`: density^((r + 1) / rounds), so each round removes the
    same fraction q = 1 - density^(1/rounds) of the remaining weights (IMP, SP and SynFlow schedules)."""
    return density ** ((r + 1.0) / rounds)


def shuffle_masks(key: jax.Array, masks: dict, depth: jax.Array) -> dict:
    """Each active layer's mask permuted uniformly (same per-layer density, different wiring)."""
    names, active = mlp.active_layers(masks, depth)
    out = {}
    for i, k in enumerate(names):
        perm = jax.random.permutation(mlp.layer_key(key, k), masks[k].ravel())
        out[k] = jnp.where(active[i], perm.reshape(masks[k].shape), masks[k])
    return out


def disconnected_inputs(masks: dict, depth) -> jax.Array:
    """Number of inputs with no live path to the output."""
    step = lambda l, reach: (reach @ masks[f"h{l}"] > 0).astype(jnp.float32)
    reach, _ = mlp.propagate(jnp.eye(masks["h0"].shape[0]), step, len(masks) - 1, depth)
    return ((reach @ masks["out"]).sum(1) == 0).sum()


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
