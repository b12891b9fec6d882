"""Shared fixtures: tiny configs so every engine test runs in seconds."""

import pytest

from sweetspot import config as config_lib
from sweetspot import targets


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


@pytest.fixture
def cfg():
    return tiny_config()


@pytest.fixture
def data(cfg):
    return targets.make_splits(targets.make_target(cfg.target), cfg.target)
