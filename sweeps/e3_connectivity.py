"""E3 connectivity axis: C against sparsity at a target's peak depth for every pruning method, including
shuffled:sp and shuffled:imp (the same per-layer density, wiring permuted). One run per named target.

CPU default (320 points: dense at every sparsity beside 9 pruning methods, 8 seeds; about 5-8 minutes on 2
cores); set the depth to the target's E2 IIA_das peak:
    python -m sweetspot sweep sweeps/e3_connectivity.py:tree_L3 --out runs/e3_tree_L3 \
        --config.grid.depth="($(python analysis/e2_depth.py --peak runs/e2_tree_L3),)"
GPU-sized: sweeps/e3_connectivity.py:tree_L3,full (8 seeds, width 64, 8k steps).
Figures: python -m sweetspot report runs/e3_* --out report
"""

from sweetspot.config import default_config, parse_arg
from sweetspot.targets import zoo

METHODS = ("dense", "sp", "imp", "magnitude", "snip", "synflow", "random", "oracle", "shuffled:sp", "shuffled:imp")


def get_config(arg: str | None = None):
    a = parse_arg(arg, target=("tree_L3", tuple(zoo.TARGETS)), size=("cpu", ("cpu", "full")))
    name = a.target
    cfg = zoo.apply(default_config(), name)
    cfg.experiment = f"e3/{name}"
    cfg.grid.method = METHODS
    cfg.grid.depth = (3,)
    cfg.grid.sparsity = (0.5, 0.7, 0.8, 0.9)
    cfg.grid.seed = tuple(range(8))
    if a.size == "full":
        cfg.model.width = 64
        cfg.train.steps = 8000
        cfg.grid.sparsity = (0.5, 0.7, 0.8, 0.9, 0.95)
        cfg.grid.seed = tuple(range(16))
    return cfg
