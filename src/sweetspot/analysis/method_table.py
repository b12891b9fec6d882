"""Method x sparsity table of a saved run: fit, sparsity, IIA_das, IIA, C and the labels, mean ± std over seeds.

    python analysis/method_table.py RUN_DIR [--metric test_r2 --metric C ...]

Reads RUN_DIR/results.csv only; prints a Markdown table and writes it to RUN_DIR/method_table.md.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from sweetspot.analysis import base

# IIA_das (the distributed score) first among the causal columns, the local-unit IIA and C beside it; a column
# the run lacks (a run older than it) is left out
DEFAULT = ("test_r2", "realised_sparsity", "IIA_das", "IIA", "C", "compositional", "modular", "disconnected_inputs")


def _num(v):
    return 1.0 if v == "True" else 0.0 if v == "False" else float(v)


def table(rows, metrics) -> str:
    """Markdown: one row per (method, depth, sparsity), one column per metric (mean ± std over other axes)."""
    metrics = [m for m in metrics if m in rows[0]]
    keys = sorted(
        {(r["method"], int(r["depth"]), float(r["sparsity"])) for r in rows}, key=lambda k: (k[0], k[1], k[2])
    )
    order = {m: i for i, m in enumerate(dict.fromkeys(r["method"] for r in rows))}
    keys.sort(key=lambda k: (order[k[0]], k[1], k[2]))
    lines = [
        "| method | depth | sparsity | n | " + " | ".join(metrics) + " |",
        "|---|---|---|---|" + "---|" * len(metrics),
    ]
    for m, d, s in keys:
        sel = [r for r in rows if r["method"] == m and int(r["depth"]) == d and float(r["sparsity"]) == s]
        cells = []
        for k in metrics:
            v = np.array([_num(r[k]) for r in sel])
            cells.append(f"{np.nanmean(v):.3f} ± {np.nanstd(v):.3f}" if np.isfinite(v).any() else "nan")
        lines.append(f"| {m} | {d} | {s:g} | {len(sel)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@base.one_line_errors
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--metric", action="append", default=None)
    args = p.parse_args(argv)
    rows = base.load_run(args.run_dir).rows  # one `error:` line for a missing, unfinished or damaged run
    text = table(rows, args.metric or DEFAULT)
    with open(os.path.join(args.run_dir, "method_table.md"), "w") as f:
        f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
