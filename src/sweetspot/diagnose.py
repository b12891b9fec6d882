"""Is this network compositional? A readable report of one network's metrics. docs/method.md, "Metrics".

`report(...)` prints, for one network and target, the label (compositional / fractured / unfit), C, and per
constituent node r2_restricted, r2_any and its local units per layer. `load_npz_network(path)` reads a user's
own MLP from an .npz of per-layer matrices, so the same report applies to networks trained anywhere.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np

from sweetspot import metrics, mlp


def load_npz_network(path, n_inputs: int | None = None) -> tuple[dict, dict, int]:
    """(params, masks, depth) from an .npz with W0, b0, ..., WD, bD (the last pair is the linear readout).

    Matrices are in `x @ W` layout (in, out); PyTorch's (out, in) layout is detected when the readout is
    (1, width) and every matrix is transposed. Optional M0..MD give 0/1 masks; otherwise mask = (W != 0).
    Hidden layers narrower than the widest are zero-padded with masked-out units (they count as dead). Every
    problem (no such file, not an .npz, shapes that do not chain, a bias or mask of the wrong size, W0 without
    `n_inputs` rows when given) is a ValueError naming the array and what is allowed.
    """
    import os
    import zipfile

    if not os.path.isfile(path):
        raise ValueError(f"--npz {path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: np.asarray(f[k]) for k in f.files}
    except (ValueError, OSError, EOFError, AttributeError, TypeError, zipfile.BadZipFile):
        raise ValueError(f"--npz {path} is not an .npz file (numpy.savez of W0, b0, ..., WD, bD)") from None
    idx = sorted(int(m.group(1)) for k in data if (m := re.fullmatch(r"W(\d+)", k)))
    if len(idx) < 2 or idx != list(range(len(idx))):
        raise ValueError(f"{path}: need keys W0, b0, ..., WD, bD (D >= 1; the last is the readout), got {sorted(data)}")
    ws = [data[f"W{i}"].astype(np.float32) for i in idx]
    if any(w.ndim != 2 for w in ws):
        raise ValueError(f"{path}: every W must be a 2-d matrix")

    def sized(key, n):  # a bias or mask must have exactly as many values as its layer: no silent padding
        if data[key].size != n:
            raise ValueError(f"{path}: {key} has {data[key].size} values, its layer {n}: allowed is exactly {n}")
        return data[key].reshape(-1).astype(np.float32)

    ms = [
        sized(f"M{i}", w.size).reshape(w.shape) if f"M{i}" in data else (w != 0).astype(np.float32)
        for i, w in enumerate(ws)
    ]
    if ws[-1].shape[0] == 1 and ws[-1].shape[1] != 1:  # PyTorch (out, in) layout
        ws, ms = [w.T for w in ws], [m.T for m in ms]
    bs = [sized(f"b{i}", w.shape[1]) if f"b{i}" in data else np.zeros(w.shape[1], np.float32) for i, w in enumerate(ws)]
    for i in range(1, len(ws)):
        if ws[i].shape[0] != ws[i - 1].shape[1]:
            raise ValueError(f"{path}: W{i} has {ws[i].shape[0]} inputs, layer {i - 1} has {ws[i - 1].shape[1]} units")
    if ws[-1].shape[1] != 1:
        raise ValueError(f"{path}: the readout W{idx[-1]} must have one output, has shape {ws[-1].shape}")
    if n_inputs is not None and ws[0].shape[0] != n_inputs:
        raise ValueError(f"{path}: W0 has {ws[0].shape[0]} inputs; the target has {n_inputs}: allowed is {n_inputs}")
    width = max(w.shape[1] for w in ws[:-1])
    params, masks = {}, {}
    for l, name in enumerate(mlp.layer_names(len(ws) - 1)):
        rows = ws[l].shape[0] if l == 0 else width
        cols = 1 if name == "out" else width
        w, m, b = np.zeros((rows, cols), np.float32), np.zeros((rows, cols), np.float32), np.zeros(cols, np.float32)
        w[: ws[l].shape[0], : ws[l].shape[1]] = ws[l]
        m[: ms[l].shape[0], : ms[l].shape[1]] = ms[l]
        b[: bs[l].shape[0]] = bs[l]
        params[name] = {"w": jnp.asarray(w), "b": jnp.asarray(b)}
        masks[name] = jnp.asarray(m)
    return params, masks, len(ws) - 1


def _fmt(x, spec=".3f"):
    x = float(x)
    return "  -  " if np.isnan(x) else format(x, spec)


def test_rows(target, cfg):
    """(x, y) of the target's test split: the rows a sweep judges fit on (the held-out region excluded)."""
    from sweetspot import targets

    split = targets.make_splits(target, cfg.target)
    return split["x_test"], split["y_test"]


