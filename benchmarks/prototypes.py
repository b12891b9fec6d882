#!/usr/bin/env python
"""Prototypes behind the recommendations in docs/performance.md. Each measures one proposed engine change in
isolation, on the benchmark's shapes, against a faithful copy of the code path it replaces, in the same process
(ratios only: this machine is shared and noisy). Nothing here is imported by the package. Commit ada41f1 adopted
the shared ridge Gram, the blocked evaluation, the CPU chunking and the compilation cache, and the bisection
rank_mask followed: the baselines here are copies of the code before those changes.

    python benchmarks/prototypes.py                 # every experiment (a few minutes on 2 cores)
    python benchmarks/prototypes.py --only step,topk
    python benchmarks/prototypes.py --json

Experiments:
- step:  the training step (64 models, width 64, depth 4, minibatch 256, Adam, masks at 0.5) as the engine
         writes it (w * m in the forward pass, mask_updates after Adam, re-masking the parameters after every
         update) against masking the gradient once before Adam, and against that plus a weight-gradient matmul
         on an explicitly transposed operand (XLA's YNNPACK path takes only row-major, non-transposed dot
         operands, so the autodiff weight gradient x^T dy falls back to XLA's slower dot emitter). 1 and 2
         host devices, each in its own process.
- compile: a depths 1-8 grid as 8 depth programs in one jit with the hidden layers unrolled (mlp.apply's
         Python loop) against one lax.scan over the stacked, equal-shaped hidden layers, and against one padded
         depth-8 program: compile and run time.
- slice: the engine on the depths 1-8 grid (8 seeds per depth, sparsity 0.5) and on the benchmark's one-depth
         grid, interleaved: slice mode as it is, slice mode with train._make_batched_fit swapped for
         make_segment_fit (no concatenate after every layer; the optimizer on the live slices only), and group mode.
- slice_check: the same swaps against slice mode as it is on tiny grids (IMP, SP, metrics on; depths to 12).
- segment: segment mode (the engine's default since 2026-12-01) on the depths 1-8 grid: AOT compile of slice mode,
         slice mode with the segmented forward only, segment mode and segment mode with one optimizer over all
         live parameters ravelled into a vector (make_segment_fit_raveled); then slice, segment and ravelled
         segment mode run interleaved.
- metrics: metrics.compute over 64 depth-4 networks with the ridge probe as it was before ada41f1 (a Gram per
         probe node) against one sharing the Gram across nodes (the same numbers): compiled temp memory and time.
- topk:  rank_mask by argsort + scatter of ranks (the engine before ada41f1) against one value sort + a threshold
         + a cumulative count for ties, and against a 32-step bisection for the threshold (no sort; the same mask,
         ties to the lower flat index), on a 1,000-point depth-8 grid's layers.
- eval:  the final evaluation on the full train/test/held-out splits of 125 points at depth 8 (one depth group
         of a 1,000-point grid): compiled temp memory and time, full-batch against 512-sample blocks.
- xla:   compile time and throughput of the benchmark's one-depth grid under XLA/JAX compile options, and a
         second process hitting JAX's persistent compilation cache.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_grid as bench  # noqa: E402

TAG = "PROTO_RESULT "


# ------------------------------------------------------------------------------------------------ step
def layer_names(depth: int, layer_scan: bool) -> list[str]:
    """h0 .. h{d-1}, out; with layer_scan the (d-1) equal-shaped hidden layers after h0 stack into one "hid"."""
    if layer_scan and depth > 1:
        return ["h0", "hid", "out"]
    return [f"h{l}" for l in range(depth)] + ["out"]


def make_problem(g: int, n_in: int, width: int, depth: int, layer_scan: bool = False, seed: int = 0):
    """Random He-normal params and 0.5-density masks for g models, in the trainer's layout."""
    rng = np.random.default_rng(seed)
    shapes = {"h0": (n_in, width), "out": (width, 1)}
    shapes.update({f"h{l}": (width, width) for l in range(1, depth)})
    params, masks = {}, {}
    for k in layer_names(depth, layer_scan):
        lead = (g, depth - 1) if k == "hid" else (g,)
        a, b = shapes["h1" if k == "hid" else k]
        params[k] = {"w": rng.standard_normal((*lead, a, b), np.float32) * np.sqrt(2 / a),
                     "b": np.zeros((*lead, b), np.float32)}
        masks[k] = (rng.random((*lead, a, b)) < 0.5).astype(np.float32)
    return params, masks


def make_step_trainer(variant: str, n_in: int, width: int, depth: int, batch: int, steps: int, lr: float = 3e-3,
                      layer_scan: bool = False):
    """vmapped, scanned training of masked MLPs; `variant` in ('engine', 'mask_once', 'mask_once_wt').
    layer_scan: the hidden layers after the first run as one lax.scan over stacked weights (one traced body)."""
    import jax
    import jax.numpy as jnp
    import optax

    names = layer_names(depth, layer_scan)

    @jax.custom_vjp
    def mm_wt(x, w):
        return x @ w

    def mm_wt_fwd(x, w):
        return x @ w, (x, w)

    def mm_wt_bwd(res, g):
        x, w = res
        xt = jax.lax.optimization_barrier(jnp.swapaxes(x, -1, -2))  # (in, B) row-major: a canonical dot operand
        return g @ w.T, xt @ g

    mm_wt.defvjp(mm_wt_fwd, mm_wt_bwd)
    mm = mm_wt if variant == "mask_once_wt" else (lambda x, w: x @ w)

    def forward(params, masks, x):
        h = x
        for k in names:
            w = params[k]["w"] * masks[k] if variant == "engine" else params[k]["w"]
            if k == "hid":
                h, _ = jax.lax.scan(lambda h, wb: (jax.nn.relu(mm(h, wb[0]) + wb[1]), None), h, (w, params[k]["b"]))
                continue
            h = mm(h, w) + params[k]["b"]
            if k != "out":
                h = jax.nn.relu(h)
        return h[..., 0]

    def loss_fn(params, masks, x, y):
        return jnp.mean((forward(params, masks, x) - y) ** 2)

    def mask_tree(tree, masks):
        return {k: {"w": v["w"] * masks[k], "b": v["b"]} for k, v in tree.items()}

    def fit(params, masks, key, x, y):
        if variant == "engine":  # train.py: chain(optimizer, mask_updates); re-mask after apply_updates
            opt = optax.chain(optax.add_decayed_weights(0.0), optax.adam(lr),
                              optax.GradientTransformation(lambda p: optax.EmptyState(),
                                                           lambda u, s, p=None: (mask_tree(u, masks), s)))
        else:  # gradients masked once, before the optimizer (below); pruned weights stay exactly zero
            opt = optax.chain(optax.add_decayed_weights(0.0), optax.adam(lr))
        params = mask_tree(params, masks)

        def step(carry, k):
            p, s = carry
            idx = jax.random.randint(k, (batch,), 0, x.shape[0])
            loss, g = jax.value_and_grad(loss_fn)(p, masks, x[idx], y[idx])
            if variant != "engine":
                g = mask_tree(g, masks)
            u, s = opt.update(g, s, p)
            p = optax.apply_updates(p, u)
            if variant == "engine":
                p = mask_tree(p, masks)
            return (p, s), loss

        (p, _), losses = jax.lax.scan(step, (params, opt.init(params)), jax.random.split(key, steps))
        return p, losses

    return jax.vmap(fit, in_axes=(0, 0, 0, None, None))


