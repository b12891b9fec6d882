"""A run directory: where a sweep writes, and reading its saved networks and config back.
docs/method.md, section "Results" (the files: `results.py`).

    RUN_DIR/meta.json     schema version, full config, grid axes, groups, package versions, requirements.lock's
                          sha256, git commit and whether the checkout was dirty, devices; when complete, the
                          sha256 of every file below (checksums.py), written last
    RUN_DIR/results/      orbax: the full-grid results and the `done` mask, saved after every chunk
    RUN_DIR/params/       orbax (optional): each chunk's final params and masks, one step per chunk
    RUN_DIR/results.csv   one row per grid point: every axis value and every scalar metric
    RUN_DIR.lock          held while a sweep writes RUN_DIR (RUN_DIR.partial and RUN_DIR.old: an --overwrite)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import tempfile

import jax
import numpy as np

from sweetspot import checksums, mlp, targets
from sweetspot import config as config_lib
from sweetspot import grid as grid_lib
from sweetspot import results as res_lib


def resolve_out(out: str) -> str:
    """The directory OUT names, one spelling per directory: symlinks, `DIR/.`, `..` and relative or absolute
    spellings all resolve to the same path (os.path.realpath), given relative to the current directory when it
    lies inside it (so messages stay short). Every file of a run (OUT.lock, OUT.partial, OUT.old) is named from it."""
    real = os.path.realpath(out)
    rel = os.path.relpath(real, os.path.realpath(os.getcwd()))
    return real if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel


def is_run_dir(path: str) -> bool:
    """True for a directory that a sweep wrote: it has a meta.json."""
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, "meta.json"))


def is_unstarted(path: str) -> bool:
    """True for a directory a sweep created but was killed before it wrote meta.json: empty, or holding only the
    temporary meta.json.tmp (it may also be a user's empty directory: either way nothing is lost)."""
    return os.path.isdir(path) and set(os.listdir(path)) <= {"meta.json.tmp"}


def _replaceable(path: str, what: str) -> None:
    """Refuses (ResultsError) to ever delete `path` unless it is a sweetspot run directory or an unstarted one."""
    if not os.path.lexists(path) or is_run_dir(path) or is_unstarted(path):
        return
    kind = "a directory without meta.json" if os.path.isdir(path) else "a file"
    raise res_lib.ResultsError(
        f"{what}: {path} is {kind}, not a sweetspot run directory: refusing to replace it "
        "(only a run directory, one with meta.json, is ever replaced); move it away or choose another --out"
    )


def check_out(out: str, resume: bool = False, overwrite: bool = False) -> None:
    """Refuses, before any compute or file is touched, an --out that cannot become a run directory: empty, the
    current directory or a parent of it, under a file, or in a directory where nothing can be created; and
    --resume with --overwrite, or of nothing."""
    if resume and overwrite:
        raise res_lib.ResultsError(
            "--resume and --overwrite exclude each other: --resume continues the run in --out, --overwrite replaces it"
        )
    if not out.strip():
        raise res_lib.ResultsError("--out '' is empty: give the run directory to create, e.g. --out runs/NAME")
    real, cwd = os.path.realpath(out), os.path.realpath(os.getcwd())
    if real == cwd or cwd.startswith(real.rstrip(os.sep) + os.sep):
        raise res_lib.ResultsError(
            f"--out {out!r} is the current directory or a parent of it: give a new directory, e.g. --out runs/NAME"
        )
    if os.path.lexists(out) and not os.path.isdir(out):
        raise res_lib.ResultsError(f"--out {out!r} is a file, not a run directory: choose another --out")
    if resume and not (os.path.isdir(out) or os.path.isdir(out.rstrip("/") + ".partial")):
        raise res_lib.ResultsError(f"--resume: nothing to resume at {out} (no such directory)")
    ancestor = os.path.dirname(os.path.abspath(out))
    while not os.path.lexists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise res_lib.ResultsError(f"--out {out!r}: {ancestor} is a file, not a directory")
    for where in (ancestor, out) if os.path.isdir(out) else (ancestor,):
        try:
            fd, probe = tempfile.mkstemp(dir=where, prefix=".sweetspot-probe-")
            os.close(fd)
            os.remove(probe)
        except OSError as e:
            raise res_lib.ResultsError(f"--out {out!r}: cannot create files in {where} ({e.strerror})") from None


def prepare_dir(out: str, resume: bool, overwrite: bool) -> str:
    """Decides where the run writes: OUT itself, or OUT.partial when overwriting an existing run. Refuses
    --resume with --overwrite, and an --overwrite of anything but a run directory (or an empty one)."""
    if resume and overwrite:
        raise res_lib.ResultsError(
            "--resume and --overwrite exclude each other: --resume continues the run in --out, --overwrite replaces it"
        )
    partial = out.rstrip("/") + ".partial"
    _recover_swap(out)
    if resume:
        if os.path.isdir(partial):
            return partial
        if not os.path.isdir(out):
            raise res_lib.ResultsError(f"--resume: nothing to resume at {out} (no such directory)")
        return out
    if os.path.exists(out) and not overwrite:
        raise res_lib.ResultsError(f"{out} exists: pass --overwrite to replace it or --resume to continue it")
    if not os.path.exists(out):
        return out
    for path in (out, partial, out.rstrip("/") + ".old"):  # every path an overwrite deletes
        _replaceable(path, "--overwrite")
    return partial


def _recover_swap(out: str) -> None:
    """A swap killed between its two renames leaves OUT missing, the old run in OUT.old and the new one in
    OUT.partial: puts the new run in place if it is complete, else the old one back."""
    old, partial = out.rstrip("/") + ".old", out.rstrip("/") + ".partial"
    if os.path.lexists(out) or not is_run_dir(old):
        return
    try:
        complete = is_run_dir(partial) and res_lib.read_meta(partial).get("status") == "complete"
    except res_lib.ResultsError:
        complete = False
    os.replace(partial if complete else old, out)
    if complete:
        shutil.rmtree(old)


def swap_in(staged: str, out: str) -> None:
    """Replaces `out` by the completed staged run (OUT.partial), keeping the old run as OUT.old until the new
    one is in place. Deletes nothing but run directories (or empty ones)."""
    old = out.rstrip("/") + ".old"
    _replaceable(out, "--overwrite")
    _replaceable(old, "--overwrite")
    if os.path.lexists(old):
        shutil.rmtree(old)
    if os.path.exists(out):
        os.replace(out, old)
    os.replace(staged, out)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def lock(out: str, enabled: bool = True):
    """Holds OUT.lock (an exclusive flock, with this process's pid and host in it) while a sweep writes OUT, so a
    second sweep on the same --out stops with a clear message. The lock is named from the resolved path
    (`resolve_out`): a symlink to OUT, `OUT/.` or OUT's absolute path meet the same lock. The kernel drops the
    lock when its process dies (kill -9 included), so a stale OUT.lock never blocks a later run."""
    if not enabled:
        yield
        return
    path = os.path.realpath(out) + ".lock"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd = _acquire(path, out)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
        os.close(fd)


def _acquire(path: str, out: str) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise res_lib.ResultsError(
                f"{out} is being written by another sweep (pid/host {holder}, lock {path}): wait for it to end; "
                "two sweeps must not write the same --out"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino  # not a lock file its last holder just removed
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
            return fd
        os.close(fd)


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


def params_template(cfg, target, groups, size) -> dict:
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


META_KEYS = ("config", "axes", "groups", "chunk_size", "n_chunks")  # what reading a run's files back needs


def read_complete_meta(run_dir: str) -> dict:
    """meta.json of a finished run; ResultsError naming the status and the command that finishes it otherwise."""
    meta = res_lib.read_meta(run_dir)
    if meta.get("status") != "complete":
        raise res_lib.ResultsError(
            f"{run_dir}: status={meta.get('status')!r} (an unfinished run); allowed values are ['complete']: "
            f"finish it with `python -m sweetspot sweep CONFIG --out {run_dir} --resume`"
        )
    missing = [k for k in META_KEYS if k not in meta]
    if missing:
        raise res_lib.ResultsError(
            f"{run_dir}/meta.json is damaged (no {', '.join(missing)}): the run cannot be read; "
            f"rerun it with `python -m sweetspot sweep CONFIG --out {run_dir} --overwrite`"
        )
    return meta


def restore_params(run_dir: str, meta: dict, template: dict, step: int) -> dict:
    """Step `step` of RUN_DIR/params, read back and checked against meta.json's checksums (checksums.py): a
    damaged, missing or changed step is one ResultsError naming it (a changed one: its first changed file)."""
    directory = os.path.join(run_dir, "params")
    _, tree = res_lib.restore_checkpoint(directory, template, step=step)
    changed = checksums.step_problem(run_dir, meta, "params", step)
    if changed:
        raise res_lib.ResultsError(f"{changed}: {res_lib.recompute_hint(directory)}")
    return tree


def check_params(run_dir: str) -> None:
    """Reads back every saved chunk of RUN_DIR/params (when the run saved its networks), so that a damaged,
    missing or changed step is one ResultsError (with the command that recomputes it) before anything is drawn or
    written."""
    if not os.path.isdir(os.path.join(run_dir, "params")):
        return
    meta, cfg, _, groups, target = _saved_layout(run_dir)
    template = params_template(cfg, target, groups, meta["chunk_size"])
    for c in range(meta["n_chunks"]):
        restore_params(run_dir, meta, template, c)


def _saved_layout(run_dir: str):
    meta = read_complete_meta(run_dir)
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
    gi = next(j for j, g in enumerate(groups) if i in g.indices)
    template = params_template(cfg, target, groups, meta["chunk_size"])
    rows = res_lib.read_results_csv(run_dir, meta)
    for c in range(meta["n_chunks"]):  # the chunk holding point i (slice, segment: chunks by device and depth)
        saved = restore_params(run_dir, meta, template, c)[f"g{gi:02d}"]
        hit = np.flatnonzero((saved["indices"] == i) & saved["valid"])
        if len(hit):
            break
    else:
        raise res_lib.ResultsError(f"{run_dir}: point {i} is in no saved chunk of params/")
    params = jax.tree.map(lambda a: a[hit[0]], saved["params"])
    masks = jax.tree.map(lambda a: a[hit[0]], saved["masks"])
    return cfg, target, params, masks, int(grid.coords["depth"][i]), float(rows[i]["test_r2"])


def null_scores(run_dir: str, spec: str) -> dict | None:
    """{"C_init", "IIA_init", "IIA_das_init"} (those the run has) of one saved point from results.csv (None for
    runs made before they existed)."""
    meta = read_complete_meta(run_dir)
    i = find_point(grid_lib.make_grid(config_from_meta(meta)), spec)
    row = res_lib.read_results_csv(run_dir, meta)[i]
    if "C_init" not in row:
        return None
    keys = [k for k in ("C_init", "IIA_init", "IIA_das_init") if k in row]
    return {k: float(row[k]) if row[k] not in ("", "nan") else float("nan") for k in keys}


def iter_networks(run_dir: str):
    """Yields (point index, params, masks, depth) of every saved point of a run, restoring each chunk once;
    the order is by chunk and group, not by index. Arrays are numpy, one point each."""
    meta, cfg, grid, groups, target = _saved_layout(run_dir)
    size = meta["chunk_size"]
    template = params_template(cfg, target, groups, size)
    for c in range(meta["n_chunks"]):
        tree = restore_params(run_dir, meta, template, c)
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
    meta = read_complete_meta(run_dir)
    rows = res_lib.read_results_csv(run_dir, meta)
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
