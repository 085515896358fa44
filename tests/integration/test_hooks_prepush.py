"""The pre-push hook: a git push carries the data of its commits to the default remote."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest
from conftest import git, write

from gitml import pointer
from gitml.hashing import hash_bytes


def g(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)


def remote_objects(store: Path) -> set[str]:
    objs = store / "objects"
    if not objs.exists():
        return set()
    return {"xxh3:" + d.name + f.name for d in objs.iterdir() for f in d.iterdir()
            if not f.name.startswith(".gitml-tmp-")}  # a killed push's temp file


@pytest.fixture
def pushable(repo: Path, cli, tmp_path: Path) -> Path:
    """Hooks installed, a bare Git remote 'origin' and a directory gitml remote (default)."""
    assert cli("hooks", "install").code == 0
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    git(repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    assert cli("remote", "add", "store", str(tmp_path / "store"), "--default").code == 0
    for i in range(3):
        write(repo / "data" / "imgs" / f"{i}.png", f"img {i}")
    write(repo / "model.bin", "weights v1")
    assert cli("add", "-q", "data/imgs", "model.bin").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "data")
    return repo


def test_push_sends_the_data_of_the_pushed_commits(pushable: Path, tmp_path: Path,
                                                   cli) -> None:
    store = tmp_path / "store"
    r = g(pushable, "push", "-q", "origin", "main")
    assert r.returncode == 0, r.stderr
    manifest_oid = pointer.load(str(pushable / "data" / "imgs.gitml")).oid
    want = {hash_bytes(f"img {i}".encode()) for i in range(3)}
    want |= {hash_bytes(b"weights v1"), manifest_oid}
    assert remote_objects(store) == want
    assert "gitml: pushed 5 objects" in r.stderr
    # an intermediate commit's data goes too, not only the tip's
    write(pushable / "model.bin", "weights v2")
    assert cli("add", "-q", "model.bin").code == 0
    git(pushable, "commit", "-q", "--no-verify", "-am", "v2")
    write(pushable / "model.bin", "weights v3")
    assert cli("add", "-q", "model.bin").code == 0
    git(pushable, "commit", "-q", "--no-verify", "-am", "v3")
    r = g(pushable, "push", "-q", "origin", "main")
    assert r.returncode == 0, r.stderr
    assert {hash_bytes(b"weights v2"), hash_bytes(b"weights v3")} <= remote_objects(store)
    assert "pushed 2 objects" in r.stderr
    # nothing new: nothing to say
    r = g(pushable, "push", "-q", "origin", "main")
    assert r.returncode == 0 and "gitml" not in r.stderr


def test_push_of_commits_without_data_changes_is_silent(pushable: Path, tmp_path: Path) -> None:
    git(pushable, "push", "-q", "origin", "main")
    write(pushable / "code.py", "x\n")
    git(pushable, "add", "code.py")
    git(pushable, "commit", "-q", "--no-verify", "-m", "code")
    r = g(pushable, "push", "-q", "origin", "main")
    assert r.returncode == 0 and r.stderr == ""
    git(pushable, "push", "-q", "origin", "main:other")
    r = g(pushable, "push", "-q", "origin", ":other")  # a deletion carries no data
    assert r.returncode == 0 and r.stderr == ""


def test_no_default_remote_is_one_line_or_a_strict_refusal(pushable: Path, cli) -> None:
    assert cli("config", "--unset", "core.remote").code == 0
    r = g(pushable, "-c", "gitml.hooksStrict=true", "push", "-q", "origin", "main")
    assert r.returncode != 0 and "no default gitml remote" in r.stderr
    assert g(pushable, "ls-remote", "origin").stdout == ""  # nothing was pushed
    r = g(pushable, "push", "-q", "origin", "main")
    assert r.returncode == 0
    assert r.stderr.strip() == ("gitml: no default gitml remote, so the data of these commits "
                                "was not pushed (set one with: gitml remote add NAME URL "
                                "--default)")


def test_data_that_cannot_be_pushed_stops_the_git_push(pushable: Path, tmp_path: Path) -> None:
    oid = hash_bytes(b"weights v1")[5:]
    obj = pushable / ".gitml" / "cache" / "objects" / oid[:2]
    os.chmod(obj, 0o755)
    os.unlink(obj / oid[2:])  # neither here nor on the remote
    r = g(pushable, "push", "-q", "origin", "main")
    assert r.returncode != 0
    assert "could not push the data of these commits to remote store" in r.stderr
    assert "git push --no-verify" in r.stderr
    assert g(pushable, "ls-remote", "origin").stdout == ""  # the commits did not go either


def test_unreachable_remote_stops_the_git_push(pushable: Path, tmp_path: Path) -> None:
    write(tmp_path / "store", "a file where the remote directory should be")
    r = g(pushable, "push", "-q", "origin", "main")
    assert r.returncode != 0 and "could not push the data" in r.stderr
    assert g(pushable, "ls-remote", "origin").stdout == ""


def test_pre_commit_framework_variables_give_the_range(pushable: Path, tmp_path: Path, cli,
                                                       monkeypatch) -> None:
    monkeypatch.setenv("PRE_COMMIT_REMOTE_NAME", "origin")
    monkeypatch.setenv("PRE_COMMIT_REMOTE_URL", str(tmp_path / "origin.git"))
    monkeypatch.setenv("PRE_COMMIT_LOCAL_BRANCH", "refs/heads/main")
    monkeypatch.setenv("PRE_COMMIT_REMOTE_BRANCH", "refs/heads/main")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"")))  # the framework's
    r = cli("hooks", "run", "pre-push")
    assert r.code == 0, r.err
    assert hash_bytes(b"weights v1") in remote_objects(tmp_path / "store")


@pytest.mark.parametrize("action", ["raise", "sigkill"])
def test_push_interrupted_midway_stops_git_push_and_a_rerun_finishes(
        pushable: Path, tmp_path: Path, action: str) -> None:
    env = dict(os.environ, GITML_TEST_FAIL_AFTER="2", GITML_TEST_FAIL_ACTION=action)
    r = subprocess.run(["git", "push", "-q", "origin", "main"], cwd=pushable, env=env,
                       capture_output=True, text=True)
    assert r.returncode != 0
    if action == "raise":
        assert "could not push the data of these commits to remote store: injected" in r.stderr
    assert g(pushable, "ls-remote", "origin").stdout == ""  # the commits stayed here
    assert len(remote_objects(tmp_path / "store")) < 5
    r = g(pushable, "push", "-q", "origin", "main")
    assert r.returncode == 0, r.stderr
    assert len(remote_objects(tmp_path / "store")) == 5
    assert "main" in g(pushable, "ls-remote", "origin").stdout
