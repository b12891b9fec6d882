"""`sweetspot report`: every analysis runs on tiny saved runs and writes its files; bad run dirs fail first;
iter_networks returns the same networks as load_network; the report works from an installed copy of the package."""

import functools
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from sweetspot import cli, depth_predictor, rundir, sweep
from sweetspot import results as res_lib
from sweetspot.analysis import e2_depth, e3_connectivity, report, stats


def _tiny(cfg, experiment, **target):
    cfg.experiment = experiment
    cfg.metrics.enabled = True
    cfg.metrics.n_signature, cfg.metrics.n_probe_train, cfg.metrics.n_probe_test = 64, 128, 64
    cfg.pruning.rounds = 1
    cfg.train.steps, cfg.train.eval_every = 40, 20
    for k, v in target.items():
        cfg.target[k] = v
    return cfg


@pytest.fixture(scope="module")
def runs(metrics_run, tmp_path_factory):
    """One tiny run per experiment the report draws. E1 is conftest.metrics_run (random and oracle, shared with
    test_diagnose_cli); E3 has sp and its shuffled control (the oracle's wiring is covered by the E1 run). Compile
    time is the cost (about one program per method), so each run keeps the fewest methods its analysis needs."""
    from conftest import tiny_config

    root = tmp_path_factory.mktemp("runs")
    specs = {
        "e2_tree": _tiny(tiny_config(), "e2/tree_L2"),
        "e3_tree": _tiny(tiny_config(), "e3/tree_L2"),
        "e6_424": _tiny(tiny_config(), "e6/424", family="modular", modular_spec=(4, 2, 4), heldout_q=1.0),
    }
    specs["e2_tree"].grid.method = ("sp",)
    specs["e3_tree"].grid.method = ("sp", "shuffled:sp")
    specs["e3_tree"].grid.depth = (2,)
    specs["e6_424"].grid.method = ("imp",)
    specs["e6_424"].grid.depth = (1, 2)
    out = {"e1": metrics_run}
    for name, cfg in specs.items():
        out[name] = str(root / name)
        sweep.run_sweep(cfg, out[name], progress=lambda m: None)
    return out


def test_report_writes_every_section(runs, tmp_path, monkeypatch):
    # The depth predictor section trains networks (measuring sweep, data-only network): smaller settings here, as
    # this test checks that every section is drawn, not the predictions (test_depth_predictor checks those).
    monkeypatch.setitem(depth_predictor.FIT, "d_max", 2)
    monkeypatch.setitem(depth_predictor.FIT, "seeds", 1)
    monkeypatch.setitem(depth_predictor.FIT, "steps", 100)
    monkeypatch.setattr(depth_predictor, "data_only", functools.partial(depth_predictor.data_only, depth=3, steps=200))
    out = str(tmp_path / "report")
    sections = report.report(list(runs.values()), out, progress=lambda m: None)
    titles = [s.title for s in sections]
    assert titles[:6] + titles[7:] == [
        "E1 regime map",
        "E2 depth axis",
        "E3 connectivity axis",
        "E4 fractured solutions",
        "E5 generalization to held-out combinations",
        "E6 Neural Sculpting protocol",
        "Depth predictor against the E2 peaks",
        "T3 feature interference bounds (theorems 1-3)",
    ]
    assert titles[6].startswith("Wiring: ")  # the labels of the two networks drawn (wiring.title_of)
    for s in sections:
        assert s.headline and s.about  # the module's docstring, for the page's "how it is computed"
        for f in (f for f in s.figures if f.endswith(".png")):  # others: why a figure was not drawn
            assert os.path.getsize(os.path.join(out, f)) > 1000
            assert os.path.exists(os.path.join(out, f[:-4] + ".pdf"))
        for t in s.tables:
            with open(os.path.join(out, t)) as fh:
                assert len(fh.readlines()) >= 2
    index = open(os.path.join(out, "index.html")).read()
    assert all(t in index for t in titles)
    assert runs["e1"] in index  # the runs and their commands are listed
    e6 = open(os.path.join(out, "e6_sculpting.csv")).read().splitlines()
    assert e6[0].startswith("task,method,depth") and len(e6) == 3  # imp at depths 1 and 2


