"""The report's page, OUT/index.html, and the one place its words are set: what was run (one block, `run_block`),
each section's headline, then per section the headline, its figure, the compact table of the numbers the headline
rests on and, collapsed, how it is computed (the analysis's docstring), further figures and every CSV (the
identifying columns first, then the ones a verdict rests on; an estimate and its interval in one cell; an empty
cell where there is no value, with a legend). Inline `code` is set as code. docs/reliability.md, "The report in a
browser", says how the page is checked at 1400 and 800 px."""

from __future__ import annotations

import csv
import html
import json
import math
import os
import re
import time

from sweetspot import environment, experiments
from sweetspot.analysis.base import Run, Section

# Columns that name a table's row (kept first, in the CSV's order) and those a verdict rests on (next, this order).
KEY_COLUMNS = ("experiment", "run", "target", "family", "instance", "method", "depth", "sparsity", "lr",
               "weight_decay", "seed", "n", "networks")  # fmt: skip
VERDICT_COLUMNS = ("compositional", "frac_compositional", "IIA_das", "IIA_das_fit", "IIA", "IIA_fit", "C", "C_fit",
                   "C_gain", "fit", "frac_fit", "test_r2", "hold")  # fmt: skip
INTERVALS = (("_lo", "_hi"), ("_ci_lo", "_ci_hi"))
EMPTY = ("", "nan", "NaN", "inf", "-inf")  # a CSV cell with no value: shown empty

STYLE = (
    "body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em;line-height:1.4}"
    "h2{margin-top:2em;border-bottom:1px solid #ddd}img{max-width:100%;height:auto}"
    ".headline{font-size:1.1em;font-weight:bold;margin:.4em 0}.text{color:#333;max-width:60em}"
    "figure{margin:1em 0}figcaption{font-size:13px;color:#444;max-width:60em}"
    ".scroll{overflow:auto;width:fit-content;max-width:100%;max-height:30em;border:1px solid #ddd;margin:.3em 0 1em}"
    ".num td:first-child{white-space:normal;min-width:12em}"
    "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px;white-space:nowrap}"
    "th{position:sticky;top:0;background:#f3f3f3}.tname{font-size:13px;margin:.8em 0 0}"
    ".legend{font-size:13px;color:#555;margin:.2em 0 1em}summary{cursor:pointer;color:#225;margin:.4em 0}"
    "pre{background:#f5f5f5;padding:.5em;overflow-x:auto;font-size:12px}code{background:#f3f3f3;padding:0 2px}"
    ".note{background:#fff3cd;border:1px solid #e0c060;padding:.4em .6em;font-weight:bold}"
    "#run{background:#f7f9fc;border:1px solid #dde3ee;padding:.2em 1em}#run p{margin:.5em 0}"
)


def inline(text: str) -> str:
    """Text as HTML: escaped, `code` set as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _is_number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def _merge_intervals(header: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """X_mean (or X) with its X_lo and X_hi (or X_ci_lo, X_ci_hi) as one column 'X [lo, hi]'; a cell without an
    estimate is empty, one without an interval the estimate alone."""
    at = {c: i for i, c in enumerate(header)}
    groups, used = [], set()
    for c in header:
        if c in used:
            continue
        base = c[: -len("_mean")] if c.endswith("_mean") else c
        lo_hi = next(((base + a, base + b) for a, b in INTERVALS if base + a in at and base + b in at), None)
        groups.append((base if lo_hi else c, c, lo_hi))
        used.update((c, *(lo_hi or ())))

    def cell(r, c, lo_hi):
        v = "" if r[at[c]] in EMPTY else r[at[c]]
        if not lo_hi or not v or {r[at[lo_hi[0]]], r[at[lo_hi[1]]]} & set(EMPTY):
            return v
        return f"{v} [{r[at[lo_hi[0]]]}, {r[at[lo_hi[1]]]}]"

    new_header = [f"{name} [lo, hi]" if lo_hi else name for name, _, lo_hi in groups]
    return new_header, [[cell(r, c, lo_hi) for _, c, lo_hi in groups] for r in rows]


def order_columns(header: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """A table for the page: intervals merged into their estimate's cell, then the columns that name a row (and
    any of text), then those in VERDICT_COLUMNS, then the rest, each group in the CSV's order."""
    header, rows = _merge_intervals(header, rows)
    name = lambda h: h.split(" [")[0]
    words = lambda i: any(r[i] and not _is_number(r[i].split(" [")[0]) for r in rows)  # empty cells do not count
    text = {i for i in range(len(header)) if words(i)}
    key = [i for i, h in enumerate(header) if name(h) in KEY_COLUMNS or i in text]
    rank = {c: k for k, c in enumerate(VERDICT_COLUMNS)}
    verdict = [i for i, h in enumerate(header) if name(h) in rank and i not in key]
    verdict.sort(key=lambda i: rank[name(header[i])])
    rest = [i for i in range(len(header)) if i not in key and i not in verdict]
    order = key + verdict + rest
    return [header[i] for i in order], [[r[i] for i in order] for r in rows]


