"""Two processes on this machine (coordinator on 127.0.0.1, gloo CPU collectives) run one grid together and
write the same results as a single-process run."""

import os
import socket
import subprocess
import sys

import numpy as np

from sweetspot import results as res_lib

ROOT = os.path.join(os.path.dirname(__file__), "..")
OVERRIDES = [
    "--config.train.steps=20",
    "--config.train.eval_every=10",
    "--config.grid.depth=(1,2)",
    "--config.grid.sparsity=(0.0,0.5)",
    "--config.grid.seed=(0,1,2)",
    "--config.grid.method=('random',)",
    "--config.model.width=4",
    "--config.metrics.enabled=False",
    "--config.engine.chunk_size=2",
    "--config.target.n_train=256",
    "--config.target.n_test=128",
    "--config.target.n_heldout=64",
]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env():
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["JAX_PLATFORMS"] = "cpu"
    return env


def _sweep_cmd(out, *extra):
    return [
        sys.executable,
        "-m",
        "sweetspot",
        "sweep",
        "sweeps/regime_map.py",
        "--out",
        out,
        "--no-host-devices",
        *extra,
        *OVERRIDES,
    ]


def test_two_processes_equal_one(tmp_path):
    port = _free_port()
    multi = str(tmp_path / "multi")
    launch = ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id"]
    procs = [
        subprocess.Popen(
            _sweep_cmd(multi, *launch, str(i)),
            cwd=ROOT,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=400) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    assert "2 device(s)" in outs[0][1]  # one CPU device per process, one global mesh
    single = str(tmp_path / "single")
    r = subprocess.run(_sweep_cmd(single), cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stderr[-3000:]
    a = res_lib.read_csv(os.path.join(multi, "results.csv"))
    b = res_lib.read_csv(os.path.join(single, "results.csv"))
    assert len(a) == len(b) == 12
    for ra, rb in zip(a, b, strict=True):
        for k in ("method", "depth", "sparsity", "seed", "realised_sparsity", "live_params"):
            assert ra[k] == rb[k], k
        np.testing.assert_allclose(float(ra["test_loss"]), float(rb["test_loss"]), rtol=1e-4)
    assert res_lib.read_meta(multi)["status"] == "complete"
