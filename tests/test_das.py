"""The distributed causal score (das.py) on hand-built networks whose answer is known (docs/method.md,
"Distributed causal score"), each judged by the distributed score and by the local-unit score.

Target A = sum(sum(x0, x1), sum(x2, x3)): constituents n4 = x0 + x1 and n5 = x2 + x3 (normalised). Depth-1
ReLU networks, every unit offset by C so it stays in its linear range on the cube:
  modules:     units n4 + C and n5 + C (each reads only its constituent's inputs);
  parent_only: one unit n4 + n5 + C: the root is computed, neither constituent is formed;
  unused:      units n4 + C, n5 + C (decodable, local) and n4 + n5 + C, the readout reading the last only.
Target B = sum(sum(x0, x2), sum(x1, x3)) is the same function under another tree: its constituents are no
direction of any of these layers.
Target M = max(sum(x0, x1), sum(x2, x3)), rotated: a depth-2 network whose first layer keeps n4 and n5 rotated by
45 degrees, (n4 + n5) / sqrt2 + C and (n4 - n5) / sqrt2 + C (every unit reads all four inputs, and n4, n5 are
exact directions of the layer that the next layer reads), then relu(n4 - n5), relu(n5 - n4), n4 + n5 + C2.
Every layer also holds six pairs of units d = r.x + C, r = (1, -1, -1, 1) / 2, that the output reads with
weights +w and -w (they cancel): a layer wider than its constituents, as a trained one is, so that a random
subspace has something to miss. `build_narrow(n)` is the modules network with two hidden layers of exactly n
units (n = 2: each constituent one unit, no distractor), where a random subspace misses little: the labels
must correct for that chance (metrics.beyond_chance).
"""

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from conftest import expr_config_file
from sweetspot import causal, cli, config, das, diagnose, metrics, mlp, result_keys
from sweetspot.targets import expr

TREE_A = "sum(sum(x0, x1), sum(x2, x3))"
TREE_B = "sum(sum(x0, x2), sum(x1, x3))"
TREE_M = "max(sum(x0, x1), sum(x2, x3))"
C, C2 = 4.0, 6.0  # |n4|, |n5| <= 2.5 and |n4 + n5| <= 5 on the cube: every unit below stays positive
S2 = np.sqrt(2.0)
N_PAIRS = 6  # distractor pairs per layer
R = np.array([0.5, -0.5, -0.5, 0.5])  # the distractors' input direction: no linear mix with n4, n5 gives x0 + x2


def _mcfg():
    m = config.default_config().metrics
    m.n_signature, m.n_probe_train, m.n_probe_test, m.n_iia = 256, 512, 256, 256
    return m


@functools.lru_cache(maxsize=None)
def _setup(text):
    t = expr.expr_target(ml_collections.ConfigDict({"expr": text, "seed": 0, "n_reference": 4096}))
    return t, metrics.make_probe(t, _mcfg())


def _layer(units, n_in, n_pairs=N_PAIRS):
    """(w (n_in, #units + 2 n_pairs), b) of a layer whose units are (input weights, bias) pairs, then the
    distractor pairs r.x + C (for a hidden layer's input, copies of the previous layer's distractors)."""
    cols = [(np.asarray(w, float), float(b)) for w, b in units]
    for j in range(2 * n_pairs):
        w = np.zeros(n_in)
        if n_in == 4:
            w[:] = R
        else:  # copy the previous layer's distractor unit j
            w[n_in - 2 * n_pairs + j] = 1.0
        cols.append((w, C if n_in == 4 else 0.0))
    return np.stack([w for w, _ in cols], 1), np.array([b for _, b in cols])


