"""analysis/make_figures.py's scheduler: chains keep their order, --jobs chains run at once, the report gets the
runs in the same order whatever --jobs is, and a failing sweep stops the others. Sweeps and the report are
replaced by recorders: this checks the plan, not the science."""

import importlib.util
import os
import subprocess
import threading
import time

import pytest

from sweetspot import experiments as ex

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SCRIPT = os.path.join(ROOT, "analysis", "make_figures.py")


@pytest.fixture()
def mf():
    spec = importlib.util.spec_from_file_location("make_figures", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _record(mf, monkeypatch, fail=None, delay=0.0):
    """Replaces the sweeps (recording start, end and arguments; their configs in report["configs"]), the peak
    readers and the report call. With `fail`, that sweep fails and every other one ends only after it has
    failed."""
    log, lock, report, failed = [], threading.Lock(), {}, threading.Event()

    def sweep(config, out, extra=()):
        name = os.path.basename(out)
        with lock:
            log.append(("start", name, tuple(extra)))
            report.setdefault("configs", []).append(config)
        time.sleep(delay)
        if name == fail:
            failed.set()
            raise subprocess.CalledProcessError(1, ["sweep", config])
        if fail:
            failed.wait(10)
            time.sleep(0.2)
        with lock:
            log.append(("end", name, ()))
        return 1.0

    def reader(value):
        """A peak or sparsity reader that checks its run has ended and answers from the run's name."""

        def read(run, metric=None):
            with lock:
                assert ("end", os.path.basename(run), ()) in log, f"{run} read before it ended"
            return value(os.path.basename(run))

        return read

    monkeypatch.setattr(mf, "sweep", sweep)
    monkeypatch.setattr(mf, "peak", reader(lambda name: len(name)))
    monkeypatch.setattr(mf, "sp_sparsity", reader(lambda name: f"0.{len(name)}"))
    monkeypatch.setattr(mf.subprocess, "run", lambda cmd, check: report.setdefault("cmd", cmd))
    monkeypatch.setattr(mf, "quick_seeds", lambda config: "--config.grid.seed=(0, 1)")
    return log, report


def _old_order(runs):
    """The order in which make_figures handed the runs to the report before chains (one sweep at a time)."""
    names = [f"e1_i{i}" for i in ex.E1_INSTANCES]
    for t in ex.E2_TARGETS:
        names += [f"e2_{t}"] + [f"e2_{t}_i{i}" for i in ex.E2_INSTANCES.get(t, ())]
    names += [f"e3_{t}" for t in ex.E3_TARGETS]
    names += [f"e6_{t}" for t in ex.E6_TASKS] + [f"e6thr_{t}" for t in ex.E6_THRESHOLD_TASKS]
    for t in ex.E7_TARGETS:
        names += [f"e7select_{t}", f"e7_{t}"]
    names += [f"t1_{t}" for t in ex.T1_LEVELS] + ["t2"]
    return [os.path.join(runs, n) for n in names]


@pytest.mark.parametrize("jobs", [1, 2])
def test_chains_keep_order_and_report_order(mf, monkeypatch, tmp_path, jobs):
    log, report = _record(mf, monkeypatch, delay=0.01)
    runs, out = str(tmp_path / "runs"), str(tmp_path / "report")
    mf.main(["--runs", runs, "--out", out, "--jobs", str(jobs)])
    dirs = report["cmd"][report["cmd"].index("report") + 1 : report["cmd"].index("--out")]
    assert dirs == _old_order(runs)
    ends = [n for kind, n, _ in log if kind == "end"]
    starts = {n: (i, extra) for i, (kind, n, extra) in enumerate(log) if kind == "start"}
    done_before = lambda a, b: log.index(("end", a, ())) < starts[b][0]
    assert len(ends) == len(starts) == len(dirs) + len(ex.E7_TARGETS)  # every sweep once; e7 peaks not reported
    for t in ex.E3_TARGETS:  # each reads its own E2 run's peak (the stand-in answers the name's length)
        assert done_before(f"e2_{t}", f"e3_{t}")
        assert starts[f"e3_{t}"][1] == (f"--config.grid.depth=({len(f'e2_{t}')},)",)
    for t in ex.E7_TARGETS:
        assert done_before(f"e7peak_{t}", f"e7select_{t}") and done_before(f"e7select_{t}", f"e7_{t}")
        depth, sparsity = f"--config.grid.depth=({len(f'e7peak_{t}')},)", f"0.{len(f'e7select_{t}')}"
        assert starts[f"e7select_{t}"][1] == (depth,)
        assert starts[f"e7_{t}"][1] == (depth, f"--config.grid.sparsity=({sparsity},)")
    assert done_before("e1_i0", "e1_i1") and done_before("e1_i1", "e1_i2")
    running, most = 0, 0
    for kind, *_ in log:
        running += 1 if kind == "start" else -1
        most = max(most, running)
    assert most == jobs
    with open(os.path.join(out, "timings.csv")) as f:
        assert len(f.readlines()) == 1 + len(starts)


def test_a_failing_sweep_stops_the_rest(mf, monkeypatch, tmp_path):
    log, report = _record(mf, monkeypatch, fail="e2_tree_L2")
    with pytest.raises(subprocess.CalledProcessError):
        mf.main(["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "report"), "--jobs", "2"])
    started = {n for kind, n, _ in log if kind == "start"}
    assert "e2_tree_L2" in started and started <= {"e1_i0", "e2_tree_L2"}  # nothing starts after the failure
    assert "cmd" not in report  # no report from an incomplete set of runs


def test_real_sweeps_prefixed_and_stopped(mf, monkeypatch, tmp_path, capsys):
    # sweep() with a stand-in interpreter: its lines come out prefixed with the run's name, a failing sweep
    # raises, and run_chains terminates the sweep running beside it (which would otherwise sleep 60 s).
    fake = tmp_path / "fakepy"
    fake.write_text('#!/bin/sh\necho "chunk 1/1 done $4"\ncase "$4" in fail) exit 3;; slow) exec sleep 60;; esac\n')
    fake.chmod(0o755)
    monkeypatch.setattr(mf.sys, "executable", str(fake))
    assert mf.sweep("ok", str(tmp_path / "a")) >= 0
    assert "[a] chunk 1/1 done ok" in capsys.readouterr().out
    t0 = time.time()
    slow = lambda: mf.sweep("slow", str(tmp_path / "b"))
    fail = lambda: (time.sleep(0.5), mf.sweep("fail", str(tmp_path / "c")))
    with pytest.raises(subprocess.CalledProcessError):
        mf.run_chains([[slow], [fail]], 2)
    assert time.time() - t0 < 30 and not mf._RUNNING
    with pytest.raises(mf.Stopped, match="not started"):  # after a failure no sweep starts
        mf.sweep("ok", str(tmp_path / "d"))
    assert "[d]" not in capsys.readouterr().out


def test_bad_jobs_refused_before_any_sweep(mf, monkeypatch, tmp_path):
    log, _ = _record(mf, monkeypatch)
    with pytest.raises(SystemExit, match="--jobs=0 is invalid: allowed values are integers >= 1"):
        mf.main(["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "report"), "--jobs", "0"])
    assert log == []


def test_every_sweep_it_runs_uses_the_default_engine(mf, monkeypatch, tmp_path):
    """Every sweep `make figures` runs starts from the default config's depth mode (docs/results.md says which
    commit and mode made the committed results)."""
    from sweetspot import config

    _, report = _record(mf, monkeypatch)
    mf.main(["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "report"), "--jobs", "1"])
    assert len(report["configs"]) > 40
    default = config.default_config().engine.depth_mode
    for spec in report["configs"]:
        assert config.load_config(os.path.join(ROOT, spec), []).engine.depth_mode == default


def test_quick_runs_the_registrys_quick_sweeps_at_two_seeds_and_says_so(mf, monkeypatch, tmp_path):
    """`make figures-quick`: every experiment with sweeps, one instance, each sweep's first two seeds, and the
    report told that it is no verdict."""
    log, report = _record(mf, monkeypatch)
    monkeypatch.setattr(mf, "quick_seeds", lambda config: f"--config.grid.seed=first-two-of:{config}")
    mf.main(["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "report"), "--jobs", "2", "--quick"])
    starts = {n: extra for kind, n, extra in log if kind == "start"}
    assert set(starts) == {s.run for s in ex.sweeps(quick=True)}
    for s in ex.sweeps(quick=True):
        assert starts[s.run][0] == f"--config.grid.seed=first-two-of:{s.config}"
    assert report["cmd"][-2:] == ["--note", mf.QUICK_NOTE] and "not a verdict" in mf.QUICK_NOTE


def test_quick_seeds_reads_the_sweep_config(mf):
    assert mf.quick_seeds("sweeps/e1_regime.py:0") == "--config.grid.seed=(0, 1)"
    assert mf.quick_seeds("sweeps/sp_judging.py:judge_boolean,peak") == "--config.grid.seed=(100, 101)"


def test_unknown_experiment_refused_before_any_sweep(mf, monkeypatch, tmp_path):
    log, _ = _record(mf, monkeypatch)
    with pytest.raises(SystemExit, match="--only='e1,e9'.*unknown: allowed values are e1,e2,e3,e6,e7,t1,t2"):
        mf.main(["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "report"), "--only", "e1,e9"])
    assert log == []


def test_figures_quick_runs_for_real_at_a_tiny_size(tmp_path):
    """`make figures-quick` end to end, for real, at a tiny size: E7's three stages (each reading its depth or
    sparsity from the run before it), then the report, whose every section carries the quick note."""
    import json
    import sys

    runs, out = tmp_path / "runs", tmp_path / "report"
    cmd = [sys.executable, SCRIPT, "--quick", "--only", "e7", "--runs", str(runs), "--out", str(out), "--jobs", "1"]
    cmd += ["--set", "train.steps=40", "--set", "train.eval_every=20"]
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)
    t = ex.E7_TARGETS[0]
    metas = {s: json.load(open(runs / f"{s}_{t}" / "meta.json")) for s in ("e7peak", "e7select", "e7")}
    assert {m["status"] for m in metas.values()} == {"complete"}
    from sweetspot.analysis import base, e2_depth, e7_sp_recovery

    depth = e2_depth.peak_depth([base.load_run(str(runs / f"e7peak_{t}"))], "C") or 3
    sparsity = e7_sp_recovery.selected_sparsity(base.load_run(str(runs / f"e7select_{t}")))
    judge = metas["e7"]["config"]["grid"]
    assert list(judge["depth"]) == [depth] and list(judge["sparsity"]) == [sparsity]
    assert list(judge["seed"]) == [0, 1] and metas["e7"]["config"]["train"]["steps"] == 40
    index = open(out / "index.html").read()
    assert index.count("not a verdict") >= 2  # under the title and at the head of the E7 section
