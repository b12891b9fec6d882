"""Wiring diagrams of saved networks: every live weight an edge, every hidden unit coloured by its home node.

    python analysis/wiring.py RUN_DIR [--a SPEC --b SPEC] [--out DIR]

Loads two saved grid points of RUN_DIR (engine.save_params runs; `rundir.load_network`, no retraining) and
draws them one above the other, writing wiring_pair.png and wiring_pair.pdf to --out (default RUN_DIR). Without
--a/--b it picks the most compositional network (highest C among the `compositional` points, else among the
fit ones) and the most fractured one (the fit point with the lowest C). A SPEC is 'axis=value,...' as for
`sweetspot diagnose --point` (e.g. method=sp,sparsity=0.8,seed=0) or a bare point index (results.csv `point`).

A unit's home is the definition of docs/method.md, "Metrics" (module purity): the structure node it is local
to (sum of its normalised signature over the node's support >= metrics.local_tau) with the smallest support,
ties to the lowest node id; units that are dead or local to no node have none. Hidden units are drawn
in each layer sorted by where their home sits in the tree (units without a home by their signature's centre
of mass over the inputs), so a compositional network shows coloured blocks whose edges follow the tree
(drawn at the left over the inputs); a fractured one shows mixed colours and criss-crossing edges.
"""

from __future__ import annotations

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from sweetspot import grid as grid_lib  # noqa: E402
from sweetspot import metrics, rundir  # noqa: E402
from sweetspot import results as res_lib  # noqa: E402
from sweetspot.analysis import base, stats  # noqa: E402
from sweetspot.config import AXES  # noqa: E402

POS, NEG = np.array([0.80, 0.15, 0.10]), np.array([0.10, 0.30, 0.80])  # edge colours by weight sign
NO_HOME_FACE = "white"
OUTPUT_GREYS = [(0.6, 0.6, 0.6), (0.42, 0.42, 0.42), (0.75, 0.75, 0.75), (0.3, 0.3, 0.3)]
# Constituents get strong colours, leaves (homes of units that read one input) pale ones; never grey.
STRONG = [c for i, c in enumerate(plt.get_cmap("tab10").colors) if i != 7] + list(plt.get_cmap("Dark2").colors)
PALE = [c for i, c in enumerate(plt.get_cmap("tab20").colors) if i % 2 and i != 15]  # tab10's light halves
PALE += list(plt.get_cmap("Pastel2").colors)


# ---------------------------------------------------------------------------------------------- homes
def unit_homes(params, masks, depth, activation, target, mcfg, x) -> np.ndarray:
    """Int (n_slots, width): each hidden unit's home node id (docs/method.md, "Module purity"), -1 for dead
    units, units local to no node and padded layers. x are the signature inputs (make_probe's x_sig)."""
    support = np.asarray(target.structure.support, np.float32)  # (n_nodes, n)
    sig = metrics.signatures(params, masks, depth, activation, np.asarray(x, np.float32))
    _, local = metrics.locality(sig, masks, depth, support, mcfg)
    return np.asarray(metrics.home_nodes(local, support)).astype(np.int64)


def _signature_centres(params, masks, depth, activation, x) -> np.ndarray:
    """(n_slots, width): centre of mass over the input indices of each unit's signature (NaN with none)."""
    sig = np.asarray(metrics.signatures(params, masks, depth, activation, np.asarray(x, np.float32)))
    total = sig.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, sig @ np.arange(sig.shape[-1]) / total, np.nan)


def node_colours(structure) -> dict[int, tuple]:
    """Colour of every structure node: constituents strong (tab10, Dark2), leaves pale (tab20), outputs grey."""
    colours = {v: OUTPUT_GREYS[j % len(OUTPUT_GREYS)] for j, v in enumerate(structure.outputs)}
    for j, v in enumerate(structure.probe_nodes):
        colours[v] = STRONG[j % len(STRONG)]
    for i in range(structure.n_inputs):
        colours[i] = PALE[i % len(PALE)]
    return colours


def node_label(structure, v: int) -> str:
    """'v9: x0,x1' (the node and its input support); leaves read 'x3 only', outputs are marked."""
    if v < structure.n_inputs:
        return f"x{int(np.flatnonzero(structure.support[v])[0])} only"
    sup = np.flatnonzero(structure.support[v])
    inputs = "all inputs" if len(sup) == structure.n_inputs else ",".join(f"x{i}" for i in sup)
    kind = (" (root)" if len(structure.outputs) == 1 else " (output)") if v in structure.outputs else ""
    return f"v{v}{kind}: {inputs}"


