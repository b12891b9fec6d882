"""Modular Boolean targets in the Neural Sculpting format. docs/method.md, "Modular targets (Neural Sculpting format)".

Source: Patil, Michael & Dovrolis, "Neural Sculpting: Uncovering hierarchically modular task structure in neural
networks through pruning and network analysis", NeurIPS 2023 (arXiv 2305.18402); their repository
github.com/ShreyasMalakarjunPatil/Neural-Sculpting names each task by a vector [inputs, widths of the sub-function
levels..., outputs] (`--modularity 4 2 4`) and ships the four exemplar tasks of `TASKS` only as pickled truth tables.
The wiring and gates below are therefore OUR reading of that notation, fixed here exactly:

A spec (n_0, n_1, ..., n_L), L >= 2, has n_0 input bits (level 0), n_l sub-function modules at level l = 1..L-1
and n_L outputs (level L). Every value is +-1 (+1 = true). A module is one node (one bit), except a module that an
internal fan-out level reads (1 <= l <= L-2, n_{l+1} > n_l): it emits one bit per reader, r = n_{l+1} / n_l bits,
each a different function of the module's children (their [4,1,2,X] networks keep two separate units at the "2"
level, each feeding its own X/2 outputs, so the two intermediate nodes are two functions, not h and NOT h:
docs/sculpting.md, "Their tasks"). Between level l-1 (width p modules) and level l (width c):
  - c < p (merge, input-separable): p % c == 0; node j reads the contiguous block j of p / c nodes.
  - c > p (fan-out, reuse): c % p == 0; node j reads the single node j // (c / p), so each node below is reused
    by c / p nodes. Matches their [4,2,4] analysis notebook, where outputs 1-2 depend on inputs 1-2 only. When
    level l is internal, the module below has c / p bits and node j reads bit j % (c / p) of it (one-to-one).
  - c == p: node j reads nodes j and j + 1 (mod p) of level l-1 (each node reused by two readers; with p <= 2,
    every node), except in two cases where node j reads node j alone (one-to-one):
      after a fan-out level (n_{l-1} > n_{l-2}), whose nodes are copies of the same modules, so the X = 2 members
      of their series, [4,1,2,2] and [8,2,1,2,2], use each intermediate node once, as their figures say;
      at the output level (l == L): the outputs are the last sub-functions. Their pruned [6,3,3,3] networks (100%
      accurate, figures in their visualizations/exemplar/) wire each output to one unit that reads two of the
      three input modules, so each output depends on two input pairs, and each input module on two outputs.
A module's children are all the bits of the modules below that it reads. A node's gate depends on its number of
children k and its rank among the nodes reading the same children (the bits of one module share children):
  - k == 1: identity if the rank is even, NOT if odd.
  - k == 2: XOR (true iff the two children differ: -z0 * z1 on +-1 values) at rank 0, AND at rank 1, OR at rank 2
    (`boolean.GATES`; XOR and XNOR are the only balanced gates that read both children, and they are one bit);
    except where LEVEL_GATES names the gate of a task's level: their [6,3,3,3] networks compute each input-pair
    sub-function with one unit per layer and each output with one unit from two of them, and a single ReLU unit
    cannot compute XOR, so both are linearly separable. Which separable gates the figures cannot tell: AND for the
    pairs, then OR, is ours (an output is true iff one of its two input pairs is all true: 7 of 16 rows).
  - k >= 3: a balanced truth table (2^(k-1) true rows) that depends on every child, drawn from
    numpy.random.default_rng(cfg.seed) in node-id order by rejection, distinct (also up to negation) from the
    tables of earlier nodes with the same children. cfg.modular_tables (TABLE_KINDS) says which tables are drawn:
      "balanced" (default): any such table (uniform over balanced tables);
      "threshold": a linearly separable one, sign(w . z) with integer weights |w_j| in {1, 2, 3}, random signs and
      an odd sum of |w_j| (so w . z is never 0 and the table is balanced). One ReLU unit computes it. A diagnostic
      of E6 (docs/sculpting.md, "Simpler sub-functions"): their pruned [4,1,2,X] networks compute both
      intermediate nodes from three shared units, which random balanced tables rarely allow; fixed before any
      network was trained on it.
Truth-table row r of k children z_0..z_{k-1} has bit j (z_j = +1) at weight 2^(k-1-j) (`truth_table`).

So the exemplars compute (x1..xn the inputs, y1.. the outputs, ^ = XOR, ~ = NOT):
  [4,2,4]   input-separable:  f1 = x1^x2, f2 = x3^x4; y1 = f1, y2 = ~f1, y3 = f2, y4 = ~f2 (XOR/XNOR pairs).
  [4,1,4]   non-modular:      h = T(x1..x4) (drawn 4-input table); y1 = h, y2 = ~h, y3 = h, y4 = ~h.
  [4,1,2,16] reused:          h = (T1(x1..x4), T2(x1..x4)), two drawn tables; g1 = T1, g2 = T2;
                              y_{8a+b} = g_{a+1} (b even) or ~g_{a+1} (b odd).
  [6,3,3,3] separable+reused: f_i = x_{2i-1} AND x_{2i}; g_j = f_j OR f_{j+1} (indices mod 3); y_j = g_j.
  [4,1,2,X] reuse series:    h = (T1, T2) as above; g1 = T1, g2 = T2; y_j reads g_{1 + (j-1) // (X/2)} (identity
                              or NOT, alternating), so each g is used X/2 times.
  [8,2,1,2,X] hierarchy:      f1 = T1(x1..x4), f2 = T2(x5..x8); h = (f1 ^ f2, f1 AND f2); g1 = f1 ^ f2,
                              g2 = f1 AND f2; outputs as above.
Outputs are not normalised (mean 0, std 1 by construction); inputs are uniform on {-1, +1}^n.
Their boolean datasets ship only as pickles (not read here): the wiring above follows their task names, their
README's family descriptions, their [4,2,4] / reuse notebooks and the pruned networks drawn in their repository's
figures; the gates drawn for k >= 3, the XOR / AND pair of [8,2,1,2,X] and the AND / OR of [6,3,3,3] are ours.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from sweetspot.targets import boolean
from sweetspot.targets.core import Target, make_structure, truth_table

# Their task families (their repository's datasets/ and shell/ folders, and its success-rate figures):
#   exemplars: input separable [4,2,4], reused [4,1,2,16], both [6,3,3,3], none (non-modular) [4,1,4];
#   reuse series [4,1,2,X] (datasets/increasing_reuse_non_separable): one non-separable 4-input module, two
#     intermediate nodes (two functions of it), each used X/2 times by the outputs ("number of times used" 1, 2,
#     4, 6, 8);
#   hierarchy series [8,2,1,2,X] (datasets/increasing_hierarchical_levels): two input-separable 4-input
#     sub-functions, a module reading both, its two bits (XOR, AND), each used X/2 times.
EXEMPLARS = {"input separable": "[4,2,4]", "reused": "[4,1,2,16]", "both": "[6,3,3,3]", "none": "[4,1,4]"}
REUSE_SERIES = tuple(f"[4,1,2,{x}]" for x in (2, 4, 8, 12, 16))
HIERARCHY_SERIES = tuple(f"[8,2,1,2,{x}]" for x in (2, 4, 8, 12, 16))
TASKS = {
    name: tuple(int(v) for v in name.strip("[]").split(","))
    for name in (*EXEMPLARS.values(), *REUSE_SERIES, *HIERARCHY_SERIES)
}
MAX_FAN_IN = 10  # largest k of a drawn truth table (2^k rows)


def _fail(spec, why):
    raise ValueError(
        f"target.modular_spec={spec!r}: {why}. Allowed: a tuple (n_0, n_1, ..., n_L) of L+1 >= 3 positive ints "
        f"(inputs, sub-function widths..., outputs) with n_0 >= 2 where each consecutive pair (p, c) has c dividing p "
        f"(c < p), p dividing c (c > p) or c == p, and every node at most {MAX_FAN_IN} children; e.g. "
        f"{', '.join(TASKS)}"
    )


def validate_spec(spec) -> tuple[int, ...]:
    """The spec as a tuple of ints, or a ValueError naming target.modular_spec and what is allowed."""
    try:
        s = tuple(spec)
    except TypeError:
        _fail(spec, "not a sequence")
    if len(s) < 3:
        _fail(spec, "needs inputs, at least one sub-function level and outputs")
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in s):
        _fail(spec, "every entry must be a positive int")
    s = tuple(int(v) for v in s)
    if s[0] < 2:
        _fail(spec, "needs at least 2 inputs")
    for l in range(1, len(s)):
        p, c = s[l - 1], s[l]
        if (c < p and p % c) or (c > p and c % p):
            _fail(spec, f"levels {l - 1} -> {l} ({p} -> {c}): neither width divides the other")
    for l in range(1, len(s)):
        p, c = s[l - 1], s[l]
        k = _bits(s, l - 1) * (p // c if c < p else (1 if c > p or _one_to_one(s, l) else min(p, 2)))
        if k > MAX_FAN_IN:
            _fail(spec, f"level {l} nodes would read {k} children")
        if k == 2 and _bits(s, l) > len(PAIR_GATES):
            _fail(spec, f"level {l} modules would need {_bits(s, l)} different gates of 2 children")
    return s


def _bits(s, l: int) -> int:
    """Nodes per module of level l: c / p when an internal fan-out level reads it (module doc), else 1."""
    return s[l + 1] // s[l] if 1 <= l <= len(s) - 3 and s[l + 1] > s[l] else 1


def widths(spec) -> tuple[int, ...]:
    """Nodes per level (inputs first, outputs last): the spec with every module counted by its bits."""
    s = validate_spec(spec)
    return tuple(n * _bits(s, l) for l, n in enumerate(s))


def wiring(spec) -> list[list[tuple[int, ...]]]:
    """children[l-1][j]: indices (within level l-1, in nodes) read by node j of level l, for l = 1..L (module
    doc); the bits of a module are consecutive nodes that read the same children."""
    s = validate_spec(spec)
    out = []
    for l in range(1, len(s)):
        p, c, below, here = s[l - 1], s[l], _bits(s, l - 1), _bits(s, l)
        if c > p and below > 1:  # an internal fan-out level reads its module's bits one-to-one
            out.append([(j,) for j in range(c)])
            continue
        if c < p:
            b = p // c
            mods = [range(j * b, (j + 1) * b) for j in range(c)]
        elif c > p:
            mods = [(j // (c // p),) for j in range(c)]
        elif _one_to_one(s, l):
            mods = [(j,) for j in range(c)]
        else:
            mods = [sorted({j, (j + 1) % p}) for j in range(c)]
        kids = [tuple(m * below + i for m in ms for i in range(below)) for ms in mods]
        out.append([k for k in kids for _ in range(here)])
    return out


def _one_to_one(s, l: int) -> bool:
    """Level l (as wide as level l-1) reads level l-1 one-to-one: level l-1 is a fan-out level, or l is the output
    level (module doc)."""
    return l >= 2 and s[l] == s[l - 1] and (s[l - 1] > s[l - 2] or l == len(s) - 1)


def _acceptable(t, k, avoid) -> bool:
    """t depends on every child (flipping bit j changes the value on some row) and differs from every table in
    `avoid`, also up to negation."""
    flips = [np.any(t != t[np.arange(2**k) ^ (1 << (k - 1 - j))]) for j in range(k)]
    return all(flips) and not any(np.array_equal(t, a) or np.array_equal(t, -a) for a in avoid)


def _draw_table(rng, k, avoid):
    for _ in range(10_000):
        t = rng.permutation(np.repeat(np.array([1.0, -1.0], np.float32), 2 ** (k - 1)))
        if _acceptable(t, k, avoid):
            return t
    raise ValueError(f"could not draw a balanced {k}-input table depending on every input")  # pragma: no cover


def _draw_threshold(rng, k, avoid):
    for _ in range(10_000):
        w = rng.integers(1, 4, k) * rng.choice(np.array([-1, 1]), k)
        if np.abs(w).sum() % 2 == 0:
            continue
        t = np.where(truth_table(k) @ w > 0, 1.0, -1.0).astype(np.float32)
        if _acceptable(t, k, avoid):
            return t
    raise ValueError(f"could not draw a {k}-input threshold table depending on every input")  # pragma: no cover


# How tables of k >= 3 children are drawn (module doc; config target.modular_tables).
TABLE_KINDS = {"balanced": _draw_table, "threshold": _draw_threshold}


def has_drawn_tables(spec) -> bool:
    """Whether some node of the task reads k >= 3 children, so that target.modular_tables changes the task."""
    return any(len(kids) > 2 for level in wiring(spec) for kids in level)


def _table_gate(table):
    k = int(np.log2(len(table)))
    weights = jnp.asarray(2 ** (k - 1 - np.arange(k)), jnp.int32)
    tab = jnp.asarray(table, jnp.float32)
    return lambda z: tab[((z > 0).astype(jnp.int32) * weights).sum(1)]


def _identity(z):
    return jnp.where(z[:, 0] > 0, 1.0, -1.0)


def _negation(z):
    return jnp.where(z[:, 0] > 0, -1.0, 1.0)


def _xor(z):
    return jnp.where((z[:, 0] > 0) != (z[:, 1] > 0), 1.0, -1.0)


# The named gates of k <= 2 children: name -> (gate, closed-form depth: the fewest hidden layers that compute it;
# identity and NOT are linear readouts, XOR needs one hidden layer). Read by depth_predictor (like boolean.GATES,
# which holds the AND and OR of PAIR_GATES).
NAMED_GATES = {"identity": (_identity, 0), "not": (_negation, 0), "xor": (_xor, 1)}
# Gate names (boolean.GATES) of the 2-child nodes of a task's level, where their figures show the gate is not XOR
# (module doc): {spec: {level: name}}.
LEVEL_GATES = {(6, 3, 3, 3): {1: "and", 2: "or"}}
# The gates of 1 and 2 children by rank among the nodes reading the same children (module doc); a named gate's
# truth table is the gate evaluated on `truth_table(k)`.
SINGLE_GATES = (_identity, _negation)  # by rank parity
PAIR_GATES = (_xor, boolean.GATES["and"], boolean.GATES["or"])


def build(spec, seed: int = 0, table_kind: str = "balanced"):
    """(structure, constituents, tables): tables[j] is node j's +-1 truth table over its children (id order);
    `table_kind` (TABLE_KINDS) says how the tables of k >= 3 children are drawn."""
    s = validate_spec(spec)
    if table_kind not in TABLE_KINDS:
        raise ValueError(f"target.modular_tables={table_kind!r}: allowed values are {tuple(TABLE_KINDS)}")
    draw = TABLE_KINDS[table_kind]
    rng = np.random.default_rng(int(seed))
    starts = np.concatenate([[0], np.cumsum(widths(s))])
    children, constituents, tables = [], [], []
    drawn: dict[tuple[int, ...], list[np.ndarray]] = {}
    for l, level in enumerate(wiring(s), start=1):
        for j, kids in enumerate(level):
            ids = tuple(int(starts[l - 1] + i) for i in kids)
            children.append(ids)
            rank = sum(1 for jj in range(j) if level[jj] == kids)  # position among nodes reading these children
            if len(ids) <= 2:
                if len(ids) == 1:
                    gate = SINGLE_GATES[rank % 2]
                else:
                    gate = boolean.GATES[LEVEL_GATES[s][l]] if l in LEVEL_GATES.get(s, {}) else PAIR_GATES[rank]
                table = np.asarray(gate(jnp.asarray(truth_table(len(ids)))), np.float32)
            else:
                table = draw(rng, len(ids), drawn.setdefault(ids, []))
                drawn[ids].append(table)
                gate = _table_gate(table)
            constituents.append(gate)
            tables.append(np.asarray(table, np.float32))
    structure = make_structure(s[0], children, n_outputs=s[-1])
    return structure, constituents, tables


def modular_target(cfg) -> Target:
    """The Neural Sculpting task named by cfg.modular_spec (gates drawn from cfg.seed, tables of >= 3 children of
    the kind cfg.modular_tables); bits domain, +-1 outputs."""
    s = validate_spec(cfg.modular_spec)
    kind = cfg.modular_tables
    structure, constituents, _ = build(s, int(cfg.seed), kind)
    n_int = len(structure.internal)
    name = "modular[" + ",".join(map(str, s)) + "]" + ("" if kind == "balanced" else f"/{kind}")
    return Target(name, structure, tuple(constituents), np.zeros(n_int), np.ones(n_int), domain="bits", binary=True)
