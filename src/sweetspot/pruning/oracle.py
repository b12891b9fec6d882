"""The oracle wiring: the connectivity a target's structure implies. docs/method.md, "Masks and pruning" (oracle).
"""

from __future__ import annotations

import math

import numpy as np


def oracle_levels(target_depth: int, depth: int) -> list[int]:
    """Structure level hosted by hidden layers 1..depth: ceil(l * L / depth), so the last layer hosts the root."""
    return [max(1, math.ceil(l * target_depth / depth)) for l in range(1, depth + 1)]


def alive_nodes(structure, level: int) -> list[int]:
    """Nodes alive at `level`: nodes with level <= `level` < a parent's level; outputs stay alive from their own
    level on (the root alone at the top for single-output targets)."""
    outputs = set(structure.outputs)
    return [
        v
        for v in range(structure.n_nodes)
        if structure.level[v] <= level
        and (v in outputs or level < max((structure.level[p] for p in structure.parents(v)), default=-1))
    ]


def oracle_allowed(structure, width: int, depth: int) -> dict[str, np.ndarray]:
    """The target-implied wiring of a depth-`depth` network: each hidden layer's units split into contiguous
    blocks (np.array_split), one per node alive at its level; an edge is allowed from block u (or the input
    column that leaf u reads) to block v when u is v or a descendant of v (the column is in S_v). The readout
    reads every unit of the last layer."""
    desc = [{v} for v in range(structure.n_nodes)]
    for v in range(structure.n_nodes):  # topological order: children first
        for c in structure.children[v]:
            desc[v] |= desc[c]
    # Leaf i is the input column its support names (permuted leaves read x[perm[i]], see targets/tree.py).
    prev_blocks = [[int(np.flatnonzero(structure.support[i])[0])] for i in range(structure.n_inputs)]
    prev_nodes = list(range(structure.n_inputs))
    out = {}
    for l, lam in enumerate(oracle_levels(structure.depth, depth)):
        nodes = alive_nodes(structure, lam)
        blocks = np.array_split(np.arange(width), len(nodes))
        allowed = np.zeros((sum(len(b) for b in prev_blocks), width), np.float32)
        for u, ub in zip(prev_nodes, prev_blocks, strict=True):
            for v, vb in zip(nodes, blocks, strict=True):
                if u in desc[v]:
                    allowed[np.ix_(ub, vb)] = 1.0
        out[f"h{l}"] = allowed
        prev_nodes, prev_blocks = nodes, blocks
    readout = np.zeros((width, structure.n_outputs), np.float32)
    for j, o in enumerate(structure.outputs):
        for u, ub in zip(prev_nodes, prev_blocks, strict=True):
            readout[ub, j] = float(u in desc[o])
    out["out"] = readout
    return out


def oracle_table(structure, width: int, max_depth: int) -> dict[str, np.ndarray]:
    """oracle_allowed for every depth 1..max_depth, stacked: {layer: (max_depth, fan_in, fan_out)}; layers a depth
    does not use are all ones (they are padding)."""
    n = structure.n_inputs
    shapes = {f"h{l}": (n if l == 0 else width, width) for l in range(max_depth)} | {
        "out": (width, structure.n_outputs)
    }
    table = {k: np.ones((max_depth, *s), np.float32) for k, s in shapes.items()}
    for d in range(1, max_depth + 1):
        for k, a in oracle_allowed(structure, width, d).items():
            table[k][d - 1] = a
    return table


