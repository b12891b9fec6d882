"""Masked MLPs as pure functions. docs/method.md, section "Networks".

A network of depth D has D hidden layers of equal width and a linear readout. Params are a dict
{"h0": {"w", "b"}, ..., "h{L-1}": {...}, "out": {"w", "b"}} built for `n_slots` = L >= D hidden layers; masks
are {"h0": w-shaped 0/1, ..., "out": ...}. Hidden layer l >= depth is the identity (padding), so one program
serves every depth <= L; padded layers get zero gradient and count nowhere (see `layer_active`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

ACTIVATIONS = {"relu": jax.nn.relu, "gelu": jax.nn.gelu, "tanh": jnp.tanh}


def layer_names(n_slots: int) -> list[str]:
    """Names of the weight layers, input to output: h0 .. h{n_slots-1}, out."""
    return [f"h{l}" for l in range(n_slots)] + ["out"]


OUT_KEY = 1 << 16  # the readout's fold_in id, the same whatever the number of slots


def layer_key(key: jax.Array, name: str) -> jax.Array:
    """Per-layer key: fold_in(key, l) for hidden layer h{l}, fold_in(key, OUT_KEY) for the readout, so a layer's
    randomness does not depend on how many slots the network was built with."""
    return jax.random.fold_in(key, OUT_KEY if name == "out" else int(name[1:]))


def init(key: jax.Array, n_inputs: int, width: int, n_slots: int, activation: str = "relu", n_outputs: int = 1) -> dict:
    """He-normal (relu/gelu) or LeCun-normal (tanh) weights, zero biases. Each layer draws from layer_key, so
    networks of different depths built from one key share their layers. The readout has n_outputs units."""
    gain = 1.0 if activation == "tanh" else 2.0
    params = {}
    for l, name in enumerate(layer_names(n_slots)):
        fan_in = n_inputs if l == 0 else width
        fan_out = n_outputs if name == "out" else width
        w = jax.random.normal(layer_key(key, name), (fan_in, fan_out)) * jnp.sqrt(gain / fan_in)
        params[name] = {"w": w, "b": jnp.zeros((fan_out,))}
    return params


def outputs_of(y) -> int:
    """Number of outputs of a target array: y (batch,) has one, y (batch, m) has m."""
    return 1 if y.ndim == 1 else int(y.shape[1])


def n_slots_of(params: dict) -> int:
    return len(params) - 1


def layer_active(depth: jax.Array, n_slots: int) -> jax.Array:
    """Bool (n_slots + 1,): which weight layers a depth-`depth` network uses (the readout always)."""
    return jnp.concatenate([jnp.arange(n_slots) < depth, jnp.ones((1,), bool)])


def mask_params(params: dict, masks: dict) -> dict:
    """Zeroes the pruned weights (biases are never masked)."""
    return {k: {"w": p["w"] * masks[k], "b": p["b"]} for k, p in params.items()}


def ones_masks(params: dict) -> dict:
    return {k: jnp.ones_like(p["w"]) for k, p in params.items()}


def propagate(h: jax.Array, step, n_slots: int, depth: jax.Array) -> tuple[jax.Array, list[jax.Array]]:
    """The identity-padding loop every layer-by-layer pass shares: h <- step(l, h) for hidden layer l, where a
    layer l >= depth (padding) passes h through unchanged, and is not computed where depth is one value (not
    batched). Returns (last h, [h after each slot])."""
    hidden = []
    for l in range(n_slots):
        # cond: a padded layer costs nothing where depth is one value (segment mode's metrics, `train.by_depth`);
        # vmapped over points of different depths it is a select of both branches, as jnp.where was.
        h = step(l, h) if l == 0 else jax.lax.cond(l < depth, lambda h, l=l: step(l, h), lambda h: h, h)
        hidden.append(h)
    return h, hidden


def active_layers(tree: dict, depth: jax.Array) -> tuple[list[str], jax.Array]:
    """(layer names h0 .. out, bool (n_slots + 1,) of the layers a depth-`depth` network uses) of a params or
    masks dict."""
    names = layer_names(len(tree) - 1)
    return names, layer_active(depth, len(names) - 1)


def apply(params: dict, masks: dict, depth: jax.Array, x: jax.Array, activation: str = "relu",
          return_hidden: bool = False, patch=None):
    """Output (batch,) of the depth-`depth` network on x (batch, n), or (batch, m) with m > 1 outputs; with
    return_hidden also the hidden activations (n_slots, batch, width), where a padded layer repeats the last
    active one. `patch(l, a)`, when given, replaces hidden layer l's activations a before the next layer reads
    them (an intervention; causal.py)."""
    act = ACTIVATIONS[activation]

    def layer(l, h):
        a = act(h @ (params[f"h{l}"]["w"] * masks[f"h{l}"]) + params[f"h{l}"]["b"])
        return a if patch is None else patch(l, a)

    h, hidden = propagate(x, layer, n_slots_of(params), depth)
    p = params["out"]
    y = h @ (p["w"] * masks["out"]) + p["b"]
    y = y[..., 0] if y.shape[-1] == 1 else y
    return (y, jnp.stack(hidden)) if return_hidden else y


def apply_from(params: dict, masks: dict, depth: jax.Array, h: jax.Array, layer: jax.Array, activation: str = "relu"):
    """`apply`'s output given hidden layer `layer`'s activations h (batch, width): only the hidden layers after it
    and the readout run, each skipped (not computed where layer and depth are one value) unless layer < l < depth.
    Equal to `apply` with a patch that sets layer `layer` to h."""
    act = ACTIVATIONS[activation]
    for l in range(1, n_slots_of(params)):
        p = params[f"h{l}"]
        run = lambda h, p=p, m=masks[f"h{l}"]: act(h @ (p["w"] * m) + p["b"])
        h = jax.lax.cond((l > layer) & (l < depth), run, lambda h: h, h)
    p = params["out"]
    y = h @ (p["w"] * masks["out"]) + p["b"]
    return y[..., 0] if y.shape[-1] == 1 else y


def depth_starts(layout: tuple, n_slots: int) -> tuple[int, ...]:
    """For points sorted by depth with static `layout` ((depth, count), ...) ascending: starts[l] = index of the
    first point deeper than l, i.e. hidden layer l runs on points[starts[l]:] (starts[0] = 0)."""
    return tuple(sum(c for d, c in layout if d <= l) for l in range(n_slots))


def first_point(name: str, starts: tuple) -> int:
    """The first point of a depth-sorted batch that weight layer `name` runs on: starts[l] for h{l}, 0 for out."""
    return 0 if name == "out" else starts[int(name[1:])]


def live_slices(tree: dict, starts: tuple) -> dict:
    """Each layer of a depth-sorted batch (leading axis on every leaf) cut to the points it runs on: hidden layer
    l from starts[l] on (the points deeper than l), the readout whole."""
    cut = lambda v, s: jax.tree.map(lambda a: a[s:], v)
    return {k: cut(v, first_point(k, starts)) for k, v in tree.items()}


def apply_segmented(live_params: dict, live_masks: dict, starts: tuple, x: jax.Array, activation: str = "relu"):
    """`apply` of a batch of networks sorted by depth (leading axis k on x (k, batch, n)), on live slices
    (`live_slices(params, starts)`, `starts = depth_starts(...)`): hidden layer l runs only on the points deeper
    than l, and each point's readout on its depth's segment of the batch as soon as its last hidden layer has, so
    no padded layer is computed and only the outputs are re-joined. Equal to vmap(apply) with each point's depth
    (docs/method.md, "Grid engine")."""
    act = ACTIVATIONS[activation]
    layer = jax.vmap(lambda w, m, b, h: act(h @ (w * m) + b))
    readout = jax.vmap(lambda w, m, b, h: h @ (w * m) + b)
    po, mo = live_params["out"], live_masks["out"]
    h, ys, done = x, [], 0
    for l, s in enumerate(starts):
        if s >= x.shape[0]:
            break
        if s > done:  # the points of depth l are finished: their readout, on their segment
            ys.append(readout(po["w"][done:s], mo[done:s], po["b"][done:s], h[: s - done]))
            h, done = h[s - done :], s
        p = live_params[f"h{l}"]
        h = layer(p["w"], live_masks[f"h{l}"], p["b"], h)
    ys.append(readout(po["w"][done:], mo[done:], po["b"][done:], h))
    y = jnp.concatenate(ys) if len(ys) > 1 else ys[0]
    return y[..., 0] if y.shape[-1] == 1 else y


def layer_counts(masks: dict, depth: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(live, total) weight counts per layer, (n_slots + 1,) each; padded layers count 0 in both."""
    names, active = active_layers(masks, depth)
    live = jnp.stack([masks[k].sum() for k in names]) * active
    total = jnp.array([masks[k].size for k in names], jnp.float32) * active
    return live, total


