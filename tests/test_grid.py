import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from sweetspot import grid, train

SCALARS = ("train_loss", "test_loss", "heldout_loss", "test_r2", "realised_sparsity", "live_params")


def test_grid_shape_and_coordinates(cfg):
    g = grid.make_grid(cfg)
    assert g.shape == (1, 3, 2, 1, 1, 1, 2) and g.n_points == 12
    assert g.coords["seed"][:2].tolist() == [0, 1]  # seed varies fastest
    assert g.coords["depth"].tolist() == [1] * 4 + [2] * 4 + [3] * 4


def test_point_keys_depend_only_on_own_coordinates():
    a = grid.point_keys(0, np.array([0, 1, 2, 3]))
    b = grid.point_keys(0, np.array([3, 2]))
    np.testing.assert_array_equal(a[3], b[0])
    np.testing.assert_array_equal(a[2], b[1])
    assert not np.array_equal(grid.point_keys(1, np.array([0])), a[:1])


def test_one_compile_for_a_chunked_grid_with_traced_lr(cfg, data):
    cfg.grid.lr = (1e-2, 3e-3)
    cfg.engine.chunk_size = 2
    eng = grid.Engine(cfg, data)
    assert eng.n_chunks == 4 and eng.layout == ((1, 2), (2, 2), (3, 2))  # 8 points per (method, depth)
    res, done = grid.run(eng)
    assert eng.compile_count == 1
    assert done.all() and np.isfinite(res["test_loss"]).all()


def test_vmapped_grid_equals_per_point_loop(cfg, data):
    eng = grid.Engine(cfg, data)
    res, _ = grid.run(eng)
    for i in [0, 5, 11]:
        depth = int(eng.grid.coords["depth"][i])
        fn = jax.jit(train.make_train(cfg, depth, "random", max(cfg.grid.depth)))
        r, _ = fn(jax.tree.map(lambda a: a[0], eng.points(np.array([i]))), eng.data)
        for k in SCALARS:
            np.testing.assert_allclose(res[k][i], r[k], rtol=2e-4, atol=1e-6, err_msg=k)


def test_deterministic(cfg, data):
    a = grid.run_grid(cfg, data)
    b = grid.run_grid(cfg, data)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_cpu_opt_level_is_a_compile_option_with_equal_numbers(cfg, data, monkeypatch):
    """engine.cpu_opt_level: XLA's default level passes no option (today's program); a lower one is handed to the
    engine's jit and gives the same results within float tolerance (docs/performance.md, "Compile options")."""
    handed, real_jit = [], jax.jit
    monkeypatch.setattr(grid.jax, "jit", lambda f, **kw: handed.append(kw.get("compiler_options")) or real_jit(f, **kw))
    default = grid.Engine(cfg, data)
    assert default.compiler_options() is None and handed == [None]
    base, _ = grid.run(default)
    cfg.engine.cpu_opt_level = 1
    fast = grid.Engine(cfg, data)
    assert handed[-1] == fast.compiler_options() == {"xla_backend_optimization_level": 1}
    res, _ = grid.run(fast)
    for k in SCALARS:
        np.testing.assert_allclose(res[k], base[k], rtol=2e-4, atol=1e-6, err_msg=k)


def test_pruned_weights_stay_zero_under_adamw_in_training(cfg, data):
    cfg.train.optimizer = "adamw"
    cfg.grid.weight_decay = (0.1,)
    cfg.grid.sparsity = (0.8,)
    eng = grid.Engine(cfg, data)
    out = eng.run_chunk(0)
    for _, _, res, state in out.values():
        for k, m in state["masks"].items():
            w = state["params"][k]["w"]
            assert np.all(w[m == 0] == 0)
            assert np.any(w[m == 1] != 0)
        np.testing.assert_allclose(res["layer_sparsity"][:, 0], 0.8, atol=0.02)


def test_a_diverging_point_is_flagged_and_does_not_spoil_others(cfg, data):
    cfg.train.optimizer = "sgd"
    cfg.grid.lr = (1e-2, 1e6)
    cfg.grid.depth = (3,)
    res = grid.run_grid(cfg, data)
    lr = grid.make_grid(cfg).coords["lr"]
    assert res["diverged"][lr == 1e6].all()
    assert not res["diverged"][lr == 1e-2].any()
    assert np.isfinite(res["test_loss"][lr == 1e-2]).all()


def test_layer_sparsity_is_nan_beyond_depth(cfg, data):
    res = grid.run_grid(cfg, data)
    depth = grid.make_grid(cfg).coords["depth"]
    ls = res["layer_sparsity"]
    assert ls.shape == (12, 4)
    assert np.isnan(ls[depth == 1][:, 1:3]).all() and not np.isnan(ls[depth == 3]).any()


