"""How deep must a network be for a target? Two predictors: from the target's structure, and from data alone.

**Structural** (structure known; module structural, `predict_structural`): D_hat = 1 + the max over
output-to-input paths of the summed per-node costs d_v, each d_v the fewest hidden layers with which a small
dense MLP fits that constituent alone (closed form for named gates, else measured by one vmapped sweep, module
measuring, and cached in CACHE/depth_costs.json).
**Data-only** (structure unknown; module decodability, `data_only`): the first layer of one trained dense
network from which the target is linearly decodable, plus one.

`predict` runs either or both and `format_report` prints the result. CLI: `python -m sweetspot predict-depth
TARGET_SPEC [--width W] [--data-only | --both] [--cache DIR]` (parser in sweetspot.cli; TARGET_SPEC is read by
`sweetspot.targets.zoo.parse_target_spec`). Importing this package does not import jax.
"""

from __future__ import annotations

import time

from sweetspot.depth_predictor.decodability import data_only
from sweetspot.depth_predictor.measuring import FIT, measure
from sweetspot.depth_predictor.structural import (
    DEFAULT_CACHE,
    check_closed_form,
    closed_forms,
    node_data,
    node_key,
    path_depth,
    predict_structural,
)


def predict(target_cfg, width, activation="relu", cache_dir=DEFAULT_CACHE, structural=True, data_only_kw=None, **fit):
    """Structural D_hat (`fit` overrides FIT) and, when `data_only_kw` is a dict (of `data_only` arguments), the
    data-only prediction. Returns a dict: target, width, d_hat, d_hat_low, d_hat_high, per_node {v: {key, d,
    low, high, first (per seed), scores (depth x seed), source}}, path (argmax path, output -> input), censored,
    data_only ({layer, d_hat, curve, eps, fit, depth} or None), seconds. Without the structural predictor the
    structural fields are None (per_node {}, path [])."""
    from sweetspot import targets

    t0, target = time.time(), targets.make_target(target_cfg)
    res = {"target": target.name, "width": int(width), "per_node": {}, "path": [], "data_only": None}
    res |= dict.fromkeys(("d_hat", "d_hat_low", "d_hat_high", "censored"))
    if structural:
        res |= predict_structural(target, target_cfg, width, activation, cache_dir, **fit)
    if data_only_kw is not None:
        res["data_only"] = data_only(target_cfg, width, activation, **data_only_kw)
    res["seconds"] = time.time() - t0
    return res


def _structural_lines(res: dict, structure=None) -> list[str]:
    lo, hi, cens = res["d_hat_low"], res["d_hat_high"], "  [censored: a node fits at no depth <= d_max]"
    lines = [f"predicted depth D_hat = {res['d_hat']:g}  (seed range {lo:g}..{hi:g})" + cens * res["censored"]]
    lines.append("per-node costs d_v (median over seeds [min..max], source):")
    for v, p in res["per_node"].items():
        kids = "" if structure is None else f" children {structure.children[v]}"
        lines.append(f"  node {v}{kids}: d_v = {p['d']:g} [{p['low']:g}..{p['high']:g}]  {p['key']}")
        lines[-1] += f"  ({p['source']})"
    n_in = structure.n_inputs if structure is not None else 0
    names = [f"x{v}" if v < n_in else str(v) for v in res["path"]]
    total = sum(res["per_node"][v]["d"] for v in res["path"] if v in res["per_node"])
    lines.append(f"path (output -> input): {' -> '.join(names)}   sum d_v = {total:g}, D_hat = 1 + {total:g}")
    return lines


def format_report(res: dict, structure=None) -> str:
    """The CLI's text: D_hat and its seed range, every node's d_v and where it came from, the path, data-only."""
    lines = [f"target: {res['target']}  width {res['width']}"]
    if res["d_hat"] is not None:
        lines += _structural_lines(res, structure)
    if res["data_only"] is not None:
        d = res["data_only"]
        lines.append(f"data-only: layer {d['layer']} (d_hat = {d['d_hat']}) of a depth-{d['depth']} network ")
        lines[-1] += f"(its fit {d['fit']:.3f}); decodability per layer 0..{d['depth']}: "
        lines[-1] += " ".join(f"{c:.3f}" for c in d["curve"])
    lines.append(f"({res['seconds']:.1f} s)")
    return "\n".join(lines)


__all__ = [
    "DEFAULT_CACHE",
    "FIT",
    "check_closed_form",
    "closed_forms",
    "data_only",
    "format_report",
    "measure",
    "node_data",
    "node_key",
    "path_depth",
    "predict",
    "predict_structural",
]
