"""How deep must a network be for a target? Two predictors: from the target's structure, and from data alone.

**Structural** (`predict`, structure known). For every internal node v, d_v is the fewest hidden layers with which
a small dense MLP (width `model.width`) fits the constituent h_v *alone*, as a function of its children's values:
0 = a linear readout (least squares R^2 for real nodes; an exact linear-separability LP for Boolean nodes),
1..d_max = a trained network of that depth. A node fits when R^2 >= tol (real; on held-out samples) or accuracy
== 1 (Boolean; on every distinct row of its children). Then

    D_hat = 1 + max over output-to-input paths of sum_{internal v on the path} d_v

(`path_depth`). The path sum is the hidden-layer count of the idealised construction that stacks each node's
sub-network on its children's (a linear readout of a node's value is absorbed into the next layer's affine map);
the 1 makes D_hat >= 1 (an all-linear target still gets one hidden layer, the smallest network of this project).
d_v is measured by ONE vmapped sweep per target (every unmeasured node x depth 1..d_max x seed, one jit, built
from `train.make_fit` and `mlp`); per seed s, first_s = the smallest depth reaching the tolerance (d_max + 1 if
none: censored); d_v = the upper median of first_s; D_hat_low / D_hat_high use the per-node min / max of
first_s. Boolean gates (`boolean.GATES`, modular identity / NOT / XOR) take their closed form: 0 for the linearly
separable gates (`boolean.LINEARLY_SEPARABLE`, identity, NOT), 1 for xor / xnor (parity needs one hidden layer
of width >= arity); `check_closed_form` measures them with the sweep instead. Measured d_v are cached in
CACHE/depth_costs.json keyed by (primitive name or Boolean truth table, arity, fit settings); constituents with
no name (tree family) are keyed by a hash of the target config and the node id.

**Data-only** (`data_only`, structure unknown): see its docstring.

CLI: `python -m sweetspot predict-depth TARGET_SPEC [--width W] [--data-only | --both] [--cache DIR]`; see
`parse_target_spec` for TARGET_SPEC.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import time

import numpy as np

from sweetspot import config as config_lib  # ml_collections only: importing this module does not import jax

FIT = {"d_max": 3, "seeds": 3, "steps": 1000, "lr": 1e-2, "tol": 0.99, "n_fit": 1024}
DEFAULT_CACHE = os.path.join("~", ".cache", "sweetspot")


def path_depth(structure, cost) -> tuple[float, list[int]]:
    """(1 + max over output-to-input paths of the sum of cost[v] over its internal nodes, the argmax path as node
    ids from the output down to an input). cost maps every internal node id to its d_v; ties go to lower ids."""
    best, nxt = {}, {}
    for v in structure.internal:  # topological order: children first
        kids = list(structure.children[v])
        c = max(kids, key=lambda c: best.get(c, 0))  # inputs cost 0
        best[v], nxt[v] = cost[v] + best.get(c, 0), c
    out = max(structure.outputs, key=lambda o: best[o])
    path = [out]
    while path[-1] in nxt:
        path.append(nxt[path[-1]])
    return 1 + best[out], path


def node_key(target, v, target_cfg=None) -> tuple[str, float | None]:
    """(cache key without settings, closed-form d_v or None) of internal node v: `gate:NAME/k` for Boolean gates,
    `expr:NAME/k` for expr primitives, `table:k:HEX` for other Boolean nodes, else `node:HASH:v`."""
    from sweetspot import targets
    from sweetspot.targets import boolean, expr, modular

    c, k = target.constituents[v - target.structure.n_inputs], len(target.structure.children[v])
    named = {id(f): (n, 0 if n in boolean.LINEARLY_SEPARABLE else 1) for n, f in boolean.GATES.items()}
    named |= {id(modular._identity): ("identity", 0), id(modular._negation): ("not", 0), id(modular._xor): ("xor", 1)}
    if id(c) in named:
        return f"gate:{named[id(c)][0]}/{k}", float(named[id(c)][1])
    for name, (_, _, f) in expr.PRIMITIVES.items():
        if c is f:
            return f"expr:{name}/{k}", None
    if target.binary:
        bits = (np.asarray(c(targets.truth_table(k))) > 0).astype(int)
        return f"table:{k}:{int(''.join(map(str, bits)), 2):x}", None
    blob = json.dumps(target_cfg.to_dict() if target_cfg is not None else target.name, sort_keys=True, default=str)
    return f"node:{hashlib.sha1(blob.encode()).hexdigest()[:12]}:{v}", None


def node_data(target, nodes, n_fit=FIT["n_fit"], seed=0):
    """{v: (z_train, y_train, z_test, y_test)}: children values and h_v. Real targets: n_fit train and n_fit test
    samples from the target's domain. Boolean: the distinct rows of v's children (train = test), taken from the
    full truth table when n <= targets.TABLE_MAX_INPUTS, else from 8 * n_fit samples."""
    from sweetspot import targets

    s, rng = target.structure, np.random.default_rng([seed, 11])
    x = target.sample(rng, 8 * n_fit if target.binary else 2 * n_fit)
    if target.binary and s.n_inputs <= targets.TABLE_MAX_INPUTS:
        x = targets.truth_table(s.n_inputs)
    h, out = np.asarray(target.node_values(x), np.float32), {}
    for v in nodes:
        z, y = h[:, list(s.children[v])], h[:, v]
        if target.binary:  # every distinct row of the children, train = test
            z, idx = np.unique(z, axis=0, return_index=True)
            out[v] = (z, y[idx], z, y[idx])
        else:
            out[v] = (z[:n_fit], y[:n_fit], z[n_fit:], y[n_fit:])
    return out


def _depth0(z_tr, y_tr, z_te, y_te, binary) -> float:
    """Depth 0: R^2 of least squares (real) or 1.0 if the rows are linearly separable (exact LP), else the
    accuracy of the least-squares sign (Boolean)."""
    a_tr, a_te = np.c_[z_tr, np.ones(len(z_tr))], np.c_[z_te, np.ones(len(z_te))]
    w = np.linalg.lstsq(a_tr, y_tr, rcond=None)[0]
    if not binary:
        return float(1 - np.mean((a_te @ w - y_te) ** 2) / max(np.var(y_te), 1e-12))
    from scipy.optimize import linprog

    lp = linprog(np.zeros(a_tr.shape[1]), A_ub=-y_tr[:, None] * a_tr, b_ub=-np.ones(len(y_tr)), bounds=(None, None))
    return 1.0 if lp.status == 0 else float(np.mean((a_te @ w > 0) == (y_te > 0)))


def _score(out, y, binary):
    """Accuracy of the sign (binary, +-1 labels) or R^2 = 1 - MSE / Var(y)."""
    import jax.numpy as jnp

    return jnp.mean((out > 0) == (y > 0)) if binary else 1.0 - jnp.mean((out - y) ** 2) / jnp.maximum(jnp.var(y), 1e-12)


def measure(jobs, binary, width, activation="relu", **fit) -> dict:
    """Scores of every job (z_tr, y_tr, z_te, y_te) at depth 0..d_max x seeds, from one jitted, vmapped sweep.

    Jobs are padded to a common arity (zero columns) and row count (rows tiled cyclically, which keeps the set of
    rows). Returns scores (n_jobs, d_max + 1, seeds) (held-out R^2 or accuracy), first (n_jobs, seeds): the
    smallest depth reaching the tolerance per seed (d_max + 1 if none), d (upper median of first), low, high."""
    import jax
    import jax.numpy as jnp

    from sweetspot import mlp
    from sweetspot import train as train_lib

    f = {**FIT, **fit}
    d_max, n_seeds, steps = int(f["d_max"]), int(f["seeds"]), int(f["steps"])
    k = max(j[0].shape[1] for j in jobs)
    n_tr, n_te = max(len(j[0]) for j in jobs), max(len(j[2]) for j in jobs)

    def pad(z, y, n):
        idx = np.arange(n) % len(z)
        return np.pad(z[idx], ((0, 0), (0, k - z.shape[1]))).astype(np.float32), y[idx].astype(np.float32)

    cols = [pad(j[0], j[1], n_tr) + pad(j[2], j[3], n_te) for j in jobs]
    names = ("x_train", "y_train", "x_test", "y_test")
    data = {name: jnp.asarray(np.stack([c[i] for c in cols])) for i, name in enumerate(names)}
    cfg = config_lib.default_config()
    cfg.model.width, cfg.model.activation = int(width), activation
    cfg.train.steps, cfg.train.eval_every, cfg.train.batch_size = steps, steps, 0  # full batch
    fit_fn = train_lib.make_fit(cfg, binary)

    def one(depth, key, dat):
        params = mlp.init(jax.random.fold_in(key, 0), k, int(width), depth, activation)
        masks = mlp.ones_masks(params)
        point = {"depth": depth, "lr": jnp.float32(f["lr"]), "weight_decay": jnp.float32(0.0)}
        params = fit_fn(params, masks, point, dat, jax.random.fold_in(key, 2))[0]
        return _score(mlp.apply(params, masks, depth, dat["x_test"], activation), dat["y_test"], binary)

    @jax.jit
    def sweep(data, keys):  # one program per depth, each vmapped over jobs x seeds, all in one jit
        per = lambda d: jax.vmap(lambda dat: jax.vmap(lambda key: one(d, key, dat))(keys))(data)
        return jnp.stack([per(d) for d in range(1, d_max + 1)], axis=1)  # (n_jobs, d_max, seeds)

    keys = jax.vmap(lambda s: jax.random.fold_in(jax.random.PRNGKey(0), s))(jnp.arange(n_seeds))
    trained = np.asarray(sweep(data, keys), np.float64)
    d0 = np.array([_depth0(*j, binary) for j in jobs])
    scores = np.concatenate([np.repeat(d0[:, None, None], n_seeds, 2), trained], axis=1)
    ok = scores >= (1.0 - 1e-6 if binary else float(f["tol"]))
    first = np.where(ok.any(1), ok.argmax(1), d_max + 1)  # (n_jobs, seeds)
    srt = np.sort(first, axis=1)
    return {"scores": scores, "first": first, "d": srt[:, n_seeds // 2], "low": srt[:, 0], "high": srt[:, -1]}


def _summary(m, i) -> dict:
    """Job i of a `measure` result as the JSON-able per-node record (d, low, high, first per seed, scores)."""
    rec = {k: int(m[k][i]) for k in ("d", "low", "high")}
    return rec | {"first": m["first"][i].tolist(), "scores": m["scores"][i].round(4).tolist()}


def _cache(path, table=None) -> dict | None:
    """Reads the cache file ({} if absent or path is None), or writes `table` to it (temporary file + rename)."""
    if table is None:
        return json.load(open(path)) if path and os.path.exists(path) else {}
    if path:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(f"{path}.{os.getpid()}.tmp", "w") as fh:
            json.dump(table, fh, indent=1, sort_keys=True)
        os.replace(f"{path}.{os.getpid()}.tmp", path)


def check_closed_form(gates=("and", "or", "xor"), arities=(2,), width=32, activation="relu", **fit) -> dict:
    """Measures every (gate, arity) with the sweep on its truth table; {(gate, k): {closed, d (measured), low, high,
    first, scores, agree}}; agree = the measured d equals the closed form (0 linearly separable, 1 xor/xnor)."""
    from sweetspot import targets
    from sweetspot.targets import boolean

    pairs = [(g, k) for g in gates for k in arities]
    tables = [
        (targets.truth_table(k), np.asarray(boolean.GATES[g](targets.truth_table(k)), np.float32)) for g, k in pairs
    ]
    m = measure([(z, y, z, y) for z, y in tables], True, width, activation, **fit)
    out = {}
    for i, (g, k) in enumerate(pairs):
        closed = 0 if g in boolean.LINEARLY_SEPARABLE else 1
        out[(g, k)] = {"closed": closed, **_summary(m, i), "agree": int(m["d"][i]) == closed}
    return out


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
    import jax
    import jax.numpy as jnp

    from sweetspot import metrics, mlp, targets
    from sweetspot import train as train_lib

    target = targets.make_target(target_cfg)
    data = {k: jnp.asarray(v) for k, v in targets.make_splits(target, target_cfg).items()}
    x_tr, x_te, n_out = data["x_train"], data["x_test"], mlp.outputs_of(data["y_train"])
    cfg = config_lib.default_config()
    cfg.target, cfg.model.width, cfg.model.activation = target_cfg, int(width), activation
    cfg.train.steps, cfg.train.eval_every, cfg.train.batch_size = int(steps), int(steps), min(256, len(x_tr))
    key = jax.random.PRNGKey(int(seed))
    params = mlp.init(jax.random.fold_in(key, 0), x_tr.shape[1], int(width), depth, activation, n_out)
    masks = mlp.ones_masks(params)
    point = {"depth": depth, "lr": jnp.float32(lr), "weight_decay": jnp.float32(0.0)}
    params = jax.jit(train_lib.make_fit(cfg, target.binary))(params, masks, point, data, jax.random.fold_in(key, 2))[0]
    fwd = lambda x: mlp.apply(params, masks, depth, x, activation, return_hidden=True)
    (out_te, h_te), (_, h_tr) = fwd(x_te), fwd(x_tr)
    y_tr, y_te = (data[f"y_{s}"].reshape(len(data[f"y_{s}"]), -1) for s in ("train", "test"))
    curve = []
    for a_tr, a_te in zip([x_tr, *h_tr], [x_te, *h_te], strict=True):  # layer 0 = the inputs
        z_tr, z_te = metrics.standardise(a_tr, a_te)
        vals = []
        for o in range(y_tr.shape[1]):
            r2, w = metrics.ridge_r2(z_tr, z_te, y_tr[:, o], y_te[:, o], jnp.ones(z_tr.shape[1]), ridge)
            vals.append(_score(y_tr[:, o].mean() + z_te @ w, y_te[:, o], True) if target.binary else r2)
        curve.append(float(np.mean(vals)))
    fit = float(_score(out_te.reshape(y_te.shape), y_te, target.binary))
    layer = int(np.flatnonzero(np.array(curve) >= max(curve) - eps)[0])
    return {"layer": layer, "d_hat": 1 + layer, "curve": curve, "eps": eps, "fit": fit, "depth": depth}


def predict(target_cfg, width, activation="relu", cache_dir=DEFAULT_CACHE, structural=True, data_only_kw=None, **fit):
    """Structural D_hat (module docstring; `fit` overrides FIT) and, when `data_only_kw` is a dict (of `data_only`
    arguments), the data-only prediction. Returns a dict: d_hat, d_hat_low, d_hat_high, per_node {v: {key, d, low,
    high, first (per seed), scores (depth x seed), source}}, path (argmax path, output -> input), censored,
    data_only ({layer, d_hat, curve, eps, fit, depth} or None), seconds."""
    from sweetspot import targets

    t0, f = time.time(), {**FIT, **fit}
    target = targets.make_target(target_cfg)
    res = {"target": target.name, "width": int(width), "per_node": {}, "path": [], "data_only": None}
    res |= dict.fromkeys(("d_hat", "d_hat_low", "d_hat_high", "censored"))
    if structural:
        s, settings = target.structure, f"w={int(width)},act={activation}," + ",".join(f"{k}={f[k]}" for k in sorted(f))
        path = None if cache_dir is None else os.path.join(os.path.expanduser(cache_dir), "depth_costs.json")
        cache, per, todo = _cache(path), res["per_node"], {}  # todo: full cache key -> first node with it
        for v in s.internal:
            key, closed = node_key(target, v, target_cfg)
            full = f"{key}|{settings}"
            if closed is not None:
                per[v] = {"key": key, "d": closed, "low": closed, "high": closed, "source": "closed form"}
            else:
                per[v] = {"key": key, "source": "cache" if full in cache else "measured"}
                if full not in cache:
                    todo.setdefault(full, v)
        if todo:
            jobs = node_data(target, list(todo.values()), int(f["n_fit"]), int(target_cfg.data_seed))
            m = measure([jobs[v] for v in todo.values()], target.binary, width, activation, **fit)
            cache |= {full: _summary(m, i) for i, full in enumerate(todo)}
            _cache(path, cache)
        for v in s.internal:  # nodes sharing a key share one measurement
            if "d" not in per[v]:
                per[v] |= cache[f"{per[v]['key']}|{settings}"]
        res["d_hat"], res["path"] = path_depth(s, {v: per[v]["d"] for v in s.internal})
        res["d_hat_low"] = path_depth(s, {v: per[v]["low"] for v in s.internal})[0]
        res["d_hat_high"] = path_depth(s, {v: per[v]["high"] for v in s.internal})[0]
        res["censored"] = any(per[v]["high"] > int(f["d_max"]) for v in s.internal)
    if data_only_kw is not None:
        res["data_only"] = data_only(target_cfg, width, activation, **data_only_kw)
    res["seconds"] = time.time() - t0
    return res


def _split_top(text: str) -> list[str]:
    """Splits on commas outside parentheses/brackets (so expr=sum(a(x0,x1),x2) stays one item)."""
    parts, depth = [""], 0
    for ch in text:
        depth += (ch in "([") - (ch in ")]")
        parts[-1:] = [parts[-1], ""] if ch == "," and depth == 0 else [parts[-1] + ch]
    return [q for q in parts if q.strip()]


def _coerce(field, text, default):
    """text as the type of the field's default; tuples are '/'-separated (or a parenthesised Python tuple)."""
    kind = type(default[0]) if isinstance(default, tuple) and default else type(default)
    bools = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    try:
        if isinstance(default, tuple):
            items = ast.literal_eval(text) if text.strip()[:1] in "([" else text.split("/")
            return tuple(kind(i.strip() if isinstance(i, str) else i) for i in items)
        return bools[text.strip().lower()] if kind is bool else kind(text)
    except (ValueError, SyntaxError, KeyError, TypeError):
        example = "/".join(map(str, default)) if isinstance(default, tuple) else default
        allowed = {bool: "true or false", int: "an integer", float: "a number"}.get(kind, f"like {example!r}")
        if isinstance(default, tuple):
            allowed = f"a '/'-separated list of {kind.__name__}s, e.g. {example}"
        raise ValueError(f"target.{field}={text!r} is invalid: allowed values are {allowed}") from None


