"""Metrics along training (metrics.at_steps) and the `converged` label (docs/method.md, "Metrics along training"
and "Training"): every loss, metric and label at each listed step in one compiled call, equal to those of a run
that stops at that step; results.csv's `step` column and every reader of it."""

import json
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import tiny_config
from sweetspot import checksums, cli, grid, rundir, sweep, train
from sweetspot import config as config_lib
from sweetspot import results as res_lib
from sweetspot.analysis import base
from sweetspot.validation import validate

QUIET = {"progress": lambda m: None}


# ------------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "at_steps",
    [(30,), (20, 60), (40, 20), (20, 20), (0,), (True,), (20.0,), (-20,)],
)
def test_at_steps_must_be_increasing_multiples_of_eval_every_up_to_steps(at_steps):
    cfg = tiny_config()  # 40 steps, eval_every 20
    cfg.metrics.at_steps = at_steps
    with pytest.raises(config_lib.ConfigError, match=r"config\.metrics\.at_steps=.* allowed values are \(\) \(the "
                       r"final step only\) or increasing, distinct multiples of train\.eval_every=20 in "
                       r"1\.\.train\.steps=40"):
        validate(cfg)


def test_step_values_always_end_with_the_final_step():
    cfg = tiny_config()
    assert config_lib.step_values(cfg) == (40,)  # () = the final step only
    cfg.metrics.at_steps = (20,)
    assert config_lib.step_values(validate(cfg)) == (20, 40)
    cfg.metrics.at_steps = (20, 40)
    assert config_lib.step_values(validate(cfg)) == (20, 40)


# -------------------------------------------------------------------------------------------- converged
def test_converged_on_hand_made_curves():
    """converged after n blocks: the block-mean train loss fell by less than 1% over the last n // 10 blocks;
    False with fewer than 2 samples in that window (n < 10) or a non-finite loss; a rise counts as converged."""
    flat = np.ones(30, np.float32)
    falling = 0.95 ** np.arange(30, dtype=np.float32)  # -5% per block
    slow = 0.996 ** np.arange(30, dtype=np.float32)  # -0.4% per block: -0.8% over 2 blocks, -1.2% over 3
    knee = np.concatenate([0.9 ** np.arange(20), np.full(10, 0.9**19)]).astype(np.float32)  # falls, then flat
    rising = 1.02 ** np.arange(30, dtype=np.float32)
    holed = flat.copy()
    holed[28] = np.nan
    conv = lambda c, n: bool(train.converged(jnp.asarray(c), n))
    assert conv(flat, 10) and conv(flat, 30)
    assert not conv(flat, 9) and not conv(flat, 1)  # window of 0 blocks: fewer than 2 curve samples
    assert not conv(falling, 10) and not conv(falling, 30)
    assert conv(slow, 20) and not conv(slow, 30)  # window 2 blocks: -0.8%; 3 blocks: -1.2%
    assert not conv(knee, 20) and conv(knee, 30)  # window at 20: the fall into block 19; at 30: flat since 19
    assert not conv(knee, 21)  # window 2 blocks at 21: blocks 18 -> 20 still holds the last fall
    assert conv(rising, 10)
    assert not conv(holed, 30) and conv(holed, 20)  # a NaN inside the window; the window before it is finite
    traced = jax.jit(lambda c, n: train.converged(c, n))  # traced n (as inside the engine's map over steps)
    for n in (9, 10, 20, 21, 30):
        assert bool(traced(jnp.asarray(knee), jnp.int32(n))) == conv(knee, n), n


def test_diverged_at_a_step_sees_only_the_curve_before_it():
    curve = jnp.asarray([1.0, 0.5, jnp.nan, 0.4])
    assert not bool(train.diverged(curve, 2, jnp.float32(0.3)))
    assert bool(train.diverged(curve, 3, jnp.float32(0.3))) and bool(train.diverged(curve, 2, jnp.float32(jnp.nan)))


