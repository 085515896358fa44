"""Shared fixtures: real Git repositories in temp dirs, isolated from the machine's config."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitml import progress


@pytest.fixture(autouse=True, scope="session")
def _isolated_git(tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test sees the machine's Git config; identity and default branch are fixed."""
    home = tmp_path_factory.mktemp("home")
    cfg = home / "gitconfig"
    cfg.write_text("[user]\n\tname = gitml tests\n\temail = tests@gitml.invalid\n"
                   "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
    env = {
        "GIT_CONFIG_GLOBAL": str(cfg),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "gitml tests", "GIT_AUTHOR_EMAIL": "tests@gitml.invalid",
        "GIT_COMMITTER_NAME": "gitml tests", "GIT_COMMITTER_EMAIL": "tests@gitml.invalid",
        "HOME": str(home),
        "GITML_NO_PROGRESS": "1",
        "AWS_EC2_METADATA_DISABLED": "true",  # boto never asks a cloud VM for credentials
    }
    os.environ.update(env)
    for k in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "NO_COLOR"):
        os.environ.pop(k, None)
    progress.set_enabled(False)
    # A suite started in the background by a shell without job control inherits SIGINT
    # ignored, and so would every gitml it starts: the Ctrl-C tests would then wait for
    # nothing. A handler here makes each child start with the default again.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def git(cwd: Path | str, *args: str) -> str:
    """Run git in ``cwd``; fail the test with Git's message when it fails."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"git {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(*args: str) -> Result:
    """Run ``gitml ARGS`` in-process; returns exit code, stdout and stderr."""
    from gitml.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code: object = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as e:
            code = e.code
    return Result(int(code or 0), out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def gitrepo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Git repository, the current directory for the test."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def repo(gitrepo: Path) -> Path:
    """A Git repository with gitml initialised and one initial commit."""
    assert run_cli("init", "-q").code == 0
    git(gitrepo, "add", ".gitml", *[p for p in (".gitattributes",) if (gitrepo / p).exists()])
    git(gitrepo, "commit", "-q", "-m", "init")
    return gitrepo


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def corrupt(path: str | Path, data: bytes) -> None:
    """Damage a stored object as a failing disk would (clearing the immutable flag that a
    symlinked object carries)."""
    from gitml.fsflags import set_immutable

    set_immutable(str(path), False)
    os.chmod(path, 0o644)
    Path(path).write_bytes(data)
    os.chmod(path, 0o444)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Clear the immutable flag that symlinked objects get as root, so that pytest can
    delete this run's temp directories (it leaves undeletable ``garbage-*`` otherwise)."""
    from gitml.fsflags import is_immutable, set_immutable

    factory = getattr(session.config, "_tmp_path_factory", None)
    base = getattr(factory, "_basetemp", None)
    if base is None or os.geteuid() != 0:
        return
    for top, _dirs, files in os.walk(base):
        if os.sep + "objects" in top:
            for name in files:
                path = os.path.join(top, name)
                if is_immutable(path):
                    set_immutable(path, False)
