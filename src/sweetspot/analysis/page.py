"""The report's page, OUT/index.html: each section opens with its one-line result, then its text, figures with
captions and tables, each table in a scrolling box of its own (the identifying columns, then the ones a verdict
rests on; an estimate and its interval in one cell; the full CSV one click away). docs/reliability.md, "The
report in a browser", says how it is checked at 1400 and 800 px."""

from __future__ import annotations

import csv
import html
import json
import os
import time

from sweetspot import environment
from sweetspot.analysis.base import Section

# Columns that name a table's row (kept first, in the CSV's order) and those a verdict rests on (next, this order).
KEY_COLUMNS = ("experiment", "run", "target", "family", "instance", "method", "depth", "sparsity", "lr",
               "weight_decay", "seed", "n", "networks")  # fmt: skip
VERDICT_COLUMNS = ("compositional", "frac_compositional", "IIA_das", "IIA_das_fit", "IIA", "IIA_fit", "C", "C_fit",
                   "C_gain", "fit", "frac_fit", "test_r2", "hold")  # fmt: skip
INTERVALS = (("_lo", "_hi"), ("_ci_lo", "_ci_hi"))

STYLE = (
    "body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em;line-height:1.4}"
    "h2{margin-top:2em;border-bottom:1px solid #ddd}img{max-width:100%;height:auto}"
    ".verdict{font-size:1.1em;font-weight:bold;margin:.4em 0}.text{color:#333;max-width:60em}"
    "figure{margin:1em 0}figcaption{font-size:13px;color:#444;max-width:60em}"
    ".scroll{overflow:auto;max-width:100%;max-height:30em;border:1px solid #ddd;margin:.3em 0 1em}"
    "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;white-space:nowrap}"
    "th{position:sticky;top:0;background:#f3f3f3}.tname{font-size:13px;margin:.8em 0 0}"
    "pre{background:#f5f5f5;padding:.5em;overflow-x:auto;font-size:11px}"
    ".note{background:#fff3cd;border:1px solid #e0c060;padding:.4em .6em;font-weight:bold}"
)


def _is_number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def _merge_intervals(header: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """X_mean (or X) with its X_lo and X_hi (or X_ci_lo, X_ci_hi) as one column 'X [lo, hi]'."""
    at = {c: i for i, c in enumerate(header)}
    groups, used = [], set()
    for c in header:
        if c in used:
            continue
        base = c[: -len("_mean")] if c.endswith("_mean") else c
        lo_hi = next(((base + a, base + b) for a, b in INTERVALS if base + a in at and base + b in at), None)
        groups.append((base if lo_hi else c, c, lo_hi))
        used.update((c, *(lo_hi or ())))
    new_header = [f"{name} [lo, hi]" if lo_hi else name for name, _, lo_hi in groups]
    cell = lambda r, c, lo_hi: f"{r[at[c]]} [{r[at[lo_hi[0]]]}, {r[at[lo_hi[1]]]}]" if lo_hi else r[at[c]]
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


def table_html(path: str) -> str:
    """One CSV as an HTML table in its own scrolling box, headed by its name, size and a link to the full CSV."""
    with open(path, newline="") as f:
        raw = list(csv.reader(f))
    header, rows = order_columns(raw[0], raw[1:]) if raw else ([], [])
    name = os.path.basename(path)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return (
        f"<p class='tname'><b>{html.escape(name)}</b>: {len(rows)} rows, {len(raw[0]) if raw else 0} columns "
        f"(<a href='{html.escape(name)}'>full CSV</a>)</p>"
        f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def caption(png: str) -> str:
    """The caption saved in a figure's PNG (base.save_figure writes the figure title there), or ''."""
    try:
        from PIL import Image

        with Image.open(png) as im:
            return im.text.get("Description", "")
    except (OSError, ImportError, AttributeError):
        return ""


def verdict(s: Section) -> tuple[str, str]:
    """(the section's one-line result, the text that follows it): its own verdict and its text, else the first
    sentence of its text and the rest."""
    if s.verdict:
        return s.verdict, s.text
    first, _, rest = s.text.partition(". ")
    return first.rstrip(".") + ".", rest


def _section_html(out: str, i: int, s: Section, note: str | None = None) -> list[str]:
    result, text = verdict(s)
    head = f"<h2 id='s{i}'>{html.escape(s.title)}</h2>" + (f"<p class='note'>{html.escape(note)}</p>" if note else "")
    parts = [head + f"<p class='verdict'>{html.escape(result)}</p>"]
    parts.append(f"<p class='text'>{html.escape(text)}</p>" if text else "")
    for fig in s.figures:
        pdf, cap = fig[:-4] + ".pdf", s.captions.get(fig) or caption(os.path.join(out, fig))
        parts.append(
            f"<figure><a href='{fig}'><img src='{fig}' alt='{html.escape(cap or fig)}'></a><figcaption>"
            f"{html.escape(cap)} (<a href='{pdf}'>PDF</a>)</figcaption></figure>"
        )
    parts += [table_html(os.path.join(out, t)) for t in s.tables]
    for r in s.runs:
        cfg = json.dumps(r.meta["config"], indent=1)
        cmd = html.escape(r.meta.get("command", "(not recorded)"))
        parts.append(
            f"<details><summary>run {html.escape(r.path)}: <code>{cmd}</code>, wall "
            f"{r.meta.get('wall_s', float('nan')):.0f} s; {html.escape(environment.line(r.meta))}</summary>"
            f"<pre>{html.escape(cfg)}</pre></details>"
        )
    return parts


def write_index(out: str, sections: list[Section], command: str, note: str | None = None) -> str:
    """OUT/index.html: every section's result, text, figures and tables, with the runs' configs and commands;
    `note` (figures-quick: not a verdict) under the title and at the head of every section."""
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
        f"<title>sweetspot report</title><style>{STYLE}</style></head><body>",
        "<h1>sweetspot report</h1>",
        f"<p class='note'>{html.escape(note)}</p>" if note else "",
        f"<p>Made {time.strftime('%Y-%m-%d %H:%M')} by <code>{html.escape(command)}</code>, from saved runs only. "
        "Definitions: docs/method.md; verdicts: docs/results.md.</p>",
        "<ul>" + "".join(f"<li><a href='#s{i}'>{html.escape(s.title)}</a>: {html.escape(verdict(s)[0])}</li>"
                         for i, s in enumerate(sections)) + "</ul>",
    ]  # fmt: skip
    for i, s in enumerate(sections):
        parts += _section_html(out, i, s, note)
    parts.append("</body></html>")
    path = os.path.join(out, "index.html")
    with open(path, "w") as f:
        f.write("\n".join(parts))
    return path
