"""Wiring recovery: how much of a target's compositional wiring a masked network keeps, from the masks alone (no
probes, no weights). docs/method.md, "Wiring recovery" (the definitions, stated exactly as coded here).

Pure numpy on plain dicts: masks {"h0": (n, W), "h1": (W, W), ..., "out": (W, m)} (0/1, any array type; slots
at or beyond `depth` are padding and never read) and a `targets.core.Structure`. Everything is invariant to
permuting the units inside a hidden layer: units are matched to structure nodes by their input support, never
by position. A saved run's networks are tabulated by `sweetspot.analysis.recovery`.
"""

from __future__ import annotations

import numpy as np

from sweetspot.pruning.oracle import oracle_levels


def _layers(masks: dict, depth: int) -> list[np.ndarray]:
    """The active weight layers as bool arrays, input to output: h0 .. h{depth-1}, out."""
    return [np.asarray(masks[f"h{l}"]) > 0 for l in range(depth)] + [np.asarray(masks["out"]) > 0]


def unit_supports(masks: dict, depth: int) -> list[np.ndarray]:
    """Per hidden layer l = 0..depth-1 a bool (W, n): row u is unit u's input support, the inputs with a path of
    live (mask 1) edges to it (boolean reachability through the masks)."""
    layers = _layers(masks, depth)
    reach, out = np.eye(layers[0].shape[0], dtype=bool), []
    for m in layers[:-1]:
        reach = (reach.astype(np.int64) @ m) > 0  # (n, W): input i reaches unit u
        out.append(reach.T)
    return out


def reaches_output(masks: dict, depth: int) -> list[np.ndarray]:
    """Per hidden layer a bool (W,): the unit has a path of live edges to some output."""
    layers = _layers(masks, depth)
    ok, out = np.ones(layers[-1].shape[1], bool), []
    for m in layers[:0:-1]:  # out, h{depth-1}, ..., h1: the layer read by each hidden layer's units
        ok = (m.astype(np.int64) @ ok) > 0
        out.append(ok)
    return out[::-1]


def live_units(masks: dict, depth: int) -> list[np.ndarray]:
    """Per hidden layer a bool (W,): the unit lies on a live input-to-output path (non-empty support and a path
    to an output). Every other unit is dead and counts nowhere."""
    return [s.any(1) & r for s, r in zip(unit_supports(masks, depth), reaches_output(masks, depth), strict=True)]


def hosted_levels(target_depth: int, depth: int) -> list[int]:
    """h(l) for hidden layers l = 1..depth: a node of level <= h(l) may sit in layer l. h(l) = min(L, max(l,
    lambda(l))) with lambda the oracle's level (pruning.oracle_levels): a layer may compose one level more than
    the one below (l), and also host what the oracle puts there when depth < L skips levels (lambda(l))."""
    lam = oracle_levels(target_depth, depth)
    return [min(target_depth, max(l, lam[l - 1])) for l in range(1, depth + 1)]


def _descends(structure) -> np.ndarray:
    """Bool (n_nodes, n_nodes): [u, v] when u is v or a descendant of v."""
    d = np.eye(structure.n_nodes, dtype=bool)
    for v in range(structure.n_nodes):  # topological order: children first
        for c in structure.children[v]:
            d[:, v] |= d[:, c]
    return d


def _used(structure) -> np.ndarray:
    """Bool (n_nodes,): every node but the inputs no node reads (distractors), which no allowed edge touches."""
    used = np.ones(structure.n_nodes, bool)
    used[: structure.n_inputs] = [bool(structure.parents(i)) for i in range(structure.n_inputs)]
    return used


def _candidates(support: np.ndarray, live: np.ndarray, structure, level: int) -> np.ndarray:
    """Bool (W, n_nodes): [u, v] when live unit u's support lies inside S_v, v's level is <= `level` and v is not
    a distractor input."""
    inside = ~(support[:, None, :] & ~structure.support[None, :, :]).any(-1)
    hostable = (np.asarray(structure.level) <= level) & _used(structure)
    return inside & live[:, None] & hostable[None, :]


def _endpoints(masks: dict, depth: int, structure) -> list[np.ndarray]:
    """Per layer of units, input to output, the candidate nodes of each unit (`_candidates`): input i -> the leaf
    that reads it; hidden units by support and hosted level; output j -> its output node."""
    n = structure.n_inputs
    leaf_of = structure.support[:n].T & _used(structure)[None, :n]  # [i, j]: leaf j reads input i (permutations)
    inputs = np.concatenate([leaf_of, np.zeros((n, structure.n_nodes - n), bool)], 1)
    hosts = hosted_levels(structure.depth, depth)
    hidden = [
        _candidates(s, lv, structure, h)
        for s, lv, h in zip(unit_supports(masks, depth), live_units(masks, depth), hosts, strict=True)
    ]
    outputs = np.eye(structure.n_nodes, dtype=bool)[list(structure.outputs)]
    return [inputs] + hidden + [outputs]


def edge_tables(masks: dict, depth: int, structure) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per active weight layer (h0 .. out) a pair of bool arrays shaped like its mask: (live, allowed). An edge
    a -> b is live when its mask is 1, a is an input or a live unit, and b is an output or a live unit. It is
    allowed when some node u with a's support inside S_u, hostable at a's layer, is v or a descendant of some
    node v with b's support inside S_v, hostable at b's layer (for an input a, u is its leaf; for an output b,
    v is that output node): an edge the oracle wiring could contain under some assignment of units to nodes."""
    ends = _endpoints(masks, depth, structure)
    live = [np.ones(ends[0].shape[0], bool)] + live_units(masks, depth) + [np.ones(ends[-1].shape[0], bool)]
    desc = _descends(structure).astype(np.int64)
    out = []
    for i, m in enumerate(_layers(masks, depth)):
        alive = m & live[i][:, None] & live[i + 1][None, :]
        allowed = (ends[i].astype(np.int64) @ desc @ ends[i + 1].T.astype(np.int64)) > 0
        out.append((alive, alive & allowed))
    return out


def recall_nodes(structure) -> np.ndarray:
    """The node ids recall is over: internal nodes (outputs included) whose support is not every input."""
    return np.array([v for v in structure.internal if not structure.support[v].all()], np.int64)


def realised_nodes(masks: dict, depth: int, structure) -> np.ndarray:
    """Bool (n_nodes,): some live hidden unit of some active layer has exactly S_v as its input support."""
    found = np.zeros(structure.n_nodes, bool)
    for s, lv in zip(unit_supports(masks, depth), live_units(masks, depth), strict=True):
        found |= (s[lv][:, None, :] == structure.support[None, :, :]).all(-1).any(0)
    return found


def wiring_recovery(masks: dict, depth: int, structure) -> dict:
    """{precision, recall, live_edges, allowed_edges, recall_nodes, realised} of one masked network:
    precision = allowed live edges / live edges (NaN without a live edge); recall = the share of
    `recall_nodes(structure)` realised by a live unit (NaN when there is none). docs/method.md, "Wiring recovery"."""
    tables = edge_tables(masks, depth, structure)
    n_live = int(sum(a.sum() for a, _ in tables))
    n_ok = int(sum(b.sum() for _, b in tables))
    nodes = recall_nodes(structure)
    realised = realised_nodes(masks, depth, structure)
    return {
        "precision": n_ok / n_live if n_live else float("nan"),
        "recall": float(realised[nodes].mean()) if nodes.size else float("nan"),
        "live_edges": n_live,
        "allowed_edges": n_ok,
        "recall_nodes": nodes,
        "realised": realised[nodes],
    }
