"""The pinned environment (issue 38): the running environment has exactly requirements.lock's versions (so a fresh
clone's `make test` proves that `make` installed the lock), the lock pins every package pyproject.toml names, make
installs from it, and the report's run block shows what made a run (environment.py)."""

import os
import re
from importlib import metadata

from sweetspot import checksums, environment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCK = os.path.join(ROOT, "requirements.lock")


def _installed_requirements() -> set[str]:
    """The names sweetspot's installed metadata requires (pyproject.toml's dependencies) and its dev extra adds."""
    specs = [s for s in metadata.requires("sweetspot") if "extra" not in s or re.search(r"extra == .dev.", s)]
    return {environment.normalise(re.match(r"[A-Za-z0-9._-]+", s).group(0)) for s in specs}


def test_the_installed_packages_are_the_locks_versions():
    pins = environment.read_pins(LOCK)
    assert len(pins) > 40, pins  # a real lock: the dependencies' dependencies too
    installed = {name: environment.installed_version(name) for name in pins}
    fix = "reinstall the lock: `rm .venv/.installed && make test`"
    assert installed == pins, f"{environment.differences(pins)}: {fix}"


def test_the_lock_pins_every_dependency_make_installs_and_no_torch():
    wanted = _installed_requirements()
    assert {"jax", "numpy", "orbax-checkpoint", "pytest", "pandas"} <= wanted, wanted
    pins = environment.read_pins(LOCK)
    assert wanted <= set(pins), wanted - set(pins)
    assert "torch" not in pins  # the bench extra: never installed by make
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", v) for v in pins.values()), pins
    assert environment.lock_path() == os.path.normpath(LOCK)


def test_make_installs_the_lock_and_reinstalls_when_it_changes():
    make = open(os.path.join(ROOT, "Makefile")).read()
    stamp = make.split("$(STAMP):", 1)[1].split("\n\n", 1)[0]
    assert stamp.split("\n", 1)[0].split() == ["$(LOCK)", "pyproject.toml"]  # the stamp's prerequisites
    assert "pip install --quiet -r $(LOCK)" in stamp and "pip install --quiet --no-deps -e ." in stamp
    assert re.search(r"^lock:\n(\t.*\n)*\t\$\(UV\) pip compile pyproject.toml --extra dev", make, re.M)


def test_read_pins_skips_hashes_comments_and_normalises_names(tmp_path):
    lock = tmp_path / "r.lock"
    lock.write_text("# header\nMl_Collections==1.1.0 \\\n    --hash=sha256:ab\n    # via x\njax==0.10.2\n")
    assert environment.read_pins(str(lock)) == {"ml-collections": "1.1.0", "jax": "0.10.2"}


def test_the_environment_line_says_what_made_the_run():
    versions = {"jax": "0.10.2", "jaxlib": "0.10.2", "numpy": "2.4.6"}
    lock = {"file": "requirements.lock", "sha256": "7755d138f87f" + "0" * 52, "differs": []}
    made = environment.line({"versions": versions, "lock": lock})
    assert made == "jax 0.10.2, jaxlib 0.10.2, numpy 2.4.6; requirements.lock sha256 7755d138f87f (installed as locked)"
    other = {**lock, "differs": ["numpy installed 2.4.5, locked 2.4.6"]}
    differs = environment.line({"versions": versions, "lock": other})
    assert differs.endswith("(installed differs: numpy installed 2.4.5, locked 2.4.6)")
    assert environment.line({"versions": versions}).endswith("; lock not recorded (the run predates it)")
    assert environment.line({"versions": versions, "lock": None}).endswith("(installed from pyproject.toml's ranges)")


def test_the_report_run_block_shows_the_environment(tmp_path):
    from sweetspot.analysis import base, page

    versions = {"jax": "0.10.2", "jaxlib": "0.10.2", "numpy": "2.4.6"}
    meta = {"config": {}, "command": "sweep", "wall_s": 3.0, "versions": versions, "lock": environment.record()}
    section = base.Section("E0", "A result. More.", runs=[base.Run("runs/r", meta, [])])
    html = open(page.write_index(str(tmp_path), [section], "report")).read()
    digest = checksums.sha256_file(LOCK)[:12]
    assert f"jax 0.10.2, jaxlib 0.10.2, numpy 2.4.6; requirements.lock sha256 {digest}" in html