def _net(layers, read, bias, n_pairs=N_PAIRS, width=None):
    """params and masks from [(w, b), ...] and the readout weights of the non-distractor units (width: the
    units of every hidden layer, 3 + 2 n_pairs unless given)."""
    width = 3 + 2 * n_pairs if width is None else width
    params, masks = {}, {}
    for l, (w, b) in enumerate(layers):
        full, fb = np.zeros((w.shape[0] if l == 0 else width, width)), np.zeros(width)
        full[: w.shape[0], : w.shape[1]], fb[: w.shape[1]] = w, b
        params[f"h{l}"] = {"w": jnp.asarray(full, jnp.float32), "b": jnp.asarray(fb, jnp.float32)}
        masks[f"h{l}"] = jnp.asarray(full != 0, jnp.float32)
    n_units = layers[-1][0].shape[1]
    out = np.zeros((width, 1))
    out[: len(read), 0] = read
    out[n_units - 2 * n_pairs : n_units, 0] = [0.5, -0.5] * n_pairs  # the distractor pairs cancel
    mask_out = np.zeros((width, 1))
    mask_out[:n_units] = 1  # every unit wired to the readout (a zero weight is not a pruned one)
    params["out"] = {"w": jnp.asarray(out, jnp.float32), "b": jnp.asarray([bias], jnp.float32)}
    masks["out"] = jnp.asarray(mask_out, jnp.float32)
    return params, masks


def build(kind):
    """params, masks and depth of one of the networks above."""
    if kind == "rotated":
        t, _ = _setup(TREE_M)
    else:
        t, _ = _setup(TREE_A)
    (m4, m5, m6), (s4, s5, s6) = t.mean, t.std
    n4, n5 = np.array([1, 1, 0, 0]) / s4, np.array([0, 0, 1, 1]) / s5  # n4 = x . n4 + b4, ...
    b4, b5 = -m4 / s4, -m5 / s5
    if kind == "rotated":
        l0 = _layer([((n4 + n5) / S2, (b4 + b5) / S2 + C), ((n4 - n5) / S2, (b4 - b5) / S2 + C)], 4)
        n0 = 2 + 2 * N_PAIRS
        g = lambda j: np.eye(n0)[j]  # layer 0's units g0, g1, then the distractors
        l1 = _layer([(S2 * g(1), -S2 * C), (-S2 * g(1), S2 * C), (S2 * g(0), -S2 * C + C2)], n0)
        # max(n4, n5) = (n4 + n5 + |n4 - n5|) / 2, root = (max - m6) / s6
        return (*_net([l0, l1], np.array([1, 1, 1]) / (2 * s6), (-C2 / 2 - m6) / s6), 2)
    units = {
        "modules": [(n4, b4 + C), (n5, b5 + C)],
        "parent_only": [(n4 + n5, b4 + b5 + C)],
        "unused": [(n4, b4 + C), (n5, b5 + C), (n4 + n5, b4 + b5 + C)],
    }[kind]
    read = {"modules": [1, 1], "parent_only": [1], "unused": [0, 0, 1]}[kind]
    offset = {"modules": 2 * C, "parent_only": C, "unused": C}[kind]
    return (*_net([_layer(units, 4)], np.array(read) / s6, (-offset - m6) / s6), 1)


def build_narrow(n_units, depth=2):
    """The modules network with `depth` hidden layers of exactly n_units units (n_units even): n4 + C, n5 + C
    and (n_units - 2) / 2 distractor pairs; every further layer copies the one below (its units are positive, so
    relu copies them). n_units = 2: two-unit layers, each constituent one unit."""
    t, _ = _setup(TREE_A)
    (m4, m5, m6), (s4, s5, s6) = t.mean, t.std
    n4, n5 = np.array([1, 1, 0, 0]) / s4, np.array([0, 0, 1, 1]) / s5
    n_pairs = (n_units - 2) // 2
    layers = [_layer([(n4, -m4 / s4 + C), (n5, -m5 / s5 + C)], 4, n_pairs)]
    g = np.eye(n_units)
    layers += [_layer([(g[0], 0.0), (g[1], 0.0)], n_units, n_pairs) for _ in range(depth - 1)]
    return (*_net(layers, np.array([1, 1]) / s6, (-2 * C - m6) / s6, n_pairs, width=n_units), depth)


@functools.lru_cache(maxsize=None)
def narrow_scores(n_units, tree=TREE_A):
    params, masks, depth = build_narrow(n_units)
    return {k: np.asarray(v) for k, v in _compute(depth)(params, masks, _setup(tree)[1]).items()}


@functools.lru_cache(maxsize=None)
def _compute(depth):
    mcfg = _mcfg()
    return jax.jit(lambda params, masks, probe: metrics.compute(params, masks, depth, "relu", probe, 1.0, mcfg))


