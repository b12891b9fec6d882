"""Running a sweep into a run directory, with checkpoints after every chunk and `resume` after a kill.

docs/method.md, section "Results". `run_sweep(cfg, out)` validates everything before any compute, never
touches an existing directory unless asked (`overwrite` stages the new run in OUT.partial and swaps it in only
when it completes, and only ever replaces a run directory), and resumes from the last saved chunk. Each chunk
saves its networks before the results that mark it done; a resume recomputes any chunk whose saved networks
are missing or unreadable, and refuses other devices. docs/reliability.md: every failure mode tried.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time

import jax
import numpy as np

from sweetspot import checksums, config, metrics, pruning, rundir, targets
from sweetspot import grid as grid_lib
from sweetspot import results as res_lib
from sweetspot.validation import validate


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_data(cfg) -> tuple[targets.Target, dict]:
    """The target and every array the engine needs: splits, and probe data when cfg.metrics.enabled. The
    training split is drawn at target.n_train rows (which fixes the test and held-out rows, drawn after it); the
    engine's pool is its first max(grid.n_train) rows (docs/method.md, "Training"). A truth-table target trains
    on its whole table: grid.n_train must then be () (a ConfigError naming the field)."""
    target = targets.make_target(cfg.target)
    data = targets.make_splits(target, cfg.target)
    if cfg.grid.n_train:
        if target.domain == "bits" and target.structure.n_inputs <= targets.TABLE_MAX_INPUTS:
            config.fail("grid.n_train", tuple(cfg.grid.n_train), f"() only: {target.name} trains on its whole truth "
                        f"table ({data['x_train'].shape[0]} rows), not on a sample of target.n_train rows")
        pool = max(cfg.grid.n_train)
        data["x_train"], data["y_train"] = data["x_train"][:pool], data["y_train"][:pool]
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
    """The saved config equals cfg once keys added to the schema after the run take their defaults (a saved key
    or type the schema no longer has: not equal)."""
    as_json = lambda c: json.loads(c.to_json_best_effort())
    try:
        return as_json(rundir.config_from_meta({"config": saved})) == as_json(cfg)
    except (KeyError, TypeError, ValueError):
        return False


def _saved_meta(run_dir: str, cfg) -> dict | None:
    """meta.json of the run being resumed (None for a run killed before it wrote meta.json: nothing to restore);
    ResultsError when its config differs."""
    if rundir.is_unstarted(run_dir):
        return None
    saved = res_lib.read_meta(run_dir)
    if not _same_config(saved["config"], cfg):
        raise res_lib.ResultsError(f"--resume: the config differs from the one saved in {run_dir}/meta.json")
    return saved


def _check_same_plan(saved: dict, engine, run_dir: str) -> None:
    """Refuses to resume on other devices: per-point values depend on how the points are batched over the
    devices (docs/reliability.md), so finishing a run on other devices would mix two sets of results."""
    was = (len(saved["devices"]), saved.get("platform", engine.devices[0].platform), saved["chunk_size"])
    now = (len(engine.devices), engine.devices[0].platform, engine.chunk_size)
    if was != now:
        raise res_lib.ResultsError(
            f"--resume: {run_dir} was run on {was[0]} {was[1]} device(s) in chunks of {was[2]} points, this run has "
            f"{now[0]} {now[1]} device(s) (chunks of {now[2]}): per-point values depend on the devices, so the "
            f"results would mix; resume with {was[0]} device(s) (CPU: the sweep command uses one per core, "
            "--no-host-devices one; XLA_FLAGS=--xla_force_host_platform_device_count=N sets N) "
            "or rerun with --overwrite"
        )


def _restore(cfg, target, engine, run_dir: str, meta: dict, progress):
    """(results, done, next results step) saved in run_dir, from its latest readable results step that matches
    meta's checksums (a finished run's); chunks whose saved networks are missing, unreadable or changed count as
    not done (they are recomputed)."""
    path = os.path.join(run_dir, "results")
    steps = res_lib.checkpoint_steps(path)
    next_step = steps[-1] + 1 if steps else 0
    template = {"results": engine.result_template(), "done": np.zeros(engine.grid.n_points, bool)}
    for step in reversed(steps):
        try:
            _, saved = res_lib.restore_checkpoint(path, template, step=step)
            changed = checksums.step_problem(run_dir, meta, "results", step)
            if changed is None:
                break
            progress(f"{changed}: trying the step before it")
        except res_lib.ResultsError as e:
            progress(f"{e.args[0].split(':')[0]}: trying the step before it")
    else:
        if steps:
            progress(f"resuming {run_dir}: no readable results step, starting from the first chunk")
        return None, None, next_step
    done = saved["done"]
    if cfg.engine.save_params:
        _unmark_unsaved(cfg, target, engine, run_dir, meta, done, progress)
    progress(f"resuming {run_dir}: {int(done.sum())}/{engine.grid.n_points} points already done")
    return saved["results"], done, next_step


def _unmark_unsaved(cfg, target, engine, run_dir: str, meta: dict, done: np.ndarray, progress) -> None:
    """Marks not done (in place) every done chunk whose params step is missing, cannot be read back or differs
    from meta's checksums."""
    path = os.path.join(run_dir, "params")
    template = rundir.params_template(cfg, target, engine.groups, engine.chunk_size)
    saved = set(res_lib.checkpoint_steps(path))
    for c in range(engine.n_chunks):
        points = np.concatenate([idx[valid] for idx, valid in engine.chunk_indices(c).values()])
        if not done[points].any():
            continue
        problem = None if c in saved else "missing"
        if problem is None:
            try:
                res_lib.restore_checkpoint(path, template, step=c)
                changed = checksums.step_problem(run_dir, meta, "params", c)
                problem = "not the one the run finished with (its sha256 differs)" if changed else None
            except res_lib.ResultsError:
                problem = "corrupt"
        if problem:
            progress(f"{path} step {c} is {problem}: recomputing chunk {c + 1}/{engine.n_chunks}")
            done[points] = False


