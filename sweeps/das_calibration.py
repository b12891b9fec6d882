"""Calibration of the distributed causal score (docs/method.md, "Calibration"): the tuning target only (the default
tree, instance 0, and the default xor/and Boolean tree), depth 3, 8 seeds, 3,000 steps. Written down before any
judged experiment was looked at; thresholds are checked here, never on a judged target.

    python -m sweetspot sweep sweeps/das_calibration.py:tree,pruned --out runs/cal_tree_pruned      # 80 points
    python -m sweetspot sweep sweeps/das_calibration.py:tree,dense --out runs/cal_tree_dense        # 8 points
    python -m sweetspot sweep sweeps/das_calibration.py:boolean,pruned --out runs/cal_bool_pruned   # 80 points
    python -m sweetspot sweep sweeps/das_calibration.py:boolean,dense --out runs/cal_bool_dense
    python analysis/method_table.py runs/cal_tree_pruned --metric test_r2 --metric IIA_das ...   (docs/method.md)
"""

from sweetspot.config import default_config, parse_arg

METHODS = ("random", "magnitude", "imp", "sp", "oracle")


def get_config(arg: str | None = None):
    a = parse_arg(arg, target=("tree", ("tree", "boolean")), part=("pruned", ("pruned", "dense")))
    cfg = default_config()
    cfg.experiment = f"calibration/{a.target}"
    if a.target == "boolean":
        cfg.target.family = "boolean"
    cfg.grid.depth = (3,)
    cfg.grid.seed = tuple(range(8))
    cfg.grid.method = METHODS if a.part == "pruned" else ("random",)
    cfg.grid.sparsity = (0.5, 0.8) if a.part == "pruned" else (0.0,)
    return cfg
