"""Shared fixtures: tiny configs so every engine test runs in seconds."""

import os
import shutil
import tempfile

import pytest

from sweetspot import config as config_lib
from sweetspot import grid as grid_lib
from sweetspot import targets

_JAX_CACHE = []
_CACHE_ENV = "SWEETSPOT_TEST_JAX_CACHE"


def pytest_configure(config):
    """JAX's persistent compilation cache in a fresh directory for this pytest session only (removed at its end):
    tests that build the same program again (a new Engine or a new jit of the same function per call: run_grid
    twice, diagnose on four networks) compile it once. Every trace still happens (compile_count counts traces),
    and nothing carries over between sessions. Set in a hook, not at import, because subprocess scripts import
    this module for tiny_config and set their own cache. Under pytest-xdist (`make test` runs `-n auto`) the
    controller makes the directory before its workers start and they inherit it through the environment, so a
    program compiled by one worker is a cache hit for the other."""
    import jax

    path = os.environ.get(_CACHE_ENV)
    if path is None:  # the controller, or a plain pytest run: this process owns (and removes) the directory
        path = tempfile.mkdtemp(prefix="sweetspot-test-jax-cache-")
        os.environ[_CACHE_ENV] = path
        _JAX_CACHE.append(path)
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def pytest_unconfigure(config):
    for path in _JAX_CACHE:
        shutil.rmtree(path, ignore_errors=True)
        os.environ.pop(_CACHE_ENV, None)


def tiny_config():
    """A 4-input tree target, width-8 networks, 40 steps: for tests only."""
    c = config_lib.default_config()
    c.target.levels = 2
    c.target.n_reference = 1024
    c.target.n_train, c.target.n_test, c.target.n_heldout = 256, 128, 64
    c.model.width = 8
    c.train.steps, c.train.eval_every, c.train.batch_size = 40, 20, 32
    c.grid.depth = (1, 2, 3)
    c.grid.sparsity = (0.0, 0.5)
    c.grid.seed = (0, 1)
    c.grid.lr = (1e-2,)
    c.metrics.enabled = False
    return c


def init_masks(method, key, params, density, depth, data=None):
    """An at-init method's masks by the engine's own path (pruning.init_masks with the method's registry entry);
    `data` holds what its score reads (the oracle's table: {"oracle": table})."""
    from sweetspot import pruning

    inp = pruning.ScoreInputs(key, {"depth": depth}, data or {}, "relu", None, None)
    return pruning.init_masks(pruning.METHODS[method], inp, params, density)


def random_masks(key, params, density, depth):
    """The `random` method's masks (uniform scores, top-k per active layer)."""
    return init_masks("random", key, params, density, depth)


def oracle_masks(key, table, params, density, depth):
    """The `oracle` method's masks: random edges of the target's wiring `table` (pruning.oracle_table)."""
    return init_masks("oracle", key, params, density, depth, {"oracle": table})


def metrics_run_config():
    """A run with the metrics and saved networks: random and oracle x depths 1, 2 x sparsity 0, 0.5 x seeds 0, 1
    (16 points), one point per chunk (several params checkpoints), tagged as an E1 run for the report."""
    c = tiny_config()
    c.experiment = "e1"
    c.metrics.enabled = True
    c.metrics.n_signature, c.metrics.n_probe_train, c.metrics.n_probe_test = 128, 256, 128
    c.grid.depth = (1, 2)
    c.grid.method = ("random", "oracle")
    c.engine.chunk_size = 1
    return c


@pytest.fixture(scope="session")
def metrics_sweep(tmp_path_factory):
    """(run directory, engine, results) of one sweep of metrics_run_config(), shared read-only by
    test_diagnose_cli (diagnose, load_network), test_report (its E1 run) and test_architecture (the result
    schema): one compile and run for the three files."""
    from sweetspot import sweep

    out = str(tmp_path_factory.mktemp("metrics_run") / "run")
    engine, results = sweep.run_sweep(metrics_run_config(), out, progress=lambda m: None)
    return out, engine, results


@pytest.fixture(scope="session")
def metrics_run(metrics_sweep):
    """The directory of the metrics_sweep run."""
    return metrics_sweep[0]


@pytest.fixture
def cfg():
    return tiny_config()


@pytest.fixture
def data(cfg):
    return targets.make_splits(targets.make_target(cfg.target), cfg.target)


@pytest.fixture(scope="module")
def engines():
    """One compiled engine per config for the whole module (run_sweep builds a new Engine each call)."""
    cache, real = {}, grid_lib.Engine

    def make(cfg, data, devices=None):
        key = (cfg.to_json_best_effort(), devices is None)
        if key not in cache:
            cache[key] = real(cfg, data, devices)
        return cache[key]

    return make


def expr_config_file(path, expr: str) -> str:
    """A sweep config file at `path` whose target is the expression `expr` (family `expr`) with small probe data
    (as the hand-built metric tests use): for `diagnose --npz ... --target FILE`."""
    import textwrap

    path.write_text(
        textwrap.dedent(
            f"""
            from sweetspot.config import default_config

            def get_config(arg=None):
                c = default_config()
                c.target.family, c.target.expr, c.target.n_reference = "expr", "{expr}", 4096
                c.metrics.n_signature, c.metrics.n_probe_train, c.metrics.n_probe_test = 256, 512, 256
                c.metrics.n_iia = 256
                return c
            """
        )
    )
    return str(path)
