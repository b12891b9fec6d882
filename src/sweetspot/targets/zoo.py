"""Named targets shared by the experiment configs (sweeps/e*.py) and `predict-depth`. docs/results.md.

`TARGETS[name]` holds overrides of the `target` config block; `apply(cfg, name)` writes them onto a config.
"""

from __future__ import annotations

TARGETS: dict[str, dict] = {
    "tree_L2": {"family": "tree", "arity": 2, "levels": 2},
    "tree_L3": {"family": "tree", "arity": 2, "levels": 3},
    "tree_L4": {"family": "tree", "arity": 2, "levels": 4},
    "tree_k3": {"family": "tree", "arity": 3, "levels": 2},
    "tree_L3_permuted": {"family": "tree", "arity": 2, "levels": 3, "permute_leaves": True},
    "tree_L3_reuse": {"family": "tree", "arity": 2, "levels": 3, "reuse": True},
    "boolean": {"family": "boolean", "arity": 2, "levels": 3, "gates": ("xor", "and")},
    "parity": {"family": "parity", "arity": 2, "levels": 3, "n_distractors": 4},
    "modular": {"family": "modular", "modular_spec": (6, 3, 3, 3)},
    "expr": {"family": "expr", "expr": "absdiff(max(mul(x0, x1), x2), min(x3, mul(x4, x5)))"},
    "additive": {"family": "additive", "arity": 2, "levels": 3},
    "dense_teacher": {"family": "dense_teacher", "arity": 2, "levels": 3},
}


def apply(cfg, name: str):
    """Writes TARGETS[name] onto cfg.target (and names cfg.experiment's variant); returns cfg."""
    if name not in TARGETS:
        raise ValueError(f"target name {name!r}: allowed values are {sorted(TARGETS)}")
    for k, v in TARGETS[name].items():
        cfg.target[k] = v
    return cfg
