"""The environment that made a run: requirements.lock (every package `make` installs, pinned by `make lock`), its
sha256, and whether the installed packages are the locked ones; recorded in meta.json (`lock`) by each sweep, and
shown with the run's jax, jaxlib and numpy versions by the report (`line`). README, top.

The lock is found beside the package's source checkout (src/sweetspot/../../requirements.lock); a package
installed from the ranges (`pip install .`) has none, and its runs record `lock: null`.
"""

from __future__ import annotations

import hashlib
import os
import re
from importlib import metadata

LOCK_NAME = "requirements.lock"
SHOWN = ("jax", "jaxlib", "numpy")  # the versions the report's run block names


def lock_path() -> str | None:
    """The source checkout's requirements.lock, or None when the package is not run from a checkout."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", LOCK_NAME)
    return os.path.normpath(path) if os.path.isfile(path) else None


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them: lower case, runs of '-', '_' and '.' as one '-'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: str) -> dict[str, str]:
    """{normalised name: version} of every `name==version` line of a lock (hashes, comments and markers skipped)."""
    pins = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
            if m:
                pins[normalise(m.group(1))] = m.group(2)
    return pins


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def differences(pins: dict[str, str]) -> list[str]:
    """'NAME installed VERSION, locked VERSION' for every pinned package whose installed version differs."""
    found = {name: installed_version(name) for name in pins}
    return [f"{n} installed {found[n] or 'not at all'}, locked {v}" for n, v in pins.items() if found[n] != v]


def record() -> dict | None:
    """meta.json's `lock`: {"file", "sha256", "differs"} (differs: the installed packages that are not the locked
    versions, [] when all are), or None when there is no lock."""
    path = lock_path()
    if path is None:
        return None
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return {"file": LOCK_NAME, "sha256": digest, "differs": differences(read_pins(path))}


def line(meta: dict) -> str:
    """The environment a run's meta.json records, in one line: 'jax 0.10.2, jaxlib 0.10.2, numpy 2.4.6;
    requirements.lock sha256 7755d138f87f (installed as locked)'."""
    versions = meta.get("versions") or {}
    names = ", ".join(f"{name} {versions.get(name) or '?'}" for name in SHOWN)
    if "lock" not in meta:
        return f"{names}; lock not recorded (the run predates it)"
    lock = meta["lock"]
    if lock is None:
        return f"{names}; no {LOCK_NAME} (installed from pyproject.toml's ranges)"
    differs = lock["differs"]
    more = f"; {len(differs) - 3} more" if len(differs) > 3 else ""
    how = "installed as locked" if not differs else "installed differs: " + "; ".join(differs[:3]) + more
    return f"{names}; {lock['file']} sha256 {lock['sha256'][:12]} ({how})"