def _make_run_dir(cfg, engine, run_dir: str, out: str, resume: bool, primary: bool) -> dict:
    """Creates run_dir (clearing a stale OUT.partial) and writes its meta.json; returns the meta."""
    _barrier("checked")  # every process decided where to write before any directory changes
    if primary and not resume and run_dir != out:
        shutil.rmtree(run_dir, ignore_errors=True)  # a stale OUT.partial (a run directory: rundir.prepare_dir)
    if primary:
        os.makedirs(run_dir, exist_ok=True)
    _barrier("prepared")
    meta = res_lib.make_meta(cfg, engine)
    if primary:
        res_lib.write_meta(run_dir, meta)
    return meta


def chunks_left(engine, done: np.ndarray) -> int:
    """How many chunks still have a point that is not done (the chunks grid.run has yet to run)."""
    plans = (engine.chunk_indices(c).values() for c in range(engine.n_chunks))
    return sum(not all(done[idx[valid]].all() for idx, valid in plan) for plan in plans)


def _chunk_saver(cfg, engine, run_dir: str, progress, stop_after: int | None, first_step: int = 0):
    """on_chunk for grid.run: checkpoints params, then results with the done mask (so a chunk counts as done only
    once all of it is on disk), reports progress, simulates a kill."""
    t0, ran = time.time(), [0]

    def on_chunk(c, results, done, out_chunk):
        if cfg.engine.save_params:
            tree = {
                f"g{i:02d}": {"indices": out_chunk[g.name][0], "valid": out_chunk[g.name][1], **out_chunk[g.name][3]}
                for i, g in enumerate(engine.groups)
            }
            res_lib.save_checkpoint(os.path.join(run_dir, "params"), c, tree)
        step = first_step + ran[0]  # results steps only grow: the latest is always the newest state
        res_lib.save_checkpoint(os.path.join(run_dir, "results"), step, {"results": results, "done": done}, keep=2)
        ran[0] += 1
        elapsed = time.time() - t0
        left = chunks_left(engine, done)  # not n_chunks - c - 1: a resume may recompute a middle chunk only
        progress(
            f"chunk {c + 1}/{engine.n_chunks} done, {int(done.sum())}/{engine.grid.n_points} points, "
            f"elapsed {elapsed:.1f}s, ETA {elapsed / ran[0] * left:.1f}s"
        )
        if stop_after is not None and ran[0] >= stop_after and left:
            raise KeyboardInterrupt(f"stopped after {ran[0]} chunk(s)")

    return on_chunk


