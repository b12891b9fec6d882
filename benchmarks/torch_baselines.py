"""PyTorch baselines for benchmarks/bench_grid.py: the engine's default grid, trained the PyTorch way.

Identical work to the engine's grid: the same data (the engine's train split), the same shapes, the same masks
and initial weights (both exported by the engine worker of bench_grid.py), Adam with optax's defaults
(b1=0.9, b2=0.999, eps=1e-8), the same number of steps and a fresh random minibatch of the same size per model
per step. Masks are applied in the forward pass (w * m), so pruned weights get zero gradient; Adam then leaves
them at exactly zero (zero moments give zero updates), which is what the engine's extra re-masking ensures.

Baselines:
- `loop_module`: the idiomatic per-model loop: nn.Sequential(nn.Linear, nn.ReLU, ...), masks through
  torch.nn.utils.prune.custom_from_mask, nn.MSELoss, default Adam; one model after the other.
- `loop`: a lean functional per-model loop (`torch.addmm` on raw tensors): the stronger per-model baseline.
- `batched`: every model at once, hand-batched with `torch.baddbmm` over a leading model axis (G, B, in) x
  (G, in, out); one Adam over the stacked tensors (Adam is elementwise, so this equals per-model Adam).
`loop` and `batched` run with torch's default Adam (the for-loop implementation on CPU) and with `fused=True`.
Every baseline runs with 1 thread and with one per core, and keeps its faster run (small matmuls often prefer one
thread, and OpenMP's barriers collapse when another process holds a core); a run may stop after `max_s` seconds
(its rate is steady; `steps_done` or `models` says how far it got).

torch is optional (the `bench` extra; on CPU install `torch==2.13.0`, the CPU wheel). `available()` says
whether it imports; nothing here is imported by the package.

Standalone: `python benchmarks/torch_baselines.py --npz WORK/problem.npz` prints the worker's JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def available() -> tuple[bool, str]:
    try:
        import torch  # noqa: F401
    except Exception as e:  # noqa: BLE001 - any import failure means "no torch"
        return False, f"torch not importable ({type(e).__name__}: {e}); bench extra: pip install torch==2.13.0"
    return True, ""


def _layers(problem: dict) -> list[str]:
    return [k[2:] for k in sorted(problem) if k.startswith("w/")]


def _order(names: list[str]) -> list[str]:
    """h0 .. h{L-1}, out (the engine's layer order)."""
    hidden = sorted((n for n in names if n != "out"), key=lambda n: int(n[1:]))
    return hidden + ["out"]


def _adam(torch, params, lr, fused):
    kw = {"fused": True} if fused else {}
    return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, **kw)


def run_batched(problem: dict, steps: int, batch: int, lr: float, fused: bool = False, seed: int = 0,
                device: str = "cpu", max_s: float = float("inf")) -> dict:
    """All models at once with torch.baddbmm. Returns wall seconds, model-steps/s and the final train MSE.
    Stops early after max_s seconds (the rate is steady; `steps_done` says how far it got)."""
    import torch

    torch.manual_seed(seed)
    names = _order(_layers(problem))
    dev = torch.device(device)
    x = torch.from_numpy(problem["x_train"]).to(dev)
    y = torch.from_numpy(problem["y_train"]).to(dev)
    masks = [torch.from_numpy(problem[f"m/{k}"]).to(dev) for k in names]
    ws = [torch.from_numpy(problem[f"w/{k}"].copy()).to(dev).requires_grad_() for k in names]
    bs = [torch.from_numpy(problem[f"b/{k}"].copy()[:, None, :]).to(dev).requires_grad_() for k in names]
    g = ws[0].shape[0]
    opt = _adam(torch, ws + bs, lr, fused)

    def forward(xb):
        h = xb
        for i, (w, b, m) in enumerate(zip(ws, bs, masks, strict=True)):
            h = torch.baddbmm(b, h, w * m)
            if i < len(ws) - 1:
                h = torch.relu(h)
        return h[..., 0]

    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    done = 0
    while done < steps and time.perf_counter() - t0 < max_s:
        idx = torch.randint(0, x.shape[0], (g, batch), device=dev)
        loss = ((forward(x[idx]) - y[idx]) ** 2).mean(dim=1).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done += 1
    sync()
    wall = time.perf_counter() - t0
    with torch.no_grad():
        final = ((forward(x.expand(g, *x.shape)) - y) ** 2).mean(dim=1)
    return {"wall_s": wall, "model_steps_per_s": g * done / wall, "models": g, "steps": steps, "steps_done": done,
            "final_train_mse_mean": float(final.mean())}


