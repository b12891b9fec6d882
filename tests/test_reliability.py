"""Reliability of a run directory (docs/reliability.md): a kill at every save boundary loses nothing, a resume
on other devices is refused, --overwrite replaces only runs, --out is checked before any compute, corrupt
checkpoints give one line and a resume that recovers, a user's mistake gives one `error:` line, and two
sweeps never write the same --out."""

import os
import re
import shutil
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from conftest import tiny_config
from sweetspot import cli, rundir, sweep
from sweetspot import grid as grid_lib
from sweetspot import results as res_lib

QUIET = {"progress": lambda m: None}


class Killed(BaseException):
    """A simulated kill -9 at a save boundary (a BaseException: no `except Exception` catches it)."""


def small_config(lr=1e-2):
    """2 programs (depth 1, 2) x 2 points, chunk_size 1: 2 chunks, so 7 writes in a run."""
    c = tiny_config()
    c.grid.depth, c.grid.sparsity, c.grid.seed, c.grid.lr = (1, 2), (0.5,), (0, 1), (lr,)
    c.train.steps, c.train.eval_every = 20, 10
    c.engine.chunk_size = 1
    return c


@pytest.fixture
def fast(monkeypatch, engines):
    monkeypatch.setattr(grid_lib, "Engine", engines)


def _networks(run_dir):
    return {i: (params, masks) for i, params, masks, _ in rundir.iter_networks(run_dir)}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, engines):
    """An uninterrupted run: (its directory, results.csv bytes, every saved network)."""
    mp = pytest.MonkeyPatch()
    mp.setattr(grid_lib, "Engine", engines)
    out = str(tmp_path_factory.mktemp("ref") / "run")
    sweep.run_sweep(small_config(), out, **QUIET)
    mp.undo()
    return out, open(os.path.join(out, "results.csv"), "rb").read(), _networks(out)


def _old_run(reference, out) -> bytes:
    """A complete earlier run in `out` (the reference with a marked results.csv); returns its csv bytes."""
    shutil.copytree(reference[0], out)
    with open(os.path.join(out, "results.csv"), "ab") as f:
        f.write(b"# the old run\n")
    return open(os.path.join(out, "results.csv"), "rb").read()


def _half_write(name, real, args):
    """What a kill in the middle of the write leaves on disk (`real`: the unwrapped write)."""
    if name == "save_checkpoint":  # orbax writes a step in a temporary directory, renamed when complete
        directory, step, tree = args[:3]
        scratch = directory + ".scratch"
        real(scratch, step, tree)
        os.makedirs(directory, exist_ok=True)
        tmp = os.path.join(directory, f"{step}.orbax-checkpoint-tmp-1")
        shutil.move(os.path.join(scratch, str(step)), tmp)
        shutil.rmtree(scratch)
        for root, _, files in os.walk(tmp):
            for f in files:
                open(os.path.join(root, f), "wb").close()  # truncated
    elif name == "write_meta":
        open(os.path.join(args[0], "meta.json.tmp"), "w").write('{"schema": "sweet')
    elif name == "write_csv":
        open(args[0] + ".tmp", "w").write("point,method\n0,ra")
    elif name == "swap_in" and os.path.exists(args[1]):  # the first of its two renames
        os.replace(args[1], args[1] + ".old")


WRITES = [("res_lib", "save_checkpoint"), ("res_lib", "write_meta"), ("res_lib", "write_csv"), ("rundir", "swap_in")]


def _inject(monkeypatch, kill_at, when):
    """Counts every write of a run; raises Killed before, in the middle of, or after write number kill_at."""
    calls = []

    def wrap(name, fn):
        def inner(*args, **kw):
            n = len(calls)
            calls.append(name)
            if n == kill_at and when != "after":
                if when == "during":
                    _half_write(name, fn, args)
                raise Killed(f"{when} {name} #{n}")
            out = fn(*args, **kw)
            if n == kill_at:
                raise Killed(f"after {name} #{n}")
            return out

        return inner

    for mod, name in WRITES:
        module = res_lib if mod == "res_lib" else rundir
        monkeypatch.setattr(module, name, wrap(name, getattr(module, name)))
    return calls


