"""gc: keeps whatever any branch, tag, stash, worktree or the workspace references."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import git, write

import gitml
from gitml import pointer


def oid_of(repo: Path, rel: str) -> str:
    return pointer.load(str(repo / f"{rel}.gitml")).oid


def test_gc_keeps_everything_referenced(repo: Path, cli) -> None:
    store = gitml.Repo().store
    write(repo / "f.bin", "on main")
    assert cli("add", "f.bin").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "main data")
    main_oid = oid_of(repo, "f.bin")
    # a branch
    git(repo, "switch", "-qc", "branch")
    write(repo / "f.bin", "on branch")
    assert cli("add", "f.bin").code == 0
    git(repo, "commit", "-qam", "branch data")
    branch_oid = oid_of(repo, "f.bin")
    # a tag on a commit no branch contains
    write(repo / "f.bin", "tagged")
    assert cli("add", "f.bin").code == 0
    git(repo, "commit", "-qam", "tagged data")
    tag_oid = oid_of(repo, "f.bin")
    git(repo, "tag", "v1")
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    # the stash
    write(repo / "f.bin", "stashed")
    assert cli("add", "f.bin").code == 0
    stash_oid = oid_of(repo, "f.bin")
    git(repo, "stash", "-q")
    # the workspace (uncommitted)
    write(repo / "g.bin", "workspace only")
    assert cli("add", "g.bin").code == 0
    ws_oid = oid_of(repo, "g.bin")
    # garbage: added then overwritten, never committed
    write(repo / "g.bin", "garbage")
    assert cli("add", "g.bin").code == 0
    garbage = ws_oid
    ws_oid = oid_of(repo, "g.bin")

    dry = cli("gc", "--dry-run", "--json")
    assert dry.code == 0 and json.loads(dry.out)["removed"] == 1
    assert store.has(garbage)  # a dry run deletes nothing
    r = cli("gc")
    assert r.code == 0 and "removed 1 object" in r.out and "14 B" in r.out
    assert not store.has(garbage)
    for oid in (main_oid, branch_oid, tag_oid, stash_oid, ws_oid):
        assert store.has(oid), oid


def test_gc_keeps_other_worktrees_uncommitted_data(repo: Path, cli, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", str(wt), "-b", "wtb")
    write(wt / "w.bin", "worktree data")
    assert cli("-C", str(wt), "add", "w.bin").code == 0
    oid = oid_of(wt, "w.bin")
    store = gitml.Repo().store
    assert store.has(oid)  # the worktree shares the main store
    assert cli("gc").code == 0
    assert store.has(oid)


def test_workspace_only_needs_force(repo: Path, cli) -> None:
    write(repo / "f.bin", "v1")
    assert cli("add", "f.bin").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    v1 = oid_of(repo, "f.bin")
    write(repo / "f.bin", "v2")
    assert cli("add", "f.bin").code == 0
    r = cli("gc", "--workspace-only")
    assert r.code == 2 and "--force" in r.err
    assert gitml.Repo().store.has(v1)
    assert cli("gc", "--workspace-only", "--force").code == 0
    assert not gitml.Repo().store.has(v1)


def test_gc_waits_for_an_add_in_flight(repo: Path, cli, tmp_path: Path) -> None:
    """An add paused after storing objects, before writing its pointer: gc must not run."""
    write(repo / "new.bin", "just stored")
    assert cli("config", "--local", "core.lock_timeout", "0.3").code == 0
    gate = tmp_path / "gate"
    env = dict(os.environ, GITML_FAULT=f"add.before-pointers:wait={gate}")
    add = subprocess.Popen([sys.executable, "-m", "gitml.cli.main", "add", "new.bin"],
                           cwd=repo, env=env, stderr=subprocess.PIPE)
    try:
        while not (tmp_path / "gate.reached").exists():
            assert add.poll() is None, add.stderr.read() if add.stderr else ""
        gc = subprocess.run([sys.executable, "-m", "gitml.cli.main", "gc"], cwd=repo,
                            capture_output=True, text=True)
        assert gc.returncode == 2 and "another gitml process" in gc.stderr
    finally:
        gate.touch()
        add.communicate(timeout=60)
        assert add.returncode == 0
    oid = oid_of(repo, "new.bin")
    assert cli("gc").code == 0
    assert gitml.Repo().store.has(oid)


def test_a_pointer_gc_cannot_read_stops_it(repo: Path, cli) -> None:
    """gc never guesses: a pointer that does not parse (a merge conflict, a newer gitml's)
    could name anything, so gc deletes nothing until it is fixed, or --force is given."""
    store = gitml.Repo().store

    def garbage(name: str) -> str:
        write(repo / name, f"garbage {name}")
        assert cli("add", name).code == 0
        oid = oid_of(repo, name)
        (repo / f"{name}.gitml").unlink()
        return oid

    write(repo / "a.bin", "named only by a pointer in a merge conflict")
    assert cli("add", "a.bin").code == 0
    a = oid_of(repo, "a.bin")
    ptr = repo / "a.bin.gitml"
    good = ptr.read_text()
    ptr.write_text(f"<<<<<<< HEAD\n{good}=======\n{good}>>>>>>> other\n")
    b = garbage("b.bin")
    r = cli("gc")
    assert r.code == 1, r.out + r.err
    assert "/a.bin (in a work tree) cannot be read (unresolved" in r.err
    assert "nothing was deleted" in r.err and "--force" in r.err
    assert store.has(a) and store.has(b)
    assert cli("gc", "--force").code == 0  # collects without it: a is garbage then
    assert not store.has(a) and not store.has(b)

    # a pointer from a newer gitml, committed: what it names is unknown
    ptr.write_text(good.replace("gitml: 1", "gitml: 9"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a pointer from the future")
    ptr.unlink()  # only the commit names it now
    c = garbage("c.bin")
    r = cli("gc")
    assert r.code == 1, r.out + r.err
    assert "the pointer a.bin at commit" in r.err and "upgrade gitml" in r.err
    assert store.has(c)
