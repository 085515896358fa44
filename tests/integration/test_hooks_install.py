"""gitml hooks install / status / uninstall: shims, chaining, core.hooksPath, missing gitml."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import git, write

from gitml import githooks

SOURCE = Path(__file__).resolve().parents[2]


def g(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)


def hook_file(root: Path, name: str) -> Path:
    return root / ".git" / "hooks" / name


FOREIGN = b"#!/bin/sh\n# someone else's hook\necho \"foreign $# $1\" >> foreign.log\nexit 0\n"


def test_install_writes_marked_executable_shims_and_drivers(repo: Path, cli) -> None:
    r = cli("hooks", "install")
    assert r.code == 0, r.err
    for name in githooks.HOOKS:
        path = hook_file(repo, name)
        assert os.access(path, os.X_OK)
        text = path.read_text()
        assert githooks.MARK in text and f"hooks run {name}" in text
    assert githooks.ATTRIBUTES_LINE in (repo / ".gitattributes").read_text().splitlines()
    assert "hooks merge-driver %O %A %B %P" in git(repo, "config", "merge.gitml.driver")
    assert "hooks diff-driver" in git(repo, "config", "diff.gitml.textconv")
    st = json.loads(cli("hooks", "status", "--json").out)
    assert [h["state"] for h in st["hooks"]] == ["installed"] * len(githooks.HOOKS)
    assert st["drivers"] == {"merge": True, "diff": True, "gitattributes": True}


def test_install_twice_is_idempotent(repo: Path, cli) -> None:
    assert cli("hooks", "install").code == 0
    before = {n: (hook_file(repo, n).read_bytes(), hook_file(repo, n).stat().st_mtime_ns)
              for n in githooks.HOOKS}
    attrs = (repo / ".gitattributes").read_bytes()
    cfg = (repo / ".git" / "config").read_bytes()
    r = cli("hooks", "install", "--json")
    assert r.code == 0
    assert {h["action"] for h in json.loads(r.out)["hooks"]} == {"unchanged"}
    after = {n: (hook_file(repo, n).read_bytes(), hook_file(repo, n).stat().st_mtime_ns)
             for n in githooks.HOOKS}
    assert after == before
    assert (repo / ".gitattributes").read_bytes() == attrs
    assert (repo / ".git" / "config").read_bytes() == cfg
    assert not list((repo / ".git" / "hooks").glob("*" + githooks.CHAINED))


def test_init_registers_drivers_idempotently_keeping_gitattributes(gitrepo: Path, cli) -> None:
    write(gitrepo / ".gitattributes", "*.bin binary")  # no final newline
    assert cli("init", "-q").code == 0
    assert cli("init", "-q").code == 0
    lines = (gitrepo / ".gitattributes").read_text().splitlines()
    assert lines == ["*.bin binary", githooks.ATTRIBUTES_LINE]
    assert git(gitrepo, "config", "--get-all", "merge.gitml.driver").count("\n") == 1


def test_source_shims_match_what_install_writes() -> None:
    for name in githooks.HOOKS:
        path = SOURCE / "hooks" / name
        assert path.read_text() == githooks.shim_text(name, ""), f"regenerate hooks/{name}"
        assert os.access(path, os.X_OK)


def test_core_hookspath_is_respected(repo: Path, cli) -> None:
    git(repo, "config", "core.hooksPath", ".githooks")
    assert cli("hooks", "install", "pre-commit").code == 0
    assert (repo / ".githooks" / "pre-commit").is_file()
    assert not hook_file(repo, "pre-commit").exists()
    write(repo / "big.bin", b"x" * 2048)
    assert cli("config", "hooks.max_file_size", "1KiB").code == 0
    git(repo, "add", "big.bin")
    r = g(repo, "commit", "-q", "-m", "big")
    assert r.returncode == 1 and "big.bin" in r.stderr


def test_foreign_hook_is_chained_run_first_and_restored_exactly(repo: Path, cli) -> None:
    path = hook_file(repo, "pre-commit")
    path.write_bytes(FOREIGN)
    os.chmod(path, 0o750)
    r = cli("hooks", "install", "pre-commit")
    assert r.code == 0 and "chaining" in r.out
    chained = Path(str(path) + githooks.CHAINED)
    assert chained.read_bytes() == FOREIGN
    write(repo / "code.py", "print(1)\n")
    git(repo, "add", "code.py")
    git(repo, "commit", "-q", "-m", "code")
    assert (repo / "foreign.log").read_text() == "foreign 0 \n"  # the chained hook ran
    st = json.loads(cli("hooks", "status", "--json").out)["hooks"][0]
    assert st["state"] == "installed" and st["chained"].endswith("pre-commit.gitml-chained")
    assert cli("hooks", "install", "pre-commit").code == 0  # again: the chained hook stays
    assert chained.read_bytes() == FOREIGN
    r = cli("hooks", "uninstall")
    assert r.code == 0, r.err
    assert path.read_bytes() == FOREIGN
    assert (path.stat().st_mode & 0o777) == 0o750
    assert not chained.exists()
    assert not hook_file(repo, "post-checkout").exists()


def test_a_failing_chained_hook_blocks_the_commit(repo: Path, cli) -> None:
    path = hook_file(repo, "pre-commit")
    path.write_text("#!/bin/sh\necho 'lint failed' >&2\nexit 3\n")
    path.chmod(0o755)
    assert cli("hooks", "install").code == 0
    write(repo / "code.py", "x\n")
    git(repo, "add", "code.py")
    r = g(repo, "commit", "-q", "-m", "x")
    assert r.returncode != 0 and "lint failed" in r.stderr


def test_chained_pre_push_receives_gits_stdin(repo: Path, cli, tmp_path: Path) -> None:
    path = hook_file(repo, "pre-push")
    path.write_text("#!/bin/sh\ncat > pushed.txt\necho \"$1\" > remote.txt\n")
    path.chmod(0o755)
    assert cli("hooks", "install").code == 0
    git(tmp_path, "init", "-q", "--bare", "remote.git")
    git(repo, "remote", "add", "origin", str(tmp_path / "remote.git"))
    git(repo, "push", "-q", "origin", "main")
    assert (repo / "remote.txt").read_text() == "origin\n"
    assert "refs/heads/main" in (repo / "pushed.txt").read_text()


def test_uninstall_leaves_other_hooks_alone(repo: Path, cli) -> None:
    assert cli("hooks", "install").code == 0
    other = hook_file(repo, "post-merge")
    other.write_bytes(FOREIGN)  # another tool replaced gitml's post-merge after install
    r = cli("hooks", "uninstall", "--json")
    assert r.code == 0
    actions = {h["name"]: h["action"] for h in json.loads(r.out)["hooks"]}
    assert actions["post-merge"] == "left alone (not gitml's)"
    assert actions["pre-commit"] == "removed"
    assert other.read_bytes() == FOREIGN
    r = cli("hooks", "uninstall", "pre-commit", "--json")
    assert json.loads(r.out)["hooks"][0]["action"] == "not installed"


def test_uninstall_drivers(repo: Path, cli) -> None:
    assert cli("hooks", "install").code == 0
    assert cli("hooks", "uninstall", "--drivers").code == 0
    assert g(repo, "config", "merge.gitml.driver").returncode == 1
    assert json.loads(cli("hooks", "status", "--json").out)["drivers"]["merge"] is False


def test_install_refuses_when_a_foreign_hook_and_an_old_chained_one_both_exist(
        repo: Path, cli) -> None:
    hooks = repo / ".git" / "hooks"
    (hooks / "pre-commit").write_bytes(FOREIGN)
    (hooks / ("pre-commit" + githooks.CHAINED)).write_bytes(b"#!/bin/sh\nexit 0\n")
    before = sorted(p.name for p in hooks.iterdir())
    r = cli("hooks", "install")
    assert r.code == 2
    assert "move one of them away" in r.err and r.err.count("\n") == 1
    assert sorted(p.name for p in hooks.iterdir()) == before
    assert (hooks / "pre-commit").read_bytes() == FOREIGN


@pytest.mark.parametrize("args", [("install", "pre-comit"), ("uninstall", "nope"),
                                  ("run", "post-commit")])
def test_unknown_hook_names_are_usage_errors(repo: Path, cli, args: tuple[str, ...]) -> None:
    r = cli("hooks", *args)
    assert r.code == 2 and "unknown hook" in r.err and r.err.count("\n") == 1
    assert not hook_file(repo, "pre-commit").exists()


def test_unknown_check_and_bad_size_are_usage_errors(repo: Path, cli) -> None:
    r = cli("hooks", "run", "pre-commit", "--only", "lint")
    assert r.code == 2 and "unknown check 'lint'" in r.err
    r = cli("hooks", "run", "pre-commit", "--max-file-size", "huge")
    assert r.code == 2 and "expected a size" in r.err


def _shim_without_gitml(repo: Path, name: str) -> Path:
    """The source shim (no recorded path) in a repo, run with a PATH that lacks gitml."""
    path = hook_file(repo, name)
    path.write_text(githooks.shim_text(name, "/nonexistent/gitml"))
    path.chmod(0o755)
    return path


def _env_without_gitml() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = "/usr/bin:/bin"
    assert subprocess.run(["sh", "-c", "command -v gitml"], env=env).returncode != 0
    return env


def test_machine_without_gitml_prints_one_line_and_does_not_block(repo: Path) -> None:
    _shim_without_gitml(repo, "pre-commit")
    env = _env_without_gitml()
    write(repo / "code.py", "x\n")
    git(repo, "add", "code.py")
    r = g(repo, "commit", "-q", "-m", "x", env=env)
    assert r.returncode == 0
    assert r.stderr.strip() == ("gitml is not installed: skipped its pre-commit hook "
                                "(or run: gitml hooks uninstall)")
    # strict: the commit is refused
    git(repo, "config", "gitml.hooksStrict", "true")
    write(repo / "code.py", "y\n")
    git(repo, "add", "code.py")
    r = g(repo, "commit", "-q", "-m", "y", env=env)
    assert r.returncode == 1 and "not installed" in r.stderr


def test_machine_without_gitml_still_runs_the_chained_hook(repo: Path) -> None:
    chained = Path(str(hook_file(repo, "pre-commit")) + githooks.CHAINED)
    chained.write_bytes(FOREIGN)
    chained.chmod(0o755)
    _shim_without_gitml(repo, "pre-commit")
    write(repo / "code.py", "x\n")
    git(repo, "add", "code.py")
    r = g(repo, "commit", "-q", "-m", "x", env=_env_without_gitml())
    assert r.returncode == 0 and (repo / "foreign.log").exists()


def test_repo_without_gitml_dir_prints_one_line_and_does_not_block(repo: Path, cli) -> None:
    assert cli("hooks", "install").code == 0
    git(repo, "rm", "-q", "-r", "--cached", ".gitml")
    os.rename(repo / ".gitml", repo / "gitml-was-here")
    write(repo / ".gitignore", "gitml-was-here/\n")
    git(repo, "add", ".gitignore")
    r = g(repo, "commit", "-q", "-m", "no gitml")
    assert r.returncode == 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "no .gitml/" in lines[0] and "skipped the pre-commit hook" in lines[0]
    r = g(repo, "switch", "-q", "-c", "other")
    assert r.returncode == 0
    r = g(repo, "-c", "gitml.hooksStrict=true", "commit", "-q", "--allow-empty", "-m", "s")
    assert r.returncode == 1 and "no .gitml/" in r.stderr
    env = dict(os.environ, GITML_HOOKS_STRICT="1")
    assert g(repo, "commit", "-q", "--allow-empty", "-m", "s", env=env).returncode == 1


def test_outside_a_git_repository_is_one_clear_error(tmp_path: Path, cli, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (("install",), ("status",), ("uninstall",)):
        r = cli("hooks", *args)
        assert r.code == 2 and "not a Git repository" in r.err and r.err.count("\n") == 1
    r = cli("hooks", "run", "pre-commit")  # as a hook: one line, not blocking
    assert r.code == 0 and "not a Git repository" in r.err


def test_hooks_path_that_is_a_file_is_refused(repo: Path, cli) -> None:
    write(repo / "not-a-dir", "x")
    git(repo, "config", "core.hooksPath", "not-a-dir")
    r = cli("hooks", "install")
    assert r.code == 2 and "is not a directory" in r.err
    assert (repo / "not-a-dir").read_text() == "x"
