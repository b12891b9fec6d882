"""Pruning: the one registry of connectivity methods. docs/method.md, section "Masks and pruning".

As in jaxpruner, a method is its score; masks (top-k per layer or global), the density schedule and the
shuffled controls are shared. A `Method` is a score plus a schedule:
  - `INIT`: the mask is fixed before training, pruning to density^((r+1)/R) over R rounds of re-scoring;
  - `REWIND`: train dense, then R rounds of prune -> rewind to step k -> retrain (the last retrain is the
    point's own training);
  - `SCULPT` (pruning/sculpt.py): Neural Sculpting's protocol: train dense, prune units then edges iteratively,
    each step retrained and kept only while the network still meets an accuracy threshold.
`SCHEDULES` maps every schedule but INIT to its mask function (train.make_train dispatches through it).
`METHODS` is read by config validation, the engine and the docs; `shuffled:<method>` permutes each layer of
<method>'s final mask (same per-layer density, other wiring). Layout: masks (top-k, schedule, optax transform),
scores (magnitude, uniform, SNIP, SynFlow, SP), oracle (the wiring a target implies).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from sweetspot import mlp
from sweetspot.config import check_choice, fail
from sweetspot.pruning.masks import (
    SCOPES,
    disconnected_inputs,
    keep_count,
    layer_masks,
    mask_updates,
    prune,
    rank_mask,
    round_density,
    shuffle_masks,
    topk_mask,
)
from sweetspot.pruning.oracle import alive_nodes, oracle_allowed, oracle_levels, oracle_table
from sweetspot.pruning.scores import (
    SP_SIMILARITIES,
    check_sp_config,
    magnitude_scores,
    snip_scores,
    sp_scores,
    synflow_scores,
    uniform_scores,
)
from sweetspot.pruning.sculpt import SCULPT, sculpt_masks
from sweetspot.pruning.sculpt import check_config as check_sculpt_config

INIT, REWIND = "init", "rewind"
SHUFFLED = "shuffled:"


class ScoreInputs(NamedTuple):
    """What a score may read: the point's mask key, its traced values, the data, and static settings."""

    key: jax.Array
    point: dict
    data: dict
    activation: str
    pcfg: Any  # config.pruning
    loss: Callable  # the training loss (params, masks, depth, x, y, activation) -> scalar


class Method(NamedTuple):
    schedule: str  # INIT or REWIND
    score: Callable | None  # score(inp, params, masks) -> {layer: scores}; None keeps every weight (dense)
    rounds: Callable  # config.pruning -> R
    scope: str | None = None  # "layer" fixes per-layer top-k; None follows config.pruning.scope
    allowed: Callable | None = None  # inp -> {layer: 0/1}: the only edges the method may keep (oracle)
    doc: str = ""


def _one(pcfg) -> int:
    return 1


def _snip(inp, params, masks):
    """SNIP's batch: snip_batch rows drawn from the point's own training rows (the first n_train of the pool)."""
    x, y = inp.data["x_train"], inp.data["y_train"]
    idx = jax.random.randint(inp.key, (int(inp.pcfg.snip_batch),), 0, inp.point.get("n_train", x.shape[0]))
    return snip_scores(params, masks, inp.point["depth"], x[idx], y[idx], inp.activation, inp.loss)


def _sp(inp, params, masks):
    """SP's signature inputs: the first sp_inputs training rows; with a traced n_train (grid.n_train), the point's
    own rows only, cycled when it has fewer (the same inputs, each repeated, when sp_inputs is a multiple)."""
    x = inp.data["x_train"][: int(inp.pcfg.sp_inputs)]
    if "n_train" in inp.point:
        x = x[jnp.arange(x.shape[0]) % inp.point["n_train"]]
    p = inp.pcfg
    return sp_scores(params, masks, inp.point["depth"], x, inp.activation, p.sp_similarity, float(p.sp_gamma))


def _oracle_allowed(inp) -> dict:
    return {k: t[inp.point["depth"] - 1] for k, t in inp.data["oracle"].items()}


def _oracle(inp, params, masks):
    allowed = _oracle_allowed(inp)
    return {k: jnp.where(allowed[k] > 0, u, -1.0) for k, u in uniform_scores(inp.key, params).items()}


METHODS: dict[str, Method] = {
    "dense": Method(INIT, None, _one, doc="every weight live; sparsity is ignored"),
    "random": Method(INIT, lambda inp, p, m: uniform_scores(inp.key, p), _one, "layer", doc="uniform random wiring"),
    "snip": Method(INIT, _snip, _one, doc="|dL/dw * w| at init on one batch"),
    "synflow": Method(
        INIT, lambda inp, p, m: synflow_scores(p, m, inp.point["depth"]), lambda pc: int(pc.synflow_rounds),
        doc="data-free synaptic flow, iterated",
    ),
    "oracle": Method(INIT, _oracle, _one, "layer", _oracle_allowed, doc="random edges of the target's wiring"),
    "magnitude": Method(REWIND, lambda inp, p, m: magnitude_scores(p), _one, doc="|w|, one round"),
    "imp": Method(REWIND, lambda inp, p, m: magnitude_scores(p), lambda pc: int(pc.rounds), doc="iterative |w|"),
    "sp": Method(REWIND, _sp, lambda pc: int(pc.rounds), doc="similarity-based pruning (signature similarity)"),
    "sculpt": Method(
        SCULPT, lambda inp, p, m: magnitude_scores(p), _one,
        doc="Neural Sculpting: iterative unit then edge pruning with retraining while accuracy holds",
    ),
}


