"""The edges a user meets (issue 31): one `error:` line for every damaged or missing run file, a lock that every
spelling of a directory meets, NaN and infinity refused by name, an ETA right when chunks finish out of order."""

import os
import re
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

from conftest import tiny_config
from sweetspot import cli, rundir, sweep
from sweetspot import config as config_lib
from sweetspot import grid as grid_lib
from sweetspot import results as res_lib
from sweetspot.validation import validate

QUIET = {"progress": lambda m: None}


def small_config():
    """2 programs (depth 1, 2) x 2 points, one point per chunk: 2 chunks, 4 points, saved networks."""
    c = tiny_config()
    c.grid.depth, c.grid.sparsity, c.grid.seed = (1, 2), (0.5,), (0, 1)
    c.train.steps, c.train.eval_every = 20, 10
    c.engine.chunk_size = 1
    return c


@pytest.fixture(scope="module")
def finished(tmp_path_factory, engines):
    """A finished run of small_config(), read-only: copy it before damaging it."""
    mp = pytest.MonkeyPatch()
    mp.setattr(grid_lib, "Engine", engines)
    out = str(tmp_path_factory.mktemp("edges") / "run")
    sweep.run_sweep(small_config(), out, **QUIET)
    mp.undo()
    return out


@pytest.fixture
def run_copy(finished, tmp_path, monkeypatch, engines):
    """A fresh copy of the finished run in tmp_path/run (cwd = tmp_path), with the module's engines."""
    monkeypatch.setattr(grid_lib, "Engine", engines)
    monkeypatch.setattr(cli, "enable_compilation_cache", lambda: None)
    monkeypatch.chdir(tmp_path)
    shutil.copytree(finished, tmp_path / "run")
    return "run"


def _no_compute(monkeypatch):
    def fail(*a, **k):
        raise AssertionError("compute started")

    monkeypatch.setattr(sweep, "make_data", fail)


def _one_line(exc_info) -> str:
    msg = str(exc_info.value)
    assert msg.startswith("error: ") and "\n" not in msg, msg
    return msg


# ---------------------------------------------------------------------------------- the lock (item 2)
@pytest.mark.parametrize("spelling", ["alias", "lk/.", "abs", "alias/"])
def test_every_spelling_of_a_directory_meets_the_same_lock(spelling, tmp_path, monkeypatch):
    """`ln -s lk alias`: a sweep on alias (or lk/., or lk's absolute path) while one holds lk is refused (before:
    the lock was OUT as typed + .lock, so both ran and the second restarted the run from chunk 1)."""
    monkeypatch.chdir(tmp_path)
    _no_compute(monkeypatch)
    os.mkdir("lk")
    os.symlink("lk", "alias")
    out = str(tmp_path / "lk") if spelling == "abs" else spelling
    with rundir.lock("lk"):
        with pytest.raises(res_lib.ResultsError, match="being written by another sweep"):
            sweep.run_sweep(small_config(), out, resume=True, **QUIET)
    assert sorted(os.listdir(tmp_path)) == ["alias", "lk"]  # no alias.lock, no lk.lock left


def test_resolve_out_gives_one_name_per_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkdir("lk")
    os.symlink("lk", "alias")
    names = {rundir.resolve_out(s) for s in ("lk", "lk/", "lk/.", "alias", "alias/.", str(tmp_path / "lk"), "./lk")}
    assert names == {"lk"}
    assert rundir.resolve_out("new/run") == os.path.join("new", "run")
    assert rundir.resolve_out(str(tmp_path.parent)) == os.path.realpath(tmp_path.parent)  # outside cwd: absolute


def test_a_sweep_through_a_symlink_writes_the_directory_it_names(run_copy, tmp_path):
    """--resume through an alias finishes the run in the real directory (no alias.partial, nothing restarted)."""
    os.symlink("run", "alias")
    msgs = []
    sweep.run_sweep(small_config(), "alias", resume=True, progress=msgs.append)
    assert any("resuming run: 4/4 points already done" in m for m in msgs), msgs
    assert sorted(os.listdir(tmp_path)) == ["alias", "run"]


