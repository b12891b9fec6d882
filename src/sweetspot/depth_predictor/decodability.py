"""The data-only predictor (structure unknown): the first layer of ONE trained dense network from which the
target is linearly decodable (see `data_only`). Importing this module does not import jax."""

from __future__ import annotations

import numpy as np

from sweetspot import config as config_lib
from sweetspot.depth_predictor.measuring import score


def _train(target, target_cfg, data, width, activation, depth, steps, lr, seed):
    """(params, masks): a dense network of `depth` hidden layers trained on the target's train split."""
    import jax
    import jax.numpy as jnp

    from sweetspot import mlp
    from sweetspot import train as train_lib

    x_tr = data["x_train"]
    cfg = config_lib.default_config()
    cfg.target, cfg.model.width, cfg.model.activation = target_cfg, int(width), activation
    cfg.train.steps, cfg.train.eval_every, cfg.train.batch_size = int(steps), int(steps), min(256, len(x_tr))
    key = jax.random.PRNGKey(int(seed))
    n_out = mlp.outputs_of(data["y_train"])
    params = mlp.init(jax.random.fold_in(key, 0), x_tr.shape[1], int(width), depth, activation, n_out)
    masks = mlp.ones_masks(params)
    point = {"depth": depth, "lr": jnp.float32(lr), "weight_decay": jnp.float32(0.0)}
    fit_fn = jax.jit(train_lib.make_fit(cfg, target.binary))
    return fit_fn(params, masks, point, data, jax.random.fold_in(key, 2))[0], masks


def data_only(target_cfg, width, activation="relu", depth=8, steps=3000, lr=3e-3, eps=0.02, seed=0, ridge=1e-3):
    """Data-only predictor: train ONE dense network of `depth` hidden layers on the target's train split; for layers
    l = 0 (the inputs) .. depth, the held-out decodability of y from layer l (ridge R^2 on standardised units,
    metrics.standardise / metrics.ridge_r2; accuracy of the probe's sign for Boolean targets; mean over outputs),
    probe fitted on the train split and scored on the test split. Prediction: the first layer l* whose curve is
    within eps of the curve's maximum; returned with d_hat = 1 + l* (the structural D_hat's scale).

    Why: the first l layers of the trained network plus the ridge readout ARE a depth-l network of the same width,
    so decodability >= max - eps at layer l* shows the target is fittable at depth l* to that level: l* is an upper
    bound on the hidden layers needed (in this network's solution). Deeper layers carry y forward but add nothing
    once it is linearly available (the curve saturates). It estimates the minimal depth, rather than only bounding
    it, when training spreads the computation over the layers; a network that fits nothing (fit below) or does all
    its work in its last layers makes l* an overestimate. Unlike the structural predictor it needs no structure.
    """
    import jax.numpy as jnp

    from sweetspot import metrics, mlp, targets

    target = targets.make_target(target_cfg)
    data = {k: jnp.asarray(v) for k, v in targets.make_splits(target, target_cfg).items()}
    params, masks = _train(target, target_cfg, data, width, activation, depth, steps, lr, seed)
    fwd = lambda x: mlp.apply(params, masks, depth, x, activation, return_hidden=True)
    x_tr, x_te = data["x_train"], data["x_test"]
    (out_te, h_te), (_, h_tr) = fwd(x_te), fwd(x_tr)
    y_tr, y_te = (data[f"y_{s}"].reshape(len(data[f"y_{s}"]), -1) for s in ("train", "test"))
    curve = []
    for a_tr, a_te in zip([x_tr, *h_tr], [x_te, *h_te], strict=True):  # layer 0 = the inputs
        z_tr, z_te = metrics.standardise(a_tr, a_te)
        vals = []
        for o in range(y_tr.shape[1]):
            r2, w = metrics.ridge_r2(z_tr, z_te, y_tr[:, o], y_te[:, o], jnp.ones(z_tr.shape[1]), ridge)
            vals.append(score(y_tr[:, o].mean() + z_te @ w, y_te[:, o], True) if target.binary else r2)
        curve.append(float(np.mean(vals)))
    fit = float(score(out_te.reshape(y_te.shape), y_te, target.binary))
    layer = int(np.flatnonzero(np.array(curve) >= max(curve) - eps)[0])
    return {"layer": layer, "d_hat": 1 + layer, "curve": curve, "eps": eps, "fit": fit, "depth": depth}
