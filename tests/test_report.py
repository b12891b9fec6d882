"""`sweetspot report`: every analysis runs on tiny saved runs and writes its files; bad run dirs fail first;
iter_networks returns the same networks as load_network."""

import json
import os

import numpy as np
import pytest

from sweetspot import cli, report, sweep
from sweetspot import results as res_lib


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
def runs(tmp_path_factory):
    from conftest import tiny_config

    root = tmp_path_factory.mktemp("runs")
    specs = {
        "e1": _tiny(tiny_config(), "e1"),
        "e2_tree": _tiny(tiny_config(), "e2/tree_L2"),
        "e3_tree": _tiny(tiny_config(), "e3/tree_L2"),
        "e6_424": _tiny(tiny_config(), "e6/424", family="modular", modular_spec=(4, 2, 4), heldout_q=1.0),
    }
    specs["e1"].grid.method = ("random", "sp")
    specs["e2_tree"].grid.method = ("sp",)
    specs["e3_tree"].grid.method = ("sp", "shuffled:sp", "oracle")
    specs["e3_tree"].grid.depth = (2,)
    specs["e6_424"].grid.method = ("imp",)
    specs["e6_424"].grid.depth = (1, 2)
    out = {}
    for name, cfg in specs.items():
        out[name] = str(root / name)
        sweep.run_sweep(cfg, out[name], progress=lambda m: None)
    return out


def test_report_writes_every_section(runs, tmp_path):
    out = str(tmp_path / "report")
    sections = report.report(list(runs.values()), out, progress=lambda m: None)
    titles = [s.title for s in sections]
    assert titles == [
        "E1 regime map",
        "E2 depth axis",
        "E3 connectivity axis",
        "E4 fractured solutions",
        "E5 generalization to held-out combinations",
        "E6 Neural Sculpting protocol",
        "Wiring: a compositional and a fractured network",
        "Depth predictor against the E2 peaks",
        "T3 feature interference bounds (theorems 1-3)",
    ]
    for s in sections:
        for f in s.figures:
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
    seen = {i: (p, m, d) for i, p, m, d in sweep.iter_networks(runs["e3_tree"])}
    assert sorted(seen) == list(range(len(rows)))
    for i in (0, len(rows) - 1):
        spec = ",".join(f"{a}={rows[i][a]}" for a in ("method", "sparsity", "seed"))
        _, _, params, masks, depth, _ = sweep.load_network(runs["e3_tree"], spec)
        p, m, d = seen[i]
        assert d == depth
        for k in masks:
            np.testing.assert_array_equal(m[k], np.asarray(masks[k]))
            np.testing.assert_array_equal(p[k]["w"], np.asarray(params[k]["w"]))


def test_e2_peak_and_shuffled_density_match(runs):
    import importlib.util

    def load(name):
        spec = importlib.util.spec_from_file_location(name, os.path.join(report.ANALYSIS_DIR, f"{name}.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    report._load_analysis("e1_regime")  # puts analysis/ on sys.path
    e2, e3 = load("e2_depth"), load("e3_connectivity")
    run2 = report.load_run(runs["e2_tree"])
    best, depths, c, fit_ok = e2.curves(run2)
    assert depths == [1, 2, 3] and fit_ok.shape == (3,)
    if not e2.any_fit(run2):  # 40 steps: usually nothing fits, and then there is no empirical peak
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
                    "fit": str(fit),
                    "compositional": "False",
                    "test_r2": "0.9",
                    "diverged": "False",
                }
            )
    fake = report.Run("fake", {"config": {"experiment": "e2/fake"}}, rows)
    best, depths, c, fit_ok = e2.curves(fake)
    assert best == 0.5 and fit_ok.tolist() == [True, True, False]
    assert e2.peak_depth(fake) == 2
    for r in rows:
        r["fit"] = "False"
    assert e2.peak_depth(fake) is None
    run3 = report.load_run(runs["e3_tree"])
    assert e3.density_mismatch(run3.rows, "sp") < 1e-6  # shuffling keeps every layer's density
