import os
import subprocess
import sys

import pytest

from sweetspot import config as config_lib
from sweetspot import sweep
from sweetspot.cli import HOST_DEVICE_FLAG
from sweetspot.validation import validate

BAD = [
    ("grid.method", ("random", "nope"), r"grid.method='nope'.*allowed values are .*shuffled:sp"),
    ("grid.sparsity", (0.5, 1.0), r"grid.sparsity=1.0.*\[0, 1\)"),
    ("grid.sparsity", (-0.1,), r"grid.sparsity=-0.1.*\[0, 1\)"),
    ("grid.depth", (0, 2), r"grid.depth=0.*integer >= 1"),
    ("grid.seed", (), r"grid.seed=\(\).*non-empty"),
    ("grid.lr", (0.0,), r"grid.lr=0.0.*> 0"),
    ("model.activation", "swish", r"model.activation='swish'.*relu"),
    ("train.optimizer", "lion", r"train.optimizer='lion'.*adamw"),
    ("train.eval_every", 7, r"train.eval_every=7.*divisor"),
    ("engine.depth_mode", "x", r"engine.depth_mode='x'.*group"),
    ("target.family", "nope", r"target.family='nope'.*tree"),
]


@pytest.mark.parametrize("field,value,message", BAD)
def test_bad_values_name_field_and_allowed_values(cfg, field, value, message):
    section, key = field.split(".")
    with cfg[section].unlocked() if hasattr(cfg[section], "unlocked") else nullcontext():
        cfg[section][key] = value
    with pytest.raises(config_lib.ConfigError, match=message):
        validate(cfg)


def nullcontext():
    import contextlib

    return contextlib.nullcontext()


def test_unknown_key_is_an_error(cfg):
    cfg.train.stepz = 3
    with pytest.raises(config_lib.ConfigError, match="train.stepz.*steps"):
        validate(cfg)


def test_errors_come_before_any_compute_or_directory(cfg, tmp_path):
    cfg.grid.method = ("nope",)
    out = tmp_path / "never"
    with pytest.raises(config_lib.ConfigError):
        sweep.run_sweep(cfg, str(out), progress=lambda m: None)
    assert not out.exists()


def test_default_and_full_configs_are_valid():
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "sweeps"))
    import regime_map

    validate(regime_map.get_config())
    validate(regime_map.get_config("full"))
    with pytest.raises(ValueError, match="allowed values"):
        regime_map.get_config("huge")


def _cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "sweetspot", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=os.path.join(os.path.dirname(__file__), ".."),
    )


def test_cli_rejects_bad_override_before_compute(tmp_path):
    out = tmp_path / "x"
    r = _cli("sweep", "sweeps/regime_map.py", "--out", str(out), "--config.grid.sparsity=(0.5,1.5)")
    assert r.returncode != 0 and "grid.sparsity=1.5" in r.stderr and "[0, 1)" in r.stderr
    r = _cli("sweep", "sweeps/regime_map.py", "--out", str(out), "--config.train.nosuch=1")
    assert r.returncode != 0 and "nosuch" in r.stderr
    assert not out.exists()


def test_cli_small_sweep_sets_host_devices_and_keeps_user_flags(tmp_path):
    env = dict(os.environ, XLA_FLAGS="--xla_cpu_enable_fast_math=false")
    out = tmp_path / "run"
    r = _cli(
        "sweep",
        "sweeps/regime_map.py",
        "--out",
        str(out),
        "--config.train.steps=20",
        "--config.train.eval_every=10",
        "--config.grid.depth=(1,2)",
        "--config.grid.sparsity=(0.0,0.5)",
        "--config.grid.seed=(0,)",
        "--config.model.width=4",
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert "mean test R^2" in r.stdout and "chunk 1/1 done" in r.stderr and "ETA" in r.stderr
    import json

    meta = json.load(open(out / "meta.json"))
    assert len(meta["devices"]) == (os.cpu_count() or 1)
    from sweetspot.cli import set_host_devices  # noqa: F401  (import check only)

    assert HOST_DEVICE_FLAG.startswith("--xla")
