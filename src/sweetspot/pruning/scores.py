"""Pruning scores: a method is its score (docs/method.md, "Masks and pruning"). Each returns {layer: array shaped
like that layer's weights}; higher is kept. The registry in `sweetspot.pruning` names them.
"""

from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp

from sweetspot import metrics, mlp
from sweetspot.config import fail


def magnitude_scores(params: dict) -> dict:
    """|w| (magnitude and IMP)."""
    return {k: jnp.abs(p["w"]) for k, p in params.items()}


def uniform_scores(key: jax.Array, params: dict) -> dict:
    """U(0, 1) per weight from mlp.layer_key (random wiring): the masks of one key are nested across densities
    and equal across slot counts."""
    return {k: jax.random.uniform(mlp.layer_key(key, k), p["w"].shape) for k, p in params.items()}


def snip_scores(params: dict, masks: dict, depth, x, y, activation, loss_fn=None) -> dict:
    """SNIP: |dL/dw * w| at initialisation on one batch (x, y); L = loss_fn(params, masks, depth, x, y,
    activation), the training loss (mean squared error when None)."""
    if loss_fn is None:
        loss = lambda p: jnp.mean((mlp.apply(p, masks, depth, x, activation) - y) ** 2)
    else:
        loss = lambda p: loss_fn(p, masks, depth, x, y, activation)
    g = jax.grad(loss)(params)
    return {k: jnp.abs(g[k]["w"] * params[k]["w"]) for k in params}


def synflow_scores(params: dict, masks: dict, depth) -> dict:
    """SynFlow (data-free): |dR/dw * w| with R = 1^T (prod_l |W_l| * M_l) 1 on the linearised network (no biases,
    no activation)."""
    absw = {k: jnp.abs(p["w"]) for k, p in params.items()}

    def flow(w, masks):
        h, _ = mlp.propagate(jnp.ones((1, w["h0"].shape[0])), lambda l, h: h @ (w[f"h{l}"] * masks[f"h{l}"]),
                             len(w) - 1, depth)
        return (h @ (w["out"] * masks["out"])).sum()

    g = jax.grad(flow)(absw, masks)
    return {k: g[k] * absw[k] for k in absw}


def _unit(g):
    return g / jnp.maximum(jnp.linalg.norm(g, axis=-1, keepdims=True), 1e-30)


def _zscore_columns(a):
    z = a - a.mean(0)
    return z / jnp.maximum(jnp.linalg.norm(z, axis=0), 1e-30)


# SP's similarity between the units of two consecutive layers: (signatures a (U, n), b (V, n), activations
# a (B, U), b (B, V)) -> (U, V).
SP_SIMILARITIES = {
    "overlap": lambda ga, gb, aa, ab: jnp.minimum(ga[:, None, :], gb[None, :, :]).sum(-1),
    "cosine": lambda ga, gb, aa, ab: _unit(ga) @ _unit(gb).T,
    "correlation": lambda ga, gb, aa, ab: jnp.abs(_zscore_columns(aa).T @ _zscore_columns(ab)),
}


def sp_scores(params: dict, masks: dict, depth, x, activation, similarity: str = "overlap", gamma: float = 1.0) -> dict:
    """Similarity-based pruning: s_uv = |w_uv| * sim(g_u, g_v)^gamma for the edge from unit u to unit v, where g is
    a unit's input signature E_x |d a / d x| normalised to sum 1 (inputs: one-hot). Readout edges are scored per
    output: the edge from u to output j uses g_{y_j} = E_x |d y_j / d x| normalised, so a unit that serves one
    output is never judged against another output's inputs (one output: as before, bit for bit).
    sim (SP_SIMILARITIES): 'overlap' = sum_i min(g_u,i, g_v,i); 'cosine'; 'correlation' = |corr(a_u, a_v)|."""
    if similarity not in SP_SIMILARITIES:
        raise ValueError(f"config.pruning.sp_similarity={similarity!r}: allowed values are {tuple(SP_SIMILARITIES)}")
    sim_fn = SP_SIMILARITIES[similarity]
    names = mlp.layer_names(len(params) - 1)
    n = x.shape[1]
    sig, sig_out = metrics.signatures_with_output(params, masks, depth, activation, x)
    norm = lambda s: s / jnp.maximum(s.sum(-1, keepdims=True), 1e-30)
    sigs = [jnp.eye(n)] + list(norm(sig)) + [norm(sig_out)]  # per layer of units, input to output: (units, n)
    y, hidden = mlp.apply(params, masks, depth, x, activation, True)
    acts = [x] + list(hidden) + [y.reshape(y.shape[0], -1)]
    return {
        k: jnp.abs(params[k]["w"]) * sim_fn(sigs[i], sigs[i + 1], acts[i], acts[i + 1]) ** gamma
        for i, k in enumerate(names)
    }


def check_sp_config(pcfg) -> None:
    """ConfigError (config.fail: the field, its value, the allowed values) for an SP setting that sp_scores
    cannot run: sp_similarity outside SP_SIMILARITIES; sp_gamma not a finite number >= 0 (a negative power makes
    a 0 similarity infinite and the pruned weights' scores NaN); sp_inputs not an integer >= 1, or < 2 with
    'correlation' (a correlation over one input is 0 for every edge)."""
    if pcfg.sp_similarity not in SP_SIMILARITIES:
        fail("pruning.sp_similarity", pcfg.sp_similarity, tuple(SP_SIMILARITIES))
    g = pcfg.sp_gamma
    if isinstance(g, bool) or not isinstance(g, numbers.Real) or not math.isfinite(g) or g < 0:
        fail("pruning.sp_gamma", g, "a finite number >= 0")
    k = pcfg.sp_inputs
    low = 2 if pcfg.sp_similarity == "correlation" else 1
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < low:
        fail("pruning.sp_inputs", k, f"an integer >= {low}" + (" with sp_similarity='correlation'" if low > 1 else ""))