def _finish(engine, data, results, meta, run_dir: str, out: str, wall_s: float) -> None:
    """results.csv, then meta.json with status 'complete' and the sha256 of every file written before it (in one
    atomic write: checksums.py), and the swap of a staged overwrite into OUT."""
    probe_nodes = data["probe"]["probe_nodes"].tolist() if "probe" in data else ()
    res_lib.write_csv(os.path.join(run_dir, "results.csv"), engine.grid, results, probe_nodes)
    meta["status"] = "complete"
    meta["wall_s"] = round(wall_s, 2)
    meta[checksums.KEY] = checksums.compute(run_dir)  # the finished files (a resume's included), written last
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
    (a simulated kill, for tests). Every check of the config and of `out` comes before any compute, and OUT.lock
    keeps a second sweep off the same `out` (however it is spelled: `out` is resolved first)."""
    validate(cfg)
    rundir.check_out(out, resume, overwrite)
    out = rundir.resolve_out(out)
    primary = jax.process_index() == 0  # with several processes only process 0 writes files (orbax: all save)
    with rundir.lock(out, enabled=primary):
        return _run_locked(cfg, out, resume, overwrite, devices, progress, stop_after, primary)


def _say_rewrite(run_dir: str, saved: dict, progress) -> None:
    """Says that a resume of a run whose every point is done only rewrites results.csv and meta.json (from the
    saved results), and why when results.csv was missing or damaged."""
    try:
        res_lib.read_results_csv(run_dir, saved)
        why = ""
    except res_lib.ResultsError as e:
        why = f" ({e.args[0].split(': `')[0]})"
    progress(f"{run_dir}: every point is done: rewriting results.csv{why} from the saved results, no training")


def _run_locked(cfg, out, resume, overwrite, devices, progress, stop_after, primary):
    run_dir = rundir.prepare_dir(out, resume, overwrite)
    saved = _saved_meta(run_dir, cfg) if resume else None
    building = f"the {cfg.target.family} target's data (probes: {bool(cfg.metrics.enabled)})"
    if saved is None:  # a resume says it once its device check passed: a refusal is then its one line
        progress(f"building {building}")
    target, data = make_data(cfg)
    engine = grid_lib.Engine(cfg, data, devices)
    if saved is not None:
        _check_same_plan(saved, engine, run_dir)
        progress(f"built {building}")
    results, done, step = _restore(cfg, target, engine, run_dir, saved, progress) if saved else (None, None, 0)
    if done is not None and done.all():
        _say_rewrite(run_dir, saved, progress)
    meta = _make_run_dir(cfg, engine, run_dir, out, resume, primary)
    t0 = time.time()
    options = engine.compiler_options()
    xla = f", XLA options {options}" if options else ""
    progress(
        f"grid {dict(zip(engine.grid.axes, engine.grid.shape, strict=True))} = {engine.grid.n_points} points, "
        f"{len(engine.groups)} programs, {engine.n_chunks} chunk(s) of {engine.chunk_size} per program, "
        f"{len(engine.devices)} device(s), depth_mode={cfg.engine.depth_mode}{xla}; compiling {len(engine.groups)} "
        f"program(s) into one call (the first chunk's time includes it)"
    )
    on_chunk = _chunk_saver(cfg, engine, run_dir, progress, stop_after, step)
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
            r2 = results["test_r2"][sel]
            r2 = r2[~np.isnan(r2)]  # np.nanmean of only NaNs warns "Mean of empty slice" on the terminal
            cells.append(f"{r2.mean():7.3f}" if r2.size else f"{'nan':>7}")
        lines.append(f"{d:>5} " + " ".join(cells))
    n_div = int(results["diverged"].sum())
    lines.append(f"{n_div} diverged point(s)" if n_div else "no diverged points")
    return "\n".join(lines)
