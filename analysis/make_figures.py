"""`make figures`: runs the sweeps of every experiment in the registry (sweetspot/experiments.py: E1-E7, T1-T2;
each sweep skipped when its run is already complete, resumed when interrupted), then writes the report from the
saved runs (T0, T3 and the wiring section read those runs).

    python analysis/make_figures.py [--runs runs] [--out report] [--only e1,e2,...] [--jobs 2] [--quick]

--quick (`make figures-quick`): the registry's quick sweeps (one target instance, a few targets per experiment), each
at its first two seeds; its report says on every section that it checks the pipeline and is no verdict.
--set FIELD=VALUE (repeatable) overrides a config field in every sweep, e.g. --set train.steps=40 (tests).

The sweeps form chains. A chain's sweeps run in order: E3 after its target's E2 run, E7's three stages, and runs
that share one program (so that the later ones find it in the compilation cache). --jobs chains run at once
(default 2: a sweep keeps both cores of a 2-core machine busy except for its first ~20 s of start-up, which the
other chain fills). Each sweep's results depend on its config alone, not on what runs beside it, and the report
gets the runs in the same order whatever --jobs is. Output lines are prefixed with the run's name.

E3 runs at each target's E2 IIA_das peak depth (`analysis/e2_depth.py --peak`); E7 (SP on its judging targets,
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
ROOT = os.path.dirname(HERE)
QUICK_NOTE = (
    "make figures-quick: each sweep at its first two seeds, one target instance, a few targets per experiment. "
    "A check of the pipeline end to end, not a verdict: docs/results.md has the verdicts (make figures)."
)


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


def quick_seeds(config: str) -> str:
    """`make figures-quick`'s override: the sweep config's first two seeds."""
    from sweetspot.config import load_config

    return f"--config.grid.seed={tuple(load_config(os.path.join(ROOT, config), []).grid.seed[:2])!r}"


def overrides(s, run_dir, quick: bool, sets, peaks: dict) -> list[str]:
    """The sweep's command-line overrides, read when it starts (its depth and sparsity from the runs before it).
    `peaks` keeps each (run, metric) peak read once: E7's select and judge stages read the same one."""
    extra = ([quick_seeds(s.config)] if quick else []) + [f"--config.{kv}" for kv in sets]
    if s.depth_from:
        run, metric = s.depth_from
        if s.depth_from not in peaks:
            peaks[s.depth_from] = peak(run_dir(run), metric)
        extra.append(f"--config.grid.depth=({peaks[s.depth_from]},)")
    if s.sparsity_from:
        extra.append(f"--config.grid.sparsity=({sp_sparsity(run_dir(s.sparsity_from))},)")
    return extra


def main(argv=None):
    from sweetspot import experiments

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="runs")
    p.add_argument("--out", default="report")
    names = ",".join(e.name.lower() for e in experiments.EXPERIMENTS if e.sweeps)
    p.add_argument("--only", default=names, help="comma-separated experiments to run before the report")
    p.add_argument("--jobs", type=int, default=2, help="chains of sweeps run at once (default %(default)s)")
    p.add_argument("--quick", action="store_true", help="make figures-quick: the registry's quick sweeps, 2 seeds")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="override a field in every sweep")
    a = p.parse_args(argv)
    only = set(a.only.split(","))
    bad = only - set(names.split(","))
    if bad:
        raise SystemExit(f"error: --only={a.only!r}: {sorted(bad)} unknown: allowed values are {names}")
    os.makedirs(a.out, exist_ok=True)
    run_dir = lambda name: os.path.join(a.runs, name)
    steps = experiments.sweeps(only, quick=a.quick)
    timings, peaks = {s.run: 0.0 for s in steps}, {}

    def go(s):
        timings[s.run] = sweep(s.config, run_dir(s.run), overrides(s, run_dir, a.quick, a.set, peaks))

    chains = {}
    for s in steps:
        chains.setdefault(s.chain or s.run, []).append(functools.partial(go, s))
    t0 = time.time()
    run_chains(list(chains.values()), a.jobs)
    sweeps_s = time.time() - t0
    with open(os.path.join(a.out, "timings.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run", "config", "wall_s (0 = already complete)"])
        w.writerows([(s.run, s.config, f"{timings[s.run]:.1f}") for s in steps])
    t0 = time.time()
    cmd = [sys.executable, "-m", "sweetspot", "report", *[run_dir(s.run) for s in steps if s.report], "--out", a.out]
    subprocess.run(cmd + (["--note", QUICK_NOTE] if a.quick else []), check=True)
    print(f"report: {os.path.join(a.out, 'index.html')} ({time.time() - t0:.0f} s); sweeps: {sweeps_s:.0f} s wall")


if __name__ == "__main__":
    main()
