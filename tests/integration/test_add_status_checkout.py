"""add / status / checkout round trips on real repositories."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from conftest import git, write

import gitml
from gitml import pointer


def test_add_file_writes_pointer_gitignore_and_object(repo: Path, cli) -> None:
    write(repo / "data" / "a.bin", b"hello world")
    r = cli("add", "data/a.bin")
    assert r.code == 0, r.err
    assert "git add data/.gitignore data/a.bin.gitml" in r.out
    p = pointer.load(str(repo / "data" / "a.bin.gitml"))
    assert p.kind == "file" and p.size == 11 and p.path == "a.bin"
    assert "/a.bin" in (repo / "data" / ".gitignore").read_text().splitlines()
    store = gitml.Repo().store
    assert Path(store.path(p.oid)).read_bytes() == b"hello world"
    assert stat.S_IMODE(os.stat(store.path(p.oid)).st_mode) == 0o444


def test_status_reports_each_state(repo: Path, cli) -> None:
    write(repo / "f.txt", "one")
    write(repo / "d" / "x.txt", "x")
    write(repo / "d" / "y.txt", "y")
    write(repo / "gone.txt", "bye")
    assert cli("add", "f.txt", "d", "gone.txt").code == 0
    write(repo / "f.txt", "two")
    write(repo / "d" / "z.txt", "z")
    (repo / "d" / "x.txt").unlink()
    write(repo / "d" / "y.txt", "yy")
    (repo / "gone.txt").unlink()
    states = {s.path: s for s in gitml.Repo().status()}
    assert states["f.txt"].state == "modified"
    assert states["gone.txt"].state == "missing"
    d = states["d"]
    assert (d.state, d.added, d.modified, d.deleted) == ("modified", 1, 1, 1)
    r = cli("status")
    assert "+1 ~1 -1" in r.out


def test_checkout_follows_branches_touching_only_what_differs(repo: Path, cli) -> None:
    write(repo / "d" / "keep.txt", "same")
    write(repo / "d" / "v.txt", "v1")
    assert cli("add", "d").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    git(repo, "switch", "-qc", "two")
    write(repo / "d" / "v.txt", "v2")
    write(repo / "d" / "new.txt", "new")
    assert cli("add", "d").code == 0
    git(repo, "commit", "-qam", "v2")
    keep_ino = os.stat(repo / "d" / "keep.txt").st_ino
    git(repo, "switch", "-q", "main")
    r = cli("checkout")
    assert r.code == 0, r.err
    assert (repo / "d" / "v.txt").read_text() == "v1"
    assert not (repo / "d" / "new.txt").exists()
    assert os.stat(repo / "d" / "keep.txt").st_ino == keep_ino  # untouched
    git(repo, "switch", "-q", "two")
    assert cli("checkout").code == 0
    assert (repo / "d" / "new.txt").read_text() == "new"
    assert all(s.state == "ok" for s in gitml.Repo().status())
