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

from sweetspot import grid as grid_lib
from sweetspot import metrics, pruning, rundir, targets
from sweetspot import results as res_lib
from sweetspot.validation import validate


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


def _barrier(name: str) -> None:
    """Waits for every process (multi-process runs only)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(f"sweetspot:{name}")


def _same_config(saved: dict, cfg) -> bool:
    return saved == json.loads(cfg.to_json_best_effort())


def _restore(engine, run_dir: str, resume: bool, progress):
    """(results, done) saved in run_dir when resuming a run that has saved a chunk, else (None, None)."""
    if not (resume and os.path.isdir(os.path.join(run_dir, "results"))):
        return None, None
    template = {"results": engine.result_template(), "done": np.zeros(engine.grid.n_points, bool)}
    _, saved = res_lib.restore_checkpoint(os.path.join(run_dir, "results"), template)
    progress(f"resuming {run_dir}: {int(saved['done'].sum())}/{engine.grid.n_points} points already done")
    return saved["results"], saved["done"]


def _make_run_dir(cfg, engine, run_dir: str, out: str, resume: bool, primary: bool) -> dict:
    """Creates run_dir (clearing a stale OUT.partial) and writes its meta.json; returns the meta."""
    _barrier("checked")  # every process decided where to write before any directory changes
    if primary and not resume and run_dir != out:
        shutil.rmtree(run_dir, ignore_errors=True)  # a stale OUT.partial from an earlier failed overwrite
    if primary:
        os.makedirs(run_dir, exist_ok=True)
    _barrier("prepared")
    meta = res_lib.make_meta(cfg, engine)
    if primary:
        res_lib.write_meta(run_dir, meta)
    return meta


def _chunk_saver(cfg, engine, run_dir: str, progress, stop_after: int | None):
    """on_chunk for grid.run: checkpoints results (and params), reports progress, simulates a kill."""
    t0, ran = time.time(), [0]

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

    return on_chunk


def _finish(engine, data, results, meta, run_dir: str, out: str, wall_s: float) -> None:
    """results.csv, meta status 'complete', and the swap of a staged overwrite into OUT."""
    probe_nodes = data["probe"]["probe_nodes"].tolist() if "probe" in data else ()
    res_lib.write_csv(os.path.join(run_dir, "results.csv"), engine.grid, results, probe_nodes)
    meta["status"] = "complete"
    meta["wall_s"] = round(wall_s, 2)
    res_lib.write_meta(run_dir, meta)
    if run_dir != out:
        rundir.swap_in(run_dir, out)


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
    validate(cfg)
    run_dir = rundir.prepare_dir(out, resume, overwrite)
    if resume and not _same_config(res_lib.read_meta(run_dir)["config"], cfg):
        raise res_lib.ResultsError(f"--resume: the config differs from the one saved in {run_dir}/meta.json")
    _, data = make_data(cfg)
    engine = grid_lib.Engine(cfg, data, devices)
    results, done = _restore(engine, run_dir, resume, progress)
    primary = jax.process_index() == 0  # with several processes only process 0 writes files (orbax: all save)
    meta = _make_run_dir(cfg, engine, run_dir, out, resume, primary)
    t0 = time.time()
    progress(
        f"grid {dict(zip(engine.grid.axes, engine.grid.shape, strict=True))} = {engine.grid.n_points} points, "
        f"{len(engine.groups)} programs, {engine.n_chunks} chunk(s) of {engine.chunk_size} per program, "
        f"{len(engine.devices)} device(s)"
    )
    on_chunk = _chunk_saver(cfg, engine, run_dir, progress, stop_after)
    results, done = grid_lib.run(engine, results, done, on_chunk)
    if primary:
        _finish(engine, data, results, meta, run_dir, out, time.time() - t0)
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


