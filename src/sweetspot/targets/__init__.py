"""Compositional targets and the one registry of target families. docs/method.md, section "Targets".

A family is a builder `cfg.target -> Target`, whether its outputs are +-1 labels (`binary`: BCE on logits,
fit = accuracy) and a `check` that raises ValueError for parameters it cannot build. `FAMILIES` is read by
config validation, the engine (the loss), the CLI and the docs; a new family is one module here plus one entry
below. Layout: core (Structure, Target), tree (tree, additive, dense_teacher), expr, boolean (boolean, parity),
modular (Neural Sculpting's tasks), splits (train/test/held-out data), zoo (named targets).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from sweetspot.config import ConfigError, check_choice, fail
from sweetspot.targets import boolean, expr, modular, tree
from sweetspot.targets.core import (
    TABLE_MAX_INPUTS,
    Constituent,
    Structure,
    Target,
    make_structure,
    normalised_target,
    truth_table,
)
from sweetspot.targets.splits import heldout_pair, heldout_region, make_splits, unidentifiable


class Family(NamedTuple):
    build: Callable  # cfg.target -> Target
    binary: bool  # +-1 outputs: BCE on logits, fit = accuracy (docs/method.md, "Training")
    doc: str


FAMILIES: dict[str, Family] = {
    "tree": Family(tree.tree_target, False, "k-ary tree of random tanh constituents (permute_leaves, reuse)"),
    "expr": Family(expr.expr_target, False, "a user expression over named primitives (target.expr)"),
    "additive": Family(tree.additive_target, False, "control: a sum of disjoint tanh constituents"),
    "dense_teacher": Family(tree.dense_teacher_target, False, "control: a dense random network, no constituents"),
    "boolean": Family(boolean.boolean_target, True, "gate tree over bits (target.gates per level)"),
    "parity": Family(boolean.parity_target, True, "compositional sparse parity with distractor bits"),
    "modular": Family(modular.modular_target, True, "Neural Sculpting's [inputs, widths..., outputs] tasks"),
}


def family(name: str) -> Family:
    """The registered family `name`; ValueError naming config.target.family and the allowed values."""
    if name not in FAMILIES:
        raise ValueError(f"config.target.family={name!r}: allowed values are {sorted(FAMILIES)}")
    return FAMILIES[name]


def make_target(cfg) -> Target:
    """Builds the target named by cfg.family (one of FAMILIES) from the `target` config block."""
    return family(cfg.family).build(cfg)


def check(cfg) -> None:
    """The `target` block's check (`validation.validate` asks for it): ConfigError (config.fail) when it names no
    family or, for boolean, a bad gate; a builder's ValueError (a target that cannot be built from the block: cheap
    families are built, before any compute) comes back as ConfigError naming the family."""
    check_choice("target.family", cfg.family, tuple(FAMILIES))
    gates = cfg.gates
    if cfg.family == "boolean" and (isinstance(gates, str) or not gates or set(gates) - set(boolean.GATES)):
        fail("target.gates", gates, f"non-empty tuples of {sorted(boolean.GATES)}")
    try:
        make_target(cfg)
    except ConfigError:
        raise
    except ValueError as err:
        raise ConfigError(f"config.target is invalid for family {cfg.family!r}: {err}") from None


__all__ = [
    "FAMILIES",
    "TABLE_MAX_INPUTS",
    "Constituent",
    "Family",
    "Structure",
    "Target",
    "check",
    "family",
    "heldout_pair",
    "heldout_region",
    "unidentifiable",
    "make_splits",
    "make_structure",
    "make_target",
    "normalised_target",
    "truth_table",
]
