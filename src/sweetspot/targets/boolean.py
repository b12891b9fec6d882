"""Boolean targets: gate trees and compositional sparse parity over bits. docs/method.md, section "Targets".

Bits are +-1 (+1 = true); every node value is +-1 and is not normalised. Fit is accuracy and the network is
trained with BCE on the root's logit (docs/method.md, "Training"). With n <= core.TABLE_MAX_INPUTS inputs the
splits are the full truth table (splits.make_splits).
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from sweetspot.targets.core import Target, make_structure


def _count_true(z):
    return jnp.round((z + 1.0) / 2.0).sum(1)


def _pm(b):
    return jnp.where(b, 1.0, -1.0)


# name -> gate on z (batch, k) of +-1 values; `maj` is true when more than half the inputs are (ties: false).
GATES = {
    "and": lambda z: _pm(_count_true(z) == z.shape[1]),
    "or": lambda z: _pm(_count_true(z) > 0),
    "nand": lambda z: _pm(_count_true(z) < z.shape[1]),
    "nor": lambda z: _pm(_count_true(z) == 0),
    "xor": lambda z: _pm(_count_true(z) % 2 == 1),
    "xnor": lambda z: _pm(_count_true(z) % 2 == 0),
    "maj": lambda z: _pm(2 * _count_true(z) > z.shape[1]),
}
# Gates a single linear threshold unit computes on +-1 inputs (the others, xor/xnor, need a hidden layer).
LINEARLY_SEPARABLE = ("and", "or", "nand", "nor", "maj")


def gate_tree(name, k, levels, gates, n_distractors=0, permute_seed=None) -> Target:
    """Complete k-ary tree of gates over k^levels bits plus `n_distractors` unused bits (appended); level l
    (1 = next to the inputs) uses gates[(l - 1) % len(gates)]. permute_seed shuffles which input each leaf reads."""
    for g in gates:
        if g not in GATES:
            raise ValueError(f"config.target.gates: {g!r} is not a gate; allowed values are {sorted(GATES)}")
    n_tree = k**levels
    n = n_tree + int(n_distractors)
    children, constituents, frontier, next_id = [], [], list(range(n_tree)), n
    for level in range(1, levels + 1):
        new_frontier = []
        for g in range(0, len(frontier), k):
            children.append(tuple(frontier[g : g + k]))
            constituents.append(GATES[gates[(level - 1) % len(gates)]])
            new_frontier.append(next_id)
            next_id += 1
        frontier = new_frontier
    # Node ids: inputs 0..n-1 (distractors n_tree..n-1 feed nothing), then the gates.
    structure = make_structure(n, children)
    perm = None
    if permute_seed is not None:
        perm = np.random.default_rng(int(permute_seed)).permutation(n)
        structure = dataclasses.replace(structure, support=structure.support[:, np.argsort(perm)])
    n_int = len(children)
    return Target(
        name, structure, tuple(constituents), np.zeros(n_int), np.ones(n_int), perm, domain="bits", binary=True
    )


def boolean_target(cfg) -> Target:
    """Gate tree over n = arity^levels bits with per-level gates cfg.gates (cycled), plus cfg.n_distractors
    unused bits; cfg.permute_leaves shuffles the leaves (from cfg.seed)."""
    k, levels, gates = int(cfg.arity), int(cfg.levels), tuple(cfg.gates)
    name = f"boolean(k={k},L={levels},gates={'/'.join(gates)})"
    return gate_tree(name, k, levels, gates, cfg.n_distractors, cfg.seed if cfg.permute_leaves else None)


def parity_target(cfg) -> Target:
    """Compositional sparse parity: XOR of disjoint groups of `arity` bits, composed by XOR for cfg.levels
    levels (the parity of arity^levels relevant bits), plus cfg.n_distractors irrelevant bits."""
    k, levels = int(cfg.arity), int(cfg.levels)
    name = f"parity(k={k},L={levels},distractors={int(cfg.n_distractors)})"
    return gate_tree(name, k, levels, ("xor",), cfg.n_distractors, cfg.seed if cfg.permute_leaves else None)
