"""`python -m sweetspot report RUN_DIR [RUN_DIR ...] --out DIR`: every figure and table from saved runs.

Reads run directories only (meta.json, results.csv, params/ for wiring and module detection); never trains.
Each analysis is a module of this package with `TITLE`, `select(runs) -> runs` and `make(runs, out) -> Section`;
`ANALYSES` lists them in report order. The report is DIR/index.html plus PNG, PDF and CSV files;
docs/results.md holds the CPU-default report as measured.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import html
import importlib
import json
import multiprocessing
import os
import time

from sweetspot import rundir
from sweetspot.analysis import (
    e1_regime,
    e2_depth,
    e3_connectivity,
    e4_fractured,
    e5_generalization,
    e6_sculpting,
    e7_sp_recovery,
    t0_depth_predictor,
    t1_sparsity,
    t2_volume,
    t3_interference,
    wiring,
)
from sweetspot.analysis.base import Run, Section, load_run

__all__ = ["ANALYSES", "DEFAULT_JOBS", "Run", "Section", "load_run", "report", "write_index"]

ANALYSES = (
    e1_regime,
    e2_depth,
    e3_connectivity,
    e4_fractured,
    e5_generalization,
    e6_sculpting,
    e7_sp_recovery,
    wiring,
    t0_depth_predictor,
    t1_sparsity,
    t2_volume,
    t3_interference,
)

# Analyses run at once by the report command (`--jobs`): one per core, at most 4 (each holds its runs in memory).
DEFAULT_JOBS = max(1, min(4, os.cpu_count() or 1))


def _table_html(path: str) -> str:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_index(out: str, sections: list[Section], command: str) -> str:
    """OUT/index.html: every section's text, figures and tables, with the runs' configs and commands."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>sweetspot report</title><style>"
        "body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}img{max-width:100%}"
        "table{border-collapse:collapse;font-size:12px;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px}"
        "pre{background:#f5f5f5;padding:.5em;overflow-x:auto;font-size:11px}</style></head><body>",
        "<h1>sweetspot report</h1>",
        f"<p>Made {time.strftime('%Y-%m-%d %H:%M')} by <code>{html.escape(command)}</code>, from saved runs only. "
        "Definitions: docs/method.md; verdicts: docs/results.md.</p>",
    ]
    for i, s in enumerate(sections):
        parts.append(f"<h2 id='s{i}'>{html.escape(s.title)}</h2><p>{html.escape(s.text)}</p>")
        for fig in s.figures:
            pdf = fig[:-4] + ".pdf"
            parts.append(f"<p><a href='{fig}'><img src='{fig}'></a><br><a href='{pdf}'>PDF</a></p>")
        for t in s.tables:
            parts.append(f"<p><b>{html.escape(t)}</b> (<a href='{t}'>CSV</a>)</p>{_table_html(os.path.join(out, t))}")
        for r in s.runs:
            cfg = json.dumps(r.meta["config"], indent=1)
            cmd = html.escape(r.meta.get("command", "(not recorded)"))
            parts.append(
                f"<details><summary>run {html.escape(r.path)}: <code>{cmd}</code>, wall "
                f"{r.meta.get('wall_s', float('nan')):.0f} s</summary><pre>{html.escape(cfg)}</pre></details>"
            )
    parts.append("</body></html>")
    path = os.path.join(out, "index.html")
    with open(path, "w") as f:
        f.write("\n".join(parts))
    return path


def _make(mod, runs: list[Run], out: str) -> tuple[Section, float]:
    """One analysis on its runs: its Section (runs filled in) and its wall time in seconds."""
    t0 = time.time()
    section = mod.make(runs, out)
    section.runs = section.runs or runs
    return section, time.time() - t0


def _make_in_worker(name: str, paths: list[str], out: str) -> tuple[Section, float]:
    """`_make` in a worker process of `report(jobs > 1)`: the module by name, the runs loaded again."""
    return _make(importlib.import_module(name), [load_run(p) for p in paths], out)


def report(run_dirs: list[str], out: str, analyses=ANALYSES, progress=print, jobs: int = 1) -> list[Section]:
    """Runs every analysis on the runs it selects and writes OUT/index.html. Bad run dirs fail before any
    figure is drawn: meta.json, results.csv and every saved network of every run are read first
    (`load_run`, `rundir.check_params`), so a damaged file is one ResultsError and no file is written. jobs > 1
    runs up to that many analyses at once, each in a process of its own: they share no state and write different
    files, so the tables are the same as with jobs = 1. A worker imports its analysis afresh by module name, so
    changes made in this process at run time (patched functions or settings) reach only jobs = 1.
    Sections keep ANALYSES' order."""
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
            progress(f"{tasks[i][0].TITLE}: {len(s.figures)} figure(s), {len(s.tables)} table(s), {seconds:.1f}s")
    command = "python -m sweetspot report " + " ".join(run_dirs) + f" --out {out}"
    progress(write_index(out, sections, command))
    return sections
