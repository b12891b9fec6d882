#!/usr/bin/env python
"""Grid-engine benchmark (`make bench`): throughput against the same-shape matmul peak and PyTorch, depth
waste, compile time and memory. docs/performance.md holds the measured figures and how to read them.

    python benchmarks/bench_grid.py            # full run (longer than --quick)
    python benchmarks/bench_grid.py --quick    # about 16 minutes on a quiet 2-core machine (2026-12-01)
    python benchmarks/bench_grid.py --json     # one JSON object instead of the table
    python benchmarks/bench_grid.py --profile  # adds a jax.profiler breakdown of one engine run

Default shape (issue 7): a tree target with arity 2 and 4 levels (16 inputs), width 64, depth 4, minibatch 256,
Adam, random masks at sparsity 0.5, 64 models. Every engine measurement runs in a fresh subprocess whose
XLA_FLAGS set the host device count before jax is imported; PyTorch runs in its own subprocess too, so no
library's idle threads compete with another's. All ratios come from the same invocation (this machine is shared
and noisy: compare ratios, not absolute rates, across runs).

FLOPs: training = 3 x the forward matmul FLOPs (2 * fan_in * fan_out per sample) of the *live* layers (the
depth-d network's d hidden layers and its readout); masks do not reduce executed FLOPs. "Executed" FLOPs count
what the compiled programs run, every filler point of a padded chunk included.

The peak is the best rate any of numpy, jax and torch reaches on the grid's own training matmuls: per live
layer, the forward product (G, B, in) x (G, in, out), the data gradient (G, B, out) x (G, out, in)^T (not for
the first layer) and the weight gradient (G, in, B)^T-form x (G, B, out), timed as one stream. It is sampled at
the start and end of the invocation and, inside each engine worker, before and after every timed run;
`pct_of_peak` is the engine's best run against the best sample of the whole invocation.

Sections that may fail or hang (the engine is under active development; one hang was seen with the metrics on
and 2 host devices) run in their own process with a timeout and are reported, not fatal.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import math
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from sweetspot import config as config_lib  # imports jax, but no backend starts before a worker's XLA_FLAGS apply
from sweetspot import grid as grid_lib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HOST_FLAG = "--xla_force_host_platform_device_count"
DEFAULT_MODE = config_lib.default_config().engine.depth_mode
DEPTH_MODES = (DEFAULT_MODE, *(m for m in grid_lib.DEPTH_MODES if m != DEFAULT_MODE))  # side by side, default first
E1_FULL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sweeps", "regime_map.py:full")
METRICS_STEPS, METRICS_MODELS = 3000, 16  # the metrics-overhead measurement (issue 11: at most +25%)
RESULT_TAG = "BENCH_RESULT "
PAIRED_ROUNDS = 5  # interleaved rounds of the paired throughput check

SHAPE = {"arity": 2, "levels": 4, "width": 64, "depth": 4, "batch": 256, "optimizer": "adam", "sparsity": 0.5,
         "models": 64, "lr": 3e-3}

# Per mode: steps and timed repeats of the headline runs, points per device of the sweet-spot sweep, the
# depths 1-8 grid of the depth-mode comparison (sparsities, seeds, steps; metrics off), the 1,000-point memory grid
# (depths 1-8, metrics on: target 5), the compile-flatness variants (points, steps), the size of the PyTorch
# per-model loops (their rate does not depend on it) and a per-worker timeout in seconds. "chunking": one grid of
# that many points run whole and in calls of that many points per device (engine.chunk_size). "paired_depths":
# seeds per depth, steps and interleaved rounds of the depths 1-8 throughput comparison of the depth modes.
MODES = {
    "quick": {"steps": 200, "repeats": 2, "per_device": (), "chunking": None, "waste": ((0.5,), 8, 20),
              "paired_depths": (8, 500, 3),
              "rss_grid": None, "flat": ((16, 100), (64, 100), (16, 1000)), "loop_models": 4,
              "loop_steps": 100, "torch_rounds": 1, "torch_max_s": 6, "peak_repeats": 2, "timeout": 300},
    "full": {"steps": 500, "repeats": 3, "per_device": (8, 16, 32, 64), "chunking": (256, 8),
             "waste": ((0.5,), 32, 100), "paired_depths": (8, 1000, 3),
             "rss_grid": ((0.0, 0.5, 0.7, 0.8, 0.9), 25, 100),
             "flat": ((16, 100), (64, 100), (256, 100), (16, 1000), (64, 1000), (64, 10000)),
             "loop_models": 8, "loop_steps": 200, "torch_rounds": 2, "torch_max_s": 20, "peak_repeats": 5,
             "timeout": 1200},
}


# ------------------------------------------------------------------------------------------------ FLOPs
def layer_dims(n_in: int, width: int, depth: int) -> list[tuple[int, int]]:
    """(fan_in, fan_out) of the live weight layers of a depth-`depth` network: d hidden layers and the readout."""
    return [(n_in if l == 0 else width, width) for l in range(depth)] + [(width, 1)]


def train_flops(n_in: int, width: int, depth: int, batch: int) -> int:
    """Training FLOPs of one model-step: 3 x the forward matmul FLOPs of the live layers."""
    return 3 * batch * sum(2 * a * b for a, b in layer_dims(n_in, width, depth))


def matmul_mix(n_models: int, n_in: int, width: int, depth: int, batch: int) -> list[tuple[int, int, int, int, str]]:
    """The training matmuls of one step of the grid as (G, M, K, N, form): see the module docstring."""
    ops = []
    for l, (a, b) in enumerate(layer_dims(n_in, width, depth)):
        ops.append((n_models, batch, a, b, "nn"))  # forward: h (B, a) @ w (a, b)
        if l:
            ops.append((n_models, batch, b, a, "nt"))  # data gradient: dy (B, b) @ w^T (b, a)
        ops.append((n_models, a, batch, b, "tn"))  # weight gradient: h^T (a, B) @ dy (B, b)
    return ops


# ------------------------------------------------------------------------------------------------ timing
def best_time(fn, repeats: int = 5, min_s: float = 0.2) -> float:
    fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_s or n >= 1 << 14:
            break
        n *= 2
    best = dt / n
    for _ in range(repeats - 1):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def numpy_mix(ops, repeats: int = 5) -> float:
    rng = np.random.default_rng(0)
    args, flops = [], 0
    for g, m, k, n, form in ops:
        a = rng.standard_normal((g, k, m), np.float32).transpose(0, 2, 1) if form == "tn" else \
            rng.standard_normal((g, m, k), np.float32)
        b = rng.standard_normal((g, n, k), np.float32).transpose(0, 2, 1) if form == "nt" else \
            rng.standard_normal((g, k, n), np.float32)
        args.append((a, b))
        flops += 2 * g * m * k * n

    def once():
        for a, b in args:
            np.matmul(a, b)

    return flops / best_time(once, repeats) / 1e9


def jax_mix(ops, repeats: int = 5) -> float:
    """GFLOP/s of one jitted program running every matmul of the mix (the dot dimensions autodiff emits)."""
    return make_jax_mix(ops)(repeats)


def make_jax_mix(ops):
    """A sampler: sampler(repeats) -> GFLOP/s of the mix (compiled once, sampled many times)."""
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    args, flops, forms = [], 0, []
    for g, m, k, n, form in ops:
        a = rng.standard_normal((g, k, m) if form == "tn" else (g, m, k), np.float32)
        b = rng.standard_normal((g, n, k) if form == "nt" else (g, k, n), np.float32)
        args.append((jnp.asarray(a), jnp.asarray(b)))
        forms.append(form)
        flops += 2 * g * m * k * n
    spec = {"nn": "gmk,gkn->gmn", "nt": "gmk,gnk->gmn", "tn": "gkm,gkn->gmn"}

    @jax.jit
    def run(args):
        return [jnp.einsum(spec[f], a, b) for f, (a, b) in zip(forms, args, strict=True)]

    return lambda repeats=3, min_s=0.2: flops / best_time(lambda: jax.block_until_ready(run(args)), repeats,
                                                           min_s) / 1e9


def peak_rates(ops, repeats: int = 5) -> dict:
    return {"numpy": numpy_mix(ops, repeats), "jax": jax_mix(ops, repeats)}


# ------------------------------------------------------------------------------------------------ workers
def run_worker(kind: str, spec: dict, devices: int | None = None, timeout: float = 1800) -> dict:
    """Runs `kind` in a fresh interpreter (XLA host device count set before jax loads); returns its JSON."""
    env = dict(os.environ)
    if devices:
        flags = re.sub(rf"{HOST_FLAG}=\d+", "", env.get("XLA_FLAGS", ""))
        env["XLA_FLAGS"] = f"{flags} {HOST_FLAG}={devices}".strip()
    if kind == "torch":
        cmd = [sys.executable, os.path.join(HERE, "torch_baselines.py"), "--spec", json.dumps(spec)]
    else:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--spec", json.dumps(spec)]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith(RESULT_TAG)]
    if p.returncode or not lines:
        tail = (p.stderr or p.stdout)[-3000:]
        raise RuntimeError(f"worker {kind} failed (rc={p.returncode}):\n{tail}")
    out = json.loads(lines[-1][len(RESULT_TAG):])
    out["worker_wall_s"] = time.perf_counter() - t0
    return out


def make_cfg(spec: dict):
    """The engine config of a worker spec: the default schema with the benchmark's shape and grid."""
    from sweetspot import config
    from sweetspot.validation import validate

    cfg = config.default_config()
    cfg.target.arity, cfg.target.levels = int(spec["arity"]), int(spec["levels"])
    cfg.model.width = int(spec["width"])
    cfg.train.optimizer = spec["optimizer"]
    cfg.train.steps = int(spec["steps"])
    cfg.train.eval_every = int(spec.get("eval_every") or spec["steps"])
    cfg.train.batch_size = int(spec["batch"])
    cfg.grid.method = ("random",)
    cfg.grid.depth = tuple(int(d) for d in spec["depths"])
    cfg.grid.sparsity = tuple(float(s) for s in spec["sparsities"])
    cfg.grid.lr = (float(spec["lr"]),)
    cfg.grid.weight_decay = (0.0,)
    cfg.grid.seed = tuple(range(int(spec["seeds"])))
    cfg.engine.depth_mode = spec.get("depth_mode", cfg.engine.depth_mode)
    cfg.engine.chunk_size = int(spec.get("chunk_size", 0))
    if "cpu_opt_level" in spec:
        cfg.engine.cpu_opt_level = int(spec["cpu_opt_level"])
    if "metrics" in cfg and "enabled" in cfg.metrics:
        cfg.metrics.enabled = bool(spec.get("metrics", False))
    return validate(cfg)