def _fit(params, masks, depth, activation, target, fit_data, mcfg, fit_r2):
    """(fit, fit_r2, text) on `fit_data` = (x, y), the rows the sweep judged fit on (its test split): accuracy
    for Boolean targets, else R^2 (given or measured)."""
    x, yt = (jnp.asarray(a) for a in fit_data)
    y = mlp.apply(params, masks, depth, x, activation).reshape(yt.shape)
    if target.binary:
        acc = float(jnp.mean((y > 0) == (yt > 0)))
        r2 = float(metrics.r2(2 * jax.nn.sigmoid(y) - 1, yt))
        return acc >= mcfg.fit_accuracy, r2, f"fit accuracy = {acc:.4f} (fit >= {mcfg.fit_accuracy})"
    r2 = float(metrics.r2(y, yt)) if fit_r2 is None else float(fit_r2)
    return r2 >= mcfg.fit_r2, r2, f"fit R^2 = {r2:.4f} (fit >= {mcfg.fit_r2})"


def verdict(m: dict, nodes, mcfg) -> tuple[str, str]:
    """(label, reason) of a network from its metrics (numpy values of metrics.compute): compositional on the
    distributed causal score and its controls (docs/method.md, "Labels")."""
    if m["unfit"]:
        return "unfit", "the network does not fit the target"
    kept = [(p, v) for p, v in enumerate(nodes) if not m["vacuous"][p]]
    if not kept:
        return "fractured", "no constituent has a support smaller than every input: nothing to be compositional about"
    thr, ctrl = mcfg.compositional_iia, mcfg.das_control_max
    beyond = np.asarray(metrics.beyond_chance(m["iia_das"], m["iia_das_control"]))
    why = [
        f"node {v}: iia_das {_fmt(m['iia_das'][p])} < {thr} (no subspace of any layer carries it into the output)"
        for p, v in kept
        if not m["iia_das"][p] >= thr
    ] + [
        f"node {v}: iia_das {_fmt(m['iia_das'][p])} beyond its random-subspace control {_fmt(m['iia_das_control'][p])}"
        f" is {_fmt(beyond[p])} < {thr} (a random subspace of its size at that layer does nearly as well)"
        for p, v in kept
        if m["iia_das"][p] >= thr and not beyond[p] >= thr
    ] + [
        f"node {v}: das_crosstalk {_fmt(m['das_crosstalk'][p])} >= {ctrl} (its subspace also carries a node of "
        "disjoint inputs)"
        for p, v in kept
        if not m["das_crosstalk"][p] < ctrl
    ]
    if m["compositional"]:
        return "compositional", (
            f"every constituent is a subspace of some layer through which the output is computed (min iia_das >= "
            f"{thr}, and >= {thr} beyond its random-subspace control), specific to it (crosstalk < {ctrl})"
        )
    return "fractured", "; ".join(why)


NODE_COLUMNS = ("iia_das", "iia_das_layer", "iia_das_local", "iia_das_control", "das_crosstalk", "iia_subst", "iia",
                "iia_home", "iia_control", "r2_restricted", "r2_any")


def _node_lines(m, nodes, depth) -> list[str]:
    heads = ("iia_das", "layer", "das_loc", "control", "xtalk", "subst", "iia", "iia_home", "r2_restr", "r2_any")
    lines = [f"{'node':>5} {'lvl':>3} {'inputs':<16} " + " ".join(f"{h:>8}" for h in heads) + "  local units per layer"]
    for p, node in enumerate(nodes):
        inputs = "(all: vacuous)" if node["vacuous"] else ",".join(node["inputs"])
        vals = [node[k] for k in NODE_COLUMNS if k != "iia_control"]
        cells = " ".join(f"{_fmt(v, '.0f') if k == 'iia_das_layer' else _fmt(v):>8}" for k, v in
                         zip([k for k in NODE_COLUMNS if k != "iia_control"], vals, strict=True))
        per_layer = " ".join(f"{int(c):3d}" for c in m["n_local"][p, :depth])
        lines.append(f"{node['id']:>5} {node['level']:>3} {inputs:<16} {cells}  {per_layer}")
    return lines


NETWORK_SCORES = ("IIA_das", "iia_das_min", "IIA_das_local", "IIA_das_control", "IIA_subst", "das_crosstalk_max", "C",
                  "IIA", "IIA_home", "IIA_control", "interference", "dead_units")
LABELS = ("compositional", "modular", "compositional_local", "compositional_probe", "compositional_home", "fit")