# -------------------------------------------------------------------------------------------- drawing
def _spread(n: int) -> np.ndarray:
    """n evenly spaced heights in (0, 1), top to bottom."""
    return 1.0 - (np.arange(n) + 0.5) / max(n, 1)


def _edges(ax, w, y_from, y_to, x_from, x_to, zorder):
    """One weight layer as a LineCollection: alpha and width by |w| / max |w| of the layer, colour by sign."""
    src, dst = np.nonzero(w)
    if not len(src):
        return
    mag = np.abs(w[src, dst]) / np.abs(w[src, dst]).max()
    order = np.argsort(mag)  # strong edges on top
    src, dst, mag = src[order], dst[order], mag[order]
    colours = np.where((w[src, dst] > 0)[:, None], POS, NEG)
    rgba = np.concatenate([colours, (0.04 + 0.86 * mag)[:, None]], 1)
    segs = np.stack(
        [np.stack([np.full(len(src), x_from), y_from[src]], 1), np.stack([np.full(len(dst), x_to), y_to[dst]], 1)], 1
    )
    ax.add_collection(LineCollection(segs, colors=rgba, linewidths=0.2 + 2.0 * mag, zorder=zorder))


def _draw_tree(ax, structure, y_inputs, colours, x0=-0.2, step=0.22):
    """The target's tree at the left of the input column: leaves at the inputs, node v at x0 - step * level."""
    n = structure.n_inputs
    pos = {}
    for v in range(structure.n_nodes):
        if v < n:
            i = int(np.flatnonzero(structure.support[v])[0])
            pos[v] = (x0 + 0.15, y_inputs[i])
        else:
            kids = structure.children[v]
            pos[v] = (x0 - step * structure.level[v], float(np.mean([pos[c][1] for c in kids])))
            for c in kids:
                ax.plot([pos[v][0], pos[c][0]], [pos[v][1], pos[c][1]], color="0.55", lw=0.8, zorder=1)
    for v in range(n, structure.n_nodes):
        ax.scatter(*pos[v], s=55, color=colours[v], edgecolors="k", linewidths=0.5, zorder=3)
        ax.annotate(f"v{v}", pos[v], xytext=(0, 5), textcoords="offset points", ha="center", fontsize=8)
    return min(p[0] for p in pos.values())


def _positions(weights, homes, centres, structure, depth):
    """(ys, x_of): the heights of every column (inputs, hidden layers sorted by where their home sits in the tree,
    outputs) and the columns' x positions. Connected units first; homeless ones by their signature's centre."""
    n = structure.n_inputs
    width = weights[0].shape[1]
    node_centre = structure.support.astype(float) @ np.arange(n) / structure.support.sum(1)
    ys, x_of = [_spread(n)], [0.0]
    for l in range(depth):
        connected = (weights[l] != 0).any(0) & (weights[l + 1] != 0).any(1)
        h = homes[l]
        key_y = np.where(h >= 0, node_centre[np.maximum(h, 0)], np.nan_to_num(centres[l], nan=n))
        key_size = np.where(h >= 0, structure.support.sum(1)[np.maximum(h, 0)], n + 1)
        order = np.lexsort((np.arange(width), h, key_size, key_y, ~connected))
        y = np.empty(width)
        y[order] = _spread(width)
        ys.append(y)
        x_of.append(l + 1.0)
    ys.append(_spread(weights[-1].shape[1]))
    x_of.append(depth + 1.0)
    return ys, x_of


