"""Validation of a whole config against the schema and every registry, before any compute.

`validate(cfg)` is what the CLI, `sweep.run_sweep` and the Python API call: `config.check_schema` for keys,
types and ranges, then each name against the registry that owns it (target families: `targets.FAMILIES`;
methods and pruning settings: `pruning`, SP's settings `pruning.scores.check_sp_config`; activations:
`mlp.ACTIVATIONS`; optimizers: `train.OPTIMIZERS`; depth modes: `grid.DEPTH_MODES`; CPU optimisation levels:
`grid.CPU_OPT_LEVELS`). Every error is a `config.ConfigError` naming the field and the allowed values.
"""

from __future__ import annotations

from sweetspot import grid, mlp, pruning, targets, train
from sweetspot.config import ConfigError, check_choice, check_schema, fail
from sweetspot.pruning.scores import check_sp_config


def validate(cfg):
    """Checks every field of cfg; raises ConfigError before any compute. Returns cfg."""
    check_schema(cfg)
    t = cfg.target
    check_choice("target.family", t.family, tuple(targets.FAMILIES))
    try:
        targets.check(t)
    except ValueError as err:
        raise ConfigError(f"config.target is invalid for family {t.family!r}: {err}") from None
    check_choice("model.activation", cfg.model.activation, tuple(mlp.ACTIVATIONS))
    check_choice("train.optimizer", cfg.train.optimizer, tuple(train.OPTIMIZERS))
    for v in cfg.grid.method:
        try:
            pruning.parse_method(v)
        except ValueError:
            fail("grid.method", v, pruning.method_names())
    check_choice("pruning.scope", cfg.pruning.scope, pruning.SCOPES)
    check_sp_config(cfg.pruning)  # sp_similarity (pruning.SP_SIMILARITIES), sp_gamma, sp_inputs
    pruning.check_config(cfg.pruning)
    check_choice("engine.depth_mode", cfg.engine.depth_mode, grid.DEPTH_MODES)
    check_choice("engine.cpu_opt_level", cfg.engine.cpu_opt_level, grid.CPU_OPT_LEVELS)
    return cfg
