#!/usr/bin/env python
"""Kill -9 / --resume trials of `python -m sweetspot sweep`, as a new user would run them (docs/reliability.md).

    python benchmarks/kill_resume.py                         # 10 kill/resume, 5 killed --overwrite, 1 device trial
    python benchmarks/kill_resume.py --trials 50 --overwrite-trials 10 --seed 1 --keep /tmp/kr

A small sweep (sweeps/regime_map.py shrunk by overrides: 24 points in chunks of 2, one CPU device) runs once
uninterrupted as the reference. Each kill/resume trial starts the same sweep in a subprocess, sends SIGKILL after a
random delay drawn over the reference's wall time, checks the killed run directory (every point its latest results
checkpoint marks done has its chunk's networks on disk), then runs `--resume`, itself killed at random up to
--max-kills times, until it completes; the finished run must have results.csv byte-identical to the reference,
every network equal to the reference's, and no OUT.partial, OUT.old or OUT.lock left. Each --overwrite trial
kills an --overwrite of a finished run (another `seed`) and checks that OUT still holds a complete run (the old
one, or the new one once the swap is done), then finishes it with --resume. The device trial kills a 2-device run
after its first chunk and checks that --resume on 1 device is refused with one `error:` line and that --resume
on 2 devices completes. Exit status 1 if any trial fails; one JSON summary line at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OVERRIDES = [
    "--config.train.steps=200",
    "--config.train.eval_every=100",
    "--config.grid.depth=(1,2,3)",
    "--config.grid.sparsity=(0.0,0.5)",
    "--config.grid.seed=(0,1,2,3)",
    "--config.grid.method=('random',)",
    "--config.model.width=8",
    "--config.metrics.enabled=False",
    "--config.engine.chunk_size=2",
    "--config.target.n_train=512",
    "--config.target.n_test=256",
    "--config.target.n_heldout=128",
]


def _env(devices: int | None, cache: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["JAX_PLATFORMS"] = "cpu"
    env["JAX_COMPILATION_CACHE_DIR"] = cache
    if devices:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def _cmd(out: str, *extra: str, devices: int | None = None) -> list[str]:
    one = [] if devices else ["--no-host-devices"]
    return [sys.executable, "-m", "sweetspot", "sweep", "sweeps/regime_map.py", "--out", out, *one, *extra, *OVERRIDES]


def _run(cmd, env, kill_after: float | None = None, kill_on: str | None = None) -> tuple[int | None, str]:
    """Runs cmd; SIGKILL after kill_after seconds or once a stderr line contains kill_on. (returncode or None
    when killed, stderr)."""
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if kill_on is not None:
        err = []
        for line in p.stderr:
            err.append(line)
            if kill_on in line:
                p.send_signal(signal.SIGKILL)
                p.wait()
                return None, "".join(err)
        p.wait()
        return p.returncode, "".join(err)
    try:
        _, err = p.communicate(timeout=kill_after)
        return p.returncode, err
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
        _, err = p.communicate()
        return None, err


def _networks(run_dir: str) -> dict:
    from sweetspot import rundir

    return {i: jax.tree.leaves((p, m)) for i, p, m, _ in rundir.iter_networks(run_dir)}


def _done_implies_saved(run_dir: str) -> str | None:
    """None when every point the latest results step marks done has its chunk's params step readable."""
    import orbax.checkpoint as ocp

    from sweetspot import grid as grid_lib
    from sweetspot import results as res_lib
    from sweetspot import rundir, targets

    if not os.path.isfile(os.path.join(run_dir, "meta.json")):
        return None
    meta = res_lib.read_meta(run_dir)
    if not res_lib.checkpoint_steps(os.path.join(run_dir, "results")):
        return None
    cfg = rundir.config_from_meta(meta)
    grid = grid_lib.make_grid(cfg)
    groups = grid_lib.make_groups(grid, cfg.engine.depth_mode)
    with ocp.CheckpointManager(os.path.abspath(os.path.join(run_dir, "results"))) as m:
        done = np.asarray(m.restore(m.latest_step(), args=ocp.args.StandardRestore())["done"])
    size = meta["chunk_size"]
    template = rundir.params_template(cfg, targets.make_target(cfg.target), groups, size)
    for c in range(meta["n_chunks"]):
        points = np.concatenate([g.indices[c * size : (c + 1) * size] for g in groups])
        if done[points].any():
            try:
                res_lib.restore_checkpoint(os.path.join(run_dir, "params"), template, step=c)
            except res_lib.ResultsError as e:
                return f"chunk {c} is marked done but its networks are not on disk: {e}"
    return None