def step_worker(spec: dict) -> dict:
    import jax
    import jax.numpy as jnp
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    g, n_in, width, depth, batch, steps = (spec[k] for k in ("models", "n_in", "width", "depth", "batch", "steps"))
    rng = np.random.default_rng(0)
    names = layer_names(depth, False)
    params, masks = make_problem(g, n_in, width, depth)
    x = rng.uniform(-1, 1, (4096, n_in)).astype(np.float32)
    y = np.tanh(x @ rng.standard_normal(n_in).astype(np.float32)).astype(np.float32)
    keys = np.asarray(jax.random.split(jax.random.PRNGKey(0), g))
    mesh = Mesh(np.array(jax.devices()), ("grid",))
    shard, rep = NamedSharding(mesh, PartitionSpec("grid")), NamedSharding(mesh, PartitionSpec())
    args = (jax.device_put(params, shard), jax.device_put(masks, shard), jax.device_put(keys, shard),
            jax.device_put(jnp.asarray(x), rep), jax.device_put(jnp.asarray(y), rep))
    fns, out = {}, {}
    for v in spec["variants"]:
        fns[v] = jax.jit(make_step_trainer(v, n_in, width, depth, batch, steps))
        t0 = time.perf_counter()
        p, losses = fns[v](*args)
        jax.block_until_ready(losses)
        out[v] = {"compile_and_first_s": time.perf_counter() - t0, "times": [],
                  "final_loss": float(np.asarray(losses)[:, -10:].mean()),
                  "pruned_weights_zero": bool(all(float(jnp.abs(p[k]["w"] * (1 - masks[k])).max()) == 0
                                                  for k in names))}
    for _ in range(spec["repeats"]):  # interleaved, so load changes hit every variant alike
        for v in spec["variants"]:
            t0 = time.perf_counter()
            jax.block_until_ready(fns[v](*args)[1])
            out[v]["times"].append(time.perf_counter() - t0)
    for v in out:
        out[v]["model_steps_per_s"] = g * steps / min(out[v]["times"])
    return {"devices": len(jax.devices()), "variants": out}


# ------------------------------------------------------------------------------------------------ slice
def segment_forward(p: dict, m: dict, starts: tuple, x, act_fn):
    """Slice mode's forward pass without re-joining: p, m hold hidden layer l's weights for the points deeper than
    l only (points sorted by depth; starts = mlp.depth_starts) and the readout's for every point; x (k, batch, n).
    The points of depth l get their readout as soon as layer l - 1 has run, on their segment of the batch, so
    only the (k, batch[, outputs]) outputs are concatenated, not the (k, batch, width) activations per layer."""
    import jax
    import jax.numpy as jnp

    readout = jax.vmap(lambda w, mm, b, h: h @ (w * mm) + b)
    po, mo = p["out"], m["out"]
    h, ys, done = x, [], 0
    for l, s in enumerate(starts):
        if s > done:  # the points of depth l are finished
            ys.append(readout(po["w"][done:s], mo[done:s], po["b"][done:s], h[: s - done]))
            h, done = h[s - done :], s
        q = p[f"h{l}"]
        h = jax.vmap(lambda w, mm, b, hh: act_fn(hh @ (w * mm) + b))(q["w"], m[f"h{l}"], q["b"], h)
    ys.append(readout(po["w"][done:], mo[done:], po["b"][done:], h))
    y = jnp.concatenate(ys) if len(ys) > 1 else ys[0]
    return y[..., 0] if y.shape[-1] == 1 else y


def first_point(name: str, starts: tuple) -> int:
    """The first point (of a depth-sorted batch) that weight layer `name` runs on: starts[l] for h{l}, 0 for out."""
    return 0 if name == "out" else starts[int(name[1:])]


def live_slices(tree: dict, starts: tuple) -> dict:
    """Each layer's leaves from its first_point on: hidden layer l's for the points deeper than l, the readout's
    whole."""
    import jax

    out = {}
    for k, v in tree.items():
        s = first_point(k, starts)
        out[k] = jax.tree.map(lambda a, s=s: a[s:], v)
    return out


def apply_segmented(params, masks, layout, x, activation="relu"):
    """mlp.apply_sliced's signature on segment_forward: the ablation that keeps the engine's optimizer on every
    slot (gradients of the unused slots come back as zeros) and changes only the forward pass."""
    from sweetspot import mlp

    starts = mlp.depth_starts(layout, mlp.n_slots_of(params))
    return segment_forward(live_slices(params, starts), live_slices(masks, starts), starts, x,
                           mlp.ACTIVATIONS[activation])


