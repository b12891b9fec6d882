"""Training one grid point, as a pure function. docs/method.md, section "Training".

`make_train(cfg, n_slots, method, n_result_slots)` reads the static config once (shapes, step counts, method
and optimizer names) and returns `train(point, data) -> (results, state)`. A point is a dict of traced values:
key (uint32[2]), depth, sparsity, lr, weight_decay. Every training run is one `lax.scan` of `lax.scan`s; the
loss curves are reduced inside it (one value every eval_every steps), never stored per step. Rewind methods
run their pruning rounds as a further `lax.scan`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from sweetspot import metrics, mlp, pruning
from sweetspot.config import BINARY_FAMILIES

# Purposes folded into a point's key (docs/method.md, "Keys").
KEY_INIT, KEY_MASK, KEY_DATA, KEY_SHUFFLE, KEY_PRUNE_DATA = 0, 1, 2, 3, 4


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
    """Mean squared error over samples and outputs (real-valued targets)."""
    return jnp.mean((mlp.apply(params, masks, depth, x, activation) - y) ** 2)


def bce(params, masks, depth, x, y, activation):
    """Binary cross-entropy of the output logits against +-1 labels y (+1 = true), mean over samples and outputs."""
    return jnp.mean(optax.sigmoid_binary_cross_entropy(mlp.apply(params, masks, depth, x, activation), (y + 1) / 2))


def accuracy(params, masks, depth, x, y, activation):
    """Fraction of (sample, output) labels whose logit has the label's sign (Boolean targets)."""
    return jnp.mean((mlp.apply(params, masks, depth, x, activation) > 0) == (y > 0))


def make_loss(cfg):
    """The training loss of cfg's target: bce for the Boolean families (config.BINARY_FAMILIES), else mse."""
    return bce if cfg.target.family in BINARY_FAMILIES else mse


def mse_blocked(params, masks, depth, x, y, activation, block: int = 512, loss=mse):
    """`loss` over a large split in blocks of `block` samples (lax.map), so memory holds one block's activations."""
    if x.shape[0] <= block or x.shape[0] % block:
        return loss(params, masks, depth, x, y, activation)
    xb, yb = x.reshape(-1, block, x.shape[1]), y.reshape(-1, block, *y.shape[1:])
    total = jax.lax.map(lambda a: loss(params, masks, depth, a[0], a[1], activation), (xb, yb))
    return total.mean()


def rewind_step(cfg) -> int:
    """k = round(pruning.rewind_frac * train.steps): the step whose weights the rewind methods restart from."""
    return int(round(cfg.pruning.rewind_frac * cfg.train.steps))


