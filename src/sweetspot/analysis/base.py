"""What every analysis shares: a saved run (`Run`, `load_run`), the report block it returns (`Section`), its
figure and table files (`save_figure`, `write_table`) and its command line (`analysis_main`)."""

from __future__ import annotations

import csv
import dataclasses
import functools
import os

import matplotlib
import numpy as np

from sweetspot import results as res_lib
from sweetspot.config import ConfigError


@dataclasses.dataclass
class Run:
    """One saved run: its directory, meta.json, results.csv rows (the final step's, one per grid point, unless
    load_run was asked for another step) and experiment name ("" when untagged)."""

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
    """One block of the report, as numbers; the page (page.py) writes every word around them. headline: one plain
    sentence with the number (and interval) it rests on, shown on the first screen and at the section's head.
    figures: PNG names (relative to out), the first shown, the rest one click away; an entry that is not a PNG
    name is a sentence saying why a figure was not drawn (e.g. a heatmap that is 0 in every cell). numbers: the
    compact table the headline rests on (a header row, then rows; a cell is text, an int, a float, an (estimate,
    low, high) interval, or NaN/None for an empty cell, which `empty` explains). details: further sentences,
    shown collapsed with the analysis's docstring and every CSV of `tables`. captions: by figure (default: the
    caption save_figure stored in the PNG)."""

    title: str
    headline: str
    figures: list[str] = dataclasses.field(default_factory=list)
    tables: list[str] = dataclasses.field(default_factory=list)
    numbers: list[list] = dataclasses.field(default_factory=list)
    empty: str = ""
    details: str = ""
    runs: list[Run] = dataclasses.field(default_factory=list)
    captions: dict[str, str] = dataclasses.field(default_factory=dict)
    about: str = ""


def load_run(path: str, step=None) -> Run:
    """A finished run, its rows at the final step (`step`: another measured step, or res_lib.ALL_STEPS for every
    one); raises ResultsError (one line, with the fix) when meta.json is missing, of another schema, or the run is
    unfinished, and when results.csv is missing or damaged (res_lib.read_results_csv)."""
    meta = res_lib.read_meta(path)
    if meta.get("status") != "complete":
        raise res_lib.ResultsError(
            f"{path}: status={meta.get('status')!r}; allowed values are ['complete'] (finish it with sweep --resume)"
        )
    return Run(path, meta, res_lib.read_results_csv(path, meta, step=step))


def one_line_errors(main):
    """An analysis script's `main` whose failures on a user's input (a missing, unfinished or damaged run, a point
    not in it: ResultsError; a bad config value: ConfigError; a file it cannot read or write: OSError) end in one
    `error:` line and exit status 1, as the CLI's do, instead of a traceback."""

    @functools.wraps(main)
    def run(*args, **kw):
        try:
            return main(*args, **kw)
        except (res_lib.ResultsError, ConfigError) as e:
            raise SystemExit(f"error: {e}") from None
        except OSError as e:
            raise SystemExit(f"error: {e.strerror or e}: {e.filename or ''}") from None

    return run


# Figure text: at least MIN_FONT_PT everywhere (rcParams below; no figure asks for less) and figures at most
# about 9 in wide, so that at DPI every text is >= 9 px on screen at page widths 800 and 1400 (page.STYLE: the
# content is min(width, 1200) - 32 px wide). save_figure stores the smallest size drawn in the PNG (MinFontPt), where
# tests/test_report_page.py reads it.
DPI = 130
MIN_FONT_PT = 8
FONTS = {"font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8,
         "legend.fontsize": 8, "legend.title_fontsize": 8, "figure.titlesize": 10}  # fmt: skip


matplotlib.rcParams.update(FONTS)  # every analysis draws after importing base


def save_figure(fig, out: str, name: str, caption: str | None = None) -> str:
    """Writes OUT/NAME.png and .pdf, closes the figure, returns the PNG's name. The caption (default: the figure's
    title) is stored in the PNG, where the report's page reads it (page.caption)."""
    import matplotlib.pyplot as plt

    savefig(fig, os.path.join(out, name), caption)
    plt.close(fig)
    return f"{name}.png"


def _drawn_texts(artist):
    """The visible, non-empty texts under `artist` (the axis texts of an axes drawn without axes left out)."""
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis
    from matplotlib.text import Text

    if not artist.get_visible():
        return
    if isinstance(artist, Text) and artist.get_text().strip():
        yield artist
    for child in artist.get_children():
        if not (isinstance(artist, Axes) and not artist.axison and isinstance(child, Axis)):
            yield from _drawn_texts(child)


def savefig(fig, out_base: str, caption: str | None = None) -> None:
    """OUT_BASE.png (with `caption`, default the figure's title, as its Description, and the smallest font size of
    any text it draws as MinFontPt) and OUT_BASE.pdf."""
    title = fig._suptitle.get_text() if fig._suptitle is not None else ""
    fig.canvas.draw()
    meta = {"MinFontPt": f"{min((t.get_fontsize() for t in _drawn_texts(fig)), default=0.0):g}"}
    text = " ".join((caption or title).replace("$", "").split())
    meta |= {"Description": text} if text else {}
    fig.savefig(f"{out_base}.png", dpi=DPI, bbox_inches="tight", metadata=meta)
    fig.savefig(f"{out_base}.pdf", dpi=DPI, bbox_inches="tight")


def write_table(out: str, name: str, header: list[str], rows: list[list]) -> str:
    """Writes OUT/NAME.csv (floats to 4 significant digits), returns its name."""
    with open(os.path.join(out, f"{name}.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow([f"{v:.4g}" if isinstance(v, (float, np.floating)) else v for v in r])
    return f"{name}.csv"


def parse_args(doc: str, argv=None, extra=()):
    """The arguments `RUN_DIR [RUN_DIR ...] --out DIR` (plus `extra`: (flag, add_argument kwargs) pairs)."""
    import argparse

    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--out", required=True)
    for flag, kw in extra:
        p.add_argument(flag, **kw)
    return p.parse_args(argv)


@one_line_errors
def analysis_main(doc: str, select, make, argv=None) -> None:
    """The command line of an analysis module: `python analysis/NAME.py RUN_DIR [RUN_DIR ...] --out DIR` runs
    its `make` on the runs its `select` keeps and prints the section's headline."""
    a = parse_args(doc, argv)
    runs = [load_run(d) for d in a.run_dirs]  # every run checked before anything is written
    os.makedirs(a.out, exist_ok=True)
    print(make(select(runs), a.out).headline)
