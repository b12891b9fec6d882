"""meta.json's provenance: the commit of the package's source checkout (never the literal "HEAD") and whether that
checkout was dirty. Runs git only; trains nothing."""

import re
import subprocess

from sweetspot import results as res_lib


def test_commit_is_a_full_hash_or_unknown_and_dirty_is_a_bool():
    commit, dirty = res_lib.git_provenance()
    assert commit != "HEAD"
    assert re.fullmatch(r"[0-9a-f]{40}", commit) or commit == res_lib.UNKNOWN_COMMIT
    if commit == res_lib.UNKNOWN_COMMIT:
        assert dirty is None
    else:
        assert isinstance(dirty, bool)


def test_no_checkout_and_a_checkout_without_commits_are_unknown(tmp_path):
    outside = tmp_path / "not_a_repo"
    outside.mkdir()
    assert res_lib.git_provenance(str(outside)) == (res_lib.UNKNOWN_COMMIT, None)
    fresh = tmp_path / "fresh"  # `git rev-parse HEAD` prints "HEAD" here and fails: it used to be recorded
    fresh.mkdir()
    subprocess.run(["git", "init", "-q", str(fresh)], check=True)
    (fresh / "a.py").write_text("x = 1\n")
    subprocess.run(["git", "-C", str(fresh), "add", "a.py"], check=True)
    assert res_lib.git_provenance(str(fresh)) == (res_lib.UNKNOWN_COMMIT, None)


def test_a_committed_checkout_gives_its_hash_and_dirty_flag(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git = lambda *a: subprocess.run(["git", "-C", str(repo), *a], check=True, capture_output=True, text=True)
    git("init", "-q")
    (repo / "a.py").write_text("x = 1\n")
    git("add", "a.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    head = git("rev-parse", "HEAD").stdout.strip()
    assert res_lib.git_provenance(str(repo)) == (head, False)
    (repo / "a.py").write_text("x = 2\n")
    assert res_lib.git_provenance(str(repo)) == (head, True)
    untracked = repo / "copy"  # a folder with no tracked file (a copied package): not this checkout's code
    untracked.mkdir()
    (untracked / "b.py").write_text("y = 1\n")
    assert res_lib.git_provenance(str(untracked)) == (res_lib.UNKNOWN_COMMIT, None)