def make_segment_fit(cfg, binary: bool, capture_at, layout: tuple):
    """A proposed replacement for train._make_batched_fit (slice mode's batched fit, same signature and outputs):
    - no concatenates: a point's readout runs as soon as its last hidden layer has, on its depth's segment of the
      batch (the engine's apply_sliced concatenates the finished points back after every layer, a full
      (points, batch, width) copy per layer, forward and backward);
    - the optimizer runs on the live slices only: hidden layer l's weights, gradients and Adam state hold the
      points deeper than l (the engine carries every slot of every point and runs Adam on the shallow points'
      padded slots too, 1.8-2x the elementwise work of group mode on depths 1-8). Padded slots leave the fit as
      they came in (the engine's Adam moves them when weight decay is above 0; no result reads them).
    """
    import jax
    import jax.numpy as jnp
    import optax

    from sweetspot import mlp
    from sweetspot import train as tr

    act_fn = mlp.ACTIVATIONS[cfg.model.activation]
    optimizer, per_sample = cfg.train.optimizer, tr._per_sample_loss(binary)
    n_slots = max(d for d, _ in layout)
    starts = mlp.depth_starts(layout, n_slots)
    names = mlp.layer_names(n_slots)
    live = lambda tree: live_slices(tree, starts)

    def losses(p, m, x, y):
        return per_sample(segment_forward(p, m, starts, x, act_fn), y).reshape(x.shape[0], -1).mean(1)

    loss_grad = jax.value_and_grad(lambda p, m, x, y: (lambda v: (v.sum(), v))(losses(p, m, x, y)), has_aux=True)

    def fit(params, masks, point, data, key):
        if mlp.n_slots_of(params) != n_slots:
            raise ValueError(f"segment fit: {mlp.n_slots_of(params)} slots, its layout {layout} has {n_slots}")
        lp, lm = live(params), live(masks)
        pts = live(dict.fromkeys(names, point))  # each layer's points' lr and weight decay
        opt = lambda pt, mk: tr._masked_optimizer(optimizer, pt, mk)
        per_layer = lambda f: {k: f(k) for k in names}  # each layer vmapped over its own points

        def update(g, s, p):
            out = per_layer(lambda k: jax.vmap(lambda gg, ss, pp, pt, mm: opt(pt, {k: mm}).update(
                {k: gg}, ss, {k: pp}))(g[k], s[k], p[k], pts[k], lm[k]))
            return {k: u[k] for k, (u, _) in out.items()}, {k: st for k, (_, st) in out.items()}

        def step(carry, inputs):
            p, s, saved = carry
            t, k = inputs
            xb, yb = jax.vmap(lambda kk: tr._draw_batch(cfg, data["x_train"], data["y_train"], kk))(k)
            (_, loss), g = loss_grad(p, lm, xb, yb)
            u, s = update(g, s, p)
            saved = tr._capture(capture_at, t, p, saved)
            p = {k: mlp.mask_params({k: v}, {k: lm[k]})[k] for k, v in optax.apply_updates(p, u).items()}
            return (p, s, saved), loss

        every_point = lambda a: jnp.broadcast_to(a, (key.shape[0], *a.shape))
        test = lambda p: losses(p, lm, every_point(data["x_test"]), every_point(data["y_test"]))
        s0 = per_layer(lambda k: jax.vmap(lambda pp, pt, mm: opt(pt, {k: mm}).init({k: pp}))(lp[k], pts[k], lm[k]))
        init = (lp, s0, lp if capture_at is not None else ())
        (lp, _, saved), (curve_train, curve_test) = tr._scan_blocks(cfg, step, test, init, key)
        def full(q):  # the unused slots as they came in, the live slices as trained
            out = {}
            for k in names:
                s = first_point(k, starts)
                out[k] = jax.tree.map(lambda a, b, s=s: jnp.concatenate([a[:s], b]), params[k], q[k])
            return out

        return full(lp), curve_train.T, curve_test.T, (full(saved) if capture_at is not None else ())

    return fit


def make_segment_fit_raveled(cfg, binary: bool, capture_at, layout: tuple):
    """train._make_segment_fit (segment mode) with one optimizer over every live parameter ravelled into one vector,
    each parameter with its own point's lr and weight decay (elementwise: the same numbers up to rounding), in
    place of one vmapped optimizer per layer: fewer programs to compile, two copies per step."""
    import jax
    import jax.numpy as jnp
    import optax
    from jax.flatten_util import ravel_pytree

    from sweetspot import mlp
    from sweetspot import train as tr

    act, optimizer = cfg.model.activation, cfg.train.optimizer

    def fit(params, masks, point, data, key):
        n_slots = mlp.n_slots_of(params)
        starts, names = mlp.depth_starts(layout, n_slots), mlp.layer_names(n_slots)
        forward = lambda p, m, x: mlp.apply_segmented(p, m, starts, x, act)
        loss_grad, draw, test_loss = tr._batch_losses(cfg, binary, forward)
        lp, lm = mlp.live_slices(params, starts), mlp.live_slices(masks, starts)
        flat, unravel = ravel_pytree(lp)

        def per_param(v):  # (k,) per-point values -> each live parameter's own point's value, in ravel order
            spread = lambda a: jnp.broadcast_to(v.reshape(-1, *[1] * (a.ndim - 1)), a.shape)
            return ravel_pytree(mlp.live_slices(jax.tree.map(spread, params), starts))[0]

        opt = tr.make_optimizer(optimizer, per_param(point["lr"]), per_param(point["weight_decay"]))

        def step(carry, inputs):
            p, s, saved = carry
            t, k = inputs
            (_, loss), g = loss_grad(p, lm, *draw(data, k))
            u, s = opt.update(ravel_pytree(g)[0], s, ravel_pytree(p)[0])
            saved = tr._capture(capture_at, t, p, saved)
            p = mlp.mask_params(optax.apply_updates(p, mlp.mask_params(unravel(u), lm)), lm)
            return (p, s, saved), loss

        test = lambda p: test_loss(p, lm, data, key.shape[0])
        carry = (lp, opt.init(flat), lp if capture_at is not None else ())
        (lp, _, saved), (curve_train, curve_test) = tr._scan_blocks(cfg, step, test, carry, key)
        cut = lambda n: mlp.first_point(n, starts)
        whole = lambda live: {n: jax.tree.map(lambda a, b, n=n: jnp.concatenate([a[: cut(n)], b]), params[n], live[n])
                              for n in names}
        return whole(lp), curve_train.T, curve_test.T, (whole(saved) if capture_at is not None else ())

    return fit


def make_pointwise_fit(cfg, binary: bool, capture_at, layout: tuple):
    """train._make_batched_fit's signature on the per-point fit vmapped (group mode's step inside slice mode's
    program): valid for a one-depth layout only, where there is nothing to slice. Separates the batched fit's
    formulation from the rest of slice mode's program."""
    import jax

    from sweetspot import train as tr

    if len(layout) != 1:
        raise ValueError(f"make_pointwise_fit: one depth only, got the layout {layout}")
    one = tr._make_point_fit(cfg, binary, capture_at)
    return jax.vmap(one, (0, 0, 0, None, 0))


