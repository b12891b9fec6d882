"""The Python API for notebooks: a saved run as a pandas DataFrame with its config, one network by its
coordinates, and a sweep from a ConfigDict that gives the same back. README, "In a notebook".

    run = sweetspot.load_run("runs/demo")             # Run: results (DataFrame), config (ConfigDict), meta (dict)
    net = run.network(method="sp", depth=3, sparsity=0.8, seed=0)   # Network: params, masks, apply(x), report()
    run = sweetspot.run_sweep(cfg, "runs/mine")       # trains cfg's grid (sweep.run_sweep), then load_run

pandas is the optional extra `notebook` (`pip install 'sweetspot[notebook]'`); nothing else in sweetspot needs
it. Every failure on a user's input is a ResultsError or ConfigError with one line, as on the command line.
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np

from sweetspot import diagnose, mlp, rundir, sweep
from sweetspot import grid as grid_lib
from sweetspot import results as res_lib

__all__ = ["Network", "Run", "load_run", "run_sweep"]


def _pandas():
    try:
        import pandas
    except ImportError:
        raise ImportError(
            "sweetspot.load_run returns a pandas DataFrame: install the extra with `pip install 'sweetspot[notebook]'`"
        ) from None
    return pandas


@dataclasses.dataclass(frozen=True)
class Network:
    """One saved network: its coordinates, grid index, params and masks (as mlp.apply takes them), depth, test
    R^2, the run's config and target, and the untrained network's C_init and IIA_init (None for old runs)."""

    coords: dict
    index: int
    params: dict
    masks: dict
    depth: int
    test_r2: float
    config: object
    target: object
    null: dict | None = None

    def __call__(self, x):
        """The network's outputs on inputs x (n, n_inputs): mlp.apply with the run's activation."""
        return mlp.apply(self.params, self.masks, self.depth, x, self.config.model.activation)

    def report(self) -> str:
        """`python -m sweetspot diagnose RUN --point ...` as text: the label, why, and every metric per node."""
        c = self.config
        return diagnose.report(
            self.params, self.masks, self.depth, c.model.activation, self.target, c.metrics,
            diagnose.test_rows(self.target, c), fit_r2=self.test_r2, seed=int(c.target.data_seed), null=self.null,
        )  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Run:
    """A finished run: `results` (a DataFrame, one row per grid point, the columns of results.csv), `config`
    (the ConfigDict it ran) and `meta` (meta.json: axes, devices, versions, git commit, command)."""

    path: str
    results: object
    config: object
    meta: dict

    @property
    def axes(self) -> dict:
        """{axis: its values} of the grid, in config.AXES order."""
        return self.meta["axes"]

    def network(self, **coords) -> Network:
        """The saved network at `coords` (axis=value; axes with one value may be left out), e.g.
        run.network(method="sp", depth=3, sparsity=0.8, seed=0). ResultsError naming the allowed values when a
        coordinate is not on the grid or the run saved no networks."""
        spec = ",".join(f"{k}={v}" for k, v in coords.items())
        cfg, target, params, masks, depth, r2 = rundir.load_network(self.path, spec)
        grid = grid_lib.make_grid(cfg)
        index = rundir.find_point(grid, spec)
        point = {a: np.asarray(grid.coords[a][index]).item() for a in grid.axes}
        null = rundir.null_scores(self.path, spec)
        return Network(point, index, params, masks, depth, r2, cfg, target, null)


def load_run(path: str) -> Run:
    """A finished run directory as a Run. Every file is checked first: a missing, unfinished or damaged run is a
    ResultsError (one line, with the command that fixes it)."""
    pandas = _pandas()
    meta = rundir.read_complete_meta(path)
    res_lib.read_results_csv(path, meta)  # the whole file checked before pandas reads it
    frame = pandas.read_csv(f"{path}/results.csv", keep_default_na=False, na_values=["nan"])
    if "n_train" not in frame.columns:  # a run made before the n_train axis: every point trained on target.n_train
        at = frame.columns.get_loc("seed") if "seed" in frame.columns else len(frame.columns)
        frame.insert(at, "n_train", res_lib.old_n_train(meta))
    return Run(path, frame, rundir.config_from_meta(meta), meta)


def run_sweep(cfg, out: str, resume: bool = False, overwrite: bool = False, progress=None) -> Run:
    """Trains cfg's grid into the run directory `out` (sweep.run_sweep: validated first, checkpointed, resumable)
    and returns load_run(out). Progress goes to stderr unless `progress` (a callable of one string) is given."""
    say = progress or (lambda m: print(m, file=sys.stderr, flush=True))
    sweep.run_sweep(cfg, out, resume=resume, overwrite=overwrite, progress=say)
    return load_run(out)