def _finish(out, env, rng, max_kills, wall) -> tuple[bool, int, str]:
    """--resume (a plain rerun if the kill came before OUT existed) until complete, killing at random up to
    max_kills times; (completed, kills, last stderr)."""
    kills = 0
    for _ in range(max_kills + 20):
        kill = rng.uniform(0.5, wall) if kills < max_kills and rng.random() < 0.5 else None
        started = os.path.isdir(out) or os.path.isdir(out + ".partial")  # else killed before it made OUT
        rc, err = _run(_cmd(out, *(["--resume"] if started else [])), env, kill_after=kill)
        if rc is None:
            kills += 1
            continue
        return rc == 0, kills, err
    return False, kills, "never completed"


def _check_final(out, ref_csv, ref_nets) -> list[str]:
    problems = []
    if open(os.path.join(out, "results.csv"), "rb").read() != ref_csv:
        problems.append("results.csv differs from the reference")
    nets = _networks(out)
    if nets.keys() != ref_nets.keys() or any(
        not all(np.array_equal(a, b) for a, b in zip(nets[i], ref_nets[i], strict=True)) for i in ref_nets
    ):
        problems.append("saved networks differ from the reference")
    left = [p for p in os.listdir(os.path.dirname(out)) if p.startswith(os.path.basename(out) + ".")]
    if left:
        problems.append(f"left behind: {left}")
    return problems


def _kill_trial(work, i, env, rng, args, wall, ref) -> dict:
    out = os.path.join(work, f"trial{i}", "run")
    os.makedirs(os.path.dirname(out))
    delay = rng.uniform(0.5, wall)
    rc, err = _run(_cmd(out), env, kill_after=delay)
    problems = [] if rc is None else ([] if rc == 0 else [f"first run failed: {err[-500:]}"])
    bad = _done_implies_saved(out) if rc is None else None
    problems += [bad] if bad else []
    ok, kills, err = _finish(out, env, rng, args.max_kills, wall)
    problems += _check_final(out, *ref) if ok else [f"resume failed: {err.strip().splitlines()[-1:]}"]
    return {
        "trial": i,
        "kill_after_s": round(delay, 2),
        "killed": rc is None,
        "resume_kills": kills,
        "problems": problems,
    }


def _overwrite_trial(work, i, env, rng, wall, ref, old_dir) -> dict:
    out = os.path.join(work, f"overwrite{i}", "run")
    shutil.copytree(old_dir, out)
    old_csv = open(os.path.join(out, "results.csv"), "rb").read()
    delay = rng.uniform(0.5, wall)
    rc, err = _run(_cmd(out, "--overwrite"), env, kill_after=delay)
    problems = [] if rc in (None, 0) else [f"overwrite failed: {err[-500:]}"]
    if rc is None:
        here = os.path.join(out, "results.csv")
        now = open(here, "rb").read() if os.path.isfile(here) else None
        if now not in (old_csv, ref[0]):
            state = os.listdir(os.path.dirname(out))
            problems.append(f"after the kill OUT holds no complete run (OUT.old/.partial: {state})")
        if os.path.isdir(out + ".partial"):
            ok, _, err = _finish(out, env, rng, 0, wall)
            problems += [] if ok else [f"resume failed: {err[-500:]}"]
    if not problems and open(os.path.join(out, "results.csv"), "rb").read() == ref[0]:
        problems += _check_final(out, *ref)
    return {"trial": f"overwrite{i}", "kill_after_s": round(delay, 2), "killed": rc is None, "problems": problems}


def _device_trial(work, cache) -> dict:
    out = os.path.join(work, "devices", "run")
    rc, err = _run(_cmd(out, devices=2), _env(2, cache), kill_on="chunk 1/")
    problems = [] if rc is None else ["the 2-device run was not killed after its first chunk"]
    rc, err = _run(_cmd(out, "--resume"), _env(None, cache))
    lines = err.strip().splitlines()
    if rc == 0 or not lines or not lines[-1].startswith("error: --resume:") or "device" not in lines[-1]:
        problems.append(f"--resume on 1 device was not refused with one line: {lines[-3:]}")
    rc, err = _run(_cmd(out, "--resume", devices=2), _env(2, cache))
    problems += [] if rc == 0 else [f"--resume on 2 devices failed: {err[-500:]}"]
    return {"trial": "devices 2 -> 1 -> 2", "refusal": lines[-1] if lines else "", "problems": problems}


