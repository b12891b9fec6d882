"""The target interface: `Structure` (the DAG) and `Target` (its node values). docs/method.md, "Targets".

A target is a DAG of small constituent functions over inputs x in [-1, 1]^n or {-1, +1}^n. Node ids are
topological: ids 0..n-1 are the inputs (leaves, h = x_i), internal nodes follow, the last `n_outputs` ids are
the outputs (one root by default). The families (tree.py, expr.py, boolean.py, modular.py) build `Target`s from
these pieces; the registry in `sweetspot.targets` names them.
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

    def node_values(self, x: jnp.ndarray, forced: dict | None = None) -> jnp.ndarray:
        """(batch, n) -> (batch, n_nodes): h_v(x) for every node (leaves are the inputs). `forced` {v: (batch,)}
        sets internal node v to the given values and evaluates the rest of the DAG from them (an intervention
        h_v := value, docs/method.md "Causal score")."""
        return _node_values(self.structure, self.constituents, self.mean, self.std, self.input_perm, x, forced)

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


def _node_values(structure, constituents, mean, std, perm, x, forced=None):
    x = jnp.asarray(x)
    if perm is not None:
        x = x[:, perm]
    vals = [x[:, i] for i in range(structure.n_inputs)]
    for j, v in enumerate(structure.internal):
        if forced is not None and v in forced:
            vals.append(jnp.asarray(forced[v], x.dtype))
            continue
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




def reference_inputs(cfg, n: int) -> np.ndarray:
    """The normalisation reference sample of the real-valued families: cfg.n_reference points uniform on
    [-1, 1]^n, drawn from cfg.seed + 1 (the constituents' parameters use cfg.seed)."""
    return np.random.default_rng(int(cfg.seed) + 1).uniform(-1, 1, size=(int(cfg.n_reference), n))


TABLE_MAX_INPUTS = 12  # Boolean targets with n <= this many inputs use their full truth table


def truth_table(n: int) -> np.ndarray:
    """(2^n, n) float32: every x in {-1, +1}^n, row r holding the bits of r (x_0 the most significant)."""
    bits = (np.arange(2**n)[:, None] >> np.arange(n - 1, -1, -1)) & 1
    return (2.0 * bits - 1.0).astype(np.float32)
