"""gitml's .pre-commit-hooks.yaml with the real pre-commit framework (nothing is built:
the hooks are `language: system` and run the gitml being tested)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git, write

SOURCE = Path(__file__).resolve().parents[2]
MANIFEST = SOURCE / ".pre-commit-hooks.yaml"


def run(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, env=env)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    pytest.importorskip("pre_commit")
    e = dict(os.environ)
    e["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    e["PATH"] = os.path.dirname(sys.executable) + os.pathsep + e["PATH"]  # this gitml
    e.pop("PRE_COMMIT_COLOR", None)
    return e


@pytest.fixture
def framework(repo: Path, tmp_path: Path, env: dict[str, str], cli) -> Path:
    """A repo whose hooks are pre-commit's, configured with gitml's hook ids."""
    hookrepo = tmp_path / "gitml-hooks"
    hookrepo.mkdir()
    git(hookrepo, "init", "-q")
    shutil.copy(MANIFEST, hookrepo / ".pre-commit-hooks.yaml")
    git(hookrepo, "add", ".")
    git(hookrepo, "commit", "-q", "-m", "hooks")
    rev = git(hookrepo, "rev-parse", "HEAD").strip()
    write(repo / ".pre-commit-config.yaml",
          f"repos:\n  - repo: {hookrepo}\n    rev: {rev}\n    hooks:\n"
          "      - id: gitml-pre-commit\n      - id: gitml-post-checkout\n"
          "      - id: gitml-pre-push\n")
    write(repo / "data" / "t.csv", "v1\n")
    assert cli("add", "-q", "data/t.csv").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "data v1")
    r = run(repo, sys.executable, "-m", "pre_commit", "install", "-t", "pre-commit",
            "-t", "post-checkout", "-t", "pre-push", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return repo


def test_the_manifest_is_valid_for_pre_commit(env: dict[str, str]) -> None:
    r = run(SOURCE, sys.executable, "-m", "pre_commit", "validate-manifest", str(MANIFEST),
            env=env)
    assert r.returncode == 0, r.stdout + r.stderr


def test_pre_commit_framework_runs_gitml_checks(framework: Path, env: dict[str, str],
                                                cli) -> None:
    write(framework / "data" / "t.csv", "v2\n")
    assert cli("add", "-q", "data/t.csv").code == 0
    write(framework / "model.bin", os.urandom((5 << 20) + 10))
    git(framework, "add", "data/t.csv.gitml", "model.bin")
    r = run(framework, "git", "commit", "-q", "-m", "v2", env=env)
    assert r.returncode == 1
    out = r.stdout + r.stderr
    assert "gitml (pointers stored, no large files" in out and "Failed" in out
    assert "model.bin: 5.0 MiB staged into Git" in out
    git(framework, "rm", "-q", "--cached", "model.bin")
    r = run(framework, "git", "commit", "-q", "-m", "v2", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    # post-checkout through the framework: the data follows
    r = run(framework, "git", "switch", "-q", "--detach", "HEAD~1", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (framework / "data" / "t.csv").read_text() == "v1\n"


def test_pre_commit_framework_pre_push_sends_data(framework: Path, env: dict[str, str],
                                                  tmp_path: Path, cli) -> None:
    assert cli("remote", "add", "store", str(tmp_path / "store"), "--default").code == 0
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    git(framework, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(framework, "add", ".gitml/config.yaml")
    git(framework, "commit", "-q", "--no-verify", "-m", "remote")
    r = run(framework, "git", "push", "-q", "origin", "main", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    from gitml.hashing import hash_bytes

    oid = hash_bytes(b"v1\n")[5:]
    assert (tmp_path / "store" / "objects" / oid[:2] / oid[2:]).is_file()