# ----------------------------------------------------------------------------------- NaN, inf (item 3)
REAL_FIELDS = [
    ("grid.lr", (float("inf"),)),
    ("grid.lr", (1e-2, float("nan"))),
    ("grid.weight_decay", (float("inf"),)),
    ("grid.sparsity", (float("nan"),)),
    ("target.gain", float("inf")),
    ("target.input_noise", float("nan")),
    ("target.heldout_q", float("nan")),
    ("metrics.fit_r2", float("nan")),
    ("metrics.ridge", float("inf")),
    ("pruning.rewind_frac", float("nan")),
    ("pruning.sp_gamma", float("-inf")),
]


@pytest.mark.parametrize("field,value", REAL_FIELDS, ids=[f"{f}={v}" for f, v in REAL_FIELDS])
def test_nan_and_infinity_are_refused_by_name(field, value):
    cfg = small_config()
    block, key = field.split(".")
    cfg[block][key] = value
    with pytest.raises(config_lib.ConfigError, match=rf"config\.{re.escape(field)}=.*finite numbers"):
        validate(cfg)


def test_cli_refuses_1e999_before_any_compute(tmp_path, monkeypatch):
    """--config.grid.lr='(1e999,)' was accepted (every point diverged, rc 0, numpy warnings on the terminal)."""
    _no_compute(monkeypatch)
    monkeypatch.setattr(cli, "enable_compilation_cache", lambda: None)
    monkeypatch.chdir(tmp_path)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with pytest.raises(SystemExit) as e:
        cli.main(["sweep", f"{repo}/sweeps/regime_map.py", "--out", "r", "--config.grid.lr=(1e999,)"])
    assert re.search(r"config\.grid\.lr=inf is invalid: allowed values are finite numbers", _one_line(e))
    assert os.listdir(tmp_path) == []


