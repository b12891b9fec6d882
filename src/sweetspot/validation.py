"""Validation of a whole config against the schema and every registry, before any compute.

`validate(cfg)` is what the CLI, `sweep.run_sweep` and the Python API call: `config.check_schema` (keys, types,
ranges), then each registry owner's check: `targets.check` (the target block against `targets.FAMILIES`),
`pruning.check_config` (the method axis against `pruning.METHODS`, the scope, SP's and sculpt's settings), and
the names of `mlp.ACTIVATIONS`, `train.OPTIMIZERS`, `grid.DEPTH_MODES` and `grid.CPU_OPT_LEVELS`. Every check
raises through `config.fail`: a `config.ConfigError` naming the field, its value and the allowed values.
"""

from __future__ import annotations

from sweetspot import grid, mlp, pruning, targets, train
from sweetspot.config import check_choice, check_schema


def validate(cfg):
    """Checks every field of cfg; raises ConfigError before any compute. Returns cfg."""
    check_schema(cfg)
    targets.check(cfg.target)
    check_choice("model.activation", cfg.model.activation, tuple(mlp.ACTIVATIONS))
    check_choice("train.optimizer", cfg.train.optimizer, tuple(train.OPTIMIZERS))
    pruning.check_config(cfg.pruning, cfg.grid.method)
    check_choice("engine.depth_mode", cfg.engine.depth_mode, grid.DEPTH_MODES)
    check_choice("engine.cpu_opt_level", cfg.engine.cpu_opt_level, grid.CPU_OPT_LEVELS)
    return cfg
