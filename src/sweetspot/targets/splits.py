"""Train / test / held-out-combination splits of a target. docs/method.md, section "Targets" (splits)."""

from __future__ import annotations

import numpy as np

from sweetspot.targets.core import TABLE_MAX_INPUTS, Structure, Target, truth_table


def heldout_pair(structure: Structure) -> tuple[int, int]:
    """Two sibling nodes whose joint high region is held out: the first parent's first two children,
    preferring internal children (constituents) over raw inputs."""
    for prefer_internal in (True, False):
        for p in structure.internal:
            kids = [c for c in structure.children[p] if c >= structure.n_inputs or not prefer_internal]
            if len(kids) >= 2:
                return kids[0], kids[1]
    raise ValueError("target has no pair of sibling nodes for the held-out-combination split")


def unidentifiable(target: Target, x_train: np.ndarray) -> list[str]:
    """What a bits target's training rows leave unidentifiable: an internal node constant on them, or a gate
    whose full table (every +-1 combination of its children) they do not show. [] when every node is
    identifiable (docs/method.md, "Targets": a held-out region must leave it so)."""
    s, h = target.structure, np.asarray(target.node_values(x_train)) > 0
    out = []
    for v in s.internal:
        if h[:, v].all() or not h[:, v].any():
            out.append(f"node {v} is constant on the training rows")
        kids = list(s.children[v])
        seen = {tuple(r) for r in h[:, kids]}
        if len(seen) < 2 ** len(kids):
            out.append(f"node {v} sees {len(seen)} of the {2 ** len(kids)} rows of its gate's table")
    return out


def _candidate_pairs(structure: Structure) -> list[tuple[int, int]]:
    """Held-out pairs in the order they are tried: `heldout_pair`, then pairs of non-output nodes of one level
    that share no parent, internal levels first, then inputs; lowest ids first. (A region over two siblings
    always removes a row of their parent's table.)"""
    s = structure
    share = lambda a, b: bool(set(s.parents(a)) & set(s.parents(b)))
    ok = lambda v, lvl: v not in s.outputs and s.level[v] == lvl
    pairs = [
        (a, b)
        for lvl in sorted({s.level[v] for v in s.internal}) + [0]
        for a in range(s.n_nodes)
        for b in range(a + 1, s.n_nodes)
        if ok(a, lvl) and ok(b, lvl) and not share(a, b)
    ]
    first = heldout_pair(s)
    return [first] + [p for p in pairs if p != first]


def _bits_region(target: Target, q: float, rows: np.ndarray) -> tuple[int, int]:
    """The held-out pair of a bits target: the first candidate whose region {h_a > q and h_b > q} leaves every
    node identifiable on the rows outside it; a ValueError naming target.heldout_q when none does."""
    h = np.asarray(target.node_values(rows))
    for a, b in _candidate_pairs(target.structure):
        held = (h[:, a] > q) & (h[:, b] > q)
        if held.any() and not held.all() and not unidentifiable(target, rows[~held]):
            return a, b
    raise ValueError(
        f"config.target.heldout_q={q!r}: no held-out region of {target.name} leaves every node identifiable on the "
        "training rows (no node constant, every gate's table seen): allowed is heldout_q >= 1 (the full table)"
    )


def heldout_region(target: Target, q: float, rows: np.ndarray | None = None) -> tuple[int, int]:
    """(a, b): the nodes whose joint high region {h_a > q and h_b > q} is held out. Real-valued targets:
    `heldout_pair`; bits targets: the first candidate that leaves every node identifiable (`_bits_region`) on
    `rows` (default: the truth table, or a 4096-row sample of a larger one)."""
    if target.domain != "bits":
        return heldout_pair(target.structure)
    if rows is None:
        n = target.structure.n_inputs
        rows = truth_table(n) if n <= TABLE_MAX_INPUTS else target.sample(np.random.default_rng(0), 4096)
    return _bits_region(target, q, rows)


def _sample(target, rng, count, keep, batch=4096):
    xs = []
    have = 0
    for _ in range(10_000):
        x = target.sample(rng, batch)
        x = x[keep(np.asarray(target.node_values(x)))]
        xs.append(x)
        have += len(x)
        if have >= count:
            return np.concatenate(xs)[:count]
    raise ValueError("rejection sampling found too few points: lower config.target.heldout_q")


def make_splits(target: Target, cfg) -> dict[str, np.ndarray]:
    """Train / test / held-out-combination data as float32 arrays, drawn from cfg.data_seed.

    With nodes (a, b) = heldout_pair(...) and q = cfg.heldout_q, the region {h_a > q and h_b > q} is
    excluded from train and test; `x_heldout` samples only that region. A "bits" target with
    n <= TABLE_MAX_INPUTS uses its truth table instead of samples: train and test are both every row outside the
    region (test accuracy is then accuracy on the table) and held-out is every row inside it; with q >= 1 the
    region is empty (+-1 values) and train, test and held-out are all the full table (the Neural Sculpting
    protocol, where generalization is not measured). A bits target's region must leave every node identifiable
    on the training rows (`heldout_region`): the first pair that does is held out.
    """
    q = float(cfg.heldout_q)
    a, b = heldout_pair(target.structure) if target.domain == "bits" and q >= 1 else heldout_region(target, q)
    inside = lambda h: (h[:, a] > q) & (h[:, b] > q)
    if target.domain == "bits" and target.structure.n_inputs <= TABLE_MAX_INPUTS:
        x = truth_table(target.structure.n_inputs)
        held = inside(np.asarray(target.node_values(x)))
        if held.all() or (not held.any() and q < 1):
            raise ValueError(f"the held-out region of {target.name} is empty or everything: change target.heldout_q")
        parts = {"train": x[~held], "test": x[~held], "heldout": x[held] if held.any() else x}
        return {
            k: v
            for s, x_s in parts.items()
            for k, v in ((f"x_{s}", x_s), (f"y_{s}", np.asarray(target(x_s), np.float32)))
        }
    rng = np.random.default_rng([int(cfg.seed), int(cfg.data_seed)])
    out = {}
    for split, count, keep in (
        ("train", cfg.n_train, lambda h: ~inside(h)),
        ("test", cfg.n_test, lambda h: ~inside(h)),
        ("heldout", cfg.n_heldout, inside),
    ):
        x = _sample(target, rng, int(count), keep)
        out[f"x_{split}"] = x
        out[f"y_{split}"] = np.asarray(target(x), np.float32)
    return out
