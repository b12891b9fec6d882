"""`python -m sweetspot report RUN_DIR [RUN_DIR ...] --out DIR`: every figure and table from saved runs.

Reads run directories only (meta.json, results.csv, params/ for wiring and module detection); never trains.
Each experiment's analysis lives in the source checkout's `analysis/` folder as a module with
`TITLE`, `select(runs) -> runs` and `make(runs, out) -> Section`; `ANALYSES` lists them in report order. The
report is DIR/index.html plus PNG, PDF and CSV files; docs/results.md holds the CPU-default report as measured.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import importlib.util
import json
import os
import sys
import time

import numpy as np

from sweetspot import results as res_lib

ANALYSES = (
    "e1_regime",
    "e2_depth",
    "e3_connectivity",
    "e4_fractured",
    "e5_generalization",
    "e6_sculpting",
    "wiring",
    "t0_depth_predictor",
    "t1_sparsity",
    "t2_volume",
    "t3_interference",
)
ANALYSIS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "analysis")


@dataclasses.dataclass
class Run:
    """One saved run: its directory, meta.json, results.csv rows and experiment name ("" when untagged)."""

    path: str
    meta: dict
    rows: list[dict]

    @property
    def experiment(self) -> str:
        return self.meta["config"].get("experiment", "")

    @property
    def family(self) -> str:
        return self.meta["config"]["target"]["family"]

    @property
    def name(self) -> str:
        return self.experiment or os.path.basename(os.path.normpath(self.path))

    def has(self, column: str) -> bool:
        return bool(self.rows) and column in self.rows[0]


@dataclasses.dataclass
class Section:
    """One block of the report: a title, a paragraph, figure PNG paths and CSV table paths (relative to out)."""

    title: str
    text: str
    figures: list[str] = dataclasses.field(default_factory=list)
    tables: list[str] = dataclasses.field(default_factory=list)
    runs: list[Run] = dataclasses.field(default_factory=list)


def load_run(path: str) -> Run:
    """A finished run; raises ResultsError when meta.json is missing, of another schema, or the run is unfinished."""
    meta = res_lib.read_meta(path)
    if meta.get("status") != "complete":
        raise res_lib.ResultsError(
            f"{path}: status={meta.get('status')!r}; allowed values are ['complete'] (finish it with sweep --resume)"
        )
    return Run(path, meta, res_lib.read_csv(os.path.join(path, "results.csv")))


# ----------------------------------------------------------------------------------- helpers for analyses
def num(v) -> float:
    """A CSV cell as a float: True/False -> 1/0, '' or 'nan' -> NaN."""
    if v in ("True", "False"):
        return float(v == "True")
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def column(rows, name) -> np.ndarray:
    return np.array([num(r.get(name, "nan")) for r in rows])


def node_mean(rows, prefix) -> np.ndarray:
    """Per-row mean over the per-node columns PREFIX_v{id} (NaN when there are none)."""
    cols = [c for c in (rows[0] if rows else {}) if c.startswith(prefix + "_v")]
    if not cols:
        return np.full(len(rows), np.nan)
    with np.errstate(all="ignore"):
        return np.nanmean(np.array([[num(r[c]) for c in cols] for r in rows]), axis=1)


def mean_std(values) -> tuple[float, float, int]:
    """(mean, std, count) over the finite values."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return (float(v.mean()), float(v.std()), len(v)) if len(v) else (float("nan"), float("nan"), 0)


def spearman(a, b) -> tuple[float, float, int]:
    """(Spearman rho, p-value, n) over the pairs where both are finite; NaN when fewer than 3 or one is constant."""
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan"), float("nan"), int(ok.sum())
    res = stats.spearmanr(a[ok], b[ok])
    return float(res.statistic), float(res.pvalue), int(ok.sum())


def fit_column(run: Run) -> np.ndarray:
    """1.0 where the point fits (the run's `fit` label), else 0.0 (NaN for runs without metrics)."""
    return column(run.rows, "fit")


def save_figure(fig, out: str, name: str) -> str:
    """Writes OUT/NAME.png and .pdf, closes the figure, returns the PNG's name."""
    import matplotlib.pyplot as plt

    for ext in ("png", "pdf"):
        fig.savefig(os.path.join(out, f"{name}.{ext}"), dpi=130, bbox_inches="tight")
    plt.close(fig)
    return f"{name}.png"


def write_table(out: str, name: str, header: list[str], rows: list[list]) -> str:
    """Writes OUT/NAME.csv (floats to 4 significant digits), returns its name."""
    with open(os.path.join(out, f"{name}.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow([f"{v:.4g}" if isinstance(v, (float, np.floating)) else v for v in r])
    return f"{name}.csv"


def analysis_main(doc: str, select, make, argv=None) -> None:
    """The command line of an analysis module: `python analysis/NAME.py RUN_DIR [RUN_DIR ...] --out DIR` runs
    its `make` on the runs its `select` keeps and prints the section's text."""
    import argparse

    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    print(make(select([load_run(d) for d in a.run_dirs]), a.out).text)


# --------------------------------------------------------------------------------------------- report
def _load_analysis(name: str):
    path = os.path.join(ANALYSIS_DIR, f"{name}.py")
    if not os.path.exists(path):
        raise res_lib.ResultsError(f"report needs the source checkout's analysis/ folder: {path} is missing")
    if ANALYSIS_DIR not in sys.path:
        sys.path.insert(0, ANALYSIS_DIR)
    spec = importlib.util.spec_from_file_location(f"sweetspot_analysis_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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


def report(run_dirs: list[str], out: str, analyses=ANALYSES, progress=print) -> list[Section]:
    """Runs every analysis on the runs it selects and writes OUT/index.html. Bad run dirs fail before any
    figure is drawn."""
    runs = [load_run(d) for d in run_dirs]
    os.makedirs(out, exist_ok=True)
    sections = []
    for name in analyses:
        mod = _load_analysis(name)
        chosen = mod.select(runs)
        if not chosen:
            continue
        t0 = time.time()
        section = mod.make(chosen, out)
        section.runs = section.runs or chosen
        sections.append(section)
        progress(
            f"{mod.TITLE}: {len(section.figures)} figure(s), {len(section.tables)} table(s), {time.time() - t0:.1f}s"
        )
    command = "python -m sweetspot report " + " ".join(run_dirs) + f" --out {out}"
    progress(write_index(out, sections, command))
    return sections
