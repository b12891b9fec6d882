"""The theory checks' own pieces (sweetspot.analysis.t1_sparsity, .interference, .t3_interference and
sweeps/t1_sparsity.py):
per-layer bounds agree with theory.py on the same activations, the unit selections are metrics.compute's, the
power-law table and parameters-needed interpolation on synthetic rows."""

import importlib.util
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sweetspot import config, metrics, mlp, targets, theory
from sweetspot.analysis import base, interference
from sweetspot.analysis import t1_sparsity as t1
from sweetspot.analysis import t3_interference as t3
from sweetspot.validation import validate

ROOT = os.path.join(os.path.dirname(__file__), "..")


def _load(rel):  # a sweep config is a file by design (sweetspot sweep FILE.py:ARG), not a module
    spec = importlib.util.spec_from_file_location(rel.replace("/", "_")[:-3], os.path.join(ROOT, rel))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


sweep_t1 = _load("sweeps/t1_sparsity.py")


# ------------------------------------------------------------------------------------------------ T3
def _random_layer(seed=0, b=600, w=12, p=4):
    rng = np.random.default_rng(seed)
    z = interference.standardise64(np.maximum(rng.normal(size=(b, w)) @ rng.normal(size=(w, w)), 0.0))
    y = np.tanh(z[:, :p] @ rng.normal(size=(p, p)) + 0.3 * rng.normal(size=(b, p)))
    local = rng.random((p, w)) < 0.35
    live = rng.random(w) < 0.85
    return z, y, local, live


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_layer_checks_match_theory_on_full_rows(seed):
    z, y, local, live = _random_layer(seed)
    level = np.array([1, 1, 2, 2])
    got = interference.layer_checks(z, y, local, live, level)  # on the 2 (W + P) reduced rows
    d = theory.gap_decomposition(z, y, local, live)  # on all rows
    bound, attained = theory.interference_bound(z, y, local, live)
    np.testing.assert_allclose(got["attained"], attained, atol=1e-9)
    np.testing.assert_allclose(got["bound"], bound, atol=1e-8)
    np.testing.assert_allclose(got["r2_any"], d["r2_any"], atol=1e-9)
    np.testing.assert_allclose(got["gap"], got["quad"], atol=1e-9)  # the exact identity
    assert np.all(got["attained"] >= got["bound"] - 1e-9)
    q = got["q"][np.isfinite(got["q"])]
    assert np.all((q >= -1e-9) & (q <= 1 + 1e-9))
    # theorem 2 only on same-level pairs with disjoint local sets: (0, 1) and (2, 3) at most
    cb, ca = theory.cos2_bound(d["w"], local & live)
    want = [(i, j) for i, j in ((0, 1), (2, 3)) if np.isfinite(cb[i, j])]
    np.testing.assert_allclose(got["cos2"], [ca[i, j] for i, j in want], atol=1e-9)
    np.testing.assert_allclose(got["cos2_bound"], [cb[i, j] for i, j in want], atol=1e-9)


