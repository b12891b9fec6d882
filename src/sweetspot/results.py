"""A run directory: orbax checkpoints, meta.json and results.csv. docs/method.md, section "Results".

    RUN_DIR/meta.json     schema version, full config, grid axes, groups, package versions, requirements.lock's
                          sha256, git commit and whether the checkout was dirty, devices; when complete, the
                          sha256 of every file below (checksums.py), written last
    RUN_DIR/results/      orbax: the full-grid results and the `done` mask, saved after every chunk
    RUN_DIR/params/       orbax (optional): each chunk's final params and masks, one step per chunk
    RUN_DIR/results.csv   one row per grid point: every axis value and every scalar metric

Orbax is used only by `save_checkpoint` and `restore_checkpoint`.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import platform
import re
import subprocess
import sys
from importlib import metadata

import jax
import numpy as np
import orbax.checkpoint as ocp

from sweetspot import checksums, environment, result_keys
from sweetspot.config import default_config

SCHEMA = "sweetspot.results/1"


class ResultsError(RuntimeError):
    """A run directory is missing, corrupt, or written by another schema or config."""


def _is_empty(a) -> bool:
    return int(np.prod(a.shape)) == 0


def _fill_empty(tree):
    """Zero-size arrays (e.g. per-constituent metrics of a target without constituents) as one-element
    placeholders: orbax cannot store zero-size arrays."""
    return jax.tree.map(lambda a: np.zeros((1,), a.dtype) if _is_empty(a) else a, tree)


def save_checkpoint(directory: str, step: int, tree: dict, keep: int | None = None) -> None:
    """Saves a dict of arrays as `step` under `directory` and waits for the (async) save to finish. A step that
    already exists (left by a killed run, or corrupt) is replaced; temporary directories of a save that was
    killed midway are removed. Orbax writes a step in a temporary directory and renames it when complete, so a
    step is either whole or absent."""
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, cleanup_tmp_directories=True)
    with ocp.CheckpointManager(os.path.abspath(directory), options=options) as mngr:
        if step in mngr.all_steps():
            mngr.delete(step)
        mngr.save(step, args=ocp.args.StandardSave(_fill_empty(tree)), force=True)
        mngr.wait_until_finished()


def checkpoint_steps(directory: str) -> list[int]:
    """The completed steps under `directory`, oldest first ([] when there is none)."""
    if not os.path.isdir(directory):
        return []
    with ocp.CheckpointManager(os.path.abspath(directory)) as mngr:
        return sorted(mngr.all_steps())


class _DropUnretrievedFutures(logging.Filter):
    """asyncio logs "Future exception was never retrieved" for each storage read that failed alongside the one
    orbax raised: the same error again, as a traceback. ResultsError already says it in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).endswith("exception was never retrieved")


_DROP_UNRETRIEVED = _DropUnretrievedFutures()


def _quiet_storage_noise() -> None:
    """After a failed read, tensorstore's other pending reads complete on orbax's closed event loop and report
    "RuntimeError: Event loop is closed" (sys.unraisablehook), and asyncio logs their errors again: both are
    echoes of the one ResultsError, so they are dropped; every other unraisable exception is reported as before."""
    logging.getLogger("asyncio").addFilter(_DROP_UNRETRIEVED)
    if getattr(sys.unraisablehook, "sweetspot", False):
        return
    previous = sys.unraisablehook

    def hook(unraisable):
        exc = unraisable.exc_value
        if not (isinstance(exc, RuntimeError) and str(exc) == "Event loop is closed"):
            previous(unraisable)

    hook.sweetspot = True
    sys.unraisablehook = hook


def _reason(e: Exception) -> str:
    """A short cause of a storage error: tensorstore's status code (DATA_LOSS, OUT_OF_RANGE, ...) or the type."""
    head = str(e).split(":", 1)[0].strip()
    return head if re.fullmatch(r"[A-Z_]{3,}", head) else type(e).__name__


