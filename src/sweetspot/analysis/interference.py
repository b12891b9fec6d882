"""T3's per-network numerics (sweetspot.analysis.t3_interference; theorems 1-3 of docs/theory.md): float64
activations (sweetspot.mlp.np_act), the probe-train standardisation of metrics.standardise, the live/local unit
selections of metrics.compute, and the three inequalities on one layer.

The OLS quantities depend on (z, y) only through the Gram matrix of the centred [z, y]; `reduce_rows` reduces a
layer exactly to 2 (W + P) rows [R; -R] from a thin QR of the centred [z, y] (zero-mean columns, Gram doubled;
every ratio the theorems use is invariant), which makes gap_decomposition ~30x cheaper than on 2,048 rows.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import glob
import os

import jax
import numpy as np

from sweetspot import metrics, mlp, theory


@contextlib.contextmanager
def single_threaded_blas():
    """Runs numpy's bundled OpenBLAS on one thread inside the block (restored after). On the shared 2-core
    machine a multi-threaded QR of a 2,048 x 38 matrix took ~200 ms against ~3 ms on one thread (busy-waiting
    threads). A no-op when numpy's OpenBLAS (numpy.libs/*openblas*) or its symbol is not found."""
    lib = None
    try:
        paths = glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*openblas*"))
        lib = ctypes.CDLL(paths[0]) if paths else None
        get, put = lib.scipy_openblas_get_num_threads64_, lib.scipy_openblas_set_num_threads64_
    except (OSError, AttributeError):
        lib = None
    if lib is None:
        yield
        return
    before = get()
    put(1)
    try:
        yield
    finally:
        put(before)


@functools.lru_cache(maxsize=None)
def _signature_fn(activation: str):
    return jax.jit(lambda params, masks, depth, x: metrics.signatures(params, masks, depth, activation, x))


def unit_selections(params, masks, depth, activation, probe, mcfg) -> tuple[np.ndarray, np.ndarray]:
    """(live (n_slots, W), local (n_slots, W, n_nodes)) as bool numpy, computed exactly as metrics.compute does."""
    sig = _signature_fn(activation)(params, masks, depth, probe["x_sig"])
    live, local = metrics.locality(sig, masks, depth, probe["support"], mcfg)
    return np.asarray(live), np.asarray(local)


def hidden64(params, masks, depth, activation, x) -> list[np.ndarray]:
    """Float64 post-activations (B, W) of the active hidden layers 0..depth-1."""
    h, out = np.asarray(x, np.float64), []
    for l in range(int(depth)):
        w = np.asarray(params[f"h{l}"]["w"], np.float64) * np.asarray(masks[f"h{l}"], np.float64)
        h, _ = mlp.np_act(activation, h @ w + np.asarray(params[f"h{l}"]["b"], np.float64))
        out.append(h)
    return out


def standardise64(a) -> np.ndarray:
    """metrics.standardise in float64 on probe-train: z-scores, units with std <= STD_EPS read 0."""
    mu, sd = a.mean(0), a.std(0)
    ok = sd > metrics.STD_EPS
    return np.where(ok, (a - mu) / np.where(ok, sd, 1.0), 0.0)


def reduce_rows(z, y) -> tuple[np.ndarray, np.ndarray]:
    """(z', y') with 2 (W + P) rows, zero column means and Gram [z', y']'[z', y'] = 2 [zc, yc]'[zc, yc]
    (zc, yc centred): every in-sample OLS ratio of gap_decomposition is unchanged."""
    y = y[:, None] if y.ndim == 1 else y
    a = np.concatenate([z - z.mean(0), y - y.mean(0)], 1)
    r = np.linalg.qr(a, mode="r")
    rr = np.concatenate([r, -r], 0)
    return rr[:, : z.shape[1]], rr[:, z.shape[1] :]


