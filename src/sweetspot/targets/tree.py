"""Real-valued families built from random tanh constituents: `tree`, and the controls `additive` and
`dense_teacher`. docs/method.md, section "Targets"."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from sweetspot.targets.core import Constituent, Target, make_structure, normalised_target, reference_inputs


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
    ref_x = reference_inputs(cfg, n)
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
    ref_x = reference_inputs(cfg, n)
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

    ref_x = reference_inputs(cfg, n)
    return normalised_target(f"dense_teacher(n={n})", make_structure(n, [tuple(range(n))]), [teacher], ref_x)


def _tanh_constituent(gain, a, c, b, i, j) -> Constituent:
    a = jnp.asarray(a, jnp.float32)
    return lambda z: jnp.tanh(gain * z @ a + c * z[:, i] * z[:, j] + b)


