"""gitml.api.open / read: any file as it was at a revision, without touching the workspace."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git, write

from gitml import api
from gitml.errors import GitmlError
from gitml.readapi import NotFoundError, split_revpath


@pytest.fixture
def history(repo: Path, cli) -> Path:
    """v1 and v2 of a Git file, a tracked file and a file inside a tracked directory."""
    for v in ("1", "2"):
        write(repo / "train.py", f"print({v})\n")
        write(repo / "data/table.csv", f"a,b\n{v},{v}\n")
        write(repo / "images/x/cat.txt", f"cat {v}\n")
        write(repo / "images/dog.txt", f"dog {v}\n")
        assert cli("add", "-q", "data/table.csv", "images").code == 0
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"v{v}")
        git(repo, "tag", f"v{v}")
    return repo


@pytest.mark.parametrize("path", ["train.py", "data/table.csv", "images/x/cat.txt",
                                  "images/dog.txt"])
def test_read_at_revisions_and_in_the_workspace(history: Path, path: str) -> None:
    before = {p: p.stat().st_mtime_ns for p in history.rglob("*") if p.is_file()}
    v1 = api.read(path, rev="v1")
    v2 = api.read(path, rev="v2", mode="r")
    assert isinstance(v1, bytes) and b"1" in v1 and "2" in v2 and "1" not in v2
    assert api.read(path, rev="HEAD~1") == v1
    with api.open(path, rev="v1") as f:
        assert f.read() == v1
    with api.open(path, rev="v1", mode="r") as f:
        assert f.read() == v1.decode()
    # the workspace (rev=None) sees an uncommitted edit; revisions do not
    write(history / path, "edited\n")
    assert api.read(path) == b"edited\n"
    assert api.read(path, rev="v2", mode="r") == v2
    after = {p: p.stat().st_mtime_ns for p in history.rglob("*") if p.is_file()}
    assert {p for p in after if after[p] != before.get(p)} == {history / path}


def test_tracked_file_in_the_workspace_comes_from_the_store_when_deleted(history: Path) -> None:
    (history / "data/table.csv").unlink()
    assert api.read("data/table.csv", mode="r") == "a,b\n2,2\n"
    with api.open("images/x/cat.txt") as f:  # tracked directory, file removed from disk
        (history / "images/x/cat.txt").unlink()
        assert f.read() == b"cat 2\n"


def test_unknown_revision_and_unknown_path(history: Path) -> None:
    with pytest.raises(GitmlError, match="unknown revision 'nope'"):
        api.read("train.py", rev="nope")
    with pytest.raises(GitmlError, match="unknown revision 'nope'"):
        api.open("data/table.csv", rev="nope")
    with pytest.raises(NotFoundError, match="missing.txt does not exist at v1"):
        api.read("missing.txt", rev="v1")
    with pytest.raises(NotFoundError, match="images/none.txt does not exist at v2"):
        api.read("images/none.txt", rev="v2")
    with pytest.raises(NotFoundError, match="does not exist in the workspace"):
        api.open("missing.txt")
    with pytest.raises(NotFoundError, match="images is a tracked directory"):
        api.read("images", rev="v2")
    with pytest.raises(NotFoundError, match="data is a directory at v1"):
        api.read("data", rev="v1")
    with pytest.raises(GitmlError, match="mode must be 'r' or 'rb'"):
        api.read("train.py", mode="w")
    assert split_revpath("v1:data/table.csv") == ("v1", "data/table.csv")
    assert split_revpath("data/table.csv") == (None, "data/table.csv")
