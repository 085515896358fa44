"""The pre-commit hook through real `git commit`: what it refuses, what it lets through."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from conftest import git, write


def g(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)


@pytest.fixture
def hooked(repo: Path, cli) -> Path:
    assert cli("hooks", "install", "pre-commit").code == 0
    write(repo / "data" / "t.csv", "a,b\n1,2\n")
    for i in range(3):
        write(repo / "data" / "imgs" / f"{i}.png", f"img {i}")
    assert cli("add", "-q", "data/t.csv", "data/imgs").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "data v1")  # the hook is tested below
    return repo


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def refused(r: subprocess.CompletedProcess, *needles: str) -> None:
    assert r.returncode == 1, r.stderr
    assert "commit refused" in r.stderr and "git commit --no-verify" in r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr


def test_clean_commit_is_silent(hooked: Path) -> None:
    write(hooked / "code.py", "print(1)\n")
    git(hooked, "add", "code.py")
    r = g(hooked, "commit", "-q", "-m", "code")
    assert r.returncode == 0 and r.stderr == ""


def test_large_file_is_refused_with_a_hint_and_the_limit_is_configurable(hooked: Path,
                                                                          cli) -> None:
    write(hooked / "model.bin", os.urandom((5 << 20) + 1))
    write(hooked / "small.bin", os.urandom(5 << 20))  # exactly the limit: fine
    git(hooked, "add", "model.bin", "small.bin")
    before = head(hooked)
    r = g(hooked, "commit", "-q", "-m", "big")
    refused(r, "model.bin: 5.0 MiB staged into Git (limit 5.0 MiB",
            "git rm --cached model.bin && gitml add model.bin")
    assert "small.bin" not in r.stderr
    assert head(hooked) == before
    assert cli("config", "hooks.max_file_size", "10MB").code == 0
    assert g(hooked, "commit", "-q", "-m", "big").returncode == 0


def test_large_file_limit_zero_disables_the_check(hooked: Path, cli) -> None:
    assert cli("config", "hooks.max_file_size", "1KiB").code == 0
    write(hooked / "model.bin", os.urandom(2048))
    git(hooked, "add", "model.bin")
    refused(g(hooked, "commit", "-q", "-m", "big"), "model.bin: 2.0 KiB staged into Git")
    assert cli("config", "hooks.max_file_size", "0").code == 0
    assert g(hooked, "commit", "-q", "-m", "big").returncode == 0


def test_commit_all_checks_the_index_git_commits(hooked: Path, cli) -> None:
    """`git commit -a` stages into a temporary index (GIT_INDEX_FILE): that is what counts."""
    assert cli("config", "hooks.max_file_size", "1KiB").code == 0
    write(hooked / "grows.bin", b"small")
    git(hooked, "add", "grows.bin")
    git(hooked, "commit", "-q", "-m", "small")
    write(hooked / "grows.bin", os.urandom(4096))
    r = g(hooked, "commit", "-q", "-a", "-m", "grown")
    refused(r, "grows.bin: 4.0 KiB staged into Git")


def test_bad_size_setting_is_one_clear_error(hooked: Path) -> None:
    cfg = hooked / ".gitml" / "config.yaml"
    cfg.write_text(cfg.read_text() + "hooks:\n  max_file_size: lots\n")
    write(hooked / "code.py", "x\n")
    git(hooked, "add", "code.py")
    r = g(hooked, "commit", "-q", "-m", "x")
    assert r.returncode == 1
    assert r.stderr.strip() == ("error: config hooks.max_file_size: expected a size such as "
                                "5MiB or 10MB, not 'lots'")


def test_tracked_paths_forced_into_git_are_refused(hooked: Path) -> None:
    write(hooked / "data" / "imgs" / "3.png", "new img")
    git(hooked, "add", "-f", "data/t.csv", "data/imgs/3.png")
    r = g(hooked, "commit", "-q", "-m", "oops")
    refused(r, "data/t.csv: is tracked by gitml (data/t.csv.gitml); unstage it: "
               "git rm --cached data/t.csv",
            "data/imgs/3.png: is inside data/imgs, a directory tracked by gitml")


def test_staged_pointer_naming_missing_data_is_refused(hooked: Path) -> None:
    ptr = hooked / "data" / "t.csv.gitml"
    text = ptr.read_text()
    oid = next(line.split()[1] for line in text.splitlines() if line.startswith("hash:"))
    fake = "xxh3:" + "0" * 32
    ptr.write_text(text.replace(oid, fake))
    git(hooked, "add", "data/t.csv.gitml")
    r = g(hooked, "commit", "-q", "-m", "edited")
    refused(r, f"data/t.csv.gitml: names {fake}, which is not in the store; "
               "run: gitml add data/t.csv (or gitml pull, if the data is on a remote)")


def test_dir_pointer_whose_files_are_not_stored_is_refused(hooked: Path, cli) -> None:
    write(hooked / "data" / "imgs" / "9.png", "img 9")
    assert cli("add", "-q", "data/imgs").code == 0
    from gitml.hashing import hash_bytes

    obj = hooked / ".gitml" / "cache" / "objects"
    oid = hash_bytes(b"img 9")[5:]
    os.chmod(obj / oid[:2], 0o755)
    os.unlink(obj / oid[:2] / oid[2:])  # the store lost a file of the directory
    git(hooked, "add", "data/imgs.gitml")
    r = g(hooked, "commit", "-q", "-m", "imgs")
    refused(r, "data/imgs.gitml: 1 of 4 files are not in the store (first: data/imgs/9.png)")


def test_malformed_staged_pointer_is_refused(hooked: Path) -> None:
    (hooked / "data" / "t.csv.gitml").write_text("gitml: 1\npath: ../../etc/passwd\n")
    git(hooked, "add", "data/t.csv.gitml")
    r = g(hooked, "commit", "-q", "-m", "bad")
    refused(r, "data/t.csv.gitml: not a valid pointer")
    assert "could not check" not in r.stderr  # said once


def test_data_changed_after_gitml_add_is_refused(hooked: Path, cli) -> None:
    write(hooked / "data" / "t.csv", "a,b\n3,4\n")
    assert cli("add", "-q", "data/t.csv").code == 0
    git(hooked, "add", "data/t.csv.gitml")
    write(hooked / "data" / "t.csv", "a,b\n5,6\n")  # changed again, not stored
    r = g(hooked, "commit", "-q", "-m", "v2")
    refused(r, "data/t.csv: changed since 'gitml add'; store the change: "
               "gitml add data/t.csv && git add data/t.csv.gitml")


def test_pointer_added_again_but_not_staged_is_refused(hooked: Path, cli) -> None:
    write(hooked / "data" / "t.csv", "a,b\n3,4\n")
    assert cli("add", "-q", "data/t.csv").code == 0
    git(hooked, "add", "data/t.csv.gitml")
    write(hooked / "data" / "t.csv", "a,b\n5,6\n")
    assert cli("add", "-q", "data/t.csv").code == 0
    r = g(hooked, "commit", "-q", "-m", "v2")
    refused(r, "data/t.csv.gitml: differs from the pointer in the workspace",
            "git add data/t.csv.gitml")


def test_unrelated_unstored_change_is_a_note_or_strict_refusal(hooked: Path) -> None:
    write(hooked / "data" / "imgs" / "0.png", "edited")
    write(hooked / "code.py", "x\n")
    git(hooked, "add", "code.py")
    r = g(hooked, "-c", "gitml.hooksStrict=true", "commit", "-q", "-m", "code")
    refused(r, "data/imgs: has changes that are not stored: gitml add data/imgs")
    r = g(hooked, "commit", "-q", "-m", "code")
    assert r.returncode == 0
    assert r.stderr.strip() == ("gitml: note: tracked data changed but not stored (not part of "
                                "this commit): data/imgs; store it with: gitml add PATH")


def test_only_runs_the_named_checks(hooked: Path, cli) -> None:
    write(hooked / "model.bin", os.urandom(6 << 20))
    git(hooked, "add", "-f", "model.bin", "data/t.csv")
    r = cli("hooks", "run", "pre-commit", "--only", "tracked-paths")
    assert r.code == 1 and "data/t.csv" in r.err and "model.bin" not in r.err
    r = cli("hooks", "run", "pre-commit", "--only", "large-files")
    assert r.code == 1 and "model.bin" in r.err and "data/t.csv:" not in r.err
    r = cli("hooks", "run", "pre-commit", "--only", "large-files", "--max-file-size", "7MiB")
    assert r.code == 0


CHECKS = """checks:
  data/scores.csv:
    columns:
      score: {max: 1}