def make_train_shard_map(engine, g):
    """grid.Engine._make_train with shard_map over the devices in place of slice mode's outer vmap: each device
    vmaps the point-wise train over its own depth-sorted block (checks whether the nested vmap costs time)."""
    import jax
    from jax.sharding import PartitionSpec

    from sweetspot import targets
    from sweetspot import train as tr

    binary = targets.family(engine.cfg.target.family).binary
    train = tr.make_train(engine.cfg, g.n_slots, g.method, max(engine.grid.axes["depth"]), binary, engine.layout)
    fn = jax.vmap(train, (0, None))
    specs = dict(mesh=engine.mesh, in_specs=(PartitionSpec("grid"), PartitionSpec()), out_specs=PartitionSpec("grid"))
    return jax.shard_map(fn, **specs, check_vma=False)


SWAPS = (None, "fit", "forward", "pointwise", "shard_map", "no_layout", "ravel")


@contextlib.contextmanager
def swapped(patch: str | None):
    """The engine with one function swapped for a prototype while it builds and traces its programs: train's
    batched fit for make_segment_fit ("fit") or make_pointwise_fit ("pointwise"), mlp.apply_sliced for
    apply_segmented ("forward"), the devices' vmap for shard_map ("shard_map"), or train.make_fit told no layout
    ("no_layout": group mode's own fit, one depth only), or segment mode's fit for make_segment_fit_raveled
    ("ravel"). None swaps nothing."""
    from sweetspot import grid, mlp
    from sweetspot import train as tr

    if patch not in SWAPS:
        raise ValueError(f"prototype swap {patch!r}: allowed values are {SWAPS}")
    original = tr._make_batched_fit, mlp.apply_sliced, grid.Engine._make_train, tr.make_fit, tr._make_segment_fit
    no_layout = lambda cfg, binary=False, capture_at=None, layout=None: original[3](cfg, binary, capture_at)
    tr._make_batched_fit = {"fit": make_segment_fit, "pointwise": make_pointwise_fit}.get(patch, original[0])
    mlp.apply_sliced = apply_segmented if patch == "forward" else original[1]
    grid.Engine._make_train = make_train_shard_map if patch == "shard_map" else original[2]
    tr.make_fit = no_layout if patch == "no_layout" else original[3]
    tr._make_segment_fit = make_segment_fit_raveled if patch == "ravel" else original[4]
    try:
        yield
    finally:
        tr._make_batched_fit, mlp.apply_sliced, grid.Engine._make_train, tr.make_fit, tr._make_segment_fit = original


def slice_check_worker(spec: dict) -> dict:
    """make_segment_fit and apply_segmented against slice mode as it is, on tests/conftest.py's tiny grid: random,
    IMP and SP with the metrics on (depths 1-3), and random and IMP on depths 1, 3, 12 (layer names h10, h11 sort
    before h2). Per variant: labels and integer results identical, NaN where slice mode has NaN, and the largest
    |difference| of every float result."""
    from sweetspot import grid, sweep

    sys.path.insert(0, os.path.join(bench.ROOT, "tests"))
    from conftest import tiny_config

    def configs():
        c = tiny_config()
        c.grid.method, c.pruning.rounds = ("random", "imp", "sp"), 2
        c.metrics.enabled = True
        c.metrics.n_signature, c.metrics.n_probe_train, c.metrics.n_probe_test = 128, 256, 128
        yield "depths 1-3, random/imp/sp, metrics on", c
        c = tiny_config()
        c.grid.depth, c.grid.method, c.pruning.rounds = (1, 3, 12), ("random", "imp"), 2
        yield "depths 1, 3, 12, random/imp", c

    out = {}
    for name, cfg in configs():
        _, data = sweep.make_data(cfg)
        ref = grid.run_grid(cfg, data)
        for patch in ("fit", "forward"):
            with swapped(patch):
                res = grid.run_grid(cfg, data)
            floats = [k for k in ref if ref[k].dtype.kind == "f"]
            diffs = {k: float(np.nanmax(np.abs(res[k] - ref[k]), initial=0.0)) for k in floats}
            worst = max(diffs, key=diffs.get)
            out[f"{name}, segment {patch}"] = {
                "labels_identical": all(np.array_equal(res[k], ref[k]) for k in ref if ref[k].dtype.kind != "f"),
                "same_nan": all(np.array_equal(np.isnan(res[k]), np.isnan(ref[k])) for k in floats),
                "max_abs_diff": diffs[worst], "worst_key": worst}
    return out


def slice_worker(spec: dict) -> dict:
    """The engine on one grid several ways (spec["variants"]: name, depth mode, swap of `swapped`, chunk size),
    interleaved: slice mode as it is, with one function swapped, and group mode. Per variant: compile + first run,
    run times, model-steps/s and the largest difference of its results from slice mode's (float tolerance, not
    bits)."""
    import jax

    from sweetspot import grid

    data = bench.load_data(spec["data"], False)
    engines, out = {}, {}
    for name, mode, patch, chunk_size in spec["variants"]:
        with swapped(patch):  # while the Engine builds its programs and its first run traces them
            t0 = time.perf_counter()
            job = dict(spec["job"], depth_mode=mode, chunk_size=chunk_size)
            engines[name] = grid.Engine(bench.make_cfg(job), data)
            res, _ = grid.run(engines[name])
        out[name] = {"compile_and_first_s": time.perf_counter() - t0, "times_s": [], "results": res}
    for _ in range(spec["rounds"]):
        for name, eng in engines.items():
            t0 = time.perf_counter()
            grid.run(eng)
            out[name]["times_s"].append(time.perf_counter() - t0)
    ref = out["slice"]["results"]
    same = lambda a, b: all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)
    for name, o in out.items():
        o["bit_identical_to"] = [n for n, p in out.items() if n != name and same(o["results"], p["results"])]
    for name, o in out.items():
        res = o.pop("results")
        n = engines[name].grid.n_points * engines[name].cfg.train.steps
        o["model_steps_per_s"] = n / float(np.median(o["times_s"]))
        o["rate_vs_slice"] = o["model_steps_per_s"] / (n / float(np.median(out["slice"]["times_s"])))
        diff = {k: float(np.nanmax(np.abs(np.asarray(res[k], float) - np.asarray(ref[k], float))))
                for k in ("train_loss", "test_loss", "curve_train", "curve_test")}
        o["max_abs_diff_vs_slice"] = diff
        o["final_train_loss_mean"] = float(np.mean(res["train_loss"]))
    return {"devices": len(jax.devices()), "variants": out}