def parse_target_spec(spec: str):
    """(target config block, model config block) of TARGET_SPEC: `PATH.py[:arg]` (a sweep config, loaded with
    cli.load_config) or `FAMILY[:key=value,key=value,...]` applied onto config.default_config(). Items split on
    commas outside parentheses, so `expr:expr=sum(absdiff(x0,x1),x2),seed=1` works; tuple values are written
    with '/' (gates=xor/and, modular_spec=6/3/3/3) or parenthesised. Errors name the field and allowed values."""
    from sweetspot.validation import validate

    if spec.split(":", 1)[0].endswith(".py"):
        from sweetspot.cli import load_config

        cfg = load_config(spec, [])
        validate(cfg)
        return cfg.target, cfg.model
    cfg = config_lib.default_config()
    family, _, rest = spec.partition(":")
    from sweetspot import targets

    if family not in targets.FAMILIES:
        raise ValueError(f"target.family={family!r} is invalid: allowed values are {tuple(targets.FAMILIES)}")
    cfg.target.family = family
    for item in _split_top(rest):
        field, eq, value = (w.strip() for w in item.partition("="))
        if not eq or field not in cfg.target:
            raise ValueError(f"{item!r} in TARGET_SPEC: expected key=value with key one of {sorted(cfg.target.keys())}")
        if field == "family":
            raise ValueError("target.family is given before the ':' (FAMILY:key=value,...)")
        cfg.target[field] = _coerce(field, value, cfg.target[field])
    validate(cfg)
    return cfg.target, cfg.model


