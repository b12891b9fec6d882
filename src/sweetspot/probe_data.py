"""Evaluation data of the metrics: signature inputs, held-out probe splits and intervention pairs.
docs/method.md, sections "Metrics" and "Causal score".

`make_probe(target, mcfg, seed)` is computed once per run on the host (numpy) and travels with the grid's data;
`metrics.compute` reads it inside the jitted program. Probe-train and probe-test never share an input: on the
cube they are independent draws; on bits, distinct rows are split into disjoint sets first (a truth table has
few rows, and a probe scored on rows it was fitted on is not held out).
"""

from __future__ import annotations

import hashlib

import numpy as np

from sweetspot.targets.core import truth_table

ENUMERATE_MAX_INPUTS = 16  # bits targets up to this many inputs split their whole row set; larger ones hash rows
TEST_FRACTION = 1 / 3  # share of the distinct bit rows reserved for probe-test


def _row_is_test(x: np.ndarray, seed: int) -> np.ndarray:
    """A fixed pseudo-random third of all bit rows, by a hash of the row and the seed (any number of inputs)."""
    salt = int(seed).to_bytes(8, "little", signed=False)
    bits = np.packbits(x > 0, axis=1)
    digest = lambda row: hashlib.blake2b(row.tobytes() + salt, digest_size=8).digest()
    return np.array([int.from_bytes(digest(r), "little") % 3 == 0 for r in bits], bool)


def _bits_splits(target, rng, n_train: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Probe-train and probe-test inputs of a bits target drawn from disjoint sets of distinct rows: with few
    inputs a seeded third of the truth table is test; with many, a hash of each row (and the seed) decides."""
    n = target.structure.n_inputs
    if n <= ENUMERATE_MAX_INPUTS:
        rows = truth_table(n)
        order = rng.permutation(len(rows))
        n_held = max(1, int(round(len(rows) * TEST_FRACTION)))
        test_rows, train_rows = rows[order[:n_held]], rows[order[n_held:]]
        pick = lambda part, m: part[rng.integers(0, len(part), int(m))]
        return pick(train_rows, n_train), pick(test_rows, n_test)
    out = {True: [], False: []}
    want = {False: int(n_train), True: int(n_test)}
    while any(sum(len(a) for a in out[k]) < want[k] for k in out):
        x = target.sample(rng, 4 * (n_train + n_test))
        test = _row_is_test(x, seed)
        for k in out:
            out[k].append(x[test == k])
    return np.concatenate(out[False])[:n_train], np.concatenate(out[True])[:n_test]


def _distinct_halves(x_test: np.ndarray, n_pairs: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """n_pairs pairs (x, x') of the distinct rows of x_test, whose first n_pairs // 2 and the rest share no
    (x, x') pair: the distributed search learns on the first half and is scored on the second (das.py). Every
    ordered pair of distinct rows goes to one half (shuffled, split evenly); each half draws its pairs from its
    own set, without replacement while it lasts."""
    rows = np.unique(x_test, axis=0)
    i, j = np.meshgrid(np.arange(len(rows)), np.arange(len(rows)), indexing="ij")
    pairs = rng.permutation(np.stack([i.ravel(), j.ravel()], 1))
    sets = (pairs[: len(pairs) // 2], pairs[len(pairs) // 2 :])
    want = (n_pairs // 2, n_pairs - n_pairs // 2)
    take = [p[rng.choice(len(p), m, replace=m > len(p))] for p, m in zip(sets, want, strict=True)]
    idx = np.concatenate(take)
    return rows[idx[:, 0]], rows[idx[:, 1]]


def _intervention_pairs(target, x_test: np.ndarray, n_pairs: int, rng) -> dict[str, np.ndarray]:
    """Pairs (x, x') of probe-test inputs and, per probe node v, the target's counterfactual output
    f(x | h_v := h_v(x')) and its change from f(x): (P, N, n_outputs) each."""
    s = target.structure
    n_pairs = min(int(n_pairs), len(x_test))
    if target.domain == "bits":
        x, xp = _distinct_halves(x_test, n_pairs, rng)
    else:
        x, xp = x_test[:n_pairs], x_test[rng.permutation(len(x_test))[:n_pairs]]
    h, hp = np.asarray(target.node_values(x)), np.asarray(target.node_values(xp))
    y0 = np.asarray(target.outputs_of(h), np.float32).reshape(n_pairs, -1)
    cf = [
        np.asarray(target.outputs_of(target.node_values(x, forced={v: hp[:, v]})), np.float32).reshape(n_pairs, -1)
        for v in s.probe_nodes
    ]
    cf = np.stack(cf) if cf else np.zeros((0, n_pairs, y0.shape[1]), np.float32)
    return {"iia_x": x, "iia_xp": xp, "iia_cf": cf, "iia_dy": cf - y0[None]}


def make_probe(target, mcfg, seed: int = 0) -> dict[str, np.ndarray]:
    """Probe data for `metrics.compute`: x from the target's domain for signatures, disjoint probe-train and
    probe-test inputs (seed) with their node values, intervention pairs, and the target structure as arrays."""
    s = target.structure
    rng = np.random.default_rng([int(seed), 7])
    draw = lambda m: target.sample(rng, int(m))
    if target.domain == "bits":
        x_sig = draw(mcfg.n_signature)
        x_train, x_test = _bits_splits(target, rng, mcfg.n_probe_train, mcfg.n_probe_test, int(seed))
    else:
        x_sig, x_train, x_test = draw(mcfg.n_signature), draw(mcfg.n_probe_train), draw(mcfg.n_probe_test)
    nodes = np.asarray(s.probe_nodes, np.int32)
    pairs = _intervention_pairs(target, x_test, mcfg.n_iia, np.random.default_rng([int(seed), 8]))
    return pairs | {
        "x_sig": x_sig,
        "x_train": x_train,
        "h_train": np.asarray(target.node_values(x_train), np.float32),
        "x_test": x_test,
        "h_test": np.asarray(target.node_values(x_test), np.float32),
        "support": s.support.astype(np.float32),
        "probe_nodes": nodes,
        "vacuous": s.support[nodes].all(axis=1) if len(nodes) else np.zeros(0, bool),
        "node_level": np.asarray(s.level, np.int32),
        "first_output": np.asarray(s.n_nodes - s.n_outputs, np.int32),
        "control_seed": np.asarray(int(seed) * 7919 + 13, np.uint32),
    }