def _assert_done_implies_saved(run_dir):
    """The invariant: every point the latest results step marks done has its chunk's networks on disk."""
    cfg = rundir.config_from_meta(res_lib.read_meta(run_dir))
    target, data = sweep.make_data(cfg)
    engine = grid_lib.Engine(cfg, data)
    template = {"results": engine.result_template(), "done": np.zeros(engine.grid.n_points, bool)}
    if not res_lib.checkpoint_steps(os.path.join(run_dir, "results")):
        return
    _, saved = res_lib.restore_checkpoint(os.path.join(run_dir, "results"), template)
    ptemplate = rundir.params_template(cfg, target, engine.groups, engine.chunk_size)
    for c in range(engine.n_chunks):
        points = np.concatenate([i[v] for i, v in engine.chunk_indices(c).values()])
        if saved["done"][points].any():
            res_lib.restore_checkpoint(os.path.join(run_dir, "params"), ptemplate, step=c)


# (scenario, when, write number): a fresh run writes meta, params 0, results 0, params 1, results 1, csv, meta;
# an overwrite adds the swap (write 7). The fast set holds the kills the issue names; the rest are slow.
FAST = {("fresh", "after", 1), ("fresh", "during", 1), ("fresh", "during", 2), ("overwrite", "during", 7)}
KILLS = [
    pytest.param(s, w, k, marks=() if (s, w, k) in FAST else pytest.mark.slow, id=f"{s}-{w}-{k}")
    for s, n in (("fresh", 7), ("overwrite", 8))
    for w in ("before", "during", "after")
    for k in range(n)
    if not (w == "after" and k == n - 1)
]


@pytest.mark.parametrize("scenario,when,kill_at", KILLS)
def test_a_kill_at_any_save_boundary_loses_nothing(scenario, when, kill_at, reference, fast, tmp_path, monkeypatch):
    out = str(tmp_path / "run")
    old = _old_run(reference, out) if scenario == "overwrite" else None
    with monkeypatch.context() as m:
        calls = _inject(m, kill_at, when)
        with pytest.raises(Killed):
            sweep.run_sweep(small_config(), out, overwrite=scenario == "overwrite", **QUIET)
    assert len(calls) == kill_at + 1
    staged = out + ".partial" if os.path.isdir(out + ".partial") else out
    if os.path.isfile(os.path.join(staged, "meta.json")):
        _assert_done_implies_saved(staged)
    if scenario == "overwrite" and kill_at < 7:  # the old run is untouched until the swap
        assert open(os.path.join(out, "results.csv"), "rb").read() == old
    sweep.run_sweep(small_config(), out, resume=True, **QUIET)
    assert open(os.path.join(out, "results.csv"), "rb").read() == reference[1]
    assert res_lib.read_meta(out)["status"] == "complete"
    got, want = _networks(out), reference[2]
    assert got.keys() == want.keys()
    for i in want:
        for a, b in zip(jax.tree.leaves(got[i]), jax.tree.leaves(want[i]), strict=True):
            np.testing.assert_array_equal(a, b)
    assert os.listdir(tmp_path) == ["run"]  # no .partial, .old or .lock left behind


# ------------------------------------------------------------------------------------------- corrupt files
def _corrupt(step_dir):
    for root, _, files in os.walk(step_dir):
        for f in files:
            if os.sep + "d" + os.sep in os.path.join(root, f) + os.sep or root.endswith(os.sep + "d"):
                open(os.path.join(root, f), "wb").write(b"garbage")