class CompileClock:
    """Sums jax.monitoring's compile-phase durations (trace, lowering, XLA backend compile) since reset()."""

    def __init__(self):
        import jax

        self.events = collections.Counter()
        jax.monitoring.register_event_duration_secs_listener(self._on)

    def _on(self, name, duration, **_):
        if name.startswith("/jax/core/compile/"):
            self.events[name.rsplit("/", 1)[-1].replace("_duration", "")] += duration

    def reset(self):
        self.events.clear()

    @property
    def total(self) -> float:
        return float(sum(self.events.values()))


def executed_flops(engine, n_in: int, width: int, batch: int, steps: int) -> tuple[float, float]:
    """(executed, useful) training FLOPs of a whole grid run, from the engine's static plan: each group runs
    n_chunks x chunk_size points (filler points included) with n_slots hidden layers."""
    depth = engine.grid.coords["depth"]
    useful = sum(train_flops(n_in, width, int(d), batch) for d in depth) * steps
    layout = getattr(engine, "layout", None)  # segment mode: each device runs `count` points of each depth
    if layout:
        per_chunk = len(engine.devices) * sum(c * train_flops(n_in, width, d, batch) for d, c in layout)
        return float(len(engine.groups) * engine.n_chunks * per_chunk * steps), float(useful)
    executed = sum(engine.n_chunks * engine.chunk_size * train_flops(n_in, width, g.n_slots, batch)
                   for g in engine.groups) * steps
    return float(executed), float(useful)


def aot_compile(engine) -> float | None:
    """Seconds to trace, lower and compile the engine's one jitted call without running it (None when the
    engine's internals this relies on have changed)."""

    try:
        t0 = time.perf_counter()
        engine.compile_chunk(0)
        return time.perf_counter() - t0
    except AttributeError:
        return None


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def engine_job(job: dict, data: dict, clock: CompileClock, export: str | None = None, peak=None) -> dict:
    """Compiles and runs one grid `repeats` (+1 warm-up/compile) times; model-steps/s from the best run.
    With `peak` (a make_jax_mix sampler) the same-shape matmul rate is sampled before every timed run and after
    the last, in this process: the best run against the best of these samples is the "paired" % of peak, so load
    from other processes hits both sides of the ratio alike (and a lucky sample only lowers the figure)."""
    import jax

    from sweetspot import grid

    cfg = make_cfg(job)
    devs = jax.devices()[: int(job.get("n_devices") or len(jax.devices()))]
    engine = grid.Engine(cfg, data, devs)
    n_in = data["x_train"].shape[1]
    captured = []

    def on_chunk(c, results, done, out):
        captured.append(out)

    clock.reset()
    t0 = time.perf_counter()
    results, _ = grid.run(engine, on_chunk=on_chunk if export else None)
    first = time.perf_counter() - t0
    compile_s, phases = clock.total, dict(clock.events)
    times, samples = [], []
    for _ in range(int(job["repeats"])):
        if peak:
            samples.append(peak(3, 0.2))
        t0 = time.perf_counter()
        grid.run(engine)
        times.append(time.perf_counter() - t0)
    if peak and times:
        samples.append(peak(3, 0.2))
    best = min(times) if times else first
    executed, useful = executed_flops(engine, n_in, cfg.model.width, cfg.train.batch_size, cfg.train.steps)
    paired = 100 * useful / best / 1e9 / max(samples) if samples else None
    n_points = engine.grid.n_points
    out = {
        "n_points": n_points, "n_devices": len(devs), "steps": cfg.train.steps, "programs": len(engine.groups),
        "chunk_size": engine.chunk_size, "n_chunks": engine.n_chunks, "compile_s": compile_s,
        "compile_phases": phases, "compile_count": engine.compile_count, "first_run_s": first, "times_s": times,
        "model_steps_per_s": n_points * cfg.train.steps / best, "useful_gflops": useful / best / 1e9,
        "executed_gflops": executed / best / 1e9, "flops_waste": executed / useful,
        "final_train_mse_mean": float(np.nanmean(results["train_loss"])) if "train_loss" in results else None,
        "rss_mb": rss_mb(), "peak_samples": samples, "pct_of_peak_paired": paired,
    }
    if export:
        out["export"] = export_problem(engine, captured, data, export)
    return out