def format_report(res: dict, structure=None) -> str:
    """The CLI's text: D_hat and its seed range, every node's d_v and where it came from, the path, data-only."""
    lines = [f"target: {res['target']}  width {res['width']}"]
    if res["d_hat"] is not None:  # structural
        lo, hi, cens = res["d_hat_low"], res["d_hat_high"], "  [censored: a node fits at no depth <= d_max]"
        lines.append(f"predicted depth D_hat = {res['d_hat']:g}  (seed range {lo:g}..{hi:g})" + cens * res["censored"])
        lines.append("per-node costs d_v (median over seeds [min..max], source):")
        for v, p in res["per_node"].items():
            kids = "" if structure is None else f" children {structure.children[v]}"
            lines.append(f"  node {v}{kids}: d_v = {p['d']:g} [{p['low']:g}..{p['high']:g}]  {p['key']}")
            lines[-1] += f"  ({p['source']})"
        n_in = structure.n_inputs if structure is not None else 0
        names = [f"x{v}" if v < n_in else str(v) for v in res["path"]]
        total = sum(res["per_node"][v]["d"] for v in res["path"] if v in res["per_node"])
        lines.append(f"path (output -> input): {' -> '.join(names)}   sum d_v = {total:g}, D_hat = 1 + {total:g}")
    if res["data_only"] is not None:
        d = res["data_only"]
        lines.append(f"data-only: layer {d['layer']} (d_hat = {d['d_hat']}) of a depth-{d['depth']} network ")
        lines[-1] += f"(its fit {d['fit']:.3f}); decodability per layer 0..{d['depth']}: "
        lines[-1] += " ".join(f"{c:.3f}" for c in d["curve"])
    lines.append(f"({res['seconds']:.1f} s)")
    return "\n".join(lines)


