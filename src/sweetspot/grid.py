"""The grid engine: a whole depth x sparsity x seed (x method x lr x weight decay) map in one jitted call.

docs/method.md, section "Grid engine". Points are the product of the config's axes (`config.AXES` order, last
axis fastest), grouped statically into programs (DEPTH_MODES). Each group's points are vmapped and sharded over
the devices along a 1-D mesh axis "grid" (all processes' devices; docs/scaling.md). A grid larger than
`engine.chunk_size` points per group runs in chunks of the same compiled shape.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from sweetspot import targets
from sweetspot import train as train_lib
from sweetspot.config import AXES, fail, n_train_values

# segment: one program per method, its points sorted by depth, each layer and its optimizer on the points deeper
# than it (a grid of one depth runs group's program); group: one program per (method, depth).
DEPTH_MODES = ("segment", "group")

# engine.cpu_opt_level: XLA's CPU backend (LLVM) optimisation level. XLA_DEFAULT_OPT_LEVEL passes no option; lower
# levels compile faster and change the numbers within float tolerance. Level 0 ran 1.7x slower (docs/performance.md).
CPU_OPT_LEVELS = (1, 2, 3)
XLA_DEFAULT_OPT_LEVEL = 3  # also config.engine.cpu_opt_level's default

# engine.chunk_size = 0 on CPU: about this many points per device per call (activations stay in cache;
# docs/performance.md). Accelerators take each group whole.
CPU_POINTS_PER_DEVICE = 8


@dataclasses.dataclass(frozen=True)
class Grid:
    """The named axes and every point's coordinates (axis -> (n_points,)), flattened in C order."""

    axes: dict[str, tuple]
    coords: dict[str, np.ndarray]
    shape = property(lambda self: tuple(len(v) for v in self.axes.values()))
    n_points = property(lambda self: math.prod(self.shape))


def make_grid(cfg) -> Grid:
    """The product grid of cfg.grid's axes (n_train: config.n_train_values, (target.n_train,) for ())."""
    axes = {a: n_train_values(cfg) if a == "n_train" else tuple(cfg.grid[a]) for a in AXES}
    rows = list(itertools.product(*axes.values()))
    coords = {a: np.array([r[i] for r in rows]) for i, a in enumerate(AXES)}
    return Grid(axes, coords)


def point_keys(root_seed: int, seeds: np.ndarray) -> np.ndarray:
    """Key of every point: fold_in(PRNGKey(root_seed), seed coordinate). Points that differ only in other
    coordinates share init, data order and mask scores (a paired design); nothing depends on batch position."""
    root = jax.random.PRNGKey(root_seed)
    return np.asarray(jax.vmap(lambda s: jax.random.fold_in(root, s))(jnp.asarray(seeds, jnp.uint32)))


@dataclasses.dataclass(frozen=True)
class Group:
    name: str
    method: str
    n_slots: int
    indices: np.ndarray  # grid indices of its points


def make_groups(grid: Grid, depth_mode: str) -> list[Group]:
    """Static program groups: (method, depth) in `group` mode, else method, the indices sorted by depth (stable).
    Runs saved in the retired slice and pad modes (commit 88cc22f) read back with their own group names."""
    max_depth, depth, groups = max(grid.axes["depth"]), grid.coords["depth"], []
    for method in grid.axes["method"]:
        in_method = grid.coords["method"] == method
        if depth_mode == "group":
            groups += [Group(f"{method}/d{d}", method, int(d), np.flatnonzero(in_method & (depth == d)))
                       for d in grid.axes["depth"]]
        else:
            idx = np.flatnonzero(in_method)
            groups.append(Group(f"{method}/{depth_mode}{max_depth}", method, max_depth,
                                idx[np.argsort(depth[idx], kind="stable")]))
    return groups


