"""Connectivity axis: every pruning method at one depth over sparsities 0.5-0.95, tree target (n = 8, k = 2).

CPU default (depth 3 = the tree's number of levels, 2 seeds):
    python -m sweetspot sweep sweeps/connectivity.py --out runs/connectivity
    python analysis/method_table.py runs/connectivity
GPU-sized (8 seeds, width 64):
    python -m sweetspot sweep sweeps/connectivity.py:full --out runs/connectivity_full
Another depth: --config.grid.depth='(4,)'.
"""

from sweetspot.config import default_config, parse_arg

METHODS = ("dense", "random", "magnitude", "imp", "snip", "synflow", "sp", "oracle", "shuffled:sp", "shuffled:imp")


def get_config(arg: str | None = None):
    a = parse_arg(arg, size=("cpu", ("cpu", "full")))
    cfg = default_config()
    cfg.grid.method = METHODS
    cfg.grid.depth = (3,)
    cfg.grid.sparsity = (0.5, 0.7, 0.8, 0.9, 0.95)
    cfg.grid.seed = (0, 1)
    if a.size == "full":
        cfg.model.width = 64
        cfg.grid.seed = tuple(range(8))
    return cfg
