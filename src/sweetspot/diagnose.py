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


def _fit(params, masks, depth, activation, target, probe, mcfg, fit_r2):
    """(fit, fit_r2, text): accuracy on the probe-test inputs for Boolean targets, else R^2 (given or measured)."""
    y = mlp.apply(params, masks, depth, jnp.asarray(probe["x_test"]), activation)
    yt = target.outputs_of(probe["h_test"])
    if target.binary:
        acc = float(jnp.mean((y > 0) == (yt > 0)))
        r2 = float(metrics.r2(2 * jax.nn.sigmoid(y) - 1, yt))
        return acc >= mcfg.fit_accuracy, r2, f"fit accuracy = {acc:.4f} (fit >= {mcfg.fit_accuracy})"
    r2 = float(metrics.r2(y, yt)) if fit_r2 is None else float(fit_r2)
    return r2 >= mcfg.fit_r2, r2, f"fit R^2 = {r2:.4f} (fit >= {mcfg.fit_r2})"


def verdict(m: dict, nodes, mcfg) -> tuple[str, str]:
    """(label, reason) of a network from its metrics (numpy values of metrics.compute)."""
    if m["unfit"]:
        return "unfit", "the network does not fit the target"
    kept = [(p, v) for p, v in enumerate(nodes) if not m["vacuous"][p]]
    if not kept:
        return "fractured", "no constituent has a support smaller than every input: nothing to be compositional about"
    why = [
        f"node {v}: r2_restricted {_fmt(m['r2_restricted'][p])} < {mcfg.compositional_r2} (not decodable from the "
        "units local to it)"
        for p, v in kept
        if not m["r2_restricted"][p] >= mcfg.compositional_r2
    ] + [
        f"node {v}: iia {_fmt(m['iia'][p])} < {mcfg.compositional_iia} (the output is not computed through the "
        "units local to it)"
        for p, v in kept
        if not m["iia"][p] >= mcfg.compositional_iia
    ]
    if m["compositional"]:
        return "compositional", (
            f"every constituent is decodable from its local units (min r2_restricted >= {mcfg.compositional_r2}) "
            f"and the output is computed through them (min iia >= {mcfg.compositional_iia})"
        )
    return "fractured", "; ".join(why)


def _node_lines(m, s, depth) -> list[str]:
    head = f"{'node':>5} {'lvl':>3} {'inputs':<16} {'r2_restr':>8} {'r2_any':>8} {'iia':>6} {'iia_home':>8} "
    lines = [head + f"{'control':>7}  local units per layer"]
    for p, v in enumerate(s.probe_nodes):
        inputs = ",".join(f"x{i}" for i in np.flatnonzero(s.support[v]))
        inputs = "(all: vacuous)" if m["vacuous"][p] else inputs
        per_layer = " ".join(f"{int(c):3d}" for c in m["n_local"][p, :depth])
        lines.append(
            f"{v:>5} {s.level[v]:>3} {inputs:<16} {_fmt(m['r2_restricted'][p]):>8} {_fmt(m['r2_any'][p]):>8} "
            f"{_fmt(m['iia'][p]):>6} {_fmt(m['iia_home'][p]):>8} {_fmt(m['iia_control'][p]):>7}  {per_layer}"
        )
    return lines


def report(
    params, masks, depth, activation, target, mcfg, fit_r2=None, seed: int = 0, null: dict | None = None
) -> str:
    """One network's report as text: the label and the reason, then per node r2_restricted, iia, iia_home and
    the random-unit control. fit_r2 defaults to the network's R^2 on the probe-test inputs; for Boolean targets
    fit is the probe-test accuracy >= mcfg.fit_accuracy (docs/method.md, "Training"). `null` ({"C_init",
    "IIA_init"} of a saved run) adds the untrained network's scores."""
    probe = metrics.make_probe(target, mcfg, seed)
    depth = int(depth)
    fit, fit_r2, fit_text = _fit(params, masks, depth, activation, target, probe, mcfg, fit_r2)
    compute = jax.jit(
        lambda p, m, pr, f, ok: metrics.compute(p, m, depth, activation, pr, f, mcfg, ok, target.binary)
    )
    m = {k: np.asarray(v) for k, v in compute(params, masks, probe, jnp.float32(fit_r2), jnp.asarray(fit)).items()}
    m["vacuous"] = probe["vacuous"]
    s = target.structure
    label, reason = verdict(m, s.probe_nodes, mcfg)
    null_text = (
        f"   untrained (same wiring): C_init = {_fmt(null['C_init'])}, IIA_init = {_fmt(null['IIA_init'])}"
        if null
        else "   (C_init: only for networks saved by a sweep)"
    )
    lines = [
        f"target {target.name}: {s.n_inputs} inputs, {len(s.probe_nodes)} constituents + {s.n_outputs} output(s)",
        f"network: depth {depth}, width {params['h0']['w'].shape[1]}, {activation}; "
        f"live units per layer {[int(n) for n in m['live_units_layers'][:depth]]}, dead units {int(m['dead_units'])}",
        f"{fit_text}  ->  {label.upper()}",
        f"why: {reason}",
        f"C = {_fmt(m['C'])}, IIA = {_fmt(m['IIA'])}, IIA_home = {_fmt(m['IIA_home'])}, "
        f"IIA_control = {_fmt(m['IIA_control'])}" + null_text,
        f"(local = >= {mcfg.local_tau} of a unit's signature inside the node's inputs; probe-only label: "
        f"{'compositional' if m['compositional_probe'] else 'not compositional'})",
        f"interference (max over layers) = {_fmt(m['interference'])}",
        "",
        *_node_lines(m, s, depth),
        "",
        f"{'layer':>5} {'live':>5} {'interference':>12} {'purity':>7}",
    ]
    for l in range(depth):
        lines.append(
            f"{l:>5} {int(m['live_units_layers'][l]):>5} {_fmt(m['interference_layers'][l]):>12} "
            f"{_fmt(m['purity_layers'][l]):>7}"
        )
    return "\n".join(lines)
