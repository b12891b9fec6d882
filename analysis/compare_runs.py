"""Are two `make figures` outputs byte-identical? Compares every run's results.csv under two runs folders and every
CSV of two report folders (issue 12: "byte-identical CSVs across two runs").

    python analysis/compare_runs.py runs /tmp/clone/runs [--reports report /tmp/clone/report]

Prints one line per file (identical, DIFFERENT, or only in one folder) and exits 1 when any compared file differs
or is missing on one side; runs that are not complete on either side are listed as such and not compared.
"""

from __future__ import annotations

import argparse
import filecmp
import glob
import json
import os
import sys


def _complete(run_dir: str) -> bool:
    try:
        with open(os.path.join(run_dir, "meta.json")) as f:
            return json.load(f).get("status") == "complete"
    except (OSError, ValueError):
        return False


def compare_runs(a: str, b: str) -> list[tuple[str, str]]:
    """(run name, verdict) for every run directory in either folder; verdict is identical, DIFFERENT,
    'only in A' / 'only in B', or 'incomplete' (not compared)."""
    names = sorted({os.path.basename(p.rstrip("/")) for d in (a, b) for p in glob.glob(os.path.join(d, "*/"))})
    out = []
    for n in names:
        da, db = os.path.join(a, n), os.path.join(b, n)
        if not os.path.isdir(da) or not os.path.isdir(db):
            out.append((n, "only in " + ("A" if os.path.isdir(da) else "B")))
        elif not (_complete(da) and _complete(db)):
            out.append((n, "incomplete"))
        else:
            same = filecmp.cmp(os.path.join(da, "results.csv"), os.path.join(db, "results.csv"), shallow=False)
            out.append((n, "identical" if same else "DIFFERENT"))
    return out


def compare_reports(a: str, b: str) -> list[tuple[str, str]]:
    """(CSV name, verdict) for every CSV of either report folder."""
    names = sorted({os.path.basename(p) for d in (a, b) for p in glob.glob(os.path.join(d, "*.csv"))})
    out = []
    for n in names:
        fa, fb = os.path.join(a, n), os.path.join(b, n)
        if not (os.path.exists(fa) and os.path.exists(fb)):
            out.append((n, "only in " + ("A" if os.path.exists(fa) else "B")))
        else:
            out.append((n, "identical" if filecmp.cmp(fa, fb, shallow=False) else "DIFFERENT"))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs_a")
    p.add_argument("runs_b")
    p.add_argument("--reports", nargs=2, metavar=("REPORT_A", "REPORT_B"))
    a = p.parse_args(argv)
    for d in (a.runs_a, a.runs_b, *(a.reports or ())):
        if not os.path.isdir(d):
            raise SystemExit(f"error: {d!r} is not a folder")
    rows = [("run " + n, v) for n, v in compare_runs(a.runs_a, a.runs_b)]
    if a.reports:
        rows += [("report " + n, v) for n, v in compare_reports(*a.reports)]
    for name, verdict in rows:
        print(f"{name}: {verdict}")
    bad = [r for r in rows if r[1] not in ("identical", "incomplete")]
    n_same = sum(r[1] == "identical" for r in rows)
    print(
        f"{n_same} identical, {len(bad)} different or one-sided, {sum(r[1] == 'incomplete' for r in rows)} incomplete"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
