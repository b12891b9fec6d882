"""The losses of a masked MLP (docs/method.md, "Training"): mse for real-valued targets, the binary
cross-entropy of the logits for +-1 labels (`Target.binary`), and accuracy, each
loss(params, masks, depth, x, y, activation) -> scalar (the mean over samples and outputs); and `evaluate`, the
fit results of a trained network.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from sweetspot import metrics, mlp

SPLITS = ("train", "test", "heldout")  # the splits evaluate() reports


def per_sample(binary: bool):
    """(y_hat, y) -> the elementwise loss whose mean is `make_loss(binary)`: squared error, or the binary
    cross-entropy of the logits against +-1 labels (+1 = true)."""
    if binary:
        return lambda y_hat, y: optax.sigmoid_binary_cross_entropy(y_hat, (y + 1) / 2)
    return lambda y_hat, y: (y_hat - y) ** 2


def mse(params, masks, depth, x, y, activation):
    """Mean squared error over samples and outputs (real-valued targets)."""
    return jnp.mean(per_sample(False)(mlp.apply(params, masks, depth, x, activation), y))


def bce(params, masks, depth, x, y, activation):
    """Binary cross-entropy of the output logits against +-1 labels y (+1 = true), mean over samples and outputs."""
    return jnp.mean(per_sample(True)(mlp.apply(params, masks, depth, x, activation), y))


def accuracy(params, masks, depth, x, y, activation):
    """Fraction of (sample, output) labels whose logit has the label's sign (Boolean targets)."""
    return jnp.mean((mlp.apply(params, masks, depth, x, activation) > 0) == (y > 0))


def make_loss(binary: bool):
    """The training loss: bce for targets with +-1 outputs (`Target.binary`, the family's `binary`), else mse."""
    return bce if binary else mse


def row_weights(n_rows: int, n_train):
    """(n_rows,) weights 1 / n_train on the first n_train rows (traced) and 0 on the rest: a weighted sum with
    them is the mean over a point's own rows of the training pool (grid.n_train)."""
    return (jnp.arange(n_rows) < n_train) / n_train


def make_weighted_loss(binary: bool):
    """loss(params, masks, depth, x, y, activation, w): sum over rows of w times the row's mean loss over the
    outputs; with `row_weights`, make_loss(binary) over the first n_train rows only."""
    each = per_sample(binary)

    def loss(params, masks, depth, x, y, activation, w):
        return jnp.sum(w * each(mlp.apply(params, masks, depth, x, activation), y).reshape(x.shape[0], -1).mean(1))

    return loss


def blocked(loss, params, masks, depth, x, y, activation, block: int = 512, w=None):
    """`loss` over a large split in blocks of `block` samples (lax.map), so memory holds one block's activations.
    With row weights w, `loss` is a weighted loss (make_weighted_loss) and the blocks' values are summed."""
    if w is not None:
        if x.shape[0] <= block or x.shape[0] % block:
            return loss(params, masks, depth, x, y, activation, w)
        xb, yb, wb = x.reshape(-1, block, x.shape[1]), y.reshape(-1, block, *y.shape[1:]), w.reshape(-1, block)
        return jax.lax.map(lambda a: loss(params, masks, depth, a[0], a[1], activation, a[2]), (xb, yb, wb)).sum()
    if x.shape[0] <= block or x.shape[0] % block:
        return loss(params, masks, depth, x, y, activation)
    xb, yb = x.reshape(-1, block, x.shape[1]), y.reshape(-1, block, *y.shape[1:])
    return jax.lax.map(lambda a: loss(params, masks, depth, a[0], a[1], activation), (xb, yb)).mean()


def evaluate(params, masks, depth, data, act, n_result_slots, binary: bool = False, n_train=None) -> dict:
    """Final losses (mse, or bce when `binary`), test R^2, the held-out-combination ratio and realised
    (per-layer) sparsity; Boolean targets add test and held-out accuracy, and their test R^2 is that of the
    predicted mean label 2 sigmoid(logit) - 1 against the +-1 labels. `n_train` (traced, or None for every row):
    the train loss is over the first n_train rows of the training pool, the point's own."""
    loss = make_loss(binary)
    out = {s: blocked(loss, params, masks, depth, data[f"x_{s}"], data[f"y_{s}"], act) for s in SPLITS[1:]}
    x_tr, y_tr = data["x_train"], data["y_train"]
    if n_train is None:
        out["train"] = blocked(loss, params, masks, depth, x_tr, y_tr, act)
    else:
        w = row_weights(x_tr.shape[0], n_train)
        out["train"] = blocked(make_weighted_loss(binary), params, masks, depth, x_tr, y_tr, act, w=w)
    live, total = mlp.layer_counts(masks, depth)
    per_layer = jnp.where(total > 0, 1.0 - live / jnp.maximum(total, 1), jnp.nan)
    pad = n_result_slots + 1 - per_layer.shape[0]
    # Readout stays last: [h0 .. h{n_slots-1}, NaN padding, out].
    per_layer = jnp.concatenate([per_layer[:-1], jnp.full((pad,), jnp.nan), per_layer[-1:]])
    if binary:
        y_hat = 2.0 * jax.nn.sigmoid(mlp.apply(params, masks, depth, data["x_test"], act)) - 1.0
        test_r2 = metrics.r2(y_hat, data["y_test"])
        acc = lambda s: accuracy(params, masks, depth, data[f"x_{s}"], data[f"y_{s}"], act)
        extra = {f"{s}_acc": acc(s) for s in SPLITS[1:]}
    else:
        test_r2, extra = 1.0 - out["test"] / jnp.var(data["y_test"]), {}
    return extra | {"train_loss": out["train"], "test_loss": out["test"], "heldout_loss": out["heldout"],
                    "test_r2": test_r2, "gen_ratio": out["heldout"] / out["test"],
                    "realised_sparsity": 1.0 - live.sum() / total.sum(), "live_params": live.sum(),
                    "layer_sparsity": per_layer}
