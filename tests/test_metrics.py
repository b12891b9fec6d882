import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from sweetspot import config, diagnose, metrics, mlp, result_keys, train
from sweetspot.targets import expr

PAIRS = "sum(absdiff(x0, x1), absdiff(x2, x3))"


def _mcfg(**kw):
    m = config.default_config().metrics
    m.n_signature, m.n_probe_train, m.n_probe_test = 256, 512, 256
    m.update(kw)
    return m


def _target(text=PAIRS):
    return expr.expr_target(ml_collections.ConfigDict({"expr": text, "seed": 0, "n_reference": 4096}))


@functools.lru_cache(maxsize=None)
def _setup(text=PAIRS):
    t = _target(text)
    return t, metrics.make_probe(t, _mcfg())


def _network(hidden, depth, probe, n_slots=None, masks=None, key=0):
    """Hand-set hidden layers [(w, b), ...] (padded with random garbage up to n_slots); the readout is the
    least-squares fit of the target output on the last active layer (exact when the target is in its span)."""
    n_slots = n_slots or len(hidden)
    width = hidden[0][0].shape[1]
    rng = np.random.default_rng(key)
    params = {}
    for l in range(n_slots):
        w, b = hidden[l] if l < len(hidden) else (rng.normal(size=(width, width)), rng.normal(size=width))
        params[f"h{l}"] = {"w": jnp.asarray(w, jnp.float32), "b": jnp.asarray(b, jnp.float32)}
    params["out"] = {"w": jnp.zeros((width, 1)), "b": jnp.zeros((1,))}
    masks = masks or mlp.ones_masks(params)
    if len(masks) < n_slots + 1:
        masks = {**mlp.ones_masks(params), **masks}
    masks = {k: jnp.asarray(v, jnp.float32) for k, v in masks.items()}
    _, h = mlp.apply(params, masks, depth, jnp.asarray(probe["x_train"]), "relu", True)
    a = np.concatenate([np.asarray(h[depth - 1]), np.ones((h.shape[1], 1))], 1)
    coef = np.linalg.lstsq(a, probe["h_train"][:, -1], rcond=None)[0]
    params["out"] = {"w": jnp.asarray(coef[:-1, None], jnp.float32), "b": jnp.asarray(coef[-1:], jnp.float32)}
    return params, masks


def _fit_r2(params, masks, depth, probe, activation="relu"):
    y = mlp.apply(params, masks, depth, jnp.asarray(probe["x_test"]), activation)
    yt = probe["h_test"][:, -1]
    return jnp.float32(1.0 - jnp.mean((y - yt) ** 2) / np.var(yt))


@functools.lru_cache(maxsize=None)
def _jitted(activation):
    mcfg = _mcfg()
    return jax.jit(lambda p, m, d, probe, f: metrics.compute(p, m, d, activation, probe, f, mcfg))


def _compute(params, masks, depth, probe, activation="relu"):
    """Metrics with the default thresholds; depth is traced (one compile per shape)."""
    fit = _fit_r2(params, masks, depth, probe, activation)
    out = _jitted(activation)(params, masks, depth, probe, fit)
    return {k: np.asarray(v) for k, v in out.items()}, fit


def _block_layer(width=4):
    """relu(u), relu(-u), relu(v), relu(-v) with u = x0 - x1, v = x2 - x3; extra units are zero."""
    w = np.zeros((4, width))
    w[:, 0], w[:, 1], w[:, 2], w[:, 3] = [1, -1, 0, 0], [-1, 1, 0, 0], [0, 0, 1, -1], [0, 0, -1, 1]
    return w, np.zeros(width)


def _mixing_layers():
    """Layer 0: relu(+-(u+v)), relu(+-(u-v)); layer 1: relu(A), relu(B), relu(A-B), relu(B-A) with
    A = |u+v|, B = |u-v|, so max(A, B) = |u| + |v| = (sum of layer-1 units) / 2 is linear in layer 1."""
    w0 = np.zeros((4, 4))
    w0[:, 0], w0[:, 2] = [1, -1, 1, -1], [1, -1, -1, 1]
    w0[:, 1], w0[:, 3] = -w0[:, 0], -w0[:, 2]
    w1 = np.array([[1, 0, 1, -1], [1, 0, 1, -1], [0, 1, -1, 1], [0, 1, -1, 1]], float)
    return [(w0, np.zeros(4)), (w1, np.zeros(4))]


