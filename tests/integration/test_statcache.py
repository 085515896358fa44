"""The stat cache: unchanged files are never read again; racy edits are still seen."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import write

import gitml
from gitml import hashing, workspace


@pytest.fixture
def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every file gitml hashes by reading it (a spy on our own function)."""
    calls: list[str] = []
    real = hashing.hash_file

    def spy(path):  # type: ignore[no-untyped-def]
        calls.append(str(path))
        return real(path)

    monkeypatch.setattr(workspace, "hash_file", spy)
    return calls


def test_status_on_a_clean_workspace_reads_no_file(repo: Path, cli, count_reads) -> None:
    for i in range(20):
        write(repo / "d" / f"{i}.bin", str(i))
    write(repo / "f.bin", "f")
    assert cli("add", "d", "f.bin").code == 0
    count_reads.clear()
    assert cli("status").code == 0
    assert cli("status").code == 0
    assert count_reads == []


def test_an_edit_is_hashed_once_then_cached(repo: Path, cli, count_reads) -> None:
    for i in range(5):
        write(repo / "d" / f"{i}.bin", str(i))
    assert cli("add", "d").code == 0
    time.sleep(0.01)
    write(repo / "d" / "0.bin", "X")  # same size, new content
    time.sleep(0.05)  # older than the next stamp by more than a clock tick: not racy
    count_reads.clear()
    states = gitml.Repo().status()
    assert states[0].modified == 1
    assert len(count_reads) == 1
    count_reads.clear()
    assert gitml.Repo().status()[0].modified == 1
    assert count_reads == []  # the edit's hash is cached now


def test_racy_entry_is_not_trusted(repo: Path, cli) -> None:
    """A file whose mtime is not older than the cache stamp must be hashed again."""
    f = write(repo / "f.bin", "AAAA")
    future = time.time_ns() + 10_000_000_000
    os.utime(f, ns=(future, future))  # as if modified in the same tick the cache is written
    assert cli("add", "f.bin").code == 0
    f.write_bytes(b"BBBB")  # same size ...
    os.utime(f, ns=(future, future))  # ... same mtime, same inode
    [s] = gitml.Repo().status()
    assert s.state == "modified"


def test_files_checked_out_are_cached(repo: Path, cli, count_reads) -> None:
    for i in range(10):
        write(repo / "d" / f"{i}.bin", str(i))
    assert cli("add", "d").code == 0
    os.rename(repo / "d", repo.parent / "d.moved")
    assert cli("checkout").code == 0
    count_reads.clear()
    assert all(s.state == "ok" for s in gitml.Repo().status())
    assert count_reads == []


def test_damaged_cache_is_rebuilt(repo: Path, cli) -> None:
    write(repo / "f.bin", "data")
    assert cli("add", "f.bin").code == 0
    (repo / ".gitml" / "index").write_bytes(b"this is not sqlite" * 100)
    r = cli("status")
    assert r.code == 0 and "up to date" in r.out


def test_cache_of_an_older_layout_is_replaced(repo: Path, cli, count_reads) -> None:
    import sqlite3

    write(repo / "d" / "a.bin", "a")
    index = repo / ".gitml" / "index"
    db = sqlite3.connect(index)  # the layout before snapshots got their own column
    db.executescript("CREATE TABLE roots (path TEXT PRIMARY KEY, data BLOB) WITHOUT ROWID;"
                     "CREATE TABLE info (key TEXT PRIMARY KEY, value TEXT);"
                     "INSERT INTO info VALUES ('version', '2');"
                     "INSERT INTO roots VALUES ('d', x'00');")
    db.commit()
    db.close()
    assert cli("add", "d").code == 0
    assert cli("status").code == 0 and "up to date" in cli("status").out
    assert count_reads == []  # the new cache serves status: no file is read
    db = sqlite3.connect(index)
    assert [c[1] for c in db.execute("PRAGMA table_info(roots)")] == ["path", "snapshot", "data"]
    db.close()


def test_big_tree_walked_by_two_processes_sees_every_change(
        repo: Path, cli, count_reads, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past forkpool.MIN_ITEMS files a clean status walks the tree in two processes:
    still no file read when clean, and a change in either half is seen."""
    from gitml import forkpool

    if forkpool.workers() < 2:
        pytest.skip("needs two CPUs and fork")
    monkeypatch.setattr(forkpool, "MIN_ITEMS", 50)
    for i in range(300):
        write(repo / "d" / f"s{i % 6}" / f"{i}.bin", f"{i:04d}")
    write(repo / "d" / "top.bin", "top")
    assert cli("add", "d").code == 0
    time.sleep(0.01)
    count_reads.clear()
    r = cli("status", "--json")
    assert r.code == 0 and '"state": "ok"' in r.out
    assert count_reads == []
    subs = sorted(p.name for p in (repo / "d").iterdir() if p.is_dir())
    # one change in each half of the walk, and one beside them at the top
    write(repo / "d" / subs[0] / "new.bin", "new")
    victim = next((repo / "d" / subs[-1]).iterdir())
    victim.write_text("9999")  # same size, other bytes
    os.unlink(repo / "d" / "top.bin")
    r = cli("status", "--json")
    assert '"state": "modified"' in r.out
    assert '"added": 1' in r.out and '"modified": 1' in r.out and '"deleted": 1' in r.out
    assert cli("add", "d").code == 0
    count_reads.clear()
    assert '"state": "ok"' in cli("status", "--json").out
    assert count_reads == []
