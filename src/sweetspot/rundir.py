"""A run directory: where a sweep writes, and reading its saved networks and config back.
docs/method.md, section "Results" (the files: `results.py`).

    RUN_DIR/meta.json     schema version, full config, grid axes, groups, package versions, git commit, devices
    RUN_DIR/results/      orbax: the full-grid results and the `done` mask, saved after every chunk
    RUN_DIR/params/       orbax (optional): each chunk's final params and masks, one step per chunk
    RUN_DIR/results.csv   one row per grid point: every axis value and every scalar metric
"""

from __future__ import annotations

import os
import shutil

import jax
import numpy as np

from sweetspot import config as config_lib
from sweetspot import grid as grid_lib
from sweetspot import mlp, targets
from sweetspot import results as res_lib


def prepare_dir(out: str, resume: bool, overwrite: bool) -> str:
    """Decides where the run writes: OUT itself, or OUT.partial when overwriting an existing run."""
    partial = out.rstrip("/") + ".partial"
    if resume:
        if os.path.isdir(partial):
            return partial
        if not os.path.isdir(out):
            raise res_lib.ResultsError(f"--resume: nothing to resume at {out}")
        return out
    if os.path.exists(out) and not overwrite:
        raise res_lib.ResultsError(f"{out} exists: pass --overwrite to replace it or --resume to continue it")
    return partial if os.path.exists(out) else out


def swap_in(staged: str, out: str) -> None:
    """Replaces `out` by the completed staged run (OUT.partial), keeping the old run as OUT.old until the new
    one is in place."""
    old = out.rstrip("/") + ".old"
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(out):
        os.replace(out, old)
    os.replace(staged, out)
    shutil.rmtree(old, ignore_errors=True)


def config_from_meta(meta: dict):
    """The run's ConfigDict, rebuilt from meta.json (lists become tuples, as the configs write them); keys
    added to the schema after the run was made take their defaults, which reproduce the old behaviour."""

    def tuples(x):
        if isinstance(x, dict):
            return {k: tuples(v) for k, v in x.items()}
        return tuple(x) if isinstance(x, list) else x

    cfg = config_lib.default_config()
    cfg.update_from_flattened_dict(_flatten(tuples(meta["config"])))
    return cfg


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def find_point(grid: grid_lib.Grid, spec: str) -> int:
    """Grid index of the point named by 'axis=value,...'; axes with one value may be omitted."""
    want = {}
    for part in filter(None, spec.split(",")):
        if "=" not in part:
            raise res_lib.ResultsError(f"--point {spec!r}: expected axis=value pairs, e.g. depth=3,sparsity=0.9,seed=0")
        k, v = part.split("=", 1)
        if k not in grid.axes:
            raise res_lib.ResultsError(f"--point: unknown axis {k!r}: allowed values are {list(grid.axes)}")
        want[k.strip()] = v.strip()
    sel = np.ones(grid.n_points, bool)
    for axis, values in grid.axes.items():
        if axis not in want:
            if len(values) > 1:
                raise res_lib.ResultsError(f"--point: give {axis}=<value>; allowed values are {list(values)}")
            continue
        match = [i for i, v in enumerate(values) if str(v) == want[axis] or _same_number(v, want[axis])]
        if not match:
            raise res_lib.ResultsError(f"--point: {axis}={want[axis]!r}: allowed values are {list(values)}")
        sel &= grid.coords[axis] == values[match[0]]
    return int(np.flatnonzero(sel)[0])


def _same_number(v, text):
    try:
        return not isinstance(v, str) and float(v) == float(text)
    except ValueError:
        return False


def _params_template(cfg, target, groups, size) -> dict:
    """The orbax restore template of one chunk of RUN_DIR/params (every group, `size` points each)."""
    n, n_out = target.structure.n_inputs, target.structure.n_outputs
    template = {}
    for j, grp in enumerate(groups):
        shapes = jax.eval_shape(
            lambda k, s=grp.n_slots: mlp.init(k, n, int(cfg.model.width), s, n_outputs=n_out), jax.random.PRNGKey(0)
        )
        template[f"g{j:02d}"] = {
            "indices": np.zeros(size, np.int64),
            "valid": np.zeros(size, bool),
            "params": jax.tree.map(lambda a: np.zeros((size, *a.shape), np.float32), shapes),
            "masks": {k: np.zeros((size, *p["w"].shape), np.float32) for k, p in shapes.items()},
        }
    return template