def method_names() -> tuple[str, ...]:
    """Every name the grid's method axis accepts: the registry and the shuffled controls."""
    return tuple(METHODS) + tuple(SHUFFLED + m for m in METHODS if m != "dense")


def parse_method(method: str) -> tuple[str, bool]:
    """'shuffled:imp' -> ('imp', True); 'sp' -> ('sp', False). Raises ValueError naming the allowed values."""
    shuffled = isinstance(method, str) and method.startswith(SHUFFLED)
    base = method[len(SHUFFLED) :] if shuffled else method
    if base not in METHODS or (shuffled and base == "dense"):
        raise ValueError(f"config.grid.method={method!r}: allowed values are {list(method_names())}")
    return base, shuffled


def init_masks(m: Method, inp: ScoreInputs, params: dict, density: jax.Array) -> dict:
    """The INIT schedule: R rounds of score -> prune to density^((r+1)/R), from all ones."""
    ones = mlp.ones_masks(params)
    if m.score is None:
        return ones
    depth = inp.point["depth"]
    scope, rounds = m.scope or inp.pcfg.scope, m.rounds(inp.pcfg)
    if rounds == 1:
        masks = prune(m.score(inp, params, ones), ones, density, depth, scope)
    else:
        target = lambda r: round_density(density, r, rounds)
        step = lambda r, masks: prune(m.score(inp, params, masks), masks, target(r), depth, scope)
        masks = jax.lax.fori_loop(0, rounds, step, ones)
    if m.allowed is not None:
        allowed = m.allowed(inp)
        masks = {k: v * allowed[k] for k, v in masks.items()}
    return masks


def rewind_masks(m: Method, inp: ScoreInputs, params: dict, density, fit: Callable, fit_capture: Callable, fit_key):
    """The REWIND schedule: train dense (capturing the weights at the rewind step), then R rounds of prune to
    density^((r+1)/R) -> rewind -> retrain; the R-th retrain is the caller's. Returns (masks, rewound params).
    fit / fit_capture are train.make_fit's; fit_key(r) is round r's data key."""
    depth = inp.point["depth"]
    scope, rounds = m.scope or inp.pcfg.scope, m.rounds(inp.pcfg)
    ones = mlp.ones_masks(params)
    trained, _, _, params = fit_capture(params, ones, inp.point, inp.data, fit_key(0))

    def one_round(carry, r):
        masks, trained = carry
        masks = prune(m.score(inp, trained, masks), masks, round_density(density, r, rounds), depth, scope)
        trained = fit(mlp.mask_params(params, masks), masks, inp.point, inp.data, fit_key(r + 1))[0]
        return (masks, trained), None

    masks = ones
    if rounds > 1:
        (masks, trained), _ = jax.lax.scan(one_round, (masks, trained), jnp.arange(rounds - 1))
    return prune(m.score(inp, trained, masks), masks, density, depth, scope), params


# Every schedule but INIT: (method, inp, params, density, fit, fit_capture, fit_key) -> (masks, params to train from).
SCHEDULES: dict[str, Callable] = {REWIND: rewind_masks, SCULPT: sculpt_masks}


def check_config(pcfg, methods=()) -> None:
    """The pruning checks `validation.validate` asks for, each raising through config.fail (ConfigError naming
    the field and the allowed values): every name of the grid's method axis `methods`, the scope, SP's settings
    (scores.check_sp_config) and the sculpt settings (sculpt.check_config)."""
    for v in methods:
        try:
            parse_method(v)
        except ValueError:
            fail("grid.method", v, method_names())
    check_choice("pruning.scope", pcfg.scope, SCOPES)
    check_sp_config(pcfg)
    check_sculpt_config(pcfg)


__all__ = [
    "INIT", "METHODS", "Method", "REWIND", "SCHEDULES", "SCOPES", "SCULPT", "SHUFFLED", "SP_SIMILARITIES",
    "ScoreInputs", "alive_nodes", "check_config", "disconnected_inputs", "init_masks", "keep_count", "layer_masks",
    "magnitude_scores", "mask_updates", "method_names", "oracle_allowed", "oracle_levels", "oracle_table",
    "parse_method", "prune", "rank_mask", "rewind_masks", "round_density", "sculpt_masks", "shuffle_masks",
    "snip_scores", "sp_scores", "synflow_scores", "topk_mask", "uniform_scores",
]
