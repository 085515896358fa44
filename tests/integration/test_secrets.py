"""Credentials stay out of argv, crash logs and commits (issue 19, item 6)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git, write

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def gitml(cwd: Path, *args: str, stdin: str | None = None
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitml.cli.main", *args], cwd=cwd,
                          input=stdin, capture_output=True, text=True)


@pytest.fixture
def remote_repo(repo: Path, tmp_path: Path, cli) -> Path:
    assert cli("remote", "add", "store", str(tmp_path / "remote")).code == 0
    return repo


def test_a_credential_is_read_from_stdin_not_argv(remote_repo: Path) -> None:
    p = gitml(remote_repo, "remote", "modify", "--local", "store", "secret_access_key",
              "--stdin", stdin=SECRET + "\n")
    assert p.returncode == 0, p.stderr
    assert SECRET not in p.stdout + p.stderr and "warning" not in p.stderr
    assert SECRET in (remote_repo / ".gitml" / "config.local.yaml").read_text()
    # no value, no --stdin, no terminal: a usage error, nothing written
    p = gitml(remote_repo, "remote", "modify", "--local", "store", "session_token")
    assert p.returncode == 2 and "--stdin" in p.stderr
    # on the command line it still works, with a warning about ps and shell history
    p = gitml(remote_repo, "remote", "modify", "--local", "store", "session_token", SECRET)
    assert p.returncode == 0 and "visible to other users" in p.stderr
    assert SECRET not in p.stdout


def test_a_secret_is_not_written_where_git_would_commit_it(repo: Path, tmp_path: Path
                                                           ) -> None:
    # the attacker's commit drops the ignore rule for config.local.yaml
    attacker = repo
    assert gitml(attacker, "remote", "add", "store", str(tmp_path / "remote")).returncode == 0
    write(attacker / ".gitml" / ".gitignore", "# nothing ignored here\n")
    git(attacker, "add", "-A")
    git(attacker, "commit", "-q", "-m", "tidy")
    victim = tmp_path / "victim"
    git(tmp_path, "clone", "-q", str(attacker), str(victim))
    p = gitml(victim, "remote", "modify", "--local", "store", "secret_access_key", "--stdin",
              stdin=SECRET + "\n")
    assert p.returncode == 2, p.stderr
    assert "is not ignored by Git" in p.stderr and p.stderr.count("\n") == 1
    local = victim / ".gitml" / "config.local.yaml"
    assert not local.exists() or SECRET not in local.read_text()


def test_the_pre_commit_hook_refuses_staged_credentials(repo: Path, cli) -> None:
    assert cli("hooks", "install", "pre-commit").code == 0
    write(repo / "deploy.yaml", f"s3:\n  secret_access_key: {SECRET}\n")
    write(repo / "ok.yaml", "s3:\n  secret_access_key: ${AWS_SECRET}\n  token: ''\n"
                            "password_hint: see the wiki\n")
    write(repo / "settings.ini", "[db]\npassword = hunter2hunter2\n")
    git(repo, "add", "deploy.yaml", "ok.yaml", "settings.ini")
    p = subprocess.run(["git", "commit", "-q", "-m", "x"], cwd=repo, capture_output=True,
                       text=True)
    assert p.returncode != 0
    assert "deploy.yaml: line 2 holds a credential (secret_access_key)" in p.stderr
    assert "settings.ini: line 2 holds a credential (password)" in p.stderr
    assert "ok.yaml" not in p.stderr and SECRET not in p.stderr
    git(repo, "rm", "-q", "--cached", "deploy.yaml", "settings.ini")
    git(repo, "commit", "-q", "-m", "placeholders only")  # passes
    # the machine-local config itself, force-added
    write(repo / ".gitml" / "config.local.yaml", "core: {jobs: 2}\n")
    git(repo, "add", "-f", ".gitml/config.local.yaml")
    p = subprocess.run(["git", "commit", "-q", "-m", "x"], cwd=repo, capture_output=True,
                       text=True)
    assert p.returncode != 0 and "machine-local config" in p.stderr


def test_crash_logs_hide_credentials(monkeypatch, tmp_path: Path, capsys) -> None:
    from gitml.cli import main

    monkeypatch.setattr(sys, "argv", ["gitml", "remote", "modify", "--local", "s",
                                      "secret_access_key", SECRET])
    monkeypatch.setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLETOKEN")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    err = RuntimeError(f"boom with {SECRET} and token=FwoGZXIvYXdzEXAMPLETOKEN "
                       f"and key AKIAIOSFODNN7EXAMPLE password: swordfish99")
    assert main._crash(err) == 3
    log = next(tmp_path.glob("gitml-crash-*.log")).read_text()
    shown = capsys.readouterr().err
    for text in (log, shown):
        for s in (SECRET, "FwoGZXIvYXdzEXAMPLETOKEN", "AKIAIOSFODNN7EXAMPLE", "swordfish99"):
            assert s not in text
    assert "'secret_access_key', '****'" in log and "boom with ****" in log
    os.unlink(next(tmp_path.glob("gitml-crash-*.log")))