# ---------------------------------------------------------------------------------- the engine, one depth
def test_one_depth_point_fit_at_steps_equal_shorter_runs_and_the_final_step_is_unchanged():
    """A one-depth grid (the per-point fit), metrics off, a rewind method (imp) and an at-init one (random): the
    results at step 40 equal those without at_steps (at_steps adds rows, it changes none); for random (masks at
    initialisation, constant learning rate) the step-20 results equal a 20-step run's."""
    cfg = tiny_config()
    cfg.grid.depth, cfg.grid.sparsity, cfg.grid.method = (2,), (0.5,), ("random", "imp")
    _, data = sweep.make_data(cfg)
    plain, _ = grid.run(grid.Engine(cfg, data))
    cfg.metrics.at_steps = (20, 40)
    eng = grid.Engine(cfg, data)
    both, _ = grid.run(eng)
    assert eng.compile_count == 1 and both["test_loss"].shape == (eng.grid.n_points, 2)
    assert both["curve_train"].shape == plain["curve_train"].shape == (eng.grid.n_points, 2)  # no step axis
    final = res_lib.final_step(cfg, both)
    assert set(final) == set(plain)
    for k in plain:
        np.testing.assert_allclose(final[k], plain[k], rtol=1e-5, atol=1e-7, err_msg=k)
    short = tiny_config()
    short.grid.depth, short.grid.sparsity, short.grid.method = (2,), (0.5,), ("random",)
    short.train.steps = 20
    at20, _ = grid.run(grid.Engine(short, data))
    rand = eng.grid.coords["method"] == "random"
    assert rand.sum() == len(at20["test_loss"]) == 2
    for k in ("train_loss", "test_loss", "heldout_loss", "test_r2", "live_params", "diverged", "converged"):
        np.testing.assert_allclose(both[k][rand, 0], at20[k], rtol=1e-5, atol=1e-7, err_msg=k)
    assert not np.allclose(both["test_loss"][:, 0], both["test_loss"][:, 1])  # two steps, two networks


