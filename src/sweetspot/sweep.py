"""Running a sweep into a run directory, with checkpoints after every chunk and `resume` after a kill.

docs/method.md, section "Results". `run_sweep(cfg, out)` validates everything before any compute, never
touches an existing directory unless asked (`overwrite` stages the new run in OUT.partial and swaps it in only
when it completes), and resumes from the last saved chunk.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time

import jax
import numpy as np

from sweetspot import config as config_lib
from sweetspot import grid as grid_lib
from sweetspot import metrics, pruning, targets
from sweetspot import results as res_lib


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_data(cfg) -> tuple[targets.Target, dict]:
    """The target and every array the engine needs: splits, and probe data when cfg.metrics.enabled."""
    target = targets.make_target(cfg.target)
    data = targets.make_splits(target, cfg.target)
    if any(m.endswith("oracle") for m in cfg.grid.method):
        data["oracle"] = pruning.oracle_table(target.structure, int(cfg.model.width), max(cfg.grid.depth))
    if cfg.metrics.enabled:
        data["probe"] = metrics.make_probe(target, cfg.metrics, seed=int(cfg.target.data_seed))
    return target, data


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


def _barrier(name: str) -> None:
    """Waits for every process (multi-process runs only)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(f"sweetspot:{name}")


def _same_config(saved: dict, cfg) -> bool:
    return saved == json.loads(cfg.to_json_best_effort())


def run_sweep(
    cfg,
    out: str,
    resume: bool = False,
    overwrite: bool = False,
    devices=None,
    progress=_progress,
    stop_after: int | None = None,
) -> tuple[grid_lib.Engine, dict]:
    """Trains cfg's grid into `out`; returns (engine, results). `stop_after` ends after that many chunks
    (a simulated kill, for tests)."""
    config_lib.validate(cfg)
    run_dir = prepare_dir(out, resume, overwrite)
    if resume:
        meta = res_lib.read_meta(run_dir)
        if not _same_config(meta["config"], cfg):
            raise res_lib.ResultsError(f"--resume: the config differs from the one saved in {run_dir}/meta.json")
    _, data = make_data(cfg)
    engine = grid_lib.Engine(cfg, data, devices)
    results, done = None, None
    if resume and os.path.isdir(os.path.join(run_dir, "results")):
        template = {"results": engine.result_template(), "done": np.zeros(engine.grid.n_points, bool)}
        _, saved = res_lib.restore_checkpoint(os.path.join(run_dir, "results"), template)
        results, done = saved["results"], saved["done"]
        progress(f"resuming {run_dir}: {int(done.sum())}/{engine.grid.n_points} points already done")
    primary = jax.process_index() == 0  # with several processes only process 0 writes files (orbax: all save)
    _barrier("checked")  # every process decided where to write before any directory changes
    if primary and not resume and run_dir != out:
        shutil.rmtree(run_dir, ignore_errors=True)  # a stale OUT.partial from an earlier failed overwrite
    if primary:
        os.makedirs(run_dir, exist_ok=True)
    _barrier("prepared")
    meta = res_lib.make_meta(cfg, engine)
    if primary:
        res_lib.write_meta(run_dir, meta)

    t0, ran = time.time(), [0]
    progress(
        f"grid {dict(zip(engine.grid.axes, engine.grid.shape, strict=True))} = {engine.grid.n_points} points, "
        f"{len(engine.groups)} programs, {engine.n_chunks} chunk(s) of {engine.chunk_size} per program, "
        f"{len(engine.devices)} device(s)"
    )

    def on_chunk(c, results, done, out_chunk):
        res_lib.save_checkpoint(os.path.join(run_dir, "results"), c, {"results": results, "done": done}, keep=2)
        if cfg.engine.save_params:
            tree = {
                f"g{i:02d}": {"indices": out_chunk[g.name][0], "valid": out_chunk[g.name][1], **out_chunk[g.name][3]}
                for i, g in enumerate(engine.groups)
            }
            res_lib.save_checkpoint(os.path.join(run_dir, "params"), c, tree)
        ran[0] += 1
        elapsed = time.time() - t0
        left = engine.n_chunks - c - 1
        progress(
            f"chunk {c + 1}/{engine.n_chunks} done, {int(done.sum())}/{engine.grid.n_points} points, "
            f"elapsed {elapsed:.1f}s, ETA {elapsed / ran[0] * left:.1f}s"
        )
        if stop_after is not None and ran[0] >= stop_after and left:
            raise KeyboardInterrupt(f"stopped after {ran[0]} chunk(s)")

    results, done = grid_lib.run(engine, results, done, on_chunk)
    if not primary:
        return engine, results
    probe_nodes = data["probe"]["probe_nodes"].tolist() if "probe" in data else ()
    res_lib.write_csv(os.path.join(run_dir, "results.csv"), engine.grid, results, probe_nodes)
    meta["status"] = "complete"
    meta["wall_s"] = round(time.time() - t0, 2)
    res_lib.write_meta(run_dir, meta)
    if run_dir != out:  # a completed overwrite: swap the staged run in
        old = out.rstrip("/") + ".old"
        shutil.rmtree(old, ignore_errors=True)
        if os.path.exists(out):
            os.replace(out, old)
        os.replace(run_dir, out)
        shutil.rmtree(old, ignore_errors=True)
    return engine, results


def summary_table(engine: grid_lib.Engine, results: dict) -> str:
    """Mean test R^2 (over every other axis) per depth x sparsity, as text."""
    g = engine.grid
    lines = ["mean test R^2 (rows: depth, columns: sparsity; averaged over the other axes)"]
    lines.append("depth " + " ".join(f"{s:>7g}" for s in g.axes["sparsity"]))
    for d in g.axes["depth"]:
        cells = []
        for s in g.axes["sparsity"]:
            sel = (g.coords["depth"] == d) & (g.coords["sparsity"] == s)
            cells.append(f"{np.nanmean(results['test_r2'][sel]):7.3f}")
        lines.append(f"{d:>5} " + " ".join(cells))
    n_div = int(results["diverged"].sum())
    lines.append(f"{n_div} diverged point(s)" if n_div else "no diverged points")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- saved networks
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
    from sweetspot import mlp

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