def test_summary_table_of_a_diverged_cell_warns_nothing():
    cfg = small_config()
    engine = type("E", (), {"grid": grid_lib.make_grid(cfg)})()
    n = engine.grid.n_points
    results = {"test_r2": np.full(n, np.nan, np.float32), "diverged": np.ones(n, bool)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        text = sweep.summary_table(engine, results)
    assert "nan" in text and f"{n} diverged point(s)" in text


# ------------------------------------------------------------------------------------------ ETA (item 4)
def test_eta_counts_the_chunks_left_not_the_chunks_after_this_one(run_copy):
    """A resume that recomputes only the first of 2 chunks (its params step deleted) has nothing left after it:
    ETA 0 (before: n_chunks - c - 1 = 1 chunk left, an ETA of one more chunk at 4/4 points)."""
    shutil.rmtree(os.path.join("run", "params", "0"))
    msgs = []
    sweep.run_sweep(small_config(), "run", resume=True, progress=msgs.append)
    done = [m for m in msgs if m.startswith("chunk ")]
    assert len(done) == 1 and done[0].startswith("chunk 1/2 done, 4/4 points") and done[0].endswith("ETA 0.0s"), msgs


def test_chunks_left_counts_undone_chunks_in_any_order(engines):
    cfg = small_config()
    target, data = sweep.make_data(cfg)
    engine = engines(cfg, data)
    done = np.zeros(engine.grid.n_points, bool)
    assert sweep.chunks_left(engine, done) == engine.n_chunks == 2
    for idx, valid in engine.chunk_indices(1).values():
        done[idx[valid]] = True
    assert sweep.chunks_left(engine, done) == 1
    done[:] = True
    assert sweep.chunks_left(engine, done) == 0


def test_the_lock_helper_script_meets_an_alias_across_processes(tmp_path):
    """The same across processes: a holder on lk, a second process on alias is refused."""
    os.mkdir(tmp_path / "lk")
    os.symlink(tmp_path / "lk", tmp_path / "alias")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys,time\nfrom sweetspot import rundir\nwith rundir.lock(sys.argv[1]):\n"
            "    print('held', flush=True); time.sleep(60)\n",
            str(tmp_path / "lk"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(res_lib.ResultsError, match=f"pid/host {holder.pid} "):
            with rundir.lock(str(tmp_path / "alias")):
                pass
    finally:
        holder.kill()
        holder.wait()


# ------------------------------------------------------------------- damaged or missing run files (item 1)
def _cut(path, keep):
    data = open(path, "rb").read()
    open(path, "wb").write(data[:keep])


def _damage(kind):
    """Damages the copy of the run in ./run as `kind` says."""
    csv_path, meta = os.path.join("run", "results.csv"), os.path.join("run", "meta.json")
    if kind == "csv cut mid-row":  # half of the last row left
        data = open(csv_path, "rb").read()
        _cut(csv_path, len(data) - len(data.splitlines(keepends=True)[-1]) // 2)
    elif kind == "csv cut at a row":
        lines = open(csv_path, "rb").read().splitlines(keepends=True)
        open(csv_path, "wb").write(b"".join(lines[:-1]))
    elif kind == "csv empty":
        open(csv_path, "w").close()
    elif kind == "csv missing":
        os.remove(csv_path)
    elif kind == "meta cut":
        _cut(meta, 200)
    elif kind == "meta without axes":
        text = open(meta).read()
        import json

        m = json.loads(text)
        del m["axes"]
        json.dump(m, open(meta, "w"))


DAMAGE = {
    "csv cut mid-row": r"results\.csv is damaged \(row 4 has \d+ fields, the header \d+\)",
    "csv cut at a row": r"results\.csv is damaged \(3 rows for the run's 4 points\)",
    "csv empty": r"results\.csv is damaged \(empty\)",
    "csv missing": r"results\.csv is missing",
    "meta cut": r"meta\.json is corrupt \(JSONDecodeError.*--overwrite",
    "meta without axes": r"meta\.json is damaged \(no axes\).*--overwrite",
}
COMMANDS = {
    "diagnose": lambda: cli.main(["diagnose", "run"]),
    "diagnose --point": lambda: cli.main(["diagnose", "run", "--point", "depth=2,seed=1"]),
    "report": lambda: cli.main(["report", "run", "--out", "rep"]),
    "wiring.py": lambda: _script("wiring", ["run", "--a", "0", "--b", "1"]),
    "regime_heatmap.py": lambda: _script("regime_heatmap", ["run", "--out", "rep"]),
    "method_table.py": lambda: _script("method_table", ["run"]),
    "e1_regime.py": lambda: _script("e1_regime", ["run", "--out", "rep"]),
}


def _script(name, argv):
    import importlib

    importlib.import_module(f"sweetspot.analysis.{name}").main(argv)


CSV_ONLY = ("regime_heatmap.py", "method_table.py", "e1_regime.py")  # read results.csv only: no meta.json axes
DAMAGE_CASES = [
    (kind, command)
    for kind in DAMAGE
    for command in COMMANDS
    if not (kind == "meta without axes" and command in CSV_ONLY)
]


@pytest.mark.parametrize("kind, command", DAMAGE_CASES)
def test_a_damaged_run_file_is_one_error_line_with_the_fix(kind, command, run_copy, tmp_path, capsys):
    """Before: diagnose raised a TypeError (a cut results.csv), diagnose --point an IndexError, report 51 lines
    and 3 tracebacks, the analysis scripts tracebacks."""
    _damage(kind)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(SystemExit) as e:
        COMMANDS[command]()
    msg = _one_line(e)
    assert re.search(DAMAGE[kind], msg), msg
    assert "--resume" in msg or "--overwrite" in msg, msg
    assert "Traceback" not in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == before  # nothing written (no rep/, no figure)


def test_resume_rewrites_a_damaged_results_csv_and_says_so(run_copy, finished):
    _damage("csv cut mid-row")
    msgs = []
    sweep.run_sweep(small_config(), "run", resume=True, progress=msgs.append)
    said = [m for m in msgs if "rewriting results.csv" in m]
    assert said and "is damaged (row 4" in said[0] and "no training" in said[0], msgs
    assert not any(m.startswith("chunk ") for m in msgs), msgs
    assert open("run/results.csv", "rb").read() == open(os.path.join(finished, "results.csv"), "rb").read()


def test_report_reads_every_saved_network_before_writing_anything(run_copy, tmp_path, capsys):
    """A corrupt params step failed `report` only after its analyses had run (19 s, half a report written)."""
    for root, _, names in os.walk(os.path.join("run", "params", "1")):
        for n in names:
            if os.sep + "d" in root:
                open(os.path.join(root, n), "wb").write(b"garbage")
    with pytest.raises(SystemExit) as e:
        cli.main(["report", "run", "--out", "rep"])
    msg = _one_line(e)
    assert "params step 1 is corrupt" in msg and "--resume" in msg, msg
    assert sorted(os.listdir(tmp_path)) == ["run"]


def test_an_analysis_script_refuses_a_point_not_in_the_run_in_one_line(run_copy, capsys):
    """`analysis/wiring.py RUN --a ... --b 17`: a ResultsError traceback before."""
    with pytest.raises(SystemExit) as e:
        _script("wiring", ["run", "--a", "0", "--b", "17"])
    assert re.search(r"run: point 17: allowed values are 0\.\.3", _one_line(e))
    with pytest.raises(SystemExit) as e:
        _script("wiring", ["run", "--a", "depth=9,seed=0", "--b", "0"])
    assert re.search(r"--point: depth='9': allowed values are \[1, 2\]", _one_line(e))
    assert not [f for f in os.listdir("run") if f.startswith("wiring")]


def test_the_thin_script_gives_the_same_line_and_status_1(run_copy):
    """The script as a user runs it: exit status 1, one line on stderr, nothing on stdout."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run(
        [sys.executable, f"{repo}/analysis/wiring.py", "run", "--a", "0", "--b", "17"], capture_output=True, text=True
    )
    assert r.returncode == 1 and r.stdout == "" and r.stderr.strip().count("\n") == 0, r.stderr
    assert r.stderr.startswith("error: run: point 17"), r.stderr


def test_a_resume_refused_for_its_devices_prints_only_the_refusal(run_copy):
    """The one bad input of 54 that printed two lines: "building the ... data" came before the device refusal."""
    import json

    meta = json.load(open("run/meta.json"))
    meta["devices"] = meta["devices"] * 2  # as if the run had been made on 2 devices
    json.dump(meta, open("run/meta.json", "w"))
    msgs = []
    with pytest.raises(res_lib.ResultsError, match=r"was run on 2 cpu device\(s\)"):
        sweep.run_sweep(small_config(), "run", resume=True, progress=msgs.append)
    assert msgs == []


# -------------------------------------------------------------------------- checksums (issue 38, checksums.py)
def _change_digit(path):
    """One digit in the middle of the file changed, its length kept: a value edited, not a file cut."""
    data = bytearray(open(path, "rb").read())
    i = next(i for i in range(len(data) // 2, len(data)) if chr(data[i]).isdigit())
    data[i] = ord("1") if data[i] != ord("1") else ord("2")
    open(path, "wb").write(bytes(data))


def _change_params_step(run_dir, step):
    """Step `step` of run_dir/params saved again with every weight + 1: a whole, readable step of other values."""
    import jax

    from sweetspot import targets

    meta = rundir.read_complete_meta(run_dir)
    cfg = rundir.config_from_meta(meta)
    groups = grid_lib.make_groups(grid_lib.make_grid(cfg), cfg.engine.depth_mode)
    template = rundir.params_template(cfg, targets.make_target(cfg.target), groups, meta["chunk_size"])
    _, tree = res_lib.restore_checkpoint(os.path.join(run_dir, "params"), template, step=step)
    tree = jax.tree.map(lambda a: a + 1 if a.dtype == np.float32 else a, tree)
    res_lib.save_checkpoint(os.path.join(run_dir, "params"), step, tree)


def test_a_finished_run_records_the_sha256_of_its_files_and_the_lock(finished):
    from sweetspot import checksums, environment

    meta = res_lib.read_meta(finished)
    assert meta["sha256"] == checksums.compute(finished)  # the finished files, every one of them
    assert {"results.csv", "params/1/default/manifest.ocdbt", "results/1/default/manifest.ocdbt"} <= set(meta["sha256"])
    lock = environment.lock_path()
    assert meta["lock"]["sha256"] == checksums.sha256_file(lock)
    assert meta["lock"]["differs"] == environment.differences(environment.read_pins(lock))


@pytest.mark.parametrize("command", COMMANDS)
def test_a_changed_digit_in_results_csv_is_one_error_line_naming_it(command, run_copy, tmp_path, capsys):
    """Before: a results.csv edited in the middle, its length kept, was read as the run's."""
    _change_digit("run/results.csv")
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(SystemExit) as e:
        COMMANDS[command]()
    msg = _one_line(e)
    assert re.search(r"run/results\.csv changed since the run wrote it \(its sha256 is not the one in meta\.json", msg)
    assert "--resume" in msg and "Traceback" not in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("loader", ["sweetspot.load_run", "analysis.base.load_run"])
def test_load_run_refuses_a_changed_results_csv_in_one_line(loader, run_copy):
    import sweetspot
    from sweetspot.analysis import base

    load = sweetspot.load_run if loader == "sweetspot.load_run" else base.load_run
    load("run")  # untouched: loads
    _change_digit("run/results.csv")
    with pytest.raises(res_lib.ResultsError) as e:
        load("run")
    assert str(e.value).startswith("run/results.csv changed since the run wrote it") and "\n" not in str(e.value)


def test_verify_passes_an_untouched_run_and_names_a_changed_file(run_copy, capsys):
    cli.main(["verify", "run"])
    out = capsys.readouterr().out.splitlines()
    assert "ok       results.csv" in out and any(x.startswith("ok       params/1/") for x in out), out
    assert out[-1] == f"run: all {len(out) - 1} files match meta.json's sha256"
    _change_digit("run/results.csv")
    with pytest.raises(SystemExit) as e:
        cli.main(["verify", "run"])
    out = capsys.readouterr().out.splitlines()
    assert [x for x in out if not x.startswith("ok ")] == ["changed  results.csv"]
    msg = _one_line(e)
    assert re.match(r"error: run: 1 of \d+ files differ from meta\.json's sha256 \(results\.csv changed\)", msg)


def test_a_changed_checkpoint_step_is_refused_and_resume_recomputes_it(run_copy, finished, tmp_path, capsys):
    """A params step saved again with other values is whole and readable: only its checksums tell."""
    _change_params_step("run", 1)
    for argv in (["diagnose", "run", "--point", "depth=2,seed=1"], ["report", "run", "--out", "rep"]):
        with pytest.raises(SystemExit) as e:
            cli.main(argv)
        msg = _one_line(e)
        assert re.search(r"run/params/1/\S+ (changed since the run wrote it|is missing|was added after)", msg), msg
        assert "--resume` recomputes it" in msg, msg
    assert not os.path.exists("rep")
    with pytest.raises(SystemExit) as e:
        cli.main(["verify", "run"])
    bad = [x for x in capsys.readouterr().out.splitlines() if not x.startswith("ok ")]
    assert bad and all(re.match(r"(changed|missing|added) +params/1/", x) for x in bad), bad
    assert "params/1/" in _one_line(e)
    msgs = []
    sweep.run_sweep(small_config(), "run", resume=True, progress=msgs.append)
    assert any("params step 1 is not the one the run finished with" in m for m in msgs), msgs
    assert open("run/results.csv", "rb").read() == open(os.path.join(finished, "results.csv"), "rb").read()
    cli.main(["verify", "run"])  # the resumed run's checksums: those of its finished files
    assert capsys.readouterr().out.splitlines()[-1].startswith("run: all ")


def test_a_run_made_before_checksums_loads_and_verify_says_so(run_copy, capsys):
    import json

    import sweetspot

    meta = json.load(open("run/meta.json"))
    del meta["sha256"], meta["lock"]
    json.dump(meta, open("run/meta.json", "w"))
    _change_digit("run/results.csv")  # nothing to tell it by: read as before checksums existed
    assert len(sweetspot.load_run("run").results) == 4
    cli.main(["diagnose", "run"])
    cli.main(["verify", "run"])
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("run: no checksums recorded (the run predates them") and "nothing verified" in out[-1]


def test_a_resume_skips_a_changed_results_step_for_the_one_before(run_copy, finished):
    """A results step saved again with other values reads fine: without its checksums a resume of the finished
    run would rewrite results.csv from it and record the changed values as the run's."""
    cfg = small_config()
    _, data = sweep.make_data(cfg)
    engine = grid_lib.Engine(cfg, data)
    template = {"results": engine.result_template(), "done": np.zeros(engine.grid.n_points, bool)}
    step, saved = res_lib.restore_checkpoint("run/results", template)
    saved["results"]["test_r2"] = saved["results"]["test_r2"] + 1
    res_lib.save_checkpoint("run/results", step, saved)
    msgs = []
    sweep.run_sweep(cfg, "run", resume=True, progress=msgs.append)
    assert any(f"run/results/{step}/" in m and "trying the step before it" in m for m in msgs), msgs
    assert open("run/results.csv", "rb").read() == open(os.path.join(finished, "results.csv"), "rb").read()
