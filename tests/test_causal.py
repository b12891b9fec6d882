"""The causal score on hand-built networks whose answer is known (docs/method.md, "Causal score").

Target: sum(absdiff(x0, x1), absdiff(x2, x3)), nodes 4 = |x0 - x1| and 5 = |x2 - x3| (normalised), root 6.
Four depth-2 ReLU networks compute it exactly:
  compositional: local units relu(+-a), relu(+-b), then |a|, |b|, read out;
  mixing twin:   units relu(+-a' +- b') that mix both pairs, then |a'-b'| and relu(|a'+b'| - |a'-b'|), whose
                 sum is |a'| + |b'|: the same function, no unit local to a constituent;
  unused local:  both paths wired (masks 1), the readout weight of the local path 0: the constituents are
                 decodable from local units that the output never uses;
  half:          the output is half the local path and half the mixing path.
"""

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from conftest import expr_config_file
from sweetspot import cli, config, grid, metrics, probe_data, pruning, sweep, targets
from sweetspot.targets import expr
from sweetspot.validation import validate

PAIRS = "sum(absdiff(x0, x1), absdiff(x2, x3))"
NETWORKS = ("compositional", "mixing", "unused_local", "half")


def _mcfg():
    m = config.default_config().metrics
    m.n_signature, m.n_probe_train, m.n_probe_test, m.n_iia = 256, 512, 256, 256
    return m


@functools.lru_cache(maxsize=None)
def _setup():
    t = expr.expr_target(ml_collections.ConfigDict({"expr": PAIRS, "seed": 0, "n_reference": 4096}))
    return t, metrics.make_probe(t, _mcfg())


def build(kind: str, t) -> tuple[dict, dict]:
    """params and masks of one of the four networks (depth 2, width 8)."""
    (m0, m1, m2), (s0, s1, s2) = t.mean, t.std
    w0, w1, out = np.zeros((4, 8)), np.zeros((8, 8)), np.zeros((8, 1))
    w0[:, :4] = np.array([[1, -1, 0, 0], [-1, 1, 0, 0], [0, 0, 1, -1], [0, 0, -1, 1]]).T  # relu(+-a), relu(+-b)
    a, b = np.array([1, -1, 0, 0]) / s0, np.array([0, 0, 1, -1]) / s1  # a' = a / s0, b' = b / s1
    w0[:, 4], w0[:, 5], w0[:, 6], w0[:, 7] = a + b, -a - b, a - b, -a + b
    w1[[0, 1], 0] = 1  # |a|
    w1[[2, 3], 1] = 1  # |b|
    w1[[6, 7], 2] = 1  # |a' - b'|
    w1[[4, 5], 3], w1[[6, 7], 3] = 1, -1  # relu(|a' + b'| - |a' - b'|)
    local_w = np.array([1 / (s0 * s2), 1 / (s1 * s2)])
    alpha = {"compositional": 1.0, "mixing": 0.0, "unused_local": 0.0, "half": 0.5}[kind]
    out[[0, 1], 0] = alpha * local_w
    out[[2, 3], 0] = (1 - alpha) / s2
    bias = np.array([(-m0 / s0 - m1 / s1 - m2) / s2])
    masks = {"h0": np.ones_like(w0), "h1": (w1 != 0).astype(float), "out": np.ones_like(out)}
    masks["h1"][[0, 1, 2, 3], 0:2] = 1  # local path wired as in the compositional network
    masks["out"][4:] = 0
    if kind == "compositional":  # no mixing units at all
        masks["h0"][:, 4:], masks["h1"][4:], masks["out"][2:4] = 0, 0, 0
    if kind == "mixing":  # no local units at all
        masks["h0"][:, :4], masks["h1"][:4], masks["out"][:2] = 0, 0, 0
    f32 = lambda v: jnp.asarray(v, jnp.float32)
    params = {
        "h0": {"w": f32(w0), "b": f32(np.zeros(8))},
        "h1": {"w": f32(w1), "b": f32(np.zeros(8))},
        "out": {"w": f32(out), "b": f32(bias)},
    }
    return params, {k: f32(v) for k, v in masks.items()}


@functools.lru_cache(maxsize=None)
def _compute():
    """metrics.compute jitted once for the four networks (same shapes: one compile; eager op-by-op dispatch of
    the whole metric is about 3x slower on CPU). The engine and diagnose run it jitted too."""
    mcfg = _mcfg()
    return jax.jit(lambda params, masks, probe, fit_r2: metrics.compute(params, masks, 2, "relu", probe, fit_r2, mcfg))


