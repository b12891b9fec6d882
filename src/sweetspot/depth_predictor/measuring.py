"""The measuring sweep of the structural predictor: the fewest hidden layers with which a small dense MLP fits
each job (children values -> node value), for many jobs in ONE jitted, vmapped sweep.

Depth 0 is a linear readout (least squares R^2 for real jobs; an exact linear-separability LP for Boolean ones);
depths 1..d_max are trained networks (`train.make_fit`, `mlp`), every job x depth x seed in one jit. A job fits
when its score reaches the tolerance: held-out R^2 >= tol (real) or accuracy == 1 (Boolean, on every distinct
row of its children). Importing this module does not import jax.
"""

from __future__ import annotations

import numpy as np

from sweetspot import config as config_lib

# Settings of the sweep (the CLI's --d-max, --seeds, ... flags): depths 1..d_max, seeds per depth, full-batch
# training steps and learning rate, the R^2 tolerance of real nodes and the samples per real node.
FIT = {"d_max": 3, "seeds": 3, "steps": 1000, "lr": 1e-2, "tol": 0.99, "n_fit": 1024}


def depth0(z_tr, y_tr, z_te, y_te, binary) -> float:
    """Depth 0: R^2 of least squares (real) or 1.0 if the rows are linearly separable (exact LP), else the
    accuracy of the least-squares sign (Boolean)."""
    a_tr, a_te = np.c_[z_tr, np.ones(len(z_tr))], np.c_[z_te, np.ones(len(z_te))]
    w = np.linalg.lstsq(a_tr, y_tr, rcond=None)[0]
    if not binary:
        return float(1 - np.mean((a_te @ w - y_te) ** 2) / max(np.var(y_te), 1e-12))
    from scipy.optimize import linprog

    lp = linprog(np.zeros(a_tr.shape[1]), A_ub=-y_tr[:, None] * a_tr, b_ub=-np.ones(len(y_tr)), bounds=(None, None))
    return 1.0 if lp.status == 0 else float(np.mean((a_te @ w > 0) == (y_te > 0)))


def score(out, y, binary):
    """Accuracy of the sign (binary, +-1 labels) or R^2 = 1 - MSE / Var(y)."""
    import jax.numpy as jnp

    from sweetspot import metrics

    return jnp.mean((out > 0) == (y > 0)) if binary else metrics.r2(out, y, 1e-12)


def _stack_jobs(jobs) -> tuple[int, dict]:
    """(common arity k, {x_train, y_train, x_test, y_test}: (n_jobs, rows, ...) arrays): jobs padded to arity k
    (zero columns) and to a common row count (rows tiled cyclically, which keeps the set of rows)."""
    import jax.numpy as jnp

    k = max(j[0].shape[1] for j in jobs)
    n_tr, n_te = max(len(j[0]) for j in jobs), max(len(j[2]) for j in jobs)

    def pad(z, y, n):
        idx = np.arange(n) % len(z)
        return np.pad(z[idx], ((0, 0), (0, k - z.shape[1]))).astype(np.float32), y[idx].astype(np.float32)

    cols = [pad(j[0], j[1], n_tr) + pad(j[2], j[3], n_te) for j in jobs]
    names = ("x_train", "y_train", "x_test", "y_test")
    return k, {name: jnp.asarray(np.stack([c[i] for c in cols])) for i, name in enumerate(names)}


def _trained_scores(data, k, binary, width, activation, f) -> np.ndarray:
    """Held-out scores (n_jobs, d_max, seeds) of networks of depth 1..d_max trained on every job, one jit."""
    import jax
    import jax.numpy as jnp

    from sweetspot import mlp
    from sweetspot import train as train_lib

    d_max, n_seeds, steps = int(f["d_max"]), int(f["seeds"]), int(f["steps"])
    cfg = config_lib.default_config()
    cfg.model.width, cfg.model.activation = int(width), activation
    cfg.train.steps, cfg.train.eval_every, cfg.train.batch_size = steps, steps, 0  # full batch
    fit_fn = train_lib.make_fit(cfg, binary)

    def one(depth, key, dat):
        params = mlp.init(jax.random.fold_in(key, 0), k, int(width), depth, activation)
        masks = mlp.ones_masks(params)
        point = {"depth": depth, "lr": jnp.float32(f["lr"]), "weight_decay": jnp.float32(0.0)}
        params = fit_fn(params, masks, point, dat, jax.random.fold_in(key, 2))[0]
        return score(mlp.apply(params, masks, depth, dat["x_test"], activation), dat["y_test"], binary)

    @jax.jit
    def sweep(data, keys):  # one program per depth, each vmapped over jobs x seeds, all in one jit
        per = lambda d: jax.vmap(lambda dat: jax.vmap(lambda key: one(d, key, dat))(keys))(data)
        return jnp.stack([per(d) for d in range(1, d_max + 1)], axis=1)  # (n_jobs, d_max, seeds)

    keys = jax.vmap(lambda s: jax.random.fold_in(jax.random.PRNGKey(0), s))(jnp.arange(n_seeds))
    return np.asarray(sweep(data, keys), np.float64)


def measure(jobs, binary, width, activation="relu", **fit) -> dict:
    """Scores of every job (z_tr, y_tr, z_te, y_te) at depth 0..d_max x seeds, from one jitted, vmapped sweep
    (`fit` overrides FIT). Returns scores (n_jobs, d_max + 1, seeds) (held-out R^2 or accuracy), first (n_jobs,
    seeds): the smallest depth reaching the tolerance per seed (d_max + 1 if none), d (upper median of first),
    low, high (per-job min and max of first)."""
    f = {**FIT, **fit}
    d_max, n_seeds = int(f["d_max"]), int(f["seeds"])
    k, data = _stack_jobs(jobs)
    trained = _trained_scores(data, k, binary, width, activation, f)
    d0 = np.array([depth0(*j, binary) for j in jobs])
    scores = np.concatenate([np.repeat(d0[:, None, None], n_seeds, 2), trained], axis=1)
    ok = scores >= (1.0 - 1e-6 if binary else float(f["tol"]))
    first = np.where(ok.any(1), ok.argmax(1), d_max + 1)  # (n_jobs, seeds)
    srt = np.sort(first, axis=1)
    return {"scores": scores, "first": first, "d": srt[:, n_seeds // 2], "low": srt[:, 0], "high": srt[:, -1]}


def summary(m, i) -> dict:
    """Job i of a `measure` result as the JSON-able per-node record (d, low, high, first per seed, scores)."""
    rec = {k: int(m[k][i]) for k in ("d", "low", "high")}
    return rec | {"first": m["first"][i].tolist(), "scores": m["scores"][i].round(4).tolist()}
