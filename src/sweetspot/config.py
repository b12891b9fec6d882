"""The config schema, its defaults and its validation. docs/method.md, section "Configuration".

`default_config()` is the schema: a sweep config may change values but not add keys. `validate(cfg)` raises
`ConfigError` naming the field and the allowed values; the CLI calls it before any compute starts.
"""

from __future__ import annotations

import numbers

import ml_collections

ACTIVATIONS = ("relu", "gelu", "tanh")
OPTIMIZERS = ("adam", "adamw", "sgd")
METHODS = ("dense", "random", "snip", "synflow", "oracle", "magnitude", "imp", "sp")  # and "shuffled:<method>"
SCOPES = ("layer", "global")
SP_SIMILARITIES = ("overlap", "cosine", "correlation")
DEPTH_MODES = ("group", "pad")
TARGET_FAMILIES = ("tree", "expr", "additive", "dense_teacher", "boolean", "parity", "modular")
BINARY_FAMILIES = ("boolean", "parity", "modular")  # +-1 outputs: BCE on logits, fit = accuracy

# Grid axes in the order points are enumerated (the last axis varies fastest).
AXES = ("method", "depth", "sparsity", "lr", "weight_decay", "seed")


class ConfigError(ValueError):
    """A config value is invalid; the message names the field and the allowed values."""


def default_config() -> ml_collections.ConfigDict:
    """The full schema with defaults (a small CPU regime map on the tree target)."""
    c = ml_collections.ConfigDict()
    c.seed = 0  # root of every key: a point's key is fold_in(PRNGKey(seed), its seed coordinate)
    c.experiment = ""  # which experiment a run belongs to, e.g. "e2/tree_L3": `sweetspot report` groups by it

    c.target = ml_collections.ConfigDict()
    c.target.family = "tree"
    c.target.expr = "sum(absdiff(x0, x1), absdiff(x2, x3))"  # family 'expr' only (src/sweetspot/expr.py)
    c.target.arity = 2
    c.target.levels = 3
    c.target.seed = 0  # draws the constituents' parameters
    c.target.gain = 1.5
    c.target.product_low = 0.5
    c.target.product_high = 1.0
    c.target.permute_leaves = False
    c.target.reuse = False  # tree only: a DAG in which some nodes feed two parents (targets.tree_target)
    c.target.gates = ("xor", "and")  # boolean only: gate of each level, cycled (boolean.GATES)
    c.target.n_distractors = 0  # boolean and parity: extra input bits that no node reads
    c.target.modular_spec = (4, 2, 4)  # modular only: [inputs, sub-function widths..., outputs] (modular.py)
    c.target.input_noise = 0.0  # std of Gaussian noise added to training inputs (Neural Sculpting: 0.1)
    c.target.n_reference = 16384  # reference sample for normalisation
    c.target.data_seed = 0
    c.target.n_train = 4096
    c.target.n_test = 2048
    c.target.n_heldout = 1024
    c.target.heldout_q = 0.5

    c.model = ml_collections.ConfigDict()
    c.model.width = 32
    c.model.activation = "relu"

    c.train = ml_collections.ConfigDict()
    c.train.optimizer = "adam"
    c.train.steps = 3000
    c.train.batch_size = 256  # 0 = full batch
    c.train.eval_every = 100  # the loss curves are sampled every eval_every steps

    c.grid = ml_collections.ConfigDict()
    c.grid.method = ("random",)
    c.grid.depth = (1, 2, 3, 4, 5, 6)
    c.grid.sparsity = (0.0, 0.5, 0.7, 0.8, 0.9)
    c.grid.lr = (3e-3,)
    c.grid.weight_decay = (0.0,)
    c.grid.seed = (0, 1, 2, 3)

    c.pruning = ml_collections.ConfigDict()
    c.pruning.rounds = 3  # R for imp and sp (magnitude is one round)
    c.pruning.rewind_frac = 0.01  # rewind to step k = round(rewind_frac * train.steps)
    c.pruning.scope = "layer"  # top-k per layer, or 'global' over all active layers
    c.pruning.snip_batch = 256
    c.pruning.synflow_rounds = 100
    c.pruning.sp_similarity = "overlap"
    c.pruning.sp_gamma = 1.0
    c.pruning.sp_inputs = 512  # training inputs used for SP's signatures

    c.metrics = ml_collections.ConfigDict()
    c.metrics.enabled = True  # compute the compositionality metrics for every point inside the run
    c.metrics.fit_r2 = 0.95  # fit = test R^2 >= fit_r2
    c.metrics.fit_accuracy = 0.99  # Boolean families: fit = test accuracy >= fit_accuracy
    c.metrics.local_tau = 0.9  # a unit is local to node v when >= tau of its signature lies in S_v
    c.metrics.compositional_r2 = 0.9  # compositional = fit and min_v r2_restricted[v] >= this
    c.metrics.ridge = 1e-3  # ridge penalty of the probes (on standardised units)
    c.metrics.dead_eps = 1e-6  # a unit whose mean |d a_u / d x| total is below this is dead
    c.metrics.n_signature = 1024  # inputs used to estimate unit signatures
    c.metrics.n_probe_train = 2048
    c.metrics.n_probe_test = 1024

    c.engine = ml_collections.ConfigDict()
    c.engine.depth_mode = "group"  # group: one program per depth inside the jit; pad: identity layers
    c.engine.chunk_size = 0  # points per (method, depth) group per call; 0 = auto (CPU: ~8 per device, else all)
    c.engine.save_params = True
    return c


