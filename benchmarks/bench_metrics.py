"""What the compositionality metrics cost against training, and what the distributed search's knobs add
(docs/performance.md, "Metrics cost"). Every variant trains the same grid in one process, side by side:

X
    python benchmarks/bench_metrics.py --shape demo --repeats 0 --variants off,default --json   # the demo's 240 points
    python benchmarks/bench_metrics.py --steps 300 --seeds 2 --variants off,default   # a quick look

Variants: `off` (metrics.enabled = False), `default` (the config's metrics), and knob changes of the search
(`steps50`, `starts1`, `dim2`, `search0`: das_steps = 0, the start alone). Each variant's engine runs the grid
once (its first call: compile and run), then --repeats more times on the compiled program; `wall_s` is the
fastest repeat (run time), or the first call with --repeats 0. `overhead` = wall(variant) / wall(off) - 1, and
`first_call_overhead` the same on first calls (compile included); `cpu_overhead` and `first_call_cpu_overhead` the
same on this process's CPU time (every thread), which a busy machine does not inflate; `load_average` is read
after each variant. `--shape demo` is `make demo`'s grid
(sweeps/regime_map.py: 240 points, depths 1-6, run in chunks).
`metrics_overhead_3000` is the default variant's overhead at 3,000 steps (issue target: <= 0.5).
"""

from __future__ import annotations

import argparse
import json
import os
import time

VARIANTS = {
    "off": {"enabled": False},
    "default": {},
    "steps50": {"das_steps": 50},
    "starts1": {"das_starts": 1},
    "dim2": {"das_dim": 2},
    "search0": {"das_steps": 0},
}


def config(steps: int, seeds: int, metrics: dict, shape: str = "bench"):
    from sweetspot.config import default_config

    if shape == "demo":
        import importlib.util

        spec = importlib.util.spec_from_file_location("regime_map", "sweeps/regime_map.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        cfg = module.get_config()
    else:
        cfg = default_config()
        cfg.grid.method, cfg.grid.depth, cfg.grid.sparsity = ("random", "sp"), (3,), (0.8,)
        cfg.grid.seed = tuple(range(seeds))
    cfg.train.steps, cfg.train.eval_every = steps, steps // 10
    for k, v in metrics.items():
        cfg.metrics[k] = v
    return cfg


def measure(steps: int, seeds: int, names, repeats: int, shape: str = "bench") -> dict:
    import jax

    from sweetspot import grid, sweep
    from sweetspot.validation import validate

    out = {}
    for name in names:
        cfg = validate(config(steps, seeds, VARIANTS[name], shape))
        _, data = sweep.make_data(cfg)
        engine = grid.Engine(cfg, data)  # one engine: its jitted call compiles on the first run only

        def timed(engine=engine):  # (wall s, CPU s of this process's threads): a busy machine does not inflate CPU s
            t0, c0 = time.perf_counter(), time.process_time()
            jax.block_until_ready(grid.run(engine)[0])
            return time.perf_counter() - t0, time.process_time() - c0

        first, first_cpu = timed()
        runs = [timed() for _ in range(repeats)]
        times = [w for w, _ in runs]
        out[name] = {"first_call_s": first, "first_call_cpu_s": first_cpu, "times_s": times,
                     "wall_s": min(times) if times else first, "cpu_s": min(c for _, c in runs) if runs else first_cpu,
                     "load_average": os.getloadavg()}
    if "off" in out:
        off = out["off"]
        for r in out.values():
            r["overhead"] = r["wall_s"] / off["wall_s"] - 1
            r["first_call_overhead"] = r["first_call_s"] / off["first_call_s"] - 1
            r["cpu_overhead"] = r["cpu_s"] / off["cpu_s"] - 1
            r["first_call_cpu_overhead"] = r["first_call_cpu_s"] / off["first_call_cpu_s"] - 1
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seeds", type=int, default=8, help="seeds per method (2 methods)")
    p.add_argument("--variants", default="off,default,steps50,starts1,search0")
    p.add_argument("--repeats", type=int, default=1, help="timed runs after the first call (0: the first call)")
    p.add_argument("--shape", choices=("bench", "demo"), default="bench")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    names = a.variants.split(",")
    bad = [n for n in names if n not in VARIANTS]
    if bad:
        raise SystemExit(f"error: --variants {bad}: allowed values are {sorted(VARIANTS)}")
    if "off" not in names:
        raise SystemExit("error: --variants must include 'off' (the overhead is measured against it)")
    if a.repeats < 0 or a.steps < 10:
        raise SystemExit(f"error: --repeats={a.repeats}, --steps={a.steps}: allowed are repeats >= 0, steps >= 10")
    from sweetspot.cli import set_host_devices

    set_host_devices(os.cpu_count() or 1)  # one XLA host device per core, as `make demo` runs (before jax loads)
    res = {"steps": a.steps, "shape": a.shape, "variants": measure(a.steps, a.seeds, names, a.repeats, a.shape)}
    if a.steps == 3000 and "default" in names:
        res["metrics_overhead_3000"] = res["variants"]["default"]["overhead"]
    if a.json:
        print(json.dumps(res, indent=1))
        return
    for name, r in res["variants"].items():
        print(f"{name:>8}: {r['wall_s']:7.1f} s (first call {r['first_call_s']:.1f} s), "
              f"overhead {100 * r['overhead']:+.0f}%, first call {100 * r['first_call_overhead']:+.0f}% "
              f"(CPU time: {100 * r['cpu_overhead']:+.0f}%, first call {100 * r['first_call_cpu_overhead']:+.0f}%)")


if __name__ == "__main__":
    main()
