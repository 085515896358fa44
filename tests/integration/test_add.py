"""gitml add: files, directories, globs, re-adds, and every kind of bad target."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import git, write

import gitml
from gitml import manifest, pointer


def objects(repo: Path) -> set[str]:
    return set(gitml.Repo(repo).store.iter_oids())


def test_directory_is_one_manifest_and_equal_bytes_are_stored_once(repo: Path, cli) -> None:
    write(repo / "imgs" / "a.png", b"same bytes")
    write(repo / "imgs" / "sub" / "b.png", b"same bytes")
    write(repo / "imgs" / "c.png", b"other")
    r = cli("add", "imgs", "--json")
    assert r.code == 0, r.err
    [res] = json.loads(r.out)
    assert res["kind"] == "dir" and res["files"] == 3 and res["size"] == 25
    store = gitml.Repo().store
    entries = manifest.loads(store.read_bytes(res["oid"]), "m")
    assert [e.path for e in entries] == ["a.png", "c.png", "sub/b.png"]
    assert len(objects(repo)) == 3  # manifest + two distinct contents


def test_several_targets_and_a_quoted_glob(repo: Path, cli) -> None:
    for name in ("a.bin", "b.bin", "c.csv"):
        write(repo / "m" / name, name)
    r = cli("add", "m/*.bin", "m/c.csv")
    assert r.code == 0, r.err
    for name in ("a.bin", "b.bin", "c.csv"):
        assert (repo / "m" / f"{name}.gitml").exists()
    assert cli("add", "m/*.nothing").code == 2


def test_readd_records_new_hash_and_stores_only_new_content(repo: Path, cli) -> None:
    for i in range(5):
        write(repo / "d" / f"{i}.txt", f"v1-{i}")
    assert cli("add", "d").code == 0
    before = objects(repo)
    old = pointer.load(str(repo / "d.gitml"))
    write(repo / "d" / "0.txt", "v2-0")
    assert cli("add", "d").code == 0
    new = pointer.load(str(repo / "d.gitml"))
    assert new.oid != old.oid
    assert len(objects(repo) - before) == 2  # one changed file + the new manifest


def test_readd_unchanged_leaves_pointer_alone(repo: Path, cli) -> None:
    write(repo / "f.bin", "x")
    assert cli("add", "f.bin").code == 0
    mtime = os.stat(repo / "f.bin.gitml").st_mtime_ns
    r = cli("add", "f.bin")
    assert r.code == 0 and "unchanged: f.bin" in r.out
    assert os.stat(repo / "f.bin.gitml").st_mtime_ns == mtime


def test_parquet_pointer_carries_rows_and_schema(repo: Path, cli) -> None:
    t = pa.table({"id": pa.array(range(10)), "name": pa.array([f"n{i}" for i in range(10)])})
    pq.write_table(t, repo / "t.parquet")
    assert cli("add", "t.parquet").code == 0
    meta = pointer.load(str(repo / "t.parquet.gitml")).meta
    assert meta["rows"] == 10 and meta["columns"] == 2 and meta["schema"].startswith("xxh3:")
    pq.write_table(t.cast(pa.schema([("id", pa.int32()), ("name", pa.string())])),
                   repo / "t.parquet")
    assert cli("add", "t.parquet").code == 0
    assert pointer.load(str(repo / "t.parquet.gitml")).meta["schema"] != meta["schema"]


def test_executable_bit_is_recorded_and_restored(repo: Path, cli) -> None:
    write(repo / "tools" / "run.sh", "#!/bin/sh\necho hi\n")
    os.chmod(repo / "tools" / "run.sh", 0o755)
    write(repo / "tools" / "data.txt", "d")
    assert cli("add", "tools").code == 0
    ptr = pointer.load(str(repo / "tools.gitml"))
    entries = {e.path: e for e in manifest.loads(gitml.Repo().store.read_bytes(ptr.oid), "m")}
    assert entries["run.sh"].exec and not entries["data.txt"].exec
    os.rename(repo / "tools", repo.parent / "tools-moved")
    assert cli("checkout").code == 0
    assert os.stat(repo / "tools" / "run.sh").st_mode & 0o111
    assert not os.stat(repo / "tools" / "data.txt").st_mode & 0o111


def _snapshot(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, dirs, files in os.walk(root):
        if ".git" in dirs:
            dirs.remove(".git")
        for f in files:
            p = Path(dirpath) / f
            if not p.is_symlink():
                out[str(p.relative_to(root))] = p.read_bytes()
    return out


@pytest.mark.parametrize("target, setup, message", [
    ("../outside.bin", lambda r: write(r.parent / "outside.bin", "x"), "outside the repository"),
    ("d.bin.gitml", lambda r: write(r / "d.bin.gitml", "gitml: 1\n"), "pointer file"),
    (".git/config", lambda r: None, "inside .git/"),
    (".gitml/config.yaml", lambda r: None, "inside .gitml/"),
    ("missing.bin", lambda r: None, "does not exist"),
    ("broken", lambda r: os.symlink("nowhere", r / "broken"), "broken symbolic link"),
    ("tracked.txt", lambda r: (write(r / "tracked.txt", "t"), git(r, "add", "tracked.txt")),
     "git rm --cached tracked.txt"),
    ("code", lambda r: (write(r / "code" / "a.py", "x"), git(r, "add", "code")),
     "git rm -r --cached code"),
    (".", lambda r: None, "repository root"),
])
def test_bad_targets_are_refused_and_change_nothing(repo: Path, cli, target, setup,
                                                     message) -> None:
    setup(repo)
    before = _snapshot(repo)
    r = cli("add", target)
    assert r.code == 2, r.out + r.err
    assert message in r.err and r.err.count("\n") == 1 and "Traceback" not in r.err
    assert _snapshot(repo) == before
    assert not objects(repo)


def test_directory_containing_a_tracked_path_is_refused(repo: Path, cli) -> None:
    write(repo / "outer" / "inner.bin", "x")
    write(repo / "outer" / "other.txt", "y")
    assert cli("add", "outer/inner.bin").code == 0
    r = cli("add", "outer")
    assert r.code == 2 and "outer/inner.bin" in r.err


def test_outside_a_git_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "f", "x")
    r = cli("add", "f")
    assert r.code == 2 and "not a Git repository" in r.err


def test_not_initialised(gitrepo: Path, cli) -> None:
    write(gitrepo / "f", "x")
    r = cli("status")
    assert r.code == 2 and "gitml init" in r.err


def test_links_inside_a_directory_store_their_target(repo: Path, cli) -> None:
    write(repo / "outside.txt", "the target")
    write(repo / "d" / "a.txt", "a")
    os.symlink(repo / "outside.txt", repo / "d" / "link.txt")
    assert cli("add", "d").code == 0
    os.rename(repo / "d", repo.parent / "d.moved")
    assert cli("checkout", "d").code == 0
    assert (repo / "d" / "link.txt").read_text() == "the target"
    os.symlink("nowhere", repo / "d" / "dangling")
    before = (repo / "d.gitml").read_text()
    r = cli("add", "d")
    assert r.code == 2 and "d/dangling is a broken symbolic link" in r.err
    assert (repo / "d.gitml").read_text() == before


def test_big_file_with_copy_is_stored_exactly(repo: Path, cli) -> None:
    """Files of DIRECT_MIN and more are written around the page cache: same bytes, same id."""
    from gitml import directio
    from gitml.hashing import hash_file

    data = os.urandom(directio.DIRECT_MIN + directio.BLOCK + 12345)  # a padded, truncated tail
    write(repo / "model.bin", data)
    assert cli("config", "core.link", "copy").code == 0
    r = cli("add", "model.bin", "--json")
    assert r.code == 0, r.err
    oid = json.loads(r.out)[0]["oid"]
    obj = gitml.Repo(repo).store.path(oid)
    assert oid == hash_file(repo / "model.bin") == hash_file(obj)
    assert os.path.getsize(obj) == len(data) and os.stat(obj).st_mode & 0o777 == 0o444
    os.unlink(repo / "model.bin")
    assert cli("checkout").code == 0
    assert (repo / "model.bin").read_bytes() == data
    assert cli("fsck").code == 0


def _tree(root: Path) -> None:
    for i in range(120):
        write(root / "d" / f"s{i % 10}" / ("n/" if i % 4 else "") / f"{i}.bin", f"{i:05d}")
    write(root / "d" / "top.bin", "top")
    os.symlink("top.bin", root / "d" / "link.bin")


def test_directory_walked_by_two_processes_gives_the_same_pointer(
        repo: Path, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """A big tree is surveyed by this process and a forked child (gitml/forkpool.py):
    the pointer, the stored objects and the stat cache are as with one process."""
    from gitml import forkpool

    if forkpool.workers() < 2:
        pytest.skip("needs two CPUs and fork")
    ref = tmp_path / "ref"
    ref.mkdir()
    git(ref, "init", "-q")
    monkeypatch.chdir(ref)
    assert cli("init").code == 0
    _tree(ref)
    assert cli("add", "d").code == 0  # few files: one process
    monkeypatch.chdir(repo)
    monkeypatch.setattr(forkpool, "MIN_ITEMS", 20)
    _tree(repo)
    assert cli("add", "d").code == 0  # 10 folders at the top, no pointer yet: split
    assert (repo / "d.gitml").read_text() == (ref / "d.gitml").read_text()
    for root in (ref, repo):  # one edit in each half and at the top, then a re-add
        (root / "d" / "s0" / "0.bin").write_text("edit")
        (root / "d" / "s9" / "n" / "9.bin").write_text("edit")
        (root / "d" / "top.bin").write_text("new top")
    assert cli("add", "d").code == 0  # 121 files known from the pointer: split
    monkeypatch.chdir(ref)
    monkeypatch.setattr(forkpool, "MIN_ITEMS", 10**9)
    assert cli("add", "d").code == 0
    assert (repo / "d.gitml").read_text() == (ref / "d.gitml").read_text()
    monkeypatch.chdir(repo)
    monkeypatch.setattr(forkpool, "MIN_ITEMS", 20)
    r = cli("status", "--json")
    assert '"state": "ok"' in r.out  # the snapshot the split add recorded holds
    assert cli("fsck").code == 0


def test_bad_file_in_the_childs_half_is_reported_and_nothing_written(
        repo: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    from gitml import forkpool

    if forkpool.workers() < 2:
        pytest.skip("needs two CPUs and fork")
    monkeypatch.setattr(forkpool, "MIN_ITEMS", 20)
    from gitml.fsutil import split_top

    _tree(repo)
    _, folders = split_top(str(repo / "d"))
    childs = folders[0][1]  # the child walks the first half of the folders
    os.symlink("nowhere", Path(childs) / "broken.bin")
    r = cli("add", "d")
    assert r.code == 2 and "is a broken symbolic link" in r.err
    assert not (repo / "d.gitml").exists()
