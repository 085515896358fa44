"""A cloned repository must never write outside its data paths (issue 19, items 1-3).

Each test is built the same way: an attacker commits crafted pointers (and, on a
directory remote, crafted objects) to a bare repository; a victim clones it and runs
only ordinary commands (`gitml pull`, `gitml checkout`, `git checkout -b`).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from conftest import corrupt, git, write

import gitml
import gitml.api
from gitml import manifest, pathrules, pointer
from gitml.errors import IntegrityError
from gitml.hashing import hash_bytes

HOOK = b"#!/bin/sh\ntouch \"$(git rev-parse --git-dir)/../PWNED\"\n"


class Attacker:
    """A repository with a directory data remote whose commits the attacker controls."""

    def __init__(self, tmp_path: Path, cli) -> None:
        self.root = tmp_path / "attacker"
        self.bare = tmp_path / "origin.git"
        self.remote = tmp_path / "data-remote"
        self.cli = cli
        self.root.mkdir()
        git(self.root, "init", "-q")
        os.chdir(self.root)
        assert cli("init", "-q").code == 0
        assert cli("remote", "add", "storage", str(self.remote), "--default").code == 0
        git(self.root, "add", "-A")
        git(self.root, "commit", "-qm", "init")
        git(tmp_path, "init", "-q", "--bare", str(self.bare))
        git(self.root, "remote", "add", "origin", str(self.bare))
        self.store = gitml.Repo(self.root).store

    def put(self, data: bytes) -> str:
        oid = self.store.put_bytes(data)
        dst = self.remote / "objects" / oid[5:7] / oid[7:]
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(data)
        return oid

    def dir_pointer(self, pointer_rel: str, files: dict[str, tuple[bytes, bool]]) -> None:
        """Commit a directory pointer at ``pointer_rel`` naming ``files`` (path -> bytes,
        executable), objects on the data remote, whatever the paths say."""
        entries = [manifest.Entry(p, self.put(b), len(b), x) for p, (b, x) in files.items()]
        moid = self.put(manifest.dumps(entries))
        name = pointer_rel.rpartition("/")[2][: -len(pointer.SUFFIX)]
        text = (f"gitml: 1\npath: {name}\nkind: dir\nhash: {moid}\n"
                f"size: {sum(e.size for e in entries)}\nfiles: {len(entries)}\n")
        write(self.root / pointer_rel, text)

    def file_pointer(self, pointer_rel: str, data: bytes) -> None:
        oid = self.put(data)
        name = pointer_rel.rpartition("/")[2][: -len(pointer.SUFFIX)]
        write(self.root / pointer_rel, f"gitml: 1\npath: {name}\nkind: file\nhash: {oid}\n"
                                       f"size: {len(data)}\n")

    def publish(self) -> None:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-qm", "innocent looking change")
        git(self.root, "push", "-q", "origin", "HEAD:main")


@pytest.fixture
def attacker(tmp_path: Path, cli, monkeypatch) -> Attacker:
    monkeypatch.chdir(tmp_path)
    return Attacker(tmp_path, cli)


def victim_clone(attacker: Attacker, tmp_path: Path, monkeypatch) -> Path:
    victim = tmp_path / "victim"
    git(tmp_path, "clone", "-q", str(attacker.bare), str(victim))
    monkeypatch.chdir(victim)
    return victim


def test_reserved_names_in_every_spelling_git_refuses() -> None:
    for bad in [".git", ".GIT", ".Git.", ".git ", ".git. . ", "git~1", "GIT~1", ".git::$DATA",
                ".g\u200cit", "\ufeff.git", ".gitml", ".GITML", ".gitml..", "GITML~1",
                "GI7EBA~1", ".gitml-tmp-x.1.2"]:
        assert pathrules.reserved(bad), bad
        assert pathrules.problem(f"data/{bad}/x") is not None, bad
    for good in ["data", ".gitignore", ".gitattributes", "x.gitml", "github", "gitlab",
                 ".github", "git", "digit~1x", ".gitmodules-not"]:
        assert not pathrules.reserved(good), good
    for bad in ["", "/abs", "a//b", "a/./b", "a/../b", "..", "a\\b", "a\x00b", "a/"]:
        assert pathrules.problem(bad) is not None, repr(bad)


def test_pointer_named_dot_git_never_writes_into_git(attacker: Attacker, tmp_path: Path, cli,
                                                     monkeypatch) -> None:
    attacker.dir_pointer(".git.gitml", {"hooks/reference-transaction": (HOOK, True)})
    attacker.publish()
    victim = victim_clone(attacker, tmp_path, monkeypatch)
    for cmd in (("pull",), ("checkout",), ("status",), ("diff", "HEAD~1", "HEAD")):
        r = cli(*cmd)
        assert r.code == 2, (cmd, r.out, r.err)
        assert "'.git'" in r.err and "reserved" in r.err, r.err
    assert not (victim / ".git" / "hooks" / "reference-transaction").exists()
    git(victim, "checkout", "-q", "-b", "other")
    assert not (victim / "PWNED").exists()


@pytest.mark.parametrize("ptr", [".GIT.gitml", ".git..gitml", "GIT~1.gitml", "sub/.Git .gitml"])
def test_other_spellings_of_dot_git_are_refused(attacker: Attacker, tmp_path: Path, cli,
                                                monkeypatch, ptr: str) -> None:
    attacker.file_pointer(ptr, HOOK)
    attacker.publish()
    victim = victim_clone(attacker, tmp_path, monkeypatch)
    r = cli("pull")
    assert r.code == 2 and "reserved" in r.err, r.out + r.err
    assert not os.path.lexists(victim / ptr[: -len(pointer.SUFFIX)])


def test_manifest_entries_under_dot_git_plant_no_nested_repository(
        attacker: Attacker, tmp_path: Path, cli, monkeypatch) -> None:
    config = b"[core]\n\tfsmonitor = touch ../../PWNED\n"
    attacker.dir_pointer("data.gitml", {"sub/.git/config": (config, False),
                                        "sub/.git/HEAD": (b"ref: refs/heads/main\n", False),
                                        "ok.txt": (b"fine\n", False)})
    attacker.publish()
    victim = victim_clone(attacker, tmp_path, monkeypatch)
    r = cli("pull")
    assert r.code == 2, r.out + r.err
    assert "sub/.git/" in r.err and "reserved" in r.err
    assert not (victim / "data").exists()  # nothing of it was written
    git(victim, "status")
    assert not (victim / "PWNED").exists()


def test_pointer_named_dot_gitml_cannot_empty_the_store(attacker: Attacker, tmp_path: Path, cli,
                                                        monkeypatch) -> None:
    attacker.dir_pointer(".gitml.gitml", {"x": (b"x", False)})
    attacker.publish()
    victim = victim_clone(attacker, tmp_path, monkeypatch)
    write(victim / "mine.bin", b"unpushed work of the victim")
    assert cli("add", "mine.bin").code == 0
    store = gitml.Repo(victim).store
    before = sorted(store.iter_oids())
    r = cli("pull")
    assert r.code == 2 and "'.gitml'" in r.err, r.out + r.err
    assert sorted(store.iter_oids()) == before
    assert (victim / "mine.bin").read_bytes() == b"unpushed work of the victim"


def test_pointer_under_dot_gitml_cannot_write_the_local_config(
        attacker: Attacker, tmp_path: Path, cli, monkeypatch) -> None:
    attacker.file_pointer(".gitml/config.local.yaml.gitml", b"core:\n  cache_dir: /tmp/x\n")
    attacker.publish()
    victim = victim_clone(attacker, tmp_path, monkeypatch)
    r = cli("pull")
    assert r.code == 2 and "reserved" in r.err
    assert not (victim / ".gitml" / "config.local.yaml").exists()


def test_gitml_temp_names_are_refused(attacker: Attacker, tmp_path: Path, cli,
                                      monkeypatch) -> None:
    attacker.dir_pointer("data.gitml", {".gitml-tmp-x.1.2": (b"x", False)})
    attacker.publish()
    victim_clone(attacker, tmp_path, monkeypatch)
    r = cli("pull")
    assert r.code == 2 and ".gitml-tmp-x.1.2" in r.err


# -- symbolic links on the way ------------------------------------------------------------
def test_tracked_directory_that_is_a_link_into_git_is_not_followed(
        attacker: Attacker, tmp_path: Path, cli, monkeypatch) -> None:
    attacker.dir_pointer("data.gitml", {"reference-transaction": (HOOK, True)})
    os.symlink(".git/hooks", attacker.root / "data")
    attacker.publish()
    victim = victim_clone(attacker, tmp_path, monkeypatch)
    assert os.path.islink(victim / "data")
    r = cli("pull")
    assert r.code == 2, r.out + r.err
    assert "data: is a symbolic link" in r.err
    assert not (victim / ".git" / "hooks" / "reference-transaction").exists()
    git(victim, "checkout", "-q", "-b", "other")
    assert not (victim / "PWNED").exists()


def test_link_to_outside_keeps_the_users_files(repo: Path, tmp_path: Path, cli) -> None:
    outside = tmp_path / "home"
    write(outside / "notes.txt", "the user's notes")
    write(repo / "data" / "a.txt", "tracked")
    write(repo / "copy" / "notes.txt", "the user's notes")  # same bytes: in the store
    assert cli("add", "data", "copy").code == 0
    shutil.rmtree(repo / "data")
    os.symlink(outside, repo / "data")
    for cmd in (("checkout",), ("checkout", "--force")):
        r = cli(*cmd)
        assert r.code == 2 and "data: is a symbolic link" in r.err, r.out + r.err
    assert (outside / "notes.txt").read_text() == "the user's notes"
    assert not (outside / "a.txt").exists()


def test_link_inside_a_tracked_directory_is_not_written_through(repo: Path, tmp_path: Path,
                                                                cli) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    write(repo / "data" / "sub" / "f.txt", "tracked")
    write(repo / "data" / "top.txt", "top")
    assert cli("add", "data").code == 0
    shutil.rmtree(repo / "data" / "sub")
    os.symlink(outside, repo / "data" / "sub")
    r = cli("checkout", "--force")
    assert r.code == 2 and "data/sub: is a symbolic link" in r.err, r.out + r.err
    assert list(outside.iterdir()) == []


def test_dangling_link_where_a_file_belongs(repo: Path, cli) -> None:
    write(repo / "f.txt", "tracked")
    assert cli("add", "f.txt").code == 0
    os.unlink(repo / "f.txt")
    os.symlink("/nonexistent/target", repo / "f.txt")
    r = cli("checkout")
    assert r.code == 2 and "f.txt (a symbolic link is in the way)" in r.err, r.out + r.err
    assert os.path.islink(repo / "f.txt")
    s = cli("status", "--json")
    assert s.code == 0 and '"modified"' in s.out
    r = cli("checkout", "--force")
    assert r.code == 0, r.err
    assert not os.path.islink(repo / "f.txt") and (repo / "f.txt").read_text() == "tracked"


def test_link_to_a_device_is_never_read(repo: Path, cli) -> None:
    write(repo / "f.txt", "tracked")
    assert cli("add", "f.txt").code == 0
    os.unlink(repo / "f.txt")
    os.symlink("/dev/zero", repo / "f.txt")  # hashing it would never end
    s = cli("status", "--json")
    assert s.code == 0 and '"modified"' in s.out


def test_add_says_what_it_skipped_and_diff_still_works(repo: Path, tmp_path: Path, cli) -> None:
    write(tmp_path / "elsewhere" / "x.txt", "x")
    write(repo / "data" / "a.txt", "a")
    write(repo / "target.txt", "linked file")
    os.symlink(tmp_path / "elsewhere", repo / "data" / "linked-dir")
    os.symlink(repo / "target.txt", repo / "data" / "linked-file")
    r = cli("add", "data")
    assert r.code == 0, r.err
    assert "skipped data/linked-dir: a symbolic link to a folder" in r.err
    entries = manifest.loads(gitml.Repo().store.read_bytes(
        pointer.load(str(repo / "data.gitml")).oid), "m")
    assert [e.path for e in entries] == ["a.txt", "linked-file"]
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    d = cli("diff")
    assert d.code == 0, d.err
    assert cli("status").code == 0


def test_pointer_file_that_is_a_link_is_refused(repo: Path, tmp_path: Path, cli) -> None:
    write(tmp_path / "secret.yaml", "gitml: 1\npath: x\nkind: file\nhash: xxh3:" + "0" * 32
          + "\nsize: 1\n")
    os.symlink(tmp_path / "secret.yaml", repo / "x.gitml")
    r = cli("status")
    assert r.code == 2 and "symbolic link" in r.err


# -- verified reads -----------------------------------------------------------------------
def test_api_open_never_hands_out_a_corrupt_object(repo: Path, cli) -> None:
    body = os.urandom(3 << 20)
    write(repo / "blob.bin", body)
    assert cli("add", "blob.bin").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    oid = pointer.load(str(repo / "blob.bin.gitml")).oid
    with gitml.api.open("blob.bin", rev="HEAD") as f:  # intact: every byte, in order
        assert f.read() == body
    with gitml.api.open("blob.bin", rev="HEAD") as f:  # random access works too
        f.seek(-10, io.SEEK_END)
        assert f.read() == body[-10:]
    corrupt(gitml.Repo().store.path(oid), body[:-1] + bytes([body[-1] ^ 1]))
    got = b""
    with pytest.raises(IntegrityError), gitml.api.open("blob.bin", rev="HEAD") as f:
        while chunk := f.read(1 << 16):
            got += chunk
    assert len(got) < len(body)  # the last bytes never left
    with pytest.raises(IntegrityError), gitml.api.open("blob.bin", rev="HEAD") as f:
        f.seek(-10, io.SEEK_END)
        f.read()
    with pytest.raises(IntegrityError):
        gitml.api.read("blob.bin", rev="HEAD")


def test_data_profile_of_a_corrupt_object_is_an_integrity_error(repo: Path, cli) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": list(range(100))}), repo / "t.parquet")
    assert cli("add", "t.parquet").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    oid = pointer.load(str(repo / "t.parquet.gitml")).oid
    path = gitml.Repo().store.path(oid)
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupt(path, bytes(data))
    assert hash_bytes(bytes(data)) != oid
    for cmd in (("data", "profile", "HEAD:t.parquet"), ("data", "diff", "HEAD:t.parquet",
                                                        "HEAD:t.parquet")):
        r = cli(*cmd)
        assert r.code == 1 and "corrupt object" in r.err, (cmd, r.out, r.err)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o444


# -- links into the store, edited in place by root -------------------------------------------
def _edit_in_place(path: Path, data: bytes) -> None:
    """What a process running as root (containers, CI) does: write through mode 0444."""
    assert os.geteuid() == 0, "this test plays root editing a read-only file"
    with open(path, "r+b") as f:  # root may open a 0444 file for writing
        f.write(data)


def test_hardlinked_file_edited_by_root_is_reported_and_never_pushed(
        repo: Path, tmp_path: Path, cli) -> None:
    assert cli("config", "core.link", "hardlink").code == 0
    assert cli("remote", "add", "storage", str(tmp_path / "remote"), "--default").code == 0
    write(repo / "data" / "a.txt", "original a")
    write(repo / "b.txt", "original b")
    assert cli("add", "data", "b.txt").code == 0
    st = os.stat(repo / "b.txt")
    assert st.st_nlink == 2 and stat.S_IMODE(st.st_mode) == 0o444
    _edit_in_place(repo / "b.txt", b"EDITED b")
    _edit_in_place(repo / "data" / "a.txt", b"EDITED a")
    r = cli("status")
    assert r.code == 1, r.out + r.err
    assert "corrupt" in r.out and "b.txt" in r.err and "data/a.txt" in r.err
    j = cli("status", "--json")
    assert j.code == 1
    assert {s["path"]: s["state"] for s in json.loads(j.out)
            if "kind" in s} == {"data": "corrupt", "b.txt": "corrupt"}
    p = cli("push")
    assert p.code == 1 and "corrupt" in p.err, p.out + p.err
    oid = pointer.load(str(repo / "b.txt.gitml")).oid
    assert not (tmp_path / "remote" / "objects" / oid[5:7] / oid[7:]).exists()
    # keeping the edit: add stores it as a new object and links the file to that one
    assert cli("add", "b.txt").code == 0
    new = pointer.load(str(repo / "b.txt.gitml")).oid
    assert new != oid and os.stat(repo / "b.txt").st_ino == os.stat(
        gitml.Repo().store.path(new)).st_ino


def test_symlinked_objects_are_immutable_or_the_edit_is_caught(repo: Path, cli) -> None:
    from gitml.fsflags import is_immutable, set_immutable

    assert cli("config", "core.link", "symlink").code == 0
    write(repo / "data" / "a.txt", "original a")
    assert cli("add", "data").code == 0
    target = os.readlink(repo / "data" / "a.txt")
    probe = repo / "probe"
    probe.write_text("x")
    can_protect = set_immutable(str(probe), True) and set_immutable(str(probe), False)
    if can_protect:  # root on ext4 (this machine, CI): the object refuses even root
        assert is_immutable(target)
        with pytest.raises(PermissionError):
            _edit_in_place(repo / "data" / "a.txt", b"EDITED")
        assert Path(target).read_bytes() == b"original a"
        assert cli("status").code == 0
    else:  # no immutable flag here: the edit happens, and status says so
        _edit_in_place(repo / "data" / "a.txt", b"EDITED")
        r = cli("status")
        assert r.code == 1 and "data/a.txt" in r.err
    # gc clears the flag of an object it collects
    assert cli("remove", "data").code == 0
    g = cli("gc", "--workspace-only", "--force")
    assert g.code == 0, g.err
    assert not os.path.exists(target)


def test_symlinked_object_edited_where_no_flag_is_possible(repo: Path, cli,
                                                           monkeypatch) -> None:
    """The detection alone (file systems without the immutable flag, non-root stores)."""
    from gitml import store as store_mod

    monkeypatch.setattr(store_mod, "set_immutable", lambda path, on: False)
    assert cli("config", "core.link", "symlink").code == 0
    write(repo / "data" / "a.txt", "original a")
    write(repo / "f.txt", "original f")
    assert cli("add", "data", "f.txt").code == 0
    assert cli("status").code == 0
    _edit_in_place(repo / "data" / "a.txt", b"EDITED a")
    _edit_in_place(repo / "f.txt", b"EDITED f")
    r = cli("status")
    assert r.code == 1 and "data/a.txt" in r.err and "f.txt" in r.err, r.out + r.err
    c = cli("checkout", "--force")
    assert c.code == 1 and "corrupt" in c.err


def test_revision_reads_apply_the_same_path_rules(attacker: Attacker, tmp_path: Path, cli,
                                                  monkeypatch) -> None:
    """fetch --rev reads pointers from Git trees: one under a reserved folder names no
    object (its own name is fine: the folder above it is .gitml)."""
    attacker.file_pointer(".gitml/config.local.yaml.gitml", b"core:\n  cache_dir: /tmp/x\n")
    attacker.publish()
    victim = victim_clone(attacker, tmp_path, monkeypatch)
    r = cli("fetch", "--rev", "HEAD", "--json")
    assert r.code == 0, r.out + r.err
    assert json.loads(r.out)["objects"] == 0
    assert list(gitml.Repo(victim).store.iter_oids()) == []
