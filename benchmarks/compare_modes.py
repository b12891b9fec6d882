"""How far apart two runs of the same grid end up, network by network: per method, how many points' labels and
integer counts differ, and the largest and median absolute difference of the float results. Used to compare depth
modes and chunk plans of one sweep (docs/reliability.md, "How far apart runs end up"), where results agree only
within the float noise that training amplifies.

    python -m sweetspot sweep sweeps/regime_map.py --out /tmp/m/segment
    python -m sweetspot sweep sweeps/regime_map.py --out /tmp/m/group --config.engine.depth_mode=group
    python -m sweetspot sweep sweeps/regime_map.py --out /tmp/m/segment_c2 --config.engine.chunk_size=2
    python benchmarks/compare_modes.py /tmp/m/segment /tmp/m/group /tmp/m/segment_c2

Compares every pair of the runs given (their results.csv, which must list the same points).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os

import numpy as np

LABELS = ("fit", "compositional", "fractured", "dead_units", "disconnected_inputs")
FLOATS = ("C", "IIA", "test_loss", "C_init")


def load(run: str) -> dict[str, dict]:
    with open(os.path.join(run, "results.csv")) as f:
        return {r["point"]: r for r in csv.DictReader(f)}


def compare(a: dict, b: dict) -> dict[str, dict]:
    """Per method: {"points", "differ": {label: count}, "abs_diff": {key: (max, median) over the points finite in
    both}, "nan_in_one": {key: points NaN in one run only}}."""
    if a.keys() != b.keys():
        raise SystemExit("error: the two runs list different points; compare runs of one grid")
    out = {}
    for method in sorted({r["method"] for r in a.values()}):
        pts = [p for p in a if a[p]["method"] == method]
        row = {"points": len(pts), "differ": {k: sum(a[p][k] != b[p][k] for p in pts) for k in LABELS}}
        row["abs_diff"], row["nan_in_one"] = {}, {}
        for k in FLOATS:
            x, y = (np.array([float(r[p][k]) for p in pts]) for r in (a, b))
            row["nan_in_one"][k] = int((np.isnan(x) != np.isnan(y)).sum())
            d = np.abs(x - y)[np.isfinite(x) & np.isfinite(y)]
            row["abs_diff"][k] = (float(d.max()), float(np.median(d))) if d.size else (float("nan"),) * 2
        out[method] = row
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="two or more run directories of one grid")
    a = p.parse_args(argv)
    if len(a.runs) < 2:
        raise SystemExit("error: runs: give at least two run directories")
    loaded = {r: load(r) for r in a.runs}
    for x, y in itertools.combinations(a.runs, 2):
        print(f"{x} vs {y}")
        for method, row in compare(loaded[x], loaded[y]).items():
            labels = ", ".join(f"{k} {n}" for k, n in row["differ"].items())
            floats = ", ".join(f"{k} {m:.2g} / {med:.2g}" for k, (m, med) in row["abs_diff"].items())
            nan = sum(row["nan_in_one"].values())
            print(f"  {method} ({row['points']} points): differ in {labels}; |diff| max / median: {floats}; "
                  f"NaN in one run only: {nan}")


if __name__ == "__main__":
    main()