@functools.lru_cache(maxsize=None)
def _scores(kind):
    t, probe = _setup()
    params, masks = build(kind, t)
    y = mlp_out(params, masks, probe["x_test"])
    fit_r2 = float(metrics.r2(y, probe["h_test"][:, -1]))
    m = _compute()(params, masks, probe, jnp.float32(fit_r2))
    return {k: np.asarray(v) for k, v in m.items()}, fit_r2


def mlp_out(params, masks, x):
    from sweetspot import mlp

    return mlp.apply(params, masks, 2, jnp.asarray(x), "relu")


@pytest.mark.parametrize("kind", NETWORKS)
def test_every_network_computes_the_target(kind):
    _, fit_r2 = _scores(kind)
    assert fit_r2 > 0.9999


def test_compositional_network():
    m, _ = _scores("compositional")
    assert m["compositional_local"] and m["compositional_probe"] and m["compositional_home"]
    assert m["compositional"] and m["modular"]  # layers of 4 and 2 live units: chance there is corrected for
    np.testing.assert_allclose(m["iia_das"], 1.0, atol=1e-3)  # the distributed search finds them too
    np.testing.assert_allclose(m["iia_das_local"], 1.0, atol=1e-3)
    np.testing.assert_allclose(m["iia"], 1.0, atol=1e-4)
    np.testing.assert_allclose(m["iia_layers"], 1.0, atol=1e-4)  # both layers carry the constituents
    assert m["IIA"] > 0.9999 and m["C"] > 0.99


def test_mixing_twin_is_fractured():
    m, _ = _scores("mixing")
    assert m["fit"] and m["fractured"] and not m["compositional"] and not m["compositional_probe"]
    assert not m["compositional_local"] and not m["modular"]
    np.testing.assert_array_equal(m["iia"], 0.0)  # no unit is aligned to a constituent
    assert m["iia_das"].max() < 0.5  # and no direction of a layer computes |a| alone
    assert m["C"] < 0.1


def test_decodable_but_unused_constituents_are_fractured():
    """The probe-only label calls it compositional; the causal one does not."""
    m, _ = _scores("unused_local")
    assert m["compositional_probe"] and not m["compositional_local"] and not m["compositional"] and m["fractured"]
    assert not m["modular"] and m["iia_das_local"].max() < 0.01
    assert m["r2_restricted"].min() > 0.99
    assert m["iia"].max() < 0.01


def test_half_path_scores_strictly_between():
    m, _ = _scores("half")
    # the output moves by half the target's change: R^2 = 1 - E[(dy / 2)^2] / Var(dy), about 0.75
    assert np.all((m["iia"] > 0.6) & (m["iia"] < 0.9)), m["iia"]
    assert not m["compositional_local"] and m["compositional_probe"] and not m["modular"]


def test_control_intervention_is_not_specific_in_the_mixing_half():
    """Random live units of the same layer as the local ones: in the half network they include mixing units,
    so the control scores below the aligned intervention."""
    m, _ = _scores("half")
    assert np.all(m["iia_control"] <= m["iia"] + 1e-6)


@pytest.mark.parametrize("kind", NETWORKS)
def test_matches_float64_reference(kind):
    t, probe = _setup()
    params, masks = build(kind, t)
    m, fit_r2 = _scores(kind)
    ref = metrics.reference_compute(params, masks, 2, "relu", probe, fit_r2, _mcfg())
    for k in ("iia", "iia_home", "iia_layers", "C", "IIA", "IIA_home", "iia_min"):
        np.testing.assert_allclose(m[k], ref[k], atol=2e-3, err_msg=k)
    for k in ("compositional_local", "compositional_probe", "compositional_home"):
        assert bool(m[k]) == bool(ref[k]), k