def _saved_layout(run_dir: str):
    meta = res_lib.read_meta(run_dir)
    cfg = config_from_meta(meta)
    grid = grid_lib.make_grid(cfg)
    groups = grid_lib.make_groups(grid, cfg.engine.depth_mode)
    if [g.name for g in groups] != meta["groups"]:
        raise res_lib.ResultsError(f"{run_dir}: program groups in meta.json do not match its config")
    if not os.path.isdir(os.path.join(run_dir, "params")):
        raise res_lib.ResultsError(f"{run_dir}: no params/ (the run was made with engine.save_params=False)")
    return meta, cfg, grid, groups, targets.make_target(cfg.target)


def load_network(run_dir: str, spec: str):
    """(cfg, target, params, masks, depth, test_r2) of one saved grid point (RUN_DIR/params, orbax)."""
    meta, cfg, grid, groups, target = _saved_layout(run_dir)
    i = find_point(grid, spec)
    gi, g = next((j, g) for j, g in enumerate(groups) if i in g.indices)
    pos = int(np.flatnonzero(g.indices == i)[0])
    c, size = pos // meta["chunk_size"], meta["chunk_size"]
    template = _params_template(cfg, target, groups, size)
    _, tree = res_lib.restore_checkpoint(os.path.join(run_dir, "params"), template, step=c)
    rows = res_lib.read_csv(os.path.join(run_dir, "results.csv"))
    saved = tree[f"g{gi:02d}"]
    params = jax.tree.map(lambda a: a[pos % size], saved["params"])
    masks = jax.tree.map(lambda a: a[pos % size], saved["masks"])
    return cfg, target, params, masks, int(grid.coords["depth"][i]), float(rows[i]["test_r2"])


def iter_networks(run_dir: str):
    """Yields (point index, params, masks, depth) of every saved point of a run, restoring each chunk once;
    the order is by chunk and group, not by index. Arrays are numpy, one point each."""
    meta, cfg, grid, groups, target = _saved_layout(run_dir)
    size = meta["chunk_size"]
    template = _params_template(cfg, target, groups, size)
    for c in range(meta["n_chunks"]):
        _, tree = res_lib.restore_checkpoint(os.path.join(run_dir, "params"), template, step=c)
        for j in range(len(groups)):
            saved = tree[f"g{j:02d}"]
            for k in np.flatnonzero(saved["valid"]):
                i = int(saved["indices"][k])
                pick = lambda a, k=k: np.asarray(a[k])
                yield (
                    i,
                    jax.tree.map(pick, saved["params"]),
                    jax.tree.map(pick, saved["masks"]),
                    int(grid.coords["depth"][i]),
                )


def point_table(
    run_dir: str,
    columns=("test_r2", "C", "compositional", "fractured", "unfit", "interference", "gen_ratio", "realised_sparsity"),
) -> str:
    """Per-point table of a saved run: axis values that vary, then `columns` (those present)."""
    meta = res_lib.read_meta(run_dir)
    rows = res_lib.read_csv(os.path.join(run_dir, "results.csv"))
    axes = [a for a, v in meta["axes"].items() if len(v) > 1]
    cols = [c for c in columns if c in rows[0]]
    head = axes + cols
    width = {h: max(len(h), 7) for h in head}
    lines = [" ".join(f"{h:>{width[h]}}" for h in head)]
    for r in rows:
        cells = []
        for h in head:
            v = r[h]
            try:
                v = f"{float(v):.3f}" if h in cols and v not in ("True", "False") else v
            except ValueError:
                pass
            cells.append(f"{v:>{width[h]}}")
        lines.append(" ".join(cells))
    return "\n".join(lines)
