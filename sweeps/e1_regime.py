"""E1 regime map: depth x sparsity x method {sp, magnitude, random} on the tree target (k = 2, L = 3, n = 8).

CPU default (324 points, about 4 minutes on 2 cores):
    python -m sweetspot sweep sweeps/e1_regime.py --out runs/e1
GPU-sized map (depths 1-8, 16 seeds, width 64, 10k steps; about 6 minutes on one H200):
    python -m sweetspot sweep sweeps/e1_regime.py:full --out runs/e1_full
Figures and tables (E1, and E4/E5 which read this run):
    python -m sweetspot report runs/e1 --out report
"""

from sweetspot.config import default_config, parse_arg


def get_config(arg: str | None = None):
    a = parse_arg(arg, size=("cpu", ("cpu", "full")))
    cfg = default_config()
    cfg.experiment = "e1"
    cfg.grid.method = ("random", "magnitude", "sp")
    cfg.grid.depth = (1, 2, 3, 4, 5, 6)
    cfg.grid.sparsity = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95)
    cfg.grid.seed = (0, 1, 2)
    if a.size == "full":
        cfg.model.width = 64
        cfg.train.steps = 10000
        cfg.grid.depth = (1, 2, 3, 4, 5, 6, 7, 8)
        cfg.grid.seed = tuple(range(16))
    return cfg
