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


def load_npz_network(path) -> tuple[dict, dict, int]:
    """(params, masks, depth) from an .npz with W0, b0, ..., WD, bD (the last pair is the linear readout).

    Matrices are in `x @ W` layout (in, out); PyTorch's (out, in) layout is detected when the readout is
    (1, width) and every matrix is transposed. Optional M0..MD give 0/1 masks; otherwise mask = (W != 0).
    Hidden layers narrower than the widest are zero-padded with masked-out units (they count as dead).
    """
    with np.load(path) as f:
        data = {k: np.asarray(f[k]) for k in f.files}
    idx = sorted(int(m.group(1)) for k in data if (m := re.fullmatch(r"W(\d+)", k)))
    if len(idx) < 2 or idx != list(range(len(idx))):
        raise ValueError(f"{path}: need keys W0, b0, ..., WD, bD (D >= 1; the last is the readout), got {sorted(data)}")
    ws = [data[f"W{i}"].astype(np.float32) for i in idx]
    if any(w.ndim != 2 for w in ws):
        raise ValueError(f"{path}: every W must be a 2-d matrix")
    ms = [
        data[f"M{i}"].astype(np.float32).reshape(w.shape) if f"M{i}" in data else (w != 0).astype(np.float32)
        for i, w in zip(idx, ws, strict=True)
    ]
    if ws[-1].shape[0] == 1 and ws[-1].shape[1] != 1:  # PyTorch (out, in) layout
        ws, ms = [w.T for w in ws], [m.T for m in ms]
    bs = [
        data[f"b{i}"].astype(np.float32).reshape(-1) if f"b{i}" in data else np.zeros(w.shape[1], np.float32)
        for i, w in zip(idx, ws, strict=True)
    ]
    for i in range(1, len(ws)):
        if ws[i].shape[0] != ws[i - 1].shape[1]:
            raise ValueError(f"{path}: W{i} has {ws[i].shape[0]} inputs, layer {i - 1} has {ws[i - 1].shape[1]} units")
    if ws[-1].shape[1] != 1:
        raise ValueError(f"{path}: the readout W{idx[-1]} must have one output, has shape {ws[-1].shape}")
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


def report(params, masks, depth, activation, target, mcfg, fit_r2=None, seed: int = 0) -> str:
    """One network's report as text. fit_r2 defaults to the network's R^2 on the probe-test inputs; for Boolean
    targets fit is the probe-test accuracy >= mcfg.fit_accuracy (docs/method.md, "Training")."""
    probe = metrics.make_probe(target, mcfg, seed)
    depth = int(depth)
    y = mlp.apply(params, masks, depth, jnp.asarray(probe["x_test"]), activation)
    yt = target.outputs_of(probe["h_test"])
    if target.binary:
        acc = float(jnp.mean((y > 0) == (yt > 0)))
        fit_r2 = float(metrics.r2(2 * jax.nn.sigmoid(y) - 1, yt))
        fit, fit_text = acc >= mcfg.fit_accuracy, f"fit accuracy = {acc:.4f} (fit >= {mcfg.fit_accuracy})"
    else:
        if fit_r2 is None:
            fit_r2 = float(metrics.r2(y, yt))
        fit, fit_text = fit_r2 >= mcfg.fit_r2, f"fit R^2 = {fit_r2:.4f} (fit >= {mcfg.fit_r2})"
    compute = jax.jit(lambda p, m, pr, f, ok: metrics.compute(p, m, depth, activation, pr, f, mcfg, ok))
    m = {k: np.asarray(v) for k, v in compute(params, masks, probe, jnp.float32(fit_r2), jnp.asarray(fit)).items()}
    s = target.structure
    label = "unfit" if m["unfit"] else "compositional" if m["compositional"] else "fractured"
    lines = [
        f"target {target.name}: {s.n_inputs} inputs, {len(s.probe_nodes)} constituents + {s.n_outputs} output(s)",
        f"network: depth {depth}, width {params['h0']['w'].shape[1]}, {activation}; "
        f"live units per layer {[int(n) for n in m['live_units_layers'][:depth]]}, dead units {int(m['dead_units'])}",
        f"{fit_text}  ->  {label.upper()}",
        f"C = {_fmt(m['C'])}   (compositional needs fit and min r2_restricted >= {mcfg.compositional_r2}; "
        f"local = >= {mcfg.local_tau} of a unit's signature inside the node's inputs)",
        f"interference (max over layers) = {_fmt(m['interference'])}",
        "",
        f"{'node':>5} {'lvl':>3} {'inputs':<16} {'r2_restr':>8} {'r2_any':>8} {'gap':>7}  local units per layer",
    ]
    for p, v in enumerate(s.probe_nodes):
        inputs = ",".join(f"x{i}" for i in np.flatnonzero(s.support[v]))
        per_layer = " ".join(f"{int(c):3d}" for c in m["n_local"][p, :depth])
        lines.append(
            f"{v:>5} {s.level[v]:>3} {inputs:<16} {_fmt(m['r2_restricted'][p]):>8} {_fmt(m['r2_any'][p]):>8} "
            f"{_fmt(m['fracture_gap'][p]):>7}  {per_layer}"
        )
    lines += ["", f"{'layer':>5} {'live':>5} {'interference':>12} {'purity':>7}"]
    for l in range(depth):
        lines.append(
            f"{l:>5} {int(m['live_units_layers'][l]):>5} {_fmt(m['interference_layers'][l]):>12} "
            f"{_fmt(m['purity_layers'][l]):>7}"
        )
    return "\n".join(lines)