def test_report_jobs_write_the_same_tables(runs, tmp_path):
    # Analyses in worker processes (jobs > 1) write byte-identical tables, sections in the same order.
    from sweetspot.analysis import e1_regime, e2_depth, e3_connectivity, e4_fractured

    analyses = (e1_regime, e2_depth, e3_connectivity, e4_fractured)
    outs, titles = {}, {}
    for jobs in (1, 2):
        outs[jobs] = str(tmp_path / f"jobs{jobs}")
        titles[jobs] = [s.title for s in report.report(list(runs.values()), outs[jobs], analyses, lambda m: None, jobs)]
    assert titles[1] == titles[2] == [m.TITLE for m in analyses]
    tables = sorted(f for f in os.listdir(outs[1]) if f.endswith(".csv"))
    assert len(tables) >= 4 and tables == sorted(f for f in os.listdir(outs[2]) if f.endswith(".csv"))
    for t in tables:
        assert open(os.path.join(outs[1], t), "rb").read() == open(os.path.join(outs[2], t), "rb").read(), t
    for bad in (0, -1, 1.5, True):  # refused before any run is read: the missing run dir is not reached
        with pytest.raises(ValueError, match="jobs"):
            report.report([str(tmp_path / "missing")], str(tmp_path / "bad"), analyses, jobs=bad)
    assert not os.path.exists(tmp_path / "bad")
    with pytest.raises(SystemExit, match="--jobs=0 is invalid: allowed values are integers >= 1"):
        cli.main(["report", runs["e1"], "--out", str(tmp_path / "bad"), "--jobs", "0"])


def test_report_rejects_bad_run_dirs_before_drawing(runs, tmp_path):
    out = str(tmp_path / "bad")
    with pytest.raises(res_lib.ResultsError, match="meta.json"):
        report.report([runs["e1"], str(tmp_path)], out)
    assert not os.path.exists(out)  # nothing was written
    other = tmp_path / "other"
    other.mkdir()
    meta = json.load(open(os.path.join(runs["e1"], "meta.json")))
    meta["status"] = "running"
    json.dump(meta, open(other / "meta.json", "w"))
    with pytest.raises(res_lib.ResultsError, match="status"):
        report.report([str(other)], out)
    with pytest.raises(SystemExit, match="error"):
        cli.main(["report", str(other), "--out", out])


def test_iter_networks_matches_load_network(runs):
    rows = res_lib.read_csv(os.path.join(runs["e3_tree"], "results.csv"))
    seen = {i: (p, m, d) for i, p, m, d in rundir.iter_networks(runs["e3_tree"])}
    assert sorted(seen) == list(range(len(rows)))
    for i in (0, len(rows) - 1):
        spec = ",".join(f"{a}={rows[i][a]}" for a in ("method", "sparsity", "seed"))
        _, _, params, masks, depth, _ = rundir.load_network(runs["e3_tree"], spec)
        p, m, d = seen[i]
        assert d == depth
        for k in masks:
            np.testing.assert_array_equal(m[k], np.asarray(masks[k]))
            np.testing.assert_array_equal(p[k]["w"], np.asarray(params[k]["w"]))


def _any_fit(run) -> bool:
    """Whether at least half the seeds fit at some (depth, sparsity) cell."""
    cells = {}
    for r in run.rows:
        cells.setdefault((r["depth"], r["sparsity"]), []).append(stats.num(r["fit"]))
    return any(np.mean(v) >= 0.5 for v in cells.values())