# ------------------------------------------------------------------------------------------------ bad inputs
TINY = """from sweetspot.config import default_config


def get_config(arg=None):
    c = default_config()
    c.target.levels, c.target.n_reference = 2, 1024
    c.target.n_train, c.target.n_test, c.target.n_heldout = 256, 128, 64
    c.model.width = 8
    c.train.steps, c.train.eval_every, c.train.batch_size = 20, 10, 32
    c.grid.depth, c.grid.sparsity, c.grid.seed = (1, 2), (0.0, 0.5), (0, 1)
    c.metrics.enabled = False
    c.engine.chunk_size = 1
    return c
"""

SW = ["sweep", "tiny.py", "--no-host-devices", "--out"]
WIRING = ["sweetspot.analysis.wiring"]  # analysis/wiring.py, run as a module from any directory
BAD_INPUTS = [
    ("missing config file", ["sweep", "nofile.py", "--out", "r"]),
    ("config with a syntax error", ["sweep", "syntax.py", "--out", "r"]),
    ("unknown config key", [*SW, "r", "--config.train.nosuch=1"]),
    ("override below a value", [*SW, "r", "--config.seed.x=1"]),
    ("override of the wrong type", [*SW, "r", "--config.train.steps=abc"]),
    ("repeated tuple override (last wins: empty)", [*SW, "r", "--config.grid.depth=(3,)", "--config.grid.depth=()"]),
    ("value out of range", [*SW, "r", "--config.grid.sparsity=(0.5,1.5)"]),
    ("an infinite learning rate (1e999)", [*SW, "r", "--config.grid.lr=(1e999,)"]),
    ("a NaN real field", [*SW, "r", "--config.target.gain=nan"]),
    ("--resume with --overwrite", [*SW, "run", "--resume", "--overwrite"]),
    ("--out ''", [*SW, ""]),
    ("--out . --overwrite", [*SW, ".", "--overwrite"]),
    ("--out .. --overwrite", [*SW, "..", "--overwrite"]),
    ("--out /proc/x", [*SW, "/proc/x"]),
    ("--out FILE/sub", [*SW, "afile/sub"]),
    ("--out FILE --overwrite", [*SW, "afile", "--overwrite"]),
    ("--out USER_DIR --overwrite (no meta.json)", [*SW, "mydir", "--overwrite"]),
    ("--out RUN without a flag", [*SW, "run"]),
    ("--resume of nothing", [*SW, "nothing", "--resume"]),
    ("--resume with another config", [*SW, "partial", "--resume", "--config.train.steps=40"]),
    ("--resume on 1 device of a 2-device run", [*SW, "partial2", "--resume"]),
    ("a second sweep on the same --out", [*SW, "locked"]),
    ("a second sweep through a symlink to it", [*SW, "alias", "--resume"]),
    ("a second sweep on its OUT/.", [*SW, "locked/.", "--resume"]),
    ("diagnose a partial run", ["diagnose", "partial"]),
    ("diagnose --point of a partial run", ["diagnose", "partial", "--point", "depth=1,sparsity=0.5,seed=0"]),
    ("diagnose --point, value not on the grid", ["diagnose", "run", "--point", "depth=9,sparsity=0.5,seed=0"]),
    ("diagnose --point of a corrupt params step", ["diagnose", "corrupt", "--point", "depth=2,sparsity=0.0,seed=1"]),
    ("diagnose --npz without --target", ["diagnose", "--npz", "ok.npz"]),
    ("diagnose --npz missing file", ["diagnose", "--npz", "none.npz", "--target", "tiny.py"]),
    ("diagnose --npz of a text file", ["diagnose", "--npz", "text.npz", "--target", "tiny.py"]),
    ("diagnose --npz, 5 inputs for a 4-input target", ["diagnose", "--npz", "inputs5.npz", "--target", "tiny.py"]),
    ("diagnose --npz, bias shorter than its layer", ["diagnose", "--npz", "shortbias.npz", "--target", "tiny.py"]),
    ("diagnose, results.csv cut mid-row", ["diagnose", "cutcsv"]),
    ("diagnose --point, results.csv cut mid-row", ["diagnose", "cutcsv", "--point", "depth=2,sparsity=0.5,seed=1"]),
    ("diagnose, results.csv cut at a row", ["diagnose", "shortcsv"]),
    ("diagnose, results.csv missing", ["diagnose", "nocsv"]),
    ("diagnose, meta.json cut", ["diagnose", "badmeta"]),
    ("report --out an existing file", ["report", "run", "--out", "afile"]),
    ("report, results.csv cut mid-row (nothing written)", ["report", "run", "cutcsv", "--out", "rep"]),
    ("report, a corrupt params step (nothing written)", ["report", "run", "corrupt", "--out", "rep"]),
    ("analysis script, results.csv cut mid-row", ["sweetspot.analysis.regime_heatmap", "cutcsv", "--out", "rep"]),
    ("analysis script, a point not in the run", [*WIRING, "run", "--a", "0", "--b", "17"]),
    ("analysis script, a corrupt params step", [*WIRING, "corrupt", "--a", "0", "--b", "depth=2,sparsity=0.0,seed=1"]),
    ("predict-depth missing file", ["predict-depth", "nofile.py"]),
    ("predict-depth --width -5", ["predict-depth", "tree:levels=2", "--width", "-5"]),
    ("predict-depth --width 0", ["predict-depth", "tree:levels=2", "--width", "0"]),
    ("predict-depth unknown family", ["predict-depth", "nosuch:levels=2"]),
]


