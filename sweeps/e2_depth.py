"""E2 depth axis: C and the compositional fraction against depth, one run per named target (sweetspot.zoo).

CPU default, one target (54 points, about 1 minute on 2 cores each):
    python -m sweetspot sweep sweeps/e2_depth.py:tree_L3 --out runs/e2_tree_L3
Every target of the CPU report: tree_L2 tree_L3 tree_L4 tree_k3 boolean parity modular expr additive dense_teacher
GPU-sized: append ',full' to the argument, e.g. sweeps/e2_depth.py:tree_L3,full (depths 1-8, 8 seeds, 8k steps).
Figures: python -m sweetspot report runs/e2_* --out report
"""

from sweetspot.config import default_config, parse_arg
from sweetspot.targets import zoo


def get_config(arg: str | None = None):
    a = parse_arg(arg, target=("tree_L3", tuple(zoo.TARGETS)), size=("cpu", ("cpu", "full")))
    name = a.target
    cfg = zoo.apply(default_config(), name)
    cfg.experiment = f"e2/{name}"
    cfg.grid.method = ("sp",)
    cfg.grid.depth = (1, 2, 3, 4, 5, 6)
    cfg.grid.sparsity = (0.0, 0.5, 0.8)
    cfg.grid.seed = (0, 1, 2)
    cfg.train.steps = 2000
    if a.size == "full":
        cfg.model.width = 64
        cfg.train.steps = 8000
        cfg.grid.depth = (1, 2, 3, 4, 5, 6, 7, 8)
        cfg.grid.sparsity = (0.0, 0.5, 0.7, 0.8, 0.9)
        cfg.grid.seed = tuple(range(8))
    return cfg
