"""The layering of docs/architecture.md: imports go one way, each concept is named in one registry, the result
schema covers every key the engine returns, and no function in src/ is over 60 lines."""

import ast
import inspect
import os
import re

import numpy as np
import pytest

from sweetspot import config as config_lib
from sweetspot import grid, mlp, pruning, result_keys, targets, train
from sweetspot.validation import validate

SRC = os.path.join(os.path.dirname(__file__), "..", "src", "sweetspot")
# float64 numpy references: deliberately written as one loop nest each, to be read against the definitions.
LONG_ALLOWED = {"reference_compute"}


def _modules():
    out = {}
    for root, _, files in os.walk(SRC):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(root, f), os.path.join(SRC, ".."))
                name = rel[:-3].replace(os.sep, ".").removesuffix(".__init__")
                out[name] = os.path.join(root, f)
    return out


def _imports(path, modules):
    """sweetspot modules imported anywhere in the file (module level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sweetspot"):
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                found.add(sub if sub in modules else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("sweetspot")}
    return found


def _graph():
    modules = _modules()
    return {m: _imports(p, modules) - {m} for m, p in modules.items()}


def test_no_import_cycle():
    g = _graph()
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for d in sorted(g.get(m, ())):
            if d.startswith(m + "."):  # a package's __init__ re-exporting its own submodules
                continue
            if state.get(d) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(d) :] + [d]))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = "done"

    for m in sorted(g):
        if m not in state:
            visit(m)


# docs/architecture.md's layers, bottom first: a module imports only from its own layer or below (a package
# counts as its modules' layer unless listed itself). `validation` sits above the registries it reads.
LAYERS = (
    ("config", "result_keys", "experiments"),
    ("targets", "mlp"),
    ("causal", "das", "probe_data"),
    ("metrics", "pruning"),
    ("losses", "train"),
    ("grid",),
    ("validation",),
    ("results", "rundir", "checksums", "environment"),
    ("sweep", "diagnose", "depth_predictor", "sculpting", "theory", "wiring_recovery"),
    ("analysis",),
    ("cli", "__main__", "notebook"),
)


def _layer(module):
    name = module.removeprefix("sweetspot").lstrip(".")
    for i, names in enumerate(LAYERS):
        if name.split(".")[0] in names:
            return i
    return None if name else len(LAYERS)  # the sweetspot package itself imports nothing


def test_every_module_has_a_layer_and_no_import_goes_up():
    g = _graph()
    assert [m for m in g if _layer(m) is None] == []
    up = [f"{m} -> {d}" for m, deps in g.items() for d in deps if _layer(d) > _layer(m)]
    assert not up, up


def test_checks_raise_through_config_fail():
    """One validation path: every check outside config.py reports through config.fail (or check_choice); the one
    other ConfigError is targets.check re-raising a family builder's ValueError."""
    made = {name for name, path in _modules().items() if "ConfigError(" in open(path).read()}
    assert made == {"sweetspot.config", "sweetspot.targets"}, made


def test_architecture_md_states_the_layers_and_make_train_as_the_code_has_them():
    """docs/architecture.md's layer diagram names every layer's modules, the depth modes, and make_train's real
    parameters with their defaults."""
    doc = open(os.path.join(SRC, "..", "..", "docs", "architecture.md")).read()
    diagram = doc.split("```")[1]
    for name in (n for names in LAYERS for n in names if n != "__main__"):
        assert re.search(rf"\b{name}(\.py|/)", diagram), name
    assert all(mode in diagram for mode in grid.DEPTH_MODES)
    params = inspect.signature(train.make_train).parameters.values()
    written = ", ".join(p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in params)
    assert f"make_train({written})" in re.sub(r"\s+", " ", diagram), written


def test_config_and_result_schema_are_leaves():
    g = _graph()
    assert g["sweetspot.config"] == set()
    assert g["sweetspot.result_keys"] == set()


def test_the_library_never_reads_the_scripts_folder():
    """Only config.load_config loads a file by path: the user's sweep config."""
    for name, path in _modules().items():
        text = open(path).read()
        assert "sys.path.insert" not in text, name
        assert "spec_from_file_location" not in text or name == "sweetspot.config", name


def test_no_function_over_60_lines():
    long = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name not in LONG_ALLOWED:
                n = node.end_lineno - node.lineno + 1
                if n > 60:
                    long.append(f"{name}.{node.name}: {n} lines")
    assert not long, long


@pytest.mark.parametrize(
    "field,registry",
    [
        ("target.family", targets.FAMILIES),
        ("model.activation", mlp.ACTIVATIONS),
        ("train.optimizer", train.OPTIMIZERS),
        ("pruning.sp_similarity", pruning.SP_SIMILARITIES),
        ("pruning.scope", pruning.SCOPES),
        ("engine.depth_mode", grid.DEPTH_MODES),
    ],
)
def test_validation_reads_the_registries(cfg, field, registry):
    """Every registered name validates, an unregistered one is refused naming the registry's names."""
    section, key = field.split(".")
    for name in registry:
        cfg[section][key] = name
        validate(cfg)
    cfg[section][key] = "not-registered"
    with pytest.raises(config_lib.ConfigError, match=f"{field}.*{list(registry)[0]}"):
        validate(cfg)


def test_every_method_validates_and_families_agree_on_binary(cfg):
    cfg.grid.method = pruning.method_names()
    validate(cfg)
    for name, fam in targets.FAMILIES.items():
        c = config_lib.default_config().target
        c.family = name
        assert targets.make_target(c).binary == fam.binary, name


def test_result_schema_covers_every_key_with_its_shape(metrics_sweep):
    """On conftest's shared metrics run (depths 1 and 2, 16 points, metrics on)."""
    _, engine, res = metrics_sweep
    cfg = engine.cfg
    n, L, P = 16, 2, len(targets.make_target(cfg.target).structure.probe_nodes)
    assert engine.grid.n_points == n and max(cfg.grid.depth) == L and cfg.metrics.enabled
    E = cfg.train.steps // cfg.train.eval_every
    shapes = {
        result_keys.SCALAR: (n,),
        result_keys.LAYERS_READOUT: (n, L + 1),
        result_keys.PER_LAYER: (n, L),
        result_keys.PER_NODE: (n, P),
        result_keys.PER_NODE_LAYER: (n, P, L),
        result_keys.CURVE: (n, E),
    }
    assert set(res) <= set(result_keys.RESULT_KEYS)
    for k, v in res.items():
        assert np.shape(v) == shapes[result_keys.kind(k)], k
    with pytest.raises(KeyError, match="not declared"):
        result_keys.kind("no_such_key")