HOLDER = """import sys, time
from sweetspot import rundir
with rundir.lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(600)
"""


def _snapshot(root: str) -> dict:
    out = {}
    for d, _, files in os.walk(root):
        if "jax-cache" in d:
            continue
        for f in files:
            p = os.path.join(d, f)
            if f.endswith(".lock"):  # a killed sweep's stale OUT.lock: the next sweep on OUT removes it
                continue
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hash(fh.read())
        out[os.path.relpath(d, root) + "/"] = None
    return out


def _bad_input_files(work: str, cache: str) -> subprocess.Popen:
    """The files the bad inputs act on; returns the process holding `locked`'s lock (kill it afterwards)."""
    os.makedirs(work, exist_ok=True)
    open(os.path.join(work, "tiny.py"), "w").write(TINY)
    open(os.path.join(work, "syntax.py"), "w").write("def get_config(:\n")
    open(os.path.join(work, "text.npz"), "w").write("not numpy")
    open(os.path.join(work, "afile"), "w").write("a user's file")
    os.makedirs(os.path.join(work, "mydir"))
    open(os.path.join(work, "mydir", "notes.txt"), "w").write("a user's notes")
    rng = np.random.default_rng(0)
    net = {"W0": rng.normal(size=(4, 3)), "b0": np.zeros(3), "W1": rng.normal(size=(3, 1)), "b1": np.zeros(1)}
    np.savez(os.path.join(work, "ok.npz"), **net)
    np.savez(os.path.join(work, "inputs5.npz"), **{**net, "W0": rng.normal(size=(5, 3))})
    np.savez(os.path.join(work, "shortbias.npz"), **{**net, "b0": np.zeros(2)})
    sweep = [sys.executable, "-m", "sweetspot", "sweep", os.path.join(work, "tiny.py"), "--out"]
    env = _env(None, cache)
    for name, kill in (("run", None), ("corrupt", None), ("partial", "chunk 1/")):
        _run([*sweep, os.path.join(work, name), "--no-host-devices"], env, kill_on=kill)
    _run([*sweep, os.path.join(work, "partial2")], _env(2, cache), kill_on="chunk 1/")
    for root, _, files in os.walk(os.path.join(work, "corrupt", "params", "1")):
        for f in files:
            if os.path.basename(root) == "d":
                open(os.path.join(root, f), "wb").write(b"garbage")
    _damaged_copies(work)
    os.makedirs(os.path.join(work, "locked"))
    os.symlink("locked", os.path.join(work, "alias"))
    holder = HOLDER
    p = subprocess.Popen(
        [sys.executable, "-c", holder, os.path.join(work, "locked")], stdout=subprocess.PIPE, text=True
    )
    p.stdout.readline()
    return p