def summary(params, masks, depth, activation, target, mcfg, fit_data, fit_r2=None, seed=0, null=None) -> dict:
    """One network's verdict as plain data: label, reason, fit, the labels, the network-level scores and, per
    probe node, its id, inputs and every per-node score under its result-key name."""
    probe = metrics.make_probe(target, mcfg, seed)
    depth = int(depth)
    fit, fit_r2, fit_text = _fit(params, masks, depth, activation, target, fit_data, mcfg, fit_r2)
    compute = jax.jit(
        lambda p, m, pr, f, ok: metrics.compute(p, m, depth, activation, pr, f, mcfg, ok, target.binary)
    )
    m = {k: np.asarray(v) for k, v in compute(params, masks, probe, jnp.float32(fit_r2), jnp.asarray(fit)).items()}
    m["vacuous"] = probe["vacuous"]
    s = target.structure
    label, reason = verdict(m, s.probe_nodes, mcfg)
    num = lambda v: None if not np.isfinite(float(v)) else float(v)
    nodes = [
        {"id": int(v), "level": int(s.level[v]), "inputs": [f"x{i}" for i in np.flatnonzero(s.support[v])],
         "vacuous": bool(m["vacuous"][p])} | {k: num(m[k][p]) for k in NODE_COLUMNS}
        for p, v in enumerate(s.probe_nodes)
    ]
    return {
        "target": target.name,
        "depth": depth,
        "label": label,
        "reason": reason,
        "fit_text": fit_text,
        "labels": {k: bool(m[k]) for k in LABELS},
        "scores": {k: num(m[k]) for k in NETWORK_SCORES} | ({k: num(v) for k, v in null.items()} if null else {}),
        "nodes": nodes,
        "_metrics": m,
    }


def report(params, masks, depth, activation, target, mcfg, fit_data, fit_r2=None, seed=0, null=None,
           as_json=False) -> str:
    """One network's report: the label and the reason, then per node the distributed score (iia_das, its layer,
    the local-unit search, the random-subspace control, crosstalk, the input-substitution ceiling), the
    local-unit scores and probes. `fit_data` = (x, y): the rows the sweep judged fit on (its test split);
    fit_r2 defaults to R^2 there; Boolean targets: accuracy >= mcfg.fit_accuracy. `null` ({"C_init",
    "IIA_init", "IIA_das_init"} of a saved run) adds the untrained network's scores. `as_json`: one JSON object
    (`summary` without the raw metrics)."""
    import json

    out = summary(params, masks, depth, activation, target, mcfg, fit_data, fit_r2, seed, null)
    m = out.pop("_metrics")
    if as_json:
        return json.dumps(out, indent=1)
    sc, s, depth = out["scores"], target.structure, out["depth"]
    null_text = (
        "   untrained (same wiring): " + ", ".join(f"{k} = {_fmt(v if v is not None else np.nan)}"
                                                for k, v in null.items())
        if null
        else "   (the *_init scores: only for networks saved by a sweep)"
    )
    f = lambda k: _fmt(sc[k] if sc[k] is not None else np.nan)
    on = lambda k: "yes" if out["labels"][k] else "no"
    lines = [
        f"target {target.name}: {s.n_inputs} inputs, {len(s.probe_nodes)} constituents + {s.n_outputs} output(s)",
        f"network: depth {depth}, width {params['h0']['w'].shape[1]}, {activation}; "
        f"live units per layer {[int(n) for n in m['live_units_layers'][:depth]]}, dead units {int(m['dead_units'])}",
        f"{out['fit_text']}  ->  {out['label'].upper()}",
        f"why: {out['reason']}",
        f"IIA_das = {f('IIA_das')} (min {f('iia_das_min')}), control = {f('IIA_das_control')}, crosstalk max = "
        f"{f('das_crosstalk_max')}, substitution ceiling = {f('IIA_subst')}, local-unit search = {f('IIA_das_local')}",
        f"C = {f('C')}, IIA (local units) = {f('IIA')}, IIA_home = {f('IIA_home')}, IIA_control = {f('IIA_control')}"
        + null_text,
        f"other labels: modular {on('modular')}, compositional_local {on('compositional_local')}, "
        f"compositional_probe {on('compositional_probe')} (local = >= {mcfg.local_tau} of a unit's signature "
        "inside the node's inputs)",
        f"interference (max over layers) = {f('interference')}",
        "",
        *_node_lines(m, out["nodes"], depth),
        "",
        f"{'layer':>5} {'live':>5} {'interference':>12} {'purity':>7}",
    ]
    for l in range(depth):
        lines.append(
            f"{l:>5} {int(m['live_units_layers'][l]):>5} {_fmt(m['interference_layers'][l]):>12} "
            f"{_fmt(m['purity_layers'][l]):>7}"
        )
    return "\n".join(lines)
