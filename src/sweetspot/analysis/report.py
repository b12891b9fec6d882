"""`python -m sweetspot report RUN_DIR [RUN_DIR ...] --out DIR`: every figure and table from saved runs.

Reads run directories only (meta.json, results.csv, params/ for wiring and module detection); never trains.
Each analysis is a module of this package with `TITLE`, `select(runs) -> runs` and `make(runs, out) -> Section`;
`ANALYSES` lists them in report order, read from the experiment registry (sweetspot/experiments.py). The report
is DIR/index.html (`page.write_index`) plus PNG, PDF and CSV files;
docs/results.md holds the CPU-default report as measured.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib
import multiprocessing
import os
import shlex
import time

from sweetspot import experiments, rundir
from sweetspot.analysis.base import Run, Section, load_run
from sweetspot.analysis.page import write_index

__all__ = ["ANALYSES", "DEFAULT_JOBS", "Run", "Section", "load_run", "report", "write_index"]

# The sections in the registry's order (sweetspot/experiments.py: each analysis declared once, with its experiment).
ANALYSES = tuple(importlib.import_module(f"sweetspot.analysis.{name}") for name in experiments.ANALYSES)

# Analyses run at once by the report command (`--jobs`): one per core, at most 4 (each holds its runs in memory).
DEFAULT_JOBS = max(1, min(4, os.cpu_count() or 1))


def _make(mod, runs: list[Run], out: str) -> tuple[Section, float]:
    """One analysis on its runs: its Section (runs and the module's docstring filled in) and its wall time in s."""
    t0 = time.time()
    section = mod.make(runs, out)
    section.runs = section.runs or runs
    section.about = section.about or mod.__doc__ or ""
    return section, time.time() - t0


def _make_in_worker(name: str, paths: list[str], out: str) -> tuple[Section, float]:
    """`_make` in a worker process of `report(jobs > 1)`: the module by name, the runs loaded again."""
    return _make(importlib.import_module(name), [load_run(p) for p in paths], out)


def report(
    run_dirs: list[str], out: str, analyses=ANALYSES, progress=print, jobs: int = 1, note: str | None = None
) -> list[Section]:
    """Runs every analysis on the runs it selects and writes OUT/index.html. Bad run dirs fail before any
    figure is drawn: meta.json, results.csv and every saved network of every run are read first
    (`load_run`, `rundir.check_params`), so a damaged file is one ResultsError and no file is written. jobs > 1
    runs up to that many analyses at once, each in a process of its own: they share no state and write different
    files, so the tables are the same as with jobs = 1. A worker imports its analysis afresh by module name, so
    changes made in this process at run time (patched functions or settings) reach only jobs = 1.
    Sections keep ANALYSES' order. `note` (e.g. figures-quick's "not a verdict") heads the page and every section."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"report: jobs={jobs!r} is invalid: allowed values are integers >= 1")
    runs = [load_run(d) for d in run_dirs]  # every run's meta.json and results.csv, checked whole
    for r in runs:  # and every saved network, so a damaged step fails now, not after half the report
        rundir.check_params(r.path)
    os.makedirs(out, exist_ok=True)
    tasks = [(mod, chosen) for mod in analyses if (chosen := mod.select(runs))]
    with contextlib.ExitStack() as stack:
        if jobs == 1 or len(tasks) < 2:
            results = ((i, _make(mod, chosen, out)) for i, (mod, chosen) in enumerate(tasks))
        else:
            spawn = multiprocessing.get_context("spawn")  # jax must not be forked
            pool = concurrent.futures.ProcessPoolExecutor(min(jobs, len(tasks)), spawn)
            stack.callback(pool.shutdown, wait=True, cancel_futures=True)  # a failure stops what has not started
            paths = lambda chosen: [r.path for r in chosen]
            futures = {pool.submit(_make_in_worker, m.__name__, paths(c), out): i for i, (m, c) in enumerate(tasks)}
            results = ((futures[f], f.result()) for f in concurrent.futures.as_completed(futures))
        sections = [None] * len(tasks)
        for i, (s, seconds) in results:  # as they finish; the first failure is raised at once
            sections[i] = s
            drawn = sum(f.endswith(".png") for f in s.figures)
            progress(f"{s.title}: {drawn} figure(s), {len(s.tables)} table(s), {seconds:.1f}s")
    command = "python -m sweetspot report " + " ".join(run_dirs) + f" --out {out}"
    if note:
        command += f" --note {shlex.quote(note)}"
    progress(write_index(out, sections, command, note, runs))
    return sections