def make_fit(cfg, capture_at: int | None = None):
    """Returns fit(params, masks, point, data, key) -> (params, curve_train, curve_test, params at step
    `capture_at`): train.steps masked optimizer steps from `params`, one `lax.scan` of `lax.scan`s."""
    act = cfg.model.activation
    steps, every, batch = int(cfg.train.steps), int(cfg.train.eval_every), int(cfg.train.batch_size)
    optimizer = cfg.train.optimizer
    loss_fn, noise = make_loss(cfg), float(cfg.target.input_noise)
    loss_grad = jax.value_and_grad(loss_fn)

    def fit(params, masks, point, data, key):
        depth = point["depth"]
        opt = optax.chain(make_optimizer(optimizer, point["lr"], point["weight_decay"]), pruning.mask_updates(masks))
        x_tr, y_tr = data["x_train"], data["y_train"]

        def step(carry, inputs):
            p, s, saved = carry
            t, k = inputs
            if batch:
                idx = jax.random.randint(k, (batch,), 0, x_tr.shape[0])
                xb, yb = x_tr[idx], y_tr[idx]
            else:
                xb, yb = x_tr, y_tr
            if noise:  # Gaussian input noise on the training inputs (the Neural Sculpting protocol)
                xb = xb + noise * jax.random.normal(jax.random.fold_in(k, 1), xb.shape)
            loss, g = loss_grad(p, masks, depth, xb, yb, act)
            updates, s = opt.update(g, s, p)
            if capture_at is not None:  # weights *before* step t, i.e. after t steps
                saved = jax.tree.map(lambda a, b: jnp.where(t == capture_at, a, b), p, saved)
            p = mlp.mask_params(optax.apply_updates(p, updates), masks)
            return (p, s, saved), loss

        def block(carry, i):
            keys = jax.random.split(jax.random.fold_in(key, i), every)
            carry, losses = jax.lax.scan(step, carry, (i * every + jnp.arange(every), keys))
            test = loss_fn(carry[0], masks, depth, data["x_test"], data["y_test"], act)
            return carry, (losses.mean(), test)

        init = (params, opt.init(params), params if capture_at is not None else ())
        (params, _, saved), (curve_train, curve_test) = jax.lax.scan(block, init, jnp.arange(steps // every))
        return params, curve_train, curve_test, saved

    return fit


def make_train(cfg, n_slots: int, method: str, n_result_slots: int | None = None):
    """Returns the pure `train(point, data)` for networks with `n_slots` hidden-layer slots and a static `method`
    (docs/method.md, "Masks and pruning" for each method's schedule).

    `n_result_slots` (>= n_slots) fixes the length of per-layer result vectors so groups of different depths
    concatenate; missing layers read NaN.
    """
    n_result_slots = n_slots if n_result_slots is None else n_result_slots
    base, shuffled = pruning.parse_method(method)
    width, act = int(cfg.model.width), cfg.model.activation
    pc = cfg.pruning
    rounds = 1 if base == "magnitude" else int(pc.rounds)
    k_rewind = rewind_step(cfg)
    fit, fit_capture = make_fit(cfg), make_fit(cfg, capture_at=k_rewind)
    binary = cfg.target.family in BINARY_FAMILIES

    def scores(params, masks, point, data):
        if base == "sp":
            x = data["x_train"][: int(pc.sp_inputs)]
            return pruning.sp_scores(params, masks, point["depth"], x, act, pc.sp_similarity, float(pc.sp_gamma))
        return pruning.magnitude_scores(params)

    def initial_masks(key, params, point, data):
        depth, density = point["depth"], 1.0 - point["sparsity"]
        if base == "dense":
            return mlp.ones_masks(params)
        if base == "random":
            return pruning.random_masks(key, params, density, depth)
        if base == "oracle":
            return pruning.oracle_masks(key, data["oracle"], params, density, depth)
        ones = mlp.ones_masks(params)
        if base == "snip":
            idx = jax.random.randint(key, (int(pc.snip_batch),), 0, data["x_train"].shape[0])
            s = pruning.snip_scores(
                params, ones, depth, data["x_train"][idx], data["y_train"][idx], act, make_loss(cfg)
            )
            return pruning.prune(s, ones, density, depth, pc.scope)
        return pruning.synflow_masks(params, density, depth, int(pc.synflow_rounds), pc.scope)  # synflow

    def train(point: dict, data: dict):
        key, depth = point["key"], point["depth"]
        n_inputs, n_outputs = data["x_train"].shape[1], mlp.outputs_of(data["y_train"])
        params = mlp.init(jax.random.fold_in(key, KEY_INIT), n_inputs, width, n_slots, act, n_outputs)
        if base in pruning.AT_INIT:
            masks = initial_masks(jax.random.fold_in(key, KEY_MASK), params, point, data)
        else:  # train dense, then R rounds of prune -> rewind to step k -> retrain (the last retrain is below)
            prune_key = lambda r: jax.random.fold_in(jax.random.fold_in(key, KEY_PRUNE_DATA), r)
            ones = mlp.ones_masks(params)
            trained, _, _, params = fit_capture(params, ones, point, data, prune_key(0))
            density = 1.0 - point["sparsity"]

            def one_round(carry, r):
                masks, trained = carry
                target = density ** ((r + 1.0) / rounds)
                masks = pruning.prune(scores(trained, masks, point, data), masks, target, depth, pc.scope)
                trained = fit(mlp.mask_params(params, masks), masks, point, data, prune_key(r + 1))[0]
                return (masks, trained), None

            masks = ones
            if rounds > 1:
                (masks, trained), _ = jax.lax.scan(one_round, (masks, trained), jnp.arange(rounds - 1))
            masks = pruning.prune(scores(trained, masks, point, data), masks, density, depth, pc.scope)
        if shuffled:
            masks = pruning.shuffle_masks(jax.random.fold_in(key, KEY_SHUFFLE), masks, depth)
        data_key = jax.random.fold_in(key, KEY_DATA)
        params, curve_train, curve_test, _ = fit(mlp.mask_params(params, masks), masks, point, data, data_key)
        results = evaluate(params, masks, depth, data, act, n_result_slots, binary)
        results["curve_train"], results["curve_test"] = curve_train, curve_test
        results["diverged"] = ~jnp.isfinite(curve_train).all() | ~jnp.isfinite(results["test_loss"])
        results["disconnected_inputs"] = pruning.disconnected_inputs(masks, depth)
        if "probe" in data:
            is_fit = results["test_acc"] >= cfg.metrics.fit_accuracy if binary else None
            m = metrics.compute(params, masks, depth, act, data["probe"], results["test_r2"], cfg.metrics, is_fit)
            results.update(pad_layer_axis(m, n_slots, n_result_slots))
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


def evaluate(params, masks, depth, data, act, n_result_slots, binary: bool = False) -> dict:
    """Final losses (mse, or bce when `binary`), test R^2, the held-out-combination ratio and realised
    (per-layer) sparsity; Boolean targets add test and held-out accuracy, and their test R^2 is that of the
    predicted mean label 2 sigmoid(logit) - 1 against the +-1 labels."""
    loss = bce if binary else mse
    out = {
        s: mse_blocked(params, masks, depth, data[f"x_{s}"], data[f"y_{s}"], act, loss=loss)
        for s in ("train", "test", "heldout")
    }
    live, total = mlp.layer_counts(masks, depth)
    per_layer = jnp.where(total > 0, 1.0 - live / jnp.maximum(total, 1), jnp.nan)
    pad = n_result_slots + 1 - per_layer.shape[0]
    # Readout stays last: [h0 .. h{n_slots-1}, NaN padding, out].
    per_layer = jnp.concatenate([per_layer[:-1], jnp.full((pad,), jnp.nan), per_layer[-1:]])
    if binary:
        y_hat = 2.0 * jax.nn.sigmoid(mlp.apply(params, masks, depth, data["x_test"], act)) - 1.0
        test_r2 = 1.0 - jnp.mean((y_hat - data["y_test"]) ** 2) / jnp.var(data["y_test"])
        extra = {
            f"{s}_acc": accuracy(params, masks, depth, data[f"x_{s}"], data[f"y_{s}"], act) for s in ("test", "heldout")
        }
    else:
        test_r2, extra = 1.0 - out["test"] / jnp.var(data["y_test"]), {}
    return extra | {
        "train_loss": out["train"],
        "test_loss": out["test"],
        "heldout_loss": out["heldout"],
        "test_r2": test_r2,
        "gen_ratio": out["heldout"] / out["test"],
        "realised_sparsity": 1.0 - live.sum() / total.sum(),
        "live_params": live.sum(),
        "layer_sparsity": per_layer,
    }
