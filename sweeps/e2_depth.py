"""E2 depth axis: IIA_das, IIA, C and the compositional fraction against depth, one run per named target
(sweetspot.targets.zoo) and target instance, SP at sparsity 0.8 (E1's best), depths 1-8, 8 seeds per depth on the
tree target tree_L3, 4 on the others.

CPU default, one target (32-64 points, 1-5 minutes on 2 cores each):
    python -m sweetspot sweep sweeps/e2_depth.py:tree_L3 --out runs/e2_tree_L3
    python -m sweetspot sweep sweeps/e2_depth.py:tree_L3,1 --out runs/e2_tree_L3_i1      (target.seed = 1)
Every target of the CPU report (sweetspot/experiments.py, E2_TARGETS): tree_L2 tree_L3 (instances 0-2) tree_k3
boolean parity modular expr additive expr_d4 boolean_L4 expr_d5_pl boolean_L5 (own depths 2-5). tree_L4 and expr_d5
fit at no depth at CPU scale (SIZES below gives what they were tried at): they run at ,full only.
GPU-sized: append ',full' (sparsity 0, 0.5, 0.7, 0.8, 0.9; depths 1-10; 8 seeds; width 64; 8k steps or more), e.g.
    python -m sweetspot sweep sweeps/e2_depth.py:tree_L3,0,full --out runs/e2_tree_L3_full
Figures: python -m sweetspot report runs/e2_* --out report
"""

from sweetspot.config import default_config, parse_arg
from sweetspot.targets import zoo

# Width and steps per target where the defaults (width 32, 2,000 steps) fit at no depth (issue 12: every target
# must fit somewhere so that it has a peak); one rule for all: width 64, 4,000 steps. Neither tree_L4 (n = 16) nor
# expr_d5 (best mean test R^2 0.79 over depths 1-10, 2026-11-30) fit at width 32 and 2,000 steps.
BIG = {"width": 64, "steps": 4000}
SIZES = {"tree_L4": BIG, "expr_d5": BIG}
DEPTHS = tuple(range(1, 9))  # depths 1-8: up to 4x the own depth of the tree target, 1.6x the deepest own depth (5)
SEEDS = {"tree_L3": 8}  # the tree target keeps 8 seeds (and three instances); the others 4 (the make figures budget)


def get_config(arg: str | None = None):
    a = parse_arg(
        arg, target=("tree_L3", tuple(zoo.TARGETS)), instance=("0", tuple("0123456789")), size=("cpu", ("cpu", "full"))
    )
    name = a.target
    cfg = zoo.apply(default_config(), name)
    cfg.experiment = f"e2/{name}"
    if a.instance != "0":
        cfg.target.seed = int(a.instance)
    cfg.grid.method = ("sp",)
    cfg.grid.depth = DEPTHS
    cfg.grid.sparsity = (0.8,)
    cfg.grid.seed = tuple(range(SEEDS.get(name, 4)))
    cfg.train.steps = SIZES.get(name, {}).get("steps", 2000)
    cfg.model.width = SIZES.get(name, {}).get("width", 32)
    if a.size == "full":
        cfg.model.width = 64
        cfg.train.steps = max(8000, 2 * cfg.train.steps)
        cfg.grid.sparsity = (0.0, 0.5, 0.7, 0.8, 0.9)
        cfg.grid.depth, cfg.grid.seed = tuple(range(1, 11)), tuple(range(8))
    return cfg