def _draw_units(ax, weights, ys, x_of, homes, colours, depth) -> set:
    """Inputs (squares, labelled), hidden units (dots coloured by home; faint when unconnected) and outputs
    (diamonds); returns the set of homes drawn."""
    n, n_out = len(ys[0]), len(ys[-1])
    ax.scatter(np.zeros(n), ys[0], s=60, marker="s", color="0.2", zorder=4)
    label_box = dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.7)
    for i in range(n):
        ax.annotate(
            f"x{i}",
            (0, ys[0][i]),
            xytext=(5, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            zorder=5,
            bbox=label_box,
        )
    used = set()
    for l in range(depth):
        has_in = (weights[l] != 0).any(0)
        has_out = (weights[l + 1] != 0).any(1)
        for u in range(len(ys[l + 1])):
            h = homes[l, u]
            if not (has_in[u] and has_out[u]):
                ax.scatter(x_of[l + 1], ys[l + 1][u], s=8, color="0.85", zorder=3)
                continue
            used.add(int(h))
            face = NO_HOME_FACE if h < 0 else colours[int(h)]
            ax.scatter(x_of[l + 1], ys[l + 1][u], s=42, color=face, edgecolors="k", linewidths=0.6, zorder=4)
    ax.scatter(np.full(n_out, x_of[-1]), ys[-1], s=70, marker="D", color="k", zorder=4)
    for j in range(n_out):
        name = "y" if n_out == 1 else f"y{j}"
        ax.annotate(name, (x_of[-1], ys[-1][j]), xytext=(7, 0), textcoords="offset points", va="center", fontsize=8)
    return used


def _legend(ax, structure, homes, used, colours, depth, where=None) -> None:
    """The home nodes drawn (constituents, outputs, leaves, no home) with their unit counts, and the edge signs."""
    counts = {v: int((homes[:depth] == v).sum()) for v in used}
    outs = structure.outputs
    inner = sorted(u for u in used if u >= structure.n_inputs and u not in outs)
    leaves = sorted(u for u in used if 0 <= u < structure.n_inputs)
    handles = [
        _dot(colours[v], f"{node_label(structure, v)} ({counts[v]})")
        for v in inner + [v for v in outs if v in used] + leaves
    ]
    if -1 in used:
        handles.append(_dot(NO_HOME_FACE, f"no home: mixed or dead ({counts[-1]})"))
    handles += [
        Line2D([], [], color=POS, lw=1.5, label="w > 0"),
        Line2D([], [], color=NEG, lw=1.5, label="w < 0"),
    ]
    (where or ax).legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 1.0) if where else (0.5, -0.06),
        ncol=3,
        frameon=False,
        title="home node of the hidden units (number of units)",
        handletextpad=0.3,
        columnspacing=1.0,
    )


def draw_wiring(ax, params, masks, depth, target, cfg, title, probe_seed=None, legend_ax=None):
    """Draws the depth-`depth` network (params, masks as from rundir.load_network) on `ax`: inputs x0.. at the
    left (with the target's tree beside them), hidden layers h0..h{depth-1}, the output at the right. Live
    weights are edges (alpha and width by |w| normalised per layer; red > 0, blue < 0); hidden units are dots
    coloured by their home node (outputs grey, no home white); units with no live input or output are faint.
    The legend goes under `ax`, or into `legend_ax` when given. Returns the homes (n_slots, width) from
    `unit_homes`."""
    structure = target.structure
    activation = cfg.model.activation
    seed = int(cfg.target.data_seed) if probe_seed is None else probe_seed
    x_sig = metrics.make_probe(target, cfg.metrics, seed=seed)["x_sig"]
    depth = int(depth)
    params = {k: {kk: np.asarray(vv) for kk, vv in p.items()} for k, p in params.items()}
    masks = {k: np.asarray(m) for k, m in masks.items()}
    homes = unit_homes(params, masks, depth, activation, target, cfg.metrics, x_sig)
    centres = _signature_centres(params, masks, depth, activation, x_sig)
    colours = node_colours(structure)
    weights = [params[f"h{l}"]["w"] * masks[f"h{l}"] for l in range(depth)] + [params["out"]["w"] * masks["out"]]
    ys, x_of = _positions(weights, homes, centres, structure, depth)
    for l, w in enumerate(weights):
        _edges(ax, w, ys[l], ys[l + 1], x_of[l], x_of[l + 1], zorder=2)
    used = _draw_units(ax, weights, ys, x_of, homes, colours, depth)
    x_left = _draw_tree(ax, structure, ys[0], colours)
    labels = ["inputs"] + [f"h{l}" for l in range(depth)] + ["output"]
    for x, lab in zip(x_of, labels, strict=True):
        ax.text(x, -0.035, lab, ha="center", va="top", fontsize=8)
    ax.text(x_left, -0.035, "target", ha="left", va="top", fontsize=8, color="0.4")
    ax.set_xlim(x_left - 0.12, x_of[-1] + 0.2)
    ax.set_ylim(-0.09, 1.03)
    ax.axis("off")
    ax.set_title(title)
    _legend(ax, structure, homes, used, colours, depth, legend_ax)
    return homes