"""


def test_declared_data_checks_run_on_the_data_a_commit_changes(hooked: Path, cli) -> None:
    write(hooked / "gitml.yaml", CHECKS)
    table = pa.table({"score": [0.5, 0.9]})
    pacsv.write_csv(table, hooked / "data" / "scores.csv")
    assert cli("add", "-q", "data/scores.csv").code == 0
    git(hooked, "add", "-A")
    git(hooked, "commit", "-q", "-m", "scores + checks")
    pacsv.write_csv(pa.table({"score": [0.5, 7.0]}), hooked / "data" / "scores.csv")
    assert cli("add", "-q", "data/scores.csv").code == 0
    # a commit that does not touch the checked data does not run the checks
    write(hooked / "code.py", "x\n")
    git(hooked, "add", "code.py")
    assert g(hooked, "commit", "-q", "-m", "code").returncode == 0
    git(hooked, "add", "data/scores.csv.gitml")
    r = g(hooked, "commit", "-q", "-m", "bad scores")
    refused(r, "data/scores.csv: data check failed: score <= 1")


def test_malformed_project_file_is_refused(hooked: Path) -> None:
    write(hooked / "gitml.yaml", "checks: [\n")
    git(hooked, "add", "gitml.yaml")
    r = g(hooked, "commit", "-q", "-m", "yaml")
    refused(r, "gitml.yaml: gitml.yaml: invalid YAML")