def run_loop(problem: dict, steps: int, batch: int, lr: float, n_models: int, fused: bool = False,
             seed: int = 0, max_s: float = float("inf")) -> dict:
    """The plain per-model loop over the first n_models models (its rate does not depend on how many); stops
    after the model that passes max_s seconds."""
    import torch

    torch.manual_seed(seed)
    names = _order(_layers(problem))
    x = torch.from_numpy(problem["x_train"])
    y = torch.from_numpy(problem["y_train"])
    finals = []
    t0 = time.perf_counter()
    for gi in range(n_models):
        if time.perf_counter() - t0 > max_s:
            break
        masks = [torch.from_numpy(problem[f"m/{k}"][gi]) for k in names]
        ws = [torch.from_numpy(problem[f"w/{k}"][gi].copy()).requires_grad_() for k in names]
        bs = [torch.from_numpy(problem[f"b/{k}"][gi].copy()).requires_grad_() for k in names]
        opt = _adam(torch, ws + bs, lr, fused)

        def forward(xb, ws=ws, bs=bs, masks=masks):
            h = xb
            for i, (w, b, m) in enumerate(zip(ws, bs, masks, strict=True)):
                h = torch.addmm(b, h, w * m)
                if i < len(ws) - 1:
                    h = torch.relu(h)
            return h[:, 0]

        for _ in range(steps):
            idx = torch.randint(0, x.shape[0], (batch,))
            loss = ((forward(x[idx]) - y[idx]) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            finals.append(float(((forward(x) - y) ** 2).mean()))
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "model_steps_per_s": len(finals) * steps / wall, "models": len(finals), "steps": steps,
            "final_train_mse_mean": float(np.mean(finals))}


def run_loop_module(problem: dict, steps: int, batch: int, lr: float, n_models: int, seed: int = 0,
                    max_s: float = float("inf")) -> dict:
    """The idiomatic per-model loop: nn.Sequential of nn.Linear + ReLU, masks through
    torch.nn.utils.prune.custom_from_mask (weight = weight_orig * mask in a forward pre-hook), default Adam."""
    import torch
    from torch import nn
    from torch.nn.utils import prune

    torch.manual_seed(seed)
    names = _order(_layers(problem))
    x = torch.from_numpy(problem["x_train"])
    y = torch.from_numpy(problem["y_train"])
    finals = []
    t0 = time.perf_counter()
    for gi in range(n_models):
        if time.perf_counter() - t0 > max_s:
            break
        layers = []
        for i, k in enumerate(names):
            w = problem[f"w/{k}"][gi]
            lin = nn.Linear(w.shape[0], w.shape[1])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w.T.copy()))
                lin.bias.copy_(torch.from_numpy(problem[f"b/{k}"][gi]))
            prune.custom_from_mask(lin, "weight", torch.from_numpy(problem[f"m/{k}"][gi].T.copy()))
            layers += [lin] if i == len(names) - 1 else [lin, nn.ReLU()]
        model = nn.Sequential(*layers)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        loss_fn = nn.MSELoss()
        for _ in range(steps):
            idx = torch.randint(0, x.shape[0], (batch,))
            loss = loss_fn(model(x[idx])[:, 0], y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            finals.append(float(loss_fn(model(x)[:, 0], y)))
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "model_steps_per_s": len(finals) * steps / wall, "models": len(finals), "steps": steps,
            "final_train_mse_mean": float(np.mean(finals))}