# ------------------------------------------------------------------------------------ validation tests
def test_block_network_is_compositional():
    t, probe = _setup()
    params, masks = _network([_block_layer()], 1, probe)
    m, fit = _compute(params, masks, 1, probe)
    assert fit > 0.999
    assert m["C"] >= 0.99 and m["compositional"] and not m["fractured"] and not m["unfit"]
    assert np.all(m["r2_restricted"] >= 0.99)
    assert m["n_local"][:, 0].tolist() == [2.0, 2.0]  # two units local to each pair
    assert m["purity_layers"][0] == 1.0  # every unit's home is a pair, none the root
    assert m["dead_units"] == 0
    # Unit directions: |u| uses units {0,1}, |v| units {2,3}: orthogonal probes, no interference.
    assert m["interference"] < 1e-3


def test_mixing_network_fits_but_is_fractured():
    t, probe = _setup()
    params, masks = _network(_mixing_layers(), 2, probe)
    m, fit = _compute(params, masks, 2, probe)
    assert fit > 0.999
    assert m["fractured"] and not m["compositional"] and not m["unfit"]
    assert np.all(m["n_local"] == 0)  # no unit is local to a pair in any layer
    assert np.all(m["r2_restricted"] == 0) and m["C"] == 0
    assert np.all(m["purity_layers"] == 0)
    assert np.all(m["r2_any"] > 0.2)  # the constituents are partly readable, smeared over mixed units
    assert np.all(m["fracture_gap"] > 0.2)


def test_unfit_network_is_labelled_unfit():
    t, probe = _setup()
    params, masks = _network([_block_layer()], 1, probe)
    params["out"]["w"] = params["out"]["w"] * jnp.array([[1.0], [1.0], [0.0], [0.0]])  # drops |v|
    m, fit = _compute(params, masks, 1, probe)
    assert fit < 0.95
    assert m["unfit"] and not m["compositional"] and not m["fractured"]
    assert m["C"] >= 0.99  # the hidden code is still compositional; the label says it does not fit


def test_dead_and_masked_units_are_excluded():
    t, probe = _setup()
    w, b = _block_layer(width=6)
    w[:, 5] = [0.3, 0.2, -0.5, 0.4]  # a mixing unit whose output is masked out: dead
    out_mask = np.ones((6, 1))
    out_mask[5] = 0  # unit 4 has zero input weights: no signal, dead
    params, masks = _network([(w, b)], 1, probe, masks={"out": out_mask})
    m, _ = _compute(params, masks, 1, probe)
    assert m["dead_units"] == 2 and m["live_units_layers"][0] == 4
    assert m["purity_layers"][0] == 1.0 and m["compositional"]


def test_padded_layers_are_excluded():
    t, probe = _setup()
    params1, masks1 = _network([_block_layer()], 1, probe)
    m1, _ = _compute(params1, masks1, 1, probe)
    rng = np.random.default_rng(3)
    garbage_masks = {f"h{l}": (rng.uniform(size=(4, 4)) < 0.5).astype(np.float32) for l in (1, 2)}
    params3, masks3 = _network([_block_layer()], 1, probe, n_slots=3, masks=garbage_masks, key=5)
    m3, _ = _compute(params3, masks3, 1, probe)
    for k in ("C", "compositional", "fractured", "unfit", "r2_restricted", "r2_any", "interference", "dead_units"):
        np.testing.assert_allclose(m3[k], m1[k], rtol=1e-5, atol=1e-6, err_msg=k)
    for k in ("interference_layers", "purity_layers", "live_units_layers"):
        assert m3[k].shape == (3,)
        np.testing.assert_allclose(m3[k][:1], m1[k], rtol=1e-5, atol=1e-6, err_msg=k)
        assert np.isnan(m3[k][1:]).all(), k
    for k in ("n_local", "r2_restricted_layers", "r2_any_layers"):
        assert m3[k].shape == (2, 3) and np.isnan(m3[k][:, 1:]).all(), k


