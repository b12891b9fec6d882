"""Do two runs of the same grid agree on every metric? Issue 35's check that making the metrics cheaper changed
nothing but the time (docs/performance.md, "Metrics cost"):

    python benchmarks/metric_agreement.py RUN_BEFORE RUN_AFTER [--tol 0.01]

Reads both results.csv (the same points, matched by their axis columns), and prints per column the largest
absolute difference (numbers) or the number of points that disagree (labels and counts), then the largest
difference overall. Exit 1 when a numeric column differs by more than --tol or a label column disagrees anywhere.
Columns only one run has are listed and not compared.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys

from sweetspot.config import AXES


def _rows(run: str) -> dict[tuple, dict]:
    with open(f"{run}/results.csv", newline="") as f:
        return {tuple(r.get(a, "") for a in AXES if a in r): r for r in csv.DictReader(f)}


def _num(v: str) -> float | None:
    try:
        return float(v)
    except ValueError:
        return None


def agreement(a: dict, b: dict) -> dict[str, tuple[str, float]]:
    """{column: ("max_abs", d) for numeric columns, ("disagree", n) for labels/counts} over the shared points."""
    keys = sorted(set(a) & set(b))
    if not keys:
        raise SystemExit("error: the two runs share no grid point (compare runs of the same grid)")
    cols = [c for c in a[keys[0]] if c in b[keys[0]] and c != "point" and c not in AXES]
    out = {}
    for c in cols:
        pairs = [(a[k][c], b[k][c]) for k in keys]
        exact = all(_num(x) is not None and float(x).is_integer() for x, _ in pairs if x not in ("", "nan"))
        if exact or any(x in ("True", "False") for x, _ in pairs):
            out[c] = ("disagree", float(sum(x != y for x, y in pairs)))
            continue
        d = 0.0
        for x, y in pairs:
            fx, fy = _num(x), _num(y)
            if fx is None or fy is None or (math.isnan(fx) and math.isnan(fy)):
                d = max(d, 0.0 if x == y else math.inf)
            else:
                d = max(d, abs(fx - fy) if not (math.isnan(fx) or math.isnan(fy)) else math.inf)
        out[c] = ("max_abs", d)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--tol", type=float, default=0.01)
    args = ap.parse_args(argv)
    a, b = _rows(args.before), _rows(args.after)
    print(f"{len(set(a) & set(b))} shared points ({len(a)} and {len(b)} in the runs)")
    res = agreement(a, b)
    bad = [c for c, (kind, v) in res.items() if (kind == "max_abs" and v > args.tol) or (kind == "disagree" and v)]
    for c, (kind, v) in sorted(res.items(), key=lambda kv: -kv[1][1]):
        if v:
            print(f"{c}: {kind} {v:.3g}")
    numeric = [(v, c) for c, (kind, v) in res.items() if kind == "max_abs"]
    print(f"largest numeric difference: {max(numeric)[0]:.3g} ({max(numeric)[1]})" if numeric else "no numeric column")
    print("agree" if not bad else f"DIFFER beyond --tol {args.tol} or in labels: {', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