def restore_checkpoint(directory: str, template: dict, step: int | None = None) -> tuple[int, dict]:
    """Restores `step` (default: the latest) against `template`; returns (step, tree).
    Raises ResultsError (one line) when there is none, or it is corrupt or does not match the template."""
    directory = os.path.abspath(directory)
    if not os.path.isdir(directory):
        raise ResultsError(f"no checkpoint directory at {directory}")
    _quiet_storage_noise()
    try:
        with ocp.CheckpointManager(directory) as mngr:
            step = mngr.latest_step() if step is None else step
            if step is None:
                raise ResultsError(f"no saved step in {directory}")
            if step not in mngr.all_steps():
                raise ResultsError(f"checkpoint {directory} has no step {step}: {recompute_hint(directory)}")
            tree = mngr.restore(step, args=ocp.args.StandardRestore(_fill_empty(template)))
    except ResultsError:
        raise
    except Exception as e:  # orbax/tensorstore raise many types for truncated or mismatched files
        raise ResultsError(
            f"checkpoint {directory} step {step} is corrupt or does not match this run ({_reason(e)}): "
            + recompute_hint(directory)
        ) from None
    restore_empty = lambda t, r: np.zeros(t.shape, t.dtype) if _is_empty(t) else np.asarray(r)
    return step, jax.tree.map(restore_empty, template, tree)


def recompute_hint(directory: str) -> str:
    return f"`python -m sweetspot sweep CONFIG --out {os.path.dirname(directory)} --resume` recomputes it"


# ------------------------------------------------------------------------------------------------- meta
UNKNOWN_COMMIT = "unknown"


