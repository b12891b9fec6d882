"""Neural Sculpting module detection on pruned masks. docs/method.md, "Neural Sculpting module detection".

Source: Patil, Michael & Dovrolis, NeurIPS 2023 (arXiv 2305.18402), and their code
(github.com/ShreyasMalakarjunPatil/Neural-Sculpting, detection_pipeline/: cluster.py, merge_clusters.py,
utils/clustering_utils.py, utils/clusterability.py, utils/stopping_metrics.py; defaults from main.py). Re-implemented
on numpy + scipy; read, not copied. Layer indices here: 0 = inputs, l = 1..D = hidden layer h{l-1}, D + 1 = outputs;
hidden slots h{l} with l >= depth are identity padding and are never read.

1. Condense: repeatedly drop inputs with no live outgoing edge and hidden units with no live incoming or outgoing
   edge (outputs are always kept), until nothing changes.
2. Features: a unit of layer l < D + 1 is described by its binary outgoing reachability to every kept unit of layers
   l+1..D+1 (their `outgoing` features with step size D + 1, the value their scripts use).
3. Per layer: average-linkage agglomerative clustering on cosine distances (scipy). For k = 2..n-1 clusters the
   tree is cut into exactly k clusters and scored by their "modularity metric" on the distance graph,
   Q_D = sum_c (e_cc - a_c^2), with e_cc the fraction of the (normalised, zero-diagonal) distance mass inside c and
   a_c the fraction in c's rows; k* = argmin Q_D (ties: the larger k). When n <= 2, k* is 2 or n-1, or
   Q_D(k*) > -0.2 (`mm_threshold`), their clusterability test may override k* with 1 (one cluster) or n (all
   separate): see `_clusterability`.
4. Merge across layers, input side first: with conn[a, b] the number of live edges from module a (merged labels
   of layer l-1) to cluster b of layer l, cluster b joins module a when conn[a, b] / sum_b' conn[a, b'] > 0.9 and
   conn[a, b] / sum_a' conn[a', b] > 0.9 (`merge_threshold`; for the output layer, where every output is its own
   cluster, only the second condition); otherwise b starts a new module.
5. Success (`success`; the paper judges whether the uncovered modules match the task's function graph, we fix the
   test): the inputs grouped by detected module must equal the task's input groups (inputs read by the same set of
   nodes) and the outputs grouped by detected module must equal the task's output groups (outputs reading the same
   set of nodes). A condensed-away input or output counts as a module of its own. `score` is the Rand index of
   the two groupings over all input pairs and all output pairs pooled (1.0 iff both match). Two options carry
   their criterion where it depends on the network's depth (their repository computes no rate: the bars were
   judged from the drawings; docs/sculpting.md, "Their success criterion"): `outputs_together` expects all outputs
   in one module, `hidden_module` also requires a module of hidden units only (no input, no output).
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import cut_tree, linkage
from scipy.spatial.distance import pdist, squareform


def _weights(masks, depth, n_inputs):
    mats = [np.asarray(masks[f"h{l}"]) != 0 for l in range(int(depth))] + [np.asarray(masks["out"]) != 0]
    if mats[0].shape[0] != n_inputs:
        raise ValueError(f"masks['h0'] has {mats[0].shape[0]} rows, expected n_inputs={n_inputs}")
    for a, b in zip(mats[:-1], mats[1:], strict=True):
        if a.shape[1] != b.shape[0]:
            raise ValueError(f"mask shapes {a.shape} and {b.shape} do not chain")
    return mats


def _condense(mats):
    alive = [np.ones(mats[0].shape[0], bool)] + [np.ones(m.shape[1], bool) for m in mats]
    while True:
        new = [a.copy() for a in alive]
        for l in range(len(mats)):  # outgoing to kept units of the next layer (outputs stay)
            new[l] &= (mats[l][:, alive[l + 1]]).any(1)
        for l in range(1, len(mats)):  # incoming from kept units of the previous layer (inputs have none)
            new[l] &= (mats[l - 1][alive[l - 1]]).any(0)
        if all(np.array_equal(a, b) for a, b in zip(alive, new, strict=True)):
            return alive
        alive = new


def distance_modularity(dist: np.ndarray, labels: np.ndarray) -> float:
    """Their stopping metric: sum_c (e_cc - a_c^2) on the zero-diagonal distance matrix normalised to sum 1."""
    w = np.array(dist, float)
    np.fill_diagonal(w, 0.0)
    if w.sum() > 0:
        w = w / w.sum()
    p = np.eye(int(labels.max()) + 1)[labels]
    e = p.T @ w @ p
    a = e.sum(1)
    return float(np.trace(e) - (a * a).sum())


def _overlap_stats(u, v, n):
    ki, kj, kij = int(u.sum()), int(v.sum()), int((u & v).sum())
    x = ki * kj / n**2
    e, s = n * x, np.sqrt(n * x * (1 - x))
    return ki, kj, kij, e, s


def _clusterability(feats, tree):
    """Their `compare_expected` test: 1 if the two top-level clusters share at least the chance number of targets,
    n if the closest pair shares fewer than chance (or none), decided by the larger z-score when both hold."""
    n, big = feats.shape
    lab = cut_tree(tree, n_clusters=2).ravel()
    ki, kj, kij, e, s = _overlap_stats(feats[lab == 0].any(0), feats[lab == 1].any(0), big)
    single = (kij >= 1 and kij >= e) or kij >= max(ki, kj)
    z_single = (kij - e) / s if s else kij - e
    lab = cut_tree(tree, n_clusters=n - 1).ravel()
    pair = np.flatnonzero(lab == np.bincount(lab).argmax())[:2]
    ki, kj, kij, e, s = _overlap_stats(feats[pair[0]], feats[pair[1]], big)
    separate = (kij < max(ki, kj) and kij <= e) or kij < 1
    z_separate = (e - kij) / s if s else e - kij
    if single and separate:
        return 1 if z_single >= z_separate else n
    return 1 if single else (n if separate else None)


def cluster_layer(feats: np.ndarray, mm_threshold: float = 0.2) -> np.ndarray:
    """Cluster labels 0..k-1 of one layer's units from their binary feature rows (steps 3 of the module doc)."""
    feats = np.asarray(feats, bool)
    n = feats.shape[0]
    if n == 1:
        return np.zeros(1, int)
    tree = linkage(feats.astype(float), method="average", metric="cosine")
    dist = np.clip(squareform(pdist(feats.astype(float), "cosine")), 0.0, None)
    best_k, best_q = 2, np.inf
    for k in range(2, n):
        q = distance_modularity(dist, cut_tree(tree, n_clusters=k).ravel())
        if q <= best_q:
            best_k, best_q = k, q
    if best_k in (2, n - 1) or best_q > -mm_threshold:
        best_k = _clusterability(feats, tree) or best_k
    if best_k == 1:
        return np.zeros(n, int)
    return np.arange(n) if best_k == n else cut_tree(tree, n_clusters=best_k).ravel().astype(int)


