"""E1 regime map: depth x sparsity x method {sp, random} on the tree target (k = 2, L = 3, n = 8), one run per
target instance (`target.seed`: the constituents' random parameters), 8 seeds per cell.

CPU default, one instance (384 points; about 5-6 minutes on 2 cores), three instances in the report:
    python -m sweetspot sweep sweeps/e1_regime.py:0 --out runs/e1_i0
    python -m sweetspot sweep sweeps/e1_regime.py:1 --out runs/e1_i1
    python -m sweetspot sweep sweeps/e1_regime.py:2 --out runs/e1_i2
GPU-sized map (magnitude added, depths 1-8, sparsity 0.7 and 0.95 added, 16 seeds, width 64, 10k steps):
    python -m sweetspot sweep sweeps/e1_regime.py:0,full --out runs/e1_full
Figures and tables (E1, and E4/E5 which read these runs):
    python -m sweetspot report runs/e1_i0 runs/e1_i1 runs/e1_i2 --out report
"""

from sweetspot.config import default_config, parse_arg


def get_config(arg: str | None = None):
    a = parse_arg(arg, instance=("0", tuple("0123456789")), size=("cpu", ("cpu", "full")))
    cfg = default_config()
    cfg.experiment = "e1"
    cfg.target.seed = int(a.instance)
    cfg.grid.method = ("random", "sp")
    cfg.grid.depth = (1, 2, 3, 4, 5, 6)
    cfg.grid.sparsity = (0.0, 0.5, 0.8, 0.9)
    cfg.grid.seed = tuple(range(8))
    if a.size == "full":
        cfg.grid.method = ("random", "magnitude", "sp")
        cfg.model.width = 64
        cfg.train.steps = 10000
        cfg.grid.depth = (1, 2, 3, 4, 5, 6, 7, 8)
        cfg.grid.sparsity = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95)
        cfg.grid.seed = tuple(range(16))
    return cfg
