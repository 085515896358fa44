"""Everyday workspace behaviour DVC users rely on (issue 16)."""

from __future__ import annotations

from pathlib import Path

from conftest import git, write


def test_status_quiet_answers_in_its_exit_code(repo: Path, cli) -> None:
    write(repo / "data" / "a.txt", "a")
    write(repo / "f.txt", "f")
    assert cli("add", "data", "f.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    r = cli("status", "-q")
    assert (r.code, r.out, r.err) == (0, "", "")
    write(repo / "data" / "a.txt", "changed")
    r = cli("status", "-q")
    assert (r.code, r.out, r.err) == (1, "", "")
    assert cli("status").code == 0  # without -q the answer is printed, not the exit code
    assert cli("add", "data").code == 0
    (repo / "f.txt").unlink()
    assert cli("status", "-q").code == 1
    assert cli("checkout", "-q").code == 0
    assert cli("status", "-q").code == 0
