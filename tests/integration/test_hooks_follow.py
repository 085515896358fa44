"""post-checkout / post-merge / post-rewrite: tracked data follows git switch, merge, rebase."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import git, write


def g(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)


def commit_data(root: Path, cli, msg: str, *targets: str) -> None:
    assert cli("add", "-q", *targets).code == 0
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", msg)  # pre-commit is tested elsewhere


@pytest.fixture
def branches(repo: Path, cli) -> Path:
    """main: t.csv v1, imgs/{0,1,2}, keep.bin; feat: t.csv v2, imgs/{0,1',3}, extra.bin."""
    assert cli("hooks", "install").code == 0
    write(repo / "data" / "t.csv", "v1\n")
    write(repo / "keep.bin", "unchanged")
    for i in range(3):
        write(repo / "data" / "imgs" / f"{i}.png", f"img {i}")
    commit_data(repo, cli, "v1", "data/t.csv", "data/imgs", "keep.bin")
    git(repo, "-c", "core.hooksPath=/dev/null", "switch", "-q", "-c", "feat")
    write(repo / "data" / "t.csv", "v2\n")
    write(repo / "data" / "imgs" / "1.png", "img 1 v2")
    os.unlink(repo / "data" / "imgs" / "2.png")
    write(repo / "data" / "imgs" / "3.png", "img 3")
    write(repo / "extra.bin", "extra")
    commit_data(repo, cli, "v2", "data/t.csv", "data/imgs", "extra.bin")
    return repo


def imgs(root: Path) -> dict[str, str]:
    d = root / "data" / "imgs"
    return {p.name: p.read_text() for p in sorted(d.iterdir())} if d.exists() else {}


def test_data_follows_switch_and_unchanged_data_is_not_touched(branches: Path) -> None:
    keep = os.stat(branches / "keep.bin")
    r = g(branches, "switch", "-q", "main")
    assert r.returncode == 0, r.stderr
    assert (branches / "data" / "t.csv").read_text() == "v1\n"
    assert imgs(branches) == {"0.png": "img 0", "1.png": "img 1", "2.png": "img 2"}
    assert not (branches / "extra.bin").exists()  # its pointer is gone; the store keeps it
    assert "tracked data updated" in r.stderr and "removed 1 file no longer tracked" in r.stderr
    after = os.stat(branches / "keep.bin")
    assert (after.st_ino, after.st_mtime_ns) == (keep.st_ino, keep.st_mtime_ns)
    r = g(branches, "switch", "-q", "feat")
    assert (branches / "data" / "t.csv").read_text() == "v2\n"
    assert imgs(branches) == {"0.png": "img 0", "1.png": "img 1 v2", "3.png": "img 3"}
    assert (branches / "extra.bin").read_text() == "extra"


def test_switch_that_changes_no_data_says_nothing(branches: Path) -> None:
    write(branches / "code.py", "x\n")
    git(branches, "add", "code.py")
    git(branches, "commit", "-q", "-m", "code")
    r = g(branches, "switch", "-q", "HEAD~1", "--detach")
    assert r.returncode == 0 and r.stderr == ""
    r = g(branches, "switch", "-q", "-c", "new-branch")
    assert r.returncode == 0 and r.stderr == ""


def test_unstored_changes_are_kept_and_named(branches: Path) -> None:
    write(branches / "data" / "t.csv", "my edit\n")
    write(branches / "extra.bin", "edited extra")
    r = g(branches, "switch", "-q", "main")
    assert r.returncode == 0  # Git has switched: the hook reports, it cannot undo
    assert "kept data/t.csv: it has changes that are not stored; keep them with: " \
           "gitml add data/t.csv (or take this commit's data with: " \
           "gitml checkout --force data/t.csv)" in r.stderr
    assert "kept extra.bin: no longer tracked in this commit" in r.stderr
    assert (branches / "data" / "t.csv").read_text() == "my edit\n"
    assert (branches / "extra.bin").read_text() == "edited extra"
    assert imgs(branches)["1.png"] == "img 1"  # the rest followed


def test_the_commands_named_for_kept_data_run_as_given_with_a_space(repo: Path, cli) -> None:
    assert cli("hooks", "install").code == 0
    write(repo / "my data" / "t.csv", "v1\n")
    commit_data(repo, cli, "v1", "my data/t.csv")
    git(repo, "-c", "core.hooksPath=/dev/null", "switch", "-q", "-c", "feat")
    write(repo / "my data" / "t.csv", "v2\n")
    commit_data(repo, cli, "v2", "my data/t.csv")
    write(repo / "my data" / "t.csv", "my edit\n")
    r = g(repo, "switch", "-q", "main")
    line = next(x for x in r.stderr.splitlines() if x.startswith("gitml: kept "))
    force = line.split("take this commit's data with: ")[1].rstrip(")")
    assert force == "gitml checkout --force 'my data/t.csv'"
    assert subprocess.run(force, shell=True, cwd=repo).returncode == 0
    assert (repo / "my data" / "t.csv").read_text() == "v1\n"


def test_strict_mode_makes_problems_fail_the_switch(branches: Path) -> None:
    write(branches / "data" / "t.csv", "my edit\n")
    r = g(branches, "-c", "gitml.hooksStrict=true", "switch", "-q", "main")
    assert r.returncode == 1 and "kept data/t.csv" in r.stderr


def test_data_missing_from_the_store_is_reported(branches: Path) -> None:
    from gitml.hashing import hash_bytes

    oid = hash_bytes(b"v1\n")[5:]
    obj = branches / ".gitml" / "cache" / "objects" / oid[:2]
    os.chmod(obj, 0o755)
    os.unlink(obj / oid[2:])
    r = g(branches, "switch", "-q", "main")
    assert r.returncode == 0
    assert "1 file missing from the store and 0 corrupt, not checked out (first: " \
           "data/t.csv); get them with: gitml pull" in r.stderr
    assert imgs(branches)["1.png"] == "img 1"


def test_malformed_pointer_in_the_new_commit_is_one_line(branches: Path) -> None:
    (branches / "data" / "t.csv.gitml").write_text("gitml: 1\nkind: [\n")
    git(branches, "commit", "-q", "--no-verify", "-am", "broken pointer")
    git(branches, "switch", "-q", "main")
    r = g(branches, "switch", "-q", "feat")
    assert r.returncode == 0
    assert "could not check out data: data/t.csv.gitml: invalid YAML" in r.stderr


def test_file_checkout_of_a_pointer_leaves_data_alone(branches: Path) -> None:
    r = g(branches, "checkout", "main", "--", "data/t.csv.gitml")
    assert r.returncode == 0 and r.stderr == ""
    assert (branches / "data" / "t.csv").read_text() == "v2\n"  # 'gitml checkout' does it


def test_fast_forward_merge_brings_the_data(branches: Path) -> None:
    git(branches, "switch", "-q", "main")
    r = g(branches, "merge", "-q", "--ff-only", "feat")
    assert r.returncode == 0, r.stderr
    assert (branches / "data" / "t.csv").read_text() == "v2\n"
    assert imgs(branches) == {"0.png": "img 0", "1.png": "img 1 v2", "3.png": "img 3"}


def test_squash_merge_brings_the_data(branches: Path) -> None:
    git(branches, "switch", "-q", "main")
    r = g(branches, "merge", "-q", "--squash", "feat")
    assert r.returncode == 0, r.stderr
    assert (branches / "data" / "t.csv").read_text() == "v2\n"
    assert (branches / "extra.bin").read_text() == "extra"


def test_rebase_ends_with_the_data_of_the_rebased_branch(branches: Path, cli) -> None:
    git(branches, "switch", "-q", "main")
    write(branches / "keep.bin", "main moved on")
    commit_data(branches, cli, "main data", "keep.bin")
    git(branches, "switch", "-q", "feat")
    r = g(branches, "rebase", "-q", "main")
    assert r.returncode == 0, r.stderr
    assert (branches / "data" / "t.csv").read_text() == "v2\n"
    assert (branches / "keep.bin").read_text() == "main moved on"
    assert imgs(branches) == {"0.png": "img 0", "1.png": "img 1 v2", "3.png": "img 3"}
    st = json.loads(cli("status", "--json").out)
    assert {s["state"] for s in st} == {"ok"}


def test_pre_commit_framework_variables_stand_in_for_arguments(branches: Path, cli,
                                                               monkeypatch) -> None:
    git(branches, "switch", "-q", "--no-guess", "main")  # hooks ran: data matches main
    old = git(branches, "rev-parse", "HEAD").strip()
    new = git(branches, "rev-parse", "feat").strip()
    git(branches, "-c", "core.hooksPath=/dev/null", "switch", "-q", "feat")  # no hooks
    assert (branches / "data" / "t.csv").read_text() == "v1\n"
    monkeypatch.setenv("PRE_COMMIT_FROM_REF", old)
    monkeypatch.setenv("PRE_COMMIT_TO_REF", new)
    monkeypatch.setenv("PRE_COMMIT_CHECKOUT_TYPE", "1")
    r = cli("hooks", "run", "post-checkout")
    assert r.code == 0, r.err
    assert (branches / "data" / "t.csv").read_text() == "v2\n"


def test_post_checkout_needs_its_arguments(branches: Path, cli) -> None:
    r = cli("hooks", "run", "post-checkout", "abc")
    assert r.code == 2 and "post-checkout expects three arguments" in r.err