def variant_compile_worker(spec: dict) -> dict:
    """AOT compile seconds (trace, lower, XLA; not run) of the engine's program for one grid, per variant (name,
    depth mode, swap of `swapped`), spec["repeats"] rounds interleaved."""
    from sweetspot import grid

    data = bench.load_data(spec["data"], False)
    out = {name: [] for name, *_ in spec["variants"]}
    for _ in range(spec["repeats"]):
        for name, mode, patch in spec["variants"]:
            with swapped(patch):
                t0 = time.perf_counter()
                grid.Engine(bench.make_cfg(dict(spec["job"], depth_mode=mode)), data).compile_chunk(0)
                out[name].append(time.perf_counter() - t0)
    return out


# ------------------------------------------------------------------------------------------------ compile
def compile_worker(spec: dict) -> dict:
    """A depths 1-8 grid as one jit of 8 depth programs (group mode), hidden layers unrolled (as mlp.apply does)
    vs one lax.scan over stacked hidden layers; and a single depth-8 program (pad mode's shape). AOT compile
    seconds and run seconds of the whole grid."""
    import jax
    import jax.numpy as jnp

    g, n_in, width, batch, steps = (spec[k] for k in ("per_depth", "n_in", "width", "batch", "steps"))
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(-1, 1, (4096, n_in)).astype(np.float32))
    y = jnp.asarray(np.tanh(np.asarray(x) @ rng.standard_normal(n_in).astype(np.float32)))
    out = {}
    for name, depths, layer_scan, per in (("group, unrolled layers", range(1, 9), False, g),
                                          ("group, layer scan", range(1, 9), True, g),
                                          ("pad (one depth-8 program)", [8], False, 8 * g)):
        fns, args = {}, {}
        for d in depths:
            fns[d] = make_step_trainer("engine", n_in, width, d, batch, steps, layer_scan=layer_scan)
            p, m = make_problem(per, n_in, width, d, layer_scan, seed=d)
            args[d] = (p, m, jax.random.split(jax.random.PRNGKey(d), per))
        prog = jax.jit(lambda args, x, y, fns=fns: {d: fns[d](*a, x, y)[1] for d, a in args.items()})
        t0 = time.perf_counter()
        compiled = prog.lower(args, x, y).compile()
        c = time.perf_counter() - t0
        jax.block_until_ready(compiled(args, x, y))
        t = bench.best_time(lambda c_=compiled, a_=args: jax.block_until_ready(c_(a_, x, y)), 2, 0.5)
        out[name] = {"compile_s": c, "run_s": t, "points": per * len(depths)}
    return out


# ------------------------------------------------------------------------------------------------ topk
def rank_mask_sorted(scores, k):
    """The proposed rank_mask: the same 0/1 mask (k highest scores, ties to the lower flat index) from one sort of
    the values, a threshold and a cumulative count of the tied entries; no argsort payload, no scatter."""
    import jax.numpy as jnp

    flat = scores.ravel()
    n = flat.size
    thr = jnp.sort(flat)[n - k]  # the k-th highest value
    above = flat > thr
    tied = flat == thr
    keep = above | (tied & (jnp.cumsum(tied) <= k - above.sum()))
    return keep.astype(jnp.float32).reshape(scores.shape)


def rank_mask_bisect(scores, k):
    """The proposed rank_mask without any sort: the k-th highest value found by a 32-step bisection on the
    order-preserving integer image of the float32 scores (vectorised counts), then the same tie rule."""
    import jax
    import jax.numpy as jnp

    flat = scores.ravel()
    flat = jnp.where(flat == 0, 0.0, flat)  # -0.0 ties with 0.0, as in the sort
    bits = jax.lax.bitcast_convert_type(flat, jnp.uint32)
    u = jnp.where(bits >> 31 == 1, ~bits, bits | jnp.uint32(1 << 31))  # monotone in the float order
    u = jnp.where(jnp.isnan(flat), jnp.uint32(0), u)  # NaN ranks last, as in argsort(-scores)

    def bit(i, t):
        cand = t | (jnp.uint32(1) << (31 - i).astype(jnp.uint32))
        return jnp.where((u >= cand).sum() >= k, cand, t)

    thr = jax.lax.fori_loop(0, 32, bit, jnp.uint32(0))  # the largest t with at least k scores >= t
    above = u > thr
    tied = u == thr
    keep = above | (tied & (jnp.cumsum(tied) <= k - above.sum()))
    return keep.astype(jnp.float32).reshape(scores.shape)


def rank_mask_argsort(scores, k):
    """rank_mask as the engine had it before ada41f1 (stable argsort of -scores, ranks scattered back)."""
    import jax.numpy as jnp

    flat = scores.ravel()
    order = jnp.argsort(-flat, stable=True)
    rank = jnp.zeros(flat.shape, jnp.int32).at[order].set(jnp.arange(flat.size, dtype=jnp.int32))
    return (rank < k).astype(jnp.float32).reshape(scores.shape)


def topk_experiment(repeats: int) -> dict:
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    n_pts, n_layers, w = 125, 9, 64  # one depth-8 group of a 1,000-point grid: 8 hidden layers + readout
    scores = jnp.asarray(rng.random((n_pts * n_layers, w, w), np.float32))
    ks = jnp.asarray(rng.integers(1, w * w, n_pts * n_layers), jnp.int32)
    # Ties: magnitudes of already-pruned weights are exactly 0, and coarse scores tie often.
    tied = jnp.asarray(np.where(rng.random((64, w, w)) < 0.5, 0.0, np.round(rng.random((64, w, w)), 1)), jnp.float32)
    kt = jnp.asarray(rng.integers(1, w * w, 64), jnp.int32)
    signed = rng.standard_normal((64, w, w)).astype(np.float32)  # negative scores, -0.0 and NaN too
    signed[:, 0, :8] = -0.0
    signed[:, 1, :8] = 0.0
    signed[:, 2, :4] = np.nan
    signed = jnp.asarray(signed)
    eng = jax.jit(jax.vmap(rank_mask_argsort))
    out = {"masks": int(scores.shape[0]), "shape": [w, w]}
    t_eng = bench.best_time(lambda: jax.block_until_ready(eng(scores, ks)), repeats)
    out["engine_ms"] = 1e3 * t_eng
    for name, f in (("sorted", rank_mask_sorted), ("bisect", rank_mask_bisect)):
        new = jax.jit(jax.vmap(f))
        same = all(bool((eng(a, b) == new(a, b)).all()) for a, b in ((scores, ks), (tied, kt), (signed, kt)))
        t = bench.best_time(lambda new=new: jax.block_until_ready(new(scores, ks)), repeats)
        out[name] = {"ms": 1e3 * t, "speedup": t_eng / t, "identical_masks": same}
    return out