def paired_jobs(jobs: list, data: str, rounds: int) -> dict:
    """Each job's grid compiled and run once, then `rounds` rounds that run every job once in turn: interleaved, so
    load from other processes hits every job alike (this 2-core machine's rates drift by 20% between runs). Per job:
    its run times, model-steps/s at its median time, and that rate over the first job's."""
    from sweetspot import grid

    engines = [grid.Engine(make_cfg(job), load_data(data, job.get("metrics", False))) for job in jobs]
    for engine in engines:
        grid.run(engine)
    times = [[] for _ in engines]
    for _ in range(rounds):
        for engine, t in zip(engines, times, strict=True):
            t0 = time.perf_counter()
            grid.run(engine)
            t.append(time.perf_counter() - t0)
    rates = [e.grid.n_points * e.cfg.train.steps / float(np.median(t)) for e, t in zip(engines, times, strict=True)]
    return {job.get("tag", str(i)): {"times_s": t, "model_steps_per_s": r, "rate_vs_first": r / rates[0]}
            for i, (job, t, r) in enumerate(zip(jobs, times, rates, strict=True))}


def export_problem(engine, chunks: list, data: dict, path: str) -> dict:
    """Writes the engine's own masks (from the state every chunk returns; one program group) and initial weights
    for the torch baselines, in grid order."""
    import jax

    parts = [next(iter(out.values())) for out in chunks]
    name = next(iter(chunks[0]))
    idx = np.concatenate([p[0][p[1]] for p in parts])
    order = np.argsort(idx)
    idx = idx[order]
    valid = np.ones(len(idx), bool)
    masks = {k: np.concatenate([np.asarray(p[3]["masks"][k])[p[1]] for p in parts])[order]
             for k in parts[0][3]["masks"]}
    n_in, width = data["x_train"].shape[1], engine.cfg.model.width
    depth = len(masks) - 1
    try:  # the engine's own init: mlp.init(fold_in(key, KEY_INIT)) per point, masked
        from sweetspot import mlp
        from sweetspot import train as train_lib

        keys = engine.keys[idx]
        act = engine.cfg.model.activation
        params = jax.vmap(lambda k: mlp.init(jax.random.fold_in(k, train_lib.KEY_INIT), n_in, width, depth, act))(
            keys)
        params = jax.tree.map(np.asarray, params)
        init_from = "engine (mlp.init with the points' keys)"
    except Exception as e:  # noqa: BLE001 - the engine's init API moved: fall back to He-normal
        rng = np.random.default_rng(0)
        params = {k: {"w": rng.standard_normal(m.shape).astype(np.float32) * np.sqrt(2.0 / m.shape[1]),
                      "b": np.zeros((m.shape[0], m.shape[2]), np.float32)} for k, m in masks.items()}
        init_from = f"He-normal numpy (engine init unavailable: {type(e).__name__})"
    arrays = {"x_train": data["x_train"], "y_train": data["y_train"]}
    for k, m in masks.items():
        arrays[f"m/{k}"] = m.astype(np.float32)
        arrays[f"w/{k}"] = (np.asarray(params[k]["w"]) * m).astype(np.float32)
        arrays[f"b/{k}"] = np.asarray(params[k]["b"]).astype(np.float32)
    np.savez(path, **arrays)
    live = sum(float(m.sum()) for m in masks.values())
    total = sum(m.size for m in masks.values())
    return {"path": path, "group": name, "models": int(valid.sum()), "masks_from": "engine state",
            "init_from": init_from, "realised_density": live / total}


def profile_job(job: dict, data: dict, trace_dir: str) -> dict:
    """One warm engine run under jax.profiler; the executed XLA thunks aggregated by kind and shape."""
    import jax

    from sweetspot import grid

    cfg = make_cfg(job)
    engine = grid.Engine(cfg, data, jax.devices()[: int(job.get("n_devices") or len(jax.devices()))])
    grid.run(engine)
    hlo = {}
    try:
        text = engine.compile_chunk(0).as_text()
        for line in text.splitlines():
            m = re.match(r"\s*(?:ROOT )?%?([\w.\-]+) = (\S+) (\w[\w\-]*)\((.*)", line)
            if m:
                dims = re.findall(r"(lhs_contracting_dims=\{[\d,]*\}|rhs_contracting_dims=\{[\d,]*\})", m.group(4))
                hlo[m.group(1)] = (m.group(3), m.group(2), " ".join(dims))
    except Exception:  # noqa: BLE001 - labels are a nicety
        pass
    jax.profiler.start_trace(trace_dir)
    t0 = time.perf_counter()
    grid.run(engine)
    wall = time.perf_counter() - t0
    jax.profiler.stop_trace()
    files = []
    for root, _, names in os.walk(trace_dir):
        files += [os.path.join(root, n) for n in names if n.endswith(".trace.json.gz")]
    with gzip.open(max(files, key=os.path.getmtime)) as f:
        events = json.load(f)["traceEvents"]
    agg, calls = collections.Counter(), collections.Counter()
    for e in events:
        name = e.get("name", "")
        if e.get("ph") != "X" or name.startswith("$") or "Execute" in name or "np.asarray" in name \
                or name.startswith(("PjitFunction", "shard_args", "ArrayImpl", "Slinky")):
            continue
        op, shape, dims = hlo.get(name, ("", "", ""))
        base = re.sub(r"\.\d+$", "", name)
        if base in ("dot", "ynn_fusion", "xnn_fusion", "onednn_fusion") or op == "dot":
            key = f"{base} {shape} {dims}".strip()
        elif base.startswith("while"):
            key = "while (threefry RNG loops)"
        elif base.startswith("sort"):
            key = "sort (top-k mask ranking)"
        else:
            key = "elementwise/other fusions"
        agg[key] += e["dur"] / 1e6
        calls[key] += 1
    busy = sum(agg.values())
    steps = cfg.train.steps
    rows = [{"what": k, "s": v, "ms_per_step": 1e3 * v / steps, "pct_of_thunk_time": 100 * v / busy,
             "calls": calls[k]} for k, v in agg.most_common(14)]
    return {"wall_s": wall, "thunk_s": busy, "steps": steps, "n_points": engine.grid.n_points, "rows": rows}


