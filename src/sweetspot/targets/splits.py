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
    protocol, where generalization is not measured).
    """
    a, b = heldout_pair(target.structure)
    q = float(cfg.heldout_q)
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