def _legend(header: list[str], rows: list[list[str]]) -> str:
    """Why cells are empty: the columns that have one, named."""
    cols = [h for i, h in enumerate(header) if any(r[i] == "" for r in rows)]
    if not cols:
        return ""
    fit = [c for c in cols if "_fit" in c.split(" [")[0]]
    why = "no value there: the quantity is undefined for that row (no network qualifies, or too few to estimate)"
    why += f"; in {', '.join(fit)}: no network of that row fits" if fit else ""
    return f"<p class='legend'>Empty cells ({', '.join(cols)}): {html.escape(why)}.</p>"


def table_html(path: str) -> str:
    """One CSV as an HTML table in its own scrolling box, headed by its name, size and a link to the full CSV."""
    with open(path, newline="") as f:
        raw = list(csv.reader(f))
    header, rows = order_columns(raw[0], raw[1:]) if raw else ([], [])
    name = os.path.basename(path)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return (
        f"<p class='tname'><b>{html.escape(name)}</b>: {len(rows):,} row{'s' * (len(rows) != 1)}, "
        f"{len(raw[0]) if raw else 0} columns "
        f"(<a href='{html.escape(name)}'>full CSV</a>)</p>"
        f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
        + _legend(header, rows)
    )


def cell(v) -> str:
    """A numbers-table cell as text: an (estimate, low, high) interval 'm [lo, hi]' in the estimate's format, an int
    with thousands separators, a float to 2 decimals (3 significant digits when small), '' for NaN or None."""
    if isinstance(v, tuple):
        if not math.isfinite(v[0]):
            return ""
        small = 0 < abs(v[0]) < 0.01
        f = (lambda x: f"{x:.3g}") if small else (lambda x: cell(x) if abs(x) >= 100 else f"{x:.2f}")
        return f(v[0]) + (f" [{f(v[1])}, {f(v[2])}]" if all(map(math.isfinite, v[1:3])) else "")
    if v is None or isinstance(v, float) and not math.isfinite(v):
        return ""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int) or v == int(v) and abs(v) >= 100:
        return f"{int(v):,}"
    return f"{v:.3g}" if 0 < abs(v) < 0.01 else f"{v:.2f}"


def numbers_html(s: Section) -> str:
    """The section's compact table (Section.numbers), with the legend of its empty cells."""
    if not s.numbers:
        return ""
    head, *rows = s.numbers
    cells = [[cell(v) for v in r] for r in rows]
    body = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>" for r in cells)
    empty = any("" in r for r in cells)
    legend = f"<p class='legend'>Empty cell: {inline(s.empty or 'no value')}.</p>" if empty else ""
    head_html = "".join(f"<th>{inline(h)}</th>" for h in head)
    table = f"<table class='num'><thead><tr>{head_html}</tr></thead><tbody>{body}</tbody></table>"
    return f"<div class='scroll'>{table}</div>{legend}"


def caption(png: str) -> str:
    """The caption saved in a figure's PNG (base.save_figure writes the figure title there), or ''."""
    try:
        from PIL import Image

        with Image.open(png) as im:
            return im.text.get("Description", "")
    except (OSError, ImportError, AttributeError):
        return ""


def about_html(doc: str) -> str:
    """An analysis's docstring as paragraphs (a list item each its own), its command lines left out."""
    keep = lambda p: " ".join(x.strip() for x in p.splitlines() if not x.strip().startswith(("python ", "(prints")))
    paras = map(keep, re.split(r"\n\s*\n|\n(?=- )", doc.strip()))
    return "".join(f"<p class='text'>{inline(p)}</p>" for p in paras if p)


def _figure_html(out: str, s: Section, fig: str) -> str:
    if not fig.endswith(".png"):  # a figure not drawn: the sentence that says why
        return f"<p class='text'>{inline(fig)}</p>"
    pdf, cap = fig[:-4] + ".pdf", s.captions.get(fig) or caption(os.path.join(out, fig))
    return (
        f"<figure><a href='{fig}'><img src='{fig}' alt='{html.escape(cap or fig)}'></a><figcaption>"
        f"{inline(cap)} (<a href='{pdf}'>PDF</a>)</figcaption></figure>"
    )


def _section_html(out: str, i: int, s: Section, note: str | None = None) -> list[str]:
    """A section: headline, first figure, numbers; collapsed: how it is computed, more figures, every table."""
    head = f"<h2 id='s{i}'>{html.escape(s.title)}</h2>" + (f"<p class='note'>{html.escape(note)}</p>" if note else "")
    parts = [head + f"<p class='headline'>{inline(s.headline)}</p>"]
    parts += [_figure_html(out, s, f) for f in s.figures[:1]] + [numbers_html(s)]
    fold = lambda summary, body: f"<details><summary>{summary}</summary>{body}</details>" if body else ""
    more = "".join(_figure_html(out, s, f) for f in s.figures[1:])
    parts.append(fold(f"More figures ({len(s.figures) - 1})", more))
    how = (f"<p class='text'>{inline(s.details)}</p>" if s.details else "") + about_html(s.about)
    parts.append(fold("How it is computed, and more numbers", how))
    tables = "".join(table_html(os.path.join(out, t)) for t in s.tables)
    parts.append(fold(f"Every table ({len(s.tables)}: {', '.join(s.tables)})", tables))
    return [p for p in parts if p]