def sweep_engine_args(job: dict):
    """(cfg, data) of a sweep config (job["sweep"] = 'path.py:arg'), with job["depth_mode"] when given: the
    programs a real regime map compiles (compile_s_e1_full)."""
    from sweetspot import config, sweep
    from sweetspot.validation import validate

    cfg = config.load_config(job["sweep"], [])
    if "depth_mode" in job:
        cfg.engine.depth_mode = job["depth_mode"]
    if "cpu_opt_level" in job:
        cfg.engine.cpu_opt_level = int(job["cpu_opt_level"])
    return validate(cfg), sweep.make_data(cfg)[1]


def worker_main(kind: str, spec: dict) -> dict:
    import jax

    out = {"devices": len(jax.devices()), "platform": jax.devices()[0].platform, "rss_start_mb": rss_mb()}
    clock = CompileClock()
    peak = make_jax_mix(spec["mix"]) if spec.get("mix") else None
    if kind == "engine":
        out["jobs"] = [engine_job(job, load_data(spec["data"], job.get("metrics", False)), clock,
                                  export=job.get("export"), peak=peak if job.get("tag") == "head" else None)
                       for job in spec["jobs"]]
    elif kind == "paired":
        out["paired"] = paired_jobs(spec["jobs"], spec["data"], int(spec["rounds"]))
    elif kind == "compile":
        from sweetspot import grid

        rows = []
        for job in spec["jobs"]:
            engine = grid.Engine(*sweep_engine_args(job)) if "sweep" in job else grid.Engine(
                make_cfg(job), load_data(spec["data"], job.get("metrics", False)))
            clock.reset()
            wall = aot_compile(engine)
            if wall is None:  # fallback: the first run's compile phases
                clock.reset()
                grid.run(engine)
                wall = clock.total
            rows.append({"n_points": engine.grid.n_points, "steps": int(engine.cfg.train.steps), "compile_s": wall,
                         "phases": dict(clock.events), "compile_count": engine.compile_count,
                         "programs": len(engine.groups), "depth_mode": engine.cfg.engine.depth_mode,
                         "chunk_size": engine.chunk_size})
        out["jobs"] = rows
    elif kind == "profile":
        job = spec["jobs"][0]
        out["profile"] = profile_job(job, load_data(spec["data"], job.get("metrics", False)), spec["trace_dir"])
    else:
        raise SystemExit(f"unknown worker {kind!r}")
    out["rss_mb"] = rss_mb()
    return out


# ------------------------------------------------------------------------------------------------ driver
def versions() -> dict:
    from importlib import metadata

    out = {"python": platform.python_version()}
    try:  # the engine's code state: the numbers track it
        out["sweetspot"] = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                                          text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        out["sweetspot"] = None
    for pkg in ("jax", "jaxlib", "numpy", "optax", "torch"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "system": platform.platform(), "loadavg_start": os.getloadavg()}


def make_data(work: str) -> str:
    """The engine's data for the benchmark target, probe data for the metrics included when the package has
    them (sweep.make_data), flattened to one .npz ("probe/x_sig", ...)."""
    from sweetspot import config, targets

    cfg = config.default_config()
    cfg.target.arity, cfg.target.levels = SHAPE["arity"], SHAPE["levels"]
    try:
        from sweetspot.sweep import make_data as engine_data

        cfg.metrics.enabled = True
        _, data = engine_data(cfg)
    except (ImportError, AttributeError):
        data = targets.make_splits(targets.make_target(cfg.target), cfg.target)
    flat = {}
    for k, v in data.items():
        if isinstance(v, dict):
            flat.update({f"{k}/{kk}": np.asarray(vv) for kk, vv in v.items()})
        else:
            flat[k] = np.asarray(v)
    path = os.path.join(work, "data.npz")
    np.savez(path, **flat)
    return path


def load_data(path: str, metrics: bool) -> dict:
    """make_data's arrays, re-nested; the probe data (which turns the metrics on) only when `metrics`."""
    data = {}
    for k, v in np.load(path).items():
        head, _, tail = k.partition("/")
        if tail:
            data.setdefault(head, {})[tail] = v
        else:
            data[k] = v
    if not metrics:
        data.pop("probe", None)
    return data


def base_job(steps: int, **kw) -> dict:
    job = {k: SHAPE[k] for k in ("arity", "levels", "width", "batch", "optimizer", "lr")}
    job.update({"steps": steps, "depths": [SHAPE["depth"]], "sparsities": [SHAPE["sparsity"]],
                "seeds": SHAPE["models"]})
    job.update(kw)
    return job


def depths_job(mode: dict, **kw) -> dict:
    """The mode's depths 1-8 grid (MODES "waste": sparsities, seeds per cell, steps; metrics off), one timed run."""
    sparsities, seeds, steps = mode["waste"]
    return base_job(steps, repeats=1, depths=list(range(1, 9)), sparsities=list(sparsities), seeds=seeds, **kw)


def optional(fn):
    """A section that may fail (the engine is under active development) or hang: its error, not a crash."""
    try:
        return fn()
    except (RuntimeError, subprocess.TimeoutExpired, KeyError, ValueError) as e:
        return {"error": f"{type(e).__name__}: {str(e)[-800:]}"}


def opt_levels(data: str, steps: int, mode: dict, n_dev: int, quiet: bool) -> dict:
    """Per engine.cpu_opt_level: compile_s and model-steps/s of the default shape and of the depths 1-8 grid,
    the trace + compile of regime_map.py:full, and each grid's mean final train loss (equal within float
    tolerance across levels, not bit for bit)."""
    from sweetspot.grid import CPU_OPT_LEVELS

    out = {}
    for level in CPU_OPT_LEVELS:
        log(f"compile options: cpu_opt_level={level}", quiet)
        jobs = [base_job(steps, repeats=mode["repeats"], cpu_opt_level=level), depths_job(mode, cpu_opt_level=level)]
        ran = optional(lambda jobs=jobs: run_worker("engine", {"data": data, "jobs": jobs}, devices=n_dev,
                                                    timeout=mode["timeout"])["jobs"])
        e1 = optional(lambda level=level: run_worker("compile", {"data": data, "jobs": [
            {"sweep": E1_FULL, "cpu_opt_level": level}]}, devices=n_dev, timeout=mode["timeout"])["jobs"][0])
        row = {"compile_s_e1_full": e1.get("compile_s"), "e1_full_error": e1.get("error")}
        for name, r in zip(("one_depth", "depths_1_8"), ran if isinstance(ran, list) else [ran, ran], strict=True):
            row.update({f"{name}_{k}": r.get(k) for k in ("compile_s", "model_steps_per_s", "final_train_mse_mean",
                                                            "error")})
        out[level] = row
    return out


