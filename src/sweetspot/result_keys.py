"""The result schema: every key a grid point reports and the shape of its value. docs/method.md, "Results".

The engine's results are a plain dict {key: (n_points, ...)}; this table says what the trailing axes are, so
that the per-layer padding (train), the CSV columns (results), the checkpoints and the analyses agree. A new
metric adds one line here. Kinds (shapes per point; L = the grid's largest depth, P = probe nodes, E = curve
samples) below.

With `metrics.at_steps` given, every key but the curves is measured at each of the S steps of
`config.step_values` and gains a step axis first: (S, ...) per point, (n_points, S, ...) in the engine's results;
results.csv has one row per point and step (its `step` column). With at_steps = () there is no step axis: one
value per point, at the final step (`per_step`, `results.final_step`).
"""

from __future__ import annotations

SCALAR = "scalar"  # ()                      -> CSV column NAME
LAYERS_READOUT = "layers+readout"  # (L + 1,)  h0 .. h{L-1}, out -> NAME_h0 .. NAME_out
PER_LAYER = "per-layer"  # (L,)              NaN past the point's depth -> NAME (minus "_layers")_h{l}
PER_NODE = "per-node"  # (P,)                -> NAME_v{node id}
PER_NODE_LAYER = "per-node-per-layer"  # (P, L)  checkpoint only
CURVE = "curve"  # (E,)                      checkpoint only

RESULT_KEYS: dict[str, str] = {
    # fit (train.evaluate)
    "test_acc": SCALAR,  # Boolean families only
    "heldout_acc": SCALAR,  # Boolean families only
    "train_loss": SCALAR,
    "test_loss": SCALAR,
    "heldout_loss": SCALAR,
    "test_r2": SCALAR,
    "gen_ratio": SCALAR,
    "realised_sparsity": SCALAR,
    "live_params": SCALAR,
    "layer_sparsity": LAYERS_READOUT,
    # training (train.make_train)
    "curve_train": CURVE,
    "curve_test": CURVE,
    "diverged": SCALAR,
    "converged": SCALAR,  # train.converged: the train loss curve's plateau test at the step
    "disconnected_inputs": SCALAR,
    # compositionality (metrics.compute)
    "fit": SCALAR,
    "unfit": SCALAR,
    "compositional": SCALAR,
    "fractured": SCALAR,
    "modular": SCALAR,  # compositional on the search restricted to each node's local units
    "compositional_local": SCALAR,  # the local-unit label: fit, min_v r2_restricted and min_v iia thresholds
    "compositional_probe": SCALAR,  # the probe-only label: fit and min_v r2_restricted >= compositional_r2
    "compositional_home": SCALAR,  # the label with iia_home in place of iia
    "C": SCALAR,
    "IIA": SCALAR,
    "IIA_home": SCALAR,
    "IIA_control": SCALAR,
    "iia_min": SCALAR,
    "vacuous_nodes": SCALAR,
    "r2_restricted": PER_NODE,
    "r2_any": PER_NODE,
    "fracture_gap": PER_NODE,
    "iia": PER_NODE,
    "iia_home": PER_NODE,
    "iia_control": PER_NODE,
    "r2_restricted_layers": PER_NODE_LAYER,
    "r2_any_layers": PER_NODE_LAYER,
    "iia_layers": PER_NODE_LAYER,
    "n_local": PER_NODE_LAYER,
    # the distributed causal score (das.py)
    "IIA_das": SCALAR,
    "iia_das_min": SCALAR,
    "IIA_das_local": SCALAR,
    "IIA_das_control": SCALAR,
    "IIA_subst": SCALAR,
    "das_crosstalk_max": SCALAR,
    "iia_das": PER_NODE,
    "iia_das_layer": PER_NODE,
    "iia_das_local": PER_NODE,
    "iia_das_local_layer": PER_NODE,
    "iia_das_control": PER_NODE,
    "das_crosstalk": PER_NODE,
    "iia_subst": PER_NODE,
    "iia_das_layers": PER_NODE_LAYER,
    "interference": SCALAR,
    "interference_layers": PER_LAYER,
    "purity_layers": PER_LAYER,
    "live_units_layers": PER_LAYER,
    "dead_units": SCALAR,
    # the null: the same masks on the weights training started from (train.make_train)
    "C_init": SCALAR,
    "IIA_init": SCALAR,
    "IIA_das_init": SCALAR,
    "C_gain": SCALAR,
    "IIA_gain": SCALAR,
}


def keys_of(*kinds: str) -> tuple[str, ...]:
    """The result keys of the given kinds, in schema order."""
    return tuple(k for k, kind in RESULT_KEYS.items() if kind in kinds)


def kind(key: str) -> str:
    """The kind of a result key; KeyError naming the schema for a key it does not declare."""
    if key not in RESULT_KEYS:
        raise KeyError(f"result key {key!r} is not declared in sweetspot.result_keys.RESULT_KEYS")
    return RESULT_KEYS[key]


def per_step(key: str) -> bool:
    """Whether a key is measured at every step of metrics.at_steps (all but the curves, which span the run)."""
    return kind(key) != CURVE


def csv_columns(key: str, n_slots: int, probe_nodes=()) -> list[str]:
    """The results.csv column names of a key ([] for keys kept in the checkpoint only)."""
    k = kind(key)
    if k == SCALAR:
        return [key]
    if k == LAYERS_READOUT:
        return [f"{key}_h{l}" for l in range(n_slots)] + [f"{key}_out"]
    if k == PER_LAYER:
        return [f"{key.removesuffix('_layers')}_h{l}" for l in range(n_slots)]
    if k == PER_NODE:
        return [f"{key}_v{node}" for node in probe_nodes]
    return []
