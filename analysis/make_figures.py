"""`make figures`: runs the CPU defaults of E1-E7 and of the theory checks T1-T2 (each sweep skipped when its run
is already complete, resumed when interrupted) and then writes the report from the saved runs (T3 and the
depth-predictor validation read those runs).

    python analysis/make_figures.py [--runs runs] [--out report] [--only e1,e2,...] [--jobs 2]

The sweeps form chains. A chain's sweeps run in order: E3 after its target's E2 run, E7's three stages, and runs
that share one program (so that the later ones find it in the compilation cache). --jobs chains run at once
(default 2: a sweep keeps both cores of a 2-core machine busy except for its first ~20 s of start-up, which the
other chain fills). Each sweep's results depend on its config alone, not on what runs beside it, and the report
gets the runs in the same order whatever --jobs is. Output lines are prefixed with the run's name.

E3 runs at each target's E2 peak depth (`analysis/e2_depth.py --peak`); E7 (SP on its judging targets,
sweeps/sp_judging.py) runs per judging target its peak stage, its SP-sparsity selection at that peak and its judge
stage at both. Wall time per sweep goes to OUT/timings.csv. Everything is the CLI underneath: the commands are
printed as they run.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import functools
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
E1_INSTANCES = ("0", "1", "2")  # target.seed of the tree target: claims are about the family, not one tree
E2_TARGETS = (
    "tree_L2",
    "tree_L3",
    "tree_k3",
    "boolean",
    "parity",
    "modular",
    "expr",
    "additive",
    "expr_d4",
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
E6_THRESHOLD_TASKS = ("414", "41216", "4124", "82124")
T1_LEVELS = ("L2", "L3", "L4", "L5")
E7_TARGETS = ("judge_tree_perm", "judge_tree_reuse", "judge_expr3", "judge_boolean")


_RUNNING: set = set()  # sweeps in flight, terminated when a chain fails
_STOPPED = threading.Event()  # set when a chain fails: no sweep starts after it
_LOCK = threading.Lock()  # orders a sweep's start against the stop


class Stopped(RuntimeError):
    """A sweep not started because another chain failed."""


def sweep(config: str, out: str, extra=()) -> float:
    """Runs (or resumes, or skips when complete) one sweep; returns its wall time in seconds (0 when skipped).
    Its output lines are printed prefixed with [run name]."""
    name = os.path.basename(os.path.normpath(out))
    meta = os.path.join(out, "meta.json")
    if os.path.exists(meta):
        with open(meta) as f:
            if json.load(f).get("status") == "complete":
                print(f"[skip] {out} is complete", flush=True)
                return 0.0
    cmd = [sys.executable, "-m", "sweetspot", "sweep", config, "--out", out, *extra]
    if os.path.exists(out) or os.path.exists(out.rstrip("/") + ".partial"):
        cmd.append("--resume")
    t0 = time.time()
    with _LOCK:
        if _STOPPED.is_set():
            raise Stopped(f"{name} not started: another sweep failed")
        print("[run]", " ".join(cmd), flush=True)
        popen = dict(stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1)
        proc = subprocess.Popen(cmd, **popen)
        _RUNNING.add(proc)
    try:
        for line in proc.stdout:
            print(f"[{name}] {line}", end="", flush=True)
        if proc.wait():
            raise subprocess.CalledProcessError(proc.returncode, cmd)
    finally:
        with _LOCK:
            _RUNNING.discard(proc)
        if proc.poll() is None:  # this thread failed while its sweep ran (e.g. a closed stdout): stop the sweep
            proc.kill()
            proc.wait()
    return time.time() - t0


def run_chains(chains: list, jobs: int) -> None:
    """Runs the chains (lists of zero-argument steps, each chain in order) with up to `jobs` chains at once, in
    the given order. The first failing step stops the others: no sweep starts after it, running sweeps are
    terminated (a sweep resumes where it stopped), and its exception is raised."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise SystemExit(f"error: --jobs={jobs!r} is invalid: allowed values are integers >= 1")
    _STOPPED.clear()

    def chain(steps):
        for step in steps:
            if _STOPPED.is_set():
                return
            try:
                step()
            except BaseException:
                _STOPPED.set()  # before this worker takes the next chain
                raise

    pool = concurrent.futures.ThreadPoolExecutor(jobs)
    futures = [pool.submit(chain, c) for c in chains]
    try:
        for f in concurrent.futures.as_completed(futures):
            f.result()
    except BaseException:
        with _LOCK:
            _STOPPED.set()
            for proc in _RUNNING:
                proc.terminate()
        for f in futures:
            f.cancel()
        raise
    finally:
        pool.shutdown(wait=True)


