"""analysis/compare_runs.py: byte-identity of two make-figures outputs, on hand-made run folders."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "analysis", "compare_runs.py")


def _run(folder, name, csv, status="complete"):
    d = os.path.join(folder, name)
    os.makedirs(d)
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump({"status": status}, f)
    with open(os.path.join(d, "results.csv"), "w") as f:
        f.write(csv)


def _compare(*args):
    out = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True)
    return out.returncode, dict(line.rsplit(": ", 1) for line in out.stdout.splitlines()[:-1])


def test_identical_runs_pass_and_one_changed_byte_fails(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        _run(folder, "e1", "point,C\n0,0.5\n")
        _run(folder, "e2", "point,C\n0,0.25\n")
    _run(a, "t1", "x\n", status="running")
    _run(b, "t1", "y\n")
    rc, got = _compare(str(a), str(b))
    assert rc == 0 and got == {"run e1": "identical", "run e2": "identical", "run t1": "incomplete"}
    with open(b / "e2" / "results.csv", "w") as f:
        f.write("point,C\n0,0.26\n")
    rc, got = _compare(str(a), str(b))
    assert rc == 1 and got["run e2"] == "DIFFERENT" and got["run e1"] == "identical"


def test_one_sided_runs_and_report_csvs(tmp_path):
    a, b, ra, rb = (tmp_path / n for n in ("a", "b", "ra", "rb"))
    _run(a, "e1", "z\n")
    _run(b, "e1", "z\n")
    _run(a, "e6", "z\n")
    for r in (ra, rb):
        os.makedirs(r)
        (r / "e1.csv").write_text("1\n")
    (rb / "e6.csv").write_text("1\n")
    rc, got = _compare(str(a), str(b), "--reports", str(ra), str(rb))
    assert rc == 1 and got == {
        "run e1": "identical",
        "run e6": "only in A",
        "report e1.csv": "identical",
        "report e6.csv": "only in B",
    }
    rc, _ = _compare(str(a), str(tmp_path / "missing"))
    assert rc != 0
