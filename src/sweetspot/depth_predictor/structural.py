"""The structural predictor (structure known): per-node costs d_v, their cache, and the path sum D_hat.

For every internal node v, d_v is the fewest hidden layers with which a small dense MLP (width `model.width`)
fits the constituent h_v *alone*, as a function of its children's values (`measuring.measure`: 0 = a linear
readout, 1..d_max = a trained network of that depth). Then

    D_hat = 1 + max over output-to-input paths of sum_{internal v on the path} d_v

(`path_depth`). The path sum is the hidden-layer count of the idealised construction that stacks each node's
sub-network on its children's (a linear readout of a node's value is absorbed into the next layer's affine map);
the 1 makes D_hat >= 1 (an all-linear target still gets one hidden layer, the smallest network of this project).
All unmeasured nodes are measured by ONE sweep per target; per seed s, first_s = the smallest depth reaching the
tolerance (d_max + 1 if none: censored); d_v = the upper median of first_s; D_hat_low / D_hat_high use the
per-node min / max of first_s. Named gates take their closed form (`closed_forms`: `boolean.GATES`, 0 for
`boolean.LINEARLY_SEPARABLE` and 1 for xor / xnor; `modular.NAMED_GATES`); `check_closed_form` measures them
with the sweep instead. Measured d_v are cached in CACHE/depth_costs.json keyed by (primitive name or Boolean
truth table, arity, fit settings); constituents with no name (tree family) are keyed by a hash of the target
config and the node id.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from sweetspot.depth_predictor.measuring import FIT, measure, summary

DEFAULT_CACHE = os.path.join("~", ".cache", "sweetspot")


def closed_forms() -> dict[int, tuple[str, int]]:
    """{id(gate function): (name, closed-form d_v)} of every named gate: boolean.GATES (0 when linearly
    separable, else 1) and modular.NAMED_GATES."""
    from sweetspot.targets import boolean, modular

    named = {id(f): (n, 0 if n in boolean.LINEARLY_SEPARABLE else 1) for n, f in boolean.GATES.items()}
    return named | {id(f): (n, d) for n, (f, d) in modular.NAMED_GATES.items()}


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


def node_key(target, v, target_cfg=None, named=None) -> tuple[str, float | None]:
    """(cache key without settings, closed-form d_v or None) of internal node v: `gate:NAME/k` for named gates,
    `expr:NAME/k` for expr primitives, `table:k:HEX` for other Boolean nodes, else `node:HASH:v`. `named` is
    `closed_forms()` (computed when None)."""
    from sweetspot import targets
    from sweetspot.targets import expr

    named = closed_forms() if named is None else named
    c, k = target.constituents[v - target.structure.n_inputs], len(target.structure.children[v])
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


def cache_path(cache_dir) -> str | None:
    """CACHE_DIR/depth_costs.json (user-expanded), or None (no cache) when cache_dir is None."""
    return None if cache_dir is None else os.path.join(os.path.expanduser(cache_dir), "depth_costs.json")


def read_cache(path) -> dict:
    """The cache table {full key: per-node record}; {} if the file is absent or path is None."""
    if not path or not os.path.exists(path):
        return {}
    with open(path) as fh:
        return json.load(fh)


def write_cache(path, table: dict) -> None:
    """Writes the cache table (temporary file + rename, so readers never see half a file); no-op if path is None."""
    if path:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(f"{path}.{os.getpid()}.tmp", "w") as fh:
            json.dump(table, fh, indent=1, sort_keys=True)
        os.replace(f"{path}.{os.getpid()}.tmp", path)


def check_closed_form(gates=("and", "or", "xor"), arities=(2,), width=32, activation="relu", **fit) -> dict:
    """Measures every (gate, arity) of boolean.GATES with the sweep on its truth table; {(gate, k): {closed, d
    (measured), low, high, first, scores, agree}}; agree = the measured d equals the closed form."""
    from sweetspot import targets
    from sweetspot.targets import boolean

    named = closed_forms()
    pairs = [(g, k) for g in gates for k in arities]
    tables = [
        (targets.truth_table(k), np.asarray(boolean.GATES[g](targets.truth_table(k)), np.float32)) for g, k in pairs
    ]
    m = measure([(z, y, z, y) for z, y in tables], True, width, activation, **fit)
    out = {}
    for i, (g, k) in enumerate(pairs):
        closed = named[id(boolean.GATES[g])][1]
        out[(g, k)] = {"closed": closed, **summary(m, i), "agree": int(m["d"][i]) == closed}
    return out


def node_costs(target, target_cfg, width, activation="relu", cache_dir=DEFAULT_CACHE, **fit) -> dict:
    """{v: {key, d, low, high, source, [first, scores]}} for every internal node: closed form, cache, or measured
    (one sweep over the distinct uncached keys; nodes sharing a key share one measurement; the cache is updated)."""
    f = {**FIT, **fit}
    settings = f"w={int(width)},act={activation}," + ",".join(f"{k}={f[k]}" for k in sorted(f))
    path, named = cache_path(cache_dir), closed_forms()
    cache, per, todo = read_cache(path), {}, {}  # todo: full cache key -> first node with it
    for v in target.structure.internal:
        key, closed = node_key(target, v, target_cfg, named)
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
        cache |= {full: summary(m, i) for i, full in enumerate(todo)}
        write_cache(path, cache)
    for p in per.values():
        if "d" not in p:
            p |= cache[f"{p['key']}|{settings}"]
    return per


def predict_structural(target, target_cfg, width, activation="relu", cache_dir=DEFAULT_CACHE, **fit) -> dict:
    """{d_hat, d_hat_low, d_hat_high, per_node, path (argmax path, output -> input), censored (some node fits at
    no depth <= d_max in some seed)}: the structural prediction (module docstring; `fit` overrides FIT)."""
    s, d_max = target.structure, int({**FIT, **fit}["d_max"])
    per = node_costs(target, target_cfg, width, activation, cache_dir, **fit)
    d_hat, path = path_depth(s, {v: p["d"] for v, p in per.items()})
    return {
        "d_hat": d_hat,
        "d_hat_low": path_depth(s, {v: p["low"] for v, p in per.items()})[0],
        "d_hat_high": path_depth(s, {v: p["high"] for v, p in per.items()})[0],
        "per_node": per,
        "path": path,
        "censored": any(p["high"] > d_max for p in per.values()),
    }
