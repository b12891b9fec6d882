#!/usr/bin/env python
"""The GPU figures of docs/performance.md (issue 7: "if a GPU is lent, run the benchmark and E1's full map on it
once"). One process, everything on the first accelerator jax sees:

- the same-shape batched-matmul rate (jax; torch too when it sees CUDA) for 64, 1,024 and 4,096 models;
- the engine on the benchmark's default shape (bench_grid.SHAPE) at 64, 1,024 and 4,096 points: model-steps/s,
  GFLOP/s (3 x live forward matmul FLOPs), compile time; the metrics on at 64 and 1,024 points;
- PyTorch hand-batched (baddbmm) on CUDA on identical work (the engine's masks and initial weights, tiled);
- depths 1-8 in every depth mode (segment, group; 256 points);
- issue 15: the trace + compile of sweeps/regime_map.py:full's program(s) per depth mode (no training), and, with
  --e1-meta (the meta.json of the CLI's run of that map, whose wall_s includes compile), the summary keys
  gpu_e1_full_wall_s, gpu_compile_s, gpu_model_steps_per_s and gpu_pct_of_peak.

    XLA_PYTHON_CLIENT_PREALLOCATE=false python benchmarks/gpu_check.py --out DIR [--steps 1000] [--e1-meta M]

Writes DIR/gpu.json and prints a table. E1's full map runs separately through the CLI (benchmarks/gpu_run.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_grid as bench  # noqa: E402
import torch_baselines  # noqa: E402


def tile_problem(problem: dict, reps: int) -> dict:
    out = {k: v for k, v in problem.items() if not k.startswith(("w/", "b/", "m/"))}
    for k, v in problem.items():
        if k.startswith(("w/", "b/", "m/")):
            out[k] = np.concatenate([v] * reps)
    return out


def e1_full(res: dict, meta_path: str | None, sizes: list, clock) -> None:
    """Issue 15's GPU figures: compile of the full regime map per depth mode; the CLI run's wall and rate."""
    from sweetspot import grid

    res["compile_e1_full"] = {}
    for dm in (bench.DEFAULT_MODE,):  # group mode: 24 programs, about 210 s on an H200 (docs/gpu_e1.md)
        engine = grid.Engine(*bench.sweep_engine_args({"sweep": bench.E1_FULL, "depth_mode": dm}))
        wall = bench.aot_compile(engine)
        res["compile_e1_full"][dm] = {"compile_s": wall, "programs": len(engine.groups), "chunk": engine.chunk_size}
        print(f"regime_map.py:full, {dm}: {len(engine.groups)} program(s), compile {wall:.1f} s", flush=True)
    res["gpu_compile_s"] = res["compile_e1_full"][bench.DEFAULT_MODE]["compile_s"]
    big = res["engine"][sizes[-1]]
    res["gpu_pct_of_peak"] = 100 * big["useful_gflops"] / res["peak_jax"][sizes[-1]]
    if meta_path and os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        n = int(np.prod([len(v) for v in meta["axes"].values()]))
        res["gpu_e1_full_wall_s"] = meta.get("wall_s")
        steps = meta["config"]["train"]["steps"]
        res["gpu_model_steps_per_s"] = n * steps / meta["wall_s"] if steps and meta.get("wall_s") else None
        print(f"regime_map.py:full via the CLI: {n} networks, wall {meta.get('wall_s')} s", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--sizes", default="64,1024,4096")
    p.add_argument("--e1-meta", default=None, help="meta.json of the CLI's regime_map.py:full run (its wall_s)")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    import jax

    dev = jax.devices()[0]
    res = {"device": str(getattr(dev, "device_kind", dev)), "platform": dev.platform, "versions": bench.versions(),
           "steps": args.steps, "shape": bench.SHAPE, "flops_per_model_step": None}
    print(f"device {res['device']} ({dev.platform}); {res['versions']}", flush=True)
    work = tempfile.mkdtemp(prefix="gpu_check_")

    def dump():  # after every section, so a run cut short still leaves its figures
        with open(os.path.join(args.out, "gpu.json"), "w") as f:
            json.dump(res, f, indent=1, default=float)

    data_path = bench.make_data(work)
    s = bench.SHAPE
    n_in = s["arity"] ** s["levels"]
    flops_step = bench.train_flops(n_in, s["width"], s["depth"], s["batch"])
    res["flops_per_model_step"] = flops_step
    sizes = [int(x) for x in args.sizes.split(",")]
    clock = bench.CompileClock()

    res["peak_jax"] = {}
    for g in sizes:
        ops = bench.matmul_mix(g, n_in, s["width"], s["depth"], s["batch"])
        res["peak_jax"][g] = bench.jax_mix(ops, 5)
        print(f"jax matmul mix, {g} models: {res['peak_jax'][g]:,.0f} GFLOP/s", flush=True)

    dump()
    problem = os.path.join(work, "problem.npz")
    res["engine"], res["engine_metrics"] = {}, {}
    for g in sizes:
        job = bench.base_job(args.steps, repeats=2, seeds=g, export=problem if g == sizes[0] else None)
        r = bench.engine_job(job, bench.load_data(data_path, False), clock, export=job["export"])
        res["engine"][g] = r
        print(f"engine {g} points: {r['model_steps_per_s']:,.0f} model-steps/s, {r['useful_gflops']:,.0f} GFLOP/s "
              f"({100 * r['useful_gflops'] / res['peak_jax'][g]:.0f}% of the jax mix), compile {r['compile_s']:.1f} s",
              flush=True)
    for g in sizes[:2]:
        job = bench.base_job(args.steps, repeats=1, seeds=g, metrics=True)
        try:
            r = bench.engine_job(job, bench.load_data(data_path, True), clock)
        except Exception as e:  # noqa: BLE001 - report and go on
            res["engine_metrics"][g] = {"error": f"{type(e).__name__}: {e}"[:500]}
            continue
        res["engine_metrics"][g] = r
        over = res["engine"][g]["model_steps_per_s"] / r["model_steps_per_s"] - 1
        print(f"engine {g} points, metrics on: {r['model_steps_per_s']:,.0f} model-steps/s (+{100 * over:.0f}% wall), "
              f"compile {r['compile_s']:.1f} s", flush=True)

    dump()
    ok, why = torch_baselines.available()
    res["torch"] = {}
    if ok:
        import torch

        if torch.cuda.is_available():
            base = dict(np.load(problem))
            for g in sizes:
                prob = tile_problem(base, g // sizes[0])
                runs = [torch_baselines.run_batched(prob, args.steps, s["batch"], s["lr"], fused=f, device="cuda")
                        for f in (False, True)]
                best = max(runs, key=lambda r: r["model_steps_per_s"])
                res["torch"][g] = {"batched": runs[0], "batched_fused": runs[1], "best": best}
                ratio = res["engine"][g]["model_steps_per_s"] / best["model_steps_per_s"]
                print(f"torch batched on CUDA, {g} models: {best['model_steps_per_s']:,.0f} model-steps/s; engine / "
                      f"torch {ratio:.2f}x", flush=True)
        else:
            res["torch"] = {"error": "torch sees no CUDA device"}
    else:
        res["torch"] = {"error": why}

    dump()
    res["depth_waste"] = {}
    for dm in bench.DEPTH_MODES:
        job = bench.base_job(args.steps, repeats=1, depths=list(range(1, 9)), sparsities=[0.5], seeds=32,
                             depth_mode=dm)
        r = bench.engine_job(job, bench.load_data(data_path, False), clock)
        res["depth_waste"][dm] = r
        print(f"depths 1-8, 256 points, {dm}: executed/useful {r['flops_waste']:.2f}, compile {r['compile_s']:.1f} s, "
              f"run {min(r['times_s']):.2f} s", flush=True)
        dump()
    try:
        e1_full(res, args.e1_meta, sizes, clock)
    except Exception as e:  # noqa: BLE001 - report and go on
        res["compile_e1_full"] = {"error": f"{type(e).__name__}: {e}"[:500]}
    res["flops_per_model_step"] = flops_step
    dump()
    print(f"wrote {os.path.join(args.out, 'gpu.json')}; {time.strftime('%H:%M:%S')}")


if __name__ == "__main__":
    main()
