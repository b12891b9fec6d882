"""`make figures`: runs the CPU defaults of E1-E7 and of the theory checks T1-T2 (each sweep skipped when its run
is already complete, resumed when interrupted) and then writes the report from the saved runs (T3 and the
depth-predictor validation read those runs).

    python analysis/make_figures.py [--runs runs] [--out report] [--only e1,e2,...]

E3 runs at each target's E2 peak depth (`analysis/e2_depth.py --peak`); E7 (SP on its judging targets,
sweeps/sp_judging.py) runs per judging target its peak stage, its SP-sparsity selection at that peak and its judge
stage at both. Wall time per sweep goes to OUT/timings.csv. Everything is the CLI underneath: the commands are
printed as they run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
E1_INSTANCES = ("0", "1", "2")  # target.seed of the tree target: claims are about the family, not one tree
E2_TARGETS = (
    "tree_L2",
    "tree_L3",
    "tree_L4",
    "tree_k3",
    "boolean",
    "parity",
    "modular",
    "expr",
    "additive",
    "expr_d4",
    "expr_d5",
    "boolean_L4",
    "expr_d5_pl",
    "boolean_L5",
)
E2_INSTANCES = {"tree_L3": ("1", "2")}  # extra target instances beyond instance 0
E3_TARGETS = ("tree_L3", "boolean")
# Their exemplars, then every member of their two series that has a published bar (about 45 s each on 2 cores).
E6_TASKS = ("424", "414", "41216", "6333", "4122", "4124", "4128", "41212", "82124", "82128", "821212", "821216")
# The diagnostic reading of E6 (docs/sculpting.md, "Simpler sub-functions"): every task with drawn tables, again with
# linearly separable ones (about 15 s each on a quiet 2-core machine).
E6_THRESHOLD_TASKS = ("414", "41216", "4122", "4124", "4128", "41212", "82124", "82128", "821212", "821216")
T1_LEVELS = ("L2", "L3", "L4", "L5")
E7_TARGETS = ("judge_tree_perm", "judge_tree_reuse", "judge_expr3", "judge_boolean")


def sweep(config: str, out: str, extra=()) -> float:
    """Runs (or resumes, or skips when complete) one sweep; returns its wall time in seconds (0 when skipped)."""
    meta = os.path.join(out, "meta.json")
    if os.path.exists(meta):
        with open(meta) as f:
            if json.load(f).get("status") == "complete":
                print(f"[skip] {out} is complete", flush=True)
                return 0.0
    cmd = [sys.executable, "-m", "sweetspot", "sweep", config, "--out", out, *extra]
    if os.path.exists(out) or os.path.exists(out.rstrip("/") + ".partial"):
        cmd.append("--resume")
    print("[run]", " ".join(cmd), flush=True)
    t0 = time.time()
    subprocess.run(cmd, check=True)
    return time.time() - t0


def peak(run: str, metric: str = "IIA") -> int:
    """The run's peak depth (analysis/e2_depth.py --peak): E3 at the IIA peak; E7 keeps the C peak it was defined
    with (docs/results.md, E7)."""
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "e2_depth.py"), "--peak", run, "--metric", metric],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.split()[0])


def sp_sparsity(run: str) -> str:
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "e7_sp_recovery.py"), "--sparsity", run],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.split()[0]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="runs")
    p.add_argument("--out", default="report")
    p.add_argument(
        "--only", default="e1,e2,e3,e6,e7,t1,t2", help="comma-separated experiments to run before the report"
    )
    a = p.parse_args(argv)
    only = set(a.only.split(","))
    os.makedirs(a.out, exist_ok=True)
    timings, dirs = [], []

    def run(name, config, extra=()):
        timings.append((name, config, sweep(config, os.path.join(a.runs, name), extra)))
        dirs.append(os.path.join(a.runs, name))

    if "e1" in only:
        for i in E1_INSTANCES:
            run(f"e1_i{i}", f"sweeps/e1_regime.py:{i}")
    if "e2" in only or "e3" in only:
        for t in E2_TARGETS:
            run(f"e2_{t}", f"sweeps/e2_depth.py:{t}")
            for i in E2_INSTANCES.get(t, ()):
                run(f"e2_{t}_i{i}", f"sweeps/e2_depth.py:{t},{i}")
    if "e3" in only:
        for t in E3_TARGETS:
            depth = peak(os.path.join(a.runs, f"e2_{t}"))
            run(f"e3_{t}", f"sweeps/e3_connectivity.py:{t}", [f"--config.grid.depth=({depth},)"])
    if "e6" in only:
        for t in E6_TASKS:
            run(f"e6_{t}", f"sweeps/e6_sculpting.py:{t}")
        for t in E6_THRESHOLD_TASKS:
            run(f"e6thr_{t}", f"sweeps/e6_sculpting.py:{t},tables=threshold")
    if "e7" in only:
        for t in E7_TARGETS:
            cfg = f"sweeps/sp_judging.py:{t}"
            timings.append((f"e7peak_{t}", cfg + ",peak", sweep(cfg + ",peak", os.path.join(a.runs, f"e7peak_{t}"))))
            depth = f"--config.grid.depth=({peak(os.path.join(a.runs, f'e7peak_{t}'), 'C')},)"
            run(f"e7select_{t}", cfg + ",select", [depth])
            sparsity = f"--config.grid.sparsity=({sp_sparsity(os.path.join(a.runs, f'e7select_{t}'))},)"
            run(f"e7_{t}", cfg, [depth, sparsity])
    if "t1" in only:
        for t in T1_LEVELS:
            run(f"t1_{t}", f"sweeps/t1_sparsity.py:{t}")
    if "t2" in only:
        run("t2", "sweeps/t2_volume.py")
    with open(os.path.join(a.out, "timings.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run", "config", "wall_s (0 = already complete)"])
        w.writerows([(n, c, f"{t:.1f}") for n, c, t in timings])
    t0 = time.time()
    subprocess.run([sys.executable, "-m", "sweetspot", "report", *dirs, "--out", a.out], check=True)
    total = sum(t for *_, t in timings)
    print(f"report: {os.path.join(a.out, 'index.html')} ({time.time() - t0:.0f} s); sweeps: {total:.0f} s")


if __name__ == "__main__":
    main()
