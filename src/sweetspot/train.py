"""Training one grid point, as a pure function. docs/method.md, section "Training".

`make_train(cfg, n_slots, method, n_result_slots)` reads the static config once (shapes, step counts, method
and optimizer names) and returns `train(point, data) -> (results, state)`. A point is a dict of traced values:
key (uint32[2]), depth, sparsity, lr, weight_decay. The whole loop is one `lax.scan` of `lax.scan`s; the loss
curves are reduced inside it (one value every eval_every steps), never stored per step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from sweetspot import metrics, mlp, pruning

# Purposes folded into a point's key (docs/method.md, "Keys").
KEY_INIT, KEY_MASK, KEY_DATA = 0, 1, 2


def make_optimizer(name: str, lr: jax.Array, weight_decay: jax.Array) -> optax.GradientTransformation:
    """adam: L2 decay added to the gradient; adamw: decoupled decay; sgd: plain SGD with L2 decay.
    lr and weight_decay may be traced (one compile serves every value)."""
    if name == "adam":
        return optax.chain(optax.add_decayed_weights(weight_decay), optax.adam(lr))
    if name == "adamw":
        return optax.adamw(lr, weight_decay=weight_decay)
    if name == "sgd":
        return optax.chain(optax.add_decayed_weights(weight_decay), optax.sgd(lr))
    raise ValueError(f"config.train.optimizer={name!r}: allowed values are ('adam', 'adamw', 'sgd')")


def mse(params, masks, depth, x, y, activation):
    return jnp.mean((mlp.apply(params, masks, depth, x, activation) - y) ** 2)


def initial_masks(method: str, key, params, sparsity, depth) -> dict:
    """The connectivity a point starts from: `dense` all ones, `random` uniform at 1 - sparsity per layer."""
    if method == "dense":
        return mlp.ones_masks(params)
    if method == "random":
        return pruning.random_masks(key, params, 1.0 - sparsity, depth)
    raise ValueError(f"method={method!r}: allowed values are ('dense', 'random')")


def make_train(cfg, n_slots: int, method: str, n_result_slots: int | None = None):
    """Returns the pure `train(point, data)` for networks with `n_slots` hidden-layer slots.

    `n_result_slots` (>= n_slots) fixes the length of per-layer result vectors so groups of different depths
    concatenate; missing layers read NaN.
    """
    n_result_slots = n_slots if n_result_slots is None else n_result_slots
    width, act = int(cfg.model.width), cfg.model.activation
    steps, every, batch = int(cfg.train.steps), int(cfg.train.eval_every), int(cfg.train.batch_size)
    optimizer = cfg.train.optimizer
    n_evals = steps // every

    def train(point: dict, data: dict):
        key, depth = point["key"], point["depth"]
        n_inputs = data["x_train"].shape[1]
        params = mlp.init(jax.random.fold_in(key, KEY_INIT), n_inputs, width, n_slots, act)
        masks = initial_masks(method, jax.random.fold_in(key, KEY_MASK), params, point["sparsity"], depth)
        params = mlp.mask_params(params, masks)
        opt = optax.chain(make_optimizer(optimizer, point["lr"], point["weight_decay"]), pruning.mask_updates(masks))
        loss_grad = jax.value_and_grad(mse)
        x_tr, y_tr = data["x_train"], data["y_train"]

        def step(carry, k):
            p, s = carry
            if batch:
                idx = jax.random.randint(k, (batch,), 0, x_tr.shape[0])
                xb, yb = x_tr[idx], y_tr[idx]
            else:
                xb, yb = x_tr, y_tr
            loss, g = loss_grad(p, masks, depth, xb, yb, act)
            updates, s = opt.update(g, s, p)
            p = mlp.mask_params(optax.apply_updates(p, updates), masks)
            return (p, s), loss

        def block(carry, i):
            keys = jax.random.split(jax.random.fold_in(jax.random.fold_in(key, KEY_DATA), i), every)
            carry, losses = jax.lax.scan(step, carry, keys)
            test = mse(carry[0], masks, depth, data["x_test"], data["y_test"], act)
            return carry, (losses.mean(), test)

        (params, _), (curve_train, curve_test) = jax.lax.scan(block, (params, opt.init(params)), jnp.arange(n_evals))
        results = evaluate(params, masks, depth, data, act, n_result_slots)
        results["curve_train"], results["curve_test"] = curve_train, curve_test
        if "probe" in data:
            m = metrics.compute(params, masks, depth, act, data["probe"], results["test_r2"], cfg.metrics)
            results.update(pad_layer_axis(m, n_slots, n_result_slots))
        results["diverged"] = ~jnp.isfinite(curve_train).all() | ~jnp.isfinite(results["test_loss"])
        return results, {"params": params, "masks": masks}

    return train


LAYER_AXIS_KEYS = (
    "interference_layers",
    "purity_layers",
    "live_units_layers",
    "n_local",
    "r2_restricted_layers",
    "r2_any_layers",
)


def pad_layer_axis(m: dict, n_slots: int, n_result_slots: int) -> dict:
    """Pads the per-layer (last) axis of the metrics in LAYER_AXIS_KEYS to n_result_slots with NaN."""
    out = dict(m)
    for k in LAYER_AXIS_KEYS:
        v = m[k].astype(jnp.float32)
        out[k] = jnp.concatenate([v, jnp.full((*v.shape[:-1], n_result_slots - n_slots), jnp.nan)], axis=-1)
    return out


def evaluate(params, masks, depth, data, act, n_result_slots) -> dict:
    """Final losses, test R^2, the held-out-combination ratio and realised (per-layer) sparsity."""
    out = {s: mse(params, masks, depth, data[f"x_{s}"], data[f"y_{s}"], act) for s in ("train", "test", "heldout")}
    live, total = mlp.layer_counts(masks, depth)
    per_layer = jnp.where(total > 0, 1.0 - live / jnp.maximum(total, 1), jnp.nan)
    pad = n_result_slots + 1 - per_layer.shape[0]
    # Readout stays last: [h0 .. h{n_slots-1}, NaN padding, out].
    per_layer = jnp.concatenate([per_layer[:-1], jnp.full((pad,), jnp.nan), per_layer[-1:]])
    return {
        "train_loss": out["train"],
        "test_loss": out["test"],
        "heldout_loss": out["heldout"],
        "test_r2": 1.0 - out["test"] / jnp.var(data["y_test"]),
        "gen_ratio": out["heldout"] / out["test"],
        "realised_sparsity": 1.0 - live.sum() / total.sum(),
        "live_params": live.sum(),
        "layer_sparsity": per_layer,
    }