@functools.lru_cache(maxsize=None)
def scores(kind, tree=None):
    params, masks, depth = build(kind)
    tree = tree or (TREE_M if kind == "rotated" else TREE_A)
    return {k: np.asarray(v) for k, v in _compute(depth)(params, masks, _setup(tree)[1]).items()}


@pytest.mark.parametrize("kind", ["modules", "rotated", "parent_only", "unused"])
def test_every_network_computes_its_target(kind):
    t, probe = _setup(TREE_M if kind == "rotated" else TREE_A)
    params, masks, depth = build(kind)
    y = mlp.apply(params, masks, depth, jnp.asarray(probe["x_test"]), "relu")
    np.testing.assert_allclose(np.asarray(y), probe["h_test"][:, -1], atol=1e-4)


def test_modules_are_compositional_under_both_scores():
    m = scores("modules")
    assert m["compositional"] and m["modular"] and m["compositional_local"]
    np.testing.assert_allclose(m["iia_das"], 1.0, atol=1e-3)
    np.testing.assert_allclose(m["iia_das_local"], 1.0, atol=1e-3)
    np.testing.assert_allclose(m["iia"], 1.0, atol=1e-3)


def test_rotated_twin_is_compositional_only_under_the_distributed_score():
    m = scores("rotated")
    assert m["compositional"] and not m["compositional_local"] and not m["modular"]
    np.testing.assert_allclose(m["iia_das"], 1.0, atol=1e-3)
    np.testing.assert_array_equal(m["iia"], 0.0)  # no unit is local to a constituent
    np.testing.assert_array_equal(m["iia_das_local"], 0.0)
    assert m["das_crosstalk"].max() < 0.05 and m["iia_das_control"].max() < 0.2


def test_another_tree_of_the_same_function_is_fractured():
    m = scores("modules", TREE_B)
    assert m["fit"] and m["fractured"] and not m["compositional"] and not m["compositional_local"]
    assert m["iia_das"].max() < 0.75, m["iia_das"]  # x0 + x2 is no direction of a layer spanned by n4, n5
    assert m["iia_subst"].min() > 0.999  # the behavioural ceiling is met: it is a structure limit


def test_parent_without_the_constituent_fails_it():
    """No layer forms n4 or n5: the best direction (n4 + n5 mixed with the distractors' r.x) is partial, and
    it carries the sibling's change too (crosstalk)."""
    m = scores("parent_only")
    assert m["fractured"] and not m["compositional"]
    assert m["iia_das"].max() < 0.6, m["iia_das"]
    assert m["das_crosstalk"].max() > 0.2


def test_decodable_but_unused_local_units():
    """Units the output never reads are left out of the search: with them, a direction mixing the unused n4
    unit into the used n4 + n5 unit would imitate n4 (the interpretability illusion)."""
    m = scores("unused")
    assert m["compositional_probe"] and not m["compositional_local"] and not m["compositional"]
    assert m["r2_restricted"].min() > 0.99  # decodable from its local units
    assert m["iia"].max() < 0.01 and m["iia_das_local"].max() < 0.01  # which the output never reads
    np.testing.assert_allclose(m["iia_das"], scores("parent_only")["iia_das"], atol=2e-3)  # as if absent


@pytest.mark.parametrize("n_units", [2, 4, 32])
def test_exact_modules_are_compositional_at_every_layer_width(n_units):
    """Layers of 2, 4 and 32 units, each constituent exactly one unit: compositional at every width. A random
    1-d subspace of a 2-unit layer catches about half of a constituent's direction, so its control is far above
    das_control_max (the old absolute rule called this network fractured); the label corrects the score for
    that chance (metrics.beyond_chance) instead."""
    t, probe = _setup(TREE_A)
    params, masks, depth = build_narrow(n_units)
    y = mlp.apply(params, masks, depth, jnp.asarray(probe["x_test"]), "relu")
    np.testing.assert_allclose(np.asarray(y), probe["h_test"][:, -1], atol=1e-4)  # computes the target
    m = narrow_scores(n_units)
    assert m["compositional"] and m["modular"] and m["compositional_local"], m["iia_das_control"]
    np.testing.assert_allclose(m["iia_das"], 1.0, atol=1e-3)
    np.testing.assert_allclose(m["live_units_layers"], n_units)
    beyond = np.asarray(metrics.beyond_chance(m["iia_das"], m["iia_das_control"]))
    np.testing.assert_allclose(beyond, 1.0, atol=2e-3)
    if n_units == 2:  # chance at this width is large: what the old rule (control < das_control_max) failed on
        assert m["iia_das_control"].max() >= _mcfg().das_control_max, m["iia_das_control"]


