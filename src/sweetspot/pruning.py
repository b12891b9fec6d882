"""Masks: score -> top-k mask per layer -> per-layer density. docs/method.md, section "Masks and pruning".

Every function is pure and jittable with a traced density, so one compile serves all sparsities.
Padded layers (see mlp.layer_active) get an all-ones mask and are never ranked or counted.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from sweetspot import mlp


def keep_count(n: int, density: jax.Array) -> jax.Array:
    """Number of weights kept in a layer of n weights: round(density * n), at least 1."""
    return jnp.clip(jnp.round(density * n), 1, n).astype(jnp.int32)


def topk_mask(scores: jax.Array, density: jax.Array) -> jax.Array:
    """0/1 mask (float32, shaped like scores) keeping the keep_count highest scores; ties go to the lower
    flat index, so the realised density is exact and deterministic."""
    flat = scores.ravel()
    order = jnp.argsort(-flat, stable=True)
    rank = jnp.zeros(flat.shape, jnp.int32).at[order].set(jnp.arange(flat.size, dtype=jnp.int32))
    return (rank < keep_count(flat.size, density)).astype(jnp.float32).reshape(scores.shape)


def layer_masks(scores: dict, density: jax.Array, active: jax.Array) -> dict:
    """Per-layer top-k at `density` for every active layer; inactive (padded) layers stay all ones."""
    names = mlp.layer_names(len(scores) - 1)
    return {k: jnp.where(active[i], topk_mask(scores[k], density), 1.0) for i, k in enumerate(names)}


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
