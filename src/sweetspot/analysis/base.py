"""What every analysis shares: a saved run (`Run`, `load_run`), the report block it returns (`Section`), its
figure and table files (`save_figure`, `write_table`) and its command line (`analysis_main`)."""

from __future__ import annotations

import csv
import dataclasses
import functools
import os

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
    """One block of the report: a title, a paragraph, figure PNG paths and CSV table paths (relative to out), the
    one-line result the section opens with (default: the text's first sentence) and captions by figure (default:
    the caption save_figure stored in the PNG, the figure's title)."""

    title: str
    text: str
    figures: list[str] = dataclasses.field(default_factory=list)
    tables: list[str] = dataclasses.field(default_factory=list)
    runs: list[Run] = dataclasses.field(default_factory=list)
    verdict: str = ""
    captions: dict[str, str] = dataclasses.field(default_factory=dict)


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


def save_figure(fig, out: str, name: str, caption: str | None = None) -> str:
    """Writes OUT/NAME.png and .pdf, closes the figure, returns the PNG's name. The caption (default: the figure's
    title) is stored in the PNG, where the report's page reads it (page.caption)."""
    import matplotlib.pyplot as plt

    savefig(fig, os.path.join(out, name), caption)
    plt.close(fig)
    return f"{name}.png"


def savefig(fig, out_base: str, caption: str | None = None) -> None:
    """OUT_BASE.png (with `caption`, default the figure's title, as its Description) and OUT_BASE.pdf."""
    title = fig._suptitle.get_text() if fig._suptitle is not None else ""
    text = " ".join((caption or title).replace("$", "").split())
    fig.savefig(f"{out_base}.png", dpi=130, bbox_inches="tight", metadata={"Description": text} if text else None)
    fig.savefig(f"{out_base}.pdf", dpi=130, bbox_inches="tight")


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
    its `make` on the runs its `select` keeps and prints the section's text."""
    a = parse_args(doc, argv)
    runs = [load_run(d) for d in a.run_dirs]  # every run checked before anything is written
    os.makedirs(a.out, exist_ok=True)
    print(make(select(runs), a.out).text)