def main(argv=None) -> dict:
    """`python -m sweetspot predict-depth TARGET_SPEC [--width W] [--data-only | --both] [--cache DIR]` (argv may
    start with "predict-depth"). Prints the report; returns predict's dict."""
    argv = list(argv or [])
    argv = argv[1:] if argv[:1] == ["predict-depth"] else argv
    p = argparse.ArgumentParser(prog="sweetspot predict-depth", description=__doc__.splitlines()[0])
    p.add_argument("target", help="sweeps/FILE.py[:arg] or FAMILY[:key=value,...], e.g. tree:levels=3,arity=2")
    p.add_argument("--width", type=int, help="network width (default: the config's model.width)")
    p.add_argument("--data-only", action="store_true", help="only the data-only predictor (structure unknown)")
    p.add_argument("--both", action="store_true", help="structural and data-only predictors")
    p.add_argument("--cache", default=DEFAULT_CACHE, help="cache dir of measured d_v (default ~/.cache/sweetspot)")
    p.add_argument("--no-cache", action="store_true", help="measure every node afresh and write nothing")
    for name, val in FIT.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=type(val), default=val, help=f"sweep (default {val})")
    args = p.parse_args(argv)
    from sweetspot import targets

    try:
        tcfg, mcfg = parse_target_spec(args.target)
        cache, fit = None if args.no_cache else args.cache, {k: getattr(args, k) for k in FIT}
        dkw = {} if args.data_only or args.both else None
        res = predict(tcfg, args.width or int(mcfg.width), mcfg.activation, cache, not args.data_only, dkw, **fit)
        print(format_report(res, targets.make_target(tcfg).structure))
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    return res