def _damaged_copies(work: str) -> None:
    """Copies of `run` with a damaged file: results.csv cut mid-row, cut at a row, missing; meta.json cut."""
    for name in ("cutcsv", "shortcsv", "nocsv", "badmeta"):
        shutil.copytree(os.path.join(work, "run"), os.path.join(work, name))
    csv_path = lambda name: os.path.join(work, name, "results.csv")
    data = open(csv_path("run"), "rb").read()
    last = data.splitlines(keepends=True)[-1]
    open(csv_path("cutcsv"), "wb").write(data[: len(data) - len(last) // 2])
    open(csv_path("shortcsv"), "wb").write(data[: len(data) - len(last)])
    os.remove(csv_path("nocsv"))
    meta = open(os.path.join(work, "run", "meta.json"), "rb").read()
    open(os.path.join(work, "badmeta", "meta.json"), "wb").write(meta[:200])


def _command(argv: list[str]) -> list[str]:
    """The command line of a BAD_INPUTS row: `python -m sweetspot ARGV`, or an analysis module's script."""
    script = argv[0].startswith("sweetspot.")
    return [sys.executable, "-m", *argv] if script else [sys.executable, "-m", "sweetspot", *argv]


def bad_inputs(work: str) -> list[dict]:
    """Runs every BAD_INPUTS command in `work`; rows of (what, command, exit status, message, nothing changed)."""
    cache = os.path.join(work, "jax-cache")
    holder = _bad_input_files(work, cache)
    rows = []
    try:
        for what, argv in BAD_INPUTS:
            before = _snapshot(work)
            env = _env(None, cache)
            r = subprocess.run(_command(argv), cwd=work, env=env, capture_output=True, text=True)
            lines = [x for x in r.stderr.strip().splitlines() if x]
            changed = sorted(set(_snapshot(work).items()) ^ set(before.items()))
            row = {
                "what": what,
                "argv": argv,
                "rc": r.returncode,
                "message": lines[-1] if lines else "",
                "stderr_lines": len(lines),
                "traceback": "Traceback" in r.stderr,
                "changed": changed[:5],
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    finally:
        holder.kill()
    return rows


def _markdown(rows: list[dict]) -> str:
    out = ["| bad input | command | message (stderr, last line) | files changed |", "|---|---|---|---|"]
    for r in rows:
        cmd = " ".join(a if a else "''" for a in r["argv"]).replace("|", "\\|")
        msg = r["message"].replace("|", "\\|")
        msg = f"`` {msg} ``" if "`" in msg else f"`{msg}`"
        cmd = f"python -m {cmd}" if r["argv"][0].startswith("sweetspot.") else f"sweetspot {cmd}"
        out.append(f"| {r['what']} | `{cmd}` | {msg} | {'none' if not r['changed'] else r['changed']} |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10, help="kill/resume trials (default %(default)s)")
    ap.add_argument("--overwrite-trials", type=int, default=5, help="killed --overwrite trials (default %(default)s)")
    ap.add_argument("--max-kills", type=int, default=2, help="kills of the resumes per trial (default %(default)s)")
    ap.add_argument("--no-device-trial", action="store_true", help="skip the 2-device / 1-device resume trial")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", help="work directory to keep (default: a temporary one, removed)")
    ap.add_argument("--bad-inputs", action="store_true", help="only the bad-input table of docs/reliability.md")
    args = ap.parse_args(argv)
    if args.bad_inputs:
        work = args.keep or tempfile.mkdtemp(prefix="bad_inputs-")
        rows = bad_inputs(work)
        print(_markdown(rows))
        bad = [r for r in rows if r["rc"] == 0 or r["traceback"] or r["stderr_lines"] != 1 or r["changed"]]
        print(json.dumps({"bad_inputs": len(rows), "failed": [r["what"] for r in bad]}))
        return 1 if bad else 0
    rng = random.Random(args.seed)
    work = args.keep or tempfile.mkdtemp(prefix="kill_resume-")
    os.makedirs(work, exist_ok=True)
    cache = os.path.join(work, "jax-cache")
    env = _env(None, cache)
    t0 = time.time()
    rc, err = _run(_cmd(os.path.join(work, "reference", "run")), env)
    assert rc == 0, err[-2000:]
    t1 = time.time()  # the run --overwrite trials replace; the same program, so timed with a warm cache
    rc, err = _run(_cmd(os.path.join(work, "old", "run"), "--config.seed=1"), env)
    assert rc == 0, err[-2000:]
    wall = max(time.time() - t1, 1.0)
    ref_dir = os.path.join(work, "reference", "run")
    ref = (open(os.path.join(ref_dir, "results.csv"), "rb").read(), _networks(ref_dir))
    print(f"reference: {ref_dir}, one run takes ~{wall:.1f}s", file=sys.stderr)
    trials = []
    for i in range(args.trials):
        trials.append(_kill_trial(work, i, env, rng, args, wall, ref))
        print(json.dumps(trials[-1]), file=sys.stderr)
    for i in range(args.overwrite_trials):
        trials.append(_overwrite_trial(work, i, env, rng, wall, ref, os.path.join(work, "old", "run")))
        print(json.dumps(trials[-1]), file=sys.stderr)
    if not args.no_device_trial:
        trials.append(_device_trial(work, cache))
        print(json.dumps(trials[-1]), file=sys.stderr)
    failed = [t for t in trials if t["problems"]]
    print(json.dumps({"trials": len(trials), "failed": len(failed), "wall_s": round(time.time() - t0, 1)}))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