def test_reduce_rows_keeps_the_gram_and_centres():
    rng = np.random.default_rng(3)
    z, y = rng.normal(size=(200, 5)) + 2.0, rng.normal(size=(200, 2)) - 1.0
    zr, yr = interference.reduce_rows(z, y)
    assert zr.shape == (14, 5) and yr.shape == (14, 2)
    a = np.concatenate([z - z.mean(0), y - y.mean(0)], 1)
    b = np.concatenate([zr, yr], 1)
    np.testing.assert_allclose(b.T @ b, 2 * a.T @ a, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(b.mean(0), 0.0, atol=1e-12)


def test_welch_part():
    # three unit readouts of one level in a 2-dim live space: an equiangular frame attains the Welch bound
    ang = np.array([0.0, 2 * np.pi / 3, 4 * np.pi / 3])
    w = np.zeros((3, 4))
    w[:, 0], w[:, 1] = np.cos(ang), np.sin(ang)
    rng = np.random.default_rng(0)
    z = interference.standardise64(rng.normal(size=(500, 4)))
    z[:, 2:] = 0.0  # dead in value, and not live
    y = z @ w.T
    live = np.array([True, True, False, False])
    got = interference.layer_checks(z, y, np.zeros((3, 4), bool), live, np.array([1, 1, 1]))
    assert got["welch_k"].tolist() == [3] and got["welch_d_live"].tolist() == [2]
    assert got["welch_bound_live"][0] == pytest.approx(theory.welch_bound(3, 2)) == pytest.approx(0.25)
    assert got["welch_attained"][0] >= got["welch_bound_live"][0] - 1e-9
    assert got["welch_attained"][0] == pytest.approx(0.25, abs=0.02)  # near the ETF


def _tiny_network(seed=0, width=6, depth=2):
    cfg = config.default_config()
    cfg.target.levels, cfg.target.n_reference = 2, 1024
    m = cfg.metrics
    m.n_signature, m.n_probe_train, m.n_probe_test = 128, 256, 128
    target = targets.make_target(cfg.target)
    probe = metrics.make_probe(target, m, seed=0)
    params = mlp.init(jax.random.PRNGKey(seed), 4, width, depth)
    rng = np.random.default_rng(seed)
    masks = {k: jnp.asarray(rng.random(p["w"].shape) < 0.6, jnp.float32) for k, p in params.items()}
    masks["h0"] = masks["h0"].at[:, 0].set(0.0)  # unit 0 of layer 0 has no input: dead
    return cfg, probe, params, masks, depth


def test_network_checks_use_metrics_selections_and_match_theory():
    cfg, probe, params, masks, depth = _tiny_network()
    live, local = interference.unit_selections(params, masks, depth, "relu", probe, cfg.metrics)
    ref = metrics.compute(params, masks, depth, "relu", probe, jnp.float32(1.0), cfg.metrics)
    nodes = np.asarray(probe["probe_nodes"])
    np.testing.assert_array_equal(live.sum(1), np.asarray(ref["live_units_layers"]))
    np.testing.assert_array_equal(local[:, :, nodes].sum(1).T, np.asarray(ref["n_local"]))
    assert not live[0, 0]
    checks = interference.network_checks(params, masks, depth, "relu", probe, cfg.metrics)
    assert len(checks) == depth
    # independent activations: the float64 numpy reference forward (mlp.np_forward)
    p64 = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    m64 = jax.tree.map(lambda a: np.asarray(a, np.float64), masks)
    hs, _ = mlp.np_forward(p64, m64, depth, "relu", np.asarray(probe["x_train"], np.float64))
    y = np.asarray(probe["h_train"], np.float64)[:, nodes]
    for l in range(depth):
        a = hs[l]
        sd = a.std(0)
        z = np.where(sd > metrics.STD_EPS, (a - a.mean(0)) / np.where(sd > metrics.STD_EPS, sd, 1.0), 0.0)
        bound, attained = theory.interference_bound(z, y, local[l][:, nodes].T, live[l])
        np.testing.assert_allclose(checks[l]["bound"], bound, atol=1e-7)
        np.testing.assert_allclose(checks[l]["attained"], attained, atol=1e-9)
        assert np.all(checks[l]["attained"] >= checks[l]["bound"] - 1e-9)


def test_summarise_reports_violations():
    n = 5
    c = {k: np.zeros(n) for k in t3.CASE_KEYS + t3.PAIR_KEYS + t3.WELCH_KEYS + ("point", "layer", "fit", "pair_point")}
    c["attained"] = np.array([0.5, 0.5, 0.5, 0.5, 0.5])
    c["bound"] = np.array([0.4, 0.5 + 1e-9, -3.0, 0.6, 0.1])  # one violation of size 0.1; 1e-9 is tolerated
    c["n_out"] = np.ones(n)
    c["cos2"], c["cos2_bound"] = np.array([0.2, 0.9]), np.array([0.5, 0.8])
    c["welch_attained"], c["welch_bound_live"], c["welch_bound_rank"] = np.zeros(1), np.zeros(1), np.zeros(1)
    s = t3.summarise(c)
    assert s["t1_hold"] == pytest.approx(0.8)
    np.testing.assert_allclose(s["t1_violations"], [-0.1])
    assert s["t2_hold"] == pytest.approx(0.5) and s["t2_violations"] == pytest.approx([-0.1])
    assert s["t3_hold"] == 1.0
    assert (s["t1_held"], s["t2_held"], s["t3_held"]) == (4, 1, 1)
    assert t3.headline(s, n) == (
        "Over 5 networks, theorem 1 holds in 4 of 5 cases (80%), theorem 2 in 1 of 2 pairs (50%) and theorem 3 in 1 "
        "of 1 case (100%)."
    )
    text = t3.details({}, s, n, 0.0, t3.MAX_NETWORKS_PER_RUN)
    assert "Violations: t1: 1, worst -0.1; t2: 1, worst -0.1." in text
    assert text.endswith(t3.SCORE_NOTE) and "neither the distributed IIA_das" in t3.SCORE_NOTE


# ------------------------------------------------------------------------------------------------ T1
def _rows(method, live_loss, diverged=()):
    out = []
    for i, (s, live, loss) in enumerate(live_loss):
        out.append(
            {
                "method": method,
                "sparsity": str(s),
                "live_params": str(live),
                "test_loss": str(loss),
                "diverged": "True" if i in diverged else "False",
                "disconnected_inputs": "0",
            }
        )
    return out


def _run(levels, rows):
    meta = {"config": {"experiment": f"t1/L{levels}", "target": {"arity": 2, "levels": levels}}, "axes": {}}
    return base.Run(f"/nowhere/t1_L{levels}", meta, rows)


def test_power_law_table_on_synthetic_rows():
    sp = [0.0, 0.5, 0.8, 0.9]
    rows = []
    for seed in (0, 1):
        rows += _rows("oracle", [(s, 1000 * (1 - s), 3.0 * (1000 * (1 - s)) ** -1.5) for s in sp])
        rows += _rows("sp", [(s, 1200 * (1 - s), 2.0 * (1200 * (1 - s)) ** -0.5 * (1 + 0.01 * seed)) for s in sp])
        rows += _rows("dense", [(s, 1200, 3e-4 if s == 0 else 99.0) for s in sp])  # only sparsity 0 counts
    rows += _rows("oracle", [(0.95, 50, 1e9)], diverged=(0,))  # a diverged point is dropped
    law = t1.power_law_rows([_run(3, rows)])
    by = {r[0]: r for r in law}
    assert by["oracle"][1] == 8
    assert by["oracle"][2] == pytest.approx(-1.5, abs=1e-9)
    assert by["oracle"][3] == pytest.approx(-1.5, abs=1e-9) and by["oracle"][4] == pytest.approx(-1.5, abs=1e-9)
    assert by["oracle"][5] == 8 and by["oracle"][6] == pytest.approx(1.0)
    assert by["sp"][2] == pytest.approx(-0.5, abs=1e-3) and by["sp"][3] <= -0.5 + 1e-3 <= by["sp"][4] + 2e-3
    assert np.isnan(by["dense"][2]) and by["dense"][5] == 2  # one live count: no exponent
    reach = t1.reach_rows([_run(3, rows)])
    dense_level = next(r for r in reach if r[0] == "dense" and r[2] == "dense loss")
    assert dense_level[3] == pytest.approx(3e-4) and dense_level[5] == "<= min"
    need = next(r for r in reach if r[0] == "oracle" and r[2] == "dense loss")
    # exact power law: 3 x^-1.5 = 3e-4 at x = 1e4^(2/3) ~ 464 (between grid points 200 and 500); log-log
    # interpolation is exact on a power law
    assert need[4] == pytest.approx(1e4 ** (2 / 3), rel=1e-9) and need[5] == "interpolated"
    assert need[6] == pytest.approx(1200 / 1e4 ** (2 / 3))
    assert "IIA_das" in t1.SCORE_NOTE


def test_params_to_reach_edges():
    cx, cy = np.array([10.0, 100.0, 1000.0]), np.array([1.0, 0.1, 0.01])
    assert t1.params_to_reach(cx, cy, 0.1) == (pytest.approx(100.0), "interpolated")
    assert t1.params_to_reach(cx, cy, 0.0316227766) == (pytest.approx(316.227766), "interpolated")
    assert t1.params_to_reach(cx, cy, 5.0) == (10.0, "<= min")
    need, how = t1.params_to_reach(cx, cy, 1e-3)
    assert np.isnan(need) and how == "not reached"


def test_t1_config():
    for lv in (2, 3, 4, 5):
        cfg = validate(sweep_t1.get_config(f"L{lv}"))
        assert cfg.experiment == f"t1/L{lv}" and cfg.grid.depth == (lv,) and cfg.target.levels == lv
        assert cfg.grid.method == ("oracle", "sp", "dense") and cfg.metrics.enabled
    full = validate(sweep_t1.get_config("L4,full"))
    assert full.model.width == 64 and len(full.grid.seed) == 8
    with pytest.raises(ValueError):
        sweep_t1.get_config("L6")
    with pytest.raises(ValueError):
        sweep_t1.get_config("L3,huge")