def peak(run: str, metric: str = "IIA_das") -> int:
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
    p.add_argument("--jobs", type=int, default=2, help="chains of sweeps run at once (default %(default)s)")
    a = p.parse_args(argv)
    only = set(a.only.split(","))
    os.makedirs(a.out, exist_ok=True)
    steps = []  # (name, config, extra, chain, in the report), in the order the runs go to the report
    run_dir = lambda name: os.path.join(a.runs, name)

    def add(name, config, extra=(), chain=None, report=True):
        """Sweep `name` as the next step of `chain` (default: a chain of its own). extra may be a function of
        nothing, called when the step starts: E3 and E7 read their depth and sparsity from the runs before them."""
        steps.append((name, config, extra, chain or name, report))

    if "e1" in only:  # one program: the later instances find it in the compilation cache
        for i in E1_INSTANCES:
            add(f"e1_i{i}", f"sweeps/e1_regime.py:{i}", chain="e1")
    if "e2" in only or "e3" in only:
        for t in E2_TARGETS:
            add(f"e2_{t}", f"sweeps/e2_depth.py:{t}")
            for i in E2_INSTANCES.get(t, ()):
                add(f"e2_{t}_i{i}", f"sweeps/e2_depth.py:{t},{i}", chain=f"e2_{t}")
    if "e3" in only:
        for t in E3_TARGETS:
            depth = lambda t=t: [f"--config.grid.depth=({peak(run_dir(f'e2_{t}'))},)"]
            add(f"e3_{t}", f"sweeps/e3_connectivity.py:{t}", depth, chain=f"e2_{t}")
    if "e6" in only:
        for t in E6_TASKS:
            add(f"e6_{t}", f"sweeps/e6_sculpting.py:{t}")
        for t in E6_THRESHOLD_TASKS:
            add(f"e6thr_{t}", f"sweeps/e6_sculpting.py:{t},tables=threshold", chain=f"e6_{t}")
    if "e7" in only:
        for t in E7_TARGETS:
            cfg, chain = f"sweeps/sp_judging.py:{t}", f"e7_{t}"
            depth = functools.cache(lambda t=t: f"--config.grid.depth=({peak(run_dir(f'e7peak_{t}'), 'C')},)")
            sparsity = lambda t=t: f"--config.grid.sparsity=({sp_sparsity(run_dir(f'e7select_{t}'))},)"
            add(f"e7peak_{t}", cfg + ",peak", chain=chain, report=False)
            add(f"e7select_{t}", cfg + ",select", lambda d=depth: [d()], chain=chain)
            add(f"e7_{t}", cfg, lambda d=depth, s=sparsity: [d(), s()], chain=chain)
    if "t1" in only:
        for t in T1_LEVELS:
            add(f"t1_{t}", f"sweeps/t1_sparsity.py:{t}")
    if "t2" in only:
        add("t2", "sweeps/t2_volume.py")

    timings = {name: 0.0 for name, *_ in steps}

    def go(name, config, extra):
        timings[name] = sweep(config, run_dir(name), extra() if callable(extra) else extra)

    chains = {}
    for name, config, extra, chain, _ in steps:
        chains.setdefault(chain, []).append(functools.partial(go, name, config, extra))
    t0 = time.time()
    run_chains(list(chains.values()), a.jobs)
    sweeps_s = time.time() - t0
    dirs = [run_dir(name) for name, *_, report in steps if report]
    with open(os.path.join(a.out, "timings.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run", "config", "wall_s (0 = already complete)"])
        w.writerows([(name, config, f"{timings[name]:.1f}") for name, config, *_ in steps])
    t0 = time.time()
    subprocess.run([sys.executable, "-m", "sweetspot", "report", *dirs, "--out", a.out], check=True)
    print(f"report: {os.path.join(a.out, 'index.html')} ({time.time() - t0:.0f} s); sweeps: {sweeps_s:.0f} s wall")


if __name__ == "__main__":
    main()