# ------------------------------------------------------------------------------ float64 numpy reference
def np_act(activation, a):
    """(value, derivative) of the activation, float64 (gelu: jax's default tanh approximation)."""
    if activation == "relu":
        return np.maximum(a, 0.0), (a > 0).astype(float)
    if activation == "tanh":
        t = np.tanh(a)
        return t, 1.0 - t**2
    if activation == "gelu":
        c = math.sqrt(2 / math.pi)
        t = np.tanh(c * (a + 0.044715 * a**3))
        return 0.5 * a * (1 + t), 0.5 * (1 + t) + 0.5 * a * (1 - t**2) * c * (1 + 3 * 0.044715 * a**2)
    raise ValueError(f"config.model.activation={activation!r}: allowed values are {tuple(ACTIVATIONS)}")


def np_forward(params, masks, depth, activation, x):
    """Float64 numpy reference of `apply`'s hidden layers: activations (L, B, W) and exact Jacobians d h / d x
    (L, B, W, n), looping over layers (padded layers repeat the last active one)."""
    h = x
    jac = np.broadcast_to(np.eye(x.shape[1]), (x.shape[0], x.shape[1], x.shape[1]))  # (B, n, n)
    hs, js = [], []
    for l in range(len(params) - 1):
        w = params[f"h{l}"]["w"] * masks[f"h{l}"]
        if l < depth:
            a, da = np_act(activation, h @ w + params[f"h{l}"]["b"])
            jac = da[:, :, None] * np.einsum("iu,bin->bun", w, jac)
            h = a
        hs.append(h)
        js.append(jac)
    return np.stack(hs), np.stack(js)