def detect_modules(masks: dict, depth: int, n_inputs: int, n_outputs: int, merge_threshold: float = 0.9,
                   mm_threshold: float = 0.2) -> dict:
    """Modules of a masked network: `labels[l]` module id per unit of layer l (0 = inputs .. depth + 1 = outputs,
    -1 = condensed away) and `modules`, a list of {"units": frozenset of (layer, unit), "inputs", "outputs"}."""
    mats = _weights(masks, depth, n_inputs)
    if mats[-1].shape[1] != n_outputs:
        raise ValueError(f"masks['out'] has {mats[-1].shape[1]} columns, expected n_outputs={n_outputs}")
    alive = _condense(mats)
    sub = [m[alive[l]][:, alive[l + 1]] for l, m in enumerate(mats)]
    n_layers = len(alive)
    clusters = []
    for l in range(n_layers - 1):
        reach, feats = np.eye(int(alive[l].sum()), dtype=bool), []
        for m in sub[l:]:
            reach = (reach.astype(np.int64) @ m) > 0
            feats.append(reach)
        clusters.append(cluster_layer(np.concatenate(feats, 1), mm_threshold) if alive[l].any() else np.zeros(0, int))
    clusters.append(np.arange(int(alive[-1].sum())))  # every output is its own cluster
    merged = [clusters[0].copy()]
    next_id = int(clusters[0].max()) + 1 if len(clusters[0]) else 0
    for l in range(1, n_layers):
        prev, cur = merged[-1], clusters[l]
        prev_ids = list(dict.fromkeys(prev.tolist()))
        pa = np.eye(len(prev_ids))[[prev_ids.index(v) for v in prev.tolist()]].reshape(len(prev), -1)
        pb = np.eye(int(cur.max()) + 1 if len(cur) else 0)[cur].reshape(len(cur), -1)
        conn = pa.T @ sub[l - 1].astype(float) @ pb  # edges from module a (rows) to cluster b (columns)
        with np.errstate(invalid="ignore", divide="ignore"):
            row = np.ones_like(conn) if l == n_layers - 1 else conn / conn.sum(1, keepdims=True)
            col = conn / conn.sum(0, keepdims=True)
        ok = (row > merge_threshold) & (col > merge_threshold)
        new_label = {}
        for b in range(conn.shape[1]):
            if ok[:, b].any():
                new_label[b] = prev_ids[int(np.argmax(ok[:, b]))]
            else:
                new_label[b], next_id = next_id, next_id + 1
        merged.append(np.array([new_label[b] for b in cur.tolist()], int))
    labels = []
    for l in range(n_layers):
        full = -np.ones(len(alive[l]), int)
        full[alive[l]] = merged[l]
        labels.append(full)
    modules = []
    for mid in sorted({int(v) for lab in labels for v in lab if v >= 0}):
        units = frozenset((l, int(u)) for l in range(n_layers) for u in np.flatnonzero(labels[l] == mid))
        modules.append({"units": units, "inputs": tuple(int(i) for i in np.flatnonzero(labels[0] == mid)),
                        "outputs": tuple(int(k) for k in np.flatnonzero(labels[-1] == mid))})
    layer_clusters = []
    for l in range(n_layers):
        full = -np.ones(len(alive[l]), int)
        full[alive[l]] = clusters[l]
        layer_clusters.append(full)
    return {"labels": labels, "layer_clusters": layer_clusters, "modules": modules, "alive": alive,
            "n_clusters": [len(set(c.tolist())) for c in clusters]}


