"""E6 Neural Sculpting protocol: their Boolean tasks (Gaussian input noise 0.1 on the full truth table, sigmoid
outputs, BCE) pruned by imp and sp at 1-3 hidden layers; analysis/e6_sculpting.py runs their module detection
(sweetspot.sculpting) on the pruned wiring and reports their success indicator next to our C.

Tasks (sweetspot.modular.TASKS): 424 = [4,2,4], 414 = [4,1,4], 41216 = [4,1,2,16], 6333 = [6,3,3,3].
CPU default, one task (54 points, about 1 minute on 2 cores):
    python -m sweetspot sweep sweeps/e6_sculpting.py:424 --out runs/e6_424
GPU-sized: sweeps/e6_sculpting.py:424,full (10 seeds, width 64, 10k steps).
Figures: python -m sweetspot report runs/e6_* --out report
"""

from sweetspot.config import default_config, parse_arg
from sweetspot.targets import modular

TASKS = {"".join(map(str, spec)): spec for spec in modular.TASKS.values()}  # "424" -> (4, 2, 4), ...


def get_config(arg: str | None = None):
    a = parse_arg(arg, task=("424", tuple(TASKS)), size=("cpu", ("cpu", "full")))
    name = a.task
    cfg = default_config()
    cfg.experiment = f"e6/{name}"
    cfg.target.family = "modular"
    cfg.target.modular_spec = TASKS[name]
    cfg.target.input_noise = 0.1
    cfg.target.heldout_q = 1.0  # no held-out region: train and test on the full truth table, as they do
    cfg.grid.method = ("imp", "sp")
    cfg.grid.depth = (1, 2, 3)
    cfg.grid.sparsity = (0.5, 0.8, 0.9)
    cfg.grid.seed = (0, 1, 2)
    cfg.train.steps = 2000
    if a.size == "full":
        cfg.model.width = 64
        cfg.train.steps = 10000
        cfg.grid.seed = tuple(range(10))
    return cfg
