"""What the compositionality metrics cost against training, and what the distributed search's knobs add
(docs/performance.md, "Metrics cost"). Every variant trains the same grid in one process, side by side:

    python benchmarks/bench_metrics.py --json            # demo shape: depth 3, sparsity 0.8, random and sp, 8 seeds
    python benchmarks/bench_metrics.py --steps 300 --seeds 2 --variants off,default   # a quick look

Variants: `off` (metrics.enabled = False), `default` (the config's metrics), and knob changes of the search
(`steps50`, `starts1`, `dim2`, `search0`: das_steps = 0, the start alone). Each variant is compiled and run once
to warm up, then timed over --repeats runs; `overhead` = wall(variant) / wall(off) - 1, compile excluded.
`metrics_overhead_3000` is the default variant's overhead at 3,000 steps (issue target: <= 0.5).
"""

from __future__ import annotations

import argparse
import json
import time

VARIANTS = {
    "off": {"enabled": False},
    "default": {},
    "steps50": {"das_steps": 50},
    "starts1": {"das_starts": 1},
    "dim2": {"das_dim": 2},
    "search0": {"das_steps": 0},
}


def config(steps: int, seeds: int, metrics: dict):
    from sweetspot.config import default_config

    cfg = default_config()
    cfg.grid.method, cfg.grid.depth, cfg.grid.sparsity = ("random", "sp"), (3,), (0.8,)
    cfg.grid.seed = tuple(range(seeds))
    cfg.train.steps, cfg.train.eval_every = steps, steps // 10
    for k, v in metrics.items():
        cfg.metrics[k] = v
    return cfg


def measure(steps: int, seeds: int, names, repeats: int) -> dict:
    import jax

    from sweetspot import grid, sweep
    from sweetspot.validation import validate

    out = {}
    for name in names:
        cfg = validate(config(steps, seeds, VARIANTS[name]))
        _, data = sweep.make_data(cfg)
        t0 = time.perf_counter()
        jax.block_until_ready(grid.run_grid(cfg, data))
        first = time.perf_counter() - t0
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(grid.run_grid(cfg, data))
            times.append(time.perf_counter() - t0)
        out[name] = {"first_call_s": first, "times_s": times, "wall_s": min(times)}
    if "off" in out:
        for r in out.values():
            r["overhead"] = r["wall_s"] / out["off"]["wall_s"] - 1
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seeds", type=int, default=8, help="seeds per method (2 methods)")
    p.add_argument("--variants", default="off,default,steps50,starts1,search0")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    names = a.variants.split(",")
    bad = [n for n in names if n not in VARIANTS]
    if bad:
        raise SystemExit(f"error: --variants {bad}: allowed values are {sorted(VARIANTS)}")
    if "off" not in names:
        raise SystemExit("error: --variants must include 'off' (the overhead is measured against it)")
    res = {"steps": a.steps, "n_points": 2 * a.seeds, "variants": measure(a.steps, a.seeds, names, a.repeats)}
    if a.steps == 3000 and "default" in names:
        res["metrics_overhead_3000"] = res["variants"]["default"]["overhead"]
    if a.json:
        print(json.dumps(res, indent=1))
        return
    for name, r in res["variants"].items():
        print(f"{name:>8}: {r['wall_s']:7.1f} s (first call {r['first_call_s']:.1f} s), "
              f"overhead {100 * r['overhead']:+.0f}%")


if __name__ == "__main__":
    main()
