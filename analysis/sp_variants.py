"""SP variant study: choose SP's similarity on a tuning target, judge every variant on held-out targets.

    python analysis/sp_variants.py [--out docs/sp_variants.md] [--seeds 4]

Tuning target: tree k=2, L=3, target.seed=0 (the default). Judging targets (never used to choose): tree k=2, L=3
with target.seed=1; the same with permuted leaves (target.seed=2); tree k=2, L=4 (n=16, target.seed=3) at depth 4.
Each variant runs at depth = L, sparsities {0.7, 0.8, 0.9}, with IMP (same rounds and rewind) and one-shot
magnitude as the baselines, all at the default thresholds. Prints and writes a Markdown table of mean C,
fraction compositional and mean test R^2 per (target, method, sparsity).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

if "jax" not in sys.modules:  # shard over the CPU cores, as the CLI does
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={os.cpu_count()}"
    ).strip()

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from sweetspot import config, grid, sweep  # noqa: E402
from sweetspot.validation import validate  # noqa: E402

TARGETS = {  # name: (overrides of config.target, depth, role)
    "tree-L3-s0": ({}, 3, "tuning"),
    "tree-L3-s1": ({"seed": 1}, 3, "judging"),
    "tree-L3-perm-s2": ({"seed": 2, "permute_leaves": True}, 3, "judging"),
    "tree-L4-s3": ({"seed": 3, "levels": 4}, 4, "judging"),
}
VARIANTS = {  # name: (sp_similarity, sp_gamma)
    "sp overlap g=1 (default)": ("overlap", 1.0),
    "sp overlap g=2": ("overlap", 2.0),
    "sp cosine g=1": ("cosine", 1.0),
    "sp correlation g=1": ("correlation", 1.0),
}


def run(target_over, depth, methods, seeds, similarity="overlap", gamma=1.0):
    cfg = config.default_config()
    for k, v in target_over.items():
        cfg.target[k] = v
    cfg.grid.method, cfg.grid.depth, cfg.grid.sparsity = methods, (depth,), (0.7, 0.8, 0.9)
    cfg.grid.seed = tuple(range(seeds))
    cfg.pruning.sp_similarity, cfg.pruning.sp_gamma = similarity, gamma
    validate(cfg)
    _, data = sweep.make_data(cfg)
    eng = grid.Engine(cfg, data)
    return eng.grid, grid.run(eng)[0]


def rows_of(g, res, label_of):
    out = []
    for m in g.axes["method"]:
        for s in g.axes["sparsity"]:
            sel = (g.coords["method"] == m) & (g.coords["sparsity"] == s)
            out.append(
                (
                    label_of(m),
                    s,
                    res["C"][sel].mean(),
                    res["C"][sel].std(),
                    res["compositional"][sel].mean(),
                    res["test_r2"][sel].mean(),
                )
            )
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None)
    p.add_argument("--seeds", type=int, default=4)
    args = p.parse_args(argv)
    lines = [
        "| target | role | method | sparsity | C (mean ± std) | compositional | test R^2 |",
        "|---|---|---|---|---|---|---|",
    ]
    t0 = time.time()
    for tname, (over, depth, role) in TARGETS.items():
        table = []
        g, res = run(over, depth, ("magnitude", "imp", "sp"), args.seeds)
        default = next(iter(VARIANTS))
        table += rows_of(g, res, lambda m, d=default: d if m == "sp" else m)
        for vname, (sim, gamma) in list(VARIANTS.items())[1:]:
            g, res = run(over, depth, ("sp",), args.seeds, sim, gamma)
            table += rows_of(g, res, lambda m, v=vname: v)
        for label, s, c, cs, comp, r2 in table:
            lines.append(f"| {tname} | {role} | {label} | {s:g} | {c:.3f} ± {cs:.3f} | {comp:.2f} | {r2:.3f} |")
        print(f"{tname} done at {time.time() - t0:.0f}s", file=sys.stderr, flush=True)
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