def _span(values) -> str:
    """An axis's values in a few characters: 'random, sp', '1-6', '0-0.9'."""
    vals = sorted(set(values), key=lambda v: (isinstance(v, str), v))
    if len(vals) <= 3 or any(isinstance(v, str) for v in vals):
        return ", ".join(f"{v:g}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else v for v in vals)
    lo, hi = vals[0], vals[-1]
    return f"{lo:g}-{hi:g}" if isinstance(lo, float) else f"{lo:,}-{hi:,}"


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600} h {s % 3600 // 60} min" if s >= 3600 else f"{s // 60} min {s % 60} s" if s >= 60 else f"{s} s"


def _group(run: Run) -> str:
    exp = experiments.experiment_of(run.experiment) if run.experiment else None
    return exp.name if exp else run.experiment or os.path.basename(os.path.normpath(run.path))


def _group_line(name: str, runs: list[Run]) -> str:
    """One line of the run block: an experiment's targets and instances, grid, networks, steps, data, wall time."""
    cfg = lambda r: r.meta["config"]
    targets = {}
    for r in runs:
        t = r.experiment.split("/", 1)[1] if "/" in r.experiment else r.family
        targets.setdefault(t, set()).add(cfg(r)["target"].get("seed", 0))
    target = ", ".join(f"{t} (instance{'s' if len(i) > 1 else ''} {_span(i)})" for t, i in targets.items())
    axes = {}
    for r in runs:
        for a, v in (r.meta.get("axes") or {}).items():
            axes.setdefault(a, set()).update(v)
    grid = " × ".join(f"{a} {len(v)} ({_span(v)})" for a, v in axes.items() if len(v) > 1 or a == "method")
    return (
        f"<li><b>{html.escape(name)}</b>: {html.escape(target)}; grid {html.escape(grid)}; "
        f"{sum(len(r.rows) for r in runs):,} networks; {_span(cfg(r)['train']['steps'] for r in runs)} steps on "
        f"{_span(axes.get('n_train') or [cfg(r)['target']['n_train'] for r in runs])} training points; "
        f"{_duration(sum(r.meta.get('wall_s', 0.0) for r in runs))}.</li>"
    )


def run_block(runs: list[Run]) -> str:
    """What was run, once, at the top of the page: a line of totals (runs, networks, wall time, commit), a line per
    experiment, and the command and config of every run one click away."""
    if not runs:
        return ""
    groups = {}
    for r in runs:
        groups.setdefault(_group(r), []).append(r)
    commits = sorted({str(r.meta.get("git_commit") or "unknown")[:10] for r in runs})
    dirty = " (with uncommitted changes)" if any(r.meta.get("git_dirty") for r in runs) else ""
    envs = "; ".join(sorted({environment.line(r.meta) for r in runs}))
    total = (
        f"<p><b>What was run:</b> {len(runs)} run{'s' if len(runs) > 1 else ''}, {sum(len(r.rows) for r in runs):,} "
        f"trained networks, {_duration(sum(r.meta.get('wall_s', 0.0) for r in runs))} of sweeps (wall time), "
        f"commit {', '.join(commits)}{dirty}.</p><p>Environment: {html.escape(envs)}.</p>"
    )
    lines = "<ul>" + "".join(_group_line(name, rs) for name, rs in groups.items()) + "</ul>"
    runs_html = "".join(
        f"<details><summary>{html.escape(r.path)}: {html.escape(environment.line(r.meta))}</summary>"
        f"<pre>{html.escape(r.meta.get('command', '(not recorded)'))}"
        f"</pre><pre>{html.escape(json.dumps(r.meta['config'], indent=1))}</pre></details>"
        for r in runs
    )
    return f"<div id='run'>{total}{lines}<details><summary>Commands and configs</summary>{runs_html}</details></div>"


def write_index(out: str, sections: list[Section], command: str, note: str | None = None, runs=()) -> str:
    """OUT/index.html: what was run, every section's headline, then the sections; `note` (figures-quick: not a
    verdict) under the title and at the head of every section."""
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
        f"<title>sweetspot report</title><style>{STYLE}</style></head><body>",
        "<h1>sweetspot report</h1>",
        f"<p class='note'>{html.escape(note)}</p>" if note else "",
        run_block(list(runs) or list({id(r): r for s in sections for r in s.runs}.values())),
        "<ul>" + "".join(f"<li><a href='#s{i}'>{html.escape(s.title)}</a>: {inline(s.headline)}</li>"
                         for i, s in enumerate(sections)) + "</ul>",
    ]  # fmt: skip
    for i, s in enumerate(sections):
        parts += _section_html(out, i, s, note)
    parts.append(
        f"<p class='legend'>Made {time.strftime('%Y-%m-%d %H:%M')} by <code>{html.escape(command)}</code> from saved "
        "runs only. Definitions: docs/method.md; verdicts: docs/results.md.</p></body></html>"
    )
    path = os.path.join(out, "index.html")
    with open(path, "w") as f:
        f.write("\n".join(p for p in parts if p))
    return path
