import os
import subprocess
import sys

import numpy as np
import pytest

from sweetspot import config as config_lib
from sweetspot import grid as grid_lib
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
    ("engine.cpu_opt_level", 0, r"engine.cpu_opt_level=0.*\(1, 2, 3\)"),
    ("engine.cpu_opt_level", True, r"engine.cpu_opt_level=True.*\(1, 2, 3\)"),
    ("target.family", "nope", r"target.family='nope'.*tree"),
    ("grid.n_train", (0, 128), r"grid.n_train=\(0, 128\).*integers in 1..target.n_train=256"),
    ("grid.n_train", (128, 512), r"grid.n_train=\(128, 512\).*1..target.n_train=256.*raise target.n_train"),
    ("grid.n_train", (64.0,), r"grid.n_train=\(64.0,\).*integers"),
    ("grid.n_train", (64, 64), r"grid.n_train=\(64, 64\).*distinct"),
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


def test_n_train_axis_bounds_the_batch_size_and_refuses_truth_tables(cfg):
    """train.batch_size must fit the smallest n_train; a truth-table target trains on its whole table, so
    grid.n_train must stay () there (checked where its training split is drawn, before any compute)."""
    cfg.grid.n_train = (16, 256)  # tiny_config: batch 32, target.n_train 256
    with pytest.raises(config_lib.ConfigError, match=r"train.batch_size=32.*1..min\(grid.n_train\)=16"):
        validate(cfg)
    cfg.grid.n_train = (128, 256)
    validate(cfg)
    assert grid_lib.make_grid(cfg).axes["n_train"] == (128, 256)
    cfg.target.family = "boolean"  # 8 inputs: its truth table
    with pytest.raises(config_lib.ConfigError, match=r"grid.n_train=\(128, 256\).*\(\) only.*truth table"):
        sweep.make_data(validate(cfg))


def test_n_train_pool_is_the_first_rows_of_the_drawn_split(cfg):
    """The engine's pool is the first max(grid.n_train) rows of the target.n_train rows drawn; those rows, and
    the test split, are the ones the run without the axis has."""
    _, whole = sweep.make_data(validate(cfg))
    cfg.grid.n_train = (64, 128)
    _, cut = sweep.make_data(validate(cfg))
    assert cut["x_train"].shape[0] == 128
    np.testing.assert_array_equal(cut["x_train"], whole["x_train"][:128])
    np.testing.assert_array_equal(cut["y_train"], whole["y_train"][:128])
    np.testing.assert_array_equal(cut["x_test"], whole["x_test"])


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


def _config_file(
    tmp_path,
    text="from sweetspot.config import default_config\ndef get_config(arg=None):\n    return default_config()\n",
):
    path = tmp_path / "c.py"
    path.write_text(text)
    return str(path)


def test_load_config_last_override_wins_and_ignores_sys_argv(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["sweetspot", "--config.train.steps=7"])  # not the overrides given
    cfg = config_lib.load_config(_config_file(tmp_path), ["--config.grid.depth=(3,)", "--config.grid.depth=(4,5)"])
    assert cfg.grid.depth == (4, 5) and cfg.train.steps == 3000


def test_load_config_passes_the_argument_and_keeps_config_flags_overrides(tmp_path, recwarn):
    """`file.py:arg` reaches get_config(arg) (no argument without ':'), `--config.a.b=value` overrides apply to the
    locked config, and loading warns nothing (config_flags' own loader calls the deprecated load_module())."""
    text = (
        "from sweetspot.config import default_config, parse_arg\n"
        "def get_config(arg=None):\n"
        "    a, c = parse_arg(arg, size=('small', ('small', 'full'))), default_config()\n"
        "    c.train.steps = 100 if a.size == 'small' else 9000\n"
        "    return c\n"
    )
    path = _config_file(tmp_path, text)
    assert config_lib.load_config(path, []).train.steps == 100
    cfg = config_lib.load_config(f"{path}:full", ["--config.model.width=7", "--config.grid.depth=(2,3)"])
    assert cfg.train.steps == 9000 and cfg.model.width == 7 and cfg.grid.depth == (2, 3)
    with pytest.raises(AttributeError):
        cfg.new_field = 1  # locked, as config_flags locks it
    with pytest.raises(config_lib.ConfigError, match=r"c.py:huge failed to load: ValueError: .*size='huge'"):
        config_lib.load_config(f"{path}:huge", [])
    none = _config_file(tmp_path, "def get_config():\n    return None\n")
    with pytest.raises(config_lib.ConfigError, match="get_config returned NoneType, not a ConfigDict"):
        config_lib.load_config(none, [])
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]


@pytest.mark.parametrize(
    "text,overrides,message",
    [
        (None, ["--config.train.nosuch=1"], r"config.train has no field 'nosuch': allowed keys are \['batch_size'"),
        (None, ["--config.seed.x=1"], "config.seed is a value, not a section"),
        (None, ["--config.train.steps=abc"], "bad override: flag --config.train.steps=abc"),
        ("def get_config(:\n", [], "failed to load: SyntaxError"),
        ("def get_config(arg=None):\n    return nope\n", [], "failed to load: NameError"),
    ],
)
def test_load_config_errors_are_one_line_naming_the_field(tmp_path, text, overrides, message):
    path = _config_file(tmp_path, text) if text else _config_file(tmp_path)
    with pytest.raises(config_lib.ConfigError, match=message) as e:
        config_lib.load_config(path, overrides)
    assert "\n" not in str(e.value)
    with pytest.raises(config_lib.ConfigError, match="does not exist"):
        config_lib.load_config(str(tmp_path / "none.py"), [])