@pytest.mark.parametrize("n_units", [2, 4, 32])
def test_narrow_layers_under_another_tree_stay_fractured(n_units):
    """The same networks judged against sum(sum(x0, x2), sum(x1, x3)): its constituents are no direction of
    these layers at any width, however large chance is there."""
    m = narrow_scores(n_units, TREE_B)
    assert m["fit"] and m["fractured"] and not m["compositional"] and not m["modular"]
    assert m["iia_das"].max() < 0.75, m["iia_das"]


def test_labels_correct_the_score_for_the_random_control():
    """metrics._labels on given scores: iia_das must reach compositional_iia, and again once the random
    subspace's score is taken out; a control of 1 (any subspace of that size does as well) leaves nothing."""
    mcfg = _mcfg()
    k = {"keep": jnp.array([True, True]), "r2_restricted": jnp.ones(2), "iia": jnp.ones(2)}

    def label(iia_das, control, crosstalk=0.0):
        extras = {"iia_das": jnp.asarray(iia_das), "iia_das_local": jnp.asarray(iia_das),
                  "iia_das_control": jnp.asarray(control), "das_crosstalk_max": jnp.asarray(crosstalk)}
        out = metrics._labels(jnp.bool_(True), k, jnp.ones(2), extras, mcfg)
        return bool(out["compositional"]), bool(out["modular"])

    assert label([1.0, 1.0], [0.5, 0.6]) == (True, True)  # exact, whatever chance is
    assert label([0.95, 0.95], [0.05, 0.4]) == (True, True)  # (0.95 - 0.4) / 0.6 = 0.917
    assert label([0.95, 0.95], [0.05, 0.6]) == (False, False)  # (0.95 - 0.6) / 0.4 = 0.875: not beyond chance
    assert label([0.91, 0.95], [0.15, 0.0]) == (False, False)  # (0.91 - 0.15) / 0.85 = 0.894
    assert label([1.0, 1.0], [1.0, 0.0]) == (False, False)  # a random subspace does exactly as well
    assert label([0.89, 1.0], [0.0, 0.0]) == (False, False)  # below the threshold itself
    assert label([1.0, 1.0], [0.0, 0.0], crosstalk=0.25) == (False, False)  # the crosstalk control stays
    np.testing.assert_allclose(metrics.beyond_chance(jnp.array([1.0, 0.6, 0.3]), jnp.array([0.5, 0.6, 0.0])),
                               [1.0, 0.0, 0.3], atol=1e-6)


def _save_npz(path, params, masks, depth):
    """A hand-built network as `diagnose --npz` reads it: W0, b0, M0, ..., the readout last."""
    arrays = {}
    for i, name in enumerate(mlp.layer_names(depth)):
        arrays[f"W{i}"], arrays[f"b{i}"] = np.asarray(params[name]["w"]), np.asarray(params[name]["b"])
        arrays[f"M{i}"] = np.asarray(masks[name])
    np.savez(path, **arrays)


