"""Compositional targets: a DAG of small constituent functions over inputs x in [-1, 1]^n or {-1, +1}^n.

Contract: docs/method.md, section "Targets". Every target is a `Target`: its `structure` (children, input
support and level of every node) and `node_values(x)`, the value h_v(x) of every node. Node ids are
topological: ids 0..n-1 are the inputs (leaves, h = x_i), internal nodes follow, the last `n_outputs` ids are
the outputs (one root by default). Families register a builder in `FAMILIES`; the engine only ever calls
`make_target(cfg.target)`. Real-valued families live here and in expr.py; Boolean ones in boolean.py and
modular.py.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax.numpy as jnp
import numpy as np

# Constituent: maps its children's values z, shape (batch, n_children), to the raw node value (batch,).
Constituent = Callable[[jnp.ndarray], jnp.ndarray]


@dataclasses.dataclass(frozen=True)
class Structure:
    """The target's DAG. `children[v]` are node ids; `support[v]` is a bool row over the n inputs."""

    n_inputs: int
    children: tuple[tuple[int, ...], ...]
    level: tuple[int, ...]
    support: np.ndarray  # (n_nodes, n_inputs) bool
    n_outputs: int = 1  # the last n_outputs nodes are the outputs

    @property
    def n_nodes(self) -> int:
        return len(self.children)

    @property
    def root(self) -> int:
        return self.n_nodes - 1

    @property
    def internal(self) -> tuple[int, ...]:
        """Internal nodes (constituents), root included, in topological order."""
        return tuple(range(self.n_inputs, self.n_nodes))

    @property
    def outputs(self) -> tuple[int, ...]:
        """The output node ids (the last n_outputs nodes; the root alone by default)."""
        return tuple(range(self.n_nodes - self.n_outputs, self.n_nodes))

    @property
    def probe_nodes(self) -> tuple[int, ...]:
        """Internal non-output nodes: the constituents the metrics look for inside the network."""
        return tuple(v for v in self.internal if v < self.n_nodes - self.n_outputs)

    @property
    def depth(self) -> int:
        """Number of constituent levels (the highest output level)."""
        return max(self.level[v] for v in self.outputs)

    def parents(self, v: int) -> tuple[int, ...]:
        return tuple(p for p in range(self.n_nodes) if v in self.children[p])


def make_structure(n_inputs: int, children: list[tuple[int, ...]], n_outputs: int = 1) -> Structure:
    """Structure from the children lists of the internal nodes (ids n_inputs, n_inputs+1, ...); the last
    n_outputs internal nodes are the outputs. Every other internal node must feed a parent; inputs may be
    unused (distractor inputs of sparse targets)."""
    if not 1 <= n_outputs <= len(children):
        raise ValueError(f"n_outputs={n_outputs}: allowed values are 1..{len(children)} (the internal nodes)")
    all_children = [()] * n_inputs + [tuple(c) for c in children]
    n_nodes = len(all_children)
    level = [0] * n_nodes
    support = np.zeros((n_nodes, n_inputs), bool)
    support[np.arange(n_inputs), np.arange(n_inputs)] = True
    for v in range(n_inputs, n_nodes):
        kids = all_children[v]
        if not kids or any(c >= v or c < 0 for c in kids):
            raise ValueError(f"node {v}: children {kids} must be earlier node ids (topological order)")
        level[v] = 1 + max(level[c] for c in kids)
        support[v] = support[list(kids)].any(0)
    consumed = {c for kids in all_children for c in kids}
    dangling = sorted(set(range(n_inputs, n_nodes - n_outputs)) - consumed)
    if dangling:
        raise ValueError(f"nodes {dangling} feed no parent; the outputs must be the last {n_outputs} node(s)")
    return Structure(n_inputs, tuple(all_children), tuple(level), support, n_outputs)