def test_diagnose_npz_labels_the_four_networks(tmp_path, capsys):
    t, _ = _setup()
    cfg_path = expr_config_file(tmp_path / "pairs.py", PAIRS)
    # the compositional network's layers hold 4 and 2 live units: a random subspace there catches much of a
    # constituent (its control is >= das_control_max), and the label corrects iia_das for that chance
    want = {"compositional": "COMPOSITIONAL", "mixing": "FRACTURED", "unused_local": "FRACTURED", "half": "FRACTURED"}
    for kind in NETWORKS:
        params, masks = build(kind, t)
        arrays = {}
        for i, name in enumerate(("h0", "h1", "out")):
            arrays[f"W{i}"], arrays[f"b{i}"] = np.asarray(params[name]["w"]), np.asarray(params[name]["b"])
            arrays[f"M{i}"] = np.asarray(masks[name])
        np.savez(tmp_path / f"{kind}.npz", **arrays)
        cli.main(["diagnose", "--npz", str(tmp_path / f"{kind}.npz"), "--target", cfg_path])
        out = capsys.readouterr().out
        assert f"->  {want[kind]}" in out, (kind, out)
        if kind == "unused_local":
            assert "iia_das" in out.split("why:")[1].splitlines()[0]  # the reason names the causal test
        if kind == "compositional":
            assert "beyond its random-subspace control" in out.split("why:")[1].splitlines()[0]
            assert "compositional_local yes" in out


def test_untrained_network_has_no_gain_and_low_iia(cfg):
    """The null: with a learning rate of 1e-9 the network stays at its init, C_gain is 0 and IIA is low."""
    cfg.metrics.enabled = True
    cfg.metrics.n_signature, cfg.metrics.n_probe_train, cfg.metrics.n_probe_test, cfg.metrics.n_iia = 128, 256, 128, 128
    cfg.grid.lr, cfg.grid.depth, cfg.grid.sparsity = (1e-9,), (2,), (0.5,)
    cfg.grid.seed = (0, 1, 2, 3)
    _, data = sweep.make_data(validate(cfg))
    res = grid.run_grid(cfg, data)
    np.testing.assert_allclose(res["C_gain"], 0.0, atol=1e-4)
    np.testing.assert_allclose(res["IIA_gain"], 0.0, atol=1e-3)
    np.testing.assert_allclose(res["C"], res["C_init"], atol=1e-4)
    assert np.nanmean(res["IIA_init"]) < 0.3


def test_oracle_wires_permuted_leaves_to_the_inputs_they_read():
    cfg = config.default_config()
    cfg.target.permute_leaves = True
    t = targets.make_target(cfg.target)
    s = t.structure
    allowed = pruning.oracle_allowed(s, 32, 3)["h0"]
    nodes = pruning.alive_nodes(s, pruning.oracle_levels(s.depth, 3)[0])
    for v, block in zip(nodes, np.array_split(np.arange(32), len(nodes)), strict=True):
        np.testing.assert_array_equal(allowed[:, block].any(1), s.support[v], err_msg=f"node {v}")
    assert not np.array_equal(s.support[8], [True, True] + [False] * 6)  # the permutation does move leaves


@pytest.mark.parametrize("family,spec", [("boolean", None), ("modular", (4, 2, 4)), ("parity", None)])
def test_probe_splits_of_truth_tables_are_disjoint(family, spec):
    cfg = config.default_config()
    cfg.target.family = family
    if spec:
        cfg.target.modular_spec = spec
    t = targets.make_target(cfg.target)
    p = probe_data.make_probe(t, _mcfg())
    rows = lambda x: {tuple(r) for r in (np.asarray(x) > 0).astype(int)}
    assert rows(p["x_train"]) and rows(p["x_test"])
    assert not rows(p["x_train"]) & rows(p["x_test"])


def test_vacuous_nodes_leave_the_scores_and_labels():
    """[4,1,4]: the one hidden node reads every input, so locality says nothing about it."""
    cfg = config.default_config()
    cfg.target.family, cfg.target.modular_spec = "modular", (4, 1, 4)
    t = targets.make_target(cfg.target)
    probe = probe_data.make_probe(t, _mcfg())
    assert probe["vacuous"].all() and len(probe["vacuous"]) == 1
    from sweetspot import mlp

    params = mlp.init(jax.random.PRNGKey(0), 4, 8, 1, n_outputs=4)
    mcfg = _mcfg()
    compute = jax.jit(lambda p, m: metrics.compute(p, m, 1, "relu", probe, 1.0, mcfg, jnp.bool_(True), True))
    m = {k: np.asarray(v) for k, v in compute(params, mlp.ones_masks(params)).items()}
    assert int(m["vacuous_nodes"]) == 1
    assert np.isnan(m["C"]) and np.isnan(m["IIA"]) and not m["compositional"] and m["fractured"]