def _dot(colour, label):
    return Line2D([], [], marker="o", ls="", markerfacecolor=colour, markeredgecolor="k", markersize=6, label=label)


# ---------------------------------------------------------------------------------------------- points
def point_spec(row: dict) -> str:
    """'method=...,depth=...,...,seed=...' of a results.csv row, as rundir.find_point accepts."""
    return ",".join(f"{a}={row[a]}" for a in AXES if a in row)


def _resolve(run_dir: str, spec: str) -> tuple[str, dict | None]:
    """(axis spec, results.csv row) of a spec given as axis=value pairs or as a bare point index."""
    meta = rundir.read_complete_meta(run_dir)
    rows = res_lib.read_results_csv(run_dir, meta)
    if spec.strip().isdigit():
        i = int(spec)
        if not 0 <= i < len(rows):
            raise res_lib.ResultsError(f"{run_dir}: point {i}: allowed values are 0..{len(rows) - 1}")
        return point_spec(rows[i]), rows[i]
    grid = grid_lib.make_grid(rundir.config_from_meta(meta))
    i = rundir.find_point(grid, spec)
    return spec, rows[i]


def pick_pair(rows: list[dict]) -> tuple[str, str]:
    """(compositional spec, fractured spec) from results.csv rows: the highest C among compositional rows
    (else among fit rows), and the lowest C among fit rows. Rows without a finite C are skipped."""
    scored = [r for r in rows if np.isfinite(stats.num(r.get("C"))) and r.get("diverged") != "True"]
    fit = [r for r in scored if r.get("fit") == "True"]
    if not fit:
        raise ValueError("no fit point with a finite C: nothing to compare")
    comp = [r for r in fit if r.get("compositional") == "True"] or fit
    best = max(comp, key=lambda r: stats.num(r["C"]))
    worst = min((r for r in fit if r is not best), key=lambda r: stats.num(r["C"]), default=best)
    return point_spec(best), point_spec(worst)


def label_of(row: dict | None) -> str:
    """A results.csv row's label: compositional, fractured (fit and not compositional) or unfit."""
    if not row:
        return ""
    fit = "fractured" if row.get("fit") == "True" else "unfit"
    return "compositional" if row.get("compositional") == "True" else fit


def _title(cfg, row, spec, depth, test_r2) -> str:
    """Two lines: the point, then test R^2, C and IIA_das, with the label after the score it is judged on
    (IIA_das; C in runs from before it)."""
    method = row["method"] if row else spec
    sparsity = f"sparsity {stats.num(row['sparsity']):g}" if row else ""
    if row and np.isfinite(stats.num(row.get("realised_sparsity"))):
        sparsity += f" (realised {stats.num(row['realised_sparsity']):.2f})"
    seed = f", seed {row['seed']}" if row else ""
    scores = [f"test $R^2$ = {test_r2:.3f}"]
    scores += [f"{k} = {stats.num(row[k]):.2f}" for k in ("C", "IIA_das") if row and np.isfinite(stats.num(row.get(k)))]
    label = f": {label_of(row)}" if len(scores) > 1 else ""
    return f"{method}, depth {depth}, {sparsity}{seed}\n{', '.join(scores)}{label}"


def draw_pair(run_dir: str, spec_a: str, spec_b: str, out_base: str) -> str:
    """Draws two saved points of run_dir one above the other (each with its legend under it); writes
    out_base.png and .pdf; returns the PNG path."""
    fig, axes = plt.subplots(4, 1, figsize=(8.6, 13.0), height_ratios=(5, 1.5, 5, 1.5))
    for ax, legend_ax, spec in ((axes[0], axes[1], spec_a), (axes[2], axes[3], spec_b)):
        spec, row = _resolve(run_dir, spec)
        cfg, target, params, masks, depth, test_r2 = rundir.load_network(run_dir, spec)
        draw_wiring(ax, params, masks, depth, target, cfg, _title(cfg, row, spec, depth, test_r2), legend_ax=legend_ax)
        legend_ax.axis("off")
    fig.subplots_adjust(left=0.01, right=0.99, top=0.96, bottom=0.01, hspace=0.15)
    base.savefig(
        fig,
        out_base,
        f"{target.name}: live weights (red > 0, blue < 0; opacity and width by |w| per layer); units coloured by "
        "home node and sorted by position in the tree; top and bottom: the two networks the headline names.",
    )
    plt.close(fig)
    return f"{out_base}.png"