# ------------------------------------------------------------------------------------------------ eval
def eval_experiment(repeats: int, block: int = 512) -> dict:
    import jax
    import jax.numpy as jnp

    from sweetspot import mlp

    rng = np.random.default_rng(0)
    g, depth, width, n_in = 125, 8, 64, 16
    dims = bench.layer_dims(n_in, width, depth)
    names = mlp.layer_names(depth)
    params = {k: {"w": jnp.asarray(rng.standard_normal((g, a, b), np.float32) / np.sqrt(a)),
                  "b": jnp.zeros((g, b), jnp.float32)} for k, (a, b) in zip(names, dims, strict=True)}
    masks = {k: jnp.asarray((rng.random((g, a, b)) < 0.5).astype(np.float32)) for k, (a, b) in
             zip(names, dims, strict=True)}
    depths = jnp.full((g,), depth, jnp.int32)
    splits = {s: (jnp.asarray(rng.uniform(-1, 1, (n, n_in)).astype(np.float32)), jnp.asarray(rng.random(n, np.float32)))
              for s, n in (("train", 4096), ("test", 2048), ("heldout", 1024))}

    def mse_full(p, m, d, x, y):
        return jnp.mean((mlp.apply(p, m, d, x, "relu") - y) ** 2)

    def mse_blocked(p, m, d, x, y):
        if x.shape[0] <= block or x.shape[0] % block:
            return mse_full(p, m, d, x, y)
        xb = x.reshape(-1, block, x.shape[1])
        yb = y.reshape(-1, block)
        sse = jax.lax.map(lambda a: jnp.sum((mlp.apply(p, m, d, a[0], "relu") - a[1]) ** 2), (xb, yb))
        return sse.sum() / x.shape[0]

    out = {}
    for name, f in (("full", mse_full), ("blocked", mse_blocked)):
        fn = jax.jit(jax.vmap(lambda p, m, d, f=f: {s: f(p, m, d, *xy) for s, xy in splits.items()}))
        compiled = fn.lower(params, masks, depths).compile()
        mem = compiled.memory_analysis()
        res = fn(params, masks, depths)
        t = bench.best_time(lambda fn=fn: jax.block_until_ready(fn(params, masks, depths)), repeats, 0.5)
        out[name] = {"temp_mb": mem.temp_size_in_bytes / 2**20 if mem else None, "ms": 1e3 * t,
                     "losses": {s: float(v.mean()) for s, v in res.items()}}
    out["same_losses"] = all(abs(out["full"]["losses"][s] - out["blocked"]["losses"][s]) <= 1e-5 *
                             abs(out["full"]["losses"][s]) for s in splits)
    out["points"], out["depth"], out["block"] = g, depth, block
    return out


# ------------------------------------------------------------------------------------------------ metrics
def ridge_r2_shared(z_tr, z_te, y_tr, y_te, sel, ridge):
    """metrics.ridge_r2 with the same result, written so that nothing of size (samples x width) depends on the
    probe node: (z * sel)^T (z * sel) = (z^T z) * outer(sel, sel), (z * sel)^T y = (z^T y) * sel and
    (z * sel) w = z (sel * w). Under the per-node vmap z^T z is then computed once per layer, and no per-node
    copy of z is materialised."""
    import jax.numpy as jnp

    from sweetspot import metrics

    n = z_tr.shape[0]
    y_mean = y_tr.mean()
    gram = (z_tr.T @ z_tr / n) * jnp.outer(sel, sel) + ridge * jnp.eye(z_tr.shape[1], dtype=z_tr.dtype)
    w = metrics.spd_solve(gram, (z_tr.T @ (y_tr - y_mean) / n) * sel)
    resid = y_te - (y_mean + z_te @ (sel * w))
    r2 = 1.0 - jnp.sum(resid**2) / jnp.sum((y_te - y_te.mean()) ** 2)
    return jnp.where(sel.sum() > 0, r2, 0.0), w


def ridge_r2_per_node(z_tr, z_te, y_tr, y_te, sel, ridge):
    """metrics.ridge_r2 as it was before ada41f1: the selection applied to z, so each probe node gets its own
    (samples x width) copy and its own Gram."""
    import jax.numpy as jnp

    from sweetspot import metrics

    n = z_tr.shape[0]
    zs_tr, zs_te = z_tr * sel, z_te * sel
    y_mean = y_tr.mean()
    gram = zs_tr.T @ zs_tr / n + ridge * jnp.eye(z_tr.shape[1], dtype=z_tr.dtype)
    w = metrics.spd_solve(gram, zs_tr.T @ (y_tr - y_mean) / n)
    resid = y_te - (y_mean + zs_te @ w)
    r2 = 1.0 - jnp.sum(resid**2) / jnp.sum((y_te - y_te.mean()) ** 2)
    return jnp.where(sel.sum() > 0, r2, 0.0), w


def metrics_worker(spec: dict) -> dict:
    """metrics.compute over `points` depth-4 networks (vmapped, jitted): compiled temp memory and time with the
    per-node ridge (the engine before ada41f1) and with ridge_r2_shared patched in; the outputs compared."""
    import jax
    import jax.numpy as jnp

    from sweetspot import config, metrics, mlp

    data = bench.load_data(spec["data"], True)
    probe = jax.tree.map(jnp.asarray, data["probe"])
    mcfg = config.default_config().metrics
    g, depth = spec["points"], 4
    keys = jax.random.split(jax.random.PRNGKey(0), g)
    params = jax.vmap(lambda k: mlp.init(k, 16, 64, depth))(keys)
    rng = np.random.default_rng(0)
    masks = {k: jnp.asarray((rng.random(v["w"].shape) < 0.5).astype(np.float32)) for k, v in params.items()}
    original = metrics.ridge_r2
    out = {"points": g, "depth": depth, "probe_nodes": int(probe["probe_nodes"].shape[0])}
    results = {}
    for name, fn in (("per-node gram", ridge_r2_per_node), ("shared gram", ridge_r2_shared)):
        metrics.ridge_r2 = fn
        try:
            f = jax.jit(jax.vmap(lambda p, m: metrics.compute(p, m, depth, "relu", probe, 0.99, mcfg)))
            compiled = f.lower(params, masks).compile()
            mem = compiled.memory_analysis()
            results[name] = jax.device_get(compiled(params, masks))
            t = bench.best_time(lambda c=compiled: jax.block_until_ready(c(params, masks)), 2, 0.5)
            out[name] = {"temp_mb": mem.temp_size_in_bytes / 2**20 if mem else None, "s": t}
        finally:
            metrics.ridge_r2 = original
    a, b = results["per-node gram"], results["shared gram"]
    diffs = {k: float(np.nanmax(np.abs(np.asarray(a[k], np.float64) - np.asarray(b[k], np.float64))))
             for k in a if np.asarray(a[k]).dtype.kind == "f" and np.asarray(a[k]).size}
    out["max_abs_diff"] = max(diffs.values()) if diffs else None
    out["worst_key"] = max(diffs, key=diffs.get) if diffs else None
    out["same_labels"] = all(bool((np.asarray(a[k]) == np.asarray(b[k])).all()) for k in a
                             if np.asarray(a[k]).dtype.kind == "b")
    return out


