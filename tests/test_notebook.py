"""The notebook API (sweetspot.notebook, README "In a notebook"): the README example runs as written, a run loads
as a DataFrame with its config and meta, a network by its coordinates, a sweep from a ConfigDict gives the same
back, and every mistake is one line."""

import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd  # the `notebook` extra, in `dev`
import pytest

import sweetspot
from sweetspot import mlp, rundir, sweep
from sweetspot import results as res_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_example() -> str:
    """The python block of the README's "In a notebook" section, as written."""
    text = open(os.path.join(ROOT, "README.md")).read()
    section = text.split("## In a notebook", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory):
    """Runs the README example in a fresh directory; returns (run dir, what it printed)."""
    where = tmp_path_factory.mktemp("readme")
    r = subprocess.run([sys.executable, "-c", readme_example()], cwd=where, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return str(where / "runs" / "notebook"), r.stdout


def test_the_readme_example_runs_as_written(readme_run):
    out, printed = readme_run
    assert "test_r2" in printed and "compositional" in printed and "why:" in printed, printed
    assert rundir.read_complete_meta(out)["status"] == "complete"


def test_importing_sweetspot_imports_no_jax_until_the_api_is_used():
    code = "import sys, sweetspot\nassert 'jax' not in sys.modules\nsweetspot.load_run\nprint('jax' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "True", r.stderr
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        sweetspot.nosuch  # noqa: B018


def test_load_run_gives_the_results_as_a_dataframe_with_config_and_meta(readme_run):
    out, _ = readme_run
    run = sweetspot.load_run(out)
    rows = res_lib.read_csv(os.path.join(out, "results.csv"))
    assert isinstance(run.results, pd.DataFrame) and len(run.results) == len(rows) == 8
    assert list(run.results.columns) == list(rows[0])
    assert run.results["diverged"].dtype == bool and run.results["test_r2"].dtype == np.float64
    assert np.allclose(run.results["test_r2"], [float(r["test_r2"]) for r in rows])
    assert run.config.train.steps == 300 and run.config.model.width == 16
    assert run.meta["status"] == "complete" and run.axes["depth"] == [1, 2]


def test_a_run_made_before_the_n_train_axis_reads_as_its_target_n_train(readme_run, tmp_path):
    """A run whose results.csv and meta.json predate grid.n_train (no n_train column or axis) loads with an
    n_train column and axis of its target.n_train, where a new run has them."""
    import json
    import shutil

    out, _ = readme_run
    old = str(tmp_path / "old")
    shutil.copytree(out, old)
    new = sweetspot.load_run(out)
    frame = new.results.drop(columns="n_train")
    frame.to_csv(os.path.join(old, "results.csv"), index=False, na_rep="nan")
    meta = json.load(open(os.path.join(old, "meta.json")))
    del meta["axes"]["n_train"]
    json.dump(meta, open(os.path.join(old, "meta.json"), "w"))
    assert "n_train" not in res_lib.read_csv(os.path.join(old, "results.csv"))[0]
    run = sweetspot.load_run(old)
    assert list(run.results.columns) == list(new.results.columns) and (run.results["n_train"] == 4096).all()
    assert run.axes == new.axes and list(run.axes)[-2:] == ["n_train", "seed"] and run.axes["n_train"] == [4096]
    rows = res_lib.read_results_csv(old, rundir.read_complete_meta(old))
    assert list(rows[0]) == list(new.results.columns) and {r["n_train"] for r in rows} == {"4096"}
    assert run.network(depth=2, sparsity=0.5, seed=1).coords["n_train"] == 4096


def test_a_network_by_its_coordinates_is_the_saved_one(readme_run):
    out, _ = readme_run
    run = sweetspot.load_run(out)
    net = run.network(depth=2, sparsity=0.5, seed=1)
    cfg, _, params, masks, depth, r2 = rundir.load_network(out, "depth=2,sparsity=0.5,seed=1")
    assert net.coords == {"method": "random", "depth": 2, "sparsity": 0.5, "lr": 0.003, "weight_decay": 0.0,
                          "n_train": 4096, "seed": 1}
    assert net.depth == depth == 2 and net.test_r2 == r2
    assert run.results.loc[net.index, "seed"] == 1 and run.results.loc[net.index, "depth"] == 2
    assert all(np.array_equal(net.params[k]["w"], params[k]["w"]) for k in params)
    x = net.target.sample(np.random.default_rng(1), 7)
    assert np.allclose(net(x), mlp.apply(params, masks, depth, x, cfg.model.activation))
    assert set(net.null) == {"C_init", "IIA_init", "IIA_das_init"}
    with pytest.raises(res_lib.ResultsError, match=r"depth='9': allowed values are \[1, 2\]"):
        run.network(depth=9, sparsity=0.5, seed=0)
    with pytest.raises(res_lib.ResultsError, match=r"give seed=<value>"):
        run.network(depth=1, sparsity=0.5)


def test_run_sweep_returns_what_load_run_returns(readme_run, tmp_path):
    """run_sweep on the README's run resumes it (every point done: no training) and gives the same Run back."""
    out, _ = readme_run
    cfg = sweetspot.load_run(out).config
    msgs = []
    again = sweetspot.run_sweep(cfg, out, resume=True, progress=msgs.append)
    assert any("every point is done" in m for m in msgs) and not any(m.startswith("chunk") for m in msgs), msgs
    loaded = sweetspot.load_run(out)
    pd.testing.assert_frame_equal(again.results, loaded.results)
    assert again.config == loaded.config


def test_load_run_mistakes_are_one_line(readme_run, tmp_path, monkeypatch):
    with pytest.raises(res_lib.ResultsError, match="not a sweetspot run directory: no meta.json"):
        sweetspot.load_run(str(tmp_path))
    out, _ = readme_run
    copy = tmp_path / "copy"
    os.makedirs(copy)
    for name in ("meta.json", "results.csv"):
        data = open(os.path.join(out, name), "rb").read()
        open(copy / name, "wb").write(data[: len(data) - 20] if name == "results.csv" else data)
    with pytest.raises(res_lib.ResultsError, match=r"results\.csv is damaged .*--resume"):
        sweetspot.load_run(str(copy))
    monkeypatch.setitem(sys.modules, "pandas", None)  # pandas not installed
    with pytest.raises(ImportError, match=r"pip install 'sweetspot\[notebook\]'"):
        sweetspot.load_run(out)


def test_the_notebook_api_needs_no_private_call(readme_run):
    assert sweetspot.__all__ == ["Network", "Run", "load_run", "run_sweep"]
    assert sweetspot.run_sweep.__module__ == "sweetspot.notebook" and sweep.run_sweep is not sweetspot.run_sweep
