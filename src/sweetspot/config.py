"""The config schema and its defaults: the leaf every other module reads. docs/method.md, "Configuration".

`default_config()` is the schema: a sweep config may change values but not add keys. `check_schema(cfg)` checks
keys, types and ranges; the names that registries own (target families, methods, activations, optimizers) are
checked by `sweetspot.validation.validate`, which the CLI calls before any compute starts. `parse_arg` reads
the one string argument of a sweep config's `get_config(arg)` (big_vision's convention).
"""

from __future__ import annotations

import math
import numbers

import ml_collections

# Grid axes in the order points are enumerated (the last axis varies fastest).
AXES = ("method", "depth", "sparsity", "lr", "weight_decay", "n_train", "seed")


class ConfigError(ValueError):
    """A config value is invalid; the message names the field and the allowed values."""


def default_config() -> ml_collections.ConfigDict:
    """The full schema with defaults (a small CPU regime map on the tree target)."""
    c = ml_collections.ConfigDict()
    c.seed = 0  # root of every key: a point's key is fold_in(PRNGKey(seed), its seed coordinate)
    c.experiment = ""  # which experiment a run belongs to, e.g. "e2/tree_L3": `sweetspot report` groups by it
    c.target = _target_block()
    c.model = ml_collections.ConfigDict({"width": 32, "activation": "relu"})  # activation: mlp.ACTIVATIONS
    c.train = ml_collections.ConfigDict()
    c.train.optimizer = "adam"  # train.OPTIMIZERS
    c.train.steps = 3000
    c.train.batch_size = 256  # 0 = full batch
    c.train.eval_every = 100  # the loss curves are sampled every eval_every steps
    c.grid = ml_collections.ConfigDict()  # the axes, in AXES order; method: pruning.METHODS or shuffled:<name>
    c.grid.method = ("random",)
    c.grid.depth = (1, 2, 3, 4, 5, 6)
    c.grid.sparsity = (0.0, 0.5, 0.7, 0.8, 0.9)
    c.grid.lr = (3e-3,)
    c.grid.weight_decay = (0.0,)
    # rows of the training pool each point trains on, its first n_train (docs/method.md, "Training"); () reads as
    # (target.n_train,): the whole pool. Every value in 1..target.n_train, the rows drawn for the pool.
    c.grid.n_train = ()
    c.grid.seed = (0, 1, 2, 3)
    c.pruning = _pruning_block()
    c.metrics = _metrics_block()
    c.engine = ml_collections.ConfigDict()
    c.engine.depth_mode = "segment"  # grid.DEPTH_MODES: segment (a program per method), group (per depth)
    c.engine.chunk_size = 0  # points per (method, depth) per call; 0 = auto (CPU: ~8 per device, else all)
    c.engine.save_params = True
    # XLA's CPU backend (LLVM) optimisation level, grid.CPU_OPT_LEVELS; 3 is XLA's own default. Lower compiles
    # faster with numbers equal within float tolerance, not bit for bit (docs/performance.md, "Compile options").
    c.engine.cpu_opt_level = 3
    return c


def _target_block() -> ml_collections.ConfigDict:
    t = ml_collections.ConfigDict()
    t.family = "tree"  # targets.FAMILIES
    t.expr = "sum(absdiff(x0, x1), absdiff(x2, x3))"  # family 'expr' only (targets/expr.py)
    t.arity = 2
    t.levels = 3
    t.seed = 0  # draws the constituents' parameters
    t.gain = 1.5
    t.product_low = 0.5
    t.product_high = 1.0
    t.permute_leaves = False
    t.reuse = False  # tree only: a DAG in which some nodes feed two parents (targets/tree.py)
    t.gates = ("xor", "and")  # boolean only: gate of each level, cycled (targets/boolean.py GATES)
    t.n_distractors = 0  # boolean and parity: extra input bits that no node reads
    t.modular_spec = (4, 2, 4)  # modular only: [inputs, sub-function widths..., outputs] (targets/modular.py)
    t.modular_tables = "balanced"  # modular only: how tables of >= 3 children are drawn (modular.TABLE_KINDS)
    t.input_noise = 0.0  # std of Gaussian noise added to training inputs (Neural Sculpting: 0.1)
    t.n_reference = 16384  # reference sample for normalisation
    t.data_seed = 0
    t.n_train = 4096  # rows drawn for the training pool (the test and held-out rows are drawn after them)
    t.n_test = 2048
    t.n_heldout = 1024
    t.heldout_q = 0.5
    return t