def log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_bench(args) -> dict:
    mode = MODES["quick" if args.quick else "full"]
    steps = args.steps or mode["steps"]
    n_dev = args.devices or os.cpu_count() or 1
    quiet = args.json and not args.verbose
    t_start = time.perf_counter()
    res = {"mode": "quick" if args.quick else "full", "shape": dict(SHAPE, steps=steps), "machine": machine(),
           "versions": versions(), "command": " ".join([os.path.basename(sys.executable)] + sys.argv)}
    work = tempfile.mkdtemp(prefix="bench_grid_")
    log(f"data ({work})", quiet)
    data = make_data(work)
    n_in = SHAPE["arity"] ** SHAPE["levels"]
    ops = matmul_mix(SHAPE["models"], n_in, SHAPE["width"], SHAPE["depth"], SHAPE["batch"])
    headline_mm = [(SHAPE["models"], SHAPE["batch"], SHAPE["width"], SHAPE["width"], "nn")]
    log("matmul peak (numpy, jax)", quiet)
    pr = mode["peak_repeats"]
    peaks = {"mix": peak_rates(ops, pr), "headline": peak_rates(headline_mm, pr)}
    flops_step = train_flops(n_in, SHAPE["width"], SHAPE["depth"], SHAPE["batch"])
    res["flops_per_model_step"] = flops_step

    # Engine: the CLI's configuration (every core an XLA host device) and one device.
    problem = os.path.join(work, "problem.npz")
    tmo = mode["timeout"]
    engine = {}
    for nd in sorted({n_dev, 1}, reverse=True):
        log(f"engine, {nd} device(s), {SHAPE['models']} points x {steps} steps", quiet)
        jobs = [base_job(steps, repeats=mode["repeats"], export=problem if nd == n_dev else None, tag="head")]
        if nd == n_dev:  # the default shape in group mode, same worker, side by side
            jobs.append(base_job(steps, repeats=mode["repeats"], depth_mode="group", tag="head_group"))
        for p in mode["per_device"] if nd == n_dev else ():  # one call per grid: chunk_size = its points
            jobs.append(base_job(steps, repeats=max(1, mode["repeats"] - 1), seeds=p * nd, chunk_size=p * nd,
                                 tag="per_device"))
        if mode["chunking"] and nd == n_dev:  # one grid, whole vs in chunks of `per` points per device
            n_pts, per = mode["chunking"]
            for cs in (n_pts, per * nd):  # chunk_size = n_pts: one call (0 lets the engine choose)
                jobs.append(base_job(steps, repeats=2, seeds=n_pts, chunk_size=cs, tag="chunking"))
        engine[nd] = run_worker("engine", {"data": data, "jobs": jobs, "mix": ops}, devices=nd, timeout=tmo)
        peaks["mix"]["jax"] = max([peaks["mix"]["jax"], *engine[nd]["jobs"][0]["peak_samples"]])
        for job, out in zip(jobs, engine[nd]["jobs"], strict=True):
            out["tag"] = job["tag"]
    head = engine[n_dev]["jobs"][0]
    one = engine[1]["jobs"][0]
    res["engine"] = {f"{nd}dev": e["jobs"][0] for nd, e in engine.items()}

    # Throughput, paired: the default shape in segment mode (on one depth group mode's program) against group mode,
    # and segment mode at the lower engine.cpu_opt_level values, interleaved in one worker.
    log("paired throughput: segment vs group, cpu_opt_level 3 vs 2 vs 1", quiet)
    res["paired_throughput"] = optional(lambda: run_worker("paired", {"data": data, "rounds": PAIRED_ROUNDS, "jobs": [
        base_job(steps, depth_mode="segment", tag="segment"), base_job(steps, depth_mode="group", tag="group"),
        base_job(steps, depth_mode="segment", cpu_opt_level=2, tag="segment_opt2"),
        base_job(steps, depth_mode="segment", cpu_opt_level=1, tag="segment_opt1")]}, devices=n_dev,
        timeout=tmo)["paired"])
    pt = res["paired_throughput"]
    res["segment_vs_group_throughput_paired"] = (
        None if "error" in pt else pt["segment"]["model_steps_per_s"] / pt["group"]["model_steps_per_s"])

    # The same on depths 1-8 (where segment mode sorts by depth), paired: segment and group mode interleaved.
    seeds_pd, steps_pd, rounds_pd = mode["paired_depths"]
    log(f"paired throughput, depths 1-8: {' vs '.join(DEPTH_MODES)}", quiet)
    res["paired_depths_1_8"] = optional(lambda: run_worker("paired", {"data": data, "rounds": rounds_pd, "jobs": [
        base_job(steps_pd, depths=list(range(1, 9)), seeds=seeds_pd, depth_mode=dm, tag=dm)
        for dm in DEPTH_MODES]}, devices=n_dev, timeout=tmo)["paired"])

    # The same grid with the compositionality metrics on (target 6), in its own process: one hung there.
    log("engine with metrics on", quiet)
    res["engine_metrics_on"] = optional(lambda: run_worker(
        "engine", {"data": data, "jobs": [base_job(steps, repeats=mode["repeats"] - 1, metrics=True)]}, devices=n_dev,
        timeout=tmo)["jobs"][0])
    mo = res["engine_metrics_on"]
    res["metrics_overhead"] = None if "error" in mo else head["model_steps_per_s"] / mo["model_steps_per_s"] - 1

    # Issue 11's budget: the metrics (probes, interventions, the untrained null) against training at 3,000 steps,
    # the regime maps' step count, metrics off and on side by side in one worker.
    log(f"metrics overhead at {METRICS_STEPS} steps", quiet)
    pair = optional(lambda: run_worker("engine", {"data": data, "jobs": [
        base_job(METRICS_STEPS, repeats=1, seeds=METRICS_MODELS, metrics=m) for m in (False, True)]},
        devices=n_dev, timeout=tmo)["jobs"])
    if isinstance(pair, dict):
        res["metrics_overhead_3000"] = pair
    else:
        off, on = pair
        res["metrics_overhead_3000"] = {"steps": METRICS_STEPS, "n_points": off["n_points"],
                                        "wall_off_s": min(off["times_s"]), "wall_on_s": min(on["times_s"]),
                                        "overhead": min(on["times_s"]) / min(off["times_s"]) - 1}
    res["metrics_overhead_at_3000_steps"] = res["metrics_overhead_3000"].get("overhead")

    # PyTorch on identical work (the engine's masks and initial weights).
    torch_res = None
    if args.no_torch:
        res["torch"] = {"available": False, "reason": "--no-torch"}
    else:
        log("torch baselines", quiet)
        tspec = {"npz": problem, "steps": steps, "batch": SHAPE["batch"], "lr": SHAPE["lr"], "mix": ops,
                 "headline_mm": headline_mm, "loop_steps": mode["loop_steps"], "loop_models": mode["loop_models"],
                 "rounds": mode["torch_rounds"], "max_s": mode["torch_max_s"]}
        try:
            torch_res = run_worker("torch", tspec, timeout=tmo)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            torch_res = {"available": False, "reason": str(e)[-500:]}
        res["torch"] = torch_res
        if not torch_res.get("available"):
            torch_res = None

    # Depth waste: a grid of depths 1-8 in each depth mode (metrics off: training is compared).
    waste = {}
    sparsities, seeds, _ = mode["waste"]
    for dm in DEPTH_MODES:
        log(f"depth waste: depths 1-8, {8 * len(sparsities) * seeds} points, depth_mode={dm}", quiet)
        job = depths_job(mode, depth_mode=dm)
        waste[dm] = optional(lambda job=job: run_worker("engine", {"data": data, "jobs": [job]}, devices=n_dev,
                                                        timeout=tmo)["jobs"][0])
    res["depth_waste"] = waste

    # Memory (target 5): a 1,000-point grid of depths 1-8, one run each in its own process, metrics off and on.
    if mode["rss_grid"]:
        sp, sd, st = mode["rss_grid"]
        for key, metrics in (("rss_grid", False), ("rss_grid_metrics", True)):
            log(f"memory: {8 * len(sp) * sd} points, depths 1-8, metrics {'on' if metrics else 'off'}", quiet)
            job = base_job(st, repeats=0, depths=list(range(1, 9)), sparsities=list(sp), seeds=sd, metrics=metrics)
            res[key] = optional(lambda job=job: run_worker("engine", {"data": data, "jobs": [job]}, devices=n_dev,
                                                           timeout=tmo)["jobs"][0])

    # Compile flatness: one-depth grids at several sizes and step counts (AOT: traced and compiled, not run).
    log("compile flatness", quiet)
    flat_jobs = [base_job(s, seeds=n) for n, s in mode["flat"]]
    res["compile_flatness"] = optional(lambda: run_worker("compile", {"data": data, "jobs": flat_jobs},
                                                          devices=n_dev, timeout=tmo)["jobs"])

    # Trace + compile of the full regime map's programs (sweeps/regime_map.py:full, metrics on), no training, in
    # every depth mode side by side (--quick: the default only).
    e1 = {}
    for dm in DEPTH_MODES if not args.quick else (DEFAULT_MODE,):
        log(f"compile of regime_map.py:full, depth_mode={dm}", quiet)
        e1[dm] = optional(lambda dm=dm: run_worker("compile", {"data": data, "jobs": [
            {"sweep": E1_FULL, "depth_mode": dm}]}, devices=n_dev, timeout=tmo)["jobs"][0])
    res["compile_e1_full"] = e1
    res["compile_s_e1_full"] = e1[DEFAULT_MODE].get("compile_s")
    res["programs_e1_full"] = e1[DEFAULT_MODE].get("programs")

    # Compile options (engine.cpu_opt_level, grid.CPU_OPT_LEVELS): at every level side by side, the default shape
    # and the depths 1-8 grid compiled and run (one worker per level), and the full regime map traced and compiled.
    res["compile_by_opt_level"] = opt_levels(data, steps, mode, n_dev, quiet)

    if args.profile:
        log("profile", quiet)
        pjob = base_job(min(steps, 300), n_devices=1)
        res["profile_1dev"] = optional(lambda: run_worker(
            "profile", {"data": data, "jobs": [pjob], "trace_dir": os.path.join(work, "trace")}, devices=1,
            timeout=tmo)["profile"])

    if not args.quick:
        log("matmul peak again (numpy, jax)", quiet)
        for key, o in (("mix", ops), ("headline", headline_mm)):
            again = peak_rates(o, pr)
            peaks[key] = {k: max(v, again[k]) for k, v in peaks[key].items()}
    if torch_res:
        peaks["mix"]["torch"] = max(torch_res["matmul_mix"]["gflops"], torch_res["matmul_mix_after"]["gflops"])
        peaks["headline"]["torch"] = torch_res["matmul_headline"]["gflops"]
    res["matmul_peak_gflops"] = peaks
    best_lib = max(peaks["mix"], key=peaks["mix"].get)
    peak = peaks["mix"][best_lib]
    res["peak_gflops"], res["peak_library"] = peak, best_lib

    # Summary keys (tracked over time).
    res["model_steps_per_s"] = head["model_steps_per_s"]
    res["gflops"] = head["useful_gflops"]
    # The tracked figure sets the best run against the best matmul sample of any library anywhere in the invocation
    # (the engine workers sample the jax stream around their timed runs, so a quiet moment anywhere counts); the
    # "paired" one only against the samples of its own process (optimistic when load hits the samples harder).
    res["pct_of_peak"] = 100 * head["useful_gflops"] / peak
    res["pct_of_peak_1dev"] = 100 * one["useful_gflops"] / peak
    res["pct_of_peak_paired"] = head["pct_of_peak_paired"]
    res["sharded_speedup"] = head["model_steps_per_s"] / one["model_steps_per_s"]
    hg = next(j for j in engine[n_dev]["jobs"] if j["tag"] == "head_group")
    res["head_group_mode"] = {k: hg[k] for k in ("model_steps_per_s", "compile_s", "times_s")}
    res["default_vs_group_throughput"] = head["model_steps_per_s"] / hg["model_steps_per_s"]
    res["vs_torch_batched"] = res["vs_torch_loop"] = res["vs_torch_loop_fused"] = res["vs_torch_loop_module"] = None
    if torch_res:
        tb = max(torch_res["batched"]["model_steps_per_s"], torch_res["batched_fused"]["model_steps_per_s"])
        res["vs_torch_batched"] = head["model_steps_per_s"] / tb
        res["vs_torch_loop"] = head["model_steps_per_s"] / torch_res["loop"]["model_steps_per_s"]
        res["vs_torch_loop_fused"] = head["model_steps_per_s"] / torch_res["loop_fused"]["model_steps_per_s"]
        res["vs_torch_loop_module"] = head["model_steps_per_s"] / torch_res["loop_module"]["model_steps_per_s"]
    res["flops_waste"] = None
    res["flops_waste_by_mode"] = {dm: waste[dm].get("flops_waste") for dm in waste}
    res["programs"] = head["programs"]
    if "error" not in waste[DEFAULT_MODE]:
        res["flops_waste"] = waste[DEFAULT_MODE]["flops_waste"]
    res["depth_wall_s_by_mode"] = {dm: min(w["times_s"]) if "error" not in w and w["times_s"] else None
                                   for dm, w in waste.items()}
    res["compile_s"] = head["compile_s"]
    res["compile_depths_1_8_s"] = {dm: waste[dm].get("compile_s") for dm in waste}
    flat = [r["compile_s"] for r in res["compile_flatness"]] if isinstance(res["compile_flatness"], list) else []
    res["compile_flatness_max_over_min"] = max(flat) / min(flat) if flat else None
    rss, rssm = res.get("rss_grid"), res.get("rss_grid_metrics")
    if rssm and "error" not in rssm:
        res["peak_rss_mb"] = rssm["rss_mb"]
        res["peak_rss_of"] = (f"{rssm['n_points']}-point grid, depths 1-8, metrics on, {rssm['steps']} steps, "
                              f"{rssm['n_devices']} device(s): the whole worker process")
    elif rss and "error" not in rss:
        res["peak_rss_mb"] = rss["rss_mb"]
        res["peak_rss_of"] = (f"{rss['n_points']}-point grid, depths 1-8, metrics OFF (with them on the run failed, "
                              f"see rss_grid_metrics), {rss['steps']} steps, {rss['n_devices']} device(s)")
    else:
        src = waste["group"] if "error" not in waste["group"] else head
        res["peak_rss_mb"] = src["rss_mb"]
        res["peak_rss_of"] = (f"{src['n_points']}-point grid, metrics off, {src['n_devices']} device(s) (the "
                              "1,000-point grid runs without --quick)")
    chunked = [j for j in engine[n_dev]["jobs"] if j["tag"] == "chunking"]
    if chunked:
        res["chunking"] = {"n_points": chunked[0]["n_points"], "whole": chunked[0]["model_steps_per_s"],
                           "chunk_size": chunked[1]["chunk_size"], "chunked": chunked[1]["model_steps_per_s"],
                           "speedup": chunked[1]["model_steps_per_s"] / chunked[0]["model_steps_per_s"]}
    if mode["per_device"]:  # one call per grid (chunk_size = its points); the headline's own chunking left out
        sweep = [(j["n_points"] // j["n_devices"], j["model_steps_per_s"]) for j in engine[n_dev]["jobs"]
                 if j["tag"] == "per_device"]
        res["per_device_sweep"] = sorted(sweep)
        res["per_device_best"] = max(sweep, key=lambda t: t[1])[0]
    res["machine"]["loadavg_end"] = os.getloadavg()
    res["wall_s"] = time.perf_counter() - t_start
    return res


# ------------------------------------------------------------------------------------------------ report
def fmt(v, spec=".0f", none="n/a"):
    return none if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def table(res: dict) -> str:
    s, m, v = res["shape"], res["machine"], res["versions"]
    peaks = res["matmul_peak_gflops"]
    torch_res = res["torch"] if res["torch"].get("available") else None
    head = res["engine"][max(res["engine"], key=lambda k: int(k[:-3]))]
    busy = max(m["loadavg_start"][0], m["loadavg_end"][0]) > 0.5 * (m["cpus"] or 1) + 0.5
    lines = [
        f"sweetspot grid benchmark ({res['mode']}): tree target k={s['arity']} L={s['levels']} "
        f"({s['arity'] ** s['levels']} inputs), width {s['width']}, depth {s['depth']}, minibatch {s['batch']}, "
        f"{s['optimizer']}, random masks at sparsity {s['sparsity']}, {s['models']} models, {s['steps']} steps",
        f"machine: {m['cpus']} CPU cores ({m['cpu']}), load average {m['loadavg_start'][0]:.2f} at start, "
        f"{m['loadavg_end'][0]:.2f} at end" + ("  << BUSY: rates are noisy" if busy else ""),
        "versions: " + ", ".join(f"{k} {x}" for k, x in v.items() if x),
        f"training FLOPs per model-step (3 x live forward matmuls): {res['flops_per_model_step'] / 1e6:.2f} MFLOP",
        "same-shape batched-matmul peak, training mix (GFLOP/s): "
        + ", ".join(f"{k} {x:.0f}" for k, x in peaks["mix"].items())
        + f"  -> peak {res['peak_gflops']:.0f} ({res['peak_library']})",
        "  forward shape alone, 64 x (256x64 @ 64x64): "
        + ", ".join(f"{k} {x:.0f}" for k, x in peaks["headline"].items()),
        "",
    ]
    rows = []

    def ratio(rate, *keys):
        if not torch_res:
            return "n/a"
        return f"{rate / max(torch_res[k]['model_steps_per_s'] for k in keys):.2f}x"

    def row(label, rate, gflops, compile_s="-", rss="-", pct=None):
        pct = 100 * gflops / res["peak_gflops"] if pct is None else pct
        rows.append((label, f"{rate:,.0f}", f"{gflops:.0f}", f"{pct:.0f}%",
                     ratio(rate, "batched", "batched_fused"), ratio(rate, "loop"), ratio(rate, "loop_fused"),
                     ratio(rate, "loop_module"), compile_s, rss))

    for k in sorted(res["engine"], key=lambda k: -int(k[:-3])):
        e = res["engine"][k]
        row(f"JAX engine, {e['n_devices']} device(s)", e["model_steps_per_s"], e["useful_gflops"],
            f"{e['compile_s']:.1f}", f"{e['rss_mb']:,.0f}")
    if torch_res:
        for key, label in (("batched", "torch hand-batched (baddbmm)"), ("batched_fused", "  same, fused Adam"),
                           ("loop", "torch per-model loop (functional)"), ("loop_fused", "  same, fused Adam"),
                           ("loop_module", "torch per-model loop (nn.Module)")):
            rate = torch_res[key]["model_steps_per_s"]
            row(label, rate, rate * res["flops_per_model_step"] / 1e9)
    hdr = ("run", "model-steps/s", "GFLOP/s", "% peak", "vs torch batched", "vs torch loop", "vs loop fused",
           "vs nn.Module loop", "compile s", "RSS MB")
    widths = [max(len(str(r[i])) for r in [hdr, *rows]) for i in range(len(hdr))]
    for r in [hdr, *rows]:
        lines.append("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    lines.append(f"(% peak: against the peak above, the best sample of the invocation, the engine workers' own samples "
                 f"of the jax stream included; the 2-device engine against the samples of its own process only: "
                 f"{fmt(res['pct_of_peak_paired'])}%)")
    if not torch_res:
        lines.append(f"(PyTorch columns skipped: {res['torch'].get('reason', 'torch unavailable')})")
    else:
        lines.append(f"(torch {torch_res['version']}, {torch_res['threads']} threads. \"vs torch batched\": against "
                     "the faster of its two Adam variants. The per-model loops ran "
                     f"{torch_res['loop']['models']} models x {torch_res['loop']['steps']} steps: their rate does not "
                     "depend on the number of models.)")
        ex = head.get("export", {})
        lines.append(f"sanity, mean final train MSE: engine {fmt(head['final_train_mse_mean'], '.4f')}, torch batched "
                     f"{torch_res['batched']['final_train_mse_mean']:.4f}; masks from the {ex.get('masks_from', '?')}, "
                     f"init: {ex.get('init_from', '?')}")
    lines.append("")
    lines.append((f"targets: % of peak {res['pct_of_peak']:.0f}% (>= 70); vs torch batched "
                  f"{fmt(res['vs_torch_batched'], '.2f')}x (>= 1.5); vs torch loop {fmt(res['vs_torch_loop'], '.1f')}x "
                  f"(>= 8; nn.Module loop {fmt(res['vs_torch_loop_module'], '.1f')}x);\n"
                  f"         sharded {head['n_devices']} devices vs 1: {res['sharded_speedup']:.2f}x; "
                  f"default depth mode vs group mode, same worker: {res['default_vs_group_throughput']:.2f}x "
                  f"(compile {head['compile_s']:.1f} s vs {res['head_group_mode']['compile_s']:.1f} s)"
                  ).replace("n/ax", "n/a"))
    for key, what in (("paired_throughput", f"paired ({PAIRED_ROUNDS} interleaved rounds, median)"),
                      ("paired_depths_1_8", "paired, depths 1-8")):
        pt = res[key]
        if "error" in pt:
            lines.append(f"         {what}: FAILED ({pt['error'][:300]})")
            continue
        lines.append(f"         {what}: " + ", ".join(
            f"{k} {v['model_steps_per_s']:,.0f} model-steps/s ({v['rate_vs_first']:.2f}x)" for k, v in pt.items()))
    mo = res["engine_metrics_on"]
    if "error" in mo:
        lines.append(f"         metrics on: FAILED ({mo['error'][:300]})")
    else:
        lines.append(f"         metrics on: {mo['model_steps_per_s']:,.0f} model-steps/s, "
                     f"+{100 * res['metrics_overhead']:.0f}% wall time over training alone at {mo['steps']} steps, "
                     f"compile {mo['compile_s']:.1f} s")
    m3 = res["metrics_overhead_3000"]
    if "error" in m3:
        lines.append(f"         metrics at {METRICS_STEPS} steps: FAILED ({m3['error'][:300]})")
    else:
        lines.append(f"         metrics at {m3['steps']} steps ({m3['n_points']} points): "
                     f"{m3['wall_off_s']:.1f} s off, {m3['wall_on_s']:.1f} s on, "
                     f"+{100 * m3['overhead']:.0f}% (target <= 25%)")
    w = res["depth_waste"]
    lines.append("")
    g0 = next((w[dm] for dm in DEPTH_MODES if "error" not in w[dm]), {})
    lines.append(f"depths 1-8 ({g0.get('n_points', '?')} points, {g0.get('steps', '?')} steps, metrics off; "
                 "target: executed/useful <= 1.1, compile <= 8 s):")
    for dm in DEPTH_MODES:
        e = w[dm]
        if "error" in e:
            lines.append(f"  depth_mode={dm:7s}: FAILED ({e['error'][:300]})")
            continue
        lines.append(f"  depth_mode={dm:7s}: executed/useful FLOPs {e['flops_waste']:.2f}, {e['programs']} program(s), "
                     f"compile {e['compile_s']:.1f} s, run {min(e['times_s']):.1f} s, peak RSS {e['rss_mb']:,.0f} MB")
    lines.append("")
    lines.append("compile of sweeps/regime_map.py:full (metrics on; trace + lower + XLA compile of chunk 0, not run):")
    for dm, e in res["compile_e1_full"].items():
        lines.append(f"  depth_mode={dm:7s}: " + (f"FAILED ({e['error'][:300]})" if "error" in e else
                     f"{e['programs']} program(s), {e['n_points']} points, chunk {e['chunk_size']}: "
                     f"{e['compile_s']:.1f} s"))
    lines.append("")
    lines.append("engine.cpu_opt_level (XLA CPU backend optimisation level; 3 = XLA's default), side by side:")
    for level, e in res["compile_by_opt_level"].items():
        lines.append(f"  level {level}: one depth compile {fmt(e['one_depth_compile_s'], '.1f')} s, "
                     f"{fmt(e['one_depth_model_steps_per_s'], ',.0f')} model-steps/s; depths 1-8 compile "
                     f"{fmt(e['depths_1_8_compile_s'], '.1f')} s; regime_map.py:full compile "
                     f"{fmt(e['compile_s_e1_full'], '.1f')} s; "
                     f"final train loss {fmt(e['one_depth_final_train_mse_mean'], '.6g')}")
    lines.append("")
    lines.append("compile time of a one-depth grid (trace + lower + XLA compile, not run; target <= 2 s, flat):")
    if isinstance(res["compile_flatness"], list):
        lines.append("  " + "; ".join(f"{r['n_points']} points x {r['steps']} steps: {r['compile_s']:.1f} s"
                                      for r in res["compile_flatness"])
                     + f"  (max/min {res['compile_flatness_max_over_min']:.2f})")
    else:
        lines.append(f"  FAILED ({res['compile_flatness']['error'][:300]})")
    if "per_device_sweep" in res:
        lines.append("")
        lines.append(f"points per device on {head['n_devices']} devices (model-steps/s): "
                     + ", ".join(f"{p}: {r:,.0f}" for p, r in res["per_device_sweep"])
                     + f"  -> best {res['per_device_best']}")
    if "chunking" in res:
        c = res["chunking"]
        lines.append(f"one {c['n_points']}-point grid, whole vs engine.chunk_size={c['chunk_size']} "
                     f"({c['chunk_size'] // head['n_devices']} points per device per call): {c['whole']:,.0f} vs "
                     f"{c['chunked']:,.0f} model-steps/s ({c['speedup']:.2f}x)")
    lines.append("")
    for key, label in (("rss_grid", "metrics off"), ("rss_grid_metrics", "metrics on")):
        rg = res.get(key)
        if rg and "error" in rg:
            lines.append(f"1,000-point grid, {label}: FAILED ({rg['error'][-300:]})")
        elif rg:
            lines.append(f"1,000-point grid (depths 1-8, {label}, {rg['steps']} steps, {rg['n_devices']} devices): "
                         f"compile {rg['compile_s']:.1f} s, first run {rg['first_run_s']:.1f} s (compile included), "
                         f"peak RSS {rg['rss_mb']:,.0f} MB")
    lines.append(f"peak RSS: {res['peak_rss_mb']:,.0f} MB ({res['peak_rss_of']}; target < 3,000 MB)")
    if "profile_1dev" in res and "error" not in res["profile_1dev"]:
        p = res["profile_1dev"]
        lines.append("")
        lines.append(f"profile (jax.profiler, 1 device, {p['n_points']} points x {p['steps']} steps): wall "
                     f"{p['wall_s']:.2f} s, XLA thunk time {p['thunk_s']:.2f} s")
        for r in p["rows"]:
            lines.append(f"  {r['ms_per_step']:7.3f} ms/step {r['pct_of_thunk_time']:5.1f}%  {r['what']}")
    lines.append("")
    lines.append(f"benchmark wall time {res['wall_s']:.0f} s")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description="Grid-engine benchmark (issue 7).")
    p.add_argument("--quick", action="store_true", help="the short version (about 16 minutes on 2 cores)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--profile", action="store_true", help="add a jax.profiler breakdown of one engine run")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch baselines")
    p.add_argument("--steps", type=int, default=0, help="steps of the headline runs (default: by mode)")
    p.add_argument("--devices", type=int, default=0, help="host devices of the sharded runs (default: cores)")
    p.add_argument("--verbose", action="store_true", help="progress on stderr even with --json")
    p.add_argument("--save", help="also write the JSON object to this file")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--spec", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(RESULT_TAG + json.dumps(worker_main(args.worker, json.loads(args.spec))), flush=True)
        return
    res = run_bench(args)
    if args.save:
        with open(args.save, "w") as f:
            json.dump(res, f, indent=1, default=float)
    print(json.dumps(res, default=float) if args.json else table(res))


if __name__ == "__main__":
    main()
