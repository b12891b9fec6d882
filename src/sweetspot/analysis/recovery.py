"""Wiring recovery of every saved network of a run (docs/method.md, "Wiring recovery"; the definitions in
`sweetspot.wiring_recovery`): one row per grid point from its final masks, and a per-method summary.

    from sweetspot.analysis import recovery
    rows = recovery.recovery_rows("runs/NAME")          # needs a run made with engine.save_params (the default)
    print(recovery.format_table(recovery.summarise(rows)))
"""

from __future__ import annotations

import numpy as np

from sweetspot import grid as grid_lib
from sweetspot import rundir, targets
from sweetspot.analysis import stats
from sweetspot.config import AXES
from sweetspot.wiring_recovery import wiring_recovery

COLUMNS = ("precision", "recall", "live_edges", "allowed_edges")


def recovery_rows(run_dir: str) -> list[dict]:
    """One dict per saved point, in point order: `point`, every grid axis, and COLUMNS (wiring_recovery of the
    point's final masks against the run's target structure). Reads params/ once per chunk; no training."""
    cfg = rundir.config_from_meta(rundir.read_complete_meta(run_dir))
    grid = grid_lib.make_grid(cfg)
    structure = targets.make_target(cfg.target).structure
    rows = []
    for i, _, masks, depth in rundir.iter_networks(run_dir):
        r = wiring_recovery(masks, depth, structure)
        row = {"point": i} | {a: grid.coords[a][i].item() for a in AXES}
        rows.append(row | {k: r[k] for k in COLUMNS})
    return sorted(rows, key=lambda r: r["point"])


def summarise(rows: list[dict], by: tuple[str, ...] = ("method", "depth", "sparsity")) -> list[dict]:
    """Per cell of the `by` axes (in first-seen order): the number of networks and the mean and std of precision
    and recall over them (NaN values, e.g. recall of a target without a non-vacuous node, left out)."""
    cells: dict[tuple, list[dict]] = {}
    for r in rows:
        cells.setdefault(tuple(r[a] for a in by), []).append(r)
    out = []
    for key, members in cells.items():
        row = dict(zip(by, key, strict=True)) | {"networks": len(members)}
        for k in ("precision", "recall"):
            mean, std, _ = stats.mean_std(np.array([m[k] for m in members], float))
            row |= {f"{k}_mean": mean, f"{k}_std": std}
        out.append(row)
    return out


def format_table(rows: list[dict]) -> str:
    """Plain-text table of rows (dicts with the same keys); floats with 3 decimals."""
    if not rows:
        return ""
    head = list(rows[0])
    cell = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)
    width = {h: max(len(h), *(len(cell(r[h])) for r in rows)) for h in head}
    lines = [" ".join(f"{h:>{width[h]}}" for h in head)]
    lines += [" ".join(f"{cell(r[h]):>{width[h]}}" for h in head) for r in rows]
    return "\n".join(lines)
