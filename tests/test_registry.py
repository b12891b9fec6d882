"""The experiment registry (sweetspot/experiments.py): every experiment, analysis module and run declared exactly
once; every sweep config it names exists and loads; stages read only runs before them in their chain; the report's
sections and make figures follow it."""

import collections
import importlib
import os
import pkgutil

from sweetspot import analysis, config, experiments
from sweetspot.analysis import report

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def _dupes(xs):
    return [x for x, n in collections.Counter(xs).items() if n > 1]


def test_every_experiment_analysis_and_run_declared_once():
    assert _dupes(e.name for e in experiments.EXPERIMENTS) == []
    assert _dupes(experiments.ANALYSES) == []
    assert _dupes(s.run for e in experiments.EXPERIMENTS for s in e.sweeps) == []
    sections = set()
    for m in pkgutil.iter_modules(analysis.__path__):
        mod = importlib.import_module(f"sweetspot.analysis.{m.name}")
        if all(hasattr(mod, a) for a in ("TITLE", "select", "make")):
            sections.add(m.name)
    assert sections == set(experiments.ANALYSES), "an analysis module with a section must have one registry entry"
    assert [m.__name__.rsplit(".", 1)[1] for m in report.ANALYSES] == list(experiments.ANALYSES)


def test_each_tag_belongs_to_one_experiment_and_reads_name_experiments():
    tags = [t for e in experiments.EXPERIMENTS for t in e.tags]
    assert _dupes(tags) == []
    for e in experiments.EXPERIMENTS:
        assert set(e.reads) <= set(experiments.BY_NAME) - {e.name}, e.name
    assert experiments.experiment_of("e2/tree_L3").name == "E2"
    assert experiments.experiment_of("e7select/judge_boolean").name == "E7"
    assert experiments.experiment_of("").name == "E1"  # untagged regime maps (make demo) are E1's
    assert experiments.experiment_of("e9/new") is None
    assert experiments.pools("E5", "e3/boolean") and not experiments.pools("E5", "e6/424")


def test_sweep_configs_load_and_carry_their_experiments_tag():
    """Every sweep the registry runs exists, loads, and writes runs its own experiment owns."""
    for e in experiments.EXPERIMENTS:
        for s in e.sweeps:
            cfg = config.load_config(os.path.join(ROOT, s.config), [])
            assert e.owns(cfg.experiment), (s.run, cfg.experiment)
            assert len(cfg.grid.seed) >= 2, s.run  # figures-quick keeps two


def test_stages_read_runs_earlier_in_their_chain():
    order = {}
    for s in experiments.sweeps():
        order.setdefault(s.chain or s.run, []).append(s.run)
    for s in experiments.sweeps():
        chain = order[s.chain or s.run]
        for dep in filter(None, ((s.depth_from or (None,))[0], s.sparsity_from)):
            assert dep in chain and chain.index(dep) < chain.index(s.run), (s.run, dep)


def test_quick_keeps_every_experiment_and_its_dependencies():
    quick = experiments.sweeps(quick=True)
    names = {s.run for s in quick}
    for e in experiments.EXPERIMENTS:
        if e.sweeps:
            assert any(s.run in names for s in e.sweeps), f"{e.name} has no quick sweep"
    for s in quick:
        for dep in filter(None, ((s.depth_from or (None,))[0], s.sparsity_from)):
            assert dep in names, (s.run, dep)
    assert not any(r.endswith(("_i1", "_i2")) for r in names)  # one instance
    # --only e3 brings the E2 runs it reads its depth from, and nothing else of E2
    only = [s.run for s in experiments.sweeps(["e3"])]
    assert only == [f"e2_{t}" for t in experiments.E3_TARGETS] + [f"e3_{t}" for t in experiments.E3_TARGETS]


def test_every_sweep_builds_its_target_and_splits():
    """Each sweep `make figures` runs builds its target and its train/held-out split (a split that would leave a
    constituent unidentifiable is refused at data time, after other sweeps have run: check them all here)."""
    from sweetspot import targets

    for s in experiments.sweeps():
        cfg = config.load_config(os.path.join(ROOT, s.config), [])
        targets.make_splits(targets.make_target(cfg.target), cfg.target)