@dataclasses.dataclass(frozen=True)
class Target:
    """A compositional target: h_v = (f_v(h_children) - mean_v) / std_v, normalised on a reference sample.

    domain "cube": x ~ U[-1, 1]^n; "bits": x uniform on {-1, +1}^n. binary: every output is a +-1 label
    (+1 = true), the network is trained with BCE on logits and fit is accuracy (docs/method.md, "Training")."""

    name: str
    structure: Structure
    constituents: tuple[Constituent, ...]  # one per internal node, in id order
    mean: np.ndarray  # (n_internal,)
    std: np.ndarray  # (n_internal,)
    input_perm: np.ndarray | None = None  # leaf permutation: leaf i reads x[input_perm[i]]
    domain: str = "cube"
    binary: bool = False

    def node_values(self, x: jnp.ndarray) -> jnp.ndarray:
        """(batch, n) -> (batch, n_nodes): h_v(x) for every node (leaves are the inputs)."""
        return _node_values(self.structure, self.constituents, self.mean, self.std, self.input_perm, x)

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        """The target output: h_root(x), shape (batch,), or (batch, n_outputs) for several outputs."""
        return self.outputs_of(self.node_values(x))

    def outputs_of(self, h):
        """The output columns of node values h (batch, n_nodes): (batch,) for one output, else (batch, n_outputs)."""
        return h[:, -1] if self.structure.n_outputs == 1 else h[:, -self.structure.n_outputs :]

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """(count, n) float32 inputs drawn from the target's domain."""
        shape = (int(count), self.structure.n_inputs)
        if self.domain == "bits":
            return rng.choice(np.array([-1.0, 1.0], np.float32), size=shape)
        return rng.uniform(-1, 1, size=shape).astype(np.float32)


def _node_values(structure, constituents, mean, std, perm, x):
    x = jnp.asarray(x)
    if perm is not None:
        x = x[:, perm]
    vals = [x[:, i] for i in range(structure.n_inputs)]
    for j, v in enumerate(structure.internal):
        z = jnp.stack([vals[c] for c in structure.children[v]], axis=1)
        vals.append((constituents[j](z) - mean[j]) / std[j])
    return jnp.stack(vals, axis=1)


def normalised_target(name, structure, constituents, ref_x, input_perm=None) -> Target:
    """Builds a Target whose internal nodes are zero-mean, unit-variance on `ref_x` (level by level)."""
    n_int = len(structure.internal)
    mean, std = np.zeros(n_int), np.ones(n_int)
    # Normalise in topological order: node j's statistics use the already-normalised children.
    for j in range(n_int):
        vals = np.asarray(_node_values(structure, constituents, mean, std, input_perm, ref_x))
        raw = vals[:, structure.internal[j]] * std[j] + mean[j]
        mean[j], std[j] = raw.mean(), max(raw.std(), 1e-6)
    return Target(name, structure, tuple(constituents), mean, std, input_perm)


# ----------------------------------------------------------------------------------------------- families
def tree_target(cfg) -> Target:
    """Complete k-ary tree over n = k^levels inputs; h_v = tanh(gain * a.z + c * z_i * z_j + b), normalised.

    a ~ N(0, I/k), c = +-U(product_low, product_high), b ~ U(-pi/2, pi/2), (i, j) a random pair of children
    (both when k = 2); all drawn from cfg.seed. `permute_leaves` shuffles which input each leaf reads. `reuse`
    makes it a DAG: from level 2 up, the j-th node of a level with m >= 2 nodes also reads the first child of
    node (j + 1) mod m, so that child feeds two parents (k + 1 children each).
    """
    k, levels = int(cfg.arity), int(cfg.levels)
    rng = np.random.default_rng(int(cfg.seed))
    n = k**levels
    children, constituents = [], []
    frontier = list(range(n))
    next_id = n
    for level in range(1, levels + 1):
        groups = [tuple(frontier[g : g + k]) for g in range(0, len(frontier), k)]
        if cfg.reuse and level >= 2 and len(groups) >= 2:
            groups = [grp + (groups[(j + 1) % len(groups)][0],) for j, grp in enumerate(groups)]
        new_frontier = []
        for kids in groups:
            children.append(kids)
            constituents.append(_random_constituent(rng, len(kids), cfg))
            new_frontier.append(next_id)
            next_id += 1
        frontier = new_frontier
    structure = make_structure(n, children)
    perm = rng.permutation(n) if cfg.permute_leaves else None
    if perm is not None:  # leaf i reads x[perm[i]]: supports are over the inputs x, not the leaves
        structure = dataclasses.replace(structure, support=structure.support[:, np.argsort(perm)])
    ref_x = np.random.default_rng(int(cfg.seed) + 1).uniform(-1, 1, size=(int(cfg.n_reference), n))
    name = f"tree(k={k},L={levels}{',reuse' if cfg.reuse else ''}{',permuted' if cfg.permute_leaves else ''})"
    return normalised_target(name, structure, constituents, ref_x, perm)


def _random_constituent(rng, k, cfg) -> Constituent:
    """One tanh constituent of k children with parameters drawn from rng (see tree_target)."""
    a = rng.normal(0.0, 1.0 / np.sqrt(k), size=k)
    c = rng.choice([-1.0, 1.0]) * rng.uniform(cfg.product_low, cfg.product_high)
    b = rng.uniform(-np.pi / 2, np.pi / 2)
    i, j = (0, 1) if k == 2 else tuple(rng.choice(k, size=2, replace=False))
    return _tanh_constituent(float(cfg.gain), a, float(c), float(b), int(i), int(j))