# ------------------------------------------------------------------------------------------------ driver
def run_sub(kind: str, spec: dict, devices: int = 1, extra_env: dict | None = None, timeout: float = 900) -> dict:
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {bench.HOST_FLAG}={devices}".strip()
    env.update(extra_env or {})
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--spec", json.dumps(spec)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith(TAG)]
    if p.returncode or not lines:
        raise RuntimeError(f"{kind} failed (rc={p.returncode}): {(p.stderr or p.stdout)[-2000:]}")
    return json.loads(lines[-1][len(TAG):])


def xla_experiment(work: str, data: str, steps: int) -> dict:
    """The benchmark's one-depth grid (64 points, 2 devices): compile (AOT) and model-steps/s per option."""
    job = bench.base_job(steps, repeats=2)
    cache = os.path.join(work, "jax_cache")
    options = {
        "default": {},
        "xla_backend_optimization_level=1": {"XLA_FLAGS": "--xla_backend_optimization_level=1"},
        "xla_llvm_disable_expensive_passes": {"XLA_FLAGS": "--xla_llvm_disable_expensive_passes=true"},
        # No threefry in the lowering at all: an upper bound on what cheaper RNG use can save (changes streams).
        "JAX_DEFAULT_PRNG_IMPL=unsafe_rbg": {"JAX_DEFAULT_PRNG_IMPL": "unsafe_rbg"},
        "persistent cache, cold": {"JAX_COMPILATION_CACHE_DIR": cache,
                                   "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"},
        "persistent cache, warm (2nd process)": {"JAX_COMPILATION_CACHE_DIR": cache,
                                                 "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"},
    }
    out = {}
    n_dev = os.cpu_count() or 1
    for name, env in options.items():
        flags = env.get("XLA_FLAGS", "")
        env = dict(env, XLA_FLAGS=f"{flags} {bench.HOST_FLAG}={n_dev}".strip())
        full = dict(os.environ, **env)
        cmd = [sys.executable, bench.__file__, "--worker", "engine", "--spec",
               json.dumps({"data": data, "jobs": [job]})]
        p = subprocess.run(cmd, env=full, capture_output=True, text=True, timeout=900)
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith(bench.RESULT_TAG)]
        if p.returncode or not lines:
            out[name] = {"error": (p.stderr or p.stdout)[-500:]}
            continue
        j = json.loads(lines[-1][len(bench.RESULT_TAG):])["jobs"][0]
        out[name] = {"compile_s": j["compile_s"], "first_run_s": j["first_run_s"],
                     "model_steps_per_s": j["model_steps_per_s"], "phases": j["compile_phases"]}
    return out


def worker_main(kind: str, spec: dict) -> dict:
    if kind == "step":
        return step_worker(spec)
    if kind == "compile":
        return compile_worker(spec)
    if kind == "slice":
        return slice_worker(spec)
    if kind == "slice_check":
        return slice_check_worker(spec)
    if kind == "variant_compile":
        return variant_compile_worker(spec)
    if kind == "metrics":
        return metrics_worker(spec)
    if kind == "topk":
        return topk_experiment(spec["repeats"])
    if kind == "eval":
        return eval_experiment(spec["repeats"])
    raise SystemExit(f"unknown worker {kind}")