def _theorem1(d, local) -> dict:
    """Per node: r2_any, attained (r2_restricted), bound (theory.interference_bound's formula on the same
    decomposition), gap, quad, the Rayleigh factor q and the local/outside unit counts."""
    live = d["live"]
    penalty = d["lam_max"] * d["rho"] * d["w_norm2"] / d["var_y"]
    with np.errstate(all="ignore"):
        q = np.where(penalty > 1e-12, d["quad"] / penalty, np.nan)
    return {
        "r2_any": d["r2_any"],
        "attained": d["r2_restricted"],
        "bound": d["r2_any"] - penalty,
        "gap": d["gap"],
        "quad": d["quad"],
        "q": q,
        "n_local": local.sum(1),
        "n_out": (live & ~local).sum(1),
    }


def _theorem2(w, local, level, nonzero) -> dict:
    """cos2_bound and cos2 of the same-level pairs with disjoint local sets and nonzero readouts, and the
    number of such pairs left out for a zero readout."""
    with np.errstate(all="ignore"):
        cb, ca = theory.cos2_bound(w, local)
    same = (level[:, None] == level[None, :]) & np.triu(np.ones_like(cb, bool), 1) & np.isfinite(cb)
    pairs = same & nonzero[:, None] & nonzero[None, :]
    return {"cos2_bound": cb[pairs], "cos2": ca[pairs], "cos2_undefined": np.array([int((same & ~pairs).sum())])}


def _theorem3(w, live, level, nonzero) -> dict:
    """Per level with >= 2 nonzero readouts: the mean same-level cos^2 against the Welch bound, with d = the live
    units and d = the rank of the readouts."""
    welch = {k: [] for k in ("k", "d_live", "d_rank", "attained", "bound_live", "bound_rank")}
    for lv in np.unique(level):
        idx = np.flatnonzero((level == lv) & nonzero)
        if len(idx) < 2:
            continue
        u = w[idx] / np.linalg.norm(w[idx], axis=1, keepdims=True)
        c2 = (u @ u.T) ** 2
        k = len(idx)
        d_live, d_rank = int(live.sum()), int(np.linalg.matrix_rank(u))
        welch["k"].append(k)
        welch["d_live"].append(d_live)
        welch["d_rank"].append(d_rank)
        welch["attained"].append((c2.sum() - np.trace(c2)) / (k * (k - 1)))
        welch["bound_live"].append(theory.welch_bound(k, d_live))
        welch["bound_rank"].append(theory.welch_bound(k, d_rank))
    return {f"welch_{k}": np.asarray(v, float) for k, v in welch.items()}


def layer_checks(z, y, sel_local, sel_live, level, reduce: bool = True) -> dict:
    """Theorems 1-3 on one layer. z (B, W) standardised activations, y (B, P) probe-node values, sel_local
    (P, W), sel_live (W,), level (P,) the nodes' levels. Returns per node (P,): r2_any, attained, bound, gap,
    quad, q, n_local, n_out; per same-level disjoint pair: cos2_bound, cos2; per level with >= 2 nonzero
    readouts: welch_k, welch_d_live, welch_d_rank, welch_attained, welch_bound_live, welch_bound_rank."""
    z, y = np.asarray(z, np.float64), np.asarray(y, np.float64)
    if reduce:
        z, y = reduce_rows(z, y)
    live = np.asarray(sel_live, bool)
    local = np.asarray(sel_local, bool) & live
    d = theory.gap_decomposition(z, y, local, live) | {"live": live}
    level = np.asarray(level)
    w = d["w"]
    nonzero = (w**2).sum(1) > 1e-24  # a node with no live unit (or r2_any = 0) has no readout direction
    return _theorem1(d, local) | _theorem2(w, local, level, nonzero) | _theorem3(w, live, level, nonzero)


def network_checks(params, masks, depth, activation, probe, mcfg) -> list[dict]:
    """layer_checks for every active hidden layer of one network (probe from metrics.make_probe)."""
    live, local = unit_selections(params, masks, depth, activation, probe, mcfg)
    nodes = np.asarray(probe["probe_nodes"])
    y = np.asarray(probe["h_train"], np.float64)[:, nodes]
    level = np.asarray(probe["node_level"])[nodes]
    hs = hidden64(params, masks, depth, activation, probe["x_train"])
    return [layer_checks(standardise64(h), y, local[l][:, nodes].T, live[l], level) for l, h in enumerate(hs)]
