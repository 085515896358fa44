"""Corrupt and missing objects: named, never linked into the workspace, exit 1."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import corrupt, write

import gitml
from gitml import pointer


@pytest.mark.parametrize("link", ["copy", "hardlink", "symlink"])
def test_corrupt_object_is_not_checked_out(repo: Path, cli, link: str) -> None:
    assert cli("config", "core.link", link).code == 0
    write(repo / "good.bin", "good")
    write(repo / "bad.bin", "original")
    assert cli("add", "good.bin", "bad.bin").code == 0
    ptr = pointer.load(str(repo / "bad.bin.gitml"))
    store = gitml.Repo().store
    corrupt(store.path(ptr.oid), b"tampered")
    os.rename(repo / "bad.bin", repo.parent / "bad.moved")
    os.rename(repo / "good.bin", repo.parent / "good.moved")
    r = cli("checkout")
    assert r.code == 1, r.out + r.err
    assert "corrupt" in r.err and "bad.bin" in r.err
    assert not os.path.lexists(repo / "bad.bin")
    assert (repo / "good.bin").read_text() == "good"  # the rest is checked out
    f = cli("fsck", "--json")
    assert f.code == 1
    report = json.loads(f.out)
    assert [c["oid"] for c in report["corrupt"]] == [ptr.oid]


def test_fsck_clean_store(repo: Path, cli) -> None:
    write(repo / "d" / "a", "a")
    assert cli("add", "d").code == 0
    r = cli("fsck")
    assert r.code == 0 and "ok" in r.out


def test_missing_object_is_named(repo: Path, cli) -> None:
    write(repo / "f.bin", "data")
    assert cli("add", "f.bin").code == 0
    ptr = pointer.load(str(repo / "f.bin.gitml"))
    os.unlink(gitml.Repo().store.path(ptr.oid))
    os.unlink(repo / "f.bin")
    r = cli("checkout")
    assert r.code == 1 and "missing from the store" in r.err and "f.bin" in r.err
    s = cli("status", "--json")
    assert json.loads(s.out)[0]["state"] == "missing"
    f = cli("fsck")
    assert f.code == 1 and "missing" in f.out


def test_missing_object_in_a_directory_leaves_no_empty_folder(repo: Path, cli) -> None:
    write(repo / "d" / "keep" / "a.txt", "a")
    write(repo / "d" / "gone" / "b.txt", "b")
    assert cli("add", "d").code == 0
    store = gitml.Repo().store
    os.unlink(store.path(store.put_bytes(b"b")))  # the object of d/gone/b.txt
    os.rename(repo / "d", repo.parent / "d.moved")
    r = cli("checkout")
    assert r.code == 1 and "d/gone/b.txt" in r.err
    assert (repo / "d" / "keep" / "a.txt").read_text() == "a"
    assert not (repo / "d" / "gone").exists()