def _pruning_block() -> ml_collections.ConfigDict:
    p = ml_collections.ConfigDict()
    p.rounds = 3  # R for imp and sp (magnitude is one round)
    p.rewind_frac = 0.01  # rewind to step k = round(rewind_frac * train.steps)
    p.scope = "layer"  # pruning.SCOPES: top-k per layer, or 'global' over all active layers
    p.snip_batch = 256
    p.synflow_rounds = 100
    p.sp_similarity = "overlap"  # pruning.SP_SIMILARITIES
    p.sp_gamma = 1.0
    p.sp_inputs = 512  # training inputs used for SP's signatures
    # sculpt (Neural Sculpting, pruning/sculpt.py): first step of the unit / edge phase, as a fraction of all hidden
    # units / all weights (their --unit_pruning_gradient 70 and --pruning_gradient 2.5, in percent)
    p.sculpt_unit_step = 0.7
    p.sculpt_edge_step = 0.025
    p.sculpt_unit_iters = 12  # fixed prune -> retrain -> accept iterations per phase (their loop runs until it stops)
    p.sculpt_edge_iters = 16
    p.sculpt_accuracy = 1.0  # a candidate is kept when its accuracy on the truth table is >= this (their 100%)
    p.sculpt_score_inputs = 512  # rows of the test split used for the unit scores
    return p


def _metrics_block() -> ml_collections.ConfigDict:
    m = ml_collections.ConfigDict()
    m.enabled = True  # compute the compositionality metrics for every point inside the run
    m.fit_r2 = 0.95  # fit = test R^2 >= fit_r2
    m.fit_accuracy = 0.99  # Boolean families: fit = test accuracy >= fit_accuracy
    m.local_tau = 0.9  # a unit is local to node v when >= tau of its signature lies in S_v
    m.compositional_r2 = 0.9  # compositional = fit and min_v r2_restricted[v] >= this ...
    m.compositional_iia = 0.9  # ... and min_v iia[v] >= this (causal.py; docs/method.md "Causal score")
    m.ridge = 1e-3  # ridge penalty of the probes (on standardised units)
    m.dead_eps = 1e-6  # a unit whose mean |d a_u / d x| total is below this is dead
    m.n_signature = 1024  # inputs used to estimate unit signatures
    m.n_probe_train = 2048
    m.n_probe_test = 1024
    m.n_iia = 512  # intervention pairs (x, x'), drawn from the probe-test inputs; half train the subspace search
    # distributed alignment search (das.py; docs/method.md "Distributed causal score")
    m.das_dim = 1  # k: dimensions of the subspace patched per node and layer (a scalar constituent needs one)
    m.das_starts = 2  # starts per node and layer: the two ridge-probe directions (live, local units), then Gaussian
    m.das_steps = 100  # Adam steps in all: das_select_steps for every (layer, start), the rest for the chosen one
    m.das_select_steps = 20
    m.das_lr = 0.1  # chosen on the calibration run (docs/method.md, "Calibration"): 0.05, 0.1, 0.2 tried
    # compositional needs every node's crosstalk below this; its random-subspace control enters the labels through
    # metrics.beyond_chance (iia_das corrected for chance at the layer's size must reach compositional_iia)
    m.das_control_max = 0.2
    return m


def fail(field, value, allowed):
    """Raises ConfigError naming config.FIELD, its value and the allowed values."""
    raise ConfigError(f"config.{field}={value!r} is invalid: allowed values are {allowed}")


def check_choice(field, value, allowed) -> None:
    """`value` must be one of `allowed`; a bool is not taken for 1 or 0 (True == 1 in Python)."""
    is_bool = lambda v: isinstance(v, bool)
    if value not in allowed or (is_bool(value) and not any(map(is_bool, allowed))):
        fail(field, value, tuple(allowed))


def _check_keys(cfg, schema, prefix=""):
    for key in cfg.keys():
        if key not in schema:
            fail(f"{prefix}{key}", cfg[key], f"the keys of config.{prefix or ''}: {sorted(schema.keys())}")
        if isinstance(schema[key], ml_collections.ConfigDict):
            if not isinstance(cfg[key], ml_collections.ConfigDict):
                fail(f"{prefix}{key}", cfg[key], "a ConfigDict")
            _check_keys(cfg[key], schema[key], f"{prefix}{key}.")