def additive_target(cfg) -> Target:
    """Control: y = sum of n/k tanh constituents (as in `tree`) of disjoint groups of k inputs, normalised;
    n = k^levels. Compositional with one level of constituents: a depth-1 network suffices."""
    k, n = int(cfg.arity), int(cfg.arity) ** int(cfg.levels)
    rng = np.random.default_rng(int(cfg.seed))
    children = [tuple(range(g, g + k)) for g in range(0, n, k)]
    constituents = [_random_constituent(rng, k, cfg) for _ in children]
    children.append(tuple(range(n, n + len(children))))
    constituents.append(lambda z: z.sum(1))
    ref_x = np.random.default_rng(int(cfg.seed) + 1).uniform(-1, 1, size=(int(cfg.n_reference), n))
    return normalised_target(f"additive(k={k},n={n})", make_structure(n, children), constituents, ref_x)


def dense_teacher_target(cfg) -> Target:
    """Control without compositional structure: a random dense tanh network over all n = k^levels inputs
    (cfg.levels hidden layers of width 2n, LeCun-normal weights times cfg.gain, drawn from cfg.seed), one node
    reading every input, normalised. No constituents: C is undefined and no network is labelled compositional."""
    n = int(cfg.arity) ** int(cfg.levels)
    rng = np.random.default_rng(int(cfg.seed))
    sizes = [n] + [2 * n] * int(cfg.levels) + [1]
    ws = [
        jnp.asarray(rng.normal(0, float(cfg.gain) / np.sqrt(a), size=(a, b)), jnp.float32)
        for a, b in zip(sizes, sizes[1:], strict=False)
    ]
    bs = [jnp.asarray(rng.uniform(-0.5, 0.5, size=b), jnp.float32) for b in sizes[1:]]

    def teacher(z):
        for w, b in zip(ws[:-1], bs[:-1], strict=True):
            z = jnp.tanh(z @ w + b)
        return (z @ ws[-1] + bs[-1])[:, 0]

    ref_x = np.random.default_rng(int(cfg.seed) + 1).uniform(-1, 1, size=(int(cfg.n_reference), n))
    return normalised_target(f"dense_teacher(n={n})", make_structure(n, [tuple(range(n))]), [teacher], ref_x)


def _tanh_constituent(gain, a, c, b, i, j) -> Constituent:
    a = jnp.asarray(a, jnp.float32)
    return lambda z: jnp.tanh(gain * z @ a + c * z[:, i] * z[:, j] + b)


def _expr_target(cfg) -> Target:
    from sweetspot import expr  # expr builds on this module

    return expr.expr_target(cfg)


def _boolean_target(cfg) -> Target:
    from sweetspot import boolean

    return boolean.boolean_target(cfg)


def _parity_target(cfg) -> Target:
    from sweetspot import boolean

    return boolean.parity_target(cfg)


def _modular_target(cfg) -> Target:
    from sweetspot import modular

    return modular.modular_target(cfg)


FAMILIES: dict[str, Callable] = {
    "tree": tree_target,
    "expr": _expr_target,
    "additive": additive_target,
    "dense_teacher": dense_teacher_target,
    "boolean": _boolean_target,
    "parity": _parity_target,
    "modular": _modular_target,
}


def make_target(cfg) -> Target:
    """Builds the target named by cfg.family (one of FAMILIES) from the `target` config block."""
    if cfg.family not in FAMILIES:
        raise ValueError(f"config.target.family={cfg.family!r}: allowed values are {sorted(FAMILIES)}")
    return FAMILIES[cfg.family](cfg)


# ------------------------------------------------------------------------------------------------- splits
def heldout_pair(structure: Structure) -> tuple[int, int]:
    """Two sibling nodes whose joint high region is held out: the first parent's first two children,
    preferring internal children (constituents) over raw inputs."""
    for prefer_internal in (True, False):
        for p in structure.internal:
            kids = [c for c in structure.children[p] if c >= structure.n_inputs or not prefer_internal]
            if len(kids) >= 2:
                return kids[0], kids[1]
    raise ValueError("target has no pair of sibling nodes for the held-out-combination split")


TABLE_MAX_INPUTS = 12  # Boolean targets with n <= this many inputs use their full truth table


def truth_table(n: int) -> np.ndarray:
    """(2^n, n) float32: every x in {-1, +1}^n, row r holding the bits of r (x_0 the most significant)."""
    bits = (np.arange(2**n)[:, None] >> np.arange(n - 1, -1, -1)) & 1
    return (2.0 * bits - 1.0).astype(np.float32)


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