def _fail(field, value, allowed):
    raise ConfigError(f"config.{field}={value!r} is invalid: allowed values are {allowed}")


def _check_keys(cfg, schema, prefix=""):
    for key in cfg.keys():
        if key not in schema:
            _fail(f"{prefix}{key}", cfg[key], f"the keys of config.{prefix or ''}: {sorted(schema.keys())}")
        if isinstance(schema[key], ml_collections.ConfigDict):
            if not isinstance(cfg[key], ml_collections.ConfigDict):
                _fail(f"{prefix}{key}", cfg[key], "a ConfigDict")
            _check_keys(cfg[key], schema[key], f"{prefix}{key}.")


def _int(field, value, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        _fail(field, value, f"an integer >= {low}")
    return int(value)


def validate(cfg: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Checks every field against the schema; raises ConfigError before any compute. Returns cfg."""
    _check_keys(cfg, default_config())
    t, m, tr, g, e = cfg.target, cfg.model, cfg.train, cfg.grid, cfg.engine
    if t.family not in TARGET_FAMILIES:
        _fail("target.family", t.family, TARGET_FAMILIES)
    if t.family == "expr":
        from sweetspot import expr

        try:
            expr.parse(t.expr)
        except ValueError as err:
            raise ConfigError(f"config.target.expr={t.expr!r} is invalid: {err}") from None
    _int("target.arity", t.arity, 2)
    _int("target.levels", t.levels, 1)
    _int("target.n_distractors", t.n_distractors, 0)
    if isinstance(t.input_noise, bool) or not isinstance(t.input_noise, numbers.Real) or not t.input_noise >= 0:
        _fail("target.input_noise", t.input_noise, "a number >= 0")
    if t.family in ("boolean", "parity", "modular"):
        from sweetspot import boolean, targets

        if t.family == "boolean" and (isinstance(t.gates, str) or not t.gates or set(t.gates) - set(boolean.GATES)):
            _fail("target.gates", t.gates, f"a non-empty tuple of gates from {sorted(boolean.GATES)}")
        try:
            targets.make_target(t)
        except ValueError as err:
            raise ConfigError(f"config.target is invalid for family {t.family!r}: {err}") from None
    for f in ("n_reference", "n_train", "n_test", "n_heldout"):
        _int(f"target.{f}", t[f], 16)
    if m.activation not in ACTIVATIONS:
        _fail("model.activation", m.activation, ACTIVATIONS)
    _int("model.width", m.width, 1)
    if tr.optimizer not in OPTIMIZERS:
        _fail("train.optimizer", tr.optimizer, OPTIMIZERS)
    _int("train.steps", tr.steps, 1)
    _int("train.batch_size", tr.batch_size, 0)
    if tr.batch_size > t.n_train:
        _fail("train.batch_size", tr.batch_size, f"0 (full batch) or 1..target.n_train={t.n_train}")
    _int("train.eval_every", tr.eval_every, 1)
    if tr.steps % tr.eval_every:
        _fail("train.eval_every", tr.eval_every, f"a divisor of train.steps={tr.steps}")
    for axis in AXES:
        values = g[axis]
        if isinstance(values, (str, numbers.Number)):
            _fail(f"grid.{axis}", values, "a non-empty tuple of values")
        if len(values) == 0:
            _fail(f"grid.{axis}", values, "a non-empty tuple of values")
        if len(set(values)) != len(values):
            _fail(f"grid.{axis}", values, "distinct values")
    for v in g.method:
        base = v[len("shuffled:") :] if isinstance(v, str) and v.startswith("shuffled:") else v
        if base not in METHODS or (base == "dense" and v != base):
            _fail("grid.method", v, METHODS + tuple(f"shuffled:{m}" for m in METHODS if m != "dense"))
    p = cfg.pruning
    _int("pruning.rounds", p.rounds, 1)
    _int("pruning.snip_batch", p.snip_batch, 1)
    _int("pruning.synflow_rounds", p.synflow_rounds, 1)
    _int("pruning.sp_inputs", p.sp_inputs, 1)
    if not 0.0 <= p.rewind_frac < 1.0:
        _fail("pruning.rewind_frac", p.rewind_frac, "a number in [0, 1)")
    if p.scope not in SCOPES:
        _fail("pruning.scope", p.scope, SCOPES)
    if p.sp_similarity not in SP_SIMILARITIES:
        _fail("pruning.sp_similarity", p.sp_similarity, SP_SIMILARITIES)
    for v in g.depth:
        _int("grid.depth", v, 1)
    for v in g.seed:
        _int("grid.seed", v, 0)
    for v in g.sparsity:
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0.0 <= v < 1.0:
            _fail("grid.sparsity", v, "numbers in [0, 1)")
    for v in g.lr:
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not v > 0:
            _fail("grid.lr", v, "numbers > 0")
    for v in g.weight_decay:
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not v >= 0:
            _fail("grid.weight_decay", v, "numbers >= 0")
    if e.depth_mode not in DEPTH_MODES:
        _fail("engine.depth_mode", e.depth_mode, DEPTH_MODES)
    _int("engine.chunk_size", e.chunk_size, 0)
    return cfg