# ------------------------------------------------------------------------------ reference + vmap tests
REF_EXPR = "sum(mul(x0, x1), tanh(diff(x2, x3)), absdiff(x4, x5))"
SEARCHED = [k for k in result_keys.RESULT_KEYS if "das" in k or "subst" in k]
SEARCHED += ["compositional", "fractured", "modular"]  # the labels on the distributed score


def _random_network(key, n, width, n_slots, sparsity=0.5):
    """He-normal weights, small random biases and random 0/1 masks at `sparsity` (the first layer sparser, so
    some units read only one or two inputs and are local), all drawn from numpy."""
    rng = np.random.default_rng(key)
    params = {}
    for l, name in enumerate(mlp.layer_names(n_slots)):
        fan_in, fan_out = (n if l == 0 else width), (1 if name == "out" else width)
        w = rng.normal(size=(fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
        params[name] = {"w": jnp.asarray(w, jnp.float32), "b": jnp.asarray(rng.normal(0, 0.1, fan_out), jnp.float32)}
    keep = lambda k: 1 - sparsity if k != "h0" else 0.25
    masks = {k: jnp.asarray(rng.uniform(size=p["w"].shape) < keep(k), jnp.float32) for k, p in params.items()}
    return params, masks


@pytest.mark.parametrize("activation, depth, fit", [("relu", 2, 0.99), ("tanh", 3, 0.5)])
def test_matches_numpy_reference(activation, depth, fit):
    t, probe = _setup(REF_EXPR)
    params, masks = _random_network(depth, 6, 10, 3)
    got = {k: np.asarray(v) for k, v in _jitted(activation)(params, masks, depth, probe, jnp.float32(fit)).items()}
    ref = metrics.reference_compute(params, masks, depth, activation, probe, fit, _mcfg())
    # the random-unit control and the learned search are not in the reference (test_das.py checks the patch)
    assert set(got) - {"iia_control", "IIA_control"} - set(SEARCHED) == set(ref)
    assert np.nansum(ref["n_local"]) > 0  # the case exercises local units
    if activation == "relu":  # the random tanh network's output ignores every intervention (iia 0 in both)
        assert np.nanmax(ref["iia_layers"]) > 0.05  # interventions that move the output are compared too
    assert np.isfinite(ref["interference"])
    for k in ref:
        np.testing.assert_allclose(got[k], np.asarray(ref[k], float), rtol=1e-3, atol=2e-3, err_msg=k)


def test_shapes_fixed_under_vmap_and_jit():
    t, probe = _setup(REF_EXPR)
    mcfg = _mcfg()
    nets = [_random_network(k, 6, 8, 3) for k in range(3)]
    depths = jnp.array([1, 2, 3])
    fits = jnp.array([0.5, 0.97, 0.99])
    stack = lambda trees: jax.tree.map(lambda *a: jnp.stack(a), *trees)
    params, masks = stack([p for p, _ in nets]), stack([m for _, m in nets])
    batched = jax.jit(jax.vmap(lambda p, m, d, f: metrics.compute(p, m, d, "relu", probe, f, mcfg)))
    out = batched(params, masks, depths, fits)
    n_probe = len(t.structure.probe_nodes)
    assert out["C"].shape == (3,) and out["r2_restricted"].shape == (3, n_probe)
    assert out["interference_layers"].shape == (3, 3) and out["n_local"].shape == (3, n_probe, 3)
    for i in range(3):
        single = _jitted("relu")(nets[i][0], nets[i][1], int(depths[i]), probe, fits[i])
        for k, v in single.items():
            np.testing.assert_allclose(np.asarray(out[k][i]), np.asarray(v), rtol=1e-4, atol=1e-5, err_msg=k)
        assert np.isnan(np.asarray(out["purity_layers"][i, int(depths[i]) :])).all()


def test_by_depth_metrics_equal_point_by_point():
    """Segment mode's metrics (`train.by_depth`: one depth segment after another, padded layers skipped by
    lax.cond, segments of unequal counts padded with fillers) give each network what vmap over points with the
    traced depth gives it: the metrics cost each network's own depth and nothing else changes."""
    t, probe = _setup(REF_EXPR)
    mcfg = _mcfg()
    layout = ((1, 1), (2, 2), (3, 1))
    nets = [_random_network(k, 6, 8, 3) for k in range(4)]
    depths, fits = jnp.array([1, 2, 2, 3]), jnp.array([0.97, 0.99, 0.5, 0.99])
    stack = lambda trees: jax.tree.map(lambda *a: jnp.stack(a), *trees)
    params, masks = stack([p for p, _ in nets]), stack([m for _, m in nets])
    one = lambda p, m, d, probe, f: metrics.compute(p, m, d, "relu", probe, f, mcfg, start=p)
    plain = jax.jit(jax.vmap(one, (0, 0, 0, None, 0)))(params, masks, depths, probe, fits)
    segmented = jax.vmap(train.by_depth(one, layout, depth_arg=2, shared=(3,)), (0, 0, 0, None, 0))
    got = jax.jit(segmented)(params, masks, depths, probe, fits)
    assert set(got) == set(plain)
    for k, v in plain.items():
        np.testing.assert_allclose(np.asarray(got[k]), np.asarray(v), rtol=1e-3, atol=5e-3, err_msg=k)
    with pytest.raises(ValueError, match="layout"):
        jax.vmap(train.by_depth(one, ((1, 1), (2, 1)), depth_arg=2, shared=(3,)), (0, 0, 0, None, 0))(
            params, masks, depths, probe, fits)


# ------------------------------------------------------------------------------------------- diagnose
def test_diagnose_npz_roundtrip(tmp_path):
    t, probe = _setup()
    for name, hidden, depth, label in (
        ("block", [_block_layer()], 1, "COMPOSITIONAL"),
        ("mixing", _mixing_layers(), 2, "FRACTURED"),
    ):
        params, masks = _network(hidden, depth, probe)
        arrays = {}
        for l, k in enumerate(mlp.layer_names(depth)):
            arrays[f"W{l}"], arrays[f"b{l}"] = np.asarray(params[k]["w"]), np.asarray(params[k]["b"])
        torch_style = {k: (v.T if k.startswith("W") else v) for k, v in arrays.items()}
        for i, data in enumerate((arrays, torch_style)):
            path = tmp_path / f"{name}{i}.npz"
            np.savez(path, **data)
            p2, m2, d2 = diagnose.load_npz_network(path)
            assert d2 == depth
            text = diagnose.report(p2, m2, d2, "relu", t, _mcfg(), (probe["x_test"], probe["h_test"][:, -1]))
            assert label in text, text
            assert "r2_restr" in text and "interference" in text


def test_load_npz_pads_narrow_layers(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "net.npz"
    np.savez(
        path,
        W0=rng.normal(size=(4, 5)),
        b0=np.zeros(5),
        W1=rng.normal(size=(5, 3)),
        b1=np.zeros(3),
        W2=rng.normal(size=(3, 1)),
        b2=np.zeros(1),
    )
    params, masks, depth = diagnose.load_npz_network(path)
    assert depth == 2 and params["h1"]["w"].shape == (5, 5) and params["out"]["w"].shape == (5, 1)
    assert float(masks["h1"][:, 3:].sum()) == 0 and float(masks["out"][3:].sum()) == 0
    x = rng.uniform(-1, 1, (8, 4)).astype(np.float32)
    h = np.maximum(np.maximum(x @ np.load(path)["W0"], 0) @ np.load(path)["W1"], 0) @ np.load(path)["W2"]
    np.testing.assert_allclose(np.asarray(mlp.apply(params, masks, depth, x)), h[:, 0], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="W0"):
        np.savez(tmp_path / "bad.npz", A=np.zeros(3))
        diagnose.load_npz_network(tmp_path / "bad.npz")


def test_spd_solve_matches_numpy():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(40, 12))
    a = (m.T @ m / 40 + 1e-3 * np.eye(12)).astype(np.float32)
    b = rng.normal(size=12).astype(np.float32)
    x = np.asarray(jax.jit(metrics.spd_solve)(a, b))
    np.testing.assert_allclose(x, np.linalg.solve(a.astype(np.float64), b), rtol=2e-3, atol=2e-3)