SHARDED = textwrap.dedent(
    """
    import os, sys, json
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
    import jax, numpy as np
    sys.path.insert(0, sys.argv[1])
    from conftest import tiny_config
    from sweetspot import grid, targets
    cfg = tiny_config()
    cfg.grid.seed = (0, 1, 2)  # 6 points per depth, 18 in the one segment program: 1 of each depth on each of 8 devices
    data = targets.make_splits(targets.make_target(cfg.target), cfg.target)
    assert len(jax.devices()) == 8
    many = grid.Engine(cfg, data)
    assert many.chunk_size == 24 and many.layout == ((1, 1), (2, 1), (3, 1)), (many.chunk_size, many.layout)
    res8, _ = grid.run(many)
    res1 = grid.run_grid(cfg, data, devices=jax.devices()[:1])
    out = {k: float(np.nanmax(np.abs(res8[k] - res1[k]))) for k in ("test_loss", "train_loss", "realised_sparsity")}
    print(json.dumps(out))
    """
)


def test_sharded_over_8_devices_equals_one_device(tmp_path):
    script = tmp_path / "sharded.py"
    script.write_text(SHARDED)
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    out = subprocess.run(
        [sys.executable, str(script), os.path.dirname(__file__)], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    diffs = eval_json(out.stdout.strip().splitlines()[-1])
    assert diffs["realised_sparsity"] == 0.0
    assert diffs["test_loss"] < 1e-4 and diffs["train_loss"] < 1e-4, diffs


def eval_json(line):
    import json

    return json.loads(line)


def test_segment_mode_equals_group_mode_on_mixed_depths_and_methods(cfg, data):
    """One program per method (hidden layer l and its optimizer run on the points deeper than l, on live slices
    only) trains the same networks as one program per (method, depth): an at-init and a prune-rewind method (whose
    fits run inside a scan), with AdamW's decoupled weight decay. The auto plan puts ~8 points per device per call
    in all: at most 3 of each depth, here the 4 of each depth in 2 balanced calls."""
    cfg.grid.method, cfg.grid.weight_decay, cfg.train.optimizer = ("random", "imp"), (1e-3,), "adamw"
    cfg.pruning.rounds = 2
    cfg.engine.depth_mode = "group"
    res_group = grid.run_grid(cfg, data, devices=jax.devices()[:1])
    cfg.engine.depth_mode = "segment"
    eng = grid.Engine(cfg, data, devices=jax.devices()[:1])
    assert len(eng.groups) == 2 and eng.layout == ((1, 2), (2, 2), (3, 2))
    res, _ = grid.run(eng)
    assert eng.compile_count == 1
    for k in (*SCALARS, "curve_train", "curve_test"):
        np.testing.assert_allclose(res[k], res_group[k], rtol=5e-4, atol=1e-5, err_msg=k)
    np.testing.assert_array_equal(np.isnan(res["layer_sparsity"]), np.isnan(res_group["layer_sparsity"]))


def test_segment_mode_equals_group_mode_for_sculpting(cfg, data):
    """Neural Sculpting's keep-or-reject rounds (fits inside a scan of accepted or rejected prunings), with SGD."""
    cfg.grid.method, cfg.grid.depth, cfg.grid.sparsity, cfg.train.optimizer = ("sculpt",), (1, 2), (0.5,), "sgd"
    res = {}
    for mode in ("group", "segment"):
        cfg.engine.depth_mode = mode
        res[mode] = grid.run_grid(cfg, data, devices=jax.devices()[:1])
    for k in (*SCALARS, "curve_train", "curve_test"):
        np.testing.assert_allclose(res["segment"][k], res["group"][k], rtol=5e-4, atol=1e-5, err_msg=k)


def test_segment_mode_on_one_depth_is_group_mode_bit_for_bit(cfg, data):
    """A one-depth grid has nothing to slice: segment mode runs group mode's program and plan."""
    cfg.grid.depth = (2,)
    cfg.engine.depth_mode = "group"
    res_group = grid.run_grid(cfg, data)
    cfg.engine.depth_mode = "segment"
    eng = grid.Engine(cfg, data)
    assert eng.layout is None and not eng.segment and len(eng.groups) == 1
    res, _ = grid.run(eng)
    assert res.keys() == res_group.keys()
    for k in res:
        np.testing.assert_array_equal(res[k], res_group[k], err_msg=k)


def test_segment_chunks_hold_every_point_once_in_depth_order(cfg, data):
    cfg.grid.seed, cfg.grid.sparsity = (0, 1, 2), (0.5,)  # 3 points per depth, 2 per chunk: fillers in the 2nd
    cfg.engine.depth_mode, cfg.engine.chunk_size = "segment", 2
    eng = grid.Engine(cfg, data, devices=jax.devices()[:1])
    assert eng.layout == ((1, 2), (2, 2), (3, 2)) and eng.n_chunks == 2
    depth, seen = eng.grid.coords["depth"], []
    for c in range(eng.n_chunks):
        (idx, valid), = eng.chunk_indices(c).values()
        assert depth[idx].tolist() == [1, 1, 2, 2, 3, 3]  # fillers repeat a point of the same depth
        seen += idx[valid].tolist()
    assert sorted(seen) == list(range(eng.grid.n_points))


@pytest.mark.parametrize("mode", grid.DEPTH_MODES)
def test_result_template_matches_run(cfg, data, mode):
    cfg.engine.depth_mode = mode
    eng = grid.Engine(cfg, data)
    tmpl = eng.result_template()
    res, _ = grid.run(eng)
    assert tmpl.keys() == res.keys()
    for k in tmpl:
        assert tmpl[k].shape == res[k].shape and tmpl[k].dtype == res[k].dtype


def test_n_train_is_a_traced_axis_one_compile_serves_every_value(cfg, data):
    """grid.n_train: one program for two training-set sizes; a point's key comes from its seed alone (paired
    across n_train), and the two sizes train different networks."""
    cfg.grid.n_train, cfg.grid.depth, cfg.grid.sparsity = (64, 256), (1, 2), (0.5,)
    eng = grid.Engine(cfg, data)
    res, done = grid.run(eng)
    assert eng.compile_count == 1 and done.all() and eng.segment
    co = eng.grid.coords
    assert eng.grid.axes["n_train"] == (64, 256) and eng.grid.n_points == 8
    small, large = co["n_train"] == 64, co["n_train"] == 256
    for a in ("depth", "seed"):  # the same points in the same order, n_train apart
        np.testing.assert_array_equal(co[a][small], co[a][large])
    np.testing.assert_array_equal(eng.keys[small], eng.keys[large])
    assert (res["train_loss"][small] != res["train_loss"][large]).all()
    pts = eng.points(np.arange(eng.grid.n_points))
    np.testing.assert_array_equal(pts["n_train"], co["n_train"])


def test_n_train_default_is_the_whole_pool_and_adds_nothing_traced(cfg, data):
    """grid.n_train = () reads as (target.n_train,); so does an explicit axis of the pool's size alone: the
    points carry no n_train and train on the whole pool, the program of a run made before the axis."""
    assert grid.make_grid(cfg).axes["n_train"] == (cfg.target.n_train,)
    assert "n_train" not in grid.Engine(cfg, data).points(np.array([0]))
    cfg.grid.n_train = (cfg.target.n_train,)
    assert "n_train" not in grid.Engine(cfg, data).points(np.array([0]))


@pytest.mark.parametrize("batch,mode,method", [(0, "segment", "random"), (0, "group", "random"),
                                               (32, "segment", "sp")])
def test_a_point_with_n_train_k_trains_on_the_first_k_rows(cfg, data, batch, mode, method):
    """A point with n_train = 64 of a 256-row pool trains as a point of a run whose pool is those 64 rows
    (same test split): full batch averages over its rows only (segment and group mode's fits), minibatches and
    SP's signature inputs come from them; the train loss is over them."""
    cfg.train.batch_size, cfg.engine.depth_mode, cfg.grid.method = batch, mode, (method,)
    cfg.grid.depth, cfg.grid.sparsity, cfg.grid.seed, cfg.pruning.rounds = (1, 2), (0.5,), (0,), 2
    cfg.grid.n_train = (64, 256)
    eng = grid.Engine(cfg, data)
    assert "n_train" in eng.points(np.array([0]))  # the traced path
    both, _ = grid.run(eng)
    cfg.grid.n_train = (64,)  # the pool's size alone: the plain path, on a pool of the first 64 rows
    head = dict(data, x_train=data["x_train"][:64], y_train=data["y_train"][:64])
    eng_alone = grid.Engine(cfg, head)
    assert "n_train" not in eng_alone.points(np.array([0]))
    alone, _ = grid.run(eng_alone)
    mine, other = eng.grid.coords["n_train"] == 64, eng.grid.coords["n_train"] == 256
    np.testing.assert_array_equal(eng.grid.coords["depth"][mine], eng_alone.grid.coords["depth"])  # depths 1, 2
    for k in (*SCALARS, "curve_train", "curve_test"):
        np.testing.assert_allclose(both[k][mine], alone[k], rtol=2e-4, atol=1e-6, err_msg=k)
    assert not np.allclose(both["train_loss"][other], alone["train_loss"], rtol=1e-3)  # 256 rows: other networks