# ------------------------------------------------------------------ the sweep, metrics on (segment)
def done_when_config(steps, at_steps=()):
    """The issue's check on a tiny grid: grid.n_train (256, 1024) x depths 1, 2 (segment mode), one seed, the
    metrics on but small."""
    c = tiny_config()
    c.metrics.enabled = True
    c.metrics.n_signature, c.metrics.n_probe_train, c.metrics.n_probe_test = 128, 256, 128
    c.target.n_train = 1024
    c.grid.n_train, c.grid.depth, c.grid.sparsity, c.grid.seed = (256, 1024), (1, 2), (0.5,), (0,)
    c.train.steps, c.metrics.at_steps = steps, at_steps
    return c


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(200-step run measured at steps 100 and 200, its engine, the 100-step run) directories."""
    where = tmp_path_factory.mktemp("at_steps")
    long, short = str(where / "long"), str(where / "short")
    engine, _ = sweep.run_sweep(done_when_config(200, (100, 200)), long, **QUIET)
    sweep.run_sweep(done_when_config(100), short, **QUIET)
    return long, engine, short


def test_a_sweep_writes_both_axes_and_its_step_100_rows_equal_a_100_step_run(runs):
    long, engine, short = runs
    assert engine.compile_count == 1 and engine.segment  # one compile, segment mode's metrics (train.by_depth)
    every = res_lib.read_csv(os.path.join(long, "results.csv"))
    assert len(every) == 4 * 2 and {(r["n_train"], r["step"]) for r in every} == {
        (n, s) for n in ("256", "1024") for s in ("100", "200")}
    assert list(every[0])[:10] == ["point", "method", "depth", "sparsity", "lr", "weight_decay", "n_train", "seed",
                                   "step", "C"]
    meta = rundir.read_complete_meta(long)
    at100 = res_lib.read_results_csv(long, meta, step=100)
    ref = res_lib.read_results_csv(short, rundir.read_complete_meta(short))
    assert [r["point"] for r in at100] == [r["point"] for r in ref] == ["0", "1", "2", "3"]
    assert list(at100[0]) == list(ref[0]) and "converged" in ref[0] and "IIA_das" in ref[0]
    for a, b in zip(at100, ref, strict=True):
        assert a == b  # every column, as written (6 significant digits)
    at200 = res_lib.read_results_csv(long, meta)
    assert {r["step"] for r in at200} == {"200"} and [r["point"] for r in at200] == ["0", "1", "2", "3"]
    assert any(a["test_loss"] != b["test_loss"] for a, b in zip(at100, at200, strict=True))


def test_every_reader_takes_the_final_step_by_default(runs):
    import sweetspot

    long, _, _ = runs
    meta = rundir.read_complete_meta(long)
    assert meta["steps"] == [100, 200]
    assert [r["step"] for r in base.load_run(long).rows] == ["200"] * 4
    assert [r["step"] for r in base.load_run(long, step=100).rows] == ["100"] * 4
    assert len(res_lib.read_results_csv(long, meta, step=res_lib.ALL_STEPS)) == 8
    with pytest.raises(res_lib.ResultsError, match=r"step=150 was not measured: allowed values are \[100, 200\]"):
        res_lib.read_results_csv(long, meta, step=150)
    frame = sweetspot.load_run(long).results
    assert len(frame) == 4 and (frame["step"] == 200).all()
    assert (sweetspot.load_run(long, step=100).results["step"] == 100).all()
    assert len(sweetspot.load_run(long, step="all").results) == 8
    spec = "depth=2,n_train=1024"
    assert rundir.load_network(long, spec + ",step=200")[3] is not None  # the final step: the saved network
    with pytest.raises(res_lib.ResultsError, match=r"only the final step's networks are saved \(step=200\)"):
        rundir.load_network(long, spec + ",step=100")
    assert rundir.null_scores(long, spec + ",step=100") == rundir.null_scores(long, spec)  # same start weights


def test_diagnose_reports_a_point_at_an_earlier_step_as_measured(runs, capsys):
    long, _, _ = runs
    row = res_lib.read_results_csv(long, rundir.read_complete_meta(long), step=100)[3]  # depth 2, n_train 1024
    cli.main(["diagnose", long, "--point", "depth=2,n_train=1024,step=100", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert "at step 100" in out["fit_text"] and f"fit R^2 = {float(row['test_r2']):.4f}" in out["fit_text"]
    assert out["labels"]["compositional"] == (row["compositional"] == "True")
    assert out["scores"]["IIA_das"] == pytest.approx(float(row["IIA_das"]))
    assert out["nodes"][0]["iia_das"] == pytest.approx(float(row[f"iia_das_v{out['nodes'][0]['id']}"]))
    cli.main(["diagnose", long, "--point", "depth=2,n_train=1024,step=100"])
    text = capsys.readouterr().out
    assert "why: " in text and "at step 100" in text
    cli.main(["diagnose", long, "--point", "depth=2,n_train=1024,step=200", "--json"])
    final = json.loads(capsys.readouterr().out)
    assert "at step" not in final["fit_text"]  # the final step: the saved network, measured again
    with pytest.raises(SystemExit, match=r"step=150 was not measured: allowed values are \[100, 200\]"):
        cli.main(["diagnose", long, "--point", "depth=2,n_train=1024,step=150"])


def test_a_finished_run_resumes_into_the_same_results(runs, tmp_path):
    """The saved results (with their step axis) restore against the engine's template: a resume of the finished
    run trains nothing and rewrites the same results.csv."""
    long, _, _ = runs
    copy = str(tmp_path / "copy")
    shutil.copytree(long, copy)
    before = open(os.path.join(copy, "results.csv")).read()
    msgs = []
    sweep.run_sweep(done_when_config(200, (100, 200)), copy, resume=True, progress=msgs.append)
    assert any("every point is done" in m for m in msgs) and not any(m.startswith("chunk") for m in msgs), msgs
    assert open(os.path.join(copy, "results.csv")).read() == before


def test_a_run_made_before_at_steps_reads_as_its_train_steps(runs, tmp_path):
    """A run whose results.csv and meta.json predate metrics.at_steps (no step column, no steps, no at_steps in
    its config) reads with step = its train.steps."""
    _, _, short = runs
    old = str(tmp_path / "old")
    shutil.copytree(short, old)
    rows = res_lib.read_csv(os.path.join(old, "results.csv"))
    with open(os.path.join(old, "results.csv"), "w") as f:
        f.write(",".join(k for k in rows[0] if k != "step") + "\n")
        f.writelines(",".join(v for k, v in r.items() if k != "step") + "\n" for r in rows)
    meta = json.load(open(os.path.join(old, "meta.json")))
    del meta["steps"], meta["config"]["metrics"]["at_steps"]
    meta[checksums.KEY] = checksums.compute(old)
    json.dump(meta, open(os.path.join(old, "meta.json"), "w"))
    back = res_lib.read_results_csv(old, res_lib.read_meta(old))
    assert [r["step"] for r in back] == ["100"] * 4
    ref = res_lib.read_results_csv(short, res_lib.read_meta(short))
    assert back == ref and list(back[0]) == list(ref[0])