def test_e2_peak_and_shuffled_density_match(runs):
    e2, e3 = e2_depth, e3_connectivity
    run2 = report.load_run(runs["e2_tree"])
    best, depths, c, fit_ok = e2.curves(run2)
    assert depths == [1, 2, 3] and fit_ok.shape == (3,)
    if not _any_fit(run2):  # 40 steps: usually nothing fits, and then there is no empirical peak
        assert e2.peak_depth(run2) is None
    # Hand-made rows with a known answer: at sparsity 0.5, depth 3 has the highest C but does not fit.
    rows = []
    for d, s, c_val, fit in [
        (1, 0.5, 0.2, True),
        (2, 0.5, 0.9, True),
        (3, 0.5, 0.95, False),
        (1, 0.0, 0.1, True),
        (2, 0.0, 0.1, True),
        (3, 0.0, 0.1, True),
    ]:
        for seed in (0, 1):
            rows.append(
                {
                    "method": "sp",
                    "depth": str(d),
                    "sparsity": str(s),
                    "seed": str(seed),
                    "C": str(c_val),
                    "IIA": str(c_val),
                    "IIA_das": str(c_val),
                    "fit": str(fit),
                    "compositional": "False",
                    "test_r2": "0.9",
                    "diverged": "False",
                }
            )
    fake = report.Run("fake", {"config": {"experiment": "e2/fake"}}, rows)
    best, depths, c, fit_ok = e2.curves(fake)
    assert best == 0.5 and fit_ok.tolist() == [True, True, False]
    assert e2.peak_depth(fake) == 2 and e2.peak_depth(fake, "C") == 2
    for r in rows:
        r["fit"] = "False"
    assert e2.peak_depth(fake) is None
    run3 = report.load_run(runs["e3_tree"])
    assert e3.density_mismatch(run3.rows, "sp") < 1e-6  # shuffling keeps every layer's density


def test_report_runs_from_a_copy_of_the_package_outside_the_checkout(runs, tmp_path):
    """`python -m sweetspot report` with only a copy of src/sweetspot on PYTHONPATH (as after `pip install .`),
    run from a directory outside the repository: no analysis/ scripts, no source checkout. The run is E1's
    without params/ (E1, E4, E5 draw; wiring and T3 need saved networks), to stay fast."""
    import sweetspot

    site = tmp_path / "site"
    shutil.copytree(os.path.dirname(sweetspot.__file__), site / "sweetspot", ignore=shutil.ignore_patterns("*.pyc"))
    run = tmp_path / "e1_no_params"
    shutil.copytree(runs["e1"], run, ignore=shutil.ignore_patterns("params"))
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    out = tmp_path / "installed_report"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import sweetspot.analysis.report as r; print(r.__file__)"],
        cwd=cwd, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.strip().startswith(str(site))  # the copy, not the checkout's editable install
    cmd = [sys.executable, "-m", "sweetspot", "report", str(run), "--out", str(out)]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    index = open(out / "index.html").read()
    assert "E1 regime map" in index and "E5 generalization" in index
    assert os.path.getsize(out / "e1_C.png") > 1000


def test_analysis_imports_go_one_way():
    """Only report imports the analyses' registry; no module of sweetspot imports report or the analysis/
    scripts, and the core modules never import sweetspot.analysis."""
    import ast

    import sweetspot

    root = os.path.dirname(sweetspot.__file__)
    for dirpath, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".py"):
                continue
            path = os.path.join(dirpath, f)
            mod = os.path.relpath(path, root)
            names = set()
            for node in ast.walk(ast.parse(open(path).read())):
                if isinstance(node, ast.ImportFrom) and node.module:
                    names |= {f"{node.module}.{a.name}" for a in node.names} | {node.module}
                elif isinstance(node, ast.Import):
                    names |= {a.name for a in node.names}
            if mod != "cli.py":  # the command line runs the report
                assert "sweetspot.analysis.report" not in names, mod
            if not mod.startswith("analysis") and mod != "cli.py":
                assert not any(n.startswith("sweetspot.analysis") for n in names), mod
            assert not any(n.split(".")[0] in {"e1_regime", "e2_depth", "regime_heatmap"} for n in names), mod
