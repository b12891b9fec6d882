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

from sweetspot import metrics, mlp, pruning, result_keys

# Purposes folded into a point's key (docs/method.md, "Keys").
KEY_INIT, KEY_MASK, KEY_DATA, KEY_SHUFFLE, KEY_PRUNE_DATA = 0, 1, 2, 3, 4


# Optimizers by name: (lr, weight_decay) -> optax transform. lr and weight_decay may be traced (one compile serves
# every value). adam: L2 decay added to the gradient; adamw: decoupled decay; sgd: plain SGD with L2 decay.
OPTIMIZERS = {
    "adam": lambda lr, wd: optax.chain(optax.add_decayed_weights(wd), optax.adam(lr)),
    "adamw": lambda lr, wd: optax.adamw(lr, weight_decay=wd),
    "sgd": lambda lr, wd: optax.chain(optax.add_decayed_weights(wd), optax.sgd(lr)),
}


def make_optimizer(name: str, lr: jax.Array, weight_decay: jax.Array) -> optax.GradientTransformation:
    """OPTIMIZERS[name] at (lr, weight_decay); ValueError naming config.train.optimizer and the allowed values."""
    if name not in OPTIMIZERS:
        raise ValueError(f"config.train.optimizer={name!r}: allowed values are {tuple(OPTIMIZERS)}")
    return OPTIMIZERS[name](lr, weight_decay)


def mse(params, masks, depth, x, y, activation):
    """Mean squared error over samples and outputs (real-valued targets)."""
    return jnp.mean((mlp.apply(params, masks, depth, x, activation) - y) ** 2)


def bce(params, masks, depth, x, y, activation):
    """Binary cross-entropy of the output logits against +-1 labels y (+1 = true), mean over samples and outputs."""
    return jnp.mean(optax.sigmoid_binary_cross_entropy(mlp.apply(params, masks, depth, x, activation), (y + 1) / 2))


def accuracy(params, masks, depth, x, y, activation):
    """Fraction of (sample, output) labels whose logit has the label's sign (Boolean targets)."""
    return jnp.mean((mlp.apply(params, masks, depth, x, activation) > 0) == (y > 0))


def make_loss(binary: bool):
    """The training loss: bce for targets with +-1 outputs (`Target.binary`, the family's `binary`), else mse."""
    return bce if binary else mse


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


def make_fit(cfg, binary: bool = False, capture_at: int | None = None):
    """Returns fit(params, masks, point, data, key) -> (params, curve_train, curve_test, params at step
    `capture_at`): train.steps masked optimizer steps from `params`, one `lax.scan` of `lax.scan`s, on the bce
    loss when `binary`, else mse."""
    act = cfg.model.activation
    steps, every, batch = int(cfg.train.steps), int(cfg.train.eval_every), int(cfg.train.batch_size)
    optimizer = cfg.train.optimizer
    loss_fn, noise = make_loss(binary), float(cfg.target.input_noise)
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


def make_train(cfg, n_slots: int, method: str, n_result_slots: int | None = None, binary: bool = False):
    """Returns the pure `train(point, data)` for networks with `n_slots` hidden-layer slots and a static `method`
    (a name of pruning.METHODS, or shuffled:<name>; docs/method.md, "Masks and pruning" for each schedule).
    `binary`: the target's outputs are +-1 labels (bce loss, fit = accuracy).

    `n_result_slots` (>= n_slots) fixes the length of per-layer result vectors so groups of different depths
    concatenate; missing layers read NaN.
    """
    n_result_slots = n_slots if n_result_slots is None else n_result_slots
    base, shuffled = pruning.parse_method(method)
    m = pruning.METHODS[base]
    width, act = int(cfg.model.width), cfg.model.activation
    fit = make_fit(cfg, binary)
    fit_capture = make_fit(cfg, binary, capture_at=rewind_step(cfg))
    loss = make_loss(binary)

    def masks_of(point, data, params):
        key, density = point["key"], 1.0 - point["sparsity"]
        inp = pruning.ScoreInputs(jax.random.fold_in(key, KEY_MASK), point, data, act, cfg.pruning, loss)
        if m.schedule == pruning.INIT:
            masks = pruning.init_masks(m, inp, params, density)
        else:
            fit_key = lambda r: jax.random.fold_in(jax.random.fold_in(key, KEY_PRUNE_DATA), r)
            masks, params = pruning.SCHEDULES[m.schedule](m, inp, params, density, fit, fit_capture, fit_key)
        if shuffled:
            masks = pruning.shuffle_masks(jax.random.fold_in(key, KEY_SHUFFLE), masks, point["depth"])
        return masks, params

    def train(point: dict, data: dict):
        key, depth = point["key"], point["depth"]
        n_inputs, n_outputs = data["x_train"].shape[1], mlp.outputs_of(data["y_train"])
        params = mlp.init(jax.random.fold_in(key, KEY_INIT), n_inputs, width, n_slots, act, n_outputs)
        masks, params = masks_of(point, data, params)
        start = mlp.mask_params(params, masks)  # the init (or rewind point) under the final mask: the null
        data_key = jax.random.fold_in(key, KEY_DATA)
        params, curve_train, curve_test, _ = fit(start, masks, point, data, data_key)
        results = evaluate(params, masks, depth, data, act, n_result_slots, binary)
        results["curve_train"], results["curve_test"] = curve_train, curve_test
        results["diverged"] = ~jnp.isfinite(curve_train).all() | ~jnp.isfinite(results["test_loss"])
        results["disconnected_inputs"] = pruning.disconnected_inputs(masks, depth)
        if "probe" in data:
            results.update(measure(params, start, masks, depth, data["probe"], results, binary))
        return results, {"params": params, "masks": masks}

    def measure(params, start, masks, depth, probe, results, binary):
        """The metrics of the trained network, and C and IIA of the same wiring untrained (the null)."""
        is_fit = results["test_acc"] >= cfg.metrics.fit_accuracy if binary else None
        mt = metrics.compute(params, masks, depth, act, probe, results["test_r2"], cfg.metrics, is_fit, binary)
        null = metrics.core(start, masks, depth, act, probe, cfg.metrics, binary)
        mt |= {"C_init": null["C"], "IIA_init": null["IIA"], "C_gain": mt["C"] - null["C"]}
        mt["IIA_gain"] = mt["IIA"] - null["IIA"]
        return pad_layer_axis(mt, n_slots, n_result_slots)

    return train


def pad_layer_axis(m: dict, n_slots: int, n_result_slots: int) -> dict:
    """Pads the per-layer (last) axis of the per-layer metrics (result_keys PER_LAYER, PER_NODE_LAYER) to
    n_result_slots with NaN."""
    out = dict(m)
    for k in result_keys.keys_of(result_keys.PER_LAYER, result_keys.PER_NODE_LAYER):
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
        test_r2 = metrics.r2(y_hat, data["y_test"])
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
