import ml_collections
import numpy as np
import pytest

from sweetspot.targets import expr


def _cfg(text, seed=0):
    return ml_collections.ConfigDict({"expr": text, "seed": seed, "n_reference": 4096})


def test_parse_structure():
    n, children, constituents = expr.parse("sum(absdiff(x0, x1), absdiff(x2, x3))")
    assert n == 4
    assert children == [(0, 1), (2, 3), (4, 5)]
    assert len(constituents) == 3


def test_shared_subexpression_is_one_node():
    n, children, _ = expr.parse("mul(tanh(x0), sum(tanh(x0), x1))")
    assert n == 2
    assert children == [(0,), (2, 1), (2, 3)]


def test_target_values_match_formula():
    t = expr.expr_target(_cfg("sum(absdiff(x0, x1), absdiff(x2, x3))"))
    s = t.structure
    assert s.probe_nodes == (4, 5) and s.level == (0, 0, 0, 0, 1, 1, 2)
    assert s.support[4].tolist() == [True, True, False, False]
    x = np.random.default_rng(1).uniform(-1, 1, (5000, 4)).astype(np.float32)
    h = np.asarray(t.node_values(x))
    raw = np.abs(x[:, 0] - x[:, 1]) + np.abs(x[:, 2] - x[:, 3])
    # The root is an affine function of the raw formula, and every internal node is ~standardised.
    assert abs(np.corrcoef(h[:, -1], raw)[0, 1]) > 0.9999
    assert np.allclose(h[:, 4], (np.abs(x[:, 0] - x[:, 1]) - t.mean[0]) / t.std[0], atol=1e-5)
    assert np.all(np.abs(h[:, 4:].mean(0)) < 0.05) and np.all(np.abs(h[:, 4:].std(0) - 1) < 0.05)


@pytest.mark.parametrize("name", sorted(expr.PRIMITIVES))
def test_every_primitive_builds(name):
    lo = expr.PRIMITIVES[name][0]
    args = ", ".join(f"x{i}" for i in range(lo))
    t = expr.expr_target(_cfg(f"{name}({args})"))
    x = np.random.default_rng(0).uniform(-1, 1, (64, lo)).astype(np.float32)
    assert np.isfinite(np.asarray(t(x))).all()


@pytest.mark.parametrize(
    "text, token",
    [
        ("sum(foo(x0), x1)", "'foo'"),
        ("sum(x0, y1)", "'y1'"),
        ("sum(x0, x1", "malformed"),
        ("sum(x0, 2.0)", "'2.0'"),
        ("x0 + x1", "must be a call"),
        ("sum(x0, x2)", "x1"),
        ("absdiff(x0, x1, x2)", "absdiff() takes 2 arguments"),
        ("tanh(x0, scale=2)", "keyword"),
        ("__import__('os')", "'__import__'"),
    ],
)
def test_errors_name_the_token_and_allowed_primitives(text, token):
    with pytest.raises(ValueError) as e:
        expr.parse(text)
    assert token in str(e.value)
    assert "absdiff" in str(e.value) and "tanh" in str(e.value)
