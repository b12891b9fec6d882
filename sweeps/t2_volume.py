"""Theory check 2 (volume ratio): p_comp(depth, mask) against the log basin-volume ratio of compositional to
fractured minima (analysis/t2_volume.py).

Tree target k = 2, L = 3 (n = 8 inputs; sweetspot.zoo "tree_L3"), masks oracle, sp, random and dense at depths
1-5, one sparsity 0.8 (dense ignores it), 16 seeds, metrics on: 4 x 5 x 16 = 320 networks, params saved
(16 seeds, not 32, since the distributed score made every network's metrics about twice as dear: the `make figures`
budget).

CPU default (train.steps is reduced from the default 3000 to 1500, eval_every 100, to fit that budget: SP costs
R + 1 = 4 trainings per point):
    python -m sweetspot sweep sweeps/t2_volume.py --out runs/t2
GPU-sized: sweeps/t2_volume.py:full (64 seeds, 6000 steps):
    python -m sweetspot sweep sweeps/t2_volume.py:full --out runs/t2_full
Analysis: python analysis/t2_volume.py runs/t2 --out /tmp/t2
"""

from sweetspot.config import default_config, parse_arg
from sweetspot.targets import zoo


def get_config(arg: str | None = None):
    a = parse_arg(arg, size=("cpu", ("cpu", "full")))
    cfg = zoo.apply(default_config(), "tree_L3")
    cfg.experiment = "t2"
    cfg.grid.method = ("oracle", "sp", "random", "dense")
    cfg.grid.depth = (1, 2, 3, 4, 5)
    cfg.grid.sparsity = (0.8,)
    cfg.grid.seed = tuple(range(16))
    cfg.metrics.enabled = True
    cfg.engine.save_params = True
    cfg.train.steps = 1500
    cfg.train.eval_every = 100
    if a.size == "full":
        cfg.grid.seed = tuple(range(64))
        cfg.train.steps = 6000
    return cfg
