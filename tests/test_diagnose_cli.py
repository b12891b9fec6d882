"""`python -m sweetspot diagnose` on a saved run: the per-point table and one network's report."""

import numpy as np
import pytest

from sweetspot import cli, rundir
from sweetspot import grid as grid_lib
from sweetspot import results as res_lib


@pytest.fixture(scope="module")
def run_dir(metrics_run):
    """conftest.metrics_run: random and oracle x depths 1, 2 x 4 points, with the metrics, one point per chunk
    (several params checkpoints); shared with test_report, which reads it as its E1 run."""
    return metrics_run


def test_results_have_the_metric_columns(run_dir):
    rows = res_lib.read_csv(f"{run_dir}/results.csv")
    for col in (
        "C",
        "compositional",
        "fractured",
        "unfit",
        "interference",
        "gen_ratio",
        "dead_units",
        "r2_restricted_v4",
        "r2_any_v5",
        "iia_v4",
        "iia_home_v5",
        "iia_control_v4",
        "IIA",
        "C_init",
        "IIA_init",
        "C_gain",
        "compositional_probe",
        "purity_h0",
        "interference_h1",
        "disconnected_inputs",
    ):
        assert col in rows[0], col
    assert all((r["compositional"] == "True") + (r["fractured"] == "True") + (r["unfit"] == "True") == 1 for r in rows)


def test_point_table_and_report(run_dir, capsys):
    cli.main(["diagnose", run_dir])
    table = capsys.readouterr().out
    assert len(table.strip().splitlines()) == 1 + 16 and "compositional" in table.splitlines()[0]
    cli.main(["diagnose", run_dir, "--point", "method=oracle,depth=2,sparsity=0.5,seed=1"])
    report = capsys.readouterr().out
    assert "r2_restr" in report and "depth 2" in report
    assert "untrained (same wiring): C_init = " in report and "why: " in report and "iia" in report


def test_load_network_returns_the_saved_point(run_dir):
    cfg, target, params, masks, depth, r2 = rundir.load_network(run_dir, "method=oracle,depth=2,sparsity=0.5,seed=1")
    assert depth == 2 and set(params) == {"h0", "h1", "out"}
    for k in masks:
        assert np.all(np.asarray(params[k]["w"])[np.asarray(masks[k]) == 0] == 0)
    rows = res_lib.read_csv(f"{run_dir}/results.csv")
    i = rundir.find_point(grid_lib.make_grid(cfg), "method=oracle,depth=2,sparsity=0.5,seed=1")
    assert rows[i]["method"] == "oracle" and float(rows[i]["test_r2"]) == pytest.approx(r2)
    live = sum(float(np.asarray(m).sum()) for m in masks.values())
    assert live == pytest.approx(float(rows[i]["live_params"]))


@pytest.mark.parametrize(
    "spec,match",
    [
        ("depth=9,method=random,sparsity=0.5,seed=0", "depth='9'.*allowed"),
        ("depth=1,sparsity=0.5,seed=0", "give method"),
        ("colour=red", "unknown axis"),
    ],
)
def test_bad_point_is_a_clear_error(run_dir, spec, match):
    with pytest.raises(res_lib.ResultsError, match=match):
        rundir.load_network(run_dir, spec)
