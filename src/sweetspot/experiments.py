"""The experiment registry: every experiment of docs/results.md (E1-E7, T0-T3) declared once, with the sweeps
`make figures` runs for it (their order, stages and the runs a stage reads), the tag its runs carry
(`cfg.experiment`) and the analysis module that draws its section. `analysis/make_figures.py`, the report's section
order (`sweetspot.analysis.report.ANALYSES`) and E5's pooling read it.

Adding an experiment touches three files: its sweep config (sweeps/NAME.py, setting `cfg.experiment`), its analysis
module (sweetspot/analysis/NAME.py: TITLE, select, make) and one `Experiment(...)` entry below
(docs/architecture.md, "Adding an experiment"). tests/test_registry.py checks that every experiment, analysis and
run is declared exactly once.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Sweep:
    """One run of `make figures`: `python -m sweetspot sweep CONFIG --out RUNS/RUN`.

    chain: the sweeps of one chain run in order (default: a chain of its own); a stage reads runs earlier in its
    chain. depth_from = (run, metric): the sweep runs at that run's peak depth of `metric`
    (`analysis/e2_depth.py --peak`). sparsity_from = run: at SP's sparsity selected on that run (E7).
    report: handed to the report. quick: part of `make figures-quick` (which keeps each sweep's first two seeds)."""

    run: str
    config: str
    chain: str = ""
    depth_from: tuple[str, str] | None = None
    sparsity_from: str | None = None
    report: bool = True
    quick: bool = False


@dataclasses.dataclass(frozen=True)
class Experiment:
    """name: as docs/results.md cites it. tags: the `cfg.experiment` values of its runs (a value ending in "/" is
    a prefix: "e2/" matches "e2/tree_L3"). analysis: its module in sweetspot.analysis (None: no section of its
    own). reads: the experiments whose runs its analysis reads besides its own."""

    name: str
    analysis: str | None
    tags: tuple[str, ...] = ()
    sweeps: tuple[Sweep, ...] = ()
    reads: tuple[str, ...] = ()

    def owns(self, tag: str) -> bool:
        """Whether a run with `cfg.experiment == tag` belongs to this experiment."""
        return any(tag == t or (t.endswith("/") and tag.startswith(t)) for t in self.tags)


E1_INSTANCES = ("0", "1", "2")  # target.seed of the tree target: claims are about the family, not one tree
# tree_L4 and expr_d5 fit at no depth at CPU scale: they run only at their ,full size (docs/results.md, E2).
E2_TARGETS = ("tree_L2", "tree_L3", "tree_k3", "boolean", "parity", "modular", "expr", "additive", "expr_d4")
E2_TARGETS += ("boolean_L4", "expr_d5_pl", "boolean_L5")
E2_INSTANCES = {"tree_L3": ("1", "2")}  # extra target instances beyond instance 0
E3_TARGETS = ("tree_L3", "boolean")
# Their four exemplars and one member of each of their two series (the other series members: run them by name,
# docs/sculpting.md); the make figures budget.
E6_TASKS = ("424", "414", "41216", "6333", "4124", "82124")
E6_THRESHOLD_TASKS = ("414", "4124")  # the diagnostic reading (docs/sculpting.md)
E7_TARGETS = ("judge_tree_perm", "judge_tree_reuse", "judge_expr3", "judge_boolean")
T1_LEVELS = ("L2", "L3", "L4", "L5")
QUICK = {"e1_i0", "e2_tree_L3", "e2_boolean", "e6_414", "e6thr_414", "t1_L2", "t1_L3", "t2"}
QUICK |= {f"e3_{t}" for t in E3_TARGETS} | {f"{s}_{E7_TARGETS[0]}" for s in ("e7peak", "e7select", "e7")}


def _e1():
    return tuple(Sweep(f"e1_i{i}", f"sweeps/e1_regime.py:{i}", chain="e1") for i in E1_INSTANCES)


def _e2():
    out = []
    for t in E2_TARGETS:
        out.append(Sweep(f"e2_{t}", f"sweeps/e2_depth.py:{t}"))
        out += [Sweep(f"e2_{t}_i{i}", f"sweeps/e2_depth.py:{t},{i}", chain=f"e2_{t}") for i in E2_INSTANCES.get(t, ())]
    return tuple(out)


def _e3():  # at the IIA_das peak of the target's E2 run, after it in its chain
    c = "sweeps/e3_connectivity.py"
    return tuple(Sweep(f"e3_{t}", f"{c}:{t}", chain=f"e2_{t}", depth_from=(f"e2_{t}", "IIA_das")) for t in E3_TARGETS)


def _e6():
    out = [Sweep(f"e6_{t}", f"sweeps/e6_sculpting.py:{t}") for t in E6_TASKS]
    c = "sweeps/e6_sculpting.py"
    return tuple(out + [Sweep(f"e6thr_{t}", f"{c}:{t},tables=threshold", chain=f"e6_{t}") for t in E6_THRESHOLD_TASKS])


def _e7():  # per target: peak (C peak, not reported) -> SP's sparsity selected at that depth -> judge at both
    out = []
    for t in E7_TARGETS:
        cfg, chain, depth = f"sweeps/sp_judging.py:{t}", f"e7_{t}", (f"e7peak_{t}", "C")
        out.append(Sweep(f"e7peak_{t}", f"{cfg},peak", chain=chain, report=False))
        out.append(Sweep(f"e7select_{t}", f"{cfg},select", chain=chain, depth_from=depth))
        out.append(Sweep(f"e7_{t}", cfg, chain=chain, depth_from=depth, sparsity_from=f"e7select_{t}"))
    return tuple(out)


def _quick(sweeps):
    return tuple(dataclasses.replace(s, quick=s.run in QUICK) for s in sweeps)


# Report order. Each analysis appears once; E4 and E5 read other experiments' runs; T0 and T3 run no sweep.
EXPERIMENTS = (
    Experiment("E1", "e1_regime", ("e1", ""), _quick(_e1())),
    Experiment("E2", "e2_depth", ("e2/",), _quick(_e2())),
    Experiment("E3", "e3_connectivity", ("e3/",), _quick(_e3()), reads=("E2",)),
    Experiment("E4", "e4_fractured", reads=("E1",)),
    Experiment("E5", "e5_generalization", reads=("E1", "E2", "E3", "E7", "T1", "T2")),
    Experiment("E6", "e6_sculpting", ("e6/",), _quick(_e6())),
    Experiment("E7", "e7_sp_recovery", ("e7/", "e7select/", "e7peak/"), _quick(_e7())),
    Experiment("wiring", "wiring", reads=("E3", "E1")),
    Experiment("T0", "t0_depth_predictor", reads=("E2",)),
    Experiment("T1", "t1_sparsity", ("t1/",), _quick(tuple(Sweep(f"t1_{t}", f"sweeps/t1_sparsity.py:{t}")
                                                           for t in T1_LEVELS))),
    Experiment("T2", "t2_volume", ("t2",), _quick((Sweep("t2", "sweeps/t2_volume.py"),))),
    Experiment("T3", "t3_interference", reads=("E1", "E2", "E3", "E7", "T1", "T2")),
)  # fmt: skip

BY_NAME = {e.name: e for e in EXPERIMENTS}
ANALYSES = tuple(e.analysis for e in EXPERIMENTS if e.analysis)


def experiment_of(tag: str) -> Experiment | None:
    """The experiment whose runs carry `cfg.experiment == tag` (None: a run no experiment declares)."""
    return next((e for e in EXPERIMENTS if e.owns(tag)), None)


def pools(name: str, tag: str) -> bool:
    """Whether experiment `name`'s analysis reads a run tagged `tag`: its own or one of `reads`."""
    e = experiment_of(tag)
    return e is not None and (e.name == name or e.name in BY_NAME[name].reads)


def sweeps(names=None, quick: bool = False) -> list[Sweep]:
    """The sweeps of the experiments `names` (default: all) and the runs their stages read, in registry order;
    quick: only the quick ones."""
    chosen = {n.lower() for n in names} if names is not None else {e.name.lower() for e in EXPERIMENTS}
    every = [s for e in EXPERIMENTS for s in e.sweeps if s.quick or not quick]
    want = {s.run for e in EXPERIMENTS if e.name.lower() in chosen for s in e.sweeps}
    want |= {r for s in every if s.run in want for r in ((s.depth_from or ("",))[0], s.sparsity_from) if r}
    return [s for s in every if s.run in want]