@pytest.mark.parametrize("damage", ["corrupt", "delete"])
def test_a_damaged_params_step_is_one_line_and_resume_recomputes_it(damage, reference, fast, tmp_path, capsys):
    out = str(tmp_path / "run")
    sweep.run_sweep(small_config(), out, **QUIET)
    step = os.path.join(out, "params", "1")
    _corrupt(step) if damage == "corrupt" else shutil.rmtree(step)
    with pytest.raises(SystemExit) as e:
        cli.main(["diagnose", out, "--point", "depth=2,seed=1"])
    msg = str(e.value)
    short = msg.replace(out, "RUN")  # the run path appears twice and its length depends on pytest's tmp dir
    assert msg.startswith("error: checkpoint") and "\n" not in msg and len(short) < 200, msg
    assert "--resume" in msg and "Traceback" not in capsys.readouterr().err
    msgs = []
    sweep.run_sweep(small_config(), out, resume=True, progress=msgs.append)
    assert any(f"step 1 is {damage if damage == 'corrupt' else 'missing'}" in m for m in msgs), msgs
    assert open(os.path.join(out, "results.csv"), "rb").read() == reference[1]
    assert _networks(out).keys() == reference[2].keys()


@pytest.mark.parametrize("damage", ["corrupt", "delete"])
def test_a_damaged_latest_results_step_resumes_from_the_one_before(damage, reference, fast, tmp_path):
    out = str(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        sweep.run_sweep(small_config(), out, stop_after=1, **QUIET)
    sweep.run_sweep(small_config(), out, resume=True, **QUIET)  # results steps 0 and 1 kept
    step = os.path.join(out, "results", "1")
    _corrupt(step) if damage == "corrupt" else shutil.rmtree(step)
    msgs = []
    sweep.run_sweep(small_config(), out, resume=True, progress=msgs.append)  # was StepAlreadyExistsError
    assert any("2/4 points already done" in m for m in msgs), msgs
    assert open(os.path.join(out, "results.csv"), "rb").read() == reference[1]


# ------------------------------------------------------------------------------------------------ devices
DEVICES = textwrap.dedent(
    """
    import os, sys
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    import jax
    jax.config.update("jax_compilation_cache_dir", sys.argv[2] + "/jax-cache")  # the finishing resumes recompile
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    sys.path.insert(0, sys.argv[1])
    from test_reliability import small_config
    from sweetspot import sweep, results
    out, q = sys.argv[2], {"progress": lambda m: None}
    cfg = small_config()
    cfg.engine.chunk_size = 0  # automatic chunks: the plan itself depends on the device count
    cfg.grid.seed = tuple(range(10))
    cfg.train.steps, cfg.train.eval_every = 10, 5
    for first, then in ((2, 1), (1, 2)):
        run = f"{out}/{first}to{then}"
        try:
            sweep.run_sweep(cfg, run, devices=jax.devices()[:first], stop_after=1, **q)
        except KeyboardInterrupt:
            pass
        try:
            sweep.run_sweep(cfg, run, resume=True, devices=jax.devices()[:then], **q)
            print("RESUMED")
        except results.ResultsError as e:
            print("REFUSED", e)
        sweep.run_sweep(cfg, run, resume=True, devices=jax.devices()[:first], **q)
        print("STATUS", results.read_meta(run)["status"], len(results.read_meta(run)["devices"]))
    """
)


def test_resume_on_another_device_count_is_refused_and_the_same_count_finishes(tmp_path):
    script = tmp_path / "devices.py"
    script.write_text(DEVICES)
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    r = subprocess.run(
        [sys.executable, str(script), os.path.dirname(__file__), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.strip().splitlines()
    refused = [x for x in lines if x.startswith("REFUSED")]
    assert len(refused) == 2 and "RESUMED" not in r.stdout, r.stdout
    assert "was run on 2 cpu device(s)" in refused[0] and "this run has 1 cpu device(s)" in refused[0]
    assert "was run on 1 cpu device(s)" in refused[1] and "--overwrite" in refused[1]
    assert [x for x in lines if x.startswith("STATUS")] == ["STATUS complete 2", "STATUS complete 1"]


# ---------------------------------------------------------------------------------------------- overwrite
def _no_compute(monkeypatch):
    def fail(*a, **k):
        raise AssertionError("compute started")

    monkeypatch.setattr(sweep, "make_data", fail)


def test_overwrite_replaces_only_run_directories(tmp_path, monkeypatch):
    _no_compute(monkeypatch)
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("precious")
    with pytest.raises(res_lib.ResultsError, match="without meta.json, not a sweetspot run directory"):
        sweep.run_sweep(small_config(), str(user), overwrite=True, **QUIET)
    assert (user / "notes.txt").read_text() == "precious"
    f = tmp_path / "file.txt"
    f.write_text("precious")
    with pytest.raises(res_lib.ResultsError, match="is a file"):
        sweep.run_sweep(small_config(), str(f), overwrite=True, **QUIET)
    assert f.read_text() == "precious" and sorted(os.listdir(tmp_path)) == ["file.txt", "mine"]
    run = tmp_path / "run"  # a run whose OUT.partial / OUT.old names are taken by the user
    run.mkdir()
    (run / "meta.json").write_text("{}")
    for name in ("run.partial", "run.old"):
        (tmp_path / name).write_text("precious")
        with pytest.raises(res_lib.ResultsError, match=f"{name} is a file"):
            sweep.run_sweep(small_config(), str(run), overwrite=True, **QUIET)
        assert (tmp_path / name).read_text() == "precious"
        (tmp_path / name).unlink()
    with pytest.raises(res_lib.ResultsError, match="exclude each other"):
        sweep.run_sweep(small_config(), str(run), resume=True, overwrite=True, **QUIET)


def test_swap_in_refuses_a_user_file_that_appeared_meanwhile(tmp_path):
    staged, out = tmp_path / "run.partial", tmp_path / "run"
    staged.mkdir()
    out.write_text("precious")
    with pytest.raises(res_lib.ResultsError, match="is a file"):
        rundir.swap_in(str(staged), str(out))
    assert out.read_text() == "precious" and not (tmp_path / "run.old").exists()


# ------------------------------------------------------------------------------------------------- --out
@pytest.mark.parametrize(
    "out,match",
    [
        ("", "is empty"),
        (".", "current directory or a parent"),
        ("..", "current directory or a parent"),
        ("/", "current directory or a parent"),
        ("/proc/sweetspot-x", "cannot create files in /proc"),
        ("afile/sub", "afile is a file, not a directory"),
        ("afile", "is a file, not a run directory"),
    ],
)
def test_bad_out_is_refused_before_any_compute(out, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    _no_compute(monkeypatch)
    for overwrite in (False, True):
        with pytest.raises(res_lib.ResultsError, match=match):
            sweep.run_sweep(small_config(), out, overwrite=overwrite, **QUIET)
    assert sorted(os.listdir(tmp_path)) == ["afile"]


# ---------------------------------------------------------------------------------------------- the lock
def test_a_second_sweep_on_the_same_out_is_refused(tmp_path, monkeypatch):
    out = str(tmp_path / "run")
    _no_compute(monkeypatch)
    with rundir.lock(out):
        assert open(out + ".lock").read().split()[0] == str(os.getpid())
        with pytest.raises(res_lib.ResultsError, match="being written by another sweep"):
            sweep.run_sweep(small_config(), out, **QUIET)
    assert not os.path.exists(out + ".lock")


LOCK_HOLDER = """import sys, time
from sweetspot import rundir
with rundir.lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def test_the_lock_holds_across_processes_and_a_killed_holder_leaves_no_stale_lock(tmp_path, monkeypatch):
    out = str(tmp_path / "run")
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, out], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(res_lib.ResultsError, match=f"pid/host {holder.pid} "):
            with rundir.lock(out):
                pass
    finally:
        holder.kill()  # SIGKILL: no cleanup runs, OUT.lock stays behind
        holder.wait()
    assert os.path.exists(out + ".lock")
    with rundir.lock(out):  # the kernel released the dead holder's lock
        pass
    assert not os.path.exists(out + ".lock")


# ----------------------------------------------------------------------------------------- user mistakes
@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "enable_compilation_cache", lambda: None)  # no global jax config from in-process calls
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "tiny.py"
    cfg.write_text(
        "import sys\nsys.path.insert(0, %r)\nfrom test_reliability import small_config\n"
        "def get_config(arg=None):\n    return small_config()\n" % os.path.dirname(__file__)
    )
    (tmp_path / "syntax.py").write_text("def get_config(:\n")
    (tmp_path / "badmethod.py").write_text(  # predict-depth validates the whole sweep config, not only its target
        "import sys\nsys.path.insert(0, %r)\nfrom test_reliability import small_config\n"
        "def get_config(arg=None):\n    c = small_config()\n    c.grid.method = ('nosuch',)\n    return c\n"
        % os.path.dirname(__file__)
    )
    (tmp_path / "text.npz").write_text("not numpy")
    rng = np.random.default_rng(0)
    net = {"W0": rng.normal(size=(4, 3)), "b0": np.zeros(3), "W1": rng.normal(size=(3, 1)), "b1": np.zeros(1)}
    np.savez(tmp_path / "ok.npz", **net)
    np.savez(tmp_path / "inputs5.npz", **{**net, "W0": rng.normal(size=(5, 3))})
    np.savez(tmp_path / "shortbias.npz", **{**net, "b0": np.zeros(2)})
    partial = tmp_path / "partial"
    partial.mkdir()
    res_lib.write_meta(str(partial), {"schema": res_lib.SCHEMA, "status": "running"})
    return tmp_path


MISTAKES = [
    (["sweep", "nofile.py", "--out", "r"], "config file 'nofile.py' does not exist"),
    (["sweep", "syntax.py", "--out", "r"], "config file syntax.py failed to load: SyntaxError"),
    (["sweep", "tiny.py", "--out", "r", "--config.train.nosuch=1"], r"config.train has no field 'nosuch'.*steps"),
    (["sweep", "tiny.py", "--out", "r", "--resume", "--overwrite"], "exclude each other"),
    (["sweep", "tiny.py", "--out", "", "--overwrite"], "--out '' is empty"),
    (["sweep", "tiny.py", "--out", "new/run", "--resume"], "nothing to resume at new/run"),
    (["sweep", "tiny.py", "--out", "r", "--config.grid.depth=(1,)", "--config.grid.depth=()"], r"grid.depth=\(\)"),
    (["diagnose", "partial"], r"status='running'.*allowed values are \['complete'\].*--resume"),
    (["diagnose", "partial", "--point", "depth=1"], r"status='running'"),
    (["diagnose", "--npz", "none.npz", "--target", "tiny.py"], "none.npz: no such file"),
    (["diagnose", "--npz", "text.npz", "--target", "tiny.py"], r"text.npz is not an .npz file"),
    (["diagnose", "--npz", "inputs5.npz", "--target", "tiny.py"], "W0 has 5 inputs; the target has 4"),
    (["diagnose", "--npz", "shortbias.npz", "--target", "tiny.py"], "b0 has 2 values, its layer 3"),
    (["report", "partial", "--out", "tiny.py"], "report --out tiny.py is a file"),
    (["predict-depth", "nofile.py"], "config file 'nofile.py' does not exist"),
    (["predict-depth", "badmethod.py"], r"grid.method.*'nosuch'.*allowed values"),
    (["predict-depth", "tree:levels=2", "--width", "-5"], r"--width=-5 is invalid.*integer >= 1"),
    (["predict-depth", "tree:levels=2", "--width", "0"], r"--width=0 is invalid.*integer >= 1"),
]


@pytest.mark.parametrize("argv,match", MISTAKES, ids=[" ".join(a)[:60] for a, _ in MISTAKES])
def test_a_users_mistake_is_one_error_line_and_changes_nothing(argv, match, files, monkeypatch):
    _no_compute(monkeypatch)
    before = sorted(os.listdir(files))
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    msg = str(e.value)
    assert msg.startswith("error: ") and "\n" not in msg, msg
    assert re.search(match, msg), msg
    assert sorted(os.listdir(files)) == before


def test_repeated_override_last_wins_and_npz_loads(files):
    from sweetspot import config as config_lib
    from sweetspot import diagnose

    cfg = config_lib.load_config("tiny.py", ["--config.grid.depth=(3,)", "--config.grid.depth=(4,5)"])
    assert cfg.grid.depth == (4, 5)
    _, _, depth = diagnose.load_npz_network("ok.npz", n_inputs=4)
    assert depth == 1
