"""Training one grid point, as a pure function. docs/method.md, section "Training".

`make_train(cfg, n_slots, method, ...)` reads the static config once and returns `train(point, data) -> (results,
state)`; a point is a dict of traced values: key (uint32[2]), depth, sparsity, lr, weight_decay, and n_train when
the points train on prefixes of the training pool (grid.n_train; `grid.Engine.points`). A fit is one
`lax.scan` of `lax.scan`s; the loss curves are reduced inside it (one value every eval_every steps). Rewind
methods run their pruning rounds as a further `lax.scan`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from sweetspot import losses, metrics, mlp, pruning, result_keys

# Purposes folded into a point's key (docs/method.md, "Keys").
KEY_INIT, KEY_MASK, KEY_DATA, KEY_SHUFFLE, KEY_PRUNE_DATA = 0, 1, 2, 3, 4

# Optimizers by name: (lr, weight_decay) -> optax transform, lr and weight_decay traced (one compile serves every
# value). Each must act elementwise (no global norms): segment mode runs it layer by layer on live slices.
# adam: L2 decay added to the gradient; adamw: decoupled decay; sgd: plain SGD with L2 decay.
OPTIMIZERS = {
    "adam": lambda lr, wd: optax.chain(optax.add_decayed_weights(wd), optax.adam(lr)),
    "adamw": lambda lr, wd: optax.adamw(lr, weight_decay=wd),
    "sgd": lambda lr, wd: optax.chain(optax.add_decayed_weights(wd), optax.sgd(lr)),
}


def rewind_step(cfg) -> int:
    """k = round(pruning.rewind_frac * train.steps): the step whose weights the rewind methods restart from."""
    return int(round(cfg.pruning.rewind_frac * cfg.train.steps))


def make_fit(cfg, binary: bool = False, capture_at: int | None = None, layout: tuple | None = None):
    """Returns fit(params, masks, point, data, key) -> (params, curve_train, curve_test, params at step
    `capture_at`): train.steps masked optimizer steps from `params`, one `lax.scan` of `lax.scan`s, on the bce
    loss when `binary`, else mse. With a static `layout` ((depth, count), ...) the fit is a `custom_vmap`: called
    on one point it is the plain fit above; vmapped over `count` points of each depth, sorted by depth, it is
    `_make_segment_fit`: one batch in which hidden layer l and its optimizer run only on the points deeper than l.
    """
    one = _make_point_fit(cfg, binary, capture_at)
    if layout is None:
        return one
    batched = _make_segment_fit(cfg, binary, capture_at, layout)

    @jax.custom_batching.custom_vmap
    def fit(params, masks, point, data, key):
        return one(params, masks, point, data, key)

    @fit.def_vmap
    def _rule(axis_size, in_batched, params, masks, point, data, key):
        want = sum(c for _, c in layout)
        if axis_size != want:
            raise ValueError(f"segment fit: vmapped over {axis_size} points, its layout {layout} holds {want}")
        if any(jax.tree.leaves(in_batched[3])):
            raise ValueError("segment fit: the data must be shared by every point (not vmapped)")
        spread = lambda a, f: a if f else jnp.broadcast_to(a, (axis_size, *jnp.shape(a)))
        per_point, flags = (params, masks, point, key), (*in_batched[:3], in_batched[4])
        params, masks, point, key = (jax.tree.map(spread, t, b) for t, b in zip(per_point, flags, strict=True))
        out = batched(params, masks, point, data, key)
        return out, jax.tree.map(lambda _: True, out)

    return fit


def _masked_optimizer(name: str, point: dict, masks: dict) -> optax.GradientTransformation:
    """The point's optimizer (its traced lr and weight decay) with pruned weights' updates masked out."""
    return optax.chain(OPTIMIZERS[name](point["lr"], point["weight_decay"]), pruning.mask_updates(masks))


def _draw_batch(cfg, x_tr, y_tr, k, n_train=None):
    """One point's minibatch at step key k, drawn uniformly from the first n_train rows of the training pool
    (every row when n_train is None), with the input noise, and the rows' loss weights: None for a plain mean,
    else (train.batch_size = 0 with n_train given) the whole pool with weight 1 / n_train on the point's rows
    and 0 on the rest, so the loss is the mean over its own rows."""
    batch, noise = int(cfg.train.batch_size), float(cfg.target.input_noise)
    weights = None
    if batch:
        idx = jax.random.randint(k, (batch,), 0, x_tr.shape[0] if n_train is None else n_train)
        xb, yb = x_tr[idx], y_tr[idx]
    else:
        xb, yb = x_tr, y_tr
        if n_train is not None:
            weights = losses.row_weights(x_tr.shape[0], n_train)
    if noise:  # Gaussian input noise on the training inputs (the Neural Sculpting protocol)
        xb = xb + noise * jax.random.normal(jax.random.fold_in(k, 1), xb.shape)
    return xb, yb, weights


def _scan_blocks(cfg, step, test_loss, init, key):
    """The step loop shared by both fits: train.steps // eval_every blocks of eval_every steps (`step(carry,
    (t, k))`), the test loss after each block. `key` may be one key or a batch of keys (leading axis)."""
    steps, every = int(cfg.train.steps), int(cfg.train.eval_every)

    def block(carry, i):
        split = lambda kk: jax.random.split(jax.random.fold_in(kk, i), every)
        keys = split(key) if key.ndim == 1 else jnp.swapaxes(jax.vmap(split)(key), 0, 1)
        carry, losses = jax.lax.scan(step, carry, (i * every + jnp.arange(every), keys))
        return carry, (losses.mean(0), test_loss(carry[0]))

    return jax.lax.scan(block, init, jnp.arange(steps // every))


def _capture(capture_at, t, p, saved):
    """The weights *before* step t (after t steps) when t == capture_at, else `saved` unchanged."""
    if capture_at is None:
        return saved
    return jax.tree.map(lambda a, b: jnp.where(t == capture_at, a, b), p, saved)


def _make_point_fit(cfg, binary: bool, capture_at: int | None):
    act, optimizer = cfg.model.activation, cfg.train.optimizer
    loss_fn = losses.make_loss(binary)
    loss_grad = jax.value_and_grad(loss_fn)
    weighted_grad = jax.value_and_grad(losses.make_weighted_loss(binary))

    def fit(params, masks, point, data, key):
        depth = point["depth"]
        opt = _masked_optimizer(optimizer, point, masks)

        def step(carry, inputs):
            (p, s, saved), (t, k) = carry, inputs
            xb, yb, wb = _draw_batch(cfg, data["x_train"], data["y_train"], k, point.get("n_train"))
            if wb is None:
                loss, g = loss_grad(p, masks, depth, xb, yb, act)
            else:
                loss, g = weighted_grad(p, masks, depth, xb, yb, act, wb)
            updates, s = opt.update(g, s, p)
            saved = _capture(capture_at, t, p, saved)
            p = mlp.mask_params(optax.apply_updates(p, updates), masks)
            return (p, s, saved), loss

        test = lambda p: loss_fn(p, masks, depth, data["x_test"], data["y_test"], act)
        init = (params, opt.init(params), params if capture_at is not None else ())
        (params, _, saved), (curve_train, curve_test) = _scan_blocks(cfg, step, test, init, key)
        return params, curve_train, curve_test, saved

    return fit


def _batch_losses(cfg, binary: bool, forward):
    """The segment fit's losses, for forward(p, m, x) -> outputs of a batch of points (leading axis k):
    loss_grad(p, m, x, y, w), the value_and_grad of the sum of each point's mean loss (its gradient is each
    point's own) with the (k,) losses as aux; draw(data, keys, n_train), each point's minibatch and row weights
    (`_draw_batch`; n_train (k,) or None); test(p, m, data, k), the (k,) losses on the whole test split."""
    per_sample = losses.per_sample(binary)

    def each(p, m, x, y, w=None):
        if w is None:
            return per_sample(forward(p, m, x), y).reshape(x.shape[0], -1).mean(1)
        return (per_sample(forward(p, m, x), y).reshape(*x.shape[:2], -1).mean(2) * w).sum(1)

    loss_grad = jax.value_and_grad(lambda *a: (lambda v: (v.sum(), v))(each(*a)), has_aux=True)

    def draw(data, keys, n_train=None):
        one = lambda kk, n: _draw_batch(cfg, data["x_train"], data["y_train"], kk, n)
        return jax.vmap(lambda kk: one(kk, None))(keys) if n_train is None else jax.vmap(one)(keys, n_train)

    every_point = lambda a, k: jnp.broadcast_to(a, (k, *a.shape))
    test = lambda p, m, data, k: each(p, m, every_point(data["x_test"], k), every_point(data["y_test"], k))
    return loss_grad, draw, test


def _make_segment_fit(cfg, binary: bool, capture_at: int | None, layout: tuple):
    """Segment mode's batched fit of `make_fit` on a batch of points sorted by depth (leading axis on every
    argument but data; curves (k, n_evals)). The step works on live slices only (`mlp.live_slices`): hidden layer
    l's weights, gradients and optimizer state hold the points deeper than l, and each point's readout runs on its
    depth's segment (`mlp.apply_segmented`). Unused slots leave the fit as they came in (no result reads them)."""
    act, optimizer = cfg.model.activation, cfg.train.optimizer

    def fit(params, masks, point, data, key):
        n_slots = mlp.n_slots_of(params)  # at trace time: the params may hold more slots than the deepest point
        starts, names = mlp.depth_starts(layout, n_slots), mlp.layer_names(n_slots)
        forward = lambda p, m, x: mlp.apply_segmented(p, m, starts, x, act)  # on live slices
        loss_grad, draw, test_loss = _batch_losses(cfg, binary, forward)
        lp, lm = mlp.live_slices(params, starts), mlp.live_slices(masks, starts)
        pts = mlp.live_slices(dict.fromkeys(names, point), starts)  # each layer's points' lr and weight decay
        # Each layer's optimizer vmapped over its own points (Adam is elementwise: the same numbers per slot).
        opt = lambda k, pt, m: _masked_optimizer(optimizer, pt, {k: m})
        init = lambda k: jax.vmap(lambda p, pt, m: opt(k, pt, m).init({k: p}))(lp[k], pts[k], lm[k])
        upd = lambda k, g, s, p: jax.vmap(lambda g, s, p, pt, m: opt(k, pt, m).update({k: g}, s, {k: p}))(
            g[k], s[k], p[k], pts[k], lm[k])

        def step(carry, inputs):
            (p, s, saved), (t, k) = carry, inputs
            (_, loss), g = loss_grad(p, lm, *draw(data, k, point.get("n_train")))
            out = {n: upd(n, g, s, p) for n in names}
            saved = _capture(capture_at, t, p, saved)
            p = {n: mlp.mask_params({n: optax.apply_updates(p[n], out[n][0][n])}, {n: lm[n]})[n] for n in names}
            return (p, {n: out[n][1] for n in names}, saved), loss

        test = lambda p: test_loss(p, lm, data, key.shape[0])
        carry = (lp, {n: init(n) for n in names}, lp if capture_at is not None else ())
        (lp, _, saved), (curve_train, curve_test) = _scan_blocks(cfg, step, test, carry, key)

        def whole(live):  # the unused slots as they came in, the live slices as trained
            join = lambda n, s: jax.tree.map(lambda a, b: jnp.concatenate([a[:s], b]), params[n], live[n])
            return {n: join(n, mlp.first_point(n, starts)) for n in names}

        return whole(lp), curve_train.T, curve_test.T, (whole(saved) if capture_at is not None else ())

    return fit


def make_train(cfg, n_slots: int, method: str, n_result_slots: int | None = None, binary: bool = False,
               layout: tuple | None = None):
    """Returns the pure `train(point, data)` for networks with `n_slots` hidden-layer slots and a static `method`
    (a name of pruning.METHODS, or shuffled:<name>; docs/method.md, "Masks and pruning" for each schedule).
    `binary`: the target's outputs are +-1 labels (bce loss, fit = accuracy).

    `n_result_slots` (>= n_slots) fixes the length of per-layer result vectors so groups of different depths
    concatenate; missing layers read NaN. `layout`: segment mode's batched fit (`make_fit`).
    """
    n_result_slots = n_slots if n_result_slots is None else n_result_slots
    base, shuffled = pruning.parse_method(method)
    m = pruning.METHODS[base]
    width, act = int(cfg.model.width), cfg.model.activation
    fit = make_fit(cfg, binary, layout=layout)
    fit_capture = make_fit(cfg, binary, capture_at=rewind_step(cfg), layout=layout)
    loss = losses.make_loss(binary)

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
        results = losses.evaluate(params, masks, depth, data, act, n_result_slots, binary, point.get("n_train"))
        results["curve_train"], results["curve_test"] = curve_train, curve_test
        results["diverged"] = ~jnp.isfinite(curve_train).all() | ~jnp.isfinite(results["test_loss"])
        results["disconnected_inputs"] = pruning.disconnected_inputs(masks, depth)
        if "probe" in data:
            fit_of = {k: results[k] for k in ("test_r2", "test_acc") if k in results}
            results.update(measure(params, start, masks, depth, data["probe"], fit_of))
        return results, {"params": params, "masks": masks}

    def measure_one(params, start, masks, depth, probe, results):
        """The metrics of the trained network, and C and IIA of the same wiring untrained (the null)."""
        is_fit = results["test_acc"] >= cfg.metrics.fit_accuracy if binary else None
        mt = metrics.compute(params, masks, depth, act, probe, results["test_r2"], cfg.metrics, is_fit, binary, start)
        return pad_layer_axis(mt, n_slots, n_result_slots)

    measure = measure_one if layout is None else by_depth(measure_one, layout, depth_arg=3, shared=(4,))
    return train


def by_depth(fn, layout: tuple, depth_arg: int, shared: tuple = ()):
    """`fn(*args)` of one point whose argument `depth_arg` is its depth, as a `custom_vmap`: vmapped over a batch
    sorted by depth with static `layout` ((depth, count), ...) it runs one depth segment after another (lax.map),
    each vmapped over its points (padded to the largest count) with the segment's depth as one value, so
    `mlp.propagate` and the per-layer loops skip the layers the segment's networks do not have: a network's
    metrics cost its own depth, not the deepest one's, in one traced copy of `fn`. Arguments `shared` are the
    same for every point (not vmapped). docs/method.md, "Grid engine"."""
    depths = np.array([d for d, _ in layout], np.int32)
    cmax, n_seg = max(c for _, c in layout), len(layout)
    offsets = np.cumsum([0] + [c for _, c in layout])[:-1]
    gather = np.array([[o + min(j, c - 1) for j in range(cmax)] for o, (_, c) in zip(offsets, layout, strict=True)])
    scatter = np.concatenate([i * cmax + np.arange(c) for i, (_, c) in enumerate(layout)])

    @jax.custom_batching.custom_vmap
    def batched(*args):
        return fn(*args)

    @batched.def_vmap
    def _rule(axis_size, in_batched, *args):
        want = sum(c for _, c in layout)
        if axis_size != want:
            raise ValueError(f"by_depth: vmapped over {axis_size} points, its layout {layout} holds {want}")
        if any(any(jax.tree.leaves(in_batched[i])) for i in shared):
            raise ValueError(f"by_depth: arguments {shared} must be shared by every point (not vmapped)")
        spread = lambda a, f: a if f else jnp.broadcast_to(a, (axis_size, *jnp.shape(a)))
        per = [None if i in shared else jax.tree.map(spread, a, b)
               for i, (a, b) in enumerate(zip(args, in_batched, strict=True))]
        segs = [None if p is None else jax.tree.map(lambda a: a[gather], p) for p in per]  # (n_seg, cmax, ...)

        def segment(xs):
            d, seg = xs
            call = lambda *pa: fn(*(args[i] if i in shared else (d if i == depth_arg else pa[i])
                                    for i in range(len(args))))
            return jax.vmap(call, in_axes=tuple(None if p is None else 0 for p in seg))(*seg)

        out = jax.lax.map(segment, (jnp.asarray(depths), segs))
        out = jax.tree.map(lambda o: o.reshape(n_seg * cmax, *o.shape[2:])[scatter], out)
        return out, jax.tree.map(lambda _: True, out)

    return batched


def pad_layer_axis(m: dict, n_slots: int, n_result_slots: int) -> dict:
    """Pads the per-layer (last) axis of the per-layer metrics (result_keys PER_LAYER, PER_NODE_LAYER) to
    n_result_slots with NaN."""
    out = dict(m)
    for k in result_keys.keys_of(result_keys.PER_LAYER, result_keys.PER_NODE_LAYER):
        v = m[k].astype(jnp.float32)
        out[k] = jnp.concatenate([v, jnp.full((*v.shape[:-1], n_result_slots - n_slots), jnp.nan)], axis=-1)
    return out
