"""checkout: conflicts, untracked files, link types and read-only store links."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from conftest import git, write

import gitml
from gitml.hashing import hash_file


def test_refuses_to_overwrite_unstored_edits_then_force(repo: Path, cli) -> None:
    write(repo / "d" / "a.txt", "v1")
    write(repo / "f.txt", "v1")
    assert cli("add", "d", "f.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    write(repo / "d" / "a.txt", "local edit")
    write(repo / "f.txt", "local edit")
    r = cli("checkout")
    assert r.code == 2 and "d/a.txt" in r.err and "f.txt" in r.err and "--force" in r.err
    assert (repo / "d" / "a.txt").read_text() == "local edit"  # nothing changed
    assert (repo / "f.txt").read_text() == "local edit"
    assert cli("checkout", "--force").code == 0
    assert (repo / "d" / "a.txt").read_text() == "v1"
    assert (repo / "f.txt").read_text() == "v1"


def test_untracked_files_are_left_alone_stored_ones_removed(repo: Path, cli) -> None:
    write(repo / "d" / "keep.txt", "k")
    write(repo / "d" / "old.txt", "o")
    assert cli("add", "d").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "with old")
    (repo / "d" / "old.txt").unlink()
    assert cli("add", "d").code == 0
    git(repo, "commit", "-qam", "without old")
    git(repo, "switch", "-q", "--detach", "HEAD~1")
    assert cli("checkout").code == 0
    assert (repo / "d" / "old.txt").read_text() == "o"
    write(repo / "d" / "mine.txt", "user file")
    git(repo, "switch", "-q", "main")
    r = cli("checkout", "--force")
    assert r.code == 0, r.err
    assert not (repo / "d" / "old.txt").exists()
    assert (repo / "d" / "mine.txt").read_text() == "user file"


def test_targets_limit_checkout(repo: Path, cli) -> None:
    write(repo / "a.bin", "a")
    write(repo / "b.bin", "b")
    assert cli("add", "a.bin", "b.bin").code == 0
    (repo / "a.bin").unlink()
    (repo / "b.bin").unlink()
    assert cli("checkout", "a.bin").code == 0
    assert (repo / "a.bin").exists() and not (repo / "b.bin").exists()
    assert cli("checkout", "nothing.bin").code == 2


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_linked_files_cannot_corrupt_the_store(repo: Path, cli, link: str) -> None:
    assert cli("config", "core.link", link).code == 0
    write(repo / "d" / "x.bin", "payload")
    assert cli("add", "d").code == 0
    store = gitml.Repo().store
    x = repo / "d" / "x.bin"
    if link == "hardlink":
        assert not x.is_symlink() and os.stat(x).st_nlink == 2
        assert stat.S_IMODE(os.stat(x).st_mode) == 0o444  # an edit in place is refused
    else:
        assert x.is_symlink() and os.readlink(x).startswith(store.objects)
    obj = store.path(hash_file(x))
    assert os.path.samefile(obj, x)
    assert stat.S_IMODE(os.stat(obj).st_mode) == 0o444
    assert all(s.state == "ok" for s in gitml.Repo().status())
    # remove gives the user a private, writable copy and leaves the store intact
    assert cli("remove", "d").code == 0
    assert not x.is_symlink() and os.stat(x).st_nlink == 1
    x.write_text("edited")
    assert Path(obj).read_text() == "payload"


def test_copy_link_type_gives_writable_private_files(repo: Path, cli) -> None:
    assert cli("config", "core.link", "copy").code == 0
    write(repo / "x.bin", "payload")
    assert cli("add", "x.bin").code == 0
    (repo / "x.bin").unlink()
    assert cli("checkout").code == 0
    st = os.stat(repo / "x.bin")
    assert st.st_nlink == 1 and st.st_mode & 0o200


def test_invalid_link_type(repo: Path, cli) -> None:
    r = cli("config", "core.link", "teleport")
    assert r.code == 2 and "invalid link type" in r.err


def test_checkout_nothing_to_do_touches_nothing(repo: Path, cli) -> None:
    write(repo / "d" / "a", "a")
    assert cli("add", "d").code == 0
    ino = os.stat(repo / "d" / "a").st_ino
    r = cli("checkout")
    assert r.code == 0 and "Nothing to do" in r.out
    assert os.stat(repo / "d" / "a").st_ino == ino


@pytest.mark.parametrize("link", ["copy", "hardlink"])
def test_many_files_written_by_two_processes(repo: Path, cli, monkeypatch: pytest.MonkeyPatch,
                                             link: str) -> None:
    """Past forkpool.MIN_ITEMS files, half are written by a forked child: same workspace,
    and a corrupt or missing object in either half is reported, never written."""
    from gitml import forkpool

    if forkpool.workers() < 2:
        pytest.skip("needs two CPUs and fork")
    monkeypatch.setattr(forkpool, "MIN_ITEMS", 50)
    files = {f"d/s{i % 7}/f{i:03d}.bin": os.urandom(40) + bytes([i % 256]) for i in range(300)}
    for rel, data in files.items():
        write(repo / rel, data)
    assert cli("config", "core.link", link).code == 0
    assert cli("add", "d").code == 0
    store = gitml.Repo(repo).store
    first, last = sorted(files)[0], sorted(files)[-1]  # one per process, whatever the order
    bad, gone = hash_file(repo / first), hash_file(repo / last)
    os.rename(repo / "d", repo / "d.moved")
    os.chmod(store.path(bad), 0o644)
    with open(store.path(bad), "wb") as f:
        f.write(b"tampered")
    os.unlink(store.path(gone))
    r = cli("checkout", "--json")
    assert r.code == 1, r.err
    assert first in r.out and last in r.out
    assert not (repo / first).exists() and not (repo / last).exists()
    for rel, data in files.items():
        if rel not in (first, last):
            assert (repo / rel).read_bytes() == data
    written = [p for p in (repo / "d").rglob("*") if p.is_file()]
    assert len(written) == len(files) - 2
