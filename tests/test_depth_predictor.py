"""depth_predictor: closed-form gate costs vs the measured sweep, path arithmetic, spec parsing, the CLI."""

import json
import subprocess
import sys

import numpy as np
import pytest

from sweetspot import cli, targets
from sweetspot import depth_predictor as dp
from sweetspot.targets import boolean, modular
from sweetspot.targets.zoo import parse_target_spec

TINY = {"d_max": 2, "seeds": 3, "steps": 300, "lr": 3e-2, "n_fit": 256}


def test_closed_form_gates_agree_with_the_sweep():
    res = dp.check_closed_form(("and", "or", "xor"), (2,), width=8, **TINY)
    assert {g: r["closed"] for (g, _), r in res.items()} == {"and": 0, "or": 0, "xor": 1}
    for key, r in res.items():
        assert r["agree"], (key, r)
    assert res[("xor", 2)]["scores"][0] == [0.5, 0.5, 0.5]  # xor is not linearly separable


def test_closed_forms_cover_the_named_gates():
    named = dp.closed_forms()
    for name, f in boolean.GATES.items():
        assert named[id(f)] == (name, 0 if name in boolean.LINEARLY_SEPARABLE else 1)
    for name, (f, d) in modular.NAMED_GATES.items():
        assert named[id(f)] == (name, d)
    tcfg, _ = parse_target_spec("modular:modular_spec=4/2/4")
    keys = [dp.node_key(targets.make_target(tcfg), v) for v in range(4, 10)]  # cache keys are unchanged
    assert keys == [("gate:xor/2", 1.0)] * 2 + [("gate:identity/1", 0.0), ("gate:not/1", 0.0)] * 2


def test_path_arithmetic_on_a_hand_built_structure():
    # inputs 0..3; 4 = f(0, 1), 5 = f(2, 3), 6 = f(4, 3), 7 = f(6, 5) (root)
    s = targets.make_structure(4, [(0, 1), (2, 3), (4, 3), (6, 5)])
    d_hat, path = dp.path_depth(s, {4: 2, 5: 0, 6: 1, 7: 1})
    assert d_hat == 1 + 1 + 1 + 2 and path == [7, 6, 4, 0]
    d_hat, path = dp.path_depth(s, {4: 0, 5: 5, 6: 1, 7: 0})
    assert d_hat == 1 + 5 and path == [7, 5, 2]
    assert dp.path_depth(s, dict.fromkeys(range(4, 8), 0))[0] == 1  # all linear: one layer
    # two outputs: the max over output-to-input paths
    m = targets.make_structure(3, [(0, 1), (3,), (2,)], n_outputs=2)
    assert dp.path_depth(m, {3: 1, 4: 2, 5: 4}) == (1 + 4, [5, 2])
    assert dp.path_depth(m, {3: 1, 4: 2, 5: 0}) == (1 + 3, [4, 3, 0])


def test_cli_boolean_prints_a_depth(tmp_path, capsys):
    res = cli.main(["predict-depth", "boolean:levels=2,gates=xor/and", "--width", "8", "--cache", str(tmp_path)])
    out = capsys.readouterr().out
    assert "predicted depth D_hat = 2" in out and "gate:xor/2" in out and "path (output -> input): 6 -> 4 -> x0" in out
    assert res["d_hat"] == res["d_hat_low"] == res["d_hat_high"] == 2  # xor (1) then and (0): 1 + 1


def test_measured_nodes_are_cached(tmp_path):
    tcfg, _ = parse_target_spec("expr:expr=sum(absdiff(x0,x1),absdiff(x2,x3))")
    tcfg.n_reference = 1024
    first = dp.predict(tcfg, 8, cache_dir=str(tmp_path), **TINY)
    assert [p["key"] for p in first["per_node"].values()] == ["expr:absdiff/2", "expr:absdiff/2", "expr:sum/2"]
    assert first["per_node"][6]["d"] == 0  # a sum is linear
    assert first["d_hat"] == 1 + first["per_node"][4]["d"]
    table = json.load(open(tmp_path / "depth_costs.json"))
    assert len(table) == 2  # one measurement per primitive (absdiff/2, sum/2)
    again = dp.predict(tcfg, 8, cache_dir=str(tmp_path), **TINY)
    assert {p["source"] for p in again["per_node"].values()} == {"cache"} and again["d_hat"] == first["d_hat"]


def test_spec_parsing():
    t, m = parse_target_spec("expr:expr=sum(absdiff(x0,x1),absdiff(x2,x3)),seed=2")
    assert t.family == "expr" and t.expr == "sum(absdiff(x0,x1),absdiff(x2,x3))" and t.seed == 2 and m.width == 32
    t, _ = parse_target_spec("modular:modular_spec=6/3/3/3")
    assert t.modular_spec == (6, 3, 3, 3)
    t, _ = parse_target_spec("boolean:levels=2,gates=xor/and,permute_leaves=true")
    assert t.gates == ("xor", "and") and t.permute_leaves is True
    t, _ = parse_target_spec("sweeps/connectivity.py")
    assert t.family == "tree"


@pytest.mark.parametrize(
    "spec, words",
    [
        ("forest:levels=2", ["target.family", "'tree'", "'modular'"]),
        ("tree:depth=3", ["'depth=3'", "levels", "arity"]),
        ("tree:levels=three", ["target.levels", "an integer"]),
        ("boolean:gates=xor/nope", ["target.gates", "'and'", "'xor'"]),
        ("modular:modular_spec=6/4/3", ["target.modular_spec", "Allowed"]),
        ("expr:expr=sum(foo(x0),x1)", ["target.expr", "'foo'", "absdiff"]),
    ],
)
def test_spec_errors_name_the_field_and_allowed_values(spec, words):
    with pytest.raises(SystemExit) as e:
        cli.main(["predict-depth", spec, "--no-cache"])
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_data_only_curve():
    tcfg, _ = parse_target_spec("boolean:levels=2,gates=xor/and,heldout_q=1.0")
    d = dp.data_only(tcfg, 16, depth=4, steps=400, lr=1e-2)
    assert len(d["curve"]) == 5 and 0 <= d["layer"] <= 4 and d["d_hat"] == 1 + d["layer"]
    assert d["curve"][d["layer"]] >= max(d["curve"]) - d["eps"]
    assert np.all(np.array(d["curve"]) <= 1.0)


@pytest.mark.parametrize(
    "spec",
    [
        "tree:levels=2,arity=2,reuse=True",
        "expr:expr=sum(absdiff(x0,x1),x2)",
        "additive:levels=2",
        "dense_teacher:levels=2",
        "boolean:levels=2,gates=xor/and",
        "parity:levels=2,n_distractors=2",
        "modular:modular_spec=4/2/4",
    ],
)
def test_structural_prediction_works_on_every_family(spec, tmp_path):
    target_cfg, _ = parse_target_spec(spec)
    res = dp.predict(target_cfg, 8, cache_dir=None, d_max=1, seeds=1, steps=20, n_fit=64)
    assert res["d_hat_low"] <= res["d_hat"] <= res["d_hat_high"]
    assert res["d_hat"] >= 1 and res["path"]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "sweetspot", *args], capture_output=True, text=True, timeout=120)


def test_cli_help_and_a_bad_width_are_clean():
    done = _cli("predict-depth", "--help")
    assert done.returncode == 0 and "--data-only" in done.stdout and "--n-fit" in done.stdout
    done = _cli("predict-depth", "tree", "--width", "-5")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == ["error: --width=-5 is invalid: allowed values are an integer >= 1"]