def _groups(keys):
    out: dict = {}
    for i, k in enumerate(keys):
        out.setdefault(k, []).append(i)
    return sorted(tuple(v) for v in out.values())


def _rand_pairs(a, b):
    n = len(a)
    return [(a[i] == a[j]) == (b[i] == b[j]) for i in range(n) for j in range(i + 1, n)]


def success(detected: dict, structure, outputs_together: bool = False, hidden_module: bool = False) -> dict:
    """Whether the detected modules partition the inputs and the outputs as the task's sub-functions do, and a
    graded `score` (Rand index over input pairs and output pairs pooled; 1.0 iff both partitions match).
    outputs_together: the expected output grouping is one module of all outputs; hidden_module: success also needs
    a module of hidden units only (module doc, step 5)."""
    n_in, n_out = structure.n_inputs, structure.n_outputs
    lab_in, lab_out = detected["labels"][0], detected["labels"][-1]
    if len(lab_in) != n_in or len(lab_out) != n_out:
        raise ValueError(f"detected modules cover {len(lab_in)} inputs / {len(lab_out)} outputs, the structure has "
                         f"{n_in} / {n_out}")
    # task graph: inputs grouped by the set of nodes reading them (unread inputs alone), outputs by the set of
    # nodes they read (their sub-functions)
    exp_in = [structure.parents(i) or ("unread", i) for i in range(n_in)]
    exp_out = [() if outputs_together else tuple(structure.children[v]) for v in structure.outputs]
    # detection: a condensed-away input or output is a module of its own
    det_in = [int(v) if v >= 0 else ("dropped", i) for i, v in enumerate(lab_in)]
    det_out = [int(v) if v >= 0 else ("dropped", k) for k, v in enumerate(lab_out)]
    in_ok, out_ok = _groups(exp_in) == _groups(det_in), _groups(exp_out) == _groups(det_out)
    hidden_found = any(m["units"] and not m["inputs"] and not m["outputs"] for m in detected["modules"])
    pairs = _rand_pairs(exp_in, det_in) + _rand_pairs(exp_out, det_out)
    ok = in_ok and out_ok and (hidden_found or not hidden_module)
    return {"success": bool(ok), "inputs_match": bool(in_ok), "outputs_match": bool(out_ok),
            "hidden_module_found": bool(hidden_found),
            "score": float(np.mean(pairs)) if pairs else 1.0, "n_modules": len(detected["modules"]),
            "expected_inputs": _groups(exp_in), "detected_inputs": _groups(det_in),
            "expected_outputs": _groups(exp_out), "detected_outputs": _groups(det_out)}