def _git(args: list[str], cwd: str) -> str | None:
    """stdout of `git ARGS` run in cwd (stripped), or None when git is missing, fails or times out."""
    try:
        out = subprocess.run(["git", "--no-optional-locks", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_provenance(where: str | None = None) -> tuple[str, bool | None]:
    """(commit, dirty) of the source checkout that holds the package (or the directory `where`): the commit is
    `git rev-parse HEAD`'s full hash, or UNKNOWN_COMMIT when git fails, the directory has no file tracked by a
    checkout (e.g. a copy of the package in site-packages inside another repository's ignored folder) or the
    checkout has no commit (rev-parse then prints the literal "HEAD"); dirty is whether `git status --porcelain`
    of that checkout lists anything (modified, staged or untracked files), None when the commit is unknown."""
    here = where or os.path.dirname(os.path.abspath(__file__))
    commit = _git(["rev-parse", "--verify", "HEAD"], here)
    tracked = _git(["ls-files", "--error-unmatch", "--", "."], here) is not None
    if not tracked or not commit or not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", commit):
        return UNKNOWN_COMMIT, None
    status = _git(["status", "--porcelain"], here)
    return commit, None if status is None else bool(status)


def make_meta(cfg, engine) -> dict:
    """Everything needed to interpret and reproduce a run."""

    commit, dirty = git_provenance()
    versions = {}
    for pkg in ("sweetspot", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "chex", "ml-collections", "numpy"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    argv = sys.argv
    via_module = bool(argv) and argv[0].endswith("__main__.py")
    command = "python -m sweetspot " + " ".join(argv[1:]) if via_module else " ".join(argv)
    return {
        "schema": SCHEMA,
        "command": command,
        "config": json.loads(cfg.to_json_best_effort()),
        "axes": {k: list(v) for k, v in engine.grid.axes.items()},
        "groups": [g.name for g in engine.groups],
        "chunk_size": engine.chunk_size,
        "n_chunks": engine.n_chunks,
        "versions": versions,
        "lock": environment.record(),
        "python": platform.python_version(),
        "git_commit": commit,
        "git_dirty": dirty,
        "devices": [str(d) for d in engine.devices],
        "platform": engine.devices[0].platform,
        "status": "running",
    }


def write_meta(run_dir: str, meta: dict) -> None:
    tmp = os.path.join(run_dir, "meta.json.tmp")
    with open(tmp, "w") as f:
        json.dump(meta, f, indent=2, default=str)
    os.replace(tmp, os.path.join(run_dir, "meta.json"))


def read_meta(run_dir: str) -> dict:
    """meta.json of a run; raises ResultsError if missing or of another schema."""
    path = os.path.join(run_dir, "meta.json")
    if not os.path.isfile(path):
        raise ResultsError(f"{run_dir} is not a sweetspot run directory: no meta.json")
    try:
        with open(path) as f:
            meta = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        meta = f"{type(e).__name__}: {e}"
    if not isinstance(meta, dict):
        raise ResultsError(
            f"{path} is corrupt ({meta if isinstance(meta, str) else 'not a JSON object'}): the run cannot be read "
            f"or resumed; rerun it with `python -m sweetspot sweep CONFIG --out {run_dir} --overwrite`"
        )
    if meta.get("schema") != SCHEMA:
        raise ResultsError(f"{path}: schema={meta.get('schema')!r} is not supported: allowed values are [{SCHEMA!r}]")
    if isinstance(meta.get("axes"), dict) and "n_train" not in meta["axes"]:  # a run made before the n_train axis
        meta["axes"] = _before_seed(meta["axes"], "n_train", [old_n_train(meta)])
    return meta


def old_n_train(meta: dict) -> int:
    """The n_train of every point of a run made before the grid.n_train axis: its target.n_train."""
    target = (meta.get("config") or {}).get("target") or {}
    return int(target.get("n_train", default_config().target.n_train))


def _before_seed(d: dict, key: str, value) -> dict:
    """d with key: value inserted before its "seed" entry (config.AXES order), or at the end."""
    items = list(d.items())
    at = next((i for i, (k, _) in enumerate(items) if k == "seed"), len(items))
    return dict(items[:at] + [(key, value)] + items[at:])


# -------------------------------------------------------------------------------------------------- csv
def scalar_columns(results: dict, n_slots: int, probe_nodes=()) -> dict[str, np.ndarray]:
    """Flattens results to CSV columns, named by result_keys.csv_columns: scalars as they are, per-layer values
    as NAME_h{l} (layer_sparsity: .._h0 .. _out), per-node values as NAME_v{node id}. Loss curves and
    per-node-per-layer tables stay in the checkpoint only."""
    cols = {}
    for k, v in results.items():
        names = result_keys.csv_columns(k, n_slots, probe_nodes)
        if result_keys.kind(k) == result_keys.SCALAR:
            cols[k] = v
            continue
        for i, name in enumerate(names):
            cols[name] = v[:, i]
    return cols


def write_csv(path: str, grid, results: dict, probe_nodes=()) -> None:
    """results.csv: one row per grid point (index, every axis value, every scalar metric)."""
    cols = scalar_columns(results, max(grid.axes["depth"]), probe_nodes)
    header = ["point", *grid.coords, *cols]
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i in range(grid.n_points):
            row = [i] + [grid.coords[a][i] for a in grid.coords]
            row += [_fmt(cols[c][i]) for c in cols]
            w.writerow(row)
    os.replace(tmp, path)


def _fmt(v):
    if isinstance(v, (np.bool_, bool)):
        return str(bool(v))
    if isinstance(v, (np.floating, float)):
        return f"{float(v):.6g}"
    return str(v)


def read_csv(path: str) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def read_results_csv(run_dir: str, meta: dict | None = None) -> list[dict]:
    """RUN_DIR/results.csv, checked whole: ResultsError (one line, with the command that rewrites it) when it is
    missing, empty, cut short (no final newline, a row short of fields, fewer rows than meta's axes make), has
    a row with extra fields, or is not the file the run wrote (its sha256 differs from meta.json's, when the run
    recorded one: checksums.py). write_csv writes it in one os.replace, so damage means a copy, a disk or a hand
    went wrong."""
    path = os.path.join(run_dir, "results.csv")
    fix = f"`python -m sweetspot sweep CONFIG --out {run_dir} --resume` rewrites it from the saved results"
    try:
        with open(path, "rb") as f:
            data = f.read()
        text = data.decode()
    except FileNotFoundError:
        raise ResultsError(f"{path} is missing: {fix}") from None
    except (OSError, UnicodeDecodeError) as e:
        why = getattr(e, "strerror", None) or type(e).__name__
        raise ResultsError(f"{path} cannot be read ({why}): {fix}") from None
    reader = csv.DictReader(text.splitlines(keepends=True))
    rows = list(reader)
    n = int(np.prod([len(v) for v in meta["axes"].values()])) if meta and "axes" in meta else None
    why = _csv_damage(text, rows, len(reader.fieldnames or ()), n)
    if why:
        raise ResultsError(f"{path} is damaged ({why}): {fix}")
    sums = checksums.recorded(meta or {})
    if sums is not None and sums.get("results.csv") != checksums.sha256_bytes(data):
        raise ResultsError(f"{path} {checksums.WHAT[checksums.CHANGED]}: {fix}")
    if meta and rows and "n_train" not in rows[0]:  # a run made before the n_train axis: its target.n_train
        rows = [_before_seed(r, "n_train", str(old_n_train(meta))) for r in rows]
    return rows


def _csv_damage(text: str, rows: list[dict], n_fields: int, n_points: int | None) -> str | None:
    """What is wrong with a results.csv's text and rows, or None."""
    if not text.strip():
        return "empty"
    for i, r in enumerate(rows):
        if None in r or None in r.values():
            fields = sum(v is not None for k, v in r.items() if k is not None) + len(r.get(None) or ())
            return f"row {i + 1} has {fields} fields, the header {n_fields}"
    if not text.endswith("\n"):
        return "cut short: no final newline"
    if n_points is not None and len(rows) != n_points:
        return f"{len(rows)} rows for the run's {n_points} points"
    return None