class Engine:
    """Plans and runs a grid: `run_chunk(c)` trains chunk c of every group in one jitted call. `compile_count`
    counts traces of that call (one per compile). Devices default to all of jax.devices()."""

    def __init__(self, cfg, data: dict, devices=None):
        self.cfg = cfg
        self.grid = make_grid(cfg)
        self.groups = make_groups(self.grid, cfg.engine.depth_mode)
        self.devices = list(devices) if devices is not None else jax.devices()
        # segment mode on one depth: group mode's program
        self.segment = cfg.engine.depth_mode == "segment" and len(self.grid.axes["depth"]) > 1
        self._plan(int(cfg.engine.chunk_size))
        mesh = Mesh(np.array(self.devices), ("grid",))
        self.point_sharding = NamedSharding(mesh, PartitionSpec("grid"))
        self.multiprocess = jax.process_count() > 1
        self.prefix = self._check_pool(data["x_train"].shape[0])
        self.data = self._put(data, NamedSharding(mesh, PartitionSpec()))
        self.keys = point_keys(int(cfg.seed), self.grid.coords["seed"])
        self._train = {g.name: self._make_train(g) for g in self.groups}
        self.compile_count = 0

        def run(points, data):
            return {name: fn(points[name], data) for name, fn in self._train.items()}

        def counted(points, data):
            self.compile_count += 1  # trace-time side effect: once per compile
            return run(points, data)

        self._shapes = lambda points: jax.eval_shape(run, points, self.data)
        self._run = jax.jit(counted, compiler_options=self.compiler_options())

    def _make_train(self, g: Group):
        """The group's jittable (points, data) -> (results, state): the point-wise train vmapped; in segment mode
        vmapped twice, over devices and over each device's depth-sorted points (the fit's static layout)."""
        binary = targets.family(self.cfg.target.family).binary
        n_result_slots = max(self.grid.axes["depth"])
        train = train_lib.make_train(self.cfg, g.n_slots, g.method, n_result_slots, binary, self.layout)
        fn = jax.vmap(train, (0, None))
        if not self.segment:
            return fn
        n_dev = len(self.devices)
        split = lambda a: a.reshape(n_dev, a.shape[0] // n_dev, *a.shape[1:])
        merge = lambda a: a.reshape(a.shape[0] * a.shape[1], *a.shape[2:])
        return lambda points, data: jax.tree.map(merge, jax.vmap(fn, (0, None))(jax.tree.map(split, points), data))

    def _plan(self, chunk_size: int) -> None:
        """chunk_size (points per group per call, a multiple of the device count) and n_chunks; in segment mode
        also the per-device depth layout ((depth, count), ...) that every chunk of every group shares."""
        n_dev = len(self.devices)
        largest = max(len(g.indices) for g in self.groups)
        want = chunk_size or (CPU_POINTS_PER_DEVICE * n_dev if self._on_cpu() else largest)
        if self.segment:
            depths = sorted(self.grid.axes["depth"])
            of = lambda g, d: int((self.grid.coords["depth"][g.indices] == d).sum())
            per_depth = [max(of(g, d) for g in self.groups) for d in depths]
            if not chunk_size and self._on_cpu():  # ~CPU_POINTS_PER_DEVICE in all, not per depth
                want = n_dev * CPU_POINTS_PER_DEVICE / len(depths)
            per_call = max(1, round(want / n_dev))  # points of each depth per device per call
            self.n_chunks = math.ceil(max(per_depth) / (n_dev * per_call))
            counts = [math.ceil(n / (self.n_chunks * n_dev)) for n in per_depth]
            self.layout = tuple((int(d), c) for d, c in zip(depths, counts, strict=True) if c)
            self.chunk_size = n_dev * sum(counts)
            return
        n_chunks = math.ceil(largest / min(want, largest))
        self.chunk_size = n_dev * math.ceil(math.ceil(largest / n_chunks) / n_dev)  # balanced chunks
        self.n_chunks = math.ceil(largest / self.chunk_size)
        self.layout = None

    def compiler_options(self) -> dict | None:
        """XLA options of the one jitted call: on CPU, engine.cpu_opt_level when it is not XLA's default."""
        level = int(self.cfg.engine.cpu_opt_level)
        return {"xla_backend_optimization_level": level} if self._on_cpu() and level != XLA_DEFAULT_OPT_LEVEL else None

    def _on_cpu(self) -> bool:
        return self.devices[0].platform == "cpu"

    def _put(self, tree, sharding):
        """Host arrays -> device arrays. With several processes each one feeds only its own devices' slices
        (every process holds the same host arrays: the grid plan is deterministic)."""
        if not self.multiprocess:
            return jax.device_put(jax.tree.map(jnp.asarray, tree), sharding)
        make = lambda a: jax.make_array_from_callback(np.shape(a), sharding, lambda idx: np.asarray(a)[idx])
        return jax.tree.map(make, tree)

    def _get(self, tree):
        """Device arrays -> full host numpy arrays on every process (an all-gather across processes)."""
        return multihost_utils.process_allgather(tree, tiled=True) if self.multiprocess else jax.device_get(tree)

    def chunk_indices(self, c: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per group: the grid indices of chunk c padded to chunk_size, and which of them are real. In segment mode
        each device's block holds `layout`'s count of points of each depth, in depth order (fillers repeat the
        group's first point of that depth)."""
        if self.segment:
            return {g.name: self._segment_chunk(g, c) for g in self.groups}
        out = {}
        for g in self.groups:
            idx = g.indices[c * self.chunk_size : (c + 1) * self.chunk_size]
            fill = np.full(self.chunk_size - len(idx), idx[0] if len(idx) else g.indices[0], idx.dtype)
            out[g.name] = (np.concatenate([idx, fill]), np.arange(self.chunk_size) < len(idx))
        return out

    def _segment_chunk(self, g: Group, c: int) -> tuple[np.ndarray, np.ndarray]:
        n_dev, depth = len(self.devices), self.grid.coords["depth"]
        idx, valid = [], []
        for j in range(n_dev):
            for d, k in self.layout:
                of_d = g.indices[depth[g.indices] == d]
                take = of_d[(c * n_dev + j) * k : (c * n_dev + j + 1) * k]
                fill = of_d[0] if len(of_d) else g.indices[0]
                idx.append(np.concatenate([take, np.full(k - len(take), fill, g.indices.dtype)]))
                valid.append(np.arange(k) < len(take))
        return np.concatenate(idx), np.concatenate(valid)

    def _check_pool(self, pool: int) -> bool:
        """Whether the points train on prefixes of the training pool (`pool` rows): with grid.n_train given and
        some value below the pool, each point's traced `n_train` selects its first rows. Otherwise (the default
        (), or every value the whole pool) the points carry no n_train and train on the whole pool, exactly as
        before the axis existed. A value above the pool is a ConfigError naming the field."""
        if not self.cfg.grid.n_train:
            return False
        if max(self.grid.axes["n_train"]) > pool:
            fail("grid.n_train", tuple(self.cfg.grid.n_train), f"integers in 1..{pool} (the training pool's rows)")
        return min(self.grid.axes["n_train"]) < pool

    def points(self, indices: np.ndarray) -> dict:
        """The traced per-point values for the given grid indices (n_train only when the points train on
        prefixes of the pool: `_check_pool`)."""
        co = self.grid.coords
        real = {a: co[a][indices].astype(np.float32) for a in ("sparsity", "lr", "weight_decay")}
        rows = {"n_train": co["n_train"][indices].astype(np.int32)} if self.prefix else {}
        return {"key": self.keys[indices], "depth": co["depth"][indices].astype(np.int32), **real, **rows}

    def chunk_points(self, plan: dict) -> dict:
        """{group: traced point values} for a plan from chunk_indices."""
        return {name: self.points(idx) for name, (idx, _) in plan.items()}

    def run_chunk(self, c: int):
        """Trains chunk c. Returns {group: (indices, valid, results, state)} with host numpy arrays."""
        plan = self.chunk_indices(c)
        pts = self.chunk_points(plan)
        out = self._get(self._run(self._put(pts, self.point_sharding), self.data))
        return {name: (idx, valid, *out[name]) for name, (idx, valid) in plan.items()}

    def compile_chunk(self, c: int = 0):
        """Traces, lowers and compiles the one jitted call for chunk c without running it (benchmarks: compile
        time, HLO text via `.as_text()`); returns jax's compiled object."""
        pts = self._put(self.chunk_points(self.chunk_indices(c)), self.point_sharding)
        return self._run.lower(pts, self.data).compile()

    def result_template(self) -> dict:
        """Zero-filled full-grid results (n_points, ...) with the dtypes and shapes `run` produces."""
        shapes = self._shapes(self.chunk_points(self.chunk_indices(0)))
        first = shapes[self.groups[0].name][0]
        return {k: np.zeros((self.grid.n_points, *s.shape[1:]), s.dtype) for k, s in first.items()}


def run(engine: Engine, results: dict | None = None, done: np.ndarray | None = None,
        on_chunk: Callable | None = None) -> tuple[dict, np.ndarray]:
    """Runs every chunk whose points are not all `done`, filling `results` (n_points, ...) in place (allocated
    from the first chunk when None; pass `engine.result_template()` to restore into). on_chunk(c, results, done,
    states) is called after each chunk (checkpointing, progress)."""
    n = engine.grid.n_points
    done = np.zeros(n, bool) if done is None else done
    for c in range(engine.n_chunks):
        plan = engine.chunk_indices(c)
        if all(done[idx[valid]].all() for idx, valid in plan.values()):
            continue
        out = engine.run_chunk(c)
        if results is None:  # allocated from the first chunk (no extra trace for a template)
            first = next(iter(out.values()))[2]
            results = {k: np.zeros((n, *v.shape[1:]), v.dtype) for k, v in first.items()}
        for idx, valid, res, _ in out.values():
            for k, v in res.items():
                results[k][idx[valid]] = v[valid]
            done[idx[valid]] = True
        if on_chunk is not None:
            on_chunk(c, results, done, out)
    return results, done


def run_grid(cfg, data: dict, devices=None) -> dict:
    """Convenience: the whole grid's results as {name: (n_points, ...)} arrays."""
    return run(Engine(cfg, data, devices))[0]
