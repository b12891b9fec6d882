"""T1 compositional sparsity: test loss against live parameters for the oracle wiring, SP and the dense network
on binary trees (k = 2) of L = 2..5 levels (n = 4, 8, 16, 32 inputs), at depth = L (the oracle's natural depth).

The claim under test (compositional sparsity): a network wired like the target needs a number of parameters
governed by the constituents' arity k, not by n, so its loss-vs-parameters curve is similar across n, while the
dense network needs far more parameters for the same error. One run per number of levels.

CPU default, one target (36 points: 3 methods x 6 sparsities x 2 seeds, 2,000 steps; about 1-2 minutes each
on 2 free cores):
    python -m sweetspot sweep sweeps/t1_sparsity.py:L2 --out runs/t1_L2
    (and :L3, :L4, :L5 into runs/t1_L3, runs/t1_L4, runs/t1_L5)
GPU-sized: append ',full', e.g. sweeps/t1_sparsity.py:L4,full (width 64, 8k steps, 8 seeds, 9 sparsities).
Figures: python analysis/t1_sparsity.py runs/t1_L* --out report   (or python -m sweetspot report ...)

`dense` ignores the sparsity axis (docs/method.md, "Methods"): its points at every sparsity are the same network
(same key, same mask), so the analysis uses only its sparsity-0 points. The oracle keeps every allowed edge
when the sparsity asks for more than its structural density, so its low-sparsity points share one live count.
"""

from sweetspot.config import default_config, parse_arg

LEVELS = (2, 3, 4, 5)


def get_config(arg: str | None = None):
    a = parse_arg(arg, target=("L3", tuple(f"L{lv}" for lv in LEVELS)), size=("cpu", ("cpu", "full")))
    levels = int(a.target[1:])
    cfg = default_config()
    cfg.experiment = f"t1/L{levels}"
    cfg.target.family = "tree"
    cfg.target.arity = 2
    cfg.target.levels = levels
    cfg.grid.method = ("oracle", "sp", "dense")
    cfg.grid.depth = (levels,)
    cfg.grid.sparsity = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95)
    cfg.grid.seed = (0, 1)
    cfg.train.steps = 2000
    cfg.metrics.enabled = True
    if a.size == "full":
        cfg.model.width = 64
        cfg.train.steps = 8000
        cfg.grid.sparsity = (0.0, 0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97)
        cfg.grid.seed = tuple(range(8))
    return cfg