def check_int(field, value, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        fail(field, value, f"an integer >= {low}")
    return int(value)


def _check_real(field, value, ok, allowed):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or not ok(value):
        fail(field, value, allowed)


def _check_finite(cfg, prefix=""):
    """Refuses NaN and infinity in every real-valued field, and in every tuple of numbers (e.g. grid.lr), by name;
    `1e999` is read as infinity. Runs before the range checks, so the message says what is wrong."""
    for key in cfg.keys():
        value = cfg[key]
        if isinstance(value, ml_collections.ConfigDict):
            _check_finite(value, f"{prefix}{key}.")
            continue
        for v in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(v, numbers.Real) and not isinstance(v, bool) and not math.isfinite(v):
                fail(f"{prefix}{key}", v, "finite numbers (not nan or inf)")


def _check_target(t):
    check_int("target.arity", t.arity, 2)
    check_int("target.levels", t.levels, 1)
    check_int("target.n_distractors", t.n_distractors, 0)
    _check_real("target.input_noise", t.input_noise, lambda v: v >= 0, "a number >= 0")
    for f in ("n_reference", "n_train", "n_test", "n_heldout"):
        check_int(f"target.{f}", t[f], 16)


def n_train_values(cfg) -> tuple[int, ...]:
    """The n_train axis: grid.n_train, or (target.n_train,) when it is () (every point trains on the whole pool)."""
    return tuple(cfg.grid.n_train) or (cfg.target.n_train,)


def _check_train(tr, cfg):
    check_int("train.steps", tr.steps, 1)
    check_int("train.batch_size", tr.batch_size, 0)
    smallest = min(n_train_values(cfg))
    if tr.batch_size > smallest:
        where = f"min(grid.n_train)={smallest}" if cfg.grid.n_train else f"target.n_train={smallest}"
        fail("train.batch_size", tr.batch_size, f"0 (full batch) or 1..{where}")
    check_int("train.eval_every", tr.eval_every, 1)
    if tr.steps % tr.eval_every:
        fail("train.eval_every", tr.eval_every, f"a divisor of train.steps={tr.steps}")


def _check_grid(g, t):
    for axis in AXES:
        values = g[axis]
        if axis == "n_train" and isinstance(values, (tuple, list)) and len(values) == 0:
            continue  # () = (target.n_train,)
        if isinstance(values, (str, numbers.Number)) or len(values) == 0:
            fail(f"grid.{axis}", values, "a non-empty tuple of values")
        if len(set(values)) != len(values):
            fail(f"grid.{axis}", values, "distinct values")
    for v in g.depth:
        check_int("grid.depth", v, 1)
    for v in g.seed:
        check_int("grid.seed", v, 0)
    for v in g.sparsity:
        _check_real("grid.sparsity", v, lambda v: 0.0 <= v < 1.0, "numbers in [0, 1)")
    for v in g.lr:
        _check_real("grid.lr", v, lambda v: v > 0, "numbers > 0")
    for v in g.weight_decay:
        _check_real("grid.weight_decay", v, lambda v: v >= 0, "numbers >= 0")
    for v in g.n_train:  # a prefix of the pool: more rows than target.n_train draws is a conflict of the two
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 1 <= v <= t.n_train:
            fail("grid.n_train", tuple(g.n_train), f"() (= (target.n_train,)) or integers in 1..target.n_train="
                 f"{t.n_train} (each point trains on the first n_train rows of the target.n_train-row pool; "
                 "raise target.n_train for a larger pool)")


def _check_pruning(p):
    check_int("pruning.rounds", p.rounds, 1)
    check_int("pruning.snip_batch", p.snip_batch, 1)
    check_int("pruning.synflow_rounds", p.synflow_rounds, 1)
    check_int("pruning.sp_inputs", p.sp_inputs, 1)
    _check_real("pruning.rewind_frac", p.rewind_frac, lambda v: 0.0 <= v < 1.0, "a number in [0, 1)")


def _check_metrics(m, width):
    check_int("metrics.n_iia", m.n_iia, 4)  # two halves of at least two pairs: the search's and the score's
    if check_int("metrics.das_dim", m.das_dim, 1) > width:
        fail("metrics.das_dim", m.das_dim, f"1..model.width={width}")
    check_int("metrics.das_starts", m.das_starts, 1)
    check_int("metrics.das_steps", m.das_steps, 0)
    check_int("metrics.das_select_steps", m.das_select_steps, 0)
    _check_real("metrics.das_lr", m.das_lr, lambda v: 0 < v < float("inf"), "a finite number > 0")
    _check_real("metrics.das_control_max", m.das_control_max, lambda v: 0 < v <= 1, "a number in (0, 1]")


def check_schema(cfg: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Checks keys against the schema, and the types and ranges of every field that no registry owns; raises
    ConfigError naming the field and the allowed values. Returns cfg."""
    _check_keys(cfg, default_config())
    _check_finite(cfg)
    _check_target(cfg.target)
    check_int("model.width", cfg.model.width, 1)
    _check_grid(cfg.grid, cfg.target)
    _check_train(cfg.train, cfg)
    _check_pruning(cfg.pruning)
    check_int("engine.chunk_size", cfg.engine.chunk_size, 0)
    _check_metrics(cfg.metrics, cfg.model.width)
    return cfg


def parse_arg(arg: str | None, **spec) -> ml_collections.ConfigDict:
    """The one string argument of `get_config(arg)` as named fields (big_vision's parse_arg). `spec` gives each
    field's default, or (default, allowed values). Comma-separated tokens fill the fields in order
    ("tree_L3,full") or by name ("size=full"); a value outside a field's allowed values is a ValueError that
    names the field and the allowed values."""
    out = ml_collections.ConfigDict({k: v[0] if isinstance(v, tuple) else v for k, v in spec.items()})
    names = list(spec)
    for i, token in enumerate(t for t in (arg or "").split(",") if t):
        key, eq, value = token.partition("=")
        if not eq:
            if i >= len(names):
                raise ValueError(f"get_config(arg={arg!r}): at most {len(names)} values ({', '.join(names)})")
            key, value = names[i], token
        if key not in spec:
            raise ValueError(f"get_config(arg={arg!r}): {key!r} is not a field: allowed values are {names}")
        allowed = spec[key][1] if isinstance(spec[key], tuple) else None
        if allowed is not None and value not in allowed:
            raise ValueError(f"get_config(arg={arg!r}): {key}={value!r}: allowed values are {list(allowed)}")
        out[key] = value
    return out


def _load_file(spec: str) -> ml_collections.ConfigDict:
    """get_config(arg) of the sweep config file `path[:arg]` (no argument without ':'), the file loaded with
    importlib.util as ml_collections' config_flags would (it calls the deprecated load_module()). Raises ConfigError
    with one line when the file fails to load or returns no ConfigDict."""
    import importlib.util

    path, *arg = spec.split(":", 1)
    try:
        module_spec = importlib.util.spec_from_file_location("sweetspot_sweep_config", path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        cfg = module.get_config(*arg)
    except Exception as e:  # a user's config file can raise anything while it loads (SyntaxError, NameError, ...)
        why = f"{type(e).__name__}: {' '.join(str(e).split())}"
    else:
        if isinstance(cfg, ml_collections.ConfigDict):
            return cfg
        why = f"get_config returned {type(cfg).__name__}, not a ConfigDict"
    raise ConfigError(f"config file {spec} failed to load: {why}") from None


def load_config(spec: str, overrides: list[str]) -> ml_collections.ConfigDict:
    """Loads a sweep config file `path[:arg]` through its get_config(arg) and applies `--config.x.y=value`
    overrides (ml_collections config_flags on the loaded, locked config: wrong types are errors). A repeated
    override replaces the earlier one (the last wins); an override of a field that is not in the schema names the
    keys allowed there. Raises ConfigError (a missing file, a file that fails to load, a bad override) with one
    line."""
    import os

    from absl import flags
    from ml_collections import config_flags

    path = spec.split(":", 1)[0]
    if not os.path.isfile(path):
        raise ConfigError(f"config file {path!r} does not exist: give a sweep config file, e.g. sweeps/regime_map.py")
    bad = [o for o in overrides if not o.startswith("--config.")]
    if bad:
        raise ConfigError(f"unknown option(s) {bad}: overrides look like --config.train.steps=500")
    last = {}
    for o in overrides:  # config_flags would append repeated tuple overrides: (3,) then (4,5) gave (3, 4, 5)
        last.pop(o.split("=", 1)[0], None)
        last[o.split("=", 1)[0]] = o
    for name, o in last.items():
        node, where = default_config(), "config"
        for key in name[len("--config.") :].split("."):
            if not isinstance(node, ml_collections.ConfigDict):
                raise ConfigError(f"{o}: {where} is a value, not a section: it has no field {key!r}")
            if key not in node:
                raise ConfigError(f"{o}: {where} has no field {key!r}: allowed keys are {sorted(node.keys())}")
            node, where = node[key], f"{where}.{key}"
    argv = ["sweetspot", *last.values()]
    fv = flags.FlagValues()
    config_flags.DEFINE_config_dict("config", _load_file(spec), flag_values=fv, lock_config=True, sys_argv=argv)
    try:
        fv(argv)
    except flags.Error as e:
        raise ConfigError(f"bad override: {' '.join(str(e).split())}") from None
    return fv.config
