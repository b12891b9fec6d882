"""A run's checksums: the sha256 of results.csv and of every file of its checkpoint steps (results/, params/),
recorded in meta.json under `sha256` ({path relative to the run: hex digest}) when the run completes, after every
file they cover and in the same atomic write as `status: complete`. docs/reliability.md, "Checksums".

Every file a command reads is checked as it is read (results.read_results_csv, the params restores of rundir, a
resume's restores); `python -m sweetspot verify RUN_DIR` compares them all (`compare`). A run made before checksums
were recorded has no `sha256` in meta.json: it loads as before, and verify says so. No jax here: pure file reads.
"""

from __future__ import annotations

import hashlib
import os

KEY = "sha256"  # meta.json's key
COVERED = ("results.csv", "results", "params")  # the file and the checkpoint directories a checksum covers
OK, CHANGED, MISSING, ADDED = "ok", "changed", "missing", "added"
WHAT = {
    CHANGED: "changed since the run wrote it (its sha256 is not the one in meta.json)",
    MISSING: "is missing (meta.json has its sha256)",
    ADDED: "was added after the run finished (meta.json has no sha256 for it)",
}


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str) -> str:
    """The sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run_files(run_dir: str, under: str = "") -> list[str]:
    """The files a checksum covers (relative to run_dir, '/'-separated, sorted): results.csv and every file under
    results/ and params/; only those under `under` (e.g. 'params/1/') when given."""
    found = []
    for top in COVERED:
        path = os.path.join(run_dir, top)
        if os.path.isfile(path):
            found.append(top)
        for root, _, names in os.walk(path):
            rel = os.path.relpath(root, run_dir).replace(os.sep, "/")
            found += [f"{rel}/{n}" for n in names]
    return sorted(f for f in found if f.startswith(under))


def compute(run_dir: str) -> dict[str, str]:
    """{file: sha256} of every file a checksum covers, as meta.json records it."""
    return {rel: sha256_file(os.path.join(run_dir, rel)) for rel in run_files(run_dir)}


def recorded(meta: dict) -> dict[str, str] | None:
    """meta.json's checksums, or None for a run made before they were recorded."""
    return meta.get(KEY)


def compare(run_dir: str, sums: dict[str, str], under: str = "") -> dict[str, str]:
    """{file: ok | changed | missing | added} of every file recorded in `sums` or on disk (under `under`)."""
    on_disk = set(run_files(run_dir, under))
    status = {}
    for rel in sorted(on_disk | {r for r in sums if r.startswith(under)}):
        if rel not in sums:
            status[rel] = ADDED
        elif rel not in on_disk:
            status[rel] = MISSING
        else:
            status[rel] = OK if sha256_file(os.path.join(run_dir, rel)) == sums[rel] else CHANGED
    return status


def first_problem(status: dict[str, str]) -> tuple[str, str] | None:
    """(file, status) of the first file that does not match, or None."""
    return next(((rel, s) for rel, s in status.items() if s != OK), None)


def step_problem(run_dir: str, meta: dict, directory: str, step: int) -> str | None:
    """What is wrong with checkpoint step `step` of RUN_DIR/`directory` against meta.json's checksums, e.g.
    'RUN/params/1/default/d/ab12 changed since the run wrote it (...)'; None when it matches or none are recorded."""
    sums = recorded(meta)
    if sums is None:
        return None
    bad = first_problem(compare(run_dir, sums, f"{directory}/{step}/"))
    return None if bad is None else f"{os.path.join(run_dir, bad[0])} {WHAT[bad[1]]}"


def verify_lines(run_dir: str, meta: dict) -> tuple[list[str], str | None]:
    """What `python -m sweetspot verify RUN_DIR` prints: (lines, the error line or None). One line per file,
    'ok', 'changed', 'missing' or 'added', then a summary; a run without checksums is said to predate them."""
    sums = recorded(meta)
    if sums is None:
        return [
            f"{run_dir}: no checksums recorded (the run predates them: sweeps record the sha256 of results.csv and "
            "of every checkpoint file in meta.json when they finish); nothing verified. "
            f"`python -m sweetspot sweep CONFIG --out {run_dir} --resume` records them for the files as they are now"
        ], None
    status = compare(run_dir, sums)
    lines = [f"{s:<8} {rel}" for rel, s in status.items()]
    bad = [f"{rel} {s}" for rel, s in status.items() if s != OK]
    if not bad:
        return [*lines, f"{run_dir}: all {len(status)} files match meta.json's sha256"], None
    shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
    return lines, (
        f"{run_dir}: {len(bad)} of {len(status)} files differ from meta.json's sha256 ({shown}): "
        f"`python -m sweetspot sweep CONFIG --out {run_dir} --resume` recomputes what changed"
    )
