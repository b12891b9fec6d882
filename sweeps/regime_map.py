"""Regime map: depth x sparsity x seed x method (random masks and SP) on the tree target (n = 8 inputs, k = 2).

CPU default (240 points, a few minutes on 2 cores):
    python -m sweetspot sweep sweeps/regime_map.py --out runs/regime_map
    python analysis/regime_heatmap.py runs/regime_map
GPU-sized map:
    python -m sweetspot sweep sweeps/regime_map.py:full --out runs/regime_map_full
Any field can be overridden, e.g. --config.train.steps=500 --config.grid.seed='(0,1)'.
"""

from sweetspot.config import default_config, parse_arg


def get_config(arg: str | None = None):
    a = parse_arg(arg, size=("cpu", ("cpu", "full")))
    cfg = default_config()
    cfg.grid.method = ("random", "sp")
    cfg.grid.depth = (1, 2, 3, 4, 5, 6)
    cfg.grid.sparsity = (0.0, 0.5, 0.7, 0.8, 0.9)
    cfg.grid.seed = (0, 1, 2, 3)
    if a.size == "full":
        cfg.model.width = 64
        cfg.train.steps = 10000
        cfg.grid.depth = (1, 2, 3, 4, 5, 6, 7, 8)
        cfg.grid.sparsity = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95)
        cfg.grid.method = ("random", "magnitude", "sp")
        cfg.grid.seed = tuple(range(16))
    return cfg
