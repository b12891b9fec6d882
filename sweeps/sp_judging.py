"""E7 SP on judging targets (issue 13): does similarity-based pruning recover the compositional wiring, and beat
every baseline, on targets never used to tune it? Four judging targets (sweetspot.targets.zoo, `judge_*`): a
permuted-leaf tree, a DAG-reuse tree, an arity-3 user expression of depth 3 and a Boolean gate tree. SP's
tuning target is the default tree (k = 2, L = 3, target.seed = 0; docs/sp_variants.md), which is none of these.

Three stages per target (analysis: sweetspot.analysis.e7_sp_recovery; docs/results.md, claim 3a):
- `peak` (E2's protocol, narrowed): sp at sparsity 0.8 (E2's best sparsity on every target with a peak),
  depths 2-5, seeds 100-102 (never measured), 2,000 steps; the peak depth is E2's rule
  (`python analysis/e2_depth.py --peak RUN`).
- `select`: sp at the peak depth, sparsities 0.7, 0.8, 0.9, seeds 100-103 (never measured); SP's sparsity is
  the rule of sweetspot.analysis.e7_sp_recovery (`python analysis/e7_sp_recovery.py --sparsity RUN`).
- `judge` (default): methods sp, imp, magnitude, random, oracle at the peak depth and SP's selected sparsity,
  seeds 0-7, metrics on, params saved (wiring recovery reads the masks).
`select` and `judge` train 3,000 steps (the default, as E1, E3 and the SP variant record).

CPU default, one target (`make figures` runs all four in this order):
    python -m sweetspot sweep sweeps/sp_judging.py:judge_tree_perm,peak --out runs/e7peak_judge_tree_perm
    D=$(python analysis/e2_depth.py --peak runs/e7peak_judge_tree_perm)
    python -m sweetspot sweep sweeps/sp_judging.py:judge_tree_perm,select --out runs/e7select_judge_tree_perm \
        --config.grid.depth="($D,)"
    S=$(python analysis/e7_sp_recovery.py --sparsity runs/e7select_judge_tree_perm)
    python -m sweetspot sweep sweeps/sp_judging.py:judge_tree_perm --out runs/e7_judge_tree_perm \
        --config.grid.depth="($D,)" --config.grid.sparsity="($S,)"
Without the overrides `select` and `judge` run at PEAK[target] (the peaks measured on 2026-11-30: tree targets 4,
judge_boolean 3, judge_expr3 3 = the fallback, as it fits at no depth) and sparsity 0.8.
SP variants are tried on the tuning target only (docs/sp_variants.md), e.g.
    python -m sweetspot sweep sweeps/sp_judging.py:tree_L3,select --out runs/e7tune_R5 --config.pruning.rounds=5
GPU-sized: append ',full' (width 64, 8,000 steps; 8 peak, 8 selection and 16 measurement seeds).
Report: python analysis/e7_sp_recovery.py runs/e7_* runs/e7select_* --out report
"""

from sweetspot.config import default_config, parse_arg
from sweetspot.targets import zoo

TARGETS = ("judge_tree_perm", "judge_tree_reuse", "judge_expr3", "judge_boolean")
METHODS = ("sp", "imp", "magnitude", "random", "oracle")
TUNING = "tree_L3"  # SP's tuning target (docs/sp_variants.md): `select` only, to try SP variants before judging
PEAK = {"judge_tree_perm": 4, "judge_tree_reuse": 4, "judge_expr3": 3, "judge_boolean": 3, TUNING: 3}


def get_config(arg: str | None = None):
    a = parse_arg(
        arg,
        target=("judge_tree_perm", TARGETS + (TUNING,)),
        stage=("judge", ("judge", "select", "peak")),
        size=("cpu", ("cpu", "full")),
    )
    cfg = zoo.apply(default_config(), a.target)
    cfg.metrics.enabled = True
    cfg.engine.save_params = True
    full = a.size == "full"
    if full:
        cfg.model.width, cfg.train.steps = 64, 8000
    if a.stage == "peak":
        cfg.experiment = f"e7peak/{a.target}"
        cfg.grid.method, cfg.grid.sparsity = ("sp",), (0.8,)
        cfg.grid.depth = (1, 2, 3, 4, 5, 6) if full else (2, 3, 4, 5)
        cfg.grid.seed = tuple(range(100, 108 if full else 103))
        cfg.train.steps = 8000 if full else 2000
        return cfg
    cfg.grid.depth = (PEAK[a.target],)
    if a.stage == "select":
        cfg.experiment = f"e7select/{a.target}"
        cfg.grid.method, cfg.grid.sparsity = ("sp",), (0.7, 0.8, 0.9)
        cfg.grid.seed = tuple(range(100, 108 if full else 104))
        return cfg
    if a.target == TUNING:
        raise ValueError(f"get_config(arg={arg!r}): the tuning target {TUNING} runs only the select stage")
    cfg.experiment = f"e7/{a.target}"
    cfg.grid.method, cfg.grid.sparsity = METHODS, (0.8,)
    cfg.grid.seed = tuple(range(16 if full else 8))
    return cfg