def report(res: dict) -> str:
    lines = []
    if "step" in res:
        lines.append("training step, 64 models x (16-64-64-64-64-1), minibatch 256, Adam, masks 0.5 (model-steps/s):")
        for nd, r in res["step"].items():
            base = r["variants"]["engine"]["model_steps_per_s"]
            cells = [f"{v} {x['model_steps_per_s']:,.0f} ({x['model_steps_per_s'] / base:.2f}x, final loss "
                     f"{x['final_loss']:.4f}, pruned stay 0: {x['pruned_weights_zero']})"
                     for v, x in r["variants"].items()]
            lines.append(f"  {nd} device(s): " + "; ".join(cells))
    if "compile" in res:
        lines.append(f"depths 1-8, {res['compile_steps']} steps, 1 device (AOT compile; run of the whole grid):")
        for name, r in res["compile"].items():
            lines.append(f"  {name}: compile {r['compile_s']:.1f} s, run {r['run_s']:.2f} s ({r['points']} points)")
    if "slice" in res:
        for grid_name, r in res["slice"].items():
            lines.append(f"engine, {grid_name} grid, {r['devices']} device(s), median of interleaved runs "
                         "(model-steps/s; largest |diff| of the final losses from slice mode as it is):")
            for v, x in r["variants"].items():
                lines.append(f"  {v}: {x['model_steps_per_s']:,.0f} ({x['rate_vs_slice']:.2f}x), compile + first run "
                             f"{x['compile_and_first_s']:.1f} s, |diff| {x['max_abs_diff_vs_slice']['train_loss']:.1e}"
                             + (f"; bit-identical to: {' | '.join(x['bit_identical_to'])}"
                                if x.get("bit_identical_to") else ""))
    if "segment" in res:
        lines.append("segment mode, depths 1-8 grid: AOT compile (s, interleaved rounds); interleaved runs:")
        for v, times in res["segment"]["compile_s"].items():
            lines.append(f"  compile, {v}: " + ", ".join(f"{t:.1f}" for t in times))
        for v, x in res["segment"]["run"]["variants"].items():
            lines.append(f"  run, {v}: {x['model_steps_per_s']:,.0f} model-steps/s ({x['rate_vs_slice']:.2f}x slice), "
                         f"|diff| of the final losses from slice {x['max_abs_diff_vs_slice']['train_loss']:.1e}")
    if "slice_check" in res:
        lines.append("segment fit / forward against slice mode as it is, tiny grids (labels; largest |diff|):")
        for name, r in res["slice_check"].items():
            lines.append(f"  {name}: labels and integers identical {r['labels_identical']}, NaN where slice mode "
                         f"has NaN {r['same_nan']}, {r['max_abs_diff']:.1e} ({r['worst_key']})")
    if "metrics" in res:
        m = res["metrics"]
        lines.append(f"metrics.compute, {m['points']} points at depth {m['depth']}, {m['probe_nodes']} probe nodes: "
                     f"per-node gram temp {m['per-node gram']['temp_mb']:,.0f} MB, {m['per-node gram']['s']:.2f} s; "
                     f"shared gram temp "
                     f"{m['shared gram']['temp_mb']:,.0f} MB, {m['shared gram']['s']:.2f} s; max |diff| "
                     f"{m['max_abs_diff']:.2e} ({m['worst_key']}), same labels: {m['same_labels']}")
    if "topk" in res:
        t = res["topk"]
        lines.append(f"rank_mask on {t['masks']} layers of {t['shape'][0]}x{t['shape'][1]}: "
                     f"argsort + scatter (before ada41f1) {t['engine_ms']:.1f} ms; "
                     + "; ".join(f"{n} {t[n]['ms']:.1f} ms ({t[n]['speedup']:.1f}x, identical masks incl. ties and "
                                 f"negative scores: {t[n]['identical_masks']})" for n in ("sorted", "bisect")))
    if "eval" in res:
        e = res["eval"]
        lines.append(f"final evaluation, {e['points']} points at depth {e['depth']}, train+test+held-out "
                     f"(7,168 samples): full batch temp {e['full']['temp_mb']:.0f} MB, {e['full']['ms']:.0f} ms; "
                     f"blocks of {e['block']}: temp {e['blocked']['temp_mb']:.0f} MB, {e['blocked']['ms']:.0f} ms; "
                     f"same losses: {e['same_losses']}")
    if "xla" in res:
        lines.append("one-depth grid (64 points, all host devices), compile and throughput per option:")
        for name, r in res["xla"].items():
            if "error" in r:
                lines.append(f"  {name}: failed: {r['error'][-200:]}")
            else:
                lines.append(f"  {name}: compile {r['compile_s']:.2f} s, {r['model_steps_per_s']:,.0f} model-steps/s")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description="Prototypes behind docs/performance.md's recommendations.")
    p.add_argument("--only", default="step,compile,slice,slice_check,segment,metrics,topk,eval,xla")
    p.add_argument("--json", action="store_true")
    p.add_argument("--save", help="also write the JSON object to this file")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--spec", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(TAG + json.dumps(worker_main(args.worker, json.loads(args.spec))), flush=True)
        return
    only = set(args.only.split(","))
    res = {"versions": bench.versions(), "machine": bench.machine()}
    if "step" in only:
        spec = {"models": 64, "n_in": 16, "width": 64, "depth": 4, "batch": 256, "steps": args.steps,
                "repeats": args.repeats, "variants": ["engine", "mask_once", "mask_once_wt"]}
        res["step"] = {nd: run_sub("step", spec, nd) for nd in sorted({1, os.cpu_count() or 1})}
    if "compile" in only:
        res["compile_steps"] = args.steps
        res["compile"] = run_sub("compile", {"per_depth": 8, "n_in": 16, "width": 64, "batch": 256,
                                             "steps": args.steps})
    if "slice" in only:  # the depths 1-8 grid (8 seeds per depth, sparsity 0.5), then the benchmark's one depth
        work = tempfile.mkdtemp(prefix="proto_")
        data, n_dev = bench.make_data(work), os.cpu_count() or 1
        jobs = {"depths_1_8": bench.base_job(args.steps, depths=list(range(1, 9)), seeds=8),
                "one_depth": bench.base_job(args.steps)}
        both = [("slice", "slice", None, 0), ("slice, segment fit", "slice", "fit", 0), ("group", "group", None, 0)]
        variants = {
            "depths_1_8": [*both, ("slice, segment forward only", "slice", "forward", 0),
                           ("slice, 1 point per depth per device", "slice", None, n_dev),
                           ("slice, segment fit, 1 point per depth per device", "slice", "fit", n_dev)],
            "one_depth": [*both, ("slice, pointwise fit", "slice", "pointwise", 0),
                          ("slice, shard_map over devices", "slice", "shard_map", 0),
                          ("slice, group's fit (no layout)", "slice", "no_layout", 0)]}
        res["slice"] = {name: run_sub("slice", {"data": data, "job": job, "rounds": args.repeats,
                                                "variants": variants[name]}, n_dev, timeout=3000)
                        for name, job in jobs.items()}
    if "slice_check" in only:
        res["slice_check"] = run_sub("slice_check", {}, os.cpu_count() or 1)
    if "segment" in only:  # segment mode (the engine's default): where its compile goes, and the ravelled optimizer
        work = tempfile.mkdtemp(prefix="proto_")
        data, n_dev = bench.make_data(work), os.cpu_count() or 1
        job = bench.base_job(args.steps, depths=list(range(1, 9)), seeds=8)
        variants = [("slice", "slice", None), ("slice, segment forward only", "slice", "forward"),
                    ("segment", "segment", None), ("segment, ravelled optimizer", "segment", "ravel")]
        res["segment"] = {
            "compile_s": run_sub("variant_compile", {"data": data, "job": job, "repeats": 2, "variants": variants},
                                 n_dev, timeout=3000),
            "run": run_sub("slice", {"data": data, "job": job, "rounds": args.repeats + 1,
                                     "variants": [(*v, 0) for v in variants[::2] + variants[3:]]}, n_dev, timeout=3000)}
    if "metrics" in only:
        work = tempfile.mkdtemp(prefix="proto_")
        res["metrics"] = run_sub("metrics", {"data": bench.make_data(work), "points": 64})
    if "topk" in only:
        res["topk"] = run_sub("topk", {"repeats": args.repeats})
    if "eval" in only:
        res["eval"] = run_sub("eval", {"repeats": args.repeats})
    if "xla" in only:
        work = tempfile.mkdtemp(prefix="proto_")
        res["xla"] = xla_experiment(work, bench.make_data(work), args.steps)
    if args.save:
        with open(args.save, "w") as f:
            json.dump(res, f, indent=1, default=float)
    print(json.dumps(res, default=float) if args.json else report(res))


if __name__ == "__main__":
    main()