def matmul_mix(ops: list[tuple[int, int, int, int, str]], repeats: int = 5, min_s: float = 0.2) -> dict:
    """Best rate of the training matmul mix with torch.bmm. ops: (G, M, K, N, form) with form 'nn' (A @ B),
    'nt' (A @ B^T, the data gradient) or 'tn' (A^T @ B, the weight gradient), on strided views as autograd
    would pass them."""
    import torch

    args, flops = [], 0
    for g, m, k, n, form in ops:
        a = torch.randn(g, k, m).transpose(1, 2) if form == "tn" else torch.randn(g, m, k)
        b = torch.randn(g, n, k).transpose(1, 2) if form == "nt" else torch.randn(g, k, n)
        args.append((a, b))
        flops += 2 * g * m * k * n

    def once():
        for a, b in args:
            torch.bmm(a, b)

    return {"gflops": flops / _best_time(once, repeats, min_s) / 1e9, "flops": flops}


def _best_time(fn, repeats: int, min_s: float) -> float:
    from bench_grid import best_time  # one timing rule for every benchmark (benchmarks/ is on sys.path)

    return best_time(fn, repeats, min_s)


def worker(spec: dict) -> dict:
    """Everything bench_grid.py asks of torch, in one process (so its OpenMP threads never spin beside JAX's)."""
    ok, why = available()
    if not ok:
        return {"available": False, "reason": why}
    import torch

    torch.set_num_threads(int(spec.get("threads") or os.cpu_count() or 1))  # matmul peaks: all cores
    problem = dict(np.load(spec["npz"]))
    steps, batch, lr = int(spec["steps"]), int(spec["batch"]), float(spec["lr"])
    out = {"available": True, "version": torch.__version__, "threads": torch.get_num_threads(),
           "mkl": bool(torch.backends.mkl.is_available())}
    out["matmul_mix"] = matmul_mix([tuple(o) for o in spec["mix"]])
    out["matmul_headline"] = matmul_mix([tuple(o) for o in spec["headline_mm"]])
    rounds = int(spec.get("rounds", 1))
    cap = float(spec.get("max_s", float("inf")))  # per run: a 2-thread run under load can crawl for minutes
    n_threads = sorted({int(spec.get("threads") or os.cpu_count() or 1), 1}, reverse=True)
    for name, fn in (
        ("batched", lambda: run_batched(problem, steps, batch, lr, max_s=cap)),
        ("batched_fused", lambda: run_batched(problem, steps, batch, lr, fused=True, max_s=cap)),
        ("loop", lambda: run_loop(problem, int(spec["loop_steps"]), batch, lr, int(spec["loop_models"]),
                                  max_s=cap)),
        ("loop_fused", lambda: run_loop(problem, int(spec["loop_steps"]), batch, lr, int(spec["loop_models"]),
                                        fused=True, max_s=cap)),
        ("loop_module", lambda: run_loop_module(problem, int(spec["loop_steps"]), batch, lr,
                                                int(spec["loop_models"]), max_s=cap)),
    ):
        runs = []
        for _ in range(rounds):
            for t in n_threads:  # the best thread count: OpenMP's barrier collapses when another process holds a core
                torch.set_num_threads(t)
                runs.append(dict(fn(), threads=t))
        out[name] = max(runs, key=lambda r: r["model_steps_per_s"])
        out[name]["all_rates"] = [(r["threads"], r["model_steps_per_s"]) for r in runs]
    torch.set_num_threads(n_threads[0])
    out["matmul_mix_after"] = matmul_mix([tuple(o) for o in spec["mix"]])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--spec", help="JSON spec (bench_grid.py's worker protocol)")
    p.add_argument("--npz", help="problem file written by bench_grid.py (with --steps etc.)")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=3e-3)
    args = p.parse_args()
    if args.spec:
        spec = json.loads(args.spec)
    else:
        spec = {"npz": args.npz, "steps": args.steps, "batch": args.batch, "lr": args.lr, "loop_steps": 50,
                "loop_models": 4, "mix": [], "headline_mm": [[64, 256, 64, 64, "nn"]]}
    print("BENCH_RESULT " + json.dumps(worker(spec)))


if __name__ == "__main__":
    main()
