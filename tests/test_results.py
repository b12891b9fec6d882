import json
import os

import numpy as np
import pytest

from sweetspot import results as res_lib
from sweetspot import sweep


def test_orbax_round_trip(tmp_path):
    tree = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "done": np.array([True, False]),
        "nested": {"k": np.array([1, 2], np.int32)},
    }
    res_lib.save_checkpoint(str(tmp_path / "ck"), 3, tree)
    template = {"a": np.zeros((2, 3), np.float32), "done": np.zeros(2, bool), "nested": {"k": np.zeros(2, np.int32)}}
    step, back = res_lib.restore_checkpoint(str(tmp_path / "ck"), template)
    assert step == 3
    np.testing.assert_array_equal(back["a"], tree["a"])
    np.testing.assert_array_equal(back["done"], tree["done"])
    np.testing.assert_array_equal(np.asarray(back["nested"]["k"]), tree["nested"]["k"])


def test_zero_size_arrays_round_trip(tmp_path):
    tree = {"per_node": np.zeros((4, 0), np.float32), "x": np.arange(4, dtype=np.float32)}
    res_lib.save_checkpoint(str(tmp_path / "ck"), 0, tree)
    _, back = res_lib.restore_checkpoint(str(tmp_path / "ck"), {k: np.zeros_like(v) for k, v in tree.items()})
    assert back["per_node"].shape == (4, 0)
    np.testing.assert_array_equal(back["x"], tree["x"])


def test_target_without_constituents_runs_end_to_end(cfg, tmp_path):
    from sweetspot import sweep

    cfg.target.family, cfg.target.levels = "dense_teacher", 2
    cfg.metrics.enabled = True
    cfg.metrics.n_signature, cfg.metrics.n_probe_train, cfg.metrics.n_probe_test = 32, 64, 32
    cfg.grid.depth, cfg.grid.sparsity, cfg.grid.seed = (1, 2), (0.0,), (0,)
    _, res = sweep.run_sweep(cfg, str(tmp_path / "run"), progress=lambda m: None)
    assert res["r2_restricted"].shape == (2, 0) and np.isnan(res["C"]).all() and not res["compositional"].any()
    _, res2 = sweep.run_sweep(cfg, str(tmp_path / "run"), resume=True, progress=lambda m: None)
    np.testing.assert_array_equal(res2["test_loss"], res["test_loss"])


def test_missing_and_corrupt_checkpoints_are_clear_errors(tmp_path):
    with pytest.raises(res_lib.ResultsError, match="no checkpoint"):
        res_lib.restore_checkpoint(str(tmp_path / "none"), {})
    tree = {"a": np.ones(4, np.float32)}
    res_lib.save_checkpoint(str(tmp_path / "ck"), 0, tree)
    for root, _, files in os.walk(tmp_path / "ck"):
        for f in files:
            with open(os.path.join(root, f), "wb") as fh:
                fh.write(b"garbage")
    with pytest.raises(res_lib.ResultsError, match="corrupt"):
        res_lib.restore_checkpoint(str(tmp_path / "ck"), tree)


def test_kill_and_resume_equals_uninterrupted(cfg, tmp_path):
    cfg.engine.chunk_size = 1  # 4 points per group: 4 chunks
    full = str(tmp_path / "full")
    _, ref = sweep.run_sweep(cfg, full, progress=lambda m: None)
    part = str(tmp_path / "part")
    with pytest.raises(KeyboardInterrupt):
        sweep.run_sweep(cfg, part, progress=lambda m: None, stop_after=2)
    meta = json.load(open(os.path.join(part, "meta.json")))
    assert meta["status"] == "running" and not os.path.exists(os.path.join(part, "results.csv"))
    msgs = []
    _, resumed = sweep.run_sweep(cfg, part, resume=True, progress=msgs.append)
    assert any("6/12 points already done" in m for m in msgs), msgs
    for k in ref:
        np.testing.assert_array_equal(resumed[k], ref[k], err_msg=k)
    rows_a = res_lib.read_csv(os.path.join(full, "results.csv"))
    rows_b = res_lib.read_csv(os.path.join(part, "results.csv"))
    assert rows_a == rows_b and len(rows_a) == 12


def test_run_dir_contents_and_csv(cfg, tmp_path):
    out = str(tmp_path / "run")
    engine, res = sweep.run_sweep(cfg, out, progress=lambda m: None)
    meta = res_lib.read_meta(out)
    assert meta["status"] == "complete" and meta["schema"] == res_lib.SCHEMA
    assert meta["config"]["model"]["width"] == 8 and meta["versions"]["jax"]
    rows = res_lib.read_csv(os.path.join(out, "results.csv"))
    assert len(rows) == engine.grid.n_points
    for col in (
        "method",
        "depth",
        "sparsity",
        "seed",
        "lr",
        "test_r2",
        "realised_sparsity",
        "diverged",
        "layer_sparsity_h0",
        "layer_sparsity_out",
    ):
        assert col in rows[0]
    assert float(rows[5]["test_r2"]) == pytest.approx(float(res["test_r2"][5]), rel=1e-5)
    assert os.path.isdir(os.path.join(out, "params"))


def test_existing_dir_is_never_overwritten_by_default_or_by_a_failing_run(cfg, tmp_path):
    out = str(tmp_path / "run")
    sweep.run_sweep(cfg, out, progress=lambda m: None)
    before = open(os.path.join(out, "results.csv")).read()
    with pytest.raises(res_lib.ResultsError, match="--overwrite"):
        sweep.run_sweep(cfg, out, progress=lambda m: None)
    cfg.engine.chunk_size = 1
    with pytest.raises(KeyboardInterrupt):  # an overwrite that dies midway
        sweep.run_sweep(cfg, out, overwrite=True, progress=lambda m: None, stop_after=1)
    assert open(os.path.join(out, "results.csv")).read() == before
    assert os.path.isdir(out + ".partial")
    sweep.run_sweep(cfg, out, resume=True, progress=lambda m: None)  # finishes the staged overwrite
    assert not os.path.exists(out + ".partial")
    assert res_lib.read_meta(out)["config"]["engine"]["chunk_size"] == 1


def test_a_config_key_added_after_the_run_takes_its_default_on_resume(cfg):
    """A run saved before a schema key existed resumes when cfg holds that key's default, not another value."""
    saved = json.loads(cfg.to_json_best_effort())
    del saved["engine"]["cpu_opt_level"]
    assert sweep._same_config(saved, cfg)
    cfg.engine.cpu_opt_level = 1
    assert not sweep._same_config(saved, cfg)
    saved["gone"] = {"old_key": 1}  # a block the schema no longer has: not equal, no crash
    assert not sweep._same_config(saved, cfg)


def test_resume_rejects_other_schema_and_other_config(cfg, tmp_path):
    out = str(tmp_path / "run")
    sweep.run_sweep(cfg, out, progress=lambda m: None)
    cfg.train.steps = 60
    with pytest.raises(res_lib.ResultsError, match="config differs"):
        sweep.run_sweep(cfg, out, resume=True, progress=lambda m: None)
    meta = json.load(open(os.path.join(out, "meta.json")))
    meta["schema"] = "someone-else/9"
    json.dump(meta, open(os.path.join(out, "meta.json"), "w"))
    with pytest.raises(res_lib.ResultsError, match="schema.*allowed values"):
        res_lib.read_meta(out)