def test_diagnose_json_calls_two_unit_layers_compositional(tmp_path, capsys):
    """The done-when of the training-budget issue, item 7: `diagnose --npz ... --json` on the network of two
    two-unit layers says compositional."""
    import json

    params, masks, depth = build_narrow(2)
    _save_npz(tmp_path / "two_unit.npz", params, masks, depth)
    target = expr_config_file(tmp_path / "a.py", TREE_A)
    cli.main(["diagnose", "--npz", str(tmp_path / "two_unit.npz"), "--target", target, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["label"] == "compositional" and out["labels"]["compositional"], out["reason"]
    assert all(node["iia_das"] > 0.99 for node in out["nodes"])
    assert max(node["iia_das_control"] for node in out["nodes"]) >= 0.2  # the old absolute rule said fractured


def test_init_null_and_threshold_defaults_are_declared():
    """IIA_das_init is measured by the engine; the thresholds the labels read live in the config."""
    assert result_keys.kind("IIA_das_init") == result_keys.SCALAR
    mcfg = _mcfg()
    assert 0 < mcfg.das_control_max <= 1 and mcfg.das_dim == 1


def test_subspace_patch_matches_float64_reference():
    """das.score of the learned subspace at the chosen layer equals the float64 patch, and reproduces iia_das."""
    t, probe = _setup(TREE_A)
    params, masks, _ = build("unused")
    mcfg = _mcfg()
    pairs = das.split_pairs(params, masks, 1, "relu", probe)
    live = jnp.ones((1, 2, 3 + 2 * N_PAIRS), jnp.float32)
    found = das.search(params, masks, 1, "relu", pairs, live, live[None], jax.random.PRNGKey(0), mcfg, False)
    te = pairs["test"]
    for p in range(2):
        layer, u = int(found["layer"][p]), np.asarray(found["u"][p])
        np.testing.assert_allclose(np.linalg.norm(u, axis=0), 1.0, atol=1e-5)
        got = das.score(params, masks, 1, "relu", te, layer, jnp.asarray(u), te["cf"][p], te["dy"][p], False)
        ref = metrics.reference_subspace_score(params, masks, 1, "relu", te, layer, u, te["cf"][p], te["dy"][p])
        np.testing.assert_allclose(float(got), ref, atol=2e-3)
        np.testing.assert_allclose(float(found["iia"][p]), ref, atol=2e-3)


def test_orthonormal_stays_inside_the_allowed_units():
    a = jax.random.normal(jax.random.PRNGKey(1), (6, 3))
    allowed = jnp.array([1, 1, 0, 1, 1, 0], jnp.float32)
    u = np.asarray(das.orthonormal(a, allowed))
    np.testing.assert_allclose(u.T @ u, np.eye(3), atol=1e-5)
    assert np.all(u[[2, 5]] == 0)
    assert np.all(np.asarray(das.orthonormal(a, jnp.zeros(6))) == 0)  # nothing allowed: an empty patch


def test_binary_change_score_is_chance_corrected():
    """Ignoring the intervention, or flipping every output, scores 0; following it scores 1."""
    cf = jnp.array([[1.0], [-1.0], [1.0], [-1.0]])
    dy = jnp.array([[2.0], [0.0], [0.0], [-2.0]])  # rows 0 and 3 flip, rows 1 and 2 do not
    y0 = cf - dy
    assert float(causal.change_score(y0, y0, cf, dy, True)) == 0.0  # ignores it
    assert float(causal.change_score(-y0, y0, cf, dy, True)) == 0.0  # flips everything
    assert float(causal.change_score(cf, y0, cf, dy, True)) == 1.0


def test_diagnose_json_reads_the_rotated_twin(tmp_path, capsys):
    """`diagnose --npz ... --json`: one JSON object with the label, the scores and, per node, its inputs and
    every per-node score by its column name."""
    import json

    params, masks, depth = build("rotated")
    _save_npz(tmp_path / "rotated.npz", params, masks, depth)
    target = expr_config_file(tmp_path / "m.py", TREE_M)
    cli.main(["diagnose", "--npz", str(tmp_path / "rotated.npz"), "--target", target, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["label"] == "compositional" and out["labels"]["compositional"] and not out["labels"]["modular"]
    assert not out["labels"]["compositional_local"] and out["scores"]["IIA_das"] > 0.99
    assert [n["inputs"] for n in out["nodes"]] == [["x0", "x1"], ["x2", "x3"]]
    for node in out["nodes"]:
        assert node["iia_das"] > 0.99 and node["iia"] == 0.0 and node["iia_das_layer"] == 0.0
        assert set(diagnose.NODE_COLUMNS) <= set(node)


def test_null_of_a_network_against_itself_has_no_gain():
    """metrics.compute with `start` measures the same search on the start weights (IIA_das_init): the network
    as its own start gives the same score and zero gains."""
    params, masks, depth = build("modules")
    probe = _setup(TREE_A)[1]
    m = metrics.compute(params, masks, depth, "relu", probe, 1.0, _mcfg(), start=params)
    np.testing.assert_allclose(float(m["IIA_das_init"]), float(m["IIA_das"]), atol=1e-6)
    assert float(m["C_gain"]) == 0.0 and float(m["IIA_gain"]) == 0.0


def test_two_dimensional_subspaces_and_empty_columns():
    """das_dim = 2 on the modules network: a node's local units span one direction, so the second column has
    nothing left; it must read 0 (not poison the search with NaN) and the score stays exact."""
    params, masks, depth = build("modules")
    mcfg = _mcfg()
    mcfg.das_dim = 2
    m = metrics.compute(params, masks, depth, "relu", _setup(TREE_A)[1], 1.0, mcfg)
    np.testing.assert_allclose(np.asarray(m["iia_das_local"]), 1.0, atol=1e-3)
    np.testing.assert_allclose(np.asarray(m["iia_das"]), 1.0, atol=1e-3)
    g = jax.grad(lambda a: das.orthonormal(a, jnp.array([1.0, 0.0, 0.0])).sum())(jnp.ones((3, 2)))
    assert np.isfinite(np.asarray(g)).all()


def test_padded_layers_change_nothing():
    """The rotated network built with an extra (identity-padded) slot scores as without it; the padded layer
    reads NaN."""
    params, masks, depth = build("rotated")
    width = params["h1"]["w"].shape[1]
    padded = {"h0": params["h0"], "h1": params["h1"], "h2": {"w": jnp.eye(width), "b": jnp.zeros(width)},
              "out": params["out"]}
    pmasks = {"h0": masks["h0"], "h1": masks["h1"], "h2": jnp.ones((width, width)), "out": masks["out"]}
    m = metrics.compute(padded, pmasks, depth, "relu", _setup(TREE_M)[1], 1.0, _mcfg())
    ref = scores("rotated")
    for k in ("iia_das", "iia_das_layer", "iia_das_control", "IIA_das"):
        np.testing.assert_allclose(np.asarray(m[k]), ref[k], atol=1e-4, err_msg=k)
    assert np.isnan(np.asarray(m["iia_das_layers"])[:, 2]).all()


def test_boolean_modules_network_passes_the_chance_corrected_score():
    """and/or tree over 4 bits (nodes 4 = x0 and x1, 5 = x2 and x3, root = 4 or 5), computed exactly by units
    relu(x0 + x1 - 1), relu(x2 + x3 - 1) (the AND indicators) and a logit 10 (i4 + i5 - 0.5), with the distractor
    pairs: the Boolean branch of the search (cross-entropy objective, Youden's J) finds both constituents."""
    from sweetspot import targets

    c = config.default_config().target
    c.family, c.gates, c.levels = "boolean", ("and", "or"), 2
    t = targets.make_target(c)
    probe = metrics.make_probe(t, _mcfg())
    units = [(np.array([1, 1, 0, 0.0]), -1.0), (np.array([0, 0, 1, 1.0]), -1.0)]
    params, masks = _net([_layer(units, 4)], np.array([10.0, 10.0]), -5.0)
    y = mlp.apply(params, masks, 1, jnp.asarray(probe["x_test"]), "relu")
    assert np.all((np.asarray(y) > 0) == (probe["h_test"][:, -1] > 0))
    m = metrics.compute(params, masks, 1, "relu", probe, 1.0, _mcfg(), True, True)
    m = {k: np.asarray(v) for k, v in m.items()}
    np.testing.assert_allclose(m["iia_das"], 1.0, atol=1e-6)
    np.testing.assert_allclose(m["iia"], 1.0, atol=1e-6)
    assert m["compositional"] and m["modular"] and m["das_crosstalk"].max() < 0.05


def test_boolean_pair_halves_share_no_pair():
    """On a 4-input target the probe-test rows are few: the scoring half must still be pairs the search never
    saw."""
    from sweetspot import targets

    c = config.default_config().target
    c.family = "modular"
    probe = metrics.make_probe(targets.make_target(c), _mcfg())
    x, xp = probe["iia_x"], probe["iia_xp"]
    half = len(x) // 2
    as_set = lambda a, b: {(u.tobytes(), v.tobytes()) for u, v in zip(a, b, strict=True)}
    assert not as_set(x[:half], xp[:half]) & as_set(x[half:], xp[half:])