# ------------------------------------------------------------------------------------------- in the report
TITLE = "Wiring diagrams"


def select(runs):
    """The first E3 run, else the first E1 run, whose parameters were saved and that has the metrics."""
    for prefix in ("e3/tree", "e3/", "e1", ""):
        for r in runs:
            if r.experiment.startswith(prefix) and r.has("C") and os.path.isdir(os.path.join(r.path, "params")):
                return [r]
    return []


def _sides(pool: list[dict], pruned: bool) -> str:
    """What pick_pair's top and bottom networks of `pool` are, in one sentence (its fallbacks included)."""
    fit = [r for r in pool if r.get("fit") == "True" and np.isfinite(stats.num(r.get("C")))]
    among = " among the pruned ones" if pruned else ""
    if not fit:
        return "No network fits: drawn are the one with the highest C (top) and the one with the lowest C (bottom)."
    if any(r.get("compositional") == "True" for r in fit):
        return f"Drawn: the compositional network with the highest C (top) and the fit one with the lowest C{among}."
    return f"No network is compositional: drawn are the fit networks with the highest C (top) and the lowest C{among}."


def title_of(rows: list[dict | None]) -> str:
    """'Wiring: a compositional and a fractured network', 'Wiring: two unfit networks': the labels drawn."""
    labels = [label_of(r) or "saved" for r in rows]
    if labels[0] == labels[1]:
        return f"Wiring: two {labels[0]} networks"
    article = lambda w: "an" if w[0] in "aeiou" else "a"
    return f"Wiring: {article(labels[0])} {labels[0]} and {article(labels[1])} {labels[1]} network"


def make(runs, out):
    """Draws pick_pair's two networks of the selected run, preferring sparse networks for the fractured side."""
    run = runs[0]
    sparse = [r for r in run.rows if stats.num(r["sparsity"]) > 0]
    pool = sparse if any(r.get("fit") == "True" for r in sparse) else run.rows
    try:
        spec_a, spec_b = pick_pair(pool)
    except ValueError:  # nothing fits (e.g. a tiny run): the highest and lowest C, labelled unfit in the titles
        scored = sorted((r for r in run.rows if np.isfinite(stats.num(r.get("C")))), key=lambda r: stats.num(r["C"]))
        if not scored:
            return base.Section(TITLE, f"No point of {run.path} has a finite C, so there is nothing to draw.")
        spec_a, spec_b = point_spec(scored[-1]), point_spec(scored[0])
    draw_pair(run.path, spec_a, spec_b, os.path.join(out, "wiring_pair"))
    rows = [_resolve(run.path, spec)[1] for spec in (spec_a, spec_b)]
    numbers = [["", "network", "test R^2", "C", "IIA_das", "label"]] + [
        [side, spec, *(stats.num(r.get(k)) for k in ("test_r2", "C", "IIA_das")), label_of(r)]
        for side, spec, r in zip(("top", "bottom"), (spec_a, spec_b), rows, strict=True)
    ]
    details = f"From {run.path}. Units are coloured by their home node (docs/method.md, Metrics)."
    return base.Section(title_of(rows), _sides(pool, pool is sparse), ["wiring_pair.png"], [], numbers, details=details)


@base.one_line_errors
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument(
        "--a", default=None, help="left point: axis=value,... or a point index (default: most compositional)"
    )
    p.add_argument("--b", default=None, help="right point (default: most fractured fit point)")
    p.add_argument("--out", default=None, help="figure directory (default: RUN_DIR)")
    args = p.parse_args(argv)
    rows = base.load_run(args.run_dir).rows  # one `error:` line for a missing, unfinished or damaged run
    a, b = args.a, args.b
    if a is None or b is None:
        try:
            pa, pb = pick_pair(rows)
        except ValueError as e:
            raise res_lib.ResultsError(f"{args.run_dir}: {e}: give both --a and --b") from None
        a, b = a or pa, b or pb
    for spec in (a, b):  # both points exist before anything is drawn
        _resolve(args.run_dir, spec)
    out = args.out or args.run_dir
    os.makedirs(out, exist_ok=True)
    print(f"a: {a}\nb: {b}")
    print(draw_pair(args.run_dir, a, b, os.path.join(out, "wiring_pair")))


if __name__ == "__main__":
    main()
